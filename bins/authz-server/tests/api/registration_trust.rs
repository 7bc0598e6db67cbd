//! Registration trust (issue 10) over HTTP: initial access tokens (RFC 7591 §3), `Idempotency-Key`
//! on `POST /register`, and `last_used_at` from authenticated use.

use std::time::Duration;

use authz_storage::schema::{idempotency_records, initial_access_tokens};
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::{admin_token, assert_error, spawn_app, spawn_app_with, TestApp};
use crate::on_both_backends;

fn public_client() -> Value {
    json!({
        "client_name": "Claude Code",
        "redirect_uris": ["http://localhost:33418/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "mcp:tools"
    })
}

fn confidential_client() -> Value {
    json!({
        "client_name": "Cursor",
        "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"],
        "token_endpoint_auth_method": "client_secret_post"
    })
}

async fn register_with(
    app: &TestApp,
    body: &Value,
    bearer: Option<&str>,
    key: Option<&str>,
) -> reqwest::Response {
    let mut req = app.http.post(app.url("/register")).json(body);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.expect("sent")
}

/// Creates an initial access token through the admin API; returns (id, token).
async fn create_iat(app: &TestApp, admin: &str, body: &Value) -> (String, String) {
    let res = app
        .http
        .post(app.url("/admin/initial-access-tokens"))
        .bearer_auth(admin)
        .json(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: Value = res.json().await.expect("json");
    let id = body["id"].as_str().expect("id").to_owned();
    assert!(
        location.ends_with(&format!("/admin/initial-access-tokens/{id}")),
        "{location}"
    );
    let token = body["initial_access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert!(token.starts_with("iat_"), "{token}");
    assert_eq!(body["state"], "active");
    (id, token)
}

async fn list_iats(app: &TestApp, admin: &str) -> Vec<Value> {
    let res = app
        .http
        .get(app.url("/admin/initial-access-tokens"))
        .bearer_auth(admin)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    body["initial_access_tokens"]
        .as_array()
        .expect("array")
        .clone()
}

on_both_backends! {
    async fn registration_needs_an_initial_access_token_in_that_mode(backend: Backend) {
        let app = spawn_app_with(backend, &[("registration.mode", "initial_access_token")]).await;
        // Missing: 401 with a Bearer challenge without an error code (RFC 6750 §3.1).
        let res = register_with(&app, &public_client(), None, None).await;
        assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"authz-server\"");
        let d = assert_error(res, 401, "invalid_token").await;
        assert!(d.contains("initial access token"), "{d}");
        // Unknown: 401 invalid_token, and the body is not looked at before the token.
        let res = register_with(&app, &json!({"redirect_uris": "nope"}), Some("iat_unknown"), None).await;
        let challenge = res.headers()["www-authenticate"].to_str().expect("ascii").to_owned();
        assert!(challenge.starts_with("Bearer realm=\"authz-server\", error=\"invalid_token\""), "{challenge}");
        assert_error(res, 401, "invalid_token").await;
        assert_eq!(app.counts(), (0, 0));

        // Creating tokens needs client:create.
        let reader = admin_token(&app, "client:read");
        let res = app.http.post(app.url("/admin/initial-access-tokens")).bearer_auth(&reader)
            .json(&json!({"expires_in": 3600})).send().await.expect("sent");
        assert_error(res, 403, "insufficient_scope").await;
        let admin = admin_token(&app, "client:admin");
        for (body, field) in [
            (json!({"expires_in": 0}), "expires_in"),
            (json!({}), "expires_in"),
            (json!({"expires_in": 60, "max_uses": "two"}), "max_uses"),
            (json!({"expires_in": 60, "max_uses": 0}), "max_uses"),
            (json!({"expires_in": 60, "policy": {"allowed_grant_types": ["password"]}}), "policy.allowed_grant_types"),
            (json!({"expires_in": 60, "uses": 3}), "\"uses\""),
        ] {
            let res = app.http.post(app.url("/admin/initial-access-tokens")).bearer_auth(&admin)
                .json(&body).send().await.expect("sent");
            let d = assert_error(res, 400, "invalid_request").await;
            assert!(d.contains(field), "{body}: {d}");
        }
        let (id, iat) = create_iat(&app, &admin, &json!({
            "expires_in": 3600,
            "max_uses": 2,
            "description": "CI runners",
            "policy": {"allowed_scopes": ["mcp:tools"], "allowed_grant_types": ["authorization_code", "refresh_token"]}
        })).await;

        // The token's policy applies on top of the server's, and a refusal spends no use.
        let mut greedy = public_client();
        greedy["scope"] = json!("mcp:tools admin");
        let d = assert_error(register_with(&app, &greedy, Some(&iat), None).await, 400, "invalid_client_metadata").await;
        assert!(d.starts_with("scope: \"admin\""), "{d}");
        for _ in 0..2 {
            assert_eq!(register_with(&app, &public_client(), Some(&iat), None).await.status(), 201);
        }
        // Used up.
        assert_error(register_with(&app, &public_client(), Some(&iat), None).await, 401, "invalid_token").await;
        assert_eq!(app.counts().0, 2);
        let listed = list_iats(&app, &admin).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["id"], id.as_str());
        assert_eq!(listed[0]["uses_remaining"], 0);
        assert_eq!(listed[0]["max_uses"], 2);
        assert_eq!(listed[0]["state"], "used_up");
        assert_eq!(listed[0]["policy"]["allowed_scopes"], json!(["mcp:tools"]));
        assert!(!listed[0].to_string().contains(&iat));
        // Stored as a digest only.
        let digests: Vec<Vec<u8>> = app.db
            .read(|c| initial_access_tokens::table.select(initial_access_tokens::token_digest).load(c))
            .expect("read");
        assert_eq!(digests, vec![authz_domain::credentials::TokenDigest::of(&iat).as_bytes().to_vec()]);

        // Revocation: at once, idempotent, 404 for an unknown id.
        let (other_id, other) = create_iat(&app, &admin, &json!({"expires_in": 600})).await;
        for _ in 0..2 {
            let res = app.http.delete(app.url(&format!("/admin/initial-access-tokens/{other_id}")))
                .bearer_auth(&admin).send().await.expect("sent");
            assert_eq!(res.status(), 204);
        }
        assert_error(register_with(&app, &public_client(), Some(&other), None).await, 401, "invalid_token").await;
        let res = app.http.delete(app.url("/admin/initial-access-tokens/iat-nope")).bearer_auth(&admin).send().await.expect("sent");
        assert_error(res, 404, "not_found").await;

        // Every step is in the audit trail, never with a token.
        let res = app.http.get(app.url("/admin/audit-events")).bearer_auth(&admin)
            .query(&[("per_page", "100")]).send().await.expect("sent");
        let text = res.text().await.expect("body");
        assert!(text.contains("initial_access_token.created") && text.contains("initial_access_token.revoked"), "{text}");
        assert!(text.contains(&format!("initial_access_token={id}")), "registrations name their token: {text}");
        assert!(!text.contains(&iat) && !text.contains(&other));
    }

    async fn open_mode_registers_without_a_token_but_checks_a_presented_one(backend: Backend) {
        let app = spawn_app(backend).await;
        assert_eq!(register_with(&app, &public_client(), None, None).await.status(), 201);
        assert_error(register_with(&app, &public_client(), Some("iat_forged"), None).await, 401, "invalid_token").await;
        // Another kind of credential (a client resending an access token) is not looked at.
        assert_eq!(register_with(&app, &public_client(), Some("eyJhbGciOiJFUzI1NiJ9.e30.sig"), None).await.status(), 201);
        let admin = admin_token(&app, "client:create client:read");
        let (_, iat) = create_iat(&app, &admin, &json!({"expires_in": 600, "policy": {"allowed_scopes": ["mcp:tools"]}})).await;
        let mut greedy = public_client();
        greedy["scope"] = json!("files:write");
        assert_error(register_with(&app, &greedy, Some(&iat), None).await, 400, "invalid_client_metadata").await;
        assert_eq!(register_with(&app, &public_client(), Some(&iat), None).await.status(), 201);
        assert_eq!(app.counts().0, 3);
    }

    async fn concurrent_registrations_never_overspend_an_initial_access_token(backend: Backend) {
        let app = spawn_app_with(backend, &[("registration.mode", "initial_access_token")]).await;
        let admin = admin_token(&app, "client:create client:read");
        let (_, iat) = create_iat(&app, &admin, &json!({"expires_in": 600, "max_uses": 3})).await;
        let body = public_client();
        let results = futures_util::future::join_all((0..10).map(|_| register_with(&app, &body, Some(&iat), None))).await;
        let statuses: Vec<u16> = results.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 3, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 7, "{statuses:?}");
        assert_eq!(app.counts().0, 3);
        assert_eq!(list_iats(&app, &admin).await[0]["uses_remaining"], 0);
    }

    async fn a_retry_after_the_last_use_of_an_initial_access_token_gets_the_first_answer(backend: Backend) {
        // A single-use token and a lost response: the retry with the same key must still get the
        // credentials, not "used up".
        let app = spawn_app_with(backend, &[("registration.mode", "initial_access_token")]).await;
        let admin = admin_token(&app, "client:create client:read");
        let (_, iat) = create_iat(&app, &admin, &json!({"expires_in": 600, "max_uses": 1})).await;
        let key = "5f0c2a9e-1d3b-4e6f-8a7b-9c0d1e2f3a4b";
        let first = register_with(&app, &public_client(), Some(&iat), Some(key)).await;
        assert_eq!(first.status(), 201);
        let first = first.bytes().await.expect("body").to_vec();
        let again = register_with(&app, &public_client(), Some(&iat), Some(key)).await;
        assert_eq!(again.status(), 201);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.bytes().await.expect("body").to_vec(), first);
        // Another key is a new registration: the token is used up. The key with another body is
        // the key's own mismatch (422), as without a token.
        let other = register_with(&app, &public_client(), Some(&iat), Some("another-key-0123456789")).await;
        assert_eq!(other.status(), 401);
        let mut changed = public_client();
        changed["client_name"] = json!("Changed");
        assert_eq!(register_with(&app, &changed, Some(&iat), Some(key)).await.status(), 422);
        assert_eq!(register_with(&app, &public_client(), Some(&iat), None).await.status(), 401);
        assert_eq!(app.counts().0, 1);
    }

    async fn a_retry_with_the_same_key_gets_the_first_answer(backend: Backend) {
        let app = spawn_app(backend).await;
        let key = "8a3c4f0e-3b1d-4c55-9d1a-1f2e3d4c5b6a";
        let first = register_with(&app, &confidential_client(), None, Some(key)).await;
        assert_eq!(first.status(), 201);
        assert!(first.headers().get("idempotent-replayed").is_none());
        let first: Vec<u8> = first.bytes().await.expect("body").to_vec();
        let parsed: Value = serde_json::from_slice(&first).expect("json");
        let secret = parsed["client_secret"].as_str().expect("a confidential client's secret").to_owned();
        let rat = parsed["registration_access_token"].as_str().expect("token").to_owned();
        // The same body, members in another order: the same answer, credentials included.
        let reordered = json!({
            "token_endpoint_auth_method": "client_secret_post",
            "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"],
            "client_name": "Cursor"
        });
        let again = register_with(&app, &reordered, None, Some(key)).await;
        assert_eq!(again.status(), 201);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.headers()["cache-control"], "no-store");
        assert_eq!(again.bytes().await.expect("body").to_vec(), first);
        assert_eq!(app.counts(), (1, 1));
        // The database never shows the credentials or the key.
        let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> = app.db
            .read(|c| idempotency_records::table.select((idempotency_records::lookup, idempotency_records::sealed_response)).load(c))
            .expect("read");
        assert_eq!(rows.len(), 1);
        let sealed = rows[0].1.clone().expect("completed");
        for needle in [secret.as_bytes(), rat.as_bytes(), key.as_bytes(), b"Cursor"] {
            assert!(!sealed.windows(needle.len()).any(|w| w == needle));
            assert!(!rows[0].0.windows(needle.len()).any(|w| w == needle));
        }
        // The same key with another body: 422, nothing created.
        let mut other = confidential_client();
        other["client_name"] = json!("Cursor (2)");
        let d = assert_error(register_with(&app, &other, None, Some(key)).await, 422, "invalid_request").await;
        assert!(d.contains("Idempotency-Key") && d.contains("different"), "{d}");
        assert_eq!(app.counts(), (1, 1));
        // Without a key, identical requests still create distinct clients.
        assert_eq!(register_with(&app, &confidential_client(), None, None).await.status(), 201);
        assert_eq!(app.counts(), (2, 2));
    }

    async fn idempotency_keys_are_checked_and_never_echoed(backend: Backend) {
        let app = spawn_app(backend).await;
        for bad in ["short-key", &"k".repeat(256), "has a space in the key!"] {
            let d = assert_error(register_with(&app, &public_client(), None, Some(bad)).await, 400, "invalid_request").await;
            assert!(d.starts_with("Idempotency-Key: expected 16 to 255 visible ASCII characters"), "{d}");
            assert!(!d.contains(bad), "{d}");
        }
        let res = app.http.post(app.url("/register")).json(&public_client())
            .header("Idempotency-Key", "aaaaaaaaaaaaaaaa1").header("Idempotency-Key", "aaaaaaaaaaaaaaaa2")
            .send().await.expect("sent");
        let d = assert_error(res, 400, "invalid_request").await;
        assert!(d.contains("one header"), "{d}");
        assert_eq!(app.counts(), (0, 0));
    }

    async fn a_refused_registration_releases_its_key(backend: Backend) {
        let app = spawn_app(backend).await;
        let key = "retry-after-fixing-the-body-01";
        let mut bad = public_client();
        bad["redirect_uris"] = json!(["ftp://example.com/cb"]);
        assert_error(register_with(&app, &bad, None, Some(key)).await, 400, "invalid_redirect_uri").await;
        // Nothing was stored, so the corrected request is not "another body" (422).
        assert_eq!(register_with(&app, &public_client(), None, Some(key)).await.status(), 201);
        assert_eq!(app.counts(), (1, 1));
    }

    async fn two_concurrent_requests_with_the_same_key_create_one_client(backend: Backend) {
        let app = spawn_app(backend).await;
        let key = "concurrent-duplicate-0000001";
        let body = confidential_client();
        for round in 0..3 {
            let key = format!("{key}-{round}");
            let (a, b) = tokio::join!(
                register_with(&app, &body, None, Some(&key)),
                register_with(&app, &body, None, Some(&key))
            );
            let mut created = Vec::new();
            for res in [a, b] {
                match res.status().as_u16() {
                    201 => created.push(res.bytes().await.expect("body").to_vec()),
                    409 => {
                        let d = assert_error(res, 409, "conflict").await;
                        assert!(d.contains("still being processed"), "{d}");
                    }
                    other => panic!("unexpected status {other}"),
                }
            }
            // One ran; the other waited (409) or, arriving after it, replayed its answer.
            assert!(!created.is_empty());
            assert!(created.windows(2).all(|w| w[0] == w[1]), "a replay is the same answer");
            assert_eq!(app.counts().0, round + 1, "one client per key");
        }
    }

    async fn keys_are_scoped_to_the_caller(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = admin_token(&app, "client:create");
        let (_, iat) = create_iat(&app, &admin, &json!({"expires_in": 600})).await;
        let key = "same-key-two-callers-0001";
        // Anonymous (scoped to the peer address) and the token holder do not share the key.
        let anonymous = register_with(&app, &public_client(), None, Some(key)).await;
        let holder = register_with(&app, &public_client(), Some(&iat), Some(key)).await;
        assert_eq!((anonymous.status().as_u16(), holder.status().as_u16()), (201, 201));
        assert!(holder.headers().get("idempotent-replayed").is_none());
        let a: Value = anonymous.json().await.expect("json");
        let h: Value = holder.json().await.expect("json");
        assert_ne!(a["client_id"], h["client_id"]);
        assert_eq!(app.counts().0, 2);
    }

    async fn authenticated_use_sets_last_used_at(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = admin_token(&app, "client:admin");
        let res = app.http.post(app.url("/admin/clients")).bearer_auth(&admin)
            .json(&json!({
                "client_name": "batch",
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["client_credentials"]
            }))
            .send().await.expect("sent");
        assert_eq!(res.status(), 201);
        let created: Value = res.json().await.expect("json");
        let id = created["client"]["client_id"].as_str().expect("id").to_owned();
        let secret = created["client_secret"].as_str().expect("secret").to_owned();
        let read = |app: &TestApp| {
            let (url, admin) = (app.url(&format!("/admin/clients/{id}")), admin.clone());
            let http = app.http.clone();
            async move {
                let v: Value = http.get(url).bearer_auth(admin).send().await.expect("sent").json().await.expect("json");
                v["last_used_at"].as_i64()
            }
        };
        assert_eq!(read(&app).await, None, "never used");
        // A failed authentication is not a use.
        let res = app.http.post(app.url("/token")).basic_auth(&id, Some("wrong"))
            .form(&[("grant_type", "client_credentials")]).send().await.expect("sent");
        assert_eq!(res.status(), 401);
        assert_eq!(read(&app).await, None);
        let res = app.http.post(app.url("/token")).basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")]).send().await.expect("sent");
        assert_eq!(res.status(), 200);
        let used = read(&app).await.expect("last_used_at after a token request");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
        assert!((now - 5..=now).contains(&used), "{used} vs {now}");
        // A second use within the interval does not write again.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let res = app.http.post(app.url("/token")).basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")]).send().await.expect("sent");
        assert_eq!(res.status(), 200);
        assert_eq!(read(&app).await, Some(used));
    }
}

//! RFC 7592 self-management over HTTP: GET, PUT and DELETE /register/{client_id}.

use authz_domain::audit::{AuditAction, AuditEvent, RequestContext};
use authz_domain::clients::ClientRepository;
use authz_storage::clients::DieselClientRepository;
use authz_storage::schema::{audit_events, registration_access_tokens};
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::{assert_error, real_clients, spawn_app, spawn_app_with, TestApp};
use crate::on_both_backends;

const INVALID: &str = "Bearer realm=\"authz-server\", error=\"invalid_token\", error_description=\"the registration access token is invalid, expired or revoked, or does not belong to this client\"";

struct Registered {
    id: String,
    token: String,
    uri: String,
    body: Value,
}

async fn register(app: &TestApp, payload: &Value) -> Registered {
    let res = app.register(payload).await;
    assert_eq!(res.status().as_u16(), 201);
    let body: Value = res.json().await.expect("json");
    Registered {
        id: body["client_id"].as_str().expect("id").into(),
        token: body["registration_access_token"]
            .as_str()
            .expect("token")
            .into(),
        uri: body["registration_client_uri"]
            .as_str()
            .expect("uri")
            .into(),
        body,
    }
}

fn claude_code() -> Value {
    real_clients()["claude_code"].clone()
}

async fn get(app: &TestApp, uri: &str, auth: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(uri);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    req.send().await.expect("sent")
}

async fn put(app: &TestApp, uri: &str, token: &str, body: &Value) -> reqwest::Response {
    app.http
        .put(uri)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("sent")
}

async fn delete(app: &TestApp, uri: &str, token: &str) -> reqwest::Response {
    app.http
        .delete(uri)
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
}

/// Asserts the RFC 6750 invalid_token answer and returns the body.
async fn assert_invalid_token(res: reqwest::Response) -> Value {
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(res.headers()["www-authenticate"], INVALID);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "invalid_token");
    body
}

fn live_tokens(app: &TestApp, client_id: &str) -> i64 {
    app.db
        .read(|c| {
            registration_access_tokens::table
                .filter(registration_access_tokens::client_id.eq(client_id))
                .filter(registration_access_tokens::revoked_at.is_null())
                .count()
                .get_result(c)
        })
        .expect("count")
}

on_both_backends! {
    async fn get_returns_the_registration_without_the_secret(backend: Backend) {
        let app = spawn_app(backend).await;
        let reg = register(&app, &real_clients()["claude"]).await;
        let res = get(&app, &reg.uri, Some(&format!("Bearer {}", reg.token))).await;
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.expect("json");
        let mut expected = reg.body.clone();
        expected.as_object_mut().expect("object").remove("client_secret");
        assert_eq!(body, expected, "the same document as at registration, minus the secret");
    }

    async fn a_missing_token_gets_a_bare_challenge(backend: Backend) {
        let app = spawn_app(backend).await;
        let reg = register(&app, &claude_code()).await;
        let res = get(&app, &reg.uri, None).await;
        assert_eq!(res.status().as_u16(), 401);
        assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"authz-server\"");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["error"], "invalid_token");
    }

    async fn unusable_tokens_are_indistinguishable(backend: Backend) {
        let app = spawn_app(backend).await;
        let a = register(&app, &claude_code()).await;
        let b = register(&app, &claude_code()).await;
        let missing_uri = app.url("/register/no-such-client-at-all");
        let long_id = app.url(&format!("/register/{}", "x".repeat(10_000)));
        let headers = [
            "Basic dXNlcjpwYXNz".to_owned(),
            format!("Bearer {} {}", a.token, a.token),
            format!("Bearer  {}", a.token),
            format!("Bearer {}", "a".repeat(10_000)),
            "Bearer rat_not-a-real-token".to_owned(),
            format!("Bearer {}", b.token),
        ];
        let mut bodies = Vec::new();
        for h in &headers {
            for uri in [&a.uri, &missing_uri, &long_id] {
                bodies.push(assert_invalid_token(get(&app, uri, Some(h)).await).await);
            }
        }
        // A valid token on a URI that is not its client's: same answer, existing or not.
        bodies.push(assert_invalid_token(get(&app, &missing_uri, Some(&format!("Bearer {}", a.token))).await).await);
        bodies.push(assert_invalid_token(get(&app, &b.uri, Some(&format!("Bearer {}", a.token))).await).await);
        assert!(bodies.windows(2).all(|w| w[0] == w[1]), "every refusal is identical: {bodies:?}");
        // Two Authorization headers.
        let res = app.http.get(&a.uri).header("authorization", format!("Bearer {}", a.token)).header("authorization", format!("Bearer {}", a.token)).send().await.expect("sent");
        assert_invalid_token(res).await;
        // The same refusals on PUT and DELETE, and nothing changed.
        assert_invalid_token(put(&app, &a.uri, "rat_wrong", &json!({"client_id": a.id})).await).await;
        assert_invalid_token(delete(&app, &a.uri, &b.token).await).await;
        assert_eq!(app.counts(), (2, 2));
    }

    async fn a_percent_encoded_client_id_names_the_same_client(backend: Backend) {
        let app = spawn_app(backend).await;
        let reg = register(&app, &claude_code()).await;
        let first = reg.id.chars().next().expect("char");
        let encoded = format!("%{:02X}{}", first as u32, &reg.id[first.len_utf8()..]);
        let res = get(&app, &app.url(&format!("/register/{encoded}")), Some(&format!("Bearer {}", reg.token))).await;
        assert_eq!(res.status().as_u16(), 200);
        assert_error(get(&app, &app.url("/register/"), Some(&format!("Bearer {}", reg.token))).await, 404, "not_found").await;
    }

    async fn put_replaces_the_registration_and_rotates_the_token(backend: Backend) {
        let app = spawn_app(backend).await;
        let reg = register(&app, &json!({"client_name": "Old", "scope": "a b", "redirect_uris": ["http://localhost:1111/cb"], "token_endpoint_auth_method": "none", "contacts": ["a@example.com"]})).await;
        let res = put(&app, &reg.uri, &reg.token, &json!({"client_id": reg.id, "redirect_uris": ["http://localhost:2222/cb"], "token_endpoint_auth_method": "none"})).await;
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["client_id"], reg.id);
        assert_eq!(body["client_id_issued_at"], reg.body["client_id_issued_at"]);
        assert_eq!(body["redirect_uris"], json!(["http://localhost:2222/cb"]));
        for gone in ["client_name", "scope", "contacts", "client_secret"] {
            assert!(body.get(gone).is_none(), "{gone} removed");
        }
        let new_token = body["registration_access_token"].as_str().expect("token").to_owned();
        assert_ne!(new_token, reg.token);
        assert_invalid_token(get(&app, &reg.uri, Some(&format!("Bearer {}", reg.token))).await).await;
        let read: Value = get(&app, &reg.uri, Some(&format!("Bearer {new_token}"))).await.json().await.expect("json");
        assert_eq!(read["redirect_uris"], json!(["http://localhost:2222/cb"]));
        assert_eq!(live_tokens(&app, &reg.id), 1);
    }

    async fn put_to_a_confidential_method_issues_a_secret_once(backend: Backend) {
        let app = spawn_app(backend).await;
        let reg = register(&app, &claude_code()).await;
        let mut body = claude_code();
        body["client_id"] = json!(reg.id);
        body["token_endpoint_auth_method"] = json!("client_secret_basic");
        let res: Value = put(&app, &reg.uri, &reg.token, &body).await.json().await.expect("json");
        let secret = res["client_secret"].as_str().expect("secret issued").to_owned();
        assert_eq!(res["client_secret_expires_at"], 0);
        let token = res["registration_access_token"].as_str().expect("token").to_owned();
        let read: Value = get(&app, &reg.uri, Some(&format!("Bearer {token}"))).await.json().await.expect("json");
        assert!(read.get("client_secret").is_none(), "never shown again");
        assert_eq!(read["client_secret_expires_at"], 0);
        // A wrong secret in the body is refused; the right one is accepted.
        body["client_secret"] = json!("wrong");
        let d = assert_error(put(&app, &reg.uri, &token, &body).await, 400, "invalid_request").await;
        assert!(d.contains("client_secret"), "{d}");
        body["client_secret"] = json!(secret);
        assert_eq!(put(&app, &reg.uri, &token, &body).await.status().as_u16(), 200);
    }

    async fn put_refuses_bad_bodies_only_after_checking_the_token(backend: Backend) {
        let app = spawn_app(backend).await;
        let reg = register(&app, &claude_code()).await;
        let base = || { let mut b = claude_code(); b["client_id"] = json!(reg.id); b };
        let with = |k: &str, v: Value| { let mut b = base(); b[k] = v; b };
        let mut no_id = base();
        no_id.as_object_mut().expect("object").remove("client_id");
        let cases: Vec<(Value, &str, &str)> = vec![
            (no_id, "invalid_request", "client_id"),
            (with("client_id", json!("other")), "invalid_request", "client_id"),
            (with("client_id", json!(42)), "invalid_request", "client_id"),
            (with("registration_access_token", json!(reg.token)), "invalid_request", "registration_access_token"),
            (with("registration_client_uri", json!(reg.uri)), "invalid_request", "registration_client_uri"),
            (with("client_id_issued_at", json!(1)), "invalid_request", "client_id_issued_at"),
            (with("client_secret_expires_at", json!(0)), "invalid_request", "client_secret_expires_at"),
            (with("client_secret", json!("anything")), "invalid_request", "client_secret"),
            (with("redirect_uris", json!(["http://localhost.evil.com/"])), "invalid_redirect_uri", "redirect_uris[0]"),
            (with("grant_types", json!(["implicit"])), "invalid_client_metadata", "grant_types"),
            (with("client_name", json!("a\u{202E}b")), "invalid_client_metadata", "client_name"),
        ];
        for (body, code, field) in cases {
            let d = assert_error(put(&app, &reg.uri, &reg.token, &body).await, 400, code).await;
            assert!(d.contains(field), "{body}: {d}");
        }
        // Malformed JSON: 400 with the token, 401 without one.
        let bad = |token: Option<&str>| {
            let mut r = app.http.put(&reg.uri).header("content-type", "application/json").body("{\"client_id\":");
            if let Some(t) = token { r = r.bearer_auth(t); }
            r.send()
        };
        assert_error(bad(Some(&reg.token)).await.expect("sent"), 400, "invalid_request").await;
        assert_invalid_token(bad(Some("rat_wrong")).await.expect("sent")).await;
        // Nothing changed, the token still works.
        let read: Value = get(&app, &reg.uri, Some(&format!("Bearer {}", reg.token))).await.json().await.expect("json");
        assert_eq!(read["redirect_uris"], claude_code()["redirect_uris"]);
    }

    async fn delete_kills_everything(backend: Backend) {
        let app = spawn_app(backend).await;
        let reg = register(&app, &real_clients()["claude"]).await;
        let res = delete(&app, &reg.uri, &reg.token).await;
        assert_eq!(res.status().as_u16(), 204);
        assert!(res.bytes().await.expect("body").is_empty());
        assert_invalid_token(get(&app, &reg.uri, Some(&format!("Bearer {}", reg.token))).await).await;
        assert_invalid_token(put(&app, &reg.uri, &reg.token, &json!({"client_id": reg.id})).await).await;
        assert_invalid_token(delete(&app, &reg.uri, &reg.token).await).await;
        assert_eq!(app.counts(), (0, 0));
    }

    async fn a_locked_client_gets_403_on_put_and_delete(backend: Backend) {
        let app = spawn_app(backend).await;
        let reg = register(&app, &claude_code()).await;
        let repo = DieselClientRepository::new(app.db.clone());
        let event = AuditEvent::new(0, AuditAction::ClientLocked, "admin:test", &RequestContext::default()).client(&reg.id);
        repo.set_locked(&reg.id, true, &event).expect("locked");
        assert_eq!(get(&app, &reg.uri, Some(&format!("Bearer {}", reg.token))).await.status().as_u16(), 200);
        let mut body = claude_code();
        body["client_id"] = json!(reg.id);
        assert_error(put(&app, &reg.uri, &reg.token, &body).await, 403, "access_denied").await;
        assert_error(delete(&app, &reg.uri, &reg.token).await, 403, "access_denied").await;
        assert_eq!(app.counts(), (1, 1));
    }

    async fn a_token_whose_client_vanished_is_revoked(backend: Backend) {
        let app = spawn_app(backend).await;
        let reg = register(&app, &claude_code()).await;
        // Remove the client row behind the server's back, leaving its token (foreign keys off).
        let sql = match backend {
            authz_storage::Backend::Sqlite => format!("PRAGMA foreign_keys = OFF; DELETE FROM clients WHERE client_id = '{}';", reg.id),
            authz_storage::Backend::Postgres => format!("SET session_replication_role = replica; DELETE FROM clients WHERE client_id = '{}';", reg.id),
        };
        app.db.read(|c| { use diesel::connection::SimpleConnection; c.batch_execute(&sql) }).expect("orphan the token");
        assert_invalid_token(get(&app, &reg.uri, Some(&format!("Bearer {}", reg.token))).await).await;
        let revoked: Option<i64> = app.db
            .read(|c| registration_access_tokens::table.select(registration_access_tokens::revoked_at).first(c))
            .expect("token row");
        assert!(revoked.is_some(), "revoked at once");
    }

    async fn every_call_is_audited_without_tokens(backend: Backend) {
        let app = spawn_app(backend).await;
        let reg = register(&app, &claude_code()).await;
        get(&app, &reg.uri, Some(&format!("Bearer {}", reg.token))).await;
        get(&app, &reg.uri, Some("Bearer rat_wrong_token_value")).await;
        get(&app, &reg.uri, None).await;
        let mut body = claude_code();
        body["client_id"] = json!(reg.id);
        let res: Value = put(&app, &reg.uri, &reg.token, &body).await.json().await.expect("json");
        let new_token = res["registration_access_token"].as_str().expect("token").to_owned();
        delete(&app, &reg.uri, &new_token).await;
        type Row = (String, bool, Option<String>, String, Option<String>, Option<String>, Option<String>, Option<String>);
        // Reads and refusals are written by the audit writer a moment later.
        for _ in 0..100 {
            let n: i64 = app.db.read(|c| audit_events::table.count().get_result(c)).expect("count");
            if n >= 6 { break; }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let rows: Vec<Row> = app.db
            .read(|c| {
                audit_events::table
                    .order(audit_events::id)
                    .select((audit_events::action, audit_events::succeeded, audit_events::client_id, audit_events::actor, audit_events::detail, audit_events::remote_addr, audit_events::user_agent, audit_events::request_id))
                    .load(c)
            })
            .expect("audit rows");
        // Reads are batched by the audit writer, so their ids may come after the update's.
        // Signing-key events (the first key, made at start) are not about this client.
        let mut summary: Vec<(&str, bool)> = rows.iter().filter(|r| !r.0.starts_with("key.")).map(|r| (r.0.as_str(), r.1)).collect();
        summary.sort();
        assert_eq!(summary, [
            ("client.deleted", true),
            ("client.read", false),
            ("client.read", false),
            ("client.read", true),
            ("client.registered", true),
            ("client.updated", true),
        ]);
        for row in rows.iter().filter(|r| !r.0.starts_with("key.")) {
            assert_eq!(row.2.as_deref(), Some(reg.id.as_str()));
            assert_eq!(row.5.as_deref(), Some("127.0.0.1"), "from where");
            assert!(row.7.is_some(), "request id");
            let text = format!("{row:?}");
            assert!(!text.contains(&reg.token) && !text.contains(&new_token) && !text.contains("rat_wrong_token_value"), "{text}");
        }
        let updated = rows.iter().find(|r| r.0 == "client.updated").expect("update audited");
        assert!(updated.4.as_deref().expect("detail").contains("rotated"));
    }

    async fn racing_puts_leave_one_document_and_one_token(backend: Backend) {
        let app = spawn_app(backend).await;
        let reg = register(&app, &claude_code()).await;
        let mut tasks = Vec::new();
        for i in 0..6 {
            let (http, uri, token) = (app.http.clone(), reg.uri.clone(), reg.token.clone());
            let body = json!({"client_id": reg.id, "client_name": format!("writer {i}"), "redirect_uris": [format!("http://localhost:{}/cb", 4000 + i)], "token_endpoint_auth_method": "none"});
            tasks.push(tokio::spawn(async move {
                let res = http.put(uri).bearer_auth(token).json(&body).send().await.expect("sent");
                let status = res.status().as_u16();
                (i, status, res.json::<Value>().await.expect("json"))
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            let (i, status, body) = t.await.expect("task");
            assert!(status == 200 || status == 401, "{status}");
            if status == 200 { winners.push((i, body)); }
        }
        assert_eq!(winners.len(), 1, "exactly one rotation wins");
        let (i, body) = &winners[0];
        assert_eq!(live_tokens(&app, &reg.id), 1);
        let token = body["registration_access_token"].as_str().expect("token");
        let read: Value = get(&app, &reg.uri, Some(&format!("Bearer {token}"))).await.json().await.expect("json");
        assert_eq!(read["client_name"], format!("writer {i}"));
        assert_eq!(read["redirect_uris"], json!([format!("http://localhost:{}/cb", 4000 + i)]), "never a mix");
    }

    async fn delete_racing_put_never_resurrects(backend: Backend) {
        let app = spawn_app(backend).await;
        for _ in 0..5 {
            let reg = register(&app, &claude_code()).await;
            let mut body = claude_code();
            body["client_id"] = json!(reg.id);
            let (p, d) = tokio::join!(put(&app, &reg.uri, &reg.token, &body), delete(&app, &reg.uri, &reg.token));
            let (p, d) = (p.status().as_u16(), d.status().as_u16());
            assert!(matches!((p, d), (200, 401) | (401, 204) | (200, 204)), "put {p}, delete {d}");
            let exists = DieselClientRepository::new(app.db.clone()).find(&reg.id).expect("read").is_some();
            assert_eq!(exists, d != 204, "deleted means gone for good (put {p}, delete {d})");
        }
    }

    async fn get_racing_delete_sees_all_or_nothing(backend: Backend) {
        let app = spawn_app(backend).await;
        let reg = register(&app, &real_clients()["cursor"]).await;
        let mut reads = Vec::new();
        for _ in 0..20 {
            let (http, uri, token) = (app.http.clone(), reg.uri.clone(), reg.token.clone());
            reads.push(tokio::spawn(async move { http.get(uri).bearer_auth(token).send().await.expect("sent") }));
        }
        assert_eq!(delete(&app, &reg.uri, &reg.token).await.status().as_u16(), 204);
        let mut expected = reg.body.clone();
        expected.as_object_mut().expect("object").remove("client_secret");
        for r in reads {
            let res = r.await.expect("task");
            match res.status().as_u16() {
                200 => assert_eq!(res.json::<Value>().await.expect("json"), expected),
                401 => { assert_invalid_token(res).await; }
                other => panic!("unexpected {other}"),
            }
        }
    }
}

#[tokio::test]
async fn rotation_and_lifetime_are_configurable() {
    let app = spawn_app_with(
        authz_storage::Backend::Sqlite,
        &[
            ("registration.rotate_registration_token_on_update", "false"),
            ("registration.rotate_registration_token_on_read", "true"),
        ],
    )
    .await;
    let reg = register(&app, &claude_code()).await;
    let mut body = claude_code();
    body["client_id"] = json!(reg.id);
    let res: Value = put(&app, &reg.uri, &reg.token, &body)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        res["registration_access_token"], reg.token,
        "no rotation on update"
    );
    // A HEAD (a link checker, a proxy) is safe: it reads but never rotates a token it would not
    // show, so the client keeps its token.
    let head = app
        .http
        .head(&reg.uri)
        .header("authorization", format!("Bearer {}", reg.token))
        .send()
        .await
        .expect("sent");
    assert_eq!(head.status().as_u16(), 200);
    let read: Value = get(&app, &reg.uri, Some(&format!("Bearer {}", reg.token)))
        .await
        .json()
        .await
        .expect("json");
    let rotated = read["registration_access_token"].as_str().expect("token");
    assert_ne!(rotated, reg.token, "rotation on read");
    assert_invalid_token(get(&app, &reg.uri, Some(&format!("Bearer {}", reg.token))).await).await;

    let short = spawn_app_with(
        authz_storage::Backend::Sqlite,
        &[("registration.registration_token_lifetime_secs", "1")],
    )
    .await;
    let reg = register(&short, &claude_code()).await;
    assert_eq!(
        get(&short, &reg.uri, Some(&format!("Bearer {}", reg.token)))
            .await
            .status()
            .as_u16(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_invalid_token(get(&short, &reg.uri, Some(&format!("Bearer {}", reg.token))).await).await;
}

#[tokio::test]
async fn management_works_when_open_registration_is_off() {
    let app = spawn_app(authz_storage::Backend::Sqlite).await;
    let reg = register(&app, &claude_code()).await;
    // A second server on the same database with registration turned off.
    let off = crate::helpers::spawn_app_on(&app, &[("registration.enabled", "false")]).await;
    let uri = reg.uri.replace(&app.address, &off.address);
    let res = off
        .http
        .get(&uri)
        .bearer_auth(&reg.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 200);
    let res = off
        .http
        .post(format!("{}/register", off.address))
        .json(&claude_code())
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 404, "registration itself is off");
}

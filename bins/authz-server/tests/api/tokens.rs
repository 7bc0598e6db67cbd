//! The token endpoint, introspection, revocation and the JWK Set over HTTP, on both backends.
//! Codes are seeded through the storage (the pages that issue them have their own tests), so each
//! rule of the token endpoint is exercised on its own.

use authz_domain::audit::{AuditAction, AuditEvent, RequestContext};
use authz_domain::authorization::{
    AuthorizationCodeRecord, AuthorizationCodeRepository, CodeChallenge, ResourceIndicator,
    ScopeSet,
};
use authz_domain::credentials::TokenDigest;
use authz_domain::token::AccessTokenVerifier;
use authz_domain::users::{User, UserId, UserRepository, Username};
use authz_storage::{DieselAuthorizationStore, DieselUserStore};
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp};
use crate::on_both_backends;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "http://127.0.0.1:3000/callback";
const RESOURCE: &str = "https://mcp.example.com/mcp";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

struct Seeded {
    client_id: String,
    user_id: String,
}

async fn public_client(app: &TestApp) -> String {
    let res = app
        .register(&json!({
            "client_name": "Claude Code",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"]
        }))
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    body["client_id"].as_str().expect("client_id").to_owned()
}

fn seed_user(app: &TestApp) -> String {
    let store = DieselUserStore::new(app.db.clone());
    let id = format!("user-{}", now());
    let user = User {
        id: UserId::from_stored(id.clone()),
        username: Username::parse("alice").expect("username"),
        display_name: None,
        password_hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        is_disabled: false,
        created_at: now(),
        updated_at: now(),
        password_changed_at: now(),
    };
    let event = AuditEvent::new(
        now(),
        AuditAction::UserCreated,
        "test",
        &RequestContext::default(),
    );
    store.create(&user, &event).expect("user stored");
    id
}

fn seed_code(app: &TestApp, seeded: &Seeded, code: &str, family: &str) {
    let store = DieselAuthorizationStore::new(app.db.clone());
    store
        .insert(&AuthorizationCodeRecord {
            digest: TokenDigest::of(code),
            client_id: seeded.client_id.clone(),
            redirect_uri: Some(REDIRECT.into()),
            code_challenge: CodeChallenge::from_stored(CHALLENGE).expect("challenge"),
            scope: ScopeSet::from("mcp".to_owned()),
            resources: vec![ResourceIndicator::parse(RESOURCE).expect("resource")],
            user_id: seeded.user_id.clone(),
            auth_time: now() - 5,
            issued_at: now(),
            expires_at: now() + 60,
            family_id: family.into(),
            used_at: None,
        })
        .expect("code stored");
}

async fn setup(app: &TestApp) -> Seeded {
    Seeded {
        client_id: public_client(app).await,
        user_id: seed_user(app),
    }
}

async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .expect("request sent")
}

async fn exchange(app: &TestApp, client_id: &str, code: &str) -> reqwest::Response {
    post_form(
        app,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await
}

async fn refresh(app: &TestApp, client_id: &str, token: &str) -> reqwest::Response {
    post_form(
        app,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", token),
        ],
    )
    .await
}

/// A confidential client an administrator allowed to introspect; returns (id, secret).
async fn introspector(app: &TestApp) -> (String, String) {
    let token = crate::helpers::admin_token(app, "client:admin");
    let res = app
        .http
        .post(app.url("/admin/clients"))
        .bearer_auth(&token)
        .json(&json!({
            "client_name": "files MCP server",
            "redirect_uris": ["https://mcp.example.com/unused"],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["client_credentials"],
            "settings": {"allow_introspection": true}
        }))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    (
        body["client"]["client_id"].as_str().expect("id").to_owned(),
        body["client_secret"].as_str().expect("secret").to_owned(),
    )
}

async fn introspect(app: &TestApp, rs: &(String, String), token: &str) -> Value {
    let res = app
        .http
        .post(app.url("/introspect"))
        .basic_auth(&rs.0, Some(&rs.1))
        .form(&[("token", token)])
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

on_both_backends! {
    async fn a_code_exchange_returns_a_verifiable_jwt_and_a_refresh_token(backend: Backend) {
        let app = spawn_app(backend).await;
        let seeded = setup(&app).await;
        seed_code(&app, &seeded, "ac_one", "fam-one");
        let res = exchange(&app, &seeded.client_id, "ac_one").await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(res.headers()["pragma"], "no-cache");
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "mcp");
        assert!(body["expires_in"].as_u64().expect("expires_in") > 0);
        assert!(body["refresh_token"].as_str().expect("refresh").starts_with("rt_"));

        let jwks = app.http.get(app.url("/jwks.json")).send().await.expect("jwks");
        assert_eq!(jwks.status(), 200);
        assert!(jwks.headers()["cache-control"].to_str().expect("ascii").starts_with("public, max-age="));
        let jwks = jwks.text().await.expect("text");
        assert!(!jwks.contains("\"d\""), "no private member in the JWK Set");
        let verifier = AccessTokenVerifier::from_jwks_json(&jwks, &app.address, RESOURCE).expect("verifier");
        let claims = verifier.verify(body["access_token"].as_str().expect("token")).expect("valid JWT");
        assert_eq!(claims.sub, seeded.user_id);
        assert_eq!(claims.client_id, seeded.client_id);
        assert_eq!(claims.aud, vec![RESOURCE.to_owned()]);
    }

    async fn a_replayed_code_is_refused_and_revokes_its_tokens(backend: Backend) {
        let app = spawn_app(backend).await;
        let seeded = setup(&app).await;
        seed_code(&app, &seeded, "ac_two", "fam-two");
        let first: Value = exchange(&app, &seeded.client_id, "ac_two").await.json().await.expect("json");
        assert_error(exchange(&app, &seeded.client_id, "ac_two").await, 400, "invalid_grant").await;
        let rt = first["refresh_token"].as_str().expect("refresh");
        assert_error(refresh(&app, &seeded.client_id, rt).await, 400, "invalid_grant").await;
        let rs = introspector(&app).await;
        let info = introspect(&app, &rs, first["access_token"].as_str().expect("at")).await;
        assert_eq!(info, json!({"active": false}));
    }

    async fn refresh_rotates_and_a_late_replay_revokes_the_family(backend: Backend) {
        let app = spawn_app(backend).await;
        let seeded = setup(&app).await;
        seed_code(&app, &seeded, "ac_three", "fam-three");
        let first: Value = exchange(&app, &seeded.client_id, "ac_three").await.json().await.expect("json");
        let rt1 = first["refresh_token"].as_str().expect("rt1").to_owned();
        let second: Value = refresh(&app, &seeded.client_id, &rt1).await.json().await.expect("json");
        let rt2 = second["refresh_token"].as_str().expect("rt2").to_owned();
        assert_ne!(rt1, rt2, "public clients always rotate");
        // Within the grace window a duplicate refresh of rt1 still succeeds.
        assert_eq!(refresh(&app, &seeded.client_id, &rt1).await.status(), 200);
        let third = refresh(&app, &seeded.client_id, &rt2).await;
        assert_eq!(third.status(), 200);
    }

    async fn token_endpoint_errors_follow_rfc_6749(backend: Backend) {
        let app = spawn_app(backend).await;
        let seeded = setup(&app).await;
        // JSON instead of a form.
        let res = app.http.post(app.url("/token"))
            .json(&json!({"grant_type": "authorization_code"})).send().await.expect("sent");
        let description = assert_error(res, 400, "invalid_request").await;
        assert!(description.contains("application/x-www-form-urlencoded"), "{description}");
        // A repeated parameter.
        let res = post_form(&app, "/token", &[("grant_type", "refresh_token"), ("grant_type", "refresh_token")]).await;
        assert_error(res, 400, "invalid_request").await;
        // An unknown grant.
        let res = post_form(&app, "/token", &[("grant_type", "password"), ("client_id", &seeded.client_id)]).await;
        assert_error(res, 400, "unsupported_grant_type").await;
        // An unknown client, with Basic: 401 and a Basic challenge.
        let res = app.http.post(app.url("/token")).basic_auth("nobody", Some("secret"))
            .form(&[("grant_type", "client_credentials")]).send().await.expect("sent");
        assert_eq!(res.headers()["www-authenticate"], "Basic realm=\"authz-server\"");
        assert_error(res, 401, "invalid_client").await;
        // Two Authorization headers: which credentials apply would depend on the reader.
        let res = app.http.post(app.url("/token"))
            .header("authorization", "Basic YTpi").header("authorization", "Basic Yzpk")
            .form(&[("grant_type", "client_credentials")]).send().await.expect("sent");
        assert_error(res, 400, "invalid_request").await;
        // A grant the client is not registered for.
        let res = post_form(&app, "/token", &[("grant_type", "client_credentials"), ("client_id", &seeded.client_id)]).await;
        assert_error(res, 400, "unauthorized_client").await;
        // A verifier of 42 characters.
        seed_code(&app, &seeded, "ac_four", "fam-four");
        let short = "a".repeat(42);
        let res = post_form(&app, "/token", &[("grant_type", "authorization_code"), ("client_id", &seeded.client_id),
            ("code", "ac_four"), ("code_verifier", &short), ("redirect_uri", REDIRECT)]).await;
        assert_error(res, 400, "invalid_request").await;
        // The code survived the malformed request.
        assert_eq!(exchange(&app, &seeded.client_id, "ac_four").await.status(), 200);
    }

    async fn introspection_and_revocation(backend: Backend) {
        let app = spawn_app(backend).await;
        let seeded = setup(&app).await;
        seed_code(&app, &seeded, "ac_five", "fam-five");
        let tokens: Value = exchange(&app, &seeded.client_id, "ac_five").await.json().await.expect("json");
        let at = tokens["access_token"].as_str().expect("at");
        let rt = tokens["refresh_token"].as_str().expect("rt");
        // Only allowed clients introspect.
        let res = app.http.post(app.url("/introspect")).form(&[("token", at), ("client_id", &seeded.client_id)])
            .send().await.expect("sent");
        assert_error(res, 401, "invalid_client").await;
        let rs = introspector(&app).await;
        let info = introspect(&app, &rs, at).await;
        assert_eq!(info["active"], true);
        assert_eq!(info["token_type"], "Bearer");
        assert_eq!(info["token_use"], "access_token");
        assert_eq!(info["sub"], seeded.user_id);
        let info = introspect(&app, &rs, rt).await;
        assert_eq!(info["active"], true);
        assert_eq!(info["token_use"], "refresh_token");
        assert!(info.get("token_type").is_none());
        assert_eq!(introspect(&app, &rs, "garbage").await, json!({"active": false}));
        // Revocation of the access token by its client.
        let res = post_form(&app, "/revoke", &[("token", at), ("client_id", &seeded.client_id)]).await;
        assert_eq!(res.status(), 200);
        assert_eq!(introspect(&app, &rs, at).await, json!({"active": false}));
        // Revoking the refresh token ends the family.
        let res = post_form(&app, "/revoke", &[("token", rt), ("client_id", &seeded.client_id)]).await;
        assert_eq!(res.status(), 200);
        assert_error(refresh(&app, &seeded.client_id, rt).await, 400, "invalid_grant").await;
        // Unknown tokens: 200, nothing changes.
        let res = post_form(&app, "/revoke", &[("token", "rt_nothing"), ("client_id", &seeded.client_id)]).await;
        assert_eq!(res.status(), 200);
    }

    async fn deleting_the_client_makes_its_tokens_inactive(backend: Backend) {
        let app = spawn_app(backend).await;
        let seeded = setup(&app).await;
        seed_code(&app, &seeded, "ac_six", "fam-six");
        let tokens: Value = exchange(&app, &seeded.client_id, "ac_six").await.json().await.expect("json");
        let rs = introspector(&app).await;
        let admin = crate::helpers::admin_token(&app, "client:admin");
        let res = app.http.delete(app.url(&format!("/admin/clients/{}", seeded.client_id)))
            .bearer_auth(&admin).send().await.expect("sent");
        assert_eq!(res.status(), 204);
        let at = tokens["access_token"].as_str().expect("at");
        assert_eq!(introspect(&app, &rs, at).await, json!({"active": false}));
        let rt = tokens["refresh_token"].as_str().expect("rt");
        assert_error(refresh(&app, &seeded.client_id, rt).await, 401, "invalid_client").await;
    }

    async fn disabling_a_user_revokes_their_grants_for_good(backend: Backend) {
        let app = spawn_app(backend).await;
        let seeded = setup(&app).await;
        seed_code(&app, &seeded, "ac_seven", "fam-seven");
        let tokens: Value = exchange(&app, &seeded.client_id, "ac_seven").await.json().await.expect("json");
        let rt = tokens["refresh_token"].as_str().expect("rt");
        let admin = crate::helpers::admin_token(&app, "user:admin");
        for action in ["disable", "enable"] {
            let res = app.http.post(app.url(&format!("/admin/users/{}/{action}", seeded.user_id)))
                .bearer_auth(&admin).send().await.expect("sent");
            assert_eq!(res.status(), 200, "{action}");
        }
        assert_error(refresh(&app, &seeded.client_id, rt).await, 400, "invalid_grant").await;
    }

    async fn rotating_a_secret_away_revokes_the_clients_grants(backend: Backend) {
        let app = spawn_app(backend).await;
        let res = app.register(&json!({
            "client_name": "Claude",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "client_secret_post",
            "grant_types": ["authorization_code", "refresh_token"]
        })).await;
        let body: Value = res.json().await.expect("json");
        let client_id = body["client_id"].as_str().expect("id").to_owned();
        let secret = body["client_secret"].as_str().expect("secret").to_owned();
        let seeded = Seeded { client_id: client_id.clone(), user_id: seed_user(&app) };
        seed_code(&app, &seeded, "ac_eight", "fam-eight");
        let res = post_form(&app, "/token", &[
            ("grant_type", "authorization_code"), ("client_id", &client_id), ("client_secret", &secret),
            ("code", "ac_eight"), ("code_verifier", VERIFIER), ("redirect_uri", REDIRECT),
        ]).await;
        assert_eq!(res.status(), 200);
        let tokens: Value = res.json().await.expect("json");
        let rt = tokens["refresh_token"].as_str().expect("rt").to_owned();
        let admin = crate::helpers::admin_token(&app, "client:admin");
        let res = app.http.post(app.url(&format!("/admin/clients/{client_id}/secret")))
            .bearer_auth(&admin).send().await.expect("sent");
        assert_eq!(res.status(), 200);
        let new_secret = res.json::<Value>().await.expect("json")["client_secret"].as_str().expect("new").to_owned();
        // The old secret no longer authenticates; the new one does, but the grant is gone.
        let res = post_form(&app, "/token", &[
            ("grant_type", "refresh_token"), ("client_id", &client_id), ("client_secret", &secret), ("refresh_token", &rt),
        ]).await;
        assert_error(res, 401, "invalid_client").await;
        let res = post_form(&app, "/token", &[
            ("grant_type", "refresh_token"), ("client_id", &client_id), ("client_secret", &new_secret), ("refresh_token", &rt),
        ]).await;
        assert_error(res, 400, "invalid_grant").await;
    }
}

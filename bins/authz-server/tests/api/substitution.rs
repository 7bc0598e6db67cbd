//! Safe substitution over HTTP (RFC 7591 §3.2.1, issue 9 part 1): each example registers with 201
//! and the response echoes what was registered; with `registration.substitution = false` each is
//! refused with 400 and nothing is written.

use serde_json::{json, Value};

use crate::helpers::{
    admin_token, assert_error, assert_no_nulls, real_clients, spawn_app, spawn_app_with,
    vscode_unfiltered, TestApp,
};
use crate::on_both_backends;

const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The Swift MCP SDK's registration: `grant_types` holds only `authorization_code`.
fn swift_sdk() -> Value {
    json!({"client_name": "Swift MCP client", "redirect_uris": ["http://127.0.0.1:49152/callback"],
        "grant_types": ["authorization_code"], "response_types": ["code"],
        "token_endpoint_auth_method": "none"})
}

fn device_code_extra() -> Value {
    json!({"client_name": "device-code extra", "redirect_uris": ["http://127.0.0.1:49152/callback"],
        "grant_types": ["authorization_code", DEVICE_CODE], "response_types": ["code"],
        "token_endpoint_auth_method": "none"})
}

fn scope_request() -> Value {
    json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "none",
        "scope": "groups profile offline_access"})
}

fn refresh_only_with_code_response() -> Value {
    json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "none",
        "response_types": ["code"], "grant_types": ["refresh_token"]})
}

/// Registers `body`, expecting 201, and returns the response document.
async fn registered(app: &TestApp, body: &Value) -> Value {
    let res = app.register(body).await;
    assert_eq!(res.status().as_u16(), 201, "{body}");
    let doc: Value = res.json().await.expect("json");
    assert_no_nulls(&doc);
    assert!(doc["client_id"].is_string() && doc["redirect_uris"].is_array());
    doc
}

async fn refused(app: &TestApp, body: &Value) -> String {
    let d = assert_error(app.register(body).await, 400, "invalid_client_metadata").await;
    assert_eq!(app.counts(), (0, 0), "nothing written: {body}");
    d
}

on_both_backends! {
    async fn swift_sdk_gets_both_grants_echoed(backend: Backend) {
        let app = spawn_app(backend).await;
        let doc = registered(&app, &swift_sdk()).await;
        assert_eq!(doc["grant_types"], json!(["authorization_code", "refresh_token"]));
        assert_eq!(doc["response_types"], json!(["code"]));
        // What the response says is what is stored: a read with the token shows the same.
        let read: Value = app.http.get(doc["registration_client_uri"].as_str().expect("uri"))
            .bearer_auth(doc["registration_access_token"].as_str().expect("token"))
            .send().await.expect("sent").json().await.expect("json");
        assert_eq!(read["grant_types"], doc["grant_types"]);
    }

    async fn an_unsupported_extra_grant_is_dropped(backend: Backend) {
        let app = spawn_app(backend).await;
        let doc = registered(&app, &device_code_extra()).await;
        assert_eq!(doc["grant_types"], json!(["authorization_code", "refresh_token"]));
        // VS Code without its discovery filter sends the device-code grant beside the others.
        let doc = registered(&app, &vscode_unfiltered()).await;
        assert_eq!(doc["grant_types"], json!(["authorization_code", "refresh_token"]));
        assert_eq!(doc["client_name"], "Visual Studio Code");
    }

    async fn only_unsupported_or_unsafe_grants_stay_refused(backend: Backend) {
        let app = spawn_app(backend).await;
        let base = swift_sdk();
        for grants in [json!([DEVICE_CODE]), json!(["implicit", "authorization_code"]),
                       json!(["authorization_code", "password"]), json!(["password"])] {
            let mut body = base.clone();
            body["grant_types"] = grants.clone();
            let d = refused(&app, &body).await;
            assert!(d.starts_with("grant_types["), "{grants}: {d}");
        }
    }

    async fn unknown_scope_tokens_are_dropped(backend: Backend) {
        let app = spawn_app_with(backend, &[("registration.allowed_scopes", "profile,mcp:tools")]).await;
        let doc = registered(&app, &scope_request()).await;
        assert_eq!(doc["scope"], "profile");
        let mut nothing_left = scope_request();
        nothing_left["scope"] = json!("groups offline_access");
        let doc = registered(&app, &nothing_left).await;
        assert!(doc.get("scope").is_none(), "no default scope configured: {doc}");

        let app = spawn_app_with(backend, &[
            ("registration.allowed_scopes", "profile,mcp:tools"),
            ("registration.default_scope", "mcp:tools"),
        ]).await;
        let doc = registered(&app, &nothing_left).await;
        assert_eq!(doc["scope"], "mcp:tools", "the default scope");
    }

    async fn claude_on_a_public_only_server_registers_none_without_a_secret(backend: Backend) {
        let app = spawn_app_with(backend, &[("registration.allowed_auth_methods", "none")]).await;
        let claude = real_clients()["claude"].clone();
        assert_eq!(claude["token_endpoint_auth_method"], "client_secret_post");
        let doc = registered(&app, &claude).await;
        assert_eq!(doc["token_endpoint_auth_method"], "none");
        assert!(doc.get("client_secret").is_none(), "{doc}");
        assert!(doc.get("client_secret_expires_at").is_none(), "{doc}");
    }

    async fn a_public_client_on_a_confidential_only_server_gets_a_secret(backend: Backend) {
        let app = spawn_app_with(backend, &[("registration.allowed_auth_methods", "client_secret_basic,client_secret_post")]).await;
        let doc = registered(&app, &real_clients()["claude_code"].clone()).await;
        assert_eq!(doc["token_endpoint_auth_method"], "client_secret_basic");
        assert!(doc["client_secret"].as_str().is_some_and(|s| s.len() >= 43), "{doc}");
        assert_eq!(doc["client_secret_expires_at"], 0);
    }

    async fn response_type_code_with_refresh_token_gets_the_code_grant(backend: Backend) {
        let app = spawn_app(backend).await;
        let doc = registered(&app, &refresh_only_with_code_response()).await;
        assert_eq!(doc["grant_types"], json!(["authorization_code", "refresh_token"]));
        assert_eq!(doc["response_types"], json!(["code"]));
    }

    async fn substitution_off_refuses_every_example(backend: Backend) {
        let app = spawn_app_with(backend, &[
            ("registration.substitution", "false"),
            ("registration.allowed_scopes", "profile"),
        ]).await;
        let cases = [
            (swift_sdk(), "grant_types: must include both"),
            (device_code_extra(), "grant_types[1]: \"urn:ietf:params:oauth:grant-type:device_code\" is not supported"),
            (scope_request(), "scope: \"groups\" is not available"),
            (refresh_only_with_code_response(), "grant_types: must include both"),
        ];
        for (body, expect) in cases {
            let d = refused(&app, &body).await;
            assert!(d.contains(expect), "{body}: {d}");
        }
        let app = spawn_app_with(backend, &[
            ("registration.substitution", "false"),
            ("registration.allowed_auth_methods", "none"),
        ]).await;
        let d = refused(&app, &real_clients()["claude"].clone()).await;
        assert!(d.contains("\"client_secret_post\" is not allowed by this server"), "{d}");
    }

    async fn an_update_substitutes_like_a_registration(backend: Backend) {
        let app = spawn_app(backend).await;
        let doc = registered(&app, &real_clients()["claude_code"].clone()).await;
        let mut update = swift_sdk();
        update["client_id"] = doc["client_id"].clone();
        let res = app.http.put(doc["registration_client_uri"].as_str().expect("uri"))
            .bearer_auth(doc["registration_access_token"].as_str().expect("token"))
            .json(&update).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 200);
        let updated: Value = res.json().await.expect("json");
        assert_eq!(updated["grant_types"], json!(["authorization_code", "refresh_token"]));
        assert_eq!(updated["client_name"], "Swift MCP client");
    }

    async fn substitutions_are_in_the_audit_trail(backend: Backend) {
        let app = spawn_app(backend).await;
        let doc = registered(&app, &swift_sdk()).await;
        let admin = admin_token(&app, "audit:read");
        let events: Value = app.http.get(app.url(&format!("/admin/audit-events?client_id={}", doc["client_id"].as_str().expect("id"))))
            .bearer_auth(admin).send().await.expect("sent").json().await.expect("json");
        let text = events.to_string();
        assert!(text.contains("substituted: grant_types: added \\\"refresh_token\\\""), "{text}");
    }
}

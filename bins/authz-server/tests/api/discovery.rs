//! RFC 8414 metadata and the documentation it points at.

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with};
use crate::on_both_backends;

on_both_backends! {
    async fn metadata_names_the_issuer_and_a_working_registration_endpoint(backend: Backend) {
        let app = spawn_app(backend).await;
        let res = app.http.get(app.url("/.well-known/oauth-authorization-server")).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 200);
        let meta: Value = res.json().await.expect("json");
        assert_eq!(meta["issuer"], app.address);
        assert_eq!(meta["response_types_supported"], json!(["code"]));
        assert_eq!(meta["grant_types_supported"], json!(["authorization_code", "refresh_token"]));
        assert_eq!(meta["token_endpoint_auth_methods_supported"], json!(["none", "client_secret_basic", "client_secret_post"]));
        assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
        assert!(meta.get("scopes_supported").is_none(), "no scope list configured");
        for (member, path) in [("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"), ("jwks_uri", "/jwks.json"),
                               ("introspection_endpoint", "/introspect"), ("revocation_endpoint", "/revoke")] {
            assert_eq!(meta[member], app.url(path), "{member}");
        }
        assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
        assert_eq!(meta["response_modes_supported"], json!(["query"]));
        let endpoint = meta["registration_endpoint"].as_str().expect("registration_endpoint");
        let res = app.http.post(endpoint).json(&json!({"redirect_uris": ["http://127.0.0.1:1234/cb"], "token_endpoint_auth_method": "none"})).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 201);
        let docs = app.http.get(meta["service_documentation"].as_str().expect("docs")).send().await.expect("sent");
        assert_eq!(docs.status().as_u16(), 200);
        assert!(docs.text().await.expect("text").contains("POST /register"));
    }

    async fn openid_configuration_is_a_json_404(backend: Backend) {
        let app = spawn_app(backend).await;
        assert_error(app.http.get(app.url("/.well-known/openid-configuration")).send().await.expect("sent"), 404, "not_found").await;
    }
}

#[tokio::test]
async fn configured_scopes_and_grants_are_advertised() {
    let app = spawn_app_with(
        authz_storage::Backend::Sqlite,
        &[
            ("registration.allowed_scopes", "mcp:tools"),
            ("registration.allowed_auth_methods", "none"),
        ],
    )
    .await;
    let meta: Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(meta["scopes_supported"], json!(["mcp:tools"]));
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
}

#[tokio::test]
async fn an_issuer_with_a_path_is_also_served_at_the_path_inserted_location() {
    let app = crate::helpers::spawn_app_with(
        authz_storage::Backend::Sqlite,
        &[("server.public_base_url", "http://127.0.0.1:9/tenant-a")],
    )
    .await;
    let res = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server/tenant-a"))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 200);
    let meta: Value = res.json().await.expect("json");
    assert_eq!(meta["issuer"], "http://127.0.0.1:9/tenant-a");
    assert_eq!(meta["token_endpoint"], "http://127.0.0.1:9/tenant-a/token");
    let res = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server/other"))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 404);
}

#[tokio::test]
async fn the_metadata_wire_format() {
    let app = spawn_app(authz_storage::Backend::Sqlite).await;
    let meta: Value = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    insta::assert_json_snapshot!(meta, {
        ".issuer" => "[base]",
        ".authorization_endpoint" => "[base]/authorize",
        ".token_endpoint" => "[base]/token",
        ".jwks_uri" => "[base]/jwks.json",
        ".registration_endpoint" => "[base]/register",
        ".introspection_endpoint" => "[base]/introspect",
        ".revocation_endpoint" => "[base]/revoke",
        ".service_documentation" => "[base]/docs"
    });
}

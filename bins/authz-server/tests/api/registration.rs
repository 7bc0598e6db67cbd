//! POST /register: the success paths.

use serde_json::{json, Value};

use crate::helpers::{assert_no_nulls, real_clients, spawn_app, spawn_app_with};
use crate::on_both_backends;

on_both_backends! {
    async fn every_real_mcp_client_registers(backend: Backend) {
        let app = spawn_app(backend).await;
        for (name, payload) in real_clients() {
            let res = app.register(&payload).await;
            assert_eq!(res.status().as_u16(), 201, "{name}");
            assert_eq!(res.headers()["cache-control"], "no-store", "{name}");
            assert_eq!(res.headers()["pragma"], "no-cache", "{name}");
            let body: Value = res.json().await.expect("json");
            assert_no_nulls(&body);
            let client_id = body["client_id"].as_str().expect("client_id string");
            assert!(client_id.len() >= 22, "{name}: 128 random bits");
            assert_eq!(body["redirect_uris"], payload["redirect_uris"], "{name}");
            assert!(body["client_id_issued_at"].is_i64(), "{name}");
            assert_eq!(body["code_challenge_method"], "S256", "{name}");
            assert_eq!(body["registration_client_uri"], format!("{}/register/{client_id}", app.address), "{name}");
            assert!(body["registration_access_token"].as_str().expect("token").starts_with("rat_"));
            let public = payload["token_endpoint_auth_method"] == "none";
            assert_eq!(body.get("client_secret").is_none(), public, "{name}: a secret exactly when not public");
            assert_eq!(body.get("client_secret_expires_at").is_none(), public, "{name}");
            if !public {
                assert_eq!(body["client_secret_expires_at"], 0, "{name}");
            }
            if let Some(uri) = body.get("client_uri") {
                assert_ne!(uri, "", "{name}: client_uri is never empty");
            }
        }
        let n = real_clients().len() as i64;
        assert_eq!(app.counts(), (n, n));
    }

    async fn defaults_are_applied_and_echoed(backend: Backend) {
        let app = spawn_app(backend).await;
        let res = app.register(&json!({"redirect_uris": ["https://app.example.com/cb"]})).await;
        assert_eq!(res.status().as_u16(), 201);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["grant_types"], json!(["authorization_code", "refresh_token"]));
        assert_eq!(body["response_types"], json!(["code"]));
        assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
        assert_eq!(body["code_challenge_method"], "S256");
        let secret = body["client_secret"].as_str().expect("secret issued for the default method");
        assert!(secret.len() >= 43, "256 bits base64url");
    }

    async fn client_supplied_ids_and_secrets_are_ignored(backend: Backend) {
        let app = spawn_app(backend).await;
        let body: Value = app
            .register(&json!({"client_id": "chosen", "client_secret": "mine", "redirect_uris": ["https://a.example/cb"]}))
            .await
            .json()
            .await
            .expect("json");
        assert_ne!(body["client_id"], "chosen");
        assert_ne!(body["client_secret"], "mine");
    }

    async fn secrets_are_stored_only_as_argon2id_and_tokens_as_sha256(backend: Backend) {
        use authz_storage::schema::{clients, registration_access_tokens};
        use diesel::prelude::*;
        let app = spawn_app(backend).await;
        let body: Value = app.register(&real_clients()["claude"]).await.json().await.expect("json");
        let secret = body["client_secret"].as_str().expect("secret").to_owned();
        let token = body["registration_access_token"].as_str().expect("token").to_owned();
        let (hash, metadata): (Option<String>, String) = app
            .db
            .read(|c| clients::table.select((clients::secret_hash, clients::metadata)).first(c))
            .expect("row");
        let hash = hash.expect("hash stored");
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains(&secret) && !metadata.contains(&secret) && !metadata.contains(&token));
        let digest: Vec<u8> = app
            .db
            .read(|c| registration_access_tokens::table.select(registration_access_tokens::token_digest).first(c))
            .expect("token row");
        assert_eq!(digest, authz_domain::credentials::TokenDigest::of(&token).as_bytes().to_vec());
    }

    async fn repeated_identical_registrations_create_distinct_clients(backend: Backend) {
        let app = spawn_app(backend).await;
        let claude = &real_clients()["claude"];
        let a: Value = app.register(claude).await.json().await.expect("json");
        let b: Value = app.register(claude).await.json().await.expect("json");
        assert_ne!(a["client_id"], b["client_id"]);
        assert_eq!(app.counts(), (2, 2));
    }

    async fn accepted_edge_cases_register(backend: Backend) {
        let app = spawn_app(backend).await;
        for uri in [
            "https://bücher.example/cb",
            "HTTPS://App.Example.com/cb",
            "http://[::1]:8080/cb",
            "http://LOCALHOST:3000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            let res = app.register(&json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"})).await;
            assert_eq!(res.status().as_u16(), 201, "{uri}");
            let body: Value = res.json().await.expect("json");
            assert_eq!(body["redirect_uris"][0], uri, "stored exactly as sent");
        }
        let res = app
            .register(&json!({"redirect_uris": ["https://a.example/cb"], "client_name": "Mon appli ✓", "client_name#ja-Jpan-JP": "アプリ", "token_endpoint_auth_method": "none"}))
            .await;
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["client_name#ja-Jpan-JP"], "アプリ");
        assert_eq!(body["client_name"], "Mon appli ✓");
    }

    async fn a_charset_parameter_is_accepted(backend: Backend) {
        let app = spawn_app(backend).await;
        let res = app
            .register_raw(Some("application/json; charset=utf-8"), br#"{"redirect_uris":["https://a.example/cb"]}"#.to_vec())
            .await;
        assert_eq!(res.status().as_u16(), 201);
    }

    async fn client_secret_lifetime_is_configurable(backend: Backend) {
        let app = spawn_app_with(backend, &[("registration.secret_lifetime_secs", "3600")]).await;
        let body: Value = app.register(&real_clients()["claude"]).await.json().await.expect("json");
        let issued = body["client_id_issued_at"].as_i64().expect("issued");
        assert_eq!(body["client_secret_expires_at"].as_i64(), Some(issued + 3600));
    }

    async fn concurrent_registrations_all_land(backend: Backend) {
        let app = spawn_app(backend).await;
        let payload = real_clients()["claude_code"].clone();
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let (http, url, payload) = (app.http.clone(), app.url("/register"), payload.clone());
            tasks.push(tokio::spawn(async move { http.post(url).json(&payload).send().await.expect("sent").status().as_u16() }));
        }
        for t in tasks {
            assert_eq!(t.await.expect("task"), 201);
        }
        assert_eq!(app.counts(), (40, 40));
    }
}

#[tokio::test]
async fn the_registration_response_wire_format() {
    let app = spawn_app(authz_storage::Backend::Sqlite).await;
    let mut payload = real_clients()["mcp_remote"].clone();
    payload["token_endpoint_auth_method"] = json!("client_secret_basic");
    payload["contacts"] = json!(["ops@example.com"]);
    payload["scope"] = json!("mcp:tools");
    payload["client_name#fr"] = json!("Client MCP");
    payload["x_unknown"] = json!(true);
    let body: Value = app.register(&payload).await.json().await.expect("json");
    insta::assert_json_snapshot!(body, {
        ".client_id" => "[client_id]",
        ".client_secret" => "[client_secret]",
        ".client_id_issued_at" => "[timestamp]",
        ".registration_access_token" => "[token]",
        ".registration_client_uri" => "[uri]",
    });
}

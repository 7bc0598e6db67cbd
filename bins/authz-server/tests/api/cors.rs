//! CORS for browser-based clients such as MCP Inspector.

use serde_json::json;

use crate::helpers::spawn_app;
use crate::on_both_backends;

on_both_backends! {
    async fn preflight_allows_any_origin_and_the_mcp_headers(backend: Backend) {
        let app = spawn_app(backend).await;
        for path in ["/register", "/register/some-client", "/.well-known/oauth-authorization-server"] {
            let res = app
                .http
                .request(reqwest::Method::OPTIONS, app.url(path))
                .header("origin", "http://localhost:6274")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type, authorization, mcp-protocol-version")
                .send()
                .await
                .expect("sent");
            assert_eq!(res.status().as_u16(), 200, "{path}");
            let h = res.headers();
            assert_eq!(h["access-control-allow-origin"], "http://localhost:6274", "{path}");
            let allowed = h["access-control-allow-headers"].to_str().expect("ascii").to_ascii_lowercase();
            for header in ["content-type", "authorization", "mcp-protocol-version"] {
                assert!(allowed.contains(header), "{path}: {allowed}");
            }
            assert!(h["access-control-allow-methods"].to_str().expect("ascii").contains("POST"));
        }
    }

    async fn responses_carry_the_allow_origin_header(backend: Backend) {
        let app = spawn_app(backend).await;
        let res = app
            .http
            .post(app.url("/register"))
            .header("origin", "https://inspector.example")
            .json(&json!({"redirect_uris": ["http://localhost:6274/oauth/callback"], "token_endpoint_auth_method": "none"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status().as_u16(), 201);
        assert_eq!(res.headers()["access-control-allow-origin"], "https://inspector.example");
        // Errors too, so the browser can read them.
        let res = app
            .http
            .post(app.url("/register"))
            .header("origin", "https://inspector.example")
            .json(&json!({}))
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status().as_u16(), 400);
        assert_eq!(res.headers()["access-control-allow-origin"], "https://inspector.example");
    }

    async fn a_bad_preflight_is_a_json_error(backend: Backend) {
        let app = spawn_app(backend).await;
        let res = app
            .http
            .request(reqwest::Method::OPTIONS, app.url("/register"))
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", "PATCH")
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status().as_u16(), 400);
        let body: serde_json::Value = res.json().await.expect("JSON, not plain text");
        assert_eq!(body["error"], "invalid_request");
    }
}

//! Redirect URIs and names mean one thing to every reader (issue 11, item 7): URIs that a WHATWG
//! parser and an RFC 3986 parser read differently, invalid host names, private-use URIs with
//! nothing after the scheme, and names with invisible or direction-changing characters are
//! refused through POST /register, naming the member and writing nothing; what real clients send
//! is still accepted.

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, TestApp};
use crate::on_both_backends;

fn payload(redirect_uri: &str) -> Value {
    json!({"redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none"})
}

async fn refused(app: &TestApp, body: &Value, code: &str, says: &[&str]) {
    let description = assert_error(app.register(body).await, 400, code).await;
    for s in says {
        assert!(description.contains(s), "{body}: {description}");
    }
    assert_eq!(
        app.counts(),
        (0, 0),
        "a refused request writes nothing: {body}"
    );
}

on_both_backends! {
    async fn redirect_uris_that_parsers_read_differently_are_refused(backend: Backend) {
        let app = spawn_app(backend).await;
        for (uri, says) in [
            ("https://evil.example\\@good.example/", "backslash"),
            ("https://:@host.example/", "user information"),
            ("https://a..example/", "empty label"),
            ("https://-a.example/", "starts or ends with '-'"),
            ("https://a.example/x/../cb", "'..'"),
            ("https://2130706433/cb", "dotted decimal"),
            ("x:", "needs a host or a path"),
            ("a:b", "needs a host or a path"),
        ] {
            refused(&app, &payload(uri), "invalid_redirect_uri", &["redirect_uris[0]", says]).await;
        }
    }

    async fn what_real_native_and_editor_clients_send_is_still_accepted(backend: Backend) {
        let app = spawn_app(backend).await;
        for uri in [
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "vscode://vscode.github-authentication/did-authenticate",
            "com.example.app:/oauth2redirect",
            "http://127.0.0.1:33418/",
            "https://bücher.example/cb",
        ] {
            let res = app.register(&payload(uri)).await;
            assert_eq!(res.status().as_u16(), 201, "{uri}: {}", res.text().await.unwrap_or_default());
        }
    }

    async fn other_uri_members_need_valid_hosts_too(backend: Backend) {
        let app = spawn_app(backend).await;
        for member in ["client_uri", "logo_uri", "tos_uri", "policy_uri", "jwks_uri", "client_uri#fr"] {
            let mut body = payload("https://app.example.com/cb");
            body[member] = json!("https://a..example/page");
            refused(&app, &body, "invalid_client_metadata", &[member, "empty label"]).await;
            body[member] = json!("https://:@app.example/page");
            refused(&app, &body, "invalid_client_metadata", &[member, "user information"]).await;
        }
    }

    async fn names_with_invisible_or_direction_changing_characters_are_refused(backend: Backend) {
        let app = spawn_app(backend).await;
        for (member, name, says) in [
            ("client_name", "Cl\u{200B}aude", "U+200B ZERO WIDTH SPACE"),
            ("client_name", "Good\u{202E}evil", "U+202E RIGHT-TO-LEFT OVERRIDE"),
            ("client_name#fr", "Cl\u{2066}aude", "U+2066"),
            ("client_name", "\u{3164}", "U+3164"),
            ("software_id", "id\u{FEFF}", "U+FEFF"),
        ] {
            let mut body = payload("https://app.example.com/cb");
            body[member] = json!(name);
            refused(&app, &body, "invalid_client_metadata", &[member, says, "at character"]).await;
        }
        let mut body = payload("https://app.example.com/cb");
        body["client_name"] = json!("می\u{200C}خواهم 👨\u{200D}👩\u{200D}👧");
        assert_eq!(app.register(&body).await.status().as_u16(), 201);
    }
}

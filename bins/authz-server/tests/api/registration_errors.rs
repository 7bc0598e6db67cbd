//! POST /register: every refusal in the contract, and the hostile inputs. Each answers a JSON
//! error with the documented status and code, and writes nothing.

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with, vscode_unfiltered, TestApp};
use crate::on_both_backends;

fn ok_payload() -> Value {
    json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "none"})
}

fn with(key: &str, value: Value) -> Value {
    let mut p = ok_payload();
    p[key] = value;
    p
}

async fn refused(app: &TestApp, body: &Value, status: u16, code: &str) -> String {
    let description = assert_error(app.register(body).await, status, code).await;
    assert_eq!(
        app.counts(),
        (0, 0),
        "a refused request writes nothing: {body}"
    );
    description
}

on_both_backends! {
    async fn malformed_bodies_are_invalid_request(backend: Backend) {
        let app = spawn_app(backend).await;
        let ok = serde_json::to_vec(&ok_payload()).expect("json");
        let cases: Vec<(Option<&str>, Vec<u8>, &str)> = vec![
            (Some("text/plain"), ok.clone(), "Content-Type"),
            (None, ok.clone(), "Content-Type"),
            (Some("application/x-www-form-urlencoded"), b"redirect_uris=x".to_vec(), "Content-Type"),
            (Some("application/json"), b"{not json".to_vec(), "not valid JSON"),
            (Some("application/json"), b"".to_vec(), "not valid JSON"),
            (Some("application/json"), b"[1,2]".to_vec(), "must be a JSON object"),
            (Some("application/json"), b"\"s\"".to_vec(), "must be a JSON object"),
            (Some("application/json"), b"{\"client_name\":\"\xff\xfe\"}".to_vec(), "not valid JSON"),
            (Some("application/json"), b"{\"client_name\":\"a\",\"client_name\":\"b\"}".to_vec(), "more than once"),
            (Some("application/json"), b"{} {}".to_vec(), "not valid JSON"),
        ];
        for (ct, body, expect) in cases {
            let shown = String::from_utf8_lossy(&body).into_owned();
            let description = assert_error(app.register_raw(ct, body).await, 400, "invalid_request").await;
            assert!(description.contains(expect), "{ct:?} {shown}: {description}");
        }
        assert_eq!(app.counts(), (0, 0));
    }

    async fn deeply_nested_json_is_refused(backend: Backend) {
        let app = spawn_app(backend).await;
        let deep = format!("{{\"jwks\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
        let d = assert_error(app.register_raw(Some("application/json"), deep.into_bytes()).await, 400, "invalid_request").await;
        assert!(d.contains("recursion limit"), "{d}");
    }

    async fn an_oversized_body_is_413(backend: Backend) {
        let app = spawn_app(backend).await;
        let uris: Vec<String> = (0..10_000).map(|i| format!("https://app.example.com/callback/{i}")).collect();
        let d = refused(&app, &json!({"redirect_uris": uris}), 413, "invalid_request").await;
        assert!(d.contains("65536 bytes"), "{d}");
        // Without a Content-Length (chunked), the limit still holds.
        let big = vec![b' '; 70_000];
        let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(big)]);
        let res = app
            .http
            .post(app.url("/register"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .expect("sent");
        assert_error(res, 413, "invalid_request").await;
    }

    async fn ten_thousand_redirect_uris_are_refused_by_count(backend: Backend) {
        let app = spawn_app_with(backend, &[("limits.max_body_bytes", "1048576")]).await;
        let uris: Vec<String> = (0..10_000).map(|i| format!("https://a.example/{i}")).collect();
        let d = refused(&app, &json!({"redirect_uris": uris}), 400, "invalid_redirect_uri").await;
        assert!(d.contains("more than the 20 allowed"), "{d}");
    }

    async fn a_field_of_the_wrong_type_is_invalid_client_metadata(backend: Backend) {
        let app = spawn_app(backend).await;
        let d = refused(&app, &with("client_name", json!(12)), 400, "invalid_client_metadata").await;
        assert_eq!(d, "client_name: expected a string, got a number");
        refused(&app, &with("grant_types", json!("authorization_code")), 400, "invalid_client_metadata").await;
        refused(&app, &with("redirect_uris", json!("https://a.example/cb")), 400, "invalid_redirect_uri").await;
    }

    async fn redirect_uri_problems_are_invalid_redirect_uri(backend: Backend) {
        let app = spawn_app(backend).await;
        let cases = [
            ("ftp://example.com/cb", "scheme \"ftp\" is not allowed; use https, http on a loopback host, or a private-use scheme"),
            ("javascript:alert(1)", "never allowed"),
            ("data:text/html,hi", "never allowed"),
            ("file:///etc/passwd", "never allowed"),
            ("http://localhost.evil.com/", "only allowed on a loopback host"),
            ("http://127.0.0.1.nip.io/", "only allowed on a loopback host"),
            ("http://example.com/cb", "only allowed on a loopback host"),
            ("http://::1/cb", "not an absolute URI"),
            ("https://a.example/cb#frag", "fragment"),
            ("https://*.example.com/cb", "wildcards"),
            ("/relative", "not an absolute URI"),
        ];
        for (uri, expect) in cases {
            let d = refused(&app, &json!({"redirect_uris": ["https://ok.example/cb", uri]}), 400, "invalid_redirect_uri").await;
            assert!(d.starts_with("redirect_uris[1]: "), "{uri}: {d}");
            assert!(d.contains(expect), "{uri}: {d}");
        }
        refused(&app, &json!({"token_endpoint_auth_method": "none"}), 400, "invalid_redirect_uri").await;
    }

    async fn hostile_names_are_refused(backend: Backend) {
        let app = spawn_app(backend).await;
        for name in ["Safe\u{202E}txt.exe", "bell\u{0007}", "line\nbreak", "nul\u{0000}", "isolate\u{2067}x"] {
            let d = refused(&app, &with("client_name", json!(name)), 400, "invalid_client_metadata").await;
            assert!(d.starts_with("client_name: "), "{d}");
        }
        refused(&app, &with("client_name", json!("x".repeat(201))), 400, "invalid_client_metadata").await;
    }

    async fn metadata_rules_name_the_field(backend: Backend) {
        let app = spawn_app(backend).await;
        let cases = [
            (with("grant_types", json!(["authorization_code", "refresh_token", "implicit"])), "grant_types[2]: the implicit grant"),
            (with("grant_types", json!(["authorization_code", "refresh_token", "password"])), "grant_types[2]: the resource owner password grant"),
            (with("response_types", json!(["token"])), "response_types[0]"),
            (with("token_endpoint_auth_method", json!("private_key_jwt")), "token_endpoint_auth_method: \"private_key_jwt\" is not supported"),
            (with("code_challenge_method", json!("plain")), "code_challenge_method: \"plain\" is not supported"),
            (with("scope", json!("bad\\scope")), "scope: "),
            (with("contacts", json!(["not-mail"])), "contacts[0]"),
            (with("client_uri", json!("http://example.com")), "client_uri: "),
            (with("application_type", json!("tv")), "application_type: "),
            (with("jwks", json!({"keys": [{"kty": "oct", "k": "secret"}]})), "private member"),
            (with("client_name#bad tag", json!("x")), "not a BCP 47 language tag"),
        ];
        for (payload, expect) in cases {
            let d = refused(&app, &payload, 400, "invalid_client_metadata").await;
            assert!(d.contains(expect), "{payload}: {d}");
        }
    }

    async fn vscode_without_discovery_filtering_gets_a_clear_refusal_without_substitution(backend: Backend) {
        let app = spawn_app_with(backend, &[("registration.substitution", "false")]).await;
        let d = refused(&app, &vscode_unfiltered(), 400, "invalid_client_metadata").await;
        assert!(d.contains("urn:ietf:params:oauth:grant-type:device_code"), "{d}");
        assert!(d.contains("supported grant types are"), "{d}");
    }

    async fn software_statements_from_strangers_are_unapproved(backend: Backend) {
        let app = spawn_app(backend).await;
        // header {"alg":"HS256"} . payload {"iss":"https://stranger.example"} . fake signature
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJodHRwczovL3N0cmFuZ2VyLmV4YW1wbGUifQ.c2ln";
        refused(&app, &with("software_statement", json!(jwt)), 400, "unapproved_software_statement").await;
        refused(&app, &with("software_statement", json!("garbage")), 400, "invalid_software_statement").await;
    }

    async fn turning_registration_off_removes_the_endpoint(backend: Backend) {
        let app = spawn_app_with(backend, &[("registration.enabled", "false")]).await;
        let d = refused(&app, &ok_payload(), 404, "not_found").await;
        assert!(d.contains("/register"), "{d}");
        let meta: Value = app.http.get(app.url("/.well-known/oauth-authorization-server")).send().await.expect("sent").json().await.expect("json");
        assert!(meta.get("registration_endpoint").is_none(), "not advertised");
    }

    async fn wrong_methods_and_unknown_paths_answer_json(backend: Backend) {
        let app = spawn_app(backend).await;
        assert_error(app.http.get(app.url("/register")).send().await.expect("sent"), 405, "invalid_request").await;
        assert_error(app.http.get(app.url("/nope")).send().await.expect("sent"), 404, "not_found").await;
    }
}

#[tokio::test]
async fn a_database_outage_is_a_json_503_and_recovers_nothing_half_written() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let app = spawn_app_with(
        authz_storage::Backend::Postgres,
        &[("database.connect_timeout_secs", "1")],
    )
    .await;
    let ok = app.register(&ok_payload()).await;
    assert_eq!(ok.status().as_u16(), 201);
    // Take the database away underneath the running server.
    let name = app
        .settings
        .database
        .url
        .rsplit('/')
        .next()
        .expect("db name")
        .to_owned();
    let admin = std::env::var("TEST_DATABASE_URL").expect("postgres tests need TEST_DATABASE_URL");
    let mut conn = diesel::PgConnection::establish(&admin).expect("admin connection");
    conn.batch_execute(&format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        .expect("cut the database off");
    let res = app.register(&ok_payload()).await;
    assert_eq!(
        res.headers()
            .get("retry-after")
            .map(|v| v.to_str().expect("ascii")),
        Some("1")
    );
    let d = assert_error(res, 503, "temporarily_unavailable").await;
    assert!(
        !d.contains("postgres") && !d.contains("connection"),
        "no database detail leaks: {d}"
    );
    conn.batch_execute(&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
    ))
    .expect("restore");
    let mut recovered = false;
    for _ in 0..20 {
        if app.register(&ok_payload()).await.status().as_u16() == 201 {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(recovered, "the server recovers when the database returns");
    let (clients, tokens) = app.counts();
    assert_eq!(
        clients, tokens,
        "every client has exactly its token: nothing half-written"
    );
    assert_eq!(clients, 2);
}

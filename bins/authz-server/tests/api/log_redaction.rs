//! Credentials never reach the logs: the real binary, logging JSON at DEBUG (more than any
//! deployment would), is sent credentials in query strings, headers and bodies of every endpoint
//! that takes one; afterwards its whole log must not contain any of them, while it does show the
//! requests (so the test would see a leak).

use std::fs::File;
use std::process::Stdio;
use std::time::Duration;

use authz_storage::test_support::TestDatabase;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::cli::{server_command, start_server_keeping_stderr};

#[test]
fn credentials_sent_anywhere_never_appear_in_the_log() {
    let db = TestDatabase::sqlite();
    let log_dir = tempfile::tempdir().expect("temp dir");
    let log_path = log_dir.path().join("server.log");
    let log = File::create(&log_path).expect("log file");
    let mut cmd = server_command(&db.url);
    cmd.env("AUTHZ__LOGGING__FORMAT", "json")
        .env("AUTHZ__LOGGING__LEVEL", "debug")
        .stderr(Stdio::from(log));
    let (child, url) = start_server_keeping_stderr(cmd);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let secrets: Vec<String> = rt.block_on(async {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let registered: Value = http
            .post(format!("{url}/register"))
            .json(&json!({"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "log test"}))
            .send().await.expect("sent").json().await.expect("json");
        let client_id = registered["client_id"].as_str().expect("id").to_owned();
        let rat = registered["registration_access_token"].as_str().expect("rat").to_owned();
        let secret = registered["client_secret"].as_str().expect("secret").to_owned();
        let mut secrets = vec![rat.clone(), secret.clone()];
        let marker = |n: u32| format!("SeCrEt{n:02}x");
        secrets.extend((1..=20).map(marker));
        // Basic credentials travel base64-encoded: look for that form too.
        secrets.push(base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{}", marker(9))));
        secrets.push(base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}")));

        // RFC 7592 with the token in the query string (refused; RFC 6750 §2.3 is not supported).
        let send = |req: reqwest::RequestBuilder| async move { req.send().await.expect("sent").status().as_u16() };
        assert_eq!(send(http.get(format!("{url}/register/{client_id}?access_token={rat}"))).await, 401);
        send(http.get(format!("{url}/register/{client_id}?access_token=rat_{}", marker(1)))).await;
        send(http.delete(format!("{url}/register/{client_id}?access_token={}", marker(2))).bearer_auth(marker(3))).await;
        send(http.put(format!("{url}/register/{client_id}")).bearer_auth(&rat)
            .json(&json!({"client_id": client_id, "client_secret": marker(4), "redirect_uris": ["http://127.0.0.1:9/cb"]}))).await;
        // The token endpoint, introspection and revocation, credentials in the query and the body.
        for path in ["/token", "/introspect", "/revoke"] {
            send(http.post(format!(
                "{url}{path}?client_secret={}&code={}&refresh_token={}&token={}&client_id={client_id}",
                marker(5), marker(6), marker(7), marker(8)
            ))
            .basic_auth(&client_id, Some(marker(9)))
            .form(&[("grant_type", "authorization_code"), ("code", &marker(10)), ("token", &marker(11)),
                    ("code_verifier", &marker(12)), ("refresh_token", &marker(13))])).await;
            send(http.post(format!("{url}{path}")).basic_auth(&client_id, Some(&secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &marker(14)), ("token", &marker(14))])).await;
        }
        send(http.post(format!("{url}/register?access_token={}&software_statement={}", marker(15), marker(16)))
            .json(&json!({"redirect_uris": ["http://127.0.0.1:9/cb"]}))).await;
        // The pages and the administration API.
        send(http.get(format!(
            "{url}/authorize?response_type=code&client_id={client_id}&redirect_uri=http://127.0.0.1:9/cb&code_challenge={}&code_challenge_method=S256&state={}&code={}",
            marker(17), marker(18), marker(19)
        ))).await;
        send(http.get(format!("{url}/admin/clients?access_token={}", marker(20))).bearer_auth(marker(20))).await;
        secrets
    });
    // Let the last lines reach the file, then stop the server.
    std::thread::sleep(Duration::from_millis(300));
    drop(child);
    let logged = std::fs::read_to_string(&log_path).expect("log read");

    assert!(
        logged.contains("access_token=…"),
        "the requests are logged: {logged}"
    );
    assert!(logged.contains("/register/"), "{logged}");
    // No query value at all on the token endpoint, not even client_id.
    assert!(
        logged.contains("/token?client_secret=…&code=…&refresh_token=…&token=…&client_id=…"),
        "{logged}"
    );
    for secret in &secrets {
        let found: Vec<&str> = logged
            .lines()
            .filter(|l| l.contains(secret.as_str()))
            .collect();
        assert!(found.is_empty(), "{secret} reached the log: {found:#?}");
    }
}

//! The binary itself: start-up line, migrate, configuration errors, graceful shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use authz_storage::test_support::TestDatabase;

pub fn server_command(db_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authz-server"));
    cmd.env_remove("AUTHZ_ENV")
        .env_remove("RUST_LOG")
        .env("AUTHZ__DATABASE__URL", db_url)
        .env("AUTHZ__SERVER__BIND", "127.0.0.1:0")
        .env("AUTHZ__SERVER__WORKERS", "2")
        // PostgreSQL needs a configured key-encryption key; the tests share config/test.toml's.
        .env(
            "AUTHZ__KEYS__KEY_ENCRYPTION_KEY",
            "VY2r5WBpLEIhCtdQHC9L5mUvlfPdSLJKTk09ZCs7tnU",
        )
        .stdin(Stdio::null());
    cmd
}

/// Creates and migrates `db` if it is a SQLite file that does not exist yet: the administration
/// commands work on the server's existing database and refuse a missing file.
pub fn ensure_exists(db: &TestDatabase) {
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        if !std::path::Path::new(path).exists() {
            drop(db.open());
        }
    }
}

/// A server process that is killed when dropped, so a failing test never leaves one behind
/// (holding the test harness's output pipes open).
pub struct ServerProcess(pub Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for ServerProcess {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for ServerProcess {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// Starts `authz-server serve`, returning the process and the base URL read from its start line.
/// Its logs are dropped unless `TEST_LOG` is set (then they go to the test's standard error), so
/// `make test` stays quiet; [`start_server_with_logs`] pipes them to the test.
pub fn start_server(mut cmd: Command) -> (ServerProcess, String) {
    if std::env::var_os("TEST_LOG").is_none() {
        cmd.stderr(Stdio::null());
    }
    spawn_server(cmd)
}

/// As [`start_server`], with the server's standard error (its logs) piped to the test.
pub fn start_server_with_logs(mut cmd: Command) -> (ServerProcess, String) {
    cmd.stderr(Stdio::piped());
    spawn_server(cmd)
}

fn spawn_server(mut cmd: Command) -> (ServerProcess, String) {
    let mut child = ServerProcess(cmd.stdout(Stdio::piped()).spawn().expect("binary starts"));
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("start line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in start line {line:?}"))
        .to_owned();
    (child, url)
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn migrate_applies_then_reports_nothing_to_do_then_reverts() {
    let db = TestDatabase::sqlite();
    let (ok, out, err) = run(server_command(&db.url).arg("migrate"));
    assert!(ok, "{err}");
    let migrations = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/sqlite"
    ))
    .expect("migrations folder")
    .count();
    assert!(
        out.contains(&format!("applied {migrations} migration(s)")),
        "{out}"
    );
    let (ok, out, _) = run(server_command(&db.url).arg("migrate"));
    assert!(ok && out.contains("nothing to do"), "{out}");
    let (ok, out, _) = run(server_command(&db.url).args(["migrate", "--revert-all"]));
    assert!(
        ok && out.contains(&format!("reverted {migrations} migration(s)")),
        "{out}"
    );
}

#[test]
fn serving_without_migrations_when_told_not_to_migrate_fails_clearly() {
    let db = TestDatabase::sqlite();
    let (ok, _, err) =
        run(server_command(&db.url).env("AUTHZ__DATABASE__MIGRATE_ON_START", "false"));
    assert!(!ok);
    assert!(err.contains("authz-server migrate"), "{err}");
}

#[test]
fn bad_configuration_stops_the_server_naming_key_value_and_expectation() {
    let db = TestDatabase::sqlite();
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "AUTHZ__REGISTRATION__SECRET_BYTES",
            "16",
            &["registration.secret_bytes = 16", "32"],
        ),
        (
            "AUTHZ__SERVER__BIND",
            "localhost",
            &["server.bind = \"localhost\"", "host:port"],
        ),
        (
            "AUTHZ__SERVER__PUBLIC_BASE_URL",
            "ftp://x",
            &["server.public_base_url", "http or https"],
        ),
        (
            "AUTHZ__DATABASE__URL",
            "mysql://db/x",
            &["database.url", "sqlite://PATH"],
        ),
        ("AUTHZ__SERVER__NOPE", "1", &["nope"]),
        (
            "AUTHZ__REGISTRATION__ALLOWED_GRANT_TYPES",
            "authorization_code,implicit",
            &["registration.allowed_grant_types[1]", "\"implicit\""],
        ),
    ];
    for (key, value, expected) in cases {
        let (ok, _, err) = run(server_command(&db.url).env(key, value).arg("check-config"));
        assert!(!ok, "{key}={value} must be refused");
        for e in expected {
            assert!(err.contains(e), "{key}={value}: {err:?} lacks {e:?}");
        }
    }
}

#[test]
fn environment_variables_override_files() {
    let db = TestDatabase::sqlite();
    let (ok, out, err) = run(server_command(&db.url)
        .env(
            "AUTHZ__REGISTRATION__ALLOWED_SCOPES",
            "mcp:tools,mcp:resources",
        )
        .env("AUTHZ__LIMITS__MAX_CONTACTS", "3")
        .arg("check-config"));
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).expect("check-config prints JSON");
    assert_eq!(
        shown["registration"]["allowed_scopes"],
        serde_json::json!(["mcp:tools", "mcp:resources"])
    );
    assert_eq!(shown["limits"]["max_contacts"], 3);
}

#[test]
fn check_config_never_prints_database_passwords() {
    let (_, out, err) =
        run(server_command("postgres://authz:hunter2@127.0.0.1:1/authz").arg("check-config"));
    assert!(
        !out.contains("hunter2") && !err.contains("hunter2"),
        "{out}{err}"
    );
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let db = TestDatabase::sqlite();
    let (mut child, url) = start_server(server_command(&db.url));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    // A read just before the signal: its audit record is queued, and must be written on the way out.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client_id = rt.block_on(async {
        let http = reqwest::Client::builder().no_proxy().build().expect("client");
        let body: serde_json::Value = http
            .post(format!("{url}/register"))
            .json(&serde_json::json!({"redirect_uris": ["http://127.0.0.1:9/cb"], "token_endpoint_auth_method": "none"}))
            .send().await.expect("sent").json().await.expect("json");
        let token = body["registration_access_token"].as_str().expect("token").to_owned();
        let id = body["client_id"].as_str().expect("id");
        let read = http.get(format!("{url}/register/{id}")).bearer_auth(token).send().await.expect("sent");
        assert_eq!(read.status().as_u16(), 200);
        body["client_id"].as_str().expect("id").to_owned()
    });
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "clean exit on SIGTERM: {status}");
            break;
        }
        let _ = &client_id;
        assert!(Instant::now() < deadline, "did not stop within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let reopened = authz_storage::Database::connect(&db.options()).expect("reopen");
    let reads: i64 = reopened
        .read(|c| {
            use authz_storage::schema::audit_events as a;
            use diesel::prelude::*;
            a::table
                .filter(a::client_id.eq(&client_id))
                .filter(a::action.eq("client.read"))
                .count()
                .get_result(c)
        })
        .expect("count");
    assert_eq!(reads, 1, "the queued read record was written at shutdown");
}

/// The per-request span keeps tracing-actix-web's fields (route template, request id) whenever
/// INFO is logged, although it skips building them when INFO is filtered out; the request id
/// reaches the response either way.
#[test]
fn request_spans_carry_route_and_request_id_at_info_and_the_id_header_always() {
    let db = TestDatabase::sqlite();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for level in ["info", "warn"] {
        let mut cmd = server_command(&db.url);
        cmd.env("AUTHZ__LOGGING__LEVEL", level)
            .env("AUTHZ__LOGGING__FORMAT", "json")
            .stderr(Stdio::piped());
        let (mut child, url) = start_server_with_logs(cmd);
        let request_id = rt.block_on(async {
            let http = reqwest::Client::builder().no_proxy().build().expect("client");
            let res = http
                .post(format!("{url}/register"))
                .json(&serde_json::json!({"redirect_uris": ["http://127.0.0.1:9/cb"], "token_endpoint_auth_method": "none"}))
                .send()
                .await
                .expect("sent");
            assert_eq!(res.status().as_u16(), 201);
            res.headers()["x-request-id"].to_str().expect("ascii").to_owned()
        });
        assert_eq!(request_id.len(), 36, "a UUID: {request_id}");
        child.kill().expect("kill");
        let mut log = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut log)
            .expect("log");
        let registered = log.lines().find(|l| l.contains("client registered"));
        if level == "info" {
            let line: serde_json::Value =
                serde_json::from_str(registered.expect("logged at info")).expect("JSON log line");
            assert_eq!(line["span"]["http.route"], "/register", "{line}");
            assert_eq!(line["span"]["http.method"], "POST", "{line}");
            assert_eq!(line["span"]["request_id"], request_id.as_str(), "{line}");
        } else {
            assert!(
                registered.is_none(),
                "nothing at INFO reaches a warn log: {log}"
            );
        }
    }
}

/// A credential a client wrongly puts in a query string never reaches the log, whichever endpoint
/// it was sent to and whether the request failed or not.
#[test]
fn query_string_credentials_are_not_logged() {
    let db = TestDatabase::sqlite();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut cmd = server_command(&db.url);
    cmd.env("AUTHZ__LOGGING__LEVEL", "info")
        .env("AUTHZ__LOGGING__FORMAT", "json")
        .stderr(Stdio::piped());
    let (mut child, url) = start_server_with_logs(cmd);
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        for path in [
            "/token?client_secret=LEAKED-SECRET-1&client_id=abc",
            "/register/x?access_token=LEAKED-TOKEN-2",
            "/signin?request=LEAKED-REQUEST-3",
        ] {
            let _ = http
                .post(format!("{url}{path}"))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .expect("sent");
        }
    });
    child.kill().expect("kill");
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut log)
        .expect("log");
    assert!(
        log.contains("client_secret=…"),
        "the parameter name is kept: {log}"
    );
    assert!(
        log.contains("client_id=abc"),
        "harmless values are kept: {log}"
    );
    for secret in ["LEAKED-SECRET-1", "LEAKED-TOKEN-2", "LEAKED-REQUEST-3"] {
        assert!(!log.contains(secret), "{secret} logged: {log}");
    }
}

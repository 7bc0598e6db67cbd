//! The first hour of an operator (issue 9, part 4): the command line names its database and
//! refuses to invent one, configuration errors speak the operator's language, and the shipped
//! configuration is quiet.

use std::path::Path;
use std::process::{Command, Stdio};

use authz_storage::test_support::TestDatabase;
use authz_storage::Backend;

use crate::cli::server_command;
use crate::helpers::config_dir;
use crate::on_both_backends;

/// `authz-server ARGS` run in `dir` with no configuration but the compiled-in defaults (the
/// database is `sqlite://data/authz.sqlite3`, relative to `dir`): (success, stdout, stderr).
fn run_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authz-server"));
    for (name, _) in std::env::vars() {
        if name.starts_with("AUTHZ_") || name == "RUST_LOG" {
            cmd.env_remove(name);
        }
    }
    let out = cmd
        .current_dir(dir)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn admin_commands_from_another_folder_refuse_a_missing_sqlite_file_and_create_nothing() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let expected = dir.path().join("data").join("authz.sqlite3");
    for args in [
        &["admin-token", "list"][..],
        &[
            "admin-token",
            "create",
            "--name",
            "ci",
            "--scope",
            "clients:read",
        ],
        &["user", "list"],
        &["keys", "list"],
        &["keys", "rotate"],
    ] {
        let (ok, out, err) = run_in(dir.path(), args, &[]);
        assert!(!ok, "{args:?} must fail: {out}");
        assert!(out.is_empty(), "{args:?}: nothing on stdout: {out}");
        assert!(
            err.contains(&format!("database: SQLite file {}", expected.display())),
            "{args:?} names the database it looked for: {err}"
        );
        assert!(
            err.contains("does not exist") && err.contains("authz-server migrate"),
            "{args:?} says why and what to do: {err}"
        );
        assert!(
            !dir.path().join("data").exists(),
            "{args:?} created nothing: {:?}",
            std::fs::read_dir(dir.path()).map(|d| d.count())
        );
    }
}

#[test]
fn migrate_creates_the_database_then_admin_commands_use_it() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let expected = dir.path().join("data").join("authz.sqlite3");
    let (ok, _, err) = run_in(dir.path(), &["migrate"], &[]);
    assert!(ok, "{err}");
    assert!(
        err.contains(&format!("database: SQLite file {}", expected.display())),
        "{err}"
    );
    assert!(expected.is_file());
    let (ok, out, err) = run_in(dir.path(), &["admin-token", "list"], &[]);
    assert!(ok, "{err}");
    assert!(out.starts_with("NAME"), "{out}");
    assert!(
        err.contains(&format!("database: SQLite file {}", expected.display())),
        "{err}"
    );
}

/// `url` with `user:password@` in place of `user@` (PostgreSQL under `make test` trusts
/// loopback, so the password is ignored by the server but must never be printed).
/// `url` with a password, and that password as written in the URL. A URL that already has one
/// (the test cluster uses SCRAM, see scripts/with-postgres.sh) keeps it: it is the one that works.
fn with_password(url: &str, password: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    match rest.split_once('@') {
        Some((user, _)) if user.contains(':') => {
            let existing = user.split_once(':').map(|(_, p)| p).unwrap_or_default();
            (url.to_owned(), existing.to_owned())
        }
        Some((user, host)) => (
            format!("{scheme}://{user}:{password}@{host}"),
            password.to_owned(),
        ),
        None => (
            format!("{scheme}://postgres:{password}@{rest}"),
            password.to_owned(),
        ),
    }
}

/// Whether `text` shows `password` (as written in the URL, or percent-decoded).
fn shows_password(text: &str, password: &str) -> bool {
    if password.is_empty() {
        return false;
    }
    let decoded = percent_encoding::percent_decode_str(password).decode_utf8_lossy();
    text.contains(password) || text.contains(decoded.as_ref())
}

on_both_backends! {
    async fn the_server_started_on_the_production_configuration_does_not_warn_about_its_pool(backend: Backend) {
        let db = TestDatabase::new(backend);
        let mut cmd = server_command(&db.url);
        cmd.env("AUTHZ_ENV", "production")
            .env_remove("AUTHZ__SERVER__WORKERS")
            .current_dir(config_dir().join(".."))
            .stderr(Stdio::piped());
        let (mut server, _) = crate::cli::start_server_with_logs(cmd);
        let stderr = server.0.stderr.take().expect("stderr");
        // Every line up to the `listening` one (the start-up warnings come before it).
        let mut logs = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let line = line.expect("a log line");
            logs.push_str(&line);
            logs.push('\n');
            if line.contains("\"message\":\"listening\"") {
                break;
            }
        }
        let _ = server.0.kill();
        let _ = server.0.wait();
        assert!(logs.contains("\"message\":\"listening\""), "{logs}");
        assert!(!logs.contains("\"level\":\"WARN\""), "{logs}");
    }

    async fn refused_requests_are_logged_with_their_description_not_debug_text(backend: Backend) {
        let db = TestDatabase::new(backend);
        let mut cmd = server_command(&db.url);
        // At info, so the request spans (and their fields) are recorded too.
        cmd.env("AUTHZ__LOGGING__LEVEL", "info").stderr(Stdio::piped());
        let (mut server, base) = crate::cli::start_server_with_logs(cmd);
        let http = reqwest::Client::builder().no_proxy().build().expect("client");
        let res = http
            .get(format!("{base}/admin/clients"))
            .bearer_auth("adm_not-a-real-token")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 401);
        let res = http
            .post(format!("{base}/register"))
            .header("Content-Type", "application/json")
            .body(r#"{"redirect_uris":["ftp://x"]}"#)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 400);
        let described: serde_json::Value = res.json().await.expect("JSON error");
        let mut stderr = server.0.stderr.take().expect("stderr");
        let _ = server.0.kill();
        let _ = server.0.wait();
        let mut logs = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut logs).expect("logs");
        let warnings: Vec<serde_json::Value> = logs
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|r| r["level"] == "WARN")
            .collect();
        assert_eq!(warnings.len(), 2, "{logs}");
        assert_eq!(warnings[0]["fields"]["status"], 401, "{logs}");
        assert_eq!(
            warnings[0]["fields"]["error"],
            "the administrator token is invalid, expired or revoked",
            "{logs}"
        );
        assert_eq!(warnings[1]["fields"]["status"], 400, "{logs}");
        assert_eq!(warnings[1]["fields"]["error"], described["error_description"], "{logs}");
        for internal in ["Registration(", "InvalidToken(", "InvalidRedirectUri", "exception.details", "Error encountered"] {
            assert!(!logs.contains(internal), "{internal:?} in {logs}");
        }
    }

    async fn admin_commands_name_the_database_they_use_without_its_password(backend: Backend) {
        let db = TestDatabase::new(backend);
        drop(db.open()); // the server's database, migrated
        let (url, password) = match backend {
            Backend::Sqlite => (db.url.clone(), String::new()),
            Backend::Postgres => with_password(&db.url, "s3cr%40t-pw"),
        };
        let out = server_command(&url)
            .arg("--config-dir")
            .arg(config_dir())
            .args(["admin-token", "list"])
            .output()
            .expect("binary runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        let named = match backend {
            Backend::Sqlite => format!("database: SQLite file {}", db.url.trim_start_matches("sqlite://")),
            Backend::Postgres => format!("database: {}", authz_storage::redact_url(&url)),
        };
        assert!(err.contains(&named), "{named} in {err}");
        assert!(!shows_password(&err, &password), "no password: {err}");
    }

    async fn admin_commands_refuse_a_database_that_does_not_exist(backend: Backend) {
        // A SQLite file that was never created; a PostgreSQL database that was dropped.
        let db = TestDatabase::new(backend);
        let mut _folder = None;
        let (url, password) = match backend {
            Backend::Sqlite => {
                let url = db.url.clone();
                _folder = Some(db);
                (url, String::new())
            }
            Backend::Postgres => {
                let url = with_password(&db.url, "s3cr%40t-pw");
                drop(db);
                url
            }
        };
        let out = server_command(&url)
            .arg("--config-dir")
            .arg(config_dir())
            .args(["user", "list"])
            .output()
            .expect("binary runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(out.stdout.is_empty());
        assert!(err.contains("does not exist"), "{err}");
        assert!(!shows_password(&err, &password), "no password: {err}");
        if backend == Backend::Sqlite {
            let path = url.trim_start_matches("sqlite://");
            assert!(!Path::new(path).exists(), "nothing created at {path}");
        }
    }
}

/// `authz-server check-config` with `envs` on the test database settings: (success, stderr).
fn check_config(envs: &[(&str, &str)], config: Option<&Path>) -> (bool, String) {
    let db = TestDatabase::sqlite();
    let mut cmd = server_command(&db.url);
    if let Some(dir) = config {
        cmd.arg("--config-dir").arg(dir);
    }
    let out = cmd
        .envs(envs.iter().copied())
        .arg("check-config")
        .output()
        .expect("binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What no configuration message may show: Rust types, serde's phrasing, enum names.
const INTERNALS: &[&str] = &[
    "enum ",
    "variant",
    "LogFormat",
    "SqliteSynchronousSetting",
    "invalid type",
    "bit integer",
    "`",
    "for key",
];

#[test]
fn configuration_errors_name_the_key_the_value_and_the_accepted_values() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "AUTHZ__LOGGING__FORMAT",
            "xml",
            &[
                "logging.format = \"xml\"",
                "AUTHZ__LOGGING__FORMAT",
                "accepted values: json, pretty",
            ],
        ),
        (
            "AUTHZ__DATABASE__SQLITE_SYNCHRONOUS",
            "fast",
            &[
                "database.sqlite_synchronous = \"fast\"",
                "accepted values: normal, full",
            ],
        ),
        (
            "AUTHZ__DATABASE__POOL_SIZE",
            "abc",
            &[
                "database.pool_size = \"abc\"",
                "AUTHZ__DATABASE__POOL_SIZE",
                "a whole number",
            ],
        ),
        (
            "AUTHZ__DATABASE__POOL_SIZE",
            "5000000000",
            &["database.pool_size = 5000000000", "from 0 to 4294967295"],
        ),
        (
            "AUTHZ__DATABASE__POOL_SIZE",
            "-1",
            &["database.pool_size = -1", "0 or more"],
        ),
        (
            "AUTHZ__REGISTRATION__ENABLED",
            "maybe",
            &["registration.enabled = \"maybe\"", "true or false"],
        ),
        (
            "AUTHZ__SERVER__BINDX",
            "1",
            &[
                "unknown key server.bindx",
                "AUTHZ__SERVER__BINDX",
                "bind, public_base_url",
            ],
        ),
        (
            // The issuer is published everywhere: credentials in it would be too.
            "AUTHZ__SERVER__PUBLIC_BASE_URL",
            "http://user:pw@127.0.0.1:8080/",
            &["server.public_base_url", "no user information"],
        ),
        (
            "AUTHZ__SERVERS__BIND",
            "1",
            &[
                "unknown section servers",
                "AUTHZ__SERVERS__BIND",
                "server, database",
            ],
        ),
    ];
    for (name, value, expected) in cases {
        let (ok, err) = check_config(&[(name, value)], None);
        assert!(!ok, "{name}={value} must be refused");
        for e in *expected {
            assert!(err.contains(e), "{name}={value}: {err:?} lacks {e:?}");
        }
        for internal in INTERNALS {
            assert!(
                !err.contains(internal),
                "{name}={value}: {err:?} shows {internal:?}"
            );
        }
    }
}

#[test]
fn configuration_errors_in_a_file_name_the_file() {
    let dir = tempfile::tempdir().expect("temporary folder");
    for (toml, expected) in [
        (
            "[server]\nshutdown_timeout_secs = \"many\"\n",
            &[
                "server.shutdown_timeout_secs = \"many\"",
                "default.toml",
                "a whole number",
            ][..],
        ),
        (
            "[logging]\nformat = \"yaml\"\n",
            &["logging.format = \"yaml\"", "json, pretty"],
        ),
        (
            "[database]\nsqlite_synchronous = 3\n",
            &["database.sqlite_synchronous", "normal, full"],
        ),
    ] {
        std::fs::write(dir.path().join("default.toml"), toml).expect("write");
        let (ok, err) = check_config(&[], Some(dir.path()));
        assert!(!ok, "{toml} must be refused");
        for e in expected {
            assert!(err.contains(e), "{toml}: {err:?} lacks {e:?}");
        }
        for internal in INTERNALS {
            assert!(
                !err.contains(internal),
                "{toml}: {err:?} shows {internal:?}"
            );
        }
    }
}

#[test]
fn single_underscore_variables_are_warned_about() {
    let (ok, err) = check_config(
        &[
            ("AUTHZ_SERVER_BIND", "0.0.0.0:9"),
            ("AUTHZ_LOGGING_NOPE", "x"),
        ],
        None,
    );
    assert!(ok, "a warning, not an error: {err}");
    assert!(
        err.contains("warning: AUTHZ_SERVER_BIND is ignored")
            && err.contains("did you mean AUTHZ__SERVER__BIND?"),
        "{err}"
    );
    assert!(
        err.contains("warning: AUTHZ_LOGGING_NOPE is ignored"),
        "{err}"
    );
}

#[test]
fn the_server_logs_the_single_underscore_warning() {
    let db = TestDatabase::sqlite();
    let mut cmd = server_command(&db.url);
    cmd.env("AUTHZ_SERVER_BIND", "0.0.0.0:9")
        .env("AUTHZ__LOGGING__LEVEL", "warn")
        .stderr(Stdio::piped());
    let (mut server, _) = crate::cli::start_server_with_logs(cmd);
    let mut stderr = server.0.stderr.take().expect("stderr");
    let _ = server.0.kill();
    let _ = server.0.wait();
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut logs).expect("logs");
    let line = logs
        .lines()
        .find(|l| l.contains("AUTHZ_SERVER_BIND"))
        .unwrap_or_else(|| panic!("no warning in {logs}"));
    let record: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(record["level"], "WARN", "{line}");
    assert!(line.contains("AUTHZ__SERVER__BIND"), "{line}");
}

#[test]
fn the_shipped_production_configuration_has_a_pool_large_enough_for_its_workers() {
    use authz_server::settings::{Settings, Sources};
    for environment in ["production", "development", "test"] {
        let settings = Settings::load(&Sources {
            config_dir: Some(config_dir()),
            environment: Some(environment.into()),
            use_env_vars: false,
            overrides: Vec::new(),
        })
        .expect("the shipped configuration loads");
        if environment == "production" {
            assert_ne!(
                settings.server.workers, 0,
                "a fixed worker count, whatever the machine"
            );
        }
        if settings.server.workers != 0 {
            assert!(
                settings.database.pool_size as usize >= settings.connections_wanted(),
                "{environment}.toml: pool_size {} < {} connections wanted: the server would warn",
                settings.database.pool_size,
                settings.connections_wanted()
            );
        }
    }
}

#[test]
fn every_list_variable_takes_comma_separated_items_with_or_without_spaces_and_empty_is_empty() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "AUTHZ__REGISTRATION__ALLOWED_SCOPES",
            "registration",
            "allowed_scopes",
            &["mcp:tools", "mcp:resources"],
        ),
        (
            "AUTHZ__REGISTRATION__ALLOWED_GRANT_TYPES",
            "registration",
            "allowed_grant_types",
            &["authorization_code", "refresh_token"],
        ),
        (
            "AUTHZ__REGISTRATION__ALLOWED_AUTH_METHODS",
            "registration",
            "allowed_auth_methods",
            &["none", "client_secret_basic"],
        ),
        (
            "AUTHZ__ADMIN__ALLOWED_GRANT_TYPES",
            "admin",
            "allowed_grant_types",
            &["client_credentials", "refresh_token"],
        ),
        (
            "AUTHZ__AUTHORIZATION__RESOURCES",
            "authorization",
            "resources",
            &["https://a.example/mcp", "https://b.example/mcp"],
        ),
    ];
    let db = TestDatabase::sqlite();
    for (name, section, key, items) in cases {
        for value in [items.join(","), items.join(", ")] {
            let out = server_command(&db.url)
                .env(name, &value)
                .arg("check-config")
                .output()
                .expect("binary runs");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{name}={value:?}: {err}");
            let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
            assert_eq!(
                shown[section][key],
                serde_json::json!(items),
                "{name}={value:?}"
            );
        }
        if *key == "allowed_scopes" || *key == "resources" {
            // Lists that may be empty: an empty variable is the empty list.
            let out = server_command(&db.url)
                .env(name, "")
                .arg("check-config")
                .output()
                .expect("binary runs");
            assert!(
                out.status.success(),
                "{name}=\"\": {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
            assert_eq!(shown[section][key], serde_json::json!([]), "{name}=\"\"");
        }
    }
}

#[test]
fn authz_env_without_a_config_folder_is_an_error_naming_the_way_out() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let (ok, _, err) = run_in(
        dir.path(),
        &["check-config"],
        &[("AUTHZ_ENV", "production")],
    );
    assert!(!ok);
    assert!(
        err.contains("AUTHZ_ENV=production") && err.contains("--config-dir"),
        "{err}"
    );
}

#[test]
fn a_postgres_password_that_is_not_percent_encoded_is_refused_without_being_shown() {
    for url in [
        "postgres://authz:c0rrect:horse/b@ttery#staple@127.0.0.1:5432/authz",
        "postgresql://authz:pa ss@127.0.0.1/authz",
        "postgres://authz:100%sure@127.0.0.1/authz",
    ] {
        let (ok, err) = check_config(&[("AUTHZ__DATABASE__URL", url)], None);
        assert!(!ok, "{url} must be refused");
        assert!(
            err.contains("database.url") && err.contains("percent-encoded"),
            "{err}"
        );
        for secret in ["c0rrect", "horse", "ttery", "staple", "pa ss", "sure"] {
            assert!(!err.contains(secret), "{secret:?} shown: {err}");
        }
    }
    let (ok, err) = check_config(
        &[(
            "AUTHZ__DATABASE__URL",
            "postgres://authz:c0rrect%3Ahorse%2Fb%40ttery%23staple@127.0.0.1:5432/authz",
        )],
        None,
    );
    assert!(ok, "the encoded password is accepted: {err}");
}

/// PostgreSQL 15 and later: a role that does not own the database cannot create tables in its
/// `public` schema until granted; the error says which grant is missing, and with it the
/// migrations run.
#[test]
fn migrate_on_postgres_without_the_public_schema_grant_names_the_grant() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let db = TestDatabase::postgres(); // owned by the administrator of TEST_DATABASE_URL
    let role = format!(
        "authz_role_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos()
    );
    let mut admin = diesel::PgConnection::establish(&db.url).expect("connect");
    admin
        .batch_execute(&format!("CREATE ROLE {role} LOGIN PASSWORD 'p@ss#1'"))
        .expect("create role");
    let (_, host) = db
        .url
        .split_once('@')
        .expect("user@host in TEST_DATABASE_URL");
    let url = format!("postgres://{role}:p%40ss%231@{host}");
    let migrate = || {
        server_command(&url)
            .arg("--config-dir")
            .arg(config_dir())
            .arg("migrate")
            .output()
            .expect("binary runs")
    };
    let out = migrate();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let refused = !out.status.success();
    let granted = admin.batch_execute(&format!("GRANT USAGE, CREATE ON SCHEMA public TO {role}"));
    let out_after = migrate();
    drop(admin);
    drop(db);
    if let Ok(mut admin) = diesel::PgConnection::establish(
        &std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL"),
    ) {
        let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
    }
    assert!(refused, "{err}");
    assert!(err.contains("permission denied for schema public"), "{err}");
    assert!(
        err.contains("GRANT USAGE, CREATE ON SCHEMA public TO"),
        "{err}"
    );
    assert!(!err.contains("p@ss") && !err.contains("p%40ss"), "{err}");
    granted.expect("grant");
    assert!(
        out_after.status.success(),
        "{}",
        String::from_utf8_lossy(&out_after.stderr)
    );
}

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
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or(user);
            format!("{scheme}://{user}:{password}@{host}")
        }
        None => format!("{scheme}://postgres:{password}@{rest}"),
    }
}

on_both_backends! {
    async fn admin_commands_name_the_database_they_use_without_its_password(backend: Backend) {
        let db = TestDatabase::new(backend);
        drop(db.open()); // the server's database, migrated
        let url = match backend {
            Backend::Sqlite => db.url.clone(),
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
        assert!(!err.contains("s3cr"), "no password: {err}");
    }

    async fn admin_commands_refuse_a_database_that_does_not_exist(backend: Backend) {
        // A SQLite file that was never created; a PostgreSQL database that was dropped.
        let db = TestDatabase::new(backend);
        let mut _folder = None;
        let url = match backend {
            Backend::Sqlite => {
                let url = db.url.clone();
                _folder = Some(db);
                url
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
        assert!(!err.contains("s3cr"), "no password: {err}");
        if backend == Backend::Sqlite {
            let path = url.trim_start_matches("sqlite://");
            assert!(!Path::new(path).exists(), "nothing created at {path}");
        }
    }
}

//! `authz-server user create | list | disable | enable | set-password`, run as processes with the
//! password on standard input, on both backends; what they did is checked through the domain
//! (sign-in, sessions) and in the database (hashes, audit rows).

use std::io::Write;
use std::process::Stdio;

use authz_server::startup::Services;
use authz_storage::schema::{audit_events, users};
use authz_storage::test_support::TestDatabase;
use authz_storage::Database;
use diesel::prelude::*;
use secrecy::SecretString;

use crate::cli::server_command;
use crate::helpers::{config_dir, test_settings};
use crate::on_both_backends;

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "Tr0ub4dor & 3, but longer";

/// Runs `authz-server user ARGS` with `stdin` on standard input: (success, stdout, stderr).
fn user(db: &TestDatabase, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    crate::cli::ensure_exists(db);
    let mut child = server_command(&db.url)
        .arg("--config-dir")
        .arg(config_dir())
        .arg("user")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).expect("password written");
    }
    let out = child.wait_with_output().expect("binary ends");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    for secret in [PASSWORD, NEW_PASSWORD, "$argon2"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{args:?} printed a password or hash: {stdout} {stderr}"
        );
    }
    (out.status.success(), stdout, stderr)
}

/// `user list` as (header, rows).
fn list(db: &TestDatabase) -> (String, Vec<String>) {
    let (ok, out, err) = user(db, &["list"], None);
    assert!(ok, "{err}");
    let mut lines = out.lines().map(str::to_owned);
    let header = lines.next().expect("header");
    (header, lines.collect())
}

/// The services of a server on the database (to sign in and look at sessions).
fn services(db: &TestDatabase) -> (Services, Database) {
    let settings = test_settings(&db.url, "http://127.0.0.1:1", &[]);
    let database = Database::connect(&db.options()).expect("open");
    let services = Services::build(&settings, &database).expect("services");
    (services, database)
}

fn signs_in(services: &Services, username: &str, password: &str) -> bool {
    services
        .users
        .authenticate(username, &SecretString::from(password.to_owned()))
        .is_ok()
}

on_both_backends! {
    async fn users_created_with_the_password_on_stdin_are_listed_and_sign_in(backend: Backend) {
        let db = TestDatabase::new(backend);
        let (ok, out, err) = user(
            &db,
            &["create", "--username", "Alice", "--display-name", "Alice Liddell"],
            Some(&format!("{PASSWORD}\n")),
        );
        assert!(ok, "{err}");
        let id = out.strip_suffix('\n').expect("one line").to_owned();
        assert_eq!(id.len(), 22, "the id alone on stdout: {out:?}");
        assert!(err.contains("\"Alice\"") && err.contains(&id), "{err}");
        // A Windows line ending is not part of the password either.
        let (ok, _, err) = user(&db, &["create", "--username", "bob"], Some(&format!("{PASSWORD}\r\n")));
        assert!(ok, "{err}");

        let (header, rows) = list(&db);
        for column in ["ID", "USERNAME", "DISPLAY NAME", "STATE", "CREATED"] {
            assert!(header.contains(column), "{header}");
        }
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows[0].starts_with(&id), "{rows:?}");
        assert!(
            rows[0].contains(" Alice ") && rows[0].contains("Alice Liddell") && rows[0].contains("active"),
            "{}",
            rows[0]
        );
        assert!(rows[1].contains(" bob ") && rows[1].contains(" - "), "{}", rows[1]);

        let (services, database) = services(&db);
        assert!(signs_in(&services, "alice", PASSWORD), "case-insensitive sign-in");
        assert!(signs_in(&services, "bob", PASSWORD), "no \\r in the password");
        assert!(!signs_in(&services, "alice", &format!("{PASSWORD}\n")));

        // Stored as an Argon2id hash, audited as the command line without it.
        let hashes: Vec<String> = database
            .read(|c| users::table.select(users::password_hash).load(c))
            .expect("rows");
        assert!(hashes.iter().all(|h| h.starts_with("$argon2id$") && !h.contains(PASSWORD)));
        let events: Vec<(String, String, Option<String>)> = database
            .read(|c| {
                audit_events::table
                    .filter(audit_events::action.like("user.%"))
                    .order(audit_events::id)
                    .select((audit_events::action, audit_events::actor, audit_events::detail))
                    .load(c)
            })
            .expect("audit rows");
        assert_eq!(events.len(), 2, "{events:?}");
        for (action, actor, detail) in &events {
            assert_eq!((action.as_str(), actor.as_str()), ("user.created", "cli"));
            let detail = detail.as_deref().unwrap_or_default();
            assert!(!detail.contains(PASSWORD) && !detail.contains("argon2"), "{detail}");
        }
        services.audit.flush();
    }

    async fn duplicate_usernames_after_case_folding_and_bad_input_are_refused_by_name(backend: Backend) {
        let db = TestDatabase::new(backend);
        let line = format!("{PASSWORD}\n");
        let (ok, _, err) = user(&db, &["create", "--username", "Alice"], Some(&line));
        assert!(ok, "{err}");
        for taken in ["alice", "ALICE", "  Alice "] {
            let (ok, out, err) = user(&db, &["create", "--username", taken], Some(&line));
            assert!(!ok && out.is_empty(), "{taken}: {out}");
            assert!(
                err.contains("is taken") && err.contains("\"Alice\""),
                "{taken}: names the account that has it: {err}"
            );
        }
        let cases: [(&[&str], Option<&str>, &[&str]); 6] = [
            (&["create", "--username", "carol"], Some("short\n"), &["password", "at least 8"]),
            (&["create", "--username", "carol"], Some("\n"), &["password: empty"]),
            (&["create", "--username", "carol"], None, &["password: empty"]),
            (&["create", "--username", "   "], Some(&line), &["--username", "empty"]),
            (&["create", "--username", "ca\u{200B}rol"], Some(&line), &["--username", "U+200B"]),
            (
                &["create", "--username", "carol", "--display-name", &"x".repeat(129)],
                Some(&line),
                &["--display-name", "128"],
            ),
        ];
        for (args, stdin, expected) in cases {
            let (ok, out, err) = user(&db, args, stdin);
            assert!(!ok && out.is_empty(), "{args:?} must be refused: {out}");
            for e in expected {
                assert!(err.contains(e), "{args:?}: {err:?} lacks {e:?}");
            }
        }
        for args in [&["disable", "nobody"][..], &["enable", "nobody"], &["set-password", "nobody"]] {
            let (ok, _, err) = user(&db, args, Some(&line));
            assert!(!ok && err.contains("no user is named \"nobody\""), "{args:?}: {err}");
        }
        assert_eq!(list(&db).1.len(), 1, "nothing else was created");
    }

    async fn set_password_and_disable_end_the_sessions(backend: Backend) {
        let db = TestDatabase::new(backend);
        let (ok, _, err) = user(&db, &["create", "--username", "Alice"], Some(&format!("{PASSWORD}\n")));
        assert!(ok, "{err}");
        let (services, _database) = services(&db);
        let sign_in = |password: &str| {
            services
                .users
                .sign_in("alice", &SecretString::from(password.to_owned()), None, &Default::default())
                .expect("signed in")
                .session_id
        };
        let live = |id| services.users.current_session(id).expect("read").is_some();

        let session = sign_in(PASSWORD);
        assert!(live(&session));
        let (ok, out, err) = user(&db, &["set-password", "ALICE"], Some(&format!("{NEW_PASSWORD}\n")));
        assert!(ok, "{err}");
        assert!(out.contains("\"Alice\"") && out.contains("session"), "{out}");
        assert!(!live(&session), "setting the password ended the session");
        assert!(!signs_in(&services, "alice", PASSWORD));
        assert!(signs_in(&services, "alice", NEW_PASSWORD));
        let (ok, _, err) = user(&db, &["set-password", "alice"], Some("short\n"));
        assert!(!ok && err.contains("at least 8"), "{err}");
        assert!(signs_in(&services, "alice", NEW_PASSWORD), "unchanged by the refusal");

        let session = sign_in(NEW_PASSWORD);
        let (ok, out, err) = user(&db, &["disable", "alice"], None);
        assert!(ok, "{err}");
        assert!(out.contains("disabled user \"Alice\""), "{out}");
        assert!(!live(&session), "disabling ended the session");
        assert!(!signs_in(&services, "alice", NEW_PASSWORD));
        assert!(list(&db).1[0].contains("disabled"));

        let (ok, out, err) = user(&db, &["enable", "alice"], None);
        assert!(ok, "{err}");
        assert!(out.contains("enabled user \"Alice\""), "{out}");
        assert!(signs_in(&services, "alice", NEW_PASSWORD));
        assert!(list(&db).1[0].contains("active"));
        services.audit.flush();
    }
}

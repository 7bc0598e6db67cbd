//! `authz-server admin-token create | list | revoke`, run as a process against a temporary SQLite
//! database, and the tokens it makes used against a server process on the same database.

use std::path::PathBuf;
use std::time::Duration;

use authz_domain::credentials::TokenDigest;
use authz_storage::schema::{admin_tokens, audit_events};
use authz_storage::test_support::TestDatabase;
use authz_storage::Database;
use diesel::prelude::*;

use crate::cli::{server_command, start_server};
use crate::helpers::config_dir;

/// Runs `authz-server admin-token ARGS`: (success, stdout, stderr).
fn admin_token(db: &TestDatabase, args: &[&str]) -> (bool, String, String) {
    crate::cli::ensure_exists(db);
    let out = server_command(&db.url)
        .arg("--config-dir")
        .arg(config_dir())
        .arg("admin-token")
        .args(args)
        .output()
        .expect("binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Creates a token, asserting that stdout carries only the token.
fn create(db: &TestDatabase, args: &[&str]) -> (String, String) {
    let mut all = vec!["create"];
    all.extend_from_slice(args);
    let (ok, out, err) = admin_token(db, &all);
    assert!(ok, "{args:?}: {err}");
    let token = out
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("one line: {out:?}"))
        .to_owned();
    assert!(token.starts_with("adm_"), "{out:?}");
    assert!(
        !token.contains(char::is_whitespace) && token.len() >= 40,
        "the token alone: {out:?}"
    );
    assert!(!err.contains(&token), "the token only on stdout: {err}");
    (token, err)
}

/// The row of `name` in `admin-token list`.
fn list_row(db: &TestDatabase, name: &str) -> String {
    let (ok, out, err) = admin_token(db, &["list"]);
    assert!(ok, "{err}");
    let header = out.lines().next().expect("header");
    for column in ["NAME", "CREATED", "EXPIRES", "STATE", "SCOPES"] {
        assert!(header.contains(column), "{header}");
    }
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("{name} listed: {out}"))
        .to_owned()
}

fn sqlite_path(db: &TestDatabase) -> PathBuf {
    PathBuf::from(db.url.strip_prefix("sqlite://").expect("a SQLite URL"))
}

/// HTTP against a server process, from a synchronous test.
struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
}

impl Http {
    fn new(base: String) -> Self {
        Self {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            base,
        }
    }

    /// (status, WWW-Authenticate) of a request with `token`.
    fn status(&self, method: reqwest::Method, path: &str, token: &str) -> (u16, String) {
        self.rt.block_on(async {
            let mut req = self
                .client
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(token);
            if method == reqwest::Method::POST {
                req = req.json(&serde_json::json!({}));
            }
            let res = req.send().await.expect("sent");
            let challenge = res
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().expect("ascii").to_owned())
                .unwrap_or_default();
            (res.status().as_u16(), challenge)
        })
    }
}

type TokenRow = (String, Vec<u8>, String, i64, Option<i64>, Option<i64>);

fn token_rows(db: &Database) -> Vec<TokenRow> {
    db.read(|c| {
        admin_tokens::table
            .select((
                admin_tokens::name,
                admin_tokens::token_digest,
                admin_tokens::scopes,
                admin_tokens::created_at,
                admin_tokens::expires_at,
                admin_tokens::revoked_at,
            ))
            .order(admin_tokens::name)
            .load(c)
    })
    .expect("admin_tokens rows")
}

#[test]
fn a_token_made_on_the_command_line_works_until_revoked_and_only_its_digest_is_stored() {
    let db = TestDatabase::sqlite();
    let (token, note) = create(
        &db,
        &[
            "--name",
            "ops",
            "--scope",
            "client:read client:update",
            "--expires-in",
            "30d",
        ],
    );
    assert!(
        note.contains("\"ops\"") && note.contains("client:read client:update"),
        "{note}"
    );
    assert!(note.contains("expiring"), "{note}");
    let (forever, note) = create(&db, &["--name", "forever", "--scope", "audit:read"]);
    assert!(note.contains("never expiring"), "{note}");
    assert_ne!(forever, token);

    // Listed, never shown.
    let row = list_row(&db, "ops");
    assert!(
        row.contains("active") && row.ends_with("client:read client:update"),
        "{row}"
    );
    let row = list_row(&db, "forever");
    assert!(
        row.contains("never") && row.contains("active") && row.ends_with("audit:read"),
        "{row}"
    );
    let (_, listing, _) = admin_token(&db, &["list"]);
    assert!(
        !listing.contains(&token) && !listing.contains(&forever),
        "{listing}"
    );

    // The raw files hold neither token. (Read before this process opens the database: closing
    // another descriptor of an open SQLite file drops the process's POSIX locks on it.)
    let path = sqlite_path(&db);
    for file in [
        path.clone(),
        PathBuf::from(format!("{}-wal", path.display())),
    ] {
        if let Ok(bytes) = std::fs::read(&file) {
            for secret in [&token[4..], &forever[4..]] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "a token in {}",
                    file.display()
                );
            }
        }
    }

    // The database holds the SHA-256 digest, never the token.
    let database = Database::connect(&db.options()).expect("open");
    let rows = token_rows(&database);
    assert_eq!(rows.len(), 2);
    let (name, digest, scopes, created, expires, revoked) = &rows[1];
    assert_eq!(name, "ops");
    assert_eq!(
        digest.as_slice(),
        TokenDigest::of(&token).as_bytes().as_slice()
    );
    assert_eq!(scopes, "client:read client:update");
    assert_eq!(*expires, Some(created + 30 * 86_400));
    assert_eq!(*revoked, None);
    assert_eq!(rows[0].4, None, "no --expires-in: never expires");
    let random = token.strip_prefix("adm_").expect("prefix");
    for row in &rows {
        let text = format!("{row:?}");
        assert!(!text.contains(random) && !text.contains(&forever["adm_".len()..]));
        assert!(!row.1.windows(random.len()).any(|w| w == random.as_bytes()));
    }
    // It works against a server on the same database, within its scopes.
    let (_server, url) = start_server(server_command(&db.url));
    let http = Http::new(url);
    assert_eq!(
        http.status(reqwest::Method::GET, "/admin/clients", &token)
            .0,
        200
    );
    assert_eq!(
        http.status(reqwest::Method::GET, "/admin/clients/nobody", &token)
            .0,
        404
    );
    let (status, challenge) = http.status(reqwest::Method::POST, "/admin/clients", &token);
    assert_eq!(status, 403);
    assert!(challenge.contains("scope=\"client:create\""), "{challenge}");
    assert_eq!(
        http.status(reqwest::Method::GET, "/admin/audit-events", &forever)
            .0,
        200
    );

    // Names are unique, even after revocation.
    let (ok, out, err) = admin_token(&db, &["create", "--name", "ops", "--scope", "client:read"]);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.contains("\"ops\""), "{err}");

    // Revoked: refused at once, listed as such.
    let (ok, out, err) = admin_token(&db, &["revoke", "ops"]);
    assert!(ok, "{err}");
    assert!(out.contains("ops"), "{out}");
    let (status, challenge) = http.status(reqwest::Method::GET, "/admin/clients", &token);
    assert_eq!(status, 401);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(list_row(&db, "ops").contains("revoked"));
    assert!(list_row(&db, "forever").contains("active"));
    let (ok, out, err) = admin_token(&db, &["create", "--name", "ops", "--scope", "client:read"]);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.contains("\"ops\""), "{err}");
    let (ok, _, err) = admin_token(&db, &["revoke", "ghost"]);
    assert!(!ok && err.contains("ghost"), "{err}");

    // Creation and revocation are audited as the command line, without the token.
    let events: Vec<(String, String, Option<String>)> = database
        .read(|c| {
            audit_events::table
                .filter(audit_events::action.like("admin_token.%"))
                .order(audit_events::id)
                .select((
                    audit_events::action,
                    audit_events::actor,
                    audit_events::detail,
                ))
                .load(c)
        })
        .expect("audit rows");
    let actions: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "admin_token.created",
            "admin_token.created",
            "admin_token.revoked"
        ]
    );
    for e in &events {
        assert_eq!(e.1, "cli");
        let text = format!("{e:?}");
        assert!(!text.contains(random) && !text.contains(&forever["adm_".len()..]));
    }
}

#[test]
fn a_token_stops_working_when_it_expires() {
    let db = TestDatabase::sqlite();
    let (token, _) = create(
        &db,
        &[
            "--name",
            "brief",
            "--scope",
            "client:read",
            "--expires-in",
            "3s",
        ],
    );
    let expires_at = token_rows(&Database::connect(&db.options()).expect("open"))[0]
        .4
        .expect("an expiry");
    let (_server, url) = start_server(server_command(&db.url));
    let http = Http::new(url);
    assert_eq!(
        http.status(reqwest::Method::GET, "/admin/clients", &token)
            .0,
        200
    );
    // Expired once the clock passes expires_at (whole seconds).
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        <= u64::try_from(expires_at).expect("positive")
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, challenge) = http.status(reqwest::Method::GET, "/admin/clients", &token);
    assert_eq!(status, 401);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(list_row(&db, "brief").contains("expired"));
}

#[test]
fn bad_arguments_are_refused_naming_what_is_accepted_and_nothing_is_created() {
    let db = TestDatabase::sqlite();
    let cases: [(&[&str], &[&str]); 9] = [
        (
            &["--name", "ops", "--scope", "client:write"],
            &[
                "client:write",
                "client:read, client:create, client:update, client:delete, audit:read, client:admin",
            ],
        ),
        (
            &["--name", "ops", "--scope", "client:read admin"],
            &["\"admin\"", "client:admin"],
        ),
        (&["--name", "ops", "--scope", ""], &["client:read"]),
        (
            &[
                "--name",
                "ops",
                "--scope",
                "client:read",
                "--expires-in",
                "soon",
            ],
            &["--expires-in", "soon"],
        ),
        (
            &[
                "--name",
                "ops",
                "--scope",
                "client:read",
                "--expires-in",
                "0",
            ],
            &["--expires-in"],
        ),
        (
            &[
                "--name",
                "ops",
                "--scope",
                "client:read",
                "--expires-in",
                "30x",
            ],
            &["--expires-in", "30x"],
        ),
        (
            &[
                "--name",
                "ops",
                "--scope",
                "client:read",
                "--expires-in",
                "99999999999999999999d",
            ],
            &["--expires-in"],
        ),
        (
            &["--name", "a b", "--scope", "client:read"],
            &["\"a b\"", "A-Z a-z 0-9"],
        ),
        (
            &["--name", "", "--scope", "client:read"],
            &["name", "A-Z a-z 0-9"],
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        let (ok, out, err) = admin_token(&db, &all);
        assert!(!ok, "{args:?} must be refused");
        assert!(out.is_empty(), "{args:?}: nothing on stdout: {out}");
        for e in expected {
            assert!(err.contains(e), "{args:?}: {err:?} lacks {e:?}");
        }
    }
    let (ok, out, err) = admin_token(&db, &["list"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "only the header: {out}");
    let database = Database::connect(&db.options()).expect("open");
    assert!(token_rows(&database).is_empty());
}

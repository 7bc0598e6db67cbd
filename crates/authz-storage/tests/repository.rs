//! The diesel repository against real databases: a fresh SQLite file and a fresh PostgreSQL
//! database per test.

use authz_domain::client_registration::{
    Client, ClientMetadata, ClientOrigin, ClientRepository, RegistrationPolicy,
    RegistrationTokenRecord, RepositoryError,
};
use authz_domain::credentials::TokenDigest;
use authz_storage::client_registration::DieselClientRepository;
use authz_storage::schema::{clients, registration_access_tokens};
use authz_storage::test_support::TestDatabase;
use authz_storage::{Backend, Database, DatabaseOptions, SqliteSynchronous, StorageError};
use diesel::prelude::*;
use diesel::sql_types::Text;

macro_rules! on_both_backends {
    ($($name:ident => $body:expr;)+) => {
        mod sqlite { use super::*; $( #[test] fn $name() { ($body)(Backend::Sqlite) } )+ }
        mod postgres { use super::*; $( #[test] fn $name() { ($body)(Backend::Postgres) } )+ }
    };
}

fn client(id: &str) -> Client {
    let raw = serde_json::json!({
        "client_name": "Cursor",
        "client_name#ja": "カーソル",
        "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback", "http://localhost:8787/callback"],
        "token_endpoint_auth_method": "client_secret_post",
        "scope": "a b",
        "contacts": ["ops@example.com"],
        "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}]}
    });
    let metadata = ClientMetadata::from_request(
        raw.as_object().expect("object"),
        &RegistrationPolicy::default(),
    )
    .expect("valid");
    Client {
        client_id: id.into(),
        metadata,
        secret_hash: Some("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into()),
        secret_expires_at: 0,
        issued_at: 1_750_000_000,
        updated_at: 1_750_000_000,
        origin: ClientOrigin::Dynamic,
    }
}

fn token(client_id: &str, token: &str) -> RegistrationTokenRecord {
    RegistrationTokenRecord {
        digest: TokenDigest::of(token),
        client_id: client_id.into(),
        issued_at: 1_750_000_000,
        expires_at: Some(1_760_000_000),
    }
}

fn count(db: &Database) -> (i64, i64) {
    db.read(|c| {
        Ok((
            clients::table.count().get_result(c)?,
            registration_access_tokens::table.count().get_result(c)?,
        ))
    })
    .expect("count")
}

on_both_backends! {
    a_created_client_reads_back_identically => |backend| {
        let tdb = TestDatabase::new(backend);
        let repo = DieselClientRepository::new(tdb.open());
        let c = client("abc");
        repo.create(&c, &token("abc", "rat_one")).expect("created");
        assert_eq!(repo.find("abc").expect("ok"), Some(c));
        assert_eq!(repo.find("nope").expect("ok"), None);
    };

    only_the_token_digest_is_stored => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let repo = DieselClientRepository::new(db.clone());
        repo.create(&client("abc"), &token("abc", "rat_plaintext")).expect("created");
        let stored: Vec<u8> = db
            .read(|c| registration_access_tokens::table.select(registration_access_tokens::token_digest).first(c))
            .expect("read");
        assert_eq!(stored.len(), 32);
        assert_eq!(stored, TokenDigest::of("rat_plaintext").as_bytes().to_vec());
    };

    a_duplicate_client_id_is_a_conflict_and_writes_nothing => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let repo = DieselClientRepository::new(db.clone());
        repo.create(&client("abc"), &token("abc", "rat_one")).expect("created");
        let err = repo.create(&client("abc"), &token("abc", "rat_two")).expect_err("conflict");
        assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");
        assert_eq!(count(&db), (1, 1), "the second token must not be stored");
    };

    a_failure_midway_rolls_the_client_back => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let repo = DieselClientRepository::new(db.clone());
        repo.create(&client("first"), &token("first", "rat_same")).expect("created");
        // Same token digest: the client row goes in, the token row violates its key.
        let err = repo.create(&client("second"), &token("second", "rat_same")).expect_err("fails");
        assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");
        assert_eq!(count(&db), (1, 1));
        assert_eq!(repo.find("second").expect("ok"), None);
    };

    migrations_revert_and_reapply => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        assert!(db.pending_migrations().expect("pending").is_empty());
        assert!(!db.revert_all().expect("revert").is_empty());
        assert!(!db.pending_migrations().expect("pending").is_empty());
        assert!(!db.migrate().expect("migrate").is_empty());
        assert!(db.migrate().expect("again").is_empty(), "migrating twice is a no-op");
        DieselClientRepository::new(db).create(&client("x"), &token("x", "t")).expect("usable");
    };

    concurrent_registrations_all_land => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let repo = DieselClientRepository::new(db.clone());
        std::thread::scope(|s| {
            for t in 0..4 {
                let repo = repo.clone();
                s.spawn(move || {
                    for i in 0..25 {
                        let id = format!("c{t}-{i}");
                        repo.create(&client(&id), &token(&id, &format!("rat_{id}"))).expect("created");
                    }
                });
            }
        });
        assert_eq!(count(&db), (100, 100));
    };
}

#[derive(QueryableByName)]
struct Pragma {
    #[diesel(sql_type = Text)]
    value: String,
}

fn pragma(db: &Database, name: &str) -> String {
    // pragma_busy_timeout names its column `timeout`; the others are named after the pragma.
    let column = if name == "busy_timeout" {
        "timeout"
    } else {
        name
    };
    db.read(|c| {
        diesel::sql_query(format!(
            "SELECT CAST({column} AS TEXT) AS value FROM pragma_{name}"
        ))
        .get_result::<Pragma>(c)
    })
    .expect("pragma")
    .value
}

#[test]
fn sqlite_file_and_folder_are_created_with_wal_and_the_chosen_durability() {
    let tdb = TestDatabase::sqlite();
    let path = tdb
        .url
        .strip_prefix("sqlite://")
        .expect("sqlite url")
        .to_owned();
    assert!(!std::path::Path::new(&path).exists());
    let db = tdb.open();
    assert!(std::path::Path::new(&path).exists());
    assert_eq!(pragma(&db, "journal_mode"), "wal");
    assert_eq!(pragma(&db, "synchronous"), "1", "NORMAL by default");
    assert_eq!(pragma(&db, "foreign_keys"), "1");
    assert_eq!(pragma(&db, "busy_timeout"), "5000");
    drop(db);

    let mut options = tdb.options();
    options.sqlite_synchronous = SqliteSynchronous::Full;
    let db = Database::connect(&options).expect("connect");
    assert_eq!(pragma(&db, "synchronous"), "2", "FULL when asked");
}

#[test]
fn an_unreachable_postgres_fails_fast_with_the_cause() {
    let start = std::time::Instant::now();
    let err = Database::connect(&DatabaseOptions::new(
        "postgres://nobody:hunter2@127.0.0.1:1/none",
    ))
    .expect_err("refused");
    let msg = err.to_string();
    assert!(matches!(err, StorageError::Connect(_)), "{msg}");
    assert!(
        msg.contains("Connection refused") || msg.contains("connect"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(start.elapsed() < std::time::Duration::from_secs(3));
}

#[test]
fn an_unknown_url_scheme_names_what_is_accepted() {
    let err = Database::connect(&DatabaseOptions::new("mysql://x/y")).expect_err("refused");
    assert!(err.to_string().starts_with("database.url:"), "{err}");
}

//! The diesel repository against real databases: a fresh SQLite file and a fresh PostgreSQL
//! database per test.

use authz_domain::audit::{AuditAction, AuditEvent, AuditLog, RequestContext};
use authz_domain::clients::{
    Client, ClientMetadata, ClientOrigin, ClientRepository, ClientSettings, RegistrationPolicy,
    RegistrationTokenRecord, TokenRotation,
};
use authz_domain::credentials::TokenDigest;
use authz_domain::error::RepositoryError;
use authz_storage::clients::DieselClientRepository;
use authz_storage::schema::{audit_events, clients, registration_access_tokens};
use authz_storage::test_support::TestDatabase;
use authz_storage::{
    Backend, Database, DatabaseOptions, DieselAuditLog, SqliteSynchronous, StorageError,
};
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
        is_locked: false,
        settings: ClientSettings::default(),
        previous_secret: None,
        revision: 0,
    }
}

fn audit(action: AuditAction, client_id: &str) -> AuditEvent {
    AuditEvent::new(1_750_000_000, action, "client", &RequestContext::default()).client(client_id)
}

fn created(repo: &DieselClientRepository, id: &str, token_text: &str) -> Client {
    let c = client(id);
    repo.create(
        &c,
        &token(id, token_text),
        &audit(AuditAction::ClientRegistered, id),
    )
    .expect("created");
    c
}

fn audit_count(db: &Database) -> i64 {
    db.read(|c| audit_events::table.count().get_result(c))
        .expect("count")
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
        repo.create(&c, &token("abc", "rat_one"), &audit(AuditAction::ClientRegistered, "abc")).expect("created");
        assert_eq!(repo.find("abc").expect("ok"), Some(c));
        assert_eq!(repo.find("nope").expect("ok"), None);
    };

    only_the_token_digest_is_stored => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let repo = DieselClientRepository::new(db.clone());
        created(&repo, "abc", "rat_plaintext");
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
        created(&repo, "abc", "rat_one");
        let err = repo.create(&client("abc"), &token("abc", "rat_two"), &audit(AuditAction::ClientRegistered, "abc")).expect_err("conflict");
        assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");
        assert_eq!(count(&db), (1, 1), "the second token must not be stored");
    };

    a_failure_midway_rolls_the_client_back => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let repo = DieselClientRepository::new(db.clone());
        created(&repo, "first", "rat_same");
        // Same token digest: the client row goes in, the token row violates its key.
        let err = repo.create(&client("second"), &token("second", "rat_same"), &audit(AuditAction::ClientRegistered, "second")).expect_err("fails");
        assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");
        assert_eq!(count(&db), (1, 1));
        assert_eq!(audit_count(&db), 1, "the audit event rolled back too");
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
        created(&DieselClientRepository::new(db), "x", "t");
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
                        created(&repo, &id, &format!("rat_{id}"));
                    }
                });
            }
        });
        assert_eq!(count(&db), (100, 100));
    };
}

mod self_management {
    use super::*;

    on_both_backends! {
        a_token_is_found_with_its_client => |backend| {
            let tdb = TestDatabase::new(backend);
            let repo = DieselClientRepository::new(tdb.open());
            let c = created(&repo, "abc", "rat_one");
            let found = repo.find_by_token(&TokenDigest::of("rat_one")).expect("ok").expect("found");
            assert_eq!(found.client, Some(c));
            assert_eq!(found.revoked_at, None);
            assert_eq!(found.token.expires_at, Some(1_760_000_000));
            assert!(repo.find_by_token(&TokenDigest::of("rat_other")).expect("ok").is_none());
        };

        an_update_with_rotation_swaps_tokens_atomically => |backend| {
            let tdb = TestDatabase::new(backend);
            let db = tdb.open();
            let repo = DieselClientRepository::new(db.clone());
            let mut c = created(&repo, "abc", "rat_old");
            c.metadata.client_name = Some("Renamed".into());
            c.updated_at += 5;
            let rotation = TokenRotation { revoke: TokenDigest::of("rat_old"), issue: token("abc", "rat_new") };
            repo.update(&c, Some(&TokenDigest::of("rat_old")), Some(&rotation), &audit(AuditAction::ClientUpdated, "abc")).expect("updated");
            c.revision += 1;
            assert_eq!(repo.find("abc").expect("ok"), Some(c.clone()));
            assert!(repo.find_by_token(&TokenDigest::of("rat_old")).expect("ok").expect("kept").revoked_at.is_some());
            assert!(repo.find_by_token(&TokenDigest::of("rat_new")).expect("ok").expect("new").revoked_at.is_none());
            // The old token cannot be used for another change.
            let again = TokenRotation { revoke: TokenDigest::of("rat_old"), issue: token("abc", "rat_newer") };
            let err = repo.update(&c, Some(&TokenDigest::of("rat_old")), Some(&again), &audit(AuditAction::ClientUpdated, "abc")).expect_err("revoked");
            assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");
            assert!(repo.find_by_token(&TokenDigest::of("rat_newer")).expect("ok").is_none(), "rolled back");
            assert_eq!(audit_count(&db), 2);
        };

        racing_rotations_leave_exactly_one_live_token => |backend| {
            let tdb = TestDatabase::new(backend);
            let db = tdb.open();
            let repo = DieselClientRepository::new(db.clone());
            let base = created(&repo, "abc", "rat_old");
            let results: Vec<Result<(), RepositoryError>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|i| {
                        let repo = repo.clone();
                        let mut c = base.clone();
                        s.spawn(move || {
                            c.metadata.client_name = Some(format!("writer {i}"));
                            let rotation = TokenRotation { revoke: TokenDigest::of("rat_old"), issue: token("abc", &format!("rat_{i}")) };
                            repo.update(&c, Some(&TokenDigest::of("rat_old")), Some(&rotation), &audit(AuditAction::ClientUpdated, "abc"))
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("thread")).collect()
            });
            assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
            let live: i64 = db
                .read(|c| registration_access_tokens::table.filter(registration_access_tokens::revoked_at.is_null()).count().get_result(c))
                .expect("count");
            assert_eq!(live, 1);
            let winner = results.iter().position(|r| r.is_ok()).expect("a winner");
            let stored = repo.find("abc").expect("ok").expect("client");
            assert_eq!(stored.metadata.client_name, Some(format!("writer {winner}")), "the winner's whole document");
        };

        delete_removes_client_and_tokens_and_retires_the_id => |backend| {
            let tdb = TestDatabase::new(backend);
            let db = tdb.open();
            let repo = DieselClientRepository::new(db.clone());
            created(&repo, "abc", "rat_one");
            repo.delete("abc", Some(&TokenDigest::of("rat_one")), &audit(AuditAction::ClientDeleted, "abc")).expect("deleted");
            assert_eq!(count(&db), (0, 0));
            assert!(matches!(repo.delete("abc", None, &audit(AuditAction::ClientDeleted, "abc")), Err(RepositoryError::NotFound(_))));
            let err = repo.create(&client("abc"), &token("abc", "rat_two"), &audit(AuditAction::ClientRegistered, "abc")).expect_err("id retired");
            assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");
            // An update after the delete never resurrects it.
            let err = repo.update(&client("abc"), Some(&TokenDigest::of("rat_one")), None, &audit(AuditAction::ClientUpdated, "abc")).expect_err("gone");
            assert!(matches!(err, RepositoryError::NotFound(_)), "{err:?}");
            assert_eq!(count(&db), (0, 0));
        };

        locking_and_revoking_are_recorded => |backend| {
            let tdb = TestDatabase::new(backend);
            let db = tdb.open();
            let repo = DieselClientRepository::new(db.clone());
            created(&repo, "abc", "rat_one");
            repo.set_locked("abc", true, &audit(AuditAction::ClientLocked, "abc")).expect("locked");
            assert!(repo.find("abc").expect("ok").expect("client").is_locked);
            assert!(matches!(repo.set_locked("nope", true, &audit(AuditAction::ClientLocked, "nope")), Err(RepositoryError::NotFound(_))));
            repo.revoke_token(&TokenDigest::of("rat_one"), &audit(AuditAction::TokenRevoked, "abc")).expect("revoked");
            assert!(repo.find_by_token(&TokenDigest::of("rat_one")).expect("ok").expect("kept").revoked_at.is_some());
            assert_eq!(audit_count(&db), 3);
        };

        the_audit_log_writes_every_event_in_batches => |backend| {
            let tdb = TestDatabase::new(backend);
            let db = tdb.open();
            let log = DieselAuditLog::start(db.clone()).expect("writer");
            std::thread::scope(|s| {
                for t in 0..8 {
                    let log = &log;
                    s.spawn(move || {
                        for i in 0..50 {
                            log.record(audit(AuditAction::ClientRead, &format!("c{t}-{i}"))).expect("recorded");
                        }
                    });
                }
            });
            log.flush();
        assert_eq!(audit_count(&db), 400);
        log.record(audit(AuditAction::ClientRead, "last")).expect("recorded");
        drop(log);
        assert_eq!(audit_count(&db), 401, "dropping the log writes what is queued");
            let (action, actor): (String, String) = db
                .read(|c| audit_events::table.select((audit_events::action, audit_events::actor)).first(c))
                .expect("row");
            assert_eq!((action.as_str(), actor.as_str()), ("client.read", "client"));
        };
    }
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

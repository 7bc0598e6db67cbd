//! Users, sessions and consents against real databases: a fresh SQLite file and a fresh
//! PostgreSQL database per test.

use std::collections::BTreeSet;
use std::sync::Arc;

use authz_domain::client_registration::{
    AuditAction, AuditEvent, Client, ClientMetadata, ClientOrigin, ClientRepository,
    ClientSettings, InMemoryClientRepository, RegistrationPolicy, RegistrationTokenRecord,
    RepositoryError, RequestContext,
};
use authz_domain::clock::ManualClock;
use authz_domain::credentials::{Argon2Settings, SecretHasher, SystemRandomSource, TokenDigest};
use authz_domain::users::{
    ConsentRecord, ConsentRepository, LocalAuthenticator, PasswordPolicy, Session, SessionId,
    SessionPolicy, SessionRepository, SignInError, User, UserId, UserQuery, UserRepository,
    UserService, Username,
};
use authz_storage::clients::DieselClientRepository;
use authz_storage::schema::{audit_events, consents, sessions, users};
use authz_storage::test_support::TestDatabase;
use authz_storage::{Backend, Database, DieselUserStore};
use diesel::prelude::*;
use secrecy::SecretString;

macro_rules! on_both_backends {
    ($($name:ident => $body:expr;)+) => {
        mod sqlite { use super::*; $( #[test] fn $name() { ($body)(Backend::Sqlite) } )+ }
        mod postgres { use super::*; $( #[test] fn $name() { ($body)(Backend::Postgres) } )+ }
    };
}

const T0: i64 = 1_750_000_000;

fn user(id: &str, name: &str) -> User {
    User {
        id: UserId::from_stored(id),
        username: Username::parse(name).expect("valid"),
        display_name: Some(format!("{name} (display)")),
        password_hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        is_disabled: false,
        created_at: T0,
        updated_at: T0,
        password_changed_at: T0,
    }
}

fn audit(action: AuditAction) -> AuditEvent {
    AuditEvent::new(T0 + 5, action, "cli", &RequestContext::default())
}

fn audit_count(db: &Database) -> i64 {
    db.read(|c| audit_events::table.count().get_result(c))
        .expect("count")
}

fn session_count(db: &Database) -> i64 {
    db.read(|c| sessions::table.count().get_result(c))
        .expect("count")
}

fn session(cookie: &str, user_id: &str) -> Session {
    SessionPolicy::default().start(
        SessionId::from_cookie(cookie).digest(),
        UserId::from_stored(user_id),
        T0,
        T0,
    )
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn consent(user_id: &str, client_id: &str, scope: &[&str], granted_at: i64) -> ConsentRecord {
    ConsentRecord {
        user_id: UserId::from_stored(user_id),
        client_id: client_id.into(),
        scope: set(scope),
        resources: set(&["https://api.example.com/", "https://a.example.com/"]),
        granted_at,
    }
}

/// A store over a fresh, migrated database holding user `u1` ("Alice").
fn store_with_alice(tdb: &TestDatabase) -> (Database, DieselUserStore) {
    let db = tdb.open();
    let store = DieselUserStore::new(db.clone());
    store
        .create(&user("u1", "Alice"), &audit(AuditAction::UserCreated))
        .expect("created");
    (db, store)
}

fn client(id: &str) -> Client {
    let raw = serde_json::json!({
        "client_name": "Cursor",
        "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"],
        "token_endpoint_auth_method": "none",
    });
    Client {
        client_id: id.into(),
        metadata: ClientMetadata::from_request(
            raw.as_object().expect("object"),
            &RegistrationPolicy::default(),
        )
        .expect("valid"),
        secret_hash: None,
        secret_expires_at: 0,
        issued_at: T0,
        updated_at: T0,
        origin: ClientOrigin::Dynamic,
        is_locked: false,
        settings: ClientSettings::default(),
        previous_secret: None,
        revision: 0,
    }
}

on_both_backends! {
    a_created_user_reads_back_by_id_and_by_any_case_of_its_username => |backend| {
        let tdb = TestDatabase::new(backend);
        let (db, store) = store_with_alice(&tdb);
        let alice = user("u1", "Alice");
        assert_eq!(UserRepository::find(&store, &alice.id).expect("ok"), Some(alice.clone()));
        let found = store.find_by_username(&Username::parse("ALICE").expect("valid")).expect("ok");
        assert_eq!(found, Some(alice));
        assert_eq!(store.find_by_username(&Username::parse("bob").expect("valid")).expect("ok"), None);
        assert_eq!(UserRepository::find(&store, &UserId::from_stored("nope")).expect("ok"), None);
        assert_eq!(audit_count(&db), 1);
    };

    a_username_taken_after_case_folding_is_a_conflict_and_writes_nothing => |backend| {
        let tdb = TestDatabase::new(backend);
        let (db, store) = store_with_alice(&tdb);
        let err = store
            .create(&user("u2", "aLICE"), &audit(AuditAction::UserCreated))
            .expect_err("conflict");
        assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");
        // Full Unicode folding, done by the server: ß and SS are one key.
        store.create(&user("u3", "Straße"), &audit(AuditAction::UserCreated)).expect("created");
        assert!(matches!(
            store.create(&user("u4", "STRASSE"), &audit(AuditAction::UserCreated)),
            Err(RepositoryError::Conflict(_))
        ));
        assert_eq!(db.read(|c| users::table.count().get_result::<i64>(c)).expect("count"), 2);
        assert_eq!(audit_count(&db), 2, "refused creations leave no audit row");
    };

    users_are_listed_by_folded_username_in_pages => |backend| {
        let tdb = TestDatabase::new(backend);
        let store = DieselUserStore::new(tdb.open());
        for (i, name) in ["carol", "Bob", "alice", "Dave", "émile"].iter().enumerate() {
            store.create(&user(&format!("u{i}"), name), &audit(AuditAction::UserCreated)).expect("created");
        }
        let page = store.list(&UserQuery::new(1, 2).expect("query")).expect("list");
        let names: Vec<_> = page.users.iter().map(|u| u.username.as_str().to_owned()).collect();
        assert_eq!(names, ["alice", "Bob"]);
        assert_eq!(page.total, 5);
        let page = store.list(&UserQuery::new(3, 2).expect("query")).expect("list");
        assert_eq!(page.users.len(), 1);
        assert_eq!(page.users[0].username.as_str(), "émile");
    };

    disabling_a_user_deletes_its_sessions_in_the_same_transaction => |backend| {
        let tdb = TestDatabase::new(backend);
        let (db, store) = store_with_alice(&tdb);
        store.create(&user("u2", "Bob"), &audit(AuditAction::UserCreated)).expect("created");
        for (cookie, id) in [("a1", "u1"), ("a2", "u1"), ("b1", "u2")] {
            store.insert(&session(cookie, id), None, &audit(AuditAction::SignIn)).expect("inserted");
        }
        store.set_disabled(&UserId::from_stored("u1"), true, &audit(AuditAction::UserUpdated)).expect("disabled");
        assert_eq!(session_count(&db), 1);
        let alice = UserRepository::find(&store, &UserId::from_stored("u1")).expect("ok").expect("alice");
        assert!(alice.is_disabled);
        assert_eq!(alice.updated_at, T0 + 5);
        // A disabled user gets no new session.
        assert!(matches!(
            store.insert(&session("a3", "u1"), None, &audit(AuditAction::SignIn)),
            Err(RepositoryError::NotFound(_))
        ));
        store.set_disabled(&UserId::from_stored("u1"), false, &audit(AuditAction::UserUpdated)).expect("enabled");
        store.insert(&session("a3", "u1"), None, &audit(AuditAction::SignIn)).expect("inserted");
        let before = audit_count(&db);
        assert!(matches!(
            store.set_disabled(&UserId::from_stored("nobody"), true, &audit(AuditAction::UserUpdated)),
            Err(RepositoryError::NotFound(_))
        ));
        assert_eq!(audit_count(&db), before);
    };

    setting_a_password_hash_stamps_the_time_and_ends_sessions => |backend| {
        let tdb = TestDatabase::new(backend);
        let (db, store) = store_with_alice(&tdb);
        let id = UserId::from_stored("u1");
        store.insert(&session("a1", "u1"), None, &audit(AuditAction::SignIn)).expect("inserted");
        store.set_password_hash(&id, "$argon2id$new", &audit(AuditAction::UserPasswordSet)).expect("set");
        let alice = UserRepository::find(&store, &id).expect("ok").expect("alice");
        assert_eq!(alice.password_hash, "$argon2id$new");
        assert_eq!(alice.password_changed_at, T0 + 5);
        assert_eq!(session_count(&db), 0);
        assert!(matches!(
            store.set_password_hash(&UserId::from_stored("x"), "h", &audit(AuditAction::UserPasswordSet)),
            Err(RepositoryError::NotFound(_))
        ));
    };

    a_session_reads_back_and_only_its_digest_is_stored => |backend| {
        let tdb = TestDatabase::new(backend);
        let (db, store) = store_with_alice(&tdb);
        let s = session("cookie-value", "u1");
        store.insert(&s, None, &audit(AuditAction::SignIn)).expect("inserted");
        assert_eq!(SessionRepository::find(&store, &s.digest).expect("ok"), Some(s));
        let stored: Vec<u8> = db.read(|c| sessions::table.select(sessions::digest).first(c)).expect("read");
        assert_eq!(stored, TokenDigest::of("cookie-value").as_bytes().to_vec());
        assert_eq!(SessionRepository::find(&store, &TokenDigest::of("other")).expect("ok"), None);
        assert_eq!(audit_count(&db), 2);
    };

    a_new_session_replaces_the_previous_one_atomically => |backend| {
        let tdb = TestDatabase::new(backend);
        let (db, store) = store_with_alice(&tdb);
        let old = session("old", "u1");
        store.insert(&old, None, &audit(AuditAction::SignIn)).expect("inserted");
        let new = session("new", "u1");
        store.insert(&new, Some(&old.digest), &audit(AuditAction::SignIn)).expect("inserted");
        assert_eq!(SessionRepository::find(&store, &old.digest).expect("ok"), None);
        assert!(SessionRepository::find(&store, &new.digest).expect("ok").is_some());
        // The same digest twice is a conflict and rolls back the replacement too.
        let again = session("again", "u1");
        store.insert(&again, None, &audit(AuditAction::SignIn)).expect("inserted");
        assert!(matches!(
            store.insert(&new, Some(&again.digest), &audit(AuditAction::SignIn)),
            Err(RepositoryError::Conflict(_))
        ));
        assert!(SessionRepository::find(&store, &again.digest).expect("ok").is_some());
        assert_eq!(session_count(&db), 2);
    };

    touching_moves_last_seen_and_idle_expiry_only => |backend| {
        let tdb = TestDatabase::new(backend);
        let (db, store) = store_with_alice(&tdb);
        let s = session("c", "u1");
        store.insert(&s, None, &audit(AuditAction::SignIn)).expect("inserted");
        let before = audit_count(&db);
        store.touch(&s.digest, T0 + 100, T0 + 1900).expect("touched");
        let read = SessionRepository::find(&store, &s.digest).expect("ok").expect("session");
        assert_eq!((read.last_seen_at, read.idle_expires_at), (T0 + 100, T0 + 1900));
        assert_eq!(read.absolute_expires_at, s.absolute_expires_at);
        assert_eq!(audit_count(&db), before, "a touch is not audited");
        store.delete(&s.digest, Some(&audit(AuditAction::SignOut))).expect("deleted");
        assert_eq!(audit_count(&db), before + 1);
        assert!(matches!(store.touch(&s.digest, T0 + 200, T0 + 2000), Err(RepositoryError::NotFound(_))));
        store.delete(&s.digest, None).expect("idempotent");
    };

    expired_sessions_and_a_users_sessions_are_deleted_in_bulk => |backend| {
        let tdb = TestDatabase::new(backend);
        let (db, store) = store_with_alice(&tdb);
        store.create(&user("u2", "Bob"), &audit(AuditAction::UserCreated)).expect("created");
        let live = session("live", "u1");
        let mut idle_out = session("idle", "u1");
        idle_out.idle_expires_at = T0 + 10;
        let mut absolute_out = session("abs", "u2");
        absolute_out.absolute_expires_at = T0 + 10;
        for s in [&live, &idle_out, &absolute_out] {
            store.insert(s, None, &audit(AuditAction::SignIn)).expect("inserted");
        }
        assert_eq!(store.delete_expired(T0 + 9).expect("purge"), 0);
        assert_eq!(store.delete_expired(T0 + 10).expect("purge"), 2);
        assert_eq!(session_count(&db), 1);
        store.insert(&session("more", "u1"), None, &audit(AuditAction::SignIn)).expect("inserted");
        assert_eq!(SessionRepository::delete_for_user(&store, &UserId::from_stored("u1")).expect("deleted"), 2);
        assert_eq!(session_count(&db), 0);
    };

    granting_the_same_consent_again_keeps_one_row_with_the_new_time => |backend| {
        let tdb = TestDatabase::new(backend);
        let (db, store) = store_with_alice(&tdb);
        let first = consent("u1", "c1", &["write", "read"], T0);
        store.upsert(&first, &audit(AuditAction::ConsentGranted)).expect("granted");
        assert_eq!(ConsentRepository::find(&store, &UserId::from_stored("u1"), "c1").expect("ok"), vec![first]);
        let later = consent("u1", "c1", &["read", "write"], T0 + 60);
        store.upsert(&later, &audit(AuditAction::ConsentGranted)).expect("granted");
        store.upsert(&consent("u1", "c1", &["read"], T0), &audit(AuditAction::ConsentGranted)).expect("granted");
        let mut found = ConsentRepository::find(&store, &UserId::from_stored("u1"), "c1").expect("ok");
        found.sort_by_key(|r| r.scope.len());
        assert_eq!(found.len(), 2);
        assert_eq!(found[1], later);
        assert!(ConsentRepository::find(&store, &UserId::from_stored("u1"), "c2").expect("ok").is_empty());
        let stored: String = db
            .read(|c| consents::table.select(consents::scope).filter(consents::granted_at.eq(T0 + 60)).first(c))
            .expect("read");
        assert_eq!(stored, "read write");
        assert_eq!(audit_count(&db), 4);
    };

    concurrent_grants_of_the_same_consent_all_succeed => |backend| {
        let tdb = TestDatabase::new(backend);
        let (db, store) = store_with_alice(&tdb);
        std::thread::scope(|s| {
            for i in 0..4 {
                let store = store.clone();
                s.spawn(move || {
                    store
                        .upsert(&consent("u1", "c1", &["read"], T0 + i), &audit(AuditAction::ConsentGranted))
                        .expect("granted");
                });
            }
        });
        assert_eq!(db.read(|c| consents::table.count().get_result::<i64>(c)).expect("count"), 1);
    };

    consents_are_forgotten_per_user_and_per_client => |backend| {
        let tdb = TestDatabase::new(backend);
        let (db, store) = store_with_alice(&tdb);
        store.create(&user("u2", "Bob"), &audit(AuditAction::UserCreated)).expect("created");
        for (u, c) in [("u1", "c1"), ("u1", "c2"), ("u2", "c1")] {
            store.upsert(&consent(u, c, &["read"], T0), &audit(AuditAction::ConsentGranted)).expect("granted");
        }
        assert_eq!(store.delete_for_client("c1").expect("deleted"), 2);
        let before = audit_count(&db);
        assert_eq!(ConsentRepository::delete_for_user(&store, &UserId::from_stored("u1"), &audit(AuditAction::UserUpdated)).expect("deleted"), 1);
        assert_eq!(audit_count(&db), before + 1);
        assert_eq!(db.read(|c| consents::table.count().get_result::<i64>(c)).expect("count"), 0);
    };

    deleting_a_client_deletes_the_consents_given_to_it => |backend| {
        let tdb = TestDatabase::new(backend);
        let (db, store) = store_with_alice(&tdb);
        let clients = DieselClientRepository::new(db.clone());
        for id in ["c1", "c2"] {
            let token = RegistrationTokenRecord {
                digest: TokenDigest::of(id),
                client_id: id.into(),
                issued_at: T0,
                expires_at: None,
            };
            clients.create(&client(id), &token, &audit(AuditAction::ClientRegistered)).expect("client");
            store.upsert(&consent("u1", id, &["read"], T0), &audit(AuditAction::ConsentGranted)).expect("granted");
        }
        clients.delete("c1", None, &audit(AuditAction::ClientDeleted)).expect("deleted");
        let alice = UserId::from_stored("u1");
        assert!(ConsentRepository::find(&store, &alice, "c1").expect("ok").is_empty());
        assert_eq!(ConsentRepository::find(&store, &alice, "c2").expect("ok").len(), 1);
    };

    the_user_service_signs_in_and_out_over_the_database => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let store = Arc::new(DieselUserStore::new(db.clone()));
        let hasher = SecretHasher::new(Argon2Settings { memory_kib: 64, iterations: 1, parallelism: 1 }, 2)
            .expect("hasher");
        let rng = Arc::new(SystemRandomSource::new());
        let clock = Arc::new(ManualClock::new(T0));
        let authenticator = LocalAuthenticator::new(store.clone(), hasher.clone(), rng.as_ref(), PasswordPolicy::default())
            .expect("authenticator");
        let log = Arc::new(InMemoryClientRepository::new());
        let service = UserService::new(store.clone(), store.clone(), Arc::new(authenticator), log.clone(), hasher, rng, clock.clone());
        let ctx = RequestContext::default();
        let password = SecretString::from("correct horse battery staple".to_owned());
        let alice = service.create_user("Alice", None, password.clone(), "cli", &ctx).expect("created");
        assert!(matches!(
            service.create_user("ALICE", None, password.clone(), "cli", &ctx),
            Err(authz_domain::users::UserError::UsernameTaken(_))
        ));
        let wrong = SecretString::from("wrong password".to_owned());
        assert!(matches!(service.sign_in("alice", &wrong, None, &ctx), Err(SignInError::InvalidCredentials)));
        assert!(matches!(service.sign_in("nobody", &password, None, &ctx), Err(SignInError::InvalidCredentials)));
        let signed_in = service.sign_in("alice", &password, None, &ctx).expect("signed in");
        assert_eq!(signed_in.user.user_id, alice.id);
        clock.advance(120);
        let current = service.current_session(&signed_in.session_id).expect("ok").expect("live");
        assert_eq!(current.last_seen_at, T0 + 120);
        service.sign_out(&signed_in.session_id, &ctx).expect("signed out");
        assert_eq!(service.current_session(&signed_in.session_id).expect("ok"), None);
        // Changes are audited in their transactions; refusals through the audit log.
        let stored: Vec<String> = db
            .read(|c| audit_events::table.order(audit_events::id).select(audit_events::action).load(c))
            .expect("read");
        assert_eq!(stored, ["user.created", "user.signed_in", "user.signed_out"]);
        assert_eq!(log.audit_events().len(), 2);
    };
}

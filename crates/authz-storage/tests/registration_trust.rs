//! Registration trust against real databases (a fresh SQLite file and a fresh PostgreSQL database
//! per test): idempotency records, initial access tokens spent under concurrency, last use, and
//! stale-client expiry with an injected clock.

use std::sync::{Arc, Barrier};

use authz_domain::audit::{AuditAction, AuditEvent, RequestContext};
use authz_domain::clients::{
    Client, ClientMetadata, ClientOrigin, ClientRepository, ClientSettings, ClientUsageStore,
    RegistrationPolicy, RegistrationTokenRecord, UsageRecorder,
};
use authz_domain::clock::ManualClock;
use authz_domain::credentials::{SystemRandomSource, TokenDigest};
use authz_domain::error::RepositoryError;
use authz_domain::registration::{
    Begun, ExpiryPolicy, Idempotency, IdempotencyError, IdempotencyKey, IdempotencyPolicy,
    InitialAccessPolicy, InitialAccessToken, InitialAccessTokenStore, StaleClientExpiry,
};
use authz_storage::clients::DieselClientRepository;
use authz_storage::schema::{audit_events, clients, deleted_clients, idempotency_records};
use authz_storage::test_support::TestDatabase;
use authz_storage::{Backend, Database, DieselIdempotencyStore};
use diesel::prelude::*;

macro_rules! on_both_backends {
    ($($name:ident => $body:expr;)+) => {
        mod sqlite { use super::*; $( #[test] fn $name() { ($body)(Backend::Sqlite) } )+ }
        mod postgres { use super::*; $( #[test] fn $name() { ($body)(Backend::Postgres) } )+ }
    };
}

const T0: i64 = 1_750_000_000;
const DAY: i64 = 86_400;

fn client(id: &str, origin: ClientOrigin, issued_at: i64) -> Client {
    let raw = serde_json::json!({
        "client_name": "Claude",
        "redirect_uris": ["http://127.0.0.1:33418/callback"],
        "token_endpoint_auth_method": "none"
    });
    let metadata = ClientMetadata::from_request(
        raw.as_object().expect("object"),
        &RegistrationPolicy::default(),
    )
    .expect("valid");
    Client {
        client_id: id.into(),
        metadata,
        secret_hash: None,
        secret_expires_at: 0,
        issued_at,
        updated_at: issued_at,
        origin,
        is_locked: false,
        settings: ClientSettings::default(),
        previous_secret: None,
        revision: 0,
    }
}

fn rat(client_id: &str, at: i64) -> RegistrationTokenRecord {
    RegistrationTokenRecord {
        digest: TokenDigest::of(&format!("rat_{client_id}")),
        client_id: client_id.into(),
        issued_at: at,
        expires_at: None,
    }
}

fn registered(at: i64, client_id: &str) -> AuditEvent {
    AuditEvent::new(
        at,
        AuditAction::ClientRegistered,
        "anonymous",
        &RequestContext::default(),
    )
    .client(client_id)
}

fn store(repo: &DieselClientRepository, id: &str, origin: ClientOrigin, at: i64) {
    repo.create(&client(id, origin, at), &rat(id, at), &registered(at, id))
        .expect("created");
}

fn exists(db: &Database, id: &str) -> bool {
    db.read(|c| clients::table.find(id).count().get_result::<i64>(c))
        .expect("count")
        == 1
}

fn idempotency(db: &Database, clock: Arc<ManualClock>) -> Idempotency {
    Idempotency::new(
        Arc::new(DieselIdempotencyStore::new(db.clone())),
        clock,
        Arc::new(SystemRandomSource::new()),
        IdempotencyPolicy {
            window_secs: 3_600,
            in_flight_timeout_secs: 60,
        },
    )
}

fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::parse(s.as_bytes()).expect("valid key")
}

fn iat(id: &str, text: &str, max_uses: Option<u64>, expires_at: i64) -> InitialAccessToken {
    InitialAccessToken {
        id: id.into(),
        digest: TokenDigest::of(text),
        description: Some("test".into()),
        created_by: "cli".into(),
        created_at: T0,
        expires_at,
        max_uses,
        uses_remaining: max_uses,
        policy: InitialAccessPolicy::default(),
        revoked_at: None,
    }
}

fn iat_event() -> AuditEvent {
    AuditEvent::new(
        T0,
        AuditAction::InitialAccessTokenCreated,
        "cli",
        &RequestContext::default(),
    )
}

on_both_backends! {
    idempotency_replays_mismatches_and_refuses_duplicates_in_flight => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let clock = Arc::new(ManualClock::new(T0));
        let idem = idempotency(&db, clock.clone());
        let k = key("6f1c2b8e-0d4a-4b5e-9a7f-3c2d1e0f9a8b");
        let Begun::Fresh(ticket) = idem.begin(&k, "peer:127.0.0.1", [7; 32]).expect("fresh") else {
            panic!("first use is fresh")
        };
        // In flight: the same body waits (409), another body is refused (422).
        assert!(matches!(idem.begin(&k, "peer:127.0.0.1", [7; 32]), Err(IdempotencyError::InFlight)));
        assert!(matches!(idem.begin(&k, "peer:127.0.0.1", [8; 32]), Err(IdempotencyError::Mismatch)));
        let answer = br#"{"client_id":"abc","client_secret":"cs-very-secret-value"}"#;
        idem.complete(ticket, 201, answer).expect("completed");
        // At rest: neither the key nor the secret appear in the row.
        let (lookup, sealed): (Vec<u8>, Option<Vec<u8>>) = db
            .read(|c| idempotency_records::table.select((idempotency_records::lookup, idempotency_records::sealed_response)).first(c))
            .expect("row");
        let sealed = sealed.expect("sealed");
        for needle in [&b"cs-very-secret-value"[..], b"6f1c2b8e-0d4a-4b5e"] {
            assert!(!sealed.windows(needle.len()).any(|w| w == needle), "sealed");
            assert!(!lookup.windows(needle.len()).any(|w| w == needle), "hashed");
        }
        match idem.begin(&k, "peer:127.0.0.1", [7; 32]).expect("replay") {
            Begun::Replay { status, body } => {
                assert_eq!(status, 201);
                assert_eq!(body, answer);
            }
            Begun::Fresh(_) => panic!("a replay"),
        }
        assert!(matches!(idem.begin(&k, "peer:127.0.0.1", [8; 32]), Err(IdempotencyError::Mismatch)));
        // Another caller's scope does not see it.
        let Begun::Fresh(other) = idem.begin(&k, "peer:10.0.0.9", [7; 32]).expect("fresh") else {
            panic!("another scope is another record")
        };
        idem.release(other).expect("released");
        // The window ends (injected clock): the key is new again, and the purge removes it.
        clock.advance(3_600);
        assert_eq!(idem.purge_expired(100).expect("purged"), 1);
        assert!(matches!(idem.begin(&k, "peer:127.0.0.1", [8; 32]), Ok(Begun::Fresh(_))));
    };

    a_crashed_request_holds_its_key_only_until_the_in_flight_timeout => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let clock = Arc::new(ManualClock::new(T0));
        let idem = idempotency(&db, clock.clone());
        let k = key("request-that-died-0001");
        let _lost = idem.begin(&k, "s", [1; 32]).expect("fresh");
        clock.advance(59);
        assert!(matches!(idem.begin(&k, "s", [1; 32]), Err(IdempotencyError::InFlight)));
        clock.advance(1);
        assert!(matches!(idem.begin(&k, "s", [1; 32]), Ok(Begun::Fresh(_))));
    };

    concurrent_first_uses_of_a_key_let_exactly_one_through => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let clock = Arc::new(ManualClock::new(T0));
        let idem = Arc::new(idempotency(&db, clock));
        let n = 8;
        let barrier = Arc::new(Barrier::new(n));
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (idem, barrier) = (idem.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    match idem.begin(&key("concurrent-key-000001"), "s", [3; 32]) {
                        Ok(Begun::Fresh(_)) => "fresh",
                        Err(IdempotencyError::InFlight) => "in flight",
                        other => panic!("unexpected: {other:?}"),
                    }
                })
            })
            .collect();
        let outcomes: Vec<&str> = handles.into_iter().map(|h| h.join().expect("thread")).collect();
        assert_eq!(outcomes.iter().filter(|o| **o == "fresh").count(), 1, "{outcomes:?}");
        assert_eq!(outcomes.iter().filter(|o| **o == "in flight").count(), n - 1, "{outcomes:?}");
    };

    an_initial_access_token_is_never_used_more_often_than_allowed => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let repo = Arc::new(DieselClientRepository::new(db.clone()));
        repo.create_initial_access_token(&iat("iat-a", "iat_a", Some(3), T0 + DAY), &iat_event())
            .expect("created");
        let n = 12;
        let barrier = Arc::new(Barrier::new(n));
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (repo, barrier) = (repo.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let id = format!("c{i}");
                    let c = client(&id, ClientOrigin::Dynamic, T0 + 1);
                    barrier.wait();
                    repo.create_client_spending("iat-a", &c, &rat(&id, T0 + 1), &registered(T0 + 1, &id))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().expect("thread")).collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3, "{results:?}");
        assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(RepositoryError::Stale(_)))), "{results:?}");
        let stored: i64 = db.read(|c| clients::table.count().get_result(c)).expect("count");
        assert_eq!(stored, 3, "a refused spend stores nothing");
        let token = repo.find_initial_access_token(&TokenDigest::of("iat_a")).expect("ok").expect("found");
        assert_eq!(token.uses_remaining, Some(0));
        assert_eq!(token.state(T0 + 2), "used_up");
        // Expired and revoked tokens spend nothing either.
        repo.create_initial_access_token(&iat("iat-b", "iat_b", None, T0 + 10), &iat_event()).expect("created");
        let late = registered(T0 + 10, "late");
        assert!(matches!(
            repo.create_client_spending("iat-b", &client("late", ClientOrigin::Dynamic, T0 + 10), &rat("late", T0 + 10), &late),
            Err(RepositoryError::Stale(_))
        ));
        let revoke = AuditEvent::new(T0 + 5, AuditAction::InitialAccessTokenRevoked, "cli", &RequestContext::default());
        repo.revoke_initial_access_token("iat-b", &revoke).expect("revoked");
        let early = registered(T0 + 6, "early");
        assert!(matches!(
            repo.create_client_spending("iat-b", &client("early", ClientOrigin::Dynamic, T0 + 6), &rat("early", T0 + 6), &early),
            Err(RepositoryError::Stale(_))
        ));
        assert!(matches!(repo.revoke_initial_access_token("nope", &revoke), Err(RepositoryError::NotFound(_))));
        // Only digests are stored.
        let listed = repo.list_initial_access_tokens().expect("listed");
        let mut ids: Vec<&str> = listed.iter().map(|t| t.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["iat-a", "iat-b"]);
    };

    last_use_is_written_at_most_once_per_interval => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let repo = Arc::new(DieselClientRepository::new(db.clone()));
        store(&repo, "a", ClientOrigin::Dynamic, T0);
        // The conditional write: a time within the interval changes nothing.
        assert!(repo.record_use("a", T0 + 10, T0 + 10 - 300).expect("ok"));
        assert!(!repo.record_use("a", T0 + 20, T0 + 20 - 300).expect("ok"), "within the interval");
        assert!(repo.record_use("a", T0 + 311, T0 + 311 - 300).expect("ok"));
        assert!(repo.record_use("gone", T0, T0 - 300).is_err(), "no such client");
        // Through the recorder: one write per interval whatever the number of uses.
        let clock = Arc::new(ManualClock::new(T0 + 1_000));
        let recorder = UsageRecorder::new(repo.clone(), clock.clone(), 300);
        for _ in 0..50 {
            recorder.used("a").expect("ok");
        }
        use authz_domain::administration::ClientAdministration as _;
        assert_eq!(repo.last_used("a").expect("ok"), Some(T0 + 1_000));
        clock.advance(100);
        recorder.used("a").expect("ok");
        assert_eq!(repo.last_used("a").expect("ok"), Some(T0 + 1_000), "throttled");
        clock.advance(200);
        recorder.used("a").expect("ok");
        assert_eq!(repo.last_used("a").expect("ok"), Some(T0 + 1_300));
    };

    stale_clients_expire_in_batches_and_admin_clients_never => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let repo = Arc::new(DieselClientRepository::new(db.clone()));
        // 25 never-used dynamic clients, one used dynamic client, one never-used admin client.
        for i in 0..25 {
            store(&repo, &format!("n{i:02}"), ClientOrigin::Dynamic, T0);
        }
        store(&repo, "used", ClientOrigin::Dynamic, T0);
        store(&repo, "admin", ClientOrigin::Admin, T0);
        repo.record_use("used", T0 + DAY, T0).expect("recorded");
        let clock = Arc::new(ManualClock::new(T0));
        let expiry = StaleClientExpiry::new(
            repo.clone(),
            clock.clone(),
            ExpiryPolicy { never_used_lifetime_secs: 7 * DAY as u64, unused_lifetime_secs: 30 * DAY as u64, batch_size: 10, max_batches: 2 },
        );
        // Nothing is stale yet.
        clock.set(T0 + 7 * DAY);
        assert_eq!(expiry.run().expect("ran"), 0);
        // Past the never-used lifetime: two batches of ten this pass, the rest next pass.
        clock.set(T0 + 7 * DAY + 1);
        assert_eq!(expiry.run().expect("ran"), 20);
        assert_eq!(expiry.run().expect("ran"), 5);
        assert_eq!(expiry.run().expect("ran"), 0);
        assert!(exists(&db, "used") && exists(&db, "admin"));
        assert!(!exists(&db, "n00"));
        // Each deletion is audited and its id is never reissued.
        let expired: i64 = db
            .read(|c| audit_events::table.filter(audit_events::action.eq("client.expired")).count().get_result(c))
            .expect("count");
        assert_eq!(expired, 25);
        let tombstones: i64 = db.read(|c| deleted_clients::table.count().get_result(c)).expect("count");
        assert_eq!(tombstones, 25);
        assert!(matches!(
            repo.create(&client("n00", ClientOrigin::Dynamic, T0), &rat("n00", T0), &registered(T0, "n00")),
            Err(RepositoryError::Conflict(_))
        ));
        // Past the unused lifetime of the used client (last use T0 + 1 day).
        clock.set(T0 + 31 * DAY);
        assert_eq!(expiry.run().expect("ran"), 0);
        clock.set(T0 + 31 * DAY + 1);
        assert_eq!(expiry.run().expect("ran"), 1);
        assert!(!exists(&db, "used"));
        assert!(exists(&db, "admin"), "administrator-created clients are exempt");
    };

    a_client_used_after_being_listed_is_not_expired => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let repo = Arc::new(DieselClientRepository::new(db.clone()));
        store(&repo, "racer", ClientOrigin::Dynamic, T0);
        use authz_domain::registration::{StaleClientStore, StaleCutoffs};
        let cutoffs = StaleCutoffs { never_used_issued_before: Some(T0 + 1), last_used_before: None };
        assert_eq!(repo.stale_clients(&cutoffs, 10).expect("listed"), vec![("racer".to_owned(), None)]);
        // Used between the listing and the deletion.
        repo.record_use("racer", T0 + 2, T0).expect("recorded");
        let event = AuditEvent::new(T0 + 3, AuditAction::ClientExpired, "system", &RequestContext::default()).client("racer");
        assert!(!repo.delete_if_stale("racer", &cutoffs, &event).expect("ok"));
        assert!(exists(&db, "racer"));
    };
}

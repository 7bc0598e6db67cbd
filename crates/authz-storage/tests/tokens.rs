//! Signing keys, pending authorization requests, authorization codes, refresh families and
//! revoked access tokens against real databases: a fresh SQLite file and a fresh PostgreSQL
//! database per test.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier, Mutex};

use authz_domain::authorization::{
    AuthorizationCodeRecord, AuthorizationCodeRepository, AuthorizationRequest, CodeChallenge,
    ConsumeOutcome, PendingAuthorization, PendingAuthorizationRepository, Prompt,
    ResourceIndicator, ScopeSet,
};
use authz_domain::client_registration::{
    AuditAction, AuditEvent, Client, ClientMetadata, ClientOrigin, ClientRepository,
    ClientSettings, InMemoryClientRepository, RegistrationPolicy, RegistrationTokenRecord,
    RepositoryError, RequestContext,
};
use authz_domain::clients::RedirectUriKind;
use authz_domain::clock::{Clock, ManualClock};
use authz_domain::credentials::{SystemRandomSource, TokenDigest};
use authz_domain::keys::{
    KeyEncryptionKey, KeyPolicy, KeyService, SigningAlgorithm, SigningKey, SigningKeyRecord,
    SigningKeyRepository,
};
use authz_domain::token::refresh::decide;
use authz_domain::token::{
    AccessTokenRevocationRepository, RefreshDecision, RefreshFamily, RefreshRefusal,
    RefreshTokenRecord, RefreshTokenRepository, RefreshWrite,
};
use authz_storage::clients::DieselClientRepository;
use authz_storage::schema::{refresh_families, refresh_tokens};
use authz_storage::test_support::TestDatabase;
use authz_storage::{
    Backend, Database, DieselAuthorizationStore, DieselSigningKeys, DieselTokenStore,
};
use diesel::prelude::*;

macro_rules! on_both_backends {
    ($($name:ident => $body:expr;)+) => {
        mod sqlite { use super::*; $( #[test] fn $name() { ($body)(Backend::Sqlite) } )+ }
        mod postgres { use super::*; $( #[test] fn $name() { ($body)(Backend::Postgres) } )+ }
    };
}

const T0: i64 = 1_750_000_000;
/// RFC 7636 appendix B.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A database with room for 8 concurrent connections (the race tests).
fn open_wide(tdb: &TestDatabase) -> Database {
    let mut options = tdb.options();
    options.pool_size = 8;
    let db = Database::connect(&options).expect("connect");
    db.migrate().expect("migrate");
    // Open all 8 now: otherwise the racers wait for new connections one after another and
    // never actually overlap.
    let barrier = Barrier::new(8);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                db.read(|_| {
                    barrier.wait();
                    Ok(())
                })
                .expect("a connection")
            });
        }
    });
    db
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

fn audit(action: AuditAction, client_id: &str) -> AuditEvent {
    AuditEvent::new(T0, action, "client", &RequestContext::default()).client(client_id)
}

fn register(db: &Database, id: &str) -> DieselClientRepository {
    let repo = DieselClientRepository::new(db.clone());
    repo.create(
        &client(id),
        &RegistrationTokenRecord {
            digest: TokenDigest::of(&format!("rat_{id}")),
            client_id: id.into(),
            issued_at: T0,
            expires_at: None,
        },
        &audit(AuditAction::ClientRegistered, id),
    )
    .expect("client created");
    repo
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// Signing keys

fn sealed_key(kek: &KeyEncryptionKey, created_at: i64) -> SigningKeyRecord {
    let rng = SystemRandomSource::new();
    let key = SigningKey::generate(SigningAlgorithm::ES256, &rng).expect("key");
    SigningKeyRecord::seal(&key, kek, &rng, created_at, created_at).expect("sealed")
}

// ---------------------------------------------------------------------------------------------
// Pending requests and codes

fn request() -> AuthorizationRequest {
    AuthorizationRequest {
        client_id: "c1".into(),
        redirect_uri: "http://127.0.0.1:49152/callback".into(),
        redirect_uri_sent: true,
        redirect_uri_kind: RedirectUriKind::Loopback,
        state: Some("xyz \"quoted\" ✓".into()),
        code_challenge: CodeChallenge::from_stored(CHALLENGE).expect("challenge"),
        scope: ScopeSet::from("mcp offline_access".to_owned()),
        resources: vec![
            ResourceIndicator::parse("https://mcp.example.com/mcp").expect("resource"),
            ResourceIndicator::parse("https://api.example.com").expect("resource"),
        ],
        prompt: Some(Prompt::Consent),
    }
}

fn pending(id: &str, expires_at: i64) -> PendingAuthorization {
    PendingAuthorization {
        id_digest: TokenDigest::of(id),
        request: request(),
        created_at: T0,
        expires_at,
        user_id: None,
        auth_time: None,
        csrf_key: [7; 32],
    }
}

fn code(text: &str, expires_at: i64) -> AuthorizationCodeRecord {
    AuthorizationCodeRecord {
        digest: TokenDigest::of(text),
        client_id: "c1".into(),
        redirect_uri: Some("http://127.0.0.1:49152/callback".into()),
        code_challenge: CodeChallenge::from_stored(CHALLENGE).expect("challenge"),
        scope: ScopeSet::from("mcp".to_owned()),
        // Not in sorted order: the granted order must come back.
        resources: vec![
            ResourceIndicator::parse("https://z.example.com/mcp").expect("resource"),
            ResourceIndicator::parse("https://a.example.com").expect("resource"),
        ],
        user_id: "u1".into(),
        auth_time: T0 - 30,
        issued_at: T0,
        expires_at,
        family_id: "fam-1".into(),
        used_at: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Refresh families

fn family(id: &str, client_id: &str, user_id: &str, expires_at: i64) -> RefreshFamily {
    RefreshFamily {
        family_id: id.into(),
        client_id: client_id.into(),
        user_id: user_id.into(),
        scope: set(&["offline_access", "mcp"]),
        resources: set(&["https://mcp.example.com/mcp", "https://api.example.com"]),
        auth_time: T0 - 30,
        created_at: T0,
        expires_at,
        revoked_at: None,
    }
}

fn refresh_token(text: &str, family_id: &str, issued_at: i64) -> RefreshTokenRecord {
    RefreshTokenRecord {
        digest: TokenDigest::of(text),
        family_id: family_id.into(),
        issued_at,
        expires_at: issued_at + 3600,
        rotated_at: None,
    }
}

/// What the token service does with [`decide`]: rotate (with a successor named `successor`),
/// revoke the family on reuse, or write nothing.
fn service_decision(
    seen: Option<(&RefreshTokenRecord, &RefreshFamily)>,
    rotate: bool,
    grace_secs: i64,
    now: i64,
    successor: &str,
) -> (RefreshDecision, RefreshWrite) {
    let Some((token, family)) = seen else {
        return (
            RefreshDecision::Refuse(RefreshRefusal::Unknown),
            RefreshWrite::Nothing,
        );
    };
    let decision = decide(token, family, "c1", rotate, grace_secs, now);
    let write = match decision {
        RefreshDecision::Issue { rotate: true, .. } => RefreshWrite::Rotate {
            at: now,
            successor: refresh_token(successor, &family.family_id, now),
        },
        RefreshDecision::Refuse(RefreshRefusal::Reused) => RefreshWrite::RevokeFamily { at: now },
        _ => RefreshWrite::Nothing,
    };
    (decision, write)
}

fn refresh_as_service(
    store: &DieselTokenStore,
    presented: &str,
    rotate: bool,
    grace_secs: i64,
    now: i64,
    successor: &str,
) -> (RefreshDecision, Option<RefreshFamily>) {
    store
        .refresh(&TokenDigest::of(presented), &mut |seen| {
            service_decision(seen, rotate, grace_secs, now, successor)
        })
        .expect("refresh")
}

fn token_count(db: &Database, family_id: &str) -> i64 {
    db.read(|c| {
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .count()
            .get_result(c)
    })
    .expect("count")
}

fn family_count(db: &Database) -> i64 {
    db.read(|c| refresh_families::table.count().get_result(c))
        .expect("count")
}

/// A store with client `c1` and family `fam-1` (user `u1`) whose first token is `rt_first`.
fn store_with_family(db: &Database) -> DieselTokenStore {
    register(db, "c1");
    let store = DieselTokenStore::new(db.clone());
    store
        .create_family(
            &family("fam-1", "c1", "u1", T0 + 86_400),
            Some(&refresh_token("rt_first", "fam-1", T0)),
        )
        .expect("family created");
    store
}

on_both_backends! {
    // --- signing keys ---

    signing_keys_round_trip_and_retire => |backend| {
        let tdb = TestDatabase::new(backend);
        let repo = DieselSigningKeys::new(tdb.open());
        let rng = SystemRandomSource::new();
        let kek = KeyEncryptionKey::generate(&rng).expect("kek");
        assert!(repo.list().expect("list").is_empty());
        let first = sealed_key(&kek, T0);
        let second = sealed_key(&kek, T0 + 10);
        repo.insert(&second).expect("inserted");
        repo.insert(&first).expect("inserted");
        assert_eq!(repo.list().expect("list"), vec![first.clone(), second.clone()]);
        // The stored ciphertext still opens, bound to its kid.
        let opened = repo.list().expect("list")[0].open(&kek).expect("opens");
        assert_eq!(opened.kid(), first.kid);

        let err = repo.insert(&first).expect_err("duplicate kid");
        assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");

        repo.retire(&first.kid, T0 + 100, T0 + 3760).expect("retired");
        let listed = repo.list().expect("list");
        assert_eq!(listed[0].retired_at, Some(T0 + 100));
        assert_eq!(listed[0].remove_after, Some(T0 + 3760));
        assert_eq!(listed[1], second, "only the named key changed");

        let err = repo.retire("no-such-kid", T0, T0).expect_err("unknown kid");
        assert!(matches!(err, RepositoryError::NotFound(_)), "{err:?}");
    };

    the_key_service_runs_over_the_diesel_store => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let rng = Arc::new(SystemRandomSource::new());
        let clock = Arc::new(ManualClock::new(T0));
        let kek = KeyEncryptionKey::generate(rng.as_ref()).expect("kek");
        let service = KeyService::new(
            Arc::new(DieselSigningKeys::new(db.clone())),
            Arc::new(InMemoryClientRepository::new()),
            clock.clone(),
            rng.clone(),
            kek.clone(),
            KeyPolicy::default(),
        );
        let first = service.ensure_initial_key().expect("ok").expect("made one");
        assert!(service.ensure_initial_key().expect("ok").is_none(), "the stored key is seen");
        let next = service.rotate(None, "admin:ops").expect("rotated");
        // Rotation retired the first key (through `retire`) for when the next one takes over.
        let listed = service.list().expect("list");
        let old = listed.iter().find(|r| r.kid == first.kid).expect("kept");
        assert_eq!(old.retired_at, Some(next.activates_at));
        clock.advance(3600);
        // Another instance over the same database loads the same ring.
        let other = KeyService::new(
            Arc::new(DieselSigningKeys::new(db)),
            Arc::new(InMemoryClientRepository::new()),
            clock.clone(),
            rng,
            kek,
            KeyPolicy::default(),
        );
        let ring = other.load_ring().expect("ring");
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.signing_key(clock.now()).expect("a key signs").kid(), next.kid);
        assert_eq!(ring.jwk_set(clock.now()).keys.len(), 2, "the retired key stays published");
    };

    // --- pending authorization requests ---

    a_pending_request_reads_back_identically => |backend| {
        let tdb = TestDatabase::new(backend);
        let store = DieselAuthorizationStore::new(tdb.open());
        let p = pending("ar_one", T0 + 600);
        PendingAuthorizationRepository::insert(&store, &p).expect("inserted");
        assert_eq!(PendingAuthorizationRepository::find(&store, &p.id_digest).expect("ok"), Some(p.clone()));
        assert_eq!(PendingAuthorizationRepository::find(&store, &TokenDigest::of("ar_two")).expect("ok"), None);
        let err = PendingAuthorizationRepository::insert(&store, &p).expect_err("duplicate");
        assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");
    };

    a_signed_in_user_is_attached_to_the_pending_request => |backend| {
        let tdb = TestDatabase::new(backend);
        let store = DieselAuthorizationStore::new(tdb.open());
        let p = pending("ar_one", T0 + 600);
        PendingAuthorizationRepository::insert(&store, &p).expect("inserted");
        store.attach_user(&p.id_digest, "u1", T0 + 5).expect("attached");
        let found = PendingAuthorizationRepository::find(&store, &p.id_digest).expect("ok").expect("there");
        assert_eq!(found.user_id.as_deref(), Some("u1"));
        assert_eq!(found.auth_time, Some(T0 + 5));
        assert_eq!(found.request, p.request);
        // A second sign-in replaces the first.
        store.attach_user(&p.id_digest, "u2", T0 + 9).expect("attached");
        let found = PendingAuthorizationRepository::find(&store, &p.id_digest).expect("ok").expect("there");
        assert_eq!((found.user_id.as_deref(), found.auth_time), (Some("u2"), Some(T0 + 9)));

        let err = store.attach_user(&TokenDigest::of("ar_gone"), "u1", T0).expect_err("gone");
        assert!(matches!(err, RepositoryError::NotFound(_)), "{err:?}");
    };

    a_pending_request_is_deleted_once => |backend| {
        let tdb = TestDatabase::new(backend);
        let store = DieselAuthorizationStore::new(tdb.open());
        let p = pending("ar_one", T0 + 600);
        PendingAuthorizationRepository::insert(&store, &p).expect("inserted");
        assert!(store.delete(&p.id_digest).expect("ok"), "this call deleted it");
        assert!(!store.delete(&p.id_digest).expect("ok"), "already gone");
        assert_eq!(PendingAuthorizationRepository::find(&store, &p.id_digest).expect("ok"), None);
    };

    expired_pending_requests_are_deleted_from_their_expiry_on => |backend| {
        let tdb = TestDatabase::new(backend);
        let store = DieselAuthorizationStore::new(tdb.open());
        for (id, expires_at) in [("ar_a", T0 + 10), ("ar_b", T0 + 20), ("ar_c", T0 + 30)] {
            PendingAuthorizationRepository::insert(&store, &pending(id, expires_at)).expect("inserted");
        }
        assert_eq!(PendingAuthorizationRepository::delete_expired(&store, T0 + 9).expect("ok"), 0);
        // Expired at `expires_at` itself (`PendingAuthorization::is_expired`).
        assert_eq!(PendingAuthorizationRepository::delete_expired(&store, T0 + 20).expect("ok"), 2);
        assert!(PendingAuthorizationRepository::find(&store, &TokenDigest::of("ar_c")).expect("ok").is_some());
    };

    // --- authorization codes ---

    a_code_is_consumed_once_and_then_recognised_as_replayed => |backend| {
        let tdb = TestDatabase::new(backend);
        let store = DieselAuthorizationStore::new(tdb.open());
        let c = code("ac_one", T0 + 60);
        AuthorizationCodeRepository::insert(&store, &c).expect("inserted");
        let err = AuthorizationCodeRepository::insert(&store, &c).expect_err("duplicate");
        assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");

        let used = AuthorizationCodeRecord { used_at: Some(T0 + 5), ..c.clone() };
        assert_eq!(store.consume(&c.digest, T0 + 5).expect("ok"), ConsumeOutcome::Fresh(used.clone()));
        assert_eq!(store.consume(&c.digest, T0 + 6).expect("ok"), ConsumeOutcome::AlreadyUsed(used.clone()));
        // Still a replay after it expired.
        assert_eq!(store.consume(&c.digest, T0 + 600).expect("ok"), ConsumeOutcome::AlreadyUsed(used));
        assert_eq!(store.consume(&TokenDigest::of("ac_never"), T0).expect("ok"), ConsumeOutcome::Unknown);
    };

    an_expired_code_is_refused_and_stays_unused => |backend| {
        let tdb = TestDatabase::new(backend);
        let store = DieselAuthorizationStore::new(tdb.open());
        let c = code("ac_one", T0 + 60);
        AuthorizationCodeRepository::insert(&store, &c).expect("inserted");
        assert_eq!(store.consume(&c.digest, T0 + 60).expect("ok"), ConsumeOutcome::Expired(c.clone()));
        assert_eq!(store.consume(&c.digest, T0 + 61).expect("ok"), ConsumeOutcome::Expired(c));
    };

    used_codes_are_kept_until_purged => |backend| {
        let tdb = TestDatabase::new(backend);
        let store = DieselAuthorizationStore::new(tdb.open());
        let c = code("ac_one", T0 + 60);
        AuthorizationCodeRepository::insert(&store, &c).expect("inserted");
        AuthorizationCodeRepository::insert(&store, &code("ac_two", T0 + 120)).expect("inserted");
        assert!(matches!(store.consume(&c.digest, T0 + 1).expect("ok"), ConsumeOutcome::Fresh(_)));
        // Deletes codes that expired strictly before `before`.
        assert_eq!(AuthorizationCodeRepository::delete_expired(&store, T0 + 60).expect("ok"), 0);
        assert!(matches!(store.consume(&c.digest, T0 + 61).expect("ok"), ConsumeOutcome::AlreadyUsed(_)));
        assert_eq!(AuthorizationCodeRepository::delete_expired(&store, T0 + 61).expect("ok"), 1);
        assert_eq!(store.consume(&c.digest, T0 + 62).expect("ok"), ConsumeOutcome::Unknown);
        assert!(matches!(store.consume(&TokenDigest::of("ac_two"), T0 + 62).expect("ok"), ConsumeOutcome::Fresh(_)));
    };

    concurrent_exchanges_of_one_code_have_exactly_one_winner => |backend| {
        let tdb = TestDatabase::new(backend);
        let store = DieselAuthorizationStore::new(open_wide(&tdb));
        for round in 0..5 {
            let text = format!("ac_race_{round}");
            AuthorizationCodeRepository::insert(&store, &code(&text, T0 + 60)).expect("inserted");
            let digest = TokenDigest::of(&text);
            let barrier = Barrier::new(8);
            let outcomes: Vec<ConsumeOutcome> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            store.consume(&digest, T0 + 1).expect("consume")
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("thread")).collect()
            });
            let fresh = outcomes.iter().filter(|o| matches!(o, ConsumeOutcome::Fresh(_))).count();
            let replayed = outcomes.iter().filter(|o| matches!(o, ConsumeOutcome::AlreadyUsed(_))).count();
            assert_eq!((fresh, replayed), (1, 7), "round {round}: {outcomes:?}");
        }
    };

    // --- refresh families ---

    a_family_and_its_token_read_back_identically => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let store = store_with_family(&db);
        let (token, fam) = store.find(&TokenDigest::of("rt_first")).expect("ok").expect("found");
        assert_eq!(token, refresh_token("rt_first", "fam-1", T0));
        assert_eq!(fam, family("fam-1", "c1", "u1", T0 + 86_400));
        assert_eq!(store.find(&TokenDigest::of("rt_other")).expect("ok"), None);

        // Empty sets and "never" survive too.
        let mut bare = family("fam-2", "c1", "u1", i64::MAX);
        bare.scope.clear();
        bare.resources.clear();
        let mut forever = refresh_token("rt_bare", "fam-2", T0);
        forever.expires_at = i64::MAX;
        store.create_family(&bare, Some(&forever)).expect("created");
        assert_eq!(store.find(&forever.digest).expect("ok"), Some((forever, bare)));
    };

    a_family_needs_its_client_and_a_new_id => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let store = store_with_family(&db);
        let err = store
            .create_family(&family("fam-x", "gone", "u1", T0 + 10), Some(&refresh_token("rt_x", "fam-x", T0)))
            .expect_err("no such client");
        assert!(matches!(err, RepositoryError::NotFound(_)), "{err:?}");
        let err = store
            .create_family(&family("fam-1", "c1", "u1", T0 + 10), Some(&refresh_token("rt_y", "fam-1", T0)))
            .expect_err("family exists");
        assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");
        assert_eq!(store.find(&TokenDigest::of("rt_y")).expect("ok"), None, "nothing half-written");
        assert_eq!(family_count(&db), 1);
    };

    a_refresh_without_rotation_writes_nothing => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let store = store_with_family(&db);
        let (decision, fam) = refresh_as_service(&store, "rt_first", false, 0, T0 + 10, "rt_unused");
        assert_eq!(decision, RefreshDecision::Issue { rotate: false, within_grace: false });
        assert_eq!(fam.expect("family").family_id, "fam-1");
        assert_eq!(token_count(&db, "fam-1"), 1);
        let (token, _) = store.find(&TokenDigest::of("rt_first")).expect("ok").expect("found");
        assert_eq!(token.rotated_at, None);
    };

    an_unknown_token_is_decided_without_a_family => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let store = store_with_family(&db);
        let mut calls = Vec::new();
        let result = store
            .refresh(&TokenDigest::of("rt_unknown"), &mut |seen| {
                calls.push(seen.is_none());
                (RefreshDecision::Refuse(RefreshRefusal::Unknown), RefreshWrite::Nothing)
            })
            .expect("ok");
        assert_eq!(result, (RefreshDecision::Refuse(RefreshRefusal::Unknown), None));
        assert_eq!(calls, vec![true]);
        // A decider asking to write for an unknown token is a bug: refused, nothing written.
        let err = store
            .refresh(&TokenDigest::of("rt_unknown"), &mut |_| {
                (
                    RefreshDecision::Issue { rotate: true, within_grace: false },
                    RefreshWrite::RevokeFamily { at: T0 },
                )
            })
            .expect_err("refused");
        assert!(matches!(err, RepositoryError::Other(_)), "{err:?}");
    };

    a_rotation_replaces_the_token_and_reuse_after_the_grace_window_revokes_the_family => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let store = store_with_family(&db);
        let (decision, _) = refresh_as_service(&store, "rt_first", true, 5, T0 + 10, "rt_second");
        assert_eq!(decision, RefreshDecision::Issue { rotate: true, within_grace: false });
        let (first, _) = store.find(&TokenDigest::of("rt_first")).expect("ok").expect("kept");
        assert_eq!(first.rotated_at, Some(T0 + 10));
        let (second, _) = store.find(&TokenDigest::of("rt_second")).expect("ok").expect("stored");
        assert_eq!(second, refresh_token("rt_second", "fam-1", T0 + 10));

        // A duplicate within the grace window: a fresh pair, the first rotation time kept.
        let (decision, _) = refresh_as_service(&store, "rt_first", true, 5, T0 + 15, "rt_third");
        assert_eq!(decision, RefreshDecision::Issue { rotate: true, within_grace: true });
        let (first, _) = store.find(&TokenDigest::of("rt_first")).expect("ok").expect("kept");
        assert_eq!(first.rotated_at, Some(T0 + 10));
        assert_eq!(token_count(&db, "fam-1"), 3);

        // After it: reuse, and the whole family is revoked in the same transaction.
        let (decision, fam) = refresh_as_service(&store, "rt_first", true, 5, T0 + 16, "rt_never");
        assert_eq!(decision, RefreshDecision::Refuse(RefreshRefusal::Reused));
        assert_eq!(fam.expect("family as read").revoked_at, None);
        assert_eq!(store.find(&TokenDigest::of("rt_never")).expect("ok"), None);
        let (_, fam) = store.find(&TokenDigest::of("rt_second")).expect("ok").expect("kept");
        assert_eq!(fam.revoked_at, Some(T0 + 16));
        assert!(!store.family_is_active("fam-1", T0 + 17).expect("ok"));
        // Every descendant is refused now.
        let (decision, _) = refresh_as_service(&store, "rt_second", true, 5, T0 + 17, "rt_never");
        assert_eq!(decision, RefreshDecision::Refuse(RefreshRefusal::Revoked));
        let (decision, _) = refresh_as_service(&store, "rt_third", true, 5, T0 + 17, "rt_never");
        assert_eq!(decision, RefreshDecision::Refuse(RefreshRefusal::Revoked));
        assert_eq!(token_count(&db, "fam-1"), 3);
    };

    concurrent_refreshes_of_one_token_are_serialised_by_the_family_lock => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = open_wide(&tdb);
        let store = store_with_family(&db);
        let now = T0 + 10;
        // What each call of `decide` saw of the presented token.
        let seen_rotated_at: Mutex<Vec<Option<i64>>> = Mutex::new(Vec::new());
        let barrier = Barrier::new(8);
        let decisions: Vec<RefreshDecision> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (store, barrier, seen) = (&store, &barrier, &seen_rotated_at);
                    s.spawn(move || {
                        barrier.wait();
                        let successor = format!("rt_successor_{i}");
                        let (decision, _) = store
                            .refresh(&TokenDigest::of("rt_first"), &mut |found| {
                                let (token, _) = found.expect("the token exists");
                                seen.lock().expect("lock").push(token.rotated_at);
                                // Widen the window a missing lock would let others into.
                                std::thread::sleep(std::time::Duration::from_millis(5));
                                service_decision(found, true, 0, now, &successor)
                            })
                            .expect("refresh");
                        decision
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        let seen = seen_rotated_at.into_inner().expect("lock");
        assert_eq!(seen.len(), 8, "decide ran once per refresh");
        assert_eq!(seen.iter().filter(|r| r.is_none()).count(), 1, "exactly one saw it unrotated: {seen:?}");
        assert_eq!(seen.iter().filter(|r| **r == Some(now)).count(), 7, "the others saw the winner's rotation: {seen:?}");
        let winners = decisions
            .iter()
            .filter(|d| **d == RefreshDecision::Issue { rotate: true, within_grace: false })
            .count();
        assert_eq!(winners, 1, "{decisions:?}");
        // With a 0-second grace, the others in the same second get the grace answer.
        assert!(decisions.iter().all(|d| matches!(d, RefreshDecision::Issue { rotate: true, .. })));
        let (first, fam) = store.find(&TokenDigest::of("rt_first")).expect("ok").expect("kept");
        assert_eq!(first.rotated_at, Some(now));
        assert_eq!(fam.revoked_at, None);
        assert_eq!(token_count(&db, "fam-1"), 9);

        // One second later the grace window (0 s) is over: reuse revokes the family.
        let (decision, _) = refresh_as_service(&store, "rt_first", true, 0, now + 1, "rt_never");
        assert_eq!(decision, RefreshDecision::Refuse(RefreshRefusal::Reused));
        assert!(!store.family_is_active("fam-1", now + 1).expect("ok"));
    };

    revoking_a_family_is_idempotent => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let store = store_with_family(&db);
        assert!(store.family_is_active("fam-1", T0).expect("ok"));
        assert!(store.revoke_family("fam-1", T0 + 5).expect("ok"));
        assert!(store.revoke_family("fam-1", T0 + 9).expect("ok"), "already revoked is still true");
        assert!(!store.revoke_family("fam-none", T0).expect("ok"));
        let (_, fam) = store.find(&TokenDigest::of("rt_first")).expect("ok").expect("found");
        assert_eq!(fam.revoked_at, Some(T0 + 5), "the first revocation time stays");
        assert!(!store.family_is_active("fam-1", T0).expect("ok"));
        assert!(!store.family_is_active("fam-none", T0).expect("ok"));
    };

    a_family_is_active_until_it_expires => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let store = store_with_family(&db);
        assert!(store.family_is_active("fam-1", T0 + 86_399).expect("ok"));
        assert!(!store.family_is_active("fam-1", T0 + 86_400).expect("ok"));
    };

    a_clients_or_a_users_live_families_are_revoked_together => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let store = store_with_family(&db);
        register(&db, "c2");
        let families = [
            ("fam-2", "c1", "u2", T0 + 1000),
            ("fam-3", "c2", "u1", T0 + 1000),
            ("fam-4", "c2", "u2", T0 + 1000),
            ("fam-old", "c1", "u1", T0 + 1),
        ];
        for (id, client_id, user_id, expires_at) in families {
            store
                .create_family(&family(id, client_id, user_id, expires_at), Some(&refresh_token(&format!("rt_{id}"), id, T0)))
                .expect("created");
        }
        store.revoke_family("fam-2", T0 + 2).expect("ok");
        // Live families only: fam-2 is revoked already and fam-old has expired.
        assert_eq!(store.revoke_client_families("c1", T0 + 5).expect("ok"), 1);
        assert!(!store.family_is_active("fam-1", T0 + 6).expect("ok"));
        assert!(store.family_is_active("fam-3", T0 + 6).expect("ok"));
        assert_eq!(store.revoke_user_families("u2", T0 + 7).expect("ok"), 1);
        assert!(!store.family_is_active("fam-4", T0 + 8).expect("ok"));
        assert!(store.family_is_active("fam-3", T0 + 8).expect("ok"));
        assert_eq!(store.revoke_user_families("u2", T0 + 9).expect("ok"), 0);
    };

    purging_deletes_expired_and_revoked_families_with_their_tokens => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let store = store_with_family(&db);
        for (id, expires_at) in [("fam-exp", T0 + 50), ("fam-rev", T0 + 1000), ("fam-live", T0 + 1000)] {
            store
                .create_family(&family(id, "c1", "u1", expires_at), Some(&refresh_token(&format!("rt_{id}"), id, T0)))
                .expect("created");
        }
        refresh_as_service(&store, "rt_fam-exp", true, 0, T0 + 1, "rt_fam-exp-2");
        store.revoke_family("fam-rev", T0 + 60).expect("ok");
        assert_eq!(store.purge(T0 + 50).expect("ok"), 0, "strictly before");
        assert_eq!(store.purge(T0 + 61).expect("ok"), 2);
        assert_eq!(token_count(&db, "fam-exp"), 0, "tokens go with their family");
        assert_eq!(token_count(&db, "fam-rev"), 0);
        assert_eq!(store.find(&TokenDigest::of("rt_fam-exp-2")).expect("ok"), None);
        assert!(store.find(&TokenDigest::of("rt_fam-live")).expect("ok").is_some());
        assert_eq!(family_count(&db), 2);
    };

    deleting_a_client_deletes_its_families_and_tokens => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let store = store_with_family(&db);
        let other = register(&db, "c2");
        store
            .create_family(&family("fam-2", "c2", "u1", T0 + 1000), Some(&refresh_token("rt_two", "fam-2", T0)))
            .expect("created");
        refresh_as_service(&store, "rt_first", true, 0, T0 + 1, "rt_first_2");
        other.delete("c1", None, &audit(AuditAction::ClientDeleted, "c1")).expect("deleted");
        assert_eq!(store.find(&TokenDigest::of("rt_first")).expect("ok"), None);
        assert_eq!(store.find(&TokenDigest::of("rt_first_2")).expect("ok"), None);
        assert_eq!(token_count(&db, "fam-1"), 0);
        assert!(!store.family_is_active("fam-1", T0 + 2).expect("ok"));
        let (decision, fam) = refresh_as_service(&store, "rt_first_2", true, 0, T0 + 2, "rt_never");
        assert_eq!((decision, fam), (RefreshDecision::Refuse(RefreshRefusal::Unknown), None));
        assert!(store.family_is_active("fam-2", T0 + 2).expect("ok"), "other clients keep theirs");
    };

    // --- revoked access tokens ---

    access_token_revocations_are_idempotent_and_purged_after_expiry => |backend| {
        let tdb = TestDatabase::new(backend);
        let store = DieselTokenStore::new(tdb.open());
        assert!(!store.is_revoked("jti-1").expect("ok"));
        store.revoke("jti-1", T0 + 300).expect("revoked");
        store.revoke("jti-1", T0 + 300).expect("again: no error");
        store.revoke("jti-2", T0 + 600).expect("revoked");
        assert!(store.is_revoked("jti-1").expect("ok"));
        assert!(store.is_revoked("jti-2").expect("ok"));
        assert_eq!(store.purge_expired(T0 + 300).expect("ok"), 0, "kept until it expired");
        assert_eq!(store.purge_expired(T0 + 301).expect("ok"), 1);
        assert!(!store.is_revoked("jti-1").expect("ok"));
        assert!(store.is_revoked("jti-2").expect("ok"));
    };
}

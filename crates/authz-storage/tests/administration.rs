//! The administration ports against real databases: search (literal, case-insensitive in any
//! language), the maintained client count, revision checks, secret rotation, token reissue,
//! administrator tokens and the audit trail, on SQLite and PostgreSQL.

use authz_domain::administration::{
    AdminPolicy, AdminScopes, AdminToken, AdminTokenRepository, AuditListParams, AuditQuery,
    ClientAdministration, ClientListParams, ClientQuery,
};
use authz_domain::audit::{AuditAction, AuditEvent, RequestContext};
use authz_domain::clients::{
    Client, ClientMetadata, ClientOrigin, ClientRepository, ClientSettings, PreviousSecret,
    RegistrationPolicy, RegistrationTokenRecord,
};
use authz_domain::credentials::TokenDigest;
use authz_domain::error::RepositoryError;
use authz_storage::clients::DieselClientRepository;
use authz_storage::schema::{audit_events, clients, registration_access_tokens};
use authz_storage::test_support::TestDatabase;
use authz_storage::{Backend, Database};
use diesel::prelude::*;

macro_rules! on_both_backends {
    ($($name:ident => $body:expr;)+) => {
        mod sqlite { use super::*; $( #[test] fn $name() { ($body)(Backend::Sqlite) } )+ }
        mod postgres { use super::*; $( #[test] fn $name() { ($body)(Backend::Postgres) } )+ }
    };
}

fn client(id: &str, name: &str, issued_at: i64) -> Client {
    let raw = serde_json::json!({
        "client_name": name,
        "redirect_uris": ["http://127.0.0.1:3000/callback"],
        "token_endpoint_auth_method": "client_secret_basic",
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
        issued_at,
        updated_at: issued_at,
        origin: ClientOrigin::Admin,
        is_locked: false,
        settings: ClientSettings::default(),
        previous_secret: None,
        revision: 0,
    }
}

fn event(action: AuditAction, client_id: &str) -> AuditEvent {
    AuditEvent::new(
        1_750_000_000,
        action,
        "admin:ops",
        &RequestContext::default(),
    )
    .client(client_id)
}

fn token(client_id: &str, token: &str) -> RegistrationTokenRecord {
    RegistrationTokenRecord {
        digest: TokenDigest::of(token),
        client_id: client_id.into(),
        issued_at: 1_750_000_000,
        expires_at: None,
    }
}

fn store(repo: &DieselClientRepository, c: &Client) {
    repo.create(
        c,
        &token(&c.client_id, &format!("rat_{}", c.client_id)),
        &event(AuditAction::ClientCreated, &c.client_id),
    )
    .expect("created");
}

fn policy() -> AdminPolicy {
    AdminPolicy::from_registration(&RegistrationPolicy::default())
}

fn query(q: Option<&str>, page: u64, per_page: u64, sort: Option<&str>) -> ClientQuery {
    ClientQuery::parse(
        &ClientListParams {
            q: q.map(Into::into),
            page: Some(page.to_string()),
            per_page: Some(per_page.to_string()),
            sort: sort.map(Into::into),
        },
        &policy(),
    )
    .expect("valid query")
}

fn ids(repo: &DieselClientRepository, q: &ClientQuery) -> (Vec<String>, u64) {
    let page = repo.search(q).expect("search");
    (
        page.clients.into_iter().map(|c| c.client_id).collect(),
        page.total,
    )
}

fn audit_count(db: &Database) -> i64 {
    db.read(|c| audit_events::table.count().get_result(c))
        .expect("count")
}

on_both_backends! {
    pages_are_newest_first_stable_and_counted => |backend| {
        let tdb = TestDatabase::new(backend);
        let repo = DieselClientRepository::new(tdb.open());
        // Three clients share one second: ties break by client id, so pages never overlap.
        for (id, at) in [("a", 10), ("b", 20), ("c", 20), ("d", 20), ("e", 30)] {
            store(&repo, &client(id, &format!("client {id}"), at));
        }
        assert_eq!(ids(&repo, &query(None, 1, 2, None)), (vec!["e".into(), "d".into()], 5));
        assert_eq!(ids(&repo, &query(None, 2, 2, None)), (vec!["c".into(), "b".into()], 5));
        assert_eq!(ids(&repo, &query(None, 3, 2, None)), (vec!["a".into()], 5));
        assert_eq!(ids(&repo, &query(None, 4, 2, None)), (vec![], 5));
        assert_eq!(ids(&repo, &query(None, 1, 5, Some("issued_at"))).0, ["a", "b", "c", "d", "e"]);
        assert_eq!(ids(&repo, &query(None, 1, 5, Some("-client_id"))).0, ["e", "d", "c", "b", "a"]);
        assert_eq!(ids(&repo, &query(None, 1, 5, Some("client_id"))).0, ["a", "b", "c", "d", "e"]);
        // The maintained count follows deletes.
        repo.delete("c", None, &event(AuditAction::ClientDeleted, "c")).expect("deleted");
        assert_eq!(ids(&repo, &query(None, 1, 10, None)).1, 4);
    };

    search_is_case_insensitive_in_any_language_and_literal => |backend| {
        let tdb = TestDatabase::new(backend);
        let repo = DieselClientRepository::new(tdb.open());
        store(&repo, &client("ecole-1", "École Polytechnique", 1));
        store(&repo, &client("greek-1", "ΣΟΦΊΑ Tools", 2));
        store(&repo, &client("pct-1", "50% off", 3));
        store(&repo, &client("pct-2", "500 off", 4));
        store(&repo, &client("under-1", "a_b", 5));
        store(&repo, &client("under-2", "axb", 6));
        store(&repo, &client("quote-1", "O'Brien \\ \"quoted\"", 7));
        let find = |q: &str| {
            let (mut found, total) = ids(&repo, &query(Some(q), 1, 100, None));
            found.sort();
            assert_eq!(found.len() as u64, total, "{q}");
            found
        };
        assert_eq!(find("école"), ["ecole-1"]);
        assert_eq!(find("ÉCOLE"), ["ecole-1"]);
        assert_eq!(find("σοφία"), ["greek-1"]);
        assert_eq!(find("ECOLE-"), ["ecole-1"], "client ids are searched too");
        // Wildcards are literal characters.
        assert_eq!(find("50%"), ["pct-1"]);
        assert_eq!(find("%"), ["pct-1"]);
        assert_eq!(find("a_b"), ["under-1"]);
        assert_eq!(find("_"), ["under-1"]);
        assert_eq!(find("o'brien"), ["quote-1"]);
        assert_eq!(find("\\"), ["quote-1"]);
        assert_eq!(find("\"quoted\""), ["quote-1"]);
        assert!(find("nothing like this").is_empty());
    };

    stale_revisions_are_refused_and_write_nothing => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let repo = DieselClientRepository::new(db.clone());
        let c = client("abc", "before", 1);
        store(&repo, &c);
        let mut first = c.clone();
        first.metadata.client_name = Some("first".into());
        repo.update(&first, None, None, &event(AuditAction::ClientUpdated, "abc")).expect("updated");
        let mut second = c.clone();
        second.metadata.client_name = Some("second".into());
        let before = audit_count(&db);
        let err = repo.update(&second, None, None, &event(AuditAction::ClientUpdated, "abc")).expect_err("stale");
        assert!(matches!(err, RepositoryError::Stale(_)), "{err:?}");
        assert_eq!(audit_count(&db), before, "no audit record for a refused change");
        let stored = repo.find("abc").expect("ok").expect("client");
        assert_eq!(stored.metadata.client_name.as_deref(), Some("first"));
        assert_eq!(stored.revision, 1);
        // A lock moves the revision on too, so an update computed before it cannot undo it.
        repo.set_locked("abc", true, &event(AuditAction::ClientLocked, "abc")).expect("locked");
        let err = repo.update(&stored, None, None, &event(AuditAction::ClientUpdated, "abc")).expect_err("stale");
        assert!(matches!(err, RepositoryError::Stale(_)), "{err:?}");
        assert!(repo.find("abc").expect("ok").expect("client").is_locked);
    };

    settings_and_search_text_follow_updates => |backend| {
        let tdb = TestDatabase::new(backend);
        let repo = DieselClientRepository::new(tdb.open());
        let c = client("abc", "Old Name", 1);
        store(&repo, &c);
        let mut changed = c.clone();
        changed.metadata.client_name = Some("Nouveau Nom".into());
        changed.settings = ClientSettings { require_consent: false, access_token_lifetime_secs: 600, ..ClientSettings::default() };
        repo.update(&changed, None, None, &event(AuditAction::ClientUpdated, "abc")).expect("updated");
        let stored = repo.find("abc").expect("ok").expect("client");
        assert_eq!(stored.settings, changed.settings);
        assert_eq!(ids(&repo, &query(Some("nouveau"), 1, 10, None)).0, ["abc"]);
        assert!(ids(&repo, &query(Some("old name"), 1, 10, None)).0.is_empty());
    };

    secret_rotation_keeps_the_previous_secret_and_checks_the_revision => |backend| {
        let tdb = TestDatabase::new(backend);
        let repo = DieselClientRepository::new(tdb.open());
        let c = client("abc", "x", 1);
        store(&repo, &c);
        let previous = PreviousSecret { hash: c.secret_hash.clone().expect("hash"), valid_until: 1_750_003_600 };
        repo.rotate_secret("abc", 0, "$argon2id$new", 0, Some(&previous), &event(AuditAction::SecretRotated, "abc"))
            .expect("rotated");
        let stored = repo.find("abc").expect("ok").expect("client");
        assert_eq!(stored.secret_hash.as_deref(), Some("$argon2id$new"));
        assert_eq!(stored.previous_secret, Some(previous));
        assert_eq!(stored.revision, 1);
        let err = repo.rotate_secret("abc", 0, "$argon2id$other", 0, None, &event(AuditAction::SecretRotated, "abc"))
            .expect_err("stale");
        assert!(matches!(err, RepositoryError::Stale(_)), "{err:?}");
        let err = repo.rotate_secret("nope", 0, "$argon2id$other", 0, None, &event(AuditAction::SecretRotated, "nope"))
            .expect_err("missing");
        assert!(matches!(err, RepositoryError::NotFound(_)), "{err:?}");
    };

    reissue_revokes_every_other_token => |backend| {
        let tdb = TestDatabase::new(backend);
        let db = tdb.open();
        let repo = DieselClientRepository::new(db.clone());
        store(&repo, &client("abc", "x", 1));
        repo.reissue_token(&token("abc", "rat_fresh"), &event(AuditAction::TokenReissued, "abc")).expect("reissued");
        let live: Vec<Vec<u8>> = db
            .read(|c| {
                registration_access_tokens::table
                    .filter(registration_access_tokens::revoked_at.is_null())
                    .select(registration_access_tokens::token_digest)
                    .load(c)
            })
            .expect("tokens");
        assert_eq!(live, vec![TokenDigest::of("rat_fresh").as_bytes().to_vec()]);
        let err = repo.reissue_token(&token("gone", "rat_x"), &event(AuditAction::TokenReissued, "gone")).expect_err("missing");
        assert!(matches!(err, RepositoryError::NotFound(_)), "{err:?}");
    };

    admin_tokens_are_stored_as_digests_and_names_never_reused => |backend| {
        let tdb = TestDatabase::new(backend);
        let repo = DieselClientRepository::new(tdb.open());
        let t = AdminToken {
            name: "ops".into(),
            digest: TokenDigest::of("adm_secret"),
            scopes: AdminScopes::parse("client:read audit:read").expect("scopes"),
            created_at: 1,
            expires_at: Some(100),
            revoked_at: None,
        };
        repo.create_admin_token(&t, &event(AuditAction::AdminTokenCreated, "")).expect("created");
        assert_eq!(repo.find_admin_token(&TokenDigest::of("adm_secret")).expect("ok"), Some(t.clone()));
        assert_eq!(repo.find_admin_token(&TokenDigest::of("adm_other")).expect("ok"), None);
        let again = AdminToken { digest: TokenDigest::of("adm_2"), ..t.clone() };
        let err = repo.create_admin_token(&again, &event(AuditAction::AdminTokenCreated, "")).expect_err("dup");
        assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");
        repo.revoke_admin_token("ops", &event(AuditAction::AdminTokenRevoked, "")).expect("revoked");
        repo.revoke_admin_token("ops", &event(AuditAction::AdminTokenRevoked, "")).expect("idempotent");
        let listed = repo.list_admin_tokens().expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].revoked_at, Some(1_750_000_000));
        let err = repo.revoke_admin_token("nobody", &event(AuditAction::AdminTokenRevoked, "")).expect_err("missing");
        assert!(matches!(err, RepositoryError::NotFound(_)), "{err:?}");
    };

    audit_events_page_newest_first_with_filters => |backend| {
        let tdb = TestDatabase::new(backend);
        let repo = DieselClientRepository::new(tdb.open());
        store(&repo, &client("abc", "x", 1));
        store(&repo, &client("def", "y", 2));
        for i in 0..5 {
            let mut e = AuditEvent::new(1_800_000_000 + i, AuditAction::ClientRead, "client", &RequestContext::default()).client("abc");
            if i == 4 {
                e = e.refused("revoked token");
            }
            authz_domain::audit::AuditLog::record(&authz_storage::DieselAuditLog::start(repo_db(&tdb)).expect("log"), e).expect("queued");
        }
        // The group-commit writer flushes on drop (above); read back.
        let q = |p: AuditListParams| {
            let q = AuditQuery::parse(&p, &policy()).expect("query");
            repo.audit_events(&q).expect("events")
        };
        let all = q(AuditListParams { per_page: Some("3".into()), ..Default::default() });
        assert_eq!(all.events.len(), 3);
        assert!(all.has_more);
        assert!(all.events.windows(2).all(|w| w[0].id > w[1].id), "newest first");
        let reads = q(AuditListParams { client_id: Some("abc".into()), action: Some("client.read".into()), ..Default::default() });
        assert_eq!(reads.events.len(), 5);
        assert!(!reads.has_more);
        let window = q(AuditListParams { action: Some("client.read".into()), since: Some("1800000001".into()), until: Some("1800000003".into()), ..Default::default() });
        assert_eq!(window.events.iter().map(|e| e.occurred_at).collect::<Vec<_>>(), [1_800_000_002, 1_800_000_001]);
        let created = q(AuditListParams { client_id: Some("def".into()), ..Default::default() });
        assert_eq!(created.events.len(), 1);
        assert_eq!(created.events[0].action, "client.created");
        assert_eq!(created.events[0].actor, "admin:ops");
        // Last use: the `client_activity` column, not the audit trail (the reads above do not
        // count until recorded as use).
        assert_eq!(repo.last_used("abc").expect("ok"), None);
        use authz_domain::clients::ClientUsageStore as _;
        assert!(repo.record_use("abc", 1_800_000_003, 1_800_000_003 - 300).expect("recorded"));
        assert_eq!(repo.last_used("abc").expect("ok"), Some(1_800_000_003));
        assert_eq!(repo.last_used("def").expect("ok"), None);
    };
}

fn repo_db(tdb: &TestDatabase) -> Database {
    tdb.open()
}

#[test]
fn the_client_count_survives_a_direct_insert() {
    // The count is kept by triggers, so rows written outside the server count too.
    let tdb = TestDatabase::new(Backend::Sqlite);
    let db = tdb.open();
    let repo = DieselClientRepository::new(db.clone());
    store(&repo, &client("abc", "x", 1));
    let metadata = serde_json::to_string(&client("direct", "y", 2).metadata).expect("json");
    db.read(|c| {
        diesel::insert_into(clients::table)
            .values((
                clients::client_id.eq("direct"),
                clients::token_endpoint_auth_method.eq("none"),
                clients::metadata.eq(&metadata),
                clients::issued_at.eq(2_i64),
                clients::updated_at.eq(2_i64),
            ))
            .execute(c)
    })
    .expect("inserted");
    assert_eq!(ids(&repo, &query(None, 1, 10, None)).1, 2);
}

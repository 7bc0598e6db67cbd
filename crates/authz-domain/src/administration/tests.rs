//! Unit tests of the administration use cases over the in-memory repository.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Map, Value};

use crate::client_registration::*;
use crate::clock::ManualClock;
use crate::credentials::TokenDigest;

const NOW: i64 = 1_750_000_000;

struct Fixture {
    admin: AdminService,
    svc: RegistrationService,
    repo: Arc<InMemoryClientRepository>,
    clock: Arc<ManualClock>,
}

fn fixture_with(repo_for_service: Option<Arc<dyn ClientRepository>>) -> Fixture {
    let repo = Arc::new(InMemoryClientRepository::new());
    let clock = Arc::new(ManualClock::new(NOW));
    let policy = RegistrationPolicy::default();
    let svc = RegistrationService::new(
        repo_for_service.unwrap_or_else(|| repo.clone()),
        repo.clone(),
        Arc::new(policy.clone()),
        crate::testing::cheap_issuer(),
        clock.clone(),
    );
    let admin = AdminService::new(
        svc.clone(),
        repo.clone(),
        repo.clone(),
        Arc::new(AdminPolicy::from_registration(&policy)),
    );
    Fixture {
        admin,
        svc,
        repo,
        clock,
    }
}

fn fixture() -> Fixture {
    fixture_with(None)
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().expect("object").clone()
}

fn bearer(token: &SecretString) -> PresentedToken {
    PresentedToken::Bearer(token.clone())
}

fn ctx() -> RequestContext {
    RequestContext::default()
}

fn token(f: &Fixture, name: &str, scopes: &str) -> PresentedToken {
    let issued = f
        .admin
        .create_admin_token(
            name,
            AdminScopes::parse(scopes).expect("scopes"),
            Some(3600),
        )
        .expect("token");
    assert!(issued
        .plaintext
        .expose_secret()
        .starts_with(ADMIN_TOKEN_PREFIX));
    bearer(&issued.plaintext)
}

fn root(f: &Fixture) -> SecretString {
    match token(f, "root", "client:admin") {
        PresentedToken::Bearer(t) => t,
        _ => unreachable!(),
    }
}

fn confidential(id: &str) -> Value {
    json!({"client_id": id, "client_name": "Billing", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"})
}

#[test]
fn tokens_are_checked_before_anything_and_refusals_are_audited() {
    let f = fixture();
    let missing = f
        .admin
        .list_clients(
            PresentedToken::Missing,
            &ClientListParams::default(),
            &ctx(),
        )
        .expect_err("missing");
    assert!(matches!(missing, RegistrationError::MissingToken(_)));
    let unknown = f
        .admin
        .get_client(bearer(&SecretString::from("adm_nope")), "x", &ctx())
        .expect_err("unknown");
    assert!(
        matches!(&unknown, RegistrationError::InvalidToken(m) if m == ADMIN_INVALID_TOKEN_MESSAGE)
    );
    // An administrator token expires.
    let reader = token(&f, "reader", "client:read");
    f.clock.advance(3600);
    let expired = f
        .admin
        .list_clients(reader, &ClientListParams::default(), &ctx())
        .expect_err("expired");
    assert!(matches!(expired, RegistrationError::InvalidToken(_)));
    let denied: Vec<AuditEvent> = f
        .repo
        .audit_events()
        .into_iter()
        .filter(|e| e.action == AuditAction::AdminDenied)
        .collect();
    assert_eq!(denied.len(), 3);
    assert!(denied.iter().all(|e| !e.succeeded));
    assert!(denied[2]
        .detail
        .as_deref()
        .is_some_and(|d| d.contains("expired token reader")));
}

#[test]
fn a_token_without_the_scope_gets_insufficient_scope_naming_it() {
    let f = fixture();
    let reader = token(&f, "reader", "client:read audit:read");
    let err = f
        .admin
        .delete_client(reader, "x", &ctx())
        .expect_err("scope");
    match err {
        RegistrationError::InsufficientScope { scope, message } => {
            assert_eq!(scope, "client:delete");
            assert!(message.contains("client:read"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let last = f.repo.audit_events().pop().expect("audited");
    assert_eq!(last.actor, "admin:reader");
    assert_eq!(last.action, AuditAction::AdminDenied);
}

#[test]
fn revoked_tokens_stop_at_once() {
    let f = fixture();
    let t = root(&f);
    f.admin.revoke_admin_token("root").expect("revoked");
    assert!(f
        .admin
        .list_clients(bearer(&t), &ClientListParams::default(), &ctx())
        .is_err());
    assert!(matches!(
        f.admin.revoke_admin_token("nobody"),
        Err(RegistrationError::NotFound(_))
    ));
    assert!(matches!(
        f.admin
            .create_admin_token("root", AdminScopes::parse("client:read").expect("s"), None),
        Err(RegistrationError::Conflict(_))
    ));
}

#[test]
fn administrators_create_what_open_registration_refuses() {
    let f = fixture();
    let t = root(&f);
    let refused = f
        .svc
        .register(&obj(confidential("x")), &ctx())
        .expect_err("open registration");
    assert_eq!(refused.code(), ErrorCode::InvalidClientMetadata);
    let created = f
        .admin
        .create_client(bearer(&t), Ok(&obj(confidential("billing-svc"))), &ctx())
        .expect("created");
    assert_eq!(created.client.client_id, "billing-svc");
    assert_eq!(created.client.origin, ClientOrigin::Admin);
    assert!(created.client_secret.is_some());
    let event = f.repo.audit_events().pop().expect("audited");
    assert_eq!(event.action, AuditAction::ClientCreated);
    assert_eq!(event.actor, "admin:root");
    // The id is taken, and stays taken after a delete.
    let again = f
        .admin
        .create_client(bearer(&t), Ok(&obj(confidential("billing-svc"))), &ctx())
        .expect_err("taken");
    assert_eq!(again.code(), ErrorCode::Conflict);
    f.admin
        .delete_client(bearer(&t), "billing-svc", &ctx())
        .expect("deleted");
    let reused = f
        .admin
        .create_client(bearer(&t), Ok(&obj(confidential("billing-svc"))), &ctx())
        .expect_err("never reused");
    assert_eq!(reused.code(), ErrorCode::Conflict);
    assert!(matches!(
        f.admin.delete_client(bearer(&t), "billing-svc", &ctx()),
        Err(RegistrationError::NotFound(_))
    ));
}

#[test]
fn creation_refuses_bad_ids_server_set_members_and_bad_settings() {
    let f = fixture();
    let t = root(&f);
    let before = f.repo.len();
    for (body, start) in [
        (
            json!({"client_id": "a b", "grant_types": ["client_credentials"]}),
            "client_id: ",
        ),
        (
            json!({"client_id": "café", "grant_types": ["client_credentials"]}),
            "client_id: ",
        ),
        (json!({"client_id": 7}), "client_id: expected a string"),
        (
            json!({"client_secret": "mine", "grant_types": ["client_credentials"]}),
            "client_secret: must not be sent",
        ),
        (
            json!({"grant_types": ["client_credentials"], "settings": {"access_token_lifetime_secs": 5}}),
            "settings.access_token_lifetime_secs: ",
        ),
        (
            json!({"grant_types": ["client_credentials"], "settings": {"colour": "blue"}}),
            "settings.colour: unknown setting",
        ),
        (
            json!({"grant_types": ["client_credentials"], "settings": {"access_token_lifetime_secs": 7200, "refresh_token_lifetime_secs": 3600}}),
            "settings.refresh_token_lifetime_secs: ",
        ),
    ] {
        let err = f
            .admin
            .create_client(bearer(&t), Ok(&obj(body.clone())), &ctx())
            .expect_err("refused");
        assert!(err.to_string().starts_with(start), "{body}: {err}");
    }
    assert_eq!(f.repo.len(), before, "nothing written");
}

#[test]
fn replacement_keeps_settings_unless_sent_and_records_the_administrator() {
    let f = fixture();
    let t = root(&f);
    let mut body = confidential("svc");
    body["settings"] = json!({"require_consent": false});
    f.admin
        .create_client(bearer(&t), Ok(&obj(body)), &ctx())
        .expect("created");
    let renamed = json!({"client_name": "Renamed", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post"});
    let replaced = f
        .admin
        .replace_client(bearer(&t), "svc", Ok(&obj(renamed)), &ctx())
        .expect("replaced");
    assert!(!replaced.client.settings.require_consent, "kept");
    assert!(replaced.client_secret.is_none(), "the secret is kept");
    let event = f.repo.audit_events().pop().expect("audited");
    assert_eq!(event.actor, "admin:root");
    assert!(
        event
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("client_name")),
        "{event:?}"
    );
    let with_settings = json!({"grant_types": ["client_credentials"], "settings": {"access_token_lifetime_secs": 600}});
    let replaced = f
        .admin
        .replace_client(bearer(&t), "svc", Ok(&obj(with_settings)), &ctx())
        .expect("replaced");
    assert_eq!(
        replaced.client.settings,
        ClientSettings {
            access_token_lifetime_secs: 600,
            ..ClientSettings::default()
        }
    );
    // Becoming public drops the secret.
    let public =
        json!({"redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none"});
    let replaced = f
        .admin
        .replace_client(bearer(&t), "svc", Ok(&obj(public)), &ctx())
        .expect("replaced");
    assert!(replaced.client.secret_hash.is_none());
    let mismatched = json!({"client_id": "other", "grant_types": ["client_credentials"]});
    assert!(f
        .admin
        .replace_client(bearer(&t), "svc", Ok(&obj(mismatched)), &ctx())
        .is_err());
    assert!(matches!(
        f.admin
            .replace_client(bearer(&t), "gone", Ok(&obj(json!({}))), &ctx()),
        Err(RegistrationError::NotFound(_))
    ));
}

#[test]
fn a_rotated_secret_keeps_verifying_for_its_grace_period_only() {
    let f = fixture();
    let t = root(&f);
    let created = f
        .admin
        .create_client(bearer(&t), Ok(&obj(confidential("svc"))), &ctx())
        .expect("created");
    let old = created.client_secret.expect("secret");
    let hasher = f.svc.credentials().hasher().clone();
    let rotated = f
        .admin
        .rotate_secret(
            bearer(&t),
            "svc",
            Ok(&obj(json!({"grace_period_secs": 600}))),
            &ctx(),
        )
        .expect("rotated");
    let new = rotated.client_secret;
    let stored = f.repo.find("svc").expect("ok").expect("client");
    assert!(stored.verify_secret(new.expose_secret(), NOW, &hasher));
    assert!(stored.verify_secret(old.expose_secret(), NOW + 599, &hasher));
    assert!(!stored.verify_secret(old.expose_secret(), NOW + 600, &hasher));
    // Without grace the previous secret stops at once.
    f.admin
        .rotate_secret(bearer(&t), "svc", Ok(&Map::new()), &ctx())
        .expect("rotated");
    let stored = f.repo.find("svc").expect("ok").expect("client");
    assert!(!stored.verify_secret(new.expose_secret(), NOW, &hasher));
    assert!(stored.previous_secret.is_none());
    let too_long = f
        .admin
        .rotate_secret(
            bearer(&t),
            "svc",
            Ok(&obj(json!({"grace_period_secs": 99_999_999}))),
            &ctx(),
        )
        .expect_err("too long");
    assert!(
        too_long.to_string().starts_with("grace_period_secs: "),
        "{too_long}"
    );
    let unknown = f
        .admin
        .rotate_secret(bearer(&t), "svc", Ok(&obj(json!({"grace": 1}))), &ctx())
        .expect_err("unknown member");
    assert!(unknown.to_string().starts_with("grace: "), "{unknown}");
    // Public clients have no secret.
    let reg = f
        .svc
        .register(&obj(json!({"redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none"})), &ctx())
        .expect("registered");
    let err = f
        .admin
        .rotate_secret(bearer(&t), &reg.client.client_id, Ok(&Map::new()), &ctx())
        .expect_err("public");
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
    // The audit trail never holds a secret.
    let trail = format!("{:?}", f.repo.audit_events());
    assert!(!trail.contains(old.expose_secret()) && !trail.contains(new.expose_secret()));
}

#[test]
fn reissue_revokes_the_old_token_and_lock_blocks_self_management() {
    let f = fixture();
    let t = root(&f);
    let reg = f
        .svc
        .register(&obj(json!({"redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none"})), &ctx())
        .expect("registered");
    let id = reg.client.client_id.clone();
    let fresh = f
        .admin
        .reissue_token(bearer(&t), &id, &ctx())
        .expect("reissued");
    assert!(f
        .svc
        .read(&id, bearer(&reg.registration_access_token), &ctx())
        .is_err());
    let read = f
        .svc
        .read(&id, bearer(&fresh.registration_access_token), &ctx())
        .expect("new token works");
    let locked = f
        .admin
        .set_locked(bearer(&t), &id, true, &ctx())
        .expect("locked");
    assert!(locked.client.is_locked);
    let body = obj(
        json!({"client_id": id, "redirect_uris": ["http://127.0.0.1:2/cb"], "token_endpoint_auth_method": "none"}),
    );
    let err = f
        .svc
        .update(
            &id,
            bearer(&read.registration_access_token),
            Ok(&body),
            &ctx(),
        )
        .expect_err("locked");
    assert_eq!(err.code(), ErrorCode::AccessDenied);
    assert!(f
        .svc
        .delete(&id, bearer(&read.registration_access_token), &ctx())
        .is_err());
    f.admin
        .set_locked(bearer(&t), &id, false, &ctx())
        .expect("unlocked");
    f.svc
        .update(
            &id,
            bearer(&read.registration_access_token),
            Ok(&body),
            &ctx(),
        )
        .expect("unlocked update");
    let details = f
        .admin
        .get_client(bearer(&t), &id, &ctx())
        .expect("details");
    assert_eq!(
        details.last_used_at,
        Some(NOW),
        "the client's own read and update count as use"
    );
    assert!(matches!(
        f.admin.reissue_token(bearer(&t), "gone", &ctx()),
        Err(RegistrationError::NotFound(_))
    ));
}

#[test]
fn listing_searches_literally_and_pages() {
    let f = fixture();
    let t = root(&f);
    for (i, name) in ["École 50%", "ecole_b", "Other"].iter().enumerate() {
        f.clock.set(NOW + i64::try_from(i).expect("small"));
        f.svc
            .register(&obj(json!({"client_name": name, "redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none"})), &ctx())
            .expect("registered");
    }
    let list = |q: &str, per_page: &str| {
        let params = ClientListParams {
            q: Some(q.into()),
            per_page: Some(per_page.into()),
            ..Default::default()
        };
        let (_, page) = f
            .admin
            .list_clients(bearer(&t), &params, &ctx())
            .expect("listed");
        (
            page.clients
                .iter()
                .map(|c| c.metadata.client_name.clone().unwrap_or_default())
                .collect::<Vec<_>>(),
            page.total,
        )
    };
    assert_eq!(list("ÉCOLE", "10"), (vec!["École 50%".to_owned()], 1));
    assert_eq!(list("%", "10"), (vec!["École 50%".to_owned()], 1));
    // (Generated client ids may hold "_" themselves, so search around it.)
    assert_eq!(list("e_b", "10"), (vec!["ecole_b".to_owned()], 1));
    assert_eq!(list("strasse", "10").1, 0);
    assert_eq!(
        list("", "2"),
        (vec!["Other".to_owned(), "ecole_b".to_owned()], 3)
    );
}

/// A repository whose first `update` reports that the client changed meanwhile.
#[derive(Debug)]
struct StaleOnce {
    inner: Arc<InMemoryClientRepository>,
    calls: AtomicUsize,
}

impl ClientRepository for StaleOnce {
    fn create(
        &self,
        c: &Client,
        t: &RegistrationTokenRecord,
        a: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        self.inner.create(c, t, a)
    }
    fn find(&self, id: &str) -> Result<Option<Client>, RepositoryError> {
        self.inner.find(id)
    }
    fn find_by_token(&self, d: &TokenDigest) -> Result<Option<TokenLookup>, RepositoryError> {
        self.inner.find_by_token(d)
    }
    fn update(
        &self,
        c: &Client,
        p: Option<&TokenDigest>,
        r: Option<&TokenRotation>,
        a: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(RepositoryError::Stale(c.client_id.clone()));
        }
        self.inner.update(c, p, r, a)
    }
    fn delete(
        &self,
        id: &str,
        p: Option<&TokenDigest>,
        a: &AuditEvent,
    ) -> Result<(), RepositoryError> {
        self.inner.delete(id, p, a)
    }
    fn revoke_token(&self, d: &TokenDigest, a: &AuditEvent) -> Result<(), RepositoryError> {
        self.inner.revoke_token(d, a)
    }
    fn set_locked(&self, id: &str, l: bool, a: &AuditEvent) -> Result<(), RepositoryError> {
        self.inner.set_locked(id, l, a)
    }
}

#[test]
fn a_change_computed_from_a_stale_read_is_redone_from_the_new_state() {
    let base = fixture();
    let stale = Arc::new(StaleOnce {
        inner: base.repo.clone(),
        calls: AtomicUsize::new(0),
    });
    let f = fixture_with(Some(stale.clone()));
    let reg = f
        .svc
        .register(&obj(json!({"redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none"})), &ctx())
        .expect("registered");
    let id = reg.client.client_id.clone();
    let body = obj(
        json!({"client_id": id, "client_name": "after", "redirect_uris": ["http://127.0.0.1:2/cb"], "token_endpoint_auth_method": "none"}),
    );
    let updated = f
        .svc
        .update(
            &id,
            bearer(&reg.registration_access_token),
            Ok(&body),
            &ctx(),
        )
        .expect("retried");
    assert_eq!(stale.calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        updated.client.metadata.client_name.as_deref(),
        Some("after")
    );
    assert_eq!(
        base.repo.find(&id).expect("ok").expect("client").revision,
        1
    );
}

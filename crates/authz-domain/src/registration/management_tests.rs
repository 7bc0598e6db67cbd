//! Unit tests of RFC 7592 self-management over the in-memory repository.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Map, Value};

use crate::client_registration::*;
use crate::clock::ManualClock;

const NOW: i64 = 1_750_000_000;

struct Fixture {
    svc: RegistrationService,
    repo: Arc<InMemoryClientRepository>,
    clock: Arc<ManualClock>,
}

fn fixture(policy: RegistrationPolicy) -> Fixture {
    let issuer = crate::testing::cheap_issuer();
    let repo = Arc::new(InMemoryClientRepository::new());
    let clock = Arc::new(ManualClock::new(NOW));
    let svc = RegistrationService::new(
        repo.clone(),
        repo.clone(),
        Arc::new(policy),
        issuer,
        clock.clone(),
    );
    Fixture { svc, repo, clock }
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().expect("object").clone()
}

fn bearer(token: &SecretString) -> PresentedToken {
    PresentedToken::Bearer(token.clone())
}

fn ctx() -> RequestContext {
    RequestContext {
        remote_addr: Some("192.0.2.7".into()),
        user_agent: Some("unit".into()),
        request_id: Some("r".into()),
    }
}

fn register(f: &Fixture, body: Value) -> RegisteredClient {
    f.svc.register(&obj(body), &ctx()).expect("registered")
}

fn public() -> Value {
    json!({"client_name": "Claude Code", "redirect_uris": ["http://localhost:53682/callback"], "token_endpoint_auth_method": "none", "scope": "a b"})
}

fn update_body(client_id: &str) -> Value {
    json!({"client_id": client_id, "redirect_uris": ["http://localhost:9999/callback"], "token_endpoint_auth_method": "none"})
}

fn is_invalid_token(e: &RegistrationError) -> bool {
    matches!(e, RegistrationError::InvalidToken(m) if m == INVALID_TOKEN_MESSAGE)
}

#[test]
fn read_returns_the_registration_and_the_presented_token() {
    let f = fixture(RegistrationPolicy::default());
    let reg = register(&f, public());
    let read = f
        .svc
        .read(
            &reg.client.client_id,
            bearer(&reg.registration_access_token),
            &ctx(),
        )
        .expect("read");
    assert_eq!(read.client, reg.client);
    assert!(read.client_secret.is_none());
    assert_eq!(
        read.registration_access_token.expose_secret(),
        reg.registration_access_token.expose_secret()
    );
    let last = f.repo.audit_events().pop().expect("audited");
    assert_eq!(
        (last.action, last.succeeded, last.actor.as_str()),
        (AuditAction::ClientRead, true, "client")
    );
    assert_eq!(last.context, ctx());
}

#[test]
fn every_unusable_token_gets_the_same_answer_and_is_audited_without_the_token() {
    let f = fixture(RegistrationPolicy::default());
    let a = register(&f, public());
    let b = register(&f, public());
    let id = a.client.client_id.clone();
    let cases: Vec<(PresentedToken, &str)> = vec![
        (PresentedToken::Malformed("two tokens"), "malformed"),
        (
            PresentedToken::Bearer(SecretString::from("rat_unknown")),
            "unknown token",
        ),
        (
            bearer(&b.registration_access_token),
            "token of another client",
        ),
    ];
    for (token, reason) in cases {
        let err = f.svc.read(&id, token, &ctx()).expect_err("refused");
        assert!(is_invalid_token(&err), "{err:?}");
        let event = f.repo.audit_events().pop().expect("audited");
        assert!(!event.succeeded);
        assert!(
            event.detail.as_deref().expect("reason").contains(reason),
            "{event:?}"
        );
        assert!(!format!("{event:?}").contains(b.registration_access_token.expose_secret()));
    }
    // The same answer for a client that does not exist at all.
    let err = f
        .svc
        .read(
            "no-such-client",
            bearer(&a.registration_access_token),
            &ctx(),
        )
        .expect_err("refused");
    assert!(is_invalid_token(&err));
}

#[test]
fn a_missing_token_is_its_own_error() {
    let f = fixture(RegistrationPolicy::default());
    let err = f
        .svc
        .read("x", PresentedToken::Missing, &ctx())
        .expect_err("refused");
    assert!(matches!(err, RegistrationError::MissingToken(_)));
    assert_eq!(err.code(), ErrorCode::InvalidToken);
    assert_eq!(
        f.repo
            .audit_events()
            .pop()
            .expect("audited")
            .detail
            .as_deref(),
        Some("no token")
    );
}

#[test]
fn an_expired_token_is_refused() {
    let mut policy = RegistrationPolicy::default();
    policy.credentials.registration_token_lifetime_secs = 60;
    let f = fixture(policy);
    let reg = register(&f, public());
    f.clock.advance(59);
    assert!(f
        .svc
        .read(
            &reg.client.client_id,
            bearer(&reg.registration_access_token),
            &ctx()
        )
        .is_ok());
    f.clock.advance(1);
    let err = f
        .svc
        .read(
            &reg.client.client_id,
            bearer(&reg.registration_access_token),
            &ctx(),
        )
        .expect_err("expired");
    assert!(is_invalid_token(&err));
    assert_eq!(
        f.repo
            .audit_events()
            .pop()
            .expect("audited")
            .detail
            .as_deref(),
        Some("expired token")
    );
}

#[test]
fn a_token_whose_client_is_gone_is_revoked_at_once() {
    let f = fixture(RegistrationPolicy::default());
    let reg = register(&f, public());
    // Simulate a token outliving its client (storage keeps tokens but loses the client row).
    let repo = InMemoryClientRepository::new();
    let token = f.repo.tokens_of(&reg.client.client_id)[0].0.clone();
    let orphan = Client {
        client_id: "other".into(),
        ..reg.client.clone()
    };
    let audit = AuditEvent::new(NOW, AuditAction::ClientRegistered, "test", &ctx());
    repo.create(
        &orphan,
        &RegistrationTokenRecord {
            client_id: reg.client.client_id.clone(),
            ..token
        },
        &audit,
    )
    .expect("seed");
    let issuer = crate::testing::cheap_issuer();
    let repo = Arc::new(repo);
    let svc = RegistrationService::new(
        repo.clone(),
        repo.clone(),
        Arc::new(RegistrationPolicy::default()),
        issuer,
        Arc::new(ManualClock::new(NOW)),
    );
    let err = svc
        .read(
            &reg.client.client_id,
            bearer(&reg.registration_access_token),
            &ctx(),
        )
        .expect_err("refused");
    assert!(is_invalid_token(&err));
    let tokens = repo.tokens_of(&reg.client.client_id);
    assert!(tokens[0].1.is_some(), "revoked");
    assert!(repo
        .audit_events()
        .iter()
        .any(|e| e.action == AuditAction::TokenRevoked));
}

#[test]
fn update_replaces_everything_and_rotates_the_token() {
    let f = fixture(RegistrationPolicy::default());
    let reg = register(&f, public());
    let id = reg.client.client_id.clone();
    f.clock.advance(10);
    let updated = f
        .svc
        .update(
            &id,
            bearer(&reg.registration_access_token),
            Ok(&obj(update_body(&id))),
            &ctx(),
        )
        .expect("updated");
    assert_eq!(
        updated.client.metadata.client_name, None,
        "omitted members are removed"
    );
    assert_eq!(updated.client.metadata.scope, None);
    assert_eq!(
        updated.client.metadata.redirect_uris[0].as_str(),
        "http://localhost:9999/callback"
    );
    assert_eq!(updated.client.issued_at, NOW);
    assert_eq!(updated.client.updated_at, NOW + 10);
    assert_ne!(
        updated.registration_access_token.expose_secret(),
        reg.registration_access_token.expose_secret()
    );
    // The old token is dead at once; the new one works.
    assert!(is_invalid_token(
        &f.svc
            .read(&id, bearer(&reg.registration_access_token), &ctx())
            .expect_err("old token")
    ));
    assert!(f
        .svc
        .read(&id, bearer(&updated.registration_access_token), &ctx())
        .is_ok());
    let event = f
        .repo
        .audit_events()
        .into_iter()
        .find(|e| e.action == AuditAction::ClientUpdated)
        .expect("audited");
    let detail = event.detail.expect("detail");
    assert!(
        detail.contains("client_name")
            && detail.contains("redirect_uris")
            && detail.contains("rotated"),
        "{detail}"
    );
}

#[test]
fn update_without_rotation_keeps_the_token() {
    let mut policy = RegistrationPolicy::default();
    policy.credentials.rotate_registration_token_on_update = false;
    let f = fixture(policy);
    let reg = register(&f, public());
    let id = reg.client.client_id.clone();
    let updated = f
        .svc
        .update(
            &id,
            bearer(&reg.registration_access_token),
            Ok(&obj(update_body(&id))),
            &ctx(),
        )
        .expect("updated");
    assert_eq!(
        updated.registration_access_token.expose_secret(),
        reg.registration_access_token.expose_secret()
    );
    assert!(f
        .svc
        .read(&id, bearer(&reg.registration_access_token), &ctx())
        .is_ok());
}

#[test]
fn rotation_on_read_issues_a_new_token_each_time() {
    let mut policy = RegistrationPolicy::default();
    policy.credentials.rotate_registration_token_on_read = true;
    let f = fixture(policy);
    let reg = register(&f, public());
    let id = reg.client.client_id.clone();
    let first = f
        .svc
        .read(&id, bearer(&reg.registration_access_token), &ctx())
        .expect("read");
    assert_ne!(
        first.registration_access_token.expose_secret(),
        reg.registration_access_token.expose_secret()
    );
    assert!(
        f.svc
            .read(&id, bearer(&reg.registration_access_token), &ctx())
            .is_err(),
        "old token revoked"
    );
    assert!(f
        .svc
        .read(&id, bearer(&first.registration_access_token), &ctx())
        .is_ok());
}

#[test]
fn update_body_rules() {
    let f = fixture(RegistrationPolicy::default());
    let reg = register(
        &f,
        json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}),
    );
    let id = reg.client.client_id.clone();
    let secret = reg.client_secret.clone().expect("secret");
    let base = json!({"client_id": id, "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let mut no_id = base.clone();
    no_id.as_object_mut().expect("object").remove("client_id");
    let cases: Vec<(Value, ErrorCode, &str)> = vec![
        (no_id, ErrorCode::InvalidRequest, "client_id: required"),
        (
            with("client_id", json!("someone-else")),
            ErrorCode::InvalidRequest,
            "must equal",
        ),
        (
            with("client_id", json!(7)),
            ErrorCode::InvalidRequest,
            "expected a string",
        ),
        (
            with("registration_access_token", json!("x")),
            ErrorCode::InvalidRequest,
            "registration_access_token: must not be sent",
        ),
        (
            with("registration_client_uri", json!("x")),
            ErrorCode::InvalidRequest,
            "registration_client_uri",
        ),
        (
            with("client_id_issued_at", json!(1)),
            ErrorCode::InvalidRequest,
            "client_id_issued_at",
        ),
        (
            with("client_secret_expires_at", json!(0)),
            ErrorCode::InvalidRequest,
            "client_secret_expires_at",
        ),
        (
            with("client_secret", json!("wrong")),
            ErrorCode::InvalidRequest,
            "does not match",
        ),
        (
            with("redirect_uris", json!(["ftp://x/cb"])),
            ErrorCode::InvalidRedirectUri,
            "redirect_uris[0]",
        ),
        (
            with("grant_types", json!(["implicit"])),
            ErrorCode::InvalidClientMetadata,
            "grant_types[0]",
        ),
    ];
    for (body, code, expect) in cases {
        let err = f
            .svc
            .update(
                &id,
                bearer(&reg.registration_access_token),
                Ok(&obj(body.clone())),
                &ctx(),
            )
            .expect_err("refused");
        assert_eq!(err.code(), code, "{body}");
        assert!(err.to_string().contains(expect), "{body}: {err}");
        let event = f.repo.audit_events().pop().expect("audited");
        assert!(!event.succeeded && event.action == AuditAction::ClientUpdated);
    }
    // Nothing changed, and the token still works.
    assert_eq!(f.repo.find(&id).expect("ok").expect("client"), reg.client);
    let ok = f.svc.update(
        &id,
        bearer(&reg.registration_access_token),
        Ok(&obj(with("client_secret", json!(secret.expose_secret())))),
        &ctx(),
    );
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn switching_auth_methods_issues_or_drops_the_secret() {
    let f = fixture(RegistrationPolicy::default());
    let reg = register(&f, public());
    let id = reg.client.client_id.clone();
    let mut body = update_body(&id);
    body["token_endpoint_auth_method"] = json!("client_secret_post");
    let up = f
        .svc
        .update(
            &id,
            bearer(&reg.registration_access_token),
            Ok(&obj(body)),
            &ctx(),
        )
        .expect("to confidential");
    let secret = up.client_secret.clone().expect("a secret is issued once");
    assert!(up.client.secret_hash.is_some());
    assert_eq!(up.client_secret_expires_at(), Some(0));
    // basic <-> post keeps the same secret and shows none.
    let mut body = update_body(&id);
    body["token_endpoint_auth_method"] = json!("client_secret_basic");
    body["client_secret"] = json!(secret.expose_secret());
    let up2 = f
        .svc
        .update(
            &id,
            bearer(&up.registration_access_token),
            Ok(&obj(body)),
            &ctx(),
        )
        .expect("basic");
    assert!(up2.client_secret.is_none());
    assert_eq!(up2.client.secret_hash, up.client.secret_hash);
    // Back to none drops it.
    let up3 = f
        .svc
        .update(
            &id,
            bearer(&up2.registration_access_token),
            Ok(&obj(update_body(&id))),
            &ctx(),
        )
        .expect("public");
    assert!(up3.client.secret_hash.is_none());
    assert_eq!(up3.client_secret_expires_at(), None);
}

#[test]
fn delete_kills_the_client_its_token_and_its_id() {
    let f = fixture(RegistrationPolicy::default());
    let reg = register(&f, public());
    let id = reg.client.client_id.clone();
    f.svc
        .delete(&id, bearer(&reg.registration_access_token), &ctx())
        .expect("deleted");
    assert!(f.repo.find(&id).expect("ok").is_none());
    assert!(is_invalid_token(
        &f.svc
            .read(&id, bearer(&reg.registration_access_token), &ctx())
            .expect_err("gone")
    ));
    assert!(is_invalid_token(
        &f.svc
            .delete(&id, bearer(&reg.registration_access_token), &ctx())
            .expect_err("gone")
    ));
    // The id can never be issued again.
    let clone = Client {
        client_id: id.clone(),
        ..reg.client.clone()
    };
    let token = f.repo.tokens_of(&id);
    assert!(token.is_empty());
    let record = RegistrationTokenRecord {
        digest: crate::credentials::TokenDigest::of("x"),
        client_id: id.clone(),
        issued_at: NOW,
        expires_at: None,
    };
    let audit = AuditEvent::new(NOW, AuditAction::ClientRegistered, "test", &ctx());
    assert!(matches!(
        f.repo.create(&clone, &record, &audit),
        Err(RepositoryError::Conflict(_))
    ));
}

#[test]
fn a_locked_client_may_read_but_not_change_or_delete_itself() {
    let f = fixture(RegistrationPolicy::default());
    let reg = register(&f, public());
    let id = reg.client.client_id.clone();
    let audit = AuditEvent::new(NOW, AuditAction::ClientLocked, "admin:ops", &ctx()).client(&id);
    f.repo.set_locked(&id, true, &audit).expect("locked");
    assert!(f
        .svc
        .read(&id, bearer(&reg.registration_access_token), &ctx())
        .is_ok());
    let err = f
        .svc
        .update(
            &id,
            bearer(&reg.registration_access_token),
            Ok(&obj(update_body(&id))),
            &ctx(),
        )
        .expect_err("403");
    assert_eq!(err.code(), ErrorCode::AccessDenied);
    let err = f
        .svc
        .delete(&id, bearer(&reg.registration_access_token), &ctx())
        .expect_err("403");
    assert_eq!(err.code(), ErrorCode::AccessDenied);
    assert!(f.repo.find(&id).expect("ok").is_some());
    // A bad token on a locked client is still 401, not 403: the lock is not disclosed.
    let err = f
        .svc
        .delete(
            &id,
            PresentedToken::Bearer(SecretString::from("rat_x")),
            &ctx(),
        )
        .expect_err("401");
    assert!(is_invalid_token(&err));
}

//! The rules of users, sign-in, sessions and consents, over the in-memory store.

use std::collections::BTreeSet;
use std::sync::Arc;

use secrecy::SecretString;

use super::*;
use crate::client_registration::{AuditAction, RepositoryError, RequestContext};
use crate::clock::{Clock, ManualClock};
use crate::credentials::SystemRandomSource;
use crate::testing::cheap_hasher;

const T0: i64 = 1_750_000_000;
const PASSWORD: &str = "correct horse battery staple";

struct Fixture {
    store: Arc<InMemoryUserStore>,
    clock: Arc<ManualClock>,
    service: UserService,
    authenticator: Arc<LocalAuthenticator>,
}

fn fixture() -> Fixture {
    let store = Arc::new(InMemoryUserStore::new());
    let clock = Arc::new(ManualClock::new(T0));
    let rng = Arc::new(SystemRandomSource::new());
    let authenticator = Arc::new(
        LocalAuthenticator::new(
            store.clone(),
            cheap_hasher(),
            rng.as_ref(),
            PasswordPolicy::default(),
        )
        .expect("authenticator"),
    );
    let service = UserService::new(
        store.clone(),
        store.clone(),
        authenticator.clone(),
        store.clone(),
        cheap_hasher(),
        rng,
        clock.clone(),
    );
    Fixture {
        store,
        clock,
        service,
        authenticator,
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn ctx() -> RequestContext {
    RequestContext::default()
}

impl Fixture {
    fn alice(&self) -> User {
        self.service
            .create_user(
                "Alice",
                Some("Alice Liddell"),
                secret(PASSWORD),
                "cli",
                &ctx(),
            )
            .expect("created")
    }

    fn sign_in(&self, username: &str, password: &str) -> Result<SignedIn, SignInError> {
        self.service
            .sign_in(username, &secret(password), None, &ctx())
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn usernames_that_differ_only_in_case_are_one_account() {
    let f = fixture();
    f.alice();
    let err = f
        .service
        .create_user(" ALICE ", None, secret(PASSWORD), "cli", &ctx())
        .expect_err("taken");
    assert!(
        matches!(err, UserError::UsernameTaken(ref n) if n == "ALICE"),
        "{err:?}"
    );
    // Full Unicode case folding, not just ASCII lower case.
    f.service
        .create_user("Straße", None, secret(PASSWORD), "cli", &ctx())
        .expect("created");
    assert!(matches!(
        f.service
            .create_user("STRASSE", None, secret(PASSWORD), "cli", &ctx()),
        Err(UserError::UsernameTaken(_))
    ));
    assert_eq!(
        f.service
            .list_users(&UserQuery::default())
            .expect("list")
            .total,
        2
    );
}

#[test]
fn a_user_signs_in_with_any_case_of_the_username() {
    let f = fixture();
    let alice = f.alice();
    let signed_in = f.sign_in("aLiCe", PASSWORD).expect("signed in");
    assert_eq!(signed_in.user.user_id, alice.id);
    assert_eq!(signed_in.user.username.as_str(), "Alice");
}

#[test]
fn usernames_are_trimmed_and_refuse_invisible_and_control_characters() {
    assert_eq!(Username::parse("  bob\t").expect("ok").as_str(), "bob");
    for bad in [
        "",
        "   ",
        "bo\u{0}b",
        "bo\nb",
        "bo\u{200B}b",
        "bo\u{202E}b",
        "bo\u{FEFF}b",
        "bo\u{00AD}b",
        "bo\u{3164}b",
        "bo\u{00A0}b",
        "bo\u{E0041}b",
    ] {
        assert!(
            matches!(Username::parse(bad), Err(UserError::InvalidUsername(_))),
            "{bad:?}"
        );
    }
    assert!(Username::parse(&"x".repeat(MAX_USERNAME_CHARS)).is_ok());
    assert!(Username::parse(&"é".repeat(MAX_USERNAME_CHARS + 1)).is_err());
    assert!(Username::parse("Zoë Ünal").is_ok());
}

#[test]
fn display_names_are_optional_and_checked_like_usernames() {
    assert_eq!(parse_display_name(None).expect("ok"), None);
    assert_eq!(parse_display_name(Some("  ")).expect("ok"), None);
    assert_eq!(
        parse_display_name(Some(" Alice ")).expect("ok").as_deref(),
        Some("Alice")
    );
    assert!(parse_display_name(Some("a\u{2066}b")).is_err());
    assert!(parse_display_name(Some(&"a".repeat(MAX_DISPLAY_NAME_CHARS + 1))).is_err());
}

#[test]
fn passwords_outside_the_policy_are_refused_without_echoing_them() {
    let policy = PasswordPolicy::default();
    let err = Password::parse(secret("seven77"), &policy).expect_err("short");
    assert!(!err.to_string().contains("seven77"));
    assert!(Password::parse(secret("eight888"), &policy).is_ok());
    assert!(Password::parse(secret(&"p".repeat(1024)), &policy).is_ok());
    assert!(Password::parse(secret(&"p".repeat(1025)), &policy).is_err());
    // Characters, not bytes.
    assert!(Password::parse(secret("ééééééé"), &policy).is_err());
    let f = fixture();
    assert!(matches!(
        f.service
            .create_user("bob", None, secret("short"), "cli", &ctx()),
        Err(UserError::InvalidPassword(_))
    ));
}

#[test]
fn the_stored_user_has_an_opaque_128_bit_id_and_an_argon2id_hash() {
    let f = fixture();
    let alice = f.alice();
    assert_eq!(alice.id.as_str().len(), 22);
    assert!(alice.password_hash.starts_with("$argon2id$"));
    assert!(!alice.password_hash.contains(PASSWORD));
    assert_eq!(alice.created_at, T0);
    assert_eq!(alice.password_changed_at, T0);
    assert_eq!(alice.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(f.service.find_user(&alice.id).expect("find"), Some(alice));
}

#[test]
fn unknown_user_and_wrong_password_are_indistinguishable() {
    let f = fixture();
    f.alice();
    let wrong = f.sign_in("alice", "not the password").expect_err("refused");
    let unknown = f.sign_in("mallory", PASSWORD).expect_err("refused");
    let unparsable = f.sign_in("", PASSWORD).expect_err("refused");
    for err in [&wrong, &unknown, &unparsable] {
        assert!(matches!(err, SignInError::InvalidCredentials));
        assert_eq!(err.to_string(), INVALID_CREDENTIALS_MESSAGE);
    }
    // The audit trail records the three refusals identically.
    let refusals: Vec<_> = f
        .store
        .audit_events()
        .into_iter()
        .filter(|e| e.action == AuditAction::SignIn)
        .collect();
    assert_eq!(refusals.len(), 3);
    assert!(refusals
        .iter()
        .all(|e| !e.succeeded && e.actor == "anonymous" && e.detail == refusals[0].detail));
}

#[test]
fn an_unknown_user_costs_the_same_argon2id_verification_as_a_known_one() {
    let f = fixture();
    let alice = f.alice();
    // The dummy hash is computed with the same hasher, so it carries the same algorithm,
    // version and cost parameters as every real password hash.
    let params = |phc: &str| phc.split('$').take(4).collect::<Vec<_>>().join("$");
    assert_eq!(
        params(f.authenticator.dummy_hash()),
        params(&alice.password_hash)
    );
    assert!(f.authenticator.dummy_hash().starts_with("$argon2id$v=19$"));
}

#[test]
fn a_disabled_user_cannot_sign_in_even_with_the_right_password() {
    let f = fixture();
    let alice = f.alice();
    let user = f
        .service
        .set_disabled(&alice.id, true, "admin:root", &ctx())
        .expect("disabled");
    assert!(user.is_disabled);
    let err = f.sign_in("alice", PASSWORD).expect_err("refused");
    assert!(matches!(err, SignInError::InvalidCredentials));
    assert!(f.service.authenticate("alice", &secret(PASSWORD)).is_err());
    f.service
        .set_disabled(&alice.id, false, "admin:root", &ctx())
        .expect("enabled");
    f.sign_in("alice", PASSWORD).expect("signed in again");
}

#[test]
fn disabling_a_user_ends_every_session() {
    let f = fixture();
    let alice = f.alice();
    let one = f.sign_in("alice", PASSWORD).expect("signed in");
    f.sign_in("alice", PASSWORD).expect("signed in");
    assert_eq!(f.store.sessions_of(&alice.id).len(), 2);
    f.service
        .set_disabled(&alice.id, true, "cli", &ctx())
        .expect("disabled");
    assert!(f.store.sessions_of(&alice.id).is_empty());
    assert_eq!(
        f.service.current_session(&one.session_id).expect("ok"),
        None
    );
}

#[test]
fn no_session_is_stored_for_a_user_disabled_while_signing_in() {
    let f = fixture();
    let alice = f.alice();
    f.service
        .set_disabled(&alice.id, true, "cli", &ctx())
        .expect("disabled");
    let session = SessionPolicy::default().start(
        SessionId::from_cookie("x").digest(),
        alice.id.clone(),
        T0,
        T0,
    );
    let event = crate::client_registration::AuditEvent::new(T0, AuditAction::SignIn, "x", &ctx());
    assert!(matches!(
        SessionRepository::insert(f.store.as_ref(), &session, None, &event),
        Err(RepositoryError::NotFound(_))
    ));
    assert_eq!(f.store.session_count(), 0);
}

#[test]
fn changing_a_user_for_an_unknown_id_is_not_found() {
    let f = fixture();
    let nobody = UserId::from_stored("nobody");
    assert!(matches!(
        f.service.set_disabled(&nobody, true, "cli", &ctx()),
        Err(UserError::NotFound(_))
    ));
    assert!(matches!(
        f.service
            .set_password(&nobody, secret(PASSWORD), "cli", &ctx()),
        Err(UserError::NotFound(_))
    ));
}

#[test]
fn sign_in_issues_a_fresh_session_id_and_drops_the_previous_one() {
    let f = fixture();
    f.alice();
    let first = f.sign_in("alice", PASSWORD).expect("signed in");
    let second = f
        .service
        .sign_in("alice", &secret(PASSWORD), Some(&first.session_id), &ctx())
        .expect("signed in");
    assert_ne!(
        first.session_id.cookie_value(),
        second.session_id.cookie_value()
    );
    assert_eq!(
        f.service.current_session(&first.session_id).expect("ok"),
        None
    );
    assert!(f
        .service
        .current_session(&second.session_id)
        .expect("ok")
        .is_some());
    // An attacker-chosen id presented at sign-in is never adopted.
    let planted = SessionId::from_cookie("planted-by-attacker");
    let third = f
        .service
        .sign_in("alice", &secret(PASSWORD), Some(&planted), &ctx())
        .expect("signed in");
    assert_ne!(third.session_id.cookie_value(), "planted-by-attacker");
    assert_eq!(f.service.current_session(&planted).expect("ok"), None);
}

#[test]
fn session_ids_carry_256_bits_are_stored_as_digests_and_never_printed() {
    let f = fixture();
    f.alice();
    let signed_in = f.sign_in("alice", PASSWORD).expect("signed in");
    let value = signed_in.session_id.cookie_value().to_owned();
    assert_eq!(value.len(), 43);
    assert_eq!(signed_in.session.digest, signed_in.session_id.digest());
    assert!(!format!("{:?}", signed_in.session_id).contains(&value));
    assert!(!format!("{signed_in:?}").contains(&value));
}

#[test]
fn a_session_ends_after_its_idle_lifetime() {
    let f = fixture();
    f.alice();
    let s = f.sign_in("alice", PASSWORD).expect("signed in");
    let idle = SessionPolicy::default().idle_lifetime_secs;
    f.clock.advance(idle - 1);
    assert!(f
        .service
        .current_session(&s.session_id)
        .expect("ok")
        .is_some());
    // That use moved the idle expiry on.
    f.clock.advance(idle - 1);
    assert!(f
        .service
        .current_session(&s.session_id)
        .expect("ok")
        .is_some());
    f.clock.advance(idle);
    assert_eq!(f.service.current_session(&s.session_id).expect("ok"), None);
    // An expired session is deleted when presented.
    assert_eq!(f.store.session_count(), 0);
}

#[test]
fn a_session_ends_at_its_absolute_lifetime_however_busy() {
    let f = fixture();
    f.alice();
    let s = f.sign_in("alice", PASSWORD).expect("signed in");
    let policy = SessionPolicy::default();
    while f.clock.now() + 600 < T0 + policy.absolute_lifetime_secs {
        f.clock.advance(600);
        assert!(f
            .service
            .current_session(&s.session_id)
            .expect("ok")
            .is_some());
    }
    f.clock.set(T0 + policy.absolute_lifetime_secs);
    assert_eq!(f.service.current_session(&s.session_id).expect("ok"), None);
}

#[test]
fn touching_never_extends_past_the_absolute_expiry() {
    let policy = SessionPolicy::default();
    let session = policy.start(
        SessionId::from_cookie("c").digest(),
        UserId::from_stored("u"),
        T0,
        T0,
    );
    assert_eq!(session.idle_expires_at, T0 + policy.idle_lifetime_secs);
    assert_eq!(
        session.absolute_expires_at,
        T0 + policy.absolute_lifetime_secs
    );
    let late = session.absolute_expires_at - 10;
    let touched = session.touched(late, &policy).expect("due");
    assert_eq!(touched.idle_expires_at, session.absolute_expires_at);
    assert_eq!(touched.last_seen_at, late);
    assert!(!touched.is_valid_at(session.absolute_expires_at));
    // An idle lifetime longer than the absolute one is capped at the start too.
    let odd = SessionPolicy {
        idle_lifetime_secs: 100,
        absolute_lifetime_secs: 50,
        touch_interval_secs: 60,
    };
    let s = odd.start(session.digest, UserId::from_stored("u"), T0, T0);
    assert_eq!(s.idle_expires_at, T0 + 50);
}

#[test]
fn page_views_within_the_touch_interval_write_nothing() {
    let f = fixture();
    let alice = f.alice();
    let s = f.sign_in("alice", PASSWORD).expect("signed in");
    f.clock.advance(59);
    let seen = f
        .service
        .current_session(&s.session_id)
        .expect("ok")
        .expect("live");
    assert_eq!(seen.last_seen_at, T0);
    assert_eq!(f.store.sessions_of(&alice.id)[0].last_seen_at, T0);
    f.clock.advance(1);
    let seen = f
        .service
        .current_session(&s.session_id)
        .expect("ok")
        .expect("live");
    assert_eq!(seen.last_seen_at, T0 + 60);
    let stored = &f.store.sessions_of(&alice.id)[0];
    assert_eq!(stored.last_seen_at, T0 + 60);
    assert_eq!(
        stored.idle_expires_at,
        T0 + 60 + SessionPolicy::default().idle_lifetime_secs
    );
}

#[test]
fn sign_out_deletes_the_session_and_is_audited() {
    let f = fixture();
    let alice = f.alice();
    let s = f.sign_in("alice", PASSWORD).expect("signed in");
    f.service
        .sign_out(&s.session_id, &ctx())
        .expect("signed out");
    assert_eq!(f.service.current_session(&s.session_id).expect("ok"), None);
    let last = f.store.audit_events().pop().expect("event");
    assert_eq!(last.action, AuditAction::SignOut);
    assert_eq!(last.actor, user_actor(&alice.id));
    // Signing out twice, or with an unknown cookie, is harmless.
    f.service.sign_out(&s.session_id, &ctx()).expect("again");
    f.service
        .sign_out(&SessionId::from_cookie("nope"), &ctx())
        .expect("unknown");
}

#[test]
fn expired_sessions_are_purged() {
    let f = fixture();
    f.alice();
    f.sign_in("alice", PASSWORD).expect("signed in");
    assert_eq!(f.service.purge_expired_sessions().expect("purge"), 0);
    f.clock.advance(SessionPolicy::default().idle_lifetime_secs);
    assert_eq!(f.service.purge_expired_sessions().expect("purge"), 1);
}

#[test]
fn setting_a_password_ends_sessions_and_only_the_new_password_works() {
    let f = fixture();
    let alice = f.alice();
    let s = f.sign_in("alice", PASSWORD).expect("signed in");
    f.clock.advance(10);
    f.service
        .set_password(
            &alice.id,
            secret("a brand new passphrase"),
            "admin:root",
            &ctx(),
        )
        .expect("set");
    assert_eq!(f.service.current_session(&s.session_id).expect("ok"), None);
    assert!(f.sign_in("alice", PASSWORD).is_err());
    f.sign_in("alice", "a brand new passphrase")
        .expect("signed in");
    let user = f.service.find_user(&alice.id).expect("ok").expect("user");
    assert_eq!(user.password_changed_at, T0 + 10);
    assert_eq!(user.updated_at, T0 + 10);
}

#[test]
fn the_audit_trail_names_users_and_never_holds_a_password() {
    let f = fixture();
    let alice = f.alice();
    f.sign_in("alice", PASSWORD).expect("signed in");
    f.sign_in("alice", "wrong password!").expect_err("refused");
    f.service
        .set_password(&alice.id, secret("another password"), "cli", &ctx())
        .expect("set");
    let events = f.store.audit_events();
    let actions: Vec<_> = events.iter().map(|e| (e.action, e.succeeded)).collect();
    assert_eq!(
        actions,
        vec![
            (AuditAction::UserCreated, true),
            (AuditAction::SignIn, true),
            (AuditAction::SignIn, false),
            (AuditAction::UserPasswordSet, true),
        ]
    );
    assert_eq!(events[0].actor, "cli");
    assert_eq!(events[1].actor, format!("user:{}", alice.id));
    for e in &events {
        let shown = format!("{e:?}");
        for p in [PASSWORD, "wrong password!", "another password"] {
            assert!(!shown.contains(p), "{shown}");
        }
    }
    assert!(events[3]
        .detail
        .as_deref()
        .is_some_and(|d| d.contains(alice.id.as_str())));
}

#[test]
fn users_are_listed_in_pages_by_folded_username() {
    let f = fixture();
    for name in ["carol", "Bob", "alice", "Dave"] {
        f.service
            .create_user(name, None, secret(PASSWORD), "cli", &ctx())
            .expect("created");
    }
    let page = f
        .service
        .list_users(&UserQuery::new(1, 3).expect("query"))
        .expect("list");
    let names: Vec<_> = page.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["alice", "Bob", "carol"]);
    assert_eq!(page.total, 4);
    let page = f
        .service
        .list_users(&UserQuery::new(2, 3).expect("query"))
        .expect("list");
    assert_eq!(page.users.len(), 1);
    assert!(UserQuery::new(0, 3).is_err());
    assert!(UserQuery::new(1, MAX_USERS_PER_PAGE + 1).is_err());
}

fn consents() -> (Arc<InMemoryUserStore>, ConsentService) {
    let store = Arc::new(InMemoryUserStore::new());
    let service = ConsentService::new(store.clone(), store.clone(), Arc::new(ManualClock::new(T0)));
    (store, service)
}

#[test]
fn a_remembered_consent_covers_subsets_of_its_scope_and_resources() {
    let (_, service) = consents();
    let user = UserId::from_stored("u1");
    let api = "https://api.example.com/";
    service
        .grant(&user, "c1", set(&["read", "write"]), set(&[api]), &ctx())
        .expect("granted");
    let remembered = |scope: &[&str], resources: &[&str]| {
        service
            .remembered(&user, "c1", &set(scope), &set(resources))
            .expect("ok")
    };
    assert!(remembered(&["read", "write"], &[api]));
    assert!(remembered(&["write", "read"], &[api]));
    assert!(remembered(&["read"], &[api]));
    assert!(remembered(&[], &[]));
    assert!(!remembered(&["read", "admin"], &[api]));
    assert!(!remembered(&["read"], &["https://other.example.com/"]));
    assert!(!remembered(&["read"], &[api, "https://other.example.com/"]));
}

#[test]
fn a_consent_is_per_user_and_per_client() {
    let (_, service) = consents();
    let user = UserId::from_stored("u1");
    service
        .grant(&user, "c1", set(&["read"]), set(&[]), &ctx())
        .expect("granted");
    assert!(!service
        .remembered(&user, "c2", &set(&["read"]), &set(&[]))
        .expect("ok"));
    assert!(!service
        .remembered(&UserId::from_stored("u2"), "c1", &set(&["read"]), &set(&[]))
        .expect("ok"));
}

#[test]
fn two_consents_are_not_combined_to_cover_a_request() {
    let (_, service) = consents();
    let user = UserId::from_stored("u1");
    service
        .grant(&user, "c1", set(&["read"]), set(&[]), &ctx())
        .expect("granted");
    service
        .grant(&user, "c1", set(&["write"]), set(&[]), &ctx())
        .expect("granted");
    assert!(!service
        .remembered(&user, "c1", &set(&["read", "write"]), &set(&[]))
        .expect("ok"));
}

#[test]
fn granting_the_same_sets_again_keeps_one_record_with_the_new_time() {
    let (store, service) = consents();
    let user = UserId::from_stored("u1");
    service
        .grant(&user, "c1", set(&["b", "a"]), set(&[]), &ctx())
        .expect("granted");
    service
        .grant(&user, "c1", set(&["a", "b"]), set(&[]), &ctx())
        .expect("granted");
    let records = ConsentRepository::find(store.as_ref(), &user, "c1").expect("find");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].scope_text(), "a b");
    let granted: Vec<_> = store
        .audit_events()
        .into_iter()
        .filter(|e| e.action == AuditAction::ConsentGranted)
        .collect();
    assert_eq!(granted.len(), 2);
    assert_eq!(granted[0].client_id.as_deref(), Some("c1"));
}

#[test]
fn forgetting_a_user_or_a_client_removes_their_consents() {
    let (_, service) = consents();
    let u1 = UserId::from_stored("u1");
    let u2 = UserId::from_stored("u2");
    for (u, c) in [(&u1, "c1"), (&u1, "c2"), (&u2, "c1")] {
        service
            .grant(u, c, set(&["read"]), set(&[]), &ctx())
            .expect("granted");
    }
    assert_eq!(service.forget_client("c1").expect("forget"), 2);
    assert_eq!(service.forget_user(&u1, "cli", &ctx()).expect("forget"), 1);
    for (u, c) in [(&u1, "c1"), (&u1, "c2"), (&u2, "c1")] {
        assert!(!service
            .remembered(u, c, &set(&["read"]), &set(&[]))
            .expect("ok"));
    }
}

#[test]
fn a_denial_is_audited_and_remembers_nothing() {
    let (store, service) = consents();
    let user = UserId::from_stored("u1");
    service
        .deny(&user, "c1", &set(&["read"]), &set(&[]), &ctx())
        .expect("denied");
    assert!(!service
        .remembered(&user, "c1", &set(&["read"]), &set(&[]))
        .expect("ok"));
    let events = store.audit_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, AuditAction::ConsentDenied);
}

#[test]
fn consent_sets_round_trip_through_their_stored_form() {
    let record = ConsentRecord {
        user_id: UserId::from_stored("u"),
        client_id: "c".into(),
        scope: set(&["write", "read"]),
        resources: set(&["https://b.example/", "https://a.example/"]),
        granted_at: T0,
    };
    let (scope, resources) =
        ConsentRecord::parse_stored(&record.scope_text(), &record.resources_text()).expect("ok");
    assert_eq!(scope, record.scope);
    assert_eq!(resources, record.resources);
    assert_eq!(
        record.resources_text(),
        r#"["https://a.example/","https://b.example/"]"#
    );
    assert!(ConsentRecord::parse_stored("", "not json").is_err());
    let none = ConsentRecord::parse_stored("", "[]").expect("ok");
    assert!(none.0.is_empty() && none.1.is_empty());
}

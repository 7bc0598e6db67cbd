//! The token endpoint's rules, one test per rule of contract §5-§7, over in-memory ports.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use super::*;
use crate::audit::{AuditAction, RequestContext};
use crate::authorization::{
    AuthorizationCodeRecord, AuthorizationCodeRepository, AuthorizationPolicy, CodeChallenge,
    InMemoryAuthorizationCodes, ResourceIndicator, ScopeSet,
};
use crate::clients::{ClientRepository, ClientSettings, RegistrationPolicy};
use crate::clock::ManualClock;
use crate::credentials::{SystemRandomSource, TokenDigest};
use crate::keys::{KeyRing, SharedKeyRing, SigningAlgorithm, SigningKey};
use crate::memory::InMemoryClientRepository;
use crate::registration::RegistrationService;
use crate::testing::cheap_issuer;
use crate::users::{InMemoryUserStore, LocalAuthenticator, UserService};

const NOW: i64 = 1_800_000_000;
const ISSUER: &str = "https://auth.example.com";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "http://127.0.0.1:3000/callback";
const RESOURCE: &str = "https://mcp.example.com/mcp";

struct Fixture {
    clock: Arc<ManualClock>,
    clients: Arc<InMemoryClientRepository>,
    codes: Arc<InMemoryAuthorizationCodes>,
    refresh: Arc<InMemoryRefreshTokens>,
    users: Arc<InMemoryUserStore>,
    user_service: UserService,
    registration: RegistrationService,
    service: TokenService,
    user_id: String,
}

fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(NOW));
    let clients = Arc::new(InMemoryClientRepository::new());
    let issuer = cheap_issuer();
    let registration = RegistrationService::new(
        clients.clone(),
        clients.clone(),
        Arc::new(RegistrationPolicy {
            mcp_profile: false,
            allowed_grant_types: vec![
                crate::values::GrantType::AuthorizationCode,
                crate::values::GrantType::RefreshToken,
                crate::values::GrantType::ClientCredentials,
            ],
            ..RegistrationPolicy::default()
        }),
        issuer.clone(),
        clock.clone(),
    );
    let rng = SystemRandomSource::new();
    let users = Arc::new(InMemoryUserStore::new());
    let authenticator = Arc::new(
        LocalAuthenticator::new(
            users.clone(),
            issuer.hasher().clone(),
            &rng,
            Default::default(),
        )
        .expect("authenticator"),
    );
    let user_service = UserService::new(
        users.clone(),
        users.clone(),
        authenticator,
        users.clone(),
        issuer.hasher().clone(),
        Arc::new(SystemRandomSource::new()),
        clock.clone(),
    );
    let user = user_service
        .create_user(
            "alice",
            None,
            SecretString::from("correct horse".to_owned()),
            "cli",
            &RequestContext::default(),
        )
        .expect("user");
    let codes = Arc::new(InMemoryAuthorizationCodes::new());
    let refresh = Arc::new(InMemoryRefreshTokens::new());
    let verified = Arc::new(VerifiedSecrets::new(&rng, 60, 100).expect("cache"));
    let client_auth = ClientAuthenticator::new(
        clients.clone(),
        issuer.hasher().clone(),
        clock.clone(),
        verified,
        &rng,
    )
    .expect("client authenticator");
    let key = SigningKey::generate(SigningAlgorithm::ES256, &rng).expect("key");
    let keys = Arc::new(SharedKeyRing::new(ISSUER, KeyRing::single(key), NOW).expect("ring"));
    let service = TokenService::new(
        client_auth,
        TokenStores {
            codes: codes.clone(),
            refresh: refresh.clone(),
            revocations: Arc::new(InMemoryAccessTokenRevocations::new()),
            users: users.clone(),
            audit: clients.clone(),
        },
        keys,
        issuer,
        clock.clone(),
        TokenPolicy::new(ISSUER),
        Arc::new(AuthorizationPolicy::default()),
    );
    Fixture {
        clock,
        clients,
        codes,
        refresh,
        users,
        user_service,
        registration,
        service,
        user_id: user.id.as_str().to_owned(),
    }
}

struct Registered {
    client_id: String,
    secret: Option<String>,
}

impl Fixture {
    fn register(&self, body: serde_json::Value) -> Registered {
        let r = self
            .registration
            .register(
                body.as_object().expect("object"),
                &RequestContext::default(),
            )
            .expect("registered");
        Registered {
            client_id: r.client.client_id.clone(),
            secret: r
                .client_secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
        }
    }

    fn public_client(&self) -> Registered {
        self.register(serde_json::json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        }))
    }

    fn code_for(&self, client_id: &str, family: &str) -> String {
        let code = format!("ac_test_{family}");
        self.codes
            .insert(&AuthorizationCodeRecord {
                digest: TokenDigest::of(&code),
                client_id: client_id.to_owned(),
                redirect_uri: Some(REDIRECT.to_owned()),
                code_challenge: CodeChallenge::from_stored(CHALLENGE).expect("challenge"),
                scope: ScopeSet::from("mcp files:read".to_owned()),
                resources: vec![ResourceIndicator::parse(RESOURCE).expect("resource")],
                user_id: self.user_id.clone(),
                auth_time: NOW - 30,
                issued_at: NOW,
                expires_at: NOW + 60,
                family_id: family.to_owned(),
                used_at: None,
            })
            .expect("code stored");
        code
    }

    fn token(
        &self,
        auth: Option<&str>,
        pairs: &[(&str, &str)],
    ) -> Result<TokenResponse, TokenError> {
        let params = FormParams::parse(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )?;
        self.service
            .token(auth, &params, &RequestContext::default())
    }

    fn exchange(&self, client_id: &str, code: &str) -> Result<TokenResponse, TokenError> {
        self.token(
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client_id),
                ("code", code),
                ("code_verifier", VERIFIER),
                ("redirect_uri", REDIRECT),
            ],
        )
    }

    fn refresh_with(&self, client_id: &str, token: &str) -> Result<TokenResponse, TokenError> {
        self.token(
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", client_id),
                ("refresh_token", token),
            ],
        )
    }

    fn introspector(&self) -> (String, String) {
        let r = self.register(serde_json::json!({
            "redirect_uris": ["https://rs.example.com/cb"],
            "token_endpoint_auth_method": "client_secret_basic",
        }));
        let mut client = self
            .clients
            .find(&r.client_id)
            .expect("read")
            .expect("exists");
        client.settings = ClientSettings {
            allow_introspection: true,
            ..ClientSettings::default()
        };
        let event = crate::audit::AuditEvent::new(
            NOW,
            AuditAction::ClientUpdated,
            "test",
            &RequestContext::default(),
        );
        self.clients
            .update(&client, None, None, &event)
            .expect("settings");
        let basic = format!(
            "Basic {}",
            STANDARD.encode(format!(
                "{}:{}",
                r.client_id,
                r.secret.expect("confidential")
            ))
        );
        (r.client_id, basic)
    }

    fn introspect(&self, basic: &str, token: &str) -> Introspection {
        let params = FormParams::parse(vec![("token".into(), token.into())]).expect("params");
        self.service
            .introspect(Some(basic), &params)
            .expect("introspection")
    }
}

fn secret(s: &Option<SecretString>) -> String {
    s.as_ref()
        .expect("refresh token")
        .expose_secret()
        .to_owned()
}

#[test]
fn a_code_exchange_returns_an_access_token_and_a_refresh_token() {
    let f = fixture();
    let client = f.public_client();
    let code = f.code_for(&client.client_id, "fam1");
    let response = f.exchange(&client.client_id, &code).expect("tokens");
    assert_eq!(response.scope, "files:read mcp");
    assert_eq!(response.expires_in, 3600);
    assert!(secret(&response.refresh_token).starts_with(REFRESH_TOKEN_PREFIX));
    let (_, basic) = f.introspector();
    let info = f.introspect(&basic, response.access_token.expose_secret());
    assert!(info.active);
    assert_eq!(info.aud, vec![RESOURCE.to_owned()]);
    assert_eq!(info.sub.as_deref(), Some(f.user_id.as_str()));
    assert_eq!(info.token_type, Some("Bearer"));
    assert_eq!(info.token_use, Some("access_token"));
}

#[test]
fn a_code_presented_twice_is_refused_and_revokes_what_it_produced() {
    let f = fixture();
    let client = f.public_client();
    let code = f.code_for(&client.client_id, "fam1");
    let first = f.exchange(&client.client_id, &code).expect("tokens");
    let err = f.exchange(&client.client_id, &code).expect_err("replay");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidGrant);
    assert!(f
        .refresh
        .family("fam1")
        .expect("family")
        .revoked_at
        .is_some());
    let refused = f
        .refresh_with(&client.client_id, &secret(&first.refresh_token))
        .expect_err("family revoked");
    assert_eq!(refused.code(), crate::error::ErrorCode::InvalidGrant);
    let (_, basic) = f.introspector();
    assert!(
        !f.introspect(&basic, first.access_token.expose_secret())
            .active
    );
    assert!(f
        .clients
        .audit_events()
        .iter()
        .any(|e| e.action == AuditAction::CodeReplayed));
}

#[test]
fn a_wrong_verifier_a_wrong_redirect_uri_or_another_client_gets_invalid_grant() {
    let f = fixture();
    let client = f.public_client();
    let other = f.public_client();
    let code = f.code_for(&client.client_id, "fam1");
    let err = f
        .exchange(&other.client_id, &code)
        .expect_err("other client");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidGrant);

    let code = f.code_for(&client.client_id, "fam2");
    let wrong_verifier = "x".repeat(43);
    let err = f
        .token(
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client.client_id),
                ("code", &code),
                ("code_verifier", &wrong_verifier),
                ("redirect_uri", REDIRECT),
            ],
        )
        .expect_err("verifier");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidGrant);
    assert!(err.to_string().contains("code_verifier"), "{err}");

    let code = f.code_for(&client.client_id, "fam3");
    let err = f
        .token(
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client.client_id),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("redirect_uri", "http://127.0.0.1:3000/callback/"),
            ],
        )
        .expect_err("redirect");
    assert!(err.to_string().contains("redirect_uri"), "{err}");
}

#[test]
fn a_malformed_verifier_is_invalid_request_and_leaves_the_code_usable() {
    let f = fixture();
    let client = f.public_client();
    let code = f.code_for(&client.client_id, "fam1");
    for bad in [
        "a".repeat(42),
        "a".repeat(129),
        format!("{}!", "a".repeat(42)),
    ] {
        let err = f
            .token(
                None,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &client.client_id),
                    ("code", &code),
                    ("code_verifier", &bad),
                    ("redirect_uri", REDIRECT),
                ],
            )
            .expect_err("malformed verifier");
        assert_eq!(err.code(), crate::error::ErrorCode::InvalidRequest, "{bad}");
    }
    assert!(f.exchange(&client.client_id, &code).is_ok());
}

#[test]
fn an_expired_code_is_invalid_grant() {
    let f = fixture();
    let client = f.public_client();
    let code = f.code_for(&client.client_id, "fam1");
    f.clock.advance(61);
    let err = f.exchange(&client.client_id, &code).expect_err("expired");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidGrant);
}

#[test]
fn a_repeated_parameter_is_invalid_request() {
    let err = FormParams::parse(vec![
        ("grant_type".into(), "authorization_code".into()),
        ("code".into(), "a".into()),
        ("code".into(), "b".into()),
    ])
    .expect_err("repeated");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidRequest);
    assert!(FormParams::parse(vec![
        ("resource".into(), "https://a.example".into()),
        ("resource".into(), "https://b.example".into()),
    ])
    .is_ok());
}

#[test]
fn an_unknown_grant_type_and_an_unregistered_grant_are_told_apart() {
    let f = fixture();
    let client = f.public_client();
    let err = f
        .token(
            None,
            &[("grant_type", "password"), ("client_id", &client.client_id)],
        )
        .expect_err("unsupported");
    assert_eq!(err.code(), crate::error::ErrorCode::UnsupportedGrantType);
    let err = f
        .token(
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client.client_id),
            ],
        )
        .expect_err("not registered");
    assert_eq!(err.code(), crate::error::ErrorCode::UnauthorizedClient);
}

#[test]
fn refresh_rotates_for_public_clients_and_a_reuse_after_the_grace_window_revokes_the_family() {
    let f = fixture();
    let client = f.public_client();
    let code = f.code_for(&client.client_id, "fam1");
    let first = f.exchange(&client.client_id, &code).expect("tokens");
    let rt1 = secret(&first.refresh_token);
    let second = f.refresh_with(&client.client_id, &rt1).expect("refresh");
    let rt2 = secret(&second.refresh_token);
    assert_ne!(rt1, rt2);

    // A duplicate within the grace window gets a fresh pair of the same family.
    f.clock.advance(3);
    let duplicate = f.refresh_with(&client.client_id, &rt1).expect("grace");
    assert_ne!(secret(&duplicate.refresh_token), rt2);
    assert!(f
        .refresh
        .family("fam1")
        .expect("family")
        .revoked_at
        .is_none());

    // After it, the replay revokes everything.
    f.clock.advance(30);
    let err = f.refresh_with(&client.client_id, &rt1).expect_err("reuse");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidGrant);
    assert!(f
        .refresh
        .family("fam1")
        .expect("family")
        .revoked_at
        .is_some());
    assert!(f.refresh_with(&client.client_id, &rt2).is_err());
    assert!(f
        .clients
        .audit_events()
        .iter()
        .any(|e| e.action == AuditAction::RefreshReuseDetected));
}

#[test]
fn a_refresh_token_of_another_client_is_refused_without_rotating_it() {
    let f = fixture();
    let client = f.public_client();
    let other = f.public_client();
    let code = f.code_for(&client.client_id, "fam1");
    let rt = secret(
        &f.exchange(&client.client_id, &code)
            .expect("tokens")
            .refresh_token,
    );
    let err = f
        .refresh_with(&other.client_id, &rt)
        .expect_err("other client");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidGrant);
    assert!(f.refresh_with(&client.client_id, &rt).is_ok());
}

#[test]
fn a_refresh_may_narrow_scope_and_resources_but_never_widen_them() {
    let f = fixture();
    let client = f.public_client();
    let code = f.code_for(&client.client_id, "fam1");
    let rt = secret(
        &f.exchange(&client.client_id, &code)
            .expect("tokens")
            .refresh_token,
    );
    let err = f
        .token(
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client.client_id),
                ("refresh_token", &rt),
                ("scope", "mcp admin"),
            ],
        )
        .expect_err("wider");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidScope);
    let err = f
        .token(
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client.client_id),
                ("refresh_token", &rt),
                ("resource", "https://other.example.com"),
            ],
        )
        .expect_err("other resource");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidTarget);
    // The refused requests did not rotate the token: it still works, narrowed.
    let narrowed = f
        .token(
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client.client_id),
                ("refresh_token", &rt),
                ("scope", "mcp"),
            ],
        )
        .expect("narrowed");
    assert_eq!(narrowed.scope, "mcp");
}

#[test]
fn disabling_the_user_ends_refresh_and_introspection() {
    let f = fixture();
    let client = f.public_client();
    let code = f.code_for(&client.client_id, "fam1");
    let tokens = f.exchange(&client.client_id, &code).expect("tokens");
    let (_, basic) = f.introspector();
    assert!(
        f.introspect(&basic, tokens.access_token.expose_secret())
            .active
    );
    f.user_service
        .set_disabled(
            &crate::users::UserId::from_stored(f.user_id.clone()),
            true,
            "cli",
            &RequestContext::default(),
        )
        .expect("disabled");
    assert!(
        !f.introspect(&basic, tokens.access_token.expose_secret())
            .active
    );
    assert!(!f.introspect(&basic, &secret(&tokens.refresh_token)).active);
    let err = f
        .refresh_with(&client.client_id, &secret(&tokens.refresh_token))
        .expect_err("disabled user");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidGrant);
    let _ = &f.users;
}

#[test]
fn introspection_needs_a_client_an_administrator_allowed() {
    let f = fixture();
    let client = f.register(serde_json::json!({
        "redirect_uris": ["https://rs.example.com/cb"],
        "token_endpoint_auth_method": "client_secret_post",
    }));
    let params = FormParams::parse(vec![
        ("token".into(), "x".into()),
        ("client_id".into(), client.client_id.clone()),
        (
            "client_secret".into(),
            client.secret.clone().expect("secret"),
        ),
    ])
    .expect("params");
    let err = f
        .service
        .introspect(None, &params)
        .expect_err("not allowed");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidClient);
}

#[test]
fn introspection_of_garbage_is_inactive_with_nothing_else() {
    let f = fixture();
    let (_, basic) = f.introspector();
    for token in ["", "garbage", "rt_unknown", "a.b.c"] {
        if token.is_empty() {
            continue;
        }
        assert_eq!(
            f.introspect(&basic, token),
            Introspection::default(),
            "{token}"
        );
    }
}

#[test]
fn revocation_by_the_owner_ends_the_token_and_others_change_nothing() {
    let f = fixture();
    let client = f.public_client();
    let other = f.public_client();
    let code = f.code_for(&client.client_id, "fam1");
    let tokens = f.exchange(&client.client_id, &code).expect("tokens");
    let (_, basic) = f.introspector();
    let revoke = |client_id: &str, token: &str| {
        let params = FormParams::parse(vec![
            ("token".into(), token.into()),
            ("client_id".into(), client_id.into()),
        ])
        .expect("params");
        f.service.revoke(None, &params, &RequestContext::default())
    };
    // Another client's revocation is accepted and does nothing.
    revoke(&other.client_id, tokens.access_token.expose_secret()).expect("200");
    assert!(
        f.introspect(&basic, tokens.access_token.expose_secret())
            .active
    );
    revoke(&client.client_id, tokens.access_token.expose_secret()).expect("revoked");
    assert!(
        !f.introspect(&basic, tokens.access_token.expose_secret())
            .active
    );
    // The refresh token revokes its whole family.
    revoke(&client.client_id, &secret(&tokens.refresh_token)).expect("revoked");
    assert!(f
        .refresh_with(&client.client_id, &secret(&tokens.refresh_token))
        .is_err());
    revoke(&client.client_id, "rt_never_issued").expect("unknown tokens are fine");
}

#[test]
fn client_credentials_is_for_confidential_clients_registered_for_it() {
    let f = fixture();
    let client = f.register(serde_json::json!({
        "redirect_uris": ["https://svc.example.com/cb"],
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["client_credentials"],
        "scope": "reports"
    }));
    let secret = client.secret.clone().expect("secret");
    let response = f
        .token(
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client.client_id),
                ("client_secret", &secret),
            ],
        )
        .expect("token");
    assert_eq!(response.scope, "reports");
    assert!(response.refresh_token.is_none());
    let err = f
        .token(
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client.client_id),
                ("client_secret", &secret),
                ("scope", "reports admin"),
            ],
        )
        .expect_err("wider scope");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidScope);
}

#[test]
fn a_deleted_client_cannot_refresh_and_its_tokens_go_inactive() {
    let f = fixture();
    let client = f.public_client();
    let code = f.code_for(&client.client_id, "fam1");
    let tokens = f.exchange(&client.client_id, &code).expect("tokens");
    let (_, basic) = f.introspector();
    let event = crate::audit::AuditEvent::new(
        NOW,
        AuditAction::ClientDeleted,
        "test",
        &RequestContext::default(),
    );
    f.clients
        .delete(&client.client_id, None, &event)
        .expect("deleted");
    assert!(
        !f.introspect(&basic, tokens.access_token.expose_secret())
            .active
    );
    let err = f
        .refresh_with(&client.client_id, &secret(&tokens.refresh_token))
        .expect_err("deleted client");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidClient);
}

#[test]
fn a_locked_client_gets_no_tokens_and_its_tokens_go_inactive_until_unlocked() {
    let f = fixture();
    let client = f.public_client();
    let code = f.code_for(&client.client_id, "fam1");
    let tokens = f.exchange(&client.client_id, &code).expect("tokens");
    let (_, basic) = f.introspector();
    let lock = |locked: bool| {
        let event = crate::audit::AuditEvent::new(
            NOW,
            AuditAction::ClientLocked,
            "test",
            &RequestContext::default(),
        );
        f.clients
            .set_locked(&client.client_id, locked, &event)
            .expect("lock");
    };
    lock(true);
    assert!(
        !f.introspect(&basic, tokens.access_token.expose_secret())
            .active
    );
    let err = f
        .refresh_with(&client.client_id, &secret(&tokens.refresh_token))
        .expect_err("locked");
    assert_eq!(err.code(), crate::error::ErrorCode::InvalidClient);
    assert!(err.to_string().contains("locked"), "{err}");
    lock(false);
    assert!(
        f.introspect(&basic, tokens.access_token.expose_secret())
            .active
    );
    assert!(f
        .refresh_with(&client.client_id, &secret(&tokens.refresh_token))
        .is_ok());
}

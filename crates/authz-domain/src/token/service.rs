//! The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6), introspection (RFC 7662) and
//! revocation (RFC 7009) as one service over the ports.
//!
//! A token request is checked in this order: the form's parameters (a repeated one is
//! `invalid_request`, RFC 6749 §3.2), `grant_type` (`unsupported_grant_type`), client
//! authentication (`invalid_client`), whether the client is registered for the grant
//! (`unauthorized_client`), then the grant's own rules. Nothing is written before a request passes
//! every check that does not need the code or refresh token to be consumed.

use std::collections::BTreeSet;
use std::sync::Arc;

use secrecy::SecretString;

use super::access_token::AccessTokenClaims;
use super::client_auth::{ClientAuthError, ClientAuthenticator, PresentedClient};
use super::refresh::{
    decide, RefreshDecision, RefreshFamily, RefreshRefusal, RefreshTokenRecord,
    RefreshTokenRepository, RefreshWrite, REFRESH_TOKEN_PREFIX,
};
use super::revocation::AccessTokenRevocationRepository;
use crate::audit::{AuditAction, AuditEvent, AuditLog, RequestContext};
use crate::authorization::{
    AuthorizationCodeRepository, AuthorizationPolicy, CodeVerifier, ConsumeOutcome,
    ResourceIndicator, ScopeSet,
};
use crate::clients::Client;
use crate::clock::Clock;
use crate::credentials::{random_b64, CredentialError, CredentialIssuer, TokenDigest};
use crate::error::{ErrorCode, RepositoryError};
use crate::keys::SharedKeyRing;
use crate::users::{UserId, UserRepository};
use crate::values::{truncate, GrantType, Scope};

/// Token settings that are not per client.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// The issuer (`iss`), exactly as published in the metadata.
    pub issuer: String,
    /// `aud` of tokens requested without `resource`; `None`: the issuer.
    pub default_resource: Option<String>,
    /// Access token lifetime for clients whose settings are the defaults, in seconds.
    pub access_token_lifetime_secs: u64,
    /// How long a rotated-out refresh token still yields a fresh pair (duplicate refreshes of
    /// real clients), in seconds. Default 10.
    pub refresh_reuse_grace_secs: u64,
    /// Absolute lifetime of a refresh token family from the code exchange, in seconds; `0`: none
    /// (each token still has the client's idle lifetime). Default 90 days.
    pub refresh_family_lifetime_secs: u64,
}

impl TokenPolicy {
    /// The defaults for `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            default_resource: None,
            access_token_lifetime_secs: 3600,
            refresh_reuse_grace_secs: 10,
            refresh_family_lifetime_secs: 90 * 24 * 3600,
        }
    }
}

/// Why a token, introspection or revocation request was refused (RFC 6749 §5.2). Messages are
/// safe to send; `Storage` and `Internal` are logged and answered with a generic message.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// `invalid_request` (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// `invalid_client` (401); `basic`: answer with a `WWW-Authenticate: Basic` challenge.
    #[error("{message}")]
    InvalidClient {
        /// What the client is told.
        message: String,
        /// The request used HTTP Basic.
        basic: bool,
    },
    /// `invalid_grant` (400).
    #[error("{0}")]
    InvalidGrant(String),
    /// `unauthorized_client` (400).
    #[error("{0}")]
    UnauthorizedClient(String),
    /// `unsupported_grant_type` (400).
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// `invalid_scope` (400).
    #[error("{0}")]
    InvalidScope(String),
    /// `invalid_target` (400, RFC 8707).
    #[error("{0}")]
    InvalidTarget(String),
    /// Storage failed; nothing was issued.
    #[error(transparent)]
    Storage(#[from] RepositoryError),
    /// Randomness, signing or another internal step failed; nothing was issued.
    #[error("{0}")]
    Internal(String),
}

impl TokenError {
    /// The OAuth error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Self::InvalidClient { .. } => ErrorCode::InvalidClient,
            Self::InvalidGrant(_) => ErrorCode::InvalidGrant,
            Self::UnauthorizedClient(_) => ErrorCode::UnauthorizedClient,
            Self::UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
            Self::InvalidScope(_) => ErrorCode::InvalidScope,
            Self::InvalidTarget(_) => ErrorCode::InvalidTarget,
            Self::Storage(RepositoryError::Unavailable(_)) => ErrorCode::TemporarilyUnavailable,
            Self::Storage(_) | Self::Internal(_) => ErrorCode::ServerError,
        }
    }

    /// Whether the caller caused this error (and may see its message).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::Storage(_) | Self::Internal(_))
    }
}

impl From<ClientAuthError> for TokenError {
    fn from(e: ClientAuthError) -> Self {
        match e {
            ClientAuthError::InvalidClient { message, basic } => {
                Self::InvalidClient { message, basic }
            }
            ClientAuthError::Storage(e) => Self::Storage(e),
        }
    }
}

impl From<CredentialError> for TokenError {
    fn from(e: CredentialError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// The same answer for every unusable code or refresh token, so a guess teaches nothing.
const INVALID_GRANT: &str =
    "the authorization code or refresh token is invalid, expired, revoked, or was issued to another client";

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug)]
pub struct TokenResponse {
    /// The JWT access token (RFC 9068).
    pub access_token: SecretString,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// A refresh token, when the client is registered for `refresh_token` (and, on refresh, when
    /// it was rotated).
    pub refresh_token: Option<SecretString>,
    /// The granted scope (RFC 6749 §3.3), possibly empty.
    pub scope: String,
}

/// The form parameters of a token, introspection or revocation request, each sent at most once.
#[derive(Debug)]
pub struct FormParams(Vec<(String, String)>);

impl FormParams {
    /// Checks that no parameter repeats (RFC 6749 §3.2: "Request and response parameters MUST
    /// NOT be included more than once"), except `resource` (RFC 8707 §2 allows several).
    pub fn parse(pairs: Vec<(String, String)>) -> Result<Self, TokenError> {
        let mut seen = BTreeSet::new();
        for (name, _) in &pairs {
            if name != "resource" && !seen.insert(name.as_str()) {
                return Err(TokenError::InvalidRequest(format!(
                    "{}: sent more than once; every parameter but resource must appear at most once (RFC 6749 §3.2)",
                    truncate(name, 64)
                )));
            }
        }
        Ok(Self(pairs))
    }

    /// The value of `name` (an empty value counts as absent, RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn require(&self, name: &str) -> Result<&str, TokenError> {
        self.get(name)
            .ok_or_else(|| TokenError::InvalidRequest(format!("{name}: required")))
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The `resource` parameters, parsed (RFC 8707): `invalid_target` for a bad one.
    fn resources(&self) -> Result<Vec<ResourceIndicator>, TokenError> {
        let mut out: Vec<ResourceIndicator> = Vec::new();
        for raw in self.all("resource") {
            let r = ResourceIndicator::parse(raw).map_err(|e| TokenError::InvalidTarget(e.0))?;
            if !out.contains(&r) {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn scope(&self) -> Result<Option<ScopeSet>, TokenError> {
        match self.get("scope") {
            None => Ok(None),
            Some(raw) => Scope::parse(raw)
                .map(|s| s.map(|s| ScopeSet::from(&s)))
                .map_err(|e| TokenError::InvalidScope(format!("scope: {e}"))),
        }
    }
}

/// What introspection says about a token (RFC 7662 §2.2). `active: false` carries nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Introspection {
    /// Whether the token is usable now.
    pub active: bool,
    /// The scope.
    pub scope: Option<String>,
    /// The client it was issued to.
    pub client_id: Option<String>,
    /// The subject.
    pub sub: Option<String>,
    /// The audiences (resources).
    pub aud: Vec<String>,
    /// The issuer.
    pub iss: Option<String>,
    /// Expiry (Unix seconds).
    pub exp: Option<i64>,
    /// Issue time (Unix seconds).
    pub iat: Option<i64>,
    /// `Bearer` for access tokens (RFC 7662 §2.2: the RFC 6749 §5.1 token type); absent for
    /// refresh tokens, which are not presented to resource servers.
    pub token_type: Option<&'static str>,
    /// `access_token` or `refresh_token`: which kind of token this is (as Ory Hydra names it).
    pub token_use: Option<&'static str>,
}

/// The stores the token service works over.
#[derive(Debug, Clone)]
pub struct TokenStores {
    /// Authorization codes.
    pub codes: Arc<dyn AuthorizationCodeRepository>,
    /// Refresh token families.
    pub refresh: Arc<dyn RefreshTokenRepository>,
    /// Revoked access token ids.
    pub revocations: Arc<dyn AccessTokenRevocationRepository>,
    /// Users, to refuse tokens of disabled users.
    pub users: Arc<dyn UserRepository>,
    /// Audit events of grants, reuse and revocation.
    pub audit: Arc<dyn AuditLog>,
}

/// The token endpoint, introspection and revocation.
#[derive(Debug, Clone)]
pub struct TokenService {
    authenticator: ClientAuthenticator,
    stores: TokenStores,
    keys: Arc<SharedKeyRing>,
    credentials: CredentialIssuer,
    clock: Arc<dyn Clock>,
    policy: Arc<TokenPolicy>,
    authorization: Arc<AuthorizationPolicy>,
    verified: Arc<VerifiedAccessTokens>,
}

/// Access tokens whose signature this process already verified, by the SHA-256 digest of the
/// token, with their claims. A resource server introspects the same token on every request it
/// receives; the ECDSA verification costs more than all the database reads of an introspection
/// together, and its answer for a given token never changes. What can change (revocation, the
/// family, the client, the user, expiry) is still checked on every call. Bounded; cleared when
/// full.
#[derive(Debug, Default)]
struct VerifiedAccessTokens(
    std::sync::Mutex<std::collections::HashMap<[u8; 32], Arc<AccessTokenClaims>>>,
);

const MAX_VERIFIED_ACCESS_TOKENS: usize = 50_000;

impl VerifiedAccessTokens {
    fn get(&self, digest: &TokenDigest) -> Option<Arc<AccessTokenClaims>> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(digest.as_bytes()).cloned()
    }

    fn insert(&self, digest: &TokenDigest, claims: Arc<AccessTokenClaims>, now: i64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_VERIFIED_ACCESS_TOKENS {
            map.retain(|_, c| c.exp > now);
            if map.len() >= MAX_VERIFIED_ACCESS_TOKENS {
                map.clear();
            }
        }
        map.insert(*digest.as_bytes(), claims);
    }
}

impl TokenService {
    /// A service issuing tokens signed with `keys` under `policy`; `authorization` supplies the
    /// resources allowed for `client_credentials`.
    pub fn new(
        authenticator: ClientAuthenticator,
        stores: TokenStores,
        keys: Arc<SharedKeyRing>,
        credentials: CredentialIssuer,
        clock: Arc<dyn Clock>,
        policy: TokenPolicy,
        authorization: Arc<AuthorizationPolicy>,
    ) -> Self {
        Self {
            authenticator,
            stores,
            keys,
            credentials,
            clock,
            policy: Arc::new(policy),
            authorization,
            verified: Arc::default(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    /// Answers a token request (RFC 6749 §3.2): `authorization`'s value is the `Authorization`
    /// header (for `client_secret_basic`), `params` the form.
    pub fn token(
        &self,
        authorization: Option<&str>,
        params: &FormParams,
        context: &RequestContext,
    ) -> Result<TokenResponse, TokenError> {
        let grant_type = params.require("grant_type")?;
        let grant = match GrantType::from_wire(grant_type) {
            Some(g) => g,
            None => {
                return Err(TokenError::UnsupportedGrantType(format!(
                    "grant_type: {:?} is not supported; supported: authorization_code, refresh_token, client_credentials",
                    truncate(grant_type, 64)
                )))
            }
        };
        let presented = PresentedClient::from_request(
            authorization,
            params.get("client_id"),
            params.get("client_secret"),
        )?;
        let client = self.authenticator.authenticate(&presented)?;
        if !client.metadata.grant_types.contains(&grant) {
            return Err(TokenError::UnauthorizedClient(format!(
                "this client is not registered for the {} grant; it is registered for: {}",
                grant.as_str(),
                client
                    .metadata
                    .grant_types
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        match grant {
            GrantType::AuthorizationCode => self.exchange_code(&client, params, context),
            GrantType::RefreshToken => self.refresh(&client, params, context),
            GrantType::ClientCredentials => self.client_credentials(&client, params, context),
        }
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    fn audit(&self, event: AuditEvent) {
        // The grant already happened (or was refused); a lost audit record is logged by the
        // writer and must not turn the answer into an error.
        let _ = self.stores.audit.record(event);
    }

    /// RFC 6749 §4.1.3 with RFC 7636 §4.5-4.6 and RFC 8707 §2.2.
    fn exchange_code(
        &self,
        client: &Client,
        params: &FormParams,
        context: &RequestContext,
    ) -> Result<TokenResponse, TokenError> {
        let code = params.require("code")?;
        let verifier = CodeVerifier::parse(params.require("code_verifier")?)
            .map_err(|e| TokenError::InvalidRequest(format!("code_verifier: {}", e.0)))?;
        let requested = params.resources()?;
        let now = self.now();
        let event = |succeeded: bool| {
            let e = AuditEvent::new(now, AuditAction::CodeExchanged, "client", context)
                .client(&client.client_id);
            if succeeded {
                e
            } else {
                e.refused("authorization code refused")
            }
        };
        let record = match self.stores.codes.consume(&TokenDigest::of(code), now)? {
            ConsumeOutcome::Fresh(record) => record,
            ConsumeOutcome::AlreadyUsed(record) => {
                // RFC 6749 §4.1.2: a code used twice revokes what it produced.
                self.stores.refresh.revoke_family(&record.family_id, now)?;
                self.audit(
                    AuditEvent::new(now, AuditAction::CodeReplayed, "client", context)
                        .client(&client.client_id)
                        .refused("authorization code presented again; its grant was revoked"),
                );
                return Err(TokenError::InvalidGrant(INVALID_GRANT.into()));
            }
            ConsumeOutcome::Expired(_) | ConsumeOutcome::Unknown => {
                self.audit(event(false));
                return Err(TokenError::InvalidGrant(INVALID_GRANT.into()));
            }
        };
        if let Err(mismatch) =
            record.check_exchange(&client.client_id, params.get("redirect_uri"), &verifier)
        {
            self.audit(event(false).detail(mismatch.0));
            let message = if record.client_id == client.client_id {
                mismatch.0.to_owned()
            } else {
                INVALID_GRANT.to_owned()
            };
            return Err(TokenError::InvalidGrant(message));
        }
        if let Some(bad) = requested.iter().find(|r| !record.resources.contains(r)) {
            return Err(TokenError::InvalidTarget(format!(
                "resource: {:?} was not granted by the authorization request",
                truncate(bad.as_str(), 256)
            )));
        }
        self.require_active_user(&record.user_id)?;

        let family = RefreshFamily {
            family_id: record.family_id.clone(),
            client_id: client.client_id.clone(),
            user_id: record.user_id.clone(),
            scope: record.scope.tokens().map(str::to_owned).collect(),
            resources: record
                .resources
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            auth_time: record.auth_time,
            created_at: now,
            expires_at: match self.policy.refresh_family_lifetime_secs {
                0 => i64::MAX,
                secs => now.saturating_add(secs_i64(secs)),
            },
            revoked_at: None,
        };
        let refresh = if client
            .metadata
            .grant_types
            .contains(&GrantType::RefreshToken)
        {
            Some(self.new_refresh_token(client, &family, now)?)
        } else {
            None
        };
        self.stores
            .refresh
            .create_family(&family, refresh.as_ref().map(|(_, r)| r))?;
        let scope = record.scope.to_scope_string();
        let (access_token, expires_in) =
            self.grant_access_token(client, &family, &scope, &requested, now)?;
        self.audit(event(true));
        Ok(TokenResponse {
            access_token,
            expires_in,
            refresh_token: refresh.map(|(token, _)| token),
            scope,
        })
    }

    /// RFC 6749 §6 with rotation and reuse detection (RFC 9700 §4.14.2).
    fn refresh(
        &self,
        client: &Client,
        params: &FormParams,
        context: &RequestContext,
    ) -> Result<TokenResponse, TokenError> {
        let presented = params.require("refresh_token")?;
        let requested_scope = params.scope()?;
        let requested_resources = params.resources()?;
        let now = self.now();
        // Public clients always rotate (RFC 9700 §4.14.2); confidential ones as configured.
        let rotate = !client.metadata.token_endpoint_auth_method.uses_secret()
            || client.settings.rotate_refresh_tokens;
        let grace = secs_i64(self.policy.refresh_reuse_grace_secs);
        // Generated before the transaction so that nothing slow runs while the family is locked.
        let successor = self.credentials.bearer_token(REFRESH_TOKEN_PREFIX)?;
        let idle = client.settings.refresh_token_lifetime_secs;
        let mut narrowing: Option<TokenError> = None;
        let (decision, family) =
            self.stores
                .refresh
                .refresh(&TokenDigest::of(presented), &mut |found: Option<(
                    &RefreshTokenRecord,
                    &RefreshFamily,
                )>| {
                    let Some((token, family)) = found else {
                        return (
                            RefreshDecision::Refuse(RefreshRefusal::Unknown),
                            RefreshWrite::Nothing,
                        );
                    };
                    let decision = decide(token, family, &client.client_id, rotate, grace, now);
                    if let RefreshDecision::Issue { .. } = decision {
                        // Narrowing is checked before anything is written, so a bad request never
                        // costs the client its refresh token.
                        if let Err(e) =
                            narrow(family, requested_scope.as_ref(), &requested_resources)
                        {
                            narrowing = Some(e);
                            return (
                                RefreshDecision::Refuse(RefreshRefusal::Unknown),
                                RefreshWrite::Nothing,
                            );
                        }
                    }
                    let write = match decision {
                        RefreshDecision::Issue { rotate: true, .. } => RefreshWrite::Rotate {
                            at: now,
                            successor: RefreshTokenRecord {
                                digest: successor.digest,
                                family_id: family.family_id.clone(),
                                issued_at: now,
                                expires_at: idle_expiry(idle, now).min(family.expires_at),
                                rotated_at: None,
                            },
                        },
                        RefreshDecision::Refuse(RefreshRefusal::Reused) => {
                            RefreshWrite::RevokeFamily { at: now }
                        }
                        _ => RefreshWrite::Nothing,
                    };
                    (decision, write)
                })?;
        if let Some(e) = narrowing {
            return Err(e);
        }
        let family = match (decision, family) {
            (RefreshDecision::Issue { .. }, Some(family)) => family,
            (RefreshDecision::Refuse(RefreshRefusal::Reused), _) => {
                self.audit(
                    AuditEvent::new(now, AuditAction::RefreshReuseDetected, "client", context)
                        .client(&client.client_id)
                        .refused("a rotated-out refresh token was presented again after the grace window; its family was revoked"),
                );
                return Err(TokenError::InvalidGrant(INVALID_GRANT.into()));
            }
            (RefreshDecision::Refuse(reason), _) => {
                self.audit(
                    AuditEvent::new(now, AuditAction::TokenRefreshed, "client", context)
                        .client(&client.client_id)
                        .refused(refusal_detail(reason)),
                );
                return Err(TokenError::InvalidGrant(INVALID_GRANT.into()));
            }
            (RefreshDecision::Issue { .. }, None) => {
                return Err(TokenError::Internal(
                    "refresh decided to issue without a family".into(),
                ))
            }
        };
        if self.require_active_user(&family.user_id).is_err() {
            self.stores.refresh.revoke_family(&family.family_id, now)?;
            return Err(TokenError::InvalidGrant(INVALID_GRANT.into()));
        }
        let scope = requested_scope
            .map(|s| s.to_scope_string())
            .unwrap_or_else(|| family.scope.iter().cloned().collect::<Vec<_>>().join(" "));
        let (access_token, expires_in) =
            self.grant_access_token(client, &family, &scope, &requested_resources, now)?;
        let rotated = matches!(decision, RefreshDecision::Issue { rotate: true, .. });
        let mut event = AuditEvent::new(now, AuditAction::TokenRefreshed, "client", context)
            .client(&client.client_id);
        if let RefreshDecision::Issue {
            within_grace: true, ..
        } = decision
        {
            event = event.detail("duplicate refresh within the grace window");
        }
        self.audit(event);
        Ok(TokenResponse {
            access_token,
            expires_in,
            refresh_token: rotated.then_some(successor.plaintext),
            scope,
        })
    }

    /// RFC 6749 §4.4: a token for the client itself.
    fn client_credentials(
        &self,
        client: &Client,
        params: &FormParams,
        context: &RequestContext,
    ) -> Result<TokenResponse, TokenError> {
        if !client.metadata.token_endpoint_auth_method.uses_secret() {
            return Err(TokenError::UnauthorizedClient(
                "client_credentials is only for confidential clients (RFC 6749 §4.4)".into(),
            ));
        }
        let registered: Option<ScopeSet> = client.metadata.scope.as_ref().map(ScopeSet::from);
        let scope = match (params.scope()?, registered) {
            (Some(requested), Some(registered)) => {
                if let Some(bad) = requested.tokens().find(|t| !registered.contains(t)) {
                    return Err(TokenError::InvalidScope(format!(
                        "scope: {bad:?} is not among the client's registered scope \"{registered}\""
                    )));
                }
                requested
            }
            (Some(requested), None) => requested,
            (None, Some(registered)) => registered,
            (None, None) => ScopeSet::empty(),
        };
        if let Some(bad) = scope.tokens().find(|t| !self.authorization.allows_scope(t)) {
            return Err(TokenError::InvalidScope(format!(
                "scope: {bad:?} is not offered by this server"
            )));
        }
        let resources = params.resources()?;
        if let Some(bad) = resources
            .iter()
            .find(|r| !self.authorization.allows_resource(r))
        {
            return Err(TokenError::InvalidTarget(format!(
                "resource: {:?} is not served by this authorization server",
                truncate(bad.as_str(), 256)
            )));
        }
        let now = self.now();
        let scope = scope.to_scope_string();
        let audience = resources.iter().map(|r| r.as_str().to_owned()).collect();
        let (access_token, expires_in) =
            self.access_token(client, &client.client_id, &scope, audience, None, now)?;
        self.audit(
            AuditEvent::new(now, AuditAction::ClientCredentialsIssued, "client", context)
                .client(&client.client_id),
        );
        Ok(TokenResponse {
            access_token,
            expires_in,
            refresh_token: None,
            scope,
        })
    }

    fn require_active_user(&self, user_id: &str) -> Result<(), TokenError> {
        match self
            .stores
            .users
            .find(&UserId::from_stored(user_id.to_owned()))?
        {
            Some(user) if !user.is_disabled => Ok(()),
            _ => Err(TokenError::InvalidGrant(INVALID_GRANT.into())),
        }
    }

    fn new_refresh_token(
        &self,
        client: &Client,
        family: &RefreshFamily,
        now: i64,
    ) -> Result<(SecretString, RefreshTokenRecord), TokenError> {
        let issued = self.credentials.bearer_token(REFRESH_TOKEN_PREFIX)?;
        let record = RefreshTokenRecord {
            digest: issued.digest,
            family_id: family.family_id.clone(),
            issued_at: now,
            expires_at: idle_expiry(client.settings.refresh_token_lifetime_secs, now)
                .min(family.expires_at),
            rotated_at: None,
        };
        Ok((issued.plaintext, record))
    }

    /// An access token for the user of `family`: its audience is the resources the request named
    /// (already checked to be within the grant), else every resource the grant holds.
    fn grant_access_token(
        &self,
        client: &Client,
        family: &RefreshFamily,
        scope: &str,
        requested: &[ResourceIndicator],
        now: i64,
    ) -> Result<(SecretString, u64), TokenError> {
        let audience: Vec<String> = if requested.is_empty() {
            family.resources.iter().cloned().collect()
        } else {
            requested.iter().map(|r| r.as_str().to_owned()).collect()
        };
        self.access_token(client, &family.user_id, scope, audience, Some(family), now)
    }

    /// Signs an access token (RFC 9068) for `sub`; returns it and its lifetime in seconds.
    fn access_token(
        &self,
        client: &Client,
        sub: &str,
        scope: &str,
        mut audience: Vec<String>,
        family: Option<&RefreshFamily>,
        now: i64,
    ) -> Result<(SecretString, u64), TokenError> {
        if audience.is_empty() {
            audience.push(
                self.policy
                    .default_resource
                    .clone()
                    .unwrap_or_else(|| self.policy.issuer.clone()),
            );
        }
        // A lifetime an administrator set (anything but the settings' default) wins; otherwise
        // the server's `tokens.access_token_lifetime_secs`.
        let lifetime = if client.settings.access_token_lifetime_secs
            == crate::clients::ClientSettings::default().access_token_lifetime_secs
        {
            self.policy.access_token_lifetime_secs
        } else {
            client.settings.access_token_lifetime_secs
        };
        let claims = AccessTokenClaims {
            iss: self.policy.issuer.clone(),
            sub: sub.to_owned(),
            aud: audience,
            client_id: client.client_id.clone(),
            scope: scope.to_owned(),
            iat: now,
            exp: now.saturating_add(secs_i64(lifetime)),
            jti: random_b64(self.credentials.rng(), 16)?,
            auth_time: family.map(|f| f.auth_time),
            grant_id: family.map(|f| f.family_id.clone()),
        };
        let loaded = self.keys.current();
        let token = loaded
            .ring
            .sign_access_token(&claims)
            .map_err(|e| TokenError::Internal(e.to_string()))?;
        Ok((SecretString::from(token), lifetime))
    }

    /// RFC 7662: what the caller — a confidential client an administrator allowed to
    /// introspect — may know about `token`. Anything unknown, expired, revoked, or belonging to
    /// a deleted client or a disabled user is `active: false`, with no reason given.
    pub fn introspect(
        &self,
        authorization: Option<&str>,
        params: &FormParams,
    ) -> Result<Introspection, TokenError> {
        let presented = PresentedClient::from_request(
            authorization,
            params.get("client_id"),
            params.get("client_secret"),
        )?;
        let caller = self.authenticator.authenticate(&presented)?;
        if !caller.settings.allow_introspection
            || !caller.metadata.token_endpoint_auth_method.uses_secret()
        {
            return Err(TokenError::InvalidClient {
                message: "this client may not introspect tokens; an administrator allows it for confidential clients (settings.allow_introspection)".into(),
                basic: presented.used_basic(),
            });
        }
        let token = params.require("token")?;
        let now = self.now();
        if token.starts_with(REFRESH_TOKEN_PREFIX) {
            return self.introspect_refresh(token, now);
        }
        self.introspect_access(token, now)
    }

    fn introspect_refresh(&self, token: &str, now: i64) -> Result<Introspection, TokenError> {
        let Some((record, family)) = self.stores.refresh.find(&TokenDigest::of(token))? else {
            return Ok(Introspection::default());
        };
        let usable = family.revoked_at.is_none()
            && family.expires_at > now
            && record.expires_at > now
            && record.rotated_at.is_none()
            && self.client_exists(&family.client_id)?
            && self.require_active_user(&family.user_id).is_ok();
        if !usable {
            return Ok(Introspection::default());
        }
        Ok(Introspection {
            active: true,
            scope: Some(family.scope.iter().cloned().collect::<Vec<_>>().join(" ")),
            client_id: Some(family.client_id.clone()),
            sub: Some(family.user_id.clone()),
            aud: family.resources.iter().cloned().collect(),
            iss: Some(self.policy.issuer.clone()),
            exp: (record.expires_at != i64::MAX).then_some(record.expires_at),
            iat: Some(record.issued_at),
            token_type: None,
            token_use: Some("refresh_token"),
        })
    }

    fn introspect_access(&self, token: &str, now: i64) -> Result<Introspection, TokenError> {
        let digest = TokenDigest::of(token);
        let claims = match self.verified.get(&digest) {
            Some(claims) => claims,
            None => {
                let loaded = self.keys.current();
                let Some(verifier) = loaded.verifier.as_ref() else {
                    return Ok(Introspection::default());
                };
                let Ok(claims) = verifier.verify(token) else {
                    return Ok(Introspection::default());
                };
                let claims = Arc::new(claims);
                self.verified.insert(&digest, claims.clone(), now);
                claims
            }
        };
        let claims = AccessTokenClaims::clone(&claims);
        if claims.exp <= now
            || self.stores.revocations.is_revoked(&claims.jti)?
            || !self.client_exists(&claims.client_id)?
        {
            return Ok(Introspection::default());
        }
        if let Some(grant) = &claims.grant_id {
            if !self.stores.refresh.family_is_active(grant, now)? {
                return Ok(Introspection::default());
            }
        }
        if claims.auth_time.is_some() && self.require_active_user(&claims.sub).is_err() {
            return Ok(Introspection::default());
        }
        Ok(Introspection {
            active: true,
            scope: Some(claims.scope),
            client_id: Some(claims.client_id),
            sub: Some(claims.sub),
            aud: claims.aud,
            iss: Some(claims.iss),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            token_type: Some("Bearer"),
            token_use: Some("access_token"),
        })
    }

    /// Whether the client still exists and is not locked by an administrator.
    fn client_exists(&self, client_id: &str) -> Result<bool, TokenError> {
        Ok(self
            .authenticator
            .client(client_id)?
            .is_some_and(|c| !c.is_locked))
    }

    /// RFC 7009: the owning client revokes a refresh token (its whole family) or an access token
    /// (remembered by `jti` until it expires). Unknown tokens and other clients' tokens change
    /// nothing and are not an error (RFC 7009 §2.2).
    pub fn revoke(
        &self,
        authorization: Option<&str>,
        params: &FormParams,
        context: &RequestContext,
    ) -> Result<(), TokenError> {
        let presented = PresentedClient::from_request(
            authorization,
            params.get("client_id"),
            params.get("client_secret"),
        )?;
        let client = self.authenticator.authenticate(&presented)?;
        let token = params.require("token")?;
        let now = self.now();
        let revoked = if token.starts_with(REFRESH_TOKEN_PREFIX) {
            match self.stores.refresh.find(&TokenDigest::of(token))? {
                Some((_, family)) if family.client_id == client.client_id => {
                    self.stores.refresh.revoke_family(&family.family_id, now)?
                }
                _ => false,
            }
        } else {
            let loaded = self.keys.current();
            match loaded.verifier.as_ref().map(|v| v.verify(token)) {
                Some(Ok(claims)) if claims.client_id == client.client_id => {
                    self.stores.revocations.revoke(&claims.jti, claims.exp)?;
                    true
                }
                _ => false,
            }
        };
        if revoked {
            self.audit(
                AuditEvent::new(now, AuditAction::AccessTokenRevoked, "client", context)
                    .client(&client.client_id)
                    .detail(if token.starts_with(REFRESH_TOKEN_PREFIX) {
                        "refresh token family revoked (RFC 7009)"
                    } else {
                        "access token revoked (RFC 7009)"
                    }),
            );
        }
        Ok(())
    }

    /// Deletes refresh families that expired or were revoked over a day ago, and revocations of
    /// access tokens that have expired. Returns how many rows went.
    pub fn purge_expired(&self) -> Result<u64, TokenError> {
        let now = self.now();
        Ok(
            self.stores.refresh.purge(now - 86_400)?
                + self.stores.revocations.purge_expired(now)?,
        )
    }
}

/// Checks that a refresh's `scope` and `resource` only narrow the family's grant.
fn narrow(
    family: &RefreshFamily,
    scope: Option<&ScopeSet>,
    resources: &[ResourceIndicator],
) -> Result<(), TokenError> {
    if let Some(scope) = scope {
        if let Some(bad) = scope.tokens().find(|t| !family.scope.contains(*t)) {
            return Err(TokenError::InvalidScope(format!(
                "scope: {bad:?} was not granted; a refresh may narrow the scope, never widen it (RFC 6749 §6)"
            )));
        }
    }
    if let Some(bad) = resources
        .iter()
        .find(|r| !family.resources.contains(r.as_str()))
    {
        return Err(TokenError::InvalidTarget(format!(
            "resource: {:?} was not granted; a refresh may narrow the resources, never widen them (RFC 8707 §2.2)",
            truncate(bad.as_str(), 256)
        )));
    }
    Ok(())
}

fn refusal_detail(reason: RefreshRefusal) -> &'static str {
    match reason {
        RefreshRefusal::Unknown => "unknown refresh token",
        RefreshRefusal::OtherClient => "refresh token of another client",
        RefreshRefusal::Expired => "expired refresh token",
        RefreshRefusal::Revoked => "refresh token of a revoked family",
        RefreshRefusal::Reused => "rotated-out refresh token replayed",
    }
}

fn idle_expiry(lifetime_secs: u64, now: i64) -> i64 {
    match lifetime_secs {
        0 => i64::MAX,
        secs => now.saturating_add(secs_i64(secs)),
    }
}

fn secs_i64(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

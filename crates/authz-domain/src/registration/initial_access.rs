//! Initial access tokens (RFC 7591 §3): bearer tokens an administrator hands out so that only
//! their holders may register, or so that their registrations are told apart from anonymous ones.
//!
//! `registration.mode = "open"` accepts registrations without a token (an `iat_…` token presented
//! anyway is checked and its policy applied; other `Authorization` headers are ignored); `"initial_access_token"` refuses them with `401` and an RFC 6750
//! `Bearer` challenge. A token has an expiry, an optional number of uses and an optional policy
//! (the scopes and grant types its registrations may ask for). Only its SHA-256 digest is stored;
//! a use is spent in the transaction that stores the client, so concurrent registrations never
//! use a token more often than allowed. Clients registered with a token remember its id.

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::management::PresentedToken;
use super::service::{NewClient, RegisteredClient, RegistrationService};
use crate::administration::{AdminScope, AdminService};
use crate::audit::{AuditAction, AuditEvent, RequestContext};
use crate::clients::RegistrationTokenRecord;
use crate::clients::{json_type, Client, ClientMetadata, ClientOrigin, ClientSettings};
use crate::credentials::TokenDigest;
use crate::error::{RegistrationError, RepositoryError};
use crate::values::{truncate, GrantType};

/// Initial access tokens start with this, so a leaked one is recognisable.
pub const INITIAL_ACCESS_TOKEN_PREFIX: &str = "iat_";
/// The answer when registration needs a token and none was sent (challenge without error code).
pub const MISSING_INITIAL_ACCESS_TOKEN_MESSAGE: &str =
    "registration on this server requires Authorization: Bearer <initial access token> (RFC 7591 §3)";
/// The one answer for an unknown, expired, revoked or used-up initial access token.
pub const INVALID_INITIAL_ACCESS_TOKEN_MESSAGE: &str =
    "the initial access token is invalid, expired, revoked or used up";
/// The longest lifetime an initial access token may be given (one year).
pub const MAX_INITIAL_ACCESS_TOKEN_LIFETIME_SECS: u64 = 366 * 86_400;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// Whether registration needs an initial access token (`registration.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegistrationMode {
    /// Anyone may register; a token presented anyway is checked and applied.
    #[default]
    Open,
    /// Only holders of a valid initial access token may register.
    InitialAccessToken,
}

impl RegistrationMode {
    /// `"open"` or `"initial_access_token"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InitialAccessToken => "initial_access_token",
        }
    }

    /// The mode for its configured name.
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "initial_access_token" => Some(Self::InitialAccessToken),
            _ => None,
        }
    }
}

/// What the registrations made with one token may ask for, beyond the server's registration
/// policy (which always applies too). `None` members restrict nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitialAccessPolicy {
    /// Scope tokens the registered `scope` may contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_scopes: Option<Vec<String>>,
    /// Grant types the registered `grant_types` may contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_grant_types: Option<Vec<GrantType>>,
}

impl InitialAccessPolicy {
    /// Whether the policy restricts anything.
    pub fn is_empty(&self) -> bool {
        self.allowed_scopes.is_none() && self.allowed_grant_types.is_none()
    }

    /// Parses `{"allowed_scopes": [...], "allowed_grant_types": [...]}` (both optional); errors
    /// name the member and quote the value.
    pub fn from_json(field: &str, value: &Value) -> Result<Self, RegistrationError> {
        let Value::Object(members) = value else {
            return Err(RegistrationError::InvalidRequest(format!(
                "{field}: expected an object with allowed_scopes and/or allowed_grant_types, got {}",
                json_type(value)
            )));
        };
        let mut policy = Self::default();
        for (name, value) in members {
            let strings = |v: &Value| -> Result<Vec<String>, RegistrationError> {
                let items = v.as_array().ok_or_else(|| {
                    RegistrationError::InvalidRequest(format!(
                        "{field}.{name}: expected an array of strings, got {}",
                        json_type(v)
                    ))
                })?;
                items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_owned).ok_or_else(|| {
                            RegistrationError::InvalidRequest(format!(
                                "{field}.{name}: expected strings, got {}",
                                json_type(i)
                            ))
                        })
                    })
                    .collect()
            };
            match name.as_str() {
                "allowed_scopes" => {
                    let scopes = strings(value)?;
                    for s in &scopes {
                        let valid = !s.is_empty()
                            && s.bytes().all(|b| {
                                b == 0x21
                                    || (0x23..=0x5B).contains(&b)
                                    || (0x5D..=0x7E).contains(&b)
                            });
                        if !valid {
                            return Err(RegistrationError::InvalidRequest(format!(
                                "{field}.allowed_scopes: {:?} is not a scope token (RFC 6749 §3.3: visible ASCII except space, \" and \\)",
                                truncate(s, 80)
                            )));
                        }
                    }
                    policy.allowed_scopes = Some(scopes);
                }
                "allowed_grant_types" => {
                    let mut grants = Vec::new();
                    for g in strings(value)? {
                        grants.push(GrantType::from_wire(&g).ok_or_else(|| {
                            RegistrationError::InvalidRequest(format!(
                                "{field}.allowed_grant_types: {:?} is not a grant type; use {}",
                                truncate(&g, 80),
                                GrantType::ALL
                                    .iter()
                                    .map(|g| g.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        })?);
                    }
                    policy.allowed_grant_types = Some(grants);
                }
                other => {
                    return Err(RegistrationError::InvalidRequest(format!(
                    "{field}: unknown member {:?}; accepted: allowed_scopes, allowed_grant_types",
                    truncate(other, 80)
                )))
                }
            }
        }
        Ok(policy)
    }

    /// Refuses metadata asking for more than the policy allows (`invalid_client_metadata`, naming
    /// the field and the value).
    pub fn check(&self, metadata: &ClientMetadata) -> Result<(), RegistrationError> {
        if let Some(allowed) = &self.allowed_grant_types {
            if let Some(g) = metadata.grant_types.iter().find(|g| !allowed.contains(g)) {
                return Err(RegistrationError::InvalidClientMetadata(format!(
                    "grant_types: {:?} is not allowed by the initial access token; allowed: {}",
                    g.as_str(),
                    allowed
                        .iter()
                        .map(|g| g.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                )));
            }
        }
        if let (Some(allowed), Some(scope)) = (&self.allowed_scopes, &metadata.scope) {
            if let Some(s) = scope.tokens().find(|s| !allowed.iter().any(|a| a == s)) {
                return Err(RegistrationError::InvalidClientMetadata(format!(
                    "scope: {s:?} is not allowed by the initial access token; allowed: {}",
                    allowed.join(" ")
                )));
            }
        }
        Ok(())
    }
}

/// A stored initial access token (its digest only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialAccessToken {
    /// Public identifier (shown in listings, audit records and on the clients it registered).
    pub id: String,
    /// SHA-256 of the token.
    pub digest: TokenDigest,
    /// What it is for, as its creator wrote.
    pub description: Option<String>,
    /// Who created it: `cli` or `admin:NAME`.
    pub created_by: String,
    /// When (Unix seconds).
    pub created_at: i64,
    /// When it stops working (Unix seconds).
    pub expires_at: i64,
    /// How many registrations it allows; `None` for any number.
    pub max_uses: Option<u64>,
    /// How many are left; `None` for any number.
    pub uses_remaining: Option<u64>,
    /// What its registrations may ask for.
    pub policy: InitialAccessPolicy,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

impl InitialAccessToken {
    /// `"revoked"`, `"expired"`, `"used_up"` or `"active"` at `now`; only an active token is
    /// accepted.
    pub fn state(&self, now: i64) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at <= now {
            "expired"
        } else if self.uses_remaining == Some(0) {
            "used_up"
        } else {
            "active"
        }
    }
}

/// Storage of initial access tokens, and the registration that spends one.
pub trait InitialAccessTokenStore: Send + Sync + fmt::Debug {
    /// Stores a new token with its audit record.
    fn create_initial_access_token(
        &self,
        token: &InitialAccessToken,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;

    /// The token with this digest (in any state).
    fn find_initial_access_token(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<InitialAccessToken>, RepositoryError>;

    /// Every token, newest first.
    fn list_initial_access_tokens(&self) -> Result<Vec<InitialAccessToken>, RepositoryError>;

    /// Revokes the token `id` (idempotent) with its audit record. [`RepositoryError::NotFound`]
    /// if there is no such token.
    fn revoke_initial_access_token(
        &self,
        id: &str,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;

    /// In one transaction: spends one use of token `token_id` (it must be unrevoked, unexpired at
    /// `audit.occurred_at` and have a use left, else [`RepositoryError::Stale`] and nothing is
    /// written), then stores the client marked with `token_id`, its registration access token and
    /// `audit`, as [`ClientRepository::create`](crate::clients::ClientRepository::create) does.
    fn create_client_spending(
        &self,
        token_id: &str,
        client: &Client,
        token: &RegistrationTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), RepositoryError>;
}

/// How registration is gated: the mode and where tokens are stored.
#[derive(Debug, Clone)]
pub struct InitialAccess {
    /// Open, or tokens required.
    pub mode: RegistrationMode,
    /// The token store.
    pub store: Arc<dyn InitialAccessTokenStore>,
}

/// What an administrator asks for when creating a token.
#[derive(Debug, Clone, Default)]
pub struct NewInitialAccessToken {
    /// What it is for (at most [`MAX_DESCRIPTION_CHARS`]).
    pub description: Option<String>,
    /// Seconds until it expires (1 to [`MAX_INITIAL_ACCESS_TOKEN_LIFETIME_SECS`]).
    pub expires_in: u64,
    /// Registrations allowed (at least 1); `None` for any number.
    pub max_uses: Option<u64>,
    /// Restrictions on its registrations.
    pub policy: InitialAccessPolicy,
}

impl NewInitialAccessToken {
    /// Parses the admin API body `{"description", "expires_in", "max_uses", "policy"}`
    /// (`expires_in` required, the rest optional; `max_uses` null or absent for unlimited).
    pub fn from_json(body: &Map<String, Value>) -> Result<Self, RegistrationError> {
        let mut new = Self::default();
        let mut expires_in = None;
        for (name, value) in body {
            match name.as_str() {
                "description" => match value {
                    Value::Null => {}
                    Value::String(s) => new.description = Some(s.clone()),
                    other => {
                        return Err(RegistrationError::InvalidRequest(format!(
                            "description: expected a string, got {}",
                            json_type(other)
                        )))
                    }
                },
                "expires_in" => {
                    expires_in = Some(value.as_u64().ok_or_else(|| {
                        RegistrationError::InvalidRequest(format!(
                            "expires_in: expected a whole number of seconds from 1 to {MAX_INITIAL_ACCESS_TOKEN_LIFETIME_SECS}, got {}",
                            truncate(&value.to_string(), 80)
                        ))
                    })?)
                }
                "max_uses" => {
                    new.max_uses = match value {
                        Value::Null => None,
                        v => Some(v.as_u64().ok_or_else(|| {
                            RegistrationError::InvalidRequest(format!(
                                "max_uses: expected a whole number of at least 1, or null for unlimited, got {}",
                                truncate(&v.to_string(), 80)
                            ))
                        })?),
                    }
                }
                "policy" => {
                    if !value.is_null() {
                        new.policy = InitialAccessPolicy::from_json("policy", value)?;
                    }
                }
                other => {
                    return Err(RegistrationError::InvalidRequest(format!(
                        "unknown member {:?}; accepted: description, expires_in, max_uses, policy",
                        truncate(other, 80)
                    )))
                }
            }
        }
        new.expires_in = expires_in.ok_or_else(|| {
            RegistrationError::InvalidRequest(format!(
                "expires_in: required, a whole number of seconds from 1 to {MAX_INITIAL_ACCESS_TOKEN_LIFETIME_SECS}"
            ))
        })?;
        new.validate()?;
        Ok(new)
    }

    /// Checks the ranges (also for the command line).
    pub fn validate(&self) -> Result<(), RegistrationError> {
        if !(1..=MAX_INITIAL_ACCESS_TOKEN_LIFETIME_SECS).contains(&self.expires_in) {
            return Err(RegistrationError::InvalidRequest(format!(
                "expires_in: {} is out of range; use 1 to {MAX_INITIAL_ACCESS_TOKEN_LIFETIME_SECS} seconds",
                self.expires_in
            )));
        }
        if self.max_uses == Some(0) || self.max_uses.is_some_and(|n| n > i64::MAX as u64) {
            return Err(RegistrationError::InvalidRequest(format!(
                "max_uses: {} is out of range; use at least 1, or null for unlimited",
                self.max_uses.unwrap_or(0)
            )));
        }
        if let Some(d) = &self.description {
            if d.chars().count() > MAX_DESCRIPTION_CHARS || d.chars().any(char::is_control) {
                return Err(RegistrationError::InvalidRequest(format!(
                    "description: {:?} is not accepted; use at most {MAX_DESCRIPTION_CHARS} characters without control characters",
                    truncate(d, 80)
                )));
            }
        }
        Ok(())
    }
}

/// A newly created initial access token.
#[derive(Debug)]
pub struct IssuedInitialAccessToken {
    /// As stored.
    pub token: InitialAccessToken,
    /// The token itself, shown once.
    pub plaintext: SecretString,
}

impl RegistrationService {
    /// The same service gating registration as `access` says.
    pub fn with_initial_access(mut self, access: InitialAccess) -> Self {
        self.initial_access = Some(Arc::new(access));
        self
    }

    /// The registration mode in force.
    pub fn mode(&self) -> RegistrationMode {
        self.initial_access
            .as_ref()
            .map_or(RegistrationMode::Open, |a| a.mode)
    }

    /// Checks the initial access token presented with a registration (RFC 7591 §3). `Ok(None)`
    /// when none was sent and the mode is open. Refusals are audited and answer
    /// [`RegistrationError::MissingToken`] or [`RegistrationError::InvalidToken`] (401 with a
    /// `Bearer` challenge).
    pub fn initial_access_token(
        &self,
        token: &PresentedToken,
        context: &RequestContext,
    ) -> Result<Option<InitialAccessToken>, RegistrationError> {
        let mode = self.mode();
        let now = self.clock().now();
        let refuse = |reason: &str| -> RegistrationError {
            let event = AuditEvent::new(now, AuditAction::ClientRegistered, "anonymous", context)
                .refused(reason);
            match self.audit().record(event) {
                Ok(()) => {
                    RegistrationError::InvalidToken(INVALID_INITIAL_ACCESS_TOKEN_MESSAGE.into())
                }
                Err(e) => e.into(),
            }
        };
        let presented = match (token, mode, &self.initial_access) {
            (PresentedToken::Missing, RegistrationMode::Open, _) => return Ok(None),
            // Open registration ignores credentials that are not initial access tokens (some
            // clients send an unrelated Authorization header); an `iat_…` token is always checked.
            (PresentedToken::Malformed(_), RegistrationMode::Open, _) => return Ok(None),
            (PresentedToken::Bearer(t), RegistrationMode::Open, _)
                if !t.expose_secret().starts_with(INITIAL_ACCESS_TOKEN_PREFIX) =>
            {
                return Ok(None)
            }
            (PresentedToken::Missing, RegistrationMode::InitialAccessToken, _) => {
                self.audit().record(
                    AuditEvent::new(now, AuditAction::ClientRegistered, "anonymous", context)
                        .refused("no initial access token"),
                )?;
                return Err(RegistrationError::MissingToken(
                    MISSING_INITIAL_ACCESS_TOKEN_MESSAGE.into(),
                ));
            }
            (PresentedToken::Malformed(why), _, _) => {
                return Err(refuse(&format!("malformed initial access token: {why}")))
            }
            (PresentedToken::Bearer(_), _, None) => {
                return Err(refuse("initial access tokens are not configured"))
            }
            (PresentedToken::Bearer(t), _, Some(_)) => t,
        };
        let Some(access) = &self.initial_access else {
            return Err(refuse("initial access tokens are not configured"));
        };
        let digest = TokenDigest::of(presented.expose_secret());
        let Some(found) = access.store.find_initial_access_token(&digest)? else {
            return Err(refuse("unknown initial access token"));
        };
        if !found.digest.ct_eq(&digest) {
            return Err(refuse("unknown initial access token"));
        }
        match found.state(now) {
            "active" => Ok(Some(found)),
            state => Err(refuse(&format!(
                "{state} initial access token {}",
                found.id
            ))),
        }
    }

    /// The id of `token` when it is a genuine initial access token whose uses are all spent (not
    /// revoked, not expired): a retry of the registration that spent its last use may still get
    /// that registration's stored answer (`Idempotency-Key`). `None` for anything else.
    pub(crate) fn used_up_initial_access_token(&self, token: &PresentedToken) -> Option<String> {
        let (PresentedToken::Bearer(t), Some(access)) = (token, &self.initial_access) else {
            return None;
        };
        let digest = TokenDigest::of(t.expose_secret());
        let found = access.store.find_initial_access_token(&digest).ok()??;
        (found.digest.ct_eq(&digest) && found.state(self.clock().now()) == "used_up")
            .then_some(found.id)
    }

    /// Registers a client (RFC 7591 §3.1) under `token`, an initial access token checked by
    /// [`Self::initial_access_token`] (or none in open mode): its policy applies on top of the
    /// server's, one use is spent in the client's own transaction, and the client remembers the
    /// token's id. A token used up or revoked meanwhile answers `invalid_token`.
    pub fn register_with(
        &self,
        request: &Map<String, Value>,
        token: Option<&InitialAccessToken>,
        context: &RequestContext,
    ) -> Result<RegisteredClient, RegistrationError> {
        let (Some(token), Some(access)) = (token, &self.initial_access) else {
            return self.register(request, context);
        };
        let now = self.clock().now();
        // The server's substitutions (RFC 7591 §3.2.1) apply as in open registration; the token's
        // own policy is the administrator's and refuses what it does not allow.
        let parsed = ClientMetadata::parse_request_at(request, self.policy(), now)?;
        token.policy.check(&parsed.metadata)?;
        let result = self.create(
            parsed.metadata,
            NewClient {
                origin: ClientOrigin::Dynamic,
                action: AuditAction::ClientRegistered,
                actor: "anonymous",
                chosen_id: None,
                settings: ClientSettings::default(),
                substitutions: parsed.substitutions,
                spend: Some((access.store.as_ref(), &token.id)),
            },
            now,
            context,
        );
        match result {
            Err(RegistrationError::Storage(RepositoryError::Stale(_))) => {
                self.audit().record(
                    AuditEvent::new(now, AuditAction::ClientRegistered, "anonymous", context)
                        .refused(&format!(
                            "initial access token {} used up or revoked meanwhile",
                            token.id
                        )),
                )?;
                Err(RegistrationError::InvalidToken(
                    INVALID_INITIAL_ACCESS_TOKEN_MESSAGE.into(),
                ))
            }
            other => other,
        }
    }
}

impl AdminService {
    fn initial_access_store(&self) -> Result<&dyn InitialAccessTokenStore, RegistrationError> {
        self.registration_service()
            .initial_access
            .as_deref()
            .map(|a| a.store.as_ref())
            .ok_or_else(|| {
                RegistrationError::NotFound("initial access tokens are not configured".into())
            })
    }

    /// Creates an initial access token as `actor` (`cli`, or `admin:NAME` from the API). The
    /// token is returned once; only its digest is stored.
    pub fn issue_initial_access_token(
        &self,
        actor: &str,
        new: &NewInitialAccessToken,
        context: &RequestContext,
    ) -> Result<IssuedInitialAccessToken, RegistrationError> {
        new.validate()?;
        let store = self.initial_access_store()?;
        let registration = self.registration_service();
        let now = registration.clock().now();
        let credentials = registration.credentials();
        let issued = credentials.bearer_token(INITIAL_ACCESS_TOKEN_PREFIX)?;
        let token = InitialAccessToken {
            id: format!("iat-{}", credentials.client_id()?),
            digest: issued.digest,
            description: new.description.clone(),
            created_by: actor.to_owned(),
            created_at: now,
            expires_at: now.saturating_add(i64::try_from(new.expires_in).unwrap_or(i64::MAX)),
            max_uses: new.max_uses,
            uses_remaining: new.max_uses,
            policy: new.policy.clone(),
            revoked_at: None,
        };
        let event = AuditEvent::new(now, AuditAction::InitialAccessTokenCreated, actor, context)
            .detail(format!(
                "initial access token {} expiring at {}, {} uses",
                token.id,
                token.expires_at,
                token
                    .max_uses
                    .map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
            ));
        store.create_initial_access_token(&token, &event)?;
        Ok(IssuedInitialAccessToken {
            token,
            plaintext: issued.plaintext,
        })
    }

    /// Every initial access token, newest first (digests only).
    pub fn initial_access_tokens(&self) -> Result<Vec<InitialAccessToken>, RegistrationError> {
        Ok(self.initial_access_store()?.list_initial_access_tokens()?)
    }

    /// Revokes initial access token `id` as `actor`. `NotFound` if there is no such token.
    pub fn withdraw_initial_access_token(
        &self,
        actor: &str,
        id: &str,
        context: &RequestContext,
    ) -> Result<(), RegistrationError> {
        let store = self.initial_access_store()?;
        let now = self.registration_service().clock().now();
        let event = AuditEvent::new(now, AuditAction::InitialAccessTokenRevoked, actor, context)
            .detail(format!("initial access token {}", truncate(id, 80)));
        store
            .revoke_initial_access_token(id, &event)
            .map_err(|e| match e {
                RepositoryError::NotFound(_) => RegistrationError::NotFound(format!(
                    "no initial access token {:?}",
                    truncate(id, 80)
                )),
                e => e.into(),
            })
    }

    /// `POST /admin/initial-access-tokens`: creates a token. Needs `client:create` (a token lets
    /// its holder create clients).
    pub fn create_initial_access_token(
        &self,
        admin_token: PresentedToken,
        request: Result<&Map<String, Value>, RegistrationError>,
        context: &RequestContext,
    ) -> Result<IssuedInitialAccessToken, RegistrationError> {
        let admin = self.authenticate(admin_token, AdminScope::ClientCreate, context)?;
        let new = NewInitialAccessToken::from_json(request?)?;
        self.issue_initial_access_token(&admin.actor(), &new, context)
    }

    /// `GET /admin/initial-access-tokens`. Needs `client:read`.
    pub fn list_initial_access_tokens(
        &self,
        admin_token: PresentedToken,
        context: &RequestContext,
    ) -> Result<Vec<InitialAccessToken>, RegistrationError> {
        self.authenticate(admin_token, AdminScope::ClientRead, context)?;
        self.initial_access_tokens()
    }

    /// `DELETE /admin/initial-access-tokens/{id}`. Needs `client:create`.
    pub fn revoke_initial_access_token(
        &self,
        admin_token: PresentedToken,
        id: &str,
        context: &RequestContext,
    ) -> Result<(), RegistrationError> {
        let admin = self.authenticate(admin_token, AdminScope::ClientCreate, context)?;
        self.withdraw_initial_access_token(&admin.actor(), id, context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metadata(body: Value) -> ClientMetadata {
        ClientMetadata::from_request(
            body.as_object().expect("object"),
            &crate::clients::RegistrationPolicy::default(),
        )
        .expect("valid")
    }

    #[test]
    fn policies_parse_naming_the_member_and_restrict_scope_and_grants() {
        let policy = InitialAccessPolicy::from_json(
            "policy",
            &json!({"allowed_scopes": ["mcp:tools"], "allowed_grant_types": ["authorization_code", "refresh_token"]}),
        )
        .expect("valid");
        let ok = metadata(json!({
            "redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none", "scope": "mcp:tools"
        }));
        policy.check(&ok).expect("allowed");
        let greedy = metadata(json!({
            "redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none", "scope": "mcp:tools admin"
        }));
        let err = policy.check(&greedy).expect_err("refused").to_string();
        assert!(err.starts_with("scope: \"admin\" is not allowed"), "{err}");
        let narrow = InitialAccessPolicy::from_json(
            "policy",
            &json!({"allowed_grant_types": ["authorization_code"]}),
        )
        .expect("valid");
        let err = narrow
            .check(&ok)
            .expect_err("refresh_token refused")
            .to_string();
        assert!(err.starts_with("grant_types: \"refresh_token\""), "{err}");
        for (bad, needle) in [
            (json!([]), "expected an object"),
            (
                json!({"allowed_scopes": "mcp:tools"}),
                "policy.allowed_scopes: expected an array",
            ),
            (
                json!({"allowed_scopes": ["a b"]}),
                "\"a b\" is not a scope token",
            ),
            (
                json!({"allowed_grant_types": ["implicit"]}),
                "\"implicit\" is not a grant type",
            ),
            (json!({"scopes": []}), "unknown member \"scopes\""),
        ] {
            let err = InitialAccessPolicy::from_json("policy", &bad)
                .expect_err("refused")
                .to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn token_states_follow_revocation_expiry_and_uses() {
        let mut t = InitialAccessToken {
            id: "iat-x".into(),
            digest: TokenDigest::of("iat_x"),
            description: None,
            created_by: "cli".into(),
            created_at: 0,
            expires_at: 100,
            max_uses: Some(2),
            uses_remaining: Some(1),
            policy: InitialAccessPolicy::default(),
            revoked_at: None,
        };
        assert_eq!(t.state(99), "active");
        assert_eq!(t.state(100), "expired");
        t.uses_remaining = Some(0);
        assert_eq!(t.state(50), "used_up");
        t.revoked_at = Some(10);
        assert_eq!(t.state(50), "revoked");
    }

    #[test]
    fn creation_requests_are_checked_member_by_member() {
        let parse = |v: Value| NewInitialAccessToken::from_json(v.as_object().expect("object"));
        let new =
            parse(json!({"expires_in": 60, "max_uses": null, "description": "ci"})).expect("valid");
        assert_eq!((new.expires_in, new.max_uses), (60, None));
        for (bad, needle) in [
            (json!({}), "expires_in: required"),
            (
                json!({"expires_in": 31_622_401}),
                "expires_in: 31622401 is out of range",
            ),
            (
                json!({"expires_in": -1}),
                "expires_in: expected a whole number",
            ),
            (
                json!({"expires_in": 60, "max_uses": 0}),
                "max_uses: 0 is out of range",
            ),
            (
                json!({"expires_in": 60, "description": "a\u{0007}b"}),
                "description:",
            ),
            (
                json!({"expires_in": 60, "extra": 1}),
                "unknown member \"extra\"",
            ),
        ] {
            let err = parse(bad.clone()).expect_err("refused").to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}

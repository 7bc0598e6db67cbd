//! The audit trail: who did what to which client, when, from where, and whether it was allowed.
//! Records never hold a secret or a token.

use std::fmt::{self, Debug};

use crate::error::RepositoryError;
use crate::values::truncate;

/// What was done or attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A client registered itself (RFC 7591).
    ClientRegistered,
    /// A client read its registration (RFC 7592 GET).
    ClientRead,
    /// A client replaced its registration (RFC 7592 PUT).
    ClientUpdated,
    /// A client deleted its registration (RFC 7592 DELETE).
    ClientDeleted,
    /// Self-management was locked by an administrator.
    ClientLocked,
    /// Self-management was unlocked by an administrator.
    ClientUnlocked,
    /// A token was revoked because its client no longer exists.
    TokenRevoked,
    /// An administrator created a client.
    ClientCreated,
    /// An administrator rotated a client's secret.
    SecretRotated,
    /// An administrator issued a new registration access token, revoking the others.
    TokenReissued,
    /// An administrator token was created (command line).
    AdminTokenCreated,
    /// An administrator token was revoked (command line).
    AdminTokenRevoked,
    /// A call to the administration API was refused (no, bad or insufficient token).
    AdminDenied,
    /// A user account was created.
    UserCreated,
    /// A user account was changed (enabled, disabled, renamed).
    UserUpdated,
    /// A user's password was set or changed (never the password itself).
    UserPasswordSet,
    /// A user signed in (success), or a sign-in was refused (failure, never the password).
    SignIn,
    /// A user signed out.
    SignOut,
    /// A user allowed a client's authorization request.
    ConsentGranted,
    /// A user denied a client's authorization request.
    ConsentDenied,
    /// An authorization code was exchanged for tokens (or the exchange was refused).
    CodeExchanged,
    /// An authorization code was presented again; what it produced was revoked.
    CodeReplayed,
    /// A refresh token was exchanged (or the refresh was refused).
    TokenRefreshed,
    /// A rotated-out refresh token was replayed after the grace window; its family was revoked.
    RefreshReuseDetected,
    /// An access token was issued to a client for itself (client_credentials).
    ClientCredentialsIssued,
    /// An access or refresh token was revoked (RFC 7009) or its family ended.
    AccessTokenRevoked,
    /// A signing key was generated.
    SigningKeyCreated,
    /// A new signing key took over signing.
    SigningKeyRotated,
    /// A signing key stopped signing and will leave the JWK Set once its tokens expire.
    SigningKeyRetired,
    /// An initial access token (RFC 7591 §3) was created.
    InitialAccessTokenCreated,
    /// An initial access token was revoked.
    InitialAccessTokenRevoked,
    /// A dynamically registered client unused for too long was deleted (stale-client expiry).
    ClientExpired,
}

impl AuditAction {
    /// Every action.
    pub const ALL: &'static [Self] = &[
        Self::ClientRegistered,
        Self::ClientRead,
        Self::ClientUpdated,
        Self::ClientDeleted,
        Self::ClientLocked,
        Self::ClientUnlocked,
        Self::TokenRevoked,
        Self::ClientCreated,
        Self::SecretRotated,
        Self::TokenReissued,
        Self::AdminTokenCreated,
        Self::AdminTokenRevoked,
        Self::AdminDenied,
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserPasswordSet,
        Self::SignIn,
        Self::SignOut,
        Self::ConsentGranted,
        Self::ConsentDenied,
        Self::CodeExchanged,
        Self::CodeReplayed,
        Self::TokenRefreshed,
        Self::RefreshReuseDetected,
        Self::ClientCredentialsIssued,
        Self::AccessTokenRevoked,
        Self::SigningKeyCreated,
        Self::SigningKeyRotated,
        Self::SigningKeyRetired,
        Self::InitialAccessTokenCreated,
        Self::InitialAccessTokenRevoked,
        Self::ClientExpired,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientRegistered => "client.registered",
            Self::ClientRead => "client.read",
            Self::ClientUpdated => "client.updated",
            Self::ClientDeleted => "client.deleted",
            Self::ClientLocked => "client.locked",
            Self::ClientUnlocked => "client.unlocked",
            Self::TokenRevoked => "token.revoked",
            Self::ClientCreated => "client.created",
            Self::SecretRotated => "client.secret_rotated",
            Self::TokenReissued => "client.token_reissued",
            Self::AdminTokenCreated => "admin_token.created",
            Self::AdminTokenRevoked => "admin_token.revoked",
            Self::AdminDenied => "admin.denied",
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserPasswordSet => "user.password_set",
            Self::SignIn => "user.signed_in",
            Self::SignOut => "user.signed_out",
            Self::ConsentGranted => "consent.granted",
            Self::ConsentDenied => "consent.denied",
            Self::CodeExchanged => "token.code_exchanged",
            Self::CodeReplayed => "token.code_replayed",
            Self::TokenRefreshed => "token.refreshed",
            Self::RefreshReuseDetected => "token.refresh_reuse_detected",
            Self::ClientCredentialsIssued => "token.client_credentials",
            Self::AccessTokenRevoked => "token.access_revoked",
            Self::SigningKeyCreated => "key.created",
            Self::SigningKeyRotated => "key.rotated",
            Self::SigningKeyRetired => "key.retired",
            Self::InitialAccessTokenCreated => "initial_access_token.created",
            Self::InitialAccessTokenRevoked => "initial_access_token.revoked",
            Self::ClientExpired => "client.expired",
        }
    }

    /// The action for a stored name.
    pub fn from_stored(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a request came from, as the HTTP layer saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The peer address.
    pub remote_addr: Option<String>,
    /// The `User-Agent` header (truncated).
    pub user_agent: Option<String>,
    /// The request id also found in the server's log and the `x-request-id` response header.
    pub request_id: Option<String>,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When (Unix seconds).
    pub occurred_at: i64,
    /// What.
    pub action: AuditAction,
    /// Allowed (`true`) or refused (`false`).
    pub succeeded: bool,
    /// Which client (for refused attempts: the one named in the request, truncated).
    pub client_id: Option<String>,
    /// Who: `client` (its registration access token), `anonymous`, or `admin:NAME`.
    pub actor: String,
    /// Why it was refused, or what changed. Never a secret.
    pub detail: Option<String>,
    /// Where from.
    pub context: RequestContext,
}

impl AuditEvent {
    /// A new event at `now`.
    pub fn new(now: i64, action: AuditAction, actor: &str, context: &RequestContext) -> Self {
        Self {
            occurred_at: now,
            action,
            succeeded: true,
            client_id: None,
            actor: actor.to_owned(),
            detail: None,
            context: context.clone(),
        }
    }

    /// About `client_id` (truncated to 128 characters: refused requests may name anything).
    pub fn client(mut self, client_id: &str) -> Self {
        self.client_id = Some(truncate(client_id, 128));
        self
    }

    /// Marks the event refused, with the reason.
    pub fn refused(mut self, reason: &str) -> Self {
        self.succeeded = false;
        self.detail = Some(reason.to_owned());
        self
    }

    /// Adds a detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Where audit events that accompany no change (reads, refused attempts) are written. Events of
/// changes go through [`crate::clients::ClientRepository`], in the change's own transaction.
pub trait AuditLog: Send + Sync + Debug {
    /// Records `event`. An implementation may write it shortly after returning (batched with
    /// others), so that reads and refusals never cost a commit each.
    fn record(&self, event: AuditEvent) -> Result<(), RepositoryError>;
}

//! Errors of the registration use cases.
//!
//! Error policy for the whole server: `authz-domain` returns [`RegistrationError`], whose variants
//! map one to one onto the OAuth error codes of RFC 7591 §3.2.2, RFC 7592 and RFC 6750 §3.1.
//! Messages of the client-facing variants name the field and what is accepted; they never contain
//! a secret, a token or a storage message. Storage and randomness failures carry their cause for
//! the server's log only; the HTTP layer shows a generic message for them.

use crate::credentials::CredentialError;

/// The OAuth error code a refusal is reported with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// RFC 6749 `invalid_request`: the request itself is malformed.
    InvalidRequest,
    /// RFC 7591 `invalid_redirect_uri`.
    InvalidRedirectUri,
    /// RFC 7591 `invalid_client_metadata`.
    InvalidClientMetadata,
    /// RFC 7591 `invalid_software_statement`.
    InvalidSoftwareStatement,
    /// RFC 7591 `unapproved_software_statement`.
    UnapprovedSoftwareStatement,
    /// RFC 6750 `invalid_token`.
    InvalidToken,
    /// RFC 6749 `access_denied`.
    AccessDenied,
    /// RFC 6750 `insufficient_scope`: the token lacks the scope the operation needs.
    InsufficientScope,
    /// `not_found`: the client named does not exist (administration API).
    NotFound,
    /// `conflict`: the value must be unique and is taken (administration API).
    Conflict,
    /// `server_error`: something on our side failed.
    ServerError,
    /// `temporarily_unavailable`: the database is out of reach; retrying may help.
    TemporarilyUnavailable,
    /// RFC 6749 §4.1.2.1 `unsupported_response_type`: `response_type` other than `code`.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1 / §5.2 `invalid_scope`: a requested scope is unknown, malformed or not
    /// allowed for this client.
    InvalidScope,
    /// RFC 8707 §2 `invalid_target`: a `resource` is malformed or not served here.
    InvalidTarget,
    /// OpenID Connect Core §3.1.2.6 `login_required`: `prompt=none` without a signed-in user.
    LoginRequired,
    /// OpenID Connect Core §3.1.2.6 `consent_required`: `prompt=none` but consent is needed.
    ConsentRequired,
    /// RFC 6749 §5.2 `invalid_grant`: the code or refresh token is invalid, expired, used,
    /// another client's, or its PKCE verifier does not match.
    InvalidGrant,
    /// RFC 6749 §4.1.2.1 / §5.2 `unauthorized_client`: the client is not registered for this
    /// grant or response type.
    UnauthorizedClient,
    /// RFC 6749 §5.2 `unsupported_grant_type`.
    UnsupportedGrantType,
    /// RFC 6749 §5.2 `invalid_client`: client authentication failed at the token endpoint.
    InvalidClient,
}

impl ErrorCode {
    /// The code as it appears in the `error` member of a response body.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidSoftwareStatement => "invalid_software_statement",
            Self::UnapprovedSoftwareStatement => "unapproved_software_statement",
            Self::InvalidToken => "invalid_token",
            Self::AccessDenied => "access_denied",
            Self::InsufficientScope => "insufficient_scope",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidClient => "invalid_client",
        }
    }

    /// The HTTP status a JSON error response with this code carries (RFC 6749 §5.2: 400, except
    /// `invalid_client` 401; RFC 6750 §3.1: `invalid_token` 401, `insufficient_scope` 403).
    /// At the authorization endpoint the codes of RFC 6749 §4.1.2.1 travel in a `302` redirect
    /// instead; this is the status of the error page shown when no redirect is possible.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidToken | Self::InvalidClient => 401,
            Self::AccessDenied | Self::InsufficientScope => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            Self::InvalidRequest
            | Self::InvalidRedirectUri
            | Self::InvalidClientMetadata
            | Self::InvalidSoftwareStatement
            | Self::UnapprovedSoftwareStatement
            | Self::UnsupportedResponseType
            | Self::InvalidScope
            | Self::InvalidTarget
            | Self::LoginRequired
            | Self::ConsentRequired
            | Self::InvalidGrant
            | Self::UnauthorizedClient
            | Self::UnsupportedGrantType => 400,
        }
    }
}

/// Why a storage operation failed, as the domain's ports report it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryError {
    /// The database could not be reached or timed out; nothing was written.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A unique value (such as a client id) already exists; nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row to change no longer exists (deleted concurrently); nothing was written.
    #[error("not found: {0}")]
    NotFound(String),
    /// The row changed since it was read (its revision moved on); nothing was written. The
    /// caller re-reads and tries again.
    #[error("changed concurrently: {0}")]
    Stale(String),
    /// Any other storage failure; nothing was written.
    #[error("storage failure: {0}")]
    Other(String),
}

/// Why a registration request (or a management request) was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// The request is malformed (not a JSON object, forbidden members, …).
    #[error("{0}")]
    InvalidRequest(String),
    /// A problem with `redirect_uris`.
    #[error("{0}")]
    InvalidRedirectUri(String),
    /// A problem with any other metadata field.
    #[error("{0}")]
    InvalidClientMetadata(String),
    /// The software statement is malformed, badly signed or expired.
    #[error("{0}")]
    InvalidSoftwareStatement(String),
    /// The software statement comes from an issuer that is not trusted.
    #[error("{0}")]
    UnapprovedSoftwareStatement(String),
    /// No registration access token was presented (RFC 6750 §3.1: the challenge carries no
    /// error code).
    #[error("{0}")]
    MissingToken(String),
    /// The token is malformed, unknown, expired, revoked, or for another client. The message is
    /// the same in every case, so a caller without the client's token learns nothing about it.
    #[error("{0}")]
    InvalidToken(String),
    /// The client may not do this (an administrator locked its self-management).
    #[error("{0}")]
    AccessDenied(String),
    /// The administrator token is valid but lacks `scope`.
    #[error("{message}")]
    InsufficientScope {
        /// The scope the operation needs.
        scope: &'static str,
        /// What was refused.
        message: String,
    },
    /// The client (or other named thing) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A unique value is taken.
    #[error("{0}")]
    Conflict(String),
    /// Storage failed; nothing was written.
    #[error(transparent)]
    Storage(#[from] RepositoryError),
    /// Credentials could not be generated.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
}

impl RegistrationError {
    /// The OAuth error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Self::InvalidRedirectUri(_) => ErrorCode::InvalidRedirectUri,
            Self::InvalidClientMetadata(_) => ErrorCode::InvalidClientMetadata,
            Self::InvalidSoftwareStatement(_) => ErrorCode::InvalidSoftwareStatement,
            Self::UnapprovedSoftwareStatement(_) => ErrorCode::UnapprovedSoftwareStatement,
            Self::MissingToken(_) | Self::InvalidToken(_) => ErrorCode::InvalidToken,
            Self::AccessDenied(_) => ErrorCode::AccessDenied,
            Self::InsufficientScope { .. } => ErrorCode::InsufficientScope,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::Storage(RepositoryError::Unavailable(_)) => ErrorCode::TemporarilyUnavailable,
            Self::Storage(_) | Self::Credentials(_) => ErrorCode::ServerError,
        }
    }

    /// Whether the caller caused this error (and may see its message).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::Storage(_) | Self::Credentials(_))
    }

    pub(crate) fn metadata(msg: impl Into<String>) -> Self {
        Self::InvalidClientMetadata(msg.into())
    }

    pub(crate) fn redirect(msg: impl Into<String>) -> Self {
        Self::InvalidRedirectUri(msg.into())
    }
}

//! The HTTP error type and its one mapping to responses.
//!
//! Error policy: handlers and extractors return [`ApiError`]. Its single [`ResponseError`] impl
//! holds the whole status table. Client errors show their message (which names the field and what
//! is accepted); server errors are logged with their cause and shown as a generic message, so no
//! database detail, secret or token ever reaches a client. Errors that actix or middleware produce
//! outside our handlers are rewritten to the same JSON shape by [`crate::middleware::json_errors`].

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use authz_domain::error::{ErrorCode, RegistrationError};
use authz_domain::token::TokenError;
use paperclip::actix::api_v2_errors;

use crate::dto::ErrorBody;

/// The realm named in Bearer challenges.
pub const REALM: &str = "authz-server";

/// Everything a handler can fail with.
#[api_v2_errors(
    code = 400,
    description = "The request or the client metadata is invalid. `error` is one of `invalid_request`, `invalid_redirect_uri`, `invalid_client_metadata`, `invalid_software_statement`, `unapproved_software_statement`; `error_description` names the field and what is accepted.",
    schema = "ErrorBody",
    code = 401,
    description = "Management endpoints: the registration access token is missing (challenge without an error code), or malformed, unknown, expired, revoked or another client's (`invalid_token`, one answer for all). Carries an RFC 6750 `WWW-Authenticate: Bearer` challenge.",
    schema = "ErrorBody",
    code = 403,
    description = "Management endpoints, PUT and DELETE: `access_denied`, an administrator locked this client's self-management. Administration: `insufficient_scope`, the administrator token lacks the scope named in the `WWW-Authenticate` challenge.",
    schema = "ErrorBody",
    code = 404,
    description = "No such endpoint (also: registration or administration is turned off). Administration: `not_found`, no client has that client_id.",
    schema = "ErrorBody",
    code = 409,
    description = "Administration: `conflict`, the chosen client_id is taken (now or by a deleted client), or the client kept changing while the request was applied (retry).",
    schema = "ErrorBody",
    code = 413,
    description = "The body is larger than `limits.max_body_bytes`.",
    schema = "ErrorBody",
    code = 500,
    description = "`server_error`: an unexpected failure, logged on the server.",
    schema = "ErrorBody",
    code = 503,
    description = "`temporarily_unavailable`: the database cannot be reached; nothing was stored. Retry later.",
    schema = "ErrorBody"
)]
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A domain refusal or failure.
    #[error(transparent)]
    Registration(#[from] RegistrationError),
    /// A refusal or failure of the token, introspection or revocation endpoint (RFC 6749 §5.2).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The request is malformed before the domain sees it (body, content type).
    #[error("{0}")]
    InvalidRequest(String),
    /// The body exceeds the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// An unexpected failure; the text is for the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Registration(e) => e.code(),
            Self::Token(e) => e.code(),
            Self::InvalidRequest(_) | Self::PayloadTooLarge(_) => ErrorCode::InvalidRequest,
            Self::Internal(_) => ErrorCode::ServerError,
        }
    }

    fn description(&self) -> String {
        match self.code() {
            ErrorCode::ServerError => {
                "the server could not complete the request; nothing was stored".into()
            }
            ErrorCode::TemporarilyUnavailable => {
                "the database is temporarily unavailable; nothing was stored, retry shortly".into()
            }
            _ => self.to_string(),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::Internal(format!("blocking pool: {e}"))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self.code() {
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::InvalidToken | ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::AccessDenied | ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            _ if matches!(self, Self::PayloadTooLarge(_)) => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            // The cause goes to the log; the client gets a generic description.
            tracing::error!(error = %self, "request failed");
        }
        let mut response = error_response(status, self.code().as_str(), self.description());
        // RFC 6750 §3: a Bearer challenge; no error code when no token was presented at all.
        let challenge = match self {
            Self::Registration(RegistrationError::MissingToken(_)) => {
                Some(format!("Bearer realm=\"{REALM}\""))
            }
            Self::Registration(RegistrationError::InvalidToken(description)) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{}\"",
                description.replace(['"', '\\'], "'")
            )),
            // RFC 6750 §3.1: the scope that would have been enough.
            Self::Registration(RegistrationError::InsufficientScope { scope, .. }) => {
                Some(format!(
                    "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\""
                ))
            }
            // RFC 6749 §5.2: a client that tried HTTP Basic gets a Basic challenge.
            Self::Token(TokenError::InvalidClient { basic: true, .. }) => {
                Some(format!("Basic realm=\"{REALM}\""))
            }
            _ => None,
        };
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// A JSON error response with `Cache-Control: no-store`.
pub(crate) fn error_response(status: StatusCode, error: &str, description: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(ErrorBody {
            error: error.to_owned(),
            error_description: description,
        })
}

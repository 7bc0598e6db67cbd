//! The authorization endpoint (contract §2 and §4): the ordered checks of an authorization
//! request, the pending request kept while the user signs in and consents, and authorization
//! codes.
//!
//! * [`AuthorizationRequest::parse`] turns the raw `/authorize` pairs into a valid request, an
//!   [`AuthorizationError::ErrorPage`] (client or redirect URI untrusted: never redirected), or an
//!   [`AuthorizationError::Redirect`] (RFC 6749 §4.1.2.1, with `iss` per RFC 9207).
//! * [`CodeChallenge`] / [`CodeVerifier`]: PKCE, `S256` only (RFC 7636).
//! * [`ResourceIndicator`]: RFC 8707 resource indicators in canonical form.
//! * [`PendingAuthorization`] and its port [`PendingAuthorizationRepository`].
//! * [`AuthorizationCodeRecord`] and its port [`AuthorizationCodeRepository`], whose
//!   [`AuthorizationCodeRepository::consume`] detects replays ([`ConsumeOutcome::AlreadyUsed`]).
//! * [`AuthorizationService`] ties them together: `begin`, `decide`, `approve`, `deny`.
//!
//! Auditing `ConsentGranted` / `ConsentDenied` is the caller's (see [`AuthorizationService`]).

mod code;
mod pending;
mod pkce;
mod policy;
mod request;
mod resource;
mod service;

pub use code::{
    AuthorizationCodeRecord, AuthorizationCodeRepository, CodeMismatch, ConsumeOutcome,
    InMemoryAuthorizationCodes, AUTHORIZATION_CODE_PREFIX,
};
pub use pending::{
    InMemoryPendingAuthorizations, PendingAuthorization, PendingAuthorizationRepository,
    PENDING_ID_PREFIX,
};
pub use pkce::{
    CodeChallenge, CodeVerifier, PkceError, CODE_CHALLENGE_CHARS, MAX_VERIFIER_CHARS,
    MIN_VERIFIER_CHARS,
};
pub use policy::{AuthorizationPolicy, ScopeDefinition, ScopeSet};
pub use request::{success_location, AuthorizationError, AuthorizationRequest, Prompt};
pub use resource::{ResourceError, ResourceIndicator, MAX_RESOURCE_BYTES};
pub use service::{
    AuthorizationService, BegunAuthorization, Decision, SignedIn, PENDING_GONE_MESSAGE,
};

#[cfg(test)]
mod tests;

//! Dynamic Client Registration: RFC 7591 registration and RFC 7592 self-management under the MCP
//! authorization profile.
//!
//! A raw JSON object is parsed by [`ClientMetadata::from_request`](crate::clients::ClientMetadata)
//! under a [`RegistrationPolicy`](crate::clients::RegistrationPolicy) into valid metadata (or a
//! [`RegistrationError`](crate::error::RegistrationError) naming the field and its RFC error
//! code); [`RegistrationService`] then issues credentials and stores the client through the
//! [`ClientRepository`](crate::clients::ClientRepository) port. The replacement rules shared with
//! administration live in `management.rs`, once.

mod expiry;
mod idempotency;
mod initial_access;
mod management;
mod service;

pub use expiry::{ExpiryPolicy, StaleClientExpiry, StaleClientStore, StaleCutoffs};
pub use idempotency::{
    fingerprint, Begun, Idempotency, IdempotencyError, IdempotencyKey, IdempotencyPolicy,
    IdempotencyRecord, IdempotencyStore, IdempotencyTicket, RegisterError, RegistrationOutcome,
    IDEMPOTENCY_KEY_HEADER, MAX_IDEMPOTENCY_KEY_CHARS, MIN_IDEMPOTENCY_KEY_CHARS,
};
pub use initial_access::{
    InitialAccess, InitialAccessPolicy, InitialAccessToken, InitialAccessTokenStore,
    IssuedInitialAccessToken, NewInitialAccessToken, RegistrationMode, INITIAL_ACCESS_TOKEN_PREFIX,
    INVALID_INITIAL_ACCESS_TOKEN_MESSAGE, MAX_INITIAL_ACCESS_TOKEN_LIFETIME_SECS,
    MISSING_INITIAL_ACCESS_TOKEN_MESSAGE,
};
pub(crate) use management::SERVER_SET_MEMBERS;
pub(crate) use management::{change_detail, kept_changing, STALE_RETRIES};
pub use management::{PresentedToken, INVALID_TOKEN_MESSAGE, MISSING_TOKEN_MESSAGE};
pub(crate) use service::NewClient;
pub use service::{RegisteredClient, RegistrationService};

#[cfg(test)]
mod management_tests;
#[cfg(test)]
mod substitution_tests;
#[cfg(test)]
mod tests;

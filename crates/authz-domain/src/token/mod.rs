//! The token endpoint's rules (RFC 6749 §3.2, §4.1.3, §5, §6): client authentication, refresh
//! token families with rotation and reuse detection.

mod client_auth;
pub mod refresh;

pub use client_auth::{
    ClientAuthError, ClientAuthenticator, PresentedClient, VerifiedSecrets, INVALID_CLIENT_MESSAGE,
};
pub use refresh::{
    RefreshDecider, RefreshDecision, RefreshFamily, RefreshRefusal, RefreshTokenRecord,
    RefreshTokenRepository, RefreshWrite, REFRESH_TOKEN_PREFIX,
};

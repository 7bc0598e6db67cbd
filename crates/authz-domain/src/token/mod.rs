//! The token endpoint's rules (RFC 6749 §3.2, §4.1.3, §5, §6) and the tokens it issues: client
//! authentication, refresh token families with rotation and reuse detection, and JWT access
//! tokens (RFC 9068), signed with the [`crate::keys::KeyRing`] and verified by
//! [`AccessTokenVerifier`], which resource servers written in Rust can embed.

mod access_token;
mod client_auth;
mod grants;
mod memory;
pub mod refresh;
mod revocation;
mod service;

pub use access_token::{
    AccessTokenClaims, AccessTokenError, AccessTokenVerifier, ACCESS_TOKEN_TYPE,
};
pub use client_auth::{
    ClientAuthError, ClientAuthenticator, PresentedClient, VerifiedSecrets, INVALID_CLIENT_MESSAGE,
};
pub use grants::GrantRevocation;
pub use memory::InMemoryRefreshTokens;
pub use refresh::{
    RefreshDecider, RefreshDecision, RefreshFamily, RefreshRefusal, RefreshTokenRecord,
    RefreshTokenRepository, RefreshWrite, REFRESH_TOKEN_PREFIX,
};
pub use revocation::{AccessTokenRevocationRepository, InMemoryAccessTokenRevocations};
pub use service::{
    FormParams, Introspection, TokenError, TokenPolicy, TokenResponse, TokenService, TokenStores,
};

#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod tests;

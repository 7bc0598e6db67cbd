//! Tokens the server issues. So far: JWT access tokens (RFC 9068), signed with the
//! [`crate::keys::KeyRing`] and verified by [`AccessTokenVerifier`], which resource servers
//! written in Rust can embed.

mod access_token;

pub use access_token::{
    AccessTokenClaims, AccessTokenError, AccessTokenVerifier, ACCESS_TOKEN_TYPE,
};

#[cfg(test)]
mod tests;

//! # authz-domain
//!
//! The rules of an OAuth 2.0 authorization server, with no I/O: no database, no HTTP, no async
//! runtime. It is what the `authz-server` binary runs, and it can be embedded on its own: build a
//! [`clients::RegistrationPolicy`] in code, implement [`clients::ClientRepository`] over your
//! storage (or use [`memory::InMemoryClientRepository`]), and call
//! [`registration::RegistrationService`].
//!
//! The shared base, which every capability uses:
//! * [`error`]: one [`error::ErrorCode`] for every OAuth error code, the repository error.
//! * [`values`]: the closed sets of the protocol (grant types, response types, auth methods…).
//! * [`credentials`]: identifiers, Argon2id-hashed secrets, SHA-256-digested bearer tokens.
//! * [`audit`]: audit events and the [`audit::AuditLog`] port.
//! * [`clock`]: injectable time.
//!
//! One module per capability on top of it, dependencies pointing one way
//! (base ← clients ← registration ← administration):
//! * [`clients`]: the client, its RFC 7591 metadata, redirect URIs, the policy, the storage port.
//! * [`registration`]: RFC 7591 registration and RFC 7592 management, the MCP profile.
//! * [`administration`]: administrator tokens and scopes, search, rotation, locks.
//! * [`authorization`]: the authorization endpoint (RFC 6749 §4.1, RFC 7636, RFC 8707,
//!   RFC 9207): the ordered checks of a request, PKCE, resource indicators, pending requests,
//!   authorization codes.
//! * [`keys`]: signing keys, the JWK Set, private keys encrypted at rest, rotation.
//! * [`token`]: the token endpoint: client authentication, refresh token families, RFC 9068 JWT
//!   access tokens signed and verified.
//! * [`users`]: local accounts (Argon2id passwords), server-side sessions, remembered consents,
//!   and the [`users::Authenticator`] port an upstream identity provider fits.
//! * [`memory`]: in-memory implementations of the ports, for tests and embedders.
//!
//! [`client_registration`] keeps the first release's paths as re-exports.
//!
//! ```
//! use authz_domain::clients::{ClientMetadata, RegistrationPolicy};
//! use authz_domain::error::ErrorCode;
//!
//! let policy = RegistrationPolicy::default(); // the MCP profile
//! let request = serde_json::json!({
//!     "client_name": "Cursor",
//!     "token_endpoint_auth_method": "none",
//!     "grant_types": ["authorization_code", "refresh_token"],
//!     "response_types": ["code"],
//!     "redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"]
//! });
//! let metadata = ClientMetadata::from_request(request.as_object().unwrap(), &policy).unwrap();
//! assert_eq!(metadata.redirect_uris.len(), 1);
//!
//! let bad = serde_json::json!({"redirect_uris": ["ftp://example.com/cb"]});
//! let err = ClientMetadata::from_request(bad.as_object().unwrap(), &policy).unwrap_err();
//! assert_eq!(err.code(), ErrorCode::InvalidRedirectUri);
//! assert!(err.to_string().starts_with("redirect_uris[0]: scheme \"ftp\""));
//! ```

pub mod administration;
pub mod audit;
pub mod authorization;
pub mod client_registration;
pub mod clients;
pub mod clock;
pub mod credentials;
pub mod error;
pub mod keys;
pub mod memory;
pub mod registration;
#[cfg(test)]
mod testing;
pub mod token;
pub mod users;
pub mod values;

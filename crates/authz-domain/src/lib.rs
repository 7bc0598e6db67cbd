//! # authz-domain
//!
//! The rules of an OAuth 2.0 authorization server's Dynamic Client Registration, with no I/O:
//! no database, no HTTP, no async runtime. It is what the `authz-server` binary runs, and it can
//! be embedded on its own: build a [`client_registration::RegistrationPolicy`] in code, implement
//! [`client_registration::ClientRepository`] over your storage (or use the in-memory one), and call
//! [`client_registration::RegistrationService`].
//!
//! * [`client_registration`]: RFC 7591 metadata, RFC 7592 management, the MCP profile.
//! * [`credentials`]: identifiers, Argon2id-hashed secrets, SHA-256-digested bearer tokens.
//! * [`clock`]: injectable time.
//! * [`keys`]: signing keys, the JWK Set, encryption at rest, rotation.
//! * [`token`]: RFC 9068 JWT access tokens, signed and verified.
//!
//! ```
//! use authz_domain::client_registration::{ClientMetadata, RegistrationPolicy, ErrorCode};
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

pub mod client_registration;
pub mod clock;
pub mod credentials;
pub mod keys;
#[cfg(test)]
mod testing;
pub mod token;

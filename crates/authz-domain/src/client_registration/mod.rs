//! Dynamic Client Registration: RFC 7591 registration, RFC 7592 management, and the MCP
//! authorization profile's rules for clients.
//!
//! The flow: a raw JSON object is parsed by [`ClientMetadata::from_request`] under a
//! [`RegistrationPolicy`] into valid metadata (or a [`RegistrationError`] naming the field and its
//! RFC error code); [`RegistrationService`] then issues credentials and stores the client through
//! the [`ClientRepository`] port.

mod admin;
mod audit;
mod client;
mod error;
mod management;
pub mod memory;
mod metadata;
mod policy;
mod ports;
mod redirect_uri;
mod service;
mod software_statement;
mod values;

pub use admin::{
    validate_client_id, AdminPolicy, AdminScope, AdminScopes, AdminService, AdminToken,
    Administrator, AuditListParams, AuditPage, AuditQuery, ClientDetails, ClientListParams,
    ClientPage, ClientQuery, ClientSort, IssuedAdminToken, ReissuedToken, ReplacedClient,
    RotatedSecret, StoredAuditEvent, ADMIN_INVALID_TOKEN_MESSAGE, ADMIN_MISSING_TOKEN_MESSAGE,
    ADMIN_TOKEN_PREFIX, MAX_CHOSEN_CLIENT_ID_CHARS, MAX_PAGE, MAX_SEARCH_CHARS,
};
pub use audit::{AuditAction, AuditEvent, RequestContext};
pub use client::{
    search_key, Client, ClientOrigin, ClientSettings, PreviousSecret, RegistrationTokenRecord,
    TokenLookup, TokenRotation,
};
pub use error::{ErrorCode, RegistrationError, RepositoryError};
pub use management::{PresentedToken, INVALID_TOKEN_MESSAGE, MISSING_TOKEN_MESSAGE};
pub use memory::InMemoryClientRepository;
pub use metadata::{ClientMetadata, LOCALIZABLE_FIELDS};
pub use policy::{CredentialPolicy, PolicyError, RegistrationPolicy};
pub use ports::{AdminTokenRepository, AuditLog, ClientAdministration, ClientRepository};
pub use redirect_uri::{RedirectUri, RedirectUriKind, RedirectUriPolicy};
pub use service::{RegisteredClient, RegistrationService};
pub use software_statement::{SoftwareStatementPolicy, TrustedIssuer};
pub use values::{
    ApplicationType, CodeChallengeMethod, GrantType, ResponseType, Scope, TokenEndpointAuthMethod,
};

/// Re-exported so embedders can build [`TrustedIssuer`] keys without naming the crate.
pub use jsonwebtoken::{errors::Error as JwtError, Algorithm as JwtAlgorithm, DecodingKey};

#[cfg(test)]
mod admin_tests;
#[cfg(test)]
mod management_tests;
#[cfg(test)]
mod tests;

//! Clients: the stored entity, its RFC 7591 metadata, redirect URIs, software statements, the
//! registration policy and the storage port. Registration, administration, authorization and the
//! token endpoint all build on this module; it depends only on the shared base (errors, values,
//! credentials, audit, clock).

mod client;
mod display_text;
mod metadata;
mod policy;
mod ports;
mod redirect_uri;
mod software_statement;
mod substitution;
mod uri_agreement;
mod usage;

pub use client::{
    search_key, Client, ClientOrigin, ClientSettings, PreviousSecret, RegistrationTokenRecord,
    TokenLookup, TokenRotation,
};
pub(crate) use metadata::json_type;
pub use metadata::{ClientMetadata, ParsedMetadata, LOCALIZABLE_FIELDS};
pub use policy::{CredentialPolicy, PolicyError, RegistrationPolicy};
pub use ports::ClientRepository;
pub(crate) use redirect_uri::parse_web_uri;
pub use redirect_uri::{RedirectUri, RedirectUriKind, RedirectUriPolicy};
pub use software_statement::{SoftwareStatementPolicy, TrustedIssuer};
pub(crate) use substitution::audit_detail as substitution_detail;
pub use substitution::Substitution;
pub use usage::{ClientUsageStore, UsageRecorder, MAX_REMEMBERED_CLIENTS};

/// Re-exported so embedders can build [`TrustedIssuer`] keys without naming the crate.
pub use jsonwebtoken::{errors::Error as JwtError, Algorithm as JwtAlgorithm, DecodingKey};

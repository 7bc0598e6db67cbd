//! Administration: scoped administrator tokens, paged client search, administrator-created
//! clients, secret rotation with a grace period, registration-token reissue, locks and the audit
//! trail. [`AdminService`] reuses the registration rules through
//! [`RegistrationService`](crate::registration::RegistrationService) rather than copying them.

mod ports;
mod service;

pub use ports::{AdminTokenRepository, ClientAdministration, ClientGrants};
pub use service::{
    validate_client_id, AdminPolicy, AdminScope, AdminScopes, AdminService, AdminToken,
    Administrator, AuditListParams, AuditPage, AuditQuery, ClientDetails, ClientListParams,
    ClientPage, ClientQuery, ClientSort, IssuedAdminToken, ReissuedToken, ReplacedClient,
    RotatedSecret, StoredAuditEvent, UserListParams, ADMIN_INVALID_TOKEN_MESSAGE,
    ADMIN_MISSING_TOKEN_MESSAGE, ADMIN_TOKEN_PREFIX, MAX_CHOSEN_CLIENT_ID_CHARS, MAX_PAGE,
    MAX_SEARCH_CHARS,
};

#[cfg(test)]
mod tests;

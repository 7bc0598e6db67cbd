//! Revoking whole grants (refresh token families) for the account and client rules of other
//! modules: a disabled user ([`UserGrants`]) and a client whose secret was rotated away
//! ([`ClientGrants`]).

use std::sync::Arc;

use super::refresh::RefreshTokenRepository;
use crate::administration::ClientGrants;
use crate::clock::Clock;
use crate::error::RepositoryError;
use crate::users::UserGrants;

/// Revokes refresh token families through the [`RefreshTokenRepository`], at the clock's time.
#[derive(Debug, Clone)]
pub struct GrantRevocation {
    families: Arc<dyn RefreshTokenRepository>,
    clock: Arc<dyn Clock>,
}

impl GrantRevocation {
    /// Revocation over `families`.
    pub fn new(families: Arc<dyn RefreshTokenRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { families, clock }
    }
}

impl UserGrants for GrantRevocation {
    fn revoke_user_grants(&self, user_id: &str) -> Result<u64, RepositoryError> {
        self.families
            .revoke_user_families(user_id, self.clock.now())
    }
}

impl ClientGrants for GrantRevocation {
    fn revoke_client_grants(&self, client_id: &str) -> Result<u64, RepositoryError> {
        self.families
            .revoke_client_families(client_id, self.clock.now())
    }
}

//! Tasks of the maintenance thread (see `startup::spawn_maintenance`) beyond key reloads and
//! purges.

use authz_domain::registration::StaleClientExpiry;

/// One stale-client expiry pass (`[registration.expiry]`); logs what it did. Failures are logged
/// and retried on the next pass.
pub(crate) fn expire_stale_clients(expiry: &StaleClientExpiry) {
    if !expiry.policy().is_enabled() {
        return;
    }
    match expiry.run() {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "expired stale dynamically registered clients"),
        Err(e) => tracing::warn!(error = %e, "expiring stale clients"),
    }
}

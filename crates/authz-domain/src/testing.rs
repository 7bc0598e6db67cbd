//! Helpers for this crate's unit tests.

use std::sync::Arc;

use crate::credentials::{Argon2Settings, CredentialIssuer, SecretHasher, SystemRandomSource};

/// Argon2id at its cheapest: the rules under test do not depend on the cost.
pub(crate) fn cheap_hasher() -> SecretHasher {
    SecretHasher::new(
        Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        2,
    )
    .expect("valid argon2 parameters")
}

/// A credential issuer over the system RNG and [`cheap_hasher`].
pub(crate) fn cheap_issuer() -> CredentialIssuer {
    CredentialIssuer::new(Arc::new(SystemRandomSource::new()), cheap_hasher(), 32).expect("issuer")
}

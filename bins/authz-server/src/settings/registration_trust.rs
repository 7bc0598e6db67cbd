//! Registration trust settings inside `[registration]`: `mode` (initial access tokens),
//! `last_used_interval_secs`, `[registration.idempotency]` and `[registration.expiry]`.

use anyhow::anyhow;
use authz_domain::registration::{ExpiryPolicy, IdempotencyPolicy, RegistrationMode};
use garde::Validate;
use serde::{Deserialize, Serialize};

use super::Settings;

/// `registration.mode`: `"open"` or `"initial_access_token"`.
pub(super) fn registration_mode(value: &str, _: &()) -> garde::Result {
    RegistrationMode::from_wire(value)
        .map(|_| ())
        .ok_or_else(|| {
            garde::Error::new(format!(
                "{value:?} is not a registration mode; use \"open\" or \"initial_access_token\""
            ))
        })
}

/// `[registration.idempotency]`: `Idempotency-Key` on `POST /register`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct IdempotencySettings {
    /// `false`: the header is ignored (every request registers a new client).
    #[garde(skip)]
    pub enabled: bool,
    /// How long the first answer is replayed, in seconds (1 minute to 7 days).
    #[garde(range(min = 60, max = 604_800))]
    pub window_secs: u64,
    /// How long an unfinished request holds its key, in seconds (1 to 3600).
    #[garde(range(min = 1, max = 3_600))]
    pub in_flight_timeout_secs: u64,
}

/// `[registration.expiry]`: deleting unused dynamically registered clients. Off by default.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ExpirySettings {
    /// Seconds a never-used client lives after registration; 0 never expires them.
    #[garde(skip)]
    pub never_used_lifetime_secs: u64,
    /// Seconds a client lives after its last use; 0 never expires them.
    #[garde(skip)]
    pub unused_lifetime_secs: u64,
    /// Clients deleted per batch (1 to 10,000).
    #[garde(range(min = 1, max = 10_000))]
    pub batch_size: u32,
    /// Batches per maintenance pass (1 to 1,000).
    #[garde(range(min = 1, max = 1_000))]
    pub max_batches_per_run: u32,
}

impl Settings {
    /// `registration.mode`.
    pub fn registration_mode(&self) -> RegistrationMode {
        RegistrationMode::from_wire(&self.registration.mode).unwrap_or_default()
    }

    /// `[registration.idempotency]` as the domain's policy; `None` when disabled.
    pub fn idempotency_policy(&self) -> Option<IdempotencyPolicy> {
        let s = &self.registration.idempotency;
        s.enabled.then_some(IdempotencyPolicy {
            window_secs: s.window_secs,
            in_flight_timeout_secs: s.in_flight_timeout_secs,
        })
    }

    /// `[registration.expiry]` as the domain's policy. A lifetime shorter than two
    /// `registration.last_used_interval_secs` is refused: `last_used_at` may lag by one interval,
    /// so such a lifetime would delete clients in use.
    pub fn expiry_policy(&self) -> anyhow::Result<ExpiryPolicy> {
        let s = &self.registration.expiry;
        let floor = self.registration.last_used_interval_secs.saturating_mul(2);
        for (key, value) in [
            ("never_used_lifetime_secs", s.never_used_lifetime_secs),
            ("unused_lifetime_secs", s.unused_lifetime_secs),
        ] {
            if value != 0 && value < floor {
                return Err(anyhow!(
                    "registration.expiry.{key} = {value}: use 0 (off) or at least {floor} (twice registration.last_used_interval_secs, which last use may lag by)"
                ));
            }
        }
        Ok(ExpiryPolicy {
            never_used_lifetime_secs: s.never_used_lifetime_secs,
            unused_lifetime_secs: s.unused_lifetime_secs,
            batch_size: s.batch_size,
            max_batches: s.max_batches_per_run,
        })
    }
}

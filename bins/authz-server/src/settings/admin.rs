//! `[admin]`: the administration API.

use garde::Validate;
use serde::{Deserialize, Serialize};

use super::validators::*;

/// `[admin]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// `false`: `/admin` answers 404.
    #[garde(skip)]
    pub enabled: bool,
    /// Grant types an administrator may give a client.
    #[garde(length(min = 1), inner(custom(grant_type)))]
    pub allowed_grant_types: Vec<String>,
    /// Page size when none is asked for.
    #[garde(range(min = 1, max = 1000))]
    pub default_per_page: u64,
    /// Largest page size.
    #[garde(range(min = 1, max = 1000))]
    pub max_per_page: u64,
    /// Longest grace period of a rotated secret.
    #[garde(range(max = 31_622_400))]
    pub max_secret_grace_period_secs: u64,
}

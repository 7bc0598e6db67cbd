//! `[logging]`: format and filter.

use garde::Validate;
use serde::{Deserialize, Serialize};

use super::validators::*;

/// `[logging]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct LoggingSettings {
    /// `json` or `pretty`.
    #[garde(skip)]
    pub format: LogFormat,
    /// An `EnvFilter` directive string; `RUST_LOG` overrides it.
    #[garde(custom(log_filter))]
    pub level: String,
}

/// `logging.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

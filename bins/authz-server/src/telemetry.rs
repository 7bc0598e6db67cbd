//! The tracing subscriber, built in one place. Tokens and secrets never reach it: handlers skip
//! request bodies, and domain types holding secrets print as `[REDACTED]`.

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

use crate::settings::{LogFormat, LoggingSettings};
use crate::telemetry_levels::ClientFaultsAtWarn;

/// Installs the global subscriber: `RUST_LOG` if set, else `logging.level`; JSON or pretty.
/// Logs go to stderr so that stdout carries only the start-up line and command output.
pub fn init(logging: &LoggingSettings) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&logging.level))
        .map_err(|e| anyhow::anyhow!("logging.level = {:?}: {e}", logging.level))?;
    let registry = tracing_subscriber::registry().with(filter);
    let result = match logging.format {
        LogFormat::Json => registry
            .with(ClientFaultsAtWarn(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            ))
            .try_init(),
        LogFormat::Pretty => registry
            .with(ClientFaultsAtWarn(
                tracing_subscriber::fmt::layer().with_writer(std::io::stderr),
            ))
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))
}

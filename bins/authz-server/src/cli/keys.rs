//! `authz-server keys list|rotate|retire`: the keys access tokens are signed with (contract §6).
//!
//! Every instance re-reads the keys every `keys.reload_interval_secs`, so a change made here
//! reaches running servers without a restart.

use std::path::PathBuf;

use anyhow::{anyhow, Context as _};
use authz_domain::keys::{KeyService, SigningAlgorithm, SigningKey};
use clap::Subcommand;

use super::admin_token::timestamp;

/// `authz-server keys …`.
#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// List every signing key: kid, algorithm, when it was created, signs from, retires and
    /// leaves the JWK Set, and its state now.
    List,
    /// Add a new key: published in /jwks.json at once, signing after keys.publish_ahead_secs;
    /// the current key stops signing then and stays published until its tokens have expired.
    Rotate {
        /// ES256, EdDSA or RS256 (default: keys.algorithm).
        #[arg(long)]
        algorithm: Option<String>,
        /// Import this PKCS#8 PEM private key instead of generating one (needs --algorithm).
        #[arg(long, value_name = "FILE")]
        import_pem: Option<PathBuf>,
    },
    /// Stop a key signing now (for a compromised key: rotate first, then retire the old one).
    /// It stays published until every token it signed has expired.
    Retire {
        /// The key id.
        kid: String,
    },
}

/// Runs one keys command.
pub(super) fn run(keys: &KeyService, command: KeysCommand) -> anyhow::Result<()> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match command {
        KeysCommand::List => {
            println!(
                "{:<44} {:<6} {:<20} {:<20} {:<20} {:<20} STATE",
                "KID", "ALG", "CREATED", "SIGNS FROM", "RETIRED", "UNPUBLISHED"
            );
            for k in keys.list()? {
                let state = if k.signs_at(now) {
                    "signing"
                } else if k.retired_at.is_some_and(|r| r <= now) && k.published_at(now) {
                    "retired, published"
                } else if k.published_at(now) && k.activates_at > now {
                    "published, not yet signing"
                } else if k.published_at(now) {
                    "published"
                } else {
                    "unpublished"
                };
                println!(
                    "{:<44} {:<6} {:<20} {:<20} {:<20} {:<20} {state}",
                    k.kid,
                    k.algorithm.as_str(),
                    timestamp(k.created_at),
                    timestamp(k.activates_at),
                    k.retired_at.map_or("-".into(), timestamp),
                    k.remove_after.map_or("-".into(), timestamp),
                );
            }
            Ok(())
        }
        KeysCommand::Rotate {
            algorithm,
            import_pem,
        } => {
            let algorithm = algorithm
                .as_deref()
                .map(SigningAlgorithm::parse)
                .transpose()
                .map_err(|e| anyhow!("--algorithm: {e}"))?;
            let record = match import_pem {
                Some(path) => {
                    let algorithm =
                        algorithm.ok_or_else(|| anyhow!("--import-pem needs --algorithm"))?;
                    let pem = std::fs::read_to_string(&path)
                        .with_context(|| format!("--import-pem {}", path.display()))?;
                    let key = SigningKey::from_pkcs8_pem(algorithm, &pem)
                        .map_err(|e| anyhow!("--import-pem {}: {e}", path.display()))?;
                    keys.rotate_to(&key, "cli")?
                }
                None => keys.rotate(algorithm, "cli")?,
            };
            println!("{}", record.kid);
            eprintln!(
                "added {} key {}: published now, signing from {}",
                record.algorithm.as_str(),
                record.kid,
                timestamp(record.activates_at)
            );
            Ok(())
        }
        KeysCommand::Retire { kid } => {
            let record = keys.retire(&kid, "cli")?;
            eprintln!(
                "retired key {}: no longer signs; published until {}",
                record.kid,
                record.remove_after.map_or("-".into(), timestamp)
            );
            Ok(())
        }
    }
}

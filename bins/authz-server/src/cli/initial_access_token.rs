//! `authz-server initial-access-token create|list|revoke`: initial access tokens (RFC 7591 §3)
//! for `POST /register`.

use authz_domain::administration::AdminService;
use authz_domain::audit::RequestContext;
use authz_domain::registration::{InitialAccessPolicy, NewInitialAccessToken};
use clap::Subcommand;
use secrecy::ExposeSecret;

use super::admin_token::{parse_duration, timestamp};

#[derive(Debug, Subcommand)]
pub(super) enum InitialAccessTokenCommand {
    /// Create a token and print it once on standard output (only its SHA-256 digest is stored).
    Create {
        /// Lifetime such as 3600, 90m, 12h or 30d (at most 366 days).
        #[arg(long, value_name = "DURATION")]
        expires_in: String,
        /// Registrations it allows; without it, any number until it expires.
        #[arg(long)]
        max_uses: Option<u64>,
        /// What it is for (shown in listings).
        #[arg(long)]
        description: Option<String>,
        /// Space-separated scope tokens its registrations may ask for (default: any the server
        /// allows).
        #[arg(long, value_name = "SCOPES")]
        allowed_scopes: Option<String>,
        /// Space-separated grant types its registrations may ask for (default: any the server
        /// allows).
        #[arg(long, value_name = "GRANT_TYPES")]
        allowed_grant_types: Option<String>,
    },
    /// List tokens: id, creation, expiry, uses left and state (never the tokens).
    List,
    /// Revoke a token by id; it stops working at once (clients it registered stay).
    Revoke {
        /// The token's id (`iat-…`).
        id: String,
    },
}

/// Runs one initial-access-token command against `admin`.
pub(super) fn run(admin: &AdminService, command: InitialAccessTokenCommand) -> anyhow::Result<()> {
    let context = RequestContext::default();
    match command {
        InitialAccessTokenCommand::Create {
            expires_in,
            max_uses,
            description,
            allowed_scopes,
            allowed_grant_types,
        } => {
            let expires_in =
                parse_duration(&expires_in).map_err(|e| anyhow::anyhow!("--expires-in: {e}"))?;
            let mut policy = serde_json::Map::new();
            let words = |s: &str| -> serde_json::Value {
                s.split_whitespace()
                    .map(|w| serde_json::Value::String(w.to_owned()))
                    .collect()
            };
            if let Some(s) = &allowed_scopes {
                policy.insert("allowed_scopes".into(), words(s));
            }
            if let Some(g) = &allowed_grant_types {
                policy.insert("allowed_grant_types".into(), words(g));
            }
            let policy = InitialAccessPolicy::from_json("--allowed-*", &policy.into())?;
            let new = NewInitialAccessToken {
                description,
                expires_in,
                max_uses,
                policy,
            };
            let issued = admin.issue_initial_access_token("cli", &new, &context)?;
            // The token alone on stdout, so `IAT=$(authz-server initial-access-token create …)`
            // works.
            println!("{}", issued.plaintext.expose_secret());
            eprintln!(
                "created initial access token {} expiring {}, {}; it is shown only now",
                issued.token.id,
                timestamp(issued.token.expires_at),
                issued
                    .token
                    .max_uses
                    .map_or("unlimited uses".to_owned(), |n| format!("{n} uses"))
            );
            Ok(())
        }
        InitialAccessTokenCommand::List => {
            let tokens = admin.initial_access_tokens()?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            println!(
                "{:<28} {:<20} {:<20} {:<9} {:<8} DESCRIPTION",
                "ID", "CREATED", "EXPIRES", "USES LEFT", "STATE"
            );
            for t in tokens {
                println!(
                    "{:<28} {:<20} {:<20} {:<9} {:<8} {}",
                    t.id,
                    timestamp(t.created_at),
                    timestamp(t.expires_at),
                    t.uses_remaining.map_or("any".to_owned(), |n| n.to_string()),
                    t.state(now),
                    t.description.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
        InitialAccessTokenCommand::Revoke { id } => {
            admin.withdraw_initial_access_token("cli", &id, &context)?;
            println!("revoked initial access token {id}");
            Ok(())
        }
    }
}

//! `authz-server admin-token create|list|revoke`: administrator tokens for the `/admin` API.

use authz_domain::administration::{AdminScopes, AdminService};
use clap::Subcommand;
use secrecy::ExposeSecret;

#[derive(Debug, Subcommand)]
pub(super) enum AdminTokenCommand {
    /// Create a token and print it once on standard output (only its SHA-256 digest is stored).
    Create {
        /// A unique name (1-64 of A-Z a-z 0-9 . _ -); audit records name the administrator by it.
        #[arg(long)]
        name: String,
        /// Space-separated scopes: client:read client:create client:update client:delete
        /// audit:read, or client:admin for all of them; user:read, or user:admin for user
        /// accounts (client:admin does not include the user scopes).
        #[arg(long)]
        scope: String,
        /// Lifetime such as 3600, 90m, 12h or 30d; without it the token never expires.
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// List tokens: name, scopes, creation, expiry and state (never the tokens).
    List,
    /// Revoke a token by name; it stops working at once.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// Runs one administrator-token command against `admin`.
pub(super) fn run(admin: &AdminService, command: AdminTokenCommand) -> anyhow::Result<()> {
    match command {
        AdminTokenCommand::Create {
            name,
            scope,
            expires_in,
        } => {
            let scopes = AdminScopes::parse(&scope).map_err(|e| anyhow::anyhow!("--scope: {e}"))?;
            let lifetime = expires_in
                .as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--expires-in: {e}"))?;
            let issued = admin.create_admin_token(&name, scopes, lifetime)?;
            // The token alone on stdout, so `TOKEN=$(authz-server admin-token create …)` works.
            println!("{}", issued.plaintext.expose_secret());
            eprintln!(
                "created administrator token {:?} with scopes \"{}\", {}; it is shown only now",
                issued.token.name,
                issued.token.scopes,
                issued
                    .token
                    .expires_at
                    .map_or("never expiring".to_owned(), |t| format!(
                        "expiring {}",
                        timestamp(t)
                    ))
            );
            Ok(())
        }
        AdminTokenCommand::List => {
            let tokens = admin.list_admin_tokens()?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            println!(
                "{:<24} {:<20} {:<20} {:<8} SCOPES",
                "NAME", "CREATED", "EXPIRES", "STATE"
            );
            for t in tokens {
                let state = t.state(now);
                println!(
                    "{:<24} {:<20} {:<20} {:<8} {}",
                    t.name,
                    timestamp(t.created_at),
                    t.expires_at.map_or("never".to_owned(), timestamp),
                    state,
                    t.scopes
                );
            }
            Ok(())
        }
        AdminTokenCommand::Revoke { name } => {
            admin.revoke_admin_token(&name)?;
            println!("revoked administrator token {name:?}");
            Ok(())
        }
    }
}

/// Seconds, or a number with `s`, `m`, `h` or `d`.
pub(crate) fn parse_duration(s: &str) -> Result<u64, String> {
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit; use s, m, h or d (such as 30d)"
            ))
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("{s:?}: expected a positive duration such as 3600, 90m, 12h or 30d"))
}

pub(crate) fn timestamp(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

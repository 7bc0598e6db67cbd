//! `authz-server`: the command line. See `authz-server --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use authz_domain::administration::{AdminScopes, AdminService};
use authz_server::settings::{Settings, Sources};
use authz_server::startup::{open_database, Application, Services};
use authz_server::telemetry;
use authz_storage::Database;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

/// OAuth 2.0 authorization server with Dynamic Client Registration (RFC 7591/7592) for MCP clients.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Folder holding default.toml and {AUTHZ_ENV}.toml (default: ./config when it exists).
    #[arg(long, global = true, value_name = "DIR")]
    config_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate {
        /// Revert every migration instead (drops all data).
        #[arg(long)]
        revert_all: bool,
    },
    /// Load and check the configuration, print it (secrets redacted) and exit.
    CheckConfig,
    /// Manage administrator tokens for the /admin API.
    AdminToken {
        #[command(subcommand)]
        command: AdminTokenCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminTokenCommand {
    /// Create a token and print it once on standard output (only its SHA-256 digest is stored).
    Create {
        /// A unique name (1-64 of A-Z a-z 0-9 . _ -); audit records name the administrator by it.
        #[arg(long)]
        name: String,
        /// Space-separated scopes: client:read client:create client:update client:delete
        /// audit:read, or client:admin for all of them.
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authz-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&Sources::from_process(cli.config_dir))?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate { revert_all } => {
            telemetry::init(&settings.logging)?;
            let db = Database::connect(&settings.database_options())?;
            let versions = if revert_all {
                db.revert_all()?
            } else {
                db.migrate()?
            };
            match (revert_all, versions.is_empty()) {
                (_, true) => println!("nothing to do: the database is up to date"),
                (false, false) => println!(
                    "applied {} migration(s): {}",
                    versions.len(),
                    versions.join(", ")
                ),
                (true, false) => println!(
                    "reverted {} migration(s): {}",
                    versions.len(),
                    versions.join(", ")
                ),
            }
            Ok(())
        }
        Command::CheckConfig => {
            println!("{}", serde_json::to_string_pretty(&settings)?);
            Ok(())
        }
        Command::AdminToken { command } => {
            telemetry::init(&settings.logging)?;
            let database = open_database(&settings)?;
            let services = Services::build(&settings, &database)?;
            let result = admin_token(&services.admin, command);
            services.audit.flush();
            result
        }
    }
}

fn admin_token(admin: &AdminService, command: AdminTokenCommand) -> anyhow::Result<()> {
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
fn parse_duration(s: &str) -> Result<u64, String> {
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

fn timestamp(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    telemetry::init(&settings.logging)?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&settings)?;
        stop_on_signals(app.handle())?;
        let addr = format!("{}:{}", bind_host(&settings.server.bind), app.port());
        println!(
            "authz-server listening on http://{addr} (issuer {})",
            settings.server.public_base_url
        );
        tracing::info!(%addr, issuer = %settings.server.public_base_url, "listening");
        app.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Stops gracefully on SIGTERM or SIGINT. The handlers are installed before the start line is
/// printed, so a supervisor that signals right after seeing it never kills the process outright.
fn stop_on_signals(handle: actix_web::dev::ServerHandle) -> anyhow::Result<()> {
    use actix_web::rt::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    actix_web::rt::spawn(async move {
        let term = std::pin::pin!(term.recv());
        let int = std::pin::pin!(int.recv());
        futures_util::future::select(term, int).await;
        tracing::info!("signal received; finishing requests in flight");
        handle.stop(true).await;
    });
    Ok(())
}

fn bind_host(bind: &str) -> &str {
    bind.rsplit_once(':').map_or(bind, |(host, _)| host)
}

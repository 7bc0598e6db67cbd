//! The command line: `serve` (the default), `migrate`, `check-config`, `admin-token`, `user`. One
//! file per command family; `main.rs` only calls [`main`].

mod admin_token;
mod database;
mod initial_access_token;
mod keys;
mod migrate;
mod serve;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::{environment_warnings, Settings, Sources};
use crate::startup::Services;
use crate::telemetry;

/// OAuth 2.0 authorization server with Dynamic Client Registration (RFC 7591/7592) for MCP clients.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
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
        command: admin_token::AdminTokenCommand,
    },
    /// Manage initial access tokens (RFC 7591 §3) for POST /register.
    InitialAccessToken {
        #[command(subcommand)]
        command: initial_access_token::InitialAccessTokenCommand,
    },
    /// Manage local user accounts (the people who sign in).
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    /// Manage the keys access tokens are signed with.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
}

/// Parses the command line, runs the command, and turns an error into a message on standard
/// error and exit status 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authz-server: {e:#}");
            if let Some(hint) = database::hint(&format!("{e:#}")) {
                eprintln!("authz-server: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&Sources::from_process(cli.config_dir))?;
    // Variables such as AUTHZ_SERVER_BIND (single underscores) are read by nothing: say so.
    let warnings = environment_warnings(&serde_json::to_value(&settings)?, std::env::vars());
    let command = cli.command.unwrap_or(Command::Serve);
    if !matches!(command, Command::Serve) {
        for warning in &warnings {
            eprintln!("authz-server: warning: {warning}");
        }
    }
    match command {
        Command::Serve => serve::serve(settings, &warnings),
        Command::Migrate { revert_all } => migrate::migrate(&settings, revert_all),
        Command::CheckConfig => {
            println!("{}", serde_json::to_string_pretty(&settings)?);
            Ok(())
        }
        Command::AdminToken { command } => with_services(&settings, |services| {
            admin_token::run(&services.admin, command)
        }),
        Command::InitialAccessToken { command } => with_services(&settings, |services| {
            initial_access_token::run(&services.admin, command)
        }),
        Command::User { command } => {
            with_services(&settings, |services| users::run(&services.users, command))
        }
        Command::Keys { command } => {
            with_services(&settings, |services| keys::run(&services.keys, command))
        }
    }
}

/// Runs a short-lived command over the services, then writes the queued audit records and closes
/// the database: waiting for the pool's connection attempts in progress is what lets the process
/// exit cleanly (exiting while a pool thread is inside libpq crashed in OpenSSL's exit-time
/// cleanup, about one run in a hundred with password authentication).
fn with_services(
    settings: &Settings,
    command: impl FnOnce(&Services) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    telemetry::init(&settings.logging)?;
    // Admin commands need existing data: a missing SQLite file is refused, not created.
    let database = database::open_existing(settings)?;
    let result = Services::build(settings, &database).and_then(|services| {
        let result = command(&services);
        services.audit.flush();
        result
    });
    database.close();
    result
}

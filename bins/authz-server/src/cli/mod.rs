//! The command line: `serve` (the default), `migrate`, `check-config`, `admin-token`, `user`. One
//! file per command family; `main.rs` only calls [`main`].

mod admin_token;
mod initial_access_token;
mod keys;
mod migrate;
mod serve;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::{Settings, Sources};
use crate::startup::{open_database, Services};
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
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&Sources::from_process(cli.config_dir))?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve::serve(settings),
        Command::Migrate { revert_all } => migrate::migrate(&settings, revert_all),
        Command::CheckConfig => {
            println!("{}", serde_json::to_string_pretty(&settings)?);
            Ok(())
        }
        Command::AdminToken { command } => {
            telemetry::init(&settings.logging)?;
            let database = open_database(&settings)?;
            let services = Services::build(&settings, &database)?;
            let result = admin_token::run(&services.admin, command);
            services.audit.flush();
            result
        }
        Command::InitialAccessToken { command } => {
            telemetry::init(&settings.logging)?;
            let database = open_database(&settings)?;
            let services = Services::build(&settings, &database)?;
            let result = initial_access_token::run(&services.admin, command);
            services.audit.flush();
            result
        }
        Command::User { command } => {
            telemetry::init(&settings.logging)?;
            let database = open_database(&settings)?;
            let services = Services::build(&settings, &database)?;
            let result = users::run(&services.users, command);
            services.audit.flush();
            result
        }
        Command::Keys { command } => {
            telemetry::init(&settings.logging)?;
            let database = open_database(&settings)?;
            let services = Services::build(&settings, &database)?;
            let result = keys::run(&services.keys, command);
            services.audit.flush();
            result
        }
    }
}

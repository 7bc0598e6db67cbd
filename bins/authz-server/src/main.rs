//! `authz-server`: the command line. See `authz-server --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use authz_server::settings::{Settings, Sources};
use authz_server::startup::Application;
use authz_server::telemetry;
use authz_storage::Database;
use clap::{Parser, Subcommand};

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
    }
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

//! `authz-server serve` (the default): the HTTP server until SIGTERM or SIGINT.

use crate::settings::Settings;
use crate::startup::Application;
use crate::telemetry;

/// Serves until a signal stops the server gracefully.
/// `warnings` (about the environment) are logged first.
pub(super) fn serve(settings: Settings, warnings: &[String]) -> anyhow::Result<()> {
    telemetry::init(&settings.logging)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&settings)?;
        stop_on_signals(app.handle())?;
        let addr = format!("{}:{}", bind_host(&settings.server.bind), app.port());
        println!(
            "authz-server listening on http://{addr} (issuer {})",
            settings.server.public_base_url
        );
        tracing::info!(
            %addr,
            issuer = %settings.server.public_base_url,
            database = %super::database::describe(&settings),
            "listening"
        );
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

//! Probes for orchestrators beside the compatible `GET /health` (liveness, in
//! [`crate::discovery::health`]):
//!
//! - `GET /health/live`: the process answers HTTP; never touches the database.
//! - `GET /health/ready`: the database answers and takes writes. `200 {"status":"ok"}`, or
//!   `503 {"status":"unavailable","database":"unreachable"|"read_only"}` with `Retry-After`. The
//!   cause is logged, never shown. The probe runs on a blocking thread and gives up after
//!   [`ReadinessProbe::timeout`], so it answers in bounded time even while requests queue.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::json;

/// Why the database is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    /// No connection, or queries fail: the server is down or unreachable.
    Unreachable,
    /// The database answers reads but refuses writes (an SQLite file opened read-only).
    ReadOnly,
}

impl NotReady {
    fn as_str(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::ReadOnly => "read_only",
        }
    }
}

/// The readiness check: `Ok` when the database answers and takes writes; the error's text is
/// for the log.
pub type ReadinessCheck = dyn Fn() -> Result<(), (NotReady, String)> + Send + Sync;

/// What `/health/ready` runs.
#[derive(Clone)]
pub struct ReadinessProbe {
    /// The check (it blocks on the database).
    pub check: Arc<ReadinessCheck>,
    /// The longest the probe waits for the check before answering 503.
    pub timeout: Duration,
}

impl fmt::Debug for ReadinessProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadinessProbe")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Mounts `/health/live` and `/health/ready`.
pub fn configure_with(probe: ReadinessProbe) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(probe))
            .route("/health/live", web::get().to(live))
            .route("/health/ready", web::get().to(ready));
    }
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn ready(probe: web::Data<ReadinessProbe>) -> HttpResponse {
    let check = probe.check.clone();
    let outcome = actix_web::rt::time::timeout(
        probe.timeout,
        actix_web::rt::task::spawn_blocking(move || check()),
    )
    .await;
    let reason = match outcome {
        Ok(Ok(Ok(()))) => {
            return HttpResponse::Ok().json(json!({"status": "ok", "database": "ok"}))
        }
        Ok(Ok(Err((reason, cause)))) => {
            tracing::warn!(reason = reason.as_str(), %cause, "not ready");
            reason
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "readiness check failed");
            NotReady::Unreachable
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = probe.timeout.as_millis() as u64,
                "readiness check timed out"
            );
            NotReady::Unreachable
        }
    };
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, "1"))
        .json(json!({"status": "unavailable", "database": reason.as_str()}))
}

//! A bound on the requests in progress at once. Beyond it a request is answered at once with
//! `503 temporarily_unavailable` and `Retry-After: 1` (JSON; the pages' own paths get the same
//! JSON, which browsers show as text) instead of joining a queue behind the blocking threads that
//! could keep it waiting for many connect timeouts while the database is slow. The health probes
//! are never counted or refused, so they keep telling the truth.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::Error;

use crate::error::error_response;

/// Requests in progress, shared by every worker of one server.
#[derive(Debug, Clone)]
pub struct InFlight {
    limit: usize,
    current: Arc<AtomicUsize>,
}

impl InFlight {
    /// At most `limit` requests at once (0: no bound).
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            current: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The middleware: `app.wrap(from_fn(move |req, next| in_flight.clone().admit(req, next)))`.
    pub async fn admit(
        self,
        req: ServiceRequest,
        next: Next<impl MessageBody + 'static>,
    ) -> Result<ServiceResponse<BoxBody>, Error> {
        if self.limit == 0 || req.path().starts_with("/health") {
            return Ok(next.call(req).await?.map_into_boxed_body());
        }
        let before = self.current.fetch_add(1, Ordering::AcqRel);
        let _slot = Slot(self.current.clone());
        if before >= self.limit {
            tracing::warn!(limit = self.limit, "request refused: too many in progress");
            let mut response = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the server is busy; nothing was stored, retry shortly".into(),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Ok(req.into_response(response));
        }
        Ok(next.call(req).await?.map_into_boxed_body())
    }
}

/// Gives the slot back however the request ends (answered, failed, or dropped).
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

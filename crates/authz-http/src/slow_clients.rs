//! A deadline on reading request bodies, so that a client trickling its body (or sending a head
//! that announces a body and then nothing) cannot hold a connection, a file descriptor and a
//! worker's attention for as long as it likes.
//!
//! actix-web bounds the time to read a request *head* (`client_request_timeout`) and idle
//! keep-alive, but not the body: a body arriving at 1 byte/s inside the size limit would be read
//! for hours. [`body_read_deadline`] wraps every request's payload in [`DeadlinePayload`], which
//! fails the read once [`BodyReadTimeout`] has passed since the head was read; the request is then
//! answered `408 Request Timeout` in the JSON error shape and the connection is closed (the rest
//! of the body can no longer be told apart from a next request).

use std::cell::Cell;
use std::future::Future as _;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::rt::time::{sleep, Sleep};
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage as _};
use futures_util::{Stream, StreamExt as _};

use crate::error::error_response;

/// How long a request body may take to arrive in full, counted from the end of its head.
/// Set per app with `app_data`; absent, no deadline applies.
#[derive(Debug, Clone, Copy)]
pub struct BodyReadTimeout(pub Duration);

/// A request payload that fails with `PayloadError::Io(TimedOut)` once its deadline passes, and
/// records that it did in `expired` (the middleware reads it to answer 408).
struct DeadlinePayload {
    inner: Payload,
    deadline: Pin<Box<Sleep>>,
    expired: Rc<Cell<bool>>,
    limit: Duration,
}

impl Stream for DeadlinePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired.get() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = self.inner.poll_next_unpin(cx) {
            return Poll::Ready(item);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.expired.set(true);
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the request body did not arrive within {} seconds",
                        self.limit.as_secs_f64()
                    ),
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Middleware: puts the [`BodyReadTimeout`] deadline on the request's payload, and answers a
/// request whose body missed it with `408 Request Timeout`, `{"error": "invalid_request", …}` and
/// `Connection: close`, whatever the handler made of the failed read.
pub async fn body_read_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(limit) = req
        .app_data::<actix_web::web::Data<BodyReadTimeout>>()
        .map(|t| t.0)
    else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let expired = Rc::new(Cell::new(false));
    let payload = DeadlinePayload {
        inner: req.take_payload(),
        deadline: Box::pin(sleep(limit)),
        expired: expired.clone(),
        limit,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(payload),
    });
    let res = next.call(req).await;
    if !expired.get() {
        return res.map(ServiceResponse::map_into_boxed_body);
    }
    tracing::info!(
        timeout_secs = limit.as_secs_f64(),
        "request body read timed out; closing the connection"
    );
    let mut response = error_response(
        StatusCode::REQUEST_TIMEOUT,
        "invalid_request",
        format!(
            "the request body did not arrive within {} seconds (server.body_read_timeout_secs)",
            limit.as_secs_f64()
        ),
    );
    response
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    match res {
        Ok(res) => Ok(res.into_response(response)),
        Err(err) => Err(actix_web::error::InternalError::from_response(err, response).into()),
    }
}

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
//!
//! The deadline alone lets an attacker who reopens connections as fast as they are closed keep
//! every connection slot (`server.max_connections`) busy with bodies that never come. So each
//! worker also bounds how many requests may be *waiting for their body* at once
//! ([`BodyReadTimeout::max_pending`], half the worker's connection share): one more, and the
//! request that has been waiting longest is answered 408 and closed at once. Slow bodies then
//! hold at most half of the slots, and the other half keeps serving.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future as _;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::rt::time::{sleep, Sleep};
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage as _};
use futures_util::{Stream, StreamExt as _};

use crate::error::error_response;

/// How long a request body may take to arrive in full, counted from the end of its head, and how
/// many requests of one worker may wait for their bodies at once. Set per app with `app_data`;
/// absent, no deadline applies.
#[derive(Debug, Clone, Copy)]
pub struct BodyReadTimeout {
    /// The deadline, from the end of the head.
    pub timeout: Duration,
    /// Requests of one worker waiting for their bodies at most; past it the one waiting longest
    /// is shed.
    pub max_pending: usize,
}

/// A request waiting for its body, as the worker's queue sees it.
#[derive(Default)]
struct PendingBody {
    shed: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

thread_local! {
    /// This worker's requests waiting for their bodies, oldest first (actix runs each worker on
    /// one thread; entries die with their request).
    static PENDING: RefCell<VecDeque<Weak<PendingBody>>> = const { RefCell::new(VecDeque::new()) };
}

/// Queues a new pending body; when more than `max_pending` are alive, sheds the oldest.
fn enqueue(max_pending: usize) -> Rc<PendingBody> {
    let entry = Rc::new(PendingBody::default());
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        pending.retain(|w| w.strong_count() > 0);
        pending.push_back(Rc::downgrade(&entry));
        while pending.len() > max_pending {
            if let Some(oldest) = pending.pop_front().and_then(|w| w.upgrade()) {
                oldest.shed.set(true);
                if let Some(waker) = oldest.waker.borrow_mut().take() {
                    waker.wake();
                }
            }
        }
    });
    entry
}

/// A request payload that fails with `PayloadError::Io(TimedOut)` once its deadline passes, and
/// records that it did in `expired` (the middleware reads it to answer 408).
struct DeadlinePayload {
    inner: Payload,
    deadline: Pin<Box<Sleep>>,
    expired: Rc<Cell<bool>>,
    limit: Duration,
    /// Its place in the worker's queue, while the body is still expected.
    pending: Option<Rc<PendingBody>>,
}

impl Stream for DeadlinePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired.get() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = self.inner.poll_next_unpin(cx) {
            if !matches!(item, Some(Ok(_))) {
                // The body is complete (or failed): it no longer waits.
                self.pending = None;
            }
            return Poll::Ready(item);
        }
        if let Some(pending) = &self.pending {
            if pending.shed.get() {
                self.expired.set(true);
                self.pending = None;
                return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "too many request bodies are pending; the one waiting longest is dropped",
                )))));
            }
            *pending.waker.borrow_mut() = Some(cx.waker().clone());
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
    let Some(BodyReadTimeout {
        timeout: limit,
        max_pending,
    }) = req
        .app_data::<actix_web::web::Data<BodyReadTimeout>>()
        .map(|t| *t.get_ref())
    else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    // Only requests that announce a body wait for one.
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    let expired = Rc::new(Cell::new(false));
    let payload = DeadlinePayload {
        inner: req.take_payload(),
        deadline: Box::pin(sleep(limit)),
        expired: expired.clone(),
        limit,
        pending: has_body.then(|| enqueue(max_pending)),
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

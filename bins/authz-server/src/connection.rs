//! Every answer is JSON, including the few that actix-http writes itself before any application
//! code runs: `431` for a request head that is too large (more than 96 header fields, or over
//! 128 KiB), `400` for a request that is not HTTP/1.1, `408` when the head does not arrive in
//! time. actix-http writes those with an empty body and then closes the connection;
//! [`JsonErrorsIo`] sits between actix-http and the socket and gives such a response the JSON
//! error body of every other error. The application's own errors always have a body
//! (`json_errors`; a `HEAD` answer announces the `GET` body's length), so a `4xx`/`5xx` head with
//! `content-length: 0` at the very end of what actix-http writes can only be one of these.

use std::fmt;
use std::io;
use std::net::TcpListener;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::{HttpService, Request, Response};
use actix_service::{
    fn_service, map_config, IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt,
};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server};
use actix_web::rt::net::TcpStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How [`serve`] runs the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// HTTP workers.
    pub workers: usize,
    /// Blocking threads per worker.
    pub max_blocking_threads: usize,
    /// Open connections per worker; past it, new ones wait in the listen backlog
    /// (`crate::connections`).
    pub max_connections_per_worker: usize,
    /// Seconds requests in flight get at shutdown.
    pub shutdown_timeout_secs: u64,
    /// How long a client may take to send its request head.
    pub client_request_timeout: Duration,
}

/// Serves the application `factory` builds (one per worker) on `listener`, as
/// `actix_web::HttpServer` does (HTTP/1.1, keep-alive, graceful shutdown, no signal handlers),
/// with every connection wrapped in [`JsonErrorsIo`].
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    options: ServeOptions,
    factory: F,
) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let builder = actix_server::Server::build()
        .workers(options.workers)
        .worker_max_blocking_threads(options.max_blocking_threads)
        .max_concurrent_connections(options.max_connections_per_worker)
        .shutdown_timeout(options.shutdown_timeout_secs)
        .disable_signals();
    let shutdown = builder.graceful_shutdown_signal();
    let builder = builder.listen("authz-server", listener, move || {
        let shutdown = shutdown.clone();
        let app = factory()
            .into_factory()
            .map_err(|err| err.into().error_response());
        let http = HttpService::build()
            .graceful_shutdown_signal(move || {
                let shutdown = shutdown.clone();
                async move { shutdown.notified().await }
            })
            .client_request_timeout(options.client_request_timeout)
            .client_disconnect_timeout(Duration::from_secs(1))
            .local_addr(addr)
            .h1(map_config(app, move |_| AppConfig::default()));
        fn_service(|io: TcpStream| {
            let peer = io.peer_addr().ok();
            std::future::ready(Ok((JsonErrorsIo::new(io), peer)))
        })
        .and_then(http)
    })?;
    Ok(builder.run())
}

/// A connection whose bare error responses get a JSON body. Reads pass through unchanged.
#[derive(Debug)]
pub struct JsonErrorsIo<T> {
    io: T,
    /// A rewritten write: the bytes to send instead, how many are sent, and how many bytes of
    /// the caller's buffer they stand for.
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<T> JsonErrorsIo<T> {
    /// Wraps `io`.
    pub fn new(io: T) -> Self {
        Self { io, pending: None }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrorsIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrorsIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            match with_json_body(buf) {
                Some(replacement) => this.pending = Some((replacement, 0, buf.len())),
                None => return Pin::new(&mut this.io).poll_write(cx, buf),
            }
        }
        // The caller retries with the same buffer until it is reported written.
        while let Some((bytes, sent, stands_for)) = this.pending.as_mut() {
            if *sent == bytes.len() {
                let consumed = *stands_for;
                this.pending = None;
                return Poll::Ready(Ok(consumed));
            }
            match Pin::new(&mut this.io).poll_write(cx, &bytes[*sent..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => *sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(0))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// `buf` with its trailing bare error response given a JSON body, or `None` when `buf` does not
/// end with one.
fn with_json_body(buf: &[u8]) -> Option<Vec<u8>> {
    if !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    // The bare error is the last thing written on the connection; responses before it (pipelined
    // requests) are kept as they are.
    let start = rfind(buf, b"HTTP/1.1 ")?;
    let head = std::str::from_utf8(&buf[start..buf.len() - 4]).ok()?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.get(9..12)?.parse().ok()?;
    let fields: Vec<(String, &str)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            (name.trim().to_ascii_lowercase(), value.trim())
        })
        .collect();
    let has = |name: &str, value: &str| {
        fields
            .iter()
            .any(|(n, v)| n == name && v.eq_ignore_ascii_case(value))
    };
    if !(400..600).contains(&status) || !has("content-length", "0") {
        return None;
    }
    let (code, description) = describe(status);
    let body = serde_json::json!({"error": code, "error_description": description}).to_string();
    let mut out = buf[..start].to_vec();
    out.extend_from_slice(head.split("\r\n").next()?.as_bytes());
    out.extend_from_slice(b"\r\n");
    for line in head.split("\r\n").skip(1) {
        if !line.to_ascii_lowercase().starts_with("content-length:") {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"content-type: application/json\r\ncache-control: no-store\r\n");
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body.as_bytes());
    Some(out)
}

fn describe(status: u16) -> (&'static str, &'static str) {
    match status {
        431 => (
            "invalid_request",
            "the request head is too large: at most 96 header fields and 128 KiB in all (RFC 6585 §5)",
        ),
        408 => (
            "invalid_request",
            "the request head did not arrive in time (server.client_request_timeout_ms)",
        ),
        400 => (
            "invalid_request",
            "the request is not valid HTTP/1.1: its request line or a header field is malformed (RFC 9112)",
        ),
        s if s >= 500 => (
            "server_error",
            "the server could not complete the request",
        ),
        _ => ("invalid_request", "the request was refused"),
    }
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::with_json_body;

    const BARE_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\ndate: Tue, 01 Dec 2026 05:32:49 GMT\r\n\r\n";

    fn split(response: &[u8]) -> (String, serde_json::Value) {
        let text = String::from_utf8(response.to_vec()).expect("utf-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("head");
        (
            head.to_owned(),
            serde_json::from_str(body).expect("json body"),
        )
    }

    #[test]
    fn a_bare_431_gets_a_json_body() {
        let out = with_json_body(BARE_431).expect("rewritten");
        let (head, body) = split(&out);
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains("connection: close"), "{head}");
        assert!(!head.contains("content-length: 0"), "{head}");
        assert_eq!(body["error"], "invalid_request");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .expect("length")
            .parse()
            .expect("number");
        assert_eq!(length, body.to_string().len());
    }

    #[test]
    fn a_pipelined_bare_error_after_a_response_is_rewritten_and_the_response_kept() {
        let first = b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\ncontent-type: application/json\r\n\r\n{\"status\":\"ok\"}";
        let mut buf = first.to_vec();
        buf.extend_from_slice(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n");
        let out = with_json_body(&buf).expect("rewritten");
        assert!(out.starts_with(first));
        let (_, body) = split(&out[first.len()..]);
        assert_eq!(body["error"], "invalid_request");
    }

    #[test]
    fn application_responses_are_left_alone() {
        for response in [
            &b"HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n"[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 70\r\ncontent-type: application/json\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\ntrailing",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\nconnection: close\r\n\r\n{\"a\":\"b\"}xyz",
        ] {
            assert!(with_json_body(response).is_none(), "{}", String::from_utf8_lossy(response));
        }
    }
}

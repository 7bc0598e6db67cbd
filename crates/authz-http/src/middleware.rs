//! Cross-cutting middleware: JSON for every error, and the request id on every response.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing_actix_web::{RequestId, RootSpanBuilder};

use crate::error::error_response;

/// The root span of each request: `tracing-actix-web`'s own fields, built only when INFO spans are
/// recorded. Its fields cost a walk of the whole route table (`http.route`) and several formatted
/// strings per request; with INFO filtered out (`logging.level = "warn"`) the span is empty and
/// none of that is computed. The request id is generated either way (`X-Request-Id`, audit).
#[derive(Debug)]
pub struct RootSpans;

impl RootSpanBuilder for RootSpans {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        // The same callsite level and target as the span below, so the filter answers for it.
        if !tracing::enabled!(tracing::Level::INFO) {
            return tracing::Span::none();
        }
        // tracing-actix-web's fields, except that `http.target` never carries a query value that
        // could be a credential (a client that wrongly puts `client_secret` or a token in the URL
        // must not get it written to the log).
        let connection = request.connection_info().clone();
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        let method = request.method().as_str().to_owned();
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let user_agent = request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.flavor = %http_flavor(request.version()),
            http.scheme = %connection.scheme(),
            http.host = %connection.host(),
            http.client_ip = %connection.realip_remote_addr().unwrap_or(""),
            http.user_agent = %user_agent,
            http.target = %redacted_target(request.path(), request.query_string()),
            http.status_code = tracing::field::Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, Error>,
    ) {
        log_refusal(&span, outcome);
        if span.is_disabled() {
            return;
        }
        // As tracing-actix-web's DefaultRootSpanBuilder, without `exception.details`: that is
        // the error's Debug text (Rust variant names); `exception.message` is the description.
        let (status, error) = match outcome {
            Ok(response) => (response.status(), response.response().error()),
            Err(error) => (error.as_response_error().status_code(), Some(error)),
        };
        span.record("http.status_code", i64::from(status.as_u16()));
        let failed = error.is_some() && !status.is_client_error();
        if let Some(error) = error {
            span.record(
                "exception.message",
                tracing::field::display(error.as_response_error().to_string()),
            );
        }
        span.record("otel.status_code", if failed { "ERROR" } else { "OK" });
    }
}

/// The event of a request that ended in an error, with its client-facing description (the
/// `error_description` the client got), never the error's `Debug` text: a warning for a refused
/// request (4xx), an error for a fault (5xx). It replaces tracing-actix-web's own event
/// (feature `emit_event_on_error`, turned off), which logged `Debug`.
fn log_refusal<B>(span: &tracing::Span, outcome: &Result<ServiceResponse<B>, Error>) {
    let (status, error) = match outcome {
        Ok(response) => match response.response().error() {
            Some(error) => (response.status(), error),
            None => return,
        },
        Err(error) => (error.as_response_error().status_code(), error),
    };
    let code = status.as_u16();
    if status.is_client_error() {
        tracing::warn!(parent: span, status = code, error = %error, "request refused");
    } else if error.as_error::<crate::ApiError>().is_none() {
        // An ApiError fault logged its cause when its response was made.
        tracing::error!(parent: span, status = code, error = %error, "request failed");
    }
}

/// Query parameters whose values are never secret and help reading a log; every other value is
/// replaced by `…`.
const LOGGED_QUERY_VALUES: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "prompt",
    "code_challenge_method",
    "response_mode",
    "resource",
    "page",
    "per_page",
    "sort",
    "action",
];

/// The HTTP version as tracing-actix-web names it (`1.1`, `2.0`).
fn http_flavor(version: actix_web::http::Version) -> &'static str {
    use actix_web::http::Version;
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2.0",
        Version::HTTP_3 => "3.0",
        _ => "other",
    }
}

/// The request target as logged: the path, and the query with only [`LOGGED_QUERY_VALUES`] kept.
fn redacted_target(path: &str, query: &str) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let kept: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            if LOGGED_QUERY_VALUES.contains(&name) {
                pair.to_owned()
            } else {
                format!("{name}=…")
            }
        })
        .collect();
    format!("{path}?{}", kept.join("&"))
}

/// Response header carrying the id of the request's tracing span, for matching a client's report
/// with the server's log.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// A request extension that routes answering HTML (the interactive pages, [`crate::pages`]) put
/// on their requests: [`json_errors`] leaves the error responses of such a request as they are
/// (the pages' own middleware has already made them HTML error pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HtmlErrorScope;

/// Rewrites every error response that is not already JSON (actix's plain-text 404, 405, payload
/// and CORS errors, …) into `{"error", "error_description"}`, so that no client ever has to parse
/// plain text, except for requests marked [`HtmlErrorScope`] (the pages answer HTML). Also stamps
/// the request id on every response.
pub async fn json_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // Never hold a clone of the HttpRequest across `next.call`: routing needs it uniquely owned.
    let method = req.method().clone();
    let path: String = req.path().chars().take(200).collect();
    let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
    let mut res = match next.call(req).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(err) => {
            // An inner layer failed without a response; answer in JSON all the same.
            let status = err.as_response_error().status_code();
            let (code, description) = describe(status, &method, &path, Some(err.to_string()));
            let response = error_response(status, code, description);
            return Err(InternalError::from_response(err.to_string(), response).into());
        }
    };
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let html_scope = res.request().extensions().contains::<HtmlErrorScope>();
    if (status.is_client_error() || status.is_server_error()) && !is_json && !html_scope {
        let cause = res.response().error().map(|e| e.to_string());
        let (code, description) = describe(status, &method, &path, cause);
        let mut replacement = error_response(status, code, description);
        // Keep headers set by inner layers (CORS, Allow, WWW-Authenticate) except the body's own.
        for (name, value) in res.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                replacement
                    .headers_mut()
                    .insert(name.clone(), value.clone());
            }
        }
        res = res.into_response(replacement);
    }
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    Ok(res)
}

fn describe(
    status: StatusCode,
    method: &actix_web::http::Method,
    path: &str,
    cause: Option<String>,
) -> (&'static str, String) {
    match status {
        StatusCode::NOT_FOUND => ("not_found", format!("no endpoint answers {method} {path}")),
        StatusCode::METHOD_NOT_ALLOWED => (
            "invalid_request",
            format!("{method} is not allowed on {path}"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("invalid_request", "the request body is too large".into())
        }
        StatusCode::SERVICE_UNAVAILABLE => (
            "temporarily_unavailable",
            "the server is temporarily unavailable; retry shortly".into(),
        ),
        StatusCode::TOO_MANY_REQUESTS => (
            "rate_limited",
            "too many requests; retry after the time in Retry-After".into(),
        ),
        s if s.is_server_error() => (
            "server_error",
            "the server could not complete the request".into(),
        ),
        _ => (
            "invalid_request",
            cause
                .map(|c| c.chars().take(300).collect())
                .unwrap_or_else(|| format!("the request was refused ({status})")),
        ),
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::redacted_target;

    #[test]
    fn credential_query_values_never_reach_the_log() {
        assert_eq!(
            redacted_target(
                "/token",
                "client_secret=s3cret&access_token=at&client_id=abc"
            ),
            "/token?client_secret=…&access_token=…&client_id=abc"
        );
        assert_eq!(
            redacted_target("/signin", "request=ar_secret"),
            "/signin?request=…"
        );
        assert_eq!(redacted_target("/health", ""), "/health");
    }
}

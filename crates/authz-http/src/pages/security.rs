//! The pages' response headers (Content-Security-Policy and the anti-framing set) and the
//! middleware that puts them, and HTML error bodies, on every response of the pages' routes.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use url::{Host, Url};

use super::PagesState;
use crate::middleware::HtmlErrorScope;

/// A page's Content-Security-Policy: nothing but our stylesheet, our images (and the logo's
/// origin), forms to ourselves (and, on the pages whose POST may redirect to the client, the
/// client's redirect target), no framing, no `<base>`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Csp {
    /// The logo's origin, when it is elsewhere.
    pub img: Option<String>,
    /// The redirect URI's source expression, on the sign-in and consent pages.
    pub form_action: Option<String>,
}

impl Csp {
    /// The header value.
    pub(crate) fn value(&self) -> String {
        let extra = |s: &Option<String>| s.as_ref().map(|s| format!(" {s}")).unwrap_or_default();
        format!(
            "default-src 'none'; style-src 'self'; img-src 'self'{}; form-action 'self'{}; \
             frame-ancestors 'none'; base-uri 'none'",
            extra(&self.img),
            extra(&self.form_action)
        )
    }
}

/// The CSP source expression that allows a form POST's redirect to `redirect_uri`
/// (Chromium applies `form-action` to it):
///
/// * `http`/`https` with a DNS name or IPv4 address: the origin, `scheme://host[:port]`;
/// * an IPv6 literal (`http://[::1]:8080/cb`), which CSP's host grammar cannot name: the
///   scheme, `http:`;
/// * a private-use scheme (`cursor://…`, `com.example.app:/cb`): the scheme, `cursor:`.
///
/// `None` when the URI does not parse (it was verified, so this does not happen).
pub(crate) fn redirect_source(redirect_uri: &str) -> Option<String> {
    let url = Url::parse(redirect_uri).ok()?;
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Some(format!("{scheme}:"));
    }
    match url.host()? {
        Host::Ipv6(_) => Some(format!("{scheme}:")),
        Host::Domain(_) | Host::Ipv4(_) => Some(url.origin().ascii_serialization()),
    }
}

/// The origin of an absolute `https`/`http` logo URL, for `img-src`.
pub(crate) fn logo_source(raw: &str) -> Option<String> {
    let url = Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// The default policy of the pages' responses that set none themselves.
pub(crate) fn default_csp(state: Option<&PagesState>) -> String {
    Csp {
        img: state.and_then(|s| s.logo_source.clone()),
        form_action: None,
    }
    .value()
}

const FIXED: [(HeaderName, &str); 3] = [
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
];

/// Middleware of every page route: marks the request so the JSON-error middleware leaves its
/// errors alone, turns any error response that is not HTML (actix's 405, 413, extractor
/// errors) into the HTML error page, and sets the security headers a handler did not set
/// (`Content-Security-Policy`, `Cache-Control: no-store`) plus the fixed ones.
pub(crate) async fn page_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    req.extensions_mut().insert(HtmlErrorScope);
    let state = req.app_data::<web::Data<PagesState>>().cloned();
    let mut res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if (status.is_client_error() || status.is_server_error()) && !is_html {
        if let Some(cause) = res.response().error() {
            if status.is_server_error() {
                tracing::error!(error = %cause, "page request failed");
            }
        }
        if let Some(state) = &state {
            let message = generic_message(status);
            let mut replacement = super::handlers::error_page(state, status, &message, None);
            for (name, value) in res.headers() {
                if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                    replacement
                        .headers_mut()
                        .insert(name.clone(), value.clone());
                }
            }
            res = res.into_response(replacement);
        }
    }
    let headers = res.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        if let Ok(v) = HeaderValue::from_str(&default_csp(state.as_ref().map(|s| s.get_ref()))) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    for (name, value) in FIXED {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Ok(res)
}

/// The message of an error page actix produced itself.
fn generic_message(status: StatusCode) -> String {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => "this page cannot be used that way".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "the form sent was too large".into(),
        StatusCode::NOT_FOUND => "there is no such page".into(),
        s if s.is_server_error() => {
            "the server could not complete the request; try again later".into()
        }
        _ => "the request could not be understood".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_source_is_the_origin_or_the_scheme() {
        assert_eq!(
            redirect_source("http://127.0.0.1:53690/callback?x=1").as_deref(),
            Some("http://127.0.0.1:53690")
        );
        assert_eq!(
            redirect_source("https://app.example.com/cb").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            redirect_source("https://app.example.com:8443/cb").as_deref(),
            Some("https://app.example.com:8443")
        );
        assert_eq!(
            redirect_source("http://[::1]:8080/cb").as_deref(),
            Some("http:")
        );
        assert_eq!(
            redirect_source("cursor://anysphere.cursor-mcp/oauth/callback").as_deref(),
            Some("cursor:")
        );
        assert_eq!(
            redirect_source("com.example.app:/oauth").as_deref(),
            Some("com.example.app:")
        );
    }

    #[test]
    fn the_policy_forbids_framing_scripts_and_base() {
        let csp = Csp {
            img: Some("https://cdn.example".into()),
            form_action: Some("http://127.0.0.1:3000".into()),
        }
        .value();
        assert_eq!(
            csp,
            "default-src 'none'; style-src 'self'; img-src 'self' https://cdn.example; \
             form-action 'self' http://127.0.0.1:3000; frame-ancestors 'none'; base-uri 'none'"
        );
    }

    #[test]
    fn a_logo_source_needs_an_absolute_web_url() {
        assert_eq!(
            logo_source("https://cdn.example/logo.svg").as_deref(),
            Some("https://cdn.example")
        );
        assert_eq!(logo_source("javascript:alert(1)"), None);
        assert_eq!(logo_source("data:image/png;base64,AAAA"), None);
        assert_eq!(logo_source("logo.png"), None);
    }
}

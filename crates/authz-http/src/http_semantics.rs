//! HTTP as RFC 9110 defines it, once for every route (including routes added later):
//!
//! * `HEAD` is answered wherever `GET` is (§9.3.2): the request is routed as `GET` and the
//!   connection layer sends the head without the body (its `Content-Length` is the `GET` body's).
//! * A `405` lists `HEAD` in `Allow` beside `GET` (§15.5.6); actix's resources already answer
//!   `405` with `Allow` for a known path and a method they have no route for, so every route must
//!   be mounted as a resource (`web::resource(path).route(…)`, never `App::route`, whose method
//!   guard turns a wrong method into a 404).
//! * A `204` has no content, so no `Content-Type` (§15.3.5).
//! * Media types are parsed as §8.3.1 defines them ([`media_type_is`]), and the request body's
//!   transfer errors are described in words ([`payload_error`]).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest};

/// The middleware: wrap it innermost on the `App` (it must run before routing).
pub async fn rfc9110(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req.method() == Method::HEAD {
        // The codec remembers the request was HEAD and drops the body it is given; handlers
        // whose GET changes state (a token rotated on read) ask [`was_head`].
        req.head_mut().method = Method::GET;
        req.extensions_mut().insert(WasHead);
    }
    let mut res = next.call(req).await?;
    match res.status() {
        StatusCode::METHOD_NOT_ALLOWED => {
            if let Some(allow) = with_head(res.headers().get(header::ALLOW)) {
                res.headers_mut().insert(header::ALLOW, allow);
            }
        }
        StatusCode::NO_CONTENT => {
            res.headers_mut().remove(header::CONTENT_TYPE);
        }
        _ => {}
    }
    Ok(res)
}

/// Marks a `HEAD` request that [`rfc9110`] routed as `GET`.
#[derive(Debug, Clone, Copy)]
struct WasHead;

/// Whether the request arrived as `HEAD` (and is being answered as `GET` without a body).
pub fn was_head(req: &HttpRequest) -> bool {
    req.extensions().contains::<WasHead>()
}

/// `Allow` with `HEAD` added after `GET`, when `GET` is allowed and `HEAD` is not listed.
fn with_head(allow: Option<&HeaderValue>) -> Option<HeaderValue> {
    let methods: Vec<&str> = allow?.to_str().ok()?.split(',').map(str::trim).collect();
    if !methods.contains(&"GET") || methods.contains(&"HEAD") {
        return None;
    }
    let listed: Vec<&str> = methods
        .iter()
        .flat_map(|m| {
            if *m == "GET" {
                vec!["GET", "HEAD"]
            } else {
                vec![*m]
            }
        })
        .collect();
    HeaderValue::from_str(&listed.join(", ")).ok()
}

/// Checks that the request's `Content-Type` is `{ty}/{subty}` (any parameters, any case, optional
/// whitespace around `;`, RFC 9110 §8.3.1). The error describes what was expected and quotes the
/// header exactly as sent (or says it is missing).
pub fn media_type_is(req: &HttpRequest, ty: &str, subty: &str) -> Result<(), String> {
    let Some(sent) = req.headers().get(header::CONTENT_TYPE) else {
        return Err(format!("Content-Type: expected {ty}/{subty}, got none"));
    };
    let raw = String::from_utf8_lossy(sent.as_bytes());
    match mediatype::MediaType::parse(raw.trim()) {
        Ok(m) if m.ty == ty && m.subty == subty && m.suffix.is_none() => Ok(()),
        Ok(_) => Err(format!("Content-Type: expected {ty}/{subty}, got {raw:?}")),
        Err(_) => Err(format!(
            "Content-Type: {raw:?} is not a media type; expected {ty}/{subty}"
        )),
    }
}

/// Why a request body could not be read, in words a client can act on (never actix's debug text).
pub fn payload_error(e: &PayloadError) -> String {
    let what = match e {
        PayloadError::Incomplete(_) => {
            "it ended before it was complete (a chunked body ends with a zero-size chunk; a Content-Length body has exactly that many bytes)"
        }
        PayloadError::EncodingCorrupted => {
            "its transfer or content coding is malformed (a chunk size must be hexadecimal digits followed by CRLF)"
        }
        PayloadError::Overflow => "it is larger than allowed",
        PayloadError::UnknownLength => "its length is unknown",
        _ => "the connection failed while it was being sent",
    };
    format!("the request body could not be read: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn head_is_listed_beside_get() {
        let allow = |v: &str| with_head(Some(&HeaderValue::from_str(v).expect("value")));
        assert_eq!(
            allow("GET, PUT, DELETE").expect("changed"),
            "GET, HEAD, PUT, DELETE"
        );
        assert_eq!(allow("GET").expect("changed"), "GET, HEAD");
        assert!(allow("POST").is_none());
        assert!(allow("GET, HEAD").is_none());
        assert!(with_head(None).is_none());
    }

    #[test]
    fn media_types_are_parsed_not_matched() {
        let is_json = |ct: &str| {
            let req = TestRequest::default()
                .insert_header((header::CONTENT_TYPE, ct))
                .to_http_request();
            media_type_is(&req, "application", "json")
        };
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "application/json ; charset=utf-8",
            "application/json\t;\tcharset=UTF-8",
            "Application/JSON;Charset=\"utf-8\"",
            "application/json;charset=utf-8;foo=bar",
        ] {
            assert_eq!(is_json(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            is_json("text/plain; charset=utf-8"),
            Err(
                "Content-Type: expected application/json, got \"text/plain; charset=utf-8\"".into()
            )
        );
        assert!(is_json("application/jsonp").is_err());
        assert!(is_json("application/vnd.api+json").is_err());
        assert!(is_json("application/json/x")
            .expect_err("refused")
            .contains("not a media type"));
        let none = TestRequest::default().to_http_request();
        assert_eq!(
            media_type_is(&none, "application", "json"),
            Err("Content-Type: expected application/json, got none".into())
        );
    }

    #[test]
    fn payload_errors_never_show_internal_text() {
        let text = payload_error(&PayloadError::Incomplete(None));
        assert!(!text.contains("None"), "{text}");
        assert!(text.contains("ended before it was complete"), "{text}");
    }
}

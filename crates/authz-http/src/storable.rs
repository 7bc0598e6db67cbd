//! Refuses, at the edge, a request path that no database column could hold: a NUL character
//! (`%00`; PostgreSQL `text` cannot store it) or bytes that are not UTF-8 once percent-decoded.
//! Such a path segment (a client id, a user id) would otherwise reach a lookup (an error 500 on
//! PostgreSQL) or an audit record. Query parameters are refused by the rules of their parameter
//! (which name it), JSON member names and form bodies where they are parsed
//! ([`crate::extract::parse_object`], [`crate::form`]), JSON values by their field's rules.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

use crate::error::ApiError;

/// Middleware: `400 invalid_request` for a path holding a NUL or non-UTF-8 text, quoting it as
/// sent (still percent-encoded, so the NUL shows as `%00`).
pub async fn refuse_unstorable(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    match problem("path", req.path()) {
        Some(description) => {
            let response = ApiError::InvalidRequest(description).error_response();
            Ok(req.into_response(response))
        }
        None => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

/// Why `raw` (percent-encoded, as sent) cannot be stored, if it cannot.
fn problem(part: &str, raw: &str) -> Option<String> {
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
    let why = if decoded.contains(&0) {
        "a NUL character (%00)"
    } else if std::str::from_utf8(&decoded).is_err() {
        "bytes that are not UTF-8 once percent-decoded"
    } else {
        return None;
    };
    let quoted: String = raw.chars().take(200).collect();
    Some(format!(
        "the request {part} contains {why}, which no identifier or parameter may contain: {quoted:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn nul_and_invalid_utf8_are_named_and_quoted_as_sent() {
        let nul = problem("path", "/register/a%00b").expect("refused");
        assert!(nul.contains("NUL character (%00)"), "{nul}");
        assert!(nul.contains("\"/register/a%00b\""), "{nul}");
        let bad = problem("path", "/admin/users/%FF").expect("refused");
        assert!(bad.contains("not UTF-8"), "{bad}");
        assert_eq!(problem("path", "/register/a%20b"), None);
        assert_eq!(problem("path", "/admin/users/caf%C3%A9"), None);
    }
}

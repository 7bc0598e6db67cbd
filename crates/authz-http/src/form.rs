//! `application/x-www-form-urlencoded` bodies (RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1).

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt as _;
use paperclip::actix::OperationModifier;
use paperclip::v2::schema::Apiv2Schema;

use crate::error::ApiError;
use crate::extract::BodyLimit;

/// A form body as its name/value pairs in order, repeated names kept (the domain decides what a
/// repetition means). The content type must be `application/x-www-form-urlencoded` (parameters
/// such as `charset` allowed), the body at most [`BodyLimit`] bytes and valid UTF-8 once decoded;
/// anything else is `invalid_request`. A JSON body sent to a form endpoint says so.
pub struct FormBody(pub Vec<(String, String)>);

impl fmt::Debug for FormBody {
    // Forms carry secrets (client_secret, code, tokens, passwords): print only the names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl FromRequest for FormBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<BodyLimit>>()
            .map_or(64 * 1024, |l| l.0);
        let content_type =
            crate::http_semantics::media_type_is(req, "application", "x-www-form-urlencoded");
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if let Err(description) = content_type {
                return Err(ApiError::InvalidRequest(format!(
                    "{description} (RFC 6749 §3.2)"
                )));
            }
            let too_large = || {
                ApiError::PayloadTooLarge(format!(
                    "the request body is larger than the {limit} bytes allowed"
                ))
            };
            if declared_length.is_some_and(|n| n > limit) {
                return Err(too_large());
            }
            let mut body = web::BytesMut::with_capacity(declared_length.unwrap_or(512).min(limit));
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::InvalidRequest(crate::http_semantics::payload_error(&e))
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            parse(&body).map(Self)
        })
    }
}

/// Decodes a form; refuses bytes that do not decode to UTF-8 rather than replacing them.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = Vec::new();
    for part in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match part.iter().position(|b| *b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &[][..]),
        };
        pairs.push((decode(name)?, decode(value)?));
    }
    Ok(pairs)
}

fn decode(raw: &[u8]) -> Result<String, ApiError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus_as_space).collect();
    if bytes.contains(&0) {
        // No parameter may hold a NUL: PostgreSQL cannot store one, and none is meaningful.
        return Err(ApiError::InvalidRequest(format!(
            "the form body contains a NUL character (%00) in {:?}; no parameter may contain one",
            String::from_utf8_lossy(&raw[..raw.len().min(200)])
        )));
    }
    String::from_utf8(bytes).map_err(|_| {
        ApiError::InvalidRequest("the form body is not valid UTF-8 once percent-decoded".into())
    })
}

impl Apiv2Schema for FormBody {}
impl OperationModifier for FormBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_decodes_plus_and_percent_and_keeps_repeats() {
        let pairs = parse(b"a=1+2&b=%C3%A9&a=3&flag").expect("form");
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "é".into()),
                ("a".into(), "3".into()),
                ("flag".into(), String::new()),
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert!(parse(b"a=%FF").is_err());
    }
}

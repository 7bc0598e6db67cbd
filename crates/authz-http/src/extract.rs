//! Extractors that turn requests into domain input, with our own JSON errors instead of actix's
//! plain-text ones.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use authz_domain::audit::RequestContext;
use authz_domain::registration::PresentedToken;
use futures_util::StreamExt as _;
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{
    DefaultOperationRaw, DefaultSchemaRaw, Either, Parameter, ParameterIn,
};
use paperclip::v2::schema::Apiv2Schema;
use secrecy::SecretString;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use tracing_actix_web::RequestId;

use crate::error::ApiError;

/// The most bytes a JSON body may have; set per app with `app_data`.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A request body that must be a JSON object, read up to [`BodyLimit`] bytes.
///
/// Stricter than actix's `Json`: the content type must be `application/json`, duplicate member
/// names are refused at any depth (a validator and a later consumer must never see different
/// values), and every failure is an [`ApiError`] in our JSON error shape. `T` only documents the
/// expected shape in OpenAPI; the members are handed to the domain as they are.
pub struct JsonObject<T> {
    /// The object's members.
    pub members: Map<String, Value>,
    _doc: PhantomData<T>,
}

impl<T> fmt::Debug for JsonObject<T> {
    // Bodies may hold secrets (a client_secret on PUT): never print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonObject({} members)", self.members.len())
    }
}

/// Reads the body of `req` as one JSON object. The outer error is a size violation (answered at
/// once); the inner one is a malformed request (which management endpoints report only after
/// checking the token).
fn read_object(
    req: &HttpRequest,
    payload: &mut Payload,
    allow_empty: bool,
) -> impl Future<Output = Result<Result<Map<String, Value>, ApiError>, ApiError>> {
    let limit = req
        .app_data::<web::Data<BodyLimit>>()
        .map_or(64 * 1024, |l| l.0);
    let content_type = crate::http_semantics::media_type_is(req, "application", "json");
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    async move {
        let too_large = || {
            ApiError::PayloadTooLarge(format!(
                "the request body is larger than the {limit} bytes allowed"
            ))
        };
        if declared_length.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = web::BytesMut::with_capacity(declared_length.unwrap_or(1024).min(limit));
        while let Some(chunk) = payload.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                // A body that broke in transfer fails at once, like an oversized one: the
                // connection is closing, and an answer that waits for a handler's blocking work
                // (a deferred error) would find it closed.
                Err(e) => {
                    return Err(ApiError::InvalidRequest(
                        crate::http_semantics::payload_error(&e),
                    ))
                }
            };
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        if allow_empty && body.is_empty() {
            return Ok(Ok(Map::new()));
        }
        if let Err(description) = content_type {
            return Ok(Err(ApiError::InvalidRequest(description)));
        }
        Ok(parse_object(&body))
    }
}

impl<T: 'static> FromRequest for JsonObject<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = read_object(req, payload, false);
        Box::pin(async move {
            Ok(Self {
                members: read.await??,
                _doc: PhantomData,
            })
        })
    }
}

/// Like [`JsonObject`], but a malformed body is kept for the handler to report (after it has
/// checked credentials) instead of failing extraction. Only an oversized body, or one that broke
/// in transfer (a malformed chunk), fails at once.
/// With `EMPTY_IS_OBJECT`, an empty body reads as an empty object (see [`OptionalJsonObject`]).
pub struct DeferredJsonObject<T, const EMPTY_IS_OBJECT: bool = false> {
    /// The object's members, or why the body is not one.
    pub members: Result<Map<String, Value>, ApiError>,
    _doc: PhantomData<T>,
}

/// A [`DeferredJsonObject`] for optional bodies: an empty body is an empty object.
pub type OptionalJsonObject<T> = DeferredJsonObject<T, true>;

impl<T, const E: bool> fmt::Debug for DeferredJsonObject<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.members {
            Ok(m) => write!(f, "DeferredJsonObject({} members)", m.len()),
            Err(e) => write!(f, "DeferredJsonObject(error: {e})"),
        }
    }
}

impl<T: 'static, const EMPTY_IS_OBJECT: bool> FromRequest
    for DeferredJsonObject<T, EMPTY_IS_OBJECT>
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = read_object(req, payload, EMPTY_IS_OBJECT);
        Box::pin(async move {
            Ok(Self {
                members: read.await?,
                _doc: PhantomData,
            })
        })
    }
}

/// Parses `bytes` as one JSON object, refusing duplicate member names at any depth.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = <StrictValue as de::Deserialize>::deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| {
            ApiError::InvalidRequest(format!("the request body is not valid JSON: {e}"))
        })?;
    match value.0 {
        Value::Object(members) => Ok(members),
        other => Err(ApiError::InvalidRequest(format!(
            "the request body must be a JSON object, not {}",
            match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            }
        ))),
    }
}

/// Refuses a member name holding a NUL character: no member may be named so, and PostgreSQL
/// cannot store one. The name is quoted with the NUL escaped as `\u0000`. (String values are
/// checked by the rules of their field, which name it.)
fn storable_name<E: de::Error>(s: &str) -> Result<(), E> {
    if s.contains('\0') {
        return Err(E::custom(format!(
            "the member name {} contains a NUL character (\\u0000), which no member name may contain",
            serde_json::Value::String(s.chars().take(64).collect())
        )));
    }
    Ok(())
}

/// A JSON value whose objects never repeat a member name.
struct StrictValue(Value);

impl<'de> de::Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // Collect into an ordered map first to spot duplicates, keeping the sender's order.
        let mut seen = BTreeMap::new();
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            storable_name(&key)?;
            if seen.insert(key.clone(), ()).is_some() {
                return Err(de::Error::custom(format!(
                    "the member {:?} appears more than once",
                    key.chars().take(64).collect::<String>()
                )));
            }
            let StrictValue(value) = map.next_value()?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

/// Documents a JSON body of schema `T`; `required: false` for a body that may be left out
/// ([`OptionalJsonObject`]).
fn document_body<T: Apiv2Schema>(op: &mut DefaultOperationRaw, required: bool) {
    op.parameters.push(Either::Right(Parameter {
        in_: ParameterIn::Body,
        name: "body".into(),
        required,
        schema: Some({
            let mut schema = T::schema_with_ref();
            schema.retain_ref();
            schema
        }),
        ..Default::default()
    }));
}

impl<T: Apiv2Schema> Apiv2Schema for JsonObject<T> {
    fn name() -> Option<String> {
        T::name()
    }
    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

impl<T: Apiv2Schema> OperationModifier for JsonObject<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        document_body::<T>(op, true);
    }
}

impl<T: Apiv2Schema, const E: bool> Apiv2Schema for DeferredJsonObject<T, E> {
    fn name() -> Option<String> {
        T::name()
    }
    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

impl<T: Apiv2Schema, const E: bool> OperationModifier for DeferredJsonObject<T, E> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        document_body::<T>(op, !E);
    }
}

/// The credentials of a management request: the `Authorization: Bearer` token, read strictly.
/// Extraction never fails; the domain decides what an absent or malformed token means.
#[derive(paperclip::actix::Apiv2Security)]
#[openapi(
    apiKey,
    alias = "registrationAccessToken",
    in = "header",
    name = "Authorization",
    description = "`Bearer <registration_access_token>` as issued at registration (RFC 7592)."
)]
pub struct BearerToken(pub PresentedToken);

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match &self.0 {
            PresentedToken::Missing => "BearerToken(missing)",
            PresentedToken::Malformed(_) => "BearerToken(malformed)",
            PresentedToken::Bearer(_) => "BearerToken([REDACTED])",
        })
    }
}

/// The longest token accepted; ours are 47 characters.
const MAX_TOKEN_LEN: usize = 512;

/// Reads the `Authorization` header as RFC 6750 §2.1 describes it: exactly one header, the
/// `Bearer` scheme (any case), one space, and one b64token.
pub fn presented_token(req: &HttpRequest) -> PresentedToken {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return PresentedToken::Missing;
    };
    if values.next().is_some() {
        return PresentedToken::Malformed("more than one Authorization header");
    }
    let Ok(value) = value.to_str() else {
        return PresentedToken::Malformed("non-ASCII Authorization header");
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return PresentedToken::Malformed("not the Bearer scheme");
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return PresentedToken::Malformed("not the Bearer scheme");
    }
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return PresentedToken::Malformed("empty or overlong token");
    }
    // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let body = token.trim_end_matches('=');
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
    {
        return PresentedToken::Malformed("not a single b64token");
    }
    PresentedToken::Bearer(SecretString::from(token.to_owned()))
}

/// The credentials of an administration request: `Authorization: Bearer <administrator token>`,
/// read as strictly as [`BearerToken`].
#[derive(paperclip::actix::Apiv2Security)]
#[openapi(
    apiKey,
    alias = "administratorToken",
    in = "header",
    name = "Authorization",
    description = "`Bearer <administrator token>` as printed by `authz-server admin-token create`; its scopes decide what it may do."
)]
pub struct AdminBearer(pub PresentedToken);

impl fmt::Debug for AdminBearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match &self.0 {
            PresentedToken::Missing => "AdminBearer(missing)",
            PresentedToken::Malformed(_) => "AdminBearer(malformed)",
            PresentedToken::Bearer(_) => "AdminBearer([REDACTED])",
        })
    }
}

impl FromRequest for AdminBearer {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Self(presented_token(req))))
    }
}

impl FromRequest for BearerToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Self(presented_token(req))))
    }
}

/// Where a request came from, for the audit trail.
pub fn request_context(req: &HttpRequest) -> RequestContext {
    RequestContext {
        remote_addr: crate::client_ip::client_ip(req).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect()),
        request_id: req.extensions().get::<RequestId>().map(|id| id.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use actix_web::test::TestRequest;

    fn token(headers: &[&str]) -> PresentedToken {
        let mut req = TestRequest::default();
        for h in headers {
            req = req.append_header((header::AUTHORIZATION, *h));
        }
        presented_token(&req.to_http_request())
    }

    #[test]
    fn bearer_tokens_are_read_strictly() {
        assert!(matches!(token(&[]), PresentedToken::Missing));
        assert!(matches!(
            token(&["Bearer rat_abc-DEF_123"]),
            PresentedToken::Bearer(_)
        ));
        assert!(matches!(
            token(&["bearer rat_abc"]),
            PresentedToken::Bearer(_)
        ));
        assert!(matches!(
            token(&["Bearer abc=="]),
            PresentedToken::Bearer(_)
        ));
        for bad in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "Bearer  rat_abc",
            "Bearer rat_abc rat_def",
            "Bearer rat_abc, Bearer rat_def",
            "Bearer rat\tabc",
            "Bearer ==",
            "Bearerrat_abc",
        ] {
            assert!(
                matches!(token(&[bad]), PresentedToken::Malformed(_)),
                "{bad}"
            );
        }
        let long = format!("Bearer {}", "a".repeat(10_000));
        assert!(matches!(token(&[&long]), PresentedToken::Malformed(_)));
        assert!(matches!(
            token(&["Bearer a", "Bearer b"]),
            PresentedToken::Malformed(_)
        ));
    }

    #[test]
    fn a_plain_object_parses_in_order() {
        let m = parse_object(br#"{"b":1,"a":{"c":[1,2]}}"#).expect("ok");
        assert_eq!(m.keys().collect::<Vec<_>>(), ["b", "a"]);
    }

    #[test]
    fn duplicate_members_are_refused_at_any_depth() {
        let err = parse_object(br#"{"client_name":"a","client_name":"b"}"#).expect_err("dup");
        assert!(
            err.to_string()
                .contains("\"client_name\" appears more than once"),
            "{err}"
        );
        assert!(parse_object(br#"{"jwks":{"keys":[{"kty":"a","kty":"b"}]}}"#).is_err());
    }

    #[test]
    fn non_objects_and_garbage_are_refused() {
        assert!(parse_object(b"[]")
            .expect_err("array")
            .to_string()
            .contains("an array"));
        assert!(parse_object(b"null").is_err());
        assert!(parse_object(b"{").is_err());
        assert!(parse_object(b"{} {}").is_err());
        assert!(parse_object(b"").is_err());
        assert!(parse_object(b"{\"a\":\"\xff\"}").is_err(), "non-UTF-8");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse_object(deep.as_bytes()).expect_err("too deep");
        assert!(err.to_string().contains("recursion limit"), "{err}");
    }
}

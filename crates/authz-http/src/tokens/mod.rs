//! The token endpoint (RFC 6749 §3.2), introspection (RFC 7662), revocation (RFC 7009) and the
//! JWK Set (RFC 7517) that resource servers verify access tokens with.
//!
//! Each handler reads the form, hands the raw pairs and the `Authorization` header to
//! [`TokenService`](authz_domain::token::TokenService) on the blocking pool (client secrets are
//! Argon2id hashes; the database is synchronous), and renders the answer. Responses carry
//! `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use authz_domain::token::{FormParams, Introspection, TokenResponse};
use paperclip::actix::{api_v2_operation, Apiv2Schema};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::error::ApiError;
use crate::extract::request_context;
use crate::form::FormBody;
use crate::responses::Ok as JsonOk;
use crate::AppState;

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct TokenResponseBody {
    /// The access token: a JWT (RFC 9068) signed with a key of `/jwks.json`.
    pub access_token: String,
    /// Always `Bearer` (RFC 6750).
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// A refresh token (`rt_…`), when the client is registered for `refresh_token`; on refresh,
    /// present when the presented one was rotated (always for public clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scope, space-separated; absent when none was granted.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

impl From<TokenResponse> for TokenResponseBody {
    fn from(r: TokenResponse) -> Self {
        Self {
            access_token: r.access_token.expose_secret().to_owned(),
            token_type: "Bearer",
            expires_in: r.expires_in,
            refresh_token: r
                .refresh_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            scope: r.scope,
        }
    }
}

/// An introspection response (RFC 7662 §2.2): `{"active": false}` alone for anything unusable.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct IntrospectionBody {
    /// Whether the token is usable now.
    pub active: bool,
    /// Granted scope, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The subject: a user id, or the client id for client credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The audiences (resources, RFC 8707).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aud: Vec<String>,
    /// The issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Expiry, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// `Bearer` for access tokens; absent for refresh tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// `access_token` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_use: Option<&'static str>,
}

impl From<Introspection> for IntrospectionBody {
    fn from(i: Introspection) -> Self {
        Self {
            active: i.active,
            scope: i.scope,
            client_id: i.client_id,
            sub: i.sub,
            aud: i.aud,
            iss: i.iss,
            exp: i.exp,
            iat: i.iat,
            token_type: i.token_type,
            token_use: i.token_use,
        }
    }
}

/// The `Authorization` header, if sent. Two of them, or one that is not visible ASCII, is an
/// `invalid_request`: which credentials apply must never depend on which copy a reader takes.
fn authorization(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::InvalidRequest(
            "Authorization: sent more than once; send one header".into(),
        ));
    }
    first
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| ApiError::InvalidRequest("Authorization: not visible ASCII".into()))
        })
        .transpose()
}

/// Token endpoint
///
/// RFC 6749 §3.2 with the `authorization_code` (PKCE S256 required, RFC 7636; `resource`,
/// RFC 8707), `refresh_token` (rotation with reuse detection) and `client_credentials` grants.
/// Form-encoded only; each parameter at most once (`resource` may repeat). Clients authenticate
/// as registered: `none` (`client_id` in the body), `client_secret_basic` or
/// `client_secret_post`. Errors follow RFC 6749 §5.2: `invalid_request`, `invalid_client` (401,
/// with a `Basic` challenge when Basic was used), `invalid_grant`, `unauthorized_client`,
/// `unsupported_grant_type`, `invalid_scope`, `invalid_target`.
#[api_v2_operation(
    operation_id = "token",
    tags("Tokens"),
    consumes = "application/x-www-form-urlencoded",
    produces = "application/json"
)]
pub async fn token(
    state: web::Data<AppState>,
    form: FormBody,
    req: HttpRequest,
) -> Result<JsonOk<TokenResponseBody>, ApiError> {
    let params = FormParams::parse(form.0)?;
    let service = state.tokens.clone();
    let auth = authorization(&req)?;
    let context = request_context(&req);
    let response = web::block(move || service.token(auth.as_deref(), &params, &context)).await??;
    Ok(JsonOk(response.into()))
}

/// Token introspection
///
/// RFC 7662. The caller authenticates as a confidential client that an administrator allowed to
/// introspect (`settings.allow_introspection`: a resource server); otherwise 401
/// `invalid_client`. The answer is `{"active": false}` for anything unknown, expired, revoked, or
/// belonging to a deleted client or a disabled user. Works for access and refresh tokens.
#[api_v2_operation(
    operation_id = "introspect",
    tags("Tokens"),
    consumes = "application/x-www-form-urlencoded",
    produces = "application/json"
)]
pub async fn introspect(
    state: web::Data<AppState>,
    form: FormBody,
    req: HttpRequest,
) -> Result<JsonOk<IntrospectionBody>, ApiError> {
    let params = FormParams::parse(form.0)?;
    let service = state.tokens.clone();
    let auth = authorization(&req)?;
    let answer = web::block(move || service.introspect(auth.as_deref(), &params)).await??;
    Ok(JsonOk(answer.into()))
}

/// Token revocation
///
/// RFC 7009. The owning client authenticates as at the token endpoint. A refresh token revokes
/// its whole family; an access token is remembered as revoked until it expires. Unknown tokens
/// and other clients' tokens get `200` and change nothing.
#[api_v2_operation(
    operation_id = "revoke",
    tags("Tokens"),
    consumes = "application/x-www-form-urlencoded"
)]
pub async fn revoke(
    state: web::Data<AppState>,
    form: FormBody,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = FormParams::parse(form.0)?;
    let service = state.tokens.clone();
    let auth = authorization(&req)?;
    let context = request_context(&req);
    web::block(move || service.revoke(auth.as_deref(), &params, &context)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// `GET /jwks.json`: the public signing keys (RFC 7517), cached by clients for less than the
/// publish-ahead time of a rotation, so a new key is known before it signs.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let now = state.clock.now();
    let body = state.keys.current().ring.jwk_set(now).to_json();
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/jwk-set+json"))
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", state.settings.jwks_max_age_secs),
        ))
        .body(body)
}

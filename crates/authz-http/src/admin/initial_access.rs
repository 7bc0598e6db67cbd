//! `/admin/initial-access-tokens`: creating, listing and revoking initial access tokens
//! (RFC 7591 §3). Creating and revoking need `client:create` (a token lets its holder create
//! clients); listing needs `client:read`.

use actix_web::{web, HttpRequest};
use authz_domain::registration::{InitialAccessPolicy, InitialAccessToken};
use paperclip::actix::{api_v2_operation, Apiv2Schema, NoContent};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{request_context, AdminBearer, DeferredJsonObject};
use crate::responses::{CreatedAt, Ok as JsonOk};
use crate::AppState;

/// `POST /admin/initial-access-tokens` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Apiv2Schema)]
pub struct InitialAccessTokenRequest {
    /// What the token is for (at most 200 characters).
    pub description: Option<String>,
    /// Seconds until it expires, 1 to 31,622,400 (366 days). Required.
    pub expires_in: u64,
    /// Registrations it allows, at least 1; absent or null for any number.
    pub max_uses: Option<u64>,
    /// What its registrations may ask for, on top of the server's registration policy.
    pub policy: Option<InitialAccessPolicyBody>,
}

/// An initial access token's policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Apiv2Schema)]
pub struct InitialAccessPolicyBody {
    /// Scope tokens its registrations' `scope` may contain; absent: any the server allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_scopes: Option<Vec<String>>,
    /// Grant types its registrations may ask for; absent: any the server allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_grant_types: Option<Vec<String>>,
}

impl From<&InitialAccessPolicy> for InitialAccessPolicyBody {
    fn from(p: &InitialAccessPolicy) -> Self {
        Self {
            allowed_scopes: p.allowed_scopes.clone(),
            allowed_grant_types: p
                .allowed_grant_types
                .as_ref()
                .map(|g| g.iter().map(|g| g.as_str().to_owned()).collect()),
        }
    }
}

/// An initial access token as administrators see it (never the token itself after creation).
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct InitialAccessTokenBody {
    /// Its identifier (in audit records as `initial_access_token=ID`).
    pub id: String,
    /// `active`, `expired`, `used_up` or `revoked`.
    pub state: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `cli` or `admin:NAME`.
    pub created_by: String,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
    /// Registrations it allows; absent for any number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u64>,
    /// Registrations left; absent for any number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses_remaining: Option<u64>,
    /// Restrictions on its registrations; absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<InitialAccessPolicyBody>,
    /// When it was revoked (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

impl InitialAccessTokenBody {
    /// The view of `t` at `now`.
    pub fn new(t: &InitialAccessToken, now: i64) -> Self {
        Self {
            id: t.id.clone(),
            state: t.state(now).to_owned(),
            description: t.description.clone(),
            created_by: t.created_by.clone(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            max_uses: t.max_uses,
            uses_remaining: t.uses_remaining,
            policy: (!t.policy.is_empty()).then(|| (&t.policy).into()),
            revoked_at: t.revoked_at,
        }
    }
}

/// A new initial access token, shown only here.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct CreatedInitialAccessToken {
    /// The token as stored.
    #[serde(flatten)]
    pub token: InitialAccessTokenBody,
    /// The token to hand to whoever registers: `Authorization: Bearer <it>` on `POST /register`.
    pub initial_access_token: String,
}

/// The tokens, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct InitialAccessTokenList {
    /// Every token, revoked and expired ones included.
    pub initial_access_tokens: Vec<InitialAccessTokenBody>,
}

/// Create an initial access token
///
/// RFC 7591 §3. The token is shown once, in this response; only its SHA-256 digest is stored.
/// Needs `client:create`.
#[api_v2_operation(
    operation_id = "adminCreateInitialAccessToken",
    tags("Administration"),
    consumes = "application/json",
    produces = "application/json"
)]
pub async fn create_initial_access_token(
    state: web::Data<AppState>,
    token: AdminBearer,
    body: DeferredJsonObject<InitialAccessTokenRequest>,
    req: HttpRequest,
) -> Result<CreatedAt<CreatedInitialAccessToken>, ApiError> {
    let service = state.admin.clone();
    let context = request_context(&req);
    let members = super::handlers::deferred(body.members);
    let issued = web::block(move || {
        service.create_initial_access_token(
            token.0,
            super::handlers::as_request(&members),
            &context,
        )
    })
    .await??;
    tracing::info!(id = %issued.token.id, "initial access token created");
    let now = state.clock.now();
    Ok(CreatedAt(
        state
            .settings
            .url(&format!("/admin/initial-access-tokens/{}", issued.token.id)),
        CreatedInitialAccessToken {
            token: InitialAccessTokenBody::new(&issued.token, now),
            initial_access_token: issued.plaintext.expose_secret().to_owned(),
        },
    ))
}

/// List initial access tokens
///
/// Every token, newest first, with its state and uses left; never the tokens themselves. Needs
/// `client:read`.
#[api_v2_operation(
    operation_id = "adminListInitialAccessTokens",
    tags("Administration"),
    produces = "application/json"
)]
pub async fn list_initial_access_tokens(
    state: web::Data<AppState>,
    token: AdminBearer,
    req: HttpRequest,
) -> Result<JsonOk<InitialAccessTokenList>, ApiError> {
    let service = state.admin.clone();
    let context = request_context(&req);
    let tokens =
        web::block(move || service.list_initial_access_tokens(token.0, &context)).await??;
    let now = state.clock.now();
    Ok(JsonOk(InitialAccessTokenList {
        initial_access_tokens: tokens
            .iter()
            .map(|t| InitialAccessTokenBody::new(t, now))
            .collect(),
    }))
}

/// Revoke an initial access token
///
/// It stops working at once; clients it registered stay. Idempotent. Needs `client:create`.
#[api_v2_operation(operation_id = "adminRevokeInitialAccessToken", tags("Administration"))]
pub async fn revoke_initial_access_token(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    req: HttpRequest,
) -> Result<NoContent, ApiError> {
    let service = state.admin.clone();
    let context = request_context(&req);
    let id = path.into_inner();
    web::block(move || service.revoke_initial_access_token(token.0, &id, &context)).await??;
    Ok(NoContent)
}

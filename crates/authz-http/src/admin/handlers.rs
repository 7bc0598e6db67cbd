//! Handlers of the administration API. Each hands the presented administrator token and the raw
//! input to `AdminService`, which checks the token and its scope before anything else.

use actix_web::{web, HttpRequest};
use authz_domain::administration::{AuditListParams, ClientListParams};
use authz_domain::error::RegistrationError;
use paperclip::actix::{api_v2_operation, NoContent};
use secrecy::ExposeSecret;

use super::dto::{
    AdminClient, AdminClientRequest, AdminCreatedClient, AdminReplacedClient, AuditEventList,
    AuditEventsQuery, ClientList, ClientListQuery, ReissuedTokenBody, RotatedSecretBody,
    SecretRotationRequest,
};
use crate::dto::registration_client_uri;
use crate::error::ApiError;
use crate::extract::{request_context, AdminBearer, DeferredJsonObject, OptionalJsonObject};
use crate::responses::{CreatedAt, Ok as JsonOk};
use crate::AppState;

pub(super) fn deferred(
    members: Result<serde_json::Map<String, serde_json::Value>, ApiError>,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    members.map_err(|e| e.to_string())
}

pub(super) fn as_request(
    members: &Result<serde_json::Map<String, serde_json::Value>, String>,
) -> Result<&serde_json::Map<String, serde_json::Value>, RegistrationError> {
    members
        .as_ref()
        .map_err(|e| RegistrationError::InvalidRequest(e.clone()))
}

/// List and search clients
///
/// A page of clients, newest first unless `sort` says otherwise, with the number of all matches.
/// `q` matches client ids and client names containing it, case-insensitively in any language;
/// wildcard characters match only themselves. Needs `client:read`.
#[api_v2_operation(
    operation_id = "adminListClients",
    tags("Administration"),
    produces = "application/json"
)]
pub async fn list_clients(
    state: web::Data<AppState>,
    token: AdminBearer,
    query: web::Query<ClientListQuery>,
    req: HttpRequest,
) -> Result<JsonOk<ClientList>, ApiError> {
    let service = state.admin.clone();
    let context = request_context(&req);
    let q = query.into_inner();
    let params = ClientListParams {
        q: q.q,
        page: q.page,
        per_page: q.per_page,
        sort: q.sort,
    };
    let (query, page) =
        web::block(move || service.list_clients(token.0, &params, &context)).await??;
    Ok(JsonOk(ClientList::new(
        &query,
        &page,
        &state.settings.public_base_url,
    )))
}

/// Read a client
///
/// Every field of one client: its metadata, settings, how it was created, whether it is locked,
/// when it last used its registration access token. Never a secret. Needs `client:read`.
#[api_v2_operation(
    operation_id = "adminGetClient",
    tags("Administration"),
    produces = "application/json"
)]
pub async fn get_client(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    req: HttpRequest,
) -> Result<JsonOk<AdminClient>, ApiError> {
    let service = state.admin.clone();
    let context = request_context(&req);
    let client_id = path.into_inner();
    let details = web::block(move || service.get_client(token.0, &client_id, &context)).await??;
    Ok(JsonOk(AdminClient::detailed(
        &details,
        &state.settings.public_base_url,
    )))
}

/// Create a client
///
/// Creates a client under the administrator policy (which may allow `client_credentials` and
/// other grants open registration refuses), with the same validation and error codes as
/// registration. `client_id` may be chosen. The secret (confidential clients) and a registration
/// access token are shown once, in this response. Needs `client:create`.
#[api_v2_operation(
    operation_id = "adminCreateClient",
    tags("Administration"),
    consumes = "application/json",
    produces = "application/json"
)]
pub async fn create_client(
    state: web::Data<AppState>,
    token: AdminBearer,
    body: DeferredJsonObject<AdminClientRequest>,
    req: HttpRequest,
) -> Result<CreatedAt<AdminCreatedClient>, ApiError> {
    let service = state.admin.clone();
    let context = request_context(&req);
    let members = deferred(body.members);
    let created =
        web::block(move || service.create_client(token.0, as_request(&members), &context))
            .await??;
    tracing::info!(client_id = %created.client.client_id, "client created by an administrator");
    Ok(CreatedAt(
        state
            .settings
            .url(&format!("/admin/clients/{}", created.client.client_id)),
        AdminCreatedClient {
            client: AdminClient::new(&created.client, None, &state.settings.public_base_url),
            client_secret: created
                .client_secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
            registration_access_token: created.registration_access_token.expose_secret().to_owned(),
        },
    ))
}

/// Replace a client
///
/// Full replacement of the metadata under the administrator policy; members not sent are removed
/// or reset to their defaults. `settings`, if sent, replaces the settings; if omitted they are
/// kept. Becoming confidential issues a secret (shown once); becoming public drops it. Needs
/// `client:update`.
#[api_v2_operation(
    operation_id = "adminReplaceClient",
    tags("Administration"),
    consumes = "application/json",
    produces = "application/json"
)]
pub async fn replace_client(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    body: DeferredJsonObject<AdminClientRequest>,
    req: HttpRequest,
) -> Result<JsonOk<AdminReplacedClient>, ApiError> {
    let service = state.admin.clone();
    let context = request_context(&req);
    let client_id = path.into_inner();
    let members = deferred(body.members);
    let replaced = web::block(move || {
        service.replace_client(token.0, &client_id, as_request(&members), &context)
    })
    .await??;
    Ok(JsonOk(AdminReplacedClient {
        client: AdminClient::new(&replaced.client, None, &state.settings.public_base_url),
        client_secret: replaced
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned()),
    }))
}

/// Delete a client
///
/// Afterwards its id, secret and registration access tokens are dead, and the id is never issued
/// again. Needs `client:delete`.
#[api_v2_operation(operation_id = "adminDeleteClient", tags("Administration"))]
pub async fn delete_client(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    req: HttpRequest,
) -> Result<NoContent, ApiError> {
    let service = state.admin.clone();
    let context = request_context(&req);
    let client_id = path.into_inner();
    web::block(move || service.delete_client(token.0, &client_id, &context)).await??;
    Ok(NoContent)
}

/// Rotate a client's secret
///
/// Issues a new secret, shown once. With `grace_period_secs` the old secret keeps verifying until
/// the grace period ends; without it, it stops at once. The body is optional. Public clients have
/// no secret to rotate. Needs `client:update`.
#[api_v2_operation(
    operation_id = "adminRotateSecret",
    tags("Administration"),
    consumes = "application/json",
    produces = "application/json"
)]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    body: OptionalJsonObject<SecretRotationRequest>,
    req: HttpRequest,
) -> Result<JsonOk<RotatedSecretBody>, ApiError> {
    let service = state.admin.clone();
    let context = request_context(&req);
    let client_id = path.into_inner();
    let members = deferred(body.members);
    let rotated = web::block(move || {
        service.rotate_secret(token.0, &client_id, as_request(&members), &context)
    })
    .await??;
    Ok(JsonOk(RotatedSecretBody::new(
        &rotated.client,
        &rotated.client_secret,
    )))
}

/// Reissue the registration access token
///
/// Issues a new registration access token (shown once) and revokes every other one of the client.
/// Needs `client:update`.
#[api_v2_operation(
    operation_id = "adminReissueRegistrationToken",
    tags("Administration"),
    produces = "application/json"
)]
pub async fn reissue_token(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    req: HttpRequest,
) -> Result<JsonOk<ReissuedTokenBody>, ApiError> {
    let service = state.admin.clone();
    let context = request_context(&req);
    let client_id = path.into_inner();
    let issued = web::block(move || service.reissue_token(token.0, &client_id, &context)).await??;
    Ok(JsonOk(ReissuedTokenBody {
        registration_client_uri: registration_client_uri(
            &state.settings.public_base_url,
            &issued.client_id,
        ),
        client_id: issued.client_id,
        registration_access_token: issued.registration_access_token.expose_secret().to_owned(),
        expires_at: issued.expires_at,
    }))
}

async fn set_locked(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    req: HttpRequest,
    locked: bool,
) -> Result<JsonOk<AdminClient>, ApiError> {
    let service = state.admin.clone();
    let context = request_context(&req);
    let client_id = path.into_inner();
    let details =
        web::block(move || service.set_locked(token.0, &client_id, locked, &context)).await??;
    Ok(JsonOk(AdminClient::detailed(
        &details,
        &state.settings.public_base_url,
    )))
}

/// Lock a client's self-management
///
/// Afterwards the client's own `PUT` and `DELETE` on `/register/{client_id}` answer 403
/// `access_denied`; reading still works. Idempotent. Needs `client:update`.
#[api_v2_operation(
    operation_id = "adminLockClient",
    tags("Administration"),
    produces = "application/json"
)]
pub async fn lock_client(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    req: HttpRequest,
) -> Result<JsonOk<AdminClient>, ApiError> {
    set_locked(state, path, token, req, true).await
}

/// Unlock a client's self-management
///
/// Idempotent. Needs `client:update`.
#[api_v2_operation(
    operation_id = "adminUnlockClient",
    tags("Administration"),
    produces = "application/json"
)]
pub async fn unlock_client(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: AdminBearer,
    req: HttpRequest,
) -> Result<JsonOk<AdminClient>, ApiError> {
    set_locked(state, path, token, req, false).await
}

/// Read the audit trail
///
/// Audit records newest first: registrations, reads, changes, deletions, refused attempts, and
/// every administrative change with the administrator token's name. Needs `audit:read`.
#[api_v2_operation(
    operation_id = "adminListAuditEvents",
    tags("Administration"),
    produces = "application/json"
)]
pub async fn audit_events(
    state: web::Data<AppState>,
    token: AdminBearer,
    query: web::Query<AuditEventsQuery>,
    req: HttpRequest,
) -> Result<JsonOk<AuditEventList>, ApiError> {
    let service = state.admin.clone();
    let context = request_context(&req);
    let q = query.into_inner();
    let params = AuditListParams {
        client_id: q.client_id,
        action: q.action,
        since: q.since,
        until: q.until,
        page: q.page,
        per_page: q.per_page,
    };
    let (query, page) =
        web::block(move || service.audit_events(token.0, &params, &context)).await??;
    Ok(JsonOk(AuditEventList::new(
        query.page,
        query.per_page,
        page,
    )))
}

/// Query strings that do not parse (unknown or repeated parameters) get our JSON error.
pub(crate) fn query_error(
    err: actix_web::error::QueryPayloadError,
    _: &HttpRequest,
) -> actix_web::Error {
    ApiError::InvalidRequest(format!(
        "query string: {err}; see /openapi.json for the parameters accepted"
    ))
    .into()
}

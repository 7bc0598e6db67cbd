//! `GET`, `PUT` and `DELETE /register/{client_id}` (RFC 7592).

use actix_web::{web, HttpRequest};
use authz_domain::error::RegistrationError;
use authz_domain::registration::RegisteredClient;
use paperclip::actix::{api_v2_operation, NoContent};

use crate::dto::{ClientInformationResponse, ClientUpdateRequest};
use crate::error::ApiError;
use crate::extract::{request_context, BearerToken, DeferredJsonObject};
use crate::responses::Ok as JsonOk;
use crate::AppState;

fn respond(state: &AppState, result: RegisteredClient) -> JsonOk<ClientInformationResponse> {
    JsonOk(ClientInformationResponse::new(
        &result.client,
        result.client_secret.as_ref(),
        &result.registration_access_token,
        &state.settings.public_base_url,
    ))
}

/// Read a registration
///
/// RFC 7592 §2.1. Answers the current registration, as at registration time but without the
/// client secret. `registration_access_token` is the token presented, unless the server rotates
/// tokens on read.
#[api_v2_operation(
    operation_id = "readClient",
    tags("Client management"),
    produces = "application/json"
)]
pub async fn read(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: BearerToken,
    req: HttpRequest,
) -> Result<JsonOk<ClientInformationResponse>, ApiError> {
    let service = state.registration.clone();
    let context = request_context(&req);
    let client_id = path.into_inner();
    // A HEAD (routed here as GET) must not rotate a token whose new value nobody will see.
    let head = crate::http_semantics::was_head(&req);
    let result = web::block(move || {
        if head {
            service.read_without_rotation(&client_id, token.0, &context)
        } else {
            service.read(&client_id, token.0, &context)
        }
    })
    .await??;
    Ok(respond(&state, result))
}

/// Replace a registration
///
/// RFC 7592 §2.2 full replacement: the body carries `client_id` (equal to the one in the URL) and
/// every metadata member to keep; omitted members are removed or reset to their defaults, under the
/// same rules as registration. `client_secret`, if sent, must equal the current one. Switching
/// `token_endpoint_auth_method` from `none` to a secret method issues a secret (shown once). The
/// registration access token is rotated unless the server is configured otherwise: use the new one.
#[api_v2_operation(
    operation_id = "updateClient",
    tags("Client management"),
    consumes = "application/json",
    produces = "application/json"
)]
pub async fn update(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: BearerToken,
    body: DeferredJsonObject<ClientUpdateRequest>,
    req: HttpRequest,
) -> Result<JsonOk<ClientInformationResponse>, ApiError> {
    let service = state.registration.clone();
    let context = request_context(&req);
    let client_id = path.into_inner();
    let members = body.members.map_err(|e| e.to_string());
    let result = web::block(move || {
        let request = members
            .as_ref()
            .map_err(|e| RegistrationError::InvalidRequest(e.clone()));
        service.update(&client_id, token.0, request, &context)
    })
    .await??;
    Ok(respond(&state, result))
}

/// Delete a registration
///
/// RFC 7592 §2.3. Afterwards the client id, its secret and its registration access tokens are all
/// invalid, and the id is never issued again.
#[api_v2_operation(operation_id = "deleteClient", tags("Client management"))]
pub async fn delete(
    state: web::Data<AppState>,
    path: web::Path<String>,
    token: BearerToken,
    req: HttpRequest,
) -> Result<NoContent, ApiError> {
    let service = state.registration.clone();
    let context = request_context(&req);
    let client_id = path.into_inner();
    web::block(move || service.delete(&client_id, token.0, &context)).await??;
    Ok(NoContent)
}

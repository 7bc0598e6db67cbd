//! `POST /register`.

use actix_web::{web, HttpRequest};
use paperclip::actix::api_v2_operation;

use crate::dto::{ClientInformationResponse, ClientRegistrationRequest};
use crate::error::ApiError;
use crate::extract::{request_context, JsonObject};
use crate::responses::Created;
use crate::AppState;

/// Register a client
///
/// RFC 7591 §3.1 dynamic client registration, under the MCP authorization profile. The response
/// carries the credentials (a `client_secret` only for confidential clients, shown only here) and
/// every registered metadata value with defaults applied. Identical requests create distinct
/// clients: each connection of an MCP client may register anew.
#[api_v2_operation(
    operation_id = "registerClient",
    tags("Client registration"),
    consumes = "application/json",
    produces = "application/json"
)]
pub async fn register(
    state: web::Data<AppState>,
    body: JsonObject<ClientRegistrationRequest>,
    req: HttpRequest,
) -> Result<Created<ClientInformationResponse>, ApiError> {
    let service = state.registration.clone();
    let context = request_context(&req);
    // Argon2 hashing and the database write block: run them off the async workers.
    let registered = web::block(move || service.register(&body.members, &context)).await??;
    tracing::Span::current().record("client_id", registered.client.client_id.as_str());
    tracing::info!(
        token_endpoint_auth_method = registered
            .client
            .metadata
            .token_endpoint_auth_method
            .as_str(),
        "client registered"
    );
    Ok(Created(ClientInformationResponse::new(
        &registered.client,
        registered.client_secret.as_ref(),
        &registered.registration_access_token,
        &state.settings.public_base_url,
    )))
}

//! `POST /register`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use authz_domain::error::RegistrationError;
use authz_domain::registration::RegistrationOutcome;
use paperclip::actix::api_v2_operation;

use super::idempotency::{self, RegistrationReply};
use crate::dto::{ClientInformationResponse, ClientRegistrationRequest};
use crate::error::ApiError;
use crate::extract::{presented_token, request_context, DeferredJsonObject};
use crate::AppState;

/// Register a client
///
/// RFC 7591 §3.1 dynamic client registration, under the MCP authorization profile. The response
/// carries the credentials (a `client_secret` only for confidential clients, shown only here) and
/// every registered metadata value with defaults applied. Identical requests create distinct
/// clients (each connection of an MCP client may register anew) unless they carry the same
/// `Idempotency-Key`: then the first answer is replayed. With `registration.mode =
/// "initial_access_token"`, `Authorization: Bearer <initial access token>` is required (RFC 7591
/// §3); a missing or bad one answers 401 with a `Bearer` challenge.
#[api_v2_operation(
    operation_id = "registerClient",
    tags("Client registration"),
    consumes = "application/json",
    produces = "application/json"
)]
pub async fn register(
    state: web::Data<AppState>,
    body: DeferredJsonObject<ClientRegistrationRequest>,
    req: HttpRequest,
) -> Result<RegistrationReply, ApiError> {
    let service = state.registration.clone();
    let context = request_context(&req);
    // The initial access token is checked before the body and the Idempotency-Key (401 first).
    let token = presented_token(&req);
    let key = idempotency::idempotency_key(&req);
    let members = body.members.map_err(|e| e.to_string());
    // Argon2 hashing and the database write block: run them off the async workers.
    let outcome = web::block(move || {
        let request = members
            .as_ref()
            .map_err(|e| RegistrationError::InvalidRequest(e.clone()));
        service.register_request(request, token, key, &context)
    })
    .await?;
    let (registered, ticket) = match outcome {
        Ok(RegistrationOutcome::Registered { client, ticket }) => (*client, ticket),
        Ok(RegistrationOutcome::Replayed { status, body }) => {
            return Ok(RegistrationReply {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
                body,
                replayed: true,
            })
        }
        Err(e) => return idempotency::refusal(e),
    };
    tracing::Span::current().record("client_id", registered.client.client_id.as_str());
    tracing::info!(
        token_endpoint_auth_method = registered
            .client
            .metadata
            .token_endpoint_auth_method
            .as_str(),
        "client registered"
    );
    let body = serde_json::to_vec(&ClientInformationResponse::new(
        &registered.client,
        registered.client_secret.as_ref(),
        &registered.registration_access_token,
        &state.settings.public_base_url,
    ))
    .map_err(|e| ApiError::Internal(format!("serialising the registration: {e}")))?;
    if let Some(ticket) = ticket {
        let service = state.registration.clone();
        let stored = body.clone();
        let completed = web::block(move || {
            service.complete_idempotent(ticket, StatusCode::CREATED.as_u16(), &stored)
        })
        .await?;
        if let Err(e) = completed {
            // The client exists and this answer carries its credentials: send it. A retry with
            // the key gets 409 until the in-flight timeout, then registers anew.
            tracing::error!(error = %e, "storing the idempotent registration answer");
        }
    }
    Ok(RegistrationReply {
        status: StatusCode::CREATED,
        body,
        replayed: false,
    })
}

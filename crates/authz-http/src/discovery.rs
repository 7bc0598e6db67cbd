//! `GET /.well-known/oauth-authorization-server` (RFC 8414) and the liveness probe.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use paperclip::actix::{api_v2_operation, Apiv2Schema};
use serde::Serialize;

use crate::dto::AuthorizationServerMetadata;
use crate::responses::Ok as JsonOk;
use crate::AppState;

/// The metadata document, computed once at start from the policy and settings.
pub(crate) fn metadata(state: &AppState) -> AuthorizationServerMetadata {
    let policy = state.registration.policy();
    let methods: Vec<String> = policy
        .allowed_auth_methods
        .iter()
        .map(|m| m.as_str().to_owned())
        .collect();
    let secret_methods: Vec<String> = ["client_secret_basic", "client_secret_post"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    AuthorizationServerMetadata {
        issuer: state.settings.public_base_url.clone(),
        authorization_endpoint: state.settings.url("/authorize"),
        token_endpoint: state.settings.url("/token"),
        jwks_uri: state.settings.url("/jwks.json"),
        introspection_endpoint: state.settings.url("/introspect"),
        introspection_endpoint_auth_methods_supported: secret_methods,
        revocation_endpoint: state.settings.url("/revoke"),
        revocation_endpoint_auth_methods_supported: methods.clone(),
        response_modes_supported: vec!["query".into()],
        authorization_response_iss_parameter_supported: true,
        registration_endpoint: state
            .settings
            .registration_enabled
            .then(|| state.settings.url("/register")),
        response_types_supported: vec!["code".into()],
        grant_types_supported: policy
            .allowed_grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        token_endpoint_auth_methods_supported: methods,
        code_challenge_methods_supported: vec!["S256".into()],
        scopes_supported: state
            .settings
            .scopes_supported
            .clone()
            .or_else(|| policy.allowed_scopes.clone()),
        service_documentation: state.settings.service_documentation.clone(),
    }
}

/// Authorization server metadata
///
/// RFC 8414 metadata. MCP clients read it to find the registration endpoint and to learn which
/// grant types, authentication methods and PKCE methods to register with.
#[api_v2_operation(
    operation_id = "getAuthorizationServerMetadata",
    tags("Discovery"),
    produces = "application/json"
)]
pub async fn authorization_server_metadata(
    state: web::Data<AppState>,
) -> JsonOk<AuthorizationServerMetadata> {
    JsonOk(metadata(&state))
}

/// `GET /.well-known/oauth-authorization-server/{path}`: the RFC 8414 §3.1 location of the
/// metadata when the issuer has a path (`https://example.com/auth` →
/// `/.well-known/oauth-authorization-server/auth`); any other path is a 404.
pub(crate) async fn path_inserted_metadata(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let issuer_path = url::Url::parse(&state.settings.public_base_url)
        .map(|u| u.path().trim_matches('/').to_owned())
        .unwrap_or_default();
    if !issuer_path.is_empty() && path.trim_matches('/') == issuer_path {
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(metadata(&state))
    } else {
        HttpResponse::NotFound().finish()
    }
}

/// Liveness: the process answers HTTP.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// Liveness probe
///
/// Answers `{"status":"ok"}` without touching the database.
#[api_v2_operation(
    operation_id = "health",
    tags("Operations"),
    produces = "application/json"
)]
pub async fn health() -> JsonOk<Health> {
    JsonOk(Health { status: "ok" })
}

//! # authz-http
//!
//! The HTTP face of the authorization server: actix-web handlers, DTOs, the error mapping,
//! extractors, middleware (tracing, CORS, JSON errors) and the OpenAPI document (paperclip).
//! Handlers parse nothing themselves: they hand raw input to `authz-domain` and run its use cases
//! on actix's blocking pool, so no async worker ever waits on Argon2 or the database.

pub mod admin;
pub mod client_ip;
pub mod discovery;
pub mod dto;
pub mod error;
pub mod extract;
pub mod form;
pub mod health;
pub mod http_semantics;
pub mod middleware;
pub mod openapi_limits;
pub mod overload;
pub mod pages;
pub mod rate_limit;
pub mod registration;
pub mod responses;
pub mod slow_clients;
pub mod storable;
pub mod tokens;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::{from_fn, DefaultHeaders};
use serde_json::Value;
use std::sync::Arc;

use authz_domain::administration::AdminService;
use authz_domain::clock::Clock;
use authz_domain::keys::SharedKeyRing;
use authz_domain::registration::RegistrationService;
use authz_domain::token::TokenService;
use authz_domain::users::UserService;
use paperclip::actix::{web, OpenApiExt};
use paperclip::v2::models::{DefaultApiRaw, Info, Tag};
use tracing_actix_web::TracingLogger;

pub use error::ApiError;
pub use extract::BodyLimit;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The issuer, in the normal form `server.public_base_url` is read in (no trailing `/`;
    /// `authz-server`'s settings normalise it once); every URL handed out is built from it with
    /// [`HttpSettings::url`].
    pub public_base_url: String,
    /// `false`: `/register` does not exist (404) and is not advertised.
    pub registration_enabled: bool,
    /// `false`: `/admin` does not exist (404).
    pub admin_enabled: bool,
    /// The largest JSON body accepted, in bytes.
    pub max_body_bytes: usize,
    /// `service_documentation` in the metadata.
    pub service_documentation: String,
    /// `Cache-Control: max-age` of `/jwks.json`, in seconds: shorter than the publish-ahead time
    /// of a key rotation.
    pub jwks_max_age_secs: u64,
    /// `scopes_supported` in the metadata: the scopes the authorization endpoint offers.
    pub scopes_supported: Option<Vec<String>>,
    /// How long a request body may take to arrive in full ([`slow_clients`]).
    pub body_read_timeout: std::time::Duration,
    /// Requests of one worker that may wait for their bodies at once ([`slow_clients`]).
    pub max_pending_bodies: usize,
    /// Rate limits and the trusted proxies (`[rate_limits]`, `server.trusted_proxies`), shared
    /// by every worker.
    pub rate_limits: Arc<rate_limit::RateLimits>,
}

impl HttpSettings {
    /// Settings for `public_base_url` with the defaults.
    pub fn new(public_base_url: &str) -> Self {
        Self {
            service_documentation: format!("{public_base_url}/docs"),
            public_base_url: public_base_url.to_owned(),
            registration_enabled: true,
            admin_enabled: true,
            max_body_bytes: 64 * 1024,
            jwks_max_age_secs: 300,
            scopes_supported: None,
            body_read_timeout: std::time::Duration::from_secs(10),
            max_pending_bodies: usize::MAX,
            rate_limits: Arc::new(rate_limit::RateLimits::disabled()),
        }
    }
}

impl HttpSettings {
    /// The absolute URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_base_url)
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The registration use cases.
    pub registration: RegistrationService,
    /// The administration use cases.
    pub admin: AdminService,
    /// The token endpoint, introspection and revocation.
    pub tokens: TokenService,
    /// The signing keys in force (`/jwks.json`).
    pub keys: Arc<SharedKeyRing>,
    /// The clock the handlers read.
    pub clock: Arc<dyn Clock>,
    /// User accounts (`/admin/users`).
    pub users: UserService,
    /// HTTP settings.
    pub settings: HttpSettings,
}

fn spec() -> DefaultApiRaw {
    let info = Info {
        title: "authz-server".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        description: Some(
            "OAuth 2.0 authorization server: Dynamic Client Registration (RFC 7591), client \
             self-management (RFC 7592), and metadata (RFC 8414), under the MCP authorization profile. \
             Every error is JSON: {\"error\", \"error_description\"}."
                .into(),
        ),
        ..Default::default()
    };
    let tags = vec![
        Tag {
            name: "Client registration".into(),
            description: Some("RFC 7591 dynamic client registration".into()),
            external_docs: None,
        },
        Tag {
            name: "Client management".into(),
            description: Some("RFC 7592 self-management with the registration access token".into()),
            external_docs: None,
        },
        Tag {
            name: "Administration".into(),
            description: Some(
                "Clients and the audit trail, behind administrator tokens with scopes".into(),
            ),
            external_docs: None,
        },
        Tag {
            name: "Tokens".into(),
            description: Some(
                "RFC 6749 token endpoint, RFC 7662 introspection, RFC 7009 revocation".into(),
            ),
            external_docs: None,
        },
        Tag {
            name: "Discovery".into(),
            description: Some("RFC 8414 authorization server metadata".into()),
            external_docs: None,
        },
        Tag {
            name: "Operations".into(),
            description: Some("Probes for orchestrators".into()),
            external_docs: None,
        },
    ];
    DefaultApiRaw {
        info,
        tags,
        ..Default::default()
    }
}

/// CORS for browser-based clients (MCP Inspector): any origin, no cookies, preflight answered.
fn cors() -> Cors {
    Cors::default()
        .allow_any_origin()
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
            Method::HEAD,
        ])
        .allow_any_header()
        .expose_headers([
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
            middleware::REQUEST_ID_HEADER,
            rate_limit::RATELIMIT_LIMIT,
            rate_limit::RATELIMIT_REMAINING,
            rate_limit::RATELIMIT_RESET,
        ])
        .max_age(86_400)
}

/// `GET /openapi.json`: the OpenAPI 3 document, built once per worker.
async fn openapi_document(spec: actix_web::web::Data<Value>) -> actix_web::web::Json<Value> {
    actix_web::web::Json(spec.get_ref().clone())
}

/// Not-found for every path no route claims (the JSON body comes from `json_errors`).
async fn not_found() -> actix_web::HttpResponse {
    actix_web::HttpResponse::NotFound().finish()
}

/// The whole application: routes, OpenAPI at `/openapi.json`, and middleware.
pub fn build_app(
    state: AppState,
) -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = BodyLimit(state.settings.max_body_bytes);
    let registration_enabled = state.settings.registration_enabled;
    let admin_enabled = state.settings.admin_enabled;
    let registration_policy = &state.registration.policy().clone();
    let body_read_timeout = slow_clients::BodyReadTimeout {
        timeout: state.settings.body_read_timeout,
        max_pending: state.settings.max_pending_bodies,
    };
    let state = actix_web::web::Data::new(state);
    let mut app = actix_web::App::new()
        .app_data(state)
        .app_data(actix_web::web::Data::new(limit))
        .app_data(actix_web::web::Data::new(body_read_timeout))
        .wrap_api_with_spec(spec())
        .service(
            web::resource("/.well-known/oauth-authorization-server")
                .route(web::get().to(discovery::authorization_server_metadata)),
        )
        .service(web::resource("/health").route(web::get().to(discovery::health)))
        .service(web::resource("/token").route(web::post().to(tokens::token)))
        .service(web::resource("/introspect").route(web::post().to(tokens::introspect)))
        .service(web::resource("/revoke").route(web::post().to(tokens::revoke)));
    if registration_enabled {
        app = app.service(web::resource("/register").route(web::post().to(registration::register)));
    }
    // Self-management stays available when open registration is off: it needs a token anyway.
    app = app.service(
        web::resource("/register/{client_id}")
            .route(web::get().to(registration::read))
            .route(web::put().to(registration::update))
            .route(web::delete().to(registration::delete)),
    );
    if admin_enabled {
        app = app.configure(admin::configure);
    }
    // The generated document with the running policy's limits as schema keywords (openapi_limits).
    let mut openapi = Value::Null;
    let app = app.with_raw_json_spec_v3(|app, mut spec| {
        openapi_limits::annotate(&mut spec, registration_policy);
        openapi = spec;
        app
    });
    // The `/docs/openapi` view (pages::docs) renders the same document.
    let view = actix_web::web::Data::new(pages::docs::OpenApiDocument(openapi.clone()));
    let openapi = actix_web::web::Data::new(openapi);
    app.build()
        .app_data(openapi)
        .app_data(view)
        // Resources, not `App::route`: a wrong method must be a 405 with `Allow` (see
        // `http_semantics`).
        .service(
            actix_web::web::resource("/openapi.json")
                .route(actix_web::web::get().to(openapi_document)),
        )
        .service(
            actix_web::web::resource("/jwks.json").route(actix_web::web::get().to(tokens::jwks)),
        )
        .service(
            actix_web::web::resource("/.well-known/oauth-authorization-server/{path:.*}")
                .route(actix_web::web::get().to(discovery::path_inserted_metadata)),
        )
        .default_service(actix_web::web::to(not_found))
        .wrap(from_fn(http_semantics::rfc9110))
        .wrap(
            DefaultHeaders::new()
                .add((header::CACHE_CONTROL, "no-store"))
                .add((header::PRAGMA, "no-cache"))
                .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")),
        )
        .wrap(from_fn(storable::refuse_unstorable))
        // Inside CORS, so a 429 carries the CORS headers a browser needs to read it.
        .wrap(from_fn(rate_limit::limit))
        .wrap(cors())
        .wrap(from_fn(middleware::json_errors))
        .wrap(from_fn(slow_clients::body_read_deadline))
        .wrap(TracingLogger::<middleware::RootSpans>::new())
}

//! The interactive pages (authorization contract §2 and §3): the authorization endpoint, sign-in,
//! consent and sign-out, rendered as HTML from templates.
//!
//! # Routes ([`configure`])
//!
//! | path | methods | what |
//! |---|---|---|
//! | `/authorize` | `GET`, `POST` (form) | checks the request ([`AuthorizationService::begin`]), then signs in, asks consent or redirects |
//! | `/signin?request=ID` | `GET`, `POST` | the sign-in form |
//! | `/consent?request=ID` | `GET`, `POST` | the consent page (Allow / Deny) |
//! | `/signout` | `GET` (confirm form), `POST` | ends the browser's session |
//! | `/assets/pages.css` | `GET` | the stylesheet, cached for a year (its URL carries a content hash) |
//! | `/` | `GET` | the landing page: product name, issuer, links to the metadata and the docs ([`docs`]) |
//! | `/docs`, `/docs/{page}` | `GET` | `docs/*.md` rendered as HTML (`/docs` is the API guide), `/docs/openapi` the OpenAPI document |
//! | `/docs/images/{name}` | `GET` | the images of the docs |
//!
//! Only the pending request's id travels through the pages, never its parameters. Every URL the
//! pages hand out (form actions, `Location` of the steps between pages, the stylesheet) is
//! relative, so the pages work under whatever origin and path the browser reached them at.
//!
//! # Flow
//!
//! `/authorize` → [`AuthorizationService::begin`] stores the request as pending. Without a live
//! session (or with `prompt=login`) the browser is sent (`303`) to `/signin?request=ID`. A
//! sign-in always starts a NEW session (no fixation) and attaches the user to the pending request.
//! Then [`AuthorizationService::decide`]: a remembered consent counts only for an `https`
//! redirect URI, and a client whose settings say `require_consent = false` skips the page; the
//! consent page's Allow approves ([`AuthorizationService::approve`], `302` to the client with
//! `code`, `state`, `iss`), Deny denies (`access_denied`).
//!
//! Errors before the redirect URI is verified (unknown client, wrong redirect URI, unknown or
//! expired request) are an HTML error page (400, or 500/503 for a fault), never a redirect; after
//! it, the domain's redirect; a server fault after it is a redirected `server_error`.
//!
//! # CSRF
//!
//! Every form carries `csrf_token` = [`PendingAuthorization::csrf_token`] of a per-browser value:
//!
//! * the sign-in form exists before any session, so it is bound to a **pre-sign-in cookie**
//!   (`authz_signin`, 256 random bits, `HttpOnly; SameSite=Lax`, lifetime of a pending request),
//!   set by `GET /signin` and required by `POST /signin`. Binding to the pending id alone would
//!   not do: whoever starts a request learns its id, so an attacker could sign a victim's browser
//!   into the attacker's account (login CSRF); the cookie is the victim's own and is not sent on a
//!   cross-site POST.
//! * the consent form is bound to the session cookie, so a consent POST from another session
//!   (another user's, or a leaked token) is refused, and the pending request must have been
//!   signed in by the session's user.
//! * the sign-out form carries a hash of the session cookie under a sign-out label.
//!
//! A missing or stale token gets a 400 page that says so and changes nothing.
//!
//! # Headers and errors
//!
//! Every response of these routes carries `Content-Security-Policy` (`default-src 'none';
//! style-src 'self'; img-src 'self'` + the logo's origin; `form-action 'self'`, plus the client's
//! redirect origin on the sign-in and consent pages, since Chromium applies `form-action` to the
//! redirect that follows the form POST; `frame-ancestors 'none'; base-uri 'none'`),
//! `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`, `Cache-Control: no-store` (the
//! stylesheet excepted) and `X-Content-Type-Options: nosniff`. Their error responses are HTML,
//! even those actix makes itself (405, 413): the routes mark each request with
//! [`crate::middleware::HtmlErrorScope`], which [`crate::middleware::json_errors`] leaves alone.
//!
//! # Wiring
//!
//! ```ignore
//! let pages = web::Data::new(PagesState::new(authorization, users, consents, clients, settings)?);
//! HttpServer::new(move || build_app(state.clone()).configure(pages::configure_with(pages.clone())))
//! ```
//!
//! The pages' routes are outside paperclip's OpenAPI document (they are HTML, not an API), so
//! they are configured on the built `App`, after `build_app`. The app-wide middleware
//! (`json_errors`, CORS, `DefaultHeaders`, tracing) wraps them too; `json_errors` leaves their
//! errors as HTML, and `DefaultHeaders` does not override the headers they set.

mod cookies;
pub mod docs;
mod form;
mod handlers;
mod openapi_view;
mod security;
pub mod templates;
#[cfg(test)]
mod tests;
mod throttle;

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::web;
use authz_domain::authorization::AuthorizationService;
use authz_domain::clients::ClientRepository;
use authz_domain::users::{ConsentService, UserService};

use self::templates::{Site, Templates};

/// The largest form body the pages accept, in bytes (an authorization request with many
/// `resource` values and a 2 KB `state` fits easily).
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// What an operator configures about the pages (configuration section `pages`, plus
/// `server.public_base_url`).
#[derive(Debug, Clone)]
pub struct PagesSettings {
    /// The issuer (`server.public_base_url`), exactly as the [`AuthorizationService`] was given
    /// it: the `iss` of every redirect.
    pub issuer: String,
    /// Whether cookies get `Secure` and the `__Host-` prefix: `true` when `public_base_url` is
    /// `https`.
    pub secure_cookies: bool,
    /// The name every page shows (`<title>`, header).
    pub product_name: String,
    /// A logo shown in every page's header: an absolute `https`/`http` URL (its origin is added
    /// to the pages' `img-src`) or a path on this server starting with `/`.
    pub logo_url: Option<String>,
    /// A folder whose files replace the built-in templates of the same name
    /// ([`templates::BUILT_IN`]: `base.html`, `signin.html`, `consent.html`, `error.html`,
    /// `signout.html`, `signed_out.html`, `home.html`, `document.html`, `openapi.html`, `pages.css`);
    /// missing files keep the built-in one.
    pub template_dir: Option<PathBuf>,
}

impl PagesSettings {
    /// Settings for `issuer` with the defaults: `Secure` cookies when the issuer is `https`,
    /// product name "Authorization server", no logo, built-in templates.
    pub fn new(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            secure_cookies: issuer.starts_with("https://"),
            product_name: "Authorization server".into(),
            logo_url: None,
            template_dir: None,
        }
    }
}

/// Why the pages could not be set up; each message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    /// A template does not compile or does not render with sample values.
    #[error("pages.template_dir: template {name}: {message}")]
    Template {
        /// The template's file name.
        name: String,
        /// minijinja's message, with the line.
        message: String,
    },
    /// The template folder or one of its files cannot be read.
    #[error("pages.template_dir: {0}")]
    TemplateDir(String),
    /// The logo URL is neither an absolute http(s) URL nor a path starting with `/`.
    #[error(
        "pages.logo_url: {0:?} is neither an absolute https:// URL nor a path starting with /"
    )]
    LogoUrl(String),
    /// The issuer of the settings is not the authorization service's.
    #[error("pages: issuer {pages:?} differs from the authorization service's {service:?}")]
    IssuerMismatch {
        /// [`PagesSettings::issuer`].
        pages: String,
        /// [`AuthorizationService::issuer`].
        service: String,
    },
}

/// What the page handlers share. Build it once with [`PagesState::new`] and mount it with
/// [`configure_with`] (or register `web::Data<PagesState>` and call [`configure`]).
#[derive(Debug)]
pub struct PagesState {
    /// The authorization endpoint's use cases (pending requests, decisions, codes).
    pub authorization: Arc<AuthorizationService>,
    /// Sign-in and sessions.
    pub users: UserService,
    /// Remembered consents (and their audit).
    pub consents: ConsentService,
    /// Clients, for their name, origin and settings on the pages.
    pub clients: Arc<dyn ClientRepository>,
    /// The operator's settings.
    pub settings: PagesSettings,
    templates: Templates,
    site: Site,
    /// The logo's origin for `img-src`, when it is on another origin.
    logo_source: Option<String>,
}

impl PagesState {
    /// Compiles the templates (built-in, and the overrides of `settings.template_dir`) and checks
    /// the settings.
    ///
    /// # Errors
    /// [`PagesError`] naming the setting: a template that does not compile or render, an
    /// unreadable template folder, a malformed logo URL, an issuer other than the service's.
    pub fn new(
        authorization: Arc<AuthorizationService>,
        users: UserService,
        consents: ConsentService,
        clients: Arc<dyn ClientRepository>,
        settings: PagesSettings,
    ) -> Result<Self, PagesError> {
        if settings.issuer != authorization.issuer() {
            return Err(PagesError::IssuerMismatch {
                pages: settings.issuer.clone(),
                service: authorization.issuer().to_owned(),
            });
        }
        let logo_source = match settings.logo_url.as_deref() {
            None => None,
            Some(path) if path.starts_with('/') && !path.starts_with("//") => None,
            Some(raw) => {
                Some(security::logo_source(raw).ok_or_else(|| PagesError::LogoUrl(raw.into()))?)
            }
        };
        let templates = Templates::load(settings.template_dir.as_deref())?;
        let site = Site {
            product_name: settings.product_name.clone(),
            logo_url: settings.logo_url.clone(),
            stylesheet: templates.stylesheet_url(),
        };
        Ok(Self {
            authorization,
            users,
            consents,
            clients,
            settings,
            templates,
            site,
            logo_source,
        })
    }
}

/// Mounts the pages' routes (see the module documentation). The application must hold a
/// `web::Data<PagesState>`; [`configure_with`] registers it too.
pub fn configure(cfg: &mut web::ServiceConfig) {
    handlers::routes(cfg);
    docs::routes(cfg);
}

/// Registers `state` and mounts the pages' routes. Build the `web::Data` once, outside the
/// `HttpServer` factory, and hand each worker a clone:
///
/// ```ignore
/// let pages = web::Data::new(PagesState::new(authorization, users, consents, clients, settings)?);
/// HttpServer::new(move || build_app(state.clone()).configure(pages::configure_with(pages.clone())))
/// ```
pub fn configure_with(state: web::Data<PagesState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(state);
        configure(cfg);
    }
}

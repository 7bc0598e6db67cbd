//! The page handlers. Each one parses its raw pairs, runs the domain's use cases on actix's
//! blocking pool (Argon2 and the database never block an async worker) and renders a page or
//! redirects.

use std::collections::BTreeSet;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{web, HttpRequest, HttpResponse};
use authz_domain::authorization::{
    AuthorizationError, AuthorizationRequest, AuthorizationService, Decision, PendingAuthorization,
    Prompt, SignedIn,
};
use authz_domain::client_registration::{
    Client, ClientOrigin, ErrorCode, RedirectUriKind, RepositoryError,
};
use authz_domain::credentials::{SystemRandomSource, TokenDigest};
use authz_domain::users::{Session, SessionId, SignInError, INVALID_CREDENTIALS_MESSAGE};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::cookies::{self, PRE_SIGN_IN, SESSION};
use super::form::{FormError, Pairs};
use super::security::{self, Csp};
use super::templates::{
    ConsentPage, ErrorPage, PlainPage, ScopeLine, SignInPage, SignOutPage, CONSENT, ERROR,
    SIGNED_OUT, SIGN_IN, SIGN_OUT,
};
use super::{PagesState, MAX_FORM_BYTES};
use crate::extract::request_context;

type State = web::Data<PagesState>;

/// Mounts the routes, each wrapped in [`security::page_headers`].
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(form_page("/authorize", authorize_get, authorize_post))
        .service(form_page("/signin", signin_get, signin_post))
        .service(form_page("/consent", consent_get, consent_post))
        .service(form_page("/signout", signout_get, signout_post))
        .service(
            web::resource("/assets/pages.css")
                .wrap(from_fn(security::page_headers))
                .route(web::get().to(stylesheet)),
        );
}

/// A page answering `GET` and a form `POST` of at most [`MAX_FORM_BYTES`], with the pages'
/// security headers.
fn form_page<G, GArgs, P, PArgs>(
    path: &str,
    get: G,
    post: P,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
>
where
    G: actix_web::Handler<GArgs>,
    GArgs: actix_web::FromRequest + 'static,
    G::Output: actix_web::Responder + 'static,
    P: actix_web::Handler<PArgs>,
    PArgs: actix_web::FromRequest + 'static,
    P::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .app_data(web::PayloadConfig::new(MAX_FORM_BYTES))
        .wrap(from_fn(security::page_headers))
        .route(web::get().to(get))
        .route(web::post().to(post))
}

// ---------------------------------------------------------------------------------------------
// Responses

/// An HTML page with its own policy.
fn html(status: StatusCode, body: String, csp: &Csp) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, csp.value()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// The policy of a page with no form that leaves the site.
fn plain_csp(state: &PagesState) -> Csp {
    Csp {
        img: state.logo_source.clone(),
        form_action: None,
    }
}

/// The policy of a page whose form POST may be answered by a redirect to the client.
fn client_csp(state: &PagesState, request: &AuthorizationRequest) -> Csp {
    Csp {
        img: state.logo_source.clone(),
        form_action: security::redirect_source(&request.redirect_uri),
    }
}

/// A minimal page for when even the error template fails.
const FALLBACK_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Error</title></head><body><h1>Error</h1><p>The server could not show this page.</p>\
</body></html>";

/// Renders `name`, or logs why not and answers the fallback page with a 500.
fn render<S: serde::Serialize>(
    state: &PagesState,
    status: StatusCode,
    name: &str,
    context: &S,
    csp: &Csp,
) -> HttpResponse {
    match state.templates.render(name, context) {
        Ok(body) => html(status, body, csp),
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                FALLBACK_PAGE.into(),
                &plain_csp(state),
            )
        }
    }
}

/// A page with no form (the documentation): `name` rendered with `context`, the plain policy.
pub(crate) fn render_page<S: serde::Serialize>(
    state: &PagesState,
    status: StatusCode,
    name: &str,
    context: &S,
) -> HttpResponse {
    render(state, status, name, context, &plain_csp(state))
}

/// The HTML error page with `status` and `message`; `retry_url` links to a fresh form.
pub(crate) fn error_page(
    state: &PagesState,
    status: StatusCode,
    message: &str,
    retry_url: Option<String>,
) -> HttpResponse {
    let title = if status.is_server_error() {
        "The server could not complete this request"
    } else {
        "This request cannot continue"
    };
    let page = ErrorPage {
        site: &state.site,
        title,
        message,
        retry_url,
    };
    let mut response = render(state, status, ERROR, &page, &plain_csp(state));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // As the JSON APIs do: the database is away for now, try again shortly.
        response.headers_mut().insert(
            header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_static("1"),
        );
    }
    response
}

/// The page for a missing or stale CSRF token (or an ended session): 400, nothing changed.
fn stale_form(state: &PagesState, message: &str, retry_url: String) -> HttpResponse {
    let page = ErrorPage {
        site: &state.site,
        title: "This form has expired",
        message,
        retry_url: Some(retry_url),
    };
    render(
        state,
        StatusCode::BAD_REQUEST,
        ERROR,
        &page,
        &plain_csp(state),
    )
}

const STALE_FORM: &str = "this form has expired or did not come from this site, so nothing was \
changed; open the page again and resubmit it";

fn bad_request(state: &PagesState, message: &str) -> HttpResponse {
    error_page(state, StatusCode::BAD_REQUEST, message, None)
}

fn repeated(state: &PagesState, name: &str) -> HttpResponse {
    bad_request(
        state,
        &format!("the form field {name} was sent more than once"),
    )
}

fn not_a_form(state: &PagesState) -> HttpResponse {
    bad_request(
        state,
        "this page accepts only HTML form submissions (application/x-www-form-urlencoded)",
    )
}

/// A query string or form whose bytes are not UTF-8 once percent-decoded. Never redirected: the
/// parameters, `redirect_uri` included, cannot be trusted.
fn bad_encoding(state: &PagesState) -> HttpResponse {
    bad_request(
        state,
        "the request's parameters are not valid UTF-8 once percent-decoded (invalid_request)",
    )
}

fn form_error(state: &PagesState, e: FormError) -> HttpResponse {
    match e {
        FormError::NotAForm => not_a_form(state),
        FormError::Encoding => bad_encoding(state),
    }
}

/// A blocking-pool failure: the task never ran or panicked.
fn pool_failure(state: &PagesState, e: &actix_web::error::BlockingError) -> HttpResponse {
    tracing::error!(error = %e, "blocking pool failure on a page");
    error_page(
        state,
        StatusCode::INTERNAL_SERVER_ERROR,
        "the server could not complete the request; try again later",
        None,
    )
}

/// `303 See Other` to another page (relative to the pages' folder).
fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `302 Found` to the client (RFC 6749 §4.1.2), never cached.
fn to_client(location: String) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn page_url(page: &str, id: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("request", id)
        .finish();
    format!("{page}?{query}")
}

/// The answer to a domain refusal: the error page (with the code's status) or the redirect.
fn refused(state: &PagesState, e: AuthorizationError) -> HttpResponse {
    match &e {
        AuthorizationError::ErrorPage {
            error,
            description,
            internal,
        } => {
            if let Some(internal) = internal {
                tracing::error!(error = %internal, code = error.as_str(), "authorization fault");
            }
            let status =
                StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            error_page(state, status, description, None)
        }
        AuthorizationError::Redirect {
            internal, error, ..
        } => {
            if let Some(internal) = internal {
                tracing::error!(error = %internal, code = error.as_str(), "authorization fault");
            }
            match e.location(&state.settings.issuer) {
                Some(location) => to_client(location),
                None => bad_request(state, e.description()),
            }
        }
    }
}

/// A server fault after the redirect URI was verified: a redirected `server_error`.
fn fault(request: &AuthorizationRequest, e: impl std::fmt::Display) -> AuthorizationError {
    AuthorizationError::redirect_fault(request, &RepositoryError::Other(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// The next step of a pending request (blocking)

/// Where a pending request goes next.
#[derive(Debug)]
enum Step {
    /// `303` to the sign-in page.
    SignIn,
    /// `303` to the consent page.
    Consent,
    /// `302` to the client (a code, or an error the domain decided).
    Client(String),
    /// The error page or redirect of a refusal.
    Refused(AuthorizationError),
}

impl Step {
    fn respond(self, state: &PagesState, id: &str) -> HttpResponse {
        match self {
            Self::SignIn => see_other(page_url("signin", id)),
            Self::Consent => see_other(page_url("consent", id)),
            Self::Client(location) => to_client(location),
            Self::Refused(e) => refused(state, e),
        }
    }
}

fn scope_set(request: &AuthorizationRequest) -> BTreeSet<String> {
    request.scope.tokens().map(str::to_owned).collect()
}

fn resource_set(request: &AuthorizationRequest) -> BTreeSet<String> {
    request
        .resources
        .iter()
        .map(|r| r.as_str().to_owned())
        .collect()
}

fn client_gone() -> AuthorizationError {
    AuthorizationError::ErrorPage {
        error: ErrorCode::InvalidRequest,
        description: "the application that sent you here is no longer registered".into(),
        internal: None,
    }
}

/// The pending request `id` and its client. Unknown or expired request, or a deleted client:
/// the error page.
fn load(
    state: &PagesState,
    id: &str,
) -> Result<(PendingAuthorization, Client), AuthorizationError> {
    let pending = state.authorization.find_pending(id)?;
    match state.clients.find(&pending.request.client_id) {
        Ok(Some(client)) => Ok((pending, client)),
        Ok(None) => Err(client_gone()),
        Err(e) => Err(AuthorizationError::redirect_fault(&pending.request, &e)),
    }
}

/// Decides and performs the next step for the browser with `session` (contract §3): sign in,
/// consent (attaching the user to the request), or approve.
fn proceed(
    state: &PagesState,
    id: &str,
    pending: &PendingAuthorization,
    client: &Client,
    session: Option<&Session>,
) -> Step {
    let request = &pending.request;
    let signed_in = session.map(|s| SignedIn {
        user_id: s.user_id.as_str().to_owned(),
        auth_time: s.auth_time,
    });
    // A remembered consent only matters where the domain may reuse it (https redirect URI, no
    // prompt=consent, a client that asks at all); elsewhere skip the lookup.
    let may_reuse = request.redirect_uri_kind == RedirectUriKind::Https
        && request.prompt != Some(Prompt::Consent)
        && client.settings.require_consent;
    let remembered = match session {
        Some(s) if may_reuse => match state.consents.remembered(
            &s.user_id,
            &request.client_id,
            &scope_set(request),
            &resource_set(request),
        ) {
            Ok(found) => found,
            Err(e) => return Step::Refused(fault(request, e)),
        },
        _ => false,
    };
    match AuthorizationService::decide(pending, signed_in.as_ref(), remembered, &client.settings) {
        Ok(Decision::NeedsSignIn) => Step::SignIn,
        Ok(Decision::NeedsConsent) => {
            let Some(user) = signed_in else {
                return Step::SignIn;
            };
            if pending.user_id.as_deref() != Some(user.user_id.as_str())
                || pending.auth_time != Some(user.auth_time)
            {
                if let Err(e) = state
                    .authorization
                    .attach_user(id, &user.user_id, user.auth_time)
                {
                    return Step::Refused(e);
                }
            }
            Step::Consent
        }
        Ok(Decision::Issue(user)) => {
            match state
                .authorization
                .approve(id, &user.user_id, user.auth_time)
            {
                Ok(location) => Step::Client(location),
                Err(e) => Step::Refused(e),
            }
        }
        Err(e) => Step::Refused(e),
    }
}

/// The live session a browser's cookie names (blocking).
fn live_session(
    state: &PagesState,
    cookie: Option<&SessionId>,
) -> Result<Option<Session>, authz_domain::users::UserError> {
    match cookie {
        Some(id) => state.users.current_session(id),
        None => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------
// /authorize

async fn authorize_get(req: HttpRequest, state: State) -> HttpResponse {
    let Some(pairs) = Pairs::parse(req.query_string().as_bytes()) else {
        return bad_encoding(&state);
    };
    authorize(&req, state, pairs).await
}

async fn authorize_post(req: HttpRequest, state: State, body: web::Bytes) -> HttpResponse {
    match Pairs::from_form(&req, &body) {
        Ok(pairs) => authorize(&req, state, pairs).await,
        Err(e) => form_error(&state, e),
    }
}

async fn authorize(req: &HttpRequest, state: State, pairs: Pairs) -> HttpResponse {
    let cookie = cookies::read(req, SESSION, &state.settings);
    let st = state.clone();
    let outcome = web::block(move || -> Result<(String, Step), AuthorizationError> {
        let begun = st.authorization.begin(&pairs.0)?;
        let id = begun.id.expose_secret().to_owned();
        let step = match live_session(&st, cookie.as_ref()) {
            Ok(session) => proceed(&st, &id, &begun.pending, &begun.client, session.as_ref()),
            Err(e) => Step::Refused(fault(&begun.pending.request, e)),
        };
        Ok((id, step))
    })
    .await;
    match outcome {
        Ok(Ok((id, step))) => step.respond(&state, &id),
        Ok(Err(e)) => refused(&state, e),
        Err(e) => pool_failure(&state, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// /signin

/// The `request` field of a query or form: the pending id, or the answer to send instead.
fn request_id(state: &PagesState, pairs: &Pairs) -> Result<String, Box<HttpResponse>> {
    match pairs.one("request") {
        Ok(Some(id)) => Ok(id.to_owned()),
        Ok(None) => Err(Box::new(bad_request(
            state,
            "this page belongs to a sign-in started by an application; go back to the \
             application and start again",
        ))),
        Err(name) => Err(Box::new(repeated(state, name))),
    }
}

/// The name shown for a client, and whether it is unverified (anyone may register any name).
fn client_label(client: &Client) -> (String, bool) {
    let name = client
        .metadata
        .client_name
        .clone()
        .unwrap_or_else(|| format!("an application (client {})", client.client_id));
    (name, client.origin == ClientOrigin::Dynamic)
}

/// The sign-in page for `pending`, its form bound to the pre-sign-in cookie `pre`.
fn signin_page(
    state: &PagesState,
    id: &str,
    pending: &PendingAuthorization,
    client: &Client,
    pre: &SessionId,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    let (client_name, unverified) = client_label(client);
    let csrf = pending.csrf_token(&pre.digest());
    let page = SignInPage {
        site: &state.site,
        client_name,
        unverified,
        request_id: id,
        csrf_token: &csrf,
        username,
        error,
    };
    let mut response = render(
        state,
        StatusCode::OK,
        SIGN_IN,
        &page,
        &client_csp(state, &pending.request),
    );
    let lifetime =
        i64::try_from(state.authorization.policy().request_lifetime_secs).unwrap_or(i64::MAX);
    add_cookie(
        &mut response,
        cookies::set(PRE_SIGN_IN, pre, lifetime, &state.settings),
    );
    response
}

fn add_cookie(response: &mut HttpResponse, cookie: actix_web::cookie::Cookie<'static>) {
    if let Err(e) = response.add_cookie(&cookie) {
        tracing::error!(error = %e, "a cookie could not be set");
    }
}

async fn signin_get(req: HttpRequest, state: State) -> HttpResponse {
    let Some(pairs) = Pairs::parse(req.query_string().as_bytes()) else {
        return bad_encoding(&state);
    };
    let id = match request_id(&state, &pairs) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let pre = match cookies::read(&req, PRE_SIGN_IN, &state.settings) {
        Some(pre) => pre,
        None => match SessionId::generate(&SystemRandomSource::new()) {
            Ok(pre) => pre,
            Err(e) => {
                tracing::error!(error = %e, "random source failure");
                return error_page(
                    &state,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the server could not complete the request; try again later",
                    None,
                );
            }
        },
    };
    let st = state.clone();
    let id2 = id.clone();
    match web::block(move || load(&st, &id2)).await {
        Ok(Ok((pending, client))) => signin_page(&state, &id, &pending, &client, &pre, "", None),
        Ok(Err(e)) => refused(&state, e),
        Err(e) => pool_failure(&state, &e),
    }
}

async fn signin_post(req: HttpRequest, state: State, body: web::Bytes) -> HttpResponse {
    let form = match Pairs::from_form(&req, &body) {
        Ok(f) => f,
        Err(e) => return form_error(&state, e),
    };
    let id = match request_id(&state, &form) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let (token, username, password) = match (
        form.one("csrf_token"),
        form.one("username"),
        form.one("password"),
    ) {
        (Ok(t), Ok(u), Ok(p)) => (
            t.unwrap_or_default().to_owned(),
            u.unwrap_or_default().to_owned(),
            SecretString::from(p.unwrap_or_default().to_owned()),
        ),
        (Err(name), _, _) | (_, Err(name), _) | (_, _, Err(name)) => return repeated(&state, name),
    };
    let pre = cookies::read(&req, PRE_SIGN_IN, &state.settings);
    let previous = cookies::read(&req, SESSION, &state.settings);
    let context = request_context(&req);

    let st = state.clone();
    let id2 = id.clone();
    let loaded = match web::block(move || load(&st, &id2)).await {
        Ok(Ok(loaded)) => loaded,
        Ok(Err(e)) => return refused(&state, e),
        Err(e) => return pool_failure(&state, &e),
    };
    let (pending, client) = loaded;
    let Some(pre) = pre.filter(|pre| pending.verify_csrf(&pre.digest(), &token)) else {
        return stale_form(&state, STALE_FORM, page_url("signin", &id));
    };
    if username.is_empty() || password.expose_secret().is_empty() {
        return signin_page(
            &state,
            &id,
            &pending,
            &client,
            &pre,
            &username,
            Some("enter your username and your password"),
        );
    }

    let st = state.clone();
    let user_name = username.clone();
    let signed = web::block(move || {
        st.users
            .sign_in(&user_name, &password, previous.as_ref(), &context)
    })
    .await;
    let signed = match signed {
        Ok(Ok(signed)) => signed,
        Ok(Err(SignInError::InvalidCredentials)) => {
            return signin_page(
                &state,
                &id,
                &pending,
                &client,
                &pre,
                &username,
                Some(INVALID_CREDENTIALS_MESSAGE),
            )
        }
        Ok(Err(SignInError::Throttled {
            retry_after_secs,
            locked,
        })) => {
            let message = crate::pages::throttle::message(retry_after_secs, locked);
            let page = signin_page(
                &state,
                &id,
                &pending,
                &client,
                &pre,
                &username,
                Some(&message),
            );
            return crate::pages::throttle::too_many(page, retry_after_secs);
        }
        Ok(Err(e)) => return refused(&state, fault(&pending.request, e)),
        Err(e) => return refused(&state, fault(&pending.request, e)),
    };

    // The new session is set whatever comes next. The pre-sign-in cookie stays (it lapses with
    // the request lifetime), so a sign-in form open in another tab still submits.
    let session_cookie = cookies::set(
        SESSION,
        &signed.session_id,
        state.users.session_policy().absolute_lifetime_secs,
        &state.settings,
    );
    let st = state.clone();
    let id2 = id.clone();
    let session = signed.session;
    let step = web::block(move || {
        let user = session.user_id.as_str().to_owned();
        if let Err(e) = st.authorization.attach_user(&id2, &user, session.auth_time) {
            return Step::Refused(e);
        }
        let pending = PendingAuthorization {
            user_id: Some(user),
            auth_time: Some(session.auth_time),
            ..pending
        };
        proceed(&st, &id2, &pending, &client, Some(&session))
    })
    .await;
    let mut response = match step {
        Ok(step) => step.respond(&state, &id),
        Err(e) => pool_failure(&state, &e),
    };
    add_cookie(&mut response, session_cookie);
    response
}

// ---------------------------------------------------------------------------------------------
// /consent

/// How the redirect URI is shown: its host (and port), prominently, and a note.
fn destination(request: &AuthorizationRequest) -> (String, Option<String>) {
    let Ok(url) = Url::parse(&request.redirect_uri) else {
        return (request.redirect_uri.clone(), None);
    };
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => format!("{}:", url.scheme()),
    };
    let note = match request.redirect_uri_kind {
        RedirectUriKind::Https => None,
        RedirectUriKind::Loopback => Some("an application on this computer".to_owned()),
        RedirectUriKind::PrivateUse => Some(format!(
            "an application on this device that opens {}: links",
            url.scheme()
        )),
        RedirectUriKind::InsecureHttp => Some("a website reached without encryption (http)".into()),
    };
    (host, note)
}

/// The signed-in user's session, the request and its client, and the user's name.
struct ConsentContext {
    session: Session,
    pending: PendingAuthorization,
    client: Client,
    user_name: String,
}

/// Loads what the consent page and its POST need (blocking). `Ok(None)`: no live session.
fn consent_context(
    state: &PagesState,
    id: &str,
    cookie: Option<&SessionId>,
) -> Result<Option<ConsentContext>, AuthorizationError> {
    let (pending, client) = load(state, id)?;
    let session = match live_session(state, cookie) {
        Ok(Some(session)) => session,
        Ok(None) => return Ok(None),
        Err(e) => return Err(fault(&pending.request, e)),
    };
    let user_name = match state.users.find_user(&session.user_id) {
        Ok(Some(user)) => user
            .display_name
            .unwrap_or_else(|| user.username.as_str().to_owned()),
        Ok(None) => session.user_id.as_str().to_owned(),
        Err(e) => return Err(fault(&pending.request, e)),
    };
    Ok(Some(ConsentContext {
        session,
        pending,
        client,
        user_name,
    }))
}

/// The request was signed in by another account than this browser's session.
fn other_account(state: &PagesState) -> HttpResponse {
    bad_request(
        state,
        "this request belongs to another sign-in; go back to the application and start again",
    )
}

fn owns(context: &ConsentContext) -> bool {
    context.pending.user_id.as_deref() == Some(context.session.user_id.as_str())
}

async fn consent_get(req: HttpRequest, state: State) -> HttpResponse {
    let Some(pairs) = Pairs::parse(req.query_string().as_bytes()) else {
        return bad_encoding(&state);
    };
    let id = match request_id(&state, &pairs) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let cookie = cookies::read(&req, SESSION, &state.settings);
    let st = state.clone();
    let id2 = id.clone();
    let context = match web::block(move || consent_context(&st, &id2, cookie.as_ref())).await {
        Ok(Ok(Some(context))) => context,
        Ok(Ok(None)) => return see_other(page_url("signin", &id)),
        Ok(Err(e)) => return refused(&state, e),
        Err(e) => return pool_failure(&state, &e),
    };
    if !owns(&context) {
        return other_account(&state);
    }
    let request = &context.pending.request;
    let policy = state.authorization.policy();
    let (client_name, unverified) = client_label(&context.client);
    let (redirect_host, redirect_note) = destination(request);
    let csrf = context.pending.csrf_token(&context.session.digest);
    let page = ConsentPage {
        site: &state.site,
        client_name,
        unverified,
        redirect_host,
        redirect_note,
        scopes: request
            .scope
            .tokens()
            .map(|name| ScopeLine {
                name: name.to_owned(),
                description: policy.scope_description(name).map(str::to_owned),
            })
            .collect(),
        resources: request
            .resources
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect(),
        issuer: &state.settings.issuer,
        user_name: context.user_name.clone(),
        request_id: &id,
        csrf_token: &csrf,
    };
    render(
        &state,
        StatusCode::OK,
        CONSENT,
        &page,
        &client_csp(&state, request),
    )
}

async fn consent_post(req: HttpRequest, state: State, body: web::Bytes) -> HttpResponse {
    let form = match Pairs::from_form(&req, &body) {
        Ok(f) => f,
        Err(e) => return form_error(&state, e),
    };
    let id = match request_id(&state, &form) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let (token, decision) = match (form.one("csrf_token"), form.one("decision")) {
        (Ok(t), Ok(d)) => (
            t.unwrap_or_default().to_owned(),
            d.unwrap_or_default().to_owned(),
        ),
        (Err(name), _) | (_, Err(name)) => return repeated(&state, name),
    };
    let cookie = cookies::read(&req, SESSION, &state.settings);
    let request_context = request_context(&req);
    let st = state.clone();
    let id2 = id.clone();
    let context = match web::block(move || consent_context(&st, &id2, cookie.as_ref())).await {
        Ok(Ok(Some(context))) => context,
        Ok(Ok(None)) => {
            return stale_form(
                &state,
                "your session has ended, so nothing was changed; sign in again to continue",
                page_url("signin", &id),
            )
        }
        Ok(Err(e)) => return refused(&state, e),
        Err(e) => return pool_failure(&state, &e),
    };
    if !context.pending.verify_csrf(&context.session.digest, &token) {
        return stale_form(&state, STALE_FORM, page_url("consent", &id));
    }
    if !owns(&context) {
        return other_account(&state);
    }
    let allow = match decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => {
            return error_page(
                &state,
                StatusCode::BAD_REQUEST,
                "choose Allow or Deny",
                Some(page_url("consent", &id)),
            )
        }
    };
    let st = state.clone();
    let id2 = id.clone();
    let outcome = web::block(move || -> Result<String, AuthorizationError> {
        let request = &context.pending.request;
        let user = &context.session.user_id;
        let (scope, resources) = (scope_set(request), resource_set(request));
        if allow {
            st.consents
                .grant(user, &request.client_id, scope, resources, &request_context)
                .map_err(|e| fault(request, e))?;
            st.authorization
                .approve(id2.as_str(), user.as_str(), context.session.auth_time)
        } else {
            if let Err(e) = st.consents.deny(
                user,
                &request.client_id,
                &scope,
                &resources,
                &request_context,
            ) {
                // The denial still stands; only its audit record is missing.
                tracing::error!(error = %e, "the consent denial could not be audited");
            }
            st.authorization.deny(&id2)
        }
    })
    .await;
    match outcome {
        Ok(Ok(location)) => to_client(location),
        Ok(Err(e)) => refused(&state, e),
        Err(e) => pool_failure(&state, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// /signout

/// The sign-out form's CSRF token: a hash of the session cookie under a label of its own (the
/// stored digest is the unlabelled hash, so a database copy does not give the token).
fn signout_token(session: &SessionId) -> String {
    let digest = TokenDigest::of(&format!("authz-signout:{}", session.cookie_value()));
    digest
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn signed_out(state: &PagesState) -> HttpResponse {
    let mut response = render(
        state,
        StatusCode::OK,
        SIGNED_OUT,
        &PlainPage { site: &state.site },
        &plain_csp(state),
    );
    add_cookie(&mut response, cookies::clear(SESSION, &state.settings));
    response
}

async fn signout_get(req: HttpRequest, state: State) -> HttpResponse {
    let cookie = cookies::read(&req, SESSION, &state.settings);
    let st = state.clone();
    let check = cookie.clone();
    let session = match web::block(move || live_session(&st, check.as_ref())).await {
        Ok(Ok(session)) => session,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "session lookup failed");
            return error_page(
                &state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server could not complete the request; try again later",
                None,
            );
        }
        Err(e) => return pool_failure(&state, &e),
    };
    match (session, cookie) {
        (Some(_), Some(cookie)) => {
            let token = signout_token(&cookie);
            render(
                &state,
                StatusCode::OK,
                SIGN_OUT,
                &SignOutPage {
                    site: &state.site,
                    csrf_token: &token,
                },
                &plain_csp(&state),
            )
        }
        _ => signed_out(&state),
    }
}

async fn signout_post(req: HttpRequest, state: State, body: web::Bytes) -> HttpResponse {
    let form = match Pairs::from_form(&req, &body) {
        Ok(f) => f,
        Err(e) => return form_error(&state, e),
    };
    let token = match form.one("csrf_token") {
        Ok(token) => token.unwrap_or_default().to_owned(),
        Err(name) => return repeated(&state, name),
    };
    let Some(cookie) = cookies::read(&req, SESSION, &state.settings) else {
        return signed_out(&state);
    };
    let expected = TokenDigest::of(&signout_token(&cookie));
    if !expected.ct_eq(&TokenDigest::of(&token)) {
        return stale_form(&state, STALE_FORM, "signout".into());
    }
    let context = request_context(&req);
    let st = state.clone();
    match web::block(move || st.users.sign_out(&cookie, &context)).await {
        Ok(Ok(())) => signed_out(&state),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "sign-out failed");
            error_page(
                &state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server could not sign you out; try again",
                Some("signout".into()),
            )
        }
        Err(e) => pool_failure(&state, &e),
    }
}

// ---------------------------------------------------------------------------------------------
// /assets/pages.css

async fn stylesheet(state: State) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        // The pages link it with a content hash in the query, so a changed file gets a new URL.
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(state.templates.stylesheet().to_owned())
}

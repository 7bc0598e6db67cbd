//! Handler tests of the pages over the domain's in-memory repositories, through the app-wide
//! JSON-error middleware (to prove the pages keep their HTML errors).

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::from_fn;
use actix_web::test::{self, TestRequest};
use actix_web::{web, App};
use authz_domain::authorization::{
    AuthorizationPolicy, AuthorizationService, InMemoryAuthorizationCodes,
    InMemoryPendingAuthorizations, ScopeDefinition,
};
use authz_domain::client_registration::{
    AuditAction, AuditEvent, Client, ClientMetadata, ClientOrigin, ClientRepository,
    ClientSettings, InMemoryClientRepository, RegistrationPolicy, RegistrationTokenRecord,
    RequestContext,
};
use authz_domain::clock::ManualClock;
use authz_domain::credentials::{Argon2Settings, SecretHasher, SystemRandomSource, TokenDigest};
use authz_domain::users::{
    ConsentService, InMemoryUserStore, LocalAuthenticator, PasswordPolicy, UserService,
    INVALID_CREDENTIALS_MESSAGE,
};
use secrecy::SecretString;
use serde_json::json;

use super::{configure_with, PagesSettings, PagesState};
use crate::middleware::json_errors;
use crate::{build_app, AppState};

/// The wiring the binary does compiles: the pages are configured on the built application.
#[allow(dead_code)]
fn the_pages_mount_on_build_app(state: AppState, pages: web::Data<PagesState>) {
    let _app = build_app(state).configure(configure_with(pages));
}

const NOW: i64 = 1_750_000_000;
const ISSUER: &str = "https://auth.example.com";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const PASSWORD: &str = "correct horse battery staple";
const LOOPBACK: &str = "http://127.0.0.1:53690/callback";
const HTTPS: &str = "https://app.example.com/cb";

// ---------------------------------------------------------------------------------------------
// Fixtures

fn client(client_id: &str, redirect_uri: &str, origin: ClientOrigin) -> Client {
    let raw = json!({
        "redirect_uris": [redirect_uri],
        "token_endpoint_auth_method": "none",
        "client_name": format!("{client_id} app"),
    });
    let raw = raw.as_object().cloned().unwrap_or_default();
    let metadata = ClientMetadata::from_request_at(&raw, &RegistrationPolicy::default(), NOW)
        .expect("fixture metadata");
    Client {
        client_id: client_id.into(),
        metadata,
        secret_hash: None,
        secret_expires_at: 0,
        issued_at: NOW,
        updated_at: NOW,
        origin,
        is_locked: false,
        settings: ClientSettings::default(),
        previous_secret: None,
        revision: 0,
    }
}

fn register(repo: &InMemoryClientRepository, client: &Client) {
    let token = RegistrationTokenRecord {
        digest: TokenDigest::of(&format!("rat_{}", client.client_id)),
        client_id: client.client_id.clone(),
        issued_at: NOW,
        expires_at: None,
    };
    let audit = AuditEvent::new(
        NOW,
        AuditAction::ClientRegistered,
        "client",
        &RequestContext::default(),
    );
    repo.create(client, &token, &audit).expect("fixture client");
}

struct Fixture {
    state: PagesState,
    pending: Arc<InMemoryPendingAuthorizations>,
    codes: Arc<InMemoryAuthorizationCodes>,
    store: Arc<InMemoryUserStore>,
    clock: Arc<ManualClock>,
}

/// Clients: `native` (loopback, dynamic), `web` (https, dynamic), `trusted` (https, created by
/// an administrator with `require_consent = false`). Users `alice` and `bob`.
fn fixture() -> Fixture {
    let clients = Arc::new(InMemoryClientRepository::new());
    register(
        &clients,
        &client(
            "native",
            "http://127.0.0.1:3000/callback",
            ClientOrigin::Dynamic,
        ),
    );
    register(&clients, &client("web", HTTPS, ClientOrigin::Dynamic));
    let mut trusted = client("trusted", HTTPS, ClientOrigin::Admin);
    trusted.settings.require_consent = false;
    register(&clients, &trusted);

    let clock = Arc::new(ManualClock::new(NOW));
    let rng = Arc::new(SystemRandomSource::new());
    let pending = Arc::new(InMemoryPendingAuthorizations::new());
    let codes = Arc::new(InMemoryAuthorizationCodes::new());
    let policy = AuthorizationPolicy {
        scopes: Some(vec![ScopeDefinition {
            name: "mcp:tools".into(),
            description: "Use your tools".into(),
        }]),
        ..AuthorizationPolicy::default()
    };
    let authorization = Arc::new(AuthorizationService::new(
        clients.clone(),
        pending.clone(),
        codes.clone(),
        rng.clone(),
        clock.clone(),
        policy,
        ISSUER,
    ));
    let hasher = SecretHasher::new(
        Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        2,
    )
    .expect("hasher");
    let store = Arc::new(InMemoryUserStore::new());
    let authenticator = Arc::new(
        LocalAuthenticator::new(
            store.clone(),
            hasher.clone(),
            rng.as_ref(),
            PasswordPolicy::default(),
        )
        .expect("authenticator"),
    );
    let users = UserService::new(
        store.clone(),
        store.clone(),
        authenticator,
        store.clone(),
        hasher,
        rng,
        clock.clone(),
    );
    for name in ["alice", "bob"] {
        users
            .create_user(
                name,
                None,
                SecretString::from(PASSWORD.to_owned()),
                "cli",
                &RequestContext::default(),
            )
            .expect("user");
    }
    let consents = ConsentService::new(store.clone(), store.clone(), clock.clone());
    let mut settings = PagesSettings::new(ISSUER);
    settings.product_name = "Acme Auth".into();
    // The test service is reached over plain http; secure_cookies_use_the_host_prefix turns them on.
    settings.secure_cookies = false;
    let state =
        PagesState::new(authorization, users, consents, clients, settings).expect("pages state");
    Fixture {
        state,
        pending,
        codes,
        store,
        clock,
    }
}

fn authorize_query(client_id: &str, redirect_uri: &str, extra: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", "xyz")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", "mcp:tools")
        .append_pair("resource", "https://mcp.example.com/mcp");
    for (k, v) in extra {
        query.append_pair(k, v);
    }
    format!("/authorize?{}", query.finish())
}

// ---------------------------------------------------------------------------------------------
// A browser: a cookie jar over the test service

/// What a test looks at in a response.
#[derive(Debug)]
struct Page {
    status: StatusCode,
    headers: header::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no Location in {} {}", self.status, self.body))
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    /// The value of the hidden input `name`.
    fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no input {name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').expect("closing quote") + start;
        self.body[start..end].to_owned()
    }

    fn set_cookies(&self) -> Vec<Cookie<'static>> {
        self.headers
            .get_all(header::SET_COOKIE)
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| Cookie::parse(v.to_owned()).ok())
            .collect()
    }

    /// An HTML page with every security header of contract §3.
    fn assert_secure_html(&self) {
        assert!(
            self.header(header::CONTENT_TYPE).starts_with("text/html"),
            "{:?}",
            self.headers
        );
        self.assert_security_headers();
    }

    fn assert_security_headers(&self) {
        let csp = self.header(header::CONTENT_SECURITY_POLICY);
        for part in [
            "default-src 'none'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(part), "{part} missing from {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(self.header(header::X_FRAME_OPTIONS), "DENY");
        assert_eq!(self.header(header::REFERRER_POLICY), "no-referrer");
        assert_eq!(self.header(header::CACHE_CONTROL), "no-store");
        assert_eq!(self.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    }
}

struct Browser<S> {
    app: S,
    cookies: HashMap<String, String>,
}

impl<S, B> Browser<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    async fn send(&mut self, req: TestRequest) -> Page {
        let mut req = req;
        for (name, value) in &self.cookies {
            req = req.cookie(Cookie::new(name.clone(), value.clone()));
        }
        let res = test::call_service(&self.app, req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let body = test::read_body(res).await;
        let page = Page {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        for cookie in page.set_cookies() {
            if cookie.value().is_empty() {
                self.cookies.remove(cookie.name());
            } else {
                self.cookies
                    .insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        self.send(TestRequest::get().uri(&path)).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.send(
            TestRequest::post()
                .uri(path)
                .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
                .set_payload(body),
        )
        .await
    }

    /// `/authorize` up to the sign-in page; returns the pending id and the sign-in page.
    async fn start(&mut self, query: &str) -> (String, Page) {
        let res = self.get(query).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let location = res.location().to_owned();
        assert!(location.starts_with("signin?request=ar_"), "{location}");
        let id = location.trim_start_matches("signin?request=").to_owned();
        let page = self.get(&location).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        (id, page)
    }

    /// Submits the sign-in form of `page`.
    async fn sign_in(&mut self, page: &Page, username: &str, password: &str) -> Page {
        let (id, csrf) = (page.hidden("request"), page.hidden("csrf_token"));
        self.post(
            "/signin",
            &[
                ("request", &id),
                ("csrf_token", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// From `/authorize` to the consent page, signing in as `username`.
    async fn reach_consent(&mut self, query: &str, username: &str) -> (String, Page) {
        let (id, signin) = self.start(query).await;
        let res = self.sign_in(&signin, username, PASSWORD).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(res.location(), format!("consent?request={id}"));
        let consent = self.get(res.location()).await;
        assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
        (id, consent)
    }

    async fn decide(&mut self, consent: &Page, decision: &str) -> Page {
        let (id, csrf) = (consent.hidden("request"), consent.hidden("csrf_token"));
        self.post(
            "/consent",
            &[
                ("request", &id),
                ("csrf_token", &csrf),
                ("decision", decision),
            ],
        )
        .await
    }
}

async fn browser(
    fixture: Fixture,
) -> (
    Browser<
        impl Service<
            actix_http::Request,
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
        >,
    >,
    Arc<InMemoryPendingAuthorizations>,
    Arc<InMemoryAuthorizationCodes>,
    Arc<InMemoryUserStore>,
) {
    let Fixture {
        state,
        pending,
        codes,
        store,
        ..
    } = fixture;
    let app = test::init_service(
        App::new()
            .configure(configure_with(web::Data::new(state)))
            .wrap(from_fn(json_errors)),
    )
    .await;
    (
        Browser {
            app,
            cookies: HashMap::new(),
        },
        pending,
        codes,
        store,
    )
}

/// The query parameters of a redirect.
fn query_of(location: &str) -> HashMap<String, String> {
    let url = url::Url::parse(location).expect("absolute location");
    url.query_pairs().into_owned().collect()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[actix_web::test]
async fn the_whole_flow_ends_in_a_302_with_code_state_and_iss() {
    let (mut b, pending, codes, store) = browser(fixture()).await;
    let (id, signin) = b.start(&authorize_query("native", LOOPBACK, &[])).await;
    signin.assert_secure_html();
    assert!(signin.body.contains("native app"), "{}", signin.body);
    // The sign-in POST may redirect straight to the client: its form-action allows it.
    assert!(signin
        .header(header::CONTENT_SECURITY_POLICY)
        .contains("form-action 'self' http://127.0.0.1:53690;"));
    let pre = signin
        .set_cookies()
        .into_iter()
        .find(|c| c.name() == "authz_signin")
        .unwrap_or_else(|| panic!("pre-sign-in cookie: {:?}", signin.headers));
    assert_eq!(pre.http_only(), Some(true));

    let res = b.sign_in(&signin, "alice", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    res.assert_security_headers();
    let session = res
        .set_cookies()
        .into_iter()
        .find(|c| c.name() == "authz_session")
        .expect("session cookie");
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(session.same_site(), Some(actix_web::cookie::SameSite::Lax));
    assert_eq!(session.path(), Some("/"));
    assert_eq!(store.session_count(), 1);

    let consent = b.get(res.location()).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    consent.assert_secure_html();
    let csp = consent.header(header::CONTENT_SECURITY_POLICY);
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:53690;"),
        "{csp}"
    );
    for text in [
        "<p class=\"host\"><bdi>127.0.0.1:53690</bdi></p>",
        "an application on this computer",
        "<span class=\"badge\">unverified</span>",
        "Use your tools <code>mcp:tools</code>",
        "mcp.example.com",
        "Signed in as <bdi>alice</bdi>",
        "value=\"allow\"",
        "value=\"deny\"",
        "<html lang=\"en\">",
    ] {
        assert!(
            consent.body.contains(text),
            "{text} missing: {}",
            consent.body
        );
    }
    assert_eq!(consent.hidden("request"), id);

    let res = b.decide(&consent, "allow").await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert_eq!(res.header(header::CACHE_CONTROL), "no-store");
    let location = res.location();
    assert!(location.starts_with(LOOPBACK), "{location}");
    let query = query_of(location);
    assert!(query["code"].starts_with("ac_"), "{location}");
    assert_eq!(query["state"], "xyz");
    assert_eq!(query["iss"], ISSUER);
    assert_eq!(query.len(), 3, "{location}");
    assert!(pending.is_empty(), "the pending request is completed");
    assert!(codes.len() == 1);

    // The request is single use: Allow again is the error page.
    let again = b.decide(&consent, "allow").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    again.assert_secure_html();
}

#[actix_web::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_message() {
    let (mut b, _, _, store) = browser(fixture()).await;
    let (_, signin) = b.start(&authorize_query("native", LOOPBACK, &[])).await;
    let wrong = b.sign_in(&signin, "alice", "not the password at all").await;
    let unknown = b.sign_in(&signin, "nobody", PASSWORD).await;
    for page in [&wrong, &unknown] {
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        page.assert_secure_html();
        assert!(
            page.body.contains(INVALID_CREDENTIALS_MESSAGE),
            "{}",
            page.body
        );
        assert!(page.body.contains("type=\"password\""), "form shown again");
        assert!(page
            .set_cookies()
            .iter()
            .all(|c| c.name() != "authz_session"));
    }
    assert_eq!(store.session_count(), 0);
    // And the form still works.
    let res = b.sign_in(&wrong, "alice", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

#[actix_web::test]
async fn a_missing_or_stale_csrf_token_gets_a_page_that_says_so_and_changes_nothing() {
    let (mut b, _, _, store) = browser(fixture()).await;
    let (id, signin) = b.start(&authorize_query("native", LOOPBACK, &[])).await;
    let csrf = signin.hidden("csrf_token");

    let missing = b
        .post(
            "/signin",
            &[
                ("request", &id),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let stale = b
        .post(
            "/signin",
            &[
                ("request", &id),
                ("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    for page in [&missing, &stale] {
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
        page.assert_secure_html();
        assert!(page.body.contains("expired"), "{}", page.body);
        assert!(page.body.contains("nothing was"), "{}", page.body);
        assert!(page.headers.get(header::LOCATION).is_none());
    }
    assert_eq!(store.session_count(), 0, "nobody was signed in");

    // A valid token without the pre-sign-in cookie it is bound to (another browser) is stale.
    let cookies = std::mem::take(&mut b.cookies);
    let other = b
        .post(
            "/signin",
            &[
                ("request", &id),
                ("csrf_token", &csrf),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST, "{}", other.body);
    assert_eq!(store.session_count(), 0);
    b.cookies = cookies;

    // The consent form: missing token refused, the request still usable afterwards.
    let res = b.sign_in(&signin, "alice", PASSWORD).await;
    let consent = b.get(res.location()).await;
    let missing = b
        .post("/consent", &[("request", &id), ("decision", "allow")])
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.body);
    assert!(missing.body.contains("expired"), "{}", missing.body);
    let res = b.decide(&consent, "allow").await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
}

#[actix_web::test]
async fn a_consent_post_from_another_session_is_refused() {
    let fixture = fixture();
    let Fixture {
        state,
        pending,
        codes,
        store,
        ..
    } = fixture;
    let app = test::init_service(
        App::new()
            .configure(configure_with(web::Data::new(state)))
            .wrap(from_fn(json_errors)),
    )
    .await;
    let mut alice = Browser {
        app,
        cookies: HashMap::new(),
    };
    let (alice_id, alice_consent) = alice
        .reach_consent(&authorize_query("native", LOOPBACK, &[]), "alice")
        .await;

    // Bob, in another browser, with his own session.
    let mut bob = Browser {
        app: alice.app,
        cookies: HashMap::new(),
    };
    let (_, bob_consent) = bob
        .reach_consent(&authorize_query("native", LOOPBACK, &[]), "bob")
        .await;
    assert!(bob_consent.body.contains("Signed in as <bdi>bob</bdi>"));

    // Bob posts Alice's form (her request id and token): refused, nothing changes.
    let res = bob.decide(&alice_consent, "allow").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.headers.get(header::LOCATION).is_none());
    // Bob cannot even see Alice's consent page.
    let res = bob.get(&format!("/consent?request={alice_id}")).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("another sign-in"), "{}", res.body);
    // Bob's token for his own session, with Alice's request id: refused.
    let res = bob
        .post(
            "/consent",
            &[
                ("request", &alice_id),
                ("csrf_token", &bob_consent.hidden("csrf_token")),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(codes.len(), 0);
    assert_eq!(pending.len(), 2);

    // Alice's own Allow still works.
    alice.app = bob.app;
    let res = alice.decide(&alice_consent, "allow").await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert_eq!(store.session_count(), 2);
}

#[actix_web::test]
async fn deny_redirects_with_access_denied() {
    let (mut b, pending, codes, store) = browser(fixture()).await;
    let (_, consent) = b
        .reach_consent(&authorize_query("native", LOOPBACK, &[]), "alice")
        .await;
    let res = b.decide(&consent, "deny").await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    let query = query_of(res.location());
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["state"], "xyz");
    assert_eq!(query["iss"], ISSUER);
    assert!(!query.contains_key("code"));
    assert!(pending.is_empty());
    assert_eq!(codes.len(), 0);
    assert!(store
        .audit_events()
        .iter()
        .any(|e| e.action == AuditAction::ConsentDenied));
}

#[actix_web::test]
async fn an_unknown_client_or_a_wrong_redirect_uri_gets_an_html_error_page_and_no_redirect() {
    let (mut b, pending, _, _) = browser(fixture()).await;
    let cases = [
        authorize_query("nobody", LOOPBACK, &[]),
        authorize_query("native", "http://127.0.0.1:3000/other", &[]),
        authorize_query("web", "https://app.example.com/cb/", &[]),
        authorize_query("native", "http://localhost:3000/callback", &[]),
        format!(
            "{}&client_id=native",
            authorize_query("native", LOOPBACK, &[])
        ),
    ];
    for query in cases {
        let page = b.get(&query).await;
        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            page.body
        );
        page.assert_secure_html();
        assert!(page.headers.get(header::LOCATION).is_none(), "{query}");
        assert!(page.body.contains("<h1>"), "{}", page.body);
    }
    assert!(pending.is_empty());
}

#[actix_web::test]
async fn errors_after_the_redirect_uri_is_verified_are_redirected() {
    let (mut b, _, _, _) = browser(fixture()).await;
    // A repeated parameter other than resource.
    let query = format!("{}&state=again", authorize_query("native", LOOPBACK, &[]));
    let res = b.get(&query).await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert_eq!(query_of(res.location())["error"], "invalid_request");
    assert_eq!(res.header(header::CACHE_CONTROL), "no-store");
    // prompt=none without a session.
    let res = b
        .get(&authorize_query("native", LOOPBACK, &[("prompt", "none")]))
        .await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    let query = query_of(res.location());
    assert_eq!(query["error"], "login_required");
    assert_eq!(query["iss"], ISSUER);
}

#[actix_web::test]
async fn the_authorization_request_may_be_a_form_post() {
    let (mut b, _, _, _) = browser(fixture()).await;
    let query = authorize_query("native", LOOPBACK, &[]);
    let form: Vec<(String, String)> =
        url::form_urlencoded::parse(query.trim_start_matches("/authorize?").as_bytes())
            .into_owned()
            .collect();
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = b.post("/authorize", &form).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(res.location().starts_with("signin?request=ar_"));
    // Not a form: the error page.
    let res = b
        .send(
            TestRequest::post()
                .uri("/authorize")
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .set_payload("{}"),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    res.assert_secure_html();
}

#[actix_web::test]
async fn a_remembered_consent_is_reused_for_https_but_not_for_loopback() {
    let (mut b, _, codes, _) = browser(fixture()).await;
    // https: asked once, then remembered.
    let (_, consent) = b
        .reach_consent(&authorize_query("web", HTTPS, &[]), "alice")
        .await;
    assert!(!consent.body.contains("an application on this computer"));
    assert!(consent
        .header(header::CONTENT_SECURITY_POLICY)
        .contains("form-action 'self' https://app.example.com;"));
    let res = b.decide(&consent, "allow").await;
    assert_eq!(res.status, StatusCode::FOUND);
    let res = b.get(&authorize_query("web", HTTPS, &[])).await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert!(query_of(res.location())["code"].starts_with("ac_"));
    // prompt=consent asks again even so.
    let res = b
        .get(&authorize_query("web", HTTPS, &[("prompt", "consent")]))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(res.location().starts_with("consent?request="));

    // loopback: asked every time (the session is there, so straight to the consent page).
    let res = b.get(&authorize_query("native", LOOPBACK, &[])).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(
        res.location().starts_with("consent?request="),
        "{}",
        res.location()
    );
    let consent = b.get(res.location()).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    let res = b.decide(&consent, "allow").await;
    assert_eq!(res.status, StatusCode::FOUND);
    let res = b.get(&authorize_query("native", LOOPBACK, &[])).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(
        res.location().starts_with("consent?request="),
        "{}",
        res.location()
    );
    assert_eq!(codes.len(), 3);
}

#[actix_web::test]
async fn a_client_that_needs_no_consent_gets_its_code_after_sign_in() {
    let (mut b, _, _, _) = browser(fixture()).await;
    let (_, signin) = b.start(&authorize_query("trusted", HTTPS, &[])).await;
    assert!(
        !signin.body.contains("unverified"),
        "an administrator's client"
    );
    let res = b.sign_in(&signin, "alice", PASSWORD).await;
    assert_eq!(res.status, StatusCode::FOUND, "{}", res.body);
    assert!(query_of(res.location())["code"].starts_with("ac_"));
    assert!(res
        .set_cookies()
        .iter()
        .any(|c| c.name() == "authz_session"));
}

#[actix_web::test]
async fn a_new_session_is_issued_at_every_sign_in_and_prompt_login_asks_again() {
    let fixture = fixture();
    let clock = fixture.clock.clone();
    let (mut b, _, _, store) = browser(fixture).await;
    let (_, consent) = b
        .reach_consent(&authorize_query("native", LOOPBACK, &[]), "alice")
        .await;
    b.decide(&consent, "allow").await;
    let first = b.cookies["authz_session"].clone();
    // Without prompt=login the session is enough.
    let res = b.get(&authorize_query("native", LOOPBACK, &[])).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(
        res.location().starts_with("consent?request="),
        "{}",
        res.location()
    );
    clock.advance(5);
    // With a session, prompt=login still shows the sign-in page.
    let (_, signin) = b
        .start(&authorize_query("native", LOOPBACK, &[("prompt", "login")]))
        .await;
    let res = b.sign_in(&signin, "alice", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let second = b.cookies["authz_session"].clone();
    assert_ne!(first, second, "no session fixation");
    assert_eq!(store.session_count(), 1, "the previous session was ended");
}

#[actix_web::test]
async fn the_consent_page_without_a_session_sends_to_sign_in() {
    let (mut b, _, _, _) = browser(fixture()).await;
    let (id, _) = b
        .reach_consent(&authorize_query("native", LOOPBACK, &[]), "alice")
        .await;
    b.cookies.remove("authz_session");
    let res = b.get(&format!("/consent?request={id}")).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), format!("signin?request={id}"));
    // An unknown request id: the error page.
    let res = b.get("/signin?request=ar_nope").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    res.assert_secure_html();
    assert!(res.body.contains("expired"), "{}", res.body);
}

#[actix_web::test]
async fn sign_out_asks_first_then_ends_the_session() {
    let (mut b, _, _, store) = browser(fixture()).await;
    b.reach_consent(&authorize_query("native", LOOPBACK, &[]), "alice")
        .await;
    assert_eq!(store.session_count(), 1);
    let confirm = b.get("/signout").await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    confirm.assert_secure_html();
    let stale = b.post("/signout", &[("csrf_token", "nope")]).await;
    assert_eq!(stale.status, StatusCode::BAD_REQUEST);
    assert_eq!(store.session_count(), 1);
    let token = confirm.hidden("csrf_token");
    let done = b.post("/signout", &[("csrf_token", &token)]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("signed out"), "{}", done.body);
    assert_eq!(store.session_count(), 0);
    assert!(!b.cookies.contains_key("authz_session"));
    // Signed out: /authorize asks to sign in again.
    b.start(&authorize_query("native", LOOPBACK, &[])).await;
}

#[actix_web::test]
async fn actix_errors_on_page_routes_stay_html_and_the_stylesheet_is_cached() {
    let (mut b, _, _, _) = browser(fixture()).await;
    let res = b
        .send(TestRequest::default().method(Method::PUT).uri("/consent"))
        .await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    res.assert_secure_html();
    let big = "x".repeat(super::MAX_FORM_BYTES + 1);
    let res = b.post("/authorize", &[("state", &big)]).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.body);
    res.assert_secure_html();

    let css = b.get("/assets/pages.css?v=1").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.header(header::CONTENT_TYPE).starts_with("text/css"));
    assert!(css
        .header(header::CACHE_CONTROL)
        .contains("max-age=31536000"));
    assert!(css.body.contains(":focus-visible"));
}

#[actix_web::test]
async fn secure_cookies_use_the_host_prefix() {
    let mut fixture = fixture();
    fixture.state.settings.secure_cookies = true;
    let (mut b, _, _, _) = browser(fixture).await;
    let (_, signin) = b.start(&authorize_query("native", LOOPBACK, &[])).await;
    let pre = signin.set_cookies();
    assert_eq!(pre[0].name(), "__Host-authz_signin");
    assert_eq!(pre[0].secure(), Some(true));
    let res = b.sign_in(&signin, "alice", PASSWORD).await;
    let session = res
        .set_cookies()
        .into_iter()
        .find(|c| c.name() == "__Host-authz_session")
        .expect("secure session cookie");
    assert_eq!(session.secure(), Some(true));
    assert_eq!(session.path(), Some("/"));
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

#[test]
fn an_issuer_other_than_the_services_is_refused() {
    let fixture = fixture();
    let state = fixture.state;
    let mut settings = state.settings.clone();
    settings.issuer = "https://other.example.com".into();
    let err = PagesState::new(
        state.authorization.clone(),
        state.users.clone(),
        state.consents.clone(),
        state.clients.clone(),
        settings,
    )
    .expect_err("refused");
    assert!(err.to_string().contains("issuer"), "{err}");
}

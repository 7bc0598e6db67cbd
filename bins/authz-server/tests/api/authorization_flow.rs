//! The whole authorization code flow over HTTP, as a browser and an MCP client drive it: authorize
//! → sign-in page → consent page → redirect with code, state and iss → token → refresh. On both
//! backends, with the cookies, CSRF tokens and headers the pages really send.

use std::collections::BTreeMap;

use authz_domain::audit::RequestContext;
use authz_server::startup::Services;
use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use secrecy::SecretString;
use serde_json::{json, Value};
use url::Url;

use crate::helpers::{spawn_app, TestApp};
use crate::on_both_backends;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const REDIRECT: &str = "http://127.0.0.1:53682/callback";
const PASSWORD: &str = "correct horse battery";

/// A browser: a cookie jar and no automatic redirects.
struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .expect("client"),
            cookies: BTreeMap::new(),
        }
    }

    fn absorb(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().expect("ascii cookie");
            let pair = text.split(';').next().expect("pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, path_or_url: &str) -> reqwest::Response {
        let url = self.resolve(path_or_url);
        let res = self
            .http
            .get(url)
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .expect("sent");
        self.absorb(res.headers());
        res
    }

    async fn post(&mut self, path_or_url: &str, form: &[(String, String)]) -> reqwest::Response {
        let url = self.resolve(path_or_url);
        let res = self
            .http
            .post(url)
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("sent");
        self.absorb(res.headers());
        res
    }

    fn resolve(&self, path_or_url: &str) -> String {
        Url::parse(&self.app.url("/"))
            .expect("base")
            .join(path_or_url)
            .expect("url")
            .to_string()
    }
}

fn location(res: &reqwest::Response) -> String {
    res.headers()[LOCATION].to_str().expect("ascii").to_owned()
}

/// The hidden inputs of the page's first form, and its action.
fn form_of(html: &str) -> (String, Vec<(String, String)>) {
    let start = html.find("<form").expect("a form");
    let form = &html[start..html[start..].find("</form>").expect("form end") + start];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!("{name}=\"");
        tag.find(&key).map(|i| {
            let rest = &tag[i + key.len()..];
            rest[..rest.find('"').expect("quote")].replace("&amp;", "&")
        })
    };
    let head = &form[..form.find('>').expect(">")];
    let action = attr(head, "action").expect("action");
    let mut fields = Vec::new();
    for part in form.split("<input").skip(1) {
        let tag = &part[..part.find('>').expect(">")];
        if attr(tag, "type").as_deref() == Some("hidden") {
            fields.push((
                attr(tag, "name").expect("name"),
                attr(tag, "value").unwrap_or_default(),
            ));
        }
    }
    (action, fields)
}

async fn register_public(app: &TestApp) -> String {
    let res = app
        .register(&json!({
            "client_name": "Claude Code",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    body["client_id"].as_str().expect("id").to_owned()
}

fn create_user(app: &TestApp, username: &str) {
    let services = Services::build(&app.settings, &app.db).expect("services");
    services
        .users
        .create_user(
            username,
            None,
            SecretString::from(PASSWORD.to_owned()),
            "cli",
            &RequestContext::default(),
        )
        .expect("user created");
}

fn authorize_path(client_id: &str, state: &str) -> String {
    let mut url = Url::parse("http://x/authorize").expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", state)
        .append_pair("resource", "https://mcp.example.com/mcp");
    format!("/authorize?{}", url.query().expect("query"))
}

/// Runs authorize → sign-in → consent; returns the final redirect's URL.
async fn sign_in_and_allow(browser: &mut Browser<'_>, client_id: &str, state: &str) -> Url {
    let res = browser.get(&authorize_path(client_id, state)).await;
    assert_eq!(res.status(), 303, "to the sign-in page");
    let signin = location(&res);
    let res = browser.get(&signin).await;
    assert_eq!(res.status(), 200);
    for header in [
        "content-security-policy",
        "x-frame-options",
        "referrer-policy",
    ] {
        assert!(res.headers().contains_key(header), "{header}");
    }
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.expect("html");
    let (action, mut fields) = form_of(&html);
    fields.push(("username".into(), "alice".into()));
    fields.push(("password".into(), PASSWORD.into()));
    let res = browser
        .post(&browser.resolve(&format!("/{action}")), &fields)
        .await;
    assert_eq!(res.status(), 303, "to the consent page");
    let consent = location(&res);
    let res = browser.get(&consent).await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("http://127.0.0.1:53682"),
        "form-action allows the redirect: {csp}"
    );
    let html = res.text().await.expect("html");
    assert!(
        html.contains("Claude Code") && html.to_lowercase().contains("unverified"),
        "{html}"
    );
    assert!(html.contains("127.0.0.1"), "the redirect host is shown");
    assert!(html.contains("mcp.example.com"), "the resource is shown");
    let (action, mut fields) = form_of(&html);
    fields.push(("decision".into(), "allow".into()));
    let res = browser
        .post(&browser.resolve(&format!("/{action}")), &fields)
        .await;
    assert_eq!(res.status(), 302, "to the client");
    Url::parse(&location(&res)).expect("redirect URL")
}

on_both_backends! {
    async fn an_mcp_client_gets_tokens_through_sign_in_and_consent(backend: Backend) {
        let app = spawn_app(backend).await;
        let client_id = register_public(&app).await;
        create_user(&app, "alice");
        let mut browser = Browser::new(&app);
        let callback = sign_in_and_allow(&mut browser, &client_id, "xyz-state").await;
        assert!(callback.as_str().starts_with(REDIRECT), "{callback}");
        let params: BTreeMap<String, String> = callback.query_pairs().into_owned().collect();
        assert_eq!(params["state"], "xyz-state");
        assert_eq!(params["iss"], app.address);
        let code = params["code"].clone();

        let token = |form: Vec<(&'static str, String)>| {
            let http = app.http.clone();
            let url = app.url("/token");
            async move { http.post(url).form(&form).send().await.expect("sent") }
        };
        let res = token(vec![
            ("grant_type", "authorization_code".into()), ("client_id", client_id.clone()),
            ("code", code.clone()), ("code_verifier", VERIFIER.into()), ("redirect_uri", REDIRECT.into()),
        ]).await;
        assert_eq!(res.status(), 200);
        let tokens: Value = res.json().await.expect("json");
        let rt = tokens["refresh_token"].as_str().expect("refresh token").to_owned();
        let res = token(vec![
            ("grant_type", "refresh_token".into()), ("client_id", client_id.clone()), ("refresh_token", rt.clone()),
        ]).await;
        assert_eq!(res.status(), 200);
        let refreshed: Value = res.json().await.expect("json");
        assert_ne!(refreshed["refresh_token"].as_str().expect("rotated"), rt);

        // The code is single use.
        let res = token(vec![
            ("grant_type", "authorization_code".into()), ("client_id", client_id.clone()),
            ("code", code), ("code_verifier", VERIFIER.into()), ("redirect_uri", REDIRECT.into()),
        ]).await;
        assert_eq!(res.status(), 400);

        // A second authorization in the same session skips sign-in but asks consent again:
        // the redirect is a loopback one, which any local program could claim.
        let res = browser.get(&authorize_path(&client_id, "second")).await;
        assert_eq!(res.status(), 303);
        assert!(location(&res).contains("consent"), "{}", location(&res));
    }

    async fn errors_before_the_redirect_uri_is_verified_never_redirect(backend: Backend) {
        let app = spawn_app(backend).await;
        let client_id = register_public(&app).await;
        let mut browser = Browser::new(&app);
        for path in [
            "/authorize?response_type=code&client_id=nobody".to_owned(),
            authorize_path(&client_id, "s").replace("53682%2Fcallback", "53682%2Fcallback%2F"),
            authorize_path(&client_id, "s").replace("127.0.0.1", "localhost"),
            // Bytes that are not UTF-8 cannot be echoed back unchanged: refused, never redirected.
            authorize_path(&client_id, "s").replace("state=s", "state=a%FFb"),
        ] {
            let res = browser.get(&path).await;
            assert_eq!(res.status(), 400, "{path}");
            assert!(res.headers().get(LOCATION).is_none(), "{path}");
            assert!(res.headers()["content-type"].to_str().expect("ascii").starts_with("text/html"), "{path}");
        }
        // A later error redirects with error, state and iss.
        let path = authorize_path(&client_id, "s").replace("code_challenge_method=S256", "code_challenge_method=plain");
        let res = browser.get(&path).await;
        assert_eq!(res.status(), 302);
        let url = Url::parse(&location(&res)).expect("url");
        let params: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(params["error"], "invalid_request");
        assert_eq!(params["state"], "s");
        assert_eq!(params["iss"], app.address);
    }

    async fn a_wrong_password_and_an_unknown_user_look_the_same(backend: Backend) {
        let app = spawn_app(backend).await;
        let client_id = register_public(&app).await;
        create_user(&app, "alice");
        let mut answers = Vec::new();
        for (user, password) in [("alice", "wrong password"), ("mallory", PASSWORD)] {
            let mut browser = Browser::new(&app);
            let res = browser.get(&authorize_path(&client_id, "s")).await;
            let signin = location(&res);
            let html = browser.get(&signin).await.text().await.expect("html");
            let (action, mut fields) = form_of(&html);
            fields.push(("username".into(), user.into()));
            fields.push(("password".into(), password.into()));
            let res = browser.post(&browser.resolve(&format!("/{action}")), &fields).await;
            assert_eq!(res.status(), 200, "the form again");
            let html = res.text().await.expect("html");
            assert!(!html.contains(password), "the password is never echoed");
            let message = html.split("role=\"alert\"").nth(1).map(|s| s[..s.find('<').unwrap_or(0)].to_owned());
            answers.push(message);
        }
        assert_eq!(answers[0], answers[1]);
    }

    async fn a_sign_in_post_without_its_csrf_token_changes_nothing(backend: Backend) {
        let app = spawn_app(backend).await;
        let client_id = register_public(&app).await;
        create_user(&app, "alice");
        let mut browser = Browser::new(&app);
        let res = browser.get(&authorize_path(&client_id, "s")).await;
        let signin = location(&res);
        let html = browser.get(&signin).await.text().await.expect("html");
        let (action, fields) = form_of(&html);
        let mut without: Vec<(String, String)> = fields.iter().filter(|(k, _)| k != "csrf_token").cloned().collect();
        without.push(("username".into(), "alice".into()));
        without.push(("password".into(), PASSWORD.into()));
        let res = browser.post(&browser.resolve(&format!("/{action}")), &without).await;
        assert_eq!(res.status(), 400);
        assert!(!browser.cookies.keys().any(|k| k.contains("session")), "no session was started");
    }
}

//! Sign-in throttling (issue 10): failed passwords per account and per address slow down, then
//! lock for a while; the page says so with a 429; the state is in the database, so another
//! instance on the same database sees it; a success clears the account's count.

use authz_domain::audit::{AuditAction, RequestContext};
use authz_domain::users::{throttle_key, ThrottleKind};
use authz_server::startup::Services;
use authz_storage::schema::{audit_events, sign_in_throttle};
use diesel::prelude::*;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_on, spawn_app_with, TestApp};
use crate::on_both_backends;

const REDIRECT: &str = "http://127.0.0.1:53682/callback";
const PASSWORD: &str = "correct horse battery";

/// A sign-in form opened by a browser: where it posts, its hidden fields and its cookies.
struct SignInForm {
    action: String,
    fields: Vec<(String, String)>,
    cookies: String,
    http: reqwest::Client,
}

impl SignInForm {
    async fn open(base: &str, client_id: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("client");
        let authorize = format!(
            "{base}/authorize?response_type=code&client_id={client_id}&redirect_uri={}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s",
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        );
        let res = http.get(authorize).send().await.expect("sent");
        assert_eq!(res.status(), 303);
        let signin = res.headers()[LOCATION].to_str().expect("ascii").to_owned();
        let page = url::Url::parse(&format!("{base}/authorize"))
            .expect("base")
            .join(&signin)
            .expect("url");
        let res = http.get(page.clone()).send().await.expect("sent");
        assert_eq!(res.status(), 200);
        let cookies = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| {
                v.to_str()
                    .expect("ascii")
                    .split(';')
                    .next()
                    .expect("pair")
                    .to_owned()
            })
            .collect::<Vec<_>>()
            .join("; ");
        let html = res.text().await.expect("html");
        let start = html.find("<form").expect("form");
        let form = &html[start..];
        let form = &form[..form.find("</form>").expect("end")];
        let attr = |tag: &str, name: &str| -> Option<String> {
            let key = format!("{name}=\"");
            tag.find(&key).map(|i| {
                let rest = &tag[i + key.len()..];
                rest[..rest.find('"').expect("quote")].replace("&amp;", "&")
            })
        };
        let action = attr(&form[..form.find('>').expect(">")], "action").expect("action");
        let fields = form
            .split("<input")
            .skip(1)
            .map(|part| &part[..part.find('>').expect(">")])
            .filter(|tag| attr(tag, "type").as_deref() == Some("hidden"))
            .map(|tag| {
                (
                    attr(tag, "name").expect("name"),
                    attr(tag, "value").unwrap_or_default(),
                )
            })
            .collect();
        Self {
            action: page.join(&action).expect("action").to_string(),
            fields,
            cookies,
            http,
        }
    }

    /// Posts the form (to `base`, another instance if wanted); returns status, Retry-After, body.
    async fn submit(
        &self,
        base: Option<&str>,
        username: &str,
        password: &str,
        forwarded_for: &str,
    ) -> (u16, Option<u64>, String) {
        let mut fields = self.fields.clone();
        fields.push(("username".into(), username.into()));
        fields.push(("password".into(), password.into()));
        let mut url = url::Url::parse(&self.action).expect("action");
        if let Some(base) = base {
            let other = url::Url::parse(base).expect("base");
            url.set_port(other.port()).expect("port");
        }
        let res = self
            .http
            .post(url)
            .header(COOKIE, &self.cookies)
            .header("x-forwarded-for", forwarded_for)
            .form(&fields)
            .send()
            .await
            .expect("sent");
        let status = res.status().as_u16();
        let retry = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().expect("ascii").parse().expect("number"));
        (status, retry, res.text().await.expect("body"))
    }
}

async fn setup(app: &TestApp) -> String {
    let services = Services::build(&app.settings, &app.db).expect("services");
    for name in ["alice", "bob"] {
        services
            .users
            .create_user(
                name,
                None,
                SecretString::from(PASSWORD.to_owned()),
                "cli",
                &RequestContext::default(),
            )
            .expect("user created");
    }
    let res = app.register(&json!({"client_name": "Claude Code", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"})).await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.expect("json")["client_id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn throttle_rows(app: &TestApp) -> i64 {
    app.db
        .read(|c| sign_in_throttle::table.count().get_result(c))
        .expect("count")
}

/// Sign-in audit records, once the audit writer has caught up.
async fn sign_in_audit_rows(app: &TestApp) -> i64 {
    let count = || -> i64 {
        app.db
            .read(|c| {
                audit_events::table
                    .filter(audit_events::action.eq(AuditAction::SignIn.as_str()))
                    .count()
                    .get_result(c)
            })
            .expect("count")
    };
    let mut last = count();
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let now = count();
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

const OVERRIDES: &[(&str, &str)] = &[
    ("server.trusted_proxies", "127.0.0.1"),
    ("rate_limits.sign_in_account_free_failures", "2"),
    ("rate_limits.sign_in_account_lock_after_failures", "5"),
    ("rate_limits.sign_in_max_delay_secs", "60"),
    ("rate_limits.sign_in_lock_secs", "600"),
];

on_both_backends! {
    async fn failed_passwords_slow_down_then_lock_and_the_page_says_so(backend: Backend) {
        let app = spawn_app_with(backend, OVERRIDES).await;
        let client_id = setup(&app).await;
        let form = SignInForm::open(&app.address, &client_id).await;
        let attacker = "203.0.113.9";

        // Two free failures, then each failure makes the next attempt wait 1 s, 2 s, ...
        for _ in 0..3 {
            let (status, _, body) = form.submit(None, "alice", "wrong password", attacker).await;
            assert_eq!(status, 200);
            assert!(body.contains("the username or the password is wrong"), "{body}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(form.submit(None, "alice", "wrong password", attacker).await.0, 200);
        let audited = sign_in_audit_rows(&app).await;
        // Within the wait even the right password is not checked: 429, the page says how long.
        let (status, retry, body) = form.submit(None, "ALICE", PASSWORD, attacker).await;
        assert_eq!(status, 429);
        let retry = retry.expect("Retry-After");
        assert!((1..=2).contains(&retry), "{retry}");
        assert!(body.contains("Too many failed sign-ins. Wait "), "{body}");
        assert!(body.contains("name=\"password\""), "the form is shown again");
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        // The fifth failure locks the account, from any address, on any instance.
        let (status, _, _) = form.submit(None, "alice", "wrong again", attacker).await;
        assert_eq!(status, 200);
        let (status, retry, body) = form.submit(None, "alice", PASSWORD, "198.51.100.20").await;
        assert_eq!(status, 429);
        let retry = retry.expect("Retry-After");
        assert!((590..=600).contains(&retry), "{retry}");
        assert!(body.contains("signing in is paused for a while. Try again in 10 minutes."), "{body}");
        let other = spawn_app_on(&app, OVERRIDES).await;
        let (status, _, _) = form.submit(Some(&other.address), "alice", PASSWORD, "198.51.100.21").await;
        assert_eq!(status, 429, "the lock is in the database");
        // Refused attempts reach neither the password check nor the audit trail.
        assert_eq!(sign_in_audit_rows(&app).await, audited + 1, "only the fifth failure was audited");

        // Another account from the attacker's address is not locked (the address budget is larger).
        let (status, _, _) = form.submit(None, "bob", PASSWORD, attacker).await;
        assert_eq!(status, 303, "bob signs in");
    }

    async fn a_success_clears_the_account_and_nothing_is_stored_in_clear(backend: Backend) {
        let app = spawn_app_with(backend, OVERRIDES).await;
        let client_id = setup(&app).await;
        let form = SignInForm::open(&app.address, &client_id).await;
        for _ in 0..2 {
            assert_eq!(form.submit(None, "alice", "wrong password", "192.0.2.7").await.0, 200);
        }
        // A password typed into the username field is stored only as a digest.
        assert_eq!(form.submit(None, PASSWORD, "x", "192.0.2.7").await.0, 200);
        let keys: Vec<Vec<u8>> = app.db.read(|c| sign_in_throttle::table.select(sign_in_throttle::key_digest).load(c)).expect("keys");
        assert_eq!(keys.len(), 3, "alice, the mistyped name, the address");
        assert!(keys.iter().all(|k| k.len() == 32));
        let alice = throttle_key(ThrottleKind::Account, "alice");
        assert!(keys.iter().any(|k| k.as_slice() == alice.as_bytes()));
        // Two failures are free: the right password signs in and clears alice's row.
        let (status, _, _) = form.submit(None, "alice", PASSWORD, "192.0.2.7").await;
        assert_eq!(status, 303);
        assert_eq!(throttle_rows(&app), 2, "alice's count is gone; the address's stays");
        let keys: Vec<Vec<u8>> = app.db.read(|c| sign_in_throttle::table.select(sign_in_throttle::key_digest).load(c)).expect("keys");
        assert!(!keys.iter().any(|k| k.as_slice() == alice.as_bytes()));
    }
}

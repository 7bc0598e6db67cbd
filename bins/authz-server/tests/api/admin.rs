//! The administration API under /admin: clients (list, search, read, create, replace, delete,
//! secret rotation, token reissue, lock, unlock), the audit trail, administrator tokens and their
//! scopes. Administrator tokens are made the way `authz-server admin-token create` makes them, on
//! the test application's own database.

use std::time::Duration;

use authz_domain::administration::AdminScopes;
use authz_server::startup::Services;
use authz_storage::schema::{admin_tokens, registration_access_tokens};
use diesel::prelude::*;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::helpers::{assert_error, assert_no_nulls, spawn_app, spawn_app_with, TestApp};
use crate::on_both_backends;

const BARE_CHALLENGE: &str = "Bearer realm=\"authz-server\"";
const INVALID_CHALLENGE: &str = "Bearer realm=\"authz-server\", error=\"invalid_token\", error_description=\"the administrator token is invalid, expired or revoked\"";
const USER_AGENT: &str = "authz-admin-tests/1.0";

/// Creates administrator tokens on the application's database, as the command line does.
fn admin_tokens<const N: usize>(app: &TestApp, specs: [(&str, &str); N]) -> [String; N] {
    let services = Services::build(&app.settings, &app.db).expect("services build");
    specs.map(|(name, scopes)| {
        services
            .admin
            .create_admin_token(name, AdminScopes::parse(scopes).expect("scopes"), None)
            .expect("administrator token created")
            .plaintext
            .expose_secret()
            .to_owned()
    })
}

/// Any request to the application, with an optional bearer token and JSON body.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut req = app
        .http
        .request(method, app.url(path))
        .header("user-agent", USER_AGENT);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.expect("request sent")
}

/// Asserts the status and returns the JSON body (shown on failure).
async fn expect_json(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.expect("body");
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// An administrator: a token with its scopes.
struct Admin<'a> {
    app: &'a TestApp,
    token: String,
}

impl<'a> Admin<'a> {
    fn new(app: &'a TestApp, name: &str, scopes: &str) -> Self {
        let [token] = admin_tokens(app, [(name, scopes)]);
        Self { app, token }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> reqwest::Response {
        call(self.app, method, path, Some(&self.token), body).await
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Option<&Value>) -> reqwest::Response {
        self.send(Method::POST, path, body).await
    }

    /// GET `path` with query parameters (percent-encoded by the client).
    async fn query(&self, path: &str, params: &[(&str, &str)]) -> reqwest::Response {
        self.app
            .http
            .get(self.app.url(path))
            .query(params)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request sent")
    }

    /// POST /admin/clients, expecting 201; returns the body.
    async fn create(&self, body: &Value) -> Value {
        expect_json(self.post("/admin/clients", Some(body)).await, 201).await
    }

    /// GET /admin/clients/{id}, expecting 200.
    async fn client(&self, id: &str) -> Value {
        expect_json(self.get(&format!("/admin/clients/{id}")).await, 200).await
    }

    /// The client ids of a listing, expecting 200.
    async fn list_ids(&self, params: &[(&str, &str)]) -> (Vec<String>, Value) {
        let body = expect_json(self.query("/admin/clients", params).await, 200).await;
        let ids = body["clients"]
            .as_array()
            .expect("clients")
            .iter()
            .map(|c| c["client_id"].as_str().expect("id").to_owned())
            .collect();
        (ids, body)
    }

    /// Every audit event the API shows, newest first.
    async fn all_audit_events(&self) -> Vec<Value> {
        let mut events = Vec::new();
        for page in 1.. {
            let page = page.to_string();
            let body = expect_json(
                self.query(
                    "/admin/audit-events",
                    &[("per_page", "100"), ("page", &page)],
                )
                .await,
                200,
            )
            .await;
            events.extend(body["events"].as_array().expect("events").iter().cloned());
            if body["has_more"] == false {
                return events;
            }
        }
        unreachable!()
    }
}

/// A public client that open registration (MCP profile) would accept too.
fn public_client(name: &str) -> Value {
    json!({
        "client_name": name,
        "redirect_uris": ["http://localhost:5173/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

/// A confidential client that open registration would accept too (so it can PUT itself).
fn web_client(name: &str) -> Value {
    json!({
        "client_name": name,
        "redirect_uris": ["https://app.example.com/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    })
}

fn with(mut body: Value, member: &str, value: Value) -> Value {
    body[member] = value;
    body
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .try_into()
        .expect("fits")
}

/// The client's own RFC 7592 read.
async fn self_get(app: &TestApp, id: &str, rat: &str) -> reqwest::Response {
    call(
        app,
        Method::GET,
        &format!("/register/{id}"),
        Some(rat),
        None,
    )
    .await
}

/// The client's own RFC 7592 replacement with `body` (plus its client_id).
async fn self_put(app: &TestApp, id: &str, rat: &str, body: &Value) -> reqwest::Response {
    let body = with(body.clone(), "client_id", json!(id));
    call(
        app,
        Method::PUT,
        &format!("/register/{id}"),
        Some(rat),
        Some(&body),
    )
    .await
}

async fn assert_invalid_token(res: reqwest::Response) {
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(res.headers()["www-authenticate"], INVALID_CHALLENGE);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "invalid_token");
}

/// The RFC 7592 refusal of an unusable registration access token.
async fn assert_rat_refused(res: reqwest::Response) {
    assert_eq!(res.status().as_u16(), 401);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "invalid_token");
}

/// The client's own PUT carrying `secret`, which the server accepts only if it verifies; on
/// success the registration access token rotates and `rat` is updated.
async fn prove(
    app: &TestApp,
    id: &str,
    rat: &mut String,
    metadata: &Value,
    secret: &str,
) -> (u16, Value) {
    let body = with(metadata.clone(), "client_secret", json!(secret));
    let res = self_put(app, id, rat, &body).await;
    let status = res.status().as_u16();
    let body: Value = res.json().await.expect("json");
    if status == 200 {
        *rat = body["registration_access_token"]
            .as_str()
            .expect("token")
            .to_owned();
    }
    (status, body)
}

fn live_registration_tokens(app: &TestApp, client_id: &str) -> i64 {
    app.db
        .read(|c| {
            registration_access_tokens::table
                .filter(registration_access_tokens::client_id.eq(client_id))
                .filter(registration_access_tokens::revoked_at.is_null())
                .count()
                .get_result(c)
        })
        .expect("count")
}

on_both_backends! {
    async fn create_read_list_and_delete_a_client(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = Admin::new(&app, "ops", "client:admin");
        let id = "billing-dashboard.v2_~x";
        let mut body = public_client("Billing dashboard");
        body["client_id"] = json!(id);
        body["contacts"] = json!(["ops@example.com"]);
        body["settings"] = json!({"require_consent": false, "access_token_lifetime_secs": 600});
        let before = now();
        let res = admin.post("/admin/clients", Some(&body)).await;
        assert_eq!(res.headers()["location"], app.url(&format!("/admin/clients/{id}")));
        assert_eq!(res.headers()["cache-control"], "no-store");
        let created = expect_json(res, 201).await;
        assert_no_nulls(&created);
        assert!(created.get("client_secret").is_none(), "a public client gets no secret");
        let rat = created["registration_access_token"].as_str().expect("token").to_owned();
        assert!(rat.starts_with("rat_"), "{rat}");
        let client = &created["client"];
        assert_eq!(client["client_id"], id);
        assert_eq!(client["origin"], "admin");
        assert_eq!(client["locked"], false);
        assert_eq!(client["has_secret"], false);
        for absent in ["client_secret", "client_secret_expires_at", "previous_secret_valid_until", "last_used_at", "registration_access_token"] {
            assert!(client.get(absent).is_none(), "{absent}: {client}");
        }
        let issued = client["client_id_issued_at"].as_i64().expect("issued_at");
        assert!((before..=now()).contains(&issued), "{issued}");
        assert_eq!(client["updated_at"], issued);
        assert_eq!(client["registration_client_uri"], app.url(&format!("/register/{id}")));
        assert_eq!(client["settings"], json!({"require_consent": false, "access_token_lifetime_secs": 600, "refresh_token_lifetime_secs": 2592000, "rotate_refresh_tokens": true, "allow_introspection": false}), "omitted settings take their defaults");
        let metadata = &client["metadata"];
        assert_eq!(metadata["client_name"], "Billing dashboard");
        assert_eq!(metadata["redirect_uris"], body["redirect_uris"]);
        assert_eq!(metadata["token_endpoint_auth_method"], "none");
        assert_eq!(metadata["contacts"], json!(["ops@example.com"]));
        assert!(metadata.get("client_id").is_none() && metadata.get("settings").is_none(), "{metadata}");

        // Reading it back gives the same view.
        assert_eq!(&admin.client(id).await, client);
        // Its registration access token works on its own URI.
        let own = expect_json(self_get(&app, id, &rat).await, 200).await;
        assert_eq!(own["client_id"], id);
        assert_eq!(own["client_name"], "Billing dashboard");

        // A dynamically registered client is listed too, as such.
        let dynamic: Value = app.register(&public_client("Dynamic one")).await.json().await.expect("json");
        let dynamic_id = dynamic["client_id"].as_str().expect("id").to_owned();
        let (ids, list) = admin.list_ids(&[]).await;
        assert_eq!(list["total"], 2);
        assert_eq!((list["page"].clone(), list["per_page"].clone(), list["sort"].clone()), (json!(1), json!(20), json!("-issued_at")));
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&dynamic_id) && ids.contains(&id.to_owned()), "{ids:?}");
        let listed = list["clients"].as_array().expect("clients").iter().find(|c| c["client_id"] == dynamic_id.as_str()).expect("listed");
        assert_eq!(listed["origin"], "dynamic");
        assert_eq!(listed["settings"]["require_consent"], true);

        // Delete: gone, its token dead, its id never issued again.
        let res = admin.send(Method::DELETE, &format!("/admin/clients/{id}"), None).await;
        assert_eq!(res.status().as_u16(), 204);
        assert!(res.bytes().await.expect("body").is_empty());
        let res = admin.get(&format!("/admin/clients/{id}")).await;
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_error(res, 404, "not_found").await;
        assert_rat_refused(self_get(&app, id, &rat).await).await;
        let d = assert_error(admin.get(&format!("/admin/clients/{}", "y".repeat(10_000))).await, 404, "not_found").await;
        assert!(d.len() < 400, "the id is not echoed in full: {d}");
        assert_error(admin.send(Method::DELETE, &format!("/admin/clients/{id}"), None).await, 404, "not_found").await;
        let d = assert_error(admin.post("/admin/clients", Some(&body)).await, 409, "conflict").await;
        assert!(d.contains(id), "{d}");
        let (ids, list) = admin.list_ids(&[]).await;
        assert_eq!((ids, list["total"].clone()), (vec![dynamic_id.clone()], json!(1)));
        assert_eq!(app.counts(), (1, 1), "nothing left of the deleted client, nothing from the refused re-creation");
        // A chosen id that a dynamic client holds is taken as well.
        let taken = with(public_client("Copycat"), "client_id", json!(dynamic_id));
        assert_error(admin.post("/admin/clients", Some(&taken)).await, 409, "conflict").await;
        assert_eq!(app.counts(), (1, 1));
    }

    async fn create_refuses_bad_requests_and_writes_nothing(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = Admin::new(&app, "ops", "client:create");
        let base = || public_client("Refused");
        let cases: Vec<(Value, &str, &str)> = vec![
            (with(base(), "client_id", json!("a b")), "invalid_client_metadata", "client_id: "),
            (with(base(), "client_id", json!("café")), "invalid_client_metadata", "client_id: "),
            (with(base(), "client_id", json!("a/b")), "invalid_client_metadata", "client_id: "),
            (with(base(), "client_id", json!("")), "invalid_client_metadata", "client_id: "),
            (with(base(), "client_id", json!("..")), "invalid_client_metadata", "client_id: "),
            (with(base(), "client_id", json!("x".repeat(129))), "invalid_client_metadata", "client_id: "),
            (with(base(), "client_id", json!(42)), "invalid_client_metadata", "client_id: "),
            (with(base(), "client_secret", json!("my-own-secret")), "invalid_request", "client_secret: "),
            (with(base(), "registration_access_token", json!("rat_x")), "invalid_request", "registration_access_token: "),
            (with(base(), "registration_client_uri", json!("http://x/")), "invalid_request", "registration_client_uri: "),
            (with(base(), "client_id_issued_at", json!(1)), "invalid_request", "client_id_issued_at: "),
            (with(base(), "client_secret_expires_at", json!(0)), "invalid_request", "client_secret_expires_at: "),
            (with(base(), "settings", json!({"access_token_lifetime_secs": 5})), "invalid_client_metadata", "settings.access_token_lifetime_secs"),
            (with(base(), "settings", json!({"access_token_lifetime_secs": 86401})), "invalid_client_metadata", "settings.access_token_lifetime_secs"),
            (with(base(), "settings", json!({"refresh_token_lifetime_secs": 100})), "invalid_client_metadata", "settings.refresh_token_lifetime_secs"),
            (with(base(), "settings", json!({"require_consent": "no"})), "invalid_client_metadata", "settings.require_consent"),
            (with(base(), "settings", json!({"colour": "blue"})), "invalid_client_metadata", "settings.colour"),
            (with(base(), "settings", json!("fast")), "invalid_client_metadata", "settings: "),
            (with(base(), "grant_types", json!(["client_credentials"])), "invalid_client_metadata", "grant_types[0]"),
            (with(base(), "grant_types", json!(["implicit"])), "invalid_client_metadata", "grant_types[0]"),
            (with(base(), "redirect_uris", json!(["http://localhost.evil.com/"])), "invalid_redirect_uri", "redirect_uris[0]"),
        ];
        for (body, code, prefix) in cases {
            let d = assert_error(admin.post("/admin/clients", Some(&body)).await, 400, code).await;
            assert!(d.starts_with(prefix), "{body}: {d}");
        }
        // Not a JSON object, or not JSON at all.
        for (content_type, raw) in [("application/json", "{\"client_name\":"), ("application/json", "[]"), ("text/plain", "{}")] {
            let res = app.http.post(app.url("/admin/clients")).bearer_auth(&admin.token).header("content-type", content_type).body(raw).send().await.expect("sent");
            assert_error(res, 400, "invalid_request").await;
        }
        assert_eq!(app.counts(), (0, 0), "a refused request writes nothing");
        let (_, list) = admin_list_as_reader(&app).await;
        assert_eq!(list["total"], 0);
        // The limits themselves are accepted; a null client_id means a generated one.
        let longest = "A-z.0_~".repeat(19)[..128].to_owned();
        let created = admin.create(&with(base(), "client_id", json!(longest))).await;
        assert_eq!(created["client"]["client_id"], longest.as_str());
        let created = admin.create(&with(base(), "client_id", Value::Null)).await;
        assert!(created["client"]["client_id"].as_str().expect("id").len() >= 22, "{created}");
        assert_eq!(app.counts(), (2, 2));
    }

    async fn client_credentials_clients_are_created_only_by_administrators(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = Admin::new(&app, "ops", "client:admin");
        let batch = json!({"client_name": "Nightly batch", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"});
        let d = assert_error(app.register(&batch).await, 400, "invalid_client_metadata").await;
        assert!(d.starts_with("grant_types"), "{d}");
        assert_eq!(app.counts(), (0, 0));

        let created = admin.create(&batch).await;
        let secret = created["client_secret"].as_str().expect("a confidential client gets a secret").to_owned();
        assert!(secret.len() >= 43, "{secret}");
        let rat = created["registration_access_token"].as_str().expect("token").to_owned();
        let client = &created["client"];
        let id = client["client_id"].as_str().expect("id").to_owned();
        assert!(id.len() >= 22, "a generated id: {id}");
        assert_eq!(client["has_secret"], true);
        assert_eq!(client["client_secret_expires_at"], 0);
        assert_eq!(client["metadata"]["grant_types"], json!(["client_credentials"]));
        assert!(client["metadata"].get("redirect_uris").is_none_or(|u| u == &json!([])), "{client}");
        let public = json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"});
        let d = assert_error(admin.post("/admin/clients", Some(&public)).await, 400, "invalid_client_metadata").await;
        assert!(d.contains("client_credentials"), "{d}");

        // Never shown again: neither in the client's view nor in a listing.
        let read = admin.client(&id).await;
        assert!(read.get("last_used_at").is_none(), "never used yet: {read}");
        let list = expect_json(admin.query("/admin/clients", &[]).await, 200).await;
        for text in [read.to_string(), list.to_string()] {
            assert!(!text.contains(&secret) && !text.contains(&rat) && !text.contains("client_secret\""), "{text}");
        }

        // The client reads itself with its registration access token; the (batched) read record
        // then shows as its last use.
        assert_eq!(self_get(&app, &id, &rat).await.status().as_u16(), 200);
        let mut last_used = None;
        for _ in 0..200 {
            last_used = admin.client(&id).await["last_used_at"].as_i64();
            if last_used.is_some() { break; }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let last_used = last_used.expect("last_used_at appears after the client's own read");
        assert!(last_used >= read["client_id_issued_at"].as_i64().expect("issued") && last_used <= now());
    }

    async fn listing_pages_and_sorts_without_overlap(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = Admin::new(&app, "reader", "client:read client:create");
        // Two batches a second apart, so issued_at orders differ from client_id orders.
        for id in ["list-d", "list-e"] {
            admin.create(&with(public_client(id), "client_id", json!(id))).await;
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
        for id in ["list-a", "list-b", "list-c"] {
            admin.create(&with(public_client(id), "client_id", json!(id))).await;
        }
        let expected: [(Option<&str>, [&str; 5]); 5] = [
            (None, ["list-c", "list-b", "list-a", "list-e", "list-d"]),
            (Some("-issued_at"), ["list-c", "list-b", "list-a", "list-e", "list-d"]),
            (Some("issued_at"), ["list-d", "list-e", "list-a", "list-b", "list-c"]),
            (Some("client_id"), ["list-a", "list-b", "list-c", "list-d", "list-e"]),
            (Some("-client_id"), ["list-e", "list-d", "list-c", "list-b", "list-a"]),
        ];
        for (sort, order) in expected {
            let mut seen = Vec::new();
            for (i, page) in ["1", "2", "3", "4"].into_iter().enumerate() {
                let mut params = vec![("per_page", "2"), ("page", page)];
                if let Some(s) = sort { params.push(("sort", s)); }
                let (ids, body) = admin.list_ids(&params).await;
                assert_eq!(body["total"], 5);
                assert_eq!(body["per_page"], 2);
                assert_eq!(body["page"], page.parse::<u64>().expect("number"));
                assert_eq!(body["sort"], sort.unwrap_or("-issued_at"));
                assert_eq!(ids.len(), [2, 2, 1, 0][i], "{sort:?} page {page}");
                seen.extend(ids);
            }
            assert_eq!(seen, order, "{sort:?}");
        }
        let (ids, body) = admin.list_ids(&[("per_page", "100"), ("page", "1000000"), ("q", "")]).await;
        assert!(ids.is_empty());
        assert_eq!(body["total"], 5);
        let (ids, _) = admin.list_ids(&[("per_page", "1"), ("sort", "client_id")]).await;
        assert_eq!(ids, ["list-a"]);

        for bad in ["0", "-1", "abc", "1.5", "99999999999999999999", "1000001", " 1", "+1", "0x10"] {
            let d = assert_error(admin.query("/admin/clients", &[("page", bad)]).await, 400, "invalid_request").await;
            assert!(d.starts_with("page: "), "{bad:?}: {d}");
        }
        let d = assert_error(admin.query("/admin/clients", &[("per_page", "101")]).await, 400, "invalid_request").await;
        assert_eq!(d, "per_page: 101 is above the limit of 100; use a whole number from 1 to 100");
        for bad in ["0", "-5", "ten"] {
            let d = assert_error(admin.query("/admin/clients", &[("per_page", bad)]).await, 400, "invalid_request").await;
            assert!(d.starts_with("per_page: "), "{bad:?}: {d}");
        }
        for bad in ["name", "issued_at;DROP TABLE clients", "ISSUED_AT", "+issued_at"] {
            let d = assert_error(admin.query("/admin/clients", &[("sort", bad)]).await, 400, "invalid_request").await;
            assert!(d.starts_with("sort: ") && d.ends_with("use one of -issued_at, issued_at, client_id, -client_id"), "{d}");
        }
        for raw in ["/admin/clients?limit=5", "/admin/clients?page=1&page=2", "/admin/clients?Page=1"] {
            let d = assert_error(admin.get(raw).await, 400, "invalid_request").await;
            assert!(d.starts_with("query string:"), "{raw}: {d}");
        }
    }

    async fn search_is_literal_and_case_insensitive_in_any_language(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = Admin::new(&app, "ops", "client:read client:create client:update");
        let clients = [
            ("s-ecole", json!({"client_name": "École Polytechnique"})),
            ("s-sale", json!({"client_name": "50%_off \\ sale 'single' \"double\""})),
            ("s-plain", json!({"client_name": "Plain 50 off sale"})),
            ("s-greek", json!({"client_name": "Σοφία Analytics"})),
            ("s-tagged", json!({"client_name": "Monitoring", "client_name#de": "Überwachung"})),
            ("Mixed-Case-ID", json!({"client_name": "Id match"})),
        ];
        let mut ecole_rat = String::new();
        for (id, extra) in &clients {
            let mut body = with(public_client("x"), "client_id", json!(id));
            for (k, v) in extra.as_object().expect("object") { body[k] = v.clone(); }
            let created = admin.create(&body).await;
            if *id == "s-ecole" {
                ecole_rat = created["registration_access_token"].as_str().expect("token").to_owned();
            }
        }
        let search = |q: &'static str| {
            let admin = &admin;
            async move {
                let (mut ids, body) = admin.list_ids(&[("q", q), ("per_page", "100")]).await;
                assert_eq!(body["total"], ids.len(), "{q:?}");
                ids.sort();
                ids
            }
        };
        let cases: [(&str, &[&str]); 19] = [
            ("ÉCOLE", &["s-ecole"]),
            ("école", &["s-ecole"]),
            ("  éCoLe  ", &["s-ecole"]),
            ("ΣΟΦΊΑ", &["s-greek"]),
            ("σοφία", &["s-greek"]),
            ("ÜBERWACHUNG", &["s-tagged"]),
            ("mixed-case", &["Mixed-Case-ID"]),
            ("S-ECO", &["s-ecole"]),
            ("%", &["s-sale"]),
            ("_", &["s-sale"]),
            ("50%", &["s-sale"]),
            ("%_o", &["s-sale"]),
            ("\\", &["s-sale"]),
            ("\\ s", &["s-sale"]),
            ("'single'", &["s-sale"]),
            ("\"double\"", &["s-sale"]),
            ("sale", &["s-plain", "s-sale"]),
            ("no such thing", &[]),
            ("s-", &["s-ecole", "s-greek", "s-plain", "s-sale", "s-tagged"]),
        ];
        for (q, expected) in cases {
            assert_eq!(search(q).await, expected, "q = {q:?}");
        }
        // Changes are searchable at once, by an administrator's replacement or the client's own.
        expect_json(admin.send(Method::PUT, "/admin/clients/s-tagged", Some(&with(public_client("Wartung"), "client_id", json!("s-tagged")))).await, 200).await;
        assert_eq!(search("ÜBERWACHUNG").await, Vec::<String>::new());
        assert_eq!(search("wARTUNG").await, ["s-tagged"]);
        assert_eq!(self_put(&app, "s-ecole", &ecole_rat, &public_client("Lycée Henri-IV")).await.status().as_u16(), 200);
        assert_eq!(search("ÉCOLE").await, Vec::<String>::new());
        assert_eq!(search("LYCÉE").await, ["s-ecole"]);
        // A search pages like any listing.
        let (ids, body) = admin.list_ids(&[("q", "S-"), ("per_page", "2"), ("page", "3"), ("sort", "client_id")]).await;
        assert_eq!((ids, body["total"].clone()), (vec!["s-tagged".to_owned()], json!(5)));
        // Length is counted in characters: 200 two-byte characters are fine, 201 are not.
        let max = "é".repeat(200);
        assert_eq!(admin.query("/admin/clients", &[("q", &max)]).await.status().as_u16(), 200);
        for long in ["a".repeat(201), "é".repeat(201), "a".repeat(10 * 1024)] {
            let d = assert_error(admin.query("/admin/clients", &[("q", &long)]).await, 400, "invalid_request").await;
            assert!(d.starts_with("q: at most 200 characters are accepted"), "{d}");
        }
        for bad in ["a\0b", "\0", "a\nb", "\u{1b}[2J", "a\u{7f}"] {
            let d = assert_error(admin.query("/admin/clients", &[("q", bad)]).await, 400, "invalid_request").await;
            assert!(d.starts_with("q: "), "{bad:?}: {d}");
        }
        let d = assert_error(admin.get("/admin/clients?q=%00").await, 400, "invalid_request").await;
        assert!(d.starts_with("q: "), "{d}");
    }

    async fn replace_is_a_full_replacement_keeping_or_replacing_settings(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = Admin::new(&app, "ops", "client:create client:read client:update");
        let id = "replace-me";
        let mut body = with(public_client("Old name"), "client_id", json!(id));
        body["contacts"] = json!(["a@example.com"]);
        body["scope"] = json!("read write");
        body["settings"] = json!({"require_consent": false, "rotate_refresh_tokens": false});
        let created = admin.create(&body).await;
        let rat = created["registration_access_token"].as_str().expect("token").to_owned();
        let path = format!("/admin/clients/{id}");

        // No client_id, no settings: metadata replaced, settings kept.
        let replacement = json!({"redirect_uris": ["http://localhost:7777/cb"], "token_endpoint_auth_method": "none"});
        let res = admin.send(Method::PUT, &path, Some(&replacement)).await;
        assert_eq!(res.headers()["cache-control"], "no-store");
        let replaced = expect_json(res, 200).await;
        assert!(replaced.get("client_secret").is_none());
        let client = &replaced["client"];
        assert_eq!(client["client_id"], id);
        assert_eq!(client["client_id_issued_at"], created["client"]["client_id_issued_at"]);
        assert!(client["updated_at"].as_i64() >= created["client"]["updated_at"].as_i64());
        assert_eq!(client["origin"], "admin");
        assert_eq!(client["metadata"]["redirect_uris"], json!(["http://localhost:7777/cb"]));
        assert_eq!(client["metadata"]["grant_types"], json!(["authorization_code"]), "defaults of the administrator policy");
        for gone in ["client_name", "contacts", "scope"] {
            assert!(client["metadata"].get(gone).is_none(), "{gone} removed: {client}");
        }
        assert_eq!(client["settings"], created["client"]["settings"], "settings omitted: kept");
        assert_eq!(&admin.client(id).await, client);
        // The client sees the new document with the token it already had.
        let own = expect_json(self_get(&app, id, &rat).await, 200).await;
        assert_eq!(own["redirect_uris"], json!(["http://localhost:7777/cb"]));

        // Settings sent: replaced, omitted members back to their defaults.
        let mut next = with(replacement.clone(), "client_id", json!(id));
        next["settings"] = json!({"access_token_lifetime_secs": 900});
        let replaced = expect_json(admin.send(Method::PUT, &path, Some(&next)).await, 200).await;
        let settings = json!({"require_consent": true, "access_token_lifetime_secs": 900, "refresh_token_lifetime_secs": 2592000, "rotate_refresh_tokens": true, "allow_introspection": false});
        assert_eq!(replaced["client"]["settings"], settings);

        // Refusals change nothing.
        let cases: Vec<(Value, &str, &str)> = vec![
            (with(replacement.clone(), "client_id", json!("someone-else")), "invalid_request", "client_id: "),
            (with(replacement.clone(), "client_id", json!(7)), "invalid_request", "client_id: "),
            (with(replacement.clone(), "settings", json!({"access_token_lifetime_secs": 5})), "invalid_client_metadata", "settings.access_token_lifetime_secs"),
            (with(replacement.clone(), "settings", json!({"colour": "blue"})), "invalid_client_metadata", "settings.colour"),
            (with(replacement.clone(), "client_secret", json!("mine")), "invalid_request", "client_secret: "),
            (with(replacement.clone(), "registration_access_token", json!(rat)), "invalid_request", "registration_access_token: "),
            (with(replacement.clone(), "client_id_issued_at", json!(1)), "invalid_request", "client_id_issued_at: "),
            (with(replacement.clone(), "grant_types", json!(["client_credentials"])), "invalid_client_metadata", "grant_types[0]"),
            (json!({"token_endpoint_auth_method": "none"}), "invalid_redirect_uri", "redirect_uris"),
        ];
        for (body, code, prefix) in cases {
            let d = assert_error(admin.send(Method::PUT, &path, Some(&body)).await, 400, code).await;
            assert!(d.starts_with(prefix), "{body}: {d}");
        }
        let read = admin.client(id).await;
        assert_eq!(read["settings"], settings);
        assert_eq!(read["metadata"], replaced["client"]["metadata"]);
        assert_error(admin.send(Method::PUT, "/admin/clients/no-such-client", Some(&replacement)).await, 404, "not_found").await;

        // Becoming confidential issues a secret, once; becoming public again drops it.
        let confidential = with(replacement.clone(), "token_endpoint_auth_method", json!("client_secret_post"));
        let replaced = expect_json(admin.send(Method::PUT, &path, Some(&confidential)).await, 200).await;
        let secret = replaced["client_secret"].as_str().expect("secret issued").to_owned();
        assert_eq!(replaced["client"]["has_secret"], true);
        assert_eq!(replaced["client"]["client_secret_expires_at"], 0);
        let again = expect_json(admin.send(Method::PUT, &path, Some(&confidential)).await, 200).await;
        assert!(again.get("client_secret").is_none(), "still confidential: no new secret");
        assert!(!admin.client(id).await.to_string().contains(&secret));
        let public = expect_json(admin.send(Method::PUT, &path, Some(&replacement)).await, 200).await;
        assert_eq!(public["client"]["has_secret"], false);
        assert!(public["client"].get("client_secret_expires_at").is_none());
        assert_eq!(app.counts(), (1, 1));
    }

    async fn secret_rotation_keeps_the_old_secret_only_for_the_grace_period(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = Admin::new(&app, "ops", "client:create client:read client:update");
        let id = "rotating";
        let metadata = web_client("Rotating");
        let created = admin.create(&with(metadata.clone(), "client_id", json!(id))).await;
        let first = created["client_secret"].as_str().expect("secret").to_owned();
        let mut rat = created["registration_access_token"].as_str().expect("token").to_owned();
        let path = format!("/admin/clients/{id}/secret");

        // With a grace period: a new secret, and the old one keeps verifying.
        let started = now();
        let rotated = expect_json(admin.post(&path, Some(&json!({"grace_period_secs": 3600}))).await, 200).await;
        let second = rotated["client_secret"].as_str().expect("secret").to_owned();
        assert_ne!(second, first);
        assert_eq!(rotated["client_id"], id);
        assert_eq!(rotated["client_secret_expires_at"], 0);
        let until = rotated["previous_secret_valid_until"].as_i64().expect("grace end");
        assert!((started + 3600..=now() + 3600).contains(&until), "{until}");
        let view = admin.client(id).await;
        assert_eq!(view["previous_secret_valid_until"], until);
        assert_eq!(view["has_secret"], true);
        assert!(!view.to_string().contains(&second));
        // The client proves it holds a secret through its own PUT (RFC 7592), which rotates its
        // registration access token.
        let (status, body) = prove(&app, id, &mut rat, &metadata, &first).await;
        assert_eq!(status, 200, "the old secret during the grace period: {body}");
        let (status, body) = prove(&app, id, &mut rat, &metadata, &second).await;
        assert_eq!(status, 200, "the new secret: {body}");
        assert_eq!(admin.client(id).await["previous_secret_valid_until"], until, "a self-update keeps the grace");

        // Without a grace period (no body at all): the old secrets stop at once.
        let rotated = expect_json(admin.post(&path, None).await, 200).await;
        let third = rotated["client_secret"].as_str().expect("secret").to_owned();
        assert!(rotated.get("previous_secret_valid_until").is_none(), "{rotated}");
        assert!(admin.client(id).await.get("previous_secret_valid_until").is_none());
        for old in [&first, &second] {
            let (status, body) = prove(&app, id, &mut rat, &metadata, old).await;
            assert_eq!(status, 400, "{body}");
            assert_eq!(body["error"], "invalid_request");
            assert!(body["error_description"].as_str().expect("text").starts_with("client_secret"), "{body}");
        }
        let (status, body) = prove(&app, id, &mut rat, &metadata, &third).await;
        assert_eq!(status, 200, "{body}");
        // An explicit zero is the same as none.
        let rotated = expect_json(admin.post(&path, Some(&json!({"grace_period_secs": 0}))).await, 200).await;
        assert!(rotated.get("previous_secret_valid_until").is_none());
        let fourth = rotated["client_secret"].as_str().expect("secret").to_owned();
        assert_eq!(prove(&app, id, &mut rat, &metadata, &third).await.0, 400);
        assert_eq!(prove(&app, id, &mut rat, &metadata, &fourth).await.0, 200);

        // Refusals.
        for body in [json!({"grace_period_secs": 2_592_001}), json!({"grace_period_secs": -1}), json!({"grace_period_secs": "60"}), json!({"grace_period_secs": 1.5})] {
            let d = assert_error(admin.post(&path, Some(&body)).await, 400, "invalid_request").await;
            assert!(d.starts_with("grace_period_secs: "), "{body}: {d}");
            assert!(d.contains("2592000"), "{d}");
        }
        let d = assert_error(admin.post(&path, Some(&json!({"grace": 60}))).await, 400, "invalid_request").await;
        assert!(d.contains("grace_period_secs"), "{d}");
        let res = app.http.post(app.url(&path)).bearer_auth(&admin.token).header("content-type", "application/json").body("{").send().await.expect("sent");
        assert_error(res, 400, "invalid_request").await;
        assert_error(admin.post("/admin/clients/no-such-client/secret", None).await, 404, "not_found").await;
        let public = admin.create(&with(public_client("Public"), "client_id", json!("public-one"))).await;
        assert_eq!(public["client"]["has_secret"], false);
        let d = assert_error(admin.post("/admin/clients/public-one/secret", None).await, 400, "invalid_request").await;
        assert!(d.contains("public client"), "{d}");
        assert_eq!(admin.client("public-one").await["has_secret"], false);
        // The largest grace period is accepted.
        let rotated = expect_json(admin.post(&path, Some(&json!({"grace_period_secs": 2_592_000}))).await, 200).await;
        assert!(rotated["previous_secret_valid_until"].as_i64().expect("grace") >= now() + 2_592_000 - 5);
    }

    async fn reissue_revokes_every_other_registration_access_token(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = Admin::new(&app, "ops", "client:create client:update");
        let created = admin.create(&with(public_client("Lost token"), "client_id", json!("lost-token"))).await;
        let old = created["registration_access_token"].as_str().expect("token").to_owned();
        let path = "/admin/clients/lost-token/registration-access-token";
        let started = now();
        let res = admin.post(path, None).await;
        assert_eq!(res.headers()["cache-control"], "no-store");
        let issued = expect_json(res, 200).await;
        let new = issued["registration_access_token"].as_str().expect("token").to_owned();
        assert!(new.starts_with("rat_") && new != old);
        assert_eq!(issued["client_id"], "lost-token");
        assert_eq!(issued["registration_client_uri"], app.url("/register/lost-token"));
        let expires = issued["expires_at"].as_i64().expect("tokens expire by default");
        assert!((started + 7_776_000..=now() + 7_776_000).contains(&expires), "{expires}");
        assert_rat_refused(self_get(&app, "lost-token", &old).await).await;
        assert_eq!(self_get(&app, "lost-token", &new).await.status().as_u16(), 200);
        let again = expect_json(admin.post(path, None).await, 200).await;
        let newest = again["registration_access_token"].as_str().expect("token");
        assert_rat_refused(self_get(&app, "lost-token", &new).await).await;
        assert_eq!(self_get(&app, "lost-token", newest).await.status().as_u16(), 200);
        assert_eq!(live_registration_tokens(&app, "lost-token"), 1);
        assert_error(admin.post("/admin/clients/no-such-client/registration-access-token", None).await, 404, "not_found").await;
    }

    async fn a_locked_client_can_read_but_not_change_itself(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = Admin::new(&app, "ops", "client:create client:read client:update");
        let metadata = public_client("Lockable");
        let mut body = with(metadata.clone(), "client_id", json!("lockable"));
        body["settings"] = json!({"require_consent": false});
        let created = admin.create(&body).await;
        let rat = created["registration_access_token"].as_str().expect("token").to_owned();
        let locked = expect_json(admin.post("/admin/clients/lockable/lock", None).await, 200).await;
        assert_eq!(locked["locked"], true);
        assert_eq!(locked["client_id"], "lockable");
        assert_eq!(expect_json(admin.post("/admin/clients/lockable/lock", None).await, 200).await["locked"], true, "idempotent");
        assert_eq!(admin.client("lockable").await["locked"], true);
        assert_eq!(self_get(&app, "lockable", &rat).await.status().as_u16(), 200);
        assert_error(self_put(&app, "lockable", &rat, &metadata).await, 403, "access_denied").await;
        assert_error(call(&app, Method::DELETE, "/register/lockable", Some(&rat), None).await, 403, "access_denied").await;
        assert_eq!(app.counts(), (1, 1));
        // An administrator may still replace it.
        let renamed = with(metadata.clone(), "client_name", json!("Renamed by ops"));
        let replaced = expect_json(admin.send(Method::PUT, "/admin/clients/lockable", Some(&renamed)).await, 200).await;
        assert_eq!(replaced["client"]["locked"], true, "replacing keeps the lock");

        let unlocked = expect_json(admin.post("/admin/clients/lockable/unlock", None).await, 200).await;
        assert_eq!(unlocked["locked"], false);
        assert_eq!(expect_json(admin.post("/admin/clients/lockable/unlock", None).await, 200).await["locked"], false, "idempotent");
        let res = self_put(&app, "lockable", &rat, &metadata).await;
        let body = expect_json(res, 200).await;
        assert_eq!(body["client_name"], "Lockable");
        let rat = body["registration_access_token"].as_str().expect("token");
        // The client's own update keeps what only administrators set.
        let view = admin.client("lockable").await;
        assert_eq!((view["origin"].clone(), view["settings"]["require_consent"].clone(), view["locked"].clone()), (json!("admin"), json!(false), json!(false)));
        assert_eq!(view["metadata"]["client_name"], "Lockable");
        assert_eq!(call(&app, Method::DELETE, "/register/lockable", Some(rat), None).await.status().as_u16(), 204);
        // Deleted by itself: gone from listings, and its id is not issued again either.
        let list = expect_json(admin.query("/admin/clients", &[]).await, 200).await;
        assert_eq!((list["total"].clone(), list["clients"].clone()), (json!(0), json!([])));
        assert_error(admin.post("/admin/clients", Some(&with(metadata.clone(), "client_id", json!("lockable")))).await, 409, "conflict").await;
        assert_error(admin.post("/admin/clients/lockable/lock", None).await, 404, "not_found").await;
        assert_error(admin.post("/admin/clients/lockable/unlock", None).await, 404, "not_found").await;
    }

    async fn tokens_are_checked_before_anything_else(backend: Backend) {
        let app = spawn_app(backend).await;
        let [admin, no_read, no_create, no_update, no_delete, no_audit, gone, old] = admin_tokens(&app, [
            ("root", "client:admin"),
            ("no-read", "client:create client:update client:delete audit:read"),
            ("no-create", "client:read client:update client:delete audit:read"),
            ("no-update", "client:read client:create client:delete audit:read"),
            ("no-delete", "client:read client:create client:update audit:read"),
            ("no-audit", "client:read client:create client:update client:delete"),
            ("gone", "client:admin"),
            ("old", "client:admin"),
        ]);
        let created = expect_json(call(&app, Method::POST, "/admin/clients", Some(&admin), Some(&with(public_client("Target"), "client_id", json!("target")))).await, 201).await;
        let rat = created["registration_access_token"].as_str().expect("token").to_owned();
        let services = Services::build(&app.settings, &app.db).expect("services");
        services.admin.revoke_admin_token("gone").expect("revoked");
        app.db
            .read(|c| diesel::update(admin_tokens::table.filter(admin_tokens::name.eq("old"))).set(admin_tokens::expires_at.eq(Some(now() - 1))).execute(c))
            .expect("expire the token");

        let body = json!({"redirect_uris": ["http://localhost:1/cb"], "token_endpoint_auth_method": "none"});
        let routes: [(Method, &str, Option<&Value>, &str, &str); 10] = [
            (Method::GET, "/admin/clients", None, "client:read", no_read.as_str()),
            (Method::GET, "/admin/clients/target", None, "client:read", no_read.as_str()),
            (Method::POST, "/admin/clients", Some(&body), "client:create", no_create.as_str()),
            (Method::PUT, "/admin/clients/target", Some(&body), "client:update", no_update.as_str()),
            (Method::POST, "/admin/clients/target/secret", None, "client:update", no_update.as_str()),
            (Method::POST, "/admin/clients/target/registration-access-token", None, "client:update", no_update.as_str()),
            (Method::POST, "/admin/clients/target/lock", None, "client:update", no_update.as_str()),
            (Method::POST, "/admin/clients/target/unlock", None, "client:update", no_update.as_str()),
            (Method::DELETE, "/admin/clients/target", None, "client:delete", no_delete.as_str()),
            (Method::GET, "/admin/audit-events", None, "audit:read", no_audit.as_str()),
        ];
        let unusable = [
            format!("Bearer adm_{}", "A".repeat(43)),
            format!("Bearer {rat}"),
            format!("Bearer {gone}"),
            format!("Bearer {old}"),
            format!("Bearer {admin} {admin}"),
            format!("Basic {admin}"),
            format!("Bearer {}", "a".repeat(1000)),
            "Bearer".to_owned(),
        ];
        for (method, path, body, scope, lacking) in &routes {
            let what = format!("{method} {path}");
            // No token: a bare challenge.
            let res = call(&app, method.clone(), path, None, *body).await;
            assert_eq!(res.status().as_u16(), 401, "{what}");
            assert_eq!(res.headers()["www-authenticate"], BARE_CHALLENGE, "{what}");
            assert_eq!(res.json::<Value>().await.expect("json")["error"], "invalid_token", "{what}");
            // Unknown, a registration access token, revoked, expired, malformed: one answer.
            for auth in &unusable {
                let mut req = app.http.request(method.clone(), app.url(path)).header("authorization", auth);
                if let Some(b) = body { req = req.json(b); }
                assert_invalid_token(req.send().await.expect("sent")).await;
            }
            // Two Authorization headers.
            let res = app.http.request(method.clone(), app.url(path)).bearer_auth(&admin).bearer_auth(&admin).send().await.expect("sent");
            assert_invalid_token(res).await;
            // A valid token without the scope: 403 naming the scope needed.
            let res = call(&app, method.clone(), path, Some(lacking), *body).await;
            assert_eq!(res.status().as_u16(), 403, "{what}");
            assert_eq!(res.headers()["www-authenticate"], format!("Bearer realm=\"authz-server\", error=\"insufficient_scope\", scope=\"{scope}\"").as_str(), "{what}");
            let refused: Value = res.json().await.expect("json");
            assert_eq!(refused["error"], "insufficient_scope", "{what}");
            assert!(refused["error_description"].as_str().expect("text").contains(scope), "{refused}");
        }
        // The scope is checked before the body and before the client is looked up.
        let res = app.http.post(app.url("/admin/clients")).bearer_auth(&no_create).header("content-type", "application/json").body("{").send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 403);
        let res = app.http.post(app.url("/admin/clients")).header("content-type", "application/json").body("{").send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 401);
        assert_eq!(call(&app, Method::DELETE, "/admin/clients/no-such-client", Some(&no_delete), None).await.status().as_u16(), 403);
        assert_eq!(call(&app, Method::DELETE, "/admin/clients/no-such-client", Some("adm_unknown"), None).await.status().as_u16(), 401);
        // Nothing happened to the target.
        assert_eq!(app.counts(), (1, 1));
        assert_eq!(self_get(&app, "target", &rat).await.status().as_u16(), 200);

        // The needed scope alone is enough, and client:admin allows everything.
        let [delete_only] = admin_tokens(&app, [("delete-only", "client:delete")]);
        assert_eq!(call(&app, Method::DELETE, "/admin/clients/no-such-client", Some(&delete_only), None).await.status().as_u16(), 404);
        for (method, path, body, _, _) in &routes {
            let status = call(&app, method.clone(), path, Some(&admin), *body).await.status().as_u16();
            let expected = match (method.as_str(), *path) {
                ("POST", "/admin/clients") => 201,
                ("DELETE", _) => 204,
                ("POST", "/admin/clients/target/secret") => 400, // a public client
                _ => 200,
            };
            assert_eq!(status, expected, "{method} {path}");
        }
    }

    async fn the_audit_trail_names_the_administrator_and_holds_no_credentials(backend: Backend) {
        let app = spawn_app(backend).await;
        let [ops, reader, auditor] = admin_tokens(&app, [("ops", "client:admin"), ("reader", "client:read"), ("auditor", "audit:read")]);
        let auditor = Admin { app: &app, token: auditor };
        let admin = Admin { app: &app, token: ops.clone() };
        let started = now();
        let metadata = web_client("Audited");
        let created = admin.create(&with(metadata.clone(), "client_id", json!("audited"))).await;
        let first_secret = created["client_secret"].as_str().expect("secret").to_owned();
        let first_rat = created["registration_access_token"].as_str().expect("token").to_owned();
        let renamed = with(metadata.clone(), "client_name", json!("Audited, renamed"));
        expect_json(admin.send(Method::PUT, "/admin/clients/audited", Some(&renamed)).await, 200).await;
        let rotated = expect_json(admin.post("/admin/clients/audited/secret", Some(&json!({"grace_period_secs": 60}))).await, 200).await;
        let second_secret = rotated["client_secret"].as_str().expect("secret").to_owned();
        let reissued = expect_json(admin.post("/admin/clients/audited/registration-access-token", None).await, 200).await;
        let second_rat = reissued["registration_access_token"].as_str().expect("token").to_owned();
        expect_json(admin.post("/admin/clients/audited/lock", None).await, 200).await;
        expect_json(admin.post("/admin/clients/audited/unlock", None).await, 200).await;
        assert_eq!(self_get(&app, "audited", &second_rat).await.status().as_u16(), 200);
        // Refused: a missing scope, an unknown token, no token.
        let bogus = format!("adm_{}", "B".repeat(43));
        assert_eq!(call(&app, Method::DELETE, "/admin/clients/audited", Some(&reader), None).await.status().as_u16(), 403);
        assert_eq!(call(&app, Method::GET, "/admin/clients", Some(&bogus), None).await.status().as_u16(), 401);
        assert_eq!(call(&app, Method::GET, "/admin/audit-events", None, None).await.status().as_u16(), 401);
        assert_eq!(admin.send(Method::DELETE, "/admin/clients/audited", None).await.status().as_u16(), 204);

        // The client's events, newest first (the client's own read is batched, so its position
        // may trail the changes that followed it).
        let mut events = Vec::new();
        for _ in 0..200 {
            let body = expect_json(auditor.query("/admin/audit-events", &[("client_id", "audited")]).await, 200).await;
            assert_eq!((body["page"].clone(), body["per_page"].clone(), body["has_more"].clone()), (json!(1), json!(20), json!(false)));
            events = body["events"].as_array().expect("events").clone();
            if events.iter().any(|e| e["action"] == "client.read") { break; }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().expect("id")).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
        let changes: Vec<&Value> = events.iter().filter(|e| e["action"] != "client.read").collect();
        let actions: Vec<&str> = changes.iter().map(|e| e["action"].as_str().expect("action")).collect();
        assert_eq!(actions, ["client.deleted", "client.unlocked", "client.locked", "client.token_reissued", "client.secret_rotated", "client.updated", "client.created"]);
        for e in &changes {
            assert_eq!(e["actor"], "admin:ops", "{e}");
            assert_eq!(e["succeeded"], true, "{e}");
            assert_eq!(e["client_id"], "audited", "{e}");
            assert_eq!(e["remote_addr"], "127.0.0.1", "{e}");
            assert_eq!(e["user_agent"], USER_AGENT, "{e}");
            assert!(e["request_id"].is_string(), "{e}");
            let at = e["occurred_at"].as_i64().expect("time");
            assert!((started..=now()).contains(&at), "{e}");
        }
        let read = events.iter().find(|e| e["action"] == "client.read").expect("the client's own read");
        assert_eq!(read["actor"], "client");
        let updated = changes.iter().find(|e| e["action"] == "client.updated").expect("updated");
        assert!(updated["detail"].as_str().expect("detail").contains("client_name"), "{updated}");

        // Refusals are recorded as admin.denied (batched as well).
        let mut denied = Vec::new();
        for _ in 0..200 {
            let body = expect_json(auditor.query("/admin/audit-events", &[("action", "admin.denied")]).await, 200).await;
            denied = body["events"].as_array().expect("events").clone();
            if denied.len() >= 3 { break; }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(denied.len(), 3, "{denied:?}");
        assert!(denied.iter().all(|e| e["action"] == "admin.denied" && e["succeeded"] == false), "{denied:?}");
        let scope_refusal = denied.iter().find(|e| e["actor"] == "admin:reader").expect("the reader's refusal");
        assert!(scope_refusal["detail"].as_str().expect("detail").contains("client:delete"), "{scope_refusal}");
        assert_eq!(denied.iter().filter(|e| e["actor"] == "anonymous").count(), 2, "{denied:?}");

        // Filters and paging.
        let body = expect_json(auditor.query("/admin/audit-events", &[("client_id", "audited"), ("per_page", "2"), ("page", "2")]).await, 200).await;
        assert_eq!(body["events"].as_array().expect("events").len(), 2);
        assert_eq!((body["page"].clone(), body["per_page"].clone(), body["has_more"].clone()), (json!(2), json!(2), json!(true)));
        assert_eq!(body["events"][0]["id"], events[2]["id"]);
        let last_page = events.len().div_ceil(2).to_string();
        let body = expect_json(auditor.query("/admin/audit-events", &[("client_id", "audited"), ("per_page", "2"), ("page", &last_page)]).await, 200).await;
        assert_eq!(body["has_more"], false);
        let body = expect_json(auditor.query("/admin/audit-events", &[("client_id", "audited"), ("action", "client.secret_rotated")]).await, 200).await;
        assert_eq!(body["events"].as_array().expect("events").len(), 1);
        assert!(body["events"][0]["detail"].as_str().expect("detail").contains("verifies until"), "{body}");
        let future = (now() + 3600).to_string();
        let body = expect_json(auditor.query("/admin/audit-events", &[("since", &future)]).await, 200).await;
        assert_eq!(body["events"], json!([]));
        let body = expect_json(auditor.query("/admin/audit-events", &[("until", "1")]).await, 200).await;
        assert_eq!(body["events"], json!([]));
        let body = expect_json(auditor.query("/admin/audit-events", &[("client_id", "audited"), ("since", "2000-01-01T00:00:00Z"), ("until", &future)]).await, 200).await;
        assert_eq!(body["events"].as_array().expect("events").len(), events.len());
        // since is inclusive, until exclusive.
        let started_at = started.to_string();
        let body = expect_json(auditor.query("/admin/audit-events", &[("client_id", "audited"), ("until", &started_at)]).await, 200).await;
        assert_eq!(body["events"], json!([]));
        let body = expect_json(auditor.query("/admin/audit-events", &[("client_id", "audited"), ("since", &started_at), ("per_page", "100")]).await, 200).await;
        assert_eq!(body["events"].as_array().expect("events").len(), events.len());
        let created_at = changes.last().expect("created")["occurred_at"].as_i64().expect("time");
        let body = expect_json(auditor.query("/admin/audit-events", &[("client_id", "audited"), ("action", "client.created"), ("since", &created_at.to_string()), ("until", &(created_at + 1).to_string())]).await, 200).await;
        assert_eq!(body["events"].as_array().expect("events").len(), 1);
        let body = expect_json(auditor.query("/admin/audit-events", &[("client_id", "nobody")]).await, 200).await;
        assert_eq!(body["events"], json!([]));
        for (name, value, prefix) in [("action", "client.hacked", "action: "), ("action", "CLIENT.CREATED", "action: "), ("since", "yesterday", "since: "), ("until", "2026-13-01", "until: "), ("page", "0", "page: "), ("per_page", "101", "per_page: ")] {
            let d = assert_error(auditor.query("/admin/audit-events", &[(name, value)]).await, 400, "invalid_request").await;
            assert!(d.starts_with(prefix), "{name}={value}: {d}");
        }
        let d = assert_error(auditor.query("/admin/audit-events", &[("action", "client.hacked")]).await, 400, "invalid_request").await;
        assert!(d.contains("client.created") && d.contains("admin.denied"), "lists the actions: {d}");
        let d = assert_error(auditor.query("/admin/audit-events", &[("since", "20"), ("until", "10")]).await, 400, "invalid_request").await;
        assert!(d.starts_with("since: "), "{d}");
        let long_id = "x".repeat(257);
        let d = assert_error(auditor.query("/admin/audit-events", &[("client_id", long_id.as_str())]).await, 400, "invalid_request").await;
        assert!(d.starts_with("client_id: "), "{d}");
        let d = assert_error(auditor.query("/admin/audit-events", &[("actor", "admin:ops")]).await, 400, "invalid_request").await;
        assert!(d.starts_with("query string:"), "{d}");

        // No secret and no token anywhere in the trail.
        let everything = Value::Array(auditor.all_audit_events().await).to_string();
        assert!(everything.contains("admin:ops") && everything.contains("client.created"));
        for credential in [&first_secret, &second_secret, &first_rat, &second_rat, &ops, &reader, &auditor.token, &bogus] {
            assert!(!everything.contains(credential.as_str()), "a credential in the audit trail: {everything}");
        }
    }

    async fn search_finds_a_name_by_a_capitalised_greek_prefix(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = Admin::new(&app, "ops", "client:read client:create");
        admin.create(&with(public_client("ΣΥΣΤΗΜΑ Παρακολούθησης"), "client_id", json!("greek-caps"))).await;
        // "ΣΥΣ" is an exact-case substring of the name, yet its lower case ends in a final sigma.
        for q in ["ΣΥΣΤ", "συσ", "ΣΥΣ"] {
            let (ids, _) = admin.list_ids(&[("q", q)]).await;
            assert_eq!(ids, ["greek-caps"], "q = {q:?}");
        }
    }

    async fn racing_creates_of_one_chosen_id_make_one_client(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = Admin::new(&app, "ops", "client:create");
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (http, url, token) = (app.http.clone(), app.url("/admin/clients"), admin.token.clone());
            let body = with(public_client(&format!("racer {i}")), "client_id", json!("contested"));
            tasks.push(tokio::spawn(async move {
                http.post(url).bearer_auth(token).json(&body).send().await.expect("sent").status().as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks { statuses.push(t.await.expect("task")); }
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
        assert_eq!(app.counts(), (1, 1));
    }

    async fn racing_secret_rotations_leave_exactly_one_working_secret(backend: Backend) {
        let app = spawn_app(backend).await;
        let admin = Admin::new(&app, "ops", "client:create client:update");
        let metadata = web_client("Raced");
        let created = admin.create(&with(metadata.clone(), "client_id", json!("raced"))).await;
        let mut rat = created["registration_access_token"].as_str().expect("token").to_owned();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let (http, url, token) = (app.http.clone(), app.url("/admin/clients/raced/secret"), admin.token.clone());
            tasks.push(tokio::spawn(async move {
                let res = http.post(url).bearer_auth(token).send().await.expect("sent");
                let status = res.status().as_u16();
                (status, res.json::<Value>().await.expect("json"))
            }));
        }
        let mut secrets = Vec::new();
        for t in tasks {
            let (status, body) = t.await.expect("task");
            match status {
                200 => secrets.push(body["client_secret"].as_str().expect("secret").to_owned()),
                409 => assert_eq!(body["error"], "conflict"),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert!(!secrets.is_empty());
        let mut working = 0;
        for secret in &secrets {
            match prove(&app, "raced", &mut rat, &metadata, secret).await {
                (200, _) => working += 1,
                (400, _) => {}
                (other, body) => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(working, 1, "the last rotation wins, the others' secrets are dead");
    }

    async fn the_administrator_policy_follows_its_configuration(backend: Backend) {
        let app = spawn_app_with(backend, &[
            ("registration.enabled", "false"),
            ("admin.allowed_grant_types", "authorization_code,refresh_token"),
            ("admin.default_per_page", "2"),
            ("admin.max_per_page", "5"),
            ("admin.max_secret_grace_period_secs", "60"),
        ]).await;
        let admin = Admin::new(&app, "ops", "client:admin");
        assert_eq!(app.register(&public_client("Open")).await.status().as_u16(), 404, "open registration is off");
        // Administrators still create clients, under their own grant list.
        let batch = json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"});
        let d = assert_error(admin.post("/admin/clients", Some(&batch)).await, 400, "invalid_client_metadata").await;
        assert!(d.starts_with("grant_types[0]"), "{d}");
        for i in 0..3 {
            admin.create(&with(public_client(&format!("Configured {i}")), "client_id", json!(format!("configured-{i}")))).await;
        }
        let (ids, body) = admin.list_ids(&[]).await;
        assert_eq!((ids.len(), body["per_page"].clone(), body["total"].clone()), (2, json!(2), json!(3)));
        assert_eq!(admin.list_ids(&[("per_page", "5")]).await.0.len(), 3);
        let d = assert_error(admin.query("/admin/clients", &[("per_page", "6")]).await, 400, "invalid_request").await;
        assert_eq!(d, "per_page: 6 is above the limit of 5; use a whole number from 1 to 5");
        let d = assert_error(admin.query("/admin/audit-events", &[("per_page", "6")]).await, 400, "invalid_request").await;
        assert!(d.starts_with("per_page: 6 is above the limit of 5"), "{d}");
        let audit = expect_json(admin.query("/admin/audit-events", &[]).await, 200).await;
        assert_eq!((audit["per_page"].clone(), audit["has_more"].clone()), (json!(2), json!(true)));
        let created = admin.create(&web_client("Graceful")).await;
        let id = created["client"]["client_id"].as_str().expect("id").to_owned();
        let d = assert_error(admin.post(&format!("/admin/clients/{id}/secret"), Some(&json!({"grace_period_secs": 61}))).await, 400, "invalid_request").await;
        assert_eq!(d, "grace_period_secs: expected a whole number of seconds from 0 to 60");
        let rotated = expect_json(admin.post(&format!("/admin/clients/{id}/secret"), Some(&json!({"grace_period_secs": 60}))).await, 200).await;
        assert!(rotated["previous_secret_valid_until"].is_i64());
    }

    async fn administration_can_be_turned_off(backend: Backend) {
        let app = spawn_app_with(backend, &[("admin.enabled", "false")]).await;
        let [token] = admin_tokens(&app, [("ops", "client:admin")]);
        for (method, path) in [(Method::GET, "/admin/clients"), (Method::POST, "/admin/clients"), (Method::GET, "/admin/clients/x"), (Method::POST, "/admin/clients/x/lock"), (Method::GET, "/admin/audit-events")] {
            let res = call(&app, method.clone(), path, Some(&token), Some(&json!({}))).await;
            assert_error(res, 404, "not_found").await;
            let res = call(&app, method.clone(), path, None, None).await;
            assert_eq!(res.status().as_u16(), 404, "{method} {path} without a token");
        }
        // Registration itself is unaffected.
        assert_eq!(app.register(&public_client("Still open")).await.status().as_u16(), 201);
    }
}

/// A listing with a fresh read-only token.
async fn admin_list_as_reader(app: &TestApp) -> (Vec<String>, Value) {
    Admin::new(app, "list-reader", "client:read")
        .list_ids(&[])
        .await
}

#[tokio::test]
async fn openapi_documents_every_administration_route() {
    let app = spawn_app(authz_storage::Backend::Sqlite).await;
    let spec: Value = expect_json(
        app.http
            .get(app.url("/openapi.json"))
            .send()
            .await
            .expect("sent"),
        200,
    )
    .await;
    let paths = spec["paths"].as_object().expect("paths");
    let mut admin: Vec<(String, Vec<String>)> = paths
        .iter()
        .filter(|(p, _)| p.starts_with("/admin"))
        .map(|(p, item)| {
            let mut methods: Vec<String> = item
                .as_object()
                .expect("path item")
                .keys()
                .filter(|k| ["get", "put", "post", "delete", "patch"].contains(&k.as_str()))
                .cloned()
                .collect();
            methods.sort();
            (p.clone(), methods)
        })
        .collect();
    admin.sort();
    let expected: Vec<(String, Vec<String>)> = [
        ("/admin/audit-events", vec!["get"]),
        ("/admin/clients", vec!["get", "post"]),
        ("/admin/clients/{client_id}", vec!["delete", "get", "put"]),
        ("/admin/clients/{client_id}/lock", vec!["post"]),
        (
            "/admin/clients/{client_id}/registration-access-token",
            vec!["post"],
        ),
        ("/admin/clients/{client_id}/secret", vec!["post"]),
        ("/admin/clients/{client_id}/unlock", vec!["post"]),
        ("/admin/initial-access-tokens", vec!["get", "post"]),
        ("/admin/initial-access-tokens/{id}", vec!["delete"]),
        ("/admin/users", vec!["get", "post"]),
        ("/admin/users/{user_id}", vec!["get"]),
        ("/admin/users/{user_id}/disable", vec!["post"]),
        ("/admin/users/{user_id}/enable", vec!["post"]),
        ("/admin/users/{user_id}/password", vec!["put"]),
    ]
    .into_iter()
    .map(|(p, m)| (p.to_owned(), m.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(admin, expected);
    for (path, methods) in &expected {
        for method in methods {
            let op = &paths[path.as_str()][method.as_str()];
            assert!(op["operationId"].is_string(), "{method} {path}");
            assert!(
                op["security"].to_string().contains("administratorToken"),
                "{method} {path} names the administrator token: {op}"
            );
            for status in ["401", "403"] {
                assert!(
                    op["responses"].get(status).is_some(),
                    "{method} {path} documents {status}"
                );
            }
        }
    }
}

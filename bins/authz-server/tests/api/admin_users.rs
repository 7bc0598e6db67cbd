//! `/admin/users`: user accounts through the administration API, on both backends: the
//! `user:read` / `user:admin` scopes (which `client:admin` does not grant), creation, listing,
//! reading, disabling, enabling and setting passwords, errors that name the field, and no password
//! or hash in any answer or audit record.

use authz_domain::administration::AdminScopes;
use authz_server::startup::Services;
use authz_storage::schema::users;
use diesel::prelude::*;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use crate::helpers::{assert_error, assert_no_nulls, spawn_app, TestApp};
use crate::on_both_backends;

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a new and longer passphrase";

/// Services on the application's database, with administrator tokens made as the command line
/// makes them: `users` (user:admin), `reader` (user:read), `clients` (client:admin).
struct Fixture<'a> {
    app: &'a TestApp,
    services: Services,
    users: String,
    reader: String,
    clients: String,
}

impl<'a> Fixture<'a> {
    fn new(app: &'a TestApp) -> Self {
        let services = Services::build(&app.settings, &app.db).expect("services build");
        let token = |name: &str, scopes: &str| {
            services
                .admin
                .create_admin_token(name, AdminScopes::parse(scopes).expect("scopes"), None)
                .expect("administrator token")
                .plaintext
                .expose_secret()
                .to_owned()
        };
        let users = token("users", "user:admin");
        let reader = token("reader", "user:read");
        let clients = token("clients", "client:admin");
        Self {
            app,
            services,
            users,
            reader,
            clients,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut req = self.app.http.request(method, self.app.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.expect("request sent")
    }

    fn signs_in(&self, username: &str, password: &str) -> bool {
        self.services
            .users
            .authenticate(username, &SecretString::from(password.to_owned()))
            .is_ok()
    }
}

/// Asserts the status and returns the JSON body, checking it holds no password or hash.
async fn expect_json(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.expect("body");
    assert_eq!(got, status, "{text}");
    assert_no_secrets(&text);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn assert_no_secrets(text: &str) {
    for secret in [PASSWORD, NEW_PASSWORD, "argon2", "password_hash"] {
        assert!(!text.contains(secret), "{secret:?} in {text}");
    }
}

on_both_backends! {
    async fn users_are_created_listed_read_disabled_enabled_and_given_passwords(backend: Backend) {
        let app = spawn_app(backend).await;
        let f = Fixture::new(&app);
        let created = f
            .call(
                Method::POST,
                "/admin/users",
                Some(&f.users),
                Some(&json!({"username": "Alice", "display_name": "Alice Liddell", "password": PASSWORD})),
            )
            .await;
        let location = created.headers()["location"].to_str().expect("ascii").to_owned();
        let alice = expect_json(created, 201).await;
        assert_no_nulls(&alice);
        let id = alice["id"].as_str().expect("id").to_owned();
        assert_eq!(location, app.url(&format!("/admin/users/{id}")));
        assert_eq!(alice["username"], "Alice");
        assert_eq!(alice["display_name"], "Alice Liddell");
        assert_eq!(alice["state"], "active");
        assert!(alice.get("password").is_none());
        assert!(f.signs_in("alice", PASSWORD));
        let bob = expect_json(
            f.call(Method::POST, "/admin/users", Some(&f.users), Some(&json!({"username": "bob", "password": PASSWORD}))).await,
            201,
        )
        .await;
        assert!(bob.get("display_name").is_none(), "absent, not null: {bob}");

        // Listing: by username regardless of case, paged, readable with user:read.
        let list = expect_json(f.call(Method::GET, "/admin/users", Some(&f.reader), None).await, 200).await;
        assert_eq!(list["total"], 2);
        assert_eq!((list["page"].as_u64(), list["per_page"].as_u64()), (Some(1), Some(20)));
        let names: Vec<&str> = list["users"].as_array().expect("users").iter().map(|u| u["username"].as_str().expect("name")).collect();
        assert_eq!(names, ["Alice", "bob"]);
        let page2 = expect_json(f.call(Method::GET, "/admin/users?page=2&per_page=1", Some(&f.reader), None).await, 200).await;
        assert_eq!(page2["users"][0]["username"], "bob");
        assert_eq!(page2["total"], 2);
        let got = expect_json(f.call(Method::GET, &format!("/admin/users/{id}"), Some(&f.reader), None).await, 200).await;
        assert_eq!(got, alice);

        // A sign-in session ends when the user is disabled.
        let session = f
            .services
            .users
            .sign_in("alice", &SecretString::from(PASSWORD.to_owned()), None, &Default::default())
            .expect("signed in")
            .session_id;
        let disabled = expect_json(f.call(Method::POST, &format!("/admin/users/{id}/disable"), Some(&f.users), None).await, 200).await;
        assert_eq!(disabled["state"], "disabled");
        assert!(f.services.users.current_session(&session).expect("read").is_none());
        assert!(!f.signs_in("alice", PASSWORD));
        let enabled = expect_json(f.call(Method::POST, &format!("/admin/users/{id}/enable"), Some(&f.users), None).await, 200).await;
        assert_eq!(enabled["state"], "active");
        assert!(f.signs_in("alice", PASSWORD));

        // A new password; the old one stops, the session ends.
        let session = f
            .services
            .users
            .sign_in("alice", &SecretString::from(PASSWORD.to_owned()), None, &Default::default())
            .expect("signed in")
            .session_id;
        let res = f
            .call(Method::PUT, &format!("/admin/users/{id}/password"), Some(&f.users), Some(&json!({"password": NEW_PASSWORD})))
            .await;
        assert_eq!(res.status().as_u16(), 204);
        assert!(f.services.users.current_session(&session).expect("read").is_none());
        assert!(!f.signs_in("alice", PASSWORD));
        assert!(f.signs_in("alice", NEW_PASSWORD));

        // The audit trail names the administrator and holds no password or hash.
        let events = expect_json(
            f.call(Method::GET, "/admin/audit-events?per_page=100", Some(&f.clients), None).await,
            200,
        )
        .await;
        let mine: Vec<(&str, &str)> = events["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["action"].as_str().is_some_and(|a| a.starts_with("user.") && a != "user.signed_in"))
            .map(|e| (e["action"].as_str().expect("a"), e["actor"].as_str().expect("b")))
            .collect();
        assert_eq!(
            mine,
            [
                ("user.password_set", "admin:users"),
                ("user.updated", "admin:users"),
                ("user.updated", "admin:users"),
                ("user.created", "admin:users"),
                ("user.created", "admin:users"),
            ]
        );
        let hashes: Vec<String> = app.db.read(|c| users::table.select(users::password_hash).load(c)).expect("rows");
        assert!(hashes.iter().all(|h| h.starts_with("$argon2id$")));
        f.services.audit.flush();
    }

    async fn user_scopes_are_their_own_and_checked_before_anything_else(backend: Backend) {
        let app = spawn_app(backend).await;
        let f = Fixture::new(&app);
        let body = json!({"username": "mallory", "password": PASSWORD});
        let routes: [(Method, &str, Option<&Value>, &str); 6] = [
            (Method::GET, "/admin/users", None, "user:read"),
            (Method::GET, "/admin/users/nosuch", None, "user:read"),
            (Method::POST, "/admin/users", Some(&body), "user:admin"),
            (Method::POST, "/admin/users/nosuch/disable", None, "user:admin"),
            (Method::POST, "/admin/users/nosuch/enable", None, "user:admin"),
            (Method::PUT, "/admin/users/nosuch/password", Some(&body), "user:admin"),
        ];
        for (method, path, body, scope) in routes {
            // client:admin is not a user scope.
            let res = f.call(method.clone(), path, Some(&f.clients), body).await;
            let challenge = res.headers()["www-authenticate"].to_str().expect("ascii").to_owned();
            assert!(challenge.contains(&format!("scope=\"{scope}\"")), "{method} {path}: {challenge}");
            let description = assert_error(res, 403, "insufficient_scope").await;
            let umbrella = if scope == "user:read" { " (or user:admin)" } else { "" };
            assert!(
                description.contains(&format!("needs the {scope} scope{umbrella}")) && description.contains("client:admin"),
                "{method} {path}: {description}"
            );
            if scope == "user:admin" {
                let res = f.call(method.clone(), path, Some(&f.reader), body).await;
                assert_error(res, 403, "insufficient_scope").await;
            }
            let res = f.call(method.clone(), path, None, body).await;
            assert_error(res, 401, "invalid_token").await;
            let res = f.call(method.clone(), path, Some("adm_unknown"), body).await;
            assert_error(res, 401, "invalid_token").await;
        }
        // Nothing was created by the refused calls; the refusals are audited with the scope.
        let list = expect_json(f.call(Method::GET, "/admin/users", Some(&f.users), None).await, 200).await;
        assert_eq!(list["total"], 0);
        let denied = expect_json(
            f.call(Method::GET, "/admin/audit-events?action=admin.denied&per_page=100", Some(&f.clients), None).await,
            200,
        )
        .await;
        let details: Vec<&str> = denied["events"].as_array().expect("events").iter().filter(|e| e["actor"] == "admin:clients").map(|e| e["detail"].as_str().expect("detail")).collect();
        assert!(details.contains(&"insufficient scope (needs user:read)"), "{details:?}");
        assert!(details.contains(&"insufficient scope (needs user:admin)"), "{details:?}");
        // And a user:admin token does not reach clients.
        let res = f.call(Method::GET, "/admin/clients", Some(&f.users), None).await;
        assert_error(res, 403, "insufficient_scope").await;
        f.services.audit.flush();
    }

    async fn refusals_name_the_field_and_write_nothing(backend: Backend) {
        let app = spawn_app(backend).await;
        let f = Fixture::new(&app);
        let create = |body: Value| {
            let f = &f;
            async move { f.call(Method::POST, "/admin/users", Some(&f.users), Some(&body)).await }
        };
        expect_json(create(json!({"username": "Alice", "password": PASSWORD})).await, 201).await;
        for taken in ["alice", "ALICE", " Alice "] {
            let d = assert_error(create(json!({"username": taken, "password": PASSWORD})).await, 409, "conflict").await;
            assert!(d.starts_with("username: ") && d.contains("regardless of case"), "{d}");
        }
        let cases = [
            (json!({"password": PASSWORD}), "username: required"),
            (json!({"username": 7, "password": PASSWORD}), "username: expected a string, got a number"),
            (json!({"username": "  ", "password": PASSWORD}), "username: the username is empty"),
            (json!({"username": "bob"}), "password: required"),
            (json!({"username": "bob", "password": "short"}), "password: the password has 5 characters; at least 8 are required"),
            (json!({"username": "bob", "password": "x".repeat(1025)}), "password: the password has 1025 characters; at most 1024 are allowed"),
            (json!({"username": "bob", "password": PASSWORD, "display_name": ["x"]}), "display_name: expected a string, got an array"),
            (json!({"username": "bob", "password": PASSWORD, "display_name": "x".repeat(129)}), "display_name: "),
            (json!({"username": "bob", "password": PASSWORD, "is_disabled": true}), "is_disabled: unknown member; accepted: username, display_name, password"),
        ];
        for (body, expected) in cases {
            let d = assert_error(create(body.clone()).await, 400, "invalid_request").await;
            assert!(d.starts_with(expected), "{body}: {d}");
            assert_no_secrets(&d);
        }
        let raw = f
            .app
            .http
            .post(app.url("/admin/users"))
            .bearer_auth(&f.users)
            .header("content-type", "application/json")
            .body("{\"username\":\"a\",\"username\":\"b\"}")
            .send()
            .await
            .expect("sent");
        assert_error(raw, 400, "invalid_request").await;

        let list = expect_json(f.call(Method::GET, "/admin/users", Some(&f.reader), None).await, 200).await;
        assert_eq!(list["total"], 1, "nothing else written");
        let id = list["users"][0]["id"].as_str().expect("id").to_owned();
        for (query, expected) in [
            ("per_page=101", "per_page: 101 is above the limit of 100"),
            ("page=0", "page: \"0\" is not accepted"),
            ("sort=username", "query string: "),
        ] {
            let d = assert_error(f.call(Method::GET, &format!("/admin/users?{query}"), Some(&f.reader), None).await, 400, "invalid_request").await;
            assert!(d.starts_with(expected), "{query}: {d}");
        }
        for (method, path) in [
            (Method::GET, "/admin/users/nosuch".to_owned()),
            (Method::POST, "/admin/users/nosuch/disable".to_owned()),
            (Method::POST, "/admin/users/nosuch/enable".to_owned()),
        ] {
            let token = if method == Method::GET { &f.reader } else { &f.users };
            let d = assert_error(f.call(method.clone(), &path, Some(token), None).await, 404, "not_found").await;
            assert_eq!(d, "no user has the id \"nosuch\"", "{method} {path}");
        }
        let password = |body: Value, user: &str| {
            let f = &f;
            let path = format!("/admin/users/{user}/password");
            async move { f.call(Method::PUT, &path, Some(&f.users), Some(&body)).await }
        };
        let d = assert_error(password(json!({"password": NEW_PASSWORD}), "nosuch").await, 404, "not_found").await;
        assert!(d.contains("nosuch"), "{d}");
        for (body, expected) in [
            (json!({"password": "short"}), "password: the password has 5 characters; at least 8 are required"),
            (json!({}), "password: required"),
            (json!({"password": NEW_PASSWORD, "username": "x"}), "username: unknown member; accepted: password"),
        ] {
            let d = assert_error(password(body.clone(), &id).await, 400, "invalid_request").await;
            assert!(d.starts_with(expected), "{body}: {d}");
        }
        assert!(f.signs_in("alice", PASSWORD), "the password is unchanged");
        f.services.audit.flush();
    }
}

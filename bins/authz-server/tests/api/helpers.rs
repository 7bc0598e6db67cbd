//! Spawning the application for a test.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Once;

use authz_server::settings::{Settings, Sources};
use authz_server::startup::Application;
use authz_storage::schema::{clients, registration_access_tokens};
use authz_storage::test_support::TestDatabase;
use authz_storage::{Backend, Database};
use diesel::prelude::*;
use serde_json::Value;

/// Runs each listed async test once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($(#[$meta:meta])* async fn $name:ident($backend:ident: Backend) $body:block)+) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $( $(#[$meta])* #[tokio::test] async fn $name() { super::$name(authz_storage::Backend::Sqlite).await } )+
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $( $(#[$meta])* #[tokio::test] async fn $name() { super::$name(authz_storage::Backend::Postgres).await } )+
        }
        $( async fn $name($backend: authz_storage::Backend) $body )+
    };
}

pub fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

/// Fixtures shared with the domain tests.
pub fn real_clients() -> serde_json::Map<String, Value> {
    let raw = include_str!("../../../../crates/authz-domain/tests/fixtures/real_clients.json");
    match serde_json::from_str(raw).expect("fixture parses") {
        Value::Object(m) => m,
        _ => panic!("fixture is an object"),
    }
}

pub fn vscode_unfiltered() -> Value {
    serde_json::from_str(include_str!(
        "../../../../crates/authz-domain/tests/fixtures/vscode_unfiltered.json"
    ))
    .expect("fixture parses")
}

fn init_test_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
        }
    });
}

/// A running application and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub db: Database,
    pub settings: Settings,
    _database: TestDatabase,
}

/// Settings for a test against `url` served at `base`.
pub fn test_settings(url: &str, base: &str, overrides: &[(&str, &str)]) -> Settings {
    let mut all = vec![
        ("database.url".to_owned(), url.to_owned()),
        ("server.public_base_url".to_owned(), base.to_owned()),
    ];
    all.extend(
        overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Settings::load(&Sources {
        config_dir: Some(config_dir()),
        environment: Some("test".into()),
        use_env_vars: false,
        overrides: all,
    })
    .expect("test settings load")
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// Starts the application with configuration overrides (`("registration.enabled", "false")`).
pub async fn spawn_app_with(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    init_test_logging();
    let database = TestDatabase::new(backend);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let port = listener.local_addr().expect("addr").port();
    let address = format!("http://127.0.0.1:{port}");
    let settings = test_settings(&database.url, &address, overrides);
    let app = Application::build_with_listener(&settings, listener).expect("application builds");
    let db = app.database().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        http: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("http client"),
        db,
        settings,
        _database: database,
    }
}

/// A second application on the database of `other` (it keeps that database alive).
pub async fn spawn_app_on(other: &TestApp, overrides: &[(&str, &str)]) -> OtherApp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let port = listener.local_addr().expect("addr").port();
    let address = format!("http://127.0.0.1:{port}");
    let settings = test_settings(&other.settings.database.url, &address, overrides);
    let app = Application::build_with_listener(&settings, listener).expect("application builds");
    tokio::spawn(app.run_until_stopped());
    OtherApp {
        address,
        http: other.http.clone(),
    }
}

/// An application sharing another's database.
pub struct OtherApp {
    pub address: String,
    pub http: reqwest::Client,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POST /register with a JSON value.
    pub async fn register(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/register"))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// POST /register with raw bytes and a content type.
    pub async fn register_raw(
        &self,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url("/register")).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send().await.expect("request sent")
    }

    /// (clients, registration access tokens) stored.
    pub fn counts(&self) -> (i64, i64) {
        self.db
            .read(|c| {
                Ok((
                    clients::table.count().get_result(c)?,
                    registration_access_tokens::table.count().get_result(c)?,
                ))
            })
            .expect("count rows")
    }
}

/// Asserts an error response: status, JSON `error` code, and returns the description.
pub async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(res.status().as_u16(), status, "status");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/json"),
        "errors are JSON"
    );
    let body: Value = res.json().await.expect("error body is JSON");
    assert_eq!(body["error"], code, "{body}");
    let description = body["error_description"]
        .as_str()
        .expect("description")
        .to_owned();
    assert!(!description.is_empty());
    description
}

/// No member of a JSON object (at any depth) is null.
pub fn assert_no_nulls(v: &Value) {
    match v {
        Value::Null => panic!("null in response"),
        Value::Array(items) => items.iter().for_each(assert_no_nulls),
        Value::Object(m) => m.values().for_each(assert_no_nulls),
        _ => {}
    }
}

/// An administrator token with `scopes`, made on the application's database as
/// `authz-server admin-token create` makes it.
pub fn admin_token(app: &TestApp, scopes: &str) -> String {
    use secrecy::ExposeSecret as _;
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let services =
        authz_server::startup::Services::build(&app.settings, &app.db).expect("services build");
    services
        .admin
        .create_admin_token(
            &format!("test-{n}"),
            authz_domain::administration::AdminScopes::parse(scopes).expect("scopes"),
            None,
        )
        .expect("administrator token created")
        .plaintext
        .expose_secret()
        .to_owned()
}

//! One normalisation of `server.public_base_url` (issue 9 part 2): with a trailing slash, with or
//! without a path, the issuer and every URL the server hands out come from the same normal form
//! (RFC 8414 §3.3 clients compare the issuer exactly).

use std::net::TcpListener;

use authz_server::startup::Application;
use authz_storage::test_support::TestDatabase;
use serde_json::Value;

use crate::helpers::{admin_token, real_clients, spawn_app, test_settings};
use crate::on_both_backends;

/// A server whose `public_base_url` is `http://127.0.0.1:{port}{suffix}`; returns the address it
/// listens on, the settings and the database (kept alive by the caller).
fn spawn_with_base(
    backend: authz_storage::Backend,
    suffix: &str,
) -> (String, authz_server::settings::Settings, TestDatabase) {
    let database = TestDatabase::new(backend);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let address = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let settings = test_settings(&database.url, &format!("{address}{suffix}"), &[]);
    let app = Application::build_with_listener(&settings, listener).expect("application builds");
    tokio::spawn(app.run_until_stopped());
    (address, settings, database)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// Every URL member of the metadata starts with `issuer/` and has no `//` past the scheme.
fn assert_urls_under(issuer: &str, doc: &Value) {
    for (name, value) in doc.as_object().expect("object") {
        let Some(url) = value
            .as_str()
            .filter(|v| v.starts_with("http") && name != "issuer")
        else {
            continue;
        };
        assert!(url.starts_with(&format!("{issuer}/")), "{name} = {url}");
        assert!(!url["http://".len()..].contains("//"), "{name} = {url}");
    }
}

on_both_backends! {
    async fn a_trailing_slash_leaves_no_slash_in_the_issuer(backend: Backend) {
        let (address, _settings, _db) = spawn_with_base(backend, "/");
        let http = client();
        let doc: Value = http.get(format!("{address}/.well-known/oauth-authorization-server"))
            .send().await.expect("sent").json().await.expect("json");
        assert_eq!(doc["issuer"], address.as_str(), "{doc}");
        assert_urls_under(&address, &doc);
        assert_eq!(doc["token_endpoint"], format!("{address}/token"));

        let res = http.post(format!("{address}/register")).json(&real_clients()["claude_code"]).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 201);
        let reg: Value = res.json().await.expect("json");
        let uri = reg["registration_client_uri"].as_str().expect("uri");
        assert_eq!(uri, format!("{address}/register/{}", reg["client_id"].as_str().expect("id")));
        // The URI handed out works.
        let read = http.get(uri).bearer_auth(reg["registration_access_token"].as_str().expect("token"))
            .send().await.expect("sent");
        assert_eq!(read.status().as_u16(), 200);
    }

    async fn a_path_issuer_with_a_trailing_slash_is_normalised_too(backend: Backend) {
        let (address, _settings, _db) = spawn_with_base(backend, "/tenant/");
        let issuer = format!("{address}/tenant");
        let http = client();
        // RFC 8414 §3.1: the metadata of a path issuer is at /.well-known/…/{path}.
        let res = http.get(format!("{address}/.well-known/oauth-authorization-server/tenant"))
            .send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 200);
        let doc: Value = res.json().await.expect("json");
        assert_eq!(doc["issuer"], issuer.as_str());
        assert_urls_under(&issuer, &doc);
        let reg: Value = http.post(format!("{address}/register")).json(&real_clients()["claude_code"])
            .send().await.expect("sent").json().await.expect("json");
        assert!(reg["registration_client_uri"].as_str().expect("uri").starts_with(&format!("{issuer}/register/")));
    }

    async fn admin_locations_come_from_the_normalised_base(backend: Backend) {
        // The admin API's Location headers are built from the same value as the issuer.
        let app = spawn_app(backend).await;
        let token = admin_token(&app, "client:create");
        let res = app.http.post(app.url("/admin/clients")).bearer_auth(token)
            .json(&real_clients()["claude_code"]).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 201);
        let location = res.headers()["location"].to_str().expect("ascii").to_owned();
        assert!(location.starts_with(&format!("{}/admin/clients/", app.address)), "{location}");
    }
}

#[test]
fn every_issuer_the_server_uses_is_the_normalised_one() {
    for (raw, normal) in [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        (
            "https://Auth.Example.com:443/tenant/",
            "https://auth.example.com/tenant",
        ),
    ] {
        let settings = test_settings("sqlite:///tmp/unused.sqlite3", raw, &[]);
        assert_eq!(settings.server.public_base_url, normal);
        // The metadata's issuer, the JWT `iss`, the pages' issuer (and the authorization
        // response's `iss`, which must equal it) all read this one value.
        assert_eq!(
            settings.http_settings().expect("http").public_base_url,
            normal
        );
        assert_eq!(settings.token_policy().expect("tokens").issuer, normal);
        assert_eq!(settings.pages_settings().issuer, normal);
    }
}

//! HTTP as RFC 9110 defines it (issue 9 part 3, issue 11 item 8), over every route: the OpenAPI
//! document's, the pages', the token endpoints' and the routes outside the document.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{admin_token, assert_error, real_clients, spawn_app, spawn_app_with, TestApp};
use crate::on_both_backends;

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"];

/// The HTML pages (outside the OpenAPI document) and the methods each answers.
const PAGES: &[(&str, &[&str])] = &[
    ("/", &["GET", "HEAD"]),
    ("/docs", &["GET", "HEAD"]),
    ("/docs/openapi", &["GET", "HEAD"]),
    ("/docs/images/none.png", &["GET", "HEAD"]),
    ("/authorize", &["GET", "HEAD", "POST"]),
    ("/signin", &["GET", "HEAD", "POST"]),
    ("/consent", &["GET", "HEAD", "POST"]),
    ("/signout", &["GET", "HEAD", "POST"]),
    ("/assets/pages.css", &["GET", "HEAD"]),
    ("/", &["GET", "HEAD"]),
    ("/docs", &["GET", "HEAD"]),
    ("/docs/mcp", &["GET", "HEAD"]),
    ("/docs/openapi", &["GET", "HEAD"]),
];

/// JSON routes outside the OpenAPI document.
const OTHER_ROUTES: &[(&str, &[&str])] = &[
    ("/jwks.json", &["GET", "HEAD"]),
    (
        "/.well-known/oauth-authorization-server/tenant",
        &["GET", "HEAD"],
    ),
];

/// A registered client: (client id, registration access token).
async fn client(app: &TestApp) -> (String, String) {
    let doc: Value = app
        .register(&real_clients()["claude_code"])
        .await
        .json()
        .await
        .expect("json");
    (
        doc["client_id"].as_str().expect("id").to_owned(),
        doc["registration_access_token"]
            .as_str()
            .expect("token")
            .to_owned(),
    )
}

/// Every (concrete path, allowed methods, needs an admin token) of the OpenAPI document, path
/// parameters filled in with `client_id` and an unknown user id.
async fn documented_routes(app: &TestApp, client_id: &str) -> Vec<(String, BTreeSet<String>)> {
    let spec: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let mut routes = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        let mut allowed: BTreeSet<String> = item
            .as_object()
            .expect("path item")
            .keys()
            .map(|m| m.to_uppercase())
            .filter(|m| METHODS.contains(&m.as_str()))
            .collect();
        if allowed.contains("GET") {
            allowed.insert("HEAD".into());
        }
        let concrete = path
            .replace("{client_id}", client_id)
            .replace("{user_id}", "no-such-user")
            .replace("{id}", "no-such-id");
        assert!(!concrete.contains('{'), "unfilled parameter in {path}");
        routes.push((concrete, allowed));
    }
    assert!(routes.len() >= 10, "the document lists the routes");
    routes
}

fn allow_set(res: &reqwest::Response) -> BTreeSet<String> {
    res.headers()
        .get("allow")
        .map(|v| v.to_str().expect("ascii"))
        .unwrap_or("")
        .split(',')
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect()
}

fn is_json(res: &reqwest::Response) -> bool {
    res.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

async fn send(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.http.request(
        Method::from_bytes(method.as_bytes()).expect("method"),
        app.url(path),
    );
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("sent")
}

on_both_backends! {
    async fn head_answers_wherever_get_does(backend: Backend) {
        let app = spawn_app(backend).await;
        let (client_id, registration_token) = client(&app).await;
        let admin = admin_token(&app, "client:admin user:admin");
        let mut paths: Vec<(String, bool)> = documented_routes(&app, &client_id).await
            .into_iter()
            .filter(|(_, allowed)| allowed.contains("GET"))
            .map(|(path, _)| (path, true))
            .collect();
        paths.extend(PAGES.iter().chain(OTHER_ROUTES).map(|(p, _)| ((*p).to_owned(), false)));
        let mut checked = 0;
        for (path, _) in &paths {
            let token = if path.starts_with("/admin") {
                Some(admin.as_str())
            } else if path.starts_with("/register/") {
                Some(registration_token.as_str())
            } else {
                None
            };
            let get = send(&app, "GET", path, token).await;
            let head = send(&app, "HEAD", path, token).await;
            assert_eq!(head.status(), get.status(), "HEAD {path}");
            assert_eq!(head.headers().get("content-type"), get.headers().get("content-type"), "HEAD {path}");
            let get_length = get.headers().get("content-length").cloned();
            let get_body = get.bytes().await.expect("body");
            // (An error's description names the method, so only a success's length must match.)
            if head.status().is_success() {
                let length = head.headers().get("content-length").cloned();
                assert_eq!(length, get_length, "HEAD {path}: the GET body's length");
            }
            assert!(head.bytes().await.expect("body").is_empty(), "HEAD {path} has no body");
            if path == "/health" || path == "/.well-known/oauth-authorization-server" {
                assert!(!get_body.is_empty());
            }
            checked += 1;
        }
        assert!(checked >= 15, "{checked} GET routes checked");
        // The client configuration endpoint (RFC 7592) by HEAD is a 200 with the token.
        let res = send(&app, "HEAD", &format!("/register/{client_id}"), Some(&registration_token)).await;
        assert_eq!(res.status().as_u16(), 200);
    }

    async fn a_wrong_method_is_405_with_allow_on_every_route(backend: Backend) {
        let app = spawn_app(backend).await;
        let (client_id, _) = client(&app).await;
        let mut routes = documented_routes(&app, &client_id).await;
        for (path, methods) in PAGES.iter().chain(OTHER_ROUTES) {
            routes.push(((*path).to_owned(), methods.iter().map(|m| (*m).to_owned()).collect()));
        }
        for (path, allowed) in &routes {
            let page = PAGES.iter().any(|(p, _)| p == path);
            for method in METHODS.iter().filter(|m| !allowed.contains(**m)) {
                let res = send(&app, method, path, None).await;
                assert_eq!(res.status().as_u16(), 405, "{method} {path}");
                assert_eq!(&allow_set(&res), allowed, "{method} {path}: Allow");
                if !page {
                    // The pages answer their own HTML error pages; every API route answers JSON.
                    assert!(is_json(&res), "{method} {path}: JSON");
                    if *method != "HEAD" {
                        let body: Value = res.json().await.expect("json");
                        assert_eq!(body["error"], "invalid_request", "{method} {path}");
                        assert!(body["error_description"].as_str().expect("text").contains(method));
                    }
                }
            }
        }
        // The token endpoints are in the document; make sure they were covered.
        for endpoint in ["/token", "/introspect", "/revoke", "/register"] {
            assert!(routes.iter().any(|(p, _)| p == endpoint), "{endpoint} covered");
        }
    }

    async fn unknown_paths_are_json_404_for_every_method(backend: Backend) {
        let app = spawn_app(backend).await;
        for method in METHODS {
            for path in ["/nope", "/register/a/b", "/admin", "/.well-known/openid-configuration"] {
                let res = send(&app, method, path, None).await;
                assert_eq!(res.status().as_u16(), 404, "{method} {path}");
                assert!(is_json(&res), "{method} {path}");
                if *method != "HEAD" {
                    assert_error(res, 404, "not_found").await;
                }
            }
        }
    }

    async fn json_media_types_are_parsed_as_rfc9110_defines_them(backend: Backend) {
        let app = spawn_app(backend).await;
        let body = serde_json::to_vec(&real_clients()["claude_code"]).expect("json");
        for content_type in [
            "application/json ; charset=utf-8",
            "application/json\t;\tcharset=utf-8",
            "application/json;CHARSET=UTF-8",
            "Application/JSON; Charset=\"utf-8\"",
            "application/json; charset=utf-8; profile=x",
        ] {
            let res = app.register_raw(Some(content_type), body.clone()).await;
            assert_eq!(res.status().as_u16(), 201, "{content_type:?}");
        }
        // The token endpoint's form media type, the same way: the request gets past the
        // Content-Type check to the grant (and fails there, for lack of a client).
        for content_type in [
            "application/x-www-form-urlencoded ; charset=UTF-8",
            "Application/X-WWW-Form-Urlencoded",
        ] {
            let res = app.http.post(app.url("/token")).header("content-type", content_type)
                .body("grant_type=client_credentials&client_id=nobody").send().await.expect("sent");
            let body: Value = res.json().await.expect("json");
            assert!(!body["error_description"].as_str().unwrap_or("").contains("Content-Type"), "{content_type:?}: {body}");
        }
    }

    async fn content_type_errors_quote_the_header_as_sent(backend: Backend) {
        let app = spawn_app(backend).await;
        let body = serde_json::to_vec(&real_clients()["claude_code"]).expect("json");
        for (sent, expect) in [
            ("Text/Plain ; Charset=UTF-8", "expected application/json, got \"Text/Plain ; Charset=UTF-8\""),
            ("application/json/extra", "\"application/json/extra\" is not a media type"),
        ] {
            let d = assert_error(app.register_raw(Some(sent), body.clone()).await, 400, "invalid_request").await;
            assert!(d.contains(expect), "{sent}: {d}");
        }
        let res = app.http.post(app.url("/token")).header("content-type", "Application/JSON ;x=1")
            .body("{}").send().await.expect("sent");
        let d = assert_error(res, 400, "invalid_request").await;
        assert!(d.contains("got \"Application/JSON ;x=1\""), "{d}");
        assert_eq!(app.counts(), (0, 0));
    }

    async fn delete_answers_204_without_a_content_type(backend: Backend) {
        let app = spawn_app(backend).await;
        let (client_id, token) = client(&app).await;
        let res = send(&app, "DELETE", &format!("/register/{client_id}"), Some(&token)).await;
        assert_eq!(res.status().as_u16(), 204);
        assert!(res.headers().get("content-type").is_none(), "{:?}", res.headers());
        assert!(res.bytes().await.expect("body").is_empty());
        let (client_id, _) = client(&app).await;
        let admin = admin_token(&app, "client:delete");
        let res = send(&app, "DELETE", &format!("/admin/clients/{client_id}"), Some(&admin)).await;
        assert_eq!(res.status().as_u16(), 204);
        assert!(res.headers().get("content-type").is_none(), "{:?}", res.headers());
    }

    async fn a_malformed_chunked_body_is_a_json_400_in_words(backend: Backend) {
        let app = spawn_app(backend).await;
        for (path, content_type) in [("/register", "application/json"), ("/token", "application/x-www-form-urlencoded")] {
            let raw = format!(
                "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{{}}\r\n0\r\n\r\n"
            );
            let (head, body) = raw_exchange(&app, raw.as_bytes()).await;
            assert!(head.starts_with("HTTP/1.1 400"), "{path}: {head}");
            assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{path}: {head}");
            let doc: Value = serde_json::from_str(&body).expect("JSON body");
            let description = doc["error_description"].as_str().expect("text");
            assert!(!description.contains("None"), "{description}");
            assert!(description.contains("could not be read"), "{description}");
        }
        assert_eq!(app.counts(), (0, 0));
    }

    async fn the_http_layers_own_errors_are_json(backend: Backend) {
        let app = spawn_app(backend).await;
        let many: String = (0..120).map(|i| format!("X-Header-{i}: v\r\n")).collect();
        let cases = [
            (format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n{many}\r\n"), "431", "too large"),
            ("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n".to_owned(), "400", "not valid HTTP/1.1"),
            ("POST /register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}".to_owned(), "400", "not valid HTTP/1.1"),
            // After a good request on the same connection (keep-alive), the refusal is JSON too.
            ("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /health HTTP/1.1\r\nBad Header\r\n\r\n".to_owned(), "200", "not valid HTTP/1.1"),
        ];
        for (request, status, expect) in cases {
            let (head, body) = raw_exchange_all(&app, request.as_bytes()).await;
            assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{head}");
            let last = body.rsplit("\r\n\r\n").next().unwrap_or(&body);
            let doc: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {head}\n{body}"));
            assert_eq!(doc["error"], "invalid_request", "{doc}");
            assert!(doc["error_description"].as_str().expect("text").contains(expect), "{doc}");
        }
    }

    async fn a_request_head_that_never_arrives_is_a_json_408(backend: Backend) {
        let app = spawn_app_with(backend, &[("server.client_request_timeout_ms", "300")]).await;
        let (head, body) = raw_exchange_all(&app, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n").await;
        assert!(head.starts_with("HTTP/1.1 408"), "{head}");
        let doc: Value = serde_json::from_str(&body).expect("JSON body");
        assert!(doc["error_description"].as_str().expect("text").contains("did not arrive in time"), "{doc}");
    }
}

/// Sends raw bytes and reads until the server closes the connection: (first head, the rest).
async fn raw_exchange_all(app: &TestApp, request: &[u8]) -> (String, String) {
    let address = app.address.trim_start_matches("http://").to_owned();
    let request = request.to_vec();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&address).expect("connect");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        stream.write_all(&request).expect("write");
        let mut data = Vec::new();
        let _ = stream.read_to_end(&mut data);
        let text = String::from_utf8_lossy(&data).into_owned();
        let (head, rest) = text.split_once("\r\n\r\n").expect("a response head");
        (head.to_owned(), rest.to_owned())
    })
    .await
    .expect("exchange")
}

/// Sends raw bytes on a fresh connection and reads the first response: (head, body).
pub async fn raw_exchange(app: &TestApp, request: &[u8]) -> (String, String) {
    let address = app.address.trim_start_matches("http://").to_owned();
    let request = request.to_vec();
    tokio::task::spawn_blocking(move || blocking_exchange(&address, &request))
        .await
        .expect("exchange")
}

fn blocking_exchange(address: &str, request: &[u8]) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(request).expect("write");
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = find(&data, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                break;
            }
        }
    }
    let end = find(&data, b"\r\n\r\n").expect("a response head");
    (
        String::from_utf8_lossy(&data[..end]).into_owned(),
        String::from_utf8_lossy(&data[end + 4..]).into_owned(),
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

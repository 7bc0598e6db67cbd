//! Slow clients cannot hold the server: bodies that trickle in or never come are answered 408 and
//! their connections closed (`server.body_read_timeout_secs`), and the connection cap
//! (`server.max_connections`) makes further clients wait in the backlog instead of exhausting file
//! descriptors. These are HTTP-layer behaviours that no database takes part in: SQLite only.

use std::time::{Duration, Instant};

use authz_storage::Backend;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::spawn_app_with;

async fn connect(address: &str) -> TcpStream {
    TcpStream::connect(address.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Reads until the server closes the connection (or `within` passes: then the test fails).
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection in time")
        .expect("read");
    String::from_utf8(received).expect("utf-8 response")
}

fn status_and_body(response: &str) -> (u16, Value) {
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn head(method_path: &str, content_type: &str, length: usize) -> String {
    format!(
        "{method_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    )
}

#[tokio::test]
async fn a_body_trickling_in_at_one_byte_per_interval_is_answered_408_within_the_timeout() {
    let app = spawn_app_with(Backend::Sqlite, &[("server.body_read_timeout_secs", "1")]).await;
    for (target, content_type) in [
        ("POST /register", "application/json"),
        ("POST /token", "application/x-www-form-urlencoded"),
        ("POST /signin", "application/x-www-form-urlencoded"),
    ] {
        let mut stream = connect(&app.address).await;
        stream
            .write_all(head(target, content_type, 200).as_bytes())
            .await
            .expect("head sent");
        let started = Instant::now();
        // One byte every 100 ms: 200 bytes would take 20 s; the server stops it after 1 s.
        let trickle = async {
            for _ in 0..200 {
                if stream.write_all(b"{").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(1500), trickle).await;
        let response = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        let (status, body) = status_and_body(&response);
        assert_eq!(status, 408, "{target}: {response}");
        assert_eq!(body["error"], "invalid_request", "{target}: {response}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("did not arrive within 1 seconds")),
            "{target}: {response}"
        );
        assert!(
            response.to_ascii_lowercase().contains("connection: close"),
            "{target}: {response}"
        );
        assert!(started.elapsed() < Duration::from_secs(6), "{target}");
    }
}

#[tokio::test]
async fn a_connection_that_sends_a_head_but_no_body_is_answered_408_and_closed() {
    let app = spawn_app_with(Backend::Sqlite, &[("server.body_read_timeout_secs", "1")]).await;
    let mut stream = connect(&app.address).await;
    stream
        .write_all(head("POST /register", "application/json", 100).as_bytes())
        .await
        .expect("head sent");
    let response = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let (status, body) = status_and_body(&response);
    assert_eq!(status, 408, "{response}");
    assert_eq!(body["error"], "invalid_request");

    // A body that arrives slowly but within the time is served as usual.
    let mut stream = connect(&app.address).await;
    let json =
        br#"{"redirect_uris":["http://127.0.0.1:3000/cb"],"token_endpoint_auth_method":"none"}"#;
    stream
        .write_all(head("POST /register", "application/json", json.len()).as_bytes())
        .await
        .expect("head sent");
    for part in json.chunks(30) {
        tokio::time::sleep(Duration::from_millis(150)).await;
        stream.write_all(part).await.expect("part sent");
    }
    let mut received = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut received))
        .await
        .expect("answered")
        .expect("read");
    let response = String::from_utf8_lossy(&received[..n]);
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
}

#[tokio::test]
async fn past_the_connection_cap_new_clients_wait_until_slow_ones_are_closed() {
    // One worker, two connections at most, both taken by clients that never finish their request
    // heads (bodies would be shed past half the share, see the next test).
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("server.workers", "1"),
            ("server.max_connections", "2"),
            ("server.client_request_timeout_ms", "2000"),
        ],
    )
    .await;
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app.address).await;
        stream
            .write_all(b"POST /register HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .expect("half a head sent");
        slow.push(stream);
    }
    // Let the server accept both before the third client comes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting_since = Instant::now();
    let health = tokio::spawn({
        let http = app.http.clone();
        let url = format!("{}/health", app.address);
        async move {
            let res = http.get(url).send().await.expect("sent");
            (res.status().as_u16(), Instant::now())
        }
    });
    for stream in &mut slow {
        let response = read_until_closed(stream, Duration::from_secs(6)).await;
        assert_eq!(status_and_body(&response).0, 408, "{response}");
    }
    let (status, answered_at) = tokio::time::timeout(Duration::from_secs(6), health)
        .await
        .expect("the waiting client is served once a slot frees")
        .expect("task");
    assert_eq!(status, 200);
    // It was held in the backlog until a slow connection's 2 s ran out (1.7 s after it came),
    // not served beside them.
    assert!(
        answered_at - waiting_since >= Duration::from_millis(1500),
        "served after {:?}, beside the two slow connections",
        answered_at - waiting_since
    );
}

#[tokio::test]
async fn past_half_the_connection_share_the_longest_waiting_body_is_shed_at_once() {
    // One worker with 4 connections: at most 2 may wait for their bodies. The deadline is long,
    // so only shedding can close the first connection early.
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("server.workers", "1"),
            ("server.max_connections", "4"),
            ("server.body_read_timeout_secs", "60"),
        ],
    )
    .await;
    let mut waiting = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(&app.address).await;
        stream
            .write_all(head("POST /register", "application/json", 100).as_bytes())
            .await
            .expect("head sent");
        tokio::time::sleep(Duration::from_millis(200)).await;
        waiting.push(stream);
    }
    // The oldest is answered 408 and closed long before its 60 s.
    let response = read_until_closed(&mut waiting[0], Duration::from_secs(5)).await;
    assert_eq!(status_and_body(&response).0, 408, "{response}");
    // The two younger ones still wait; a normal request is served meanwhile.
    let mut probe = [0u8; 1];
    let still_open =
        tokio::time::timeout(Duration::from_millis(300), waiting[2].read(&mut probe)).await;
    assert!(
        still_open.is_err(),
        "the youngest is still waiting for its body"
    );
    let res = app
        .http
        .get(format!("{}/health", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status().as_u16(), 200);
}

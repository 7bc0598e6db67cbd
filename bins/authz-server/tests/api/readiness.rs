//! `/health` (compatible), `/health/live` and `/health/ready`; and an SQLite file the server can
//! only read after a restart: a warning, `/health/ready` says `read_only`, writes answer 503 JSON
//! with `Retry-After`, and everything recovers once the file is writable again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_on, TestApp};
use crate::on_both_backends;

async fn get_json(http: &reqwest::Client, url: String) -> (u16, Value) {
    let res = http.get(url).send().await.expect("sent");
    let status = res.status().as_u16();
    (status, res.json().await.expect("json"))
}

on_both_backends! {
    async fn probes_answer_and_health_stays_compatible(backend: Backend) {
        let app = spawn_app(backend).await;
        assert_eq!(get_json(&app.http, app.url("/health")).await, (200, json!({"status": "ok"})));
        assert_eq!(get_json(&app.http, app.url("/health/live")).await, (200, json!({"status": "ok"})));
        assert_eq!(
            get_json(&app.http, app.url("/health/ready")).await,
            (200, json!({"status": "ok", "database": "ok"}))
        );
    }

    async fn beyond_the_in_flight_bound_requests_answer_503_at_once(backend: Backend) {
        use tokio::io::AsyncWriteExt as _;
        let app = crate::helpers::spawn_app_with(backend, &[("server.max_requests_in_flight", "1")]).await;
        // One request in progress: its body is still arriving.
        let mut slow = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://")).await.expect("connect");
        slow.write_all(b"POST /register HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{").await.expect("write");
        slow.flush().await.expect("flush");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let res = app.register(&json!({"redirect_uris": ["http://127.0.0.1:3000/cb"]})).await;
        assert_eq!(res.headers().get("retry-after").map(|v| v.as_bytes()), Some(&b"1"[..]));
        let description = assert_error(res, 503, "temporarily_unavailable").await;
        assert!(description.contains("busy"), "{description}");
        assert!(started.elapsed() < Duration::from_secs(1), "refused at once");
        // Probes are not counted.
        assert_eq!(get_json(&app.http, app.url("/health/ready")).await.0, 200);
        drop(slow);
        // The slot comes back once the slow request ends.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = app.register(&json!({"redirect_uris": ["http://127.0.0.1:3000/cb"]})).await.status().as_u16();
            if status == 201 { break; }
            assert_eq!(status, 503);
            assert!(Instant::now() < deadline, "the slot was never given back");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The SQLite file behind `app`.
fn sqlite_file(app: &TestApp) -> PathBuf {
    PathBuf::from(
        app.settings
            .database
            .url
            .strip_prefix("sqlite://")
            .expect("an SQLite URL"),
    )
}

/// Makes `file` read-only for this process, or writable again. Permission bits do not stop root
/// (tests often run as root), so root uses the immutable attribute, which does.
fn read_only(file: &Path, on: bool) {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if root {
        let status = Command::new("chattr")
            .arg(if on { "+i" } else { "-i" })
            .arg(file)
            .status()
            .expect("chattr runs (e2fsprogs): as root only the immutable attribute makes a file read-only");
        assert!(status.success(), "chattr on {}", file.display());
    } else {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            file,
            std::fs::Permissions::from_mode(if on { 0o444 } else { 0o644 }),
        )
        .expect("chmod");
    }
}

/// Undoes [`read_only`] even when the test fails, so the temporary folder can be removed.
struct Writable(PathBuf);

impl Drop for Writable {
    fn drop(&mut self) {
        read_only(&self.0, false);
    }
}

#[tokio::test]
async fn a_read_only_sqlite_file_answers_503_and_recovers() {
    let app = spawn_app(authz_storage::Backend::Sqlite).await;
    let payload = json!({"redirect_uris": ["http://127.0.0.1:3000/cb"]});
    assert_eq!(app.register(&payload).await.status().as_u16(), 201);

    let file = sqlite_file(&app);
    read_only(&file, true);
    let guard = Writable(file.clone());
    // A restart: a new server on the same file, which it can now only read.
    let restarted = spawn_app_on(&app, &[]).await;
    let ready = format!("{}/health/ready", restarted.address);
    assert_eq!(
        get_json(&restarted.http, ready.clone()).await,
        (
            503,
            json!({"status": "unavailable", "database": "read_only"})
        )
    );
    let res = restarted
        .http
        .post(format!("{}/register", restarted.address))
        .json(&payload)
        .send()
        .await
        .expect("sent");
    assert_eq!(
        res.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    assert_error(res, 503, "temporarily_unavailable").await;
    // Reads still work.
    let (status, _) = get_json(
        &restarted.http,
        format!(
            "{}/.well-known/oauth-authorization-server",
            restarted.address
        ),
    )
    .await;
    assert_eq!(status, 200);

    // Permissions return: the server recovers without a restart (each read-only connection is
    // replaced the first time it refuses a write).
    drop(guard);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut registered = false;
    while Instant::now() < deadline {
        let res = restarted
            .http
            .post(format!("{}/register", restarted.address))
            .json(&payload)
            .send()
            .await
            .expect("sent");
        if res.status().as_u16() == 201 {
            registered = true;
            break;
        }
        assert_eq!(res.status().as_u16(), 503);
    }
    assert!(registered, "writes work again once the file is writable");
    assert_eq!(get_json(&restarted.http, ready).await.0, 200);
    assert_eq!(app.counts().0, 2);
}

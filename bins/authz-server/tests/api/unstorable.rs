//! Text no database column can hold (a NUL, bytes that are not UTF-8) is refused at the edge with
//! `400 invalid_request` quoting it escaped, and never costs anyone else's audit records: a flood
//! of such requests on PostgreSQL loses none.

use std::time::{Duration, Instant};

use authz_storage::schema::audit_events;
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::{admin_token, assert_error, real_clients, spawn_app, TestApp};
use crate::on_both_backends;

async fn registered(app: &TestApp) -> (String, String) {
    let res = app.register(&real_clients()["claude_code"]).await;
    assert_eq!(res.status().as_u16(), 201);
    let body: Value = res.json().await.expect("json");
    (
        body["client_id"].as_str().expect("id").to_owned(),
        body["registration_access_token"]
            .as_str()
            .expect("token")
            .to_owned(),
    )
}

/// Audit rows about `client_id`, waiting (at most 10 s) for the background writer to reach `want`.
async fn audit_rows_about(app: &TestApp, client_id: &str, want: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = app
            .db
            .read(|c| {
                audit_events::table
                    .filter(audit_events::client_id.eq(client_id))
                    .count()
                    .get_result(c)
            })
            .expect("count");
        if n >= want || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_both_backends! {
    async fn nul_anywhere_in_a_request_is_refused_at_the_edge(backend: Backend) {
        let app = spawn_app(backend).await;
        let (id, token) = registered(&app).await;

        // The path: unauthenticated self-management, and an administrator's lookup.
        let res = app.http.get(app.url("/register/a%00b")).send().await.expect("sent");
        let description = assert_error(res, 400, "invalid_request").await;
        assert!(description.contains("NUL character (%00)") && description.contains("\"/register/a%00b\""), "{description}");
        let admin = admin_token(&app, "client:admin audit:read");
        for path in ["/admin/clients/a%00b", "/admin/clients/a%FFb", "/admin/clients/a%00b/secret", "/admin/users/a%00b"] {
            let res = app.http.get(app.url(path)).bearer_auth(&admin).send().await.expect("sent");
            let description = assert_error(res, 400, "invalid_request").await;
            assert!(description.contains(&format!("{path:?}")), "{path}: {description}");
        }
        // Query parameters: refused by their own rules, which name them; never a 500.
        let admin_users = admin_token(&app, "user:admin");
        for (path, token) in [
            ("/admin/clients?q=a%00b", &admin),
            ("/admin/audit-events?client_id=a%00b", &admin),
            ("/admin/audit-events?action=a%00b", &admin),
            ("/admin/users?q=a%00b", &admin_users),
        ] {
            let res = app.http.get(app.url(path)).bearer_auth(token).send().await.expect("sent");
            assert!(res.status().is_client_error(), "{path}: {}", res.status());
        }

        // A JSON member name and a member value, quoted with the NUL escaped.
        let res = app.register_raw(Some("application/json"), br#"{"redirect_uris":["http://127.0.0.1/cb"],"a\u0000b":1}"#.to_vec()).await;
        let description = assert_error(res, 400, "invalid_request").await;
        assert!(description.contains(r#""a\u0000b""#), "{description}");
        assert!(!description.contains('\0'));
        // Every string member of the metadata: refused by its field's rule (naming it), never 500.
        for member in ["client_name", "software_id", "software_version", "client_uri", "logo_uri", "scope", "tos_uri", "policy_uri", "token_endpoint_auth_method", "client_name#fr"] {
            let res = app.register(&json!({"redirect_uris": ["http://127.0.0.1/cb"], member: "x\u{0}y"})).await;
            let status = res.status().as_u16();
            assert_eq!(status, 400, "{member}");
        }
        for uri in ["http://127.0.0.1/c\u{0}b", "http://127.0.0.1/c%00b"] {
            let res = app.register(&json!({"redirect_uris": [uri]})).await;
            assert!(res.status().as_u16() == 400 || res.status().as_u16() == 201, "{uri}: {}", res.status());
        }
        let res = app.http.put(app.url(&format!("/register/{id}"))).bearer_auth(&token)
            .json(&json!({"client_id": id, "redirect_uris": ["http://127.0.0.1/cb"], "software_id": "\u{0}"}))
            .send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 400);

        // A form parameter (the token endpoint).
        let res = app.http.post(app.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&client_id=a%00b")
            .send().await.expect("sent");
        let description = assert_error(res, 400, "invalid_request").await;
        assert!(description.contains("NUL"), "{description}");
        let (clients, _) = app.counts();
        assert!(clients <= 2, "nothing else stored");

        // The server still works, and its audit trail too.
        let res = app.http.get(app.url(&format!("/register/{id}"))).bearer_auth(&token).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 200);
        assert!(audit_rows_about(&app, &id, 2).await >= 2);
    }

    async fn a_nul_flood_loses_no_audit_record(backend: Backend) {
        let app = spawn_app(backend).await;
        let (id, token) = registered(&app).await;
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        // 2,000 unauthenticated requests with a NUL in the path, 400 refused reads of a real
        // client (each an audit record), interleaved, 16 at a time.
        for n in 0..2400 {
            let http = app.http.clone();
            let (url, auth) = if n % 6 == 0 {
                (app.url(&format!("/register/{id}")), Some("Bearer wrong-token"))
            } else {
                (app.url(&format!("/register/a%00b{n}")), None)
            };
            tasks.spawn(async move {
                let mut req = http.get(url);
                if let Some(a) = auth { req = req.header("authorization", a); }
                req.send().await.expect("sent").status().as_u16()
            });
            while tasks.len() >= 16 {
                let status = tasks.join_next().await.expect("task").expect("joined");
                assert!(status == 400 || status == 401, "{status}");
            }
        }
        while let Some(status) = tasks.join_next().await {
            let status = status.expect("joined");
            assert!(status == 400 || status == 401, "{status}");
        }
        let elapsed = started.elapsed();
        // 400 refusals plus the registration itself.
        assert_eq!(audit_rows_about(&app, &id, 401).await, 401, "no audit record lost");
        // A normal read right after the flood answers promptly.
        let t = Instant::now();
        let res = app.http.get(app.url(&format!("/register/{id}"))).bearer_auth(&token).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 200);
        eprintln!("NUL flood ({backend:?}): 2,400 requests in {elapsed:?}; a read afterwards took {:?}", t.elapsed());
    }

    async fn repeated_refusals_from_one_source_are_counted_into_one_record(backend: Backend) {
        let app = crate::helpers::spawn_app_with(backend, &[("audit.aggregate_window_secs", "3")]).await;
        let (id, token) = registered(&app).await;
        let uri = app.url(&format!("/register/{id}"));
        let started = Instant::now();
        for _ in 0..300 {
            let res = app.http.get(&uri).bearer_auth("wrong-token").send().await.expect("sent");
            assert_eq!(res.status().as_u16(), 401);
        }
        let flood = started.elapsed();
        // An allowed read is never folded.
        let res = app.http.get(&uri).bearer_auth(&token).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 200);
        // Each window's count is written when it ends, without any further request.
        let admin = admin_token(&app, "audit:read");
        let deadline = Instant::now() + Duration::from_secs(15);
        let (rows, counted) = loop {
            let res = app.http.get(app.url(&format!("/admin/audit-events?client_id={id}&action=client.read&per_page=100")))
                .bearer_auth(&admin).send().await.expect("sent");
            assert_eq!(res.status().as_u16(), 200);
            let body: Value = res.json().await.expect("json");
            let refusals: Vec<Value> = body["events"].as_array().expect("events").iter()
                .filter(|e| e["succeeded"] == false).cloned().collect();
            let counted: i64 = refusals.iter().map(|e| e["repeat_count"].as_i64().expect("count")).sum();
            if counted == 300 || Instant::now() > deadline {
                break (refusals.len(), counted);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(counted, 300, "every refusal is counted");
        // At most two rows per 3-second window the flood spanned.
        let windows = flood.as_secs() as usize / 3 + 1;
        assert!(rows <= 2 * windows + 1, "{rows} rows for {windows} window(s)");
        eprintln!("aggregation ({backend:?}): 300 refusals in {flood:?} -> {rows} rows");
    }
}

//! Rate limits (issue 10): registration floods from one address and from many (through a trusted
//! proxy's header), token guessing on the management endpoints, the token endpoint, and the
//! client address read from forwarding headers only when the peer is a trusted proxy.

use std::time::{Duration, Instant};

use authz_storage::schema::{audit_events, clients};
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;

fn public_client() -> Value {
    json!({"redirect_uris": ["http://127.0.0.1:3000/callback"], "token_endpoint_auth_method": "none", "client_name": "flood"})
}

async fn register_from(app: &TestApp, forwarded_for: &str) -> reqwest::Response {
    app.http
        .post(app.url("/register"))
        .header("x-forwarded-for", forwarded_for)
        .json(&public_client())
        .send()
        .await
        .expect("sent")
}

fn header(res: &reqwest::Response, name: &str) -> u64 {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is present"))
        .to_str()
        .expect("ascii")
        .parse()
        .unwrap_or_else(|_| panic!("{name} is a number"))
}

fn audit_rows(app: &TestApp) -> i64 {
    app.db
        .read(|c| audit_events::table.count().get_result(c))
        .expect("count")
}

fn stored_clients(app: &TestApp) -> i64 {
    app.db
        .read(|c| clients::table.count().get_result(c))
        .expect("count")
}

/// The audit writer commits reads and refusals a moment later: wait until the count settles.
async fn settled_audit_rows(app: &TestApp) -> i64 {
    let mut last = audit_rows(app);
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = audit_rows(app);
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// Asserts a 429 with every header and a JSON error naming `limit_key`; returns Retry-After.
async fn assert_limited(res: reqwest::Response, limit_key: &str) -> u64 {
    assert_eq!(res.status().as_u16(), 429);
    let retry_after = header(&res, "retry-after");
    assert!(retry_after >= 1, "Retry-After is at least a second");
    assert!(header(&res, "ratelimit-limit") >= 1);
    assert_eq!(header(&res, "ratelimit-remaining"), 0);
    assert!(header(&res, "ratelimit-reset") >= retry_after);
    let description = assert_error(res, 429, "rate_limited").await;
    assert!(description.contains(limit_key), "{description}");
    retry_after
}

on_both_backends! {
    async fn a_flood_from_one_address_is_limited_and_another_address_still_registers(backend: Backend) {
        let app = spawn_app_with(backend, &[
            ("server.trusted_proxies", "127.0.0.1"),
            ("rate_limits.registrations_per_ip_per_minute", "60"),
            ("rate_limits.registrations_per_ip_burst", "10"),
        ]).await;
        let started = Instant::now();
        let (mut created, mut refused) = (0u64, 0u64);
        for i in 0..200 {
            let res = register_from(&app, "203.0.113.1").await;
            match res.status().as_u16() {
                201 => {
                    created += 1;
                    assert_eq!(header(&res, "ratelimit-limit"), 10);
                    assert!(header(&res, "ratelimit-remaining") <= 9);
                }
                429 => {
                    refused += 1;
                    if refused == 1 {
                        assert!(i >= 10, "the whole burst passes first");
                        let retry_after = assert_limited(res, "rate_limits.registrations_per_ip_per_minute").await;
                        assert!(retry_after <= 1, "one a second refills: {retry_after}");
                    }
                }
                other => panic!("unexpected {other}"),
            }
        }
        // The burst, plus one a second for the time the loop took.
        let allowed = 10 + started.elapsed().as_secs() + 1;
        assert!(created >= 10 && created <= allowed, "created {created}, at most {allowed}");
        assert_eq!(created + refused, 200);
        assert_eq!(stored_clients(&app) as u64, created, "refused requests store nothing");

        // Another address (behind the same trusted proxy) is not affected.
        let res = register_from(&app, "198.51.100.7").await;
        assert_eq!(res.status().as_u16(), 201);
        assert_eq!(header(&res, "ratelimit-remaining"), 9);
        let client_id = res.json::<Value>().await.expect("json")["client_id"].as_str().expect("id").to_owned();
        // The audit trail names the forwarded client address, not the proxy's.
        let addr: Option<String> = app.db.read(|c| audit_events::table
            .filter(audit_events::client_id.eq(&client_id))
            .select(audit_events::remote_addr)
            .first(c)).expect("audited");
        assert_eq!(addr.as_deref(), Some("198.51.100.7"));
    }

    async fn a_flood_from_many_addresses_meets_the_global_ceiling_and_other_traffic_passes(backend: Backend) {
        let app = spawn_app_with(backend, &[
            ("server.trusted_proxies", "127.0.0.0/8"),
            ("rate_limits.registrations_per_ip_per_minute", "60"),
            ("rate_limits.registrations_per_ip_burst", "10"),
            ("rate_limits.registrations_per_minute", "60"),
            ("rate_limits.registrations_burst", "20"),
        ]).await;
        // A legitimate client registered before the flood.
        let res = register_from(&app, "192.0.2.50").await;
        assert_eq!(res.status().as_u16(), 201);
        let legit: Value = res.json().await.expect("json");
        let started = Instant::now();
        let (mut created, mut refused) = (1u64, 0u64);
        for i in 0..150u32 {
            // Every request claims another address: only the global ceiling can stop this.
            let res = register_from(&app, &format!("203.0.{}.{}", i / 250, i % 250 + 1)).await;
            match res.status().as_u16() {
                201 => created += 1,
                429 => {
                    refused += 1;
                    if refused == 1 {
                        assert_limited(res, "rate_limits.registrations_per_minute").await;
                    }
                }
                other => panic!("unexpected {other}"),
            }
        }
        let allowed = 20 + started.elapsed().as_secs() + 1;
        assert!(created <= allowed, "created {created}, at most {allowed}");
        assert!(refused > 100, "the ceiling held: {refused} refused");
        assert_eq!(stored_clients(&app) as u64, created);

        // The legitimate client's other requests are not registrations: they still pass.
        let res = app.http.get(legit["registration_client_uri"].as_str().expect("uri"))
            .header("x-forwarded-for", "192.0.2.50")
            .bearer_auth(legit["registration_access_token"].as_str().expect("token"))
            .send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 200);
        assert!(header(&res, "ratelimit-remaining") > 0);
        let res = app.http.get(app.url("/.well-known/oauth-authorization-server")).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 200);
    }

    async fn guessing_registration_tokens_is_slow_and_floods_no_audit_table(backend: Backend) {
        let app = spawn_app_with(backend, &[
            ("server.trusted_proxies", "127.0.0.1"),
            ("rate_limits.failed_tokens_per_ip_per_minute", "1"),
            ("rate_limits.failed_tokens_per_ip_burst", "5"),
        ]).await;
        let res = register_from(&app, "192.0.2.50").await;
        let legit: Value = res.json().await.expect("json");
        let uri = legit["registration_client_uri"].as_str().expect("uri").to_owned();
        let token = legit["registration_access_token"].as_str().expect("token").to_owned();
        let before = settled_audit_rows(&app).await;

        let (mut unauthorized, mut refused) = (0, 0);
        for i in 0..300 {
            let res = app.http.get(&uri)
                .header("x-forwarded-for", "203.0.113.66")
                .bearer_auth(format!("guess-{i}-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
                .send().await.expect("sent");
            match res.status().as_u16() {
                401 => unauthorized += 1,
                429 => {
                    refused += 1;
                    if refused == 1 {
                        let retry_after = assert_limited(res, "rate_limits.failed_tokens_per_ip_per_minute").await;
                        assert!(retry_after > 30, "the next guess is a minute away: {retry_after}");
                    }
                }
                other => panic!("unexpected {other}"),
            }
        }
        // The budget (5) and the guess that spent it reached the handler; the rest did not.
        assert_eq!(unauthorized, 6);
        assert_eq!(refused, 294);
        let after = settled_audit_rows(&app).await;
        assert!(after - before <= 6, "{} audit rows for 300 guesses", after - before);

        // The blocked address cannot use the administration API's tokens either.
        let res = app.http.get(app.url("/admin/clients"))
            .header("x-forwarded-for", "203.0.113.66")
            .bearer_auth("not-an-admin-token")
            .send().await.expect("sent");
        assert_limited(res, "rate_limits.failed_tokens_per_ip").await;
        // Another address with the real token is served.
        let res = app.http.get(&uri)
            .header("x-forwarded-for", "192.0.2.50")
            .bearer_auth(&token)
            .send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 200);
    }

    async fn the_token_endpoint_is_limited_per_address(backend: Backend) {
        let app = spawn_app_with(backend, &[
            ("rate_limits.token_per_ip_per_minute", "1"),
            ("rate_limits.token_per_ip_burst", "5"),
        ]).await;
        let mut statuses = Vec::new();
        for path in ["/token", "/introspect", "/revoke", "/token", "/token", "/token", "/introspect"] {
            let res = app.http.post(app.url(path))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", "x"), ("token", "x"), ("client_id", "nobody")])
                .send().await.expect("sent");
            statuses.push(res.status().as_u16());
            if statuses.len() == 6 {
                assert_limited(res, "rate_limits.token_per_ip_per_minute").await;
            }
        }
        assert!(statuses[..5].iter().all(|s| *s != 429), "{statuses:?}");
        assert_eq!(&statuses[5..], &[429, 429]);
    }

    async fn forwarding_headers_from_an_untrusted_peer_are_ignored(backend: Backend) {
        // No trusted proxy: a client cannot dodge its limit by claiming other addresses.
        let app = spawn_app_with(backend, &[
            ("rate_limits.registrations_per_ip_per_minute", "1"),
            ("rate_limits.registrations_per_ip_burst", "3"),
        ]).await;
        let mut statuses = Vec::new();
        for i in 0..6 {
            let res = app.http.post(app.url("/register"))
                .header("x-forwarded-for", format!("203.0.113.{i}"))
                .header("forwarded", format!("for=198.51.100.{i}"))
                .json(&public_client())
                .send().await.expect("sent");
            statuses.push(res.status().as_u16());
        }
        assert_eq!(statuses, [201, 201, 201, 429, 429, 429]);
        // And the audit trail records the socket peer.
        let addrs: Vec<Option<String>> = app.db.read(|c| audit_events::table
            .filter(audit_events::client_id.is_not_null())
            .select(audit_events::remote_addr).load(c)).expect("audit");
        assert_eq!(addrs.len(), 3);
        assert!(addrs.iter().all(|a| a.as_deref() == Some("127.0.0.1")), "{addrs:?}");
    }

    async fn every_size_limit_is_a_knob_and_its_refusal_names_it(backend: Backend) {
        let app = spawn_app_with(backend, &[
            ("limits.max_body_bytes", "4096"),
            ("limits.max_redirect_uris", "2"),
            ("limits.max_uri_length", "100"),
            ("limits.max_client_name_chars", "10"),
            ("limits.max_contacts", "1"),
            ("limits.max_scopes", "2"),
            ("limits.max_jwks_bytes", "1024"),
        ]).await;
        let cases: Vec<(&str, Value, &str)> = vec![
            ("redirect_uris", json!(["http://127.0.0.1/a", "http://127.0.0.1/b", "http://127.0.0.1/c"]), "3 values is more than the 2 allowed"),
            ("redirect_uris", json!([format!("http://127.0.0.1/{}", "a".repeat(100))]), "is longer than the 100 allowed"),
            ("client_name", json!("Eleven char"), "11 characters is longer than the 10 allowed"),
            ("contacts", json!(["a@example.com", "b@example.com"]), "2 values is more than the 1 allowed"),
            ("scope", json!("read write admin"), "3 scope values is more than the 2 allowed"),
            ("jwks", json!({"keys": [{"kty": "RSA", "e": "AQAB", "n": "x".repeat(1100)}]}), "is larger than the 1024 allowed"),
        ];
        for (member, value, expected) in cases {
            let mut body = public_client();
            body[member] = value;
            let res = app.register(&body).await;
            let code = if member == "redirect_uris" { "invalid_redirect_uri" } else { "invalid_client_metadata" };
            let description = assert_error(res, 400, code).await;
            assert!(description.starts_with(member) && description.contains(expected), "{member}: {description}");
        }
        let mut body = public_client();
        body["software_id"] = json!("x".repeat(5000));
        let res = app.register(&body).await;
        assert_eq!(res.status().as_u16(), 413);
        let text = res.text().await.expect("body");
        assert!(text.contains("larger than the 4096 bytes allowed"), "{text}");
        assert_eq!(stored_clients(&app), 0, "nothing stored");
    }

    async fn a_refusal_is_held_before_it_is_sent(backend: Backend) {
        let app = spawn_app_with(backend, &[
            ("rate_limits.registrations_per_ip_per_minute", "1"),
            ("rate_limits.registrations_per_ip_burst", "1"),
            ("rate_limits.refusal_delay_ms", "400"),
        ]).await;
        assert_eq!(app.register(&public_client()).await.status().as_u16(), 201);
        let started = Instant::now();
        let res = app.register(&public_client()).await;
        assert!(started.elapsed() >= Duration::from_millis(400), "held {:?}", started.elapsed());
        assert_limited(res, "rate_limits.registrations_per_ip_per_minute").await;
        // Other requests are not held.
        let started = Instant::now();
        let res = app.http.get(app.url("/health")).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 200);
        assert!(started.elapsed() < Duration::from_millis(400));
    }

    async fn with_limits_off_a_burst_passes(backend: Backend) {
        let app = spawn_app_with(backend, &[
            ("rate_limits.enabled", "false"),
            ("rate_limits.registrations_per_ip_per_minute", "1"),
            ("rate_limits.registrations_per_ip_burst", "1"),
        ]).await;
        for _ in 0..5 {
            let res = app.register(&public_client()).await;
            assert_eq!(res.status().as_u16(), 201);
            assert!(res.headers().get("ratelimit-limit").is_none());
        }
    }
}

#[test]
fn a_bad_trusted_proxy_entry_is_named_at_start() {
    let loaded = authz_server::settings::Settings::load(&authz_server::settings::Sources {
        config_dir: Some(config_dir()),
        environment: Some("test".into()),
        use_env_vars: false,
        overrides: vec![(
            "server.trusted_proxies".into(),
            "10.0.0.0/8, proxy.internal".into(),
        )],
    });
    let e = format!("{:#}", loaded.expect_err("refused"));
    assert!(
        e.contains("server.trusted_proxies") && e.contains("\"proxy.internal\""),
        "{e}"
    );
}

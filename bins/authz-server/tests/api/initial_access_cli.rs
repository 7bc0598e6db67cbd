//! `authz-server initial-access-token create | list | revoke`, run as a process against a
//! temporary SQLite database, and the tokens it makes used against a server process in
//! `registration.mode = "initial_access_token"` on the same database.

use authz_domain::credentials::TokenDigest;
use authz_storage::schema::initial_access_tokens;
use authz_storage::test_support::TestDatabase;
use diesel::prelude::*;

use crate::cli::{ensure_exists, server_command, start_server};
use crate::helpers::config_dir;

/// Runs `authz-server initial-access-token ARGS`: (success, stdout, stderr).
fn iat(db: &TestDatabase, args: &[&str]) -> (bool, String, String) {
    let out = server_command(&db.url)
        .arg("--config-dir")
        .arg(config_dir())
        .arg("initial-access-token")
        .args(args)
        .output()
        .expect("binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn register(base: &str, token: Option<&str>) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let mut req = client
            .post(format!("{base}/register"))
            .json(&serde_json::json!({
                "redirect_uris": ["http://127.0.0.1:33418/callback"],
                "token_endpoint_auth_method": "none",
                "scope": "mcp:tools"
            }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("sent").status().as_u16()
    })
}

#[test]
fn tokens_made_on_the_command_line_gate_registration() {
    let db = TestDatabase::sqlite();
    ensure_exists(&db);
    // Bad arguments are refused naming what is accepted, and create nothing.
    for (args, expected) in [
        (vec!["create", "--expires-in", "0"], "--expires-in"),
        (
            vec!["create", "--expires-in", "1h", "--max-uses", "0"],
            "max_uses",
        ),
        (
            vec![
                "create",
                "--expires-in",
                "1h",
                "--allowed-grant-types",
                "password",
            ],
            "\"password\" is not a grant type",
        ),
    ] {
        let (ok, out, err) = iat(&db, &args);
        assert!(!ok && out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }

    let (ok, out, err) = iat(
        &db,
        &[
            "create",
            "--expires-in",
            "1h",
            "--max-uses",
            "1",
            "--description",
            "one laptop",
            "--allowed-scopes",
            "mcp:tools",
        ],
    );
    assert!(ok, "{err}");
    let once = out.trim_end().to_owned();
    assert!(
        once.starts_with("iat_") && !once.contains(char::is_whitespace),
        "the token alone on stdout: {out:?}"
    );
    assert!(err.contains("1 uses") && !err.contains(&once), "{err}");
    let (ok, out, _) = iat(&db, &["create", "--expires-in", "30d"]);
    assert!(ok);
    let other = out.trim_end().to_owned();

    // Only digests are stored.
    let digests: Vec<Vec<u8>> = db
        .open()
        .read(|c| {
            initial_access_tokens::table
                .select(initial_access_tokens::token_digest)
                .load(c)
        })
        .expect("read");
    assert!(digests.contains(&TokenDigest::of(&once).as_bytes().to_vec()));
    assert!(digests.contains(&TokenDigest::of(&other).as_bytes().to_vec()));

    let (_server, base) = start_server({
        let mut cmd = server_command(&db.url);
        cmd.arg("--config-dir")
            .arg(config_dir())
            .env("AUTHZ__REGISTRATION__MODE", "initial_access_token");
        cmd
    });
    assert_eq!(register(&base, None), 401);
    assert_eq!(register(&base, Some(&once)), 201);
    assert_eq!(register(&base, Some(&once)), 401, "one use only");

    let (ok, out, _) = iat(&db, &["list"]);
    assert!(ok);
    let header = out.lines().next().expect("header");
    for column in [
        "ID",
        "CREATED",
        "EXPIRES",
        "USES LEFT",
        "STATE",
        "DESCRIPTION",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let row = out
        .lines()
        .find(|l| l.contains("one laptop"))
        .expect("listed");
    assert!(row.contains("used_up"), "{row}");
    assert!(!out.contains(&once) && !out.contains(&other));

    let id = out
        .lines()
        .skip(1)
        .find(|l| !l.contains("one laptop"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the other token's id")
        .to_owned();
    assert_eq!(register(&base, Some(&other)), 201);
    let (ok, out, err) = iat(&db, &["revoke", &id]);
    assert!(ok, "{err}");
    assert!(out.contains(&id));
    assert_eq!(register(&base, Some(&other)), 401, "revoked at once");
    let (ok, _, err) = iat(&db, &["revoke", "iat-unknown"]);
    assert!(!ok && err.contains("no initial access token"), "{err}");
}

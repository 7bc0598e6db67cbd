//! `authz-server keys list | rotate | retire`, run as processes on both backends, and the JWK Set a
//! server on the same database then publishes; plus the key-encryption key's rules at start.

use std::process::Stdio;

use authz_domain::keys::JwkSet;
use authz_storage::schema::signing_keys;
use authz_storage::test_support::TestDatabase;
use diesel::prelude::*;

use crate::cli::{server_command, start_server};
use crate::helpers::config_dir;
use crate::on_both_backends;

fn keys(db: &TestDatabase, args: &[&str]) -> (bool, String, String) {
    crate::cli::ensure_exists(db);
    let out = server_command(&db.url)
        .arg("--config-dir")
        .arg(config_dir())
        .arg("keys")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("binary runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    (out.status.success(), stdout, stderr)
}

fn kids(list: &str) -> Vec<String> {
    list.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

on_both_backends! {
    async fn rotation_publishes_the_new_key_before_it_signs_and_keeps_the_old_one(backend: Backend) {
        let db = TestDatabase::new(backend);
        let (ok, list, err) = keys(&db, &["list"]);
        assert!(ok, "{err}");
        let first = kids(&list);
        assert_eq!(first.len(), 1, "the first key is made on first use: {list}");
        assert!(list.contains("ES256") && list.contains("signing"), "{list}");

        let (ok, new_kid, err) = keys(&db, &["rotate", "--algorithm", "EdDSA"]);
        assert!(ok, "{err}");
        let new_kid = new_kid.trim().to_owned();
        let (_, list, _) = keys(&db, &["list"]);
        assert_eq!(kids(&list).len(), 2, "{list}");
        assert!(list.contains("published, not yet signing"), "{list}");

        // The old key cannot be retired while nothing else signs yet.
        let (ok, _, err) = keys(&db, &["retire", &first[0]]);
        assert!(!ok);
        assert!(err.contains("rotate") || err.contains("sign"), "{err}");

        // A server on this database publishes both keys; the private keys are stored encrypted.
        let mut cmd = server_command(&db.url);
        cmd.arg("--config-dir").arg(config_dir());
        let (server, url) = start_server(cmd);
        let body = reqwest::get(format!("{url}/jwks.json")).await.expect("jwks").text().await.expect("text");
        drop(server);
        let set = JwkSet::from_json(&body).expect("a JWK Set");
        assert!(set.find(&first[0]).is_some() && set.find(&new_kid).is_some(), "{body}");
        assert!(!body.contains("\"d\""), "public parts only: {body}");
        let conn_db = authz_storage::Database::connect(&authz_storage::DatabaseOptions::new(db.url.clone())).expect("db");
        let stored: Vec<Vec<u8>> = conn_db
            .read(|c| signing_keys::table.select(signing_keys::encrypted_private_key).load(c))
            .expect("rows");
        assert_eq!(stored.len(), 2);
        assert!(stored.iter().all(|k| k[0] == 1 && k.len() > 40), "versioned AES-GCM blobs");

        let (ok, _, err) = keys(&db, &["rotate", "--algorithm", "HS256"]);
        assert!(!ok);
        assert!(err.contains("--algorithm"), "{err}");
    }
}

#[test]
fn a_missing_key_encryption_key_with_existing_keys_stops_the_server() {
    let db = TestDatabase::new(authz_storage::Backend::Sqlite);
    let folder = tempfile::tempdir().expect("tempdir");
    let kek = folder.path().join("authz.kek");
    crate::cli::ensure_exists(&db);
    let run = |args: &[&str]| {
        server_command(&db.url)
            .env_remove("AUTHZ__KEYS__KEY_ENCRYPTION_KEY")
            .env("AUTHZ__KEYS__KEY_ENCRYPTION_KEY_FILE", &kek)
            .arg("--config-dir")
            .arg(config_dir())
            .args(args)
            .output()
            .expect("binary runs")
    };
    let out = run(&["keys", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&kek).expect("kek written").permissions(),
    );
    assert_eq!(
        mode & 0o777,
        0o600,
        "the key-encryption key file is private"
    );
    std::fs::remove_file(&kek).expect("removed");
    let out = run(&["keys", "list"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("key_encryption_key_file") && err.contains("Restore"),
        "{err}"
    );
    assert!(!kek.exists(), "no new key is made while keys exist");
}

//! Crash safety: every client whose 201 was sent survives `kill -9`; no secret or token reaches
//! the log.

use std::io::Read;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use authz_domain::clients::ClientRepository;
use authz_storage::clients::DieselClientRepository;
use authz_storage::schema::{clients, registration_access_tokens};
use authz_storage::test_support::TestDatabase;
use authz_storage::Database;
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::cli::{server_command, start_server};
use crate::on_both_backends;

type Acknowledged = (String, Vec<String>);

on_both_backends! {
    async fn every_acknowledged_registration_survives_kill_9(backend: Backend) {
        let tdb = TestDatabase::new(backend);
        let mut cmd = server_command(&tdb.url);
        cmd.env("AUTHZ__LOGGING__LEVEL", "debug").stderr(Stdio::piped());
        let (mut child, base) = crate::cli::start_server_with_logs(cmd);
        let mut stderr = child.stderr.take().expect("stderr");
        let log_reader = std::thread::spawn(move || {
            let mut log = String::new();
            let _ = stderr.read_to_string(&mut log);
            log
        });

        // (client_id, the secrets and tokens its response carried)
        let acknowledged: Arc<Mutex<Vec<Acknowledged>>> = Arc::default();
        let http = reqwest::Client::builder().no_proxy().build().expect("client");
        let mut writers = Vec::new();
        for w in 0..8 {
            let (http, base, acknowledged) = (http.clone(), base.clone(), acknowledged.clone());
            writers.push(tokio::spawn(async move {
                for i in 0.. {
                    let method = if (w + i) % 4 == 0 { "client_secret_post" } else { "none" };
                    let body = json!({"redirect_uris": [format!("http://127.0.0.1:{}/cb", 1000 + i)], "token_endpoint_auth_method": method});
                    let Ok(res) = http.post(format!("{base}/register")).json(&body).send().await else { break };
                    if res.status().as_u16() != 201 { break }
                    let Ok(v) = res.json::<Value>().await else { break };
                    let mut secrets = vec![v["registration_access_token"].as_str().expect("token").to_owned()];
                    if let Some(s) = v["client_secret"].as_str() { secrets.push(s.to_owned()) }
                    acknowledged.lock().expect("lock").push((v["client_id"].as_str().expect("id").to_owned(), secrets));
                }
            }));
        }
        // Let registrations flow, then kill the server mid-stream.
        while acknowledged.lock().expect("lock").len() < 200 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        drop(child);
        for w in writers {
            w.await.expect("writer");
        }
        let log = log_reader.join().expect("log");

        let acknowledged = acknowledged.lock().expect("lock").clone();
        let db = Database::connect(&tdb.options()).expect("reopen after the crash");
        let repo = DieselClientRepository::new(db.clone());
        for (client_id, _) in &acknowledged {
            assert!(repo.find(client_id).expect("read").is_some(), "client {client_id} was acknowledged but lost");
        }
        let (clients, tokens): (i64, i64) = db
            .read(|c| Ok((clients::table.count().get_result(c)?, registration_access_tokens::table.count().get_result(c)?)))
            .expect("count");
        assert_eq!(clients, tokens, "nothing half-written");
        assert!(clients as usize >= acknowledged.len());

        assert!(log.contains("client registered"), "the debug log was captured");
        for (_, secrets) in &acknowledged {
            for s in secrets {
                assert!(!log.contains(s.as_str()), "a secret or token reached the log");
            }
        }

        // And the server starts again on the same database.
        let (again, base) = start_server(server_command(&tdb.url));
        let res = http.post(format!("{base}/register")).json(&json!({"redirect_uris": ["https://a.example/cb"]})).send().await.expect("sent");
        assert_eq!(res.status().as_u16(), 201);
        drop(again);
    }
}

//! The background audit writer against real databases: every text is made storable (a NUL, which
//! PostgreSQL `text` refuses, is written escaped), and a record the database refuses costs only
//! itself, never the rest of its batch.

use authz_domain::audit::{AuditAction, AuditEvent, AuditLog, RequestContext};
use authz_storage::schema::audit_events;
use authz_storage::test_support::TestDatabase;
use authz_storage::{Backend, DieselAuditLog};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

macro_rules! on_both_backends {
    ($($name:ident => $body:expr;)+) => {
        mod sqlite { use super::*; $( #[test] fn $name() { ($body)(Backend::Sqlite) } )+ }
        mod postgres { use super::*; $( #[test] fn $name() { ($body)(Backend::Postgres) } )+ }
    };
}

fn event(actor: &str, n: usize) -> AuditEvent {
    AuditEvent::new(
        1_700_000_000,
        AuditAction::ClientRead,
        actor,
        &RequestContext {
            remote_addr: Some("127.0.0.1".into()),
            user_agent: Some("test".into()),
            request_id: Some(format!("req-{n}")),
        },
    )
    .client(&format!("client-{n}"))
    .refused("bad token")
}

on_both_backends! {
    text_the_database_cannot_hold_is_escaped_not_lost => |backend| {
        let test_db = TestDatabase::new(backend);
        let db = test_db.open();
        let log = DieselAuditLog::start(db.clone()).expect("writer starts");
        let mut poisoned = event("anonymous", 0).client("a\0b");
        poisoned.detail = Some(format!("invalid_request: member \"x\0y\" {}", "z".repeat(5000)));
        poisoned.context.user_agent = Some("agent\0".into());
        log.record(poisoned).expect("queued");
        for n in 1..50 {
            log.record(event("anonymous", n)).expect("queued");
        }
        log.flush();
        assert_eq!(log.lost(), 0);
        let rows: Vec<(Option<String>, Option<String>, Option<String>)> = db
            .read(|c| {
                audit_events::table
                    .select((audit_events::client_id, audit_events::detail, audit_events::user_agent))
                    .order(audit_events::id)
                    .load(c)
            })
            .expect("rows");
        assert_eq!(rows.len(), 50, "every record of the batch is written");
        let (client_id, detail, agent) = &rows[0];
        assert_eq!(client_id.as_deref(), Some("a\\0b"));
        assert_eq!(agent.as_deref(), Some("agent\\0"));
        let detail = detail.as_deref().expect("detail");
        assert!(detail.starts_with("invalid_request: member \"x\\0y\" zzz"), "{detail}");
        // The first 2,048 characters sent (the NUL written as two) and an ellipsis.
        assert_eq!(detail.chars().count(), 2048 + 1 + 1, "capped");
        assert!(detail.ends_with('…'));
    };

    a_record_the_database_refuses_costs_only_itself => |backend| {
        let test_db = TestDatabase::new(backend);
        let db = test_db.open();
        // A real refusal by the database for chosen records: a constraint on PostgreSQL, a
        // trigger on SQLite (which cannot add a constraint to an existing table).
        let poison = match backend {
            Backend::Postgres => "ALTER TABLE audit_events ADD CONSTRAINT no_poison CHECK (actor <> 'poison')",
            Backend::Sqlite => "CREATE TRIGGER no_poison BEFORE INSERT ON audit_events WHEN NEW.actor = 'poison' BEGIN SELECT RAISE(ABORT, 'poison'); END",
        };
        db.write(|c| -> Result<(), authz_storage::StorageError> {
            c.batch_execute(poison)?;
            Ok(())
        })
        .expect("constraint added");
        let log = DieselAuditLog::start(db.clone()).expect("writer starts");
        let mut expected = 0;
        for n in 0..300 {
            let actor = if n % 100 == 7 { "poison" } else { expected += 1; "anonymous" };
            log.record(event(actor, n)).expect("queued");
        }
        log.flush();
        let written: i64 = db
            .read(|c| audit_events::table.count().get_result(c))
            .expect("count");
        assert_eq!(written, expected, "only the refused records are missing");
        assert_eq!(log.lost(), 3, "each refused record is counted");
    };

    retention_purges_only_records_older_than_the_cutoff => |backend| {
        let test_db = TestDatabase::new(backend);
        let db = test_db.open();
        let log = DieselAuditLog::start(db.clone()).expect("writer starts");
        // 25,000 old records (more than two purge batches) and 100 recent ones.
        for n in 0..25_100 {
            let mut e = event("anonymous", n);
            e.occurred_at = if n < 25_000 { 1_000 + n as i64 } else { 2_000_000 };
            log.record(e).expect("queued");
        }
        log.flush();
        assert_eq!(log.purge_older_than(1_000_000).expect("purged"), 25_000);
        let left: Vec<i64> = db
            .read(|c| audit_events::table.select(audit_events::occurred_at).load(c))
            .expect("rows");
        assert_eq!(left.len(), 100);
        assert!(left.iter().all(|t| *t == 2_000_000));
        assert_eq!(log.purge_older_than(1_000_000).expect("purged"), 0);
    };
}

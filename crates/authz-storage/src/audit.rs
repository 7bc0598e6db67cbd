//! [`DieselAuditLog`]: audit events that accompany no change (reads, refused attempts), written
//! durably with group commit.
//!
//! Each caller hands its event to one writer thread and waits until the transaction holding it
//! has committed, so `record` returning `Ok` means the event is stored. Under load the writer
//! takes every event waiting at that moment into one transaction: one commit serves many
//! requests, and a flood of refused tokens cannot turn into a flood of commits.

use std::sync::mpsc;

use authz_domain::client_registration::{AuditEvent, AuditLog, RepositoryError};

use crate::client_registration::insert_audit;
use crate::database::Database;

/// The most events written in one transaction.
const MAX_BATCH: usize = 512;

struct Job {
    event: AuditEvent,
    done: mpsc::SyncSender<Result<(), RepositoryError>>,
}

/// An [`AuditLog`] over a [`Database`], with one background writer thread.
#[derive(Debug)]
pub struct DieselAuditLog {
    jobs: mpsc::Sender<Job>,
}

impl DieselAuditLog {
    /// Starts the writer thread. It stops when the log is dropped.
    pub fn start(db: Database) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_batches(&db, &queue))?;
        Ok(Self { jobs })
    }
}

fn write_batches(db: &Database, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let result: Result<(), RepositoryError> = db
            .write(|conn| {
                for job in &batch {
                    insert_audit(conn, &job.event)?;
                }
                Ok(())
            })
            .map_err(|e: crate::client_registration::TxError| e.into());
        if let Err(e) = &result {
            tracing::error!(error = %e, events = batch.len(), "audit events could not be written");
        }
        for job in batch {
            // A caller that gave up waiting is not an error here.
            let _ = job.done.send(result.clone());
        }
    }
}

impl AuditLog for DieselAuditLog {
    fn record(&self, event: AuditEvent) -> Result<(), RepositoryError> {
        let (done, wait) = mpsc::sync_channel(1);
        self.jobs
            .send(Job { event, done })
            .map_err(|_| RepositoryError::Unavailable("the audit writer has stopped".into()))?;
        wait.recv()
            .map_err(|_| RepositoryError::Unavailable("the audit writer has stopped".into()))?
    }
}

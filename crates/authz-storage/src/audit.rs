//! [`DieselAuditLog`]: audit events that accompany no change (reads, refused attempts), written
//! in batches by one background thread.
//!
//! Events that record a change are written in the change's own transaction by the repository;
//! this log is for the rest. `record` queues the event and returns at once; the writer takes every
//! event waiting at that moment into one transaction (group commit), so a burst of reads, or a
//! flood of refused tokens, costs a handful of commits instead of one per request. The queue is
//! bounded: when the database cannot keep up, callers wait instead of memory growing. Dropping
//! the log (graceful shutdown) writes everything still queued. What a crash (`kill -9`, power
//! loss) can lose is the batch in flight: the last few milliseconds of read and refusal records,
//! never a change.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use authz_domain::audit::{AuditEvent, AuditLog, RefusalAggregator};
use authz_domain::error::RepositoryError;

use diesel::{Connection, ExpressionMethods, OptionalExtension, QueryDsl, RunQueryDsl};

use crate::clients::{insert_audit, NewAuditRow, TxError};
use crate::database::{native, Database, DbConnection};
use crate::schema::audit_events;

/// The most records deleted in one transaction by a purge.
pub const PURGE_BATCH: i64 = 10_000;
/// The most events written in one transaction.
const MAX_BATCH: usize = 1024;
/// Rows per INSERT statement on PostgreSQL (10 columns each, well under its bind limit).
const INSERT_CHUNK: usize = 64;
/// The most events waiting to be written before callers wait.
const QUEUE: usize = 16 * 1024;
/// How long the writer keeps collecting after the first event of a batch: a few milliseconds turn
/// thousands of commits a second into a couple of hundred, and no caller waits on it.
const LINGER: Duration = Duration::from_millis(5);
/// How long a failed batch is retried (every 100 ms) before it is given up and logged.
const RETRY_FOR: Duration = Duration::from_secs(5);

enum Job {
    Event(AuditEvent),
    /// Acknowledged once everything queued before it is written.
    Flush(mpsc::SyncSender<()>),
}

/// An [`AuditLog`] over a [`Database`], with one background writer thread.
#[derive(Debug)]
pub struct DieselAuditLog {
    queue: Option<mpsc::SyncSender<Job>>,
    writer: Option<JoinHandle<()>>,
    /// Set while dropping: the writer then tries each remaining batch once instead of retrying.
    stopping: Arc<AtomicBool>,
    /// For purges.
    db: Database,
    /// Events given up since the start (the database refused them, or stayed unavailable).
    lost: Arc<AtomicU64>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Event(_) => "Job::Event",
            Self::Flush(_) => "Job::Flush",
        })
    }
}

impl DieselAuditLog {
    /// Starts the writer thread, every event its own record. Dropping the log flushes the queue
    /// and stops the thread.
    pub fn start(db: Database) -> std::io::Result<Self> {
        Self::start_aggregating(db, 0)
    }

    /// Starts the writer thread, counting repeated refusals from one source into one record per
    /// window of `window_secs` ([`RefusalAggregator`]; 0: every event its own record).
    pub fn start_aggregating(db: Database, window_secs: u64) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::sync_channel::<Job>(QUEUE);
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let lost = Arc::new(AtomicU64::new(0));
        let counter = lost.clone();
        let writer_db = db.clone();
        let writer = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || {
                let aggregator = RefusalAggregator::new(window_secs);
                write_batches(&writer_db, &jobs, &stop, &counter, aggregator);
            })?;
        Ok(Self {
            db,
            queue: Some(queue),
            writer: Some(writer),
            stopping,
            lost,
        })
    }

    /// Deletes the records that occurred before `cutoff` (Unix seconds), at most
    /// [`PURGE_BATCH`] per transaction so a first purge of a large table never holds a long lock;
    /// returns how many were deleted.
    pub fn purge_older_than(&self, cutoff: i64) -> Result<u64, RepositoryError> {
        let mut deleted = 0u64;
        loop {
            let n = self.db.write(|conn| -> Result<usize, TxError> {
                // The batch's last id, then one range delete: no subquery, one bind per backend.
                let last: Option<i64> = audit_events::table
                    .filter(audit_events::occurred_at.lt(cutoff))
                    .select(audit_events::id)
                    .order(audit_events::id)
                    .offset(PURGE_BATCH - 1)
                    .first(conn)
                    .optional()?;
                let doomed = audit_events::table
                    .filter(audit_events::occurred_at.lt(cutoff))
                    .filter(audit_events::id.le(last.unwrap_or(i64::MAX)));
                Ok(diesel::delete(doomed).execute(conn)?)
            })?;
            deleted += n as u64;
            if n < PURGE_BATCH as usize {
                return Ok(deleted);
            }
        }
    }

    /// How many events were given up since the start: refused by the database one by one (the
    /// rest of their batch is written), or not written while it stayed unavailable. Each loss is
    /// also logged as an error.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Returns once every event recorded before the call is written (or given up).
    pub fn flush(&self) {
        let (done, wait) = mpsc::sync_channel(1);
        if let Some(queue) = &self.queue {
            if queue.send(Job::Flush(done)).is_ok() {
                let _ = wait.recv();
            }
        }
    }
}

fn write_batches(
    db: &Database,
    jobs: &mpsc::Receiver<Job>,
    stopping: &AtomicBool,
    lost: &AtomicU64,
    mut aggregator: RefusalAggregator,
) {
    loop {
        // Wait for work, or until the earliest counted window ends.
        let first = match aggregator.next_due() {
            Some(due) => {
                let wait = u64::try_from(due.saturating_sub(unix_now()))
                    .unwrap_or(0)
                    .min(60);
                match jobs.recv_timeout(Duration::from_secs(wait)) {
                    Ok(job) => Some(job),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            None => match jobs.recv() {
                Ok(job) => Some(job),
                Err(_) => break,
            },
        };
        let mut batch = Vec::new();
        let mut flushes = Vec::new();
        // Sleep rather than wait on the queue: senders then never have to wake this thread.
        if matches!(first, Some(Job::Event(_))) {
            std::thread::sleep(LINGER);
        }
        let mut next = first;
        while let Some(job) = next.take() {
            match job {
                Job::Event(event) => batch.extend(aggregator.offer(event)),
                Job::Flush(done) => flushes.push(done),
            }
            if batch.len() < MAX_BATCH {
                next = jobs.try_recv().ok();
            }
        }
        batch.extend(aggregator.due(unix_now()));
        if !flushes.is_empty() {
            // A flush promises that everything recorded so far is written: counted ones too.
            batch.extend(aggregator.drain());
        }
        write_batch(db, &batch, stopping, lost);
        for done in flushes {
            let _ = done.send(());
        }
    }
    // Shutting down: the counts still open are written too.
    write_batch(db, &aggregator.drain(), stopping, lost);
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn write_batch(
    db: &Database,
    batch: &[(AuditEvent, u64)],
    stopping: &AtomicBool,
    lost: &AtomicU64,
) {
    if batch.is_empty() {
        return;
    }
    let give_up_at = Instant::now() + RETRY_FOR;
    let mut attempt = 0;
    loop {
        let written = db.write(|conn| insert_all(conn, batch));
        let e = match written {
            Ok(()) => return,
            Err(e) => RepositoryError::from(e),
        };
        // The database answered but refused the batch: a record it cannot take must not cost the
        // others. Write them one by one, each under its own savepoint, and drop only the ones
        // refused themselves.
        if !matches!(e, RepositoryError::Unavailable(_)) {
            match db.write(|conn| insert_each(conn, batch)) {
                Ok(refused) => {
                    if refused > 0 {
                        lost.fetch_add(refused, Ordering::Relaxed);
                        tracing::error!(error = %e, refused, rows = batch.len(), "audit records refused by the database were dropped; the rest of their batch was written");
                    }
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %RepositoryError::from(e), "audit records not written one by one either");
                }
            }
        }
        if Instant::now() < give_up_at && !stopping.load(Ordering::Relaxed) {
            attempt += 1;
            if attempt == 1 {
                tracing::warn!(error = %e, events = batch.len(), "audit events not written yet; retrying");
            }
            std::thread::sleep(Duration::from_millis(100));
        } else {
            lost.fetch_add(batch.iter().map(|(_, n)| n).sum(), Ordering::Relaxed);
            tracing::error!(error = %e, events = batch.len(), "audit events lost: the database was unavailable");
            return;
        }
    }
}

/// The whole batch, the fast way.
fn insert_all(conn: &mut DbConnection, batch: &[(AuditEvent, u64)]) -> Result<(), TxError> {
    if let DbConnection::Pg(c) = conn {
        // Over the network, round trips dominate: multi-row INSERTs.
        for chunk in batch.chunks(INSERT_CHUNK) {
            let rows: Vec<NewAuditRow<'_>> = chunk
                .iter()
                .map(|(e, n)| NewAuditRow::counted(e, *n))
                .collect();
            diesel::insert_into(audit_events::table)
                .values(&rows)
                .execute(c)?;
        }
    } else {
        // In process, the one cached single-row statement every change uses: a row costs a
        // step, not a parse, and needs no statement journal.
        for (event, count) in batch {
            insert_counted(conn, event, *count)?;
        }
    }
    Ok(())
}

/// One row; a count of 1 is the very statement every change's record uses (cached once).
fn insert_counted(conn: &mut DbConnection, event: &AuditEvent, count: u64) -> Result<(), TxError> {
    if count == 1 {
        return insert_audit(conn, event);
    }
    let row = NewAuditRow::counted(event, count);
    native!(conn, |c| diesel::insert_into(audit_events::table)
        .values(&row)
        .execute(c))?;
    Ok(())
}

/// Each event under its own savepoint; returns how many the database refused. A lost connection
/// still fails the whole call (the caller retries the batch).
fn insert_each(conn: &mut DbConnection, batch: &[(AuditEvent, u64)]) -> Result<u64, TxError> {
    let mut refused = 0;
    for (event, count) in batch {
        if let Err(e) = conn.transaction(|c| insert_counted(c, event, *count)) {
            if crate::database::connection_lost_tx(&e) {
                return Err(e);
            }
            refused += count;
        }
    }
    Ok(refused)
}

impl AuditLog for DieselAuditLog {
    fn record(&self, event: AuditEvent) -> Result<(), RepositoryError> {
        self.queue
            .as_ref()
            .ok_or_else(|| RepositoryError::Unavailable("the audit log is shut down".into()))?
            .send(Job::Event(event))
            .map_err(|_| RepositoryError::Unavailable("the audit writer has stopped".into()))
    }
}

impl Drop for DieselAuditLog {
    fn drop(&mut self) {
        // Closing the queue lets the writer drain it and stop; wait for that.
        self.stopping.store(true, Ordering::Relaxed);
        self.queue.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

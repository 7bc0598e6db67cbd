//! Connections, the pool and migrations, over SQLite or PostgreSQL chosen by the URL.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::StorageError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Runs one diesel query on the concrete connection inside a [`DbConnection`]:
/// `native!(conn, |c| query.first::<Row>(c))`.
///
/// Through the multi-backend connection diesel re-renders a query's SQL on every call to find its
/// cached statement; on the concrete connection a query of fixed shape is found by its type alone.
/// Hot paths use this. The query expression is written once and compiled for each backend.
macro_rules! native {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::database::DbConnection::Sqlite($c) => $body,
            $crate::database::DbConnection::Pg($c) => $body,
        }
    };
}
pub(crate) use native;

/// One connection to either backend; every query in this crate is written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// An SQLite file.
    Sqlite(diesel::SqliteConnection),
    /// A PostgreSQL server.
    Pg(diesel::PgConnection),
}

impl fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite(_) => "DbConnection::Sqlite",
            Self::Pg(_) => "DbConnection::Pg",
        })
    }
}

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://PATH`.
    Sqlite,
    /// `postgres://…` or `postgresql://…`.
    Postgres,
}

/// How hard SQLite works to make a commit durable (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSynchronous {
    /// WAL + NORMAL: a committed write survives the process dying; a power cut may lose the last
    /// moments before the latest checkpoint.
    #[default]
    Normal,
    /// WAL + FULL: every commit is fsynced; survives a power cut too.
    Full,
}

impl SqliteSynchronous {
    fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }
}

/// Everything needed to open the database.
#[derive(Clone)]
pub struct DatabaseOptions {
    /// `sqlite://PATH` (relative or `sqlite:///absolute`) or `postgres://…`.
    pub url: String,
    /// Most connections kept open.
    pub pool_size: u32,
    /// How long a request waits for a connection before failing as unavailable.
    pub connect_timeout: Duration,
    /// SQLite durability.
    pub sqlite_synchronous: SqliteSynchronous,
    /// How long SQLite waits on a lock held by another process.
    pub sqlite_busy_timeout: Duration,
}

impl fmt::Debug for DatabaseOptions {
    // The URL may carry a password: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseOptions")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .finish_non_exhaustive()
    }
}

impl DatabaseOptions {
    /// Options with defaults for everything but the URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            sqlite_synchronous: SqliteSynchronous::Normal,
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A URL with any password replaced by `***`, for logs and messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, Clone)]
enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

fn parse_url(url: &str) -> Result<Target, StorageError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(StorageError::InvalidUrl(
                "\"sqlite://\" needs a file path, such as sqlite://data/authz.sqlite3".into(),
            ));
        }
        Ok(Target::Sqlite(PathBuf::from(path)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Target::Postgres(url.to_owned()))
    } else {
        Err(StorageError::InvalidUrl(format!(
            "{:?} is not supported; use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB",
            redact_url(url)
        )))
    }
}

/// A pooled connection, with whether a query on it showed it unusable (server gone, file
/// read-only): the pool then drops it instead of handing it out again, and opens a fresh one.
#[derive(Debug)]
pub(crate) struct PooledDb {
    conn: DbConnection,
    lost: bool,
}

/// What the connection manager and every [`Database`] handle share: connection attempts in
/// progress (so a command can wait for them before exiting) and the outcome of the latest one (so
/// requests fail fast while the server is unreachable instead of each waiting the whole timeout).
#[derive(Debug, Default)]
struct Gate {
    state: Mutex<GateState>,
    settled: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    /// No new connection may be opened.
    closed: bool,
    /// Connection attempts in progress.
    connecting: usize,
    /// Since when every connection attempt has failed (`None`: the latest one succeeded).
    failing_since: Option<Instant>,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Opens connections for the pool, configuring each SQLite connection before first use.
#[derive(Debug)]
pub(crate) struct ConnectionManager {
    target: Target,
    synchronous: SqliteSynchronous,
    busy_timeout: Duration,
    connect_timeout: Duration,
    gate: Arc<Gate>,
}

impl ConnectionManager {
    fn open(&self) -> Result<DbConnection, StorageError> {
        match &self.target {
            Target::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn = diesel::SqliteConnection::establish(&path)
                    .map_err(|e| StorageError::Connect(format!("SQLite file {path}: {e}")))?;
                // busy_timeout first: the other pragmas may need a lock another process holds.
                // A checkpoint (copying the WAL into the database and fsyncing it) runs inside the
                // commit that crosses wal_autocheckpoint pages; every 8,000 pages (32 MiB) instead of
                // SQLite's 1,000 keeps that fsync off all but one commit in thousands.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 8000;",
                    self.busy_timeout.as_millis(),
                    self.synchronous.pragma()
                ))
                .map_err(|e| StorageError::Connect(format!("SQLite file {path}: {e}")))?;
                Ok(DbConnection::Sqlite(conn))
            }
            Target::Postgres(url) => {
                diesel::PgConnection::establish(&with_timeouts(url, self.connect_timeout))
                    .map(DbConnection::Pg)
                    .map_err(|e| {
                        StorageError::Connect(format!("PostgreSQL at {}: {e}", redact_url(url)))
                    })
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = PooledDb;
    type Error = StorageError;

    /// Opens a connection unless the database is closed. Attempts are counted so that
    /// [`Database::close`] can wait for them: a process must not exit while a pool thread is
    /// inside libpq (its SCRAM and TLS code use OpenSSL, whose exit-time cleanup would pull the
    /// ground from under it: a segfault at exit).
    fn connect(&self) -> Result<PooledDb, StorageError> {
        {
            let mut state = self.gate.lock();
            if state.closed {
                return Err(StorageError::Closed);
            }
            state.connecting += 1;
        }
        let opened = self.open();
        let mut state = self.gate.lock();
        state.connecting -= 1;
        match &opened {
            Ok(_) => state.failing_since = None,
            Err(_) => {
                state.failing_since.get_or_insert_with(Instant::now);
            }
        }
        drop(state);
        self.gate.settled.notify_all();
        opened.map(|conn| PooledDb { conn, lost: false })
    }

    fn is_valid(&self, conn: &mut PooledDb) -> Result<(), StorageError> {
        conn.conn.ping().map(|_| ()).map_err(StorageError::Query)
    }

    fn has_broken(&self, conn: &mut PooledDb) -> bool {
        std::thread::panicking() || conn.lost || conn.conn.is_broken()
    }
}

/// Logs pool connection failures through tracing instead of r2d2's default stderr printing.
#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<StorageError> for LogErrors {
    fn handle_error(&self, error: StorageError) {
        if !matches!(error, StorageError::Closed) {
            tracing::warn!(%error, "database connection failed");
        }
    }
}

/// [`connection_lost`] for a repository's transaction error.
pub(crate) fn connection_lost_tx(e: &crate::clients::TxError) -> bool {
    match e {
        crate::clients::TxError::Db(e) => connection_lost(e),
        crate::clients::TxError::Storage(_) => true,
        crate::clients::TxError::Refused(_) => false,
    }
}

/// `url` with libpq's `connect_timeout` (whole seconds, at least 2 as libpq requires) and TCP
/// keepalives added unless the URL sets them: a server that vanished without closing its
/// connections (host down, network cut) is then noticed in seconds instead of the kernel's
/// minutes-long TCP timeouts.
fn with_timeouts(url: &str, connect_timeout: Duration) -> String {
    let defaults = [
        (
            "connect_timeout",
            connect_timeout.as_secs().max(2).to_string(),
        ),
        ("keepalives", "1".to_owned()),
        ("keepalives_idle", "10".to_owned()),
        ("keepalives_interval", "5".to_owned()),
        ("keepalives_count", "3".to_owned()),
    ];
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let present = |key: &str| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(key))
    };
    let mut out = url.to_owned();
    for (key, value) in defaults {
        if !present(key) {
            out.push(if out.contains('?') { '&' } else { '?' });
            out.push_str(key);
            out.push('=');
            out.push_str(&value);
        }
    }
    out
}

/// Whether a failed query shows its connection unusable for good: the server closed it or went
/// away, or (SQLite) the file was opened read-only. The pool then replaces the connection, so the
/// service recovers by itself once the server or the permissions are back.
pub(crate) fn connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("readonly database")
                || m.contains("terminating connection")
                || m.contains("server closed the connection")
                || m.contains("no connection to the server")
                || m.contains("could not receive data")
                || m.contains("could not send data")
                || m.contains("connection to server")
        }
        _ => false,
    }
}

/// The database: a connection pool plus, for SQLite, the lock that serialises writers.
///
/// SQLite allows one writer at a time; letting pooled connections race for the lock makes them
/// sleep in `busy_timeout` back-off. Serialising writers in process instead keeps each write a
/// few microseconds and never fails with `SQLITE_BUSY` between our own connections.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<ConnectionManager>,
    backend: Backend,
    write_lock: Option<Arc<Mutex<()>>>,
    gate: Arc<Gate>,
    connect_timeout: Duration,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .field("pool", &self.pool.state())
            .finish()
    }
}

impl Database {
    /// Opens the database named by `options.url`, creating the SQLite file and its folder if needed.
    /// One connection is opened first, so a wrong URL or an unreachable server is reported with its
    /// real cause at once.
    pub fn connect(options: &DatabaseOptions) -> Result<Self, StorageError> {
        let target = parse_url(&options.url)?;
        let backend = match &target {
            Target::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|source| StorageError::Folder {
                        path: parent.display().to_string(),
                        source,
                    })?;
                }
                Backend::Sqlite
            }
            Target::Postgres(_) => Backend::Postgres,
        };
        let gate = Arc::new(Gate::default());
        let manager = ConnectionManager {
            target,
            synchronous: options.sqlite_synchronous,
            busy_timeout: options.sqlite_busy_timeout,
            connect_timeout: options.connect_timeout,
            gate: gate.clone(),
        };
        let first = manager.open()?;
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(options.connect_timeout)
            // No ping per checkout: a dead connection fails its query, is reported as
            // unavailable, and `has_broken` keeps it out of the pool.
            .test_on_check_out(false)
            .error_handler(Box::new(LogErrors))
            .build(manager)?;
        Ok(Self {
            pool,
            backend,
            write_lock: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
            gate,
            connect_timeout: options.connect_timeout,
        })
    }

    /// Stops opening connections and waits (at most the connect timeout, plus a second) for the
    /// attempts in progress on the pool's threads to end. Call it before the process exits:
    /// exiting while a pool thread is inside libpq crashes in OpenSSL's exit-time cleanup.
    /// Connections already open keep working; none is opened afterwards.
    pub fn close(&self) {
        let deadline = Instant::now() + self.connect_timeout + Duration::from_secs(1);
        let mut state = self.gate.lock();
        state.closed = true;
        while state.connecting > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!(
                    connecting = state.connecting,
                    "database connection attempts still running at exit"
                );
                break;
            }
            state = match self.gate.settled.wait_timeout(state, left) {
                Ok((state, _)) => state,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection. An idle one is taken at once. Otherwise, while every attempt to
    /// connect has been failing (the server is down), this fails at once instead of waiting the
    /// connect timeout: requests then answer 503 in milliseconds rather than queueing behind
    /// each other. The pool keeps retrying in the background and the first success lets requests
    /// wait for connections again.
    pub(crate) fn conn(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, StorageError> {
        if let Some(conn) = self.pool.try_get() {
            return Ok(conn);
        }
        if let Some(since) = self.gate.lock().failing_since {
            return Err(StorageError::Unreachable(format!(
                "every connection attempt for {} ms has failed",
                since.elapsed().as_millis()
            )));
        }
        Ok(self.pool.get()?)
    }

    /// Whether the database answers now: a connection and a trivial query, and for SQLite a
    /// write probe (a file opened read-only reads fine but refuses every write). For
    /// `/health/ready`; errors say why, for the log and the probe's answer.
    pub fn check_ready(&self) -> Result<(), StorageError> {
        let _guard = self
            .write_lock
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()));
        let mut conn = self.conn()?;
        if let Err(e) = probe(&mut conn.conn) {
            conn.lost = connection_lost(&e);
            return Err(StorageError::Query(e));
        }
        Ok(())
    }

    /// Runs `f` in one transaction on a pooled connection; SQLite writers are serialised first.
    /// Any error from `f` rolls the whole transaction back.
    pub fn write<T, E>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<diesel::result::Error> + From<StorageError>,
    {
        let _guard: Option<MutexGuard<'_, ()>> = self
            .write_lock
            .as_ref()
            .map(|lock| lock.lock().unwrap_or_else(|e| e.into_inner()));
        let mut pooled = self.conn()?;
        let result = pooled.conn.transaction(f);
        if result.is_err() {
            // The error type is the caller's: whether the connection is still usable is asked of
            // the connection itself (failures are rare, so the probe costs nothing in practice).
            pooled.lost = probe(&mut pooled.conn).is_err();
        }
        result
    }

    /// Runs `f` on a pooled connection without a transaction (single-statement reads).
    pub fn read<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, diesel::result::Error>,
    ) -> Result<T, StorageError> {
        let mut pooled = self.conn()?;
        f(&mut pooled.conn).map_err(|e| {
            pooled.lost = connection_lost(&e);
            StorageError::Query(e)
        })
    }

    /// Applies every pending migration; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, StorageError> {
        let _guard = self
            .write_lock
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()));
        let mut conn = self.conn()?;
        let applied = match &mut conn.conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(versions),
            DbConnection::Pg(c) => {
                // Two servers starting together must not both migrate.
                c.batch_execute("SELECT pg_advisory_lock(7591)")?;
                let result = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(versions);
                c.batch_execute("SELECT pg_advisory_unlock(7591)")?;
                result
            }
        };
        applied.map_err(|e| StorageError::Migration(e.to_string()))
    }

    /// Reverts every applied migration (for `down.sql` tests and `migrate --revert-all`).
    pub fn revert_all(&self) -> Result<Vec<String>, StorageError> {
        let _guard = self
            .write_lock
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()));
        let mut conn = self.conn()?;
        let reverted = match &mut conn.conn {
            DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(versions),
            DbConnection::Pg(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS).map(versions),
        };
        reverted.map_err(|e| StorageError::Migration(e.to_string()))
    }

    /// Migrations not yet applied.
    pub fn pending_migrations(&self) -> Result<Vec<String>, StorageError> {
        let mut conn = self.conn()?;
        let pending = match &mut conn.conn {
            DbConnection::Sqlite(c) => c
                .pending_migrations(SQLITE_MIGRATIONS)
                .map(|m| m.iter().map(|m| m.name().to_string()).collect()),
            DbConnection::Pg(c) => c
                .pending_migrations(POSTGRES_MIGRATIONS)
                .map(|m| m.iter().map(|m| m.name().to_string()).collect()),
        };
        pending.map_err(|e| StorageError::Migration(e.to_string()))
    }
}

/// A query that fails when the connection cannot serve writes: PostgreSQL, a round trip;
/// SQLite, a write that changes nothing (refused on a file opened read-only; a bare
/// `BEGIN IMMEDIATE` is not).
fn probe(conn: &mut DbConnection) -> Result<(), diesel::result::Error> {
    match conn {
        DbConnection::Pg(c) => c.batch_execute("SELECT 1"),
        DbConnection::Sqlite(c) => c.batch_execute("DELETE FROM audit_events WHERE 0"),
    }
}

fn versions(v: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    v.into_iter().map(|v| v.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend() {
        assert!(
            matches!(parse_url("sqlite://data/a.db"), Ok(Target::Sqlite(p)) if p == std::path::Path::new("data/a.db"))
        );
        assert!(
            matches!(parse_url("sqlite:///tmp/a.db"), Ok(Target::Sqlite(p)) if p == std::path::Path::new("/tmp/a.db"))
        );
        assert!(matches!(
            parse_url("postgres://u:p@h/db"),
            Ok(Target::Postgres(_))
        ));
        assert!(matches!(
            parse_url("postgresql://h/db"),
            Ok(Target::Postgres(_))
        ));
        let err = parse_url("mysql://u:hunter2@h/db")
            .expect_err("refused")
            .to_string();
        assert!(err.contains("sqlite://PATH"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(parse_url("sqlite://").is_err());
    }

    #[test]
    fn libpq_timeouts_are_added_unless_the_url_sets_them() {
        let five = Duration::from_secs(5);
        assert_eq!(
            with_timeouts("postgres://u:p%40@h/db", five),
            "postgres://u:p%40@h/db?connect_timeout=5&keepalives=1&keepalives_idle=10&keepalives_interval=5&keepalives_count=3"
        );
        let own = with_timeouts(
            "postgres://h/db?sslmode=require&connect_timeout=30",
            Duration::from_secs(1),
        );
        assert!(
            own.starts_with("postgres://h/db?sslmode=require&connect_timeout=30&keepalives=1"),
            "{own}"
        );
        assert_eq!(own.matches("connect_timeout").count(), 1);
        assert!(
            with_timeouts("postgres://h/db", Duration::from_secs(1)).contains("connect_timeout=2")
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://me:secret@db:5432/x"),
            "postgres://me:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://me@db/x"), "postgres://me@db/x");
        assert_eq!(redact_url("sqlite://data/a.db"), "sqlite://data/a.db");
    }
}

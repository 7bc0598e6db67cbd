//! Connections, the pool and migrations, over SQLite or PostgreSQL chosen by the URL.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

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

/// Opens connections for the pool, configuring each SQLite connection before first use.
#[derive(Debug)]
pub(crate) struct ConnectionManager {
    target: Target,
    synchronous: SqliteSynchronous,
    busy_timeout: Duration,
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
            Target::Postgres(url) => diesel::PgConnection::establish(url)
                .map(DbConnection::Pg)
                .map_err(|e| {
                    StorageError::Connect(format!("PostgreSQL at {}: {e}", redact_url(url)))
                }),
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = StorageError;

    fn connect(&self) -> Result<DbConnection, StorageError> {
        self.open()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), StorageError> {
        conn.ping().map(|_| ()).map_err(StorageError::Query)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Logs pool connection failures through tracing instead of r2d2's default stderr printing.
#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<StorageError> for LogErrors {
    fn handle_error(&self, error: StorageError) {
        tracing::warn!(%error, "database connection failed");
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
        let manager = ConnectionManager {
            target,
            synchronous: options.sqlite_synchronous,
            busy_timeout: options.sqlite_busy_timeout,
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
        })
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection.
    pub(crate) fn conn(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, StorageError> {
        Ok(self.pool.get()?)
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
        let mut conn = self.conn()?;
        let conn: &mut DbConnection = &mut conn;
        conn.transaction(f)
    }

    /// Runs `f` on a pooled connection without a transaction (single-statement reads).
    pub fn read<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, diesel::result::Error>,
    ) -> Result<T, StorageError> {
        let mut conn = self.conn()?;
        Ok(f(&mut conn)?)
    }

    /// Applies every pending migration; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, StorageError> {
        let _guard = self
            .write_lock
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()));
        let mut conn = self.conn()?;
        let applied = match &mut *conn {
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
        let reverted = match &mut *conn {
            DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(versions),
            DbConnection::Pg(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS).map(versions),
        };
        reverted.map_err(|e| StorageError::Migration(e.to_string()))
    }

    /// Migrations not yet applied.
    pub fn pending_migrations(&self) -> Result<Vec<String>, StorageError> {
        let mut conn = self.conn()?;
        let pending = match &mut *conn {
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
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://me:secret@db:5432/x"),
            "postgres://me:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://me@db/x"), "postgres://me@db/x");
        assert_eq!(redact_url("sqlite://data/a.db"), "sqlite://data/a.db");
    }
}

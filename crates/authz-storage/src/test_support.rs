//! Throwaway databases for tests: a fresh SQLite file in a temporary folder, or a fresh database
//! on the PostgreSQL server named by `TEST_DATABASE_URL` (dropped again afterwards).
//! `make test` starts a private PostgreSQL cluster and sets that variable.

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::{Backend, Database, DatabaseOptions};

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    /// The URL to connect to.
    pub url: String,
    /// The engine.
    pub backend: Backend,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Folder(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A new database of the given kind.
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres(),
        }
    }

    /// A new SQLite file (not yet created) in a fresh temporary folder.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary folder");
        let path: PathBuf = dir.path().join("nested").join("authz.sqlite3");
        Self {
            url: format!("sqlite://{}", path.display()),
            backend: Backend::Sqlite,
            cleanup: Cleanup::Folder(dir),
        }
    }

    /// A new, empty PostgreSQL database on the `TEST_DATABASE_URL` server.
    ///
    /// # Panics
    /// When `TEST_DATABASE_URL` is unset or the server refuses: PostgreSQL tests must not pass
    /// silently without PostgreSQL. Run them through `make test`, which provides a server.
    pub fn postgres() -> Self {
        let admin_url = std::env::var("TEST_DATABASE_URL").expect(
            "TEST_DATABASE_URL is not set: run the tests with `make test`, which starts a throwaway PostgreSQL, or point it at a server (postgres://USER:PASSWORD@HOST:PORT/postgres)",
        );
        let name = format!("authz_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("cannot reach TEST_DATABASE_URL: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        let url = replace_db_name(&admin_url, &name);
        Self {
            url,
            backend: Backend::Postgres,
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }

    /// Options for this database with the defaults.
    pub fn options(&self) -> DatabaseOptions {
        let mut options = DatabaseOptions::new(self.url.clone());
        options.pool_size = 4;
        options
    }

    /// Connects and applies the migrations.
    pub fn open(&self) -> Database {
        let db = Database::connect(&self.options()).expect("connect to the test database");
        db.migrate().expect("migrate the test database");
        db
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            // Best effort: a leftover database in a throwaway cluster harms nothing.
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// `postgres://u:p@h:5432/postgres?x=y` with the database name replaced.
fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let head = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{head}/{name}?{q}"),
        None => format!("{head}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::replace_db_name;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            replace_db_name("postgres://u:p@h:1/postgres", "x"),
            "postgres://u:p@h:1/x"
        );
        assert_eq!(replace_db_name("postgres://h:1", "x"), "postgres://h:1/x");
        assert_eq!(
            replace_db_name("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}

//! Which database a command uses: every command names it on standard error (password
//! redacted), and the administration commands refuse a SQLite file that does not exist, so a
//! command run from the wrong folder never creates a new, empty database and works on it.

use std::path::{Path, PathBuf};

use anyhow::bail;
use authz_storage::{redact_url, Database};

use crate::settings::Settings;
use crate::startup::open_database;

/// The database `settings` name, for people: the absolute path of a SQLite file (a relative
/// `sqlite://data/authz.sqlite3` is resolved against the working directory), or the PostgreSQL
/// URL with its password replaced by `***`.
pub(crate) fn describe(settings: &Settings) -> String {
    match sqlite_path(&settings.database.url) {
        Some(path) => format!("SQLite file {}", absolute(&path).display()),
        None => redact_url(&settings.database.url),
    }
}

/// Opens the database of a command that works on existing data (`admin-token`, `user`,
/// `keys`): says which one on standard error, and refuses a SQLite file that does not exist.
///
/// # Errors
/// The SQLite file does not exist (the message says which path, where it was resolved from and
/// how to point at the right one), or the database cannot be opened.
pub(crate) fn open_existing(settings: &Settings) -> anyhow::Result<Database> {
    eprintln!("authz-server: database: {}", describe(settings));
    if let Some(path) = sqlite_path(&settings.database.url) {
        if !path.exists() {
            let cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "?".into());
            bail!(
                "database.url = {:?}: {} does not exist (relative paths are resolved from the \
                 working directory, {cwd}). This command works on the server's existing \
                 database: run it from the folder the server runs in, or set \
                 AUTHZ__DATABASE__URL to the server's database. To create a new database, run \
                 `authz-server migrate` first.",
                settings.database.url,
                absolute(&path).display()
            );
        }
    }
    open_database(settings)
}

/// What to do about a database error a new operator meets, when its message is recognised:
/// PostgreSQL 15 no longer lets every role create tables in the `public` schema.
pub(crate) fn hint(message: &str) -> Option<&'static str> {
    message
        .contains("permission denied for schema public")
        .then_some(
            "since PostgreSQL 15 only the database owner may create tables in the public schema: \
         as a superuser, in the server's database, run GRANT USAGE, CREATE ON SCHEMA public TO \
         <the role of database.url> (docs/operations.md#production)",
        )
}

/// The file path of a `sqlite://PATH` URL; `None` for PostgreSQL.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    url.strip_prefix("sqlite://")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file_and_postgres_urls_do_not() {
        assert_eq!(
            sqlite_path("sqlite://data/a.db"),
            Some(PathBuf::from("data/a.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/a.db"),
            Some(PathBuf::from("/var/lib/a.db"))
        );
        assert_eq!(sqlite_path("postgres://u:p@h/db"), None);
    }
}

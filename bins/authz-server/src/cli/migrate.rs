//! `authz-server migrate [--revert-all]`.

use authz_storage::Database;

use crate::settings::Settings;
use crate::telemetry;

/// Applies pending migrations (or reverts them all) and prints what was done.
pub(super) fn migrate(settings: &Settings, revert_all: bool) -> anyhow::Result<()> {
    telemetry::init(&settings.logging)?;
    eprintln!(
        "authz-server: database: {}",
        super::database::describe(settings)
    );
    let db = Database::connect(&settings.database_options())?;
    let versions = if revert_all {
        db.revert_all()
    } else {
        db.migrate()
    };
    // No pool thread may still be connecting when the process exits (see `Database::close`).
    db.close();
    let versions = versions?;
    match (revert_all, versions.is_empty()) {
        (_, true) => println!("nothing to do: the database is up to date"),
        (false, false) => println!(
            "applied {} migration(s): {}",
            versions.len(),
            versions.join(", ")
        ),
        (true, false) => println!(
            "reverted {} migration(s): {}",
            versions.len(),
            versions.join(", ")
        ),
    }
    Ok(())
}

//! The connection cap (`server.max_connections`): how many connections the server holds open at
//! once, so that slow or idle clients can never use up the process's file descriptors.
//!
//! Without a cap, every accepted connection takes a descriptor until it closes; once the
//! open-file limit is reached `accept` fails (EMFILE), nothing new is served, and the database
//! pool cannot open files either. With a cap below the limit the server stops accepting instead:
//! new connections wait in the kernel's listen backlog (which takes no descriptor of ours) and are
//! accepted as soon as one closes. Slow clients are closed by the body and head read timeouts, so
//! the slots come back.

/// Descriptors kept out of the connection budget: each database connection (a SQLite connection
/// holds the database, its WAL and its shared-memory file), each worker's poller and waker, the
/// listener, logs and some room.
fn reserved_descriptors(pool_size: u32, workers: usize) -> u64 {
    3 * u64::from(pool_size) + 4 * workers as u64 + 64
}

/// The soft open-file limit of this process (`RLIMIT_NOFILE`), read from `/proc/self/limits`;
/// `None` where that file does not exist (not Linux) or says `unlimited`.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files_limit(&limits)
}

fn parse_open_files_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The connection cap over all workers: `configured` when not 0, else the open-file limit less
/// [`reserved_descriptors`] (at least 16), else (no known limit) 25 000 per worker, actix-web's
/// own default.
pub fn connection_cap(
    configured: usize,
    open_files: Option<u64>,
    pool_size: u32,
    workers: usize,
) -> usize {
    if configured > 0 {
        return configured;
    }
    match open_files {
        Some(limit) => {
            let budget = limit.saturating_sub(reserved_descriptors(pool_size, workers));
            usize::try_from(budget).unwrap_or(usize::MAX).max(16)
        }
        None => 25_000 * workers.max(1),
    }
}

/// actix-web counts its cap per worker: the total divided among them, at least one each.
pub fn per_worker(cap: usize, workers: usize) -> usize {
    (cap / workers.max(1)).max(1)
}

/// Requests of one worker that may wait for their bodies at once: half its connection share (at
/// least one), so that slow bodies never hold more than half of the slots.
pub fn max_pending_bodies(settings: &crate::settings::Settings) -> usize {
    let workers = settings.worker_count();
    let cap = connection_cap(
        settings.server.max_connections,
        open_files_limit(),
        settings.database.pool_size,
        workers,
    );
    (per_worker(cap, workers) / 2).max(1)
}

/// Whether `cap` connections plus the reserve fit in the open-file limit (when it is known).
pub fn fits(cap: usize, open_files: Option<u64>, pool_size: u32, workers: usize) -> bool {
    open_files.is_none_or(|limit| cap as u64 + reserved_descriptors(pool_size, workers) <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_open_files_limit_is_read_from_proc_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             127431               127431               processes \n\
                      Max open files            256                  524288               files     \n";
        assert_eq!(parse_open_files_limit(limits), Some(256));
        assert_eq!(
            parse_open_files_limit(
                "Max open files            unlimited            unlimited            files"
            ),
            None
        );
    }

    #[test]
    fn an_unset_cap_leaves_descriptors_for_the_database_and_workers() {
        // 256 descriptors, 8 pooled connections, 2 workers: 256 - (24 + 8 + 64) = 160.
        assert_eq!(connection_cap(0, Some(256), 8, 2), 160);
        assert!(fits(160, Some(256), 8, 2));
        assert!(!fits(300, Some(256), 8, 2));
        assert_eq!(per_worker(160, 2), 80);
        // A tiny limit still serves someone.
        assert_eq!(connection_cap(0, Some(50), 8, 2), 16);
        // A configured cap wins; no known limit falls back to actix's default.
        assert_eq!(connection_cap(500, Some(256), 8, 2), 500);
        assert_eq!(connection_cap(0, None, 8, 2), 50_000);
        assert_eq!(per_worker(3, 4), 1);
    }
}

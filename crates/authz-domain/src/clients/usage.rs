//! When each client was last used: a column kept up to date without a write on every request.
//!
//! A client "uses" the server when it authenticates: at the token, introspection or revocation
//! endpoints (client authentication, or its `client_id` for a public client) and at RFC 7592
//! management with its registration access token. [`UsageRecorder`] writes at most once per client
//! per interval per process: an in-memory map remembers the last write, and the store's
//! conditional update (`… WHERE last_used_at IS NULL OR last_used_at <= now - interval`) keeps
//! several instances from writing more than about once per interval each.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use crate::clock::Clock;
use crate::error::RepositoryError;

/// Most clients remembered by one [`UsageRecorder`]; past this the entries older than the interval
/// are forgotten (and, if that is not enough, all of them: the next use of each writes once more).
pub const MAX_REMEMBERED_CLIENTS: usize = 100_000;

/// Where the last use of each client is stored.
pub trait ClientUsageStore: Send + Sync + Debug {
    /// Sets the client's `last_used_at` to `at` (Unix seconds) unless it already holds a time
    /// after `unless_since`. Returns whether a row changed (`false` also for an unknown client).
    fn record_use(
        &self,
        client_id: &str,
        at: i64,
        unless_since: i64,
    ) -> Result<bool, RepositoryError>;
}

/// Records client use, throttled to one write per client per interval.
#[derive(Debug)]
pub struct UsageRecorder {
    store: Arc<dyn ClientUsageStore>,
    clock: Arc<dyn Clock>,
    interval_secs: i64,
    written: Mutex<HashMap<String, i64>>,
}

impl UsageRecorder {
    /// A recorder writing to `store` at most once per client per `interval_secs` (at least 1).
    pub fn new(
        store: Arc<dyn ClientUsageStore>,
        clock: Arc<dyn Clock>,
        interval_secs: u64,
    ) -> Self {
        Self {
            store,
            clock,
            interval_secs: i64::try_from(interval_secs.max(1)).unwrap_or(i64::MAX),
            written: Mutex::new(HashMap::new()),
        }
    }

    /// The throttle interval in seconds.
    pub fn interval_secs(&self) -> i64 {
        self.interval_secs
    }

    /// Notes that `client_id` authenticated now. Writes only when this process has not written
    /// for this client within the interval. A storage failure is returned and not remembered, so
    /// the next use tries again; callers treat it as non-fatal.
    pub fn used(&self, client_id: &str) -> Result<(), RepositoryError> {
        let now = self.clock.now();
        let since = now.saturating_sub(self.interval_secs);
        {
            let written = self.written.lock().unwrap_or_else(|e| e.into_inner());
            if written.get(client_id).is_some_and(|&at| at > since) {
                return Ok(());
            }
        }
        self.store.record_use(client_id, now, since)?;
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if written.len() >= MAX_REMEMBERED_CLIENTS {
            written.retain(|_, at| *at > since);
            if written.len() >= MAX_REMEMBERED_CLIENTS {
                written.clear();
            }
        }
        written.insert(client_id.to_owned(), now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[derive(Debug, Default)]
    struct Counting(Mutex<Vec<(String, i64, i64)>>);

    impl ClientUsageStore for Counting {
        fn record_use(&self, id: &str, at: i64, since: i64) -> Result<bool, RepositoryError> {
            self.0
                .lock()
                .expect("lock")
                .push((id.to_owned(), at, since));
            Ok(true)
        }
    }

    #[test]
    fn one_write_per_client_per_interval() {
        let store = Arc::new(Counting::default());
        let clock = Arc::new(ManualClock::new(1_000));
        let recorder = UsageRecorder::new(store.clone(), clock.clone(), 300);
        for _ in 0..100 {
            recorder.used("a").expect("ok");
        }
        recorder.used("b").expect("ok");
        clock.advance(299);
        recorder.used("a").expect("ok");
        assert_eq!(store.0.lock().expect("lock").len(), 2, "a once, b once");
        clock.advance(1);
        recorder.used("a").expect("ok");
        let writes = store.0.lock().expect("lock").clone();
        assert_eq!(
            writes,
            vec![
                ("a".to_owned(), 1_000, 700),
                ("b".to_owned(), 1_000, 700),
                ("a".to_owned(), 1_300, 1_000)
            ]
        );
    }
}

//! Stale-client expiry: deleting dynamically registered clients that were never used, or not used
//! for a long time.
//!
//! Open registration accumulates clients nobody will use again (clients that register on every
//! connection, bots). With a lifetime configured, the maintenance thread deletes, in small
//! batches, each dynamically registered client that
//!
//! * has not authenticated since registration and was registered more than
//!   `never_used_lifetime_secs` ago, or
//! * last authenticated more than `unused_lifetime_secs` ago.
//!
//! "Authenticated" is `last_used_at` (see [`UsageRecorder`](crate::clients::UsageRecorder)), which
//! is written at most once per `registration.last_used_interval_secs`, so a lifetime shorter
//! than that interval would delete clients in use: settings refuse it. Administrator-created
//! clients are never expired. Each deletion is its own transaction, re-checks the condition on
//! the locked row (a client used meanwhile stays), keeps its id from being reissued, and writes a
//! `client.expired` audit record.

use std::fmt;
use std::sync::Arc;

use crate::audit::{AuditAction, AuditEvent, RequestContext};
use crate::clock::Clock;
use crate::error::RepositoryError;

/// The cut-offs of one expiry pass (Unix seconds); `None` disables that rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleCutoffs {
    /// Never-used clients registered before this expire.
    pub never_used_issued_before: Option<i64>,
    /// Clients last used before this expire.
    pub last_used_before: Option<i64>,
}

/// Where stale clients are found and deleted.
pub trait StaleClientStore: Send + Sync + fmt::Debug {
    /// Up to `limit` dynamically registered clients matching `cutoffs`: their ids and
    /// `last_used_at`.
    fn stale_clients(
        &self,
        cutoffs: &StaleCutoffs,
        limit: u32,
    ) -> Result<Vec<(String, Option<i64>)>, RepositoryError>;

    /// Deletes `client_id` (as a deletion does: tokens, consents, grants, tombstone) with
    /// `audit`, if it still matches `cutoffs` once locked; returns whether it was deleted.
    fn delete_if_stale(
        &self,
        client_id: &str,
        cutoffs: &StaleCutoffs,
        audit: &AuditEvent,
    ) -> Result<bool, RepositoryError>;
}

/// Lifetimes of unused clients (`[registration.expiry]`); `0` disables a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpiryPolicy {
    /// Seconds a never-used client lives after registration.
    pub never_used_lifetime_secs: u64,
    /// Seconds a client lives after its last use.
    pub unused_lifetime_secs: u64,
    /// Clients deleted per batch (each its own transaction).
    pub batch_size: u32,
    /// Batches per pass, so one pass stays short however many clients expired at once.
    pub max_batches: u32,
}

impl ExpiryPolicy {
    /// Whether any rule is on.
    pub fn is_enabled(&self) -> bool {
        self.never_used_lifetime_secs > 0 || self.unused_lifetime_secs > 0
    }

    /// The cut-offs at `now`.
    pub fn cutoffs(&self, now: i64) -> StaleCutoffs {
        let before = |lifetime: u64| {
            (lifetime > 0).then(|| now.saturating_sub(i64::try_from(lifetime).unwrap_or(i64::MAX)))
        };
        StaleCutoffs {
            never_used_issued_before: before(self.never_used_lifetime_secs),
            last_used_before: before(self.unused_lifetime_secs),
        }
    }
}

/// Runs expiry passes.
#[derive(Debug, Clone)]
pub struct StaleClientExpiry {
    store: Arc<dyn StaleClientStore>,
    clock: Arc<dyn Clock>,
    policy: ExpiryPolicy,
}

impl StaleClientExpiry {
    /// Expiry over `store` as `policy` says, timed by `clock`.
    pub fn new(
        store: Arc<dyn StaleClientStore>,
        clock: Arc<dyn Clock>,
        policy: ExpiryPolicy,
    ) -> Self {
        Self {
            store,
            clock,
            policy,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> ExpiryPolicy {
        self.policy
    }

    /// One pass: deletes up to `batch_size × max_batches` stale clients; returns how many.
    /// Does nothing when no rule is on.
    pub fn run(&self) -> Result<u64, RepositoryError> {
        if !self.policy.is_enabled() {
            return Ok(0);
        }
        let batch = self.policy.batch_size.max(1);
        let mut deleted = 0;
        for _ in 0..self.policy.max_batches.max(1) {
            let now = self.clock.now();
            let cutoffs = self.policy.cutoffs(now);
            let ids = self.store.stale_clients(&cutoffs, batch)?;
            let found = ids.len();
            for (id, last_used_at) in ids {
                let reason = self.reason(last_used_at);
                let event = AuditEvent::new(
                    now,
                    AuditAction::ClientExpired,
                    "system",
                    &RequestContext::default(),
                )
                .client(&id)
                .detail(reason);
                if self.store.delete_if_stale(&id, &cutoffs, &event)? {
                    deleted += 1;
                }
            }
            if found < batch as usize {
                break;
            }
        }
        Ok(deleted)
    }

    fn reason(&self, last_used_at: Option<i64>) -> String {
        match last_used_at {
            None => format!(
                "never used since registration (never_used_lifetime_secs = {}, unused_lifetime_secs = {})",
                self.policy.never_used_lifetime_secs, self.policy.unused_lifetime_secs
            ),
            Some(at) => format!(
                "last used at {at}, unused for more than {} s",
                self.policy.unused_lifetime_secs
            ),
        }
    }
}

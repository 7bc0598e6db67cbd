//! Sign-in throttling: failed passwords per account and per client address first cost nothing,
//! then make the next attempt wait (1 s, 2 s, 4 s, … up to `max_delay_secs`), then lock for
//! `lock_secs`. A lock happens at most once per `lock_cooldown_secs` for one key, so an attacker
//! who keeps guessing can slow an account down to one attempt per `max_delay_secs` but never lock
//! its user out for more than `lock_secs` at a time. A success clears the account's count; old
//! failures are forgotten after `forget_after_secs`.
//!
//! The state lives behind [`SignInThrottleRepository`] (a database table), so every instance
//! sees the same count. Keys are SHA-256 digests of the case-folded username or of the address:
//! a password typed into the username field never reaches the table in clear.

use std::fmt::Debug;

use crate::credentials::TokenDigest;
use crate::error::RepositoryError;

use super::Username;

/// Where failures start to cost, and where they lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleThresholds {
    /// Failures that cost nothing.
    pub free_failures: u32,
    /// Failures after which the key is locked for [`SignInThrottlePolicy::lock_secs`].
    pub lock_after_failures: u32,
}

/// The throttling rules (`[rate_limits]` `sign_in_*` keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInThrottlePolicy {
    /// Per account (case-folded username, existing or not).
    pub account: ThrottleThresholds,
    /// Per client address.
    pub address: ThrottleThresholds,
    /// The longest wait between two attempts before a lock, in seconds.
    pub max_delay_secs: i64,
    /// How long a lock lasts, in seconds.
    pub lock_secs: i64,
    /// After a lock, no new lock of the same key for this long (only the slow-down), in seconds.
    pub lock_cooldown_secs: i64,
    /// Failures older than this are forgotten, in seconds.
    pub forget_after_secs: i64,
}

impl Default for SignInThrottlePolicy {
    fn default() -> Self {
        Self {
            account: ThrottleThresholds {
                free_failures: 5,
                lock_after_failures: 20,
            },
            address: ThrottleThresholds {
                free_failures: 20,
                lock_after_failures: 100,
            },
            max_delay_secs: 30,
            lock_secs: 900,
            lock_cooldown_secs: 86_400,
            forget_after_secs: 3600,
        }
    }
}

/// The throttle state of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleState {
    /// Failures counted since the last success (or since they were last forgotten).
    pub failures: u32,
    /// When the last failure happened (Unix seconds).
    pub last_failure_at: i64,
    /// Locked until then (Unix seconds); 0: never locked.
    pub locked_until: i64,
    /// When the last lock began (Unix seconds); 0: never.
    pub last_locked_at: i64,
}

/// Which key of a sign-in attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleKind {
    /// The account named in the attempt.
    Account,
    /// The client address.
    Address,
}

/// The throttle keys of one attempt.
pub fn throttle_key(kind: ThrottleKind, value: &str) -> TokenDigest {
    match kind {
        ThrottleKind::Account => {
            let folded = Username::parse(value)
                .map(|u| u.key().to_owned())
                .unwrap_or_else(|_| value.trim().to_owned());
            TokenDigest::of(&format!("account\u{0}{folded}"))
        }
        ThrottleKind::Address => TokenDigest::of(&format!("address\u{0}{value}")),
    }
}

impl SignInThrottlePolicy {
    fn thresholds(&self, kind: ThrottleKind) -> ThrottleThresholds {
        match kind {
            ThrottleKind::Account => self.account,
            ThrottleKind::Address => self.address,
        }
    }

    /// The wait after `failures` failures: none while free, then 1 s doubling up to
    /// `max_delay_secs`.
    pub fn delay_secs(&self, kind: ThrottleKind, failures: u32) -> i64 {
        let free = self.thresholds(kind).free_failures;
        if failures <= free {
            return 0;
        }
        let doublings = (failures - free - 1).min(62);
        1i64.checked_shl(doublings)
            .unwrap_or(i64::MAX)
            .min(self.max_delay_secs)
    }

    /// How long an attempt must still wait (seconds), and whether that is a lock; `None`: go on.
    pub fn wait(&self, kind: ThrottleKind, state: &ThrottleState, now: i64) -> Option<(i64, bool)> {
        if state.locked_until > now {
            return Some((state.locked_until - now, true));
        }
        if now - state.last_failure_at >= self.forget_after_secs {
            return None;
        }
        let until = state.last_failure_at + self.delay_secs(kind, state.failures);
        (until > now).then_some((until - now, false))
    }

    /// The state after one more failure at `now`.
    pub fn after_failure(
        &self,
        kind: ThrottleKind,
        state: Option<ThrottleState>,
        now: i64,
    ) -> ThrottleState {
        let mut state = state.unwrap_or_default();
        if now - state.last_failure_at >= self.forget_after_secs && state.locked_until <= now {
            // Forget old failures, but remember the last lock (its cool-down).
            state.failures = 0;
        }
        state.failures = state.failures.saturating_add(1);
        state.last_failure_at = now;
        let cooled =
            state.last_locked_at == 0 || now - state.last_locked_at >= self.lock_cooldown_secs;
        if state.failures >= self.thresholds(kind).lock_after_failures
            && state.locked_until <= now
            && cooled
        {
            state.locked_until = now + self.lock_secs;
            state.last_locked_at = now;
        }
        state
    }

    /// Rows older than this (last failure, lock and cool-down all over) carry no information.
    pub fn purge_horizon(&self, now: i64) -> i64 {
        now - self.forget_after_secs.max(self.lock_cooldown_secs)
    }
}

/// Storage of the throttle state, shared by every instance.
pub trait SignInThrottleRepository: Send + Sync + Debug {
    /// The state of `key`, if any.
    fn find(&self, key: &TokenDigest) -> Result<Option<ThrottleState>, RepositoryError>;
    /// Replaces the state of `key` by `update(current)` atomically (concurrent updates of one key
    /// from any instance are serialised), and returns the new state.
    fn update(
        &self,
        key: &TokenDigest,
        update: &dyn Fn(Option<ThrottleState>) -> ThrottleState,
    ) -> Result<ThrottleState, RepositoryError>;
    /// Forgets `key` (a successful sign-in).
    fn clear(&self, key: &TokenDigest) -> Result<(), RepositoryError>;
    /// Deletes every key whose last failure, lock and lock start are all before `before`.
    fn purge(&self, before: i64) -> Result<u64, RepositoryError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SignInThrottlePolicy {
        SignInThrottlePolicy {
            account: ThrottleThresholds {
                free_failures: 3,
                lock_after_failures: 8,
            },
            max_delay_secs: 8,
            lock_secs: 600,
            lock_cooldown_secs: 3600,
            forget_after_secs: 1800,
            ..SignInThrottlePolicy::default()
        }
    }

    #[test]
    fn free_failures_then_a_doubling_wait_then_a_lock_that_ends() {
        let p = policy();
        let a = ThrottleKind::Account;
        let mut state = None;
        let mut now = 1_000;
        let mut waits = Vec::new();
        for _ in 0..8 {
            let s = p.after_failure(a, state, now);
            waits.push(p.wait(a, &s, now));
            if let Some((w, _)) = p.wait(a, &s, now) {
                now += w;
            }
            state = Some(s);
        }
        assert_eq!(
            waits,
            [
                None,
                None,
                None,
                Some((1, false)),
                Some((2, false)),
                Some((4, false)),
                Some((8, false)),
                Some((600, true))
            ]
        );
        // After the lock: one attempt per max_delay, and no second lock within the cool-down.
        let mut s = state.expect("state");
        for _ in 0..20 {
            assert!(p.wait(a, &s, now).is_none(), "the wait is over at {now}");
            s = p.after_failure(a, Some(s), now);
            let (w, locked) = p.wait(a, &s, now).expect("slowed");
            assert!(!locked && w <= 8, "{w} {locked}");
            now += w;
        }
        // After the cool-down a lock may come again: still never more than lock_secs at a time.
        now += 3600;
        let mut locked = false;
        for _ in 0..8 {
            s = p.after_failure(a, Some(s), now);
            match p.wait(a, &s, now) {
                Some((600, true)) => locked = true,
                Some((w, false)) => now += w,
                other => assert!(other.is_none(), "{other:?}"),
            }
        }
        assert!(locked, "a fresh run of failures locks again");
    }

    #[test]
    fn old_failures_are_forgotten_and_keys_fold_case() {
        let p = policy();
        let a = ThrottleKind::Account;
        let s = (0..5).fold(None, |s, i| Some(p.after_failure(a, s, 100 + i * 20)));
        let later = p.after_failure(a, s, 100 + 80 + 1800);
        assert_eq!(later.failures, 1);
        assert_eq!(throttle_key(a, " Alice "), throttle_key(a, "ALICE"));
        assert_ne!(
            throttle_key(a, "alice"),
            throttle_key(ThrottleKind::Address, "alice")
        );
    }
}

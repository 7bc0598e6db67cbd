//! `[rate_limits]`: per-address and global request rates on the open endpoints
//! (authz-http's `rate_limit` module). Every `*_per_minute` is a sustained rate; `0` turns that
//! limit off. Every `*_burst` is how many requests may come back to back.

use authz_domain::users::{SignInThrottlePolicy, ThrottleThresholds};
use authz_http::client_ip::TrustedProxies;
use authz_http::rate_limit::{Rate, RateLimitPolicy};
use garde::Validate;
use serde::{Deserialize, Serialize};

/// The largest rate or burst accepted (a million a minute is already "no limit").
const MAX: u32 = 1_000_000;

/// `[rate_limits]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// `false`: no request is rate limited.
    #[garde(skip)]
    pub enabled: bool,
    /// `POST /register` per client address, a minute.
    #[garde(range(max = MAX))]
    pub registrations_per_ip_per_minute: u32,
    /// `POST /register` per client address, back to back.
    #[garde(range(min = 1, max = MAX))]
    pub registrations_per_ip_burst: u32,
    /// `POST /register` from all addresses together, a minute (the global ceiling).
    #[garde(range(max = MAX))]
    pub registrations_per_minute: u32,
    /// `POST /register` from all addresses together, back to back.
    #[garde(range(min = 1, max = MAX))]
    pub registrations_burst: u32,
    /// `GET`/`PUT`/`DELETE /register/{client_id}` per client address, a minute.
    #[garde(range(max = MAX))]
    pub management_per_ip_per_minute: u32,
    /// The same, back to back.
    #[garde(range(min = 1, max = MAX))]
    pub management_per_ip_burst: u32,
    /// Failed registration access token or administrator token attempts (`401`) per client
    /// address, a minute; once spent, the address's token-authenticated requests get `429`.
    #[garde(range(max = MAX))]
    pub failed_tokens_per_ip_per_minute: u32,
    /// The same, back to back.
    #[garde(range(min = 1, max = MAX))]
    pub failed_tokens_per_ip_burst: u32,
    /// `POST /token`, `/introspect` and `/revoke` per client address, a minute.
    #[garde(range(max = MAX))]
    pub token_per_ip_per_minute: u32,
    /// The same, back to back.
    #[garde(range(min = 1, max = MAX))]
    pub token_per_ip_burst: u32,
    /// How long a `429` is held before it is sent (at most its `Retry-After`), in milliseconds;
    /// 0: at once.
    #[garde(range(max = 10_000))]
    pub refusal_delay_ms: u64,
    /// The most `429`s held at once; past it they are sent at once.
    #[garde(range(max = 1_000_000))]
    pub max_delayed_refusals: usize,
    /// `false`: failed sign-ins are not throttled (independent of `enabled`).
    #[garde(skip)]
    pub sign_in_throttling: bool,
    /// Failed sign-ins for one account that cost nothing.
    #[garde(range(max = 1000))]
    pub sign_in_account_free_failures: u32,
    /// Failed sign-ins for one account after which it is locked for `sign_in_lock_secs`.
    #[garde(range(min = 1, max = 100_000))]
    pub sign_in_account_lock_after_failures: u32,
    /// Failed sign-ins from one address that cost nothing.
    #[garde(range(max = 100_000))]
    pub sign_in_address_free_failures: u32,
    /// Failed sign-ins from one address after which it is locked for `sign_in_lock_secs`.
    #[garde(range(min = 1, max = 1_000_000))]
    pub sign_in_address_lock_after_failures: u32,
    /// The longest wait between attempts before a lock, in seconds.
    #[garde(range(min = 1, max = 3600))]
    pub sign_in_max_delay_secs: u32,
    /// How long a lock lasts, in seconds.
    #[garde(range(min = 1, max = 86_400))]
    pub sign_in_lock_secs: u32,
    /// After a lock, no new lock of the same account or address for this long, in seconds.
    #[garde(range(min = 0, max = 2_592_000))]
    pub sign_in_lock_cooldown_secs: u32,
    /// Failures older than this are forgotten, in seconds.
    #[garde(range(min = 60, max = 2_592_000))]
    pub sign_in_forget_after_secs: u32,
}

impl RateLimitSettings {
    /// The sign-in throttling policy; `None` when `sign_in_throttling = false`.
    pub fn sign_in_policy(&self) -> Option<SignInThrottlePolicy> {
        self.sign_in_throttling.then(|| SignInThrottlePolicy {
            account: ThrottleThresholds {
                free_failures: self.sign_in_account_free_failures,
                lock_after_failures: self.sign_in_account_lock_after_failures,
            },
            address: ThrottleThresholds {
                free_failures: self.sign_in_address_free_failures,
                lock_after_failures: self.sign_in_address_lock_after_failures,
            },
            max_delay_secs: i64::from(self.sign_in_max_delay_secs),
            lock_secs: i64::from(self.sign_in_lock_secs),
            lock_cooldown_secs: i64::from(self.sign_in_lock_cooldown_secs),
            forget_after_secs: i64::from(self.sign_in_forget_after_secs),
        })
    }

    /// The policy the HTTP layer enforces, with the trusted proxies of `[server]`.
    pub fn policy(&self, trusted_proxies: TrustedProxies) -> RateLimitPolicy {
        let rate = |per_minute, burst| Rate { per_minute, burst };
        RateLimitPolicy {
            enabled: self.enabled,
            trusted_proxies,
            registrations_per_ip: rate(
                self.registrations_per_ip_per_minute,
                self.registrations_per_ip_burst,
            ),
            registrations: rate(self.registrations_per_minute, self.registrations_burst),
            management_per_ip: rate(
                self.management_per_ip_per_minute,
                self.management_per_ip_burst,
            ),
            failed_tokens_per_ip: rate(
                self.failed_tokens_per_ip_per_minute,
                self.failed_tokens_per_ip_burst,
            ),
            token_per_ip: rate(self.token_per_ip_per_minute, self.token_per_ip_burst),
            refusal_delay: std::time::Duration::from_millis(self.refusal_delay_ms),
            max_delayed_refusals: self.max_delayed_refusals,
        }
    }
}

//! Rate limits on the open endpoints, per client IP ([`crate::client_ip`]), in process.
//!
//! | requests | limit (`[rate_limits]` key) |
//! |---|---|
//! | `POST /register` | `registrations_per_ip_*`, and `registrations_per_minute` for all addresses together |
//! | `GET`/`PUT`/`DELETE /register/{id}` | `management_per_ip_*` |
//! | `POST /token`, `/introspect`, `/revoke` | `token_per_ip_*` |
//! | a `401` from `/register/{id}` or `/admin` | `failed_tokens_per_ip_*` |
//!
//! Each limit is a GCRA bucket (the `governor` crate): `per_minute` requests a minute on average,
//! at most `burst` back to back. A refused request gets `429 Too Many Requests` with
//! `Retry-After` (seconds until one more request passes), the `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset` fields of the IETF draft "RateLimit header
//! fields for HTTP" (draft-ietf-httpapi-ratelimit-headers-07 style; `Reset` is the number of
//! seconds until the whole burst is available again), and a JSON error naming the limit. Allowed
//! requests carry the same three fields.
//!
//! A refusal is held for `refusal_delay_ms` (at most its `Retry-After`, at most
//! `max_delayed_refusals` at once) before it is sent: a flood over a fixed number of connections
//! then costs the server a few timers instead of thousands of responses a second, which keeps
//! other clients' latency (measured in docs/performance.md).
//!
//! Failed registration-access-token or administrator-token attempts have their own, much smaller
//! budget: once it is spent the address is refused (`429`) for every token-authenticated request
//! until the next attempt would fit, *before* the handler runs, so a refused guess costs no token
//! lookup and writes no audit record. Each limit logs one warning per minute at most, with the
//! number of refusals since the last one.
//!
//! State lives in this process: with N instances behind a balancer each instance counts on its
//! own, so a client may get up to N × the configured rate (docs/security.md).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpResponse};
use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{NotUntil, Quota, RateLimiter};

use crate::client_ip::{self, TrustedProxies};
use crate::error::error_response;
use crate::AppState;

/// `RateLimit-Limit`: the burst of the limit closest to exhaustion.
pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`: requests left in the burst.
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`: seconds until the whole burst is available again.
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// One limit: `per_minute` requests a minute on average, at most `burst` back to back.
/// `per_minute = 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained rate, requests per minute; 0: no limit.
    pub per_minute: u32,
    /// Requests allowed back to back (at least 1).
    pub burst: u32,
}

impl Rate {
    /// No limit.
    pub const OFF: Rate = Rate {
        per_minute: 0,
        burst: 0,
    };

    fn quota(self) -> Option<Quota> {
        let per_minute = NonZeroU32::new(self.per_minute)?;
        let burst = NonZeroU32::new(self.burst.max(1))?;
        Quota::with_period(Duration::from_secs(60) / per_minute.get()).map(|q| q.allow_burst(burst))
    }
}

/// What [`RateLimits`] enforces (`[rate_limits]` and `server.trusted_proxies`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitPolicy {
    /// `false`: nothing is limited (the client address is still resolved).
    pub enabled: bool,
    /// Whose forwarding headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// `POST /register` per address.
    pub registrations_per_ip: Rate,
    /// `POST /register` from all addresses together.
    pub registrations: Rate,
    /// `/register/{id}` per address.
    pub management_per_ip: Rate,
    /// Failed registration-access-token and administrator-token attempts per address.
    pub failed_tokens_per_ip: Rate,
    /// `/token`, `/introspect`, `/revoke` per address.
    pub token_per_ip: Rate,
    /// How long a refusal is held before it is sent (at most its `Retry-After`): a client that
    /// floods with a fixed number of connections then sends a handful of requests a second
    /// instead of thousands. Zero: answer at once.
    pub refusal_delay: Duration,
    /// The most refusals held at once; past it, refusals are sent at once (a bound on the
    /// connections and timers a flood can make the server keep).
    pub max_delayed_refusals: usize,
}

impl RateLimitPolicy {
    /// Nothing limited, no proxy trusted.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            trusted_proxies: TrustedProxies::none(),
            registrations_per_ip: Rate::OFF,
            registrations: Rate::OFF,
            management_per_ip: Rate::OFF,
            failed_tokens_per_ip: Rate::OFF,
            token_per_ip: Rate::OFF,
            refusal_delay: Duration::ZERO,
            max_delayed_refusals: 0,
        }
    }
}

type Keyed =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;
type Direct = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// A limiter with what a refusal says about it.
struct Limit<L> {
    limiter: L,
    rate: Rate,
    /// The `[rate_limits]` key prefix, named in refusals.
    key: &'static str,
    /// What is counted, for refusals ("registrations from this address").
    what: &'static str,
    refusals: RefusalLog,
}

impl<L> Limit<L> {
    fn new(
        limiter: impl FnOnce(Quota) -> L,
        rate: Rate,
        key: &'static str,
        what: &'static str,
    ) -> Option<Self> {
        rate.quota().map(|q| Self {
            limiter: limiter(q),
            rate,
            key,
            what,
            refusals: RefusalLog::default(),
        })
    }
}

/// Aggregates refusals into one warning a minute per limit.
#[derive(Default)]
struct RefusalLog(Mutex<Option<(Instant, u64)>>);

impl RefusalLog {
    fn refused(&self, key: &str, ip: IpAddr) {
        let Ok(mut state) = self.0.lock() else { return };
        let now = Instant::now();
        match state.as_mut() {
            Some((since, count)) if now.duration_since(*since) < Duration::from_secs(60) => {
                *count += 1;
            }
            previous => {
                let earlier = previous.map_or(0, |(_, count)| *count);
                tracing::warn!(limit = key, client_ip = %ip, refused_earlier = earlier, "rate limit reached; further refusals are counted and logged at most once a minute");
                *state = Some((now, 0));
            }
        }
    }
}

/// The limiters of one process, shared by every worker.
pub struct RateLimits {
    policy: RateLimitPolicy,
    registrations_per_ip: Option<Limit<Keyed>>,
    registrations: Option<Limit<Direct>>,
    management_per_ip: Option<Limit<Keyed>>,
    token_per_ip: Option<Limit<Keyed>>,
    failed_tokens_per_ip: Option<Limit<Keyed>>,
    /// Addresses whose failed-token budget is spent, until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    /// Limited requests seen, to prune idle state now and then.
    seen: AtomicU64,
    /// Refusals being held now.
    delayed: Arc<AtomicUsize>,
}

impl fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimits")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// How often (in limited requests) idle per-address state is dropped.
const PRUNE_EVERY: u64 = 4096;

/// What one of the request classes is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Registration,
    Management,
    Admin,
    Token,
}

fn classify(method: &Method, path: &str) -> Option<Class> {
    match path {
        "/register" if method == Method::POST => Some(Class::Registration),
        "/token" | "/introspect" | "/revoke" if method == Method::POST => Some(Class::Token),
        p if p.starts_with("/register/") => Some(Class::Management),
        p if p == "/admin" || p.starts_with("/admin/") => Some(Class::Admin),
        _ => None,
    }
}

/// What the response tells about the limit closest to exhaustion.
#[derive(Debug, Clone, Copy)]
struct Standing {
    limit: u32,
    remaining: u32,
    reset_secs: u64,
}

impl Standing {
    fn of(snapshot: &StateSnapshot) -> Self {
        let quota = snapshot.quota();
        let limit = quota.burst_size().get();
        let remaining = snapshot.remaining_burst_capacity().min(limit);
        Self {
            limit,
            remaining,
            reset_secs: ceil_secs(quota.replenish_interval() * (limit - remaining)),
        }
    }

    fn tighter(self, other: Self) -> Self {
        if other.remaining < self.remaining {
            other
        } else {
            self
        }
    }
}

/// One held refusal; frees its slot when dropped.
#[derive(Debug)]
struct DelaySlot(Arc<AtomicUsize>);

impl Drop for DelaySlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A refusal: what to answer.
#[derive(Debug)]
struct Refusal {
    retry_after_secs: u64,
    standing: Standing,
    description: String,
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl RateLimits {
    /// The limiters `policy` describes.
    pub fn new(policy: RateLimitPolicy) -> Self {
        let keyed = |q| RateLimiter::dashmap(q).with_middleware::<StateInformationMiddleware>();
        Self {
            registrations_per_ip: Limit::new(
                keyed,
                policy.registrations_per_ip,
                "registrations_per_ip",
                "registrations from this address",
            ),
            registrations: Limit::new(
                |q| RateLimiter::direct(q).with_middleware::<StateInformationMiddleware>(),
                policy.registrations,
                "registrations",
                "registrations on this server (all addresses together)",
            ),
            management_per_ip: Limit::new(
                keyed,
                policy.management_per_ip,
                "management_per_ip",
                "client management requests from this address",
            ),
            token_per_ip: Limit::new(
                keyed,
                policy.token_per_ip,
                "token_per_ip",
                "token, introspection and revocation requests from this address",
            ),
            failed_tokens_per_ip: Limit::new(
                keyed,
                policy.failed_tokens_per_ip,
                "failed_tokens_per_ip",
                "failed access token attempts from this address",
            ),
            blocked: Mutex::new(HashMap::new()),
            seen: AtomicU64::new(0),
            delayed: Arc::new(AtomicUsize::new(0)),
            policy,
        }
    }

    /// No limits.
    pub fn disabled() -> Self {
        Self::new(RateLimitPolicy::disabled())
    }

    /// The policy in force.
    pub fn policy(&self) -> &RateLimitPolicy {
        &self.policy
    }

    fn check_keyed(limit: &Option<Limit<Keyed>>, ip: IpAddr) -> Result<Option<Standing>, Refusal> {
        let Some(limit) = limit else { return Ok(None) };
        match limit.limiter.check_key(&ip) {
            Ok(snapshot) => Ok(Some(Standing::of(&snapshot))),
            Err(not_until) => {
                limit.refusals.refused(limit.key, ip);
                Err(refusal(limit, &not_until, limit.limiter.clock().now()))
            }
        }
    }

    fn check_direct(
        limit: &Option<Limit<Direct>>,
        ip: IpAddr,
    ) -> Result<Option<Standing>, Refusal> {
        let Some(limit) = limit else { return Ok(None) };
        match limit.limiter.check() {
            Ok(snapshot) => Ok(Some(Standing::of(&snapshot))),
            Err(not_until) => {
                limit.refusals.refused(limit.key, ip);
                Err(refusal(limit, &not_until, limit.limiter.clock().now()))
            }
        }
    }

    /// Applies the limits of `class` to one request from `ip`.
    fn admit(&self, class: Class, ip: IpAddr) -> Result<Option<Standing>, Refusal> {
        if matches!(class, Class::Management | Class::Admin) {
            self.check_blocked(ip)?;
        }
        let per_ip = match class {
            Class::Registration => Self::check_keyed(&self.registrations_per_ip, ip)?,
            Class::Management => Self::check_keyed(&self.management_per_ip, ip)?,
            Class::Token => Self::check_keyed(&self.token_per_ip, ip)?,
            Class::Admin => None,
        };
        let global = match class {
            Class::Registration => Self::check_direct(&self.registrations, ip)?,
            _ => None,
        };
        Ok(match (per_ip, global) {
            (Some(a), Some(b)) => Some(a.tighter(b)),
            (a, b) => a.or(b),
        })
    }

    fn check_blocked(&self, ip: IpAddr) -> Result<(), Refusal> {
        let Some(limit) = &self.failed_tokens_per_ip else {
            return Ok(());
        };
        let until = self
            .blocked
            .lock()
            .ok()
            .and_then(|blocked| blocked.get(&ip).copied());
        match until {
            Some(until) if until > Instant::now() => {
                limit.refusals.refused(limit.key, ip);
                let wait = until.saturating_duration_since(Instant::now());
                Err(Refusal {
                    retry_after_secs: ceil_secs(wait).max(1),
                    standing: Standing {
                        limit: limit.rate.burst.max(1),
                        remaining: 0,
                        reset_secs: ceil_secs(wait),
                    },
                    description: describe(limit, ceil_secs(wait).max(1)),
                })
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed token attempt from `ip`; once the budget is spent the address is blocked
    /// until the next attempt would fit.
    fn failed_token(&self, ip: IpAddr) {
        let Some(limit) = &self.failed_tokens_per_ip else {
            return;
        };
        if let Err(not_until) = limit.limiter.check_key(&ip) {
            let wait = not_until.wait_time_from(limit.limiter.clock().now());
            if let Ok(mut blocked) = self.blocked.lock() {
                blocked.insert(ip, Instant::now() + wait);
            }
            limit.refusals.refused(limit.key, ip);
        }
    }

    /// How long to hold a refusal that says `retry_after_secs`, with the slot it takes; `None`:
    /// send it at once (no delay configured, or [`RateLimitPolicy::max_delayed_refusals`] held).
    fn hold(&self, retry_after_secs: u64) -> Option<(Duration, DelaySlot)> {
        let delay = self
            .policy
            .refusal_delay
            .min(Duration::from_secs(retry_after_secs));
        if delay.is_zero() {
            return None;
        }
        let max = self.policy.max_delayed_refusals;
        self.delayed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| (delay, DelaySlot(self.delayed.clone())))
    }

    /// Drops idle per-address state now and then, so memory follows the active addresses.
    fn prune(&self) {
        if self.seen.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY != PRUNE_EVERY - 1 {
            return;
        }
        for limit in [
            &self.registrations_per_ip,
            &self.management_per_ip,
            &self.token_per_ip,
            &self.failed_tokens_per_ip,
        ]
        .into_iter()
        .flatten()
        {
            limit.limiter.retain_recent();
            limit.limiter.shrink_to_fit();
        }
        if let Ok(mut blocked) = self.blocked.lock() {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
        }
    }
}

fn describe<L>(limit: &Limit<L>, retry_after_secs: u64) -> String {
    format!(
        "too many {}: the limit is {} a minute, {} at once (rate_limits.{}_per_minute, rate_limits.{}_burst); retry after {} s",
        limit.what, limit.rate.per_minute, limit.rate.burst.max(1), limit.key, limit.key, retry_after_secs
    )
}

fn refusal<L>(
    limit: &Limit<L>,
    not_until: &NotUntil<<DefaultClock as governor::clock::Clock>::Instant>,
    now: <DefaultClock as governor::clock::Clock>::Instant,
) -> Refusal {
    let wait = not_until.wait_time_from(now);
    let quota = not_until.quota();
    let burst = quota.burst_size().get();
    let retry_after_secs = ceil_secs(wait).max(1);
    Refusal {
        retry_after_secs,
        standing: Standing {
            limit: burst,
            remaining: 0,
            reset_secs: ceil_secs(wait + quota.replenish_interval() * (burst - 1)),
        },
        description: describe(limit, retry_after_secs),
    }
}

fn set_standing(headers: &mut header::HeaderMap, standing: Standing) {
    for (name, value) in [
        (RATELIMIT_LIMIT, u64::from(standing.limit)),
        (RATELIMIT_REMAINING, u64::from(standing.remaining)),
        (RATELIMIT_RESET, standing.reset_secs),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

fn too_many_requests(refusal: Refusal) -> HttpResponse {
    let mut response = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        refusal.description,
    );
    let headers = response.headers_mut();
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from(refusal.retry_after_secs),
    );
    set_standing(headers, refusal.standing);
    response
}

/// The middleware: resolves the client address ([`client_ip::ClientIp`]) of every request and
/// applies the limits (module documentation) to the limited ones.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let limits = &state.settings.rate_limits;
    let ip = client_ip::remember(&req, &limits.policy.trusted_proxies);
    let class = classify(req.method(), req.path());
    let (Some(ip), Some(class), true) = (ip, class, limits.policy.enabled) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    limits.prune();
    let standing = match limits.admit(class, ip) {
        Ok(standing) => standing,
        Err(refusal) => {
            if let Some((delay, _slot)) = limits.hold(refusal.retry_after_secs) {
                actix_web::rt::time::sleep(delay).await;
            }
            return Ok(req.into_response(too_many_requests(refusal)));
        }
    };
    let mut res = next.call(req).await?.map_into_boxed_body();
    if matches!(class, Class::Management | Class::Admin) && res.status() == StatusCode::UNAUTHORIZED
    {
        limits.failed_token(ip);
    }
    if let Some(standing) = standing {
        set_standing(res.headers_mut(), standing);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn policy() -> RateLimitPolicy {
        RateLimitPolicy {
            enabled: true,
            registrations_per_ip: Rate {
                per_minute: 60,
                burst: 3,
            },
            registrations: Rate {
                per_minute: 60,
                burst: 5,
            },
            failed_tokens_per_ip: Rate {
                per_minute: 1,
                burst: 2,
            },
            ..RateLimitPolicy::disabled()
        }
    }

    #[test]
    fn a_burst_passes_then_the_address_waits_and_others_do_not() {
        let limits = RateLimits::new(policy());
        let a = ip("192.0.2.1");
        for expected_remaining in [2, 1, 0] {
            let standing = limits
                .admit(Class::Registration, a)
                .expect("within the burst")
                .expect("limited");
            assert_eq!(
                (standing.limit, standing.remaining),
                (3, expected_remaining)
            );
        }
        let refusal = limits
            .admit(Class::Registration, a)
            .expect_err("burst spent");
        assert_eq!(refusal.retry_after_secs, 1, "one a second");
        assert_eq!(refusal.standing.remaining, 0);
        assert!(
            refusal
                .description
                .contains("rate_limits.registrations_per_ip_per_minute"),
            "{}",
            refusal.description
        );
        // Another address still passes, until the global ceiling (5) is spent.
        limits
            .admit(Class::Registration, ip("192.0.2.2"))
            .expect("other address");
        limits
            .admit(Class::Registration, ip("192.0.2.3"))
            .expect("global 5 of 5");
        let refusal = limits
            .admit(Class::Registration, ip("192.0.2.4"))
            .expect_err("global ceiling");
        assert!(
            refusal.description.contains("all addresses together"),
            "{}",
            refusal.description
        );
        // Unlimited classes stay open.
        assert!(limits
            .admit(Class::Token, a)
            .expect("not limited")
            .is_none());
    }

    #[test]
    fn failed_tokens_block_the_address_once_the_budget_is_spent() {
        let limits = RateLimits::new(policy());
        let a = ip("192.0.2.1");
        for _ in 0..2 {
            limits.failed_token(a);
            limits.admit(Class::Management, a).expect("budget left");
        }
        limits.failed_token(a);
        let refusal = limits.admit(Class::Management, a).expect_err("blocked");
        assert!(
            refusal.retry_after_secs > 1 && refusal.retry_after_secs <= 60,
            "{refusal:?}"
        );
        assert!(limits.admit(Class::Admin, a).is_err(), "administration too");
        assert!(
            limits.admit(Class::Management, ip("192.0.2.9")).is_ok(),
            "others are not blocked"
        );
        assert!(
            limits.admit(Class::Registration, a).is_ok(),
            "registration has its own limit"
        );
    }

    #[test]
    fn refusals_are_held_up_to_the_cap() {
        let limits = RateLimits::new(RateLimitPolicy {
            refusal_delay: Duration::from_millis(1500),
            max_delayed_refusals: 2,
            ..policy()
        });
        let (delay, first) = limits.hold(60).expect("held");
        assert_eq!(delay, Duration::from_millis(1500));
        let (delay, _second) = limits.hold(1).expect("held");
        assert_eq!(delay, Duration::from_secs(1), "never past Retry-After");
        assert!(limits.hold(60).is_none(), "the cap");
        drop(first);
        assert!(limits.hold(60).is_some(), "a slot came free");
        assert!(
            RateLimits::new(policy()).hold(60).is_none(),
            "no delay configured"
        );
    }

    #[test]
    fn disabled_rates_make_no_limiter() {
        let limits = RateLimits::disabled();
        assert!(limits
            .admit(Class::Registration, ip("192.0.2.1"))
            .expect("open")
            .is_none());
        assert_eq!(
            Rate {
                per_minute: 0,
                burst: 5
            }
            .quota(),
            None
        );
    }

    #[test]
    fn classes_follow_method_and_path() {
        assert_eq!(
            classify(&Method::POST, "/register"),
            Some(Class::Registration)
        );
        assert_eq!(classify(&Method::GET, "/register"), None);
        assert_eq!(
            classify(&Method::DELETE, "/register/abc"),
            Some(Class::Management)
        );
        assert_eq!(classify(&Method::POST, "/token"), Some(Class::Token));
        assert_eq!(classify(&Method::GET, "/admin/clients"), Some(Class::Admin));
        assert_eq!(classify(&Method::GET, "/administrator"), None);
        assert_eq!(classify(&Method::GET, "/health"), None);
    }
}

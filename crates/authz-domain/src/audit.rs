//! The audit trail: who did what to which client, when, from where, and whether it was allowed.
//! Records never hold a secret or a token.

use std::collections::HashMap;
use std::fmt::{self, Debug};

use crate::error::RepositoryError;
use crate::values::truncate;

/// What was done or attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A client registered itself (RFC 7591).
    ClientRegistered,
    /// A client read its registration (RFC 7592 GET).
    ClientRead,
    /// A client replaced its registration (RFC 7592 PUT).
    ClientUpdated,
    /// A client deleted its registration (RFC 7592 DELETE).
    ClientDeleted,
    /// Self-management was locked by an administrator.
    ClientLocked,
    /// Self-management was unlocked by an administrator.
    ClientUnlocked,
    /// A token was revoked because its client no longer exists.
    TokenRevoked,
    /// An administrator created a client.
    ClientCreated,
    /// An administrator rotated a client's secret.
    SecretRotated,
    /// An administrator issued a new registration access token, revoking the others.
    TokenReissued,
    /// An administrator token was created (command line).
    AdminTokenCreated,
    /// An administrator token was revoked (command line).
    AdminTokenRevoked,
    /// A call to the administration API was refused (no, bad or insufficient token).
    AdminDenied,
    /// A user account was created.
    UserCreated,
    /// A user account was changed (enabled, disabled, renamed).
    UserUpdated,
    /// A user's password was set or changed (never the password itself).
    UserPasswordSet,
    /// A user signed in (success), or a sign-in was refused (failure, never the password).
    SignIn,
    /// A user signed out.
    SignOut,
    /// A user allowed a client's authorization request.
    ConsentGranted,
    /// A user denied a client's authorization request.
    ConsentDenied,
    /// An authorization code was exchanged for tokens (or the exchange was refused).
    CodeExchanged,
    /// An authorization code was presented again; what it produced was revoked.
    CodeReplayed,
    /// A refresh token was exchanged (or the refresh was refused).
    TokenRefreshed,
    /// A rotated-out refresh token was replayed after the grace window; its family was revoked.
    RefreshReuseDetected,
    /// An access token was issued to a client for itself (client_credentials).
    ClientCredentialsIssued,
    /// An access or refresh token was revoked (RFC 7009) or its family ended.
    AccessTokenRevoked,
    /// A signing key was generated.
    SigningKeyCreated,
    /// A new signing key took over signing.
    SigningKeyRotated,
    /// A signing key stopped signing and will leave the JWK Set once its tokens expire.
    SigningKeyRetired,
    /// An initial access token (RFC 7591 §3) was created.
    InitialAccessTokenCreated,
    /// An initial access token was revoked.
    InitialAccessTokenRevoked,
    /// A dynamically registered client unused for too long was deleted (stale-client expiry).
    ClientExpired,
}

impl AuditAction {
    /// Every action.
    pub const ALL: &'static [Self] = &[
        Self::ClientRegistered,
        Self::ClientRead,
        Self::ClientUpdated,
        Self::ClientDeleted,
        Self::ClientLocked,
        Self::ClientUnlocked,
        Self::TokenRevoked,
        Self::ClientCreated,
        Self::SecretRotated,
        Self::TokenReissued,
        Self::AdminTokenCreated,
        Self::AdminTokenRevoked,
        Self::AdminDenied,
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserPasswordSet,
        Self::SignIn,
        Self::SignOut,
        Self::ConsentGranted,
        Self::ConsentDenied,
        Self::CodeExchanged,
        Self::CodeReplayed,
        Self::TokenRefreshed,
        Self::RefreshReuseDetected,
        Self::ClientCredentialsIssued,
        Self::AccessTokenRevoked,
        Self::SigningKeyCreated,
        Self::SigningKeyRotated,
        Self::SigningKeyRetired,
        Self::InitialAccessTokenCreated,
        Self::InitialAccessTokenRevoked,
        Self::ClientExpired,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientRegistered => "client.registered",
            Self::ClientRead => "client.read",
            Self::ClientUpdated => "client.updated",
            Self::ClientDeleted => "client.deleted",
            Self::ClientLocked => "client.locked",
            Self::ClientUnlocked => "client.unlocked",
            Self::TokenRevoked => "token.revoked",
            Self::ClientCreated => "client.created",
            Self::SecretRotated => "client.secret_rotated",
            Self::TokenReissued => "client.token_reissued",
            Self::AdminTokenCreated => "admin_token.created",
            Self::AdminTokenRevoked => "admin_token.revoked",
            Self::AdminDenied => "admin.denied",
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserPasswordSet => "user.password_set",
            Self::SignIn => "user.signed_in",
            Self::SignOut => "user.signed_out",
            Self::ConsentGranted => "consent.granted",
            Self::ConsentDenied => "consent.denied",
            Self::CodeExchanged => "token.code_exchanged",
            Self::CodeReplayed => "token.code_replayed",
            Self::TokenRefreshed => "token.refreshed",
            Self::RefreshReuseDetected => "token.refresh_reuse_detected",
            Self::ClientCredentialsIssued => "token.client_credentials",
            Self::AccessTokenRevoked => "token.access_revoked",
            Self::SigningKeyCreated => "key.created",
            Self::SigningKeyRotated => "key.rotated",
            Self::SigningKeyRetired => "key.retired",
            Self::InitialAccessTokenCreated => "initial_access_token.created",
            Self::InitialAccessTokenRevoked => "initial_access_token.revoked",
            Self::ClientExpired => "client.expired",
        }
    }

    /// The action for a stored name.
    pub fn from_stored(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a request came from, as the HTTP layer saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The peer address.
    pub remote_addr: Option<String>,
    /// The `User-Agent` header (truncated).
    pub user_agent: Option<String>,
    /// The request id also found in the server's log and the `x-request-id` response header.
    pub request_id: Option<String>,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When (Unix seconds).
    pub occurred_at: i64,
    /// What.
    pub action: AuditAction,
    /// Allowed (`true`) or refused (`false`).
    pub succeeded: bool,
    /// Which client (for refused attempts: the one named in the request, truncated).
    pub client_id: Option<String>,
    /// Who: `client` (its registration access token), `anonymous`, or `admin:NAME`.
    pub actor: String,
    /// Why it was refused, or what changed. Never a secret.
    pub detail: Option<String>,
    /// Where from.
    pub context: RequestContext,
}

impl AuditEvent {
    /// A new event at `now`.
    pub fn new(now: i64, action: AuditAction, actor: &str, context: &RequestContext) -> Self {
        Self {
            occurred_at: now,
            action,
            succeeded: true,
            client_id: None,
            actor: actor.to_owned(),
            detail: None,
            context: context.clone(),
        }
    }

    /// About `client_id` (truncated to 128 characters: refused requests may name anything).
    pub fn client(mut self, client_id: &str) -> Self {
        self.client_id = Some(truncate(client_id, 128));
        self
    }

    /// Marks the event refused, with the reason.
    pub fn refused(mut self, reason: &str) -> Self {
        self.succeeded = false;
        self.detail = Some(reason.to_owned());
        self
    }

    /// Adds a detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Where audit events that accompany no change (reads, refused attempts) are written. Events of
/// changes go through [`crate::clients::ClientRepository`], in the change's own transaction.
pub trait AuditLog: Send + Sync + Debug {
    /// Records `event`. An implementation may write it shortly after returning (batched with
    /// others), so that reads and refusals never cost a commit each.
    fn record(&self, event: AuditEvent) -> Result<(), RepositoryError>;
}

/// Folds repeated refusals into counted records, so a flood of bad tokens or bad requests from one
/// source costs a few rows per window instead of one per request.
///
/// Refusals (`succeeded == false`) are keyed by their source (the peer address when known, else
/// the client named) and their action. In each window of `window_secs` (starting at the first
/// refusal of a key), the first refusal is written at once (a count of 1: detection is never
/// delayed) and the others are only counted; once the window has ended, one record stands for
/// them all: the last one, with their count. So a key costs at most two rows per window. Allowed
/// events pass through untouched. A window of 0 turns aggregation off. At most
/// [`RefusalAggregator::MAX_SOURCES`] windows are open at once; beyond that, refusals pass through
/// one by one rather than memory growing.
#[derive(Debug)]
pub struct RefusalAggregator {
    window_secs: i64,
    open: HashMap<(String, AuditAction), Window>,
    /// Summaries of windows that ended, not yet handed out.
    ended: Vec<(AuditEvent, u64)>,
}

#[derive(Debug)]
struct Window {
    ends_at: i64,
    /// The latest refusal absorbed, and how many were.
    absorbed: Option<(AuditEvent, u64)>,
}

impl RefusalAggregator {
    /// The most windows open at once.
    pub const MAX_SOURCES: usize = 65_536;

    /// An aggregator with windows of `window_secs` (0: every event passes through).
    pub fn new(window_secs: u64) -> Self {
        Self {
            window_secs: i64::try_from(window_secs).unwrap_or(i64::MAX),
            open: HashMap::new(),
            ended: Vec::new(),
        }
    }

    /// Takes one event: returns it with a count of 1 when it is to be written now, or `None`
    /// when it was counted into its source's open window.
    pub fn offer(&mut self, event: AuditEvent) -> Option<(AuditEvent, u64)> {
        if self.window_secs == 0 || event.succeeded {
            return Some((event, 1));
        }
        let source = event
            .context
            .remote_addr
            .clone()
            .or_else(|| event.client_id.clone())
            .unwrap_or_default();
        let key = (source, event.action);
        if let Some(window) = self.open.get_mut(&key) {
            if event.occurred_at < window.ends_at {
                let count = window.absorbed.as_ref().map_or(0, |(_, n)| *n) + 1;
                window.absorbed = Some((event, count));
                return None;
            }
            // That window ended: its summary is due, and this refusal opens the next one.
            if let Some(summary) = window.absorbed.take() {
                self.ended.push(summary);
            }
            window.ends_at = event.occurred_at.saturating_add(self.window_secs);
            return Some((event, 1));
        }
        if self.open.len() < Self::MAX_SOURCES {
            let ends_at = event.occurred_at.saturating_add(self.window_secs);
            self.open.insert(
                key,
                Window {
                    ends_at,
                    absorbed: None,
                },
            );
        }
        Some((event, 1))
    }

    /// The summaries of windows ended by `now` (Unix seconds), each the last refusal of its window
    /// with the count it stands for; ended windows are forgotten.
    pub fn due(&mut self, now: i64) -> Vec<(AuditEvent, u64)> {
        let mut due = std::mem::take(&mut self.ended);
        self.open.retain(|_, window| {
            if window.ends_at > now {
                return true;
            }
            due.extend(window.absorbed.take());
            false
        });
        due
    }

    /// Every summary now, ended or not (a flush, or shutting down); windows stay open, so later
    /// refusals in them are counted afresh.
    pub fn drain(&mut self) -> Vec<(AuditEvent, u64)> {
        let mut due = std::mem::take(&mut self.ended);
        due.extend(self.open.values_mut().filter_map(|w| w.absorbed.take()));
        due
    }

    /// When the earliest window holding absorbed refusals ends (Unix seconds), if any.
    pub fn next_due(&self) -> Option<i64> {
        let open = self
            .open
            .values()
            .filter(|w| w.absorbed.is_some())
            .map(|w| w.ends_at)
            .min();
        if self.ended.is_empty() {
            open
        } else {
            Some(i64::MIN)
        }
    }
}

#[cfg(test)]
mod aggregation_tests {
    use super::*;

    fn refusal(at: i64, ip: &str, action: AuditAction) -> AuditEvent {
        let context = RequestContext {
            remote_addr: Some(ip.into()),
            ..RequestContext::default()
        };
        AuditEvent::new(at, action, "anonymous", &context)
            .client("c")
            .refused("unknown token")
    }

    #[test]
    fn repeated_refusals_from_one_source_become_one_counted_record_per_window() {
        let mut agg = RefusalAggregator::new(60);
        let read = AuditAction::ClientRead;
        assert_eq!(
            agg.offer(refusal(100, "10.0.0.1", read)).map(|(_, n)| n),
            Some(1)
        );
        for t in 101..150 {
            assert!(agg.offer(refusal(t, "10.0.0.1", read)).is_none());
        }
        // Another source, another action, and an allowed event are not folded.
        assert!(agg.offer(refusal(120, "10.0.0.2", read)).is_some());
        assert!(agg
            .offer(refusal(120, "10.0.0.1", AuditAction::ClientDeleted))
            .is_some());
        let allowed = AuditEvent::new(121, read, "client", &RequestContext::default());
        assert!(agg.offer(allowed).is_some());
        assert_eq!(agg.next_due(), Some(160));
        assert!(agg.due(159).is_empty());
        let due = agg.due(160);
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].0.occurred_at, due[0].1), (149, 49));
        // The next window starts with a record written at once again.
        assert_eq!(
            agg.offer(refusal(200, "10.0.0.1", read)).map(|(_, n)| n),
            Some(1)
        );
        assert!(agg.offer(refusal(201, "10.0.0.1", read)).is_none());
        let drained = agg.drain();
        assert_eq!(drained.len(), 1);
        assert_eq!(drained[0].1, 1);
        assert!(agg.drain().is_empty());
    }

    #[test]
    fn a_window_of_zero_turns_aggregation_off() {
        let mut agg = RefusalAggregator::new(0);
        for t in 0..10 {
            assert!(agg
                .offer(refusal(t, "10.0.0.1", AuditAction::ClientRead))
                .is_some());
        }
        assert!(agg.drain().is_empty());
    }

    #[test]
    fn a_refusal_after_its_window_ended_opens_the_next_one() {
        let mut agg = RefusalAggregator::new(10);
        let read = AuditAction::ClientRead;
        assert!(agg.offer(refusal(0, "a", read)).is_some());
        assert!(agg.offer(refusal(5, "a", read)).is_none());
        assert!(agg.offer(refusal(12, "a", read)).is_some());
        let due = agg.due(13);
        assert_eq!(
            due.iter()
                .map(|(e, n)| (e.occurred_at, *n))
                .collect::<Vec<_>>(),
            [(5, 1)]
        );
    }
}

//! Browser sessions (authorization contract §3): a 256-bit random value in a cookie, stored
//! only as its SHA-256 digest, with an idle and an absolute lifetime.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use super::values::UserId;
use crate::credentials::{CredentialError, RandomSource, TokenDigest, TOKEN_BYTES};

/// A session id as the browser holds it: 256 random bits, base64url without padding
/// (43 characters), the cookie value. The server stores only its [`TokenDigest`].
/// `Debug` never shows it.
#[derive(Clone)]
pub struct SessionId(SecretString);

impl SessionId {
    /// A new random session id.
    ///
    /// # Errors
    /// [`CredentialError::Random`] when the random source fails.
    pub fn generate(rng: &dyn RandomSource) -> Result<Self, CredentialError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        rng.fill(&mut bytes)?;
        Ok(Self(SecretString::from(URL_SAFE_NO_PAD.encode(bytes))))
    }

    /// The value a browser presented in its cookie (anything: an unknown value simply finds
    /// no session).
    pub fn from_cookie(value: &str) -> Self {
        Self(SecretString::from(value.to_owned()))
    }

    /// The cookie value, to send once in `Set-Cookie`.
    pub fn cookie_value(&self) -> &str {
        self.0.expose_secret()
    }

    /// What is stored and looked up: the SHA-256 digest.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(self.0.expose_secret())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId([REDACTED])")
    }
}

/// Session lifetimes, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long ends. Default 1800 (30 minutes).
    pub idle_lifetime_secs: i64,
    /// A session ends this long after sign-in, however busy. Default 28 800 (8 hours).
    pub absolute_lifetime_secs: i64,
    /// `last_seen_at` and the idle expiry are written at most once per this many seconds, so a
    /// page view is not a database write. Default 60. The idle lifetime is therefore honoured to
    /// within this interval (a session may end up to this much earlier than a strict idle timer
    /// would end it).
    pub touch_interval_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_lifetime_secs: 1_800,
            absolute_lifetime_secs: 8 * 3_600,
            touch_interval_secs: 60,
        }
    }
}

impl SessionPolicy {
    /// A session of `user_id` that starts `now`, for a user authenticated at `auth_time`.
    pub fn start(&self, digest: TokenDigest, user_id: UserId, auth_time: i64, now: i64) -> Session {
        let absolute_expires_at = now.saturating_add(self.absolute_lifetime_secs.max(1));
        Session {
            digest,
            user_id,
            auth_time,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now
                .saturating_add(self.idle_lifetime_secs.max(1))
                .min(absolute_expires_at),
            absolute_expires_at,
        }
    }
}

/// A stored session. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the cookie value; the key.
    pub digest: TokenDigest,
    /// Whose session.
    pub user_id: UserId,
    /// When the user authenticated (the OpenID `auth_time`).
    pub auth_time: i64,
    /// When the session began.
    pub created_at: i64,
    /// When it was last used (to within [`SessionPolicy::touch_interval_secs`]).
    pub last_seen_at: i64,
    /// It ends at this time unless used before.
    pub idle_expires_at: i64,
    /// It ends at this time whatever happens.
    pub absolute_expires_at: i64,
}

impl Session {
    /// Whether the session is usable at `now`: before both its idle and its absolute expiry.
    pub fn is_valid_at(&self, now: i64) -> bool {
        now < self.idle_expires_at && now < self.absolute_expires_at
    }

    /// The session after a use at `now`, when that use should be written: `None` while the last
    /// write is younger than [`SessionPolicy::touch_interval_secs`]. The idle expiry moves to
    /// `now + idle_lifetime_secs`, never past the absolute expiry (and never backwards).
    pub fn touched(&self, now: i64, policy: &SessionPolicy) -> Option<Session> {
        if now.saturating_sub(self.last_seen_at) < policy.touch_interval_secs {
            return None;
        }
        let idle = now
            .saturating_add(policy.idle_lifetime_secs.max(1))
            .min(self.absolute_expires_at)
            .max(self.idle_expires_at);
        Some(Session {
            last_seen_at: now,
            idle_expires_at: idle,
            ..self.clone()
        })
    }
}

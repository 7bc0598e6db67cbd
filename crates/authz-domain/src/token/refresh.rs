//! Refresh tokens and their families (RFC 6749 §6, RFC 9700 §4.14, OAuth 2.1 §4.3.1).
//!
//! Every authorization code that is exchanged starts a *refresh token family*: the grant the user
//! gave (client, user, scope, resources, sign-in time) with an absolute expiry. Each refresh token
//! belongs to one family. With rotation, a refresh replaces the presented token by a successor;
//! presenting a rotated-out token again means two parties hold the family, so after a short grace
//! window (real clients send duplicate refreshes when two requests race) the whole family is
//! revoked, and every token descended from the code stops working.
//!
//! The decision is [`decide`], a pure function of the stored token, its family, the client and the
//! time; storage runs it inside one transaction that holds the family's row lock
//! ([`RefreshTokenRepository::refresh`]), so refreshes of one family are serialised and two
//! racing requests can never both rotate the same token.

use std::collections::BTreeSet;
use std::fmt::Debug;

use crate::credentials::TokenDigest;
use crate::error::RepositoryError;

/// Prefix of refresh tokens, so a leaked one is recognisable by secret scanners.
pub const REFRESH_TOKEN_PREFIX: &str = "rt_";

/// The grant a family of refresh tokens carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFamily {
    /// Random identifier (base64url, 128 bits).
    pub family_id: String,
    /// The client the family was issued to.
    pub client_id: String,
    /// The user who authorized it (the tokens' `sub`).
    pub user_id: String,
    /// The granted scope tokens.
    pub scope: BTreeSet<String>,
    /// The granted resources (RFC 8707), canonical form.
    pub resources: BTreeSet<String>,
    /// When the user signed in for this grant (the `auth_time` claim), Unix seconds.
    pub auth_time: i64,
    /// When the family started (the code exchange), Unix seconds.
    pub created_at: i64,
    /// When the family ends whatever happens (Unix seconds); `i64::MAX` for never.
    pub expires_at: i64,
    /// When it was revoked (reuse, revocation, client deletion, user disabled), if it was.
    pub revoked_at: Option<i64>,
}

/// One refresh token as stored: its digest, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// SHA-256 of the token.
    pub digest: TokenDigest,
    /// Its family.
    pub family_id: String,
    /// When it was issued (Unix seconds).
    pub issued_at: i64,
    /// When it expires unless used (Unix seconds); `i64::MAX` for never.
    pub expires_at: i64,
    /// When a successor replaced it (rotation), if one did.
    pub rotated_at: Option<i64>,
}

/// Why a refresh was refused. All are `invalid_grant` on the wire (RFC 6749 §5.2) except where
/// noted; the message is the same for every case but reuse, so a stolen token teaches nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// No such token.
    Unknown,
    /// The token belongs to another client.
    OtherClient,
    /// The token or its family expired.
    Expired,
    /// The family was revoked.
    Revoked,
    /// A rotated-out token came back after the grace window: the family is now revoked.
    Reused,
}

/// What to do with a refresh request, decided inside the family's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Issue an access token. `rotate`: also issue a successor refresh token and mark the
    /// presented one rotated; otherwise the presented token stays valid and the response carries
    /// no refresh token (RFC 6749 §6: the client keeps using the one it has).
    Issue {
        /// Whether a successor refresh token replaces the presented one.
        rotate: bool,
        /// The presented token was already rotated and came back within the grace window: a new
        /// successor is issued (same family), the earlier successor stays valid.
        within_grace: bool,
    },
    /// Refuse; for [`RefreshRefusal::Reused`] revoke the family in the same transaction.
    Refuse(RefreshRefusal),
}

/// Decides a refresh of `token` (of `family`) by `client_id` at `now`.
///
/// `rotate` is the client's rotation rule (always for public clients, the client's
/// `rotate_refresh_tokens` setting for confidential ones); `grace_secs` the window in which a
/// rotated-out token still yields a fresh pair (`tokens.refresh_reuse_grace_secs`).
pub fn decide(
    token: &RefreshTokenRecord,
    family: &RefreshFamily,
    client_id: &str,
    rotate: bool,
    grace_secs: i64,
    now: i64,
) -> RefreshDecision {
    use RefreshDecision::Refuse;
    if family.client_id != client_id {
        return Refuse(RefreshRefusal::OtherClient);
    }
    if family.revoked_at.is_some() {
        return Refuse(RefreshRefusal::Revoked);
    }
    if family.expires_at <= now {
        return Refuse(RefreshRefusal::Expired);
    }
    match token.rotated_at {
        Some(rotated) if now.saturating_sub(rotated) <= grace_secs => RefreshDecision::Issue {
            rotate: true,
            within_grace: true,
        },
        Some(_) => Refuse(RefreshRefusal::Reused),
        None if token.expires_at <= now => Refuse(RefreshRefusal::Expired),
        None => RefreshDecision::Issue {
            rotate,
            within_grace: false,
        },
    }
}

/// What the storage transaction writes after [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshWrite {
    /// Nothing (refused, or no rotation).
    Nothing,
    /// Mark the presented token rotated at `at` (unless it already is) and store `successor`.
    Rotate {
        /// When.
        at: i64,
        /// The new token of the same family.
        successor: RefreshTokenRecord,
    },
    /// Revoke the family at `at` (reuse detected).
    RevokeFamily {
        /// When.
        at: i64,
    },
}

/// The decision run inside [`RefreshTokenRepository::refresh`]'s transaction: given the stored
/// token and its family (`None` when unknown), what to answer and what to write.
pub type RefreshDecider<'a> = dyn FnMut(Option<(&RefreshTokenRecord, &RefreshFamily)>) -> (RefreshDecision, RefreshWrite)
    + 'a;

/// Storage of refresh token families and their tokens.
pub trait RefreshTokenRepository: Send + Sync + Debug {
    /// Stores a new family with its first token (the code exchange), in one transaction. A
    /// family without a token is stored too (`first` is `None` for clients not registered for
    /// `refresh_token`): its access tokens name it, so revoking it still ends them.
    fn create_family(
        &self,
        family: &RefreshFamily,
        first: Option<&RefreshTokenRecord>,
    ) -> Result<(), RepositoryError>;

    /// In one transaction that holds the family's lock: finds the token with `digest` and its
    /// family, calls `decide` with them (`None` when unknown), applies the [`RefreshWrite`] it
    /// returns, and returns what `decide` returned with the family as read.
    fn refresh(
        &self,
        digest: &TokenDigest,
        decide: &mut RefreshDecider<'_>,
    ) -> Result<(RefreshDecision, Option<RefreshFamily>), RepositoryError>;

    /// The token with `digest` and its family (introspection, revocation).
    fn find(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<(RefreshTokenRecord, RefreshFamily)>, RepositoryError>;

    /// Revokes a family at `at` (idempotent; `false` when there is no such family).
    fn revoke_family(&self, family_id: &str, at: i64) -> Result<bool, RepositoryError>;

    /// Whether the family exists, is not revoked and has not expired at `now` (introspection
    /// of access tokens).
    fn family_is_active(&self, family_id: &str, now: i64) -> Result<bool, RepositoryError>;

    /// Revokes every live family of `client_id` at `at` (the client's secret was rotated away
    /// or an administrator asked); returns how many.
    fn revoke_client_families(&self, client_id: &str, at: i64) -> Result<u64, RepositoryError>;

    /// Revokes every live family of `user_id` at `at` (the user was disabled); returns how many.
    fn revoke_user_families(&self, user_id: &str, at: i64) -> Result<u64, RepositoryError>;

    /// Deletes families (and their tokens) that expired or were revoked before `before`;
    /// returns how many families.
    fn purge(&self, before: i64) -> Result<u64, RepositoryError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn family() -> RefreshFamily {
        RefreshFamily {
            family_id: "fam".into(),
            client_id: "client".into(),
            user_id: "user".into(),
            scope: BTreeSet::from(["mcp".to_owned()]),
            resources: BTreeSet::new(),
            auth_time: NOW - 100,
            created_at: NOW - 100,
            expires_at: NOW + 1000,
            revoked_at: None,
        }
    }

    fn token() -> RefreshTokenRecord {
        RefreshTokenRecord {
            digest: TokenDigest::of("rt_x"),
            family_id: "fam".into(),
            issued_at: NOW - 10,
            expires_at: NOW + 100,
            rotated_at: None,
        }
    }

    #[test]
    fn a_live_token_is_rotated_when_rotation_is_on() {
        let d = decide(&token(), &family(), "client", true, 5, NOW);
        assert_eq!(
            d,
            RefreshDecision::Issue {
                rotate: true,
                within_grace: false
            }
        );
        let d = decide(&token(), &family(), "client", false, 5, NOW);
        assert_eq!(
            d,
            RefreshDecision::Issue {
                rotate: false,
                within_grace: false
            }
        );
    }

    #[test]
    fn a_token_of_another_client_is_refused() {
        let d = decide(&token(), &family(), "other", true, 5, NOW);
        assert_eq!(d, RefreshDecision::Refuse(RefreshRefusal::OtherClient));
    }

    #[test]
    fn a_rotated_token_within_the_grace_window_gets_a_fresh_pair() {
        let mut t = token();
        t.rotated_at = Some(NOW - 3);
        let d = decide(&t, &family(), "client", true, 5, NOW);
        assert_eq!(
            d,
            RefreshDecision::Issue {
                rotate: true,
                within_grace: true
            }
        );
    }

    #[test]
    fn a_rotated_token_after_the_grace_window_is_reuse() {
        let mut t = token();
        t.rotated_at = Some(NOW - 6);
        let d = decide(&t, &family(), "client", true, 5, NOW);
        assert_eq!(d, RefreshDecision::Refuse(RefreshRefusal::Reused));
    }

    #[test]
    fn a_revoked_or_expired_family_refuses_every_token() {
        let mut f = family();
        f.revoked_at = Some(NOW - 1);
        assert_eq!(
            decide(&token(), &f, "client", true, 5, NOW),
            RefreshDecision::Refuse(RefreshRefusal::Revoked)
        );
        let mut f = family();
        f.expires_at = NOW;
        assert_eq!(
            decide(&token(), &f, "client", true, 5, NOW),
            RefreshDecision::Refuse(RefreshRefusal::Expired)
        );
    }

    #[test]
    fn an_idle_expired_token_is_refused() {
        let mut t = token();
        t.expires_at = NOW;
        assert_eq!(
            decide(&t, &family(), "client", true, 5, NOW),
            RefreshDecision::Refuse(RefreshRefusal::Expired)
        );
    }
}

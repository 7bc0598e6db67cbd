//! The use cases: [`UserService`] (accounts, authentication, sessions) and [`ConsentService`]
//! (remembered consents). Both are synchronous; the HTTP layer runs them on a blocking pool.

use std::collections::BTreeSet;
use std::sync::Arc;

use secrecy::SecretString;

use super::authenticator::Authenticator;
use super::consent::ConsentRecord;
use super::error::{SignInError, UserError};
use super::ports::{ConsentRepository, SessionRepository, UserGrants, UserRepository};
use super::session::{Session, SessionId, SessionPolicy};
use super::throttle::{throttle_key, SignInThrottlePolicy, SignInThrottleRepository, ThrottleKind};
use super::user::{AuthenticatedUser, User, UserPage, UserQuery};
use super::values::{parse_display_name, Password, PasswordPolicy, UserId, Username};
use crate::client_registration::{
    AuditAction, AuditEvent, AuditLog, RepositoryError, RequestContext,
};
use crate::clock::Clock;
use crate::credentials::{RandomSource, SecretHasher, TokenDigest};

/// How audit records name a signed-in user: `user:ID`.
pub fn user_actor(id: &UserId) -> String {
    format!("user:{id}")
}

/// An audit event about user `id`; the user is named in the detail (`user ID`), since audit
/// records have a client column but no user column.
fn user_event(
    now: i64,
    action: AuditAction,
    actor: &str,
    context: &RequestContext,
    id: &UserId,
    what: &str,
) -> AuditEvent {
    let detail = if what.is_empty() {
        format!("user {id}")
    } else {
        format!("user {id}: {what}")
    };
    AuditEvent::new(now, action, actor, context).detail(detail)
}

/// A successful sign-in: the new session and its id (to set as the cookie, once).
#[derive(Debug)]
pub struct SignedIn {
    /// The cookie value. Always new: a sign-in never keeps the id the browser came with.
    pub session_id: SessionId,
    /// The stored session.
    pub session: Session,
    /// Who signed in.
    pub user: AuthenticatedUser,
}

/// Users, authentication and sessions (authorization contract §3).
///
/// Every change is audited in its own transaction (actor `cli`, `admin:NAME` or `user:ID` as
/// the caller says); a refused sign-in is recorded through the [`AuditLog`], never with the
/// password.
#[derive(Debug, Clone)]
pub struct UserService {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    authenticator: Arc<dyn Authenticator>,
    audit: Arc<dyn AuditLog>,
    hasher: SecretHasher,
    rng: Arc<dyn RandomSource>,
    clock: Arc<dyn Clock>,
    password_policy: PasswordPolicy,
    session_policy: SessionPolicy,
    grants: Option<Arc<dyn UserGrants>>,
    throttle: Option<(Arc<dyn SignInThrottleRepository>, SignInThrottlePolicy)>,
}

impl UserService {
    /// A service with the default [`PasswordPolicy`] and [`SessionPolicy`]. `hasher` hashes new
    /// passwords (use the same one as the [`LocalAuthenticator`](super::LocalAuthenticator));
    /// `rng` makes user ids, salts and session ids.
    pub fn new(
        users: Arc<dyn UserRepository>,
        sessions: Arc<dyn SessionRepository>,
        authenticator: Arc<dyn Authenticator>,
        audit: Arc<dyn AuditLog>,
        hasher: SecretHasher,
        rng: Arc<dyn RandomSource>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            sessions,
            authenticator,
            audit,
            hasher,
            rng,
            clock,
            password_policy: PasswordPolicy::default(),
            session_policy: SessionPolicy::default(),
            grants: None,
            throttle: None,
        }
    }

    /// The same service throttling failed sign-ins per account and per client address
    /// ([`super::throttle`]), with the state in `store`.
    pub fn with_sign_in_throttle(
        mut self,
        store: Arc<dyn SignInThrottleRepository>,
        policy: SignInThrottlePolicy,
    ) -> Self {
        self.throttle = Some((store, policy));
        self
    }

    /// The same service ending a disabled user's grants through `grants`.
    pub fn with_grants(mut self, grants: Arc<dyn UserGrants>) -> Self {
        self.grants = Some(grants);
        self
    }

    /// The same service with another password policy.
    pub fn with_password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.password_policy = policy;
        self
    }

    /// The same service with other session lifetimes.
    pub fn with_session_policy(mut self, policy: SessionPolicy) -> Self {
        self.session_policy = policy;
        self
    }

    /// The session lifetimes (the HTTP layer sets the cookie's `Max-Age` from them).
    pub fn session_policy(&self) -> &SessionPolicy {
        &self.session_policy
    }

    /// Creates a user (audit `user.created`).
    ///
    /// # Errors
    /// [`UserError::InvalidUsername`], [`UserError::InvalidDisplayName`],
    /// [`UserError::InvalidPassword`]; [`UserError::UsernameTaken`] when another account has the
    /// same username after case folding.
    pub fn create_user(
        &self,
        username: &str,
        display_name: Option<&str>,
        password: SecretString,
        actor: &str,
        context: &RequestContext,
    ) -> Result<User, UserError> {
        let username = Username::parse(username)?;
        let display_name = parse_display_name(display_name)?;
        let password = Password::parse(password, &self.password_policy)?;
        let password_hash = self.hasher.hash(password.secret(), self.rng.as_ref())?;
        let now = self.clock.now();
        let user = User {
            id: UserId::generate(self.rng.as_ref())?,
            username,
            display_name,
            password_hash,
            is_disabled: false,
            created_at: now,
            updated_at: now,
            password_changed_at: now,
        };
        let audit = user_event(
            now,
            AuditAction::UserCreated,
            actor,
            context,
            &user.id,
            &format!("username {:?}", user.username.as_str()),
        );
        match self.users.create(&user, &audit) {
            Ok(()) => Ok(user),
            Err(RepositoryError::Conflict(_)) => {
                Err(UserError::UsernameTaken(user.username.as_str().to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The user with this id.
    pub fn find_user(&self, id: &UserId) -> Result<Option<User>, UserError> {
        Ok(self.users.find(id)?)
    }

    /// The user with this username (compared case-folded).
    ///
    /// # Errors
    /// [`UserError::InvalidUsername`] when `username` could be nobody's.
    pub fn find_by_username(&self, username: &str) -> Result<Option<User>, UserError> {
        Ok(self.users.find_by_username(&Username::parse(username)?)?)
    }

    /// A page of users, ordered by case-folded username.
    pub fn list_users(&self, query: &UserQuery) -> Result<UserPage, UserError> {
        Ok(self.users.list(query)?)
    }

    /// Disables (ending every session of the user in the same transaction) or enables a user
    /// (audit `user.updated`); returns the user as it now is.
    ///
    /// # Errors
    /// [`UserError::NotFound`] when there is no such user.
    pub fn set_disabled(
        &self,
        id: &UserId,
        disabled: bool,
        actor: &str,
        context: &RequestContext,
    ) -> Result<User, UserError> {
        let what = if disabled { "disabled" } else { "enabled" };
        let audit = user_event(
            self.clock.now(),
            AuditAction::UserUpdated,
            actor,
            context,
            id,
            what,
        );
        self.users
            .set_disabled(id, disabled, &audit)
            .map_err(|e| not_found(e, id))?;
        if disabled {
            // For good: enabling the account again must not revive its grants.
            if let Some(grants) = &self.grants {
                grants.revoke_user_grants(id.as_str())?;
            }
        }
        self.users
            .find(id)?
            .ok_or_else(|| UserError::NotFound(id.to_string()))
    }

    /// Sets a new password (audit `user.password_set`, never the password) and ends every
    /// session of the user.
    ///
    /// # Errors
    /// [`UserError::InvalidPassword`]; [`UserError::NotFound`] when there is no such user.
    pub fn set_password(
        &self,
        id: &UserId,
        password: SecretString,
        actor: &str,
        context: &RequestContext,
    ) -> Result<(), UserError> {
        let password = Password::parse(password, &self.password_policy)?;
        let hash = self.hasher.hash(password.secret(), self.rng.as_ref())?;
        let audit = user_event(
            self.clock.now(),
            AuditAction::UserPasswordSet,
            actor,
            context,
            id,
            "",
        );
        self.users
            .set_password_hash(id, &hash, &audit)
            .map_err(|e| not_found(e, id))
    }

    /// Checks a username and password through the [`Authenticator`], recording nothing.
    pub fn authenticate(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<AuthenticatedUser, SignInError> {
        self.authenticator.authenticate(username, password)
    }

    /// Signs a user in: authenticates, then stores a session under a NEW random id (never the
    /// one the browser came with, RFC 6819 / session fixation), deleting `previous` when given.
    /// Audit `user.signed_in`, refused (actor `anonymous`, no username, no password) or allowed
    /// (actor `user:ID`, in the session's transaction).
    ///
    /// # Errors
    /// [`SignInError::InvalidCredentials`] for an unknown user, a wrong password or a disabled
    /// account (also one disabled while signing in), all alike.
    pub fn sign_in(
        &self,
        username: &str,
        password: &SecretString,
        previous: Option<&SessionId>,
        context: &RequestContext,
    ) -> Result<SignedIn, SignInError> {
        let refuse = |now: i64| -> SignInError {
            let event = AuditEvent::new(now, AuditAction::SignIn, "anonymous", context)
                .refused("invalid credentials");
            match self.audit.record(event) {
                Ok(()) => SignInError::InvalidCredentials,
                Err(e) => e.into(),
            }
        };
        let keys = throttle_keys(username, context);
        self.check_throttle(&keys)?;
        let user = match self.authenticator.authenticate(username, password) {
            Ok(user) => user,
            Err(SignInError::InvalidCredentials) => {
                let now = self.clock.now();
                self.count_failure(&keys, now)?;
                return Err(refuse(now));
            }
            Err(e) => return Err(e),
        };
        let now = self.clock.now();
        let session_id = SessionId::generate(self.rng.as_ref())?;
        let session =
            self.session_policy
                .start(session_id.digest(), user.user_id.clone(), now, now);
        let audit = user_event(
            now,
            AuditAction::SignIn,
            &user_actor(&user.user_id),
            context,
            &user.user_id,
            "",
        );
        let replacing = previous.map(SessionId::digest);
        match self.sessions.insert(&session, replacing.as_ref(), &audit) {
            Ok(()) => {
                // A success clears the account's failures (not the address's: one attacker's own
                // account must not reset the budget of their guesses at others).
                if let (Some((store, _)), Some((ThrottleKind::Account, key))) =
                    (&self.throttle, keys.first())
                {
                    store.clear(key)?;
                }
                Ok(SignedIn {
                    session_id,
                    session,
                    user,
                })
            }
            // Disabled (or removed) between the password check and now.
            Err(RepositoryError::NotFound(_)) => Err(refuse(now)),
            Err(e) => Err(e.into()),
        }
    }

    /// The live session a browser's cookie names, recording the use at most once per
    /// [`SessionPolicy::touch_interval_secs`]. `None` for an unknown, expired or concurrently
    /// ended session; an expired one is deleted.
    pub fn current_session(&self, id: &SessionId) -> Result<Option<Session>, UserError> {
        let digest = id.digest();
        let Some(session) = self.sessions.find(&digest)? else {
            return Ok(None);
        };
        if !session.digest.ct_eq(&digest) {
            return Ok(None);
        }
        let now = self.clock.now();
        if !session.is_valid_at(now) {
            self.sessions.delete(&digest, None)?;
            return Ok(None);
        }
        let Some(touched) = session.touched(now, &self.session_policy) else {
            return Ok(Some(session));
        };
        match self
            .sessions
            .touch(&digest, touched.last_seen_at, touched.idle_expires_at)
        {
            Ok(()) => Ok(Some(touched)),
            Err(RepositoryError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends the session a browser's cookie names (audit `user.signed_out`, actor `user:ID`).
    /// Nothing happens for an unknown session.
    pub fn sign_out(&self, id: &SessionId, context: &RequestContext) -> Result<(), UserError> {
        let digest = id.digest();
        let Some(session) = self.sessions.find(&digest)? else {
            return Ok(());
        };
        let audit = user_event(
            self.clock.now(),
            AuditAction::SignOut,
            &user_actor(&session.user_id),
            context,
            &session.user_id,
            "",
        );
        Ok(self.sessions.delete(&digest, Some(&audit))?)
    }

    /// Deletes every expired session; returns how many (for a periodic clean-up).
    /// Also forgets sign-in throttle state that no longer matters.
    pub fn purge_expired_sessions(&self) -> Result<u64, UserError> {
        let now = self.clock.now();
        if let Some((store, policy)) = &self.throttle {
            store.purge(policy.purge_horizon(now))?;
        }
        Ok(self.sessions.delete_expired(now)?)
    }

    /// Refuses an attempt while any of its keys must wait ([`SignInError::Throttled`]).
    fn check_throttle(&self, keys: &[(ThrottleKind, TokenDigest)]) -> Result<(), SignInError> {
        let Some((store, policy)) = &self.throttle else {
            return Ok(());
        };
        let now = self.clock.now();
        let mut longest: Option<(i64, bool)> = None;
        for (kind, key) in keys {
            let Some(state) = store.find(key)? else {
                continue;
            };
            if let Some(wait) = policy.wait(*kind, &state, now) {
                if longest.is_none_or(|l| wait.0 > l.0) {
                    longest = Some(wait);
                }
            }
        }
        match longest {
            Some((secs, locked)) => Err(SignInError::Throttled {
                retry_after_secs: u64::try_from(secs.max(1)).unwrap_or(1),
                locked,
            }),
            None => Ok(()),
        }
    }

    /// Counts one failed attempt against each key.
    fn count_failure(
        &self,
        keys: &[(ThrottleKind, TokenDigest)],
        now: i64,
    ) -> Result<(), SignInError> {
        let Some((store, policy)) = &self.throttle else {
            return Ok(());
        };
        for (kind, key) in keys {
            store.update(key, &|s| policy.after_failure(*kind, s, now))?;
        }
        Ok(())
    }
}

/// The throttle keys of an attempt: the account first, then the client address if known.
fn throttle_keys(username: &str, context: &RequestContext) -> Vec<(ThrottleKind, TokenDigest)> {
    let mut keys = vec![(
        ThrottleKind::Account,
        throttle_key(ThrottleKind::Account, username),
    )];
    if let Some(addr) = &context.remote_addr {
        keys.push((
            ThrottleKind::Address,
            throttle_key(ThrottleKind::Address, addr),
        ));
    }
    keys
}

fn not_found(e: RepositoryError, id: &UserId) -> UserError {
    match e {
        RepositoryError::NotFound(_) => UserError::NotFound(id.to_string()),
        e => e.into(),
    }
}

/// Remembered consents (authorization contract §3). Whether a remembered consent may be used
/// at all (only for `https` redirect URIs, and not when the client's settings skip consent) is
/// the authorization request's decision; this service answers whether one exists.
#[derive(Debug, Clone)]
pub struct ConsentService {
    consents: Arc<dyn ConsentRepository>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
}

impl ConsentService {
    /// A service over `consents`.
    pub fn new(
        consents: Arc<dyn ConsentRepository>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            consents,
            audit,
            clock,
        }
    }

    /// Whether `user_id` already allowed `client_id` every token of `scope` and every resource
    /// of `resources`, in one consent.
    pub fn remembered(
        &self,
        user_id: &UserId,
        client_id: &str,
        scope: &BTreeSet<String>,
        resources: &BTreeSet<String>,
    ) -> Result<bool, UserError> {
        Ok(self
            .consents
            .find(user_id, client_id)?
            .iter()
            .any(|r| r.covers(scope, resources)))
    }

    /// Remembers that `user_id` allowed `client_id` `scope` for `resources` (audit
    /// `consent.granted`, actor `user:ID`).
    pub fn grant(
        &self,
        user_id: &UserId,
        client_id: &str,
        scope: BTreeSet<String>,
        resources: BTreeSet<String>,
        context: &RequestContext,
    ) -> Result<ConsentRecord, UserError> {
        let record = ConsentRecord {
            user_id: user_id.clone(),
            client_id: client_id.to_owned(),
            scope,
            resources,
            granted_at: self.clock.now(),
        };
        let audit = user_event(
            record.granted_at,
            AuditAction::ConsentGranted,
            &user_actor(user_id),
            context,
            user_id,
            &consent_detail(&record.scope, &record.resources),
        )
        .client(client_id);
        self.consents.upsert(&record, &audit)?;
        Ok(record)
    }

    /// Records that `user_id` denied `client_id`'s request (audit `consent.denied`); nothing is
    /// remembered, so the next request asks again.
    pub fn deny(
        &self,
        user_id: &UserId,
        client_id: &str,
        scope: &BTreeSet<String>,
        resources: &BTreeSet<String>,
        context: &RequestContext,
    ) -> Result<(), UserError> {
        let event = user_event(
            self.clock.now(),
            AuditAction::ConsentDenied,
            &user_actor(user_id),
            context,
            user_id,
            &consent_detail(scope, resources),
        )
        .client(client_id);
        Ok(self.audit.record(event)?)
    }

    /// Forgets every consent of `user_id` (audit `user.updated`); returns how many.
    pub fn forget_user(
        &self,
        user_id: &UserId,
        actor: &str,
        context: &RequestContext,
    ) -> Result<u64, UserError> {
        let audit = user_event(
            self.clock.now(),
            AuditAction::UserUpdated,
            actor,
            context,
            user_id,
            "remembered consents forgotten",
        );
        Ok(self.consents.delete_for_user(user_id, &audit)?)
    }

    /// Forgets every consent given to `client_id` (when the client is deleted); returns how many.
    pub fn forget_client(&self, client_id: &str) -> Result<u64, UserError> {
        Ok(self.consents.delete_for_client(client_id)?)
    }
}

fn consent_detail(scope: &BTreeSet<String>, resources: &BTreeSet<String>) -> String {
    let join =
        |set: &BTreeSet<String>| set.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
    format!("scope {:?} resources {:?}", join(scope), join(resources))
}

//! [`AuthorizationService`]: the authorization endpoint's use cases over the ports — begin a
//! request, decide which page comes next, approve (issue a code) or deny.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrecy::SecretString;

use super::code::{
    AuthorizationCodeRecord, AuthorizationCodeRepository, AUTHORIZATION_CODE_PREFIX,
};
use super::pending::{PendingAuthorization, PendingAuthorizationRepository, PENDING_ID_PREFIX};
use super::policy::AuthorizationPolicy;
use super::request::{success_location, AuthorizationError, AuthorizationRequest, Prompt};
use crate::client_registration::{
    Client, ClientRepository, ClientSettings, ErrorCode, GrantType, RedirectUriKind,
    RepositoryError,
};
use crate::clock::Clock;
use crate::credentials::{CredentialError, RandomSource, TokenDigest, TOKEN_BYTES};

/// The message of the error page for an unknown, expired or completed pending request.
pub const PENDING_GONE_MESSAGE: &str =
    "this sign-in request has expired or was already completed; go back to the application and start again";

/// A request accepted by [`AuthorizationService::begin`], now pending.
#[derive(Debug)]
pub struct BegunAuthorization {
    /// The pending request's id (`ar_…`), shown to the browser once (in the URL of the sign-in
    /// or consent page); only its digest is stored.
    pub id: SecretString,
    /// What was stored.
    pub pending: PendingAuthorization,
    /// The client, for the pages (name, origin) and its settings.
    pub client: Client,
}

/// The user signed in to the browser's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The stable user id (the tokens' `sub`).
    pub user_id: String,
    /// When the user authenticated in this session (Unix seconds).
    pub auth_time: i64,
}

/// What happens next with a pending request, as [`AuthorizationService::decide`] judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Show the sign-in page (no session, or `prompt=login` and the session's sign-in is older
    /// than the request).
    NeedsSignIn,
    /// Show the consent page.
    NeedsConsent,
    /// Issue a code now: call [`AuthorizationService::approve`] with this user.
    Issue(SignedIn),
}

/// The authorization endpoint's use cases. Synchronous; the HTTP layer runs them on its
/// blocking pool.
///
/// Audit: the service records nothing. The caller records `ConsentGranted` after a successful
/// [`AuthorizationService::approve`] that followed a consent page, and `ConsentDenied` after
/// [`AuthorizationService::deny`], through the `AuditLog` port (it knows the request context).
#[derive(Clone)]
pub struct AuthorizationService {
    clients: Arc<dyn ClientRepository>,
    pending: Arc<dyn PendingAuthorizationRepository>,
    codes: Arc<dyn AuthorizationCodeRepository>,
    rng: Arc<dyn RandomSource>,
    clock: Arc<dyn Clock>,
    policy: AuthorizationPolicy,
    issuer: String,
}

impl fmt::Debug for AuthorizationService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationService")
            .field("policy", &self.policy)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl AuthorizationService {
    /// A service over the given ports. `issuer` is the issuer identifier (`public_base_url`),
    /// sent as `iss` in every response (RFC 9207).
    pub fn new(
        clients: Arc<dyn ClientRepository>,
        pending: Arc<dyn PendingAuthorizationRepository>,
        codes: Arc<dyn AuthorizationCodeRepository>,
        rng: Arc<dyn RandomSource>,
        clock: Arc<dyn Clock>,
        policy: AuthorizationPolicy,
        issuer: impl Into<String>,
    ) -> Self {
        Self {
            clients,
            pending,
            codes,
            rng,
            clock,
            policy,
            issuer: issuer.into(),
        }
    }

    /// Deletes pending requests past their lifetime and codes that expired over a day ago (a
    /// used code is kept that long so a late replay is still recognised and revokes its grant).
    /// Returns how many rows went.
    pub fn purge_expired(&self) -> Result<u64, RepositoryError> {
        let now = self.clock.now();
        Ok(self.pending.delete_expired(now)? + self.codes.delete_expired(now - 86_400)?)
    }

    /// The policy in force.
    pub fn policy(&self) -> &AuthorizationPolicy {
        &self.policy
    }

    /// The issuer identifier sent as `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Checks an authorization request ([`AuthorizationRequest::parse`]) and stores it as
    /// pending for `request_lifetime_secs`. A storage failure after the redirect URI was verified
    /// is a redirected `server_error` / `temporarily_unavailable`.
    pub fn begin(
        &self,
        pairs: &[(String, String)],
    ) -> Result<BegunAuthorization, AuthorizationError> {
        let (request, client) =
            AuthorizationRequest::parse(pairs, &self.policy, |id| self.clients.find(id))?;
        let fault = |e: RepositoryError| AuthorizationError::redirect_fault(&request, &e);
        let (id, id_digest) = random_token(self.rng.as_ref(), PENDING_ID_PREFIX)
            .map_err(|e| fault(random_fault(e)))?;
        let mut csrf_key = [0u8; 32];
        self.rng
            .fill(&mut csrf_key)
            .map_err(|e| fault(random_fault(e)))?;
        let now = self.clock.now();
        let pending = PendingAuthorization {
            id_digest,
            request: request.clone(),
            created_at: now,
            expires_at: now.saturating_add(secs(self.policy.request_lifetime_secs)),
            user_id: None,
            auth_time: None,
            csrf_key,
        };
        self.pending.insert(&pending).map_err(fault)?;
        Ok(BegunAuthorization {
            id: SecretString::from(id),
            pending,
            client,
        })
    }

    /// The live pending request with this id. Unknown or expired: an error page
    /// ([`PENDING_GONE_MESSAGE`]); the id is never enough to redirect anywhere.
    pub fn find_pending(&self, id: &str) -> Result<PendingAuthorization, AuthorizationError> {
        match self.pending.find(&TokenDigest::of(id)) {
            Ok(Some(p)) if !p.is_expired(self.clock.now()) => Ok(p),
            Ok(_) => Err(gone()),
            Err(e) => Err(page_fault(&e)),
        }
    }

    /// Records that `user_id` signed in (at `auth_time`) for the pending request `id`.
    pub fn attach_user(
        &self,
        id: &str,
        user_id: &str,
        auth_time: i64,
    ) -> Result<(), AuthorizationError> {
        let pending = self.find_pending(id)?;
        match self
            .pending
            .attach_user(&pending.id_digest, user_id, auth_time)
        {
            Ok(()) => Ok(()),
            Err(RepositoryError::NotFound(_)) => Err(gone()),
            Err(e) => Err(AuthorizationError::redirect_fault(&pending.request, &e)),
        }
    }

    /// Which page comes next (contract §2 and §3, OpenID Connect Core §3.1.2.1 for `prompt`).
    ///
    /// * No usable sign-in — no session, or `prompt=login` and the session authenticated
    ///   before the request arrived — is [`Decision::NeedsSignIn`], or `login_required` with
    ///   `prompt=none`.
    /// * Consent is needed when the client's `require_consent` is set, unless
    ///   `remembered_consent` (the caller found a consent of this user for this client covering
    ///   the request's scope and resources) may be reused: only for an `https` redirect URI (a
    ///   loopback port or a private-use scheme can be claimed by any local program) and never
    ///   with `prompt=consent`. `prompt=consent` asks even when `require_consent` is off.
    ///   Needed consent is [`Decision::NeedsConsent`], or `consent_required` with `prompt=none`.
    /// * Otherwise [`Decision::Issue`].
    pub fn decide(
        pending: &PendingAuthorization,
        session: Option<&SignedIn>,
        remembered_consent: bool,
        settings: &ClientSettings,
    ) -> Result<Decision, AuthorizationError> {
        let request = &pending.request;
        let prompt = request.prompt;
        let user =
            session.filter(|s| prompt != Some(Prompt::Login) || s.auth_time >= pending.created_at);
        let Some(user) = user else {
            return if prompt == Some(Prompt::None_) {
                Err(AuthorizationError::redirect(
                    request,
                    ErrorCode::LoginRequired,
                    "the user is not signed in and prompt=none forbids asking",
                ))
            } else {
                Ok(Decision::NeedsSignIn)
            };
        };
        let reuse = remembered_consent
            && request.redirect_uri_kind == RedirectUriKind::Https
            && prompt != Some(Prompt::Consent);
        let needs_consent = prompt == Some(Prompt::Consent) || (settings.require_consent && !reuse);
        if !needs_consent {
            return Ok(Decision::Issue(user.clone()));
        }
        if prompt == Some(Prompt::None_) {
            return Err(AuthorizationError::redirect(
                request,
                ErrorCode::ConsentRequired,
                "the user has not consented and prompt=none forbids asking",
            ));
        }
        Ok(Decision::NeedsConsent)
    }

    /// Completes the pending request `id` for `user_id` (authenticated at `auth_time`): deletes
    /// it (once: a second approval gets the error page), issues an authorization code (`ac_` +
    /// 256 random bits, stored as its digest for `code_lifetime_secs`) and returns the
    /// `Location` of the success redirect (`code`, `state`, `iss`).
    ///
    /// Error page: the request is unknown, expired, already completed, was signed in by another
    /// user, or its client was deleted meanwhile (or is no longer registered for
    /// `authorization_code`). Storage or randomness failures after the request was found are
    /// redirected `server_error` / `temporarily_unavailable`.
    pub fn approve(
        &self,
        id: &str,
        user_id: &str,
        auth_time: i64,
    ) -> Result<String, AuthorizationError> {
        let pending = self.find_pending(id)?;
        if pending.user_id.as_deref().is_some_and(|u| u != user_id) {
            return Err(AuthorizationError::ErrorPage {
                error: ErrorCode::InvalidRequest,
                description:
                    "this request was started by another user; sign in again from the application"
                        .into(),
                internal: None,
            });
        }
        let request = &pending.request;
        let fault = |e: RepositoryError| AuthorizationError::redirect_fault(request, &e);
        if !self.pending.delete(&pending.id_digest).map_err(fault)? {
            return Err(gone());
        }
        let client = self.clients.find(&request.client_id).map_err(fault)?;
        if !client.is_some_and(|c| {
            c.metadata
                .grant_types
                .contains(&GrantType::AuthorizationCode)
        }) {
            return Err(AuthorizationError::ErrorPage {
                error: ErrorCode::InvalidRequest,
                description: "the application that sent you here is no longer registered".into(),
                internal: None,
            });
        }
        let (code, digest) = random_token(self.rng.as_ref(), AUTHORIZATION_CODE_PREFIX)
            .map_err(|e| fault(random_fault(e)))?;
        let mut family = [0u8; 16];
        self.rng
            .fill(&mut family)
            .map_err(|e| fault(random_fault(e)))?;
        let now = self.clock.now();
        let record = AuthorizationCodeRecord {
            digest,
            client_id: request.client_id.clone(),
            redirect_uri: request
                .redirect_uri_sent
                .then(|| request.redirect_uri.clone()),
            code_challenge: request.code_challenge.clone(),
            scope: request.scope.clone(),
            resources: request.resources.clone(),
            user_id: user_id.to_owned(),
            auth_time,
            issued_at: now,
            expires_at: now.saturating_add(secs(self.policy.code_lifetime_secs)),
            family_id: URL_SAFE_NO_PAD.encode(family),
            used_at: None,
        };
        self.codes.insert(&record).map_err(fault)?;
        Ok(success_location(request, &code, &self.issuer))
    }

    /// The user denied the pending request `id`: deletes it and returns the `Location` of the
    /// `access_denied` redirect. Unknown, expired or completed: the error page.
    pub fn deny(&self, id: &str) -> Result<String, AuthorizationError> {
        let pending = self.find_pending(id)?;
        let request = &pending.request;
        match self.pending.delete(&pending.id_digest) {
            Ok(true) => {}
            Ok(false) => return Err(gone()),
            Err(e) => return Err(AuthorizationError::redirect_fault(request, &e)),
        }
        let denied = AuthorizationError::redirect(
            request,
            ErrorCode::AccessDenied,
            "the user denied the authorization request",
        );
        Ok(denied.location(&self.issuer).unwrap_or_default())
    }
}

fn gone() -> AuthorizationError {
    AuthorizationError::ErrorPage {
        error: ErrorCode::InvalidRequest,
        description: PENDING_GONE_MESSAGE.into(),
        internal: None,
    }
}

fn page_fault(e: &RepositoryError) -> AuthorizationError {
    AuthorizationError::ErrorPage {
        error: if matches!(e, RepositoryError::Unavailable(_)) {
            ErrorCode::TemporarilyUnavailable
        } else {
            ErrorCode::ServerError
        },
        description: "the server could not complete the authorization request; try again later"
            .into(),
        internal: Some(e.to_string()),
    }
}

fn random_fault(e: CredentialError) -> RepositoryError {
    RepositoryError::Other(e.to_string())
}

/// `prefix` + 256 random bits in base64url, and its digest.
fn random_token(
    rng: &dyn RandomSource,
    prefix: &str,
) -> Result<(String, TokenDigest), CredentialError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    rng.fill(&mut bytes)?;
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let digest = TokenDigest::of(&token);
    Ok((token, digest))
}

fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

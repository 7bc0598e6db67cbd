//! The registration use case: turn a raw request into a stored client with fresh credentials.
//! The management use cases (RFC 7592) are in `management.rs`.

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::{Map, Value};

use super::idempotency::Idempotency;
use super::initial_access::{InitialAccess, InitialAccessTokenStore};
use crate::audit::AuditLog;
use crate::audit::{AuditAction, AuditEvent, RequestContext};
use crate::clients::ClientRepository;
use crate::clients::RegistrationPolicy;
use crate::clients::{substitution_detail, ClientMetadata, Substitution};
use crate::clients::{
    Client, ClientOrigin, ClientSettings, RegistrationTokenRecord, UsageRecorder,
};
use crate::clock::Clock;
use crate::credentials::{CredentialIssuer, IssuedToken};
use crate::error::{RegistrationError, RepositoryError};

/// The outcome of a registration or a management call: the stored client and the plaintext
/// credentials, which exist only here and in the one response that carries them.
#[derive(Debug)]
pub struct RegisteredClient {
    /// The client as stored.
    pub client: Client,
    /// The client secret, only when one was just issued.
    pub client_secret: Option<SecretString>,
    /// The registration access token to show (new, or the one presented).
    pub registration_access_token: SecretString,
}

impl RegisteredClient {
    /// `client_secret_expires_at` as RFC 7591 reports it: present when the client has a secret,
    /// `0` for never.
    pub fn client_secret_expires_at(&self) -> Option<i64> {
        self.client
            .secret_hash
            .as_ref()
            .map(|_| self.client.secret_expires_at)
    }
}

/// How a new client comes to exist.
#[derive(Debug)]
pub(crate) struct NewClient<'a> {
    pub origin: ClientOrigin,
    pub action: AuditAction,
    pub actor: &'a str,
    pub chosen_id: Option<&'a str>,
    pub settings: ClientSettings,
    /// What the server registered instead of what was asked (RFC 7591 §3.2.1), for the audit.
    pub substitutions: Vec<Substitution>,
    /// The initial access token whose use this registration spends, in the same transaction.
    pub spend: Option<(&'a dyn InitialAccessTokenStore, &'a str)>,
}

/// Registration and self-management of clients over the storage ports.
///
/// Synchronous by design: callers in async code run it on a blocking thread.
///
/// ```
/// use std::sync::Arc;
/// use authz_domain::client_registration::{InMemoryClientRepository, RegistrationPolicy, RegistrationService, RequestContext};
/// use authz_domain::clock::SystemClock;
/// use authz_domain::credentials::{Argon2Settings, CredentialIssuer, SecretHasher, SystemRandomSource};
///
/// let hasher = SecretHasher::new(Argon2Settings::default(), 2)?;
/// let issuer = CredentialIssuer::new(Arc::new(SystemRandomSource::new()), hasher, 32)?;
/// let repo = Arc::new(InMemoryClientRepository::new());
/// let service = RegistrationService::new(repo.clone(), repo.clone(), Arc::new(RegistrationPolicy::default()), issuer, Arc::new(SystemClock));
///
/// let request = serde_json::json!({
///     "client_name": "goose",
///     "redirect_uris": ["http://127.0.0.1:61234/oauth_callback"],
///     "token_endpoint_auth_method": "none"
/// });
/// let registered = service.register(request.as_object().unwrap(), &RequestContext::default()).unwrap();
/// assert!(registered.client_secret.is_none());
/// assert_eq!(repo.len(), 1);
/// # Ok::<(), authz_domain::credentials::CredentialError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RegistrationService {
    pub(super) repo: Arc<dyn ClientRepository>,
    pub(super) audit: Arc<dyn AuditLog>,
    pub(super) policy: Arc<RegistrationPolicy>,
    pub(super) credentials: CredentialIssuer,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) usage: Option<Arc<UsageRecorder>>,
    pub(super) initial_access: Option<Arc<InitialAccess>>,
    pub(super) idempotency: Option<Arc<Idempotency>>,
}

impl RegistrationService {
    /// A service over `repo` applying `policy`; reads and refusals are recorded in `audit`.
    pub fn new(
        repo: Arc<dyn ClientRepository>,
        audit: Arc<dyn AuditLog>,
        policy: Arc<RegistrationPolicy>,
        credentials: CredentialIssuer,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            repo,
            audit,
            policy,
            credentials,
            clock,
            usage: None,
            initial_access: None,
            idempotency: None,
        }
    }

    /// The same service noting each successful RFC 7592 authentication in `usage`
    /// (`last_used_at`).
    pub fn with_usage(mut self, usage: Arc<UsageRecorder>) -> Self {
        self.usage = Some(usage);
        self
    }

    /// Notes that `client_id` authenticated. Failing to note it never fails the request: the
    /// store logs it and the next use tries again.
    pub(crate) fn note_use(&self, client_id: &str) {
        if let Some(usage) = &self.usage {
            let _ = usage.used(client_id);
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &RegistrationPolicy {
        &self.policy
    }

    /// The clock every use case over these clients reads.
    pub(crate) fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Where reads and refusals are recorded.
    pub(crate) fn audit(&self) -> &dyn AuditLog {
        self.audit.as_ref()
    }

    /// The client storage.
    pub(crate) fn repo(&self) -> &dyn ClientRepository {
        self.repo.as_ref()
    }

    /// Issues client secrets and registration access tokens.
    pub(crate) fn credentials(&self) -> &CredentialIssuer {
        &self.credentials
    }

    /// Registers a client from the members of a registration request (RFC 7591 §3.1).
    ///
    /// Validation happens first and refuses without writing anything; then credentials are
    /// generated and the client, its registration access token and the audit event are stored in
    /// one transaction.
    pub fn register(
        &self,
        request: &Map<String, Value>,
        context: &RequestContext,
    ) -> Result<RegisteredClient, RegistrationError> {
        let now = self.clock.now();
        let parsed = ClientMetadata::parse_request_at(request, &self.policy, now)?;
        self.create(
            parsed.metadata,
            NewClient {
                origin: ClientOrigin::Dynamic,
                action: AuditAction::ClientRegistered,
                actor: "anonymous",
                chosen_id: None,
                settings: ClientSettings::default(),
                substitutions: parsed.substitutions,
                spend: None,
            },
            now,
            context,
        )
    }

    pub(crate) fn create(
        &self,
        metadata: ClientMetadata,
        new: NewClient<'_>,
        now: i64,
        context: &RequestContext,
    ) -> Result<RegisteredClient, RegistrationError> {
        let secret = if metadata.is_confidential() {
            Some(self.credentials.client_secret()?)
        } else {
            None
        };
        let token = self.credentials.registration_access_token()?;
        let (secret_plain, secret_hash) = match secret {
            Some(s) => (Some(s.plaintext), Some(s.hash)),
            None => (None, None),
        };
        let secret_expires_at = self.secret_expiry(secret_hash.is_some(), now);

        // A 128-bit id collides with negligible probability; retrying keeps even that harmless.
        // A chosen id is tried once: a conflict is the caller's to report.
        let attempts_allowed = if new.chosen_id.is_some() { 1 } else { 3 };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let client = Client {
                client_id: match new.chosen_id {
                    Some(id) => id.to_owned(),
                    None => self.credentials.client_id()?,
                },
                metadata: metadata.clone(),
                secret_hash: secret_hash.clone(),
                secret_expires_at,
                issued_at: now,
                updated_at: now,
                origin: new.origin,
                is_locked: false,
                settings: new.settings,
                previous_secret: None,
                revision: 0,
            };
            let record = self.token_record(&token, &client.client_id, now);
            let mut detail = format!(
                "token_endpoint_auth_method={}",
                client.metadata.token_endpoint_auth_method
            );
            if let Some((_, token_id)) = new.spend {
                detail.push_str(&format!(" initial_access_token={token_id}"));
            }
            let audit = AuditEvent::new(now, new.action, new.actor, context)
                .client(&client.client_id)
                .detail(format!(
                    "{detail}{}",
                    substitution_detail(&new.substitutions)
                ));
            let created = match new.spend {
                Some((store, token_id)) => {
                    store.create_client_spending(token_id, &client, &record, &audit)
                }
                None => self.repo.create(&client, &record, &audit),
            };
            match created {
                Ok(()) => {
                    return Ok(RegisteredClient {
                        client,
                        client_secret: secret_plain,
                        registration_access_token: token.plaintext,
                    })
                }
                Err(RepositoryError::Conflict(_)) if attempts < attempts_allowed => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// When a secret issued now expires: `0` (never) without a secret or a lifetime.
    pub(crate) fn secret_expiry(&self, has_secret: bool, now: i64) -> i64 {
        match (has_secret, self.policy.credentials.secret_lifetime_secs) {
            (false, _) | (true, 0) => 0,
            (true, lifetime) => now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX)),
        }
    }

    /// The stored form of a newly issued registration access token.
    pub(crate) fn token_record(
        &self,
        token: &IssuedToken,
        client_id: &str,
        now: i64,
    ) -> RegistrationTokenRecord {
        let expires_at = match self.policy.credentials.registration_token_lifetime_secs {
            0 => None,
            lifetime => Some(now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX))),
        };
        RegistrationTokenRecord {
            digest: token.digest,
            client_id: client_id.to_owned(),
            issued_at: now,
            expires_at,
        }
    }
}

//! The registration use case: turn a raw request into a stored client with fresh credentials.

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::{Map, Value};

use super::client::{Client, ClientOrigin, RegistrationTokenRecord};
use super::error::{RegistrationError, RepositoryError};
use super::metadata::ClientMetadata;
use super::policy::RegistrationPolicy;
use super::ports::ClientRepository;
use crate::clock::Clock;
use crate::credentials::CredentialIssuer;

/// The outcome of a registration: the stored client and the plaintext credentials, which exist only
/// here and in the one response that carries them.
#[derive(Debug)]
pub struct RegisteredClient {
    /// The client as stored.
    pub client: Client,
    /// The client secret, for confidential clients.
    pub client_secret: Option<SecretString>,
    /// The registration access token (RFC 7592).
    pub registration_access_token: SecretString,
}

impl RegisteredClient {
    /// `client_secret_expires_at` as RFC 7591 reports it: present only with a secret, `0` for never.
    pub fn client_secret_expires_at(&self) -> Option<i64> {
        self.client_secret
            .as_ref()
            .map(|_| self.client.secret_expires_at)
    }
}

/// Registration and, later, management of clients over a [`ClientRepository`].
///
/// Synchronous by design: callers in async code run it on a blocking thread.
///
/// ```
/// use std::sync::Arc;
/// use authz_domain::client_registration::{InMemoryClientRepository, RegistrationPolicy, RegistrationService};
/// use authz_domain::clock::SystemClock;
/// use authz_domain::credentials::{Argon2Settings, CredentialIssuer, SecretHasher, SystemRandomSource};
///
/// let hasher = SecretHasher::new(Argon2Settings::default(), 2)?;
/// let issuer = CredentialIssuer::new(Arc::new(SystemRandomSource::new()), hasher, 32)?;
/// let repo = Arc::new(InMemoryClientRepository::new());
/// let service = RegistrationService::new(repo.clone(), Arc::new(RegistrationPolicy::default()), issuer, Arc::new(SystemClock));
///
/// let request = serde_json::json!({
///     "client_name": "goose",
///     "redirect_uris": ["http://127.0.0.1:61234/oauth_callback"],
///     "token_endpoint_auth_method": "none"
/// });
/// let registered = service.register(request.as_object().unwrap()).unwrap();
/// assert!(registered.client_secret.is_none());
/// assert_eq!(repo.len(), 1);
/// # Ok::<(), authz_domain::credentials::CredentialError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RegistrationService {
    repo: Arc<dyn ClientRepository>,
    policy: Arc<RegistrationPolicy>,
    credentials: CredentialIssuer,
    clock: Arc<dyn Clock>,
}

impl RegistrationService {
    /// A service over `repo` applying `policy`.
    pub fn new(
        repo: Arc<dyn ClientRepository>,
        policy: Arc<RegistrationPolicy>,
        credentials: CredentialIssuer,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            repo,
            policy,
            credentials,
            clock,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &RegistrationPolicy {
        &self.policy
    }

    /// Registers a client from the members of a registration request (RFC 7591 §3.1).
    ///
    /// Validation happens first and refuses without writing anything; then credentials are
    /// generated and the client and its registration access token are stored in one transaction.
    pub fn register(
        &self,
        request: &Map<String, Value>,
    ) -> Result<RegisteredClient, RegistrationError> {
        let now = self.clock.now();
        let metadata = ClientMetadata::from_request_at(request, &self.policy, now)?;
        self.create(metadata, ClientOrigin::Dynamic, now)
    }

    fn create(
        &self,
        metadata: ClientMetadata,
        origin: ClientOrigin,
        now: i64,
    ) -> Result<RegisteredClient, RegistrationError> {
        let creds = &self.policy.credentials;
        let secret = if metadata.is_confidential() {
            Some(self.credentials.client_secret()?)
        } else {
            None
        };
        let secret_expires_at = match (&secret, creds.secret_lifetime_secs) {
            (Some(_), 0) | (None, _) => 0,
            (Some(_), lifetime) => now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX)),
        };
        let token = self.credentials.registration_access_token()?;
        let token_expires_at = match creds.registration_token_lifetime_secs {
            0 => None,
            lifetime => Some(now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX))),
        };
        let (secret_plain, secret_hash) = match secret {
            Some(s) => (Some(s.plaintext), Some(s.hash)),
            None => (None, None),
        };

        // A 128-bit id collides with negligible probability; one retry keeps even that harmless.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let client = Client {
                client_id: self.credentials.client_id()?,
                metadata: metadata.clone(),
                secret_hash: secret_hash.clone(),
                secret_expires_at,
                issued_at: now,
                updated_at: now,
                origin,
            };
            let record = RegistrationTokenRecord {
                digest: token.digest,
                client_id: client.client_id.clone(),
                issued_at: now,
                expires_at: token_expires_at,
            };
            match self.repo.create(&client, &record) {
                Ok(()) => {
                    return Ok(RegisteredClient {
                        client,
                        client_secret: secret_plain,
                        registration_access_token: token.plaintext,
                    })
                }
                Err(RepositoryError::Conflict(_)) if attempts < 3 => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

//! The signing-key use cases over a small storage port: create the first key, rotate, retire,
//! list, and load the ring every instance signs with.

use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{KeyEncryptionKey, KeyError, KeyPolicy, KeyRing, SigningKey, SigningKeyRecord};
use crate::client_registration::{
    AuditAction, AuditEvent, AuditLog, RepositoryError, RequestContext,
};
use crate::clock::Clock;
use crate::credentials::RandomSource;

/// The actor of changes the server makes on its own (the first key at start).
pub const SYSTEM_ACTOR: &str = "system";

/// Storage of signing-key records, shared by every instance of the server.
pub trait SigningKeyRepository: Send + Sync + Debug {
    /// Every record, in any order (removed keys included: the rules filter them).
    fn list(&self) -> Result<Vec<SigningKeyRecord>, RepositoryError>;

    /// Stores a new record. [`RepositoryError::Conflict`] if its `kid` exists.
    fn insert(&self, record: &SigningKeyRecord) -> Result<(), RepositoryError>;

    /// Sets `retired_at` and `remove_after` of the key `kid`.
    /// [`RepositoryError::NotFound`] if there is no such key.
    fn retire(&self, kid: &str, retired_at: i64, remove_after: i64) -> Result<(), RepositoryError>;
}

/// [`SigningKeyRepository`] in memory, for tests and embedders trying the rules.
#[derive(Debug, Default)]
pub struct InMemorySigningKeyRepository(Mutex<Vec<SigningKeyRecord>>);

impl InMemorySigningKeyRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    fn records(&self) -> MutexGuard<'_, Vec<SigningKeyRecord>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SigningKeyRepository for InMemorySigningKeyRepository {
    fn list(&self) -> Result<Vec<SigningKeyRecord>, RepositoryError> {
        Ok(self.records().clone())
    }

    fn insert(&self, record: &SigningKeyRecord) -> Result<(), RepositoryError> {
        let mut records = self.records();
        if records.iter().any(|r| r.kid == record.kid) {
            return Err(RepositoryError::Conflict(format!(
                "signing key {} exists",
                record.kid
            )));
        }
        records.push(record.clone());
        Ok(())
    }

    fn retire(&self, kid: &str, retired_at: i64, remove_after: i64) -> Result<(), RepositoryError> {
        let mut records = self.records();
        let record = records
            .iter_mut()
            .find(|r| r.kid == kid)
            .ok_or_else(|| RepositoryError::NotFound(format!("signing key {kid}")))?;
        record.retired_at = Some(retired_at);
        record.remove_after = Some(remove_after);
        Ok(())
    }
}

/// Creates, rotates and retires signing keys and loads the [`KeyRing`], recording
/// `key.created`, `key.rotated` and `key.retired` audit events.
///
/// ```
/// use std::sync::Arc;
/// use authz_domain::client_registration::InMemoryClientRepository;
/// use authz_domain::clock::{Clock, ManualClock};
/// use authz_domain::credentials::SystemRandomSource;
/// use authz_domain::keys::{InMemorySigningKeyRepository, KeyEncryptionKey, KeyPolicy, KeyService};
///
/// let rng = Arc::new(SystemRandomSource::new());
/// let clock = Arc::new(ManualClock::new(1_700_000_000));
/// let service = KeyService::new(
///     Arc::new(InMemorySigningKeyRepository::new()),
///     Arc::new(InMemoryClientRepository::new()), // its AuditLog
///     clock.clone(),
///     rng.clone(),
///     KeyEncryptionKey::generate(rng.as_ref())?,
///     KeyPolicy::default(),
/// );
/// let first = service.ensure_initial_key()?.expect("no key yet, so one was made");
/// assert!(service.ensure_initial_key()?.is_none());
/// let next = service.rotate(None, "admin:ops")?;
/// let ring = service.load_ring()?;
/// let signer = ring.signing_key(clock.now()).expect("a key signs");
/// assert_eq!(signer.kid(), first.kid); // the new key is only published for now
/// assert_eq!(ring.jwk_set(clock.now()).keys.len(), 2);
/// clock.advance(3600);
/// assert_eq!(ring.signing_key(clock.now()).expect("a key signs").kid(), next.kid);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct KeyService {
    repo: Arc<dyn SigningKeyRepository>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn RandomSource>,
    kek: KeyEncryptionKey,
    policy: KeyPolicy,
}

impl KeyService {
    /// A service over `repo`, encrypting private keys under `kek`.
    pub fn new(
        repo: Arc<dyn SigningKeyRepository>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn RandomSource>,
        kek: KeyEncryptionKey,
        policy: KeyPolicy,
    ) -> Self {
        Self {
            repo,
            audit,
            clock,
            rng,
            kek,
            policy,
        }
    }

    /// The rotation policy.
    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    fn record(&self, event: AuditEvent) -> Result<(), KeyError> {
        self.audit.record(event).map_err(KeyError::Repository)
    }

    fn event(&self, now: i64, action: AuditAction, actor: &str, detail: String) -> AuditEvent {
        AuditEvent::new(now, action, actor, &RequestContext::default()).detail(detail)
    }

    /// On first start: when no key exists, creates one of the policy's algorithm that signs at
    /// once (nothing can have cached an older JWK Set) and returns its record; `None` when keys
    /// exist. Also checks that the existing keys open with the key-encryption key, so a wrong
    /// one stops the server at start ([`KeyError::Decryption`]).
    pub fn ensure_initial_key(&self) -> Result<Option<SigningKeyRecord>, KeyError> {
        let records = self.repo.list()?;
        if !records.is_empty() {
            KeyRing::load(&records, &self.kek)?;
            return Ok(None);
        }
        let now = self.clock.now();
        let key = SigningKey::generate(self.policy.algorithm, self.rng.as_ref())?;
        let record = SigningKeyRecord::seal(&key, &self.kek, self.rng.as_ref(), now, now)?;
        self.repo.insert(&record)?;
        self.record(self.event(
            now,
            AuditAction::SigningKeyCreated,
            SYSTEM_ACTOR,
            format!("{} {} signs from {now}", record.algorithm, record.kid),
        ))?;
        Ok(Some(record))
    }

    /// Generates a key (`algorithm`, or the policy's) and rotates to it ([`KeyService::rotate_to`]).
    pub fn rotate(
        &self,
        algorithm: Option<crate::keys::SigningAlgorithm>,
        actor: &str,
    ) -> Result<SigningKeyRecord, KeyError> {
        let key = SigningKey::generate(
            algorithm.unwrap_or(self.policy.algorithm),
            self.rng.as_ref(),
        )?;
        self.rotate_to(&key, actor)
    }

    /// Stores `key` (generated, or imported with [`SigningKey::from_pkcs8_pem`]) published at
    /// once and signing from `now + publish_ahead_secs`; every current key stops signing at that
    /// moment and leaves the JWK Set once its last token has expired
    /// ([`KeyPolicy::remove_after`]). Returns the new record.
    pub fn rotate_to(&self, key: &SigningKey, actor: &str) -> Result<SigningKeyRecord, KeyError> {
        let now = self.clock.now();
        let existing = self.repo.list()?;
        let activates_at = now.saturating_add(self.policy.publish_ahead_secs.max(0));
        let record = SigningKeyRecord::seal(key, &self.kek, self.rng.as_ref(), now, activates_at)?;
        self.repo.insert(&record)?;
        self.record(self.event(
            now,
            AuditAction::SigningKeyCreated,
            actor,
            format!(
                "{} {} signs from {activates_at}",
                record.algorithm, record.kid
            ),
        ))?;
        let mut replaced = Vec::new();
        for old in existing.iter().filter(|r| r.is_current(activates_at)) {
            let (retired_at, remove_after) = SigningKeyRecord::retirement(
                activates_at.min(old.retired_at.unwrap_or(i64::MAX)),
                &self.policy,
            );
            self.repo.retire(&old.kid, retired_at, remove_after)?;
            self.record(self.event(
                now,
                AuditAction::SigningKeyRetired,
                actor,
                format!(
                    "{} stops signing at {retired_at}, leaves the JWK Set at {remove_after}",
                    old.kid
                ),
            ))?;
            replaced.push(old.kid.as_str());
        }
        self.record(self.event(
            now,
            AuditAction::SigningKeyRotated,
            actor,
            format!(
                "{} takes over at {activates_at} from [{}]",
                record.kid,
                replaced.join(", ")
            ),
        ))?;
        Ok(record)
    }

    /// Retires `kid` now: it stops signing and leaves the JWK Set at
    /// `now + max_access_token_lifetime_secs + clock_leeway_secs`. Returns the updated record.
    ///
    /// [`KeyError::UnknownKey`] if there is no such key, [`KeyError::AlreadyRetired`] if it no
    /// longer signs, [`KeyError::LastSigningKey`] if no other key could sign now (rotate first,
    /// and retire it once the new key is active).
    pub fn retire(&self, kid: &str, actor: &str) -> Result<SigningKeyRecord, KeyError> {
        let now = self.clock.now();
        let records = self.repo.list()?;
        let mut record = records
            .iter()
            .find(|r| r.kid == kid)
            .cloned()
            .ok_or_else(|| KeyError::UnknownKey(kid.to_owned()))?;
        if !record.is_current(now) {
            return Err(KeyError::AlreadyRetired(kid.to_owned()));
        }
        if !records.iter().any(|r| r.kid != kid && r.signs_at(now)) {
            return Err(KeyError::LastSigningKey(kid.to_owned()));
        }
        let (retired_at, remove_after) = SigningKeyRecord::retirement(now, &self.policy);
        self.repo.retire(kid, retired_at, remove_after)?;
        self.record(self.event(
            now,
            AuditAction::SigningKeyRetired,
            actor,
            format!("{kid} stops signing at {retired_at}, leaves the JWK Set at {remove_after}"),
        ))?;
        record.retired_at = Some(retired_at);
        record.remove_after = Some(remove_after);
        Ok(record)
    }

    /// Every record, newest first.
    pub fn list(&self) -> Result<Vec<SigningKeyRecord>, KeyError> {
        let mut records = self.repo.list()?;
        records.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.activates_at)));
        Ok(records)
    }

    /// Decrypts every stored key into a [`KeyRing`]. [`KeyError::Decryption`] if one does not
    /// open with the key-encryption key.
    pub fn load_ring(&self) -> Result<KeyRing, KeyError> {
        KeyRing::load(&self.repo.list()?, &self.kek)
    }
}

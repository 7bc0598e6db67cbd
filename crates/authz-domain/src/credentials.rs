//! Credentials: identifiers, secrets and bearer tokens.
//!
//! * Randomness comes from an injectable [`RandomSource`]; the default is the operating system's
//!   CSPRNG through `ring::rand::SystemRandom`.
//! * Client secrets are kept only as Argon2id PHC strings ([`SecretHasher`]).
//! * Bearer tokens (registration access tokens, administrator tokens) are kept only as SHA-256
//!   digests ([`TokenDigest`]), looked up by digest and compared in constant time.
//! * Plaintext secrets travel as [`secrecy::SecretString`], whose `Debug` output is redacted, so a
//!   stray `{:?}` in a log line cannot leak one.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SecureRandom as _;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// The smallest client secret this crate will issue: 256 random bits.
pub const MIN_SECRET_BYTES: usize = 32;
/// Random bytes in a client identifier: 128 bits.
pub const CLIENT_ID_BYTES: usize = 16;
/// Random bytes in a bearer token: 256 bits.
pub const TOKEN_BYTES: usize = 32;
/// Prefix of registration access tokens, so a leaked one is recognisable by secret scanners.
pub const REGISTRATION_TOKEN_PREFIX: &str = "rat_";

/// Why a credential could not be produced or checked.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The random source failed; nothing may be issued without real randomness.
    #[error("the system random number generator failed")]
    Random,
    /// Argon2 refused its parameters or failed while hashing.
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// A source of cryptographically secure random bytes.
pub trait RandomSource: Send + Sync + fmt::Debug {
    /// Fills `dest` entirely with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), CredentialError>;
}

/// The operating system's CSPRNG (`getrandom`), via `ring`.
pub struct SystemRandomSource(ring::rand::SystemRandom);

impl SystemRandomSource {
    /// A handle on the system CSPRNG.
    pub fn new() -> Self {
        Self(ring::rand::SystemRandom::new())
    }
}

impl Default for SystemRandomSource {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SystemRandomSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SystemRandomSource")
    }
}

impl RandomSource for SystemRandomSource {
    fn fill(&self, dest: &mut [u8]) -> Result<(), CredentialError> {
        self.0.fill(dest).map_err(|_| CredentialError::Random)
    }
}

pub(crate) fn random_b64(rng: &dyn RandomSource, bytes: usize) -> Result<String, CredentialError> {
    let mut buf = vec![0u8; bytes];
    rng.fill(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    /// OWASP's first recommended Argon2id configuration (19 MiB, 2 passes, 1 lane).
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// A counting semaphore that bounds how many Argon2 hashes run at once.
///
/// Each hash is CPU- and memory-bound: running more of them than there are cores only adds
/// memory pressure and tail latency, so callers queue here instead.
#[derive(Debug)]
struct HashPermits {
    free: Mutex<usize>,
    available: Condvar,
}

impl HashPermits {
    fn acquire(&self) -> HashPermit<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.available.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        HashPermit(self)
    }
}

struct HashPermit<'a>(&'a HashPermits);

impl Drop for HashPermit<'_> {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(|e| e.into_inner());
        *free += 1;
        self.0.available.notify_one();
    }
}

/// Hashes and verifies client secrets with Argon2id.
#[derive(Debug, Clone)]
pub struct SecretHasher {
    params: Params,
    permits: Arc<HashPermits>,
}

impl SecretHasher {
    /// A hasher with the given cost; fails if Argon2 rejects the parameters.
    /// At most `concurrency` hashes run at once (at least one).
    pub fn new(settings: Argon2Settings, concurrency: usize) -> Result<Self, CredentialError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| CredentialError::Hashing(e.to_string()))?;
        Ok(Self {
            params,
            permits: Arc::new(HashPermits {
                free: Mutex::new(concurrency.max(1)),
                available: Condvar::new(),
            }),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes `secret` with a fresh 128-bit salt; returns the PHC string.
    pub fn hash(
        &self,
        secret: &SecretString,
        rng: &dyn RandomSource,
    ) -> Result<String, CredentialError> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt)?;
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| CredentialError::Hashing(e.to_string()))?;
        let _permit = self.permits.acquire();
        self.argon2()
            .hash_password(secret.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| CredentialError::Hashing(e.to_string()))
    }

    /// Whether `secret` matches the PHC string `phc`. A malformed PHC string never matches.
    /// The parameters stored in `phc` are used, so old hashes keep verifying after a cost change.
    pub fn verify(&self, secret: &str, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let _permit = self.permits.acquire();
        Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok()
    }
}

/// The SHA-256 digest of a bearer token: the only form in which a token is stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// The digest of a presented token.
    pub fn of(token: &str) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Self(bytes)
    }

    /// A digest read back from storage; `None` unless exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality, for comparing a stored digest with a presented one.
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenDigest {
    // A digest is not secret, but a short form keeps logs readable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TokenDigest({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// A freshly issued bearer token: the plaintext (shown once) and the digest (stored).
#[derive(Debug)]
pub struct IssuedToken {
    /// The token as handed to its holder.
    pub plaintext: SecretString,
    /// What is stored.
    pub digest: TokenDigest,
}

/// A freshly issued client secret: the plaintext (shown once) and its Argon2id hash (stored).
#[derive(Debug)]
pub struct IssuedSecret {
    /// The secret as handed to the client.
    pub plaintext: SecretString,
    /// The Argon2id PHC string.
    pub hash: String,
}

/// Issues identifiers, secrets and tokens from one random source.
///
/// ```
/// use std::sync::Arc;
/// use authz_domain::credentials::{Argon2Settings, CredentialIssuer, SecretHasher, SystemRandomSource};
/// use secrecy::ExposeSecret;
///
/// let hasher = SecretHasher::new(Argon2Settings { memory_kib: 64, iterations: 1, parallelism: 1 }, 1)?;
/// let issuer = CredentialIssuer::new(Arc::new(SystemRandomSource::new()), hasher, 32)?;
/// let id = issuer.client_id()?;
/// assert!(id.len() >= 22);
/// let secret = issuer.client_secret()?;
/// assert!(issuer.hasher().verify(secret.plaintext.expose_secret(), &secret.hash));
/// let token = issuer.registration_access_token()?;
/// assert!(token.plaintext.expose_secret().starts_with("rat_"));
/// # Ok::<(), authz_domain::credentials::CredentialError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CredentialIssuer {
    rng: Arc<dyn RandomSource>,
    hasher: SecretHasher,
    secret_bytes: usize,
}

impl CredentialIssuer {
    /// An issuer whose secrets carry `secret_bytes` random bytes (raised to [`MIN_SECRET_BYTES`]).
    pub fn new(
        rng: Arc<dyn RandomSource>,
        hasher: SecretHasher,
        secret_bytes: usize,
    ) -> Result<Self, CredentialError> {
        Ok(Self {
            rng,
            hasher,
            secret_bytes: secret_bytes.max(MIN_SECRET_BYTES),
        })
    }

    /// The random source everything is drawn from.
    pub fn rng(&self) -> &dyn RandomSource {
        self.rng.as_ref()
    }

    /// The hasher secrets are hashed and verified with.
    pub fn hasher(&self) -> &SecretHasher {
        &self.hasher
    }

    /// A new client identifier: 128 random bits, base64url (22 characters).
    pub fn client_id(&self) -> Result<String, CredentialError> {
        random_b64(self.rng.as_ref(), CLIENT_ID_BYTES)
    }

    /// A new client secret and its Argon2id hash.
    pub fn client_secret(&self) -> Result<IssuedSecret, CredentialError> {
        let plaintext = SecretString::from(random_b64(self.rng.as_ref(), self.secret_bytes)?);
        let hash = self.hasher.hash(&plaintext, self.rng.as_ref())?;
        Ok(IssuedSecret { plaintext, hash })
    }

    /// A new bearer token with the given recognisable prefix.
    pub fn bearer_token(&self, prefix: &str) -> Result<IssuedToken, CredentialError> {
        let token = format!("{prefix}{}", random_b64(self.rng.as_ref(), TOKEN_BYTES)?);
        let digest = TokenDigest::of(&token);
        Ok(IssuedToken {
            plaintext: SecretString::from(token),
            digest,
        })
    }

    /// A new registration access token (RFC 7592).
    pub fn registration_access_token(&self) -> Result<IssuedToken, CredentialError> {
        self.bearer_token(REGISTRATION_TOKEN_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::{cheap_hasher, cheap_issuer as issuer};

    #[test]
    fn client_ids_carry_128_bits_and_are_url_safe() {
        let id = issuer().client_id().expect("id");
        assert_eq!(URL_SAFE_NO_PAD.decode(&id).expect("b64").len(), 16);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn secrets_are_never_shorter_than_256_bits() {
        let issuer = CredentialIssuer::new(Arc::new(SystemRandomSource::new()), cheap_hasher(), 8)
            .expect("issuer");
        let secret = issuer.client_secret().expect("secret");
        let raw = URL_SAFE_NO_PAD
            .decode(secret.plaintext.expose_secret())
            .expect("b64");
        assert_eq!(raw.len(), 32);
    }

    #[test]
    fn secret_hash_is_argon2id_and_verifies_only_the_right_secret() {
        let secret = issuer().client_secret().expect("secret");
        assert!(secret.hash.starts_with("$argon2id$v=19$"));
        let hasher = cheap_hasher();
        assert!(hasher.verify(secret.plaintext.expose_secret(), &secret.hash));
        assert!(!hasher.verify("wrong", &secret.hash));
        assert!(!hasher.verify(secret.plaintext.expose_secret(), "not a phc string"));
    }

    #[test]
    fn the_hash_never_contains_the_secret() {
        let secret = issuer().client_secret().expect("secret");
        assert!(!secret.hash.contains(secret.plaintext.expose_secret()));
    }

    #[test]
    fn tokens_have_the_prefix_and_are_stored_as_their_sha256() {
        let token = issuer().registration_access_token().expect("token");
        let plain = token.plaintext.expose_secret();
        assert!(plain.starts_with(REGISTRATION_TOKEN_PREFIX));
        assert_eq!(token.digest, TokenDigest::of(plain));
        assert!(token.digest.ct_eq(&TokenDigest::of(plain)));
        assert!(!token.digest.ct_eq(&TokenDigest::of("rat_other")));
    }

    #[test]
    fn debug_output_redacts_plaintext() {
        let token = issuer().registration_access_token().expect("token");
        let shown = format!("{token:?}");
        assert!(!shown.contains(token.plaintext.expose_secret()));
    }

    #[test]
    fn a_failing_random_source_issues_nothing() {
        #[derive(Debug)]
        struct Broken;
        impl RandomSource for Broken {
            fn fill(&self, _: &mut [u8]) -> Result<(), CredentialError> {
                Err(CredentialError::Random)
            }
        }
        let issuer = CredentialIssuer::new(Arc::new(Broken), cheap_hasher(), 32).expect("issuer");
        assert!(issuer.client_id().is_err());
        assert!(issuer.client_secret().is_err());
        assert!(issuer.registration_access_token().is_err());
    }
}

//! Private keys at rest: AES-256-GCM (NIST SP 800-38D) under a key-encryption key, with the
//! key's `kid` as associated data so a ciphertext cannot be moved to another key's record.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use secrecy::{SecretSlice, SecretString};

use super::KeyError;
use crate::credentials::RandomSource;

/// The only layout of [`EncryptedPrivateKey`] so far.
const VERSION: u8 = 1;
/// AES-GCM tag length in bytes.
const TAG_LEN: usize = 16;

/// The 256-bit key that encrypts signing keys at rest. Its `Debug` output is redacted.
///
/// Text form: 32 bytes in base64 or base64url, padded or not (44 or 43 characters).
///
/// ```
/// use authz_domain::credentials::SystemRandomSource;
/// use authz_domain::keys::KeyEncryptionKey;
/// use secrecy::ExposeSecret;
///
/// let kek = KeyEncryptionKey::generate(&SystemRandomSource::new())?;
/// let text = kek.to_base64url();
/// assert_eq!(text.expose_secret().len(), 43);
/// let again = KeyEncryptionKey::parse(text.expose_secret())?;
/// assert_eq!(format!("{again:?}"), "KeyEncryptionKey([REDACTED])");
/// # Ok::<(), authz_domain::keys::KeyError>(())
/// ```
#[derive(Clone)]
pub struct KeyEncryptionKey(SecretSlice<u8>);

impl KeyEncryptionKey {
    /// Length in bytes.
    pub const LEN: usize = 32;

    /// A new random key from `rng`. [`KeyError::Random`] if the source fails.
    pub fn generate(rng: &dyn RandomSource) -> Result<Self, KeyError> {
        let mut bytes = vec![0u8; Self::LEN];
        rng.fill(&mut bytes)?;
        Ok(Self(SecretSlice::from(bytes)))
    }

    /// A key from its text form (surrounding whitespace ignored). [`KeyError::InvalidKek`] if it
    /// is not base64/base64url or does not decode to exactly 32 bytes; the message never
    /// repeats the text.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = [URL_SAFE_NO_PAD, URL_SAFE, STANDARD, STANDARD_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or_else(|| KeyError::InvalidKek("not base64 or base64url text".into()))?;
        Self::from_bytes(bytes)
    }

    /// A key from its 32 raw bytes. [`KeyError::InvalidKek`] for any other length.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, KeyError> {
        if bytes.len() != Self::LEN {
            return Err(KeyError::InvalidKek(format!(
                "{} bytes where 32 are needed (256 bits)",
                bytes.len()
            )));
        }
        Ok(Self(SecretSlice::from(bytes)))
    }

    /// The text form: base64url without padding (43 characters), e.g. for the key file.
    pub fn to_base64url(&self) -> SecretString {
        use secrecy::ExposeSecret as _;
        SecretString::from(URL_SAFE_NO_PAD.encode(self.0.expose_secret()))
    }

    fn aead(&self) -> Result<LessSafeKey, KeyError> {
        use secrecy::ExposeSecret as _;
        UnboundKey::new(&AES_256_GCM, self.0.expose_secret())
            .map(LessSafeKey::new)
            .map_err(|_| KeyError::InvalidKek("not an AES-256 key".into()))
    }

    /// Encrypts `plaintext` (a PKCS#8 document) with a fresh random 96-bit nonce from `rng`,
    /// binding it to `kid` as associated data.
    pub fn encrypt(
        &self,
        kid: &str,
        plaintext: &[u8],
        rng: &dyn RandomSource,
    ) -> Result<EncryptedPrivateKey, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce)?;
        let mut sealed = plaintext.to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| KeyError::Encryption)?;
        let mut bytes = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        bytes.push(VERSION);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(EncryptedPrivateKey(bytes))
    }

    /// Decrypts what [`KeyEncryptionKey::encrypt`] produced for `kid`. [`KeyError::Decryption`]
    /// when the tag does not verify: a different key-encryption key, another key's `kid`, or
    /// altered bytes (AES-GCM cannot tell these apart).
    pub fn decrypt(
        &self,
        kid: &str,
        encrypted: &EncryptedPrivateKey,
    ) -> Result<SecretSlice<u8>, KeyError> {
        let bytes = &encrypted.0;
        let nonce = Nonce::try_assume_unique_for_key(&bytes[1..1 + NONCE_LEN])
            .map_err(|_| KeyError::MalformedCiphertext("bad nonce".into()))?;
        let mut buffer = bytes[1 + NONCE_LEN..].to_vec();
        let plain_len = self
            .aead()?
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buffer)
            .map_err(|_| KeyError::Decryption {
                kid: kid.to_owned(),
            })?
            .len();
        buffer.truncate(plain_len);
        Ok(SecretSlice::from(buffer))
    }
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey([REDACTED])")
    }
}

/// A private key encrypted at rest, as one byte string (stored as `Binary`):
/// `version (1 byte, 0x01) ‖ nonce (12 bytes) ‖ ciphertext ‖ GCM tag (16 bytes)`.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedPrivateKey(Vec<u8>);

impl EncryptedPrivateKey {
    /// Bytes read back from storage. [`KeyError::MalformedCiphertext`] if they are shorter than
    /// a version, a nonce and a tag, or carry an unknown version.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, KeyError> {
        if bytes.len() < 1 + NONCE_LEN + TAG_LEN {
            return Err(KeyError::MalformedCiphertext(format!(
                "{} bytes is shorter than a version, a nonce and a tag",
                bytes.len()
            )));
        }
        if bytes[0] != VERSION {
            return Err(KeyError::MalformedCiphertext(format!(
                "unknown version {}",
                bytes[0]
            )));
        }
        Ok(Self(bytes))
    }

    /// The stored form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The stored form, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for EncryptedPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptedPrivateKey({} bytes)", self.0.len())
    }
}

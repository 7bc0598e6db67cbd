//! Small parsed values: user ids, usernames, display names and passwords.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use super::error::UserError;
use crate::client_registration::search_key;
use crate::credentials::{CredentialError, RandomSource};

/// Random bytes in a user id: 128 bits.
pub const USER_ID_BYTES: usize = 16;
/// The longest username, in characters (after trimming).
pub const MAX_USERNAME_CHARS: usize = 64;
/// The longest display name, in characters (after trimming).
pub const MAX_DISPLAY_NAME_CHARS: usize = 128;

/// A user's stable, opaque identifier: 128 random bits, base64url without padding
/// (22 characters). It becomes the `sub` of the tokens issued for the user
/// (authorization contract §3) and never changes, whatever happens to the username.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(String);

impl UserId {
    /// A new random id.
    ///
    /// # Errors
    /// [`CredentialError::Random`] when the random source fails.
    pub fn generate(rng: &dyn RandomSource) -> Result<Self, CredentialError> {
        let mut bytes = [0u8; USER_ID_BYTES];
        rng.fill(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// An id read back from storage (or from a token's `sub`); not checked.
    pub fn from_stored(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `c` may not appear in a username or display name: control characters, Unicode
/// format characters (general category `Cf`: bidirectional controls, zero-width characters,
/// the byte-order mark, tag characters, …), other invisible characters (variation selectors,
/// Hangul fillers, the combining grapheme joiner), and any whitespace other than U+0020.
pub(crate) fn is_forbidden_name_char(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(
            c,
            // Cf (Unicode 15.1).
            '\u{00AD}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
                // Invisible but not Cf.
                | '\u{034F}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FFA0}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{E0100}'..='\u{E01EF}'
        )
}

fn check_name(field: &str, value: &str, max_chars: usize) -> Result<(), String> {
    if let Some(bad) = value.chars().find(|c| is_forbidden_name_char(*c)) {
        return Err(format!(
            "{field} contains the control, invisible or formatting character U+{:04X}; use visible characters and plain spaces",
            u32::from(bad)
        ));
    }
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(format!(
            "{field}: {chars} characters is longer than the {max_chars} allowed"
        ));
    }
    Ok(())
}

/// A username as typed at sign-in: trimmed, 1 to [`MAX_USERNAME_CHARS`] characters, without
/// control, invisible or formatting characters.
///
/// Two usernames are the same account when their [`key`](Self::key)s are equal: the key is the
/// Unicode default case folding ([`search_key`]), so `Alice`, `ALICE` and `alice` are one account
/// (authorization contract §3: "username unique after Unicode case folding"). The trimmed form
/// as first entered is kept for display.
///
/// ```
/// use authz_domain::users::Username;
/// let a = Username::parse("  Alice ").unwrap();
/// assert_eq!(a.as_str(), "Alice");
/// assert_eq!(a.key(), Username::parse("ALICE").unwrap().key());
/// assert!(Username::parse("   ").is_err());
/// assert!(Username::parse("al\u{200B}ice").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username {
    display: String,
    key: String,
}

impl Username {
    /// Parses a username.
    ///
    /// # Errors
    /// [`UserError::InvalidUsername`] naming the problem.
    pub fn parse(raw: &str) -> Result<Self, UserError> {
        let display = raw.trim();
        if display.is_empty() {
            return Err(UserError::InvalidUsername("the username is empty".into()));
        }
        check_name("the username", display, MAX_USERNAME_CHARS)
            .map_err(UserError::InvalidUsername)?;
        Ok(Self {
            display: display.to_owned(),
            key: search_key(display),
        })
    }

    /// A username read back from storage, with its stored key; not checked again.
    pub fn from_stored(display: String, key: String) -> Self {
        Self { display, key }
    }

    /// The username as entered (trimmed).
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The comparison key: Unicode default case folding of [`as_str`](Self::as_str). Unique
    /// among users.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// Parses an optional display name: trimmed, `None` when empty, at most
/// [`MAX_DISPLAY_NAME_CHARS`] characters, the same forbidden characters as a username.
///
/// # Errors
/// [`UserError::InvalidDisplayName`].
pub fn parse_display_name(raw: Option<&str>) -> Result<Option<String>, UserError> {
    let Some(value) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    check_name("the display name", value, MAX_DISPLAY_NAME_CHARS)
        .map_err(UserError::InvalidDisplayName)?;
    Ok(Some(value.to_owned()))
}

/// The password rules for new passwords. Sign-in never applies them (a password chosen under an
/// older policy still signs in), except that a password longer than `max_chars` never matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode scalar values). Default 8 (NIST SP 800-63B §5.1.1.2).
    pub min_chars: usize,
    /// Most characters. Default 1024: long enough for any passphrase or manager, short enough
    /// that hashing it costs nothing extra.
    pub max_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 8,
            max_chars: 1024,
        }
    }
}

/// A new password that satisfies a [`PasswordPolicy`]. Kept as a [`SecretString`]: its `Debug`
/// output is redacted.
#[derive(Debug, Clone)]
pub struct Password(SecretString);

impl Password {
    /// Checks `raw` against `policy`. Every character is allowed and nothing is trimmed: a
    /// password is compared byte for byte.
    ///
    /// # Errors
    /// [`UserError::InvalidPassword`] saying which bound was missed (never echoing the password).
    ///
    /// ```
    /// use authz_domain::users::{Password, PasswordPolicy};
    /// let policy = PasswordPolicy::default();
    /// assert!(Password::parse("correct horse".into(), &policy).is_ok());
    /// assert!(Password::parse("short".into(), &policy).is_err());
    /// ```
    pub fn parse(raw: SecretString, policy: &PasswordPolicy) -> Result<Self, UserError> {
        let chars = raw.expose_secret().chars().count();
        if chars < policy.min_chars {
            return Err(UserError::InvalidPassword(format!(
                "the password has {chars} characters; at least {} are required",
                policy.min_chars
            )));
        }
        if chars > policy.max_chars {
            return Err(UserError::InvalidPassword(format!(
                "the password has {chars} characters; at most {} are allowed",
                policy.max_chars
            )));
        }
        Ok(Self(raw))
    }

    /// The password, for hashing.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

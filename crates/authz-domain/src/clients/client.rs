//! The registered client as stored, and the records written with it.

use serde_json::{Map, Value};

use crate::clients::{json_type, ClientMetadata};
use crate::credentials::{SecretHasher, TokenDigest};
use crate::error::RegistrationError;
use crate::values::truncate;

/// How a client came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOrigin {
    /// Through open Dynamic Client Registration (RFC 7591).
    Dynamic,
    /// Created by an administrator.
    Admin,
}

impl ClientOrigin {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dynamic => "dynamic",
            Self::Admin => "admin",
        }
    }

    /// Reads the stored form; unknown values read as `Dynamic`.
    pub fn from_stored(s: &str) -> Self {
        if s == "admin" {
            Self::Admin
        } else {
            Self::Dynamic
        }
    }
}

/// A registered client. Holds the secret only as its Argon2id hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The server-issued identifier.
    pub client_id: String,
    /// Registered metadata, defaults applied.
    pub metadata: ClientMetadata,
    /// Argon2id PHC string of the client secret, for confidential clients.
    pub secret_hash: Option<String>,
    /// When the secret expires (Unix seconds); `0` never. Meaningless without a secret.
    pub secret_expires_at: i64,
    /// When the client id was issued (Unix seconds).
    pub issued_at: i64,
    /// When the registration last changed (Unix seconds).
    pub updated_at: i64,
    /// How the client was created.
    pub origin: ClientOrigin,
    /// An administrator locked self-management: `PUT` and `DELETE` answer 403.
    pub is_locked: bool,
    /// Per-client settings an administrator sets, for token issuance.
    pub settings: ClientSettings,
    /// The secret replaced by a rotation, while its grace period lasts.
    pub previous_secret: Option<PreviousSecret>,
    /// Incremented by every change; a change made from an older revision is refused as stale,
    /// so concurrent read-modify-write cycles never overwrite each other.
    pub revision: i64,
}

impl Client {
    /// Whether `secret` is this client's secret at `now`: the current one (unless it expired), or
    /// the previous one during the grace period of a rotation.
    pub fn verify_secret(&self, secret: &str, now: i64, hasher: &SecretHasher) -> bool {
        let current = self.secret_hash.as_deref().is_some_and(|hash| {
            (self.secret_expires_at == 0 || self.secret_expires_at > now)
                && hasher.verify(secret, hash)
        });
        current
            || self
                .previous_secret
                .as_ref()
                .is_some_and(|p| p.valid_until > now && hasher.verify(secret, &p.hash))
    }

    /// The text an administrator's search matches, case-folded: the client id, the client name
    /// and its language-tagged variants, one per line.
    pub fn search_text(&self) -> String {
        let mut text = search_key(&self.client_id);
        for name in self.metadata.client_name.iter().chain(
            self.metadata
                .localized
                .iter()
                .filter(|(k, _)| k.starts_with("client_name#"))
                .map(|(_, v)| v),
        ) {
            text.push('\n');
            text.push_str(&search_key(name));
        }
        text
    }
}

/// The case-insensitive form of search text and search terms: Unicode default case folding, so
/// that "ÉCOLE" finds "école", "ΣΟΦΊΑ" finds "σοφία" and "STRASSE" finds "Straße", whatever the
/// database's collation.
pub fn search_key(s: &str) -> String {
    caseless::default_case_fold_str(s)
}

/// A client secret replaced by a rotation that still verifies until `valid_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousSecret {
    /// Argon2id PHC string of the old secret.
    pub hash: String,
    /// When it stops verifying (Unix seconds).
    pub valid_until: i64,
}

/// Per-client settings kept for token issuance: whether the user must consent, token lifetimes,
/// refresh-token rotation. Set by administrators; dynamically registered clients get the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientSettings {
    /// Ask the user to consent before authorizing this client.
    pub require_consent: bool,
    /// Access token lifetime in seconds (60 to 86,400).
    pub access_token_lifetime_secs: u64,
    /// Refresh token lifetime in seconds (at least the access token lifetime, at most a year);
    /// `0` means refresh tokens do not expire.
    pub refresh_token_lifetime_secs: u64,
    /// Issue a new refresh token on every use and invalidate the old one (public clients always
    /// rotate, whatever this says).
    pub rotate_refresh_tokens: bool,
    /// The client may call the introspection endpoint (RFC 7662): a resource server. Only an
    /// administrator can set it; it needs a confidential client.
    pub allow_introspection: bool,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            require_consent: true,
            access_token_lifetime_secs: 3600,
            refresh_token_lifetime_secs: 30 * 24 * 3600,
            rotate_refresh_tokens: true,
            allow_introspection: false,
        }
    }
}

const SETTINGS_MEMBERS: &[&str] = &[
    "require_consent",
    "access_token_lifetime_secs",
    "refresh_token_lifetime_secs",
    "rotate_refresh_tokens",
    "allow_introspection",
];

impl ClientSettings {
    /// Longest access token lifetime accepted.
    pub const MAX_ACCESS_TOKEN_LIFETIME_SECS: u64 = 24 * 3600;
    /// Longest refresh token lifetime accepted (other than `0`, no expiry).
    pub const MAX_REFRESH_TOKEN_LIFETIME_SECS: u64 = 366 * 24 * 3600;

    /// Parses a `settings` object; members not sent take their defaults. Errors name the member
    /// (`settings.access_token_lifetime_secs: …`).
    pub fn from_request(value: &Value) -> Result<Self, RegistrationError> {
        let fail = |m: String| Err(RegistrationError::InvalidClientMetadata(m));
        let Value::Object(members) = value else {
            return fail(format!(
                "settings: expected an object with {}, got {}",
                SETTINGS_MEMBERS.join(", "),
                json_type(value)
            ));
        };
        if let Some(unknown) = members
            .keys()
            .find(|k| !SETTINGS_MEMBERS.contains(&k.as_str()))
        {
            return fail(format!(
                "settings.{}: unknown setting; accepted: {}",
                unknown.chars().take(64).collect::<String>(),
                SETTINGS_MEMBERS.join(", ")
            ));
        }
        let defaults = Self::default();
        let flag = |name: &str, default: bool| -> Result<bool, RegistrationError> {
            match members.get(name) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Bool(b)) => Ok(*b),
                Some(other) => Err(RegistrationError::InvalidClientMetadata(format!(
                    "settings.{name}: expected true or false, got {}",
                    json_type(other)
                ))),
            }
        };
        let seconds = |name: &str, default: u64, min: u64, max: u64| {
            match members.get(name) {
                None | Some(Value::Null) => Ok(default),
                Some(v) => match v.as_u64() {
                    Some(n) if (min..=max).contains(&n) => Ok(n),
                    _ => Err(RegistrationError::InvalidClientMetadata(format!(
                        "settings.{name}: expected a whole number of seconds from {min} to {max}, got {}",
                        truncate(&v.to_string(), 40)
                    ))),
                },
            }
        };
        let settings = Self {
            require_consent: flag("require_consent", defaults.require_consent)?,
            rotate_refresh_tokens: flag("rotate_refresh_tokens", defaults.rotate_refresh_tokens)?,
            allow_introspection: flag("allow_introspection", defaults.allow_introspection)?,
            access_token_lifetime_secs: seconds(
                "access_token_lifetime_secs",
                defaults.access_token_lifetime_secs,
                60,
                Self::MAX_ACCESS_TOKEN_LIFETIME_SECS,
            )?,
            refresh_token_lifetime_secs: seconds(
                "refresh_token_lifetime_secs",
                defaults.refresh_token_lifetime_secs,
                0,
                Self::MAX_REFRESH_TOKEN_LIFETIME_SECS,
            )?,
        };
        if settings.refresh_token_lifetime_secs != 0
            && settings.refresh_token_lifetime_secs < settings.access_token_lifetime_secs
        {
            return fail(format!(
                "settings.refresh_token_lifetime_secs: {} is shorter than access_token_lifetime_secs ({}); use 0 (no expiry) or at least the access token lifetime",
                settings.refresh_token_lifetime_secs, settings.access_token_lifetime_secs
            ));
        }
        Ok(settings)
    }

    /// The settings as a JSON object.
    pub fn to_wire(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }
}

/// A registration access token as stored: its digest, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationTokenRecord {
    /// SHA-256 of the token.
    pub digest: TokenDigest,
    /// The client it manages.
    pub client_id: String,
    /// When it was issued (Unix seconds).
    pub issued_at: i64,
    /// When it stops working (Unix seconds); `None` never.
    pub expires_at: Option<i64>,
}

/// A registration access token as found by its digest, with its client if that still exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenLookup {
    /// The token record.
    pub token: RegistrationTokenRecord,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// Its client; `None` if the client no longer exists.
    pub client: Option<Client>,
}

/// Replacing the presented registration access token with a new one, in the same transaction as
/// the change that rotates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRotation {
    /// The token to revoke.
    pub revoke: crate::credentials::TokenDigest,
    /// The token that replaces it.
    pub issue: RegistrationTokenRecord,
}

//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3.1, RFC 7591 §2 `token_endpoint_auth_method`).
//!
//! A request presents its client in exactly one way: `client_id` alone in the body (`none`),
//! `Authorization: Basic` with the form-urlencoded id and secret (`client_secret_basic`), or
//! `client_id` and `client_secret` in the body (`client_secret_post`). The presented way must be
//! the one the client registered. Every failure is `invalid_client` (401); the answer for an
//! unknown client and for a wrong secret is the same.
//!
//! Verifying a secret costs one Argon2id hash (tens of milliseconds by design). Resource servers
//! introspect and confidential clients refresh far more often than that allows, so a successful
//! verification is remembered for a short time in [`VerifiedSecrets`], keyed by an HMAC of the
//! client id, the stored hash and the presented secret under a per-process random key: memory
//! never holds a secret, a rotation (new hash) or deletion ends the entry's use at once, and a
//! wrong secret is never cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};

use crate::clients::{Client, ClientRepository, UsageRecorder};
use crate::clock::Clock;
use crate::credentials::{CredentialError, RandomSource, SecretHasher};
use crate::error::RepositoryError;
use crate::values::{truncate, TokenEndpointAuthMethod};

/// The one message for an unknown client and a wrong, expired or missing secret, so that the
/// answer says nothing about which client ids exist.
pub const INVALID_CLIENT_MESSAGE: &str =
    "client authentication failed: the client is unknown, or its credentials are wrong or expired";

/// How a request presented its client (RFC 6749 §2.3.1).
#[derive(Debug)]
pub enum PresentedClient {
    /// `client_id` in the body and no secret: a public client (`none`).
    None {
        /// The client id as sent.
        client_id: String,
    },
    /// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`.
    Basic {
        /// The decoded client id.
        client_id: String,
        /// The decoded secret.
        secret: SecretString,
    },
    /// `client_id` and `client_secret` in the form body.
    Post {
        /// The client id as sent.
        client_id: String,
        /// The secret as sent.
        secret: SecretString,
    },
}

/// Why client authentication failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    /// `invalid_client` (401). `basic` tells the HTTP layer to answer with a
    /// `WWW-Authenticate: Basic` challenge (RFC 6749 §5.2).
    #[error("{message}")]
    InvalidClient {
        /// What the client is told.
        message: String,
        /// The request used (or tried) HTTP Basic.
        basic: bool,
    },
    /// Storage failed; nothing was decided.
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

impl ClientAuthError {
    fn invalid(message: impl Into<String>, basic: bool) -> Self {
        Self::InvalidClient {
            message: message.into(),
            basic,
        }
    }
}

impl PresentedClient {
    /// Reads the client from the `Authorization` header value (if any) and the body's
    /// `client_id` / `client_secret` (if sent).
    ///
    /// Refused with `invalid_client`: no client at all, a malformed Basic header, a secret both
    /// in the header and the body (two methods, RFC 6749 §2.3), a body `client_id` that differs
    /// from the Basic one, a body secret without a `client_id`. A body `client_id` equal to the
    /// Basic one is accepted (several real clients send both). An `Authorization` header with
    /// another scheme is ignored here; the token endpoint takes no bearer tokens.
    pub fn from_request(
        authorization: Option<&str>,
        body_client_id: Option<&str>,
        body_client_secret: Option<&str>,
    ) -> Result<Self, ClientAuthError> {
        let basic = authorization.and_then(|value| {
            let value = value.trim();
            let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
            scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
        });
        if let Some(encoded) = basic {
            let (client_id, secret) = decode_basic(encoded)?;
            if body_client_secret.is_some() {
                return Err(ClientAuthError::invalid(
                    "client_secret: sent both in the Authorization header and in the body; use exactly one client authentication method (RFC 6749 §2.3)",
                    true,
                ));
            }
            if let Some(body_id) = body_client_id {
                if body_id != client_id {
                    return Err(ClientAuthError::invalid(
                        format!(
                            "client_id: the body names {:?} but the Authorization header authenticates another client",
                            truncate(body_id, 64)
                        ),
                        true,
                    ));
                }
            }
            return Ok(Self::Basic { client_id, secret });
        }
        match (body_client_id, body_client_secret) {
            (Some(id), Some(secret)) if !id.is_empty() => Ok(Self::Post {
                client_id: id.to_owned(),
                secret: SecretString::from(secret.to_owned()),
            }),
            (Some(id), None) if !id.is_empty() => Ok(Self::None {
                client_id: id.to_owned(),
            }),
            (_, Some(_)) => Err(ClientAuthError::invalid(
                "client_id: required with client_secret (client_secret_post)",
                false,
            )),
            _ => Err(ClientAuthError::invalid(
                "client authentication required: send client_id (public clients), client_id and client_secret in the body, or HTTP Basic credentials",
                false,
            )),
        }
    }

    /// The client id as presented.
    pub fn client_id(&self) -> &str {
        match self {
            Self::None { client_id }
            | Self::Basic { client_id, .. }
            | Self::Post { client_id, .. } => client_id,
        }
    }

    /// The `token_endpoint_auth_method` this presentation corresponds to.
    pub fn method(&self) -> TokenEndpointAuthMethod {
        match self {
            Self::None { .. } => TokenEndpointAuthMethod::None,
            Self::Basic { .. } => TokenEndpointAuthMethod::ClientSecretBasic,
            Self::Post { .. } => TokenEndpointAuthMethod::ClientSecretPost,
        }
    }

    /// Whether HTTP Basic was used (the refusal then carries a Basic challenge).
    pub fn used_basic(&self) -> bool {
        matches!(self, Self::Basic { .. })
    }

    fn secret(&self) -> Option<&SecretString> {
        match self {
            Self::None { .. } => None,
            Self::Basic { secret, .. } | Self::Post { secret, .. } => Some(secret),
        }
    }
}

/// Decodes `base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1 applies the
/// `application/x-www-form-urlencoded` encoding to both parts before Basic encoding).
fn decode_basic(encoded: &str) -> Result<(String, SecretString), ClientAuthError> {
    let malformed = || {
        ClientAuthError::invalid(
            "Authorization: malformed Basic credentials; expected base64 of client_id \":\" client_secret, each form-urlencoded (RFC 6749 §2.3.1)",
            true,
        )
    };
    let bytes = STANDARD.decode(encoded).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let id = form_urldecode(id).ok_or_else(malformed)?;
    let secret = form_urldecode(secret).ok_or_else(malformed)?;
    if id.is_empty() {
        return Err(malformed());
    }
    Ok((id, SecretString::from(secret)))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte; the
/// result must be UTF-8.
fn form_urldecode(value: &str) -> Option<String> {
    let pairs = url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned());
    // `parse` replaces invalid UTF-8 with U+FFFD; refuse it rather than guess.
    pairs.filter(|v| !v.contains('\u{FFFD}') || value.contains('\u{FFFD}'))
}

/// Remembers successful secret verifications for a short time (see the module docs).
#[derive(Debug)]
pub struct VerifiedSecrets {
    key: HmacKey,
    ttl_secs: i64,
    max_entries: usize,
    entries: Mutex<HashMap<[u8; 32], i64>>,
}

/// `ring`'s HMAC key has no `Debug`; this one prints nothing of the key.
struct HmacKey(hmac::Key);

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey([REDACTED])")
    }
}

impl VerifiedSecrets {
    /// A cache keeping successes for `ttl_secs` (0 turns it off), at most `max_entries` at once,
    /// under a fresh random key from `rng`.
    pub fn new(
        rng: &dyn RandomSource,
        ttl_secs: u64,
        max_entries: usize,
    ) -> Result<Self, CredentialError> {
        let mut key = [0u8; 32];
        rng.fill(&mut key)?;
        Ok(Self {
            key: HmacKey(hmac::Key::new(hmac::HMAC_SHA256, &key)),
            ttl_secs: i64::try_from(ttl_secs).unwrap_or(i64::MAX),
            max_entries,
            entries: Mutex::new(HashMap::new()),
        })
    }

    fn tag(&self, client: &Client, secret: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key.0);
        for part in [
            client.client_id.as_bytes(),
            client.secret_hash.as_deref().unwrap_or("").as_bytes(),
            client
                .previous_secret
                .as_ref()
                .map_or("", |p| p.hash.as_str())
                .as_bytes(),
            secret.as_bytes(),
        ] {
            // Length-prefixed, so no two different inputs concatenate alike.
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    fn lookup(&self, tag: &[u8; 32], now: i64) -> bool {
        if self.ttl_secs == 0 {
            return false;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(tag).is_some_and(|until| *until > now)
    }

    fn remember(&self, tag: [u8; 32], until: i64, now: i64) {
        if self.ttl_secs == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries {
            entries.retain(|_, until| *until > now);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(tag, until.min(now.saturating_add(self.ttl_secs)));
    }
}

/// Authenticates clients against their registration.
#[derive(Debug, Clone)]
pub struct ClientAuthenticator {
    clients: Arc<dyn ClientRepository>,
    hasher: SecretHasher,
    clock: Arc<dyn Clock>,
    verified: Arc<VerifiedSecrets>,
    /// The hash of a random secret nobody holds, verified against for unknown clients so that
    /// they cost what a wrong secret costs.
    dummy_hash: Arc<str>,
    usage: Option<Arc<UsageRecorder>>,
}

impl ClientAuthenticator {
    /// An authenticator over `clients`, verifying secrets with `hasher` and remembering
    /// successes in `verified`. Hashes one random secret with `hasher` (fails only when the
    /// random source or Argon2 does).
    pub fn new(
        clients: Arc<dyn ClientRepository>,
        hasher: SecretHasher,
        clock: Arc<dyn Clock>,
        verified: Arc<VerifiedSecrets>,
        rng: &dyn RandomSource,
    ) -> Result<Self, CredentialError> {
        let mut unknown = [0u8; 32];
        rng.fill(&mut unknown)?;
        let dummy = SecretString::from(STANDARD.encode(unknown));
        let dummy_hash = hasher.hash(&dummy, rng)?.into();
        Ok(Self {
            clients,
            hasher,
            clock,
            verified,
            dummy_hash,
            usage: None,
        })
    }

    /// The same authenticator noting each successful authentication in `usage` (`last_used_at`).
    pub fn with_usage(mut self, usage: Arc<UsageRecorder>) -> Self {
        self.usage = Some(usage);
        self
    }

    /// The registered client, if `presented` authenticates it; a success is noted as the
    /// client's use (see [`UsageRecorder`]).
    pub fn authenticate(&self, presented: &PresentedClient) -> Result<Client, ClientAuthError> {
        let client = self.verify(presented)?;
        if let Some(usage) = &self.usage {
            // Never fails the request: the store logs it and the next use tries again.
            let _ = usage.used(&client.client_id);
        }
        Ok(client)
    }

    /// The client with this id, if it exists (no authentication).
    pub fn client(&self, client_id: &str) -> Result<Option<Client>, RepositoryError> {
        self.clients.find(client_id)
    }

    /// `invalid_client` when the client is unknown or deleted, when it presented another method
    /// than its registered `token_endpoint_auth_method`, or when the secret is wrong or expired
    /// (a secret in its rotation grace period still verifies).
    fn verify(&self, presented: &PresentedClient) -> Result<Client, ClientAuthError> {
        let basic = presented.used_basic();
        let Some(client) = self.clients.find(presented.client_id())? else {
            // Same cost as a wrong secret, so timing does not tell which ids exist.
            if let Some(secret) = presented.secret() {
                self.hasher.verify(secret.expose_secret(), &self.dummy_hash);
            }
            return Err(ClientAuthError::invalid(INVALID_CLIENT_MESSAGE, basic));
        };
        if client.is_locked {
            // An administrator's lock suspends the client everywhere tokens are concerned.
            return Err(ClientAuthError::invalid(
                "this client has been locked by an administrator of this server",
                basic,
            ));
        }
        let registered = client.metadata.token_endpoint_auth_method;
        if registered != presented.method() {
            return Err(ClientAuthError::invalid(
                format!(
                    "client authentication: this client is registered for token_endpoint_auth_method {:?} but the request used {:?}",
                    registered.as_str(),
                    presented.method().as_str()
                ),
                basic,
            ));
        }
        let Some(secret) = presented.secret() else {
            return Ok(client);
        };
        let now = self.clock.now();
        let tag = self.verified.tag(&client, secret.expose_secret());
        if self.verified.lookup(&tag, now) {
            return Ok(client);
        }
        match self.valid_until(&client, secret.expose_secret(), now) {
            Some(until) => {
                self.verified.remember(tag, until, now);
                Ok(client)
            }
            None => Err(ClientAuthError::invalid(INVALID_CLIENT_MESSAGE, basic)),
        }
    }

    /// Until when `secret` is valid for `client` (the current secret, or the previous one during
    /// its grace period), or `None` when it does not verify.
    fn valid_until(&self, client: &Client, secret: &str, now: i64) -> Option<i64> {
        if let Some(hash) = client.secret_hash.as_deref() {
            let expires = client.secret_expires_at;
            if (expires == 0 || expires > now) && self.hasher.verify(secret, hash) {
                return Some(if expires == 0 { i64::MAX } else { expires });
            }
        }
        client
            .previous_secret
            .as_ref()
            .filter(|p| p.valid_until > now && self.hasher.verify(secret, &p.hash))
            .map(|p| p.valid_until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn a_body_client_id_alone_is_a_public_client() {
        let p = PresentedClient::from_request(None, Some("abc"), None).expect("presented");
        assert_eq!(p.method(), TokenEndpointAuthMethod::None);
        assert_eq!(p.client_id(), "abc");
    }

    #[test]
    fn basic_credentials_are_form_urldecoded() {
        let header = basic("my%20client", "s%2Bcr+t");
        let p = PresentedClient::from_request(Some(&header), None, None).expect("presented");
        assert_eq!(p.client_id(), "my client");
        assert_eq!(p.secret().expect("secret").expose_secret(), "s+cr t");
        assert!(p.used_basic());
    }

    #[test]
    fn a_secret_in_both_header_and_body_is_two_methods() {
        let header = basic("abc", "secret");
        let err = PresentedClient::from_request(Some(&header), Some("abc"), Some("secret"))
            .expect_err("two methods");
        assert!(matches!(
            err,
            ClientAuthError::InvalidClient { basic: true, .. }
        ));
    }

    #[test]
    fn a_body_client_id_that_differs_from_basic_is_refused() {
        let header = basic("abc", "secret");
        assert!(PresentedClient::from_request(Some(&header), Some("xyz"), None).is_err());
        let same = PresentedClient::from_request(Some(&header), Some("abc"), None);
        assert!(same.is_ok());
    }

    #[test]
    fn malformed_basic_credentials_are_invalid_client_with_a_basic_challenge() {
        for header in ["Basic !!!", "Basic Zm9v", "basic "] {
            let err = PresentedClient::from_request(Some(header), None, None).expect_err(header);
            assert!(
                matches!(err, ClientAuthError::InvalidClient { basic: true, .. }),
                "{header}"
            );
        }
    }

    #[test]
    fn no_client_at_all_is_invalid_client() {
        assert!(PresentedClient::from_request(None, None, None).is_err());
        assert!(PresentedClient::from_request(None, Some(""), None).is_err());
        assert!(PresentedClient::from_request(None, None, Some("secret")).is_err());
    }

    #[test]
    fn a_bearer_authorization_header_is_not_client_authentication() {
        let p = PresentedClient::from_request(Some("Bearer xyz"), Some("abc"), None)
            .expect("presented");
        assert_eq!(p.method(), TokenEndpointAuthMethod::None);
    }

    mod with_registered_clients {
        use super::*;
        use crate::audit::RequestContext;
        use crate::clients::RegistrationPolicy;
        use crate::clock::ManualClock;
        use crate::credentials::SystemRandomSource;
        use crate::memory::InMemoryClientRepository;
        use crate::registration::RegistrationService;
        use crate::testing::cheap_issuer;

        const NOW: i64 = 1_800_000_000;

        struct Fixture {
            repo: Arc<InMemoryClientRepository>,
            auth: ClientAuthenticator,
            client_id: String,
            secret: String,
        }

        fn fixture(method: &str) -> Fixture {
            let repo = Arc::new(InMemoryClientRepository::new());
            let clock = Arc::new(ManualClock::new(NOW));
            let issuer = cheap_issuer();
            let policy = RegistrationPolicy {
                mcp_profile: false,
                ..RegistrationPolicy::default()
            };
            let service = RegistrationService::new(
                repo.clone(),
                repo.clone(),
                Arc::new(policy),
                issuer.clone(),
                clock.clone(),
            );
            let request = serde_json::json!({
                "redirect_uris": ["https://app.example.com/cb"],
                "token_endpoint_auth_method": method,
            });
            let registered = service
                .register(
                    request.as_object().expect("object"),
                    &RequestContext::default(),
                )
                .expect("registered");
            let rng = SystemRandomSource::new();
            let verified = Arc::new(VerifiedSecrets::new(&rng, 60, 100).expect("cache"));
            let auth = ClientAuthenticator::new(
                repo.clone(),
                issuer.hasher().clone(),
                clock,
                verified,
                &rng,
            )
            .expect("authenticator");
            Fixture {
                repo,
                auth,
                client_id: registered.client.client_id.clone(),
                secret: registered
                    .client_secret
                    .as_ref()
                    .map(|s| s.expose_secret().to_owned())
                    .unwrap_or_default(),
            }
        }

        fn post(id: &str, secret: &str) -> PresentedClient {
            PresentedClient::Post {
                client_id: id.to_owned(),
                secret: SecretString::from(secret.to_owned()),
            }
        }

        #[test]
        fn the_registered_method_with_the_right_secret_authenticates() {
            let f = fixture("client_secret_post");
            let client = f
                .auth
                .authenticate(&post(&f.client_id, &f.secret))
                .expect("ok");
            assert_eq!(client.client_id, f.client_id);
            // The remembered success answers the second call the same way.
            assert!(f.auth.authenticate(&post(&f.client_id, &f.secret)).is_ok());
        }

        #[test]
        fn a_wrong_secret_and_an_unknown_client_get_the_same_answer() {
            let f = fixture("client_secret_post");
            let wrong = f
                .auth
                .authenticate(&post(&f.client_id, "nope"))
                .expect_err("wrong");
            let unknown = f
                .auth
                .authenticate(&post("nobody", &f.secret))
                .expect_err("unknown");
            assert_eq!(wrong.to_string(), INVALID_CLIENT_MESSAGE);
            assert_eq!(unknown.to_string(), INVALID_CLIENT_MESSAGE);
        }

        #[test]
        fn another_method_than_the_registered_one_is_refused() {
            let f = fixture("client_secret_post");
            let basic = PresentedClient::Basic {
                client_id: f.client_id.clone(),
                secret: SecretString::from(f.secret.clone()),
            };
            let err = f.auth.authenticate(&basic).expect_err("wrong method");
            assert!(err.to_string().contains("client_secret_post"), "{err}");
            let none = PresentedClient::None {
                client_id: f.client_id.clone(),
            };
            assert!(f.auth.authenticate(&none).is_err());
        }

        #[test]
        fn a_public_client_authenticates_with_its_id_alone() {
            let f = fixture("none");
            let none = PresentedClient::None {
                client_id: f.client_id.clone(),
            };
            assert!(f.auth.authenticate(&none).is_ok());
            assert!(f.auth.authenticate(&post(&f.client_id, "x")).is_err());
        }

        #[test]
        fn a_remembered_success_ends_when_the_secret_changes() {
            let f = fixture("client_secret_post");
            assert!(f.auth.authenticate(&post(&f.client_id, &f.secret)).is_ok());
            let mut client = f.repo.find(&f.client_id).expect("read").expect("exists");
            client.secret_hash = Some(cheap_issuer().client_secret().expect("secret").hash);
            let event = crate::audit::AuditEvent::new(
                NOW,
                crate::audit::AuditAction::SecretRotated,
                "test",
                &RequestContext::default(),
            );
            f.repo.update(&client, None, None, &event).expect("rotated");
            assert!(f.auth.authenticate(&post(&f.client_id, &f.secret)).is_err());
        }
    }
}

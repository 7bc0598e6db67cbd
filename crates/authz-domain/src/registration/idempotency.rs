//! Idempotent registration: `POST /register` with an `Idempotency-Key` header.
//!
//! Some MCP clients retry a registration whose answer they never received (a dropped connection,
//! a timeout); without a key each retry creates another client. With one, the server keeps the
//! first answer for `registration.idempotency.window_secs`:
//!
//! * same key, same body: the original status and body again, credentials included;
//! * same key, another body: `422`;
//! * same key while the first request is still running: `409`.
//!
//! Keys are scoped to the caller: the initial access token when one was presented, otherwise the
//! peer address, so one caller cannot replay another's key. The database never holds the key:
//! a record is found by `SHA-256(label ‖ scope ‖ key)`, and the stored answer is sealed with
//! AES-256-GCM under a key derived from the idempotency key by HKDF-SHA-256 (bound to the scope,
//! the record bound as associated data). Reading the database alone therefore reveals no
//! credential; whoever holds the idempotency key and calls from the same scope can read the answer
//! again, which is the point.
//!
//! A record is inserted ("in flight") before the registration runs, under the lookup's primary
//! key, so a concurrent duplicate (on any instance) meets it and gets `409`. The registration
//! then commits, and the record is completed with the sealed answer. If the process dies between
//! the two, the in-flight record expires after `registration.idempotency.in_flight_timeout_secs`
//! and a retry registers anew; the first client, never used, is an ordinary stale client. A
//! refused registration (validation error, refused token) releases the key: it changed nothing,
//! so a retry gets the same refusal by running again.

use std::fmt;
use std::sync::Arc;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::digest::{Context, SHA256};
use ring::hkdf::{Salt, HKDF_SHA256};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::management::PresentedToken;
use super::service::{RegisteredClient, RegistrationService};
use crate::audit::RequestContext;
use crate::clock::Clock;
use crate::credentials::RandomSource;
use crate::error::{RegistrationError, RepositoryError};

/// The request header carrying the key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// Fewest characters in a key.
pub const MIN_IDEMPOTENCY_KEY_CHARS: usize = 16;
/// Most characters in a key.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

const HKDF_SALT: &[u8] = b"authz-server idempotency-key v1";
const LOOKUP_LABEL: &[u8] = b"authz-server idempotency lookup v1\0";

/// An `Idempotency-Key` as sent: 16 to 255 visible ASCII characters. Treated as a secret (it
/// unseals a stored answer): never logged or echoed.
pub struct IdempotencyKey(SecretString);

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdempotencyKey(…)")
    }
}

impl IdempotencyKey {
    /// Checks a header value. The error says what is accepted and the length sent, never the key.
    pub fn parse(raw: &[u8]) -> Result<Self, IdempotencyError> {
        let visible = raw.iter().all(|b| (0x21..=0x7E).contains(b));
        if !visible || !(MIN_IDEMPOTENCY_KEY_CHARS..=MAX_IDEMPOTENCY_KEY_CHARS).contains(&raw.len())
        {
            return Err(IdempotencyError::InvalidKey(format!(
                "{IDEMPOTENCY_KEY_HEADER}: expected {MIN_IDEMPOTENCY_KEY_CHARS} to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters (no spaces), got {} bytes{} (the key is not repeated here: it protects the stored answer)",
                raw.len(),
                if visible { "" } else { " including other characters" }
            )));
        }
        // Checked above: every byte is ASCII.
        Ok(Self(SecretString::from(
            String::from_utf8_lossy(raw).into_owned(),
        )))
    }
}

/// Why an idempotent request was refused.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The header is not a valid key (`400 invalid_request`).
    #[error("{0}")]
    InvalidKey(String),
    /// The key was used with another body (`422`).
    #[error("{IDEMPOTENCY_KEY_HEADER} was already used with a different request body; use a new key for a new registration")]
    Mismatch,
    /// A request with this key is still being processed (`409`).
    #[error("a request with this {IDEMPOTENCY_KEY_HEADER} is still being processed; retry after it completes")]
    InFlight,
    /// Storage failed, or a stored answer could not be unsealed.
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// A stored record, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// SHA-256 of label, scope and key.
    pub lookup: [u8; 32],
    /// SHA-256 of the canonical request body.
    pub fingerprint: [u8; 32],
    /// When the first request arrived (Unix seconds).
    pub created_at: i64,
    /// When the record stops counting: the in-flight deadline, then the end of the window.
    pub expires_at: i64,
    /// The answer's status and sealed body (nonce ‖ ciphertext ‖ tag); `None` while in flight.
    pub response: Option<(u16, Vec<u8>)>,
}

/// Storage of idempotency records.
pub trait IdempotencyStore: Send + Sync + fmt::Debug {
    /// Inserts `record` (in flight) unless a record with its lookup exists that has not expired
    /// at `now`; an expired one is replaced. Returns the existing record when one is in the
    /// way (a concurrent insert that wins counts as existing: returned as in flight).
    fn begin(
        &self,
        record: &IdempotencyRecord,
        now: i64,
    ) -> Result<Option<IdempotencyRecord>, RepositoryError>;

    /// Stores the answer of the in-flight record `lookup` and extends it to `expires_at`.
    fn complete(
        &self,
        lookup: &[u8; 32],
        status: u16,
        sealed: &[u8],
        expires_at: i64,
    ) -> Result<(), RepositoryError>;

    /// Deletes the in-flight record `lookup` (the request changed nothing).
    fn release(&self, lookup: &[u8; 32]) -> Result<(), RepositoryError>;

    /// Deletes up to `limit` records expired at `now`; returns how many.
    fn purge_expired(&self, now: i64, limit: u32) -> Result<u64, RepositoryError>;
}

/// How long answers are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyPolicy {
    /// How long a completed answer is replayed (seconds).
    pub window_secs: u64,
    /// How long an unfinished request holds its key (seconds).
    pub in_flight_timeout_secs: u64,
}

impl Default for IdempotencyPolicy {
    fn default() -> Self {
        Self {
            window_secs: 3_600,
            in_flight_timeout_secs: 60,
        }
    }
}

/// A key held by a request in flight: complete it with the answer, or release it.
pub struct IdempotencyTicket {
    lookup: [u8; 32],
    // Boxed: the expanded AES key schedule is large, and tickets travel in enums.
    key: Box<LessSafeKey>,
}

impl fmt::Debug for IdempotencyTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdempotencyTicket(…)")
    }
}

/// What [`Idempotency::begin`] found.
#[derive(Debug)]
pub enum Begun {
    /// First use of the key: run the request, then complete or release the ticket.
    Fresh(IdempotencyTicket),
    /// The key was used with this body before: answer this again.
    Replay {
        /// The original status.
        status: u16,
        /// The original body.
        body: Vec<u8>,
    },
}

/// Idempotency records over a store.
#[derive(Debug, Clone)]
pub struct Idempotency {
    store: Arc<dyn IdempotencyStore>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn RandomSource>,
    policy: IdempotencyPolicy,
}

fn secs(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Idempotency {
    /// Records in `store`, timed by `clock`, nonces from `rng`.
    pub fn new(
        store: Arc<dyn IdempotencyStore>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn RandomSource>,
        policy: IdempotencyPolicy,
    ) -> Self {
        Self {
            store,
            clock,
            rng,
            policy,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> IdempotencyPolicy {
        self.policy
    }

    /// Claims `key` within `scope` for a request whose body has `fingerprint`, or finds its
    /// earlier answer. [`IdempotencyError::Mismatch`] for another body,
    /// [`IdempotencyError::InFlight`] while the first request runs.
    pub fn begin(
        &self,
        key: &IdempotencyKey,
        scope: &str,
        fingerprint: [u8; 32],
    ) -> Result<Begun, IdempotencyError> {
        let now = self.clock.now();
        let lookup = lookup(key, scope);
        let aead = derive_key(key, scope)?;
        let record = IdempotencyRecord {
            lookup,
            fingerprint,
            created_at: now,
            expires_at: now.saturating_add(secs(self.policy.in_flight_timeout_secs)),
            response: None,
        };
        let Some(existing) = self.store.begin(&record, now)? else {
            return Ok(Begun::Fresh(IdempotencyTicket {
                lookup,
                key: Box::new(aead),
            }));
        };
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            &existing.fingerprint[..],
            &fingerprint[..],
        )) {
            return Err(IdempotencyError::Mismatch);
        }
        let Some((status, sealed)) = existing.response else {
            return Err(IdempotencyError::InFlight);
        };
        let body = open(&aead, &lookup, sealed)?;
        Ok(Begun::Replay { status, body })
    }

    /// Stores the answer to the request holding `ticket`, sealed, for the window.
    pub fn complete(
        &self,
        ticket: IdempotencyTicket,
        status: u16,
        body: &[u8],
    ) -> Result<(), IdempotencyError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|e| RepositoryError::Other(format!("drawing a nonce: {e}")))?;
        let mut sealed = body.to_vec();
        ticket
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&ticket.lookup[..]),
                &mut sealed,
            )
            .map_err(|_| RepositoryError::Other("sealing the idempotent answer".into()))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        let expires_at = self
            .clock
            .now()
            .saturating_add(secs(self.policy.window_secs));
        self.store
            .complete(&ticket.lookup, status, &stored, expires_at)?;
        Ok(())
    }

    /// Frees the key of a request that changed nothing.
    pub fn release(&self, ticket: IdempotencyTicket) -> Result<(), IdempotencyError> {
        Ok(self.store.release(&ticket.lookup)?)
    }

    /// Deletes up to `limit` expired records; returns how many.
    pub fn purge_expired(&self, limit: u32) -> Result<u64, RepositoryError> {
        self.store.purge_expired(self.clock.now(), limit)
    }
}

fn lookup(key: &IdempotencyKey, scope: &str) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    ctx.update(LOOKUP_LABEL);
    ctx.update(&(scope.len() as u64).to_be_bytes());
    ctx.update(scope.as_bytes());
    ctx.update(key.0.expose_secret().as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn derive_key(key: &IdempotencyKey, scope: &str) -> Result<LessSafeKey, RepositoryError> {
    let prk = Salt::new(HKDF_SHA256, HKDF_SALT).extract(key.0.expose_secret().as_bytes());
    let info = [b"registration response\0".as_slice(), scope.as_bytes()];
    let okm = prk
        .expand(&info, &AES_256_GCM)
        .map_err(|_| RepositoryError::Other("deriving the idempotency key".into()))?;
    let unbound: UnboundKey = okm.into();
    Ok(LessSafeKey::new(unbound))
}

fn open(key: &LessSafeKey, lookup: &[u8; 32], sealed: Vec<u8>) -> Result<Vec<u8>, RepositoryError> {
    if sealed.len() < NONCE_LEN {
        return Err(RepositoryError::Other(
            "a stored idempotent answer is truncated".into(),
        ));
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| RepositoryError::Other("a stored idempotent answer is corrupt".into()))?;
    let mut buffer = ciphertext.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(&lookup[..]), &mut buffer)
        .map_err(|_| RepositoryError::Other("a stored idempotent answer does not unseal".into()))?;
    Ok(plain.to_vec())
}

/// SHA-256 of the body in canonical form: members sorted by name at every level, no
/// whitespace, so the same registration sent with its members in another order is the same body.
pub fn fingerprint(body: &Map<String, Value>) -> [u8; 32] {
    fn write(value: &Value, out: &mut Vec<u8>) {
        match value {
            Value::Object(members) => {
                let mut names: Vec<&String> = members.keys().collect();
                names.sort();
                out.push(b'{');
                for (i, name) in names.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(Value::String(name.clone()).to_string().as_bytes());
                    out.push(b':');
                    if let Some(v) = members.get(name) {
                        write(v, out);
                    }
                }
                out.push(b'}');
            }
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(item, out);
                }
                out.push(b']');
            }
            scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
        }
    }
    let mut canonical = Vec::new();
    write(&Value::Object(body.clone()), &mut canonical);
    let digest = ring::digest::digest(&SHA256, &canonical);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// What a registration request came to.
#[derive(Debug)]
pub enum RegistrationOutcome {
    /// A new client; with a ticket when an `Idempotency-Key` was sent: complete it with the
    /// answer ([`RegistrationService::complete_idempotent`]).
    Registered {
        /// The client and its credentials (boxed: a client is large, a replay small).
        client: Box<RegisteredClient>,
        /// The key held for this request.
        ticket: Option<IdempotencyTicket>,
    },
    /// The answer to the first request with this key and body.
    Replayed {
        /// Its status.
        status: u16,
        /// Its body.
        body: Vec<u8>,
    },
}

/// Why a registration request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Refused by registration (metadata, initial access token, storage).
    #[error(transparent)]
    Registration(#[from] RegistrationError),
    /// Refused by the idempotency rules.
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
}

impl RegistrationService {
    /// The same service honouring `Idempotency-Key` with `idempotency`.
    pub fn with_idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = Some(Arc::new(idempotency));
        self
    }

    /// The idempotency records, when enabled (the maintenance thread purges them).
    pub fn idempotency(&self) -> Option<&Idempotency> {
        self.idempotency.as_deref()
    }

    /// A whole `POST /register`: the initial access token first (401 before anything else), then
    /// the idempotency key (replay, 409, 422), then the registration. A refused registration
    /// releases the key.
    ///
    /// `request` is the body (or why it is not a JSON object) and `key` the `Idempotency-Key`
    /// (absent, or why it is not a valid one): both are reported only after the token check.
    pub fn register_request(
        &self,
        request: Result<&Map<String, Value>, RegistrationError>,
        token: PresentedToken,
        key: Result<Option<IdempotencyKey>, IdempotencyError>,
        context: &RequestContext,
    ) -> Result<RegistrationOutcome, RegisterError> {
        let initial_access = match self.initial_access_token(&token, context) {
            Ok(found) => found,
            Err(refused) => return self.replay_after_last_use(refused, &token, request, &key),
        };
        let request = request?;
        let key = key?;
        let ticket = match (key.as_ref(), self.idempotency()) {
            (Some(key), Some(idempotency)) => {
                let scope = match &initial_access {
                    Some(t) => format!("initial_access_token:{}", t.id),
                    None => format!("peer:{}", context.remote_addr.as_deref().unwrap_or("")),
                };
                match idempotency.begin(key, &scope, fingerprint(request))? {
                    Begun::Replay { status, body } => {
                        return Ok(RegistrationOutcome::Replayed { status, body })
                    }
                    Begun::Fresh(ticket) => Some(ticket),
                }
            }
            _ => None,
        };
        match self.register_with(request, initial_access.as_ref(), context) {
            Ok(client) => Ok(RegistrationOutcome::Registered {
                client: Box::new(client),
                ticket,
            }),
            Err(e) => {
                if let (Some(ticket), Some(idempotency)) = (ticket, self.idempotency()) {
                    // If this fails the key stays held until its in-flight timeout: a retry then
                    // gets 409 for a while, never a second client.
                    let _ = idempotency.release(ticket);
                }
                Err(e.into())
            }
        }
    }

    /// A registration refused because its initial access token is used up may be the retry of
    /// the one that spent the last use, whose answer was lost: with the same `Idempotency-Key`
    /// and body it gets that stored answer; anything else gets the original refusal. Nothing is
    /// left held: a fresh in-flight row is released at once.
    fn replay_after_last_use(
        &self,
        refused: RegistrationError,
        token: &PresentedToken,
        request: Result<&Map<String, Value>, RegistrationError>,
        key: &Result<Option<IdempotencyKey>, IdempotencyError>,
    ) -> Result<RegistrationOutcome, RegisterError> {
        let (Ok(request), Ok(Some(key)), Some(idempotency)) = (request, key, self.idempotency())
        else {
            return Err(refused.into());
        };
        let Some(token_id) = self.used_up_initial_access_token(token) else {
            return Err(refused.into());
        };
        let scope = format!("initial_access_token:{token_id}");
        match idempotency.begin(key, &scope, fingerprint(request))? {
            Begun::Replay { status, body } => Ok(RegistrationOutcome::Replayed { status, body }),
            Begun::Fresh(ticket) => {
                let _ = idempotency.release(ticket);
                Err(refused.into())
            }
        }
    }

    /// Stores the answer to an idempotent registration. If it fails, the key stays in flight
    /// until its timeout (a retry gets 409, then registers anew).
    pub fn complete_idempotent(
        &self,
        ticket: IdempotencyTicket,
        status: u16,
        body: &[u8],
    ) -> Result<(), IdempotencyError> {
        match self.idempotency() {
            Some(idempotency) => idempotency.complete(ticket, status, body),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::credentials::SystemRandomSource;
    use std::collections::HashMap;
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct Memory(Mutex<HashMap<[u8; 32], IdempotencyRecord>>);

    impl IdempotencyStore for Memory {
        fn begin(
            &self,
            record: &IdempotencyRecord,
            now: i64,
        ) -> Result<Option<IdempotencyRecord>, RepositoryError> {
            let mut m = self.0.lock().expect("lock");
            match m.get(&record.lookup) {
                Some(existing) if existing.expires_at > now => Ok(Some(existing.clone())),
                _ => {
                    m.insert(record.lookup, record.clone());
                    Ok(None)
                }
            }
        }
        fn complete(
            &self,
            lookup: &[u8; 32],
            status: u16,
            sealed: &[u8],
            expires_at: i64,
        ) -> Result<(), RepositoryError> {
            let mut m = self.0.lock().expect("lock");
            let r = m.get_mut(lookup).expect("in flight");
            r.response = Some((status, sealed.to_vec()));
            r.expires_at = expires_at;
            Ok(())
        }
        fn release(&self, lookup: &[u8; 32]) -> Result<(), RepositoryError> {
            self.0.lock().expect("lock").remove(lookup);
            Ok(())
        }
        fn purge_expired(&self, now: i64, _: u32) -> Result<u64, RepositoryError> {
            let mut m = self.0.lock().expect("lock");
            let before = m.len();
            m.retain(|_, r| r.expires_at > now);
            Ok((before - m.len()) as u64)
        }
    }

    fn key(s: &str) -> IdempotencyKey {
        IdempotencyKey::parse(s.as_bytes()).expect("valid key")
    }

    #[test]
    fn keys_are_16_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse(b"0123456789abcdef").is_ok());
        assert!(IdempotencyKey::parse(&[b'x'; 255]).is_ok());
        for bad in [
            &b"0123456789abcde"[..],
            &[b'x'; 256][..],
            b"0123456789 abcdef",
            "0123456789abcdéf".as_bytes(),
            b"0123456789abcdef\t",
        ] {
            let err = IdempotencyKey::parse(bad).expect_err("refused").to_string();
            assert!(err.contains("16 to 255 visible ASCII"), "{err}");
            assert!(!err.contains("0123456789"), "never echoes the key: {err}");
        }
    }

    #[test]
    fn fingerprints_ignore_member_order_but_not_values() {
        let a: Value = serde_json::json!({"a": 1, "b": {"y": [1, 2], "x": "s"}});
        let b: Value = serde_json::json!({"b": {"x": "s", "y": [1, 2]}, "a": 1});
        let c: Value = serde_json::json!({"b": {"x": "s", "y": [2, 1]}, "a": 1});
        let fp = |v: &Value| fingerprint(v.as_object().expect("object"));
        assert_eq!(fp(&a), fp(&b));
        assert_ne!(fp(&a), fp(&c));
    }

    #[test]
    fn replays_unseal_only_with_the_same_key_and_scope_and_expire() {
        let store = Arc::new(Memory::default());
        let clock = Arc::new(ManualClock::new(1_000));
        let idem = Idempotency::new(
            store.clone(),
            clock.clone(),
            Arc::new(SystemRandomSource::new()),
            IdempotencyPolicy {
                window_secs: 600,
                in_flight_timeout_secs: 30,
            },
        );
        let k = key("key-0123456789abcdef");
        let Begun::Fresh(ticket) = idem.begin(&k, "ip:1", [1; 32]).expect("fresh") else {
            panic!("first use is fresh")
        };
        assert!(matches!(
            idem.begin(&k, "ip:1", [1; 32]),
            Err(IdempotencyError::InFlight)
        ));
        assert!(matches!(
            idem.begin(&k, "ip:1", [2; 32]),
            Err(IdempotencyError::Mismatch)
        ));
        idem.complete(ticket, 201, b"{\"client_secret\":\"s3cret\"}")
            .expect("stored");
        let stored = store
            .0
            .lock()
            .expect("lock")
            .values()
            .next()
            .cloned()
            .expect("row");
        let (_, sealed) = stored.response.expect("completed");
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"), "sealed at rest");
        match idem.begin(&k, "ip:1", [1; 32]).expect("replay") {
            Begun::Replay { status, body } => {
                assert_eq!(status, 201);
                assert_eq!(body, b"{\"client_secret\":\"s3cret\"}");
            }
            Begun::Fresh(_) => panic!("a replay"),
        }
        // Another caller's scope is another record.
        assert!(matches!(
            idem.begin(&k, "ip:2", [1; 32]),
            Ok(Begun::Fresh(_))
        ));
        // After the window the key is new again, and purged.
        clock.advance(601);
        assert!(idem.purge_expired(100).expect("purged") >= 1);
        assert!(matches!(
            idem.begin(&k, "ip:1", [2; 32]),
            Ok(Begun::Fresh(_))
        ));
    }

    #[test]
    fn an_abandoned_in_flight_key_frees_itself() {
        let store = Arc::new(Memory::default());
        let clock = Arc::new(ManualClock::new(1_000));
        let idem = Idempotency::new(
            store,
            clock.clone(),
            Arc::new(SystemRandomSource::new()),
            IdempotencyPolicy {
                window_secs: 600,
                in_flight_timeout_secs: 30,
            },
        );
        let k = key("crashed-request-key-1");
        let _lost = idem.begin(&k, "s", [1; 32]).expect("fresh");
        clock.advance(29);
        assert!(matches!(
            idem.begin(&k, "s", [1; 32]),
            Err(IdempotencyError::InFlight)
        ));
        clock.advance(1);
        assert!(matches!(idem.begin(&k, "s", [1; 32]), Ok(Begun::Fresh(_))));
    }
}

//! Client self-management (RFC 7592): read, update and delete a registration with its
//! registration access token.
//!
//! Every refusal of a token uses the same message, and the token is checked before anything about
//! the client in the URL is looked at, so a caller without the client's token cannot tell whether
//! that client exists. Every call, allowed or refused, leaves an audit record (never the token).

use std::collections::BTreeSet;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::audit::{AuditAction, AuditEvent, RequestContext};
use crate::clients::{json_type, substitution_detail, ClientMetadata, Substitution};
use crate::clients::{Client, TokenRotation};
use crate::credentials::TokenDigest;
use crate::error::{RegistrationError, RepositoryError};
use crate::registration::{RegisteredClient, RegistrationService};

/// The answer to every unusable token.
pub const INVALID_TOKEN_MESSAGE: &str =
    "the registration access token is invalid, expired or revoked, or does not belong to this client";
/// The answer when no token was sent.
pub const MISSING_TOKEN_MESSAGE: &str =
    "this endpoint requires Authorization: Bearer <registration_access_token>";

/// Members a client may not send in an update: the server sets them (RFC 7592 §2.2).
pub(crate) const SERVER_SET_MEMBERS: &[&str] = &[
    "registration_access_token",
    "registration_client_uri",
    "client_id_issued_at",
    "client_secret_expires_at",
];

/// The credentials a management request presented, as the HTTP layer read them.
#[derive(Debug)]
pub enum PresentedToken {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header that is not exactly one well-formed Bearer token; the reason is
    /// for the audit trail only.
    Malformed(&'static str),
    /// A Bearer token.
    Bearer(SecretString),
}

struct Authenticated {
    client: Client,
    digest: TokenDigest,
    presented: SecretString,
}

impl RegistrationService {
    /// Reads a registration (RFC 7592 §2.1). The secret is never shown again; the token shown is
    /// the one presented, or a new one when the policy rotates on read.
    pub fn read(
        &self,
        client_id: &str,
        token: PresentedToken,
        context: &RequestContext,
    ) -> Result<RegisteredClient, RegistrationError> {
        self.read_rotating(client_id, token, context, true)
    }

    /// Reads a registration for a `HEAD` request (RFC 9110 §9.3.2: safe, its answer is never
    /// seen): the same checks and audit record as [`Self::read`], but the registration access
    /// token is never rotated, since a rotated token the client cannot see would lock it out.
    pub fn read_without_rotation(
        &self,
        client_id: &str,
        token: PresentedToken,
        context: &RequestContext,
    ) -> Result<RegisteredClient, RegistrationError> {
        self.read_rotating(client_id, token, context, false)
    }

    fn read_rotating(
        &self,
        client_id: &str,
        token: PresentedToken,
        context: &RequestContext,
        may_rotate: bool,
    ) -> Result<RegisteredClient, RegistrationError> {
        let now = self.clock.now();
        let action = AuditAction::ClientRead;
        for _ in 0..STALE_RETRIES {
            let auth = self.authenticate(client_id, &token, action, context, now)?;
            let event = AuditEvent::new(now, action, "client", context).client(client_id);
            if !(may_rotate && self.policy.credentials.rotate_registration_token_on_read) {
                self.audit.record(event)?;
                return Ok(RegisteredClient {
                    client: auth.client,
                    client_secret: None,
                    registration_access_token: auth.presented,
                });
            }
            let (rotation, fresh) = self.rotation(&auth, now)?;
            let event = event.detail("registration access token rotated");
            match self
                .repo
                .update(&auth.client, Some(&auth.digest), Some(&rotation), &event)
            {
                Ok(()) => {
                    return Ok(RegisteredClient {
                        client: Client {
                            revision: auth.client.revision + 1,
                            ..auth.client
                        },
                        client_secret: None,
                        registration_access_token: fresh,
                    })
                }
                Err(RepositoryError::Stale(_)) => continue,
                Err(e) => return Err(self.lost_race(e, action, client_id, context, now)),
            }
        }
        Err(kept_changing())
    }

    /// Replaces a registration (RFC 7592 §2.2): every member not sent is removed or reset to its
    /// default, under the same rules as registration.
    ///
    /// `request` is the body's members, or why the body could not be read as a JSON object: that
    /// error is reported only after the token has been checked, so an unauthenticated caller never
    /// learns more than "unauthorized".
    pub fn update(
        &self,
        client_id: &str,
        token: PresentedToken,
        request: Result<&Map<String, Value>, RegistrationError>,
        context: &RequestContext,
    ) -> Result<RegisteredClient, RegistrationError> {
        let now = self.clock.now();
        let action = AuditAction::ClientUpdated;
        let mut auth = self.authenticate(client_id, &token, action, context, now)?;
        self.refuse_if_locked(&auth.client, action, context, now)?;
        let request = match request {
            Ok(members) => members,
            Err(e) => return Err(self.refused_update(e, client_id, context, now)),
        };
        for _ in 0..STALE_RETRIES {
            if let Some(done) = self.try_update(auth, request, context, now)? {
                return Ok(done);
            }
            // Someone else changed the client since we read it: start again from its new state
            // (and from the token's: a concurrent rotation makes this one fail here).
            auth = self.authenticate(client_id, &token, action, context, now)?;
            self.refuse_if_locked(&auth.client, action, context, now)?;
        }
        Err(kept_changing())
    }

    /// One read-modify-write attempt of an update; `None` if the client changed meanwhile.
    fn try_update(
        &self,
        auth: Authenticated,
        request: &Map<String, Value>,
        context: &RequestContext,
        now: i64,
    ) -> Result<Option<RegisteredClient>, RegistrationError> {
        let action = AuditAction::ClientUpdated;
        let client_id = auth.client.client_id.clone();
        let ((updated, new_secret, changed), substitutions) =
            match self.replace(&auth, request, now) {
                Ok(ok) => ok,
                Err(e) => return Err(self.refused_update(e, &client_id, context, now)),
            };
        let rotation = if self.policy.credentials.rotate_registration_token_on_update {
            Some(self.rotation(&auth, now)?)
        } else {
            None
        };
        let mut detail = change_detail(changed, new_secret.is_some());
        detail.push_str(&substitution_detail(&substitutions));
        if rotation.is_some() {
            detail.push_str("; registration access token rotated");
        }
        let event = AuditEvent::new(now, action, "client", context)
            .client(&client_id)
            .detail(detail);
        match self.repo.update(
            &updated,
            Some(&auth.digest),
            rotation.as_ref().map(|(r, _)| r),
            &event,
        ) {
            Ok(()) => Ok(Some(RegisteredClient {
                client: Client {
                    revision: updated.revision + 1,
                    ..updated
                },
                client_secret: new_secret,
                registration_access_token: rotation.map_or(auth.presented, |(_, fresh)| fresh),
            })),
            Err(RepositoryError::Stale(_)) => Ok(None),
            Err(e) => Err(self.lost_race(e, action, &client_id, context, now)),
        }
    }

    /// Records a refused update (client errors only) and hands the error back.
    fn refused_update(
        &self,
        e: RegistrationError,
        client_id: &str,
        context: &RequestContext,
        now: i64,
    ) -> RegistrationError {
        if !e.is_client_error() {
            return e;
        }
        let reason = format!("{}: {e}", e.code().as_str());
        match self.audit.record(
            AuditEvent::new(now, AuditAction::ClientUpdated, "client", context)
                .client(client_id)
                .refused(&reason),
        ) {
            Ok(()) => e,
            Err(storage) => storage.into(),
        }
    }

    /// Deletes a registration (RFC 7592 §2.3): afterwards its id, secret and tokens are all dead,
    /// and the id is never issued again.
    pub fn delete(
        &self,
        client_id: &str,
        token: PresentedToken,
        context: &RequestContext,
    ) -> Result<(), RegistrationError> {
        let now = self.clock.now();
        let action = AuditAction::ClientDeleted;
        for _ in 0..STALE_RETRIES {
            let auth = self.authenticate(client_id, &token, action, context, now)?;
            self.refuse_if_locked(&auth.client, action, context, now)?;
            let event = AuditEvent::new(now, action, "client", context).client(client_id);
            match self.repo.delete(client_id, Some(&auth.digest), &event) {
                // Locked meanwhile: the next round sees the lock and refuses.
                Err(RepositoryError::Stale(_)) => continue,
                other => {
                    return other.map_err(|e| self.lost_race(e, action, client_id, context, now))
                }
            }
        }
        Err(kept_changing())
    }

    /// Checks the token before anything else; records every refusal.
    fn authenticate(
        &self,
        client_id: &str,
        token: &PresentedToken,
        action: AuditAction,
        context: &RequestContext,
        now: i64,
    ) -> Result<Authenticated, RegistrationError> {
        let refuse = |reason: &str| -> Result<RegistrationError, RegistrationError> {
            self.audit.record(
                AuditEvent::new(now, action, "anonymous", context)
                    .client(client_id)
                    .refused(reason),
            )?;
            Ok(RegistrationError::InvalidToken(
                INVALID_TOKEN_MESSAGE.into(),
            ))
        };
        let presented = match token {
            PresentedToken::Missing => {
                self.audit.record(
                    AuditEvent::new(now, action, "anonymous", context)
                        .client(client_id)
                        .refused("no token"),
                )?;
                return Err(RegistrationError::MissingToken(
                    MISSING_TOKEN_MESSAGE.into(),
                ));
            }
            PresentedToken::Malformed(why) => {
                return Err(refuse(&format!("malformed token: {why}"))?)
            }
            PresentedToken::Bearer(t) => t.clone(),
        };
        let digest = TokenDigest::of(presented.expose_secret());
        let Some(found) = self.repo.find_by_token(&digest)? else {
            return Err(refuse("unknown token")?);
        };
        if !found.token.digest.ct_eq(&digest) {
            return Err(refuse("unknown token")?);
        }
        if found.revoked_at.is_some() {
            return Err(refuse("revoked token")?);
        }
        let Some(client) = found.client else {
            // The token outlived its client: revoke it at once, whatever URL it was presented on.
            let event = AuditEvent::new(now, AuditAction::TokenRevoked, "system", context)
                .client(&found.token.client_id)
                .detail("the token's client no longer exists");
            self.repo.revoke_token(&digest, &event)?;
            return Err(refuse("client no longer exists")?);
        };
        if found.token.expires_at.is_some_and(|at| at <= now) {
            return Err(refuse("expired token")?);
        }
        if found.token.client_id != client_id {
            return Err(refuse(&format!(
                "token of another client ({})",
                found.token.client_id
            ))?);
        }
        self.note_use(client_id);
        Ok(Authenticated {
            client,
            digest,
            presented,
        })
    }

    fn refuse_if_locked(
        &self,
        client: &Client,
        action: AuditAction,
        context: &RequestContext,
        now: i64,
    ) -> Result<(), RegistrationError> {
        if !client.is_locked {
            return Ok(());
        }
        self.audit.record(
            AuditEvent::new(now, action, "client", context)
                .client(&client.client_id)
                .refused("self-management locked by an administrator"),
        )?;
        Err(RegistrationError::AccessDenied(
            "an administrator has locked this client's registration; it cannot be changed or deleted with its registration access token".into(),
        ))
    }

    /// The replacement client for an update request, the secret issued (if any) and the names of
    /// the members that changed.
    fn replace(
        &self,
        auth: &Authenticated,
        request: &Map<String, Value>,
        now: i64,
    ) -> Result<(Replaced, Vec<Substitution>), RegistrationError> {
        let current = &auth.client;
        match request.get("client_id") {
            Some(Value::String(id)) if id == &current.client_id => {}
            Some(Value::String(_)) => {
                return Err(RegistrationError::InvalidRequest(
                    "client_id: must equal the client id in the URL".into(),
                ))
            }
            None | Some(Value::Null) => {
                return Err(RegistrationError::InvalidRequest(
                    "client_id: required in an update, equal to the client id in the URL (RFC 7592 §2.2)".into(),
                ))
            }
            Some(other) => {
                return Err(RegistrationError::InvalidRequest(format!(
                    "client_id: expected a string, got {}",
                    json_type(other)
                )))
            }
        }
        if let Some(member) = SERVER_SET_MEMBERS
            .iter()
            .find(|m| request.contains_key(**m))
        {
            return Err(RegistrationError::InvalidRequest(format!(
                "{member}: must not be sent in an update; the server sets it (RFC 7592 §2.2)"
            )));
        }
        match request.get("client_secret") {
            None | Some(Value::Null) => {}
            Some(Value::String(sent)) => match &current.secret_hash {
                Some(_) if current.verify_secret(sent, now, self.credentials.hasher()) => {}
                Some(_) => {
                    return Err(RegistrationError::InvalidRequest(
                        "client_secret: does not match the current client secret".into(),
                    ))
                }
                None => {
                    return Err(RegistrationError::InvalidRequest(
                        "client_secret: this client has no secret; omit the member".into(),
                    ))
                }
            },
            Some(other) => {
                return Err(RegistrationError::InvalidRequest(format!(
                    "client_secret: expected a string, got {}",
                    json_type(other)
                )))
            }
        }
        // Substitution applies to a replacement exactly as to a registration: the 200 response
        // carries the registered values.
        let parsed = ClientMetadata::parse_request_at(request, &self.policy, now)?;
        Ok((
            self.replaced(current, parsed.metadata, now)?,
            parsed.substitutions,
        ))
    }

    /// `current` with its metadata replaced by `metadata` at `now`: its secret is kept while it
    /// stays confidential, issued when it becomes confidential (returned, to show once) and
    /// dropped when it becomes public. Also returns the names of the members that changed.
    pub(crate) fn replaced(
        &self,
        current: &Client,
        metadata: ClientMetadata,
        now: i64,
    ) -> Result<(Client, Option<SecretString>, BTreeSet<String>), RegistrationError> {
        let (secret_hash, secret_expires_at, issued, previous_secret) =
            match (metadata.is_confidential(), &current.secret_hash) {
                (true, Some(hash)) => (
                    Some(hash.clone()),
                    current.secret_expires_at,
                    None,
                    current.previous_secret.clone(),
                ),
                (true, None) => {
                    let secret = self.credentials.client_secret()?;
                    (
                        Some(secret.hash),
                        self.secret_expiry(true, now),
                        Some(secret.plaintext),
                        None,
                    )
                }
                (false, _) => (None, 0, None, None),
            };
        let changed = changed_members(&current.metadata, &metadata);
        let updated = Client {
            metadata,
            secret_hash,
            secret_expires_at,
            previous_secret,
            updated_at: now,
            ..current.clone()
        };
        Ok((updated, issued, changed))
    }

    fn rotation(
        &self,
        auth: &Authenticated,
        now: i64,
    ) -> Result<(TokenRotation, SecretString), RegistrationError> {
        let fresh = self.credentials.registration_access_token()?;
        let rotation = TokenRotation {
            revoke: auth.digest,
            issue: self.token_record(&fresh, &auth.client.client_id, now),
        };
        Ok((rotation, fresh.plaintext))
    }

    /// A change that lost a race (the client was deleted, or the presented token was rotated by a
    /// concurrent update) is refused like any other unusable token.
    fn lost_race(
        &self,
        e: RepositoryError,
        action: AuditAction,
        client_id: &str,
        context: &RequestContext,
        now: i64,
    ) -> RegistrationError {
        match e {
            RepositoryError::NotFound(_) | RepositoryError::Conflict(_) => {
                let reason = if matches!(e, RepositoryError::NotFound(_)) {
                    "client deleted concurrently"
                } else {
                    "token revoked by a concurrent change"
                };
                match self.audit.record(
                    AuditEvent::new(now, action, "client", context)
                        .client(client_id)
                        .refused(reason),
                ) {
                    Ok(()) => RegistrationError::InvalidToken(INVALID_TOKEN_MESSAGE.into()),
                    Err(storage) => storage.into(),
                }
            }
            other => other.into(),
        }
    }
}

/// A replaced client, the secret issued by the replacement (shown once), and the members changed.
type Replaced = (Client, Option<SecretString>, BTreeSet<String>);

/// Attempts at a read-modify-write before giving up on a client that keeps changing.
pub(crate) const STALE_RETRIES: usize = 5;

/// The audit detail of a replacement: the members that changed, and whether a secret was issued.
pub(crate) fn change_detail(changed: BTreeSet<String>, secret_issued: bool) -> String {
    let mut detail = if changed.is_empty() {
        "nothing changed".to_owned()
    } else {
        format!(
            "changed: {}",
            changed.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    if secret_issued {
        detail.push_str("; client secret issued");
    }
    detail
}

/// A read-modify-write that kept losing to concurrent changes; nothing was written.
pub(crate) fn kept_changing() -> RegistrationError {
    RegistrationError::Conflict(
        "the registration kept changing while this request was applied; nothing was written, retry"
            .into(),
    )
}

/// Top-level members whose registered value differs.
pub(crate) fn changed_members(before: &ClientMetadata, after: &ClientMetadata) -> BTreeSet<String> {
    let (a, b) = (before.to_wire(), after.to_wire());
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

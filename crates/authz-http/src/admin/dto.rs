//! Bodies of the administration API, documented for OpenAPI.

use authz_domain::administration::{
    AuditPage, ClientDetails, ClientPage, ClientQuery, StoredAuditEvent,
};
use authz_domain::clients::{Client, ClientOrigin, ClientSettings};
use paperclip::actix::Apiv2Schema;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::dto::{registration_client_uri, ClientRegistrationRequest, WireMetadata};

/// Per-client settings kept for token issuance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
pub struct ClientSettingsBody {
    /// Ask the user to consent before authorizing this client. Default `true`.
    pub require_consent: bool,
    /// Access token lifetime in seconds, 60 to 86400. Default 3600.
    pub access_token_lifetime_secs: u64,
    /// Refresh token lifetime in seconds: `0` (no expiry) or from the access token lifetime up to
    /// 31622400 (366 days). Default 2592000 (30 days).
    pub refresh_token_lifetime_secs: u64,
    /// Issue a new refresh token on every use and invalidate the old one. Default `true`.
    /// Public clients always rotate.
    pub rotate_refresh_tokens: bool,
    /// The client may call `/introspect` (RFC 7662): a resource server. Needs a confidential
    /// client. Default `false`.
    pub allow_introspection: bool,
}

impl From<ClientSettings> for ClientSettingsBody {
    fn from(s: ClientSettings) -> Self {
        Self {
            require_consent: s.require_consent,
            access_token_lifetime_secs: s.access_token_lifetime_secs,
            refresh_token_lifetime_secs: s.refresh_token_lifetime_secs,
            rotate_refresh_tokens: s.rotate_refresh_tokens,
            allow_introspection: s.allow_introspection,
        }
    }
}

/// A client as an administrator sees it. Never carries a secret or a token.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct AdminClient {
    /// The client identifier.
    pub client_id: String,
    /// When the identifier was issued (Unix seconds).
    pub client_id_issued_at: i64,
    /// When the registration last changed (Unix seconds).
    pub updated_at: i64,
    /// How the client was created: `dynamic` (RFC 7591 registration) or `admin`.
    pub origin: String,
    /// Whether an administrator locked its self-management (its own `PUT`/`DELETE` get 403).
    pub locked: bool,
    /// Whether the client holds a secret (confidential client).
    pub has_secret: bool,
    /// Present when the client has a secret: when it expires (Unix seconds), `0` for never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// After a rotation with a grace period: until when the previous secret still verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<i64>,
    /// When the client last used its registration access token successfully (Unix seconds).
    /// Only in single-client responses; absent if never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    /// Where the client manages its own registration (RFC 7592).
    pub registration_client_uri: String,
    /// Per-client settings.
    pub settings: ClientSettingsBody,
    /// The registered metadata (RFC 7591 members).
    pub metadata: WireMetadata,
}

impl AdminClient {
    /// The view of `client`.
    pub fn new(client: &Client, last_used_at: Option<i64>, public_base_url: &str) -> Self {
        Self {
            client_id: client.client_id.clone(),
            client_id_issued_at: client.issued_at,
            updated_at: client.updated_at,
            origin: match client.origin {
                ClientOrigin::Dynamic => "dynamic",
                ClientOrigin::Admin => "admin",
            }
            .into(),
            locked: client.is_locked,
            has_secret: client.secret_hash.is_some(),
            client_secret_expires_at: client
                .secret_hash
                .as_ref()
                .map(|_| client.secret_expires_at),
            previous_secret_valid_until: client.previous_secret.as_ref().map(|p| p.valid_until),
            last_used_at,
            registration_client_uri: registration_client_uri(public_base_url, &client.client_id),
            settings: client.settings.into(),
            metadata: WireMetadata::from(&client.metadata),
        }
    }

    /// The view of `details`, with its last use.
    pub fn detailed(details: &ClientDetails, public_base_url: &str) -> Self {
        Self::new(&details.client, details.last_used_at, public_base_url)
    }
}

/// A page of clients.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct ClientList {
    /// The clients on this page.
    pub clients: Vec<AdminClient>,
    /// How many clients match in all.
    pub total: u64,
    /// This page's number, from 1.
    pub page: u64,
    /// The page size.
    pub per_page: u64,
    /// The order: `-issued_at`, `issued_at`, `client_id` or `-client_id`.
    pub sort: String,
}

impl ClientList {
    /// The body for `page` of `query`.
    pub fn new(query: &ClientQuery, page: &ClientPage, public_base_url: &str) -> Self {
        Self {
            clients: page
                .clients
                .iter()
                .map(|c| AdminClient::new(c, None, public_base_url))
                .collect(),
            total: page.total,
            page: query.page,
            per_page: query.per_page,
            sort: query.sort.as_str().into(),
        }
    }
}

/// Query parameters of `GET /admin/clients`.
#[derive(Debug, Clone, Default, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ClientListQuery {
    /// Search term: matches client ids and client names (also language-tagged ones) containing
    /// it, case-insensitively in any language; `%`, `_` and `\` are ordinary characters. At most
    /// 200 characters, no control characters.
    pub q: Option<String>,
    /// Page number, 1 to 1000000. Default 1.
    pub page: Option<String>,
    /// Page size, 1 to `admin.max_per_page` (100 by default). Default `admin.default_per_page` (20).
    pub per_page: Option<String>,
    /// `-issued_at` (newest first, the default), `issued_at`, `client_id` or `-client_id`. Ties
    /// are broken by client id, so pages never overlap.
    pub sort: Option<String>,
}

/// Query parameters of `GET /admin/audit-events`.
#[derive(Debug, Clone, Default, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct AuditEventsQuery {
    /// Only events about this client.
    pub client_id: Option<String>,
    /// Only events of this action: `client.registered`, `client.read`, `client.updated`,
    /// `client.deleted`, `client.locked`, `client.unlocked`, `token.revoked`, `client.created`,
    /// `client.secret_rotated`, `client.token_reissued`, `admin_token.created`,
    /// `admin_token.revoked`, `admin.denied`.
    pub action: Option<String>,
    /// Only events at or after this time: Unix seconds or RFC 3339 (`2026-11-23T12:00:00Z`).
    pub since: Option<String>,
    /// Only events before this time: Unix seconds or RFC 3339.
    pub until: Option<String>,
    /// Page number, 1 to 1000000. Default 1.
    pub page: Option<String>,
    /// Page size, 1 to `admin.max_per_page`. Default `admin.default_per_page`.
    pub per_page: Option<String>,
}

/// A client creation request: RFC 7591 metadata (under the administrator policy), plus an
/// optional `client_id` and `settings`. `client_secret` and the other server-set members must not
/// be sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Apiv2Schema)]
pub struct AdminClientRequest {
    /// Create: the client id to use instead of a generated one, 1 to 128 of `A-Z a-z 0-9 - . _ ~`;
    /// never one that exists or existed. Replace: optional, equal to the id in the URL.
    pub client_id: Option<String>,
    /// Per-client settings; members not sent take their defaults. On replace, omitting `settings`
    /// keeps the current ones.
    pub settings: Option<ClientSettingsBody>,
    /// The metadata, as in a registration request.
    #[serde(flatten)]
    pub metadata: ClientRegistrationRequest,
}

/// A created client with its credentials, shown only here.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct AdminCreatedClient {
    /// The client.
    pub client: AdminClient,
    /// The client secret (confidential clients only), shown only in this response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// A registration access token for the client's own `registration_client_uri`.
    pub registration_access_token: String,
}

/// A replaced client; carries a secret only when one was just issued.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct AdminReplacedClient {
    /// The client.
    pub client: AdminClient,
    /// Issued because the client became confidential; shown only in this response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// `POST /admin/clients/{client_id}/secret` body (optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize, Apiv2Schema)]
pub struct SecretRotationRequest {
    /// Seconds the old secret keeps verifying, 0 (the default: it stops at once) to
    /// `admin.max_secret_grace_period_secs`.
    pub grace_period_secs: Option<u64>,
}

/// A new client secret, shown only here.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct RotatedSecretBody {
    /// The client.
    pub client_id: String,
    /// The new secret.
    pub client_secret: String,
    /// When it expires (Unix seconds), `0` for never.
    pub client_secret_expires_at: i64,
    /// Until when the previous secret still verifies; absent when it stopped at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<i64>,
}

impl RotatedSecretBody {
    /// The body for a rotation of `client` to `secret`.
    pub fn new(client: &Client, secret: &SecretString) -> Self {
        Self {
            client_id: client.client_id.clone(),
            client_secret: secret.expose_secret().to_owned(),
            client_secret_expires_at: client.secret_expires_at,
            previous_secret_valid_until: client.previous_secret.as_ref().map(|p| p.valid_until),
        }
    }
}

/// A new registration access token, shown only here; every other one of the client is revoked.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct ReissuedTokenBody {
    /// The client.
    pub client_id: String,
    /// The new token.
    pub registration_access_token: String,
    /// Where the client manages its registration with it.
    pub registration_client_uri: String,
    /// When it expires (Unix seconds); absent for never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// One audit record. Never holds a secret or a token.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct AuditEventBody {
    /// Position in the trail; grows with time.
    pub id: i64,
    /// When (Unix seconds).
    pub occurred_at: i64,
    /// What: `client.updated`, `admin.denied`, ….
    pub action: String,
    /// Allowed (`true`) or refused (`false`).
    pub succeeded: bool,
    /// Which client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Who: `client` (its registration access token), `anonymous`, `system`, `cli`, or
    /// `admin:NAME` (an administrator token's name).
    pub actor: String,
    /// Why it was refused, or what changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The peer address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_addr: Option<String>,
    /// The `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The request id (also in the server log and the `x-request-id` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// How many refusals this record stands for: 1, or more when repeated refusals of one kind
    /// from one source within `audit.aggregate_window_secs` were counted into it (the record is
    /// the last of them).
    pub repeat_count: i64,
}

impl From<StoredAuditEvent> for AuditEventBody {
    fn from(e: StoredAuditEvent) -> Self {
        Self {
            id: e.id,
            occurred_at: e.occurred_at,
            action: e.action,
            succeeded: e.succeeded,
            client_id: e.client_id,
            actor: e.actor,
            detail: e.detail,
            remote_addr: e.remote_addr,
            user_agent: e.user_agent,
            request_id: e.request_id,
            repeat_count: e.repeat_count,
        }
    }
}

/// A page of the audit trail, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct AuditEventList {
    /// The events on this page.
    pub events: Vec<AuditEventBody>,
    /// This page's number, from 1.
    pub page: u64,
    /// The page size.
    pub per_page: u64,
    /// Whether the next page has events.
    pub has_more: bool,
}

impl AuditEventList {
    /// The body for `page`.
    pub fn new(page_number: u64, per_page: u64, page: AuditPage) -> Self {
        Self {
            events: page.events.into_iter().map(Into::into).collect(),
            page: page_number,
            per_page,
            has_more: page.has_more,
        }
    }
}

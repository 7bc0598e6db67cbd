//! Administration of registered clients: administrator tokens and their scopes, paged search,
//! creation under an administrator policy, replacement, deletion, secret rotation with a grace
//! period, token reissue, locking, and reading the audit trail.
//!
//! Every operation takes the presented administrator token and checks it (and the scope the
//! operation needs) before anything else; every change is recorded in the audit trail as
//! `admin:NAME`, in the change's own transaction.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::ports::{AdminTokenRepository, ClientAdministration, ClientGrants};
use crate::audit::{AuditAction, AuditEvent, RequestContext};
use crate::clients::RegistrationPolicy;
use crate::clients::{json_type, substitution_detail, ClientMetadata};
use crate::clients::{search_key, Client, ClientOrigin, ClientSettings, PreviousSecret};
use crate::credentials::TokenDigest;
use crate::error::{RegistrationError, RepositoryError};
use crate::registration::{
    change_detail, kept_changing, PresentedToken, SERVER_SET_MEMBERS as SELF_SERVER_SET_MEMBERS,
    STALE_RETRIES,
};
use crate::registration::{RegisteredClient, RegistrationService};
use crate::users::{UserQuery, MAX_USERS_PER_PAGE};
use crate::values::{truncate, GrantType};

/// Administrator tokens start with this, so a leaked one is recognisable.
pub const ADMIN_TOKEN_PREFIX: &str = "adm_";
/// The answer to every unusable administrator token.
pub const ADMIN_INVALID_TOKEN_MESSAGE: &str =
    "the administrator token is invalid, expired or revoked";
/// The answer when no token was sent to the administration API.
pub const ADMIN_MISSING_TOKEN_MESSAGE: &str =
    "the administration API requires Authorization: Bearer <administrator token>";
/// The highest page number accepted.
pub const MAX_PAGE: u64 = 1_000_000;
/// The longest search term accepted, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;
/// The longest client id an administrator may choose.
pub const MAX_CHOSEN_CLIENT_ID_CHARS: usize = 128;

/// What an administrator token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdminScope {
    /// List, search and read clients.
    ClientRead,
    /// Create clients.
    ClientCreate,
    /// Replace clients, rotate secrets, reissue tokens, lock and unlock.
    ClientUpdate,
    /// Delete clients.
    ClientDelete,
    /// Read the audit trail.
    AuditRead,
    /// Every client scope above and `audit:read`; never the user scopes.
    ClientAdmin,
    /// List and read user accounts.
    UserRead,
    /// Create user accounts, disable and enable them, set their passwords; implies `user:read`.
    /// User accounts are a separate trust domain: `client:admin` does not imply this scope, and
    /// this scope implies no client scope.
    UserAdmin,
}

impl AdminScope {
    /// Every scope.
    pub const ALL: &'static [Self] = &[
        Self::ClientRead,
        Self::ClientCreate,
        Self::ClientUpdate,
        Self::ClientDelete,
        Self::AuditRead,
        Self::ClientAdmin,
        Self::UserRead,
        Self::UserAdmin,
    ];

    /// The scope as written in tokens and challenges.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientRead => "client:read",
            Self::ClientCreate => "client:create",
            Self::ClientUpdate => "client:update",
            Self::ClientDelete => "client:delete",
            Self::AuditRead => "audit:read",
            Self::ClientAdmin => "client:admin",
            Self::UserRead => "user:read",
            Self::UserAdmin => "user:admin",
        }
    }

    /// The umbrella scope that also grants this one: `client:admin` for the client scopes and
    /// `audit:read`, `user:admin` for `user:read`; `None` for the umbrella scopes themselves.
    pub fn implied_by(self) -> Option<Self> {
        match self {
            Self::ClientRead
            | Self::ClientCreate
            | Self::ClientUpdate
            | Self::ClientDelete
            | Self::AuditRead => Some(Self::ClientAdmin),
            Self::UserRead => Some(Self::UserAdmin),
            Self::ClientAdmin | Self::UserAdmin => None,
        }
    }

    /// The scope for its written form.
    pub fn from_wire(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AdminScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scopes of an administrator token; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminScopes(BTreeSet<AdminScope>);

impl AdminScopes {
    /// Parses space-separated scopes (`"client:read client:update"`).
    ///
    /// ```
    /// use authz_domain::client_registration::{AdminScope, AdminScopes};
    /// let scopes = AdminScopes::parse("client:read audit:read").unwrap();
    /// assert!(scopes.allows(AdminScope::AuditRead));
    /// assert!(!scopes.allows(AdminScope::ClientDelete));
    /// assert!(AdminScopes::parse("client:admin").unwrap().allows(AdminScope::ClientDelete));
    /// assert!(AdminScopes::parse("client:write").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for token in s.split_ascii_whitespace() {
            let scope = AdminScope::from_wire(token).ok_or_else(|| {
                format!(
                    "{:?} is not an administrator scope; use {}",
                    truncate(token, 40),
                    AdminScope::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            set.insert(scope);
        }
        if set.is_empty() {
            return Err(format!(
                "at least one scope is needed: {}",
                AdminScope::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(Self(set))
    }

    /// Whether these scopes permit `needed`: `client:admin` permits every client scope and
    /// `audit:read`, `user:admin` permits `user:read`. No scope crosses between clients and user
    /// accounts: `client:admin` does not permit `user:read` or `user:admin`.
    ///
    /// ```
    /// use authz_domain::administration::{AdminScope, AdminScopes};
    /// let clients = AdminScopes::parse("client:admin").unwrap();
    /// assert!(!clients.allows(AdminScope::UserRead));
    /// let users = AdminScopes::parse("user:admin").unwrap();
    /// assert!(users.allows(AdminScope::UserRead));
    /// assert!(!users.allows(AdminScope::ClientRead));
    /// ```
    pub fn allows(&self, needed: AdminScope) -> bool {
        self.0.contains(&needed)
            || needed
                .implied_by()
                .is_some_and(|umbrella| self.0.contains(&umbrella))
    }

    /// The scopes, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = AdminScope> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for AdminScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

/// An administrator token as stored: its digest, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    /// A unique name; audit records name the administrator by it.
    pub name: String,
    /// SHA-256 of the token.
    pub digest: TokenDigest,
    /// What it may do.
    pub scopes: AdminScopes,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When it stops working; `None` never.
    pub expires_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

impl AdminToken {
    /// `"revoked"`, `"expired"` or `"active"` at `now`; only an active token authenticates.
    pub fn state(&self, now: i64) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        }
    }

    /// Checks a token name: 1 to 64 of `A–Z a–z 0–9 . _ -`.
    pub fn validate_name(name: &str) -> Result<(), String> {
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(format!(
                "name {:?} is not accepted; use 1 to 64 of the characters A-Z a-z 0-9 . _ -",
                truncate(name, 80)
            ));
        }
        Ok(())
    }
}

/// An authenticated administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Administrator {
    /// The token's name.
    pub name: String,
    /// The token's scopes.
    pub scopes: AdminScopes,
}

impl Administrator {
    /// How audit records name this administrator.
    pub fn actor(&self) -> String {
        format!("admin:{}", self.name)
    }
}

/// What administrators may do beyond open registration.
#[derive(Debug, Clone)]
pub struct AdminPolicy {
    /// The rules for clients an administrator creates or replaces.
    pub registration: RegistrationPolicy,
    /// Page size when none is asked for.
    pub default_per_page: u64,
    /// The largest page size accepted.
    pub max_per_page: u64,
    /// The longest grace period a rotated secret may keep verifying, in seconds.
    pub max_secret_grace_period_secs: u64,
}

impl AdminPolicy {
    /// The administrator policy derived from open registration's: the same redirect URI, scope,
    /// text and credential rules, without the MCP profile, every grant type allowed
    /// (`client_credentials` included), and software statements optional (an administrator
    /// vouches for the client; a statement that is sent is still verified).
    pub fn from_registration(base: &RegistrationPolicy) -> Self {
        let mut software_statements = base.software_statements.clone();
        software_statements.required = false;
        Self {
            registration: RegistrationPolicy {
                mcp_profile: false,
                allowed_grant_types: GrantType::ALL.to_vec(),
                software_statements,
                ..base.clone()
            },
            default_per_page: 20,
            max_per_page: 100,
            max_secret_grace_period_secs: 30 * 24 * 3600,
        }
    }
}

/// The order of a client listing. Every order is total (ties broken by client id), so pages never
/// overlap or skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientSort {
    /// `-issued_at`: newest first (the default).
    #[default]
    NewestFirst,
    /// `issued_at`: oldest first.
    OldestFirst,
    /// `client_id`: by client id, ascending.
    ClientIdAsc,
    /// `-client_id`: by client id, descending.
    ClientIdDesc,
}

impl ClientSort {
    /// Every order.
    pub const ALL: &'static [Self] = &[
        Self::NewestFirst,
        Self::OldestFirst,
        Self::ClientIdAsc,
        Self::ClientIdDesc,
    ];

    /// The `sort` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewestFirst => "-issued_at",
            Self::OldestFirst => "issued_at",
            Self::ClientIdAsc => "client_id",
            Self::ClientIdDesc => "-client_id",
        }
    }
}

/// The raw query parameters of a client listing, as sent.
#[derive(Debug, Clone, Default)]
pub struct ClientListParams {
    /// Search term (client id or client name, case-insensitive, literal).
    pub q: Option<String>,
    /// Page number, from 1.
    pub page: Option<String>,
    /// Page size.
    pub per_page: Option<String>,
    /// Order.
    pub sort: Option<String>,
}

/// A validated client listing query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientQuery {
    /// The search term in [`search_key`] form, matched literally as a substring.
    pub search: Option<String>,
    /// Page number, from 1.
    pub page: u64,
    /// Page size.
    pub per_page: u64,
    /// Order.
    pub sort: ClientSort,
}

impl ClientQuery {
    /// Parses the parameters of a listing. Every refusal names the parameter and what is accepted.
    pub fn parse(
        params: &ClientListParams,
        policy: &AdminPolicy,
    ) -> Result<Self, RegistrationError> {
        let search = match params.q.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(q) => {
                if q.chars().count() > MAX_SEARCH_CHARS {
                    return Err(invalid(format!(
                        "q: at most {MAX_SEARCH_CHARS} characters are accepted"
                    )));
                }
                if q.chars().any(char::is_control) {
                    return Err(invalid(
                        "q: must not contain control characters (such as NUL)",
                    ));
                }
                Some(search_key(q))
            }
        };
        let sort = match params.sort.as_deref() {
            None | Some("") => ClientSort::default(),
            Some(s) => ClientSort::ALL
                .iter()
                .copied()
                .find(|k| k.as_str() == s)
                .ok_or_else(|| {
                    invalid(format!(
                        "sort: {:?} is not accepted; use one of {}",
                        truncate(s, 40),
                        ClientSort::ALL
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?,
        };
        let (page, per_page) =
            parse_paging(params.page.as_deref(), params.per_page.as_deref(), policy)?;
        Ok(Self {
            search,
            page,
            per_page,
            sort,
        })
    }

    /// How many matches come before this page.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

/// A page of clients.
#[derive(Debug, Clone)]
pub struct ClientPage {
    /// The clients on this page.
    pub clients: Vec<Client>,
    /// How many clients match in all.
    pub total: u64,
}

/// The raw query parameters of an audit trail listing, as sent.
#[derive(Debug, Clone, Default)]
pub struct AuditListParams {
    /// Only events about this client.
    pub client_id: Option<String>,
    /// Only events of this action (`client.updated`, …).
    pub action: Option<String>,
    /// Only events at or after this time (Unix seconds or RFC 3339).
    pub since: Option<String>,
    /// Only events before this time (Unix seconds or RFC 3339).
    pub until: Option<String>,
    /// Page number, from 1.
    pub page: Option<String>,
    /// Page size.
    pub per_page: Option<String>,
}

/// A validated audit trail query. Events are listed newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only events about this client.
    pub client_id: Option<String>,
    /// Only events of this action.
    pub action: Option<AuditAction>,
    /// Only events at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only events strictly before this time (Unix seconds).
    pub until: Option<i64>,
    /// Page number, from 1.
    pub page: u64,
    /// Page size.
    pub per_page: u64,
}

impl AuditQuery {
    /// Parses the parameters of an audit listing.
    pub fn parse(
        params: &AuditListParams,
        policy: &AdminPolicy,
    ) -> Result<Self, RegistrationError> {
        let client_id = match params.client_id.as_deref() {
            None | Some("") => None,
            Some(id) if id.chars().count() > 256 || id.chars().any(char::is_control) => {
                return Err(invalid(
                    "client_id: at most 256 characters, without control characters",
                ))
            }
            Some(id) => Some(id.to_owned()),
        };
        let action = match params.action.as_deref() {
            None | Some("") => None,
            Some(a) => Some(AuditAction::from_stored(a).ok_or_else(|| {
                invalid(format!(
                    "action: {:?} is not an audit action; use one of {}",
                    truncate(a, 40),
                    AuditAction::ALL
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?),
        };
        let since = params
            .since
            .as_deref()
            .map(|s| parse_time("since", s))
            .transpose()?;
        let until = params
            .until
            .as_deref()
            .map(|s| parse_time("until", s))
            .transpose()?;
        if let (Some(since), Some(until)) = (since, until) {
            if since >= until {
                return Err(invalid("since: must be earlier than until"));
            }
        }
        let (page, per_page) =
            parse_paging(params.page.as_deref(), params.per_page.as_deref(), policy)?;
        Ok(Self {
            client_id,
            action,
            since,
            until,
            page,
            per_page,
        })
    }

    /// How many matches come before this page.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

/// The raw query parameters of a user listing (`GET /admin/users`), as sent.
#[derive(Debug, Clone, Default)]
pub struct UserListParams {
    /// Page number, from 1.
    pub page: Option<String>,
    /// Page size.
    pub per_page: Option<String>,
}

impl UserListParams {
    /// Parses the parameters of a user listing with the same rules and messages as a client
    /// listing; the page size is at most the smaller of `admin.max_per_page` and
    /// [`MAX_USERS_PER_PAGE`].
    ///
    /// ```
    /// use authz_domain::administration::{AdminPolicy, UserListParams};
    /// use authz_domain::clients::RegistrationPolicy;
    /// let policy = AdminPolicy::from_registration(&RegistrationPolicy::default());
    /// let q = UserListParams { page: Some("2".into()), per_page: None }.parse(&policy).unwrap();
    /// assert_eq!((q.page, q.per_page), (2, 20));
    /// let err = UserListParams { page: Some("0".into()), per_page: None }.parse(&policy);
    /// assert!(err.unwrap_err().to_string().starts_with("page: "));
    /// ```
    pub fn parse(&self, policy: &AdminPolicy) -> Result<UserQuery, RegistrationError> {
        let max = policy.max_per_page.min(MAX_USERS_PER_PAGE);
        let (page, per_page) = parse_paging_within(
            self.page.as_deref(),
            self.per_page.as_deref(),
            policy.default_per_page.min(max),
            max,
        )?;
        UserQuery::new(page, per_page).map_err(|e| invalid(e.to_string()))
    }
}

/// An audit record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditEvent {
    /// Its position in the trail; grows with time.
    pub id: i64,
    /// When (Unix seconds).
    pub occurred_at: i64,
    /// What (`client.updated`, …).
    pub action: String,
    /// Allowed or refused.
    pub succeeded: bool,
    /// Which client.
    pub client_id: Option<String>,
    /// Who: `client`, `anonymous`, `system`, `cli` or `admin:NAME`.
    pub actor: String,
    /// Why it was refused, or what changed.
    pub detail: Option<String>,
    /// Where from.
    pub remote_addr: Option<String>,
    /// The `User-Agent`.
    pub user_agent: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// How many refusals this record stands for: 1, or more when repeated refusals from one
    /// source were counted into it (see [`crate::audit::RefusalAggregator`]).
    pub repeat_count: i64,
}

/// A page of the audit trail.
#[derive(Debug, Clone)]
pub struct AuditPage {
    /// The events on this page, newest first.
    pub events: Vec<StoredAuditEvent>,
    /// Whether a further page has events.
    pub has_more: bool,
}

/// A client as an administrator sees it.
#[derive(Debug, Clone)]
pub struct ClientDetails {
    /// The client (its secret only as a hash, which is never shown).
    pub client: Client,
    /// When it last authenticated (token endpoint or RFC 7592), at the granularity of
    /// `registration.last_used_interval_secs`.
    pub last_used_at: Option<i64>,
}

/// The result of an administrator's replacement.
#[derive(Debug)]
pub struct ReplacedClient {
    /// The client as stored now.
    pub client: Client,
    /// A secret issued because the client became confidential (shown once).
    pub client_secret: Option<SecretString>,
}

/// The result of a secret rotation.
#[derive(Debug)]
pub struct RotatedSecret {
    /// The client as stored now.
    pub client: Client,
    /// The new secret (shown once).
    pub client_secret: SecretString,
}

/// The result of reissuing a registration access token.
#[derive(Debug)]
pub struct ReissuedToken {
    /// The client.
    pub client_id: String,
    /// The new token (shown once).
    pub registration_access_token: SecretString,
    /// When it expires; `None` never.
    pub expires_at: Option<i64>,
}

/// A newly created administrator token.
#[derive(Debug)]
pub struct IssuedAdminToken {
    /// As stored.
    pub token: AdminToken,
    /// The token itself, shown once.
    pub plaintext: SecretString,
}

/// The administration use cases.
#[derive(Debug, Clone)]
pub struct AdminService {
    registration: RegistrationService,
    directory: Arc<dyn ClientAdministration>,
    tokens: Arc<dyn AdminTokenRepository>,
    policy: Arc<AdminPolicy>,
    grants: Option<Arc<dyn ClientGrants>>,
}

impl AdminService {
    /// The same service ending a client's grants when its secret is rotated.
    pub fn with_grants(mut self, grants: Arc<dyn ClientGrants>) -> Self {
        self.grants = Some(grants);
        self
    }

    /// Administration over the same storage, credentials and clock as `registration`.
    pub fn new(
        registration: RegistrationService,
        directory: Arc<dyn ClientAdministration>,
        tokens: Arc<dyn AdminTokenRepository>,
        policy: Arc<AdminPolicy>,
    ) -> Self {
        Self {
            registration,
            directory,
            tokens,
            policy,
            grants: None,
        }
    }

    /// The registration use cases this administration works through.
    pub(crate) fn registration_service(&self) -> &RegistrationService {
        &self.registration
    }

    /// The policy in force.
    pub fn policy(&self) -> &AdminPolicy {
        &self.policy
    }

    fn now(&self) -> i64 {
        self.registration.clock().now()
    }

    /// Checks an administrator token and its scope; records every refusal.
    pub fn authenticate(
        &self,
        token: PresentedToken,
        needed: AdminScope,
        context: &RequestContext,
    ) -> Result<Administrator, RegistrationError> {
        let now = self.now();
        let record = |actor: &str, reason: &str| {
            self.registration.audit().record(
                AuditEvent::new(now, AuditAction::AdminDenied, actor, context)
                    .refused(&format!("{reason} (needs {needed})")),
            )
        };
        let invalid = |reason: &str| -> RegistrationError {
            match record("anonymous", reason) {
                Ok(()) => RegistrationError::InvalidToken(ADMIN_INVALID_TOKEN_MESSAGE.into()),
                Err(e) => e.into(),
            }
        };
        let presented = match token {
            PresentedToken::Missing => {
                record("anonymous", "no token")?;
                return Err(RegistrationError::MissingToken(
                    ADMIN_MISSING_TOKEN_MESSAGE.into(),
                ));
            }
            PresentedToken::Malformed(reason) => return Err(invalid(reason)),
            PresentedToken::Bearer(t) => t,
        };
        let digest = TokenDigest::of(presented.expose_secret());
        let Some(found) = self.tokens.find_admin_token(&digest)? else {
            return Err(invalid("unknown token"));
        };
        if !found.digest.ct_eq(&digest) {
            return Err(invalid("unknown token"));
        }
        match found.state(now) {
            "active" => {}
            state => return Err(invalid(&format!("{state} token {}", found.name))),
        }
        let admin = Administrator {
            name: found.name,
            scopes: found.scopes,
        };
        if !admin.scopes.allows(needed) {
            record(&admin.actor(), "insufficient scope")?;
            return Err(RegistrationError::InsufficientScope {
                scope: needed.as_str(),
                message: match needed.implied_by() {
                    Some(umbrella) => format!(
                        "this operation needs the {needed} scope (or {umbrella}); the token has {}",
                        admin.scopes
                    ),
                    None => format!(
                        "this operation needs the {needed} scope; the token has {}",
                        admin.scopes
                    ),
                },
            });
        }
        Ok(admin)
    }

    /// A page of clients, searched and ordered as `params` ask. Needs `client:read`.
    pub fn list_clients(
        &self,
        token: PresentedToken,
        params: &ClientListParams,
        context: &RequestContext,
    ) -> Result<(ClientQuery, ClientPage), RegistrationError> {
        self.authenticate(token, AdminScope::ClientRead, context)?;
        let query = ClientQuery::parse(params, &self.policy)?;
        let page = self.directory.search(&query)?;
        Ok((query, page))
    }

    /// One client, with when it was last used. Needs `client:read`.
    pub fn get_client(
        &self,
        token: PresentedToken,
        client_id: &str,
        context: &RequestContext,
    ) -> Result<ClientDetails, RegistrationError> {
        self.authenticate(token, AdminScope::ClientRead, context)?;
        let client = self.existing(client_id)?;
        let last_used_at = self.directory.last_used(client_id)?;
        Ok(ClientDetails {
            client,
            last_used_at,
        })
    }

    /// Creates a client under the administrator policy. The body is RFC 7591 metadata, plus an
    /// optional `client_id` to use instead of a generated one and optional `settings`. The secret
    /// (for confidential clients) and a registration access token are returned once. Needs
    /// `client:create`.
    pub fn create_client(
        &self,
        token: PresentedToken,
        request: Result<&Map<String, Value>, RegistrationError>,
        context: &RequestContext,
    ) -> Result<RegisteredClient, RegistrationError> {
        let admin = self.authenticate(token, AdminScope::ClientCreate, context)?;
        let request = request?;
        refuse_server_set(request)?;
        let chosen = match request.get("client_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => {
                validate_client_id(id)?;
                Some(id.as_str())
            }
            Some(other) => {
                return Err(RegistrationError::InvalidClientMetadata(format!(
                    "client_id: expected a string, got {}",
                    json_type(other)
                )))
            }
        };
        let settings = parse_settings(request)?.unwrap_or_default();
        let now = self.now();
        let parsed = ClientMetadata::parse_request_at(request, &self.policy.registration, now)?;
        self.registration
            .create(
                parsed.metadata,
                crate::registration::NewClient {
                    origin: ClientOrigin::Admin,
                    action: AuditAction::ClientCreated,
                    actor: &admin.actor(),
                    chosen_id: chosen,
                    settings,
                    substitutions: parsed.substitutions,
                    spend: None,
                },
                now,
                context,
            )
            .map_err(|e| match (chosen, e) {
                (Some(id), RegistrationError::Storage(RepositoryError::Conflict(_))) => {
                    RegistrationError::Conflict(format!(
                        "client_id: {:?} is taken (by an existing client, or by a deleted one: ids are never reused)",
                        id
                    ))
                }
                (_, e) => e,
            })
    }

    /// Replaces a client's metadata under the administrator policy (full replacement, as RFC 7592
    /// §2.2 defines it). `client_id`, if sent, must equal the one in the URL; `settings`, if sent,
    /// replaces the settings (omitted members take their defaults), otherwise they are kept.
    /// Becoming confidential issues a secret (returned once); becoming public drops it. Needs
    /// `client:update`.
    pub fn replace_client(
        &self,
        token: PresentedToken,
        client_id: &str,
        request: Result<&Map<String, Value>, RegistrationError>,
        context: &RequestContext,
    ) -> Result<ReplacedClient, RegistrationError> {
        let admin = self.authenticate(token, AdminScope::ClientUpdate, context)?;
        let request = request?;
        refuse_server_set(request)?;
        match request.get("client_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) if id == client_id => {}
            Some(Value::String(_)) => return Err(RegistrationError::InvalidRequest(
                "client_id: must equal the client id in the URL (a client id cannot be changed)"
                    .into(),
            )),
            Some(other) => {
                return Err(RegistrationError::InvalidRequest(format!(
                    "client_id: expected a string, got {}",
                    json_type(other)
                )))
            }
        }
        // An unknown client is reported before the metadata is validated.
        self.existing(client_id)?;
        let settings = parse_settings(request)?;
        let now = self.now();
        let parsed = ClientMetadata::parse_request_at(request, &self.policy.registration, now)?;
        let metadata = parsed.metadata.clone();
        for _ in 0..STALE_RETRIES {
            let current = self.existing(client_id)?;
            let (mut updated, issued, mut changed) =
                self.registration
                    .replaced(&current, metadata.clone(), now)?;
            updated.settings = settings.unwrap_or(current.settings);
            if updated.settings != current.settings {
                changed.insert("settings".into());
            }
            let detail = change_detail(changed, issued.is_some())
                + &substitution_detail(&parsed.substitutions);
            let event = AuditEvent::new(now, AuditAction::ClientUpdated, &admin.actor(), context)
                .client(client_id)
                .detail(detail);
            match self
                .registration
                .repo()
                .update(&updated, None, None, &event)
            {
                Ok(()) => {
                    return Ok(ReplacedClient {
                        client: Client {
                            revision: updated.revision + 1,
                            ..updated
                        },
                        client_secret: issued,
                    })
                }
                Err(RepositoryError::Stale(_)) => continue,
                Err(e) => return Err(self.not_found_or(e, client_id)),
            }
        }
        Err(kept_changing())
    }

    /// Deletes a client: its id, secret and tokens die, and the id is never issued again. Needs
    /// `client:delete`.
    pub fn delete_client(
        &self,
        token: PresentedToken,
        client_id: &str,
        context: &RequestContext,
    ) -> Result<(), RegistrationError> {
        let admin = self.authenticate(token, AdminScope::ClientDelete, context)?;
        let event = AuditEvent::new(
            self.now(),
            AuditAction::ClientDeleted,
            &admin.actor(),
            context,
        )
        .client(client_id);
        self.registration
            .repo()
            .delete(client_id, None, &event)
            .map_err(|e| self.not_found_or(e, client_id))
    }

    /// Issues a new client secret. With a grace period (seconds, up to the policy's maximum) the
    /// old secret keeps verifying until it ends; without one it stops at once. Needs
    /// `client:update`.
    pub fn rotate_secret(
        &self,
        token: PresentedToken,
        client_id: &str,
        request: Result<&Map<String, Value>, RegistrationError>,
        context: &RequestContext,
    ) -> Result<RotatedSecret, RegistrationError> {
        let admin = self.authenticate(token, AdminScope::ClientUpdate, context)?;
        let request = request?;
        if let Some(unknown) = request.keys().find(|k| *k != "grace_period_secs") {
            return Err(RegistrationError::InvalidRequest(format!(
                "{}: unknown member; the only member accepted is grace_period_secs",
                truncate(unknown, 64)
            )));
        }
        let max = self.policy.max_secret_grace_period_secs;
        let grace = match request.get("grace_period_secs") {
            None | Some(Value::Null) => 0,
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => n,
                _ => {
                    return Err(RegistrationError::InvalidRequest(format!(
                        "grace_period_secs: expected a whole number of seconds from 0 to {max}"
                    )))
                }
            },
        };
        let now = self.now();
        for _ in 0..STALE_RETRIES {
            let current = self.existing(client_id)?;
            let Some(old_hash) = current.secret_hash.clone() else {
                return Err(RegistrationError::InvalidRequest(format!(
                    "client {:?} is a public client (token_endpoint_auth_method \"none\") and has no secret to rotate",
                    truncate(client_id, 64)
                )));
            };
            let secret = self.registration.credentials().client_secret()?;
            let expires = self.registration.secret_expiry(true, now);
            let previous = (grace > 0).then(|| PreviousSecret {
                hash: old_hash,
                valid_until: now.saturating_add(i64::try_from(grace).unwrap_or(i64::MAX)),
            });
            let detail = match &previous {
                Some(p) => format!("old secret verifies until {}", p.valid_until),
                None => "old secret stopped verifying at once".to_owned(),
            };
            let event = AuditEvent::new(now, AuditAction::SecretRotated, &admin.actor(), context)
                .client(client_id)
                .detail(detail);
            match self.directory.rotate_secret(
                client_id,
                current.revision,
                &secret.hash,
                expires,
                previous.as_ref(),
                &event,
            ) {
                Ok(()) => {
                    if let Some(grants) = &self.grants {
                        grants.revoke_client_grants(client_id)?;
                    }
                    return Ok(RotatedSecret {
                        client: Client {
                            secret_hash: Some(secret.hash),
                            secret_expires_at: expires,
                            previous_secret: previous,
                            updated_at: now,
                            revision: current.revision + 1,
                            ..current
                        },
                        client_secret: secret.plaintext,
                    });
                }
                Err(RepositoryError::Stale(_)) => continue,
                Err(e) => return Err(self.not_found_or(e, client_id)),
            }
        }
        Err(kept_changing())
    }

    /// Issues a new registration access token and revokes every other one of the client. Needs
    /// `client:update`.
    pub fn reissue_token(
        &self,
        token: PresentedToken,
        client_id: &str,
        context: &RequestContext,
    ) -> Result<ReissuedToken, RegistrationError> {
        let admin = self.authenticate(token, AdminScope::ClientUpdate, context)?;
        let now = self.now();
        let fresh = self
            .registration
            .credentials()
            .registration_access_token()?;
        let record = self.registration.token_record(&fresh, client_id, now);
        let event = AuditEvent::new(now, AuditAction::TokenReissued, &admin.actor(), context)
            .client(client_id)
            .detail("every other registration access token revoked");
        self.directory
            .reissue_token(&record, &event)
            .map_err(|e| self.not_found_or(e, client_id))?;
        Ok(ReissuedToken {
            client_id: client_id.to_owned(),
            registration_access_token: fresh.plaintext,
            expires_at: record.expires_at,
        })
    }

    /// Locks (`true`) or unlocks a client's self-management: a locked client gets 403 on its own
    /// `PUT` and `DELETE`. Needs `client:update`.
    pub fn set_locked(
        &self,
        token: PresentedToken,
        client_id: &str,
        locked: bool,
        context: &RequestContext,
    ) -> Result<ClientDetails, RegistrationError> {
        let admin = self.authenticate(token, AdminScope::ClientUpdate, context)?;
        let action = if locked {
            AuditAction::ClientLocked
        } else {
            AuditAction::ClientUnlocked
        };
        let event = AuditEvent::new(self.now(), action, &admin.actor(), context).client(client_id);
        self.registration
            .repo()
            .set_locked(client_id, locked, &event)
            .map_err(|e| self.not_found_or(e, client_id))?;
        let client = self.existing(client_id)?;
        let last_used_at = self.directory.last_used(client_id)?;
        Ok(ClientDetails {
            client,
            last_used_at,
        })
    }

    /// A page of the audit trail, newest first. Needs `audit:read`.
    pub fn audit_events(
        &self,
        token: PresentedToken,
        params: &AuditListParams,
        context: &RequestContext,
    ) -> Result<(AuditQuery, AuditPage), RegistrationError> {
        self.authenticate(token, AdminScope::AuditRead, context)?;
        let query = AuditQuery::parse(params, &self.policy)?;
        let page = self.directory.audit_events(&query)?;
        Ok((query, page))
    }

    /// Creates an administrator token (from the command line, recorded as actor `cli`).
    /// `lifetime_secs` of `None` never expires.
    pub fn create_admin_token(
        &self,
        name: &str,
        scopes: AdminScopes,
        lifetime_secs: Option<u64>,
    ) -> Result<IssuedAdminToken, RegistrationError> {
        AdminToken::validate_name(name).map_err(RegistrationError::InvalidRequest)?;
        let now = self.now();
        let issued = self
            .registration
            .credentials()
            .bearer_token(ADMIN_TOKEN_PREFIX)?;
        let token = AdminToken {
            name: name.to_owned(),
            digest: issued.digest,
            scopes,
            created_at: now,
            expires_at: lifetime_secs
                .map(|s| now.saturating_add(i64::try_from(s).unwrap_or(i64::MAX))),
            revoked_at: None,
        };
        let event = AuditEvent::new(
            now,
            AuditAction::AdminTokenCreated,
            "cli",
            &RequestContext::default(),
        )
        .detail(format!("admin token {name} with scopes {}", token.scopes));
        self.tokens
            .create_admin_token(&token, &event)
            .map_err(|e| match e {
                RepositoryError::Conflict(_) => RegistrationError::Conflict(format!(
                    "an administrator token named {name:?} exists (or existed); names are never reused"
                )),
                e => e.into(),
            })?;
        Ok(IssuedAdminToken {
            token,
            plaintext: issued.plaintext,
        })
    }

    /// Every administrator token, revoked ones included (digests only).
    pub fn list_admin_tokens(&self) -> Result<Vec<AdminToken>, RegistrationError> {
        Ok(self.tokens.list_admin_tokens()?)
    }

    /// Revokes the administrator token named `name` (from the command line).
    pub fn revoke_admin_token(&self, name: &str) -> Result<(), RegistrationError> {
        let event = AuditEvent::new(
            self.now(),
            AuditAction::AdminTokenRevoked,
            "cli",
            &RequestContext::default(),
        )
        .detail(format!("admin token {}", truncate(name, 64)));
        self.tokens
            .revoke_admin_token(name, &event)
            .map_err(|e| match e {
                RepositoryError::NotFound(_) => RegistrationError::NotFound(format!(
                    "no administrator token is named {:?}",
                    truncate(name, 64)
                )),
                e => e.into(),
            })
    }

    fn existing(&self, client_id: &str) -> Result<Client, RegistrationError> {
        self.registration
            .repo()
            .find(client_id)?
            .ok_or_else(|| not_found(client_id))
    }

    fn not_found_or(&self, e: RepositoryError, client_id: &str) -> RegistrationError {
        match e {
            RepositoryError::NotFound(_) => not_found(client_id),
            RepositoryError::Stale(_) => kept_changing(),
            e => e.into(),
        }
    }
}

fn not_found(client_id: &str) -> RegistrationError {
    RegistrationError::NotFound(format!(
        "no client has the client_id {:?}",
        truncate(client_id, 128)
    ))
}

fn invalid(msg: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidRequest(msg.into())
}

/// An administrator may not send what the server sets, nor a secret: secrets are generated,
/// shown once, and rotated with their own operation.
fn refuse_server_set(request: &Map<String, Value>) -> Result<(), RegistrationError> {
    if request.contains_key("client_secret") {
        return Err(RegistrationError::InvalidRequest(
            "client_secret: must not be sent; secrets are generated by the server and rotated with POST /admin/clients/{client_id}/secret".into(),
        ));
    }
    if let Some(member) = SELF_SERVER_SET_MEMBERS
        .iter()
        .find(|m| request.contains_key(**m))
    {
        return Err(RegistrationError::InvalidRequest(format!(
            "{member}: must not be sent; the server sets it"
        )));
    }
    Ok(())
}

fn parse_settings(
    request: &Map<String, Value>,
) -> Result<Option<ClientSettings>, RegistrationError> {
    match request.get("settings") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => ClientSettings::from_request(v).map(Some),
    }
}

/// Checks a client id an administrator chose: 1 to 128 of the URL-safe characters
/// `A–Z a–z 0–9 - . _ ~`, so it can stand in a URL path unencoded.
pub fn validate_client_id(id: &str) -> Result<(), RegistrationError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_CHOSEN_CLIENT_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        && id != "."
        && id != "..";
    if ok {
        Ok(())
    } else {
        Err(RegistrationError::InvalidClientMetadata(format!(
            "client_id: {:?} is not accepted; use 1 to {MAX_CHOSEN_CLIENT_ID_CHARS} of the characters A-Z a-z 0-9 - . _ ~ (no spaces, no other characters)",
            truncate(id, 80)
        )))
    }
}

fn parse_paging(
    page: Option<&str>,
    per_page: Option<&str>,
    policy: &AdminPolicy,
) -> Result<(u64, u64), RegistrationError> {
    parse_paging_within(page, per_page, policy.default_per_page, policy.max_per_page)
}

fn parse_paging_within(
    page: Option<&str>,
    per_page: Option<&str>,
    default_per_page: u64,
    max_per_page: u64,
) -> Result<(u64, u64), RegistrationError> {
    let number = |name: &str, value: Option<&str>, default: u64, max: u64| match value {
        None | Some("") => Ok(default),
        Some(v) => match parse_decimal(v) {
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(n) if n > max => Err(invalid(format!(
                "{name}: {n} is above the limit of {max}; use a whole number from 1 to {max}"
            ))),
            _ => Err(invalid(format!(
                "{name}: {:?} is not accepted; use a whole number from 1 to {max}",
                truncate(v, 40)
            ))),
        },
    };
    let page = number("page", page, 1, MAX_PAGE)?;
    let per_page = number("per_page", per_page, default_per_page, max_per_page)?;
    Ok((page, per_page))
}

/// Digits only (no sign, no spaces, no fraction), at most 19 of them.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Unix seconds, or an RFC 3339 date-time.
fn parse_time(name: &str, s: &str) -> Result<i64, RegistrationError> {
    let fail = || {
        invalid(format!(
            "{name}: {:?} is not accepted; use Unix seconds (1700000000) or an RFC 3339 date-time (2026-11-23T12:00:00Z)",
            truncate(s, 40)
        ))
    };
    if let Some(rest) = s.strip_prefix('-') {
        return parse_decimal(rest)
            .and_then(|n| i64::try_from(n).ok())
            .map(|n| -n)
            .ok_or_else(fail);
    }
    if let Some(n) = parse_decimal(s) {
        return i64::try_from(n).map_err(|_| fail());
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| fail())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> AdminPolicy {
        AdminPolicy::from_registration(&RegistrationPolicy::default())
    }

    fn params(
        q: Option<&str>,
        page: Option<&str>,
        per_page: Option<&str>,
        sort: Option<&str>,
    ) -> ClientListParams {
        ClientListParams {
            q: q.map(Into::into),
            page: page.map(Into::into),
            per_page: per_page.map(Into::into),
            sort: sort.map(Into::into),
        }
    }

    #[test]
    fn listing_defaults_are_page_one_newest_first() {
        let q = ClientQuery::parse(&ClientListParams::default(), &policy()).expect("ok");
        assert_eq!(q.page, 1);
        assert_eq!(q.per_page, 20);
        assert_eq!(q.sort, ClientSort::NewestFirst);
        assert_eq!(q.search, None);
        assert_eq!(q.offset(), 0);
    }

    #[test]
    fn bad_page_numbers_are_refused_by_name() {
        for bad in [
            "0",
            "-1",
            "abc",
            "1.5",
            " 1",
            "+1",
            "99999999999999999999",
            "1000001",
        ] {
            let err =
                ClientQuery::parse(&params(None, Some(bad), None, None), &policy()).expect_err(bad);
            assert!(err.to_string().starts_with("page: "), "{bad}: {err}");
        }
        let err = ClientQuery::parse(&params(None, None, Some("101"), None), &policy())
            .expect_err("above cap");
        assert_eq!(
            err.to_string(),
            "per_page: 101 is above the limit of 100; use a whole number from 1 to 100"
        );
        let q = ClientQuery::parse(&params(None, Some("10000"), Some("50"), None), &policy())
            .expect("ok");
        assert_eq!(q.offset(), 499_950);
    }

    #[test]
    fn search_terms_are_case_folded_and_checked() {
        let q = ClientQuery::parse(&params(Some("  ÉCOLE Σοφία "), None, None, None), &policy())
            .expect("ok");
        assert_eq!(q.search.as_deref(), Some("école σοφία"));
        let q =
            ClientQuery::parse(&params(Some("STRASSE"), None, None, None), &policy()).expect("ok");
        assert_eq!(q.search, Some(search_key("Straße")), "full case folding");
        let long = "a".repeat(MAX_SEARCH_CHARS + 1);
        assert!(
            ClientQuery::parse(&params(Some(&long), None, None, None), &policy())
                .expect_err("long")
                .to_string()
                .starts_with("q: at most")
        );
        assert!(
            ClientQuery::parse(&params(Some("a\0b"), None, None, None), &policy())
                .expect_err("nul")
                .to_string()
                .contains("control characters")
        );
        let q = ClientQuery::parse(&params(Some("50%_off\\'\""), None, None, None), &policy())
            .expect("wildcards are just characters");
        assert_eq!(q.search.as_deref(), Some("50%_off\\'\""));
    }

    #[test]
    fn unknown_sort_keys_list_the_accepted_ones() {
        let err = ClientQuery::parse(&params(None, None, None, Some("name; DROP")), &policy())
            .expect_err("bad sort");
        assert!(
            err.to_string()
                .ends_with("use one of -issued_at, issued_at, client_id, -client_id"),
            "{err}"
        );
    }

    #[test]
    fn audit_times_accept_unix_seconds_and_rfc3339() {
        let p = AuditListParams {
            since: Some("1700000000".into()),
            until: Some("2026-11-23T12:00:00Z".into()),
            action: Some("client.updated".into()),
            ..Default::default()
        };
        let q = AuditQuery::parse(&p, &policy()).expect("ok");
        assert_eq!(q.since, Some(1_700_000_000));
        assert_eq!(q.until, Some(1_795_435_200));
        assert_eq!(q.action, Some(AuditAction::ClientUpdated));
        let bad = AuditListParams {
            since: Some("yesterday".into()),
            ..Default::default()
        };
        assert!(AuditQuery::parse(&bad, &policy())
            .expect_err("bad time")
            .to_string()
            .starts_with("since: "));
        let backwards = AuditListParams {
            since: Some("20".into()),
            until: Some("10".into()),
            ..Default::default()
        };
        assert!(AuditQuery::parse(&backwards, &policy()).is_err());
        let action = AuditListParams {
            action: Some("client.hacked".into()),
            ..Default::default()
        };
        assert!(AuditQuery::parse(&action, &policy())
            .expect_err("bad action")
            .to_string()
            .contains("client.registered"));
    }

    #[test]
    fn chosen_client_ids_are_url_safe_ascii() {
        validate_client_id("billing-service.v2_~x").expect("ok");
        for bad in [
            "",
            "a b",
            "café",
            "a/b",
            "a%20b",
            "..",
            &"a".repeat(129),
            "a\0",
        ] {
            let err = validate_client_id(bad).expect_err(bad);
            assert!(err.to_string().starts_with("client_id: "), "{err}");
        }
    }

    #[test]
    fn scopes_parse_and_client_admin_allows_everything() {
        let s = AdminScopes::parse("client:update  client:read").expect("ok");
        assert_eq!(s.to_string(), "client:read client:update");
        assert!(s.allows(AdminScope::ClientUpdate));
        assert!(!s.allows(AdminScope::AuditRead));
        let all = AdminScopes::parse("client:admin").expect("ok");
        for &scope in AdminScope::ALL {
            let is_user_scope = matches!(scope, AdminScope::UserRead | AdminScope::UserAdmin);
            assert_eq!(all.allows(scope), !is_user_scope, "client:admin vs {scope}");
        }
        let users = AdminScopes::parse("user:admin").expect("ok");
        for &scope in AdminScope::ALL {
            let is_user_scope = matches!(scope, AdminScope::UserRead | AdminScope::UserAdmin);
            assert_eq!(users.allows(scope), is_user_scope, "user:admin vs {scope}");
        }
        let reader = AdminScopes::parse("user:read").expect("ok");
        assert!(reader.allows(AdminScope::UserRead) && !reader.allows(AdminScope::UserAdmin));
        assert_eq!(
            AdminScopes::parse("user:read client:read user:admin")
                .expect("ok")
                .to_string(),
            "client:read user:read user:admin"
        );
        assert!(AdminScopes::parse("").is_err());
        assert!(AdminScopes::parse("client:read admin").is_err());
    }

    #[test]
    fn token_names_are_checked() {
        AdminToken::validate_name("ops-alice_2").expect("ok");
        assert!(AdminToken::validate_name("").is_err());
        assert!(AdminToken::validate_name("a b").is_err());
        assert!(AdminToken::validate_name(&"a".repeat(65)).is_err());
    }
}

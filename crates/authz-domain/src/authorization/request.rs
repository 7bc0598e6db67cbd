//! The authorization request (`/authorize`, RFC 6749 §4.1.1, contract §2): its parameters
//! checked in the contract's order, and the two kinds of refusal.

use serde::{Deserialize, Serialize};
use url::form_urlencoded;

use super::pkce::CodeChallenge;
use super::policy::{AuthorizationPolicy, ScopeSet};
use super::resource::ResourceIndicator;
use crate::client_registration::{
    Client, ErrorCode, GrantType, RedirectUriKind, RepositoryError, Scope,
};

/// The `prompt` parameter (OpenID Connect Core §3.1.2.1), one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Prompt {
    /// `none`: show no page; answer `login_required` or `consent_required` instead.
    #[serde(rename = "none")]
    None_,
    /// `login`: the user signs in again, even with a session.
    #[serde(rename = "login")]
    Login,
    /// `consent`: ask for consent even when it is remembered.
    #[serde(rename = "consent")]
    Consent,
}

impl Prompt {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None_ => "none",
            Self::Login => "login",
            Self::Consent => "consent",
        }
    }
}

/// A valid authorization request: every parameter checked, the redirect URI verified against
/// the client's registration. Serialisable so storage can keep it as one JSON document while
/// the user signs in and consents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// The client, which exists and is registered for `authorization_code`.
    pub client_id: String,
    /// Where the response goes: the `redirect_uri` as sent (which, for a loopback URI, may differ
    /// from the registered one in its port), or the only registered one when none was sent.
    pub redirect_uri: String,
    /// Whether `redirect_uri` was sent; the token request must then send the same (RFC 6749
    /// §4.1.3).
    pub redirect_uri_sent: bool,
    /// The kind of the registered redirect URI that matched; only `Https` lets a remembered
    /// consent be reused (contract §3).
    #[serde(with = "kind_text")]
    pub redirect_uri_kind: RedirectUriKind,
    /// `state` as sent, echoed in the response.
    pub state: Option<String>,
    /// The PKCE challenge (always `S256`).
    #[serde(with = "challenge_text")]
    pub code_challenge: CodeChallenge,
    /// The scope requested, or the default (see [`AuthorizationRequest::parse`]).
    pub scope: ScopeSet,
    /// The resources (RFC 8707) in canonical form, duplicates removed, order kept; the policy's
    /// default resource when none was sent and one is configured; otherwise empty.
    pub resources: Vec<ResourceIndicator>,
    /// `prompt`, when sent.
    pub prompt: Option<Prompt>,
}

mod challenge_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::CodeChallenge;

    pub(super) fn serialize<S: Serializer>(c: &CodeChallenge, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(c.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CodeChallenge, D::Error> {
        let text = String::deserialize(d)?;
        CodeChallenge::from_stored(&text).map_err(serde::de::Error::custom)
    }
}

/// `RedirectUriKind` as a stored word (`https`, `loopback`, `insecure_http`, `private_use`).
mod kind_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::RedirectUriKind;

    pub(super) fn serialize<S: Serializer>(k: &RedirectUriKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match k {
            RedirectUriKind::Https => "https",
            RedirectUriKind::Loopback => "loopback",
            RedirectUriKind::InsecureHttp => "insecure_http",
            RedirectUriKind::PrivateUse => "private_use",
        })
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<RedirectUriKind, D::Error> {
        match String::deserialize(d)?.as_str() {
            "https" => Ok(RedirectUriKind::Https),
            "loopback" => Ok(RedirectUriKind::Loopback),
            "insecure_http" => Ok(RedirectUriKind::InsecureHttp),
            "private_use" => Ok(RedirectUriKind::PrivateUse),
            other => Err(serde::de::Error::custom(format!(
                "unknown redirect URI kind {other:?}"
            ))),
        }
    }
}

/// Why an authorization request was refused, and how the refusal reaches the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationError {
    /// Shown as an HTML error page, never redirected (contract §2, checks 1 and 2): the client or
    /// the redirect URI could not be trusted, or a server fault happened before they were.
    /// `error` is `invalid_request` (status 400), `server_error` (500) or
    /// `temporarily_unavailable` (503); see [`ErrorCode::http_status`].
    ErrorPage {
        /// The code, for the status and the log.
        error: ErrorCode,
        /// What went wrong, for the user (HTML-escape it).
        description: String,
        /// The server-side cause of a fault, for the log only; never shown.
        internal: Option<String>,
    },
    /// Sent back to the client: `302` to [`AuthorizationError::location`] with
    /// `Cache-Control: no-store` (RFC 6749 §4.1.2.1).
    Redirect {
        /// The verified redirect URI (as sent, or the only registered one).
        redirect_uri: String,
        /// The OAuth error code.
        error: ErrorCode,
        /// `error_description`: printable ASCII without `"` or `\` (RFC 6749 §4.1.2.1).
        description: String,
        /// `state` when it was sent (once, and not longer than allowed).
        state: Option<String>,
        /// The server-side cause of a fault, for the log only; never sent.
        internal: Option<String>,
    },
}

impl AuthorizationError {
    fn page(description: impl Into<String>) -> Self {
        Self::ErrorPage {
            error: ErrorCode::InvalidRequest,
            description: description.into(),
            internal: None,
        }
    }

    fn page_fault(e: &RepositoryError) -> Self {
        Self::ErrorPage {
            error: fault_code(e),
            description: FAULT_DESCRIPTION.into(),
            internal: Some(e.to_string()),
        }
    }

    /// A redirected refusal to the request's redirect URI, echoing its `state`.
    pub fn redirect(
        request: &AuthorizationRequest,
        error: ErrorCode,
        description: impl Into<String>,
    ) -> Self {
        Self::Redirect {
            redirect_uri: request.redirect_uri.clone(),
            error,
            description: sanitize_description(&description.into()),
            state: request.state.clone(),
            internal: None,
        }
    }

    /// A redirected `server_error` (or `temporarily_unavailable`) for a storage failure after the
    /// redirect URI was verified: the contract never answers a 5xx page in its place.
    pub fn redirect_fault(request: &AuthorizationRequest, e: &RepositoryError) -> Self {
        Self::Redirect {
            redirect_uri: request.redirect_uri.clone(),
            error: fault_code(e),
            description: FAULT_DESCRIPTION.into(),
            state: request.state.clone(),
            internal: Some(e.to_string()),
        }
    }

    /// The OAuth error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::ErrorPage { error, .. } | Self::Redirect { error, .. } => *error,
        }
    }

    /// The description shown or sent.
    pub fn description(&self) -> &str {
        match self {
            Self::ErrorPage { description, .. } | Self::Redirect { description, .. } => description,
        }
    }

    /// For a redirect: the `Location` URL, the redirect URI with `error`, `error_description`,
    /// `state` (when sent) and `iss` (RFC 9207, the issuer identifier) appended to its query.
    /// `None` for an error page.
    pub fn location(&self, issuer: &str) -> Option<String> {
        match self {
            Self::ErrorPage { .. } => None,
            Self::Redirect {
                redirect_uri,
                error,
                description,
                state,
                ..
            } => {
                let mut params = vec![
                    ("error", error.as_str()),
                    ("error_description", description.as_str()),
                ];
                if let Some(state) = state {
                    params.push(("state", state));
                }
                params.push(("iss", issuer));
                Some(append_query(redirect_uri, &params))
            }
        }
    }
}

const FAULT_DESCRIPTION: &str =
    "the server could not complete the authorization request; try again later";

fn fault_code(e: &RepositoryError) -> ErrorCode {
    match e {
        RepositoryError::Unavailable(_) => ErrorCode::TemporarilyUnavailable,
        _ => ErrorCode::ServerError,
    }
}

/// The success response (RFC 6749 §4.1.2, RFC 9207): `redirect_uri` with `code`, `state` (when
/// sent) and `iss` appended to its query, percent-encoded.
pub fn success_location(request: &AuthorizationRequest, code: &str, issuer: &str) -> String {
    let mut params = vec![("code", code)];
    if let Some(state) = &request.state {
        params.push(("state", state));
    }
    params.push(("iss", issuer));
    append_query(&request.redirect_uri, &params)
}

/// Appends `application/x-www-form-urlencoded` pairs to the query of `uri`, keeping its existing
/// query (RFC 6749 §3.1.2). The URI is left exactly as it was verified (it has no fragment).
fn append_query(uri: &str, params: &[(&str, &str)]) -> String {
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let separator = match uri.find('?') {
        None => "?",
        Some(_) if uri.ends_with('?') || uri.ends_with('&') => "",
        Some(_) => "&",
    };
    format!("{uri}{separator}{encoded}")
}

/// `error_description` may only hold `%x20-21 / %x23-5B / %x5D-7E` (RFC 6749 §4.1.2.1); anything
/// else becomes `?`, and it is cut to 300 characters.
fn sanitize_description(s: &str) -> String {
    // Readable substitutes first, so that messages written for JSON (quoted values, "§") stay
    // legible here.
    let s = s
        .replace('"', "'")
        .replace('§', "section ")
        .replace('\\', "/");
    s.chars()
        .take(300)
        .map(|c| match c {
            '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e' => c,
            _ => '?',
        })
        .collect()
}

/// The raw parameters, grouped by name; empty values count as absent (RFC 6749 §3.1) but still
/// count as occurrences for the duplicate rule.
struct Params<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Params<'a> {
    fn count(&self, name: &str) -> usize {
        self.pairs.iter().filter(|(k, _)| k == name).count()
    }

    /// The value of a parameter sent at most once; `None` when absent or empty.
    fn single(&self, name: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &'a str> + '_ {
        let name = name.to_owned();
        self.pairs
            .iter()
            .filter(move |(k, v)| *k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

impl AuthorizationRequest {
    /// Checks the query (`GET`) or form (`POST`) pairs of an authorization request, in the order
    /// of contract §2, and returns the request with the client it names.
    ///
    /// `find_client` looks a client up by id (for instance `|id| repo.find(id)`); it is called at
    /// most once. Parameters sent with an empty value count as absent; unknown parameters are
    /// ignored.
    ///
    /// Errors, first match wins:
    /// 1. [`AuthorizationError::ErrorPage`]: `client_id` missing, repeated, unknown or deleted;
    ///    `redirect_uri` repeated, not sent when the client has several (or none) registered, or
    ///    matching none of them (exact string comparison; for a registered `http` loopback URI
    ///    the port is ignored, RFC 8252 §7.3); a storage failure while looking up the client.
    /// 2. [`AuthorizationError::Redirect`], in this order: a repeated parameter other than
    ///    `resource`, a `state` longer than [`AuthorizationPolicy::max_state_bytes`], a missing
    ///    `response_type`, a `response_mode` other than `query`, a `prompt` other than `none`,
    ///    `login` or `consent` (`invalid_request`); a `response_type` other than `code`
    ///    (`unsupported_response_type`, after the check that it is present); a missing or
    ///    malformed PKCE challenge or method other than `S256` (`invalid_request`); a client not
    ///    registered for `authorization_code` (`unauthorized_client`); a scope token malformed,
    ///    outside the client's registered scope or outside the policy's scopes (`invalid_scope`);
    ///    a `resource` not absolute, with a fragment, or outside the allow-list (`invalid_target`).
    ///
    /// Without `scope`, the client's registered scope applies, else the policy's default; tokens
    /// the policy no longer offers are dropped from that default rather than refused. Without
    /// `resource`, the policy's default resource applies, when configured.
    pub fn parse(
        pairs: &[(String, String)],
        policy: &AuthorizationPolicy,
        find_client: impl FnOnce(&str) -> Result<Option<Client>, RepositoryError>,
    ) -> Result<(Self, Client), AuthorizationError> {
        let params = Params { pairs };

        // 1. The client.
        if params.count("client_id") > 1 {
            return Err(AuthorizationError::page(
                "client_id appears more than once in the authorization request",
            ));
        }
        let Some(client_id) = params.single("client_id") else {
            return Err(AuthorizationError::page(
                "the authorization request has no client_id",
            ));
        };
        let client = match find_client(client_id) {
            Ok(Some(client)) if client.is_locked => {
                // An administrator's lock suspends the client: no new grants (contract §7).
                return Err(AuthorizationError::page(
                    "the application that sent you here has been suspended by an administrator of this server",
                ));
            }
            Ok(Some(client)) => client,
            Ok(None) => {
                return Err(AuthorizationError::page(
                    "the application that sent you here is not registered with this server (unknown client_id)",
                ))
            }
            Err(e) => return Err(AuthorizationError::page_fault(&e)),
        };

        // 2. The redirect URI.
        if params.count("redirect_uri") > 1 {
            return Err(AuthorizationError::page(
                "redirect_uri appears more than once in the authorization request",
            ));
        }
        let registered = &client.metadata.redirect_uris;
        let sent = params.single("redirect_uri");
        let (redirect_uri, redirect_uri_kind) = match sent {
            Some(sent) => match registered
                .iter()
                .find(|r| redirect_uri_matches(r.as_str(), r.kind(), sent))
            {
                Some(r) => (sent.to_owned(), r.kind()),
                None => {
                    return Err(AuthorizationError::page(
                        "the redirect_uri is not one registered by this application",
                    ))
                }
            },
            None => match registered.as_slice() {
                [only] => (only.as_str().to_owned(), only.kind()),
                [] => {
                    return Err(AuthorizationError::page(
                        "this application has no registered redirect_uri",
                    ))
                }
                _ => {
                    return Err(AuthorizationError::page(
                        "redirect_uri is required: this application registered more than one",
                    ))
                }
            },
        };

        // From here every refusal is redirected.
        let state_sent = params.single("state");
        let state_ok = params.count("state") <= 1
            && state_sent.is_none_or(|s| s.len() <= policy.max_state_bytes);
        let state = if state_ok {
            state_sent.map(str::to_owned)
        } else {
            None
        };
        let refuse = |code: ErrorCode, msg: String| {
            Err(AuthorizationError::Redirect {
                redirect_uri: redirect_uri.clone(),
                error: code,
                description: sanitize_description(&msg),
                state: state.clone(),
                internal: None,
            })
        };

        // Contract §2: any parameter but `resource` sent twice, known to us or not (a proxy or a
        // later reader might pick the other copy).
        if let Some((name, _)) = pairs
            .iter()
            .find(|(n, _)| n != "resource" && params.count(n) > 1)
        {
            return refuse(
                ErrorCode::InvalidRequest,
                format!(
                    "{} appears more than once; send each parameter once",
                    crate::values::truncate(name, 64)
                ),
            );
        }
        if let Some(sent_state) = state_sent {
            if sent_state.len() > policy.max_state_bytes {
                return refuse(
                    ErrorCode::InvalidRequest,
                    format!(
                        "state is {} bytes; at most {} are accepted",
                        sent_state.len(),
                        policy.max_state_bytes
                    ),
                );
            }
        }
        let Some(response_type) = params.single("response_type") else {
            return refuse(
                ErrorCode::InvalidRequest,
                "response_type is required; use response_type=code".into(),
            );
        };
        if params.single("response_mode").is_some_and(|m| m != "query") {
            return refuse(
                ErrorCode::InvalidRequest,
                "response_mode: only query is supported".into(),
            );
        }
        let prompt = match params.single("prompt") {
            None => None,
            Some("none") => Some(Prompt::None_),
            Some("login") => Some(Prompt::Login),
            Some("consent") => Some(Prompt::Consent),
            Some(_) => {
                return refuse(
                    ErrorCode::InvalidRequest,
                    "prompt must be one of none, login or consent".into(),
                )
            }
        };
        if response_type != "code" {
            return refuse(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported".into(),
            );
        }
        let code_challenge = match CodeChallenge::parse(
            params.single("code_challenge"),
            params.single("code_challenge_method"),
        ) {
            Ok(c) => c,
            Err(e) => return refuse(ErrorCode::InvalidRequest, e.0),
        };
        if !client
            .metadata
            .grant_types
            .contains(&GrantType::AuthorizationCode)
        {
            return refuse(
                ErrorCode::UnauthorizedClient,
                "this client is not registered for the authorization_code grant".into(),
            );
        }
        let scope = match effective_scope(params.single("scope"), &client, policy) {
            Ok(scope) => scope,
            Err(msg) => return refuse(ErrorCode::InvalidScope, msg),
        };
        let mut resources: Vec<ResourceIndicator> = Vec::new();
        for raw in params.all("resource") {
            let resource = match ResourceIndicator::parse(raw) {
                Ok(r) => r,
                Err(e) => return refuse(ErrorCode::InvalidTarget, e.0),
            };
            if !policy.allows_resource(&resource) {
                return refuse(
                    ErrorCode::InvalidTarget,
                    format!("resource {resource} is not served by this authorization server"),
                );
            }
            if !resources.contains(&resource) {
                resources.push(resource);
            }
        }
        if resources.is_empty() {
            resources.extend(policy.default_resource.clone());
        }
        let request = Self {
            client_id: client.client_id.clone(),
            redirect_uri,
            redirect_uri_sent: sent.is_some(),
            redirect_uri_kind,
            state,
            code_challenge,
            scope,
            resources,
            prompt,
        };
        Ok((request, client))
    }
}

/// The scope to grant: the requested one, checked; or the default.
fn effective_scope(
    requested: Option<&str>,
    client: &Client,
    policy: &AuthorizationPolicy,
) -> Result<ScopeSet, String> {
    let registered = client.metadata.scope.as_ref().map(ScopeSet::from);
    let Some(raw) = requested else {
        let default = registered
            .or_else(|| policy.default_scope.as_ref().map(ScopeSet::from))
            .unwrap_or_default();
        return Ok(default
            .tokens()
            .filter(|t| policy.allows_scope(t))
            .map(str::to_owned)
            .collect());
    };
    let Some(scope) = Scope::parse(raw)? else {
        return Ok(ScopeSet::empty());
    };
    let scope = ScopeSet::from(&scope);
    if let Some(registered) = &registered {
        if let Some(bad) = scope.tokens().find(|t| !registered.contains(t)) {
            return Err(format!(
                "scope {bad} is not in this client's registered scope ({registered})"
            ));
        }
    }
    if let Some(bad) = scope.tokens().find(|t| !policy.allows_scope(t)) {
        return Err(format!("scope {bad} is not offered by this server"));
    }
    Ok(scope)
}

/// Whether `sent` designates the registered redirect URI: the same string, or, for a registered
/// `http` loopback URI, the same string apart from the port (RFC 8252 §7.3).
pub(crate) fn redirect_uri_matches(registered: &str, kind: RedirectUriKind, sent: &str) -> bool {
    if registered == sent {
        return true;
    }
    if kind != RedirectUriKind::Loopback {
        return false;
    }
    match (split_port(registered), split_port(sent)) {
        (Some((r_head, _, r_tail)), Some((s_head, s_port, s_tail))) => {
            r_head == s_head && r_tail == s_tail && s_port.is_none_or(is_port)
        }
        _ => false,
    }
}

/// Splits `http://HOST[:PORT]REST` into `http://HOST`, the port text and `REST`.
fn split_port(uri: &str) -> Option<(&str, Option<&str>, &str)> {
    let after = uri.strip_prefix("http://")?;
    let authority_len = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = &after[..authority_len];
    let host_len = if authority.starts_with('[') {
        authority.find(']')? + 1
    } else {
        authority.find(':').unwrap_or(authority.len())
    };
    let head = &uri[..7 + host_len];
    let port = match &authority[host_len..] {
        "" => None,
        p => Some(p.strip_prefix(':')?),
    };
    Some((head, port, &after[authority_len..]))
}

fn is_port(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 5
        && p.bytes().all(|b| b.is_ascii_digit())
        && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n))
}

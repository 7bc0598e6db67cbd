//! [`ClientMetadata`]: the registered metadata of a client (RFC 7591 §2), parsed from the raw
//! request under a [`RegistrationPolicy`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::software_statement;
use super::substitution::{Substitution, Substitutions};
use crate::clients::RegistrationPolicy;
use crate::clients::{parse_web_uri, RedirectUri};
use crate::clock::{Clock, SystemClock};
use crate::error::RegistrationError;
use crate::values::{
    forbidden_grant_reason, is_email, is_language_tag, parse_text, truncate, ApplicationType,
    CodeChallengeMethod, GrantType, ResponseType, Scope, TokenEndpointAuthMethod,
};

/// Human-readable fields that may carry language-tagged variants (RFC 7591 §2.2).
pub const LOCALIZABLE_FIELDS: &[&str] = &[
    "client_name",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
];

/// JWT claims of a software statement that are not client metadata.
const JWT_CLAIMS: &[&str] = &["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// The metadata of one client, with every default applied. Valid by construction.
///
/// ```
/// use authz_domain::client_registration::{ClientMetadata, RegistrationPolicy, TokenEndpointAuthMethod};
/// let raw = serde_json::json!({
///     "client_name": "Claude Code",
///     "redirect_uris": ["http://localhost:53682/callback"],
///     "grant_types": ["authorization_code", "refresh_token"],
///     "response_types": ["code"],
///     "token_endpoint_auth_method": "none"
/// });
/// let metadata = ClientMetadata::from_request(raw.as_object().unwrap(), &RegistrationPolicy::default())?;
/// assert_eq!(metadata.token_endpoint_auth_method, TokenEndpointAuthMethod::None);
/// assert_eq!(metadata.code_challenge_method.as_str(), "S256");
/// # Ok::<(), authz_domain::client_registration::RegistrationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// Redirect URIs, exactly as sent, duplicates collapsed, order kept.
    #[serde(default)]
    pub redirect_uris: Vec<RedirectUri>,
    /// Where the client may ask to be sent after logout (OpenID Connect RP-Initiated Logout),
    /// under the same rules as `redirect_uris`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// Grant types, order kept.
    pub grant_types: Vec<GrantType>,
    /// Response types: `["code"]` exactly when `authorization_code` is registered.
    #[serde(default)]
    pub response_types: Vec<ResponseType>,
    /// How the client authenticates at the token endpoint.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// The PKCE method the client commits to (always `S256`).
    pub code_challenge_method: CodeChallengeMethod,
    /// The registered scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Home page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// Logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// Terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// Privacy policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// Language-tagged variants keyed exactly as sent (`"client_name#fr"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub localized: BTreeMap<String, String>,
    /// E-mail addresses of people responsible for the client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    /// Where the client's JWK Set is published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The client's JWK Set, by value (public keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Identifier of the client software.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// Version of the client software.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// The verified software statement, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_statement: Option<String>,
    /// OpenID Connect application type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<ApplicationType>,
}

/// A parsed request: the metadata to register and what the server substituted for what was
/// asked (RFC 7591 §3.2.1; empty when everything was registered as sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMetadata {
    /// The metadata to register.
    pub metadata: ClientMetadata,
    /// What was registered instead of what was requested, for the audit trail.
    pub substitutions: Vec<Substitution>,
}

impl ClientMetadata {
    /// Parses the members of a registration request, applying defaults. Uses the system clock to
    /// judge a software statement's expiry; see [`ClientMetadata::from_request_at`].
    pub fn from_request(
        raw: &Map<String, Value>,
        policy: &RegistrationPolicy,
    ) -> Result<Self, RegistrationError> {
        Self::from_request_at(raw, policy, SystemClock.now())
    }

    /// Parses the members of a registration request at time `now` (Unix seconds).
    ///
    /// Unknown members are ignored; `null` means absent; the empty string for any optional string
    /// member means absent (its default applies). The first problem found is returned, naming the field.
    /// Where the policy allows substitution, a substitutable request is registered with the
    /// nearest supported values; [`ClientMetadata::parse_request_at`] also says what changed.
    pub fn from_request_at(
        raw: &Map<String, Value>,
        policy: &RegistrationPolicy,
        now: i64,
    ) -> Result<Self, RegistrationError> {
        Self::parse_request_at(raw, policy, now).map(|parsed| parsed.metadata)
    }

    /// As [`ClientMetadata::from_request_at`], with the substitutions made (RFC 7591 §3.2.1).
    pub fn parse_request_at(
        raw: &Map<String, Value>,
        policy: &RegistrationPolicy,
        now: i64,
    ) -> Result<ParsedMetadata, RegistrationError> {
        let statement = match raw.get("software_statement") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => {
                return Err(RegistrationError::metadata(format!(
                    "software_statement: expected a string (a signed JWT), got {}",
                    json_type(other)
                )))
            }
        };
        let members: Cow<'_, Map<String, Value>> = match statement {
            Some(jwt) => {
                let claims = software_statement::verify(jwt, &policy.software_statements, now)?;
                let mut merged = raw.clone();
                for (name, value) in claims {
                    if !JWT_CLAIMS.contains(&name.as_str()) {
                        merged.insert(name, value);
                    }
                }
                Cow::Owned(merged)
            }
            None if policy.software_statements.required => {
                return Err(RegistrationError::InvalidSoftwareStatement(
                    "software_statement: this server only registers clients with a software statement from a trusted issuer".into(),
                ))
            }
            None => Cow::Borrowed(raw),
        };
        let f = Members(&members);
        let mut subs = Substitutions::new(policy.substitution);

        let token_endpoint_auth_method = parse_auth_method(&f, policy, &mut subs)?;
        let grant_types = parse_grant_types(&f, policy, token_endpoint_auth_method, &mut subs)?;
        let response_types = parse_response_types(&f, &grant_types, &mut subs)?;
        let redirect_uris = parse_redirect_uris(&f, policy, &grant_types)?;
        let post_logout_redirect_uris = parse_post_logout_redirect_uris(&f, policy)?;

        let code_challenge_method = match f.string("code_challenge_method")? {
            None | Some("" | "S256") => CodeChallengeMethod::S256,
            Some(other) => {
                return Err(RegistrationError::metadata(format!(
                    "code_challenge_method: {:?} is not supported; only \"S256\" is accepted (PKCE with S256 is required)",
                    truncate(other, 40)
                )))
            }
        };

        let scope = parse_scope(&f, policy, &mut subs)?;

        let max_uri = policy.redirect_uris.max_uri_length;
        let client_name = f
            .string("client_name")?
            .map(|v| parse_display_text("client_name", v, policy.max_client_name_chars))
            .transpose()?
            .flatten();
        let web_uri = |name: &str| -> Result<Option<String>, RegistrationError> {
            match f.string(name)? {
                None | Some("") => Ok(None),
                Some(v) => parse_web_uri(v, max_uri, true)
                    .map(Some)
                    .map_err(|e| RegistrationError::metadata(format!("{name}: {e}"))),
            }
        };
        let client_uri = web_uri("client_uri")?;
        let logo_uri = web_uri("logo_uri")?;
        let tos_uri = web_uri("tos_uri")?;
        let policy_uri = web_uri("policy_uri")?;
        let localized = parse_localized(&f, policy)?;

        let contacts = parse_contacts(&f, policy)?;

        let jwks_uri = match f.string("jwks_uri")? {
            None | Some("") => None,
            Some(v) => Some(
                parse_web_uri(v, max_uri, false)
                    .map_err(|e| RegistrationError::metadata(format!("jwks_uri: {e}")))?,
            ),
        };
        let jwks = f
            .get("jwks")
            .map(|v| parse_jwks(v, policy.max_jwks_bytes))
            .transpose()?;
        if jwks.is_some() && jwks_uri.is_some() {
            return Err(RegistrationError::metadata(
                "jwks and jwks_uri: send one or the other, not both (RFC 7591 §2)",
            ));
        }

        let software_id = f
            .string("software_id")?
            .map(|v| parse_display_text("software_id", v, policy.max_text_chars))
            .transpose()?
            .flatten();
        let software_version = f
            .string("software_version")?
            .map(|v| parse_display_text("software_version", v, policy.max_text_chars))
            .transpose()?
            .flatten();

        let application_type = match f.string("application_type")? {
            None | Some("") => None,
            Some(v) => Some(ApplicationType::from_wire(v).ok_or_else(|| {
                RegistrationError::metadata(format!(
                    "application_type: {:?} is not supported; use \"web\" or \"native\"",
                    truncate(v, 40)
                ))
            })?),
        };

        let metadata = Self {
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            response_types,
            token_endpoint_auth_method,
            code_challenge_method,
            scope,
            client_name,
            client_uri,
            logo_uri,
            tos_uri,
            policy_uri,
            localized,
            contacts,
            jwks_uri,
            jwks,
            software_id,
            software_version,
            software_statement: statement.map(str::to_owned),
            application_type,
        };
        Ok(ParsedMetadata {
            metadata,
            substitutions: subs.into_vec(),
        })
    }

    /// Whether the client holds a secret.
    pub fn is_confidential(&self) -> bool {
        self.token_endpoint_auth_method.uses_secret()
    }

    /// The metadata as RFC 7591 response members, absent values omitted (never `null`).
    pub fn to_wire(&self) -> Map<String, Value> {
        let mut out = Map::new();
        let mut put = |name: &str, value: Value| {
            out.insert(name.to_owned(), value);
        };
        if !self.redirect_uris.is_empty() {
            put(
                "redirect_uris",
                strings(self.redirect_uris.iter().map(RedirectUri::as_str)),
            );
        }
        if !self.post_logout_redirect_uris.is_empty() {
            put(
                "post_logout_redirect_uris",
                strings(
                    self.post_logout_redirect_uris
                        .iter()
                        .map(RedirectUri::as_str),
                ),
            );
        }
        put(
            "grant_types",
            strings(self.grant_types.iter().map(|g| g.as_str())),
        );
        put(
            "response_types",
            strings(self.response_types.iter().map(|r| r.as_str())),
        );
        put(
            "token_endpoint_auth_method",
            self.token_endpoint_auth_method.as_str().into(),
        );
        put(
            "code_challenge_method",
            self.code_challenge_method.as_str().into(),
        );
        let optional = [
            ("scope", self.scope.as_ref().map(Scope::as_str)),
            ("client_name", self.client_name.as_deref()),
            ("client_uri", self.client_uri.as_deref()),
            ("logo_uri", self.logo_uri.as_deref()),
            ("tos_uri", self.tos_uri.as_deref()),
            ("policy_uri", self.policy_uri.as_deref()),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                put(name, v.into());
            }
        }
        for (name, value) in &self.localized {
            put(name, value.as_str().into());
        }
        if !self.contacts.is_empty() {
            put(
                "contacts",
                strings(self.contacts.iter().map(String::as_str)),
            );
        }
        let rest = [
            ("jwks_uri", self.jwks_uri.as_deref()),
            ("software_id", self.software_id.as_deref()),
            ("software_version", self.software_version.as_deref()),
            ("software_statement", self.software_statement.as_deref()),
            (
                "application_type",
                self.application_type.map(ApplicationType::as_str),
            ),
        ];
        for (name, value) in rest {
            if let Some(v) = value {
                put(name, v.into());
            }
        }
        if let Some(jwks) = &self.jwks {
            put("jwks", jwks.clone());
        }
        out
    }
}

fn strings<'a>(items: impl Iterator<Item = &'a str>) -> Value {
    Value::Array(items.map(|s| Value::String(s.to_owned())).collect())
}

/// The name of a JSON value's type, for error messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Typed access to request members; `null` reads as absent.
struct Members<'a>(&'a Map<String, Value>);

impl<'a> Members<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    fn string(&self, name: &str) -> Result<Option<&'a str>, RegistrationError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(RegistrationError::metadata(format!(
                "{name}: expected a string, got {}",
                json_type(other)
            ))),
        }
    }

    /// An array of strings; `err` builds the error (so `redirect_uris` reports its own code).
    fn string_array(
        &self,
        name: &str,
        max_len: usize,
        err: fn(String) -> RegistrationError,
    ) -> Result<Option<Vec<&'a str>>, RegistrationError> {
        let items = match self.get(name) {
            None => return Ok(None),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(err(format!(
                    "{name}: expected an array of strings, got {}",
                    json_type(other)
                )))
            }
        };
        if items.len() > max_len {
            return Err(err(format!(
                "{name}: {} values is more than the {max_len} allowed",
                items.len()
            )));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.as_str()),
                other => Err(err(format!(
                    "{name}[{i}]: expected a string, got {}",
                    json_type(other)
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

fn parse_auth_method(
    f: &Members<'_>,
    policy: &RegistrationPolicy,
    subs: &mut Substitutions,
) -> Result<TokenEndpointAuthMethod, RegistrationError> {
    let allowed = &policy.allowed_auth_methods;
    let sent = f
        .string("token_endpoint_auth_method")?
        .filter(|v| !v.is_empty());
    let method = match sent {
        None => TokenEndpointAuthMethod::ClientSecretBasic,
        // An unknown method (private_key_jwt, tls_client_auth, …) is refused, not replaced: the
        // client means to authenticate in a way this server cannot check, and a secret it did not
        // ask for may be one it cannot use.
        Some(v) => TokenEndpointAuthMethod::from_wire(v).ok_or_else(|| {
            RegistrationError::metadata(format!(
                "token_endpoint_auth_method: {:?} is not supported; use one of {}",
                truncate(v, 60),
                list(allowed.iter().map(|m| m.as_str()))
            ))
        })?,
    };
    if allowed.contains(&method) {
        return Ok(method);
    }
    // Nearest allowed method: another secret method for a secret method, else the other kind;
    // the response carries the registered method and, exactly when it needs one, a secret.
    let nearest = TokenEndpointAuthMethod::ALL
        .iter()
        .copied()
        .filter(|m| allowed.contains(m))
        .min_by_key(|m| m.uses_secret() != method.uses_secret());
    let asked = sent.map_or_else(
        || "omitted (RFC 7591 default \"client_secret_basic\")".to_owned(),
        |v| format!("{v:?}"),
    );
    if let Some(nearest) = nearest {
        if subs.make(
            "token_endpoint_auth_method",
            format!(
                "{asked} is not allowed by this server; registered {:?}",
                nearest.as_str()
            ),
        ) {
            return Ok(nearest);
        }
    }
    Err(RegistrationError::metadata(format!(
        "token_endpoint_auth_method: {asked} is not allowed by this server; use one of {}",
        list(allowed.iter().map(|m| m.as_str()))
    )))
}

fn parse_grant_types(
    f: &Members<'_>,
    policy: &RegistrationPolicy,
    method: TokenEndpointAuthMethod,
    subs: &mut Substitutions,
) -> Result<Vec<GrantType>, RegistrationError> {
    let supported = || list(policy.allowed_grant_types.iter().map(|g| g.as_str()));
    let Some(raw) = f.string_array("grant_types", 16, RegistrationError::InvalidClientMetadata)?
    else {
        return Ok(if policy.mcp_profile {
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
        } else {
            vec![GrantType::AuthorizationCode]
        });
    };
    let mut grants = Vec::new();
    // Values this server cannot register: (index, message). Unsafe grants are refused at once.
    let mut unsupported: Vec<(usize, String)> = Vec::new();
    for (i, value) in raw.iter().enumerate() {
        if let Some(reason) = forbidden_grant_reason(value) {
            return Err(RegistrationError::metadata(format!(
                "grant_types[{i}]: {reason}"
            )));
        }
        match GrantType::from_wire(value).filter(|g| policy.allowed_grant_types.contains(g)) {
            None => unsupported.push((
                i,
                format!(
                    "{:?} is not supported; supported grant types are {}",
                    truncate(value, 80),
                    supported()
                ),
            )),
            Some(GrantType::ClientCredentials) if !method.uses_secret() => unsupported.push((
                i,
                format!(
                    "client_credentials needs a confidential client; token_endpoint_auth_method {:?} has no secret",
                    method.as_str()
                ),
            )),
            Some(grant) if !grants.contains(&grant) => grants.push(grant),
            Some(_) => {}
        }
    }
    // Unsupported extras beside a supported grant are dropped (the client reads what was
    // registered); a set with nothing supported has no intent left to keep.
    if let Some((i, message)) = unsupported.first() {
        if grants.is_empty() || !subs.enabled() {
            return Err(RegistrationError::metadata(format!(
                "grant_types[{i}]: {message}"
            )));
        }
        for (i, message) in &unsupported {
            subs.make(
                "grant_types",
                format!("dropped grant_types[{i}]: {message}"),
            );
        }
    }
    if grants.is_empty() {
        return Err(RegistrationError::metadata(format!(
            "grant_types: must not be empty; supported grant types are {}",
            supported()
        )));
    }
    let code_allowed = policy
        .allowed_grant_types
        .contains(&GrantType::AuthorizationCode);
    // `refresh_token` alone: its tokens can only come from the code flow, so the code grant is
    // what the client means when it also asks for `response_types: ["code"]` (or the MCP
    // profile requires the pair).
    if grants.contains(&GrantType::RefreshToken)
        && !grants.contains(&GrantType::AuthorizationCode)
        && code_allowed
        && (policy.mcp_profile || asks_for_code_response(f))
        && subs.make(
            "grant_types",
            if policy.mcp_profile {
                "added \"authorization_code\" (refresh tokens come from the authorization code flow; MCP authorization profile)"
            } else {
                "added \"authorization_code\" (response_types asks for \"code\")"
            },
        )
    {
        grants.insert(0, GrantType::AuthorizationCode);
    }
    if policy.mcp_profile
        && grants.contains(&GrantType::AuthorizationCode)
        && !grants.contains(&GrantType::RefreshToken)
        && subs.make(
            "grant_types",
            "added \"refresh_token\" (MCP authorization profile)",
        )
    {
        let after_code = grants
            .iter()
            .position(|g| *g == GrantType::AuthorizationCode)
            .map_or(grants.len(), |p| p + 1);
        grants.insert(after_code, GrantType::RefreshToken);
    }
    if policy.mcp_profile
        && !(grants.contains(&GrantType::AuthorizationCode)
            && grants.contains(&GrantType::RefreshToken))
    {
        return Err(RegistrationError::metadata(
            "grant_types: must include both \"authorization_code\" and \"refresh_token\" (MCP authorization profile)",
        ));
    }
    Ok(grants)
}

/// Whether the request's `response_types` is an array holding `"code"`.
fn asks_for_code_response(f: &Members<'_>) -> bool {
    matches!(f.get("response_types"), Some(Value::Array(items))
        if items.iter().any(|v| v.as_str() == Some(ResponseType::Code.as_str())))
}

fn parse_response_types(
    f: &Members<'_>,
    grants: &[GrantType],
    subs: &mut Substitutions,
) -> Result<Vec<ResponseType>, RegistrationError> {
    let has_code_grant = grants.contains(&GrantType::AuthorizationCode);
    let Some(raw) = f.string_array(
        "response_types",
        8,
        RegistrationError::InvalidClientMetadata,
    )?
    else {
        return Ok(if has_code_grant {
            vec![ResponseType::Code]
        } else {
            Vec::new()
        });
    };
    let mut types = Vec::new();
    for (i, value) in raw.iter().enumerate() {
        // Unknown response types (`token`, `id_token`, …) are refused: `token` is the implicit
        // flow, and the others ask for something this server never returns.
        let t = ResponseType::from_wire(value).ok_or_else(|| {
            RegistrationError::metadata(format!(
                "response_types[{i}]: {:?} is not supported; only \"code\" is accepted",
                truncate(value, 60)
            ))
        })?;
        if !types.contains(&t) {
            types.push(t);
        }
    }
    let has_code = types.contains(&ResponseType::Code);
    if has_code && !has_code_grant {
        return Err(RegistrationError::metadata(
            "response_types: \"code\" needs \"authorization_code\" in grant_types",
        ));
    }
    if has_code_grant && !has_code {
        if subs.make(
            "response_types",
            "added \"code\" (grant_types includes \"authorization_code\")",
        ) {
            types.push(ResponseType::Code);
        } else {
            return Err(RegistrationError::metadata(
                "response_types: must include \"code\" because grant_types includes \"authorization_code\"",
            ));
        }
    }
    Ok(types)
}

fn parse_redirect_uris(
    f: &Members<'_>,
    policy: &RegistrationPolicy,
    grants: &[GrantType],
) -> Result<Vec<RedirectUri>, RegistrationError> {
    let rules = &policy.redirect_uris;
    let raw = f
        .string_array(
            "redirect_uris",
            rules.max_uris,
            RegistrationError::InvalidRedirectUri,
        )?
        .unwrap_or_default();
    if raw.is_empty() && grants.contains(&GrantType::AuthorizationCode) {
        return Err(RegistrationError::redirect(
            "redirect_uris: at least one redirect URI is required for the authorization_code grant",
        ));
    }
    let mut uris: Vec<RedirectUri> = Vec::with_capacity(raw.len());
    for (i, value) in raw.iter().enumerate() {
        let uri = RedirectUri::parse(value, rules)
            .map_err(|e| RegistrationError::redirect(format!("redirect_uris[{i}]: {e}")))?;
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    Ok(uris)
}

fn parse_post_logout_redirect_uris(
    f: &Members<'_>,
    policy: &RegistrationPolicy,
) -> Result<Vec<RedirectUri>, RegistrationError> {
    let rules = &policy.redirect_uris;
    let raw = f
        .string_array(
            "post_logout_redirect_uris",
            rules.max_uris,
            RegistrationError::InvalidClientMetadata,
        )?
        .unwrap_or_default();
    let mut uris: Vec<RedirectUri> = Vec::with_capacity(raw.len());
    for (i, value) in raw.iter().enumerate() {
        let uri = RedirectUri::parse(value, rules).map_err(|e| {
            RegistrationError::metadata(format!("post_logout_redirect_uris[{i}]: {e}"))
        })?;
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    Ok(uris)
}

fn parse_scope(
    f: &Members<'_>,
    policy: &RegistrationPolicy,
    subs: &mut Substitutions,
) -> Result<Option<Scope>, RegistrationError> {
    let requested = f
        .string("scope")?
        .map(|v| {
            if v.len() > 4096 {
                return Err(RegistrationError::metadata("scope: longer than 4096 bytes"));
            }
            Scope::parse(v).map_err(|e| RegistrationError::metadata(format!("scope: {e}")))
        })
        .transpose()?
        .flatten();
    let Some(scope) = requested else {
        return Ok(policy.default_scope.clone());
    };
    let count = scope.tokens().count();
    if count > policy.max_scopes {
        return Err(RegistrationError::metadata(format!(
            "scope: {count} scope values is more than the {} allowed",
            policy.max_scopes
        )));
    }
    let Some(allowed) = &policy.allowed_scopes else {
        return Ok(Some(scope));
    };
    let (kept, unknown): (Vec<&str>, Vec<&str>) =
        scope.tokens().partition(|t| allowed.iter().any(|a| a == t));
    let Some(first_unknown) = unknown.first() else {
        return Ok(Some(scope));
    };
    let available = list(allowed.iter().map(String::as_str));
    // Unknown scope tokens are dropped: the client gets (and is told) what it may have.
    let kept = Scope::parse(&kept.join(" ")).ok().flatten();
    let registered = match (&kept, &policy.default_scope) {
        (Some(k), _) => format!("registered {:?}", k.as_str()),
        (None, Some(d)) => format!("registered the default scope {:?}", d.as_str()),
        (None, None) => "registered no scope".to_owned(),
    };
    if subs.make(
        "scope",
        format!(
            "dropped {} (not available; available scopes are {available}); {registered}",
            unknown
                .iter()
                .map(|t| format!("{:?}", truncate(t, 60)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ) {
        return Ok(kept.or_else(|| policy.default_scope.clone()));
    }
    Err(RegistrationError::metadata(format!(
        "scope: {:?} is not available; available scopes are {available}",
        truncate(first_unknown, 60),
    )))
}

/// A human-readable member people are shown: [`super::display_text`]'s rule, then the length
/// and the empty-means-absent reading of [`parse_text`].
fn parse_display_text(
    field: &str,
    value: &str,
    max_chars: usize,
) -> Result<Option<String>, RegistrationError> {
    super::display_text::check_display_text(value)
        .map_err(|e| RegistrationError::metadata(format!("{field}: {e}")))?;
    parse_text(field, value, max_chars)
}

fn parse_localized(
    f: &Members<'_>,
    policy: &RegistrationPolicy,
) -> Result<BTreeMap<String, String>, RegistrationError> {
    let mut out = BTreeMap::new();
    for (key, value) in f.0.iter() {
        let Some((base, tag)) = key.split_once('#') else {
            continue;
        };
        if !LOCALIZABLE_FIELDS.contains(&base) || value.is_null() {
            continue; // an unknown member: ignored, as RFC 7591 §2 says
        }
        if !is_language_tag(tag) {
            return Err(RegistrationError::metadata(format!(
                "{}: {:?} is not a BCP 47 language tag (such as \"fr\" or \"ja-Jpan-JP\")",
                truncate(key, 80),
                truncate(tag, 40)
            )));
        }
        let Value::String(text) = value else {
            return Err(RegistrationError::metadata(format!(
                "{key}: expected a string, got {}",
                json_type(value)
            )));
        };
        let checked = if base == "client_name" {
            parse_display_text(key, text, policy.max_client_name_chars)?
        } else if text.is_empty() {
            None
        } else {
            Some(
                parse_web_uri(text, policy.redirect_uris.max_uri_length, true)
                    .map_err(|e| RegistrationError::metadata(format!("{key}: {e}")))?,
            )
        };
        if let Some(v) = checked {
            out.insert(key.clone(), v);
        }
        if out.len() > policy.max_localized_values {
            return Err(RegistrationError::metadata(format!(
                "language-tagged members: more than the {} allowed",
                policy.max_localized_values
            )));
        }
    }
    Ok(out)
}

fn parse_contacts(
    f: &Members<'_>,
    policy: &RegistrationPolicy,
) -> Result<Vec<String>, RegistrationError> {
    let raw = f
        .string_array(
            "contacts",
            policy.max_contacts,
            RegistrationError::InvalidClientMetadata,
        )?
        .unwrap_or_default();
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, value) in raw.iter().enumerate() {
        if !is_email(value) {
            return Err(RegistrationError::metadata(format!(
                "contacts[{i}]: {:?} is not an e-mail address",
                truncate(value, 80)
            )));
        }
        if !out.iter().any(|c| c == value) {
            out.push((*value).to_owned());
        }
    }
    Ok(out)
}

/// Members of a JWK that hold private key material (RFC 7518 §6).
const PRIVATE_JWK_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn parse_jwks(value: &Value, max_bytes: usize) -> Result<Value, RegistrationError> {
    // Compact JSON, as stored: a bound on what one registration may make the server keep.
    let size = serde_json::to_string(value).map_or(usize::MAX, |s| s.len());
    if size > max_bytes {
        return Err(RegistrationError::metadata(format!(
            "jwks: {size} bytes is larger than the {max_bytes} allowed"
        )));
    }
    let Value::Object(set) = value else {
        return Err(RegistrationError::metadata(format!(
            "jwks: expected a JWK Set object {{\"keys\": [...]}}, got {}",
            json_type(value)
        )));
    };
    let Some(Value::Array(keys)) = set.get("keys") else {
        return Err(RegistrationError::metadata(
            "jwks: expected a JWK Set object with a \"keys\" array",
        ));
    };
    if keys.is_empty() || keys.len() > 16 {
        return Err(RegistrationError::metadata(
            "jwks: \"keys\" must hold 1 to 16 keys",
        ));
    }
    for (i, key) in keys.iter().enumerate() {
        let Value::Object(key) = key else {
            return Err(RegistrationError::metadata(format!(
                "jwks.keys[{i}]: expected a JWK object"
            )));
        };
        if !matches!(key.get("kty"), Some(Value::String(k)) if !k.is_empty()) {
            return Err(RegistrationError::metadata(format!(
                "jwks.keys[{i}]: a JWK needs a \"kty\" string"
            )));
        }
        if let Some(member) = PRIVATE_JWK_MEMBERS.iter().find(|m| key.contains_key(**m)) {
            return Err(RegistrationError::metadata(format!(
                "jwks.keys[{i}]: holds the private member {member:?}; register public keys only"
            )));
        }
    }
    Ok(value.clone())
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

//! Request and response bodies as they appear on the wire, documented for OpenAPI. Every field's
//! doc comment states its rule; paperclip turns them into the schema descriptions.

use std::collections::BTreeMap;

use authz_domain::clients::{Client, ClientMetadata};
use paperclip::actix::Apiv2Schema;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Every error: an OAuth error code and a description naming the field and what is accepted.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct ErrorBody {
    /// OAuth error code: `invalid_request`, `invalid_redirect_uri`, `invalid_client_metadata`,
    /// `invalid_software_statement`, `unapproved_software_statement`, `invalid_token`,
    /// `access_denied`, `insufficient_scope`, `not_found`, `conflict`, `server_error` or
    /// `temporarily_unavailable`.
    pub error: String,
    /// Human-readable explanation: which field, what is wrong, what is accepted.
    pub error_description: String,
}

/// A client registration request (RFC 7591 §2). Members not listed are ignored; `null` means
/// absent. Human-readable members may also be sent language-tagged (`client_name#fr`), BCP 47.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Apiv2Schema)]
pub struct ClientRegistrationRequest {
    /// Required when `grant_types` includes `authorization_code`. Absolute URIs without fragment or
    /// wildcard, at most 20, each at most 2000 bytes: `https` on any host, `http` only on
    /// `localhost`/`127.0.0.1`/`[::1]` (any port), or a private-use scheme of a native app
    /// (`com.example.app:/cb`, `cursor://…`). Never `javascript`, `data`, `file`, `vbscript`,
    /// `blob`, `about`. Duplicates are collapsed; each URI is stored exactly as sent.
    pub redirect_uris: Option<Vec<String>>,
    /// Where the client may ask to be sent after logout (OpenID Connect RP-Initiated Logout), under
    /// the same rules as `redirect_uris`.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// `authorization_code`, `refresh_token` (and `client_credentials` where the server enables it,
    /// for confidential clients). Must contain both `authorization_code` and `refresh_token` under
    /// the MCP profile; defaults to both. `implicit` and `password` are always refused.
    pub grant_types: Option<Vec<String>>,
    /// Only `code`. Defaults to `["code"]`; `code` and `authorization_code` go together.
    pub response_types: Option<Vec<String>>,
    /// `none` (public client, no secret), `client_secret_basic` (default) or `client_secret_post`.
    pub token_endpoint_auth_method: Option<String>,
    /// PKCE method; only `S256`. Registered as `S256` when omitted.
    pub code_challenge_method: Option<String>,
    /// Space-separated scope tokens (RFC 6749 §3.3). Empty means none requested; the server's
    /// default scope applies. Where the server lists allowed scopes, no other is accepted.
    pub scope: Option<String>,
    /// Display name, at most 200 characters; no control, bidirectional or invisible format
    /// characters (refused with the code point and its position).
    pub client_name: Option<String>,
    /// Home page: `https` (or `http` on loopback).
    pub client_uri: Option<String>,
    /// Logo: `https` (or `http` on loopback).
    pub logo_uri: Option<String>,
    /// Terms of service: `https` (or `http` on loopback).
    pub tos_uri: Option<String>,
    /// Privacy policy: `https` (or `http` on loopback).
    pub policy_uri: Option<String>,
    /// E-mail addresses, at most 10.
    pub contacts: Option<Vec<String>>,
    /// URL of the client's JWK Set (`https`); not together with `jwks`.
    pub jwks_uri: Option<String>,
    /// The client's JWK Set by value: `{"keys": [...]}`, each key with `kty`, public members only.
    pub jwks: Option<serde_json::Value>,
    /// Identifier of the client software (stored and echoed).
    pub software_id: Option<String>,
    /// Version of the client software (stored and echoed).
    pub software_version: Option<String>,
    /// A JWT signed by an issuer the server trusts; its claims override the same members here.
    pub software_statement: Option<String>,
    /// `web` or `native` (stored and echoed).
    pub application_type: Option<String>,
}

/// An update request (RFC 7592 §2.2): `client_id` plus the complete metadata to register, with the
/// same members and rules as [`ClientRegistrationRequest`]. Omitted members are removed or reset.
/// `registration_access_token`, `registration_client_uri`, `client_id_issued_at` and
/// `client_secret_expires_at` must not be sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Apiv2Schema)]
pub struct ClientUpdateRequest {
    /// Required; equal to the client id in the URL.
    pub client_id: String,
    /// Optional; if sent, must equal the current client secret.
    pub client_secret: Option<String>,
    /// The metadata, as in a registration request.
    #[serde(flatten)]
    pub metadata: ClientRegistrationRequest,
}

/// The registered metadata, every default applied. Absent values are omitted, never `null`.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct RegisteredMetadata {
    /// Registered redirect URIs, exactly as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    /// Registered post-logout redirect URIs, exactly as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Registered grant types.
    pub grant_types: Vec<String>,
    /// Registered response types (`["code"]` with `authorization_code`).
    pub response_types: Vec<String>,
    /// How the client authenticates at the token endpoint.
    pub token_endpoint_auth_method: String,
    /// Always `S256`: every client of this server commits to PKCE with S256.
    pub code_challenge_method: String,
    /// Registered scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
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
    /// Contacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<String>>,
    /// JWK Set URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// JWK Set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Software identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// Software version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// The software statement, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_statement: Option<String>,
    /// `web` or `native`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    /// Language-tagged members (`client_name#fr`, …), exactly as sent.
    #[serde(flatten)]
    pub localized: BTreeMap<String, String>,
}

/// The registered metadata on the wire: the domain's own wire form (`ClientMetadata::to_wire`),
/// serialised as it is, documented in OpenAPI as [`RegisteredMetadata`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WireMetadata(pub serde_json::Map<String, serde_json::Value>);

impl From<&ClientMetadata> for WireMetadata {
    fn from(metadata: &ClientMetadata) -> Self {
        Self(metadata.to_wire())
    }
}

impl paperclip::v2::schema::Apiv2Schema for WireMetadata {
    fn name() -> Option<String> {
        <RegisteredMetadata as paperclip::v2::schema::Apiv2Schema>::name()
    }
    fn description() -> &'static str {
        <RegisteredMetadata as paperclip::v2::schema::Apiv2Schema>::description()
    }
    fn raw_schema() -> paperclip::v2::models::DefaultSchemaRaw {
        <RegisteredMetadata as paperclip::v2::schema::Apiv2Schema>::raw_schema()
    }
}

/// Client information response (RFC 7591 §3.2.1, RFC 7592 §3).
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct ClientInformationResponse {
    /// Server-issued identifier: 128 random bits, base64url. Never reused.
    pub client_id: String,
    /// When the identifier was issued (Unix seconds).
    pub client_id_issued_at: i64,
    /// Issued only when `token_endpoint_auth_method` is not `none`: 256 random bits or more,
    /// base64url. Shown only in the response that issues it; stored only as an Argon2id hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Present when the client has a secret: when it expires (Unix seconds), `0` for never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// Bearer token for `registration_client_uri` (RFC 7592), prefixed `rat_`.
    pub registration_access_token: String,
    /// Where the client reads, updates and deletes its registration.
    pub registration_client_uri: String,
    /// The registered metadata.
    #[serde(flatten)]
    pub metadata: WireMetadata,
}

impl ClientInformationResponse {
    /// The response for `client`, showing `secret` only when one was just issued.
    pub fn new(
        client: &Client,
        secret: Option<&SecretString>,
        token: &SecretString,
        public_base_url: &str,
    ) -> Self {
        Self {
            client_id: client.client_id.clone(),
            client_id_issued_at: client.issued_at,
            client_secret: secret.map(|s| s.expose_secret().to_owned()),
            client_secret_expires_at: client
                .secret_hash
                .as_ref()
                .map(|_| client.secret_expires_at),
            registration_access_token: token.expose_secret().to_owned(),
            registration_client_uri: registration_client_uri(public_base_url, &client.client_id),
            metadata: WireMetadata::from(&client.metadata),
        }
    }
}

/// `{public_base_url}/register/{client_id}`; client ids are base64url, so no escaping is needed.
pub fn registration_client_uri(public_base_url: &str, client_id: &str) -> String {
    format!("{public_base_url}/register/{client_id}")
}

/// Authorization server metadata (RFC 8414 §2). Only endpoints that exist are advertised.
#[derive(Debug, Clone, Serialize, Deserialize, Apiv2Schema)]
pub struct AuthorizationServerMetadata {
    /// Exactly `server.public_base_url`.
    pub issuer: String,
    /// The authorization endpoint (RFC 6749 §3.1).
    pub authorization_endpoint: String,
    /// The token endpoint (RFC 6749 §3.2).
    pub token_endpoint: String,
    /// The JWK Set with the keys access tokens are signed with.
    pub jwks_uri: String,
    /// The RFC 7591 registration endpoint (absent when registration is turned off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// The RFC 7662 introspection endpoint.
    pub introspection_endpoint: String,
    /// How callers of the introspection endpoint authenticate.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// The RFC 7009 revocation endpoint.
    pub revocation_endpoint: String,
    /// How callers of the revocation endpoint authenticate.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// Always `["code"]`.
    pub response_types_supported: Vec<String>,
    /// Always `["query"]`.
    pub response_modes_supported: Vec<String>,
    /// Always `true`: authorization responses carry `iss` (RFC 9207).
    pub authorization_response_iss_parameter_supported: bool,
    /// Grant types a client may register.
    pub grant_types_supported: Vec<String>,
    /// Token endpoint authentication methods a client may register.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Always `["S256"]`.
    pub code_challenge_methods_supported: Vec<String>,
    /// Scopes a client may register, when the server restricts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// Human-readable documentation of this server's API.
    pub service_documentation: String,
}

//! Configuration: `config/default.toml` (also compiled in, so the binary runs from anywhere), then
//! `{config_dir}/default.toml`, then `{config_dir}/{AUTHZ_ENV}.toml`, then `AUTHZ__SECTION__KEY`
//! environment variables. Unknown keys are errors; every value is checked at start and a bad one
//! stops the server with a message naming the key, the value and what is expected.

mod admin;
mod audit;
mod authorization;
mod database;
mod diagnostics;
mod keys;
mod limits;
mod logging;
mod pages;
mod rate_limits;
mod registration;
mod registration_trust;
mod server;
mod tokens;
mod users;
mod validators;

pub use admin::AdminSettings;
pub use audit::AuditSettings;
pub use authorization::{AuthorizationSettings, ScopeSettings};
pub use database::{DatabaseSettings, SqliteSynchronousSetting};
pub use diagnostics::environment_warnings;
pub use keys::KeySettings;
pub use limits::{Argon2Config, LimitSettings};
pub use logging::{LogFormat, LoggingSettings};
pub use pages::PagesSettings;
pub use rate_limits::RateLimitSettings;
pub use registration::{RegistrationSettings, SoftwareStatementSettings, TrustedIssuerSettings};
pub use server::ServerSettings;
pub use tokens::TokenSettings;
pub use users::UsersSettings;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use authz_domain::administration::AdminPolicy;
use authz_domain::authorization::{AuthorizationPolicy, ResourceIndicator, ScopeDefinition};
use authz_domain::clients::{
    ClientSettings, CredentialPolicy, DecodingKey, JwtAlgorithm, JwtError, RedirectUriPolicy,
    RegistrationPolicy, SoftwareStatementPolicy, TrustedIssuer,
};
use authz_domain::credentials::Argon2Settings;
use authz_domain::keys::{KeyPolicy, SigningAlgorithm};
use authz_domain::token::TokenPolicy;
use authz_domain::values::{GrantType, Scope, TokenEndpointAuthMethod};
use authz_http::HttpSettings;
use authz_storage::{DatabaseOptions, SqliteSynchronous};
use config::{Config, Environment, File, FileFormat};
use garde::Validate;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

const EMBEDDED_DEFAULTS: &str = include_str!("../../../../config/default.toml");

/// Keys holding lists; in environment variables and overrides their items are comma-separated.
const LIST_KEYS: &[&str] = &[
    "registration.allowed_grant_types",
    "registration.allowed_auth_methods",
    "registration.allowed_scopes",
    "admin.allowed_grant_types",
    "authorization.resources",
    "server.trusted_proxies",
];

/// The whole configuration.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `[server]`.
    #[garde(dive)]
    pub server: ServerSettings,
    /// `[database]`.
    #[garde(dive)]
    pub database: DatabaseSettings,
    /// `[registration]`.
    #[garde(dive)]
    pub registration: RegistrationSettings,
    /// `[admin]`.
    #[garde(dive)]
    pub admin: AdminSettings,
    /// `[authorization]`.
    #[garde(dive)]
    pub authorization: AuthorizationSettings,
    /// `[tokens]`.
    #[garde(dive)]
    pub tokens: TokenSettings,
    /// `[keys]`.
    #[garde(dive)]
    pub keys: KeySettings,
    /// `[pages]`.
    #[garde(dive)]
    pub pages: PagesSettings,
    /// `[limits]`.
    #[garde(dive)]
    pub limits: LimitSettings,
    /// `[argon2]`.
    #[garde(dive)]
    pub argon2: Argon2Config,
    /// `[logging]`.
    #[garde(dive)]
    pub logging: LoggingSettings,
    /// `[users]`.
    #[garde(dive)]
    pub users: UsersSettings,
    /// `[audit]`.
    #[garde(dive)]
    pub audit: AuditSettings,
    /// `[rate_limits]`.
    #[garde(dive)]
    pub rate_limits: RateLimitSettings,
}

/// Where settings come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Folder holding `default.toml` and `{env}.toml`; `None`: `./config` if it exists.
    pub config_dir: Option<PathBuf>,
    /// `AUTHZ_ENV`: which `{env}.toml` to layer on.
    pub environment: Option<String>,
    /// Read `AUTHZ__…` variables.
    pub use_env_vars: bool,
    /// Final overrides (`key`, `value`), for tests and the command line.
    pub overrides: Vec<(String, String)>,
}

impl Sources {
    /// The sources of a normal start: `config_dir`, `AUTHZ_ENV` and the environment.
    pub fn from_process(config_dir: Option<PathBuf>) -> Self {
        Self {
            config_dir,
            environment: std::env::var("AUTHZ_ENV").ok().filter(|e| !e.is_empty()),
            use_env_vars: true,
            overrides: Vec::new(),
        }
    }
}

impl Settings {
    /// Loads and validates the settings.
    pub fn load(sources: &Sources) -> anyhow::Result<Self> {
        let mut builder =
            Config::builder().add_source(File::from_str(EMBEDDED_DEFAULTS, FileFormat::Toml));
        let dir = match &sources.config_dir {
            Some(dir) => {
                if !dir.is_dir() {
                    return Err(anyhow!("--config-dir {}: not a folder", dir.display()));
                }
                Some(dir.clone())
            }
            None => Some(PathBuf::from("config")).filter(|d| d.is_dir()),
        };
        if let (None, Some(env)) = (&dir, &sources.environment) {
            return Err(anyhow!(
                "AUTHZ_ENV={env}, but there is no config folder to read {env}.toml from: run from the project folder (./config) or pass --config-dir"
            ));
        }
        if let Some(dir) = &dir {
            builder = builder.add_source(File::from(dir.join("default.toml")).required(false));
            if let Some(env) = &sources.environment {
                let file = dir.join(format!("{env}.toml"));
                if !file.is_file() {
                    return Err(anyhow!(
                        "AUTHZ_ENV={env}: {} does not exist; expected one of the files in {}",
                        file.display(),
                        dir.display()
                    ));
                }
                builder = builder.add_source(File::from(file));
            }
        }
        if sources.use_env_vars {
            let mut environment = Environment::with_prefix("AUTHZ")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .try_parsing(true);
            for key in LIST_KEYS {
                environment = environment.with_list_parse_key(key);
            }
            builder = builder.add_source(environment);
        }
        for (key, value) in &sources.overrides {
            builder = if LIST_KEYS.contains(&key.as_str()) {
                let items: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                builder.set_override(key.as_str(), items)
            } else {
                builder.set_override(key.as_str(), value.as_str())
            }
            .with_context(|| format!("override {key}"))?;
        }
        let mut settings: Settings = builder
            .build()
            .context("configuration")?
            .try_deserialize()
            .map_err(|e| anyhow!("configuration: {}", diagnostics::describe(&e)))?;
        // Environment lists arrive untrimmed ("a, b") and an empty variable as [""].
        let r = &mut settings.registration;
        for list in [
            &mut r.allowed_grant_types,
            &mut r.allowed_auth_methods,
            &mut r.allowed_scopes,
            &mut settings.admin.allowed_grant_types,
            &mut settings.authorization.resources,
            &mut settings.server.trusted_proxies,
        ] {
            *list = list
                .iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
        }
        settings.check()?;
        Ok(settings)
    }

    /// Validates every value, reporting each problem as `key = value: what is expected`.
    pub fn check(&self) -> anyhow::Result<()> {
        let mut problems: Vec<String> = Vec::new();
        if let Err(report) = self.validate() {
            let shown = serde_json::to_value(self).unwrap_or_default();
            for (path, error) in report.iter() {
                let key = path.to_string();
                problems.push(format!("{key} = {}: {error}", value_at(&shown, &key)));
            }
        }
        // Checks across keys, and key material that only parses as a whole.
        if let Err(e) = self.registration_policy() {
            problems.push(e.to_string());
        }
        if let Err(e) = self.admin_policy() {
            if !e.to_string().starts_with("registration.") {
                problems.push(e.to_string());
            }
        }
        if self.admin.default_per_page > self.admin.max_per_page {
            problems.push(format!(
                "admin.default_per_page = {}: must not exceed admin.max_per_page ({})",
                self.admin.default_per_page, self.admin.max_per_page
            ));
        }
        if let Err(e) = self.authorization_policy() {
            problems.push(e.to_string());
        }
        problems.extend(self.users.problems());
        if let Err(e) = authz_domain::credentials::SecretHasher::new(self.argon2_settings(), 1) {
            problems.push(format!(
                "argon2: {e} (memory_kib must be at least 8 × parallelism)"
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(anyhow!(
                "invalid configuration:\n  {}",
                problems.join("\n  ")
            ))
        }
    }

    /// The database options.
    pub fn database_options(&self) -> DatabaseOptions {
        let db = &self.database;
        DatabaseOptions {
            url: db.url.clone(),
            pool_size: db.pool_size,
            connect_timeout: Duration::from_secs(db.connect_timeout_secs),
            sqlite_synchronous: match db.sqlite_synchronous {
                SqliteSynchronousSetting::Normal => SqliteSynchronous::Normal,
                SqliteSynchronousSetting::Full => SqliteSynchronous::Full,
            },
            sqlite_busy_timeout: Duration::from_millis(db.sqlite_busy_timeout_ms),
        }
    }

    /// The HTTP settings.
    pub fn http_settings(&self) -> anyhow::Result<HttpSettings> {
        let mut http = HttpSettings::new(&self.server.public_base_url);
        http.scopes_supported = self
            .authorization_policy()?
            .scopes
            .map(|scopes| scopes.into_iter().map(|s| s.name).collect());
        // Clients re-read the JWK Set well before a rotated-in key starts signing.
        http.jwks_max_age_secs = (self.keys.publish_ahead_secs / 4).clamp(30, 3600);
        http.registration_enabled = self.registration.enabled;
        http.admin_enabled = self.admin.enabled;
        http.max_body_bytes = self.limits.max_body_bytes;
        http.body_read_timeout = Duration::from_secs(self.server.body_read_timeout_secs);
        http.max_pending_bodies = crate::connections::max_pending_bodies(self);
        let proxies = authz_http::client_ip::TrustedProxies::parse(&self.server.trusted_proxies)
            .map_err(|e| anyhow!("server.trusted_proxies: {e}"))?;
        http.rate_limits = Arc::new(authz_http::rate_limit::RateLimits::new(
            self.rate_limits.policy(proxies),
        ));
        if !self.server.service_documentation.is_empty() {
            http.service_documentation = self.server.service_documentation.clone();
        }
        Ok(http)
    }

    /// Argon2 cost.
    pub fn argon2_settings(&self) -> Argon2Settings {
        Argon2Settings {
            memory_kib: self.argon2.memory_kib,
            iterations: self.argon2.iterations,
            parallelism: self.argon2.parallelism,
        }
    }

    /// HTTP workers: `server.workers`, or one per core.
    pub fn worker_count(&self) -> usize {
        match self.server.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// How many hashes may run at once.
    pub fn hash_concurrency(&self) -> usize {
        match self.argon2.max_concurrent_hashes {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }

    /// The registration policy these settings describe.
    pub fn registration_policy(&self) -> anyhow::Result<RegistrationPolicy> {
        let r = &self.registration;
        let grants = r
            .allowed_grant_types
            .iter()
            .filter_map(|g| GrantType::from_wire(g))
            .collect();
        let methods = r
            .allowed_auth_methods
            .iter()
            .filter_map(|m| TokenEndpointAuthMethod::from_wire(m))
            .collect();
        let trusted_issuers = r
            .software_statement
            .trusted_issuers
            .iter()
            .enumerate()
            .map(|(i, t)| trusted_issuer(i, t))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let policy = RegistrationPolicy {
            mcp_profile: r.mcp_profile,
            substitution: r.substitution,
            allowed_grant_types: grants,
            allowed_auth_methods: methods,
            redirect_uris: RedirectUriPolicy {
                allow_private_use_schemes: r.allow_private_use_schemes,
                allow_http_non_loopback: r.allow_http_non_loopback,
                max_uris: self.limits.max_redirect_uris,
                max_uri_length: self.limits.max_uri_length,
            },
            max_client_name_chars: self.limits.max_client_name_chars,
            max_contacts: self.limits.max_contacts,
            max_scopes: self.limits.max_scopes,
            max_jwks_bytes: self.limits.max_jwks_bytes,
            default_scope: Scope::parse(&r.default_scope).ok().flatten(),
            allowed_scopes: (!r.allowed_scopes.is_empty()).then(|| r.allowed_scopes.clone()),
            software_statements: SoftwareStatementPolicy {
                trusted_issuers,
                required: r.software_statement.required,
            },
            credentials: CredentialPolicy {
                secret_bytes: r.secret_bytes,
                secret_lifetime_secs: r.secret_lifetime_secs,
                registration_token_lifetime_secs: r.registration_token_lifetime_secs,
                rotate_registration_token_on_update: r.rotate_registration_token_on_update,
                rotate_registration_token_on_read: r.rotate_registration_token_on_read,
                argon2: self.argon2_settings(),
            },
            ..RegistrationPolicy::default()
        };
        policy.validate().map_err(|e| anyhow!("registration.{e}"))?;
        Ok(policy)
    }

    /// The administrator policy: open registration's rules without the MCP profile, with
    /// `admin.allowed_grant_types` and the paging and grace limits.
    pub fn admin_policy(&self) -> anyhow::Result<AdminPolicy> {
        let base = self.registration_policy()?;
        let mut policy = AdminPolicy::from_registration(&base);
        policy.registration.allowed_grant_types = self
            .admin
            .allowed_grant_types
            .iter()
            .filter_map(|g| GrantType::from_wire(g))
            .collect();
        policy.default_per_page = self.admin.default_per_page;
        policy.max_per_page = self.admin.max_per_page;
        policy.max_secret_grace_period_secs = self.admin.max_secret_grace_period_secs;
        policy
            .registration
            .validate()
            .map_err(|e| anyhow!("admin.{e}"))?;
        Ok(policy)
    }

    /// The policy, shared.
    pub fn shared_policy(&self) -> anyhow::Result<Arc<RegistrationPolicy>> {
        self.registration_policy().map(Arc::new)
    }
}

fn trusted_issuer(i: usize, t: &TrustedIssuerSettings) -> anyhow::Result<TrustedIssuer> {
    let key_name = format!("registration.software_statement.trusted_issuers[{i}]");
    let algorithm: JwtAlgorithm = t.algorithm.parse().map_err(|_| {
        anyhow!(
            "{key_name}.algorithm = {:?}: unknown algorithm",
            t.algorithm
        )
    })?;
    let pem = || {
        t.public_key_pem
            .as_deref()
            .map(str::as_bytes)
            .ok_or_else(|| anyhow!("{key_name}.public_key_pem: required for {}", t.algorithm))
    };
    let bad_pem = |e: JwtError| {
        anyhow!(
            "{key_name}.public_key_pem: not a PEM public key for {} ({e})",
            t.algorithm
        )
    };
    use JwtAlgorithm::*;
    let key = match algorithm {
        HS256 | HS384 | HS512 => {
            let secret = t
                .hmac_secret
                .as_ref()
                .ok_or_else(|| anyhow!("{key_name}.hmac_secret: required for {}", t.algorithm))?;
            if secret.expose_secret().len() < 32 {
                return Err(anyhow!(
                    "{key_name}.hmac_secret: at least 32 bytes are required"
                ));
            }
            DecodingKey::from_secret(secret.expose_secret().as_bytes()).map_err(|e| {
                anyhow!(
                    "{key_name}.hmac_secret: not usable for {} ({e})",
                    t.algorithm
                )
            })?
        }
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => {
            DecodingKey::from_rsa_pem(pem()?).map_err(bad_pem)?
        }
        ES256 | ES384 => DecodingKey::from_ec_pem(pem()?).map_err(bad_pem)?,
        EdDSA => DecodingKey::from_ed_pem(pem()?).map_err(bad_pem)?,
        // `Algorithm` is non-exhaustive since jsonwebtoken 11: refuse what this code does not know.
        _ => {
            return Err(anyhow!(
                "{key_name}.algorithm: {} is not supported for software statements",
                t.algorithm
            ))
        }
    };
    Ok(TrustedIssuer {
        issuer: t.issuer.clone(),
        algorithm,
        key,
    })
}

/// The value at a dotted path (`a.b[2].c`) of `v`, for error messages.
impl Settings {
    /// The authorization endpoint's policy from `[authorization]`. Errors name the key.
    pub fn authorization_policy(&self) -> anyhow::Result<AuthorizationPolicy> {
        let a = &self.authorization;
        let resource = |key: &str, raw: &str| {
            ResourceIndicator::parse(raw).map_err(|e| anyhow!("{key} = {raw:?}: {}", e.0))
        };
        let policy = AuthorizationPolicy {
            scopes: (!a.scopes.is_empty()).then(|| {
                a.scopes
                    .iter()
                    .map(|s| ScopeDefinition {
                        name: s.name.clone(),
                        description: s.description.clone(),
                    })
                    .collect()
            }),
            default_scope: Scope::parse(&a.default_scope)
                .map_err(|e| anyhow!("authorization.default_scope: {e}"))?,
            resources: if a.resources.is_empty() {
                None
            } else {
                Some(
                    a.resources
                        .iter()
                        .map(|r| resource("authorization.resources", r))
                        .collect::<anyhow::Result<Vec<_>>>()?,
                )
            },
            default_resource: match a.default_resource.as_str() {
                "" => None,
                raw => Some(resource("authorization.default_resource", raw)?),
            },
            max_state_bytes: a.max_state_bytes,
            request_lifetime_secs: a.request_lifetime_secs,
            code_lifetime_secs: a.code_lifetime_secs,
        };
        policy.validate().map_err(|e| anyhow!("{}", e.0))?;
        Ok(policy)
    }

    /// The token endpoint's policy from `[tokens]` and `[authorization]`.
    pub fn token_policy(&self) -> anyhow::Result<TokenPolicy> {
        let authorization = self.authorization_policy()?;
        Ok(TokenPolicy {
            issuer: self.server.public_base_url.clone(),
            default_resource: authorization
                .default_resource
                .map(|r| r.as_str().to_owned()),
            access_token_lifetime_secs: self.tokens.access_token_lifetime_secs,
            refresh_reuse_grace_secs: self.tokens.refresh_reuse_grace_secs,
            refresh_family_lifetime_secs: self.tokens.refresh_family_lifetime_secs,
        })
    }

    /// The pages' settings from `[pages]` and the issuer.
    pub fn pages_settings(&self) -> authz_http::pages::PagesSettings {
        let mut pages = authz_http::pages::PagesSettings::new(&self.server.public_base_url);
        pages.product_name = self.pages.product_name.clone();
        pages.logo_url = (!self.pages.logo_url.is_empty()).then(|| self.pages.logo_url.clone());
        pages.template_dir =
            (!self.pages.template_dir.is_empty()).then(|| PathBuf::from(&self.pages.template_dir));
        pages
    }

    /// Key rotation timing from `[keys]`. A retired key stays published for the longest access
    /// token lifetime any client may have, so every token it signed keeps verifying.
    pub fn key_policy(&self) -> anyhow::Result<KeyPolicy> {
        Ok(KeyPolicy {
            algorithm: SigningAlgorithm::parse(&self.keys.algorithm)
                .map_err(|e| anyhow!("keys.algorithm: {e}"))?,
            publish_ahead_secs: i64::try_from(self.keys.publish_ahead_secs)?,
            max_access_token_lifetime_secs: i64::try_from(
                ClientSettings::MAX_ACCESS_TOKEN_LIFETIME_SECS
                    .max(self.tokens.access_token_lifetime_secs),
            )?,
            clock_leeway_secs: authz_domain::keys::DEFAULT_LEEWAY_SECS,
        })
    }
}

fn value_at(v: &serde_json::Value, path: &str) -> String {
    let mut cur = v;
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        cur = &cur[name];
        if let Some(i) = index {
            cur = &cur[i];
        }
    }
    cur.to_string()
}

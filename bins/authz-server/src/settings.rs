//! Configuration: `config/default.toml` (also compiled in, so the binary runs from anywhere), then
//! `{config_dir}/default.toml`, then `{config_dir}/{AUTHZ_ENV}.toml`, then `AUTHZ__SECTION__KEY`
//! environment variables. Unknown keys are errors; every value is checked at start and a bad one
//! stops the server with a message naming the key, the value and what is expected.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use authz_domain::administration::AdminPolicy;
use authz_domain::clients::{
    CredentialPolicy, DecodingKey, JwtAlgorithm, JwtError, RedirectUriPolicy, RegistrationPolicy,
    SoftwareStatementPolicy, TrustedIssuer,
};
use authz_domain::credentials::{Argon2Settings, MIN_SECRET_BYTES};
use authz_domain::values::{GrantType, Scope, TokenEndpointAuthMethod};
use authz_http::HttpSettings;
use authz_storage::{DatabaseOptions, SqliteSynchronous};
use config::{Config, Environment, File, FileFormat};
use garde::Validate;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

const EMBEDDED_DEFAULTS: &str = include_str!("../../../config/default.toml");

/// Keys holding lists; in environment variables and overrides their items are comma-separated.
const LIST_KEYS: &[&str] = &[
    "registration.allowed_grant_types",
    "registration.allowed_auth_methods",
    "registration.allowed_scopes",
    "admin.allowed_grant_types",
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
    /// `[limits]`.
    #[garde(dive)]
    pub limits: LimitSettings,
    /// `[argon2]`.
    #[garde(dive)]
    pub argon2: Argon2Config,
    /// `[logging]`.
    #[garde(dive)]
    pub logging: LoggingSettings,
}

/// `[server]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Listen address, `host:port`.
    #[garde(custom(socket_addr))]
    pub bind: String,
    /// The issuer URL.
    #[garde(custom(base_url))]
    pub public_base_url: String,
    /// `service_documentation`; empty means `{public_base_url}/docs`.
    #[garde(custom(optional_url))]
    pub service_documentation: String,
    /// HTTP workers; 0 means one per core.
    #[garde(range(max = 256))]
    pub workers: usize,
    /// Blocking threads per worker (database work and Argon2 hashing).
    #[garde(range(min = 1, max = 512))]
    pub blocking_threads: usize,
    /// Grace period for requests in flight at shutdown.
    #[garde(range(max = 3600))]
    pub shutdown_timeout_secs: u64,
    /// How long a client may take to send its request head.
    #[garde(range(min = 100, max = 600_000))]
    pub client_request_timeout_ms: u64,
}

/// `[database]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://…`.
    #[garde(custom(database_url))]
    #[serde(serialize_with = "redacted_url")]
    pub url: String,
    /// Most open connections.
    #[garde(range(min = 1, max = 1024))]
    pub pool_size: u32,
    /// Apply migrations when serving starts.
    #[garde(skip)]
    pub migrate_on_start: bool,
    /// How long a request waits for a connection.
    #[garde(range(min = 1, max = 300))]
    pub connect_timeout_secs: u64,
    /// `normal` or `full`.
    #[garde(skip)]
    pub sqlite_synchronous: SqliteSynchronousSetting,
    /// SQLite lock wait.
    #[garde(range(max = 600_000))]
    pub sqlite_busy_timeout_ms: u64,
}

/// `database.sqlite_synchronous`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronousSetting {
    /// WAL + NORMAL.
    Normal,
    /// WAL + FULL.
    Full,
}

/// `[registration]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSettings {
    /// `false`: `/register` answers 404.
    #[garde(skip)]
    pub enabled: bool,
    /// MCP authorization profile.
    #[garde(skip)]
    pub mcp_profile: bool,
    /// Grant types clients may register.
    #[garde(length(min = 1), inner(custom(grant_type)))]
    pub allowed_grant_types: Vec<String>,
    /// Token endpoint auth methods clients may register.
    #[garde(length(min = 1), inner(custom(auth_method)))]
    pub allowed_auth_methods: Vec<String>,
    /// Private-use redirect URI schemes for native apps.
    #[garde(skip)]
    pub allow_private_use_schemes: bool,
    /// Plain http redirect URIs on non-loopback hosts.
    #[garde(skip)]
    pub allow_http_non_loopback: bool,
    /// Scope registered when a client asks for none.
    #[garde(custom(scope_string))]
    pub default_scope: String,
    /// The only scope tokens clients may register; empty means any.
    #[garde(inner(custom(scope_token)))]
    pub allowed_scopes: Vec<String>,
    /// Random bytes in a client secret.
    #[garde(range(min = MIN_SECRET_BYTES, max = 512))]
    pub secret_bytes: usize,
    /// Client secret lifetime; 0 never expires.
    #[garde(skip)]
    pub secret_lifetime_secs: u64,
    /// Registration access token lifetime; 0 never expires.
    #[garde(skip)]
    pub registration_token_lifetime_secs: u64,
    /// Rotate the registration access token on update.
    #[garde(skip)]
    pub rotate_registration_token_on_update: bool,
    /// Rotate the registration access token on read.
    #[garde(skip)]
    pub rotate_registration_token_on_read: bool,
    /// `[registration.software_statement]`.
    #[garde(dive)]
    pub software_statement: SoftwareStatementSettings,
}

/// `[registration.software_statement]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct SoftwareStatementSettings {
    /// Refuse registrations without a statement.
    #[garde(skip)]
    pub required: bool,
    /// Issuers whose statements are accepted.
    #[garde(dive)]
    pub trusted_issuers: Vec<TrustedIssuerSettings>,
}

/// One `[[registration.software_statement.trusted_issuers]]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuerSettings {
    /// The `iss` its statements carry.
    #[garde(length(min = 1))]
    pub issuer: String,
    /// `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`, `ES256`, `ES384`, `EdDSA`, `HS256`, `HS384`, `HS512`.
    #[garde(custom(jwt_algorithm))]
    pub algorithm: String,
    /// PEM public key, for the asymmetric algorithms.
    #[serde(default)]
    #[garde(skip)]
    pub public_key_pem: Option<String>,
    /// Shared secret, for the HS algorithms.
    #[serde(default, skip_serializing)]
    #[garde(skip)]
    pub hmac_secret: Option<SecretString>,
}

/// `[admin]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// `false`: `/admin` answers 404.
    #[garde(skip)]
    pub enabled: bool,
    /// Grant types an administrator may give a client.
    #[garde(length(min = 1), inner(custom(grant_type)))]
    pub allowed_grant_types: Vec<String>,
    /// Page size when none is asked for.
    #[garde(range(min = 1, max = 1000))]
    pub default_per_page: u64,
    /// Largest page size.
    #[garde(range(min = 1, max = 1000))]
    pub max_per_page: u64,
    /// Longest grace period of a rotated secret.
    #[garde(range(max = 31_622_400))]
    pub max_secret_grace_period_secs: u64,
}

/// `[limits]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Largest JSON body.
    #[garde(range(min = 1024, max = 16_777_216))]
    pub max_body_bytes: usize,
    /// Most redirect URIs per client.
    #[garde(range(min = 1, max = 1000))]
    pub max_redirect_uris: usize,
    /// Longest URI.
    #[garde(range(min = 64, max = 65_536))]
    pub max_uri_length: usize,
    /// Longest client name, in characters.
    #[garde(range(min = 1, max = 10_000))]
    pub max_client_name_chars: usize,
    /// Most contacts.
    #[garde(range(max = 1000))]
    pub max_contacts: usize,
}

/// `[argon2]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct Argon2Config {
    /// Memory cost in KiB.
    #[garde(range(min = 8, max = 4_194_304))]
    pub memory_kib: u32,
    /// Passes.
    #[garde(range(min = 1, max = 100))]
    pub iterations: u32,
    /// Lanes.
    #[garde(range(min = 1, max = 64))]
    pub parallelism: u32,
    /// Hashes at once; 0 means one per core.
    #[garde(range(max = 1024))]
    pub max_concurrent_hashes: usize,
}

/// `[logging]`.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct LoggingSettings {
    /// `json` or `pretty`.
    #[garde(skip)]
    pub format: LogFormat,
    /// An `EnvFilter` directive string; `RUST_LOG` overrides it.
    #[garde(custom(log_filter))]
    pub level: String,
}

/// `logging.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

fn redacted_url<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&authz_storage::redact_url(url))
}

// --- custom validators -----------------------------------------------------------------------

fn socket_addr(value: &str, _: &()) -> garde::Result {
    value.parse::<SocketAddr>().map(|_| ()).map_err(|_| {
        garde::Error::new(
            "expected host:port with an IP address, such as 127.0.0.1:8080 or [::]:8080",
        )
    })
}

fn base_url(value: &str, _: &()) -> garde::Result {
    let url = url::Url::parse(value).map_err(|e| {
        garde::Error::new(format!(
            "not an absolute URL ({e}); expected such as https://auth.example.com"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(garde::Error::new(
            "expected an http or https URL with a host",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(garde::Error::new(
            "an issuer URL has no query or fragment (RFC 8414 §2)",
        ));
    }
    Ok(())
}

fn optional_url(value: &str, ctx: &()) -> garde::Result {
    if value.is_empty() {
        Ok(())
    } else {
        base_url(value, ctx)
    }
}

fn database_url(value: &str, _: &()) -> garde::Result {
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        return Ok(());
    }
    match value.strip_prefix("sqlite://") {
        Some(path) if !path.is_empty() => Ok(()),
        _ => Err(garde::Error::new(
            "expected sqlite://PATH (such as sqlite://data/authz.sqlite3) or postgres://USER:PASSWORD@HOST/DB",
        )),
    }
}

fn grant_type(value: &str, _: &()) -> garde::Result {
    GrantType::from_wire(value).map(|_| ()).ok_or_else(|| {
        garde::Error::new("expected authorization_code, refresh_token or client_credentials")
    })
}

fn auth_method(value: &str, _: &()) -> garde::Result {
    TokenEndpointAuthMethod::from_wire(value)
        .map(|_| ())
        .ok_or_else(|| {
            garde::Error::new("expected none, client_secret_basic or client_secret_post")
        })
}

fn scope_string(value: &str, _: &()) -> garde::Result {
    Scope::parse(value).map(|_| ()).map_err(garde::Error::new)
}

fn scope_token(value: &str, _: &()) -> garde::Result {
    match Scope::parse(value) {
        Ok(Some(s)) if s.as_str() == value => Ok(()),
        _ => Err(garde::Error::new(
            "expected one scope token (printable ASCII, no spaces, '\"' or '\\')",
        )),
    }
}

fn jwt_algorithm(value: &str, _: &()) -> garde::Result {
    value.parse::<JwtAlgorithm>().map(|_| ()).map_err(|_| {
        garde::Error::new("expected RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, HS256, HS384 or HS512")
    })
}

fn log_filter(value: &str, _: &()) -> garde::Result {
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| ())
        .map_err(|e| garde::Error::new(format!("not a tracing filter ({e}); expected such as \"info\" or \"info,authz_http=debug\"")))
}

// --- loading ---------------------------------------------------------------------------------

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
            builder = builder.add_source(
                Environment::with_prefix("AUTHZ")
                    .prefix_separator("__")
                    .separator("__")
                    .list_separator(",")
                    .with_list_parse_key(LIST_KEYS[0])
                    .with_list_parse_key(LIST_KEYS[1])
                    .with_list_parse_key(LIST_KEYS[2])
                    .with_list_parse_key(LIST_KEYS[3])
                    .try_parsing(true),
            );
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
            .map_err(|e| anyhow!("configuration: {e}"))?;
        // Environment lists arrive untrimmed ("a, b") and an empty variable as [""].
        let r = &mut settings.registration;
        for list in [
            &mut r.allowed_grant_types,
            &mut r.allowed_auth_methods,
            &mut r.allowed_scopes,
            &mut settings.admin.allowed_grant_types,
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
    pub fn http_settings(&self) -> HttpSettings {
        let mut http = HttpSettings::new(&self.server.public_base_url);
        http.registration_enabled = self.registration.enabled;
        http.admin_enabled = self.admin.enabled;
        http.max_body_bytes = self.limits.max_body_bytes;
        if !self.server.service_documentation.is_empty() {
            http.service_documentation = self.server.service_documentation.clone();
        }
        http
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

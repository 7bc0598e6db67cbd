//! Building and running the application.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use anyhow::Context as _;
use authz_domain::administration::AdminService;
use authz_domain::authorization::AuthorizationService;
use authz_domain::clients::UsageRecorder;
use authz_domain::clock::{Clock, SystemClock};
use authz_domain::credentials::{CredentialIssuer, RandomSource, SecretHasher, SystemRandomSource};
use authz_domain::keys::{KeyService, SharedKeyRing, SigningKeyRepository};
use authz_domain::registration::{
    Idempotency, InitialAccess, RegistrationService, StaleClientExpiry,
};
use authz_domain::token::{
    ClientAuthenticator, GrantRevocation, TokenService, TokenStores, VerifiedSecrets,
};
use authz_domain::users::{ConsentService, LocalAuthenticator, UserService};
use authz_http::pages::{self, PagesState};
use authz_http::{build_app, AppState};
use authz_storage::clients::DieselClientRepository;
use authz_storage::{
    Database, DieselAuditLog, DieselAuthorizationStore, DieselIdempotencyStore,
    DieselSignInThrottle, DieselSigningKeys, DieselTokenStore, DieselUserStore,
};

use crate::settings::Settings;

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    database: Database,
    audit: Arc<DieselAuditLog>,
    /// Dropping it stops the maintenance thread.
    _maintenance: std::sync::mpsc::Sender<()>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// The use cases over one database: what the server serves and what the admin commands run.
#[derive(Debug, Clone)]
pub struct Services {
    /// Registration and self-management.
    pub registration: RegistrationService,
    /// Administration.
    pub admin: AdminService,
    /// Users, sign-in and sessions.
    pub users: UserService,
    /// Remembered consents.
    pub consents: ConsentService,
    /// The authorization endpoint's rules.
    pub authorization: Arc<AuthorizationService>,
    /// The token endpoint, introspection and revocation.
    pub tokens: TokenService,
    /// Signing keys: creation, rotation, retirement.
    pub keys: KeyService,
    /// The keys in force, reloaded from the database every `keys.reload_interval_secs`.
    pub key_ring: Arc<SharedKeyRing>,
    /// The client storage (pages look clients up by id).
    pub clients: Arc<DieselClientRepository>,
    /// The group-commit writer of read and refusal audit records; flush it before exiting.
    pub audit: Arc<DieselAuditLog>,
    /// Stale-client expiry (`[registration.expiry]`), run by the maintenance thread.
    pub stale_clients: StaleClientExpiry,
}

impl Services {
    /// Builds the use cases from `settings` over `database`.
    pub fn build(settings: &Settings, database: &Database) -> anyhow::Result<Self> {
        let policy = settings.shared_policy()?;
        let hasher = SecretHasher::new(settings.argon2_settings(), settings.hash_concurrency())
            .context("argon2")?;
        let rng: Arc<dyn RandomSource> = Arc::new(SystemRandomSource::new());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let credentials =
            CredentialIssuer::new(rng.clone(), hasher.clone(), policy.credentials.secret_bytes)?;
        let audit = Arc::new(
            DieselAuditLog::start_aggregating(
                database.clone(),
                settings.audit.aggregate_window_secs,
            )
            .context("starting the audit writer")?,
        );
        let repo = Arc::new(DieselClientRepository::new(database.clone()));
        let usage = Arc::new(UsageRecorder::new(
            repo.clone(),
            clock.clone(),
            settings.registration.last_used_interval_secs,
        ));
        let mut registration = RegistrationService::new(
            repo.clone(),
            audit.clone(),
            policy,
            credentials.clone(),
            clock.clone(),
        )
        .with_usage(usage.clone())
        .with_initial_access(InitialAccess {
            mode: settings.registration_mode(),
            store: repo.clone(),
        });
        if let Some(policy) = settings.idempotency_policy() {
            let store = Arc::new(DieselIdempotencyStore::new(database.clone()));
            registration = registration.with_idempotency(Idempotency::new(
                store,
                clock.clone(),
                rng.clone(),
                policy,
            ));
        }
        let stale_clients =
            StaleClientExpiry::new(repo.clone(), clock.clone(), settings.expiry_policy()?);
        // Disabling a user or rotating a client's secret away ends their grants for good.
        let token_store = Arc::new(DieselTokenStore::new(database.clone()));
        let grants = Arc::new(GrantRevocation::new(token_store.clone(), clock.clone()));
        let admin = AdminService::new(
            registration.clone(),
            repo.clone(),
            repo.clone(),
            Arc::new(settings.admin_policy()?),
        )
        .with_grants(grants.clone());

        let user_store = Arc::new(DieselUserStore::new(database.clone()));
        let authenticator = Arc::new(
            LocalAuthenticator::new(
                user_store.clone(),
                hasher.clone(),
                rng.as_ref(),
                settings.users.password_policy(),
            )
            .context("preparing sign-in")?,
        );
        let users = UserService::new(
            user_store.clone(),
            user_store.clone(),
            authenticator,
            audit.clone(),
            hasher.clone(),
            rng.clone(),
            clock.clone(),
        )
        .with_password_policy(settings.users.password_policy())
        .with_session_policy(settings.users.session_policy())
        .with_grants(grants);
        let users = match settings.rate_limits.sign_in_policy() {
            Some(policy) => users.with_sign_in_throttle(
                Arc::new(DieselSignInThrottle::new(database.clone())),
                policy,
            ),
            None => users,
        };
        let consents = ConsentService::new(user_store.clone(), audit.clone(), clock.clone());

        let authorization_policy = settings.authorization_policy()?;
        let authorization_store = Arc::new(DieselAuthorizationStore::new(database.clone()));
        let authorization = Arc::new(AuthorizationService::new(
            repo.clone(),
            authorization_store.clone(),
            authorization_store.clone(),
            rng.clone(),
            clock.clone(),
            authorization_policy.clone(),
            settings.server.public_base_url.clone(),
        ));

        let key_store = Arc::new(DieselSigningKeys::new(database.clone()));
        let has_keys = !key_store.list().context("reading signing keys")?.is_empty();
        let kek = crate::kek::load(settings, has_keys)?;
        let keys = KeyService::new(
            key_store,
            audit.clone(),
            clock.clone(),
            rng.clone(),
            kek,
            settings.key_policy()?,
        );
        if let Some(created) = keys
            .ensure_initial_key()
            .context("creating the first signing key")?
        {
            tracing::info!(kid = %created.kid, algorithm = %created.algorithm, "created the first signing key");
        }
        let key_ring = Arc::new(
            SharedKeyRing::new(
                settings.server.public_base_url.clone(),
                keys.load_ring().context("loading signing keys")?,
                clock.now(),
            )
            .context("loading signing keys")?,
        );

        let verified = Arc::new(VerifiedSecrets::new(
            rng.as_ref(),
            settings.tokens.verified_secret_cache_secs,
            100_000,
        )?);
        let client_auth =
            ClientAuthenticator::new(repo.clone(), hasher, clock.clone(), verified, rng.as_ref())?
                .with_usage(usage);
        let tokens = TokenService::new(
            client_auth,
            TokenStores {
                codes: authorization_store,
                refresh: token_store.clone(),
                revocations: token_store,
                users: user_store,
                audit: audit.clone(),
            },
            key_ring.clone(),
            credentials,
            clock,
            settings.token_policy()?,
            Arc::new(authorization_policy),
        );
        Ok(Self {
            registration,
            admin,
            users,
            consents,
            authorization,
            tokens,
            keys,
            key_ring,
            clients: repo,
            audit,
            stale_clients,
        })
    }

    /// Deletes what expired: pending authorization requests, codes (kept a day past their
    /// lifetime so a late replay is still recognised and revokes its grant), refresh families
    /// expired or revoked over a day ago, revocations of expired access tokens, and sessions.
    pub fn purge_expired(&self) -> anyhow::Result<()> {
        // Each purge on its own: one failing must not keep the others from running.
        let results = [
            self.authorization
                .purge_expired()
                .map_err(anyhow::Error::from),
            self.tokens.purge_expired().map_err(anyhow::Error::from),
            self.users
                .purge_expired_sessions()
                .map_err(anyhow::Error::from),
            self.registration
                .idempotency()
                .map_or(Ok(0), |i| i.purge_expired(1_000))
                .map_err(anyhow::Error::from),
        ];
        let errors: Vec<String> = results
            .into_iter()
            .filter_map(|r| r.err().map(|e| e.to_string()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(anyhow::anyhow!(errors.join("; ")))
        }
    }

    /// Re-reads the signing keys, so a rotation made by the command line or another instance
    /// takes effect here. Errors are logged; the keys in force stay.
    pub fn reload_keys(&self) {
        let now = SystemClock.now();
        match self.keys.load_ring() {
            Ok(ring) => {
                if let Err(e) = self.key_ring.replace(ring, now) {
                    tracing::error!(error = %e, "reloading signing keys");
                }
            }
            Err(e) => tracing::error!(error = %e, "reloading signing keys"),
        }
    }
}

/// Opens the database named by the settings, migrating it unless `database.migrate_on_start =
/// false` (then pending migrations are an error).
pub fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    let database = Database::connect(&settings.database_options()).with_context(|| {
        format!(
            "database.url = {:?}",
            authz_storage::redact_url(&settings.database.url)
        )
    })?;
    if settings.database.migrate_on_start {
        let applied = database.migrate().context("applying migrations")?;
        if !applied.is_empty() {
            tracing::info!(?applied, "migrations applied");
        }
    } else if !database.pending_migrations()?.is_empty() {
        anyhow::bail!(
            "the database has pending migrations and database.migrate_on_start = false; run `authz-server migrate` first"
        );
    }
    Ok(database)
}

/// Background upkeep on a plain thread (it blocks on the database): reload the signing keys so
/// every instance follows rotations, and purge expired pending requests, codes, refresh
/// families and access-token revocations so those tables stay small.
/// It stops when the returned sender is dropped (with the [`Application`]).
fn spawn_maintenance(services: Services, settings: &Settings) -> std::sync::mpsc::Sender<()> {
    let interval = Duration::from_secs(settings.keys.reload_interval_secs);
    let audit_retention = i64::from(settings.audit.retention_days) * 86_400;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("authz-maintenance".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(interval)
            {
                services.reload_keys();
                if let Err(e) = services.purge_expired() {
                    tracing::warn!(error = %e, "purging expired authorization state");
                }
                if audit_retention > 0 {
                    let cutoff = SystemClock.now() - audit_retention;
                    match services.audit.purge_older_than(cutoff) {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(
                            deleted = n,
                            "audit records past audit.retention_days purged"
                        ),
                        Err(e) => tracing::warn!(error = %e, "purging old audit records"),
                    }
                }
                crate::maintenance::expire_stale_clients(&services.stale_clients);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the maintenance thread; keys will not reload");
    }
    stop
}

impl Application {
    /// Opens the database (migrating it unless `database.migrate_on_start = false`) and binds
    /// `server.bind`.
    pub fn build(settings: &Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.server.bind)
            .with_context(|| format!("server.bind = {:?}: cannot listen", settings.server.bind))?;
        Self::build_with_listener(settings, listener)
    }

    /// As [`Application::build`], on a listener the caller bound (tests bind port 0).
    pub fn build_with_listener(settings: &Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let database = open_database(settings)?;
        let services = Services::build(settings, &database)?;
        let audit = services.audit.clone();
        let state = AppState {
            registration: services.registration.clone(),
            admin: services.admin.clone(),
            tokens: services.tokens.clone(),
            users: services.users.clone(),
            keys: services.key_ring.clone(),
            clock: Arc::new(SystemClock),
            settings: settings.http_settings()?,
        };
        let pages = actix_web::web::Data::new(
            PagesState::new(
                services.authorization.clone(),
                services.users.clone(),
                services.consents.clone(),
                services.clients.clone(),
                settings.pages_settings(),
            )
            .context("[pages]")?,
        );
        let maintenance = spawn_maintenance(services, settings);
        crate::readiness::warn_if_not_ready(&database);
        let readiness = crate::readiness::probe(
            &database,
            Duration::from_secs(settings.database.connect_timeout_secs),
        );

        let port = listener.local_addr()?.port();
        // Signals are handled by the binary (see main.rs), not by actix, so that embedding this
        // application in a test or another program never installs process-wide handlers.
        let in_flight = authz_http::overload::InFlight::new(settings.server.max_requests_in_flight);
        let workers = settings.worker_count();
        let wanted = settings.connections_wanted();
        if (settings.database.pool_size as usize) < wanted {
            tracing::warn!(
                pool_size = settings.database.pool_size,
                wanted,
                "database.pool_size is below workers × server.blocking_threads + 1: blocking threads will wait for connections"
            );
        }
        // A few blocking threads per worker, not actix's default of hundreds: on SQLite more
        // threads only queue for the same cores and the same write lock, and every extra one adds
        // wake-ups and context switches to each request (docs/performance.md).
        // Served like `HttpServer` does, with the connection layer that gives actix-http's own
        // error responses (431, 400, 408) a JSON body (`connection.rs`).
        let options = crate::connection::ServeOptions {
            workers,
            max_blocking_threads: settings.server.blocking_threads,
            max_connections_per_worker: connection_cap(settings, workers),
            shutdown_timeout_secs: settings.server.shutdown_timeout_secs,
            client_request_timeout: Duration::from_millis(
                settings.server.client_request_timeout_ms,
            ),
        };
        let server = crate::connection::serve(listener, options, move || {
            let in_flight = in_flight.clone();
            build_app(state.clone())
                .configure(pages::configure_with(pages.clone()))
                .configure(authz_http::health::configure_with(readiness.clone()))
                .wrap(actix_web::middleware::from_fn(move |req, next| {
                    in_flight.clone().admit(req, next)
                }))
        })?;
        Ok(Self {
            port,
            server,
            database,
            audit,
            _maintenance: maintenance,
        })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database the application uses.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Serves until SIGINT/SIGTERM, then finishes requests in flight (`server.shutdown_timeout_secs`).
    /// Queued audit records (reads, refusals) are written before this returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        let audit = self.audit;
        let database = self.database;
        // Flushing blocks on the database: keep it off the async runtime. Closing waits for the
        // pool's connection attempts in progress, so the process exits cleanly.
        let _ = actix_web::rt::task::spawn_blocking(move || {
            audit.flush();
            database.close();
        })
        .await;
        result
    }

    /// A handle to stop the server from elsewhere.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// The per-worker connection cap for actix-web, from `server.max_connections` or the open-file
/// limit ([`crate::connections`]); warns when a configured cap does not fit in that limit.
fn connection_cap(settings: &Settings, workers: usize) -> usize {
    use crate::connections;
    let open_files = connections::open_files_limit();
    let pool = settings.database.pool_size;
    let cap =
        connections::connection_cap(settings.server.max_connections, open_files, pool, workers);
    if !connections::fits(cap, open_files, pool, workers) {
        tracing::warn!(
            max_connections = cap,
            open_files_limit = open_files,
            "server.max_connections leaves too few file descriptors for the database and workers; lower it or raise the open-file limit (ulimit -n)"
        );
    }
    tracing::debug!(
        max_connections = cap,
        open_files_limit = open_files,
        "connection cap"
    );
    connections::per_worker(cap, workers)
}

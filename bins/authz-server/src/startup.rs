//! Building and running the application.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::HttpServer;
use anyhow::Context as _;
use authz_domain::administration::AdminService;
use authz_domain::clock::SystemClock;
use authz_domain::credentials::{CredentialIssuer, SecretHasher, SystemRandomSource};
use authz_domain::registration::RegistrationService;
use authz_domain::users::{LocalAuthenticator, UserService};
use authz_http::{build_app, AppState};
use authz_storage::clients::DieselClientRepository;
use authz_storage::{Database, DieselAuditLog, DieselUserStore};

use crate::settings::Settings;

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    database: Database,
    audit: Arc<DieselAuditLog>,
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
    /// User accounts and their sessions.
    pub users: UserService,
    /// The group-commit writer of read and refusal audit records; flush it before exiting.
    pub audit: Arc<DieselAuditLog>,
}

impl Services {
    /// Builds the use cases from `settings` over `database`.
    pub fn build(settings: &Settings, database: &Database) -> anyhow::Result<Self> {
        let policy = settings.shared_policy()?;
        let hasher = SecretHasher::new(settings.argon2_settings(), settings.hash_concurrency())
            .context("argon2")?;
        let credentials = CredentialIssuer::new(
            Arc::new(SystemRandomSource::new()),
            hasher.clone(),
            policy.credentials.secret_bytes,
        )?;
        let audit =
            Arc::new(DieselAuditLog::start(database.clone()).context("starting the audit writer")?);
        let repo = Arc::new(DieselClientRepository::new(database.clone()));
        let registration = RegistrationService::new(
            repo.clone(),
            audit.clone(),
            policy,
            credentials,
            Arc::new(SystemClock),
        );
        let admin = AdminService::new(
            registration.clone(),
            repo.clone(),
            repo,
            Arc::new(settings.admin_policy()?),
        );
        let users = users_service(settings, database, hasher, audit.clone())?;
        Ok(Self {
            registration,
            admin,
            users,
            audit,
        })
    }
}

/// The user accounts over `database`: the `[users]` password and session rules, the same Argon2id
/// hasher as client secrets, changes audited with their transaction and refusals through `audit`.
fn users_service(
    settings: &Settings,
    database: &Database,
    hasher: SecretHasher,
    audit: Arc<DieselAuditLog>,
) -> anyhow::Result<UserService> {
    let store = Arc::new(DieselUserStore::new(database.clone()));
    let rng = Arc::new(SystemRandomSource::new());
    let password_policy = settings.users.password_policy();
    let authenticator =
        LocalAuthenticator::new(store.clone(), hasher.clone(), rng.as_ref(), password_policy)
            .context("preparing the password check")?;
    Ok(UserService::new(
        store.clone(),
        store,
        Arc::new(authenticator),
        audit,
        hasher,
        rng,
        Arc::new(SystemClock),
    )
    .with_password_policy(password_policy)
    .with_session_policy(settings.users.session_policy()))
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
        let Services {
            registration,
            admin,
            users,
            audit,
        } = Services::build(settings, &database)?;
        let state = AppState {
            registration,
            admin,
            users,
            settings: settings.http_settings(),
        };

        let port = listener.local_addr()?.port();
        // Signals are handled by the binary (see main.rs), not by actix, so that embedding this
        // application in a test or another program never installs process-wide handlers.
        let mut server = HttpServer::new(move || build_app(state.clone()))
            .disable_signals()
            .shutdown_timeout(settings.server.shutdown_timeout_secs)
            .client_request_timeout(Duration::from_millis(
                settings.server.client_request_timeout_ms,
            ));
        let workers = settings.worker_count();
        server = server.workers(workers);
        let wanted = workers * settings.server.blocking_threads + 1;
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
        server = server.worker_max_blocking_threads(settings.server.blocking_threads);
        let server = server.listen(listener)?.run();
        Ok(Self {
            port,
            server,
            database,
            audit,
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
        // Flushing blocks on the database: keep it off the async runtime.
        let _ = actix_web::rt::task::spawn_blocking(move || audit.flush()).await;
        result
    }

    /// A handle to stop the server from elsewhere.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

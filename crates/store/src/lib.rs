//! mailwarden's store: scan history, monitors, baselines, the audit events
//! and the alert outbox, in SQLite (the default, one file) or PostgreSQL
//! (shared by several processes or machines).
//!
//! One [`Store`] is chosen from the URL. Every query is shared text with
//! `$N` placeholders, which both drivers accept, run through sqlx's `Any`
//! driver; where the SQL must differ the repository module matches on
//! [`Backend`], never its callers. One exception: an aggregate report's
//! import on PostgreSQL runs on a native pool over the same URL
//! (`reports_copy`: COPY and array parameters, which `Any` lacks). The
//! DDL differs (AUTOINCREMENT vs IDENTITY, BLOB vs BYTEA), so each backend
//! has its own embedded migrations, and `tests/schema.rs` keeps their
//! logical schema equal.

pub mod alert_delivery;
pub mod alert_hold;
pub mod audit_key;
pub mod audit_log;
pub mod baseline;
mod canonical;
mod clock;
mod codec;
pub mod diff;
mod error;
pub mod events;
pub mod evidence;
mod findings_pack;
pub mod fingerprint;
pub mod ingest;
// worker (issue 15): large scans as jobs, batches claimed under a lease.
pub mod jobs;
pub mod jobs_claim;
pub mod location;
pub mod monitor;
pub mod outbox;
pub mod reports;
// The PostgreSQL import path of aggregate rows: COPY and set-wise rollup upserts.
mod reports_copy;
mod reports_pipe;
pub mod reports_query;
pub mod retention;
pub mod rollup;
// message (issue 17): DKIM selectors seen in messages.
pub mod selectors;
pub mod snapshot;
pub mod state;
pub mod timeline;
// web (issue 16): tenants, users, sessions, API tokens, the scoped data layer.
pub mod session;
pub mod tenant;
pub mod tenant_data;
// webpages (issue 16): the reports of a tenant's domain, for the senders and TLS pages.
pub mod tenant_reports;
// webpages (issue 16): the evidence bundle in memory (CLI and web), a tenant's alert destinations.
pub mod evidence_bundle;
pub mod tenant_alerts;
pub mod token;
pub mod user;
// web-ops (issue 16): domain ownership shown by a DNS TXT token or an admin override.
pub mod ops_metrics;
pub mod ownership;
pub mod tenant_monitor;
// joins (issue 14): reverse DNS of report sources, looked up once per TTL;
// TLS-RPT failures and MTA-STS ids against the stored scans.
pub mod rdns_cache;
// web (issue 16): the latest scan whole for the HTML/SARIF downloads; scan durations for /metrics.
pub mod scan_timings;
pub mod tenant_scans;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, Connection, Executor, Pool};

pub use clock::{now, parse as parse_time, stamp};
pub use error::StoreError;
pub use events::{EventKind, append_event};
pub use outbox::{NewAlert, Trigger, queue_alert};

/// A transaction on the store; changes and their audit events and alerts
/// are written through one.
pub type Tx<'a> = sqlx::Transaction<'a, Any>;

/// The database behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The store: a connection pool and which backend it is.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool<Any>,
    backend: Backend,
    url: String,
    /// PostgreSQL only: a native pool on the same URL, for what `Any`
    /// cannot reach (COPY, array parameters: the aggregate import). Lazy:
    /// it connects when an import first asks.
    pg: Option<sqlx::PgPool>,
}

static MIGRATE_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static MIGRATE_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Open (creating an SQLite file and its directory if needed) the
    /// database at `url` and bring its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let target = location::Target::parse(url)?;
        install_default_drivers();
        let shown = target.shown();
        let options = AnyPoolOptions::new()
            .max_connections(target.pool_size())
            .acquire_timeout(Duration::from_secs(30));
        let options = match target.backend() {
            // WAL lets readers run beside the one writer; NORMAL sync in
            // WAL mode survives a process crash (kill -9) without losing a
            // committed transaction; only an OS crash can lose the last ones.
            Backend::Sqlite => options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")
                        .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        target.prepare()?;
        // PostgreSQL: one direct connection first, so a refused or unknown
        // server fails at once, not after the pool's acquire timeout.
        let url = target.connect_url();
        if target.backend() == Backend::Postgres {
            sqlx::AnyConnection::connect(&url)
                .await
                .map_err(|source| StoreError::Unreachable {
                    url: shown.clone(),
                    source,
                })?
                .close()
                .await
                .ok();
        }
        let pool = options.connect(&url).await.map_err(|source| StoreError::Unreachable {
            url: shown.clone(),
            source,
        })?;
        let migrator = match target.backend() {
            Backend::Sqlite => &MIGRATE_SQLITE,
            Backend::Postgres => &MIGRATE_POSTGRES,
        };
        migrator.run(&pool).await.map_err(|source| StoreError::Migrate {
            url: shown.clone(),
            source,
        })?;
        let pg = match target.backend() {
            Backend::Sqlite => None,
            Backend::Postgres => Some(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(target.pool_size())
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_lazy(&url)
                    .map_err(|source| StoreError::Unreachable {
                        url: shown.clone(),
                        source,
                    })?,
            ),
        };
        Ok(Self {
            pool,
            backend: target.backend(),
            url: shown,
            pg,
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL, with any password hidden, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The pool, for reads.
    pub fn pool(&self) -> &Pool<Any> {
        &self.pool
    }

    /// Begin a write transaction. On SQLite it is IMMEDIATE: it takes the
    /// write lock at once, so two writers queue (busy timeout) instead of
    /// one failing when it upgrades from reading.
    pub async fn begin(&self) -> Result<Tx<'static>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// The native PostgreSQL pool (`None` on SQLite).
    pub(crate) fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        self.pg.as_ref()
    }

    /// Close the pools (waits for connections in use to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(pg) = &self.pg {
            pg.close().await;
        }
    }
}

/// Which backend a transaction runs on.
pub fn backend_of(conn: &sqlx::AnyConnection) -> Backend {
    if conn.backend_name() == "PostgreSQL" {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// The single integer a `SELECT COUNT(*) ...` (or similar) answers; for
/// tests and tools that check the store from outside.
pub async fn count(store: &Store, sql: &'static str) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(sql).fetch_one(store.pool()).await?)
}

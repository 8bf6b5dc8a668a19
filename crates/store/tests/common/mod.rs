//! The databases every store test runs on: a fresh SQLite file always, and
//! a fresh database on the PostgreSQL at `MAILWARDEN_TEST_PG_URL` when set
//! (tests/real-peers/postgres.sh starts one; `.ci/run` sets the variable).
#![allow(dead_code, reason = "each test binary uses a different part of the shared module")]

use mailwarden_store::Store;
use sqlx::Connection;

/// A store under test; keeps its temporary directory alive.
pub struct TestDb {
    pub store: Store,
    pub label: &'static str,
    /// The URL it was opened with (to open it again).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// One audit key file for this test process, in a temporary directory:
/// every store test that appends events uses it, never the user's
/// ~/.config (each test binary is its own process).
pub fn use_test_key() {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    mailwarden_store::audit_key::set_key_path(dir.path().join("audit.key"));
}

/// One fresh, migrated store per backend available.
pub async fn stores() -> Vec<TestDb> {
    use_test_key();
    let mut out = vec![sqlite().await];
    if let Some(pg) = postgres().await {
        out.push(pg);
    }
    out
}

pub async fn sqlite() -> TestDb {
    use_test_key();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("nested/dir/test.db").display());
    TestDb {
        store: Store::open(&url).await.unwrap(),
        label: "sqlite",
        url,
        _dir: Some(dir),
    }
}

/// A new database named after a counter and the process, on the server at
/// MAILWARDEN_TEST_PG_URL.
pub async fn postgres() -> Option<TestDb> {
    use_test_key();
    let base = std::env::var("MAILWARDEN_TEST_PG_URL").ok().filter(|u| !u.is_empty())?;
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("mw_test_{}_{}_{}", std::process::id(), n, nanos);
    let mut admin = sqlx::postgres::PgConnection::connect(&base).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = match base.rfind('/') {
        Some(i) if base[..i].contains("://") && i > base.find("://").unwrap() + 2 => {
            format!("{}/{}", &base[..i], name)
        }
        _ => format!("{}/{}", base.trim_end_matches('/'), name),
    };
    Some(TestDb {
        store: Store::open(&url).await.unwrap(),
        label: "postgres",
        url,
        _dir: None,
    })
}

/// Queues `alert` in a transaction of its own; its outbox id.
pub async fn queue(store: &Store, alert: &mailwarden_store::NewAlert) -> i64 {
    let mut tx = store.begin().await.unwrap();
    let id = mailwarden_store::queue_alert(&mut tx, alert).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// The fingerprint stored in snapshot `id`.
pub async fn fingerprint_of(store: &Store, id: i64) -> String {
    sqlx::query_scalar::<_, String>("SELECT fingerprint FROM snapshots WHERE id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// The outbox row `id`, as `alert list` reads it.
pub async fn alert_row(store: &Store, id: i64) -> mailwarden_store::outbox::QueuedAlert {
    mailwarden_store::outbox::list_alerts(store, None)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.id == id)
        .unwrap()
}

/// The report files of the ingest corpus.
pub const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/reports/ingest");

/// The one report in `bytes` (a file named `name`), parsed.
pub fn parsed_bytes(name: &str, bytes: &[u8]) -> mailwarden_ingest::Parsed {
    let mut items = mailwarden_ingest::read(name, bytes, &mailwarden_ingest::Limits::default());
    assert_eq!(items.len(), 1, "{name}");
    items.remove(0).outcome.unwrap()
}

/// The corpus file `file`, parsed.
pub fn corpus(file: &str) -> mailwarden_ingest::Parsed {
    parsed_bytes(file, &std::fs::read(format!("{CORPUS}/{file}")).unwrap())
}

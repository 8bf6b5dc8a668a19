//! Monitored domains: how often each is scanned and with which scan
//! options (stored as the `mailwarden scan` flags, so a monitor scans
//! exactly as `mailwarden scan DOMAIN FLAGS...` would).

use serde::Serialize;
use serde_json::json;

use crate::{EventKind, Store, StoreError, append_event, clock};

/// One monitored domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Monitor {
    pub domain: String,
    pub every_secs: i64,
    /// JSON: `{"scan_flags": [...]}`.
    pub options: String,
    /// `cli`, or `config:PATH` for one declared in a monitors file.
    pub origin: String,
    pub added_at: String,
    pub next_due_at: String,
}

impl Monitor {
    /// The `mailwarden scan` flags stored with the domain.
    pub fn scan_flags(&self) -> Vec<String> {
        serde_json::from_str::<serde_json::Value>(&self.options)
            .ok()
            .and_then(|v| {
                v["scan_flags"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
            })
            .unwrap_or_default()
    }
}

/// Add or update a monitor (due at once); appends `monitor-added`.
pub async fn add(
    store: &Store,
    domain: &str,
    every_secs: i64,
    scan_flags: &[String],
    origin: &str,
) -> Result<(), StoreError> {
    let now = clock::now();
    let options = json!({ "scan_flags": scan_flags }).to_string();
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO monitors (domain, every_secs, options, origin, added_at, next_due_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (domain) DO UPDATE SET every_secs = excluded.every_secs, options = excluded.options,
             origin = excluded.origin, next_due_at = excluded.next_due_at",
    )
    .bind(domain)
    .bind(every_secs)
    .bind(&options)
    .bind(origin)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    append_event(
        &mut tx,
        EventKind::MonitorAdded,
        Some(domain),
        &json!({ "every_secs": every_secs, "scan_flags": scan_flags, "origin": origin }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Remove a monitor (its history stays; `erase` removes that). Returns
/// false when the domain was not monitored.
pub async fn remove(store: &Store, domain: &str) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    let gone = sqlx::query("DELETE FROM monitors WHERE domain = $1")
        .bind(domain)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone == 0 {
        return Ok(false);
    }
    append_event(&mut tx, EventKind::MonitorRemoved, Some(domain), &json!({})).await?;
    tx.commit().await?;
    Ok(true)
}

const COLUMNS: &str = "SELECT domain, every_secs, options, origin, added_at, next_due_at FROM monitors";

/// Every monitor, by domain.
pub async fn list(store: &Store) -> Result<Vec<Monitor>, StoreError> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{COLUMNS} ORDER BY domain")))
            .fetch_all(store.pool())
            .await?,
    )
}

/// The monitors due at `now` (RFC 3339 as stored), most overdue first.
pub async fn due(store: &Store, now: &str) -> Result<Vec<Monitor>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE next_due_at <= $1 ORDER BY next_due_at, domain"
    )))
    .bind(now)
    .fetch_all(store.pool())
    .await?)
}

/// Which monitors [`claim`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimable<'a> {
    /// Those due now (`monitor run`).
    Due,
    /// Every one not claimed since this time, due or not (`monitor run
    /// --once` started then): two `--once` runs at the same time share the
    /// domains instead of both scanning each.
    NotClaimedSince(&'a str),
}

/// The database's clock now, as stored (see [`crate::jobs_claim::db_now`]).
pub async fn db_now(store: &Store) -> Result<String, StoreError> {
    let mut conn = store.pool().acquire().await?;
    Ok(clock::stamp(crate::jobs_claim::db_now(&mut conn).await?))
}

/// Claim up to `limit` monitors for one process for `lease`: several
/// `monitor run` processes on one database then never scan a domain twice
/// for one due time. A claimed monitor is skipped by the others (PostgreSQL:
/// `FOR UPDATE SKIP LOCKED`; SQLite: the one write lock) until [`release`]
/// after its scan is stored, or until the lease runs out (the process
/// died), when it is claimed again. Most overdue first.
pub async fn claim(
    store: &Store,
    which: Claimable<'_>,
    limit: usize,
    lease: std::time::Duration,
) -> Result<Vec<Monitor>, StoreError> {
    let skip_locked = match store.backend() {
        crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        crate::Backend::Sqlite => "",
    };
    let condition = match which {
        Claimable::Due => "next_due_at <= $2",
        Claimable::NotClaimedSince(_) => "(claimed_at IS NULL OR claimed_at < $3)",
    };
    let returning = COLUMNS.trim_start_matches("SELECT ").trim_end_matches(" FROM monitors");
    let sql = format!(
        "UPDATE monitors SET lease_until = $1, claimed_at = $2 WHERE domain IN (
             SELECT domain FROM monitors WHERE (lease_until IS NULL OR lease_until <= $2) AND {condition}
             ORDER BY next_due_at, domain LIMIT {limit}{skip_locked})
         RETURNING {returning}"
    );
    let mut tx = store.begin().await?;
    let now = crate::jobs_claim::db_now(&mut tx).await?;
    let query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(crate::jobs_claim::lease_end(now, lease))
        .bind(clock::stamp(now));
    let query = match which {
        Claimable::Due => query,
        Claimable::NotClaimedSince(since) => query.bind(since),
    };
    let mut claimed: Vec<Monitor> = query.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    claimed.sort_by(|a, b| (&a.next_due_at, &a.domain).cmp(&(&b.next_due_at, &b.domain)));
    Ok(claimed)
}

/// Give up the claim on `domain` once its scan is stored. `claimed_at`
/// becomes the time it was done, so a `--once` run that started before
/// then counts the domain as scanned in its round.
pub async fn release(store: &Store, domain: &str) -> Result<(), StoreError> {
    let mut conn = store.pool().acquire().await?;
    release_in(&mut conn, domain).await
}

/// [`release`] on `conn`.
async fn release_in(conn: &mut sqlx::AnyConnection, domain: &str) -> Result<(), StoreError> {
    let now = clock::stamp(crate::jobs_claim::db_now(conn).await?);
    sqlx::query("UPDATE monitors SET lease_until = NULL, claimed_at = $1 WHERE domain = $2")
        .bind(now)
        .bind(domain)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Where a stored scan moves its domain's monitor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MoveOn<'a> {
    /// When the monitor is next due.
    pub next_due_at: &'a str,
    /// When this process's claim on the domain ended (`monitor run`), if
    /// it ends with this scan: as [`release`] stamps it, the database's time.
    pub released_at: Option<&'a str>,
}

/// Move the monitor of `domain` on to its next due time (and end the
/// claim), in the transaction that stores its scan: one statement, it is
/// on the path of every stored scan.
pub(crate) async fn move_on_in(conn: &mut sqlx::AnyConnection, domain: &str, m: MoveOn<'_>) -> Result<(), StoreError> {
    let query = match m.released_at {
        Some(at) => {
            sqlx::query("UPDATE monitors SET next_due_at = $1, lease_until = NULL, claimed_at = $2 WHERE domain = $3")
                .bind(m.next_due_at)
                .bind(at)
        }
        None => sqlx::query("UPDATE monitors SET next_due_at = $1 WHERE domain = $2").bind(m.next_due_at),
    };
    query.bind(domain).execute(&mut *conn).await?;
    Ok(())
}

/// Move the monitors of a batch of stored scans on, each `(domain, next
/// due time)`, and end this process's claims on them at `released_at`: one
/// statement for the batch (a statement per scan was one of the four a
/// stored scan cost SQLite's worker thread; bench/monitor-lab.sh). A
/// domain given twice ends at its last due time, as one statement per scan
/// in order left it.
pub(crate) async fn move_on_many(
    conn: &mut sqlx::AnyConnection,
    moves: &[(&str, &str)],
    released_at: &str,
) -> Result<(), StoreError> {
    if moves.is_empty() {
        return Ok(());
    }
    // CASE takes the first match: the last move of a domain goes first.
    let whens: Vec<String> = (0..moves.len())
        .map(|i| format!("WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2))
        .collect();
    let domains: Vec<String> = (0..moves.len()).map(|i| format!("${}", 2 * i + 1)).collect();
    let sql = format!(
        "UPDATE monitors SET next_due_at = CASE domain {} END, lease_until = NULL, claimed_at = ${}
         WHERE domain IN ({})",
        whens.join(" "),
        2 * moves.len() + 1,
        domains.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (domain, next_due_at) in moves.iter().rev() {
        query = query.bind(*domain).bind(*next_due_at);
    }
    query.bind(released_at).execute(&mut *conn).await?;
    Ok(())
}

/// Monitors a `--once` run that started at `since` still waits for: held
/// under another process's lease taken before it started (that process may
/// finish them, or die and let the lease run out).
pub async fn held_by_others(store: &Store, since: &str) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM monitors WHERE lease_until IS NOT NULL AND (claimed_at IS NULL OR claimed_at < $1)",
    )
    .bind(since)
    .fetch_one(store.pool())
    .await?)
}

/// When the next monitor can be claimed: its due time, or the end of the
/// lease another process holds on it.
pub async fn next_claimable(store: &Store) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_due_at THEN lease_until
                         ELSE next_due_at END) FROM monitors",
    )
    .fetch_one(store.pool())
    .await?)
}

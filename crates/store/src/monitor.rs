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

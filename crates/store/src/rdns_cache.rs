//! The reverse DNS of report source addresses, as last looked up
//! (migration 0210): public DNS data, the same for every tenant, so the
//! table has no tenant. The classification and the TTL are the senders
//! crate's (`mailwarden_senders::rdns`); this module only keeps rows.

use crate::{Store, StoreError};

/// Addresses asked per statement (placeholders per query stay small).
const CHUNK: usize = 400;

/// One address's answer as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Row {
    pub ip: String,
    /// `confirmed`, `unconfirmed`, `none` or `indeterminate`.
    pub state: String,
    /// Names separated by a space: the confirmed name, or the PTR names
    /// that did not resolve back.
    pub names: String,
    pub reason: Option<String>,
    /// When it was looked up, as the store writes times.
    pub looked_up_at: String,
}

/// The stored rows of `ips` (any age; the caller judges freshness).
pub async fn get(store: &Store, ips: &[String]) -> Result<Vec<Row>, StoreError> {
    let mut conn = store.pool().acquire().await?;
    let mut out = Vec::new();
    for chunk in ips.chunks(CHUNK) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT ip, state, names, reason, looked_up_at FROM rdns_cache WHERE ip IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql));
        for ip in chunk {
            q = q.bind(ip);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// Store these answers, replacing older ones of the same addresses.
pub async fn put(store: &Store, rows: &[Row]) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    for r in rows {
        sqlx::query(
            "INSERT INTO rdns_cache (ip, state, names, reason, looked_up_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (ip) DO UPDATE SET state = excluded.state, names = excluded.names,
                 reason = excluded.reason, looked_up_at = excluded.looked_up_at",
        )
        .bind(&r.ip)
        .bind(&r.state)
        .bind(&r.names)
        .bind(&r.reason)
        .bind(&r.looked_up_at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

//! How long stored scans took (issue 16, `/metrics`' scan-duration
//! histogram): each snapshot's Observation carries `duration_ms`; this
//! reads it off snapshots newer than a cursor, so a scraper reads each
//! snapshot once. Only scans stored as a new snapshot (a changed state)
//! are here: a scan that saw the same state again stores no Observation.

use serde::Deserialize;

use crate::{Store, StoreError, codec};

/// The one field read of an Observation (serde skips the rest).
#[derive(Deserialize)]
struct Timing {
    duration_ms: Option<u64>,
}

/// The id of the newest snapshot first seen before `stamp` (RFC 3339), or
/// 0: where a new reader starts, so its first scrape reads recent scans
/// only, not years of history.
pub async fn cursor_before(store: &Store, stamp: &str) -> Result<i64, StoreError> {
    let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM snapshots WHERE first_seen_at < $1")
        .bind(stamp)
        .fetch_one(store.pool())
        .await?;
    Ok(id.unwrap_or(0).max(0))
}

/// Up to `limit` snapshots with an id above `after`, oldest first: each
/// id and its scan's duration in milliseconds (`None`: not recorded, or
/// an Observation that does not read).
pub async fn durations_after(store: &Store, after: i64, limit: i64) -> Result<Vec<(i64, Option<u64>)>, StoreError> {
    let rows: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT id, observation FROM snapshots WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(store.pool())
            .await?;
    Ok(rows.into_iter().map(|(id, blob)| (id, duration(&blob))).collect())
}

/// An Observation blob's (compressed JSON, [`codec`]) `duration_ms`.
fn duration(blob: &[u8]) -> Option<u64> {
    let json = codec::decompress(blob, codec::READ_LIMIT).ok()?;
    serde_json::from_slice::<Timing>(&json).ok()?.duration_ms
}

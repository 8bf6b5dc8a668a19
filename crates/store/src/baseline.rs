//! Approved baselines: "this is how the domain should look", with who,
//! when and why, in the audit log. Any later difference is unapproved.

use serde::Serialize;
use serde_json::json;

use crate::{EventKind, Store, StoreError, append_event, clock};

/// An approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Baseline {
    pub id: i64,
    pub domain: String,
    pub snapshot_id: i64,
    pub approved_at: String,
    pub approved_by: String,
    pub reason: String,
}

/// Approve the domain's latest snapshot; returns the approval.
pub async fn approve(store: &Store, domain: &str, by: &str, reason: &str) -> Result<Baseline, StoreError> {
    if reason.trim().is_empty() {
        return Err(StoreError::NotFound("--reason: say why this state is approved".into()));
    }
    let mut tx = store.begin().await?;
    let snapshot: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM snapshots WHERE domain = $1")
        .bind(domain)
        .fetch_one(&mut *tx)
        .await?;
    let snapshot_id = snapshot.ok_or_else(|| {
        StoreError::NotFound(format!(
            "{domain}: nothing stored to approve yet (monitor add {domain}, then monitor run --once)"
        ))
    })?;
    let approved_at = clock::now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO baselines (domain, snapshot_id, approved_at, approved_by, reason, tenant_id)
         VALUES ($1, $2, $3, $4, $5, (SELECT tenant_id FROM snapshots WHERE id = $2)) RETURNING id",
    )
    .bind(domain)
    .bind(snapshot_id)
    .bind(&approved_at)
    .bind(by)
    .bind(reason)
    .fetch_one(&mut *tx)
    .await?;
    append_event(
        &mut tx,
        EventKind::BaselineApproved,
        Some(domain),
        &json!({ "baseline": id, "snapshot": snapshot_id, "by": by, "reason": reason }),
    )
    .await?;
    tx.commit().await?;
    Ok(Baseline {
        id,
        domain: domain.into(),
        snapshot_id,
        approved_at,
        approved_by: by.into(),
        reason: reason.into(),
    })
}

/// The domain's current (latest) approval.
pub async fn current(conn: &mut sqlx::AnyConnection, domain: &str) -> Result<Option<Baseline>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, domain, snapshot_id, approved_at, approved_by, reason FROM baselines
         WHERE domain = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(domain)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Every approval of the domain, oldest first.
pub async fn list(store: &Store, domain: &str) -> Result<Vec<Baseline>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, domain, snapshot_id, approved_at, approved_by, reason FROM baselines WHERE domain = $1 ORDER BY id",
    )
    .bind(domain)
    .fetch_all(store.pool())
    .await?)
}

//! A tenant domain's latest stored scan whole (issue 16, the web's HTML
//! and SARIF downloads): the Observation to judge and render again, and
//! the audit event each download appends.

use mailwarden_audit::hash::to_hex;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::snapshot::{self, Snapshot};
use crate::tenant::OwnedDomain;
use crate::{EventKind, Store, StoreError, append_event};

/// The domain's latest snapshot (highest id), or `None` when it was never scanned.
pub async fn latest(store: &Store, domain: &OwnedDomain) -> Result<Option<Snapshot>, StoreError> {
    let mut conn = store.pool().acquire().await?;
    let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM snapshots WHERE domain = $1 AND tenant_id = $2")
        .bind(domain.name())
        .bind(domain.tenant().id())
        .fetch_one(&mut *conn)
        .await?;
    match id {
        Some(id) => Ok(Some(snapshot::load(&mut conn, id).await?)),
        None => Ok(None),
    }
}

/// Append the `evidence-exported` event of one report download: who took
/// which file of which snapshot, and the file's SHA-256 (in the shape of
/// the evidence bundle's event: `domain`, `files_sha256`). Returns its seq.
pub async fn record_report_export(
    store: &Store,
    domain: &OwnedDomain,
    snapshot: i64,
    file: &str,
    bytes: &[u8],
    by: &str,
) -> Result<i64, StoreError> {
    let mut tx = store.begin().await?;
    let content = json!({
        "domain": domain.name(), "tenant_id": domain.tenant().id(), "export": "scan-report",
        "snapshot": snapshot, "by": by, "files_sha256": {file: to_hex(&Sha256::digest(bytes))},
    });
    let seq = append_event(&mut tx, EventKind::EvidenceExported, Some(domain.name()), &content).await?;
    tx.commit().await?;
    Ok(seq)
}

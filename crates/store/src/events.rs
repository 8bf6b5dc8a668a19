//! The audit events: every change the store makes is appended here, in the
//! same transaction as the change (INTERFACES.md). `auditalert` turns the
//! table into an RFC 9162 verifiable log by replacing [`append_event`]'s
//! body; its signature and the table stay as agreed.

use serde::{Deserialize, Serialize};

use crate::{StoreError, Tx};

/// What an event records (serialised kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    SnapshotStored,
    SeenAgain,
    ChangeDetected,
    BaselineApproved,
    MonitorAdded,
    MonitorRemoved,
    AlertQueued,
    AlertSent,
    AlertFailed,
    RetentionRun,
    Erasure,
    EvidenceExported,
    // webpages (issue 16): a tenant's alert destinations changed from the web.
    AlertDestinationAdded,
    AlertDestinationRemoved,
    // web-ops (issue 16): a domain's ownership claimed, shown by its DNS
    // TXT token, or vouched for by an admin (with the reason).
    OwnershipClaimed,
    OwnershipVerified,
    OwnershipOverridden,
    /// One run of a report importer (issue 14): counts, reasons, report ids.
    ReportsImported,
}

impl EventKind {
    pub const ALL: [EventKind; 18] = [
        EventKind::SnapshotStored,
        EventKind::SeenAgain,
        EventKind::ChangeDetected,
        EventKind::BaselineApproved,
        EventKind::MonitorAdded,
        EventKind::MonitorRemoved,
        EventKind::AlertQueued,
        EventKind::AlertSent,
        EventKind::AlertFailed,
        EventKind::RetentionRun,
        EventKind::Erasure,
        EventKind::EvidenceExported,
        EventKind::AlertDestinationAdded,
        EventKind::AlertDestinationRemoved,
        EventKind::OwnershipClaimed,
        EventKind::OwnershipVerified,
        EventKind::OwnershipOverridden,
        EventKind::ReportsImported,
    ];

    /// The stored name, e.g. `snapshot-stored`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SnapshotStored => "snapshot-stored",
            EventKind::SeenAgain => "seen-again",
            EventKind::ChangeDetected => "change-detected",
            EventKind::BaselineApproved => "baseline-approved",
            EventKind::MonitorAdded => "monitor-added",
            EventKind::MonitorRemoved => "monitor-removed",
            EventKind::AlertQueued => "alert-queued",
            EventKind::AlertSent => "alert-sent",
            EventKind::AlertFailed => "alert-failed",
            EventKind::RetentionRun => "retention-run",
            EventKind::Erasure => "erasure",
            EventKind::EvidenceExported => "evidence-exported",
            EventKind::AlertDestinationAdded => "alert-destination-added",
            EventKind::AlertDestinationRemoved => "alert-destination-removed",
            EventKind::OwnershipClaimed => "ownership-claimed",
            EventKind::OwnershipVerified => "ownership-verified",
            EventKind::OwnershipOverridden => "ownership-overridden",
            EventKind::ReportsImported => "reports-imported",
        }
    }
}

/// Append one event; returns its sequence number. Call it inside the
/// transaction of the change it records, so both land or neither does.
///
/// `seq` is gapless: the next number is taken inside the transaction, and
/// appends are serialised (SQLite: the write transaction, begun
/// IMMEDIATE by [`crate::Store::begin`]; PostgreSQL: a transaction-scoped
/// advisory lock), so two writers never take the same number.
pub async fn append_event(
    tx: &mut Tx<'_>,
    kind: EventKind,
    domain: Option<&str>,
    content: &serde_json::Value,
) -> Result<i64, StoreError> {
    // auditalert: the RFC 9162 append (salted digests, leaf, signed head;
    // on PostgreSQL after the advisory lock that serialises appends).
    crate::audit_log::append(tx, kind.as_str(), domain, content).await
}

/// One stored event, as read back.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Event {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub domain: Option<String>,
    pub content: Option<String>,
}

/// Events about `domain` (every event when `None`), oldest first.
pub async fn list_events(store: &crate::Store, domain: Option<&str>) -> Result<Vec<Event>, StoreError> {
    let rows = match domain {
        Some(d) => {
            sqlx::query_as("SELECT seq, at, kind, domain, content FROM audit_events WHERE domain = $1 ORDER BY seq")
                .bind(d)
                .fetch_all(store.pool())
                .await?
        }
        None => {
            sqlx::query_as("SELECT seq, at, kind, domain, content FROM audit_events ORDER BY seq")
                .fetch_all(store.pool())
                .await?
        }
    };
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_kebab_case_as_agreed() {
        for kind in EventKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(EventKind::SnapshotStored.as_str(), "snapshot-stored");
    }
}

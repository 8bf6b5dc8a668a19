//! The alert outbox (INTERFACES.md): `monitor run` queues an alert in the
//! same transaction as the scan that caused it, so a crash between the
//! scan and the delivery loses nothing; `auditalert` delivers the rows.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{StoreError, Tx, clock};

/// What set an alert off (serialised kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// A difference from the approved baseline.
    UnapprovedChange,
    /// A failing finding at or above the alert severity that the previous
    /// snapshot did not have.
    NewFailingFinding,
    /// A profile verdict that was met and is now not met.
    ProfileNotMet,
    /// An MX certificate that expires within the warning period.
    CertificateExpiring,
    /// The overall score fell.
    ScoreDrop,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::UnapprovedChange => "unapproved-change",
            Trigger::NewFailingFinding => "new-failing-finding",
            Trigger::ProfileNotMet => "profile-not-met",
            Trigger::CertificateExpiring => "certificate-expiring",
            Trigger::ScoreDrop => "score-drop",
        }
    }
}

/// An alert to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub domain: String,
    pub trigger: Trigger,
    /// `info`, `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// One line of text.
    pub summary: String,
    /// The snapshot that caused it.
    pub snapshot_id: Option<i64>,
    /// What exactly: the changes, the finding, the certificate ...
    pub details: serde_json::Value,
    /// What makes two alerts "the same condition" (with domain and
    /// trigger): e.g. the baseline id and the differing fingerprint.
    pub condition: String,
}

impl NewAlert {
    /// Hex SHA-256 of domain, trigger and condition: the same condition is
    /// queued once, however often a scan sees it.
    pub fn idempotency_key(&self) -> String {
        let mut h = Sha256::new();
        for part in [self.domain.as_str(), self.trigger.as_str(), self.condition.as_str()] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The JSON delivered: domain, trigger, severity, summary, snapshot id, details.
    pub fn payload(&self) -> serde_json::Value {
        serde_json::json!({
            "domain": self.domain,
            "trigger": self.trigger.as_str(),
            "severity": self.severity,
            "summary": self.summary,
            "snapshot_id": self.snapshot_id,
            "details": self.details,
        })
    }
}

/// Queue `alert` as `pending`; returns its id, or the id of the row that
/// already holds the same condition (same idempotency key: not queued again).
pub async fn queue_alert(tx: &mut Tx<'_>, alert: &NewAlert) -> Result<i64, StoreError> {
    let key = alert.idempotency_key();
    let now = clock::now();
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO alert_outbox (created_at, domain, \"trigger\", severity, summary, payload,
                                   idempotency_key, state, attempts, next_attempt_at, tenant_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $1, 
             -- the domain's tenant (issue 16; one domain, one tenant)
             COALESCE((SELECT tenant_id FROM monitors WHERE domain = $2),
                      (SELECT MAX(tenant_id) FROM snapshots WHERE domain = $2), 1))
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING id",
    )
    .bind(&now)
    .bind(&alert.domain)
    .bind(alert.trigger.as_str())
    .bind(&alert.severity)
    .bind(&alert.summary)
    .bind(serde_json::to_string(&alert.payload())?)
    .bind(&key)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = inserted {
        return Ok(id);
    }
    Ok(
        sqlx::query_scalar("SELECT id FROM alert_outbox WHERE idempotency_key = $1")
            .bind(&key)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// One outbox row, as read back.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QueuedAlert {
    pub id: i64,
    pub created_at: String,
    pub domain: String,
    pub trigger: String,
    pub severity: String,
    pub summary: String,
    pub payload: String,
    pub idempotency_key: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
}

/// The outbox rows about `domain` (all when `None`), oldest first.
pub async fn list_alerts(store: &crate::Store, domain: Option<&str>) -> Result<Vec<QueuedAlert>, StoreError> {
    let rows = match domain {
        Some(d) => {
            sqlx::query_as(
                "SELECT id, created_at, domain, \"trigger\", severity, summary, payload,
             idempotency_key, state, attempts, next_attempt_at, last_error FROM alert_outbox
             WHERE domain = $1 ORDER BY id",
            )
            .bind(d)
            .fetch_all(store.pool())
            .await?
        }
        None => {
            sqlx::query_as(
                "SELECT id, created_at, domain, \"trigger\", severity, summary, payload,
             idempotency_key, state, attempts, next_attempt_at, last_error FROM alert_outbox ORDER BY id",
            )
            .fetch_all(store.pool())
            .await?
        }
    };
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(condition: &str) -> NewAlert {
        NewAlert {
            domain: "example.com".into(),
            trigger: Trigger::UnapprovedChange,
            severity: "high".into(),
            summary: "MX changed".into(),
            snapshot_id: Some(3),
            details: serde_json::json!({}),
            condition: condition.into(),
        }
    }

    #[test]
    fn idempotency_key_depends_on_the_condition_only() {
        assert_eq!(alert("b1/f1").idempotency_key(), alert("b1/f1").idempotency_key());
        assert_ne!(alert("b1/f1").idempotency_key(), alert("b1/f2").idempotency_key());
        let mut other = alert("b1/f1");
        other.summary = "reworded".into();
        assert_eq!(other.idempotency_key(), alert("b1/f1").idempotency_key());
    }
}

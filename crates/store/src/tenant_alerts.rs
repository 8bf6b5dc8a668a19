//! A tenant's alert destinations (issue 16: managed from the web by its
//! analysts and admins): listed with their delivery status, added and
//! removed only within the tenant's scope (another tenant's id is "no
//! such destination", like a missing one), each change audit-logged in
//! the same transaction. Delivery sends an alert only to its own
//! tenant's destinations ([`crate::alert_delivery`]), and to one added
//! here only once the tenant has shown ownership of the alert's domain
//! ([`crate::alert_hold`]).

use mailwarden_alert::{Alert, Context, DeliveryError, Destination};
use serde::Serialize;
use serde_json::json;

use crate::alert_delivery::{StoredDestination, list_destinations};
use crate::alert_hold;
use crate::tenant::TenantScope;
use crate::{EventKind, Store, StoreError, append_event, clock};

/// A destination as the alerts page shows it: where, and how delivery to
/// it went (per alert: the latest attempt's outcome).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestinationStatus {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    /// Where, without its secret (`webhook URL (signed)`).
    pub destination: String,
    pub added_at: String,
    /// `web:<email>` (gated by ownership), `cli` or `null` (the operator's).
    pub added_by: Option<String>,
    /// Alerts it took, alerts whose latest attempt to it failed, and
    /// alerts held for it until ownership of their domain is shown.
    pub sent: i64,
    pub failed: i64,
    pub held: i64,
    /// The latest failure's error or hold's reason (`held: ...`).
    pub last_error: Option<String>,
    pub last_attempt_at: Option<String>,
}

/// The tenant's destinations, oldest first.
pub async fn destinations(store: &Store, scope: TenantScope) -> Result<Vec<StoredDestination>, StoreError> {
    let mut all = list_destinations(store).await?;
    all.retain(|d| d.tenant_id == scope.id());
    Ok(all)
}

/// The tenant's destinations with their delivery status.
pub async fn statuses(store: &Store, scope: TenantScope) -> Result<Vec<DestinationStatus>, StoreError> {
    let mut out = Vec::new();
    for d in destinations(store, scope).await? {
        let (sent, failed, held, last_attempt_at): (i64, i64, i64, Option<String>) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(CASE WHEN state = 'sent' THEN 1 ELSE 0 END), 0) AS BIGINT),
                    CAST(COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT),
                    CAST(COALESCE(SUM(CASE WHEN state = 'held' THEN 1 ELSE 0 END), 0) AS BIGINT),
                    MAX(updated_at)
             FROM alert_deliveries WHERE destination_id = $1",
        )
        .bind(d.id)
        .fetch_one(store.pool())
        .await?;
        let last_error: Option<String> = sqlx::query_scalar(
            "SELECT last_error FROM alert_deliveries WHERE destination_id = $1 AND state <> 'sent'
             ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(d.id)
        .fetch_optional(store.pool())
        .await?
        .flatten();
        out.push(DestinationStatus {
            id: d.id,
            kind: d.destination.kind().to_owned(),
            destination: d.destination.to_string(),
            added_at: d.added_at,
            added_by: d.added_by,
            sent,
            failed,
            held,
            last_error,
            last_attempt_at,
        });
    }
    Ok(out)
}

/// Add a destination for the tenant (audit-logged: who, what kind, where
/// without the secret); its id. Added by `by` through the web, it gets an
/// alert about a domain only once the tenant has shown ownership of it.
pub async fn add(store: &Store, scope: TenantScope, destination: &Destination, by: &str) -> Result<i64, StoreError> {
    let mut tx = store.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO alert_destinations (kind, config, added_at, tenant_id, added_by) VALUES ($1, $2, $3, $4, $5)
         RETURNING id",
    )
    .bind(destination.kind())
    .bind(serde_json::to_string(destination)?)
    .bind(clock::now())
    .bind(scope.id())
    .bind(alert_hold::web_origin(by))
    .fetch_one(&mut *tx)
    .await?;
    alert_hold::reopen_tenant(&mut tx, Some(scope.id())).await?;
    let content = json!({"destination_id": id, "tenant_id": scope.id(), "type": destination.kind(),
                         "destination": destination.to_string(), "by": by});
    append_event(&mut tx, EventKind::AlertDestinationAdded, None, &content).await?;
    tx.commit().await?;
    Ok(id)
}

/// Remove the tenant's destination `id` (audit-logged); `false` when the
/// tenant has none with that id (another tenant's included).
pub async fn remove(store: &Store, scope: TenantScope, id: i64, by: &str) -> Result<bool, StoreError> {
    let Some(d) = destinations(store, scope).await?.into_iter().find(|d| d.id == id) else {
        return Ok(false);
    };
    let mut tx = store.begin().await?;
    sqlx::query("DELETE FROM alert_deliveries WHERE destination_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM alert_destinations WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(scope.id())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        // Removed meanwhile by another request: nothing to log.
        return Ok(false);
    }
    alert_hold::reopen_tenant(&mut tx, Some(scope.id())).await?;
    let content = json!({"destination_id": id, "tenant_id": scope.id(), "type": d.destination.kind(),
                         "destination": d.destination.to_string(), "by": by});
    append_event(&mut tx, EventKind::AlertDestinationRemoved, None, &content).await?;
    tx.commit().await?;
    Ok(true)
}

/// The alert `alert test` and the web's "Send a test alert" send: about
/// no real domain, never queued, its own idempotency key each time.
pub fn test_alert(now: time::OffsetDateTime) -> Alert {
    Alert {
        id: 0,
        created_at: clock::stamp(now),
        domain: "mailwarden.test".into(),
        trigger: "test".into(),
        severity: "info".into(),
        summary: "mailwarden test alert: this destination works".into(),
        payload: json!({"test": true}),
        idempotency_key: format!("test-{}", now.unix_timestamp_nanos()),
    }
}

/// Send a test alert to the tenant's destination `id` now; `None` when
/// the tenant has no such destination, else the delivery's outcome.
pub async fn test(store: &Store, scope: TenantScope, id: i64) -> Result<Option<Result<(), DeliveryError>>, StoreError> {
    let Some(d) = destinations(store, scope).await?.into_iter().find(|d| d.id == id) else {
        return Ok(None);
    };
    let now = time::OffsetDateTime::now_utc();
    let outcome = mailwarden_alert::deliver(&d.destination, &test_alert(now), &Context::at(now)).await;
    Ok(Some(outcome))
}

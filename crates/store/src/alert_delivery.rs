//! Delivery of the alert outbox (issue 13, INTERFACES.md): destinations,
//! and [`deliver_pending`], which `monitor run` calls each tick.
//!
//! At least once: an alert leaves `pending` only after every destination
//! took it, and the receiver sees the same idempotency key on every retry,
//! so a crash at any point (before sending, while sending, before the
//! result is recorded) can only repeat a delivery, never lose one. Network
//! I/O happens outside any transaction: a slow webhook never holds the
//! database's write lock. A row is claimed (its next attempt pushed past a
//! lease) before sending, so two `monitor run` processes on one PostgreSQL
//! database do not both send it.
//!
//! A destination added through the web gets an alert about a domain only
//! once the alert's tenant has shown ownership of it; until then that
//! delivery is held ([`crate::alert_hold`]).

use std::time::Duration;

use mailwarden_alert::{Alert, Context, DeliveryError, Destination, RetryPolicy, is_repeat};
use time::OffsetDateTime;

use crate::alert_hold::{self, needs_ownership};
use crate::{EventKind, Store, StoreError, Tx, append_event, clock};

/// How long a claimed alert is left alone before another worker may retry it.
const CLAIM_LEASE: time::Duration = time::Duration::minutes(2);
/// Alerts handled per call.
const BATCH: i64 = 100;
/// store_meta key of the suppression window.
const WINDOW_KEY: &str = "alert.suppression_window_secs";

/// A configured destination.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDestination {
    /// Its id (for `alert remove`).
    pub id: i64,
    /// Where.
    pub destination: Destination,
    /// When it was added.
    pub added_at: String,
    /// Whose: an alert goes only to its own tenant's destinations.
    pub tenant_id: i64,
    /// Who added it: `cli` (or `None`, from before migration 0330) for
    /// `mailwarden alert add`, `web:<email>` through the web or the API.
    pub added_by: Option<String>,
}

impl StoredDestination {
    /// Whether it gets an alert about a domain only once the tenant has
    /// shown ownership of the domain (the web-added ones).
    pub fn needs_ownership(&self) -> bool {
        needs_ownership(self.added_by.as_deref())
    }
}

/// Adds a destination of the operator's (tenant 1's, never gated by
/// ownership); returns its id. Tenant 1's held alerts are re-opened for it.
pub async fn add_destination(store: &Store, destination: &Destination) -> Result<i64, StoreError> {
    let mut tx = store.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO alert_destinations (kind, config, added_at, added_by) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(destination.kind())
    .bind(serde_json::to_string(destination)?)
    .bind(clock::now())
    .bind(alert_hold::CLI_ORIGIN)
    .fetch_one(&mut *tx)
    .await?;
    alert_hold::reopen_tenant(&mut tx, Some(1)).await?;
    tx.commit().await?;
    Ok(id)
}

/// Removes a destination; `false` if there was none with that id. Held
/// alerts are re-opened: the removed one may have been what held them.
pub async fn remove_destination(store: &Store, id: i64) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    sqlx::query("DELETE FROM alert_deliveries WHERE destination_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM alert_destinations WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    alert_hold::reopen_tenant(&mut tx, None).await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

/// Every configured destination, oldest first.
pub async fn list_destinations(store: &Store) -> Result<Vec<StoredDestination>, StoreError> {
    let rows: Vec<(i64, String, String, i64, Option<String>)> =
        sqlx::query_as("SELECT id, config, added_at, tenant_id, added_by FROM alert_destinations ORDER BY id")
            .fetch_all(store.pool())
            .await?;
    rows.into_iter()
        .map(|(id, config, added_at, tenant_id, added_by)| {
            let destination = serde_json::from_str(&config)
                .map_err(|e| StoreError::Corrupt(format!("alert destination {id}: {e}")))?;
            Ok(StoredDestination {
                id,
                destination,
                added_at,
                tenant_id,
                added_by,
            })
        })
        .collect()
}

/// The suppression window: a second alert for the same domain and trigger
/// within it after one was sent is marked `suppressed`, not sent.
pub async fn suppression_window(store: &Store) -> Result<Duration, StoreError> {
    let value: Option<String> = sqlx::query_scalar("SELECT value FROM store_meta WHERE key = $1")
        .bind(WINDOW_KEY)
        .fetch_optional(store.pool())
        .await?;
    Ok(value
        .and_then(|v| v.parse().ok())
        .map_or(mailwarden_alert::DEFAULT_SUPPRESSION_WINDOW, Duration::from_secs))
}

/// Sets the suppression window (0 turns suppression off).
pub async fn set_suppression_window(store: &Store, window: Duration) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO store_meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(WINDOW_KEY)
    .bind(window.as_secs().to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What one [`deliver_pending`] call did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    /// Alerts every destination took.
    pub sent: usize,
    /// Alerts that failed somewhere and will be tried again.
    pub retrying: usize,
    /// Alerts given up on (retries exhausted or a configuration error).
    pub failed: usize,
    /// Repeats inside the suppression window.
    pub suppressed: usize,
    /// Alerts now `held`: every destination that has not taken them waits
    /// for the tenant to show ownership of their domain.
    pub held: usize,
    /// One line per failed attempt (also written to standard error).
    pub errors: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct Pending {
    id: i64,
    created_at: String,
    domain: String,
    trigger: String,
    severity: String,
    summary: String,
    payload: String,
    idempotency_key: String,
    attempts: i64,
    next_attempt_at: String,
    tenant_id: i64,
}

impl Pending {
    fn alert(&self) -> Alert {
        Alert {
            id: self.id,
            created_at: self.created_at.clone(),
            domain: self.domain.clone(),
            trigger: self.trigger.clone(),
            severity: self.severity.clone(),
            summary: self.summary.clone(),
            payload: serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null),
            idempotency_key: self.idempotency_key.clone(),
        }
    }
}

/// Delivers every pending alert that is due at `now` to every destination,
/// records the outcome (state, attempts, last error, per destination too)
/// and appends `alert-sent` / `alert-failed` audit events.
pub async fn deliver_pending(store: &Store, now: OffsetDateTime) -> Result<DeliveryReport, StoreError> {
    deliver_pending_with(store, now, &RetryPolicy::default()).await
}

/// [`deliver_pending`] with a retry policy of the caller's (tests).
pub async fn deliver_pending_with(
    store: &Store,
    now: OffsetDateTime,
    policy: &RetryPolicy,
) -> Result<DeliveryReport, StoreError> {
    let mut report = DeliveryReport::default();
    let destinations = list_destinations(store).await?;
    if destinations.is_empty() {
        // Nowhere to send yet: alerts wait, and go out once one is added.
        return Ok(report);
    }
    alert_hold::reopen_shown(store, now).await?;
    let window = suppression_window(store).await?;
    let due: Vec<Pending> = sqlx::query_as(
        "SELECT id, created_at, domain, \"trigger\", severity, summary, payload, idempotency_key, attempts,
                next_attempt_at, tenant_id
         FROM alert_outbox WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT $2",
    )
    .bind(clock::stamp(now))
    .bind(BATCH)
    .fetch_all(store.pool())
    .await?;
    let cx = Context::at(now);
    for row in due {
        // Only the alert's own tenant's destinations; with none, it waits
        // (unclaimed) until that tenant adds one.
        let mine: Vec<StoredDestination> = destinations
            .iter()
            .filter(|d| d.tenant_id == row.tenant_id)
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        if !claim(store, &row, now).await? {
            continue;
        }
        if is_suppressed(store, &row, now, window).await? {
            mark_suppressed(store, &row).await?;
            report.suppressed += 1;
            continue;
        }
        deliver_one(store, &row, &mine, &cx, now, policy, &mut report).await?;
    }
    Ok(report)
}

/// Pushes the row's next attempt past a lease, if nobody else did first.
async fn claim(store: &Store, row: &Pending, now: OffsetDateTime) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    let done = sqlx::query(
        "UPDATE alert_outbox SET next_attempt_at = $1 WHERE id = $2 AND state = 'pending' AND next_attempt_at = $3",
    )
    .bind(clock::stamp(now + CLAIM_LEASE))
    .bind(row.id)
    .bind(&row.next_attempt_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Whether an alert for the same domain and trigger was sent within the window.
async fn is_suppressed(
    store: &Store,
    row: &Pending,
    now: OffsetDateTime,
    window: Duration,
) -> Result<bool, StoreError> {
    if window.is_zero() {
        return Ok(false);
    }
    let last: Option<String> = sqlx::query_scalar(
        "SELECT MAX(d.updated_at) FROM alert_deliveries d JOIN alert_outbox o ON o.id = d.alert_id
         WHERE o.domain = $1 AND o.\"trigger\" = $2 AND o.id <> $3 AND o.state = 'sent'",
    )
    .bind(&row.domain)
    .bind(&row.trigger)
    .bind(row.id)
    .fetch_one(store.pool())
    .await?;
    let since = last
        .and_then(|t| clock::parse(&t))
        .map(|t| (now - t).try_into().unwrap_or(Duration::ZERO));
    Ok(is_repeat(since, window))
}

/// What became of an alert at one destination in one pass.
enum Delivery {
    Sent,
    Failed(DeliveryError),
    /// Not attempted: the destination waits for ownership of the domain
    /// to be shown; the reason.
    Held(String),
}

impl Delivery {
    fn state(&self) -> &'static str {
        match self {
            Delivery::Sent => "sent",
            Delivery::Failed(_) => "failed",
            Delivery::Held(_) => "held",
        }
    }

    fn error(&self) -> Option<&str> {
        match self {
            Delivery::Sent => None,
            Delivery::Failed(e) => Some(&e.message),
            Delivery::Held(why) => Some(why),
        }
    }
}

/// Sends to every destination that has not taken the alert yet (holding
/// it for those that wait for ownership), then records the outcome in one
/// transaction.
async fn deliver_one(
    store: &Store,
    row: &Pending,
    destinations: &[StoredDestination],
    cx: &Context,
    now: OffsetDateTime,
    policy: &RetryPolicy,
    report: &mut DeliveryReport,
) -> Result<(), StoreError> {
    let done: Vec<i64> =
        sqlx::query_scalar("SELECT destination_id FROM alert_deliveries WHERE alert_id = $1 AND state = 'sent'")
            .bind(row.id)
            .fetch_all(store.pool())
            .await?;
    let todo: Vec<&StoredDestination> = destinations.iter().filter(|d| !done.contains(&d.id)).collect();
    // Ownership is looked up only when a destination needs it.
    let hold =
        if todo.iter().any(|d| d.needs_ownership()) && !alert_hold::shown(store, row.tenant_id, &row.domain).await? {
            Some(alert_hold::held_reason(&row.domain))
        } else {
            None
        };
    let alert = row.alert();
    let mut results = Vec::new();
    for d in todo {
        if let Some(why) = hold.as_ref().filter(|_| d.needs_ownership()) {
            results.push((d.id, Delivery::Held(why.clone())));
            continue;
        }
        let outcome = match mailwarden_alert::deliver(&d.destination, &alert, cx).await {
            Ok(()) => Delivery::Sent,
            Err(e) => {
                let line = format!(
                    "alert {} ({} {}) to {}: {e}",
                    row.id, row.domain, row.trigger, d.destination
                );
                eprintln!("mailwarden: {line}");
                report.errors.push(line);
                Delivery::Failed(e)
            }
        };
        results.push((d.id, outcome));
    }
    record(store, row, &results, now, policy, report).await
}

/// Records a pass: `sent` when every destination took the alert; failures
/// retried with backoff (or given up on); else `held`. An attempt is
/// counted only when something was sent or tried.
async fn record(
    store: &Store,
    row: &Pending,
    results: &[(i64, Delivery)],
    now: OffsetDateTime,
    policy: &RetryPolicy,
    report: &mut DeliveryReport,
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    for (destination_id, delivery) in results {
        upsert_delivery(&mut tx, row.id, *destination_id, delivery, now).await?;
    }
    let errors: Vec<&DeliveryError> = results
        .iter()
        .filter_map(|(_, d)| match d {
            Delivery::Failed(e) => Some(e),
            _ => None,
        })
        .collect();
    let held = results.iter().find_map(|(_, d)| match d {
        Delivery::Held(why) => Some(why.as_str()),
        _ => None,
    });
    let tried = results.iter().any(|(_, d)| !matches!(d, Delivery::Held(_)));
    let attempts = row.attempts + i64::from(tried);
    let content = serde_json::json!({"alert_id": row.id, "idempotency_key": row.idempotency_key, "attempts": attempts});
    if errors.is_empty() {
        if let Some(why) = held {
            // Waits, unleased, for alert_hold::reopen_*; no audit event per
            // pass (that would flood the log): the reason is on the row.
            set_state(&mut tx, row.id, "held", attempts, Some(why), None).await?;
            report.held += 1;
        } else {
            set_state(&mut tx, row.id, "sent", attempts, None, None).await?;
            // A hold's reason is no longer true once sent (an error from a
            // failed attempt stays, as before: it is what happened).
            sqlx::query("UPDATE alert_outbox SET last_error = NULL WHERE id = $1 AND last_error LIKE 'held: %'")
                .bind(row.id)
                .execute(&mut *tx)
                .await?;
            append_event(&mut tx, EventKind::AlertSent, Some(&row.domain), &content).await?;
            report.sent += 1;
        }
    } else {
        let last_error = errors
            .iter()
            .map(|e| e.message.as_str())
            .chain(held)
            .collect::<Vec<_>>()
            .join("; ");
        let retry = policy
            .next_delay(attempts as u32)
            .filter(|_| errors.iter().all(|e| !e.permanent));
        match retry {
            Some(delay) => {
                let next = clock::stamp(now + delay);
                set_state(&mut tx, row.id, "pending", attempts, Some(&last_error), Some(&next)).await?;
                report.retrying += 1;
            }
            None => {
                set_state(&mut tx, row.id, "failed", attempts, Some(&last_error), None).await?;
                let content = serde_json::json!({"alert_id": row.id, "attempts": attempts, "error": last_error});
                append_event(&mut tx, EventKind::AlertFailed, Some(&row.domain), &content).await?;
                report.failed += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// One alert's delivery to one destination; a held one counts no attempt.
async fn upsert_delivery(
    tx: &mut Tx<'_>,
    alert_id: i64,
    destination_id: i64,
    delivery: &Delivery,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let attempt = i64::from(!matches!(delivery, Delivery::Held(_)));
    sqlx::query(
        "INSERT INTO alert_deliveries (alert_id, destination_id, state, attempts, last_error, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (alert_id, destination_id) DO UPDATE SET state = excluded.state,
             attempts = alert_deliveries.attempts + excluded.attempts, last_error = excluded.last_error,
             updated_at = excluded.updated_at",
    )
    .bind(alert_id)
    .bind(destination_id)
    .bind(delivery.state())
    .bind(attempt)
    .bind(delivery.error())
    .bind(clock::stamp(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn set_state(
    tx: &mut Tx<'_>,
    id: i64,
    state: &str,
    attempts: i64,
    last_error: Option<&str>,
    next_attempt_at: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE alert_outbox SET state = $1, attempts = $2, last_error = COALESCE($3, last_error),
             next_attempt_at = COALESCE($4, next_attempt_at)
         WHERE id = $5",
    )
    .bind(state)
    .bind(attempts)
    .bind(last_error)
    .bind(next_attempt_at)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks a repeat inside the suppression window: not sent, not lost
/// (`alert list` shows it).
async fn mark_suppressed(store: &Store, row: &Pending) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    set_state(&mut tx, row.id, "suppressed", row.attempts, None, None).await?;
    tx.commit().await?;
    Ok(())
}

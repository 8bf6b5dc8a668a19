//! Retention and erasure (GDPR Art. 5(1)(e): "kept in a form which permits
//! identification of data subjects for no longer than is necessary").
//!
//! Kinds and their defaults: `snapshots` 400 days (a domain's latest
//! snapshot and any approved baseline's snapshot are always kept),
//! `findings` 400 days, `alerts` 400 days (delivered or given-up rows
//! only), `audit` 400 days: the contents of audit events are cleared, the
//! events themselves stay so the audit log still verifies. `reports` 400
//! days: imported DMARC and TLS reports (and everything derived from them)
//! whose reported period ended before the cut-off (a failure report, which
//! has no period: imported before it). The audit
//! period cannot be set below 365 days (PCI DSS 4.0.1 10.5.1: "Retain
//! audit log history for at least 12 months").

use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::{EventKind, Store, StoreError, append_event, clock};

pub const KINDS: [&str; 5] = ["snapshots", "findings", "alerts", "audit", "reports"];
const DEFAULT_DAYS: i64 = 400;
const AUDIT_MIN_DAYS: i64 = 365;
const DAY: i64 = 86_400;

/// A period (`--every`, `retention set`, `--lease`, `--expires`) that is
/// not one; each says what was given and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("{text:?}: expected a number and a unit, e.g. 400d, 12h, 15m")]
    NotANumber { text: String },
    #[error("{text:?}: unknown unit {unit:?}: use s, m, h, d or w")]
    UnknownUnit { text: String, unit: String },
    #[error("{text:?}: must be more than zero")]
    NotPositive { text: String },
}

/// Parse a period: `400d`, `12h`, `90m`, `30s`, `2w`.
pub fn parse_period(text: &str) -> Result<i64, PeriodError> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: i64 = n.parse().map_err(|_| PeriodError::NotANumber { text: text.into() })?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => DAY,
        "w" => 7 * DAY,
        _ => {
            return Err(PeriodError::UnknownUnit {
                text: text.into(),
                unit: unit.into(),
            });
        }
    };
    match n.checked_mul(mult) {
        Some(secs) if secs > 0 => Ok(secs),
        _ => Err(PeriodError::NotPositive { text: text.into() }),
    }
}

/// Set the period of one kind.
pub async fn set(store: &Store, kind: &str, secs: i64) -> Result<(), StoreError> {
    if !KINDS.contains(&kind) {
        return Err(StoreError::NotFound(format!(
            "retention kind {kind:?}: expected one of {}",
            KINDS.join(", ")
        )));
    }
    if kind == "audit" && secs < AUDIT_MIN_DAYS * DAY {
        return Err(StoreError::NotFound(format!(
            "retention audit: at least {AUDIT_MIN_DAYS}d (PCI DSS 4.0.1 10.5.1 keeps audit logs 12 months)"
        )));
    }
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO retention (kind, period_secs, set_at) VALUES ($1, $2, $3)
         ON CONFLICT (kind) DO UPDATE SET period_secs = excluded.period_secs, set_at = excluded.set_at",
    )
    .bind(kind)
    .bind(secs)
    .bind(clock::now())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The periods in force, in seconds, per kind.
pub async fn periods(store: &Store) -> Result<Vec<(String, i64)>, StoreError> {
    let set: Vec<(String, i64)> = sqlx::query_as("SELECT kind, period_secs FROM retention")
        .fetch_all(store.pool())
        .await?;
    Ok(KINDS
        .iter()
        .map(|k| {
            let secs = set.iter().find(|(s, _)| s == k).map_or(DEFAULT_DAYS * DAY, |(_, p)| *p);
            (k.to_string(), secs)
        })
        .collect())
}

/// What a retention run removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub snapshots: u64,
    pub findings: u64,
    pub alerts: u64,
    pub audit_contents: u64,
    pub reports: u64,
}

/// Delete what expired at `now`; appends `retention-run`.
pub async fn run(store: &Store, now: OffsetDateTime) -> Result<Removed, StoreError> {
    let periods = periods(store).await?;
    let cutoff = |kind: &str| {
        let secs = periods
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(DEFAULT_DAYS * DAY, |(_, s)| *s);
        clock::stamp(now - time::Duration::seconds(secs))
    };
    // Kept whatever their age: each domain's latest snapshot, and the
    // snapshots that baselines approved (the reference for changes).
    const KEEP: &str = "id NOT IN (SELECT MAX(id) FROM snapshots GROUP BY domain)
                        AND id NOT IN (SELECT snapshot_id FROM baselines)";
    let mut tx = store.begin().await?;
    let expired_findings = format!(
        "DELETE FROM findings WHERE snapshot_id IN (SELECT id FROM snapshots WHERE last_seen_at < $1 AND {KEEP})"
    );
    let expired_packed = format!("last_seen_at < $1 AND {KEEP}");
    let snapshot_cut = cutoff("snapshots");
    let removed = Removed {
        // Findings go with their snapshot, or earlier on their own period:
        // rows of snapshots stored before migration 0600, then packed lists.
        findings: exec(&mut tx, &expired_findings, &cutoff("findings")).await?
            + exec(&mut tx, &expired_findings, &snapshot_cut).await?
            + clear_packed(&mut tx, &expired_packed, &cutoff("findings")).await?
            + clear_packed(&mut tx, &expired_packed, &snapshot_cut).await?,
        snapshots: exec(
            &mut tx,
            &format!("DELETE FROM snapshots WHERE last_seen_at < $1 AND {KEEP}"),
            &snapshot_cut,
        )
        .await?,
        alerts: exec(
            &mut tx,
            "DELETE FROM alert_outbox WHERE created_at < $1 AND state IN ('sent', 'failed', 'suppressed')",
            &cutoff("alerts"),
        )
        .await?,
        audit_contents: exec(
            &mut tx,
            "UPDATE audit_events SET content = NULL WHERE at < $1 AND content IS NOT NULL",
            &cutoff("audit"),
        )
        .await?,
        reports: expire_reports(&mut tx, now, &periods).await?,
    };
    let at = clock::stamp(now);
    sqlx::query(
        "INSERT INTO store_meta (key, value) VALUES ('retention_last_run', $1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(&at)
    .execute(&mut *tx)
    .await?;
    append_event(&mut tx, EventKind::RetentionRun, None, &json!(removed)).await?;
    tx.commit().await?;
    Ok(removed)
}

/// Delete the reports (their rows, policies and selectors cascade) whose
/// period ended before the `reports` cut-off.
async fn expire_reports(
    tx: &mut crate::Tx<'_>,
    now: OffsetDateTime,
    periods: &[(String, i64)],
) -> Result<u64, StoreError> {
    let secs = periods
        .iter()
        .find(|(k, _)| k == "reports")
        .map_or(DEFAULT_DAYS * DAY, |(_, s)| *s);
    let cut = now - time::Duration::seconds(secs);
    let removed =
        sqlx::query("DELETE FROM reports WHERE (end_at > 0 AND end_at < $1) OR (end_at = 0 AND imported_at < $2)")
            .bind(cut.unix_timestamp())
            .bind(clock::stamp(cut))
            .execute(&mut **tx)
            .await?
            .rows_affected();
    // The inventory's sums of those reports go with them.
    crate::rollup::forget_before(tx, cut.unix_timestamp()).await?;
    Ok(removed)
}

/// Run one statement with one text parameter; the rows it touched.
/// Clear the packed findings of the snapshots `condition` selects (`$1`
/// bound to `param`); the number of findings they held.
async fn clear_packed(tx: &mut crate::Tx<'_>, condition: &str, param: &str) -> Result<u64, StoreError> {
    let held = packed_count(tx, condition, param).await?;
    exec(
        tx,
        &format!(
            "UPDATE snapshots SET findings = NULL, findings_count = NULL WHERE findings IS NOT NULL AND {condition}"
        ),
        param,
    )
    .await?;
    Ok(held)
}

/// How many findings the packed lists of the snapshots `condition`
/// selects hold.
async fn packed_count(tx: &mut crate::Tx<'_>, condition: &str, param: &str) -> Result<u64, StoreError> {
    let held: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(COALESCE(SUM(findings_count), 0) AS BIGINT) FROM snapshots WHERE findings IS NOT NULL AND {condition}"
    )))
    .bind(param)
    .fetch_one(&mut **tx)
    .await?;
    Ok(u64::try_from(held).unwrap_or(0))
}

async fn exec(tx: &mut crate::Tx<'_>, sql: &str, param: &str) -> Result<u64, StoreError> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(param)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// When retention last ran.
pub async fn last_run(store: &Store) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT value FROM store_meta WHERE key = 'retention_last_run'")
            .fetch_optional(store.pool())
            .await?,
    )
}

/// What `erase` removed: the receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub domain: String,
    pub erased_at: String,
    pub monitors: u64,
    pub snapshots: u64,
    pub findings: u64,
    pub baselines: u64,
    pub alerts: u64,
    /// Imported reports about the domain (with their rows).
    pub reports: u64,
    /// DKIM selectors remembered from the domain's messages.
    pub selectors: u64,
    /// Results of large-scan jobs about the domain (the job's submitted
    /// list itself is the operator's input and stays until the job is deleted).
    pub job_results: u64,
    pub audit_contents_cleared: u64,
    /// The `erasure` event's sequence number in the audit log.
    pub audit_seq: i64,
}

/// Remove every stored row about `domain`. Its audit events stay (the log
/// must still verify) with their domain, content and salt cleared; the
/// erasure event names the domain only by its SHA-256.
pub async fn erase(store: &Store, domain: &str) -> Result<Receipt, StoreError> {
    let mut tx = store.begin().await?;
    let mut r = Receipt {
        domain: domain.into(),
        erased_at: clock::now(),
        ..Receipt::default()
    };
    r.findings = sqlx::query("DELETE FROM findings WHERE snapshot_id IN (SELECT id FROM snapshots WHERE domain = $1)")
        .bind(domain)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        // The packed lists go with their snapshots, deleted below.
        + packed_count(&mut tx, "domain = $1", domain).await?;
    for (table, field) in [
        ("baselines", &mut r.baselines),
        ("snapshots", &mut r.snapshots),
        ("monitors", &mut r.monitors),
        ("alert_outbox", &mut r.alerts),
        ("reports", &mut r.reports),
        ("dkim_selectors", &mut r.selectors),
        ("job_results", &mut r.job_results),
    ] {
        *field = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE domain = $1")))
            .bind(domain)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    crate::rollup::erase(&mut tx, domain).await?;
    // The domain, content and salt of its events: without the salt the
    // salted digests the leaves keep say nothing about the domain.
    r.audit_contents_cleared = crate::audit_log::erase_domain(&mut tx, domain).await?;
    use sha2::Digest;
    let hashed = crate::fingerprint::hex(&sha2::Sha256::digest(domain.as_bytes()));
    r.audit_seq = append_event(
        &mut tx,
        EventKind::Erasure,
        None,
        &json!({
            "domain_sha256": hashed, "monitors": r.monitors, "snapshots": r.snapshots, "findings": r.findings,
            "baselines": r.baselines, "alerts": r.alerts, "reports": r.reports,
            "selectors": r.selectors, "job_results": r.job_results, "audit_contents_cleared": r.audit_contents_cleared,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_with_units_and_bad_ones_say_why() {
        assert_eq!(parse_period("400d"), Ok(400 * DAY));
        assert_eq!(parse_period("12h"), Ok(43_200));
        assert_eq!(parse_period("2w"), Ok(14 * DAY));
        assert!(
            parse_period("10y")
                .unwrap_err()
                .to_string()
                .contains("unknown unit \"y\"")
        );
        assert_eq!(parse_period("d"), Err(PeriodError::NotANumber { text: "d".into() }));
        assert_eq!(parse_period("0d"), Err(PeriodError::NotPositive { text: "0d".into() }));
    }
}

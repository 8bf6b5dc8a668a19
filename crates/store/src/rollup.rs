//! The sums the sender inventory reads, kept at import (issues 14 and 16):
//! `report_rollup` (messages per tenant, policy domain, day, source address
//! and what the inventory groups by) and `report_rollup_sources` (per day,
//! source address and reporter: messages, first period start, last period
//! end). Written in the report's own transaction by [`Sums`], so a
//! duplicate (never written) adds nothing and a crash before the commit
//! leaves no sum behind; [`summary`] reads them back as the same
//! [`AggregateSummary`] the row-by-row query gives.
//!
//! The day of a row is the UTC day its report's period ends: `since` at a
//! midnight (a date, as the pages and `--since DATE` give it) then filters
//! exactly as `end_at >= since` does on the reports. Any other `since`
//! reads the rows ([`covers`]).

use std::collections::{BTreeMap, HashMap};

use mailwarden_ingest::aggregate::PolicyPublished;
use mailwarden_ingest::report::Identity;
use sha2::{Digest, Sha256};

use crate::reports_query::{AggregateScope, AggregateSummary, PeriodCount, RecordGroup, StoredRecord};
use crate::{Backend, Store, StoreError, Tx};

/// Seconds in a day.
const DAY: i64 = 86_400;

/// Rollup entries kept in memory before they are written: one multi-row
/// upsert of at most this many (11 parameters each, far below the bind limits).
const BATCH: usize = 500;

/// The UTC day (since the epoch) of an epoch second, floored.
fn day_of(t: i64) -> i64 {
    t.div_euclid(DAY)
}

/// Whether the rollup answers for `since`: no limit, or a midnight (UTC).
pub(crate) fn covers(since: Option<i64>) -> bool {
    since.is_none_or(|s| s.rem_euclid(DAY) == 0)
}

/// What a report shares with all its rows in the rollup.
#[derive(Debug, Clone)]
pub(crate) struct Period {
    tenant: i64,
    domain: String,
    reporter: String,
    begin: i64,
    end: i64,
    /// The published `adkim`/`aspf` the reporter saw; '' when absent.
    adkim: String,
    aspf: String,
}

impl Period {
    /// The period of the aggregate report `identity` of tenant `tenant`,
    /// with the policy of its `meta` as [`crate::reports_query::policy_published`] reads it.
    pub(crate) fn of(tenant: i64, identity: &Identity, meta: &serde_json::Value) -> Period {
        Period::stored(
            tenant,
            (identity.domain.clone(), identity.reporter.clone()),
            (identity.begin, identity.end),
            meta,
        )
    }

    /// [`Period::of`] from a stored report's columns.
    fn stored(
        tenant: i64,
        (domain, reporter): (String, String),
        (begin, end): (i64, i64),
        meta: &serde_json::Value,
    ) -> Period {
        let policy = crate::reports_query::policy_published(meta);
        let mode = |pick: fn(&PolicyPublished) -> &Option<String>| {
            policy.as_ref().and_then(|p| pick(p).clone()).unwrap_or_default()
        };
        Period {
            tenant,
            adkim: mode(|p| &p.adkim),
            aspf: mode(|p| &p.aspf),
            domain,
            reporter,
            begin,
            end,
        }
    }
}

/// One row as the rollup keys it within a period: source address,
/// header_from, envelope_from ('' when absent), the stored `auth` JSON.
type ShapeKey = (String, String, String, String);

/// The sums of one report's rows not yet written (at most [`BATCH`]
/// shapes): the writer adds every row and flushes into its transaction.
#[derive(Debug)]
pub(crate) struct Sums {
    period: Period,
    shapes: HashMap<ShapeKey, i64>,
    sources: HashMap<String, i64>,
}

impl Sums {
    pub(crate) fn new(period: Period) -> Sums {
        Sums {
            period,
            shapes: HashMap::new(),
            sources: HashMap::new(),
        }
    }

    /// Add one stored row (`auth` exactly as written to `report_records`).
    pub(crate) fn add(&mut self, ip: &str, header_from: &str, envelope_from: Option<&str>, auth: &str, count: i64) {
        let key = (
            ip.to_string(),
            header_from.to_string(),
            envelope_from.unwrap_or_default().to_string(),
            auth.to_string(),
        );
        let n = self.shapes.entry(key).or_default();
        *n = n.saturating_add(count);
        let n = self.sources.entry(ip.to_string()).or_default();
        *n = n.saturating_add(count);
    }

    /// Whether enough is summed to be written.
    pub(crate) fn full(&self) -> bool {
        self.shapes.len() >= BATCH
    }

    /// Write the sums into the transaction (adding to what is stored) and forget them.
    pub(crate) async fn flush(&mut self, tx: &mut Tx<'_>) -> Result<(), StoreError> {
        let backend = crate::backend_of(tx);
        let shapes: Vec<(ShapeKey, i64)> = self.shapes.drain().collect();
        for chunk in shapes.chunks(BATCH) {
            self.upsert_shapes(tx, backend, chunk).await?;
        }
        let sources: Vec<(String, i64)> = self.sources.drain().collect();
        for chunk in sources.chunks(BATCH) {
            self.upsert_sources(tx, backend, chunk).await?;
        }
        Ok(())
    }

    async fn upsert_shapes(
        &self,
        tx: &mut Tx<'_>,
        backend: Backend,
        rows: &[(ShapeKey, i64)],
    ) -> Result<(), StoreError> {
        let p = &self.period;
        let sql = format!(
            "INSERT INTO report_rollup (tenant_id, domain, day, source_ip, shape, header_from, envelope_from, adkim,
                                        aspf, auth, messages)
             VALUES {} ON CONFLICT (tenant_id, domain, day, source_ip, shape)
             DO UPDATE SET messages = {}",
            crate::reports::placeholders(backend, rows.len(), 11),
            saturating_sum("report_rollup.messages", "excluded.messages"),
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((ip, header_from, envelope_from, auth), n) in rows {
            query = query
                .bind(p.tenant)
                .bind(p.domain.clone())
                .bind(day_of(p.end))
                .bind(ip.clone())
                .bind(shape(header_from, envelope_from, &p.adkim, &p.aspf, auth))
                .bind(header_from.clone())
                .bind(envelope_from.clone())
                .bind(p.adkim.clone())
                .bind(p.aspf.clone())
                .bind(auth.clone())
                .bind(*n);
        }
        query.execute(&mut **tx).await?;
        Ok(())
    }

    async fn upsert_sources(
        &self,
        tx: &mut Tx<'_>,
        backend: Backend,
        rows: &[(String, i64)],
    ) -> Result<(), StoreError> {
        let p = &self.period;
        let (least, greatest) = match backend {
            Backend::Sqlite => ("MIN", "MAX"),
            Backend::Postgres => ("LEAST", "GREATEST"),
        };
        let sql = format!(
            "INSERT INTO report_rollup_sources (tenant_id, domain, day, begin_day, source_ip, reporter, messages,
                                                first_begin, last_end)
             VALUES {} ON CONFLICT (tenant_id, domain, day, begin_day, source_ip, reporter)
             DO UPDATE SET messages = {},
                 first_begin = {least}(report_rollup_sources.first_begin, excluded.first_begin),
                 last_end = {greatest}(report_rollup_sources.last_end, excluded.last_end)",
            crate::reports::placeholders(backend, rows.len(), 9),
            saturating_sum("report_rollup_sources.messages", "excluded.messages"),
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (ip, n) in rows {
            query = query
                .bind(p.tenant)
                .bind(p.domain.clone())
                .bind(day_of(p.end))
                .bind(day_of(p.begin))
                .bind(ip.clone())
                .bind(p.reporter.clone())
                .bind(*n)
                .bind(p.begin)
                .bind(p.end);
        }
        query.execute(&mut **tx).await?;
        Ok(())
    }
}

/// `a + b` for counts (never negative), saturated at i64::MAX as the
/// import saturates a count: SQLite would turn an overflow into a float,
/// PostgreSQL would fail the import.
fn saturating_sum(a: &str, b: &str) -> String {
    format!("CASE WHEN {a} > 9223372036854775807 - {b} THEN 9223372036854775807 ELSE {a} + {b} END")
}

/// The upsert key of what the inventory groups by: 128 bits of SHA-256
/// over the fields, each length-prefixed (no two field lists share a
/// digest input).
fn shape(header_from: &str, envelope_from: &str, adkim: &str, aspf: &str, auth: &str) -> String {
    let mut h = Sha256::new();
    for field in [header_from, envelope_from, adkim, aspf, auth] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    crate::fingerprint::hex(&h.finalize()[..16])
}

/// After deleting the reports whose period ended before `cut` (retention):
/// the rollup of every day up to `cut`'s is summed again from the reports
/// still stored there (the day of the cut keeps its later reports; a
/// report retention leaves, e.g. a period ending at or before 1970, is kept).
pub(crate) async fn forget_before(tx: &mut Tx<'_>, cut: i64) -> Result<(), StoreError> {
    let last_day = day_of(cut);
    for table in ["report_rollup", "report_rollup_sources"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE day <= $1")))
            .bind(last_day)
            .execute(&mut **tx)
            .await?;
    }
    refill(tx, "r.end_at < $1", (last_day + 1).saturating_mul(DAY)).await
}

/// Erasure: the domain's sums, every tenant's (as the reports are erased).
pub(crate) async fn erase(tx: &mut Tx<'_>, domain: &str) -> Result<(), StoreError> {
    for table in ["report_rollup", "report_rollup_sources"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE domain = $1")))
            .bind(domain)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Sum the whole rollup again from the stored rows: for tools that write
/// `report_records` directly (the web benchmark seeds a year of copied rows
/// in SQL). Imports keep the rollup themselves.
pub async fn rebuild(store: &Store) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    for table in ["report_rollup", "report_rollup_sources"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&mut *tx)
            .await?;
    }
    refill(&mut tx, "$1 = $1", 0).await?;
    tx.commit().await?;
    Ok(())
}

/// Add the rows of the aggregate reports matching `condition` (on `r`,
/// with `$1` bound to `param`) to the rollup, one report at a time.
async fn refill(tx: &mut Tx<'_>, condition: &str, param: i64) -> Result<(), StoreError> {
    type ReportTuple = (i64, i64, String, String, i64, i64, String);
    let reports: Vec<ReportTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.id, r.tenant_id, r.domain, r.reporter, r.begin_at, r.end_at, r.meta FROM reports r
         WHERE r.kind = 'aggregate' AND {condition} ORDER BY r.id"
    )))
    .bind(param)
    .fetch_all(&mut **tx)
    .await?;
    for (id, tenant, domain, reporter, begin, end, meta) in reports {
        let meta = serde_json::from_str(&meta)?;
        let mut sums = Sums::new(Period::stored(tenant, (domain, reporter), (begin, end), &meta));
        let rows: Vec<(String, i64, String, Option<String>, String)> = sqlx::query_as(
            "SELECT source_ip, count, header_from, envelope_from, auth FROM report_records WHERE report_id = $1",
        )
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
        for (ip, count, header_from, envelope_from, auth) in &rows {
            sums.add(ip, header_from, envelope_from.as_deref(), auth, *count);
            if sums.full() {
                sums.flush(tx).await?;
            }
        }
        sums.flush(tx).await?;
    }
    Ok(())
}

/// The WHERE of a rollup read: `$1` tenant (-1: any), `$2` domain ('': any), `$3` first day.
fn scope_where(scope: &AggregateScope<'_>) -> String {
    let tenant = if scope.tenant.is_some() {
        "tenant_id = $1"
    } else {
        "$1 < 0"
    };
    let domain = if scope.domain.is_empty() {
        "$2 = ''"
    } else {
        "domain = $2"
    };
    format!("{tenant} AND {domain} AND day >= $3")
}

/// The inventory's sums for `scope` from the rollup ([`covers`] its
/// `since`), with `reports` (the reports of the scope, read by the caller).
pub(crate) async fn summary(
    store: &Store,
    scope: AggregateScope<'_>,
    reports: Vec<crate::reports_query::ReportPolicy>,
) -> Result<AggregateSummary, StoreError> {
    let filter = scope_where(&scope);
    let tenant = scope.tenant.unwrap_or(-1);
    let domain = scope.domain.to_ascii_lowercase();
    let first_day = scope.since.map_or(i64::MIN, day_of);
    type ShapeTuple = (String, String, String, String, String, String, i64);
    let shapes: Vec<ShapeTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT source_ip, header_from, envelope_from, adkim, aspf, auth, CAST(SUM(messages) AS BIGINT)
         FROM report_rollup WHERE {filter}
         GROUP BY source_ip, header_from, envelope_from, adkim, aspf, auth"
    )))
    .bind(tenant)
    .bind(&domain)
    .bind(first_day)
    .fetch_all(store.pool())
    .await?;
    let seen: Vec<(String, String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT source_ip, reporter, MIN(first_begin), MAX(last_end) FROM report_rollup_sources
         WHERE {filter} GROUP BY source_ip, reporter"
    )))
    .bind(tenant)
    .bind(&domain)
    .bind(first_day)
    .fetch_all(store.pool())
    .await?;
    let per_period: Vec<(i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT begin_day, source_ip, CAST(SUM(messages) AS BIGINT) FROM report_rollup_sources
         WHERE {filter} GROUP BY begin_day, source_ip"
    )))
    .bind(tenant)
    .bind(&domain)
    .bind(first_day)
    .fetch_all(store.pool())
    .await?;
    Ok(AggregateSummary {
        reports,
        groups: groups(shapes, seen)?,
        per_period: per_period
            .into_iter()
            .map(|(day, source_ip, count)| PeriodCount {
                begin: day.saturating_mul(DAY),
                source_ip,
                count,
            })
            .collect(),
    })
}

/// The groups of [`AggregateSummary`] from the rollup: each summed shape
/// (with one of its source's reporters and periods), and for every source
/// and reporter a group of no messages carrying that reporter and its
/// first and last period (see [`AggregateSummary::groups`]).
fn groups(
    shapes: Vec<(String, String, String, String, String, String, i64)>,
    seen: Vec<(String, String, i64, i64)>,
) -> Result<Vec<RecordGroup>, StoreError> {
    let mut first_seen: BTreeMap<&str, (&str, i64, i64)> = BTreeMap::new();
    for (ip, reporter, begin, end) in &seen {
        first_seen.entry(ip).or_insert((reporter, *begin, *end));
    }
    let none = |s: String| (!s.is_empty()).then_some(s);
    let mut out = Vec::with_capacity(shapes.len() + seen.len());
    for (ip, header_from, envelope_from, adkim, aspf, auth, count) in shapes {
        let (reporter, begin, end) = first_seen.get(ip.as_str()).copied().ok_or_else(|| {
            StoreError::NotFound(format!("report_rollup has {ip} but report_rollup_sources does not"))
        })?;
        let auth: crate::reports_query::Auth = serde_json::from_str(&auth)?;
        out.push(RecordGroup {
            reporter: reporter.to_string(),
            adkim: none(adkim),
            aspf: none(aspf),
            begin,
            end,
            record: StoredRecord {
                count,
                envelope_from: none(envelope_from),
                dkim: auth.dkim,
                spf: auth.spf,
                reasons: auth.reasons,
                ..StoredRecord::bare(ip, header_from)
            },
        });
    }
    for (ip, reporter, begin, end) in seen {
        out.push(RecordGroup {
            reporter,
            adkim: None,
            aspf: None,
            begin,
            end,
            record: StoredRecord::bare(ip, String::new()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_floored_and_only_midnights_are_covered() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(DAY - 1), 0);
        assert_eq!(day_of(-1), -1);
        assert!(covers(None));
        assert!(covers(Some(20_000 * DAY)));
        assert!(covers(Some(-DAY)));
        assert!(!covers(Some(20_000 * DAY + 3_600)));
    }

    #[test]
    fn shapes_differ_when_any_field_moves_between_fields() {
        assert_ne!(shape("ab", "", "", "", "{}"), shape("a", "b", "", "", "{}"));
        assert_ne!(shape("a", "", "r", "", "{}"), shape("a", "", "", "r", "{}"));
        assert_eq!(shape("a", "b", "s", "r", "{}").len(), 32);
    }
}

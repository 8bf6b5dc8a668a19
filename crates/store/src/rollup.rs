//! The sums the sender inventory reads, kept at import (issues 14 and 16),
//! so the senders page sums a few narrow rows a day instead of every stored
//! report row and its JSON:
//! - `report_rollup`: messages, first period start and last period end per
//!   tenant, policy domain, day of the period's end, day of its start,
//!   source address and *shape*;
//! - `report_rollup_shapes`: what a shape is (header_from, envelope_from,
//!   the published adkim/aspf the reporter saw, the reported results as
//!   stored in `report_records.auth`), once per tenant and domain, with the
//!   last day it was used;
//! - `report_rollup_reporters`: per source address and reporter, the end of
//!   the last period it reported.
//!
//! `Sums` writes them in the report's own transaction, so a duplicate
//! (never written) adds nothing and a crash before the commit leaves no sum
//! behind; `summary` reads them back as the [`AggregateSummary`] the
//! row-by-row query gives. Days are UTC days of the period's end: `since` at
//! a midnight (a date, as the pages and `--since DATE` give it) filters
//! exactly as `end_at >= since` does on the reports; any other `since`
//! reads the rows (`covers`).

use std::collections::{BTreeMap, HashMap};

use mailwarden_ingest::aggregate::PolicyPublished;
use mailwarden_ingest::report::Identity;
use sha2::{Digest, Sha256};

use crate::reports_query::{AggregateScope, AggregateSummary, PeriodCount, RecordGroup, ReportPolicy, StoredRecord};
use crate::{Backend, Store, StoreError, Tx};

/// Seconds in a day.
const DAY: i64 = 86_400;

/// Rows summed in memory before they are written: one multi-row upsert of
/// at most this many (9 parameters each, far below the bind limits).
const BATCH: usize = 500;

/// The UTC day (since the epoch) of an epoch second, floored.
pub(crate) fn day_of(t: i64) -> i64 {
    t.div_euclid(DAY)
}

/// Whether the rollup answers for `since`: no limit, or a midnight (UTC).
pub(crate) fn covers(since: Option<i64>) -> bool {
    since.is_none_or(|s| s.rem_euclid(DAY) == 0)
}

/// What a report shares with all its rows in the rollup.
#[derive(Debug, Clone)]
pub(crate) struct Period {
    pub(crate) tenant: i64,
    pub(crate) domain: String,
    pub(crate) reporter: String,
    pub(crate) begin: i64,
    pub(crate) end: i64,
    /// The published `adkim`/`aspf` the reporter saw; '' when absent.
    pub(crate) adkim: String,
    pub(crate) aspf: String,
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

/// What the inventory groups by besides the source and the period's
/// policy: header_from, envelope_from ('' when absent), the stored `auth`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Shape {
    header_from: String,
    envelope_from: String,
    auth: String,
}

/// The sums of one report's rows not yet written (at most [`BATCH`]
/// rows): the writer adds every row and flushes into its transaction.
#[derive(Debug)]
pub(crate) struct Sums {
    period: Period,
    /// The shapes of the rows summed, in order; `rows` point into it.
    shapes: Vec<Shape>,
    shape_index: HashMap<Shape, u32>,
    rows: HashMap<(String, u32), i64>,
}

impl Sums {
    pub(crate) fn new(period: Period) -> Sums {
        Sums {
            period,
            shapes: Vec::new(),
            shape_index: HashMap::new(),
            rows: HashMap::new(),
        }
    }

    /// Add one stored row (`auth` exactly as written to `report_records`).
    pub(crate) fn add(&mut self, ip: &str, header_from: &str, envelope_from: Option<&str>, auth: &str, count: i64) {
        let shape = Shape {
            header_from: header_from.to_string(),
            envelope_from: envelope_from.unwrap_or_default().to_string(),
            auth: auth.to_string(),
        };
        let index = match self.shape_index.get(&shape) {
            Some(&i) => i,
            None => {
                let i = u32::try_from(self.shapes.len()).unwrap_or(u32::MAX);
                self.shapes.push(shape.clone());
                self.shape_index.insert(shape, i);
                i
            }
        };
        let n = self.rows.entry((ip.to_string(), index)).or_default();
        *n = n.saturating_add(count);
    }

    /// Whether enough is summed to be written.
    pub(crate) fn full(&self) -> bool {
        self.rows.len() >= BATCH
    }

    /// Distinct (source, shape) sums held.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The shapes' keys, in the order of `shapes`.
    fn digests(&self) -> Vec<String> {
        let p = &self.period;
        self.shapes
            .iter()
            .map(|s| digest(&s.header_from, &s.envelope_from, &p.adkim, &p.aspf, &s.auth))
            .collect()
    }

    /// The sums as columns for a set-wise write (PostgreSQL's arrays, in
    /// `reports_copy`), forgotten here; `None` when nothing is summed.
    pub(crate) fn take_columns(&mut self) -> Option<Columns> {
        if self.rows.is_empty() {
            return None;
        }
        let digests = self.digests();
        let mut c = Columns {
            period: self.period.clone(),
            shapes: digests.clone(),
            header_from: Vec::with_capacity(self.shapes.len()),
            envelope_from: Vec::with_capacity(self.shapes.len()),
            auth: Vec::with_capacity(self.shapes.len()),
            row_ips: Vec::with_capacity(self.rows.len()),
            row_shapes: Vec::with_capacity(self.rows.len()),
            row_messages: Vec::with_capacity(self.rows.len()),
            ips: Vec::new(),
        };
        self.shape_index.clear();
        for s in self.shapes.drain(..) {
            c.header_from.push(s.header_from);
            c.envelope_from.push(s.envelope_from);
            c.auth.push(s.auth);
        }
        // In key order: the upsert then walks the rollup's B-tree in order,
        // and concurrent importers lock shared keys in one order.
        let mut rows: Vec<(String, &str, i64)> = self
            .rows
            .drain()
            .map(|((ip, i), n)| (ip, digests[i as usize].as_str(), n))
            .collect();
        rows.sort_unstable();
        for (ip, shape, n) in rows {
            c.row_ips.push(ip);
            c.row_shapes.push(shape.to_string());
            c.row_messages.push(n);
        }
        c.ips = c.row_ips.clone();
        c.ips.sort_unstable();
        c.ips.dedup();
        Some(c)
    }

    /// Write the sums into the transaction (adding to what is stored) and forget them.
    pub(crate) async fn flush(&mut self, tx: &mut Tx<'_>) -> Result<(), StoreError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let backend = crate::backend_of(tx);
        let p = &self.period;
        let digests = self.digests();
        for (chunk, first) in self.shapes.chunks(BATCH).zip((0..).step_by(BATCH)) {
            upsert_shapes(tx, backend, p, chunk, &digests[first..first + chunk.len()]).await?;
        }
        let rows: Vec<(&str, &str, i64)> = self
            .rows
            .iter()
            .map(|((ip, i), n)| (ip.as_str(), digests[*i as usize].as_str(), *n))
            .collect();
        for chunk in rows.chunks(BATCH) {
            upsert_rows(tx, backend, p, chunk).await?;
        }
        let mut ips: Vec<&str> = self.rows.keys().map(|(ip, _)| ip.as_str()).collect();
        ips.sort_unstable();
        ips.dedup();
        for chunk in ips.chunks(BATCH) {
            upsert_reporters(tx, backend, p, chunk).await?;
        }
        self.rows.clear();
        self.shapes.clear();
        self.shape_index.clear();
        Ok(())
    }
}

/// [`Sums`] taken out as columns: each shape's key and fields (one
/// entry per distinct shape), each (source, shape) sum, each source once.
pub(crate) struct Columns {
    pub(crate) period: Period,
    pub(crate) shapes: Vec<String>,
    pub(crate) header_from: Vec<String>,
    pub(crate) envelope_from: Vec<String>,
    pub(crate) auth: Vec<String>,
    pub(crate) row_ips: Vec<String>,
    pub(crate) row_shapes: Vec<String>,
    pub(crate) row_messages: Vec<i64>,
    pub(crate) ips: Vec<String>,
}

/// `LEAST` and `GREATEST` of two values, as each backend spells them.
/// `SUM(expr)` as a BIGINT that stops at the largest one instead of
/// failing: a report's counts are saturated at 2^63-1 when stored, and
/// summing such sums failed the senders' page on both backends ("integer
/// overflow" on SQLite, "bigint out of range" on PostgreSQL). SQLite's
/// TOTAL is a float: exact up to 2^53 messages, which no real sum reaches.
pub(crate) fn capped_sum_sql(backend: Backend, expr: &str) -> String {
    match backend {
        Backend::Sqlite => format!("CAST(MIN(TOTAL({expr}), 9223372036854775807.0) AS INTEGER)"),
        Backend::Postgres => format!("CAST(LEAST(SUM({expr}), 9223372036854775807) AS BIGINT)"),
    }
}

fn least_greatest(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        Backend::Sqlite => ("MIN", "MAX"),
        Backend::Postgres => ("LEAST", "GREATEST"),
    }
}

async fn upsert_shapes(
    tx: &mut Tx<'_>,
    backend: Backend,
    p: &Period,
    shapes: &[Shape],
    digests: &[String],
) -> Result<(), StoreError> {
    let (_, greatest) = least_greatest(backend);
    let sql = format!(
        "INSERT INTO report_rollup_shapes (tenant_id, domain, shape, header_from, envelope_from, adkim, aspf, auth,
                                           last_day)
         VALUES {} ON CONFLICT (tenant_id, domain, shape)
         DO UPDATE SET last_day = {greatest}(report_rollup_shapes.last_day, excluded.last_day)",
        crate::reports::placeholders(backend, shapes.len(), 9),
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (s, digest) in shapes.iter().zip(digests) {
        query = query
            .bind(p.tenant)
            .bind(p.domain.clone())
            .bind(digest.clone())
            .bind(s.header_from.clone())
            .bind(s.envelope_from.clone())
            .bind(p.adkim.clone())
            .bind(p.aspf.clone())
            .bind(s.auth.clone())
            .bind(day_of(p.end));
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

async fn upsert_rows(
    tx: &mut Tx<'_>,
    backend: Backend,
    p: &Period,
    rows: &[(&str, &str, i64)],
) -> Result<(), StoreError> {
    let (least, greatest) = least_greatest(backend);
    let sql = format!(
        "INSERT INTO report_rollup (tenant_id, domain, day, begin_day, source_ip, shape, messages, first_begin,
                                    last_end)
         VALUES {} ON CONFLICT (tenant_id, domain, source_ip, shape, day, begin_day)
         DO UPDATE SET messages = {},
             first_begin = {least}(report_rollup.first_begin, excluded.first_begin),
             last_end = {greatest}(report_rollup.last_end, excluded.last_end)",
        crate::reports::placeholders(backend, rows.len(), 9),
        saturating_sum("report_rollup.messages", "excluded.messages"),
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (ip, shape, n) in rows {
        query = query
            .bind(p.tenant)
            .bind(p.domain.clone())
            .bind(day_of(p.end))
            .bind(day_of(p.begin))
            .bind(ip.to_string())
            .bind(shape.to_string())
            .bind(*n)
            .bind(p.begin)
            .bind(p.end);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

async fn upsert_reporters(tx: &mut Tx<'_>, backend: Backend, p: &Period, ips: &[&str]) -> Result<(), StoreError> {
    let (_, greatest) = least_greatest(backend);
    let sql = format!(
        "INSERT INTO report_rollup_reporters (tenant_id, domain, source_ip, reporter, last_end)
         VALUES {} ON CONFLICT (tenant_id, domain, source_ip, reporter)
         DO UPDATE SET last_end = {greatest}(report_rollup_reporters.last_end, excluded.last_end)",
        crate::reports::placeholders(backend, ips.len(), 5),
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for ip in ips {
        query = query
            .bind(p.tenant)
            .bind(p.domain.clone())
            .bind(ip.to_string())
            .bind(p.reporter.clone())
            .bind(p.end);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// `a + b` for counts (never negative), saturated at i64::MAX as the
/// import saturates a count: SQLite would turn an overflow into a float,
/// PostgreSQL would fail the import.
pub(crate) fn saturating_sum(a: &str, b: &str) -> String {
    format!("CASE WHEN {a} > 9223372036854775807 - {b} THEN 9223372036854775807 ELSE {a} + {b} END")
}

/// A shape's key: 128 bits of SHA-256 over its fields, each
/// length-prefixed (no two field lists share a digest input).
fn digest(header_from: &str, envelope_from: &str, adkim: &str, aspf: &str, auth: &str) -> String {
    let mut h = Sha256::new();
    for field in [header_from, envelope_from, adkim, aspf, auth] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    crate::fingerprint::hex(&h.finalize()[..16])
}

/// The rollup tables.
const TABLES: [&str; 3] = ["report_rollup", "report_rollup_shapes", "report_rollup_reporters"];

/// After deleting the reports whose period ended before `cut` (retention):
/// every sum of a day up to `cut`'s is summed again from the reports still
/// stored there (the day of the cut keeps its later reports; a report
/// retention leaves, e.g. a period ending at or before 1970, is kept).
pub(crate) async fn forget_before(tx: &mut Tx<'_>, cut: i64) -> Result<(), StoreError> {
    let last_day = day_of(cut);
    let next_midnight = (last_day + 1).saturating_mul(DAY);
    for (table, condition, value) in [
        ("report_rollup", "day <= $1", last_day),
        ("report_rollup_shapes", "last_day <= $1", last_day),
        ("report_rollup_reporters", "last_end < $1", next_midnight),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE {condition}")))
            .bind(value)
            .execute(&mut **tx)
            .await?;
    }
    refill(tx, "r.end_at < $1", next_midnight).await
}

/// Erasure: the domain's sums, every tenant's (as the reports are erased).
pub(crate) async fn erase(tx: &mut Tx<'_>, domain: &str) -> Result<(), StoreError> {
    for table in TABLES {
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
    for table in TABLES {
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

/// The WHERE of a rollup read: `$1` tenant (-1: any), `$2` domain ('':
/// any), then `extra` (on `$3`).
fn scope_where(scope: &AggregateScope<'_>, extra: &str) -> String {
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
    format!("{tenant} AND {domain} AND {extra}")
}

/// A shape as read back: header_from, envelope_from, adkim, aspf, auth.
type ShapeColumns = (String, String, String, String, String);

/// The inventory's sums for `scope` from the rollup ([`covers`] its
/// `since`), with `reports` (the reports of the scope, read by the caller).
pub(crate) async fn summary(
    store: &Store,
    scope: AggregateScope<'_>,
    reports: Vec<ReportPolicy>,
) -> Result<AggregateSummary, StoreError> {
    let tenant = scope.tenant.unwrap_or(-1);
    let domain = scope.domain.to_ascii_lowercase();
    let first_day = scope.since.map_or(i64::MIN, day_of);
    let in_range = scope_where(&scope, "day >= $3");
    let sum = capped_sum_sql(store.backend(), "messages");
    let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT source_ip, shape, {sum}, MIN(first_begin), MAX(last_end)
         FROM report_rollup WHERE {in_range} GROUP BY source_ip, shape"
    )))
    .bind(tenant)
    .bind(&domain)
    .bind(first_day)
    .fetch_all(store.pool())
    .await?;
    let shapes: Vec<(String, String, String, String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT shape, header_from, envelope_from, adkim, aspf, auth FROM report_rollup_shapes WHERE {}",
        scope_where(&scope, "last_day >= $3")
    )))
    .bind(tenant)
    .bind(&domain)
    .bind(first_day)
    .fetch_all(store.pool())
    .await?;
    let reporters: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT source_ip, reporter FROM report_rollup_reporters WHERE {}",
        scope_where(&scope, "last_end >= $3")
    )))
    .bind(tenant)
    .bind(&domain)
    .bind(scope.since.unwrap_or(i64::MIN))
    .fetch_all(store.pool())
    .await?;
    let per_period: Vec<(i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT begin_day, source_ip, {sum} FROM report_rollup
         WHERE {in_range} GROUP BY begin_day, source_ip"
    )))
    .bind(tenant)
    .bind(&domain)
    .bind(first_day)
    .fetch_all(store.pool())
    .await?;
    let shapes: HashMap<String, ShapeColumns> = shapes
        .into_iter()
        .map(|(shape, hf, ef, adkim, aspf, auth)| (shape, (hf, ef, adkim, aspf, auth)))
        .collect();
    Ok(AggregateSummary {
        reports,
        groups: groups(rows, &shapes, reporters)?,
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

/// The groups of [`AggregateSummary`] from the rollup: each (source,
/// shape) summed, with one of its source's reporters; and for every
/// source and reporter a group of no messages carrying that reporter (see
/// [`AggregateSummary::groups`]) over the source's first and last period.
fn groups(
    rows: Vec<(String, String, i64, i64, i64)>,
    shapes: &HashMap<String, ShapeColumns>,
    reporters: Vec<(String, String)>,
) -> Result<Vec<RecordGroup>, StoreError> {
    let mut reporter_of: BTreeMap<&str, &str> = BTreeMap::new();
    for (ip, reporter) in &reporters {
        reporter_of.entry(ip).or_insert(reporter);
    }
    let missing = |what: &str| StoreError::NotFound(format!("the report rollup lacks {what}"));
    let none = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let mut seen: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut out = Vec::with_capacity(rows.len() + reporters.len());
    for (ip, shape, count, begin, end) in rows {
        let (hf, ef, adkim, aspf, auth) = shapes.get(&shape).ok_or_else(|| missing(&format!("shape {shape}")))?;
        let reporter = reporter_of
            .get(ip.as_str())
            .ok_or_else(|| missing(&format!("the reporters of {ip}")))?;
        let span = seen.entry(ip.clone()).or_insert((begin, end));
        *span = (span.0.min(begin), span.1.max(end));
        let auth: crate::reports_query::Auth = serde_json::from_str(auth)?;
        out.push(RecordGroup {
            reporter: reporter.to_string(),
            adkim: none(adkim),
            aspf: none(aspf),
            begin,
            end,
            record: StoredRecord {
                count,
                envelope_from: none(ef),
                dkim: auth.dkim,
                spf: auth.spf,
                reasons: auth.reasons,
                ..StoredRecord::bare(ip, hf.clone())
            },
        });
    }
    for (ip, reporter) in reporters {
        let &(begin, end) = seen.get(&ip).ok_or_else(|| missing(&format!("the rows of {ip}")))?;
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
    fn digests_differ_when_any_field_moves_between_fields() {
        assert_ne!(digest("ab", "", "", "", "{}"), digest("a", "b", "", "", "{}"));
        assert_ne!(digest("a", "", "r", "", "{}"), digest("a", "", "", "r", "{}"));
        assert_eq!(digest("a", "b", "s", "r", "{}").len(), 32);
    }

    #[test]
    fn rows_of_one_shape_and_source_are_summed_in_memory_before_they_are_written() {
        let identity = Identity {
            kind: mailwarden_ingest::report::Kind::Aggregate,
            reporter: "r".into(),
            report_id: "1".into(),
            domain: "example.com".into(),
            begin: 0,
            end: DAY - 1,
        };
        let mut sums = Sums::new(Period::of(1, &identity, &serde_json::json!({})));
        sums.add("192.0.2.1", "example.com", None, "{}", 2);
        sums.add("192.0.2.1", "example.com", None, "{}", 3);
        sums.add("192.0.2.1", "example.com", Some("b.example.com"), "{}", 1);
        sums.add("192.0.2.2", "example.com", None, "{}", i64::MAX);
        sums.add("192.0.2.2", "example.com", None, "{}", 1);
        assert_eq!(sums.shapes.len(), 2);
        assert_eq!(sums.rows[&("192.0.2.1".to_string(), 0)], 5);
        assert_eq!(sums.rows[&("192.0.2.2".to_string(), 0)], i64::MAX);
    }
}

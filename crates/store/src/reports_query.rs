//! Reading imported reports back: the list (`reports list`), one report
//! (`reports show`), an aggregate report's rows per domain (the sender
//! inventory), TLS policies per domain (`reports tls`), and the DKIM
//! selectors receivers saw ([`selectors_seen`], for the DKIM checks of
//! later scans).

use mailwarden_ingest::aggregate::{DkimResult, OverrideReason, PolicyPublished, SpfResult};
use mailwarden_ingest::tlsrpt::FailureDetail;
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// One stored report, without its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    /// The short id (16 hex digits of the identity), as `reports show` takes.
    pub id: String,
    pub kind: String,
    pub reporter: String,
    pub report_id: String,
    pub domain: String,
    /// The reported period, seconds since the epoch (0 for failure reports).
    pub begin: i64,
    pub end: i64,
    pub records: i64,
    pub imported_at: String,
    /// What looked odd at import (same report id, other range).
    pub flags: Vec<String>,
    /// The database row id (internal; not printed).
    #[serde(skip)]
    pub row_id: i64,
}

pub(crate) type RowTuple = (
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    String,
);

pub(crate) const ROW_COLUMNS: &str =
    "id, short_id, kind, reporter, report_id, domain, begin_at, end_at, records, imported_at, flags";

impl ReportRow {
    pub(crate) fn from_tuple(t: RowTuple) -> Result<ReportRow, StoreError> {
        let (row_id, id, kind, reporter, report_id, domain, begin, end, records, imported_at, flags) = t;
        Ok(ReportRow {
            id,
            kind,
            reporter,
            report_id,
            domain,
            begin,
            end,
            records,
            imported_at,
            flags: serde_json::from_str(&flags)?,
            row_id,
        })
    }
}

/// Which reports to list.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    pub domain: Option<&'a str>,
    pub kind: Option<&'a str>,
    /// Reports whose period ends at or after this epoch second.
    pub since: Option<i64>,
}

/// The stored reports matching `filter`, oldest period first.
pub async fn list(store: &Store, filter: &Filter<'_>) -> Result<Vec<ReportRow>, StoreError> {
    let rows: Vec<RowTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROW_COLUMNS} FROM reports
         WHERE ($1 = '' OR domain = $1) AND ($2 = '' OR kind = $2) AND end_at >= $3
         ORDER BY begin_at, id"
    )))
    .bind(filter.domain.unwrap_or_default().to_ascii_lowercase())
    .bind(filter.kind.unwrap_or_default())
    .bind(filter.since.unwrap_or(i64::MIN))
    .fetch_all(store.pool())
    .await?;
    rows.into_iter().map(ReportRow::from_tuple).collect()
}

/// One aggregate row as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRecord {
    pub source_ip: String,
    pub count: i64,
    pub disposition: String,
    /// `policy_evaluated` as the reporter said.
    pub dkim_eval: Option<String>,
    pub spf_eval: Option<String>,
    pub header_from: String,
    pub envelope_from: Option<String>,
    pub envelope_to: Option<String>,
    pub dkim: Vec<DkimResult>,
    pub spf: Vec<SpfResult>,
    pub reasons: Vec<OverrideReason>,
}

#[derive(Deserialize)]
pub(crate) struct Auth {
    pub(crate) dkim: Vec<DkimResult>,
    pub(crate) spf: Vec<SpfResult>,
    pub(crate) reasons: Vec<OverrideReason>,
}

impl StoredRecord {
    /// A row of `source_ip` and `header_from` with nothing else: no
    /// messages, no other identifier, no result.
    pub(crate) fn bare(source_ip: String, header_from: String) -> StoredRecord {
        StoredRecord {
            source_ip,
            count: 0,
            disposition: String::new(),
            dkim_eval: None,
            spf_eval: None,
            header_from,
            envelope_from: None,
            envelope_to: None,
            dkim: Vec::new(),
            spf: Vec::new(),
            reasons: Vec::new(),
        }
    }
}

type RecordTuple = (
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
);

/// One TLS-RPT policy as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredTlsPolicy {
    pub policy_type: String,
    pub policy_domain: Option<String>,
    pub mx_hosts: Vec<String>,
    pub successful: i64,
    pub failed: i64,
    pub policy_strings: Vec<String>,
    pub failures: Vec<FailureDetail>,
}

#[derive(Deserialize)]
struct TlsDetail {
    policy_strings: Vec<String>,
    failures: Vec<FailureDetail>,
}

/// A report with everything stored about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportDetail {
    #[serde(flatten)]
    pub row: ReportRow,
    /// The report's header (aggregate: policy_published, contact...;
    /// failure: the redacted feedback fields), and its import warnings.
    pub meta: serde_json::Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<StoredRecord>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<StoredTlsPolicy>,
}

/// The report with short id `id`, if stored.
pub async fn show(store: &Store, id: &str) -> Result<Option<ReportDetail>, StoreError> {
    let row: Option<RowTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROW_COLUMNS} FROM reports WHERE short_id = $1"
    )))
    .bind(id.trim().to_ascii_lowercase())
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row.map(ReportRow::from_tuple).transpose()? else {
        return Ok(None);
    };
    let meta: String = sqlx::query_scalar("SELECT meta FROM reports WHERE id = $1")
        .bind(row.row_id)
        .fetch_one(store.pool())
        .await?;
    let rows = records_of(store, &row).await?;
    let policies = tls_of(store, row.row_id).await?;
    Ok(Some(ReportDetail {
        meta: serde_json::from_str(&meta)?,
        row,
        rows,
        policies,
    }))
}

/// The rows of one aggregate report.
pub async fn records_of(store: &Store, report: &ReportRow) -> Result<Vec<StoredRecord>, StoreError> {
    let rows: Vec<RecordTuple> = sqlx::query_as(
        "SELECT source_ip, count, disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, auth
         FROM report_records WHERE report_id = $1",
    )
    .bind(report.row_id)
    .fetch_all(store.pool())
    .await?;
    rows.into_iter()
        .map(
            |(source_ip, count, disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, auth)| {
                let auth: Auth = serde_json::from_str(&auth)?;
                Ok(StoredRecord {
                    source_ip,
                    count,
                    disposition,
                    dkim_eval,
                    spf_eval,
                    header_from,
                    envelope_from,
                    envelope_to,
                    dkim: auth.dkim,
                    spf: auth.spf,
                    reasons: auth.reasons,
                })
            },
        )
        .collect()
}

pub(crate) async fn tls_of(store: &Store, row_id: i64) -> Result<Vec<StoredTlsPolicy>, StoreError> {
    let rows: Vec<(String, Option<String>, String, i64, i64, String)> = sqlx::query_as(
        "SELECT policy_type, policy_domain, mx_hosts, successful, failed, detail FROM report_tls WHERE report_id = $1",
    )
    .bind(row_id)
    .fetch_all(store.pool())
    .await?;
    rows.into_iter()
        .map(|(policy_type, policy_domain, mx_hosts, successful, failed, detail)| {
            let detail: TlsDetail = serde_json::from_str(&detail)?;
            Ok(StoredTlsPolicy {
                policy_type,
                policy_domain,
                mx_hosts: serde_json::from_str(&mx_hosts)?,
                successful,
                failed,
                policy_strings: detail.policy_strings,
                failures: detail.failures,
            })
        })
        .collect()
}

/// The policy a report says the receiver saw (aggregate reports).
pub fn policy_published(detail_meta: &serde_json::Value) -> Option<PolicyPublished> {
    serde_json::from_value(detail_meta.get("policy_published")?.clone()).ok()
}

/// Every aggregate report of `domain` whose period ends at or after
/// `since`, one report at a time with its published policy and rows, so a
/// caller aggregating them holds one report's rows at most.
pub async fn for_each_aggregate(
    store: &Store,
    domain: &str,
    since: Option<i64>,
    each: impl FnMut(&ReportRow, Option<&PolicyPublished>, Vec<StoredRecord>),
) -> Result<usize, StoreError> {
    let filter = Filter {
        domain: Some(domain),
        kind: Some("aggregate"),
        since,
    };
    let reports = list(store, &filter).await?;
    walk_aggregates(store, &reports, each).await?;
    Ok(reports.len())
}

/// Hand each of `reports` (aggregate) to `each` with its published
/// policy and rows, one report at a time.
pub(crate) async fn walk_aggregates(
    store: &Store,
    reports: &[ReportRow],
    mut each: impl FnMut(&ReportRow, Option<&PolicyPublished>, Vec<StoredRecord>),
) -> Result<(), StoreError> {
    for report in reports {
        let meta: String = sqlx::query_scalar("SELECT meta FROM reports WHERE id = $1")
            .bind(report.row_id)
            .fetch_one(store.pool())
            .await?;
        let policy = policy_published(&serde_json::from_str(&meta)?);
        let rows = records_of(store, report).await?;
        each(report, policy.as_ref(), rows);
    }
    Ok(())
}

/// The TLS policies reported for `domain` (its `policy-domain`), with the
/// report each came in.
pub async fn tls_policies(
    store: &Store,
    domain: &str,
    since: Option<i64>,
) -> Result<Vec<(ReportRow, StoredTlsPolicy)>, StoreError> {
    let filter = Filter {
        domain: Some(domain),
        kind: Some("tlsrpt"),
        since,
    };
    let mut out = Vec::new();
    for report in list(store, &filter).await? {
        for policy in tls_of(store, report.row_id).await? {
            out.push((report.clone(), policy));
        }
    }
    Ok(out)
}

/// A DKIM selector that receivers reported for a signing domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelectorSeen {
    /// The DKIM `d=` domain.
    pub domain: String,
    pub selector: String,
    /// Messages signed with it, and how many of them passed.
    pub messages: i64,
    pub passed: i64,
    /// The reported periods it appears in, seconds since the epoch.
    pub first_seen: i64,
    pub last_seen: i64,
    pub reports: i64,
}

/// The DKIM selectors aggregate reports showed for signing domain
/// `domain` (`d=`), most used first: the keys actually in use, for the DKIM
/// checks of later scans (key size, revocation, missing key).
pub async fn selectors_seen(store: &Store, domain: &str) -> Result<Vec<SelectorSeen>, StoreError> {
    let (messages, passed) = (
        crate::rollup::capped_sum_sql(store.backend(), "s.messages"),
        crate::rollup::capped_sum_sql(store.backend(), "s.passed"),
    );
    let rows: Vec<(String, String, i64, i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.domain, s.selector, {messages}, {passed},
                MIN(r.begin_at), MAX(r.end_at), COUNT(*)
         FROM report_selectors s JOIN reports r ON r.id = s.report_id
         WHERE s.domain = $1
         GROUP BY s.domain, s.selector
         ORDER BY 3 DESC, s.selector"
    )))
    .bind(domain.trim_end_matches('.').to_ascii_lowercase())
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(domain, selector, messages, passed, first_seen, last_seen, reports)| SelectorSeen {
                domain,
                selector,
                messages,
                passed,
                first_seen,
                last_seen,
                reports,
            },
        )
        .collect())
}

/// Which aggregate reports [`aggregate_summary`] reads: one tenant's or
/// every tenant's (`tenant: None`, the operator's CLI), of `domain` (every
/// domain when empty), whose period ends at or after `since`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AggregateScope<'a> {
    pub tenant: Option<i64>,
    pub domain: &'a str,
    pub since: Option<i64>,
}

/// The reports' filter, `r` being `reports`; binds $1 tenant (-1: any),
/// $2 domain ('' any), $3 since.
const AGGREGATE_WHERE: &str = "($1 < 0 OR r.tenant_id = $1) AND ($2 = '' OR r.domain = $2)
    AND r.kind = 'aggregate' AND r.end_at >= $3";

/// One aggregate report's period and the policy its reporter saw.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportPolicy {
    pub reporter: String,
    pub begin: i64,
    pub end: i64,
    pub policy: Option<PolicyPublished>,
}

/// Stored rows that are the same for the inventory (reporter, published
/// alignment modes, source, identifiers and results), summed: `record.count`
/// is the sum over the group, `begin`/`end` the earliest and latest period.
/// The other fields the inventory does not read (`disposition`, the
/// evaluated results, `envelope_to`) are left empty.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordGroup {
    pub reporter: String,
    /// The published `adkim` / `aspf` the reporter saw (`None`: relaxed).
    pub adkim: Option<String>,
    pub aspf: Option<String>,
    pub begin: i64,
    pub end: i64,
    pub record: StoredRecord,
}

/// Messages from one source address in the reports whose period starts
/// on the UTC day starting at `begin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodCount {
    pub begin: i64,
    pub source_ip: String,
    pub count: i64,
}

/// The aggregate reports of a domain as the sender inventory reads them,
/// summed by the database (from the sums kept at import,
/// [`crate::rollup`], when `since` is a midnight or absent): 10^6 stored
/// rows come back as a few thousand groups, so neither every row nor every
/// row's JSON crosses into Rust. Folding the groups gives what folding
/// every row gives; which rows a group sums is not said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AggregateSummary {
    /// Every report, oldest period first.
    pub reports: Vec<ReportPolicy>,
    /// The summed rows. A group of no messages with an empty `header_from`
    /// and no identifiers or results says only that `reporter` reported
    /// the source between `begin` and `end`.
    pub groups: Vec<RecordGroup>,
    pub per_period: Vec<PeriodCount>,
}

/// The policy a report's reporter saw, from `policy_published` of its
/// `meta` as the database extracts it (JSON text), read as
/// [`policy_published`] reads it.
fn policy_of(json: Option<&str>) -> Option<PolicyPublished> {
    serde_json::from_str(json?).ok()
}

/// The SQL expression of `policy_published` in `reports.meta` as JSON text.
fn policy_sql(store: &Store) -> &'static str {
    match store.backend() {
        crate::Backend::Sqlite => "json_extract(r.meta, '$.policy_published')",
        crate::Backend::Postgres => "(r.meta::jsonb -> 'policy_published')::text",
    }
}

/// [`for_each_aggregate`]'s reports summed: the reports with their
/// policy, the rows grouped by what the inventory reads, and the messages
/// per day and source. From the rollup when it [`crate::rollup::covers`]
/// `since`, else from the rows (GROUP BY).
pub(crate) async fn aggregate_summary(
    store: &Store,
    scope: AggregateScope<'_>,
) -> Result<AggregateSummary, StoreError> {
    let policy = policy_sql(store);
    let tenant = scope.tenant.unwrap_or(-1);
    let domain = scope.domain.to_ascii_lowercase();
    let since = scope.since.unwrap_or(i64::MIN);
    let reports: Vec<(String, i64, i64, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.reporter, r.begin_at, r.end_at, {policy} FROM reports r
         WHERE {AGGREGATE_WHERE} ORDER BY r.begin_at, r.id"
    )))
    .bind(tenant)
    .bind(&domain)
    .bind(since)
    .fetch_all(store.pool())
    .await?;
    let reports = reports
        .into_iter()
        .map(|(reporter, begin, end, policy)| ReportPolicy {
            reporter,
            begin,
            end,
            policy: policy_of(policy.as_deref()),
        })
        .collect();
    if crate::rollup::covers(scope.since) {
        return crate::rollup::summary(store, scope, reports).await;
    }
    rows_summary(store, scope, reports).await
}

/// [`aggregate_summary`] from every stored row, for any `since`.
pub(crate) async fn rows_summary(
    store: &Store,
    scope: AggregateScope<'_>,
    reports: Vec<ReportPolicy>,
) -> Result<AggregateSummary, StoreError> {
    let policy = policy_sql(store);
    let sum = crate::rollup::capped_sum_sql(store.backend(), "rr.count");
    let tenant = scope.tenant.unwrap_or(-1);
    let domain = scope.domain.to_ascii_lowercase();
    let since = scope.since.unwrap_or(i64::MIN);
    let groups: Vec<GroupTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        // The policy is extracted once per report (MATERIALIZED), not once per row.
        "WITH rp AS MATERIALIZED (
             SELECT r.id, r.reporter, {policy} AS policy, r.begin_at, r.end_at FROM reports r
             WHERE {AGGREGATE_WHERE})
         SELECT rp.reporter, rp.policy, rr.source_ip, rr.header_from, rr.envelope_from, rr.auth,
                {sum}, MIN(rp.begin_at), MAX(rp.end_at)
         FROM rp JOIN report_records rr ON rr.report_id = rp.id
         GROUP BY rp.reporter, rp.policy, rr.source_ip, rr.header_from, rr.envelope_from, rr.auth"
    )))
    .bind(tenant)
    .bind(&domain)
    .bind(since)
    .fetch_all(store.pool())
    .await?;
    // The day a period starts, floored (periods before 1970 too).
    let per_period: Vec<(i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.begin_at - ((r.begin_at % 86400) + 86400) % 86400, rr.source_ip, {sum}
         FROM reports r JOIN report_records rr ON rr.report_id = r.id
         WHERE {AGGREGATE_WHERE}
         GROUP BY r.begin_at - ((r.begin_at % 86400) + 86400) % 86400, rr.source_ip"
    )))
    .bind(tenant)
    .bind(&domain)
    .bind(since)
    .fetch_all(store.pool())
    .await?;
    Ok(AggregateSummary {
        reports,
        groups: groups
            .into_iter()
            .map(RecordGroup::from_tuple)
            .collect::<Result<_, _>>()?,
        per_period: per_period
            .into_iter()
            .map(|(begin, source_ip, count)| PeriodCount {
                begin,
                source_ip,
                count,
            })
            .collect(),
    })
}

type GroupTuple = (
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    i64,
    i64,
    i64,
);

impl RecordGroup {
    fn from_tuple(t: GroupTuple) -> Result<RecordGroup, StoreError> {
        let (reporter, policy, source_ip, header_from, envelope_from, auth, count, begin, end) = t;
        let auth: Auth = serde_json::from_str(&auth)?;
        let policy = policy_of(policy.as_deref());
        Ok(RecordGroup {
            reporter,
            adkim: policy.as_ref().and_then(|p| p.adkim.clone()),
            aspf: policy.and_then(|p| p.aspf),
            begin,
            end,
            record: StoredRecord {
                source_ip,
                count,
                disposition: String::new(),
                dkim_eval: None,
                spf_eval: None,
                header_from,
                envelope_from,
                envelope_to: None,
                dkim: auth.dkim,
                spf: auth.spf,
                reasons: auth.reasons,
            },
        })
    }
}

/// Every aggregate report of `domain` (all tenants) since `since`, summed
/// for the sender inventory (see [`AggregateSummary`]).
pub async fn aggregate_summary_of(
    store: &Store,
    domain: &str,
    since: Option<i64>,
) -> Result<AggregateSummary, StoreError> {
    aggregate_summary(
        store,
        AggregateScope {
            tenant: None,
            domain,
            since,
        },
    )
    .await
}

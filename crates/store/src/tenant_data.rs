//! The tenant-scoped data layer (issue 16): every read and change the web
//! service makes of tenant data. Tenant-wide reads take a [`TenantScope`]
//! and filter on `tenant_id`; per-domain ones take an [`OwnedDomain`]
//! (checked to be the tenant's) and then use the store's domain modules,
//! whose rows of a domain are all its one tenant's ([`crate::tenant`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::baseline::{self, Baseline};
use crate::snapshot::{self, StoredFinding, verdicts_of};
use crate::tenant::{OwnedDomain, TenantScope};
use crate::timeline::{self, Diff, Step};
use crate::{Store, StoreError};

/// Which rows of a list: `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// One page of a list, with how many rows there are in all.
#[derive(Debug, Clone, Serialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// A domain as the domain list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DomainSummary {
    pub domain: String,
    pub monitored: bool,
    /// The latest snapshot, if the domain was scanned.
    pub snapshot_id: Option<i64>,
    pub score: Option<i64>,
    pub last_scan: Option<String>,
    /// Profile name → verdict of the latest snapshot.
    pub verdicts: Vec<(String, String)>,
    /// Failing findings of the latest snapshot, worst first (at most 3).
    pub worst_findings: Vec<StoredFinding>,
    pub failing: i64,
    pub open_alerts: i64,
}

impl DomainSummary {
    fn empty(domain: String) -> Self {
        Self {
            domain,
            monitored: false,
            snapshot_id: None,
            score: None,
            last_scan: None,
            verdicts: Vec::new(),
            worst_findings: Vec::new(),
            failing: 0,
            open_alerts: 0,
        }
    }
}

#[derive(sqlx::FromRow)]
struct Latest {
    id: i64,
    domain: String,
    last_seen_at: String,
    score: Option<i64>,
    profiles: String,
    /// The packed findings (NULL for snapshots stored before migration
    /// 0600, whose findings are rows of the `findings` table).
    findings: Option<Vec<u8>>,
}

#[derive(sqlx::FromRow)]
struct FailingRow {
    domain: String,
    rule_id: String,
    subject: String,
    outcome: String,
    severity: String,
    message: String,
}

/// Severities, worst first, as SQL (for ordering findings).
const SEVERITY_RANK: &str = "CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 \
                             WHEN 'low' THEN 3 ELSE 4 END";

/// [`SEVERITY_RANK`] for findings read from a packed list.
fn severity_rank(severity: &str) -> u8 {
    match severity {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

/// Failing first, then indeterminate, then the rest.
fn outcome_rank(outcome: &str) -> u8 {
    match outcome {
        "fail" => 0,
        "indeterminate" => 1,
        _ => 2,
    }
}

/// The latest snapshot id of each of tenant `$1`'s domains: one pass over
/// the (tenant_id, domain) index instead of a subquery per row.
/// The id of each of the tenant's domains' latest snapshot. A loose index
/// scan: the next domain name after the last one, then that domain's
/// highest id, each one index lookup, so the cost grows with the domains
/// and not with their history. (`MAX(id) ... GROUP BY domain` read every
/// snapshot's index entry: 46 ms of CPU per query at 1,000 domains with
/// a year of daily history, against 1.6 ms for this, in the `sqlite3` shell.)
const LATEST: &str = "WITH RECURSIVE doms(d) AS (
         SELECT MIN(domain) FROM snapshots WHERE tenant_id = $1
         UNION ALL
         SELECT (SELECT MIN(domain) FROM snapshots WHERE tenant_id = $1 AND domain > doms.d)
         FROM doms WHERE d IS NOT NULL),
     latest AS (SELECT (SELECT MAX(id) FROM snapshots WHERE tenant_id = $1 AND domain = doms.d) AS id
                FROM doms WHERE d IS NOT NULL)";

/// The tenant's domains (monitored or scanned), by name.
pub async fn domains(store: &Store, scope: TenantScope) -> Result<Vec<DomainSummary>, StoreError> {
    let t = scope.id();
    let monitored: Vec<String> = sqlx::query_scalar("SELECT domain FROM monitors WHERE tenant_id = $1")
        .bind(t)
        .fetch_all(store.pool())
        .await?;
    let latest: Vec<Latest> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{LATEST} SELECT s.id, s.domain, s.last_seen_at, s.score, s.profiles, s.findings
         FROM latest JOIN snapshots s ON s.id = latest.id"
    )))
    .bind(t)
    .fetch_all(store.pool())
    .await?;
    // Rows of snapshots stored before migration 0600; the packed lists below.
    let mut failing: Vec<FailingRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{LATEST} SELECT s.domain, f.rule_id, f.subject, f.outcome, f.severity, f.message
         FROM latest JOIN snapshots s ON s.id = latest.id JOIN findings f ON f.snapshot_id = latest.id
         WHERE f.outcome = 'fail'
         ORDER BY s.domain, {SEVERITY_RANK}, f.rule_id, f.subject"
    )))
    .bind(t)
    .fetch_all(store.pool())
    .await?;
    failing.extend(packed_failing(&latest)?);
    failing.sort_by(|a, b| {
        (&a.domain, severity_rank(&a.severity), &a.rule_id, &a.subject).cmp(&(
            &b.domain,
            severity_rank(&b.severity),
            &b.rule_id,
            &b.subject,
        ))
    });
    let alerts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT domain, COUNT(*) FROM alert_outbox WHERE tenant_id = $1 AND state <> 'sent' GROUP BY domain",
    )
    .bind(t)
    .fetch_all(store.pool())
    .await?;
    Ok(assemble(monitored, latest, failing, alerts))
}

/// The failing findings in the latest snapshots' packed lists.
fn packed_failing(latest: &[Latest]) -> Result<Vec<FailingRow>, StoreError> {
    let mut out = Vec::new();
    for l in latest {
        let Some(blob) = &l.findings else { continue };
        let findings =
            crate::findings_pack::unpack(blob).map_err(|e| StoreError::Corrupt(format!("snapshot {}: {e}", l.id)))?;
        out.extend(
            findings
                .into_iter()
                .filter(|f| f.outcome == "fail")
                .map(|f| FailingRow {
                    domain: l.domain.clone(),
                    rule_id: f.rule_id,
                    subject: f.subject,
                    outcome: f.outcome,
                    severity: f.severity,
                    message: f.message,
                }),
        );
    }
    Ok(out)
}

fn assemble(
    monitored: Vec<String>,
    latest: Vec<Latest>,
    failing: Vec<FailingRow>,
    alerts: Vec<(String, i64)>,
) -> Vec<DomainSummary> {
    let mut out: BTreeMap<String, DomainSummary> = BTreeMap::new();
    for d in monitored {
        out.entry(d.clone())
            .or_insert_with(|| DomainSummary::empty(d))
            .monitored = true;
    }
    for l in latest {
        let s = out
            .entry(l.domain.clone())
            .or_insert_with(|| DomainSummary::empty(l.domain));
        s.snapshot_id = Some(l.id);
        s.score = l.score;
        s.last_scan = Some(l.last_seen_at);
        s.verdicts = serde_json::from_str(&l.profiles)
            .map(|v| verdicts_of(&v))
            .unwrap_or_default();
    }
    for f in failing {
        if let Some(s) = out.get_mut(&f.domain) {
            s.failing += 1;
            if s.worst_findings.len() < 3 {
                s.worst_findings.push(StoredFinding {
                    rule_id: f.rule_id,
                    subject: f.subject,
                    outcome: f.outcome,
                    severity: f.severity,
                    message: f.message,
                });
            }
        }
    }
    for (domain, n) in alerts {
        if let Some(s) = out.get_mut(&domain) {
            s.open_alerts = n;
        }
    }
    out.into_values().collect()
}

/// A domain's latest state, as the domain page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DomainDetail {
    pub domain: String,
    pub snapshot_id: i64,
    pub score: Option<i64>,
    pub last_scan: String,
    pub first_seen: String,
    pub seen_count: i64,
    pub verdicts: Vec<(String, String)>,
    pub findings: Vec<StoredFinding>,
}

/// The latest snapshot of the domain, or `None` when it was never scanned.
pub async fn detail(store: &Store, domain: &OwnedDomain) -> Result<Option<DomainDetail>, StoreError> {
    let mut conn = store.pool().acquire().await?;
    let Some(meta) = snapshot::list(&mut conn, domain.name()).await?.pop() else {
        return Ok(None);
    };
    let mut findings = snapshot::findings_of(&mut conn, meta.id).await?;
    findings.sort_by(|a, b| {
        (
            outcome_rank(&a.outcome),
            severity_rank(&a.severity),
            &a.rule_id,
            &a.subject,
        )
            .cmp(&(
                outcome_rank(&b.outcome),
                severity_rank(&b.severity),
                &b.rule_id,
                &b.subject,
            ))
    });
    Ok(Some(DomainDetail {
        domain: domain.name().to_owned(),
        snapshot_id: meta.id,
        score: meta.score,
        last_scan: meta.last_seen_at,
        first_seen: meta.first_seen_at,
        seen_count: meta.seen_count,
        verdicts: serde_json::from_str(&meta.profiles)
            .map(|v| verdicts_of(&v))
            .unwrap_or_default(),
        findings,
    }))
}

/// The domain's timeline, oldest first.
pub async fn history(store: &Store, domain: &OwnedDomain) -> Result<Vec<Step>, StoreError> {
    timeline::read(store, domain.name()).await
}

/// What changed between two of the domain's snapshots (default: the last two).
pub async fn diff(store: &Store, domain: &OwnedDomain, from: Option<i64>, to: Option<i64>) -> Result<Diff, StoreError> {
    timeline::diff(store, domain.name(), from, to).await
}

/// Approve the domain's latest snapshot as its baseline (audit-logged).
pub async fn approve(store: &Store, domain: &OwnedDomain, by: &str, reason: &str) -> Result<Baseline, StoreError> {
    baseline::approve(store, domain.name(), by, reason).await
}

/// The domain's approvals, oldest first.
pub async fn baselines(store: &Store, domain: &OwnedDomain) -> Result<Vec<Baseline>, StoreError> {
    baseline::list(store, domain.name()).await
}

/// An alert as listed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AlertRow {
    pub id: i64,
    pub created_at: String,
    pub domain: String,
    pub trigger: String,
    pub severity: String,
    pub summary: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// The tenant's alerts, newest first.
pub async fn alerts(store: &Store, scope: TenantScope, page: Page) -> Result<Paged<AlertRow>, StoreError> {
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alert_outbox WHERE tenant_id = $1")
        .bind(scope.id())
        .fetch_one(store.pool())
        .await?;
    let items = sqlx::query_as(
        "SELECT id, created_at, domain, \"trigger\", severity, summary, state, attempts, last_error
         FROM alert_outbox WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
    )
    .bind(scope.id())
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(store.pool())
    .await?;
    Ok(Paged {
        items,
        total,
        limit: page.limit,
        offset: page.offset,
    })
}

/// An audit event as listed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub domain: Option<String>,
    pub content: Option<String>,
}

/// Audit events about the tenant's domains, newest first. Events about no
/// domain (retention, key changes) are the operator's: tenant 1's only;
/// but a tenant's alert destination changes (`alert-destination-*`, which
/// name their `tenant_id`) are that tenant's alone.
pub async fn audit_events(store: &Store, scope: TenantScope, page: Page) -> Result<Paged<AuditRow>, StoreError> {
    const WHERE: &str = "WHERE (domain IS NULL AND $1 = 1 AND kind NOT LIKE 'alert-destination-%')
           OR (domain IS NULL AND kind LIKE 'alert-destination-%' AND content LIKE $2)
           OR domain IN (SELECT domain FROM monitors WHERE tenant_id = $1
                         UNION SELECT domain FROM snapshots WHERE tenant_id = $1)";
    // The event's content is JSON with sorted keys: `"tenant_id":N,"type"...`.
    let own = format!("%\"tenant_id\":{},%", scope.id());
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM audit_events {WHERE}"
    )))
    .bind(scope.id())
    .bind(&own)
    .fetch_one(store.pool())
    .await?;
    let items = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT seq, at, kind, domain, content FROM audit_events {WHERE} ORDER BY seq DESC LIMIT $3 OFFSET $4"
    )))
    .bind(scope.id())
    .bind(&own)
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(store.pool())
    .await?;
    Ok(Paged {
        items,
        total,
        limit: page.limit,
        offset: page.offset,
    })
}

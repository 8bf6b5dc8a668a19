//! Reading the store into a [`Report`]: the domain's aggregate reports
//! folded into the inventory, the configuration of its latest scan, and
//! the policies receivers saw against the scans in force then. Reads the
//! store only: no DNS lookups, so the answer is deterministic for a store.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use mailwarden_ingest::aggregate::PolicyPublished;
use mailwarden_store::reports_query::{PeriodCount, ReportRow, StoredRecord};
use mailwarden_store::tenant::OwnedDomain;
use mailwarden_store::{Store, reports_query, snapshot, tenant_reports};
use serde::Serialize;

use crate::config::{Config, Joins, joins};
use crate::inventory::{Inventory, Row, Sender, Services};
use crate::policy::{PolicySeen, Sighting, compare};
use crate::rdns::{self, Names};

/// The whole answer, as `mailwarden senders --format json` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    pub domain: String,
    pub since: Option<i64>,
    pub reports: usize,
    pub messages: u64,
    /// The configuration from the latest stored scan; `None` without one
    /// (then the reported SPF result decides what is authorised).
    pub configuration: Option<Config>,
    pub senders: Vec<Sender>,
    pub joins: Joins,
    /// The policies receivers saw, against the DMARC record scanned then.
    pub policies_seen: Vec<PolicySeen>,
}

/// Whose reports to read.
#[derive(Debug, Clone, Copy)]
pub enum Reports<'a> {
    /// Every stored report of the domain (the CLI, the operator's view).
    AllOf(&'a str),
    /// Only the reports imported under the domain's tenant (the web service).
    Tenant(&'a OwnedDomain),
}

impl Reports<'_> {
    fn domain(&self) -> &str {
        match self {
            Reports::AllOf(d) => d,
            Reports::Tenant(d) => d.name(),
        }
    }
}

/// Fold the domain's stored aggregate reports and join the configuration.
pub async fn build(store: &Store, reports: Reports<'_>, since: Option<i64>) -> Result<Report> {
    build_observed(store, reports, since, |_, _| {}).await
}

/// [`build`] with the sources' reverse DNS as `names` allows (looked up,
/// cached, or none).
pub async fn build_named(store: &Store, reports: Reports<'_>, since: Option<i64>, names: Names<'_>) -> Result<Report> {
    build_observed_named(store, reports, since, names, |_, _| {}).await
}

/// [`build`], showing `observe` the messages per period and source as
/// they are folded (the web page's volume over time). The database sums
/// the rows ([`reports_query::AggregateSummary`]), so `observe` sees one
/// row per (period start, source address) with the summed `count`, and a
/// report row carrying only that period start: not every stored row.
pub async fn build_observed(
    store: &Store,
    source: Reports<'_>,
    since: Option<i64>,
    observe: impl FnMut(&ReportRow, &StoredRecord),
) -> Result<Report> {
    build_observed_named(store, source, since, Names::Off, observe).await
}

/// [`build_observed`] with the sources' reverse DNS as `names` allows.
pub async fn build_observed_named(
    store: &Store,
    source: Reports<'_>,
    since: Option<i64>,
    names: Names<'_>,
    mut observe: impl FnMut(&ReportRow, &StoredRecord),
) -> Result<Report> {
    let domain = source.domain();
    let services = Services::builtin();
    let mut inventory = Inventory::new(domain);
    let summary = match source {
        Reports::AllOf(d) => reports_query::aggregate_summary_of(store, d, since).await,
        Reports::Tenant(d) => tenant_reports::aggregate_summary(store, d, since).await,
    }
    .context("reading the stored reports")?;
    let seen_policies: Vec<(String, i64, i64, PolicyPublished)> = summary
        .reports
        .iter()
        .filter_map(|r| Some((r.reporter.clone(), r.begin, r.end, r.policy.clone()?)))
        .collect();
    for g in &summary.groups {
        // Stored rows were parsed as IP addresses on import.
        let Ok(ip) = g.record.source_ip.parse() else { continue };
        let r = &g.record;
        inventory.add(&Row {
            ip,
            count: u64::try_from(r.count).unwrap_or_default(),
            header_from: &r.header_from,
            envelope_from: r.envelope_from.as_deref(),
            dkim: &r.dkim,
            spf: &r.spf,
            adkim: g.adkim.as_deref(),
            aspf: g.aspf.as_deref(),
            reporter: &g.reporter,
            begin: g.begin,
            end: g.end,
        });
    }
    for p in &summary.per_period {
        if p.source_ip.parse::<std::net::IpAddr>().is_ok() {
            observe(&period_row(domain, p.begin), &period_record(p));
        }
    }
    let reports = summary.reports.len();
    inventory.reports = reports;
    let configuration = latest_config(store, domain, &services).await?;
    let ips: Vec<std::net::IpAddr> = inventory.sources.keys().copied().collect();
    let names = rdns::resolve(store, &ips, names)
        .await
        .context("the reverse DNS of the sources")?;
    let senders = inventory.senders_named(
        &services,
        |src| configuration.as_ref().and_then(|c| c.authorises(src.ip.parse().ok()?)),
        &names,
    );
    let joins = configuration
        .as_ref()
        .map(|c| joins(c, &inventory, &senders))
        .unwrap_or_default();
    let policies_seen = policies_seen(store, domain, &seen_policies).await?;
    Ok(Report {
        domain: domain.to_string(),
        since,
        reports,
        messages: senders.iter().map(|s| s.messages).sum(),
        configuration,
        senders,
        joins,
        policies_seen,
    })
}
/// The report row `observe` sees for a period: only its start is real.
fn period_row(domain: &str, begin: i64) -> ReportRow {
    ReportRow {
        id: String::new(),
        kind: "aggregate".into(),
        reporter: String::new(),
        report_id: String::new(),
        domain: domain.to_string(),
        begin,
        end: begin,
        records: 0,
        imported_at: String::new(),
        flags: Vec::new(),
        row_id: 0,
    }
}

/// The summed row `observe` sees for a period and source.
fn period_record(p: &PeriodCount) -> StoredRecord {
    StoredRecord {
        source_ip: p.source_ip.clone(),
        count: p.count,
        disposition: String::new(),
        dkim_eval: None,
        spf_eval: None,
        header_from: String::new(),
        envelope_from: None,
        envelope_to: None,
        dkim: Vec::new(),
        spf: Vec::new(),
        reasons: Vec::new(),
    }
}

/// Compare each report's `policy_published` with the DMARC record of the
/// scan in force at the end of its period: the latest snapshot first seen
/// by then (a new snapshot is stored whenever the scan changes).
async fn policies_seen(
    store: &Store,
    domain: &str,
    seen: &[(String, i64, i64, PolicyPublished)],
) -> Result<Vec<PolicySeen>> {
    let mut conn = store.pool().acquire().await?;
    let snapshots = snapshot::list(&mut conn, domain).await?;
    let mut records: BTreeMap<i64, Option<String>> = BTreeMap::new();
    let mut in_force = Vec::with_capacity(seen.len());
    for (_, _, end, _) in seen {
        let at =
            time::OffsetDateTime::from_unix_timestamp(*end).map_or_else(|_| String::new(), mailwarden_store::stamp);
        let snap = snapshots.iter().rev().find(|m| m.first_seen_at <= at).map(|m| m.id);
        if let Some(id) = snap
            && !records.contains_key(&id)
        {
            let obs = snapshot::load(&mut conn, id).await?.observation;
            records.insert(id, crate::config::dmarc_record(&obs, domain));
        }
        in_force.push(snap);
    }
    let sightings: Vec<Sighting<'_>> = seen
        .iter()
        .zip(&in_force)
        .map(|((reporter, begin, end, policy), snap)| Sighting {
            reporter,
            begin: *begin,
            end: *end,
            policy,
            scanned_record: snap.map(|id| records.get(&id).and_then(|r| r.as_deref())),
        })
        .collect();
    Ok(compare(&sightings))
}

async fn latest_config(store: &Store, domain: &str, services: &Services) -> Result<Option<Config>> {
    let mut conn = store.pool().acquire().await?;
    let Some(latest) = snapshot::list(&mut conn, domain).await?.into_iter().last() else {
        return Ok(None);
    };
    let snap = snapshot::load(&mut conn, latest.id).await?;
    let mut config = Config::from_observation(&snap.observation, domain, services);
    config.scanned_at = Some(latest.last_seen_at);
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh SQLite store, and one on the PostgreSQL at
    /// MAILWARDEN_TEST_PG_URL when set (tests/real-peers/postgres.sh).
    async fn stores(dir: &std::path::Path) -> Vec<Store> {
        let mut out = vec![
            Store::open(&format!("sqlite:{}", dir.join("s.db").display()))
                .await
                .unwrap(),
        ];
        if let Some(base) = std::env::var("MAILWARDEN_TEST_PG_URL").ok().filter(|u| !u.is_empty()) {
            use sqlx::Connection;
            let name = format!("mw_senders_{}", std::process::id());
            let mut admin = sqlx::postgres::PgConnection::connect(&base).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .unwrap();
            let (server, _) = base.rsplit_once('/').unwrap();
            out.push(Store::open(&format!("{server}/{name}")).await.unwrap());
        }
        out
    }

    async fn import(store: &Store, files: &[&str]) {
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/reports/ingest/");
        for file in files {
            let text = std::fs::read(format!("{corpus}{file}")).unwrap();
            let limits = mailwarden_ingest::Limits::default();
            for item in mailwarden_ingest::input::read(file, &text, &limits) {
                mailwarden_store::reports::put(store, &item.outcome.unwrap())
                    .await
                    .unwrap();
            }
        }
    }

    /// The senders and the messages per (day, source) from folding every
    /// stored row of the reports ending at or after `since` (what `build`
    /// did before it summed in SQL).
    async fn folded(store: &Store, since: Option<i64>) -> (usize, Vec<Sender>, BTreeMap<(i64, String), i64>) {
        let mut folded = Inventory::new("example.com");
        let mut volume = BTreeMap::new();
        let reports = reports_query::for_each_aggregate(store, "example.com", since, |report, policy, rows| {
            for r in &rows {
                *volume
                    .entry((report.begin.div_euclid(86_400), r.source_ip.clone()))
                    .or_insert(0) += r.count;
                folded.add(&Row {
                    ip: r.source_ip.parse().unwrap(),
                    count: u64::try_from(r.count).unwrap(),
                    header_from: &r.header_from,
                    envelope_from: r.envelope_from.as_deref(),
                    dkim: &r.dkim,
                    spf: &r.spf,
                    adkim: policy.and_then(|p| p.adkim.as_deref()),
                    aspf: policy.and_then(|p| p.aspf.as_deref()),
                    reporter: &report.reporter,
                    begin: report.begin,
                    end: report.end,
                });
            }
        })
        .await
        .unwrap();
        (reports, folded.senders(&Services::builtin(), |_| None), volume)
    }

    /// The inventory from the sums the database keeps (the rollup, for no
    /// `since` or a midnight) or sums (the rows, for another `since`) must
    /// be the one from folding every stored row, on SQLite and PostgreSQL.
    #[tokio::test]
    async fn the_inventory_summed_in_sql_equals_the_row_by_row_fold() {
        let dir = tempfile::tempdir().unwrap();
        // The second day: only the report for another range ends on it.
        let day2 = 1_796_169_600;
        for store in stores(dir.path()).await {
            import(
                &store,
                &[
                    "agg-7489-google.xml",
                    "agg-9990-gmx.xml",
                    "agg-quirks-capitalised.xml",
                    "agg-7489-ns-yahoo.zip",
                    "agg-7489-same-id-other-range.xml",
                ],
            )
            .await;
            for (since, at_least) in [
                (None, 5),
                (Some(day2), 1),
                (Some(day2 + 3_600), 1),
                (Some(day2 + 86_400), 0),
            ] {
                let mut volume = BTreeMap::new();
                let report = build_observed(&store, Reports::AllOf("example.com"), since, |r, row| {
                    *volume
                        .entry((r.begin.div_euclid(86_400), row.source_ip.clone()))
                        .or_insert(0) += row.count;
                })
                .await
                .unwrap();
                let (reports, senders, folded_volume) = folded(&store, since).await;
                assert_eq!(reports, at_least, "{since:?}");
                assert_eq!(report.senders.is_empty(), at_least == 0, "{since:?}");
                assert_eq!(report.reports, reports, "{since:?}");
                assert_eq!(report.senders, senders, "{since:?}");
                assert_eq!(volume, folded_volume, "{since:?}");
            }
            let rollup: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM report_rollup")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert!(rollup > 0, "the rollup was read, not the rows");
        }
    }
}

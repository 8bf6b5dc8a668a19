//! `mailwarden reports list`, `reports show ID` and `reports tls DOMAIN`:
//! what was imported, one report whole, and the TLS sessions per policy
//! and MX that receivers reported (RFC 8460 §4.4: "failure-details",
//! "result-type"). Reads the store only.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use mailwarden_render::inert;
use mailwarden_store::reports_query::{self, Filter, ReportRow, StoredTlsPolicy};
use serde::Serialize;

use mailwarden_senders::Reports;
use mailwarden_senders::tls_joins::{self, TlsJoins};

use crate::args::Format;
use crate::audit::open_store;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the reports about this domain (the policy domain).
    #[arg(long)]
    pub domain: Option<String>,
    /// Only reports of this kind: aggregate, failure or tlsrpt.
    #[arg(long, value_parser = ["aggregate", "failure", "tlsrpt"])]
    pub kind: Option<String>,
    /// Only reports whose period ends at or after this (a date, RFC 3339, or 30d).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The report's id, as `reports list` and `reports import` print it.
    pub id: String,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct TlsArgs {
    /// The policy domain of the TLS reports.
    pub domain: String,
    /// Only reports whose period ends at or after this (a date, RFC 3339, or 30d).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn date(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch).map_or_else(|_| epoch.to_string(), |t| t.date().to_string())
}

pub async fn list(db: Option<&str>, args: ListArgs) -> Result<ExitCode> {
    let store = open_store(db).await?;
    let since = args.since.as_deref().map(crate::senders::parse_since).transpose()?;
    let domain = args.domain.as_deref().map(crate::monitor::domain).transpose()?;
    let filter = Filter {
        domain: domain.as_deref(),
        kind: args.kind.as_deref(),
        since,
    };
    let rows = reports_query::list(&store, &filter).await?;
    let mut out = io::stdout().lock();
    if args.format != Format::Text {
        for r in &rows {
            inert::to_writer(&mut out, r)?;
            writeln!(out)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<16} {:<9} {:<24} {:<24} {:<10} {:>8}  report id",
        "id", "kind", "reporter", "domain", "day", "records"
    )?;
    for r in &rows {
        let flag = if r.flags.is_empty() { "" } else { "  (flagged)" };
        writeln!(
            out,
            "{:<16} {:<9} {:<24} {:<24} {:<10} {:>8}  {}{flag}",
            r.id,
            r.kind,
            inert::line(&r.reporter),
            inert::line(&r.domain),
            if r.kind == "failure" { "-".into() } else { date(r.begin) },
            r.records,
            inert::line(&r.report_id),
        )?;
    }
    writeln!(out, "{} report(s)", rows.len())?;
    Ok(ExitCode::SUCCESS)
}

pub async fn show(db: Option<&str>, args: ShowArgs) -> Result<ExitCode> {
    let store = open_store(db).await?;
    let Some(detail) = reports_query::show(&store, &args.id).await? else {
        bail!("no stored report {:?} (see `mailwarden reports list`)", args.id);
    };
    let mut out = io::stdout().lock();
    if args.format != Format::Text {
        inert::to_writer_pretty(&mut out, &detail)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let r = &detail.row;
    writeln!(out, "report {} ({})", r.id, r.kind)?;
    writeln!(out, "  reporter:   {}", inert::line(&r.reporter))?;
    writeln!(out, "  report id:  {}", inert::line(&r.report_id))?;
    writeln!(out, "  domain:     {}", inert::line(&r.domain))?;
    if r.kind != "failure" {
        writeln!(
            out,
            "  period:     {} .. {} ({}..{})",
            date(r.begin),
            date(r.end),
            r.begin,
            r.end
        )?;
    }
    writeln!(out, "  imported:   {}", r.imported_at)?;
    for f in &r.flags {
        writeln!(out, "  flag:       {}", inert::line(f))?;
    }
    if let Some(p) = reports_query::policy_published(&detail.meta) {
        let v = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "  policy seen: p={} sp={} adkim={} aspf={} pct={}",
            v(&p.p),
            v(&p.sp),
            v(&p.adkim),
            v(&p.aspf),
            p.pct.map_or_else(|| "-".into(), |n| n.to_string())
        )?;
    }
    if !detail.rows.is_empty() {
        writeln!(
            out,
            "\n  {:<40} {:>7} {:<10} {:<5} {:<5}  header_from",
            "source", "count", "disposition", "dkim", "spf"
        )?;
        for x in &detail.rows {
            let v = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
            writeln!(
                out,
                "  {:<40} {:>7} {:<10} {:<5} {:<5}  {}",
                x.source_ip,
                x.count,
                x.disposition,
                v(&x.dkim_eval),
                v(&x.spf_eval),
                inert::line(&x.header_from)
            )?;
        }
    }
    for p in &detail.policies {
        writeln!(
            out,
            "\n  policy {} {}: {} successful, {} failed session(s)",
            p.policy_type,
            inert::line(&p.mx_hosts.join(" ")),
            p.successful,
            p.failed
        )?;
        for f in &p.failures {
            writeln!(
                out,
                "    {} x{} mx={} from={}",
                inert::line(&f.result_type),
                f.failed_sessions,
                inert::line(f.receiving_mx_hostname.as_deref().unwrap_or("-")),
                inert::line(f.sending_mta_ip.as_deref().unwrap_or("-"))
            )?;
        }
    }
    if r.kind == "failure" {
        writeln!(out, "\n{}", inert::block(&serde_json::to_string_pretty(&detail.meta)?))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The TLS sessions of one policy (type and MX hosts) over all reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyLine {
    pub policy_type: String,
    pub mx_hosts: Vec<String>,
    pub successful: u64,
    pub failed: u64,
    pub reporters: BTreeSet<String>,
    /// Distinct policy texts seen (an MTA-STS policy changed mid-period
    /// shows as two).
    pub policy_versions: usize,
}

/// The failures reported against one MX host, by result type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MxLine {
    pub mx: String,
    pub failed: u64,
    pub results: BTreeMap<String, u64>,
    pub sending_ips: BTreeSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsSummary {
    pub domain: String,
    pub reports: usize,
    pub policies: Vec<PolicyLine>,
    pub mx: Vec<MxLine>,
}

/// Fold the stored TLS policies of a domain per policy and per MX.
pub fn summarise(domain: &str, items: &[(ReportRow, StoredTlsPolicy)]) -> TlsSummary {
    // (type, MX hosts) → the line and the distinct policy texts seen.
    type Versions = BTreeSet<Vec<String>>;
    let mut policies: BTreeMap<(String, Vec<String>), (PolicyLine, Versions)> = BTreeMap::new();
    let mut mx: BTreeMap<String, MxLine> = BTreeMap::new();
    let mut reports = BTreeSet::new();
    for (report, p) in items {
        reports.insert(report.id.clone());
        let key = (p.policy_type.clone(), p.mx_hosts.clone());
        let (line, versions) = policies.entry(key).or_default();
        line.policy_type.clone_from(&p.policy_type);
        line.mx_hosts.clone_from(&p.mx_hosts);
        line.successful += u64::try_from(p.successful).unwrap_or_default();
        line.failed += u64::try_from(p.failed).unwrap_or_default();
        line.reporters.insert(report.reporter.clone());
        versions.insert(p.policy_strings.clone());
        for f in &p.failures {
            let host = f
                .receiving_mx_hostname
                .clone()
                .unwrap_or_else(|| "(not reported)".into());
            let m = mx.entry(host.clone()).or_default();
            m.mx = host;
            m.failed += f.failed_sessions;
            *m.results.entry(f.result_type.clone()).or_default() += f.failed_sessions;
            m.sending_ips.extend(f.sending_mta_ip.clone());
        }
    }
    TlsSummary {
        domain: domain.to_string(),
        reports: reports.len(),
        policies: policies
            .into_values()
            .map(|(mut line, versions)| {
                line.policy_versions = versions.len();
                line
            })
            .collect(),
        mx: mx.into_values().collect(),
    }
}

pub async fn tls(db: Option<&str>, args: TlsArgs) -> Result<ExitCode> {
    let domain = crate::monitor::domain(&args.domain)?;
    let since = args.since.as_deref().map(crate::senders::parse_since).transpose()?;
    let store = open_store(db).await?;
    let items = reports_query::tls_policies(&store, &domain, since).await?;
    let summary = summarise(&domain, &items);
    let joins = tls_joins::read(&store, Reports::AllOf(&domain), since).await?;
    let mut out = io::stdout().lock();
    if args.format != Format::Text {
        inert::to_writer_pretty(&mut out, &TlsOutput { summary, joins })?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "TLS reports for {domain}: {} report(s)", summary.reports)?;
    for p in &summary.policies {
        let total = p.successful + p.failed;
        writeln!(
            out,
            "  {:<16} {:<40} {:>8} ok {:>6} failed ({})  reporters: {}{}",
            p.policy_type,
            inert::line(&if p.mx_hosts.is_empty() {
                "-".into()
            } else {
                p.mx_hosts.join(" ")
            }),
            p.successful,
            p.failed,
            if total == 0 {
                "-".into()
            } else {
                format!("{:.1}%", p.failed as f64 * 100.0 / total as f64)
            },
            inert::line(&p.reporters.iter().cloned().collect::<Vec<_>>().join(", ")),
            if p.policy_versions > 1 {
                format!("; {} policy versions seen", p.policy_versions)
            } else {
                String::new()
            }
        )?;
    }
    if !summary.mx.is_empty() {
        writeln!(out, "failures per MX:")?;
        for m in &summary.mx {
            let results: Vec<String> = m.results.iter().map(|(k, v)| format!("{k} x{v}")).collect();
            writeln!(
                out,
                "  {:<40} {:>6} failed: {}  (from {} sending address(es))",
                inert::line(&m.mx),
                m.failed,
                inert::line(&results.join(", ")),
                m.sending_ips.len()
            )?;
        }
    }
    write_joins(&mut out, &joins)?;
    Ok(ExitCode::SUCCESS)
}

/// `reports tls --format json`: the summary, and the joins with the scans.
#[derive(Debug, Serialize)]
struct TlsOutput {
    #[serde(flatten)]
    summary: TlsSummary,
    joins: TlsJoins,
}

/// Each failure beside the scan of its MX then; reporters on a replaced
/// MTA-STS policy.
fn write_joins(out: &mut impl Write, joins: &TlsJoins) -> io::Result<()> {
    if !joins.failures.is_empty() {
        writeln!(out, "failures beside the scan of that MX at that time:")?;
    }
    for f in &joins.failures {
        writeln!(
            out,
            "  {} {} x{} at {} ({} report {}):",
            date(f.begin),
            inert::line(&f.result_type),
            f.failed_sessions,
            inert::line(f.mx.as_deref().unwrap_or("(MX not reported)")),
            inert::line(&f.reporter),
            inert::line(&f.report_id)
        )?;
        match &f.scan {
            None => writeln!(
                out,
                "    no scan of the domain in that period (nearest before: {}, after: {})",
                f.scan_before.as_ref().map_or("none", |s| s.last_seen_at.as_str()),
                f.scan_after.as_ref().map_or("none", |s| s.first_seen_at.as_str())
            )?,
            Some(scan) if f.findings.is_empty() => writeln!(
                out,
                "    scan {} .. {}: no finding of {} for this MX",
                scan.first_seen_at,
                scan.last_seen_at,
                if f.related_rules.is_empty() {
                    "a related rule (unknown result type)".to_string()
                } else {
                    f.related_rules.join(", ")
                }
            )?,
            Some(scan) => {
                for x in &f.findings {
                    writeln!(
                        out,
                        "    scan {} .. {}: {} {} on {}",
                        scan.first_seen_at,
                        scan.last_seen_at,
                        inert::line(&x.rule_id),
                        inert::line(&x.outcome),
                        inert::line(&x.subject)
                    )?;
                }
            }
        }
    }
    if !joins.stale_policies.is_empty() {
        writeln!(out, "reporters still on a replaced MTA-STS policy:")?;
    }
    for p in &joins.stale_policies {
        writeln!(
            out,
            "  {} {} (report {}): applied the policy of id {}; id {} published since {}",
            date(p.begin),
            inert::line(&p.reporter),
            inert::line(&p.report_id),
            inert::line(&p.old_id),
            inert::line(&p.current_id),
            p.changed_at
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use mailwarden_ingest::tlsrpt::FailureDetail;

    use super::*;

    fn policy(mx: &str, ok: i64, failed: i64, failures: Vec<FailureDetail>, text: &str) -> StoredTlsPolicy {
        StoredTlsPolicy {
            policy_type: "sts".into(),
            policy_domain: Some("example.com".into()),
            mx_hosts: vec![mx.into()],
            successful: ok,
            failed,
            policy_strings: vec![text.into()],
            failures,
        }
    }

    fn failure(mx: Option<&str>, kind: &str, n: u64) -> FailureDetail {
        FailureDetail {
            result_type: kind.into(),
            sending_mta_ip: Some("192.0.2.1".into()),
            receiving_mx_hostname: mx.map(str::to_string),
            receiving_mx_helo: None,
            receiving_ip: None,
            failed_sessions: n,
            additional_information: None,
            failure_reason_code: None,
        }
    }

    #[test]
    fn sessions_add_up_per_policy_and_failures_per_mx_and_result_type() {
        let rows: Vec<ReportRow> = (0..2)
            .map(|i| ReportRow {
                id: format!("{i:016}"),
                kind: "tlsrpt".into(),
                reporter: "google.com".into(),
                report_id: format!("r{i}"),
                domain: "example.com".into(),
                begin: 0,
                end: 1,
                records: 1,
                imported_at: String::new(),
                flags: Vec::new(),
                row_id: i,
            })
            .collect();
        let items = vec![
            (
                rows[0].clone(),
                policy(
                    "mx1.example.com",
                    100,
                    2,
                    vec![failure(Some("mx1.example.com"), "certificate-expired", 2)],
                    "id: 1",
                ),
            ),
            (
                rows[1].clone(),
                policy(
                    "mx1.example.com",
                    50,
                    1,
                    vec![failure(None, "starttls-not-supported", 1)],
                    "id: 2",
                ),
            ),
        ];
        let s = summarise("example.com", &items);
        assert_eq!(s.reports, 2);
        assert_eq!(s.policies.len(), 1);
        assert_eq!((s.policies[0].successful, s.policies[0].failed), (150, 3));
        assert_eq!(s.policies[0].policy_versions, 2, "the MTA-STS policy changed");
        let mx: Vec<_> = s.mx.iter().map(|m| (m.mx.as_str(), m.failed)).collect();
        assert_eq!(mx, vec![("(not reported)", 1), ("mx1.example.com", 2)]);
        assert_eq!(s.mx[1].results.get("certificate-expired"), Some(&2));
    }
}

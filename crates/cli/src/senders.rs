//! `mailwarden senders DOMAIN`: the sender inventory from the stored
//! aggregate reports, joined with the domain's configuration from its
//! latest stored scan (`monitor`, `scan --db`). Reads the store only: no
//! DNS lookups, so the output is deterministic for a given store.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use mailwarden_ingest::aggregate::PolicyPublished;
use mailwarden_render::{csv, inert};
use mailwarden_store::{Store, reports_query, snapshot};
use serde::Serialize;

use crate::audit::open_store;
use crate::senders_config::{Config, Joins, joins};
use crate::senders_core::{Inventory, Row, Sender, Services};
use crate::senders_policy::{PolicySeen, Sighting, compare};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InventoryFormat {
    Text,
    Json,
    /// One row per source address.
    Csv,
}

#[derive(Debug, Args)]
pub struct SendersArgs {
    /// The domain whose reports to read (the reports' policy domain).
    pub domain: String,
    /// Only reports whose period ends at or after this: a date (2026-11-01), an
    /// RFC 3339 time, or a period back from now (30d, 2w).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    #[arg(long, value_enum, default_value_t = InventoryFormat::Text)]
    pub format: InventoryFormat,
    /// Make no lookups (the inventory reads the store only; accepted so
    /// scripts can say so explicitly).
    #[arg(long)]
    pub offline: bool,
}

/// The whole answer, as `--format json` prints it.
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

pub async fn run(db: Option<&str>, args: SendersArgs) -> Result<ExitCode> {
    let domain = crate::monitor::domain(&args.domain)?;
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let store = open_store(db).await?;
    let report = build(&store, &domain, since).await?;
    let mut out = io::stdout().lock();
    match args.format {
        InventoryFormat::Json => {
            inert::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        InventoryFormat::Csv => write_csv(&mut out, &report)?,
        InventoryFormat::Text => write_text(&mut out, &report)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Fold the domain's stored aggregate reports and join the configuration.
pub async fn build(store: &Store, domain: &str, since: Option<i64>) -> Result<Report> {
    let services = Services::builtin();
    let mut inventory = Inventory::new(domain);
    let mut seen_policies: Vec<(String, i64, i64, PolicyPublished)> = Vec::new();
    let reports = reports_query::for_each_aggregate(store, domain, since, |report, policy, rows| {
        if let Some(p) = policy {
            seen_policies.push((report.reporter.clone(), report.begin, report.end, p.clone()));
        }
        let adkim = policy.and_then(|p| p.adkim.as_deref());
        let aspf = policy.and_then(|p| p.aspf.as_deref());
        for r in &rows {
            // Stored rows were parsed as IP addresses on import.
            let Ok(ip) = r.source_ip.parse() else { continue };
            inventory.add(&Row {
                ip,
                count: u64::try_from(r.count).unwrap_or_default(),
                header_from: &r.header_from,
                envelope_from: r.envelope_from.as_deref(),
                dkim: &r.dkim,
                spf: &r.spf,
                adkim,
                aspf,
                reporter: &report.reporter,
                begin: report.begin,
                end: report.end,
            });
        }
    })
    .await
    .context("reading the stored reports")?;
    inventory.reports = reports;
    let configuration = latest_config(store, domain, &services).await?;
    let senders = inventory.senders(&services, |src| {
        configuration.as_ref().and_then(|c| c.authorises(src.ip.parse().ok()?))
    });
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
            records.insert(id, crate::senders_config::dmarc_record(&obs, domain));
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

/// `--since`: a date, an RFC 3339 time, or a period back from now.
pub fn parse_since(text: &str) -> Result<i64> {
    if let Ok(secs) = mailwarden_store::retention::parse_period(text) {
        return Ok(time::OffsetDateTime::now_utc().unix_timestamp() - secs);
    }
    if let Some(t) = mailwarden_store::parse_time(text) {
        return Ok(t.unix_timestamp());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, format).with_context(|| {
        format!("--since {text:?}: expected a date (2026-11-01), an RFC 3339 time or a period (30d)")
    })?;
    Ok(date.midnight().assume_utc().unix_timestamp())
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.0}%", part as f64 * 100.0 / whole as f64)
}

fn write_text(out: &mut impl Write, r: &Report) -> io::Result<()> {
    writeln!(
        out,
        "senders of {}: {} message(s) in {} aggregate report(s)",
        r.domain, r.messages, r.reports
    )?;
    match &r.configuration {
        Some(c) => writeln!(
            out,
            "configuration from the scan of {}: SPF {}",
            c.scanned_at.as_deref().unwrap_or("-"),
            inert::line(c.spf_record.as_deref().unwrap_or("(none)"))
        )?,
        None => writeln!(
            out,
            "no stored scan of {}: authorised means the reporters saw SPF pass (run `mailwarden monitor` or `scan --db`)",
            r.domain
        )?,
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<20} {:<32} {:>9} {:>6} {:>6} {:>6}  sources",
        "class", "sender", "messages", "spf", "dkim", "dmarc"
    )?;
    for s in &r.senders {
        let ips: Vec<String> = s.sources.iter().take(3).map(source_label).collect();
        let more = s.sources.len().saturating_sub(3);
        writeln!(
            out,
            "{:<20} {:<32} {:>9} {:>6} {:>6} {:>6}  {}{}",
            s.class.as_str(),
            inert::line(&s.name),
            s.messages,
            percent(s.spf_pass, s.messages),
            percent(s.dkim_pass, s.messages),
            percent(s.dmarc_pass, s.messages),
            ips.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )?;
    }
    let j = &r.joins;
    for (title, items) in [
        ("in SPF but never seen (candidates to remove)", &j.in_spf_never_seen),
        (
            "seen passing SPF but not in the domain's SPF record",
            &j.seen_passing_not_in_spf,
        ),
        ("seen only with DKIM (SPF never aligned)", &j.seen_only_with_dkim),
        ("DKIM selectors seen and published", &j.selectors_seen_and_published),
        (
            "DKIM selectors seen, no key found by the scan (scan with --dkim-selector)",
            &j.selectors_seen_not_published,
        ),
        (
            "DKIM selectors published, never seen in reports",
            &j.selectors_published_never_seen,
        ),
    ] {
        if !items.is_empty() {
            writeln!(out, "\n{title}:")?;
            for i in items {
                writeln!(out, "  {}", inert::line(i))?;
            }
        }
    }
    if !r.policies_seen.is_empty() {
        writeln!(
            out,
            "\npolicies receivers saw (policy_published) against the scan in force then:"
        )?;
        for p in &r.policies_seen {
            let verdict = match (p.matches, &p.published) {
                (Some(true), _) => "as published".to_string(),
                (Some(false), Some(published)) => format!("NEVER PUBLISHED (the scan then had {published})"),
                _ => "no scan before these reports".to_string(),
            };
            writeln!(
                out,
                "  {}  in {} report(s) from {}: {verdict}",
                p.seen,
                p.reports,
                inert::line(&p.reporters.iter().cloned().collect::<Vec<_>>().join(", "))
            )?;
        }
    }
    Ok(())
}

fn source_label(s: &crate::senders_core::Source) -> String {
    match s.in_spf {
        Some(false) => format!("{} ({}, not in SPF)", s.ip, s.messages),
        _ => format!("{} ({})", s.ip, s.messages),
    }
}

fn write_csv(out: &mut impl Write, r: &Report) -> io::Result<()> {
    writeln!(
        out,
        "sender,identified_by,class,ip,messages,spf_pass,dkim_pass,spf_aligned,dkim_aligned,dmarc_pass,in_spf,envelope_domains,dkim_domains,reporters,first_seen,last_seen"
    )?;
    let join = |set: &std::collections::BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(" ");
    for s in &r.senders {
        for x in &s.sources {
            let cells = [
                s.name.clone(),
                s.identified_by.to_string(),
                s.class.as_str().to_string(),
                x.ip.clone(),
                x.messages.to_string(),
                x.spf_pass.to_string(),
                x.dkim_pass.to_string(),
                x.spf_aligned.to_string(),
                x.dkim_aligned.to_string(),
                x.dmarc_pass.to_string(),
                x.in_spf.map_or_else(String::new, |b| b.to_string()),
                join(&x.envelope_domains),
                join(&x.dkim_domains),
                join(&x.reporters),
                x.first_seen.to_string(),
                x.last_seen.to_string(),
            ];
            let row: Vec<String> = cells.iter().map(|c| csv::field(c)).collect();
            writeln!(out, "{}", row.join(","))?;
        }
    }
    Ok(())
}

//! `mailwarden senders DOMAIN`: the sender inventory from the stored
//! aggregate reports, joined with the domain's configuration from its
//! latest stored scan (`monitor`, `scan --db`), computed by the
//! `mailwarden-senders` crate (shared with the web page) and printed here.
//! The sources' reverse DNS is looked up (PTR, confirmed by a forward
//! lookup) through the DNS flags and kept in the store for a day;
//! `--offline` makes no lookups and shows no names, so the output then
//! depends on the store's reports and scans only.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use mailwarden_render::{csv, inert};
use mailwarden_senders::rdns::{Names, Rdns};
use mailwarden_senders::{Report, Reports, build_named};

use crate::audit::open_store;

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
    /// Make no lookups and show no reverse DNS (not even cached): the
    /// output depends on the stored reports and scans only.
    #[arg(long)]
    pub offline: bool,
    /// Reverse DNS lookups in flight at most (each is a PTR and a forward lookup per name).
    #[arg(long, default_value_t = 16, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub rdns_concurrency: u16,
    #[command(flatten)]
    pub dns: crate::args::DnsArgs,
}

pub async fn run(db: Option<&str>, args: SendersArgs) -> Result<ExitCode> {
    let domain = crate::monitor::domain(&args.domain)?;
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let store = open_store(db).await?;
    let dns = match args.offline {
        true => None,
        false => Some(crate::config::dns_source(&args.dns, false).await?),
    };
    let names = match &dns {
        None => Names::Off,
        Some(dns) => Names::Lookup {
            dns: dns.as_ref(),
            concurrency: usize::from(args.rdns_concurrency),
        },
    };
    let report = build_named(&store, Reports::AllOf(&domain), since, names).await?;
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

fn source_label(s: &mailwarden_senders::inventory::Source) -> String {
    let mut notes = vec![s.messages.to_string()];
    if s.in_spf == Some(false) {
        notes.push("not in SPF".into());
    }
    notes.extend(s.rdns.as_ref().map(|r| inert::line(&r.label()).into_owned()));
    format!("{} ({})", s.ip, notes.join(", "))
}

/// The names of a reverse DNS answer, for the CSV: the confirmed one or
/// the unconfirmed ones.
fn rdns_names(r: &Rdns) -> String {
    match r {
        Rdns::Confirmed { name } => name.clone(),
        Rdns::Unconfirmed { names } => names.join(" "),
        Rdns::None | Rdns::Indeterminate { .. } => String::new(),
    }
}

fn write_csv(out: &mut impl Write, r: &Report) -> io::Result<()> {
    writeln!(
        out,
        "sender,identified_by,class,ip,messages,spf_pass,dkim_pass,spf_aligned,dkim_aligned,dmarc_pass,in_spf,envelope_domains,dkim_domains,reporters,first_seen,last_seen,rdns_state,rdns_names"
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
                x.rdns.as_ref().map_or_else(String::new, |r| r.state().to_string()),
                x.rdns.as_ref().map_or_else(String::new, rdns_names),
            ];
            let row: Vec<String> = cells.iter().map(|c| csv::field(c)).collect();
            writeln!(out, "{}", row.join(","))?;
        }
    }
    Ok(())
}

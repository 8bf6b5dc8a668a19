//! `mailwarden history|diff|baseline|retention|erase`: reading and keeping
//! the stored record of a domain.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use mailwarden_render::inert;
use mailwarden_store::diff::{Change, FindingChange};
use mailwarden_store::{Store, baseline, retention, timeline};
use serde_json::Value;

use crate::args::Format;
use crate::monitor::{domain, open_store};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    pub domain: String,
    /// Output format (text or json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    pub domain: String,
    /// The older snapshot (default: the one before --to).
    #[arg(long, value_name = "ID")]
    pub from: Option<i64>,
    /// The newer snapshot (default: the latest).
    #[arg(long, value_name = "ID")]
    pub to: Option<i64>,
    /// Output format (text or json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Approve the domain's current (latest stored) state; later differences alert as unapproved.
    Approve {
        domain: String,
        /// Why this state is right (kept in the audit log).
        #[arg(long)]
        reason: String,
        /// Who approves (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// List the approvals of a domain.
    List { domain: String },
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// How long to keep one kind of data: snapshots, findings, alerts or audit (e.g. 400d).
    Set { kind: String, period: String },
    /// Show the periods in force.
    Show,
    /// Delete what has expired now (`monitor run` does this daily).
    Run,
}

fn out() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

fn json(value: &impl serde::Serialize) -> Result<()> {
    let mut o = out();
    inert::to_writer_pretty(&mut o, value)?;
    writeln!(o)?;
    Ok(())
}

pub async fn history(db: Option<&str>, args: HistoryArgs) -> Result<ExitCode> {
    let store = open_store(db).await?;
    let name = domain(&args.domain)?;
    let steps = timeline::read_history(&store, &name).await?;
    let approvals = baseline::list(&store, &name).await?;
    if args.format != Format::Text {
        json(&serde_json::json!({ "domain": name, "snapshots": steps, "baselines": approvals }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut o = out();
    if steps.is_empty() {
        writeln!(
            o,
            "{name}: nothing stored (mailwarden monitor add {name}; mailwarden monitor run --once)"
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(o, "{name}: {} snapshot(s)", steps.len())?;
    for s in &steps {
        let m = &s.snapshot;
        let score = m.score.map_or_else(|| "-".to_string(), |v| v.to_string());
        let seen = if m.seen_count > 1 {
            format!("seen {}x, last {}", m.seen_count, m.last_seen_at)
        } else {
            "seen once".into()
        };
        writeln!(
            o,
            "#{:<5} {}  score {score:>3}  {seen}  (mailwarden {})",
            m.id, m.first_seen_at, m.scanner_version
        )?;
        for a in approvals.iter().filter(|a| a.snapshot_id == m.id) {
            writeln!(
                o,
                "       approved as baseline {} by {} at {}: {}",
                a.id,
                inert::line(&a.approved_by),
                a.approved_at,
                inert::line(&a.reason)
            )?;
        }
        write_changes(&mut o, &s.changes, &s.findings, "       ")?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn diff(db: Option<&str>, args: DiffArgs) -> Result<ExitCode> {
    let store = open_store(db).await?;
    let name = domain(&args.domain)?;
    let d = timeline::diff(&store, &name, args.from, args.to).await?;
    if args.format != Format::Text {
        json(&d)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut o = out();
    writeln!(o, "{}: snapshot {} -> {}", d.domain, d.from, d.to)?;
    if d.changes.is_empty() && d.findings.is_empty() {
        writeln!(o, "  no change")?;
    }
    write_changes(&mut o, &d.changes, &d.findings, "  ")?;
    Ok(ExitCode::SUCCESS)
}

fn write_changes(o: &mut impl Write, changes: &[Change], findings: &[FindingChange], indent: &str) -> Result<()> {
    for c in changes {
        writeln!(o, "{indent}{} {}", c.rtype, inert::line(&c.name))?;
        for (sign, v) in [("-", &c.before), ("+", &c.after)] {
            for line in value_lines(v) {
                writeln!(o, "{indent}  {sign} {}", inert::line(&line))?;
            }
        }
        if let Some(note) = &c.note {
            writeln!(o, "{indent}  ! {}", inert::line(note))?;
        }
    }
    for f in findings {
        writeln!(
            o,
            "{indent}finding {} ({}): {} -> {}",
            f.id,
            inert::line(&f.subject),
            f.before.as_deref().unwrap_or("(none)"),
            f.after
        )?;
    }
    Ok(())
}

/// A before/after value as lines: records one a line, objects as
/// `key: value` lines, nothing as `(nothing known)`.
fn value_lines(v: &Value) -> Vec<String> {
    match v {
        Value::Null => vec!["(nothing known)".into()],
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if items.is_empty() => vec!["(empty)".into()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), String::from))
            .collect(),
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}: {}", v.as_str().map_or_else(|| v.to_string(), String::from)))
            .collect(),
        other => vec![other.to_string()],
    }
}

pub async fn baseline(db: Option<&str>, command: BaselineCommand) -> Result<ExitCode> {
    let store = open_store(db).await?;
    match command {
        BaselineCommand::Approve { domain: d, reason, by } => {
            let name = domain(&d)?;
            let by = by
                .or_else(|| std::env::var("USER").ok())
                .filter(|b| !b.trim().is_empty())
                .unwrap_or_else(|| "unknown".into());
            let b = baseline::approve(&store, &name, &by, &reason).await?;
            println!(
                "{name}: snapshot {} approved as baseline {} by {} at {}",
                b.snapshot_id,
                b.id,
                inert::line(&b.approved_by),
                b.approved_at
            );
        }
        BaselineCommand::List { domain: d } => {
            let name = domain(&d)?;
            for b in baseline::list(&store, &name).await? {
                println!(
                    "baseline {}  snapshot {}  {}  by {}: {}",
                    b.id,
                    b.snapshot_id,
                    b.approved_at,
                    inert::line(&b.approved_by),
                    inert::line(&b.reason)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn retention(db: Option<&str>, command: RetentionCommand) -> Result<ExitCode> {
    let store = open_store(db).await?;
    match command {
        RetentionCommand::Set { kind, period } => {
            let secs = retention::parse_period(&period).map_err(|e| anyhow::anyhow!("retention set {kind}: {e}"))?;
            retention::set(&store, &kind, secs).await?;
            println!("{kind}: kept {period}");
        }
        RetentionCommand::Show => show_periods(&store).await?,
        RetentionCommand::Run => {
            let removed = retention::run(&store, time::OffsetDateTime::now_utc()).await?;
            println!(
                "retention: {} snapshot(s), {} finding row(s), {} alert(s) deleted; {} audit event content(s) cleared",
                removed.snapshots, removed.findings, removed.alerts, removed.audit_contents
            );
            println!("retention: {} imported report(s) deleted", removed.reports);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn show_periods(store: &Store) -> Result<()> {
    for (kind, secs) in retention::periods(store).await? {
        println!("{kind:<10} {}d", secs / 86_400);
    }
    Ok(())
}

pub async fn erase(db: Option<&str>, target: &str, format: Format) -> Result<ExitCode> {
    let store = open_store(db).await?;
    let name = domain(target)?;
    let r = retention::erase(&store, &name).await?;
    if format != Format::Text {
        json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("erasure receipt");
    println!("  domain:                 {}", r.domain);
    println!("  erased at:              {}", r.erased_at);
    println!("  database:               {}", store.url());
    println!("  monitors deleted:       {}", r.monitors);
    println!("  snapshots deleted:      {}", r.snapshots);
    println!("  finding rows deleted:   {}", r.findings);
    println!("  baselines deleted:      {}", r.baselines);
    println!("  alerts deleted:         {}", r.alerts);
    println!("  reports deleted:        {}", r.reports);
    println!("  DKIM selectors deleted: {}", r.selectors);
    println!("  job results deleted:    {}", r.job_results);
    println!(
        "  audit events cleared:   {} (domain, content and salt removed; the events stay, so the log still verifies)",
        r.audit_contents_cleared
    );
    println!(
        "  audit event:            #{} (erasure; names the domain only by its SHA-256)",
        r.audit_seq
    );
    Ok(ExitCode::SUCCESS)
}

//! `mailwarden scan`: read domains (arguments, a file or standard input),
//! audit them concurrently, and stream each report as it finishes.
//!
//! Reports come out in the order the domains were given. Memory stays flat
//! however long the list: domains are read through a bounded channel, at
//! most `--concurrency` are in flight, a bounded reorder window holds the
//! finished ones until those before them are written, and each report is
//! dropped once written.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use futures::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use mailwarden_dns::DnsSource;
use mailwarden_engine::Budget;
use mailwarden_model::{DomainName, Prober, ScanOptions};
use mailwarden_render::DomainReport;
use tokio::sync::Semaphore;

use crate::args::ScanArgs;
use crate::config::{self, OutputConfig};
use crate::output::{Sink, report};
use crate::seen::RunSight;

/// How many times `--concurrency` reports may wait for an earlier, slower
/// domain before the scan stops starting new ones.
const REORDER_WINDOW: usize = 4;

pub async fn run(db: Option<&str>, args: ScanArgs) -> Result<ExitCode> {
    let output = OutputConfig::from_args(&args.output)?;
    let budget = config::budget(&args.dns)?;
    let options = &config::scan_options(&args)?;
    if args.concurrency == 0 {
        bail!("--concurrency 0: at least one domain must be audited at a time");
    }
    if args.domains.is_empty() && args.input.is_none() {
        bail!(
            "nothing to scan: give a domain (mailwarden scan example.com) or a list (--input FILE, - for standard input)"
        );
    }
    let interrupt = crate::interrupt::Interrupt::install()?;
    let mut evidence = args.save_evidence.as_deref().map(Evidence::create).transpose()?;
    let total = input_total(&args);
    let lines = crate::input::spawn_reader(&args.domains, args.input.as_deref())?;
    let source = config::dns_source(&args.dns, args.probe.allow_private_targets).await?;
    let prober = &config::prober(&args, options)?;
    // With --db: the DKIM selectors remembered from messages are asked too.
    let remembered = &crate::remembered::open_or_warn(db).await;
    let progress = progress_bar(args.input.is_some() || args.domains.len() > 1, total);
    let waivers = crate::waivers::RunWaivers::load(&args.output)?;
    let mut sink = Sink::new(output, Some(trust_anchor_label(&args.dns)))?;
    let mut bad_input = 0usize;
    let mut sight = RunSight::default();

    // Reports are written in input order. Up to `--concurrency` domains are
    // in flight; a finished one waits in `pending` until those before it
    // are written. `window` bounds how far ahead of the oldest unwritten
    // domain the scan may run, so `pending` never holds more than
    // REORDER_WINDOW × `--concurrency` reports.
    let window = Arc::new(Semaphore::new(args.concurrency.saturating_mul(REORDER_WINDOW)));
    let mut lines = lines;
    let reports = stream::poll_fn(move |cx| lines.poll_recv(cx))
        .enumerate()
        .then(|(i, line)| {
            let window = Arc::clone(&window);
            async move { (i, line, window.acquire_owned().await) }
        })
        .map(|(i, line, permit)| {
            let item = line.parse().map_err(|e| {
                progress.suspend(|| eprintln!("mailwarden: {}", mailwarden_render::inert::block(&e.to_string())));
            });
            let source = Arc::clone(&source);
            async move {
                let report = match item {
                    Ok(name) => {
                        let options = crate::remembered::options_for(remembered.as_ref(), name.as_str(), options).await;
                        Some(scan_one(source.as_ref(), prober, &name, &options, budget).await)
                    }
                    Err(()) => None,
                };
                (i, report, permit)
            }
        })
        .buffer_unordered(args.concurrency);
    futures::pin_mut!(reports);
    let mut pending = BTreeMap::new();
    let mut next = 0usize;
    let mut scanned = 0usize;
    // Ctrl-C stops taking results; what is done is still written whole.
    while let Some((i, result, permit)) = interrupt.until(reports.next()).await.flatten() {
        pending.insert(i, (result, permit));
        while let Some((result, _permit)) = pending.remove(&next) {
            next += 1;
            progress.inc(1);
            let Some(mut report) = result else {
                bad_input += 1;
                continue;
            };
            waivers.accept(&mut report);
            write_one(&report, &mut evidence, &mut sink, &mut sight, &progress)?;
            scanned += 1;
        }
    }
    // Interrupted: the domains that finished after a slower one still go out.
    for (result, _permit) in pending.into_values() {
        if let Some(mut report) = result {
            waivers.accept(&mut report);
            write_one(&report, &mut evidence, &mut sink, &mut sight, &progress)?;
            scanned += 1;
        }
    }
    progress.finish_and_clear();
    let failed = sink.finish()?;
    waivers.warn_unused();
    if interrupt.happened() {
        eprintln!("mailwarden: interrupted: the report holds the {scanned} domain(s) finished before Ctrl-C");
        return Ok(ExitCode::from(crate::interrupt::EXIT_INTERRUPTED));
    }
    if scanned == 0 && bad_input == 0 {
        bail!("nothing to scan: {} held no domain names", input_label(&args));
    }
    Ok(finish(&sight, bad_input > 0, failed))
}

/// How the list was given, for messages.
fn input_label(args: &ScanArgs) -> String {
    match args.input.as_deref() {
        Some(p) if p == Path::new("-") => "standard input".into(),
        Some(p) => format!("--input {}", p.display()),
        None => "the arguments".into(),
    }
}

/// `--save-evidence FILE`: one Observation per line, each line flushed
/// whole as its domain finishes (an interrupted run leaves complete lines).
struct Evidence {
    path: std::path::PathBuf,
    out: BufWriter<File>,
}

impl Evidence {
    fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).with_context(|| format!("--save-evidence {}: cannot create", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    fn write(&mut self, observation: &mailwarden_model::Observation) -> Result<()> {
        // The inert formatter: record text cannot reach a terminal that shows the file.
        let mut line = Vec::new();
        mailwarden_render::inert::to_writer(&mut line, observation)?;
        line.push(b'\n');
        self.out
            .write_all(&line)
            .and_then(|()| self.out.flush())
            .with_context(|| format!("--save-evidence {}", self.path.display()))
    }
}

/// The exit code of a run, after saying on standard error when no domain
/// saw anything (that run exits 2: it is no audit result).
pub fn finish(sight: &RunSight, had_errors: bool, failed: bool) -> ExitCode {
    let blind = sight.nothing_at_all();
    if let Some(message) = &blind {
        eprintln!("mailwarden: {message}");
    }
    exit_code(had_errors || blind.is_some(), failed)
}

/// 2 when some input was unusable (even if the rest ran) or nothing could
/// be seen at all, 1 when a finding reached `--fail-on`, else 0.
pub fn exit_code(had_errors: bool, failed: bool) -> ExitCode {
    if had_errors {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Audit one domain and complete its findings from the catalogue.
pub async fn scan_one(
    source: &dyn DnsSource,
    prober: &dyn Prober,
    name: &DomainName,
    options: &ScanOptions,
    budget: Budget,
) -> DomainReport {
    let started = time::OffsetDateTime::now_utc();
    let clock = Instant::now();
    let audit = mailwarden_engine::audit(
        source,
        prober,
        name.as_str(),
        options.clone(),
        budget,
        started.unix_timestamp(),
    )
    .await;
    let mut observation = audit.observation;
    observation.started_at = started.format(&time::format_description::well_known::Rfc3339).ok();
    observation.duration_ms = Some(clock.elapsed().as_millis() as u64);
    report(audit.findings, observation)
}

/// Write one finished domain: its evidence line, its report, and what the
/// run saw of it.
fn write_one(
    report: &DomainReport,
    evidence: &mut Option<Evidence>,
    sink: &mut Sink,
    sight: &mut RunSight,
    progress: &ProgressBar,
) -> Result<()> {
    if let Some(ev) = evidence.as_mut() {
        ev.write(&report.observation)?;
    }
    progress.suspend(|| sink.push(report))?;
    if let Some(line) = sight.record(report) {
        progress.suspend(|| eprintln!("mailwarden: {line}"));
    }
    Ok(())
}

/// What DNSSEC answers were validated against, in words.
fn trust_anchor_label(dns: &crate::args::DnsArgs) -> String {
    match (&dns.trust_anchor, dns.no_dnssec, dns.zone_files.is_empty()) {
        (_, _, false) => "none (zone files are read offline, unvalidated)".into(),
        (_, true, _) => "none (--no-dnssec)".into(),
        (Some(path), _, _) => format!("{} (--trust-anchor)", path.display()),
        (None, false, true) => "the IANA root KSK built into mailwarden".into(),
    }
}

/// How many domains the run has, when that is known before it starts:
/// the arguments plus the lines of an `--input` file (counted in one
/// streaming pass). Standard input and pipes (`--input <(...)`) cannot be
/// read twice, so their total is unknown.
fn input_total(args: &ScanArgs) -> Option<u64> {
    let from_args = args.domains.len() as u64;
    match args.input.as_deref() {
        None => Some(from_args),
        Some(p) if p == Path::new("-") || !p.metadata().is_ok_and(|m| m.is_file()) => None,
        Some(p) => {
            let file = BufReader::new(File::open(p).ok()?);
            let lines = file
                .lines()
                .map_while(Result::ok)
                .filter(|l| !l.split('#').next().unwrap_or("").trim().is_empty())
                .count();
            Some(from_args + lines as u64)
        }
    }
}

/// Progress on standard error, for lists on a terminal: done/total, rate
/// and ETA when the total is known; done and rate otherwise.
fn progress_bar(list: bool, total: Option<u64>) -> ProgressBar {
    if !list || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(n) => (
            ProgressBar::new(n),
            "{bar:30} {pos}/{len} domains, {per_sec}, ETA {eta} ({elapsed} so far)",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} {pos} domains scanned, {per_sec}, {elapsed}",
        ),
    };
    bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn scan_args(args: &[&str]) -> ScanArgs {
        match Cli::try_parse_from(["mailwarden", "scan"].iter().chain(args))
            .unwrap()
            .command
        {
            Command::Scan(scan) => scan,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn progress_total_counts_arguments_and_input_lines_but_not_comments_or_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("list");
        std::fs::write(&list, "a.example\n\n# comment\nb.example # note\n  \nc.example\n").unwrap();
        let path = list.to_str().unwrap();
        assert_eq!(input_total(&scan_args(&["x.example", "y.example"])), Some(2));
        assert_eq!(input_total(&scan_args(&["x.example", "--input", path])), Some(4));
        assert_eq!(input_total(&scan_args(&["--input", "-"])), None);
    }
}

//! `mailwarden scan`: read domains (arguments, a file or standard input),
//! audit them concurrently, and stream each report as it finishes.
//!
//! Memory stays flat however long the list: domains are read through a
//! bounded channel, at most `--concurrency` are in flight, and each report
//! is written and dropped as soon as it is done.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use futures::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use mailwarden_checks::collect::Budget;
use mailwarden_dns::DnsSource;
use mailwarden_model::{DomainName, Prober, ScanOptions};
use mailwarden_render::DomainReport;

use crate::args::ScanArgs;
use crate::config::{self, OutputConfig};
use crate::output::{Sink, report};
use crate::seen::RunSight;

pub async fn run(args: ScanArgs) -> Result<ExitCode> {
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
    let lines = crate::input::spawn_reader(&args.domains, args.input.as_deref())?;
    let source = config::dns_source(&args.dns, args.probe.allow_private_targets).await?;
    let prober = &config::prober(&args, options)?;
    let progress = progress_bar(args.input.is_some() || args.domains.len() > 1);
    let mut sink = Sink::new(output)?;
    let mut bad_input = 0usize;
    let mut sight = RunSight::default();

    let mut lines = lines;
    let reports = stream::poll_fn(move |cx| lines.poll_recv(cx))
        .map(|line| {
            line.parse().map_err(|e| {
                progress.suspend(|| eprintln!("mailwarden: {e}"));
            })
        })
        .map(|item| {
            let source = Arc::clone(&source);
            async move {
                match item {
                    Ok(name) => Some(scan_one(source.as_ref(), prober, &name, options, budget).await),
                    Err(()) => None,
                }
            }
        })
        .buffer_unordered(args.concurrency);
    futures::pin_mut!(reports);
    let mut scanned = 0usize;
    // Ctrl-C stops taking results; what is done is still written whole.
    while let Some(result) = interrupt.until(reports.next()).await.flatten() {
        let Some(report) = result else {
            bad_input += 1;
            continue;
        };
        if let Some(ev) = evidence.as_mut() {
            ev.write(&report.observation)?;
        }
        progress.suspend(|| sink.push(&report))?;
        if let Some(line) = sight.record(&report) {
            progress.suspend(|| eprintln!("mailwarden: {line}"));
        }
        progress.inc(1);
        scanned += 1;
    }
    progress.finish_and_clear();
    let failed = sink.finish()?;
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
    let audit = mailwarden_checks::audit(
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

fn progress_bar(list: bool) -> ProgressBar {
    if !list || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} domains scanned, {per_sec}, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

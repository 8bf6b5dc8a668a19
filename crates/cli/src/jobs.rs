//! `mailwarden jobs submit|status|results|list`: a large scan as a job in
//! the store, for `mailwarden worker` processes (crates/cli/src/worker.rs)
//! to scan between them. The list is split into batches; each domain's
//! report is stored as the line `mailwarden scan --format jsonl` would
//! print, and `jobs results` prints them in list order.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use mailwarden_store::jobs::{self, NewJob};

use crate::args::Format;

/// Bad lines quoted in the error when a list is refused.
const BAD_LINES_SHOWN: usize = 10;

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Store a domain list as a job for `mailwarden worker` processes: split into batches,
    /// scanned with the `mailwarden scan` flags given after `--` (paths in them are read by the
    /// workers: give absolute ones). Prints the job id.
    Submit {
        /// The list: one domain a line, `#` comments; - for standard input.
        input: PathBuf,
        /// Domains per batch: a worker's unit of claim, and what a killed worker leaves for another.
        #[arg(long, default_value_t = jobs::DEFAULT_BATCH_SIZE as u32, value_name = "N",
              value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batch_size: u32,
        /// `mailwarden scan` flags for every domain, after `--` (e.g. `-- --no-smtp --resolver 10.0.0.53`).
        #[arg(last = true, value_name = "SCAN FLAGS")]
        scan_flags: Vec<String>,
    },
    /// How far a job is: batches pending, running (by whom, lease until when) and done, domains stored.
    Status {
        job: i64,
        /// Output format (text or json).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// A job's stored reports, in list order, one JSON object a line (as `scan --format jsonl`).
    Results {
        job: i64,
        /// Output format (jsonl only).
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
    },
    /// The jobs in the store, newest first.
    List {
        /// Output format (text or json).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

pub async fn run(db: Option<&str>, command: JobsCommand) -> Result<ExitCode> {
    let store = crate::monitor::open_store(db).await?;
    match command {
        JobsCommand::Submit {
            input,
            batch_size,
            scan_flags,
        } => submit(&store, &input, batch_size as usize, &scan_flags).await,
        JobsCommand::Status { job, format } => status(&store, job, format).await,
        JobsCommand::Results { job, format } => results(&store, job, format).await,
        JobsCommand::List { format } => list(&store, format).await,
    }
}

async fn submit(
    store: &mailwarden_store::Store,
    input: &Path,
    batch_size: usize,
    flags: &[String],
) -> Result<ExitCode> {
    // The flags are checked now, not by each worker later.
    let args = crate::monitor::scan_args("job.invalid", flags)?;
    crate::config::scan_options(&args).context("the scan flags of the job")?;
    let domains = read_list(input).await?;
    if domains.is_empty() {
        bail!("{}: no domain names in the list", input.display());
    }
    let label = input.display().to_string();
    let job = NewJob {
        scan_flags: flags,
        batch_size,
        label: &label,
    };
    let id = jobs::submit(store, &job, &domains).await?;
    let batches = domains.len().div_ceil(batch_size);
    eprintln!(
        "mailwarden: job {id}: {} domain(s) in {batches} batch(es) of up to {batch_size}; start workers with `mailwarden worker --db {}`",
        domains.len(),
        store.url()
    );
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}

/// Every domain of the list, each once, in list order. A list with a bad
/// line is refused whole (nothing is stored), naming the lines.
async fn read_list(input: &Path) -> Result<Vec<String>> {
    let mut lines = crate::input::spawn_reader(&[], Some(input))?;
    let mut seen = HashSet::new();
    let (mut domains, mut bad) = (Vec::new(), Vec::new());
    while let Some(line) = lines.recv().await {
        match line.parse() {
            Ok(name) if seen.insert(name.as_str().to_string()) => domains.push(name.as_str().to_string()),
            Ok(_) => {}
            Err(e) => bad.push(e.to_string()),
        }
    }
    if !bad.is_empty() {
        let more = bad.len().saturating_sub(BAD_LINES_SHOWN);
        let mut text = bad.into_iter().take(BAD_LINES_SHOWN).collect::<Vec<_>>().join("\n  ");
        if more > 0 {
            text.push_str(&format!("\n  ... and {more} more"));
        }
        bail!("the list has lines that are no domain names; nothing was submitted:\n  {text}");
    }
    Ok(domains)
}

async fn status(store: &mailwarden_store::Store, id: i64, format: Format) -> Result<ExitCode> {
    let s = jobs::status(store, id).await?;
    if format != Format::Text {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    let state = if s.complete() { "complete" } else { "in progress" };
    println!(
        "job {} ({state}): {} of {} domain(s) stored",
        s.job.id, s.domains_done, s.job.domain_count
    );
    println!("  list:     {} (submitted {})", s.job.label, s.job.created_at);
    println!(
        "  batches:  {} pending, {} running, {} done ({} claimed again after a lease ran out)",
        s.batches_pending, s.batches_running, s.batches_done, s.batches_reclaimed
    );
    if let (Some(first), Some(last)) = (&s.first_result_at, &s.last_result_at) {
        let rate = rate(s.domains_done, first, last).map_or_else(String::new, |r| format!(", {r:.1} domains/s"));
        println!(
            "  results:  first {first}, last {last}, from {} worker(s){rate}",
            s.workers
        );
    }
    for l in &s.running {
        println!(
            "  running:  batch {} by {} until {} (attempt {})",
            l.batch_id, l.lease_owner, l.lease_until, l.attempts
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Domains per second between the first and the last stored result.
fn rate(done: i64, first: &str, last: &str) -> Option<f64> {
    let secs = (mailwarden_store::parse_time(last)? - mailwarden_store::parse_time(first)?).as_seconds_f64();
    (secs > 0.0).then(|| done as f64 / secs)
}

async fn results(store: &mailwarden_store::Store, id: i64, format: Format) -> Result<ExitCode> {
    if format != Format::Jsonl {
        bail!("--format {format:?}: job results are printed as jsonl only");
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut io_error = None;
    jobs::results(store, id, |line| {
        if let Err(e) = out.write_all(line).and_then(|()| out.write_all(b"\n")) {
            io_error = Some(e);
            return Err(mailwarden_store::StoreError::NotFound("standard output closed".into()));
        }
        Ok(())
    })
    .await
    .map_err(|e| match io_error.take() {
        Some(io) => anyhow::Error::from(io),
        None => e.into(),
    })?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

async fn list(store: &mailwarden_store::Store, format: Format) -> Result<ExitCode> {
    let all = jobs::list(store).await?;
    if format != Format::Text {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        println!("no job in the store (mailwarden jobs submit LIST)");
    }
    for j in &all {
        println!(
            "{}  {} domain(s)  submitted {}  {}  [{}]",
            j.id,
            j.domain_count,
            j.created_at,
            j.label,
            jobs::scan_flags(&j.options).join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

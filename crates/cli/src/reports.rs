//! `mailwarden reports import PATH...`: read DMARC aggregate and failure
//! reports and TLS reports from files and directories (mbox, maildir,
//! e-mails, plain, gzip, zip) into the report store, one outcome per
//! report: imported, duplicate or rejected with a typed reason.
//!
//! Exit code: 0 when every input was imported or a duplicate, 1 when any
//! was rejected, 2 when the store cannot be written (nothing stored is
//! lost: a report counts as imported only once its index line is synced).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use mailwarden_ingest::{DirSink, Limits, MemorySink, Outcome, ReportSink, Status, import, walk};
use mailwarden_render::inert;

use crate::args::Format;

#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// Import report files, e-mails, mbox files and maildir folders (directories are walked).
    Import(ImportArgs),
    /// Import the reports of an IMAP folder's messages, marking or moving each once stored.
    Fetch(crate::reports_fetch::FetchArgs),
    /// Take reports over HTTP(S): RFC 8460 TLS report POSTs and authenticated uploads.
    Serve(crate::reports_serve::ServeArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files or directories: aggregate XML, TLS-RPT JSON, .gz, .zip, .eml, mbox, maildir.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// text: a summary; json or jsonl: one JSON object per report on its own line.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The report store directory (default: $XDG_DATA_HOME/mailwarden/reports,
    /// else ~/.local/share/mailwarden/reports).
    #[arg(long, value_name = "DIR", env = "MAILWARDEN_REPORTS_DIR")]
    pub store: Option<PathBuf>,
    /// Parse and check only; store nothing (duplicates are found within this run).
    #[arg(long, conflicts_with = "store")]
    pub dry_run: bool,
    /// The largest input file and the largest decompressed report, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_decompressed)]
    pub max_size: u64,
}

pub async fn run(command: ReportsCommand) -> Result<ExitCode> {
    match command {
        ReportsCommand::Import(args) => run_import(&args),
        ReportsCommand::Fetch(args) => crate::reports_fetch::run(args).await,
        ReportsCommand::Serve(args) => crate::reports_serve::run(args).await,
    }
}

fn run_import(args: &ImportArgs) -> Result<ExitCode> {
    let limits = Limits {
        max_input: args.max_size,
        max_decompressed: args.max_size,
        ..Limits::default()
    };
    let (mut sink, place) = open_store(args.store.as_deref(), args.dry_run)?;
    let mut out = io::stdout().lock();
    let mut tally = Tally::default();
    for file in walk::files(&args.paths) {
        let outcomes = match file {
            Ok(path) => import_file(&path, &limits, sink.as_mut())?,
            Err((path, e)) => vec![mailwarden_ingest::import::unreadable(&path.display().to_string(), &e)],
        };
        for o in &outcomes {
            tally.add(o);
            print(&mut out, args.format, o)?;
        }
    }
    if args.format == Format::Text {
        tally.summary(&mut out, place.as_deref())?;
    }
    out.flush()?;
    Ok(if tally.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The report store (`--store`, else the default directory), or memory
/// for a dry run; the place is `None` for memory.
pub(crate) fn open_store(store: Option<&Path>, dry_run: bool) -> Result<(Box<dyn ReportSink + Send>, Option<PathBuf>)> {
    if dry_run {
        return Ok((Box::new(MemorySink::default()), None));
    }
    let dir = store_dir(store)?;
    let sink = DirSink::open(&dir).with_context(|| format!("cannot open the report store {}", dir.display()))?;
    Ok((Box::new(sink), Some(dir)))
}

/// Read one file within the input cap and import its reports.
fn import_file(path: &Path, limits: &Limits, sink: &mut dyn ReportSink) -> Result<Vec<Outcome>> {
    let label = path.display().to_string();
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(limits.max_input.saturating_add(1)).read_to_end(&mut bytes));
    if let Err(e) = read {
        return Ok(vec![mailwarden_ingest::import::unreadable(&label, &e)]);
    }
    import(&label, &bytes, limits, sink).with_context(|| format!("storing the reports of {label}"))
}

fn store_dir(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir.to_path_buf());
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(data).join("mailwarden/reports"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(home).join(".local/share/mailwarden/reports"));
    }
    bail!("no report store: pass --store DIR (or set MAILWARDEN_REPORTS_DIR)")
}

pub(crate) fn print(out: &mut impl Write, format: Format, o: &Outcome) -> io::Result<()> {
    match format {
        Format::Json | Format::Jsonl => {
            inert::to_writer(&mut *out, o)?;
            writeln!(out)
        }
        Format::Text => {
            let file = inert::line(&o.file);
            match o.status {
                Status::Rejected => {
                    let reason = o.reason.map_or("-", |r| r.as_str());
                    let at = o.position.map(|p| format!(" (at {p})")).unwrap_or_default();
                    let detail = inert::block(o.detail.as_deref().unwrap_or_default());
                    writeln!(out, "rejected   {file}: {reason}: {detail}{at}")?;
                }
                status => {
                    let kind = o.kind.map_or("-", |k| k.as_str());
                    let records = o.records.unwrap_or_default();
                    writeln!(out, "{:<10} {file}: {kind}, records: {records}", status.as_str())?;
                }
            }
            for w in &o.warnings {
                writeln!(out, "           warning: {}", inert::block(w))?;
            }
            Ok(())
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Tally {
    imported: usize,
    records: usize,
    duplicate: usize,
    pub(crate) rejected: usize,
}

impl Tally {
    pub(crate) fn add(&mut self, o: &Outcome) {
        match o.status {
            Status::Imported => {
                self.imported += 1;
                self.records += o.records.unwrap_or_default();
            }
            Status::Duplicate => self.duplicate += 1,
            Status::Rejected => self.rejected += 1,
        }
    }

    pub(crate) fn summary(&self, out: &mut impl Write, place: Option<&Path>) -> io::Result<()> {
        let where_ = place.map_or_else(
            || "nothing stored (--dry-run)".to_string(),
            |p| format!("store {}", inert::line(&p.display().to_string())),
        );
        writeln!(
            out,
            "{} imported ({} records), {} duplicate, {} rejected; {where_}",
            self.imported, self.records, self.duplicate, self.rejected
        )
    }
}

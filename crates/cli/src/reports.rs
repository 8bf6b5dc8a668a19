//! `mailwarden reports import PATH...`: read DMARC aggregate and failure
//! reports and TLS reports from files and directories (mbox, maildir,
//! e-mails, plain, gzip, zip) into the report store, one outcome per
//! report: imported, duplicate or rejected with a typed reason.
//!
//! Reports go to the database (`--db`, `MAILWARDEN_DB`, else the default
//! SQLite file), each in one transaction; `--store-dir DIR` keeps the
//! directory store instead. [`open_sink`] is the one place that chooses,
//! for every command that imports (`reports import`, `reports fetch`).
//!
//! Exit code: 0 when every input was imported or a duplicate, 1 when any
//! was rejected, 2 when the store cannot be written (nothing stored is
//! lost: a report counts as imported only once its transaction commits).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use mailwarden_ingest::{DirSink, Limits, MemorySink, Outcome, ReportSink, RunSummary, Status, import_reader, walk};
use mailwarden_render::inert;
use mailwarden_store::reports::StoreSink;

use crate::args::Format;
use crate::audit::open_store;

#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// Import report files, e-mails, mbox files and maildir folders (directories are walked).
    Import(ImportArgs),
    /// List the stored reports (id, kind, reporter, domain, day, records).
    List(crate::reports_view::ListArgs),
    /// Show one stored report: its header, rows (aggregate) or policies (TLS).
    Show(crate::reports_view::ShowArgs),
    /// TLS-RPT summary of a domain: sessions per policy and MX, failures per result type.
    Tls(crate::reports_view::TlsArgs),
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
    /// Store in this directory instead of the database (`--db`, the default).
    #[arg(
        long = "store-dir",
        alias = "store",
        value_name = "DIR",
        env = "MAILWARDEN_REPORTS_DIR"
    )]
    pub store_dir: Option<PathBuf>,
    /// Parse and check only; store nothing (duplicates are found within this run).
    #[arg(long, conflicts_with = "store_dir")]
    pub dry_run: bool,
    /// The largest input file and the largest decompressed report, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_decompressed)]
    pub max_size: u64,
}

pub async fn run(db: Option<&str>, command: ReportsCommand) -> Result<ExitCode> {
    match command {
        ReportsCommand::Import(args) => run_import(db, &args).await,
        ReportsCommand::List(args) => crate::reports_view::list(db, args).await,
        ReportsCommand::Show(args) => crate::reports_view::show(db, args).await,
        ReportsCommand::Tls(args) => crate::reports_view::tls(db, args).await,
        ReportsCommand::Fetch(args) => crate::reports_fetch::run(db, args).await,
        ReportsCommand::Serve(args) => crate::reports_serve::run(db, args).await,
    }
}

/// Where imported reports go: the directory `store_dir` when given (the
/// directory store), else the database of `--db` / `MAILWARDEN_DB` / the
/// default SQLite file. The database sink must be used inside the tokio
/// runtime (it blocks in place for each report).
pub async fn open_sink(db: Option<&str>, store_dir: Option<&Path>) -> Result<Box<dyn ReportSink + Send>> {
    Ok(match store_dir {
        Some(dir) => {
            Box::new(DirSink::open(dir).with_context(|| format!("cannot open the report store {}", dir.display()))?)
        }
        None => Box::new(StoreSink::new(open_store(db).await?)?),
    })
}

/// How [`open_sink`]'s choice is named in the summary line (a database
/// URL with its password hidden).
pub fn sink_place(db: Option<&str>, store_dir: Option<&Path>) -> String {
    if let Some(dir) = store_dir {
        return format!("store {}", dir.display());
    }
    let url = db
        .map(str::to_owned)
        .or_else(|| std::env::var("MAILWARDEN_DB").ok().filter(|v| !v.is_empty()))
        .or_else(|| mailwarden_store::location::default_url().ok())
        .unwrap_or_default();
    let shown = mailwarden_store::location::Target::parse(&url).map_or(url, |t| t.shown());
    format!("database {shown}")
}

async fn run_import(db: Option<&str>, args: &ImportArgs) -> Result<ExitCode> {
    let limits = Limits {
        max_input: args.max_size,
        max_decompressed: args.max_size,
        ..Limits::default()
    };
    let (mut sink, place): (Box<dyn ReportSink + Send>, Option<String>) = if args.dry_run {
        (Box::new(MemorySink::default()), None)
    } else {
        let sink = open_sink(db, args.store_dir.as_deref()).await?;
        (sink, Some(sink_place(db, args.store_dir.as_deref())))
    };
    let mut out = io::stdout().lock();
    let mut tally = Tally::default();
    let mut run = RunSummary::default();
    for file in walk::files(&args.paths) {
        let outcomes = match file {
            Ok(path) => import_file(&path, &limits, sink.as_mut())?,
            Err((path, e)) => vec![mailwarden_ingest::import::unreadable(&path.display().to_string(), &e)],
        };
        for o in &outcomes {
            tally.add(o);
            run.add(o);
            print(&mut out, args.format, o)?;
        }
    }
    if args.format == Format::Text {
        tally.summary(&mut out, place.as_deref())?;
    }
    out.flush()?;
    // The run into the audit log (database only: the directory store and
    // --dry-run have no log).
    if !args.dry_run && args.store_dir.is_none() && !run.is_empty() {
        let store = open_store(db).await?;
        mailwarden_store::reports::record_run(&store, "import", &run)
            .await
            .context("recording the import in the audit log (the reports are stored)")?;
    }
    Ok(if tally.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Read one file within the input cap and import its reports.
/// The file is read as a stream: an aggregate report goes into a
/// streaming sink (the database) row batch by row batch, so memory stays
/// flat whatever its size; other inputs are read within the caps.
fn import_file(path: &Path, limits: &Limits, sink: &mut dyn ReportSink) -> Result<Vec<Outcome>> {
    let label = path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return Ok(vec![mailwarden_ingest::import::unreadable(&label, &e)]),
    };
    import_reader(&label, file, limits, sink).with_context(|| format!("storing the reports of {label}"))
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

    pub(crate) fn summary(&self, out: &mut impl Write, place: Option<&str>) -> io::Result<()> {
        let where_ = place.map_or_else(|| "nothing stored (--dry-run)".into(), inert::line);
        writeln!(
            out,
            "{} imported ({} records), {} duplicate, {} rejected; {where_}",
            self.imported, self.records, self.duplicate, self.rejected
        )
    }
}

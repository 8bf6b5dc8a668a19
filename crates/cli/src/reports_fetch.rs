//! `mailwarden reports fetch --imap imaps://HOST[:PORT]/FOLDER`: import
//! the reports of every unprocessed message of an IMAP folder, then mark
//! the message (keyword `$MailwardenImported`, or `\Seen` where keywords
//! are not allowed) or move it (`--move-to`). A message is marked only
//! after `import()` has returned, that is after the sink has committed its
//! reports: a crash in between leaves it unmarked, the next run reads it
//! again and the duplicate rule keeps its reports single. A message with
//! a rejected part stays in the folder, flagged `$MailwardenRejected`.
//!
//! `--watch` keeps going: IDLE (RFC 2177) between rounds, and on a lost
//! connection a reconnect after 1 s, 2 s, 4 s ... up to 5 minutes.
//!
//! Exit code (without `--watch`): 0 when every report was imported or a
//! duplicate, 1 when any part was rejected, 2 when the mailbox or the
//! store failed.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use mailwarden_ingest::{Limits, Outcome, Reason, ReportSink, RunSummary, Status, import};
use mailwarden_mailbox::{Backoff, Disposition, Mailbox, MailboxUrl, Options, Pending, Secret, Wake};
use mailwarden_roots::Roots;

use crate::args::Format;
use crate::audit::open_store;
use crate::reports::{Tally, open_sink, print, sink_place};

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The folder to read: `imaps://HOST[:PORT]/FOLDER` (port 993), or
    /// `imap://HOST[:PORT]/FOLDER` for STARTTLS (port 143). Never cleartext.
    #[arg(long, value_name = "URL")]
    pub imap: String,
    /// The IMAP user name.
    #[arg(long, value_name = "USER")]
    pub user: String,
    /// A file holding the password (its first line; keep it mode 600).
    #[arg(long, value_name = "FILE")]
    pub password_file: PathBuf,
    /// Move messages whose reports are stored to this folder (created if
    /// missing) instead of flagging them in place.
    #[arg(long, value_name = "FOLDER")]
    pub move_to: Option<String>,
    /// Connect in plain text and upgrade with STARTTLS before logging in
    /// (port 143 unless the URL names one).
    #[arg(long)]
    pub starttls: bool,
    /// Trust these PEM CA certificates for the server instead of the
    /// built-in webpki roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Keep running: wait for new mail with IDLE and reconnect when the
    /// connection is lost.
    #[arg(long)]
    pub watch: bool,
    /// text: a line per report; json or jsonl: one JSON object per report.
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
    /// The largest message and the largest decompressed report, in bytes;
    /// a larger message is not downloaded and stays flagged as rejected.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_decompressed)]
    pub max_size: u64,
    /// Seconds allowed for connecting and for each IMAP command.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
}

/// RFC 2177 §3: "clients using IDLE are advised to terminate the IDLE and
/// re-issue it at least every 29 minutes to avoid being logged off."
const IDLE_PERIOD: Duration = Duration::from_secs(29 * 60);

pub async fn run(db: Option<&str>, args: FetchArgs) -> Result<ExitCode> {
    let opts = options(&args)?;
    let limits = Limits {
        max_input: args.max_size,
        max_decompressed: args.max_size,
        ..Limits::default()
    };
    let mut sink = open_sink(db, args.store_dir.as_deref()).await?;
    let place = sink_place(db, args.store_dir.as_deref());
    // The audit log is the database's: the directory store has none.
    let audit = match args.store_dir {
        None => Some(open_store(db).await?),
        Some(_) => None,
    };
    let mut run = Round {
        limits,
        format: args.format,
        tally: Tally::default(),
        summary: RunSummary::default(),
        label: opts.url.to_string(),
        place,
    };
    // A wrong password, certificate or folder shows at once, even with --watch.
    let mut mailbox = Mailbox::open(&opts).await?;
    let mut backoff = Backoff::default();
    loop {
        let worked = run.drain(&mut mailbox, sink.as_mut()).await;
        // Whatever stopped the round, what it stored goes into the log.
        run.record(audit.as_ref()).await?;
        let failure = match worked {
            Ok(()) if !args.watch => {
                mailbox.logout().await;
                break;
            }
            Ok(()) => match mailbox.wait(IDLE_PERIOD).await {
                Ok((open, Wake::Changed | Wake::Quiet)) => {
                    mailbox = open;
                    backoff.reset();
                    continue;
                }
                Err(e) => anyhow::Error::new(e),
            },
            Err(Stop::Store(e)) => return Err(e),
            Err(Stop::Mailbox(e)) if args.watch => anyhow::Error::new(e),
            Err(Stop::Mailbox(e)) => return Err(e.into()),
        };
        mailbox = reconnect(&opts, &mut backoff, &failure).await;
    }
    run.finish()
}

/// Open the mailbox again, waiting longer after each failure (`--watch`).
async fn reconnect(opts: &Options, backoff: &mut Backoff, failure: &anyhow::Error) -> Mailbox {
    let mut why = format!("{failure:#}");
    loop {
        let delay = backoff.delay();
        eprintln!("mailwarden: {why}; reconnecting in {}s", delay.as_secs());
        tokio::time::sleep(delay).await;
        match Mailbox::open(opts).await {
            Ok(m) => return m,
            Err(e) => why = e.to_string(),
        }
    }
}

fn options(args: &FetchArgs) -> Result<Options> {
    let url = MailboxUrl::parse(&args.imap, args.starttls)?;
    let text = std::fs::read_to_string(&args.password_file)
        .with_context(|| format!("cannot read the password file {}", args.password_file.display()))?;
    let password = text.lines().next().unwrap_or_default().to_string();
    if password.is_empty() {
        bail!(
            "{}: the first line (the password) is empty",
            args.password_file.display()
        );
    }
    let roots = match &args.ca_file {
        None => Roots::webpki(),
        Some(path) => {
            let pem = std::fs::read(path).with_context(|| format!("cannot read the CA file {}", path.display()))?;
            Roots::from_pem(&pem).with_context(|| format!("CA file {}", path.display()))?
        }
    };
    Ok(Options {
        url,
        user: args.user.clone(),
        password: Secret(password),
        roots,
        move_to: args.move_to.clone(),
        timeout: Duration::from_secs(args.timeout.max(1)),
    })
}

/// Why a round stopped: the store failing ends the run; the mailbox
/// failing ends it too, unless `--watch` reconnects.
enum Stop {
    Store(anyhow::Error),
    Mailbox(mailwarden_mailbox::Error),
}

impl From<mailwarden_mailbox::Error> for Stop {
    fn from(e: mailwarden_mailbox::Error) -> Stop {
        Stop::Mailbox(e)
    }
}

struct Round {
    limits: Limits,
    format: Format,
    tally: Tally,
    /// This round's outcomes, for its `reports-imported` audit event.
    summary: RunSummary,
    /// The mailbox URL, the prefix of each message's label.
    label: String,
    /// Where the reports go, for the summary.
    place: String,
}

impl Round {
    /// Import every unprocessed message, marking each after its reports are stored.
    async fn drain(&mut self, mailbox: &mut Mailbox, sink: &mut dyn ReportSink) -> Result<(), Stop> {
        for pending in mailbox.pending().await? {
            // RFC 5092 §6: a message of a mailbox is `imap://.../FOLDER;UID=n`.
            let label = format!("{};UID={}", self.label, pending.uid);
            let outcomes = if pending.size > self.limits.max_input {
                vec![too_large(&label, pending, self.limits.max_input)]
            } else {
                let Some(message) = mailbox.fetch(pending.uid).await? else {
                    continue; // expunged by someone else meanwhile
                };
                // The sink may block (files, a database): off the async workers.
                tokio::task::block_in_place(|| import(&label, &message, &self.limits, sink))
                    .with_context(|| format!("storing the reports of {label}"))
                    .map_err(Stop::Store)?
            };
            self.show(&outcomes).map_err(|e| Stop::Store(e.into()))?;
            let disposition = if outcomes.iter().any(|o| o.status == Status::Rejected) {
                Disposition::Rejected
            } else {
                Disposition::Stored
            };
            // Only now: every report of the message is committed.
            mailbox.finish(pending.uid, disposition).await?;
        }
        Ok(())
    }

    fn show(&mut self, outcomes: &[Outcome]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        for o in outcomes {
            self.tally.add(o);
            self.summary.add(o);
            print(&mut out, self.format, o)?;
        }
        out.flush()
    }

    /// One `reports-imported` event (source `fetch`) for a round that read
    /// any message, as `reports import` writes one per run; with `--watch`
    /// each round after IDLE is a run of its own.
    async fn record(&mut self, audit: Option<&mailwarden_store::Store>) -> Result<()> {
        let summary = std::mem::take(&mut self.summary);
        if let Some(store) = audit
            && !summary.is_empty()
        {
            mailwarden_store::reports::record_run(store, "fetch", &summary)
                .await
                .context("recording the fetch in the audit log (the reports are stored)")?;
        }
        Ok(())
    }

    fn finish(&self) -> Result<ExitCode> {
        let mut out = io::stdout().lock();
        if self.format == Format::Text {
            self.tally.summary(&mut out, Some(&self.place))?;
        }
        out.flush()?;
        Ok(if self.tally.rejected > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// A message over `--max-size` is not downloaded at all.
fn too_large(label: &str, pending: Pending, cap: u64) -> Outcome {
    Outcome {
        file: label.to_string(),
        status: Status::Rejected,
        kind: None,
        records: None,
        id: None,
        reason: Some(Reason::SizeLimit),
        detail: Some(format!(
            "a message of {} bytes, over the cap of {cap} bytes",
            pending.size
        )),
        position: None,
        warnings: Vec::new(),
    }
}

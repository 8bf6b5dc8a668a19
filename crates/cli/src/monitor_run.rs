//! `mailwarden monitor run`: scan each monitored domain when it is due,
//! store every scan (snapshot or seen-again mark), detect changes and queue
//! alerts in the same transaction. `--once` scans every monitored domain
//! once and exits 0 (cron, CI, tests). Runs until SIGTERM or SIGINT: no new
//! scan starts, scans in flight get a grace period to finish and be stored,
//! and one still running after it is abandoned whole (its transaction never
//! began or rolls back): nothing half-stored.
//!
//! Scans go through [`crate::scan::scan_one`], the path `mailwarden scan`
//! takes, with the options stored with the monitor.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use futures::StreamExt;
use mailwarden_dns::DnsSource;
use mailwarden_engine::collect::Budget;
use mailwarden_model::{DomainName, ScanOptions, Severity};
use mailwarden_policy::Catalogue;
use mailwarden_policy::profile::Profile;
use mailwarden_store::ingest::{AlertPolicy, Finished, ingest_batch};
use mailwarden_store::monitor::Monitor;
use mailwarden_store::snapshot::{ScanInput, Stored};
use mailwarden_store::{Store, monitor, retention};
use time::OffsetDateTime;
use tokio::sync::Notify;

/// How long scans in flight may take to finish after SIGTERM/SIGINT.
const GRACE: Duration = Duration::from_secs(20);
/// Longest sleep between looks at what is due.
const TICK: Duration = Duration::from_secs(30);
/// Retention runs at most this often from `monitor run`.
const RETENTION_EVERY: time::Duration = time::Duration::days(1);

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scan every monitored domain once (due or not), then exit 0.
    #[arg(long)]
    pub once: bool,
    /// Domains scanned at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
    /// Alert when a finding newly fails at or above this severity.
    #[arg(long, default_value = "high", value_name = "SEVERITY")]
    pub alert_severity: String,
    /// Alert this many days before an MX certificate expires.
    #[arg(long, default_value_t = 14, value_name = "DAYS")]
    pub certificate_days: i64,
    /// Most seconds of random delay added to a domain's next scan, so scans
    /// spread out. Default: a tenth of its period, at most 300.
    #[arg(long, value_name = "SECS")]
    pub jitter: Option<u64>,
    /// PostgreSQL, several `monitor run` processes: how long a domain this process claimed stays
    /// its own before another takes it (after a crash). Must cover the scans of one claim
    /// (4 × --concurrency domains). s, m, h.
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    pub lease: String,
    #[command(flatten)]
    pub measure: Measure,
}

/// Flags for measuring what the store costs (bench/monitor-lab.sh).
#[derive(Debug, Default, Args)]
pub struct Measure {
    /// Print where the run's time went: wall time, time writing to the
    /// store (each scan's transaction, seen-again marks, claim releases),
    /// reading remembered selectors, and scanning.
    #[arg(long)]
    pub timings: bool,
    /// With --once: scan every monitored domain the same way but store
    /// nothing and queue no alert: the scans alone, to compare a stored run
    /// with.
    #[arg(long, requires = "once")]
    pub no_store: bool,
}

/// Stop requested (SIGTERM or SIGINT), and a way to wait for it.
#[derive(Default)]
struct Stop {
    flag: AtomicBool,
    notify: Notify,
}

impl Stop {
    fn install() -> Result<Arc<Self>> {
        use tokio::signal::unix::{SignalKind, signal};
        let stop = Arc::new(Stop::default());
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let s = Arc::clone(&stop);
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            s.flag.store(true, Ordering::SeqCst);
            s.notify.notify_waiters();
        });
        Ok(stop)
    }

    fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    async fn wait(&self) {
        let notified = self.notify.notified();
        futures::pin_mut!(notified);
        notified.as_mut().enable();
        if !self.requested() {
            notified.await;
        }
    }
}

pub async fn run(store: Store, args: RunArgs) -> Result<ExitCode> {
    let done = run_on(&store, args).await;
    // Closing the pool checkpoints SQLite's WAL into the database file: a
    // copy of the file alone (the monitor bench's `cp`) then holds every
    // committed scan, not only those before the last automatic checkpoint.
    store.close().await;
    done
}

async fn run_on(store: &Store, args: RunArgs) -> Result<ExitCode> {
    if args.concurrency == 0 {
        anyhow::bail!("--concurrency 0: at least one domain must be scanned at a time");
    }
    let policy = AlertPolicy {
        min_severity: Severity::parse(&args.alert_severity).with_context(|| {
            format!(
                "--alert-severity {:?}: expected info, low, medium, high or critical",
                args.alert_severity
            )
        })?,
        certificate_days: args.certificate_days,
    };
    let stop = Stop::install()?;
    let mut scanners = Scanners::default();
    let shared = crate::monitor_claim::Shared::new(store, &args)?;
    let started = Instant::now();
    let mut timings = Timings::default();
    if let Some(shared) = shared.as_ref().filter(|_| args.once) {
        while let Some(claimed) = shared.next_once(&|| stop.requested()).await? {
            let c = cycle(store, claimed, &args, &policy, &mut scanners, &stop).await?;
            eprintln!("mailwarden: {}", c.summary());
            timings.add(&c.timings);
        }
        timings.print(&args, started.elapsed());
        return Ok(ExitCode::SUCCESS);
    }
    if args.once {
        let all = monitor::list(store).await?;
        if all.is_empty() {
            eprintln!("mailwarden: no domain is monitored (mailwarden monitor add DOMAIN)");
        }
        let cycle = cycle(store, all, &args, &policy, &mut scanners, &stop).await?;
        eprintln!("mailwarden: {}", cycle.summary());
        if !args.measure.no_store {
            deliver_once(store).await?;
        }
        timings.add(&cycle.timings);
        timings.print(&args, started.elapsed());
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "mailwarden: monitoring (database {}); SIGTERM or Ctrl-C stops",
        store.url()
    );
    while !stop.requested() {
        daily_retention(store).await?;
        deliver_alerts(store).await?;
        let due = match &shared {
            Some(shared) => shared.claim_due().await?,
            None => monitor::due(store, &mailwarden_store::now()).await?,
        };
        if !due.is_empty() {
            let c = cycle(store, due, &args, &policy, &mut scanners, &stop).await?;
            eprintln!("mailwarden: {}", c.summary());
        }
        let pause = until_next_due(store).await?;
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stop.wait() => {}
        }
    }
    eprintln!("mailwarden: stopped");
    Ok(ExitCode::SUCCESS)
}

/// `auditalert`'s delivery of the alert outbox, each tick (INTERFACES.md):
/// due alerts go to every destination; failures are recorded, logged to
/// standard error and retried with backoff.
async fn deliver_alerts(store: &Store) -> Result<()> {
    mailwarden_store::alert_delivery::deliver_pending(store, OffsetDateTime::now_utc()).await?;
    Ok(())
}

/// `--once`: one delivery of the outbox after the scans, so cron and CI
/// users get the alerts the run queued (and any still due from earlier
/// runs). A failed delivery stays queued for the next run (retry with
/// backoff) and is logged; it does not fail the run.
async fn deliver_once(store: &Store) -> Result<()> {
    let report = mailwarden_store::alert_delivery::deliver_pending(store, OffsetDateTime::now_utc()).await?;
    if report.sent + report.retrying + report.failed + report.suppressed > 0 {
        eprintln!(
            "mailwarden: alerts: {} sent, {} to retry, {} failed, {} suppressed",
            report.sent, report.retrying, report.failed, report.suppressed
        );
    }
    Ok(())
}

async fn daily_retention(store: &Store) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    let last = retention::last_run(store)
        .await?
        .and_then(|t| mailwarden_store::parse_time(&t));
    if last.is_none_or(|t| now - t >= RETENTION_EVERY) {
        let removed = retention::run(store, now).await?;
        eprintln!("mailwarden: retention: {}", serde_json::to_string(&removed)?);
    }
    Ok(())
}

/// Time until the next monitor is due (at most [`TICK`]).
async fn until_next_due(store: &Store) -> Result<Duration> {
    let now = OffsetDateTime::now_utc();
    let next = monitor::next_claimable(store)
        .await?
        .and_then(|t| mailwarden_store::parse_time(&t));
    Ok(match next {
        Some(t) if t > now => Duration::try_from(t - now).unwrap_or(TICK).min(TICK),
        Some(_) => Duration::from_millis(100),
        None => TICK,
    })
}

/// What one pass over some monitors did.
#[derive(Debug, Default)]
struct Cycle {
    new: usize,
    seen_again: Vec<i64>,
    changes: usize,
    alerts: usize,
    failed: Vec<String>,
    abandoned: bool,
    timings: Timings,
}

/// Where the time of `--once` went (`--timings`).
#[derive(Debug, Default)]
struct Timings {
    /// Scans finished.
    scans: usize,
    /// Their durations added up (they overlap: up to --concurrency at once).
    scanning: Duration,
    /// Time writing to the store: the writer task's transactions (each
    /// stores a batch of finished scans and ends their claims) and the
    /// seen-again marks. The writer runs beside the scans, so this is the
    /// most the writes can add to the wall time.
    writes: Duration,
    /// The writer's transactions.
    transactions: usize,
    /// CPU time of the store's work on this process's async threads: the
    /// writer's polls, the read of remembered selectors and the seen-again
    /// marks ([`crate::cpu_meter`]). SQLite's own threads are read at the end.
    store_cpu: Duration,
    /// CPU time the writer spent freeing the scans' results after storing
    /// them: `--no-store` frees them too (as they finish), so it is not
    /// the store's, and is taken out of `store_cpu` (perf: half of what
    /// the writer's polls cost an unchanged re-scan).
    freeing_cpu: Duration,
    /// Time reading each domain's remembered DKIM selectors before its
    /// scan, added up over the scan tasks (they overlap, and wait for the
    /// store's connections while it writes).
    reads: Duration,
}

impl Timings {
    fn add(&mut self, other: &Timings) {
        self.scans += other.scans;
        self.scanning += other.scanning;
        self.writes += other.writes;
        self.transactions += other.transactions;
        self.reads += other.reads;
        self.store_cpu += other.store_cpu;
        self.freeing_cpu += other.freeing_cpu;
    }

    /// One line on standard error, when `--timings` asked for it.
    fn print(&self, args: &RunArgs, wall: Duration) {
        if !args.measure.timings {
            return;
        }
        let wall_s = wall.as_secs_f64();
        let writes_s = self.writes.as_secs_f64();
        let per_scan = |d: Duration| 1000.0 * d.as_secs_f64() / self.scans.max(1) as f64;
        eprintln!(
            "mailwarden: timings: {} scan(s), wall {wall_s:.2} s; store writes {writes_s:.2} s ({:.1}% of wall, \
             {} transaction(s)){}; \
             selector reads {:.1} ms per scan; scanning {:.1} ms per scan (up to {} at once); \
             {} DNS question(s) answered from NXDOMAIN cuts",
            self.scans,
            100.0 * writes_s / wall_s.max(1e-9),
            self.transactions,
            if args.measure.no_store {
                ", nothing stored (--no-store)"
            } else {
                ""
            },
            per_scan(self.reads),
            per_scan(self.scanning),
            args.concurrency,
            mailwarden_dns::cache::answered_below_cuts_in_process(),
        );
        self.print_store_cpu();
    }

    /// The store's CPU share of the run, counted inside it (cpu_meter.rs):
    /// what a comparison with `--no-store` measures too, but without the
    /// noise of two runs on a shared machine.
    fn print_store_cpu(&self) {
        let sqlite = crate::cpu_meter::threads_named(crate::cpu_meter::SQLITE_WORKERS);
        let store = self.store_cpu + sqlite;
        let process = crate::cpu_meter::process();
        let rest = process.saturating_sub(store).as_secs_f64();
        eprintln!(
            "mailwarden: timings: store CPU {:.2} s (async {:.2} s, SQLite threads {:.2} s) of the process's {:.2} s: \
             +{:.1}% on the rest",
            store.as_secs_f64(),
            self.store_cpu.as_secs_f64(),
            sqlite.as_secs_f64(),
            process.as_secs_f64(),
            100.0 * store.as_secs_f64() / rest.max(1e-9),
        );
    }
}

impl Cycle {
    /// Add what the writer stored.
    fn add(&mut self, written: Cycle) {
        self.new += written.new;
        self.seen_again.extend(written.seen_again);
        self.changes += written.changes;
        self.alerts += written.alerts;
        self.failed.extend(written.failed);
        self.timings.add(&written.timings);
    }

    fn summary(&self) -> String {
        let mut s = format!(
            "{} new snapshot(s), {} unchanged, {} change(s), {} alert(s) queued",
            self.new,
            self.seen_again.len(),
            self.changes,
            self.alerts
        );
        if !self.failed.is_empty() {
            s.push_str(&format!(
                "; {} not stored: {}",
                self.failed.len(),
                self.failed.join("; ")
            ));
        }
        if self.abandoned {
            s.push_str("; stopped: scans still running were abandoned (nothing of them stored)");
        }
        s
    }
}

/// Finished scans stored in one transaction at most, and queued for the
/// writer at most: enough to amortise a commit, few enough that a batch
/// holds the write lock briefly and the queue's Observations stay small.
const BATCH: usize = 64;

/// A finished scan on its way to the writer: its monitor, the scan, and
/// its fingerprint (computed where the scan finished).
type Queued = (Monitor, ScanInput, Option<String>);

/// Scan `monitors` (at most `--concurrency` at once) and store them as
/// they finish.
async fn cycle(
    store: &Store,
    monitors: Vec<Monitor>,
    args: &RunArgs,
    policy: &AlertPolicy,
    scanners: &mut Scanners,
    stop: &Stop,
) -> Result<Cycle> {
    let mut work = Vec::new();
    let mut out = Cycle::default();
    let no_store = args.measure.no_store;
    for m in monitors {
        match scanners.get(&m).await {
            Ok(s) => work.push((m, s)),
            Err(e) => out.failed.push(format!("{}: {e:#}", m.domain)),
        }
    }
    // Scans run as tasks, up to --concurrency at once. Finished ones go to
    // one writer task (SQLite has one writer anyway), which stores what has
    // queued up since its last commit in one transaction (group commit):
    // collecting results never waits on the database, so the next scans
    // start while earlier ones are written.
    let (to_writer, queue) = tokio::sync::mpsc::channel::<Queued>(BATCH);
    let writer = (!no_store).then(|| {
        tokio::spawn(crate::cpu_meter::metered(write_scans(
            store.clone(),
            queue,
            args.jitter,
            policy.clone(),
        )))
    });
    // The DKIM selectors remembered from messages are asked too: read for
    // every domain at once, not per scan.
    let read = Instant::now();
    let remembered = std::sync::Arc::new(if no_store {
        Default::default()
    } else {
        let (remembered, cpu) = crate::cpu_meter::metered(crate::remembered::by_domain(store)).await;
        out.timings.store_cpu += cpu;
        remembered
    });
    out.timings.reads += read.elapsed();
    let results = futures::stream::iter(work)
        .take_while(|_| std::future::ready(!stop.requested()))
        .map(|(m, scanner)| {
            let remembered = remembered.clone();
            let task = tokio::spawn(async move {
                let selectors = remembered.get(&m.domain);
                let scanning = Instant::now();
                // Cut to what the store keeps here, on the scan's thread.
                let input = scanner
                    .scan(&m.domain, selectors)
                    .await
                    .map(ScanInput::without_unstored);
                let scanned = scanning.elapsed();
                // Fingerprinted here too, beside the scan (the store's work,
                // metered as its own): the writer then only compares. An
                // unchanged re-scan's store CPU 4.4% -> 3.9% of the rest; a
                // new snapshot's no lower, its JSON now the first pass over
                // the Observation (bench/monitor-lab.sh, session 17).
                let input = input.map(|scan| {
                    let before = crate::cpu_meter::thread();
                    let fingerprint = (!no_store).then(|| scan.fingerprint());
                    (scan, fingerprint, crate::cpu_meter::thread().saturating_sub(before))
                });
                (m, input, scanned)
            });
            async move { task.await.map_err(|e| anyhow::anyhow!("scan task: {e}")) }
        })
        .buffer_unordered(args.concurrency);
    futures::pin_mut!(results);
    let drain = async {
        // Owned here: dropped when the scans are done or abandoned, which
        // tells the writer to finish what is queued.
        let to_writer = to_writer;
        while let Some(done) = results.next().await {
            let (m, input, scanning) = match done {
                Ok(done) => done,
                Err(e) => {
                    out.failed.push(format!("{e:#}"));
                    continue;
                }
            };
            out.timings.scans += 1;
            out.timings.scanning += scanning;
            let (scan, fingerprint) = match input {
                Ok((scan, fingerprint, cpu)) => {
                    out.timings.store_cpu += cpu;
                    (scan, fingerprint)
                }
                Err(e) => {
                    out.failed.push(format!("{}: {e:#}", m.domain));
                    continue;
                }
            };
            if no_store {
                // PostgreSQL: the claim still ends, so a later run need not wait for the lease.
                if store.backend() == mailwarden_store::Backend::Postgres
                    && let Err(e) = monitor::release(store, &m.domain).await
                {
                    eprintln!(
                        "mailwarden: {}: its claim stays until the lease runs out: {e}",
                        m.domain
                    );
                }
                continue;
            }
            if let Err(lost) = to_writer.send((m, scan, fingerprint)).await {
                out.failed.push(format!("{}: the writer stopped", lost.0.0.domain));
            }
        }
    };
    let grace = async {
        stop.wait().await;
        tokio::time::sleep(GRACE).await;
    };
    tokio::select! {
        () = drain => {}
        () = grace => out.abandoned = true,
    }
    // Finished scans still queued are stored whole even when the others
    // were abandoned.
    if let Some(writer) = writer {
        let (written, cpu) = writer.await.map_err(|e| anyhow::anyhow!("writer task: {e}"))?;
        out.timings.store_cpu += cpu.saturating_sub(written.timings.freeing_cpu);
        out.add(written);
    }
    let marking = Instant::now();
    let (marked, cpu) = crate::cpu_meter::metered(mailwarden_store::ingest::seen_again(store, &out.seen_again)).await;
    marked?;
    out.timings.store_cpu += cpu;
    out.timings.writes += marking.elapsed();
    Ok(out)
}

/// The writer: stores finished scans as they queue up, each batch in one
/// transaction, until the queue is closed and empty.
async fn write_scans(
    store: Store,
    mut queue: tokio::sync::mpsc::Receiver<Queued>,
    jitter: Option<u64>,
    policy: AlertPolicy,
) -> Cycle {
    let mut out = Cycle::default();
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        top_up(&mut queue, &mut batch).await;
        let (monitors, finished): (Vec<Monitor>, Vec<Finished>) = batch
            .drain(..)
            .map(|(m, scan, fingerprint)| {
                let next_due_at = next_due(&m, jitter);
                (
                    m,
                    Finished {
                        scan,
                        next_due_at,
                        fingerprint,
                    },
                )
            })
            .unzip();
        let writing = Instant::now();
        let results = ingest_batch(&store, &finished, &policy).await;
        out.timings.writes += writing.elapsed();
        out.timings.transactions += 1;
        let freeing = crate::cpu_meter::thread();
        drop(finished);
        out.timings.freeing_cpu += crate::cpu_meter::thread().saturating_sub(freeing);
        for (m, stored) in monitors.iter().zip(results) {
            match stored {
                Ok(i) => {
                    match i.stored {
                        Stored::New { .. } => out.new += 1,
                        Stored::SeenAgain { id, .. } => out.seen_again.push(id),
                    }
                    out.changes += i.changes;
                    out.alerts += i.alerts.len();
                }
                // Not stored: its monitor stays due, and (PostgreSQL) its
                // claim stays until the lease runs out.
                Err(e) => out.failed.push(format!("{}: {e:#}", m.domain)),
            }
        }
    }
    out
}

/// How long the writer waits for more finished scans before committing
/// fewer than [`BATCH`]. Without it the writer kept up scan by scan: 1,681
/// transactions for 3,000 unchanged re-scans, each a write-lock round and
/// a WAL append (bench/monitor.sh). At 20 ms a round of 2,000 lab domains
/// still took about 250 transactions of 8 scans, each with its own reads
/// of the clock, the audit log's append state and the domains' latest
/// snapshots (bench/monitor-lab.sh). A crash loses at most this much more
/// of the queue, and those scans are still due: they are scanned again.
const LINGER: Duration = Duration::from_millis(250);

/// Add to `batch` what queues within [`LINGER`], up to [`BATCH`].
async fn top_up(queue: &mut tokio::sync::mpsc::Receiver<Queued>, batch: &mut Vec<Queued>) {
    let deadline = tokio::time::Instant::now() + LINGER;
    while batch.len() < BATCH {
        match tokio::time::timeout_at(deadline, queue.recv_many(batch, BATCH - batch.len())).await {
            // The queue closed (the scans are done) or the time is up.
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// When the domain is next due: its period from now, plus jitter.
fn next_due(m: &Monitor, jitter: Option<u64>) -> String {
    let every = m.every_secs.max(1) as u64;
    let max_jitter = jitter.unwrap_or_else(|| (every / 10).min(300));
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(m.domain.as_bytes());
    let extra = if max_jitter == 0 {
        0
    } else {
        h.finish() % (max_jitter + 1)
    };
    mailwarden_store::stamp(OffsetDateTime::now_utc() + time::Duration::seconds((every + extra) as i64))
}

/// What scanning with one set of flags needs, built once per set.
struct Scanner {
    source: Arc<dyn DnsSource>,
    prober: mailwarden_probe::LiveProber,
    options: ScanOptions,
    budget: Budget,
    profiles: Vec<Profile>,
}

impl Scanner {
    async fn new(domain: &str, flags: &[String]) -> Result<Self> {
        let args = crate::monitor::scan_args(domain, flags)?;
        let options = crate::config::scan_options(&args)?;
        let profiles = args
            .output
            .profiles
            .iter()
            .map(|p| crate::config::load_profile(p))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            source: crate::config::dns_source(&args.dns, args.probe.allow_private_targets).await?,
            prober: crate::config::prober(&args, &options)?,
            budget: crate::config::budget(&args.dns)?,
            options,
            profiles,
        })
    }

    /// Scan one domain the way `mailwarden scan` does.
    /// `selectors`: remembered DKIM selectors, asked besides the flags' ones.
    async fn scan(&self, domain: &str, selectors: Vec<String>) -> Result<ScanInput> {
        let name = DomainName::parse(domain).map_err(|e| anyhow::anyhow!("{domain:?}: {e}"))?;
        let options = crate::remembered::with(&self.options, selectors);
        let mut report = crate::scan::scan_one(self.source.as_ref(), &self.prober, &name, &options, self.budget).await;
        let catalogue = Catalogue::builtin();
        report.profiles = self
            .profiles
            .iter()
            .map(|p| p.evaluate(&report.findings, catalogue))
            .collect();
        Ok(ScanInput {
            score: report.scores.as_ref().and_then(|s| s.overall).map(i64::from),
            scores: report.scores.as_ref().map(serde_json::to_value).transpose()?,
            profiles: serde_json::to_value(&report.profiles)?,
            observation: report.observation,
            findings: report.findings,
            scanner_version: env!("CARGO_PKG_VERSION").to_string(),
            catalogue_version: catalogue_version(),
            at: OffsetDateTime::now_utc(),
        })
    }
}

/// The scanners by flag set.
#[derive(Default)]
struct Scanners(HashMap<Vec<String>, Arc<Scanner>>);

impl Scanners {
    async fn get(&mut self, m: &Monitor) -> Result<Arc<Scanner>> {
        let flags = m.scan_flags();
        if let Some(s) = self.0.get(&flags) {
            return Ok(Arc::clone(s));
        }
        let s = Arc::new(Scanner::new(&m.domain, &flags).await?);
        self.0.insert(flags, Arc::clone(&s));
        Ok(s)
    }
}

/// A short digest of the built-in rule catalogue: findings judged by
/// different catalogues are told apart in the history.
pub fn catalogue_version() -> String {
    use sha2::Digest;
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION
        .get_or_init(|| {
            let mut h = sha2::Sha256::new();
            for rule in Catalogue::builtin().iter() {
                h.update(serde_json::to_vec(rule).unwrap_or_default());
            }
            h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
        })
        .clone()
}

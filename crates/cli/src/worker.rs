//! `mailwarden worker`: scan the batches of the jobs in the store
//! (`mailwarden jobs submit`), as many worker processes as wanted on as
//! many machines as share the database.
//!
//! A worker claims one batch at a time under a lease
//! ([`mailwarden_store::jobs_claim`]), feeds its domains to up to
//! `--concurrency` scans, stores each report as it finishes, and marks the
//! batch done after its last domain. A heartbeat extends the lease while
//! the batch is worked on. The next batch is claimed as soon as the current
//! one's domains have all started, so the scans never wait on a claim. A
//! worker killed mid-batch leaves its lease to run out; the batch is then
//! claimed again and only its domains without a stored report are scanned.
//!
//! SIGTERM or Ctrl-C: no new batch is claimed, the claimed ones are
//! finished and stored, then the worker exits 0.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use futures::StreamExt;
use mailwarden_dns::DnsSource;
use mailwarden_engine::Budget;
use mailwarden_model::{DomainName, Outcome, ScanOptions};
use mailwarden_store::jobs_claim::{self, Claim, JobResult};
use mailwarden_store::{Store, jobs};
use tokio::sync::mpsc;

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Domains scanned at once by this worker.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub concurrency: usize,
    /// How long a claimed batch stays this worker's without a heartbeat (s, m, h); after a crash,
    /// how long until another worker takes the batch over. The heartbeat renews it every third of it.
    #[arg(long, default_value = "2m", value_name = "DURATION")]
    pub lease: String,
    /// Exit 0 once every batch of every job is done, instead of waiting for new jobs.
    #[arg(long)]
    pub until_done: bool,
    /// This worker's name in the store (default: host name and process id).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// What scanning a job's domains needs, built once per job.
struct JobScanner {
    source: Arc<dyn DnsSource>,
    prober: mailwarden_probe::LiveProber,
    options: ScanOptions,
    budget: Budget,
}

impl JobScanner {
    async fn new(flags: &[String]) -> Result<Self> {
        let args = crate::monitor::scan_args("job.invalid", flags)?;
        let options = crate::config::scan_options(&args)?;
        Ok(Self {
            source: crate::config::dns_source(&args.dns, args.probe.allow_private_targets).await?,
            prober: crate::config::prober(&args, &options)?,
            budget: crate::config::budget(&args.dns)?,
            options,
        })
    }

    /// One domain's `--format jsonl` line and its failing findings.
    async fn scan(&self, domain: &str) -> Result<(Vec<u8>, i64)> {
        let name = DomainName::parse(domain).map_err(|e| anyhow::anyhow!("{domain:?}: {e}"))?;
        let report = crate::scan::scan_one(self.source.as_ref(), &self.prober, &name, &self.options, self.budget).await;
        let failed = report.findings.iter().filter(|f| f.outcome == Outcome::Fail).count() as i64;
        let mut line = Vec::new();
        mailwarden_render::json::write_jsonl(&mut line, &report, true)?;
        line.pop(); // the newline: `jobs results` adds it back
        Ok((line, failed))
    }
}

/// A batch this worker holds: its claim, the scans still to finish, and its
/// heartbeat.
struct Held {
    claim: Claim,
    remaining: AtomicUsize,
    heartbeat: tokio::task::AbortHandle,
    scanner: Arc<JobScanner>,
}

/// One domain to scan, with the batch it belongs to.
struct Item {
    held: Arc<Held>,
    index: i64,
    domain: String,
}

/// What this worker did, for its last line.
#[derive(Default)]
struct Tally {
    stored: AtomicUsize,
    duplicates: AtomicUsize,
    batches: AtomicUsize,
    lost: AtomicUsize,
}

pub async fn run(db: Option<&str>, args: WorkerArgs) -> Result<ExitCode> {
    if args.concurrency == 0 {
        bail!("--concurrency 0: at least one domain must be scanned at a time");
    }
    let lease = parse_lease(&args.lease)?;
    let store = crate::monitor::open_store(db).await?;
    let name = args.name.clone().unwrap_or_else(default_name);
    eprintln!(
        "mailwarden: worker {name} on {} ({:?}), {} at once, lease {}",
        store.url(),
        store.backend(),
        args.concurrency,
        args.lease
    );
    let stop = stop_flag()?;
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    // Room for one batch beyond the scans in flight: the next claim waits
    // until the current batch's domains have all started.
    let (tx, rx) = mpsc::channel::<Item>(args.concurrency);
    let producer = tokio::spawn(claim_loop(
        store.clone(),
        name.clone(),
        lease,
        args.until_done,
        Arc::clone(&stop),
        Arc::clone(&tally),
        tx,
    ));
    let scans = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
        .map(|item| {
            let (store, name, tally) = (store.clone(), name.clone(), Arc::clone(&tally));
            // Each task stores its own report: the writes run side by side,
            // not one after another behind this loop.
            tokio::spawn(async move {
                let (line, failed) = item.held.scanner.scan(&item.domain).await?;
                finish_one(&store, &name, &item, &line, failed, &tally).await
            })
        })
        .buffer_unordered(args.concurrency);
    futures::pin_mut!(scans);
    while let Some(done) = scans.next().await {
        done.context("a scan task failed")??;
    }
    producer.await.context("the claim loop failed")??;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "mailwarden: worker {name}: {} domain(s) stored in {} batch(es) ({:.1}/s), {} already stored by another, {} batch(es) lost to another worker",
        tally.stored.load(Ordering::Relaxed),
        tally.batches.load(Ordering::Relaxed),
        tally.stored.load(Ordering::Relaxed) as f64 / secs.max(0.001),
        tally.duplicates.load(Ordering::Relaxed),
        tally.lost.load(Ordering::Relaxed),
    );
    Ok(ExitCode::SUCCESS)
}

/// Store one report; mark its batch done after the batch's last one.
async fn finish_one(store: &Store, worker: &str, item: &Item, line: &[u8], failed: i64, tally: &Tally) -> Result<()> {
    let result = JobResult {
        domain: &item.domain,
        list_index: item.index,
        failed,
        report: line,
    };
    let claim = &item.held.claim;
    let fresh = jobs_claim::store_result(store, claim, worker, &result)
        .await
        .with_context(|| format!("storing the report of {} (job {})", item.domain, claim.job_id))?;
    let counter = if fresh { &tally.stored } else { &tally.duplicates };
    counter.fetch_add(1, Ordering::Relaxed);
    if item.held.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
        complete(store, &item.held, tally).await?;
    }
    Ok(())
}

async fn complete(store: &Store, held: &Held, tally: &Tally) -> Result<()> {
    held.heartbeat.abort();
    if jobs_claim::complete(store, &held.claim).await? {
        tally.batches.fetch_add(1, Ordering::Relaxed);
    } else {
        tally.lost.fetch_add(1, Ordering::Relaxed);
        eprintln!(
            "mailwarden: batch {} of job {}: its lease ran out before it was done; the worker that took it over finishes it",
            held.claim.batch_id, held.claim.job_id
        );
    }
    Ok(())
}

/// Claim batches and send their domains to the scans until stopped, or
/// (`--until-done`) until no batch of any job is left unfinished.
async fn claim_loop(
    store: Store,
    worker: String,
    lease: Duration,
    until_done: bool,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    tx: mpsc::Sender<Item>,
) -> Result<()> {
    let mut scanners: HashMap<i64, Arc<JobScanner>> = HashMap::new();
    let idle = (lease / 4).clamp(Duration::from_millis(200), Duration::from_secs(2));
    while !stop.load(Ordering::SeqCst) {
        let Some(claim) = jobs_claim::claim(&store, &worker, lease).await? else {
            if until_done && jobs::unfinished_batches(&store).await? == 0 {
                break;
            }
            tokio::time::sleep(idle).await;
            continue;
        };
        let scanner = match scanners.get(&claim.job_id) {
            Some(s) => Arc::clone(s),
            None => match job_scanner(&store, claim.job_id).await {
                Ok(s) => {
                    scanners.insert(claim.job_id, Arc::clone(&s));
                    s
                }
                Err(e) => {
                    jobs_claim::release(&store, &claim).await?;
                    return Err(e);
                }
            },
        };
        let todo = claim.todo();
        if claim.attempts > 1 {
            eprintln!(
                "mailwarden: batch {} of job {}: taken over (attempt {}), {} of {} domain(s) left",
                claim.batch_id,
                claim.job_id,
                claim.attempts,
                todo.len(),
                claim.domains.len()
            );
        }
        let held = Arc::new(Held {
            remaining: AtomicUsize::new(todo.len()),
            heartbeat: spawn_heartbeat(store.clone(), claim.clone(), lease),
            claim,
            scanner,
        });
        if todo.is_empty() {
            complete(&store, &held, &tally).await?;
            continue;
        }
        for (index, domain) in todo {
            let item = Item {
                held: Arc::clone(&held),
                index,
                domain,
            };
            if tx.send(item).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

async fn job_scanner(store: &Store, job: i64) -> Result<Arc<JobScanner>> {
    let flags = jobs::scan_flags(&jobs::job(store, job).await?.options);
    let scanner = JobScanner::new(&flags)
        .await
        .with_context(|| format!("job {job}: its scan flags {flags:?} do not work on this worker"))?;
    Ok(Arc::new(scanner))
}

/// Renew the lease every third of it until aborted; say so when it was lost.
fn spawn_heartbeat(store: Store, claim: Claim, lease: Duration) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(lease / 3).await;
            match jobs_claim::heartbeat(&store, &claim, lease).await {
                Ok(true) => {}
                Ok(false) => {
                    eprintln!(
                        "mailwarden: batch {} of job {}: lease lost (it ran out and another worker took the batch)",
                        claim.batch_id, claim.job_id
                    );
                    return;
                }
                // A passing database error: the next beat tries again.
                Err(e) => eprintln!("mailwarden: batch {}: heartbeat failed: {e}", claim.batch_id),
            }
        }
    })
    .abort_handle()
}

fn parse_lease(text: &str) -> Result<Duration> {
    let secs = mailwarden_store::retention::parse_period(text).map_err(|e| anyhow::anyhow!("--lease {e}"))?;
    if secs < 1 {
        bail!("--lease {text}: at least 1s");
    }
    Ok(Duration::from_secs(secs as u64))
}

/// `HOST:PID`: unique among the workers on one database.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    format!("{host}:{}", std::process::id())
}

/// Set on SIGTERM or SIGINT: no new batch is claimed.
fn stop_flag() -> Result<Arc<AtomicBool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let stop = Arc::new(AtomicBool::new(false));
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let flag = Arc::clone(&stop);
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("mailwarden: stopping: finishing the batches already claimed");
        flag.store(true, Ordering::SeqCst);
    });
    Ok(stop)
}

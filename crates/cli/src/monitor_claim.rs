//! The monitoring schedule shared by several `mailwarden monitor run`
//! processes on one PostgreSQL (issue 15): each process claims the
//! monitors it scans ([`mailwarden_store::monitor::claim`], `FOR UPDATE
//! SKIP LOCKED` and a lease), so no domain is scanned twice for one due
//! time, and a crashed process's domains are taken over when their lease
//! runs out.
//!
//! On SQLite the schedule is read as before (all due monitors, every
//! monitor for `--once`): an SQLite file is one machine's, and a lease
//! would only delay the restart after a crash.

use std::time::Duration;

use anyhow::Result;
use mailwarden_store::monitor::{self, Claimable, Monitor};
use mailwarden_store::{Backend, Store};

use crate::monitor_run::RunArgs;

/// How often a `--once` run looks again at monitors another process holds.
const HELD_POLL: Duration = Duration::from_secs(1);

/// Claims for one `monitor run` process on PostgreSQL.
pub struct Shared<'a> {
    store: &'a Store,
    lease: Duration,
    /// Monitors claimed at a time: enough to keep `--concurrency` scans
    /// busy, few enough that another process gets its share.
    chunk: usize,
    /// When this `--once` run started (the database's clock).
    since: tokio::sync::OnceCell<String>,
}

impl<'a> Shared<'a> {
    /// `Some` on PostgreSQL; `None` on SQLite (the schedule as before).
    pub fn new(store: &'a Store, args: &RunArgs) -> Result<Option<Self>> {
        let secs =
            mailwarden_store::retention::parse_period(&args.lease).map_err(|e| anyhow::anyhow!("--lease {e}"))?;
        if secs < 1 {
            anyhow::bail!("--lease {}: at least 1s", args.lease);
        }
        Ok((store.backend() == Backend::Postgres).then(|| Self {
            store,
            lease: Duration::from_secs(secs as u64),
            chunk: args.concurrency.saturating_mul(4),
            since: tokio::sync::OnceCell::new(),
        }))
    }

    /// The due monitors no other process holds, claimed for this one.
    pub async fn claim_due(&self) -> Result<Vec<Monitor>> {
        Ok(monitor::claim(self.store, Claimable::Due, self.chunk, self.lease).await?)
    }

    /// `--once`: the next monitors to scan in this run, due or not, that no
    /// process has scanned or claimed since the run started. Waits for
    /// those another process held when the run started (it finishes them,
    /// or its lease runs out and they come here). `None` when the round is
    /// done or `stopped()`.
    pub async fn next_once(&self, stopped: &(dyn Fn() -> bool + Sync)) -> Result<Option<Vec<Monitor>>> {
        let since = self
            .since
            .get_or_try_init(|| monitor::db_now(self.store))
            .await?
            .clone();
        let mut said = false;
        while !stopped() {
            let claimed =
                monitor::claim(self.store, Claimable::NotClaimedSince(&since), self.chunk, self.lease).await?;
            if !claimed.is_empty() {
                return Ok(Some(claimed));
            }
            let held = monitor::held_by_others(self.store, &since).await?;
            if held == 0 {
                break;
            }
            if !said {
                eprintln!(
                    "mailwarden: {held} domain(s) held by another monitor process; waiting for it or for its lease to run out"
                );
                said = true;
            }
            tokio::time::sleep(HELD_POLL).await;
        }
        Ok(None)
    }
}

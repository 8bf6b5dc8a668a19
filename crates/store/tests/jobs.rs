//! Jobs and the shared monitoring schedule (issue 15), on SQLite and, when
//! MAILWARDEN_TEST_PG_URL is set, on a real PostgreSQL: batches are claimed
//! disjointly, a batch whose lease ran out is claimed again without storing
//! a domain twice, and claimed monitors are skipped by other processes.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use mailwarden_store::jobs::{self, NewJob};
use mailwarden_store::jobs_claim::{self, JobResult};
use mailwarden_store::monitor::{self, Claimable};

const LONG: Duration = Duration::from_secs(600);

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("d{i}.example")).collect()
}

async fn submit(store: &mailwarden_store::Store, n: usize, batch_size: usize) -> i64 {
    let flags = vec!["--no-smtp".to_string()];
    let job = NewJob {
        scan_flags: &flags,
        batch_size,
        label: "test",
    };
    jobs::submit(store, &job, &names(n)).await.unwrap()
}

async fn store_all(store: &mailwarden_store::Store, claim: &jobs_claim::Claim, worker: &str) -> usize {
    let mut stored = 0;
    for (i, d) in claim.todo() {
        let line = format!("{{\"domain\":\"{d}\"}}");
        let r = JobResult {
            domain: &d,
            list_index: i,
            failed: 0,
            report: line.as_bytes(),
        };
        stored += usize::from(jobs_claim::store_result(store, claim, worker, &r).await.unwrap());
    }
    stored
}

#[tokio::test]
async fn a_job_is_split_into_batches_that_claims_take_once_each_and_results_come_back_in_list_order() {
    for db in common::stores().await {
        let store = &db.store;
        let job = submit(store, 25, 10).await;
        assert_eq!(
            jobs::scan_flags(&jobs::job(store, job).await.unwrap().options),
            ["--no-smtp"]
        );
        let mut seen = Vec::new();
        while let Some(c) = jobs_claim::claim(store, "w1", LONG).await.unwrap() {
            assert_eq!(c.attempts, 1, "{}", db.label);
            assert_eq!(store_all(store, &c, "w1").await, c.domains.len());
            assert!(jobs_claim::complete(store, &c).await.unwrap());
            seen.extend(c.domains);
        }
        assert_eq!(seen, names(25), "{}: every domain in one batch, in order", db.label);
        let s = jobs::status(store, job).await.unwrap();
        assert_eq!((s.batches_done, s.batches_pending, s.domains_done), (3, 0, 25));
        assert!(s.complete());
        let mut lines = Vec::new();
        let n = jobs::results(store, job, |l| {
            lines.push(String::from_utf8(l.to_vec()).unwrap());
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(n, 25);
        assert_eq!(lines[0], "{\"domain\":\"d0.example\"}");
        assert_eq!(lines[24], "{\"domain\":\"d24.example\"}");
        assert!(
            jobs::status(store, job + 1).await.is_err(),
            "an unknown job is an error"
        );
    }
}

#[tokio::test]
async fn a_batch_whose_lease_ran_out_is_claimed_again_and_no_domain_is_stored_twice() {
    for db in common::stores().await {
        let store = &db.store;
        let job = submit(store, 4, 4).await;
        let short = Duration::from_millis(50);
        let dead = jobs_claim::claim(store, "dead", short).await.unwrap().unwrap();
        // The first holder stores half its batch, then stops answering.
        let half = jobs_claim::Claim {
            domains: dead.domains[..2].to_vec(),
            ..dead.clone()
        };
        assert_eq!(store_all(store, &half, "dead").await, 2);
        assert!(
            jobs_claim::claim(store, "live", short).await.unwrap().is_none(),
            "{}: a live lease is not taken",
            db.label
        );
        tokio::time::sleep(Duration::from_millis(120)).await;
        let again = jobs_claim::claim(store, "live", LONG).await.unwrap().unwrap();
        assert_eq!(again.batch_id, dead.batch_id);
        assert_eq!(again.attempts, 2);
        assert_eq!(
            again.already.len(),
            2,
            "{}: the stored half is not scanned again",
            db.label
        );
        assert_eq!(again.todo().len(), 2);
        // The old holder wakes up: it has lost the batch and stores nothing twice.
        assert!(!jobs_claim::heartbeat(store, &dead, LONG).await.unwrap());
        assert_eq!(store_all(store, &dead, "dead").await, 2, "only the two not stored yet");
        assert_eq!(
            store_all(store, &again, "live").await,
            0,
            "{}: nothing doubled",
            db.label
        );
        assert!(!jobs_claim::complete(store, &dead).await.unwrap());
        assert!(jobs_claim::complete(store, &again).await.unwrap());
        let s = jobs::status(store, job).await.unwrap();
        assert_eq!((s.domains_done, s.batches_done, s.batches_reclaimed), (4, 1, 1));
        assert_eq!(jobs::unfinished_batches(store).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn a_heartbeat_keeps_the_lease_and_a_released_batch_is_claimable_at_once() {
    for db in common::stores().await {
        let store = &db.store;
        submit(store, 2, 1).await;
        let short = Duration::from_millis(300);
        let c = jobs_claim::claim(store, "w", short).await.unwrap().unwrap();
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(jobs_claim::heartbeat(store, &c, short).await.unwrap());
        }
        let other = jobs_claim::claim(store, "x", short).await.unwrap().unwrap();
        assert_ne!(
            other.batch_id, c.batch_id,
            "{}: a batch kept alive is not taken",
            db.label
        );
        jobs_claim::release(store, &c).await.unwrap();
        let back = jobs_claim::claim(store, "x", short).await.unwrap().unwrap();
        assert_eq!(back.batch_id, c.batch_id);
    }
}

/// Many claimers at once (on PostgreSQL, concurrent transactions that skip
/// each other's locked rows): every batch is claimed exactly once.
#[tokio::test]
async fn concurrent_claimers_take_disjoint_batches() {
    for db in common::stores().await {
        let store = db.store.clone();
        submit(&store, 200, 2).await;
        let tasks: Vec<_> = (0..8)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    while let Some(c) = jobs_claim::claim(&store, &format!("w{w}"), LONG).await.unwrap() {
                        mine.push(c.batch_id);
                    }
                    mine
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let distinct: BTreeSet<_> = all.iter().collect();
        assert_eq!(all.len(), 100, "{}", db.label);
        assert_eq!(distinct.len(), 100, "{}: a batch claimed twice", db.label);
    }
}

#[tokio::test]
async fn claimed_monitors_are_skipped_until_released_or_their_lease_runs_out() {
    for db in common::stores().await {
        let store = &db.store;
        let flags: Vec<String> = Vec::new();
        for d in ["a.example", "b.example", "c.example"] {
            monitor::add(store, d, 3600, &flags, "cli").await.unwrap();
        }
        let short = Duration::from_millis(100);
        let first = monitor::claim(store, Claimable::Due, 2, short).await.unwrap();
        assert_eq!(
            first.iter().map(|m| m.domain.as_str()).collect::<Vec<_>>(),
            ["a.example", "b.example"]
        );
        let second = monitor::claim(store, Claimable::Due, 10, short).await.unwrap();
        assert_eq!(second.len(), 1, "{}: only the unclaimed one", db.label);
        assert_eq!(second[0].domain, "c.example");
        assert!(
            monitor::claim(store, Claimable::Due, 10, short)
                .await
                .unwrap()
                .is_empty()
        );
        // A process that died: its lease runs out and the domains are due again.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(monitor::claim(store, Claimable::Due, 10, LONG).await.unwrap().len(), 3);
        monitor::release(store, "a.example").await.unwrap();
        assert_eq!(
            monitor::claim(store, Claimable::Due, 10, LONG).await.unwrap().len(),
            1,
            "{}: only the released one",
            db.label
        );
        assert!(monitor::next_claimable(store).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn a_once_run_takes_each_monitor_not_claimed_since_it_started_due_or_not() {
    for db in common::stores().await {
        let store = &db.store;
        let flags: Vec<String> = Vec::new();
        for d in ["a.example", "b.example"] {
            monitor::add(store, d, 3600, &flags, "cli").await.unwrap();
        }
        let started = monitor::db_now(store).await.unwrap();
        let a = monitor::claim(store, Claimable::NotClaimedSince(&started), 1, LONG)
            .await
            .unwrap();
        monitor::release(store, &a[0].domain).await.unwrap();
        // A second run started at the same time: only the other domain is left.
        let b = monitor::claim(store, Claimable::NotClaimedSince(&started), 10, LONG)
            .await
            .unwrap();
        assert_eq!(b.len(), 1, "{}", db.label);
        assert_ne!(a[0].domain, b[0].domain);
        monitor::release(store, &b[0].domain).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        // A run started later scans both again, though neither is due.
        let later = monitor::db_now(store).await.unwrap();
        let c = monitor::claim(store, Claimable::NotClaimedSince(&later), 10, LONG)
            .await
            .unwrap();
        assert_eq!(c.len(), 2, "{}", db.label);
    }
}

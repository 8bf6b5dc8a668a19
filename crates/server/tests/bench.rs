//! Benchmark of the web service (not a timed test: ignored, run by
//! bench/web.sh, which prints the numbers). Seeds DOMAINS domains with
//! SNAPSHOTS snapshots each (every one a change) through the store's ingest,
//! and HISTORY older daily snapshots each copied in SQL ([`copy_history`]),
//! then times requests in process (no TCP): the domain list (API and page),
//! a domain page and a history page; prints p50 and p95.

mod common;

use std::time::Instant;

use mailwarden_store::user::Role;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Give every domain `days` older snapshots, one a day back from now, as
/// copies of its first snapshot made by the database (different
/// fingerprints, no findings, no cached changes): a year of daily history
/// for 1,000 domains seeds in seconds, not in hours of scans. The copies
/// take negative ids, so they sort before the scanned snapshots and the
/// latest snapshot of each domain stays a real one.
async fn copy_history(store: &mailwarden_store::Store, days: usize) {
    let mut tx = store.pool().begin().await.unwrap();
    for day in 1..=days {
        let day = i64::try_from(day).unwrap();
        let at = mailwarden_store::stamp(time::OffsetDateTime::now_utc() - time::Duration::days(day));
        sqlx::query(
            "INSERT INTO snapshots (id, domain, fingerprint, first_seen_at, last_seen_at, seen_count,
                                    scanner_version, catalogue_version, observation, score, scores, profiles,
                                    tenant_id, state)
             SELECT -(id + $1), domain, fingerprint || $2, $3, $3, 1, scanner_version, catalogue_version,
                    observation, score, scores, profiles, tenant_id, state
             FROM snapshots WHERE id IN (SELECT MIN(id) FROM snapshots WHERE id > 0 GROUP BY domain)",
        )
        .bind(day * 10_000_000)
        .bind(format!("-{day}"))
        .bind(at)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: bench/web.sh runs it"]
async fn bench_domain_list_domain_page_and_history() {
    let domains = env("DOMAINS", 1000);
    let snapshots = env("SNAPSHOTS", 5);
    let rounds = env("ROUNDS", 20);
    let s = common::services().await.remove(0);
    let started = Instant::now();
    let scope = mailwarden_store::tenant::scope_named(&s.store, "default")
        .await
        .unwrap();
    for d in 0..domains {
        let hosts: Vec<String> = (0..snapshots).map(|i| format!("mx{i}.d{d}.bench.")).collect();
        let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
        common::monitored(&s.store, scope, &format!("d{d}.bench"), &hosts).await;
    }
    let history = env("HISTORY", 0);
    copy_history(&s.store, history).await;
    println!(
        "seeded {domains} domains x ({snapshots} snapshots + {history} days of history) in {:.1?}",
        started.elapsed()
    );
    let session = common::page_session(&s.app, &common::email("default", Role::Viewer)).await;
    let token = s.tokens[&("default", Role::Viewer)].clone();
    let cases = [
        (
            "GET /api/v1/domains?limit=500",
            "/api/v1/domains?limit=500".to_owned(),
            true,
        ),
        ("GET /domains (page)", "/domains".to_owned(), false),
        ("GET /domains/d1.bench (page)", "/domains/d1.bench".to_owned(), false),
        (
            "GET /domains/d1.bench/history (page)",
            "/domains/d1.bench/history".to_owned(),
            false,
        ),
    ];
    common::http::time_requests(&s.app, &cases, rounds, &token, &session).await;
}

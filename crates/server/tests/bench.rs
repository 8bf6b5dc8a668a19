//! Benchmark of the web service (not a timed test: ignored, run by
//! bench/web.sh, which prints the numbers). Seeds DOMAINS domains with
//! SNAPSHOTS snapshots each (every one a change) through the store's ingest,
//! then times requests in process (no TCP): the domain list (API and page),
//! a domain page and a history page; prints p50 and p95.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use mailwarden_store::user::Role;
use tower::ServiceExt;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
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
    println!(
        "seeded {domains} domains x {snapshots} snapshots in {:.1?}",
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
    for (label, uri, api) in cases {
        let mut times = Vec::new();
        for _ in 0..rounds {
            let mut req = Request::get(&uri);
            req = if api {
                req.header(header::AUTHORIZATION, format!("Bearer {token}"))
            } else {
                req.header(header::COOKIE, session.clone())
            };
            let t = Instant::now();
            let res = s.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            let status = res.status();
            axum::body::to_bytes(res.into_body(), 100 << 20).await.unwrap();
            times.push(t.elapsed());
            assert_eq!(status, StatusCode::OK, "{label}");
        }
        times.sort();
        println!(
            "{label:<40} p50 {:>8.1?}  p95 {:>8.1?}  ({rounds} requests)",
            percentile(&times, 50),
            percentile(&times, 95)
        );
    }
}

//! Benchmark of the senders and TLS pages (not a timed test: ignored, run
//! by bench/web-senders.sh, which prints the numbers). Imports DAYS days
//! of aggregate reports from REPORTERS reporters with ROWS rows each (from
//! SOURCES source addresses; day 0 imported, the other days copied in SQL,
//! then the inventory's sums, `report_rollup`, summed from them)
//! and one TLS report a day for one domain, then
//! times the senders page, its API and the TLS page in process (no TCP),
//! ROUNDS requests each; prints p50 and p95. Issue 16's target: the
//! senders page under 300 ms at p95 with 1,000,000 report records.

mod common;

use std::time::Instant;

use common::OURS;
use common::reports::{DAY1, aggregate, import, tls_report};
use mailwarden_store::user::Role;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: bench/web-senders.sh runs it"]
async fn bench_senders_and_tls_pages() {
    let (days, reporters, rows, sources) = (
        env("DAYS", 365),
        env("REPORTERS", 3),
        env("ROWS", 100),
        env("SOURCES", 50),
    );
    let rounds = env("ROUNDS", 10);
    let s = common::services().await.remove(0);
    let started = Instant::now();
    let ips: Vec<String> = (0..sources)
        .map(|i| format!("198.51.{}.{}", i / 250, i % 250 + 1))
        .collect();
    // Day 0's reports go through the real import; the other days are
    // copies of them made by the database (shifted a day back each), so
    // 10^6 records seed in seconds, not in an hour of XML parsing.
    let mut templates = Vec::new();
    for r in 0..reporters {
        let id = format!("bench-0-{r}");
        let table: Vec<(&str, u32, Option<&str>, &str, &str)> = (0..rows)
            .map(|k| {
                let ip = ips[(k + r) % ips.len()].as_str();
                (
                    ip,
                    3,
                    (k % 4 != 0).then_some(OURS),
                    OURS,
                    if k % 3 == 0 { "fail" } else { "pass" },
                )
            })
            .collect();
        import(&s, &aggregate(OURS, &id, DAY1, &table), &id, "default").await;
        let row: i64 = sqlx::query_scalar("SELECT id FROM reports WHERE report_id = $1")
            .bind(&id)
            .fetch_one(s.store.pool())
            .await
            .unwrap();
        templates.push(row);
    }
    let mut tx = s.store.pool().begin().await.unwrap();
    for day in 1..days {
        let shift = 86_400 * i64::try_from(day).unwrap();
        for &t in &templates {
            let new: i64 = sqlx::query_scalar(
                "INSERT INTO reports (tenant_id, short_id, kind, reporter, report_id, domain, begin_at, end_at,
                                      digest, records, imported_at, flags, meta)
                 SELECT tenant_id, short_id || $2, kind, reporter, report_id || $2, domain, begin_at - $3,
                        end_at - $3, digest || $2, records, imported_at, flags, meta
                 FROM reports WHERE id = $1 RETURNING id",
            )
            .bind(t)
            .bind(format!("-{day}"))
            .bind(shift)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO report_records (report_id, tenant_id, source_ip, count, disposition, dkim_eval,
                                             spf_eval, header_from, envelope_from, envelope_to, auth)
                 SELECT $2, tenant_id, source_ip, count, disposition, dkim_eval, spf_eval, header_from,
                        envelope_from, envelope_to, auth
                 FROM report_records WHERE report_id = $1",
            )
            .bind(t)
            .bind(new)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
    // The copies bypassed the import, which keeps the inventory's sums:
    // sum them as the migration does for rows stored before it.
    let summed = Instant::now();
    mailwarden_store::rollup::rebuild(&s.store).await.unwrap();
    println!("rollup summed from the stored rows in {:.1?}", summed.elapsed());
    for day in 0..days {
        let begin = DAY1 - 86_400 * i64::try_from(day).unwrap();
        let date = time::OffsetDateTime::from_unix_timestamp(begin)
            .unwrap()
            .date()
            .to_string();
        import(
            &s,
            &tls_report(OURS, &format!("tls-{day}"), &date, 500, 7),
            &format!("tls-{day}"),
            "default",
        )
        .await;
    }
    println!(
        "seeded {} aggregate reports x {rows} rows ({} records) and {days} TLS reports in {:.1?}",
        days * reporters,
        days * reporters * rows,
        started.elapsed()
    );
    let session = common::page_session(&s.app, &common::email("default", Role::Viewer)).await;
    let token = s.tokens[&("default", Role::Viewer)].clone();
    let cases = [
        (
            "GET /domains/D/senders (page)",
            format!("/domains/{OURS}/senders"),
            false,
        ),
        (
            "GET /api/v1/domains/D/senders",
            format!("/api/v1/domains/{OURS}/senders"),
            true,
        ),
        ("GET /domains/D/tls (page)", format!("/domains/{OURS}/tls"), false),
    ];
    common::http::time_requests(&s.app, &cases, rounds, &token, &session).await;
}

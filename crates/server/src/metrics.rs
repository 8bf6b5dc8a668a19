//! `/metrics` in the Prometheus text format (version 0.0.4): counters kept
//! by this process (requests by status class, failed logins), gauges
//! read from the store at scrape time (domains, snapshots, alert queue),
//! and the scan-duration histogram (`metrics_scans`).
//! Needs a token like the rest of the API; only `/healthz` is open.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::ApiCaller;
use crate::problem::Problem;

#[derive(Debug, Default)]
pub struct Metrics {
    /// Responses by status class: 2xx, 3xx, 4xx, 5xx (index 0..4).
    responses: [AtomicU64; 4],
    logins_failed: AtomicU64,
    /// The scan-duration histogram, read on from the store at each scrape.
    scans: tokio::sync::Mutex<crate::metrics_scans::ScanDurations>,
}

impl Metrics {
    pub fn login_failed(&self) {
        self.logins_failed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Middleware: count every response by its status class.
pub async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let class = usize::from(response.status().as_u16() / 100).clamp(2, 5) - 2;
    state.metrics.responses[class].fetch_add(1, Ordering::Relaxed);
    response
}

/// Store-wide gauges: (name, help, SQL answering one integer).
const GAUGES: [(&str, &str, &str); 4] = [
    (
        "mailwarden_monitored_domains",
        "Domains with a monitor.",
        "SELECT COUNT(*) FROM monitors",
    ),
    (
        "mailwarden_snapshots",
        "Snapshots stored.",
        "SELECT COUNT(*) FROM snapshots",
    ),
    (
        "mailwarden_alerts_pending",
        "Alerts waiting in the outbox (the delivery queue depth).",
        "SELECT COUNT(*) FROM alert_outbox WHERE state = 'pending'",
    ),
    (
        "mailwarden_audit_events",
        "Entries in the audit log.",
        "SELECT COUNT(*) FROM audit_events",
    ),
];

pub async fn handler(State(state): State<AppState>, _caller: ApiCaller) -> Result<Response, Problem> {
    let mut out = String::new();
    for (name, help, sql) in GAUGES {
        let value = mailwarden_store::count(&state.store, sql).await?;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    }
    // web-ops: queues, deliveries, imports, ownership.
    crate::metrics_ops::write(&state.store, &mut out).await?;
    let m = &state.metrics;
    {
        let mut scans = m.scans.lock().await;
        scans.catch_up(&state.store).await?;
        scans.write(&mut out);
    }
    let _ = writeln!(
        out,
        "# HELP mailwarden_http_responses_total HTTP responses by status class.\n# TYPE mailwarden_http_responses_total counter"
    );
    for (i, class) in ["2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
        let n = m.responses[i].load(Ordering::Relaxed);
        let _ = writeln!(out, "mailwarden_http_responses_total{{class=\"{class}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP mailwarden_logins_failed_total Refused logins (wrong, unknown, locked, rate-limited).\n\
         # TYPE mailwarden_logins_failed_total counter\nmailwarden_logins_failed_total {}",
        m.logins_failed.load(Ordering::Relaxed)
    );
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out,
    )
        .into_response())
}

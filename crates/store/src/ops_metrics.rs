//! The operations numbers `/metrics` shows (issue 16, web-ops), read from
//! the store so every `serve` process on one database reports the same
//! true values: the work queues (monitors due, job batches waiting), alert
//! deliveries by outcome, reports imported, ownership shown.

use crate::{Store, StoreError, clock};

/// One gauge: its Prometheus name, help text and value.
pub type Gauge = (&'static str, &'static str, i64);

/// (name, help, SQL answering one integer).
const COUNTS: [(&str, &str, &str); 6] = [
    (
        "mailwarden_job_batches_waiting",
        "Job batches not yet done (pending or leased; the workers' queue depth).",
        "SELECT COUNT(*) FROM job_batches WHERE state <> 'done'",
    ),
    (
        "mailwarden_alert_deliveries_sent",
        "Alert deliveries that reached their destination.",
        "SELECT COUNT(*) FROM alert_deliveries WHERE state = 'sent'",
    ),
    (
        "mailwarden_alert_deliveries_failed",
        "Alert deliveries whose latest attempt failed.",
        "SELECT COUNT(*) FROM alert_deliveries WHERE state = 'failed'",
    ),
    (
        "mailwarden_alert_deliveries_held",
        "Alert deliveries to web-added destinations held until the tenant shows ownership of the domain.",
        "SELECT COUNT(*) FROM alert_deliveries WHERE state = 'held'",
    ),
    (
        "mailwarden_reports_imported",
        "DMARC and TLS reports imported and still stored.",
        "SELECT COUNT(*) FROM reports",
    ),
    (
        "mailwarden_domains_ownership_shown",
        "Domains whose ownership is shown (DNS TXT token or admin override).",
        "SELECT COUNT(*) FROM domain_ownership WHERE state <> 'pending'",
    ),
];

/// Every gauge, now.
pub async fn gauges(store: &Store) -> Result<Vec<Gauge>, StoreError> {
    let due: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM monitors WHERE next_due_at <= $1")
        .bind(clock::now())
        .fetch_one(store.pool())
        .await?;
    let mut out = vec![(
        "mailwarden_monitors_due",
        "Monitored domains whose scan is due now (the monitor's queue depth).",
        due,
    )];
    for (name, help, sql) in COUNTS {
        out.push((name, help, sqlx::query_scalar(sql).fetch_one(store.pool()).await?));
    }
    Ok(out)
}

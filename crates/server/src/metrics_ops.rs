//! The operations gauges of `/metrics` (issue 16): the work queues, alert
//! deliveries, reports imported, ownership shown, read from the store at
//! scrape time (`mailwarden_store::ops_metrics`), so every `serve` process
//! on one database reports the same true numbers.

use std::fmt::Write as _;

use mailwarden_store::{Store, StoreError};

/// Append the gauges to a Prometheus text exposition.
pub async fn write(store: &Store, out: &mut String) -> Result<(), StoreError> {
    for (name, help, value) in mailwarden_store::ops_metrics::gauges(store).await? {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    }
    Ok(())
}

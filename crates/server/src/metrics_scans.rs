//! `/metrics`' scan-duration histogram (issue 16: "/metrics in Prometheus
//! format (scans, queue depth, scan duration, ...)"), fed from the store:
//! each stored snapshot's Observation says how long its scan took
//! (`duration_ms`), and every scrape reads the snapshots stored since the
//! last one ([`mailwarden_store::scan_timings`]), by whichever process
//! (`serve`'s own monitor, `monitor run`, workers). A process's first
//! scrape starts with the last day's scans, not the whole history.
//!
//! A Prometheus histogram: "cumulative counters for the observation
//! buckets, exposed as `<basename>_bucket{le="<upper inclusive bound>"}`
//! ... the total sum of all observed values, exposed as `<basename>_sum`
//! ... the count of events that have been observed, exposed as
//! `<basename>_count` (identical to `<basename>_bucket{le="+Inf"}`)"
//! (Prometheus, metric types). Scans that saw an unchanged state store no
//! new snapshot and so are not counted: the histogram is of stored scans.

use std::fmt::Write as _;

use mailwarden_store::{Store, StoreError, scan_timings};

/// Upper bounds of the buckets, in seconds: a zone-file scan takes well
/// under a second, a live scan with SMTP and HTTPS probes tens of seconds.
pub const BUCKETS: [f64; 10] = [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0];

/// Snapshots read per query, and at most per scrape (the rest wait for
/// the next scrape, so one scrape after a long pause stays quick).
const BATCH: i64 = 500;
const PER_SCRAPE: usize = 5_000;

/// How far back a process's first scrape looks.
const FIRST_LOOK: time::Duration = time::Duration::days(1);

/// The histogram and where reading the store got to.
#[derive(Debug, Default)]
pub struct ScanDurations {
    /// The last snapshot id read; `None` before the first scrape.
    cursor: Option<i64>,
    /// Observations per bucket (not cumulative), the last one `+Inf`.
    counts: [u64; BUCKETS.len() + 1],
    sum_seconds: f64,
}

impl ScanDurations {
    /// Count one scan of `seconds`.
    pub fn observe(&mut self, seconds: f64) {
        let bucket = BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(BUCKETS.len());
        self.counts[bucket] += 1;
        self.sum_seconds += seconds;
    }

    /// Read the snapshots stored since the last scrape.
    pub async fn catch_up(&mut self, store: &Store) -> Result<(), StoreError> {
        let mut cursor = match self.cursor {
            Some(c) => c,
            None => {
                let since = mailwarden_store::stamp(time::OffsetDateTime::now_utc() - FIRST_LOOK);
                scan_timings::cursor_before(store, &since).await?
            }
        };
        let mut read = 0;
        while read < PER_SCRAPE {
            let rows = scan_timings::durations_after(store, cursor, BATCH).await?;
            for (id, ms) in &rows {
                cursor = *id;
                if let Some(ms) = ms {
                    // Milliseconds fit an f64 exactly far beyond any scan.
                    self.observe(*ms as f64 / 1000.0);
                }
            }
            read += rows.len();
            if rows.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                break;
            }
        }
        self.cursor = Some(cursor);
        Ok(())
    }

    /// The histogram in the Prometheus text format.
    pub fn write(&self, out: &mut String) {
        let name = "mailwarden_scan_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} How long stored scans took (scans stored as a new snapshot).\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&self.counts) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = cumulative + self.counts[BUCKETS.len()];
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_seconds);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_inf_equals_the_count() {
        let mut h = ScanDurations::default();
        for s in [0.2, 0.5, 3.0, 400.0] {
            h.observe(s);
        }
        let mut out = String::new();
        h.write(&mut out);
        let value = |key: &str| {
            out.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.rsplit(' ').next())
                .unwrap_or_else(|| panic!("{key} in {out}"))
                .to_owned()
        };
        assert_eq!(
            value("mailwarden_scan_duration_seconds_bucket{le=\"0.5\"}"),
            "2",
            "le is inclusive"
        );
        assert_eq!(value("mailwarden_scan_duration_seconds_bucket{le=\"2\"}"), "2");
        assert_eq!(value("mailwarden_scan_duration_seconds_bucket{le=\"5\"}"), "3");
        assert_eq!(value("mailwarden_scan_duration_seconds_bucket{le=\"300\"}"), "3");
        assert_eq!(value("mailwarden_scan_duration_seconds_bucket{le=\"+Inf\"}"), "4");
        assert_eq!(value("mailwarden_scan_duration_seconds_count"), "4");
        assert_eq!(value("mailwarden_scan_duration_seconds_sum"), "403.7");
        assert!(out.contains("# TYPE mailwarden_scan_duration_seconds histogram"));
    }
}

//! Shared by this crate's live integration tests: a full audit with no
//! probes, and finding one finding. Each test binary uses a part of it.
#![allow(dead_code, reason = "each test binary uses a part of it")]

use std::time::{SystemTime, UNIX_EPOCH};

use mailwarden_dns::DnsSource;
use mailwarden_engine::{Budget, audit};
use mailwarden_model::{Outcome, RawFinding, ScanOptions};

/// The judges' "now": the signatures of the test zones are made for it.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Collect from `source` and judge `domain`, probes not made (`NoProber`:
/// the transport rules are indeterminate).
pub async fn audit_without_probes(source: &dyn DnsSource, domain: &str, options: ScanOptions) -> Vec<RawFinding> {
    let prober = mailwarden_model::probe::NoProber::new("no probes in this test");
    audit(source, &prober, domain, options, Budget::default(), now())
        .await
        .findings
}

/// The finding `id` for `subject`; panics with every finding when absent.
pub fn find<'a>(findings: &'a [RawFinding], id: &str, subject: &str) -> &'a RawFinding {
    findings
        .iter()
        .find(|f| f.id == id && f.subject == subject)
        .unwrap_or_else(|| panic!("no {id} for {subject}: {findings:#?}"))
}

pub fn outcome(findings: &[RawFinding], id: &str, subject: &str) -> Outcome {
    find(findings, id, subject).outcome
}

//! # mailwarden-checks
//!
//! Collect and judge, one module per protocol. Each protocol module has a
//! pure `judge` over a [`DnsView`] that returns findings;
//! [`collect::fixpoint`] gathers the answers the judges need, and
//! [`judge_domain`] runs them all.

pub mod collect;
pub mod mx;
pub mod net;
#[cfg(test)]
mod testutil;

use mailwarden_model::{DnsView, Finding};

/// Run every judge for `domain`. Findings come out sorted.
pub fn judge_domain(domain: &str, view: &DnsView<'_>) -> Vec<Finding> {
    let mut findings = mx::judge(domain, view);
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    findings
}

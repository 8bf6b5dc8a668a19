//! # mailwarden-engine
//!
//! Collect, then judge. [`collect::fixpoint`] gathers the evidence the
//! judges of `mailwarden-checks` ask for, from a [`DnsSource`] and a
//! [`Prober`] (the two I/O traits of `mailwarden-model`), within budgets;
//! [`audit`] runs it for one domain and returns the Observation with the
//! findings. The judges themselves stay pure: this crate is the only one
//! between them and the network.

pub mod collect;

use mailwarden_checks::{Context, Judging, tls};
use mailwarden_model::{DnsSource, Prober, Probes, RawFinding, ScanOptions, Transcript, Wants};

pub use collect::{Budget, CollectStats, Evidence};

/// The result of collecting and judging one domain.
#[derive(Debug, Clone)]
pub struct Audit {
    pub observation: mailwarden_model::Observation,
    /// The judges' findings, raw: `mailwarden-policy`'s
    /// `Catalogue::complete` turns them into report findings.
    pub findings: Vec<RawFinding>,
    pub stats: CollectStats,
}

impl collect::Rounds for Judging<'_, '_> {
    type Output = Vec<RawFinding>;

    fn round(&mut self, dns: &Transcript, probes: &Probes) -> Wants {
        Judging::round(self, dns, probes)
    }

    fn finish(self) -> Vec<RawFinding> {
        self.into_findings()
    }
}

/// Collect the evidence for `domain` from `source` (DNS) and `prober`
/// (SMTP, HTTPS) and judge it, as of `now` (seconds since the Unix epoch).
/// Findings are raw: the caller completes them from the rule catalogue.
/// The caller has checked `options.ca_pem` ([`mailwarden_checks::roots_for`]);
/// a CA file that does not parse here falls back to no trust anchors at
/// all, never to the built-in ones.
pub async fn audit<S: DnsSource + ?Sized>(
    source: &S,
    prober: &dyn Prober,
    domain: &str,
    options: ScanOptions,
    budget: Budget,
    now: i64,
) -> Audit {
    let described = source.describe();
    let roots = mailwarden_checks::roots_for(&options).unwrap_or(tls::cert::Roots::Custom(Vec::new()));
    let ctx = Context {
        domain,
        options: &options,
        source: &described,
        now,
        roots: &roots,
    };
    let judging = Judging::new(&ctx);
    let (evidence, findings, stats) =
        collect::fixpoint_rounds(source, prober, budget, Evidence::default(), judging).await;
    let observation = mailwarden_model::Observation {
        source: described.clone(),
        options: options.clone(),
        budget_exhausted: stats.budget_exhausted,
        dns: evidence.dns,
        probes: evidence.probes,
        ..mailwarden_model::Observation::new(domain)
    };
    let findings = mailwarden_checks::with_scan_findings(&observation, findings);
    Audit {
        observation,
        findings,
        stats,
    }
}

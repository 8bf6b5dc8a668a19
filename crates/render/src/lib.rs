//! # mailwarden-render
//!
//! Output sinks for audit results. A [`DomainReport`] (one domain's
//! findings and the Observation behind them) is written as text
//! ([`text`]), as part of one JSON document ([`json::JsonDocument`]), or as
//! one JSON object per line ([`json::write_jsonl`]), SARIF ([`sarif`]),
//! CSV ([`csv`]), HTML ([`html`]) or Markdown ([`markdown`]). Everything
//! that came from DNS is data here; escaping belongs to the renderers, at
//! the output boundary, through [`inert`]: no control or bidi character
//! from outside reaches a reader raw, in any format. [`generate`] builds
//! recommended DNS records (pure; the CLI gathers the inputs).

pub mod csv;
pub mod generate;
pub mod html;
pub mod inert;
pub mod json;
pub mod markdown;
pub mod sarif;
pub mod schema;
pub mod text;

use std::collections::BTreeMap;

use mailwarden_model::{Finding, Observation, Outcome, Severity};
use serde::{Deserialize, Serialize};

/// The version of the JSON report format. Bump on incompatible change.
pub const REPORT_SCHEMA: u32 = 1;

/// Counts of outcomes, and the worst severity among failures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub outcomes: BTreeMap<Outcome, usize>,
    /// The highest severity of a failing finding, if any failed.
    pub worst_failure: Option<Severity>,
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Self {
        let mut s = Summary::default();
        for f in findings {
            *s.outcomes.entry(f.outcome).or_default() += 1;
            if f.outcome == Outcome::Fail {
                s.worst_failure = s.worst_failure.max(Some(f.severity));
            }
        }
        s
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }
}

/// One domain's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainReport {
    pub domain: String,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    /// Scores per area and overall (see the README for the formula).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<mailwarden_policy::score::Scores>,
    /// Verdicts of the profiles asked for with `--profile`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<mailwarden_policy::profile::ProfileResult>,
    pub observation: Observation,
}

impl DomainReport {
    /// Messages and remediations longer than [`inert::MESSAGE_CAP`] are cut.
    pub fn new(mut findings: Vec<Finding>, observation: Observation) -> Self {
        findings.iter_mut().for_each(inert::cap_finding);
        Self {
            domain: observation.domain.clone(),
            summary: Summary::of(&findings),
            findings,
            scores: None,
            profiles: Vec::new(),
            observation,
        }
    }

    /// Whether a failing finding reaches `threshold`.
    pub fn fails_at(&self, threshold: Severity) -> bool {
        self.findings
            .iter()
            .any(|f| f.outcome == Outcome::Fail && f.severity >= threshold)
    }
}

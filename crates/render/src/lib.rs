//! # mailwarden-render
//!
//! Output sinks for audit results. A [`DomainReport`] (one domain's
//! findings and the Observation behind them) goes to a
//! [`sink::ReportSink`], one per format ([`sink::open`]): text ([`text`]),
//! one JSON document ([`json::JsonDocument`]), one JSON object per line
//! ([`json::JsonLines`]), SARIF ([`sarif`]), CSV ([`csv`]), HTML
//! ([`html`]) or Markdown ([`markdown`]). Everything
//! that came from DNS is data here; escaping belongs to the renderers, at
//! the output boundary, through [`inert`]: no control or bidi character
//! from outside reaches a reader raw, in any format. Recommended DNS
//! records are built next to their parsers, in `mailwarden_records::generate`.

pub mod csv;
pub mod html;
mod html_sections;
pub mod inert;
pub mod json;
pub mod markdown;
pub mod published;
pub mod sarif;
pub mod schema;
pub mod sink;
pub mod text;
pub mod triage;
mod wrap;

use std::collections::BTreeMap;

use mailwarden_model::{Finding, Observation, Outcome, Severity};
use serde::{Deserialize, Serialize};

/// The version of the JSON report format. Bump on incompatible change.
pub const REPORT_SCHEMA: u32 = 1;

/// Counts of outcomes, and the worst severity among failures. Failing
/// findings a waiver accepted are counted apart (`accepted`), not under
/// `fail`, and do not set `worst_failure`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub outcomes: BTreeMap<Outcome, usize>,
    /// The highest severity of a failing finding, if any failed.
    pub worst_failure: Option<Severity>,
    /// Failing findings a live waiver accepted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub accepted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Self {
        let mut s = Summary::default();
        for f in findings {
            if f.is_accepted() {
                s.accepted += 1;
                continue;
            }
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

/// What a reader counts: failures that need fixing (by severity, info
/// excluded), accepted risks (failing findings a live waiver covers: never
/// a failure), notes (failing info-level findings: advice, never a FAIL),
/// checks that could not be decided, passes and not-applicable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Failing findings above info, by severity.
    pub failures: BTreeMap<Severity, usize>,
    pub accepted: usize,
    pub notes: usize,
    pub indeterminate: usize,
    pub passed: usize,
    pub not_applicable: usize,
}

impl Tally {
    pub fn of(findings: &[Finding]) -> Self {
        let mut t = Tally::default();
        for f in findings {
            match f.outcome {
                Outcome::Fail if f.accepted.is_some() => t.accepted += 1,
                Outcome::Fail if f.severity == Severity::Info => t.notes += 1,
                Outcome::Fail => *t.failures.entry(f.severity).or_default() += 1,
                Outcome::Indeterminate => t.indeterminate += 1,
                Outcome::Pass => t.passed += 1,
                Outcome::NotApplicable => t.not_applicable += 1,
            }
        }
        t
    }

    /// Failures above info.
    pub fn failed(&self) -> usize {
        self.failures.values().sum()
    }

    /// The worst severity among failures above info.
    pub fn worst(&self) -> Option<Severity> {
        self.failures.keys().next_back().copied()
    }

    /// Nothing was decided: no pass, no failure, no note, nothing accepted.
    pub fn nothing_decided(&self) -> bool {
        self.failed() == 0 && self.notes == 0 && self.passed == 0 && self.accepted == 0
    }

    /// The one-word verdict of a domain: the worst severity in capitals,
    /// `OK`, or `UNKNOWN` when nothing could be decided.
    pub fn verdict(&self) -> &'static str {
        match self.worst() {
            Some(Severity::Critical) => "CRITICAL",
            Some(Severity::High) => "HIGH",
            Some(Severity::Medium) => "MEDIUM",
            Some(Severity::Low) => "LOW",
            Some(Severity::Info) | None if self.nothing_decided() && self.indeterminate > 0 => "UNKNOWN",
            Some(Severity::Info) | None => "OK",
        }
    }

    /// Add another domain's tally (list totals).
    pub fn add(&mut self, other: &Tally) {
        for (s, n) in &other.failures {
            *self.failures.entry(*s).or_default() += n;
        }
        self.accepted += other.accepted;
        self.notes += other.notes;
        self.indeterminate += other.indeterminate;
        self.passed += other.passed;
        self.not_applicable += other.not_applicable;
    }
}

/// `n thing` / `n things`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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

    /// The overall score as a reader sees it (`score 85/100`, `score 30/100
    /// (capped by a critical failure)`, `not scored: why`), when scores
    /// were computed. Renderers read the score only through these.
    pub fn score_label(&self) -> Option<String> {
        self.scores.as_ref().map(|s| s.describe())
    }

    /// The overall score for a table cell: `85/100`, `not scored`, or
    /// empty when no scores were computed.
    pub fn score_short(&self) -> String {
        match self.scores.as_ref().map(|s| s.overall) {
            Some(Some(n)) => format!("{n}/100"),
            Some(None) => "not scored".into(),
            None => String::new(),
        }
    }

    /// The overall score as a number, when scored.
    pub fn score_value(&self) -> Option<u8> {
        self.scores.as_ref().and_then(|s| s.overall)
    }

    /// One area's score: `score 58/100`, `score 30/100 (capped by a
    /// critical failure)`, `not scored: why`.
    pub fn area_score_label(&self, area: mailwarden_policy::Area) -> Option<String> {
        let scores = self.scores.as_ref()?;
        Some(match scores.areas.get(&area) {
            Some(a) => match &a.cap {
                Some(c) => format!("score {}/100 (capped by a {} failure)", a.score, c.severity),
                None => format!("score {}/100", a.score),
            },
            None => match scores.unscored_areas.get(&area) {
                Some(why) => format!("not scored: {why}"),
                None => "not scored".into(),
            },
        })
    }

    /// Whether a failing finding reaches `threshold` (accepted ones never do).
    pub fn fails_at(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.fails() && f.severity >= threshold)
    }

    /// Recount the summary after the findings changed (waivers applied);
    /// new messages are capped like the rest.
    pub fn recount(&mut self) {
        self.findings.iter_mut().for_each(inert::cap_finding);
        self.summary = Summary::of(&self.findings);
    }

    /// The failing findings a live waiver accepted, by rule and subject.
    pub fn accepted(&self) -> Vec<&Finding> {
        let mut list: Vec<&Finding> = self.findings.iter().filter(|f| f.is_accepted()).collect();
        list.sort_by(|a, b| (b.severity, &a.id, &a.subject).cmp(&(a.severity, &b.id, &b.subject)));
        list
    }
}

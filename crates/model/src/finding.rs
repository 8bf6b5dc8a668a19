//! Findings: what a judge concludes, as data.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The four outcomes every check has. `Indeterminate` means we could not
/// look (timeout, SERVFAIL, budget): it is never a failure of the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The domain meets the rule.
    Pass,
    /// The domain does not meet the rule.
    Fail,
    /// The rule does not apply (no MX, validation off ...).
    NotApplicable,
    /// Could not look: the evidence cannot tell.
    Indeterminate,
}

impl Outcome {
    /// The outcome as written in reports (`not-applicable` ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NotApplicable => "not-applicable",
            Outcome::Indeterminate => "indeterminate",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a failing finding matters. Ordered: `Info < ... < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Worth knowing; nothing is at risk.
    Info,
    /// A weakness with little exposure.
    Low,
    /// A weakness attackers can use in some conditions.
    Medium,
    /// Mail can be spoofed, read or lost.
    High,
    /// Mail is spoofable, undeliverable or interceptable now.
    Critical,
}

impl Severity {
    /// The severity as written in reports and `--fail-on`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parse a severity name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a judge concludes about one subject, before the rule catalogue
/// completes it: the rule, the outcome, the subject, what was found and
/// the evidence, and only what the judge knows better than the catalogue
/// (a concrete fix, a severity that depends on context). Title, reference
/// and the catalogue's severity and generic remediation are not here:
/// `mailwarden-policy`'s `Catalogue::complete` adds them, in one place,
/// and turns this into a [`Finding`].
#[derive(Debug, Clone, PartialEq)]
pub struct RawFinding {
    /// Stable rule id from the catalogue, e.g. `mx.target-cname`.
    pub id: String,
    /// Pass, fail, not applicable or indeterminate.
    pub outcome: Outcome,
    /// What the finding is about: the domain, an MX host, a record name.
    pub subject: String,
    /// What was found, in one or two sentences.
    pub message: String,
    /// Raw data behind the finding: records as received, counts, paths.
    pub evidence: BTreeMap<String, serde_json::Value>,
    /// The concrete fix (the record to publish); `None`: the catalogue's
    /// generic remediation applies to a failure.
    pub remediation: Option<String>,
    /// The judge's severity for this instance, when context makes it
    /// differ from the catalogue's; `None`: the catalogue's.
    pub severity: Option<Severity>,
}

impl RawFinding {
    /// A judge's conclusion with no evidence, fix or severity yet.
    pub fn new(id: &str, outcome: Outcome, subject: &str, message: impl Into<String>) -> Self {
        Self {
            id: id.to_string(),
            outcome,
            subject: subject.to_string(),
            message: message.into(),
            evidence: BTreeMap::new(),
            remediation: None,
            severity: None,
        }
    }

    /// Attach one piece of evidence.
    pub fn evidence(mut self, key: &str, value: impl Serialize) -> Self {
        let v = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.evidence.insert(key.to_string(), v);
        self
    }

    /// Give the concrete fix (the record to publish).
    pub fn remediation(mut self, text: impl Into<String>) -> Self {
        self.remediation = Some(text.into());
        self
    }

    /// Override the catalogue severity for this instance.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }

    /// The order findings are reported in: by id, then subject, then message.
    pub fn sort_key(&self) -> (&str, &str, &str) {
        (&self.id, &self.subject, &self.message)
    }
}

/// One conclusion about one subject, complete: a [`RawFinding`] with the
/// rule catalogue's title, reference, severity (unless the judge set
/// one) and generic remediation (unless the judge gave a concrete fix),
/// and, once waivers are applied, the acceptance. This is what reports,
/// scores, profiles and the store read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id from the catalogue, e.g. `mx.target-cname`.
    pub id: String,
    /// Pass, fail, not applicable or indeterminate.
    pub outcome: Outcome,
    /// How much a failure matters (the catalogue's, or the judge's when it knows better).
    pub severity: Severity,
    /// What the finding is about: the domain, an MX host, a record name.
    pub subject: String,
    #[serde(default)]
    /// The rule's title from the catalogue.
    pub title: String,
    /// What was found, in one or two sentences.
    pub message: String,
    /// Raw data behind the finding: records as received, counts, paths.
    #[serde(default)]
    pub evidence: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    /// The standard the rule enforces, e.g. `RFC 7208 §4.6.4`.
    pub reference: String,
    /// The concrete fix; `null` when nothing needs fixing.
    #[serde(default)]
    pub remediation: Option<String>,
    /// Set on a failing finding that a live waiver covers: the risk was
    /// accepted, by whom, why and until when. It is shown and counted
    /// apart, and never fails the run. Absent on every other finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Acceptance>,
}

/// A decision to live with a failing finding for a while (a waiver, or
/// `--ignore` on the command line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    /// Why the risk is accepted.
    pub reason: String,
    /// Who accepted it; absent for `--ignore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The last day (UTC, `YYYY-MM-DD`) the waiver applies; absent: no expiry (`--ignore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Where the waiver is written: `FILE:LINE`, or `--ignore RULE@SUBJECT`.
    pub waiver: String,
}

impl Acceptance {
    /// "accepted by OWNER until DATE: REASON (WAIVER)", for one line of a report.
    pub fn describe(&self) -> String {
        let by = self.owner.as_deref().map_or(String::new(), |o| format!(" by {o}"));
        let until = self.expires.as_deref().map_or(String::new(), |d| format!(" until {d}"));
        format!("accepted{by}{until}: {} ({})", self.reason, self.waiver)
    }
}

impl Finding {
    /// A finding with empty catalogue fields (title, reference) and
    /// severity `info`: for fixtures and tests of what reads findings.
    /// Findings of a scan come from `Catalogue::complete`.
    pub fn new(id: &str, outcome: Outcome, subject: &str, message: impl Into<String>) -> Self {
        Self {
            id: id.to_string(),
            outcome,
            severity: Severity::Info,
            subject: subject.to_string(),
            title: String::new(),
            message: message.into(),
            evidence: BTreeMap::new(),
            reference: String::new(),
            remediation: None,
            accepted: None,
        }
    }

    /// Whether the finding fails and no waiver accepted it: what fix-first
    /// lists, what `--fail-on` and profiles count as a failure.
    pub fn fails(&self) -> bool {
        self.outcome == Outcome::Fail && self.accepted.is_none()
    }

    /// Whether the finding fails but a live waiver accepted the risk.
    pub fn is_accepted(&self) -> bool {
        self.outcome == Outcome::Fail && self.accepted.is_some()
    }

    /// The order findings are reported in: by id, then subject, then message.
    pub fn sort_key(&self) -> (&str, &str, &str) {
        (&self.id, &self.subject, &self.message)
    }
}

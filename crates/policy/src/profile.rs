//! Profiles: a framework's required level as data, and their verdicts.
//! (Stub: the data files and evaluation are being built.)

use serde::{Deserialize, Serialize};

/// Met, not met, or not determinable (some evidence is indeterminate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Met,
    NotMet,
    NotDeterminable,
}

/// One requirement's verdict and the findings behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequirementResult {
    pub id: String,
    pub title: String,
    pub verdict: Verdict,
    /// `rule-id subject outcome` of the findings that decided it.
    pub findings: Vec<String>,
}

/// A profile's verdict for one domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileResult {
    pub profile: String,
    pub title: String,
    pub verdict: Verdict,
    pub requirements: Vec<RequirementResult>,
}

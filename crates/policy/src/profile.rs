//! Profiles: a framework's required level as data, and their verdicts.
//!
//! A profile (`profiles/*.toml`, embedded; or a file the user names) lists
//! requirements. Each requirement is defined by rules and the outcome it
//! expects of their findings:
//!
//! - `rules`: every finding of these rules must pass (`not-applicable` is
//!   allowed: e.g. `dmarc.subdomain-policy` when the domain has no
//!   subdomains to protect);
//! - `must_pass`: every finding must pass and at least one must exist;
//!   `not-applicable` leaves the requirement not determinable;
//! - `planned`: rules that do not exist yet (STARTTLS, DANE ...). While a
//!   planned rule is missing from the catalogue the requirement is **not
//!   determinable** with a "no rule yet" note, never met; once the rule
//!   exists it is judged like `must_pass`;
//! - `check`: a parameter check on a finding's evidence, e.g.
//!   `{ kind = "dmarc-rua-includes", value = "mailto:reports@dmarc.cyber.dhs.gov" }`.
//!
//! A rule listed under `rules` that has no finding while other rules of
//! its protocol do (judges report some rules only when relevant) counts as
//! nothing to object to; with no finding of its protocol at all it is not
//! determinable.
//!
//! Verdict of a requirement: **not met** if any finding behind it fails
//! (or a check finds the value absent); else **not determinable** if any is
//! indeterminate, missing, or a planned rule does not exist yet; else
//! **met**. A profile is not met if any requirement is not met, else not
//! determinable if any is, else met.
//!
//! **Accepted risks.** A failing finding that a live waiver accepted
//! counts as met, and is listed in the requirement's `accepted` with who
//! accepted it, why and until when. A profile whose only failures are
//! accepted is therefore **met, with N accepted risks**
//! ([`ProfileResult::verdict_phrase`]): the verdict an auditor reads
//! states that the risk was decided, not fixed. Parameter checks
//! (`check`) read the published values and are not waived.

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use mailwarden_model::{Finding, Outcome};
use serde::{Deserialize, Serialize};

use crate::Catalogue;
use crate::frameworks::Frameworks;

/// The built-in profiles, embedded. Add a file here when adding a profile.
const SOURCES: &[(&str, &str)] = &[
    (
        "profiles/baseline.toml",
        include_str!("../../../profiles/baseline.toml"),
    ),
    (
        "profiles/bod-18-01.toml",
        include_str!("../../../profiles/bod-18-01.toml"),
    ),
    (
        "profiles/bsi-tr-03108.toml",
        include_str!("../../../profiles/bsi-tr-03108.toml"),
    ),
    (
        "profiles/nist-800-177.toml",
        include_str!("../../../profiles/nist-800-177.toml"),
    ),
    (
        "profiles/pci-dss-4.toml",
        include_str!("../../../profiles/pci-dss-4.toml"),
    ),
    ("profiles/hipaa.toml", include_str!("../../../profiles/hipaa.toml")),
    ("profiles/gdpr.toml", include_str!("../../../profiles/gdpr.toml")),
    (
        "profiles/iso-27001.toml",
        include_str!("../../../profiles/iso-27001.toml"),
    ),
    ("profiles/nis2.toml", include_str!("../../../profiles/nis2.toml")),
    ("profiles/ncsc-uk.toml", include_str!("../../../profiles/ncsc-uk.toml")),
    ("profiles/sox.toml", include_str!("../../../profiles/sox.toml")),
];

/// Met, not met, or not determinable (some evidence is indeterminate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Met,
    NotMet,
    NotDeterminable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::NotMet => "not-met",
            Verdict::NotDeterminable => "not-determinable",
        }
    }

    /// Combine: not met beats not determinable beats met.
    fn and(self, other: Verdict) -> Verdict {
        use Verdict::*;
        match (self, other) {
            (NotMet, _) | (_, NotMet) => NotMet,
            (NotDeterminable, _) | (_, NotDeterminable) => NotDeterminable,
            _ => Met,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One requirement's verdict and the findings behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequirementResult {
    pub id: String,
    pub title: String,
    pub verdict: Verdict,
    /// `rule-id subject outcome` of the findings that decided it.
    pub findings: Vec<String>,
    /// Why the verdict is what it is when the findings alone do not say:
    /// "no rule yet: ...", "no finding of ...", a parameter check's result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Failing findings a live waiver accepted, `rule-id subject: accepted
    /// by OWNER until DATE: REASON (WAIVER)`: they count as met, and are
    /// listed so an auditor sees the risk was decided, by whom and until when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<String>,
}

/// A profile's verdict for one domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileResult {
    pub profile: String,
    pub title: String,
    /// The framework the profile expresses (a framework id, or `mailwarden`).
    #[serde(default)]
    pub framework: String,
    pub verdict: Verdict,
    pub requirements: Vec<RequirementResult>,
}

impl ProfileResult {
    /// How many accepted risks the verdict rests on.
    pub fn accepted(&self) -> usize {
        self.requirements.iter().map(|r| r.accepted.len()).sum()
    }

    /// The verdict as a reader sees it: `met`, `not-met`, `not-determinable`,
    /// or `met, with 2 accepted risks` when the only failures behind a met
    /// profile were accepted by waivers.
    pub fn verdict_phrase(&self) -> String {
        verdict_phrase(self.verdict, self.accepted())
    }
}

impl RequirementResult {
    /// As [`ProfileResult::verdict_phrase`], for one requirement.
    pub fn verdict_phrase(&self) -> String {
        verdict_phrase(self.verdict, self.accepted.len())
    }
}

fn verdict_phrase(verdict: Verdict, accepted: usize) -> String {
    match accepted {
        0 => verdict.as_str().to_string(),
        1 => format!("{verdict}, with 1 accepted risk"),
        n => format!("{verdict}, with {n} accepted risks"),
    }
}

/// A parameter check on a finding's evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// `dmarc-rua-includes`: the `rua` URIs of the DMARC record that
    /// applies (evidence `rua` of `dmarc.rua-missing`) include `value`
    /// (case-insensitive; `mailto:` optional).
    /// `dmarc-policy`: the policy receivers apply to the domain and its
    /// subdomains (evidence `effective` of `dmarc.policy-none`) is `value`,
    /// e.g. `reject` (`dmarc.policy-none` alone passes `quarantine` too).
    pub kind: String,
    pub value: String,
}

/// Check kinds this version understands.
pub const CHECK_KINDS: &[&str] = &["dmarc-rua-includes", "dmarc-policy"];

/// One requirement of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub title: String,
    /// Findings must pass; not-applicable allowed.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Findings must pass; at least one must exist.
    #[serde(default)]
    pub must_pass: Vec<String>,
    /// Rules a later release adds; not determinable until they exist.
    #[serde(default)]
    pub planned: Vec<String>,
    #[serde(default)]
    pub check: Option<Check>,
    /// Framework controls (`framework/id`) the requirement expresses.
    #[serde(default)]
    pub controls: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// Rules mapped to the requirement's controls that it deliberately
    /// does not judge, each group with the reason (e.g. "judged by
    /// requirement spf-valid of this profile").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempt: Vec<Exemption>,
}

/// Rules a requirement leaves out although they map to its controls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exemption {
    pub rules: Vec<String>,
    pub reason: String,
}

impl Requirement {
    /// Whether the requirement judges findings of `rule`.
    pub fn judges(&self, rule: &str) -> bool {
        self.rules
            .iter()
            .chain(&self.must_pass)
            .chain(&self.planned)
            .any(|r| r == rule)
    }

    /// The documented reason the requirement does not judge `rule`.
    pub fn exemption(&self, rule: &str) -> Option<&str> {
        self.exempt
            .iter()
            .find(|e| e.rules.iter().any(|r| r == rule))
            .map(|e| e.reason.as_str())
    }
}

/// A profile: a framework's required level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub id: String,
    pub title: String,
    pub framework: String,
    pub description: String,
    pub requirements: Vec<Requirement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    profile: ProfileHeader,
    #[serde(default)]
    requirement: Vec<Requirement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileHeader {
    id: String,
    title: String,
    framework: String,
    #[serde(default)]
    description: String,
}

/// Why a profile could not be used. Every message names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    #[error("unknown profile {name:?}: built-in profiles are {known}; or give the path of a profile file (.toml)")]
    Unknown { name: String, known: String },
}

impl Profile {
    /// Parse a profile file and check it against `catalogue` and
    /// `frameworks`; `file` names it in errors.
    pub fn parse(
        file: &str,
        text: &str,
        catalogue: &Catalogue,
        frameworks: &Frameworks,
    ) -> Result<Profile, ProfileError> {
        let parsed: ProfileFile = toml::from_str(text).map_err(|e| ProfileError::Syntax {
            file: file.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let profile = Profile {
            id: parsed.profile.id,
            title: parsed.profile.title,
            framework: parsed.profile.framework,
            description: parsed.profile.description,
            requirements: parsed.requirement,
        };
        profile
            .validate(catalogue, frameworks)
            .map_err(|message| ProfileError::Invalid {
                file: file.to_string(),
                message,
            })?;
        Ok(profile)
    }

    fn validate(&self, catalogue: &Catalogue, frameworks: &Frameworks) -> Result<(), String> {
        if self.id.is_empty() || self.title.is_empty() {
            return Err("[profile] needs an id and a title".into());
        }
        if self.framework != "mailwarden" && frameworks.framework(&self.framework).is_none() {
            return Err(format!(
                "profile {:?}: framework {:?} is unknown (`mailwarden frameworks` lists them; or \"mailwarden\")",
                self.id, self.framework
            ));
        }
        if self.requirements.is_empty() {
            return Err(format!("profile {:?} has no [[requirement]]", self.id));
        }
        for (i, r) in self.requirements.iter().enumerate() {
            let name = format!("requirement {:?}", r.id);
            if r.id.is_empty() || r.title.is_empty() {
                return Err(format!("requirement #{}: needs an id and a title", i + 1));
            }
            if self.requirements[..i].iter().any(|o| o.id == r.id) {
                return Err(format!("{name} is defined twice"));
            }
            if r.rules.is_empty() && r.must_pass.is_empty() && r.planned.is_empty() {
                return Err(format!("{name} names no rule (rules, must_pass or planned)"));
            }
            for rule in r.rules.iter().chain(&r.must_pass) {
                if catalogue.get(rule).is_none() {
                    return Err(format!(
                        "{name}: rule {rule:?} is not in the rule catalogue (`mailwarden rules` lists them; a rule that does not exist yet belongs in `planned`)"
                    ));
                }
            }
            for rule in &r.planned {
                if !rule.contains('.') || rule.contains(char::is_whitespace) {
                    return Err(format!("{name}: planned rule {rule:?} is not a rule id"));
                }
            }
            if let Some(c) = &r.check {
                if !CHECK_KINDS.contains(&c.kind.as_str()) {
                    return Err(format!(
                        "{name}: check kind {:?} is unknown (known: {})",
                        c.kind,
                        CHECK_KINDS.join(", ")
                    ));
                }
                if c.value.trim().is_empty() {
                    return Err(format!("{name}: check {:?} needs a value", c.kind));
                }
            }
            for e in &r.exempt {
                if e.reason.trim().is_empty() || e.rules.is_empty() {
                    return Err(format!("{name}: an exempt entry needs rules and a reason"));
                }
                for rule in &e.rules {
                    if catalogue.get(rule).is_none() {
                        return Err(format!("{name}: exempt rule {rule:?} is not in the rule catalogue"));
                    }
                    if r.judges(rule) {
                        return Err(format!("{name}: rule {rule:?} is both judged and exempt"));
                    }
                }
                self.check_judged_elsewhere(&name, e)?;
            }
            for key in &r.controls {
                if frameworks.control(key).is_none() {
                    return Err(format!(
                        "{name}: control {key:?} is unknown (write FRAMEWORK/CONTROL-ID)"
                    ));
                }
            }
        }
        Ok(())
    }

    /// An exemption whose reason reads "judged by requirement ID ..." must
    /// be true: that requirement exists and judges every rule it exempts.
    fn check_judged_elsewhere(&self, name: &str, e: &Exemption) -> Result<(), String> {
        let Some(rest) = e.reason.strip_prefix("judged by requirement ") else {
            return Ok(());
        };
        let other_id = rest.split_whitespace().next().unwrap_or("");
        let Some(other) = self.requirements.iter().find(|o| o.id == other_id) else {
            return Err(format!(
                "{name}: exempt reason names requirement {other_id:?}, which this profile does not have"
            ));
        };
        match e.rules.iter().find(|rule| !other.judges(rule)) {
            Some(rule) => Err(format!(
                "{name}: exempt reason says requirement {other_id:?} judges {rule:?}, but it does not"
            )),
            None => Ok(()),
        }
    }

    /// The profiles built into this binary.
    pub fn builtins() -> &'static [Profile] {
        static BUILTIN: OnceLock<Vec<Profile>> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            SOURCES
                .iter()
                .map(|(file, text)| {
                    Profile::parse(file, text, Catalogue::builtin(), Frameworks::builtin())
                        .unwrap_or_else(|e| panic!("built-in profile is invalid: {e}"))
                })
                .collect()
        })
    }

    pub fn builtin(id: &str) -> Option<&'static Profile> {
        Profile::builtins().iter().find(|p| p.id == id)
    }

    /// A built-in profile by id, or a profile file by path.
    pub fn load(name_or_path: &str) -> Result<Profile, ProfileError> {
        if let Some(p) = Profile::builtin(name_or_path) {
            return Ok(p.clone());
        }
        let path = Path::new(name_or_path);
        let looks_like_path = name_or_path.contains(['/', '\\']) || name_or_path.ends_with(".toml") || path.exists();
        if !looks_like_path {
            return Err(ProfileError::Unknown {
                name: name_or_path.to_string(),
                known: Profile::builtins()
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Io {
            file: name_or_path.to_string(),
            message: e.to_string(),
        })?;
        Profile::parse(name_or_path, &text, Catalogue::builtin(), Frameworks::builtin())
    }

    /// Judge one domain's findings against the profile.
    pub fn evaluate(&self, findings: &[Finding], catalogue: &Catalogue) -> ProfileResult {
        let requirements: Vec<RequirementResult> = self
            .requirements
            .iter()
            .map(|r| evaluate_requirement(r, findings, catalogue))
            .collect();
        let verdict = requirements.iter().fold(Verdict::Met, |v, r| v.and(r.verdict));
        ProfileResult {
            profile: self.id.clone(),
            title: self.title.clone(),
            framework: self.framework.clone(),
            verdict,
            requirements,
        }
    }
}

fn describe(f: &Finding) -> String {
    let outcome = if f.is_accepted() {
        "accepted"
    } else {
        f.outcome.as_str()
    };
    format!("{} {outcome}", describe_subject(f))
}

/// `rule-id subject`, or the rule id when the subject is empty.
fn describe_subject(f: &Finding) -> String {
    if f.subject.is_empty() {
        f.id.clone()
    } else {
        format!("{} {}", f.id, f.subject)
    }
}

fn evaluate_requirement(r: &Requirement, findings: &[Finding], catalogue: &Catalogue) -> RequirementResult {
    let mut verdict = Verdict::Met;
    let mut behind = Vec::new();
    let mut notes = Vec::new();
    let mut accepted = Vec::new();
    let mut judge = |rule: &str, strict: bool, behind: &mut Vec<String>, notes: &mut Vec<String>| {
        let of_rule: Vec<&Finding> = findings.iter().filter(|f| f.id == rule).collect();
        if of_rule.is_empty() {
            // Some judges report a rule only when it is relevant (a null MX
            // next to other MX, a delegated DKIM selector): silence from a
            // judge that ran is nothing to object to. Silence from a judge
            // that did not run, or for a rule that must pass, is not evidence.
            let protocol = rule.split('.').next().unwrap_or(rule);
            let judged = findings.iter().any(|f| f.id.split('.').next() == Some(protocol));
            if !strict && judged {
                return Verdict::Met;
            }
            notes.push(format!("no finding of {rule} (not collected or not judged)"));
            return Verdict::NotDeterminable;
        }
        let mut v = Verdict::Met;
        for f in &of_rule {
            behind.push(describe(f));
            v = v.and(match f.outcome {
                Outcome::Pass => Verdict::Met,
                Outcome::Fail => match &f.accepted {
                    // A waiver accepted the risk: met, and said so.
                    Some(a) => {
                        accepted.push(format!("{}: {}", describe_subject(f), a.describe()));
                        Verdict::Met
                    }
                    None => Verdict::NotMet,
                },
                Outcome::Indeterminate => Verdict::NotDeterminable,
                Outcome::NotApplicable if strict => Verdict::NotDeterminable,
                Outcome::NotApplicable => Verdict::Met,
            });
        }
        if strict && v == Verdict::NotDeterminable && of_rule.iter().all(|f| f.outcome == Outcome::NotApplicable) {
            notes.push(format!(
                "{rule} is not applicable here, but the requirement needs it to pass"
            ));
        }
        v
    };
    for rule in &r.rules {
        verdict = verdict.and(judge(rule, false, &mut behind, &mut notes));
    }
    for rule in &r.must_pass {
        verdict = verdict.and(judge(rule, true, &mut behind, &mut notes));
    }
    for rule in &r.planned {
        if catalogue.get(rule).is_some() {
            verdict = verdict.and(judge(rule, true, &mut behind, &mut notes));
        } else {
            notes.push(format!("no rule yet: {rule} (a later release adds it)"));
            verdict = verdict.and(Verdict::NotDeterminable);
        }
    }
    if let Some(check) = &r.check {
        verdict = verdict.and(run_check(check, findings, &mut behind, &mut notes));
    }
    if let Some(note) = &r.note {
        notes.push(note.clone());
    }
    let mut seen = std::collections::BTreeSet::new();
    behind.retain(|b| seen.insert(b.clone()));
    accepted.dedup();
    RequirementResult {
        id: r.id.clone(),
        title: r.title.clone(),
        verdict,
        findings: behind,
        notes,
        accepted,
    }
}

fn normalise_uri(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_prefix("mailto:").unwrap_or(&s).to_string();
    // Drop an obsolete "!size" suffix.
    s.split('!').next().unwrap_or("").to_string()
}

fn run_check(check: &Check, findings: &[Finding], behind: &mut Vec<String>, notes: &mut Vec<String>) -> Verdict {
    match check.kind.as_str() {
        "dmarc-rua-includes" => {
            let want = normalise_uri(&check.value);
            let source: Vec<&Finding> = findings.iter().filter(|f| f.id == "dmarc.rua-missing").collect();
            if source.is_empty() {
                notes.push(format!(
                    "{}: no dmarc.rua-missing finding to read the rua URIs from",
                    check.kind
                ));
                return Verdict::NotDeterminable;
            }
            let mut verdict = Verdict::Met;
            for f in source {
                behind.push(describe(f));
                let v = match f.outcome {
                    Outcome::Indeterminate => Verdict::NotDeterminable,
                    Outcome::NotApplicable => {
                        notes.push(format!("{}: no DMARC record applies", check.kind));
                        Verdict::NotMet
                    }
                    Outcome::Fail => {
                        notes.push(format!(
                            "{}: the DMARC record has no rua, so not {}",
                            check.kind, check.value
                        ));
                        Verdict::NotMet
                    }
                    Outcome::Pass => match f.evidence.get("rua").and_then(|v| v.as_array()) {
                        None => {
                            notes.push(format!(
                                "{}: the evidence does not list the rua URIs (judged by an older mailwarden?)",
                                check.kind
                            ));
                            Verdict::NotDeterminable
                        }
                        Some(list) => {
                            let found = list.iter().filter_map(|u| u.as_str()).any(|u| normalise_uri(u) == want);
                            if found {
                                notes.push(format!("{}: rua includes {}", check.kind, check.value));
                                Verdict::Met
                            } else {
                                let have: Vec<&str> = list.iter().filter_map(|u| u.as_str()).collect();
                                notes.push(format!(
                                    "{}: rua does not include {} (rua: {})",
                                    check.kind,
                                    check.value,
                                    have.join(", ")
                                ));
                                Verdict::NotMet
                            }
                        }
                    },
                };
                verdict = verdict.and(v);
            }
            verdict
        }
        "dmarc-policy" => {
            let want = check.value.trim().to_ascii_lowercase();
            let source: Vec<&Finding> = findings.iter().filter(|f| f.id == "dmarc.policy-none").collect();
            if source.is_empty() {
                notes.push(format!(
                    "{}: no dmarc.policy-none finding to read the policy from",
                    check.kind
                ));
                return Verdict::NotDeterminable;
            }
            let mut verdict = Verdict::Met;
            for f in source {
                behind.push(describe(f));
                let eff = f.evidence.get("effective");
                let field = |k: &str| eff.and_then(|e| e.get(k)).and_then(|v| v.as_str()).map(str::to_string);
                let v = match f.outcome {
                    Outcome::Indeterminate => Verdict::NotDeterminable,
                    Outcome::NotApplicable => {
                        notes.push(format!("{}: no DMARC record applies", check.kind));
                        Verdict::NotMet
                    }
                    _ if eff.is_none() => {
                        notes.push(format!(
                            "{}: the evidence does not show the effective policy",
                            check.kind
                        ));
                        Verdict::NotDeterminable
                    }
                    _ => {
                        let domain = field("domain");
                        let subdomains = field("subdomains");
                        let ok =
                            domain.as_deref() == Some(want.as_str()) && subdomains.as_deref().is_none_or(|s| s == want);
                        notes.push(format!(
                            "{}: effective policy p={} sp={} (required: {want})",
                            check.kind,
                            domain.as_deref().unwrap_or("(none)"),
                            subdomains.as_deref().unwrap_or("(as p)")
                        ));
                        if ok { Verdict::Met } else { Verdict::NotMet }
                    }
                };
                verdict = verdict.and(v);
            }
            verdict
        }
        other => {
            notes.push(format!("unknown check {other:?}"));
            Verdict::NotDeterminable
        }
    }
}

#[cfg(test)]
mod tests;

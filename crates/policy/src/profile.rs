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
    if f.subject.is_empty() {
        format!("{} {}", f.id, f.outcome)
    } else {
        format!("{} {} {}", f.id, f.subject, f.outcome)
    }
}

fn evaluate_requirement(r: &Requirement, findings: &[Finding], catalogue: &Catalogue) -> RequirementResult {
    let mut verdict = Verdict::Met;
    let mut behind = Vec::new();
    let mut notes = Vec::new();
    let judge = |rule: &str, strict: bool, behind: &mut Vec<String>, notes: &mut Vec<String>| {
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
                Outcome::Fail => Verdict::NotMet,
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
    RequirementResult {
        id: r.id.clone(),
        title: r.title.clone(),
        verdict,
        findings: behind,
        notes,
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
mod tests {
    use mailwarden_model::Severity;

    use super::*;

    fn f(id: &str, outcome: Outcome) -> Finding {
        let mut f = Finding::new(id, outcome, "example.com", "m");
        f.severity = Severity::High;
        f
    }

    fn profile(body: &str) -> Profile {
        let text = format!("[profile]\nid = \"t\"\ntitle = \"T\"\nframework = \"mailwarden\"\n\n{body}");
        Profile::parse("t.toml", &text, Catalogue::builtin(), Frameworks::builtin()).unwrap()
    }

    const DMARC_REJECT: &str = "[[requirement]]\nid = \"reject\"\ntitle = \"DMARC p=reject\"\nrules = [\"dmarc.policy-none\", \"dmarc.subdomain-policy\"]\n";

    #[test]
    fn met_not_met_and_not_determinable() {
        let p = profile(DMARC_REJECT);
        let met = p.evaluate(
            &[
                f("dmarc.policy-none", Outcome::Pass),
                f("dmarc.subdomain-policy", Outcome::NotApplicable),
            ],
            Catalogue::builtin(),
        );
        assert_eq!(met.verdict, Verdict::Met);
        assert_eq!(
            met.requirements[0].findings,
            vec![
                "dmarc.policy-none example.com pass",
                "dmarc.subdomain-policy example.com not-applicable"
            ]
        );
        let not_met = p.evaluate(
            &[
                f("dmarc.policy-none", Outcome::Fail),
                f("dmarc.subdomain-policy", Outcome::Indeterminate),
            ],
            Catalogue::builtin(),
        );
        assert_eq!(not_met.verdict, Verdict::NotMet, "a failure beats indeterminate");
        let nd = p.evaluate(
            &[
                f("dmarc.policy-none", Outcome::Pass),
                f("dmarc.subdomain-policy", Outcome::Indeterminate),
            ],
            Catalogue::builtin(),
        );
        assert_eq!(nd.verdict, Verdict::NotDeterminable);
        // A rule the DMARC judge did not report while it ran: nothing to object to.
        let silent = p.evaluate(&[f("dmarc.policy-none", Outcome::Pass)], Catalogue::builtin());
        assert_eq!(silent.verdict, Verdict::Met);
        // No DMARC finding at all: the judge did not run; not evidence.
        let missing = p.evaluate(&[f("spf.missing", Outcome::Pass)], Catalogue::builtin());
        assert_eq!(missing.verdict, Verdict::NotDeterminable);
        assert!(missing.requirements[0].notes[0].contains("no finding of dmarc.policy-none"));
    }

    #[test]
    fn planned_rule_is_not_determinable_never_met() {
        let p = profile(
            "[[requirement]]\nid = \"starttls\"\ntitle = \"STARTTLS on every MX\"\nplanned = [\"starttls.offered\"]\n",
        );
        let r = p.evaluate(&[f("mx.present", Outcome::Pass)], Catalogue::builtin());
        assert_eq!(r.verdict, Verdict::NotDeterminable);
        assert!(
            r.requirements[0].notes[0].starts_with("no rule yet: starttls.offered"),
            "{:?}",
            r.requirements[0].notes
        );
    }

    #[test]
    fn must_pass_needs_a_pass() {
        let p = profile("[[requirement]]\nid = \"signed\"\ntitle = \"DNSSEC\"\nmust_pass = [\"dnssec.chain\"]\n");
        let na = p.evaluate(&[f("dnssec.chain", Outcome::NotApplicable)], Catalogue::builtin());
        assert_eq!(na.verdict, Verdict::NotDeterminable);
        let ok = p.evaluate(&[f("dnssec.chain", Outcome::Pass)], Catalogue::builtin());
        assert_eq!(ok.verdict, Verdict::Met);
    }

    #[test]
    fn overall_verdict_combines_requirements() {
        let p = profile(&format!(
            "{DMARC_REJECT}\n[[requirement]]\nid = \"starttls\"\ntitle = \"STARTTLS\"\nplanned = [\"starttls.offered\"]\n"
        ));
        let good = [
            f("dmarc.policy-none", Outcome::Pass),
            f("dmarc.subdomain-policy", Outcome::Pass),
        ];
        assert_eq!(
            p.evaluate(&good, Catalogue::builtin()).verdict,
            Verdict::NotDeterminable
        );
        let bad = [
            f("dmarc.policy-none", Outcome::Fail),
            f("dmarc.subdomain-policy", Outcome::Pass),
        ];
        assert_eq!(p.evaluate(&bad, Catalogue::builtin()).verdict, Verdict::NotMet);
    }

    #[test]
    fn rua_includes_check() {
        let p = profile(
            "[[requirement]]\nid = \"rua\"\ntitle = \"rua\"\nrules = [\"dmarc.rua-invalid\"]\ncheck = { kind = \"dmarc-rua-includes\", value = \"mailto:reports@dmarc.cyber.dhs.gov\" }\n",
        );
        let with = |uris: &[&str]| {
            let rua = f("dmarc.rua-missing", Outcome::Pass).evidence("rua", uris);
            p.evaluate(&[rua, f("dmarc.rua-invalid", Outcome::Pass)], Catalogue::builtin())
                .verdict
        };
        assert_eq!(
            with(&["mailto:dmarc@example.com", "MAILTO:Reports@dmarc.cyber.dhs.gov"]),
            Verdict::Met
        );
        assert_eq!(with(&["mailto:dmarc@example.com"]), Verdict::NotMet);
        let no_evidence = p.evaluate(
            &[
                f("dmarc.rua-missing", Outcome::Pass),
                f("dmarc.rua-invalid", Outcome::Pass),
            ],
            Catalogue::builtin(),
        );
        assert_eq!(no_evidence.verdict, Verdict::NotDeterminable);
        let no_rua = p.evaluate(
            &[
                f("dmarc.rua-missing", Outcome::Fail),
                f("dmarc.rua-invalid", Outcome::NotApplicable),
            ],
            Catalogue::builtin(),
        );
        assert_eq!(no_rua.verdict, Verdict::NotMet);
    }

    #[test]
    fn every_builtin_profile_loads_and_names_existing_rules() {
        let ids: Vec<&str> = Profile::builtins().iter().map(|p| p.id.as_str()).collect();
        for want in [
            "baseline",
            "bod-18-01",
            "bsi-tr-03108",
            "nist-800-177",
            "pci-dss-4",
            "hipaa",
            "gdpr",
            "iso-27001",
            "nis2",
            "ncsc-uk",
        ] {
            assert!(ids.contains(&want), "missing built-in profile {want}");
        }
        let cat = Catalogue::builtin();
        for p in Profile::builtins() {
            for r in &p.requirements {
                for rule in r.rules.iter().chain(&r.must_pass) {
                    assert!(cat.get(rule).is_some(), "{}/{}: unknown rule {rule}", p.id, r.id);
                }
            }
        }
    }

    #[test]
    fn bod_18_01_weak_protocols_and_starttls_are_judged_by_the_probe_rules() {
        let p = Profile::builtin("bod-18-01").unwrap();
        let r = p.evaluate(&[], Catalogue::builtin());
        let req = |r: &ProfileResult, id: &str| r.requirements.iter().find(|q| q.id == id).unwrap().clone();
        assert_eq!(req(&r, "no-weak-tls").verdict, Verdict::NotDeterminable, "nothing seen");
        let mx = "mx.example.com (192.0.2.25)";
        let mut legacy: Vec<Finding> = ["smtp.ssl3", "smtp.legacy-cipher"]
            .iter()
            .map(|id| Finding::new(id, Outcome::Pass, mx, "refused"))
            .collect();
        // TLS 1.0/1.1 are not part of BOD 18-01's SSL requirement.
        legacy.push(Finding::new("smtp.legacy-protocol", Outcome::Fail, mx, "TLSv1.0"));
        let weak = |f: &[Finding]| req(&p.evaluate(f, Catalogue::builtin()), "no-weak-tls").verdict;
        assert_eq!(weak(&legacy), Verdict::Met);
        legacy[1].outcome = Outcome::Fail;
        assert_eq!(weak(&legacy), Verdict::NotMet, "3DES accepted");
        legacy[1].outcome = Outcome::Indeterminate;
        assert_eq!(weak(&legacy), Verdict::NotDeterminable, "could not tell");
        let mut findings: Vec<Finding> = ["smtp.starttls", "smtp.starttls-refused", "smtp.handshake"]
            .iter()
            .map(|id| Finding::new(id, Outcome::Pass, mx, "ok"))
            .collect();
        assert_eq!(
            req(&p.evaluate(&findings, Catalogue::builtin()), "starttls").verdict,
            Verdict::Met
        );
        findings[0].outcome = Outcome::Fail;
        assert_eq!(
            req(&p.evaluate(&findings, Catalogue::builtin()), "starttls").verdict,
            Verdict::NotMet
        );
    }

    #[test]
    fn bsi_dane_is_never_met_on_tlsa_records_alone() {
        let p = Profile::builtin("bsi-tr-03108").unwrap();
        let mx = "mx.example.com";
        let mut findings: Vec<Finding> = [
            "dane.tlsa-present",
            "dane.insecure",
            "dane.bogus",
            "dane.syntax",
            "dane.usage",
        ]
        .iter()
        .map(|id| Finding::new(id, Outcome::Pass, mx, "ok"))
        .collect();
        findings.push(Finding::new(
            "dane.match",
            Outcome::Indeterminate,
            mx,
            "needs the probe",
        ));
        let dane = |f: &[Finding]| {
            p.evaluate(f, Catalogue::builtin())
                .requirements
                .into_iter()
                .find(|r| r.id == "dane")
                .unwrap()
        };
        assert_eq!(dane(&findings).verdict, Verdict::NotDeterminable);
        findings[5].outcome = Outcome::Pass;
        assert_eq!(dane(&findings).verdict, Verdict::Met, "records and a matching chain");
        findings[0].outcome = Outcome::Fail;
        assert_eq!(dane(&findings).verdict, Verdict::NotMet);
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let e = Profile::parse(
            "custom.toml",
            "[profile]\nid = \"x\"\ntitle = \"X\"\nframework = \"mailwarden\"\n[[requirement]\nid = 1\n",
            Catalogue::builtin(),
            Frameworks::builtin(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("custom.toml: ") && e.contains("line 5"), "{e}");
        let e = Profile::parse(
            "custom.toml",
            "[profile]\nid = \"x\"\ntitle = \"X\"\nframework = \"mailwarden\"\n[[requirement]]\nid = \"r\"\ntitle = \"R\"\nrules = [\"spf.nope\"]\n",
            Catalogue::builtin(),
            Frameworks::builtin(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("\"spf.nope\" is not in the rule catalogue"), "{e}");
        assert!(matches!(
            Profile::load("no-such-profile"),
            Err(ProfileError::Unknown { .. })
        ));
    }
}

//! # mailwarden-policy
//!
//! The rule catalogue is data: `rules/*.toml` in the repository, embedded
//! at build time, one `[[rule]]` table per rule with its id, area, title,
//! severity, rationale, references and generic remediation. `mailwarden
//! rules` lists it, `mailwarden explain ID` prints one, and every finding a
//! judge emits is completed from it ([`Catalogue::complete`]).

pub mod frameworks;
pub mod profile;
pub mod score;
pub mod waiver;

/// The judge's "now" for saved evidence: when it was collected (the
/// Observation's `started_at`), so a signature or certificate valid then is
/// judged valid; the current time if the evidence does not say. Shared by
/// `mailwarden judge` and the web's report downloads, which must agree.
pub fn evidence_time(observation: &mailwarden_model::Observation) -> i64 {
    let parse = |s: &String| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok();
    observation
        .started_at
        .as_ref()
        .and_then(parse)
        .unwrap_or_else(time::OffsetDateTime::now_utc)
        .unix_timestamp()
}

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use mailwarden_model::{Finding, Outcome, RawFinding, Severity};
use serde::{Deserialize, Serialize};

/// The catalogue files, embedded. Add a file here when adding a protocol.
const SOURCES: &[(&str, &str)] = &[
    ("rules/bimi.toml", include_str!("../../../rules/bimi.toml")),
    ("rules/dane.toml", include_str!("../../../rules/dane.toml")),
    ("rules/dkim.toml", include_str!("../../../rules/dkim.toml")),
    ("rules/dmarc.toml", include_str!("../../../rules/dmarc.toml")),
    ("rules/dns.toml", include_str!("../../../rules/dns.toml")),
    ("rules/dnssec.toml", include_str!("../../../rules/dnssec.toml")),
    ("rules/failover.toml", include_str!("../../../rules/failover.toml")),
    ("rules/mta-sts.toml", include_str!("../../../rules/mta-sts.toml")),
    ("rules/mx.toml", include_str!("../../../rules/mx.toml")),
    ("rules/ns.toml", include_str!("../../../rules/ns.toml")),
    ("rules/smtp.toml", include_str!("../../../rules/smtp.toml")),
    ("rules/spf.toml", include_str!("../../../rules/spf.toml")),
    ("rules/tlsrpt.toml", include_str!("../../../rules/tlsrpt.toml")),
    ("rules/waiver.toml", include_str!("../../../rules/waiver.toml")),
    ("rules/message.toml", include_str!("../../../rules/message.toml")),
];

/// The part of the mail setup a rule is about; the text report groups by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    Routing,
    SenderAuthentication,
    TransportSecurity,
    DnsIntegrity,
    /// What message headers disclose (`mailwarden message`).
    Privacy,
}

impl Area {
    /// The area as written in JSON and on the command line (`dns-integrity`).
    pub fn id(self) -> &'static str {
        match self {
            Area::Routing => "routing",
            Area::SenderAuthentication => "sender-authentication",
            Area::TransportSecurity => "transport-security",
            Area::DnsIntegrity => "dns-integrity",
            Area::Privacy => "privacy",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Area::Routing => "Mail routing (MX)",
            Area::SenderAuthentication => "Sender authentication (SPF, DKIM, DMARC)",
            Area::TransportSecurity => "Transport security (STARTTLS, MTA-STS, DANE)",
            Area::DnsIntegrity => "DNS integrity (DNSSEC, nameservers)",
            Area::Privacy => "Header privacy (data minimisation)",
        }
    }
}

/// One rule, as written in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub area: Area,
    pub title: String,
    /// The severity of a failure of this rule.
    pub severity: Severity,
    pub rationale: String,
    pub references: Vec<String>,
    pub remediation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<Rule>,
}

/// Why a catalogue file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: rule {id:?} is defined twice")]
    Duplicate { file: String, id: String },
    #[error("{file}: rule id {id:?} must be lower-case words joined by '.' and '-', starting with its protocol")]
    BadId { file: String, id: String },
}

/// All rules, by id.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    rules: BTreeMap<String, Rule>,
}

impl Catalogue {
    /// The catalogue built into this binary.
    pub fn builtin() -> &'static Catalogue {
        static BUILTIN: OnceLock<Catalogue> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let mut c = Catalogue::default();
            for (file, text) in SOURCES {
                c.add_file(file, text)
                    .unwrap_or_else(|e| panic!("built-in rule catalogue is invalid: {e}"));
            }
            c
        })
    }

    /// Add the rules of one TOML file; `file` names it in errors.
    pub fn add_file(&mut self, file: &str, text: &str) -> Result<(), CatalogueError> {
        let parsed: RuleFile = toml::from_str(text).map_err(|e| CatalogueError::Syntax {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        for rule in parsed.rule {
            if !valid_id(&rule.id) {
                return Err(CatalogueError::BadId {
                    file: file.to_string(),
                    id: rule.id,
                });
            }
            if self.rules.contains_key(&rule.id) {
                return Err(CatalogueError::Duplicate {
                    file: file.to_string(),
                    id: rule.id,
                });
            }
            self.rules.insert(rule.id.clone(), rule);
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.values()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Complete a judge's raw finding from the catalogue: the rule's
    /// title and references, its severity (unless the judge set one for
    /// this instance) and, on a failure, its generic remediation (unless
    /// the judge gave a concrete one). The one place a [`RawFinding`]
    /// becomes a [`Finding`]. An id the catalogue lacks keeps what the
    /// judge gave (no title, severity `info` unless set); the test suite
    /// makes sure that never happens.
    pub fn complete(&self, raw: RawFinding) -> Finding {
        let RawFinding {
            id,
            outcome,
            subject,
            message,
            evidence,
            remediation,
            severity,
        } = raw;
        let rule = self.get(&id);
        let generic = || rule.filter(|_| outcome == Outcome::Fail).map(|r| r.remediation.clone());
        Finding {
            severity: severity.or_else(|| rule.map(|r| r.severity)).unwrap_or(Severity::Info),
            title: rule.map(|r| r.title.clone()).unwrap_or_default(),
            reference: rule.map(|r| r.references.join("; ")).unwrap_or_default(),
            remediation: remediation.or_else(generic),
            evidence,
            ..Finding::new(&id, outcome, &subject, message)
        }
    }

    /// [`Catalogue::complete`] for each of a judge's findings, in order.
    pub fn complete_all(&self, raw: Vec<RawFinding>) -> Vec<Finding> {
        raw.into_iter().map(|f| self.complete(f)).collect()
    }

    /// The area of a rule id, for grouping; unknown ids go under DNS integrity.
    pub fn area_of(&self, id: &str) -> Area {
        self.get(id).map_or(Area::DnsIntegrity, |r| r.area)
    }
}

fn valid_id(id: &str) -> bool {
    let mut parts = id.split('.');
    let first_ok = parts.next().is_some_and(|p| {
        p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            && p.starts_with(|c: char| c.is_ascii_lowercase())
            && !p.ends_with('-')
    });
    first_ok
        && id.contains('.')
        && id.split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.id, self.title)?;
        writeln!(f, "area:        {:?}", self.area)?;
        writeln!(f, "severity:    {}", self.severity)?;
        writeln!(f, "references:  {}", self.references.join("; "))?;
        writeln!(f, "\nWhy it matters\n  {}", self.rationale)?;
        write!(f, "\nRemediation\n  {}", self.remediation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_loads_and_is_complete() {
        let c = Catalogue::builtin();
        assert!(c.len() >= 10, "catalogue has {} rules", c.len());
        for rule in c.iter() {
            assert!(
                !rule.title.is_empty() && !rule.rationale.is_empty(),
                "{} lacks prose",
                rule.id
            );
            assert!(!rule.references.is_empty(), "{} has no reference", rule.id);
            assert!(!rule.remediation.is_empty(), "{} has no remediation", rule.id);
        }
    }

    #[test]
    fn duplicate_and_malformed_ids_are_refused() {
        let rule = |id: &str| {
            format!(
                "[[rule]]\nid = \"{id}\"\narea = \"routing\"\ntitle = \"t\"\nseverity = \"low\"\nrationale = \"r\"\nreferences = [\"x\"]\nremediation = \"m\"\n"
            )
        };
        let mut c = Catalogue::default();
        c.add_file("a.toml", &rule("mx.one")).unwrap();
        assert!(matches!(
            c.add_file("b.toml", &rule("mx.one")),
            Err(CatalogueError::Duplicate { .. })
        ));
        assert!(matches!(
            c.add_file("c.toml", &rule("MX One")),
            Err(CatalogueError::BadId { .. })
        ));
        let err = c.add_file("d.toml", "[[rule]]\nid = 3").unwrap_err();
        assert!(err.to_string().starts_with("d.toml: "), "{err}");
    }

    #[test]
    fn complete_fills_catalogue_fields_but_keeps_concrete_remediation_and_severity() {
        let c = Catalogue::builtin();
        let rule = c.iter().next().unwrap();
        let f = c.complete(RawFinding::new(&rule.id, Outcome::Fail, "example.com", "m").evidence("k", 1));
        assert_eq!((f.severity, f.title.as_str()), (rule.severity, rule.title.as_str()));
        assert_eq!(f.reference, rule.references.join("; "));
        assert_eq!(f.remediation.as_deref(), Some(rule.remediation.as_str()));
        assert_eq!(f.evidence["k"], 1);
        let g = c.complete(
            RawFinding::new(&rule.id, Outcome::Fail, "example.com", "m")
                .remediation("publish X")
                .severity(Severity::Critical),
        );
        assert_eq!(g.remediation.as_deref(), Some("publish X"));
        assert_eq!(g.severity, Severity::Critical);
        let pass = c.complete(RawFinding::new(&rule.id, Outcome::Pass, "example.com", "m"));
        assert_eq!((pass.remediation, pass.severity), (None, rule.severity));
        let unknown = c.complete(RawFinding::new("mx.no-such-rule", Outcome::Fail, "example.com", "m"));
        assert_eq!(
            (unknown.title.as_str(), unknown.severity, unknown.remediation),
            ("", Severity::Info, None)
        );
    }
}

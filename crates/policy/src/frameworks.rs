//! Framework mappings, as data: which controls of which regulation or
//! standard each rule gives evidence for, with the exact citation and the
//! basis of the mapping.
//!
//! `frameworks/*.toml` (one file per framework) describe the framework and
//! its controls: id, title, citation, the control's own words where they
//! could be checked, and whether that check was against the **primary**
//! text or only **secondary** sources. `frameworks/mappings.toml` maps rule
//! ids to controls, each with a basis: `quote: ...` (words that must appear
//! verbatim in the control's text) or `judgement: ...`. Everything is
//! embedded at build time and validated against the rule catalogue.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::Catalogue;

/// The framework files, embedded. Add a file here when adding a framework.
const FRAMEWORK_SOURCES: &[(&str, &str)] = &[
    ("frameworks/gdpr.toml", include_str!("../../../frameworks/gdpr.toml")),
    ("frameworks/hipaa.toml", include_str!("../../../frameworks/hipaa.toml")),
    (
        "frameworks/pci-dss-4.toml",
        include_str!("../../../frameworks/pci-dss-4.toml"),
    ),
    (
        "frameworks/iso-27001.toml",
        include_str!("../../../frameworks/iso-27001.toml"),
    ),
    ("frameworks/nis2.toml", include_str!("../../../frameworks/nis2.toml")),
    ("frameworks/sox.toml", include_str!("../../../frameworks/sox.toml")),
    (
        "frameworks/bod-18-01.toml",
        include_str!("../../../frameworks/bod-18-01.toml"),
    ),
    (
        "frameworks/nist-800-177.toml",
        include_str!("../../../frameworks/nist-800-177.toml"),
    ),
    (
        "frameworks/bsi-tr-03108.toml",
        include_str!("../../../frameworks/bsi-tr-03108.toml"),
    ),
    (
        "frameworks/ncsc-uk.toml",
        include_str!("../../../frameworks/ncsc-uk.toml"),
    ),
];

const MAPPINGS_SOURCE: (&str, &str) = (
    "frameworks/mappings.toml",
    include_str!("../../../frameworks/mappings.toml"),
);

/// Against what a control's citation and text were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Checked {
    /// Compared with the primary text (the regulation, standard or
    /// guidance as its publisher publishes it).
    Primary,
    /// Only secondary sources (reproductions, summaries) were found.
    Secondary,
}

impl Checked {
    pub fn as_str(self) -> &'static str {
        match self {
            Checked::Primary => "primary",
            Checked::Secondary => "secondary",
        }
    }
}

/// One control of one framework, e.g. GDPR Art. 32(1)(b).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// Framework id, e.g. `gdpr`, `hipaa`, `pci-dss-4`, `iso-27001`, `nis2`.
    pub framework: String,
    /// The control's identifier within the framework, e.g. `Art. 32(1)(b)`.
    pub id: String,
    pub title: String,
    /// Exact citation of the primary text (document, article/section).
    pub citation: String,
    /// The control's own words, where they could be checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Whether citation and text were checked against the primary text.
    pub checked: Checked,
    /// Where they were checked (URL or description).
    pub checked_source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Why no rule maps to this control (yet), if none does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmapped: Option<String>,
}

impl Control {
    /// `framework/id`, the form mappings and profiles use.
    pub fn key(&self) -> String {
        format!("{}/{}", self.framework, self.id)
    }
}

/// One framework and its controls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Framework {
    pub id: String,
    pub name: String,
    pub version: String,
    /// The primary source document.
    pub source: String,
    pub controls: Vec<Control>,
}

/// Why a rule gives evidence for a control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "kebab-case")]
pub enum Basis {
    /// Words that appear verbatim in the control's text.
    Quote(String),
    /// Our reasoning, stated as such.
    Judgement(String),
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Basis::Quote(q) => write!(f, "quote: \"{q}\""),
            Basis::Judgement(j) => write!(f, "judgement: {j}"),
        }
    }
}

/// A control a rule maps to, with the basis of that mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedControl<'a> {
    pub control: &'a Control,
    pub basis: &'a Basis,
}

/// Why framework data could not be used. Every variant names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameworkError {
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

fn invalid(file: &str, message: impl Into<String>) -> FrameworkError {
    FrameworkError::Invalid {
        file: file.to_string(),
        message: message.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameworkFile {
    framework: FrameworkHeader,
    #[serde(default)]
    control: Vec<ControlEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameworkHeader {
    id: String,
    name: String,
    version: String,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlEntry {
    id: String,
    title: String,
    citation: String,
    #[serde(default)]
    text: Option<String>,
    checked: Checked,
    checked_source: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    unmapped: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(default)]
    group: Vec<GroupEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupEntry {
    name: String,
    rules: Vec<String>,
    controls: Vec<MappingEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingEntry {
    control: String,
    basis: String,
}

/// All frameworks and the rule → control mappings.
#[derive(Debug, Clone, Default)]
pub struct Frameworks {
    frameworks: Vec<Framework>,
    /// rule id → (framework index, control index, basis), in file order.
    by_rule: BTreeMap<String, Vec<(usize, usize, Basis)>>,
}

impl Frameworks {
    /// The mappings built into this binary, validated against the built-in
    /// rule catalogue.
    pub fn builtin() -> &'static Frameworks {
        static BUILTIN: OnceLock<Frameworks> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Frameworks::load(FRAMEWORK_SOURCES, MAPPINGS_SOURCE, Catalogue::builtin())
                .unwrap_or_else(|e| panic!("built-in framework mappings are invalid: {e}"))
        })
    }

    /// Load framework files and one mapping file (`(file name, text)`),
    /// checking every mapped rule against `catalogue`.
    pub fn load(
        framework_files: &[(&str, &str)],
        mappings: (&str, &str),
        catalogue: &Catalogue,
    ) -> Result<Frameworks, FrameworkError> {
        let mut fw = Frameworks::default();
        for (file, text) in framework_files {
            fw.add_framework(file, text)?;
        }
        fw.add_mappings(mappings.0, mappings.1, catalogue)?;
        // An "unmapped" control that a rule maps to contradicts itself.
        for f in &fw.frameworks {
            for c in &f.controls {
                if c.unmapped.is_some() && !fw.rules_for(&f.id, &c.id).is_empty() {
                    return Err(invalid(
                        mappings.0,
                        format!(
                            "control {:?} is marked unmapped in its framework file but rules map to it",
                            c.key()
                        ),
                    ));
                }
            }
        }
        Ok(fw)
    }

    fn add_framework(&mut self, file: &str, text: &str) -> Result<(), FrameworkError> {
        let parsed: FrameworkFile = toml::from_str(text).map_err(|e| FrameworkError::Syntax {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        let h = parsed.framework;
        if !valid_framework_id(&h.id) {
            return Err(invalid(
                file,
                format!("framework id {:?} must be lower-case letters, digits and '-'", h.id),
            ));
        }
        if self.frameworks.iter().any(|f| f.id == h.id) {
            return Err(invalid(file, format!("framework {:?} is defined twice", h.id)));
        }
        if parsed.control.is_empty() {
            return Err(invalid(file, format!("framework {:?} has no [[control]]", h.id)));
        }
        let mut controls: Vec<Control> = Vec::new();
        for c in parsed.control {
            if c.id.trim().is_empty() || c.citation.trim().is_empty() || c.checked_source.trim().is_empty() {
                return Err(invalid(
                    file,
                    format!("control {:?}: id, citation and checked_source must not be empty", c.id),
                ));
            }
            if controls.iter().any(|x| x.id == c.id) {
                return Err(invalid(file, format!("control {:?} is defined twice", c.id)));
            }
            controls.push(Control {
                framework: h.id.clone(),
                id: c.id,
                title: c.title,
                citation: c.citation,
                text: c.text,
                checked: c.checked,
                checked_source: c.checked_source,
                note: c.note,
                unmapped: c.unmapped,
            });
        }
        self.frameworks.push(Framework {
            id: h.id,
            name: h.name,
            version: h.version,
            source: h.source,
            controls,
        });
        Ok(())
    }

    fn add_mappings(&mut self, file: &str, text: &str, catalogue: &Catalogue) -> Result<(), FrameworkError> {
        let parsed: MappingFile = toml::from_str(text).map_err(|e| FrameworkError::Syntax {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        for group in parsed.group {
            let g = &group.name;
            if group.rules.is_empty() || group.controls.is_empty() {
                return Err(invalid(file, format!("group {g:?}: needs rules and controls")));
            }
            let mut resolved = Vec::new();
            for m in &group.controls {
                let (fi, ci) = self.find(&m.control).ok_or_else(|| {
                    invalid(
                        file,
                        format!(
                            "group {g:?}: unknown control {:?} (write FRAMEWORK/CONTROL-ID; `mailwarden frameworks` lists them)",
                            m.control
                        ),
                    )
                })?;
                let control = &self.frameworks[fi].controls[ci];
                let basis = parse_basis(&m.basis).ok_or_else(|| {
                    invalid(
                        file,
                        format!(
                            "group {g:?}, control {:?}: basis must start with \"quote: \" or \"judgement: \" and say something",
                            m.control
                        ),
                    )
                })?;
                if let Basis::Quote(q) = &basis {
                    let in_text = control.text.as_deref().is_some_and(|t| t.contains(q.as_str()));
                    if !in_text {
                        return Err(invalid(
                            file,
                            format!(
                                "group {g:?}, control {:?}: the quote {q:?} is not in the control's text; quote its exact words or state a judgement",
                                m.control
                            ),
                        ));
                    }
                }
                resolved.push((fi, ci, basis));
            }
            for rule in &group.rules {
                if catalogue.get(rule).is_none() {
                    return Err(invalid(
                        file,
                        format!("group {g:?}: rule {rule:?} is not in the rule catalogue (rules/*.toml)"),
                    ));
                }
                let entry = self.by_rule.entry(rule.clone()).or_default();
                for (fi, ci, basis) in &resolved {
                    if entry.iter().any(|(f, c, _)| f == fi && c == ci) {
                        return Err(invalid(
                            file,
                            format!(
                                "group {g:?}: rule {rule:?} is mapped to {:?} more than once",
                                self.frameworks[*fi].controls[*ci].key()
                            ),
                        ));
                    }
                    entry.push((*fi, *ci, basis.clone()));
                }
            }
        }
        Ok(())
    }

    fn find(&self, key: &str) -> Option<(usize, usize)> {
        let (framework, control) = key.split_once('/')?;
        let fi = self.frameworks.iter().position(|f| f.id == framework)?;
        let ci = self.frameworks[fi].controls.iter().position(|c| c.id == control)?;
        Some((fi, ci))
    }

    /// All frameworks, in file order.
    pub fn frameworks(&self) -> &[Framework] {
        &self.frameworks
    }

    pub fn framework(&self, id: &str) -> Option<&Framework> {
        self.frameworks.iter().find(|f| f.id == id)
    }

    /// A control by `framework/id`.
    pub fn control(&self, key: &str) -> Option<&Control> {
        self.find(key).map(|(f, c)| &self.frameworks[f].controls[c])
    }

    /// The controls a rule gives evidence for.
    pub fn controls_for(&self, rule_id: &str) -> Vec<&Control> {
        self.mappings_for(rule_id).into_iter().map(|m| m.control).collect()
    }

    /// The controls a rule gives evidence for, each with its basis.
    pub fn mappings_for(&self, rule_id: &str) -> Vec<MappedControl<'_>> {
        self.by_rule.get(rule_id).map_or_else(Vec::new, |v| {
            v.iter()
                .map(|(f, c, basis)| MappedControl {
                    control: &self.frameworks[*f].controls[*c],
                    basis,
                })
                .collect()
        })
    }

    /// The rule ids that map to one control, sorted.
    pub fn rules_for(&self, framework: &str, control: &str) -> Vec<&str> {
        let Some((fi, ci)) = self.find(&format!("{framework}/{control}")) else {
            return Vec::new();
        };
        self.by_rule
            .iter()
            .filter(|(_, v)| v.iter().any(|(f, c, _)| *f == fi && *c == ci))
            .map(|(r, _)| r.as_str())
            .collect()
    }

    /// Rule ids with at least one mapping.
    pub fn mapped_rules(&self) -> BTreeSet<&str> {
        self.by_rule.keys().map(String::as_str).collect()
    }
}

fn parse_basis(s: &str) -> Option<Basis> {
    let s = s.trim();
    let (kind, rest) = if let Some(r) = s.strip_prefix("quote:") {
        ("q", r)
    } else if let Some(r) = s.strip_prefix("judgement:") {
        ("j", r)
    } else {
        return None;
    };
    let rest = rest.trim();
    if rest.is_empty() {
        return None;
    }
    Some(if kind == "q" {
        Basis::Quote(rest.to_string())
    } else {
        Basis::Judgement(rest.to_string())
    })
}

fn valid_framework_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        let mut c = Catalogue::default();
        c.add_file(
            "r.toml",
            "[[rule]]\nid = \"mx.one\"\narea = \"routing\"\ntitle = \"t\"\nseverity = \"low\"\nrationale = \"r\"\nreferences = [\"x\"]\nremediation = \"m\"\n",
        )
        .unwrap();
        c
    }

    const FW: &str = "[framework]\nid = \"fw\"\nname = \"F\"\nversion = \"1\"\nsource = \"S\"\n\n[[control]]\nid = \"C-1\"\ntitle = \"t\"\ncitation = \"F §1\"\ntext = \"protect the mail\"\nchecked = \"primary\"\nchecked_source = \"https://example.org\"\n";

    fn map(rule: &str, control: &str, basis: &str) -> String {
        format!(
            "[[group]]\nname = \"g\"\nrules = [\"{rule}\"]\ncontrols = [{{ control = \"{control}\", basis = \"{basis}\" }}]\n"
        )
    }

    #[test]
    fn builtin_loads() {
        let f = Frameworks::builtin();
        assert!(f.frameworks().len() >= 10);
        assert!(!f.controls_for("spf.missing").is_empty());
    }

    #[test]
    fn every_rule_has_a_mapping() {
        let f = Frameworks::builtin();
        let unmapped: Vec<&str> = Catalogue::builtin()
            .iter()
            .map(|r| r.id.as_str())
            .filter(|id| f.mappings_for(id).is_empty())
            .collect();
        assert!(unmapped.is_empty(), "rules without a framework mapping: {unmapped:?}");
    }

    #[test]
    fn every_control_is_mapped_or_says_why_not() {
        let f = Frameworks::builtin();
        for fw in f.frameworks() {
            for c in &fw.controls {
                let rules = f.rules_for(&fw.id, &c.id);
                assert!(
                    !rules.is_empty() || c.unmapped.is_some(),
                    "{} is neither mapped nor marked unmapped",
                    c.key()
                );
            }
        }
    }

    #[test]
    fn required_frameworks_and_controls_exist() {
        let f = Frameworks::builtin();
        for key in [
            "gdpr/Art. 5(1)(f)",
            "gdpr/Art. 25(1)",
            "gdpr/Art. 32(1)(b)",
            "hipaa/164.312(e)(1)",
            "hipaa/164.312(e)(2)(i)",
            "hipaa/164.312(e)(2)(ii)",
            "hipaa/164.312(b)",
            "hipaa/164.312(c)(1)",
            "pci-dss-4/4.2.1",
            "pci-dss-4/5.4.1",
            "pci-dss-4/12.8",
            "iso-27001/A.5.14",
            "iso-27001/A.5.19",
            "iso-27001/A.5.20",
            "iso-27001/A.5.21",
            "iso-27001/A.5.22",
            "iso-27001/A.8.20",
            "iso-27001/A.8.21",
            "iso-27001/A.8.24",
            "iso-27001/A.8.32",
            "nis2/Art. 21(2)(d)",
            "nis2/Art. 21(2)(h)",
            "nis2/Art. 21(2)(j)",
            "sox/§404(a)",
            "sox/ITGC change management",
            "sox/ITGC record retention",
            "bod-18-01/STARTTLS",
            "bod-18-01/SPF/DMARC valid",
            "bod-18-01/SSLv2/SSLv3/3DES/RC4",
            "bod-18-01/DMARC reject",
            "bod-18-01/DMARC rua CISA",
            "nist-800-177/SPF",
            "bsi-tr-03108/DNSSEC",
            "bsi-tr-03108/DANE",
            "ncsc-uk/Anti-spoofing",
        ] {
            assert!(f.control(key).is_some(), "missing control {key}");
        }
    }

    #[test]
    fn secondary_checks_say_where() {
        for fw in Frameworks::builtin().frameworks() {
            for c in &fw.controls {
                assert!(!c.checked_source.is_empty(), "{}", c.key());
            }
        }
    }

    #[test]
    fn quote_must_be_in_the_control_text() {
        let cat = catalogue();
        let ok = Frameworks::load(
            &[("fw.toml", FW)],
            ("m.toml", &map("mx.one", "fw/C-1", "quote: protect the mail")),
            &cat,
        )
        .unwrap();
        assert_eq!(ok.controls_for("mx.one").len(), 1);
        assert_eq!(ok.rules_for("fw", "C-1"), vec!["mx.one"]);
        let err = Frameworks::load(
            &[("fw.toml", FW)],
            ("m.toml", &map("mx.one", "fw/C-1", "quote: encrypt everything")),
            &cat,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("m.toml: ") && err.contains("not in the control's text"),
            "{err}"
        );
    }

    #[test]
    fn unknown_rule_control_and_bad_basis_are_refused_with_the_file() {
        let cat = catalogue();
        let load = |m: String| {
            Frameworks::load(&[("fw.toml", FW)], ("m.toml", &m), &cat)
                .unwrap_err()
                .to_string()
        };
        let e = load(map("mx.two", "fw/C-1", "judgement: x"));
        assert!(
            e.contains("m.toml") && e.contains("\"mx.two\" is not in the rule catalogue"),
            "{e}"
        );
        let e = load(map("mx.one", "fw/C-9", "judgement: x"));
        assert!(e.contains("unknown control \"fw/C-9\""), "{e}");
        let e = load(map("mx.one", "fw/C-1", "because"));
        assert!(e.contains("basis must start with"), "{e}");
        let e = Frameworks::load(&[("fw.toml", "[framework]\nid = 3")], ("m.toml", ""), &cat)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("fw.toml: ") && e.contains("line"), "{e}");
    }

    #[test]
    fn unmapped_control_with_mappings_is_a_contradiction() {
        let cat = catalogue();
        let fw = format!("{FW}unmapped = \"no rule\"\n");
        let e = Frameworks::load(
            &[("fw.toml", &fw)],
            ("m.toml", &map("mx.one", "fw/C-1", "judgement: x")),
            &cat,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("marked unmapped"), "{e}");
    }
}

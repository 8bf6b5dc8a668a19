//! DMARC aggregate reports: RFC 7489 Appendix C and RFC 9990 (namespace
//! `urn:ietf:params:xml:ns:dmarc-2.0`, with `np`, `testing`,
//! `discovery_method`, `generator` and extensions).
//!
//! Tolerated, with a warning, because they are read unambiguously:
//! capitalised enumeration values (`Pass`, `None`), epochs written as
//! `1530133200.0`, whitespace around values, a missing `version`, a report
//! without `<record>` rows, unknown enumeration values (kept as written,
//! lower-cased). Everything else that is wrong rejects the whole report:
//! RFC 9990 §Invalid documents, "the document evaluator SHOULD discard the
//! report".

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::rejection::{Reason, Rejection};
use crate::warning::Warnings;
use crate::xml::{self, Element};

/// RFC 7489 Appendix C namespace (often omitted by reporters).
pub const NS_7489: &str = "http://dmarc.org/dmarc-xml/0.1";
/// RFC 9990 namespace.
pub const NS_9990: &str = "urn:ietf:params:xml:ns:dmarc-2.0";

/// Which schema a report follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schema {
    Rfc7489,
    Rfc9990,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AggregateReport {
    pub schema: Schema,
    pub version: Option<String>,
    pub org_name: String,
    pub email: Option<String>,
    pub extra_contact_info: Option<String>,
    pub report_id: String,
    /// `date_range` in seconds since the epoch, UTC.
    pub begin: i64,
    pub end: i64,
    pub errors: Vec<String>,
    pub generator: Option<String>,
    pub policy: PolicyPublished,
    pub records: Vec<Record>,
    /// `{namespace}name` of each top-level extension element.
    pub extensions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyPublished {
    pub domain: String,
    pub adkim: Option<String>,
    pub aspf: Option<String>,
    pub p: Option<String>,
    pub sp: Option<String>,
    pub np: Option<String>,
    pub pct: Option<u8>,
    pub fo: Option<String>,
    pub testing: Option<String>,
    pub discovery_method: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub source_ip: IpAddr,
    pub count: u64,
    pub disposition: String,
    /// `policy_evaluated` as the reporter says (recomputed later, never trusted).
    pub dkim: Option<String>,
    pub spf: Option<String>,
    pub reasons: Vec<OverrideReason>,
    pub header_from: String,
    pub envelope_from: Option<String>,
    pub envelope_to: Option<String>,
    pub dkim_results: Vec<DkimResult>,
    pub spf_results: Vec<SpfResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideReason {
    pub kind: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimResult {
    pub domain: String,
    pub selector: Option<String>,
    pub result: String,
    pub human_result: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfResult {
    pub domain: String,
    pub scope: Option<String>,
    pub result: String,
}

const DISPOSITIONS: &[&str] = &["none", "quarantine", "reject", "pass"];
const DMARC_RESULTS: &[&str] = &["pass", "fail"];
const ALIGNMENT: &[&str] = &["r", "s"];
const DKIM_RESULTS: &[&str] = &["none", "pass", "fail", "policy", "neutral", "temperror", "permerror"];
const SPF_RESULTS: &[&str] = &["none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"];
const OVERRIDES: &[&str] = &[
    "forwarded",
    "sampled_out",
    "trusted_forwarder",
    "mailing_list",
    "local_policy",
    "other",
    "policy_test_mode",
];

/// Parse one aggregate report document.
pub fn parse(text: &str, max_depth: usize, warnings: &mut Warnings) -> Result<AggregateReport, Rejection> {
    let root = xml::parse(text, max_depth)?;
    let (ns, declared_9990) = check_root(&root)?;
    let mut cx = Cx { ns: &ns, warnings };
    let mut report = cx.header(&root, declared_9990)?;
    report.records = root
        .all("record", cx.ns)
        .map(|r| cx.record(r))
        .collect::<Result<Vec<_>, _>>()?;
    if report.records.is_empty() {
        cx.no_records(&root);
    }
    report.extensions = extensions(&root, cx.ns);
    Ok(report)
}

/// The root must be `<feedback>` in no namespace or a DMARC one: the
/// namespace, and whether it is RFC 9990's.
pub(crate) fn check_root(root: &Element) -> Result<(String, bool), Rejection> {
    if root.name != "feedback" {
        return Err(Rejection::new(
            Reason::NotAReport,
            format!("the root element is <{}>, not <feedback>", root.name),
        )
        .at(root.position));
    }
    let ns = root.namespace.as_str();
    let declared_9990 = match ns {
        NS_9990 => true,
        "" | NS_7489 => false,
        other => {
            return Err(Rejection::new(
                Reason::WrongNamespace,
                format!("<feedback> in namespace {other:?}; DMARC uses none, {NS_7489:?} or {NS_9990:?}"),
            )
            .at(root.position));
        }
    };
    Ok((ns.to_string(), declared_9990))
}

/// `{namespace}name` of each top-level extension element.
pub(crate) fn extensions(root: &Element, ns: &str) -> Vec<String> {
    root.all("extension", ns)
        .flat_map(|e| e.children.iter())
        .map(|c| format!("{{{}}}{}", c.namespace, c.name))
        .collect()
}

/// The report namespace and the warnings being collected.
pub(crate) struct Cx<'a> {
    pub(crate) ns: &'a str,
    pub(crate) warnings: &'a mut Warnings,
}

impl Cx<'_> {
    /// Everything but the rows and extensions, from a root holding (at
    /// least) `version`, `report_metadata` and `policy_published`.
    pub(crate) fn header(&mut self, root: &Element, declared_9990: bool) -> Result<AggregateReport, Rejection> {
        let meta = self.required(root, "report_metadata", "feedback")?;
        let published = self.required(root, "policy_published", "feedback")?;
        let range = self.required(meta, "date_range", "report_metadata")?;
        let begin = self.epoch(range, "begin")?;
        let end = self.epoch(range, "end")?;
        if begin > end {
            return Err(Rejection::new(
                Reason::InvalidValue,
                format!("date_range begins ({begin}) after it ends ({end})"),
            )
            .at(range.position));
        }
        let version = root.text_of("version", self.ns).map(str::to_string);
        if version.is_none() && !declared_9990 {
            self.warnings
                .push("no <version> (RFC 7489 requires one)", Some(root.position));
        }
        let policy = self.policy(published)?;
        let generator = meta.text_of("generator", self.ns).map(str::to_string);
        // parsedmarc's rule too: without the namespace, a 9990-only field means RFC 9990.
        let schema = if declared_9990
            || generator.is_some()
            || policy.np.is_some()
            || policy.testing.is_some()
            || policy.discovery_method.is_some()
        {
            Schema::Rfc9990
        } else {
            Schema::Rfc7489
        };
        Ok(AggregateReport {
            schema,
            version,
            org_name: self.required_text(meta, "org_name", "report_metadata")?,
            email: meta.text_of("email", self.ns).map(str::to_string),
            extra_contact_info: meta.text_of("extra_contact_info", self.ns).map(str::to_string),
            report_id: self.required_text(meta, "report_id", "report_metadata")?,
            begin,
            end,
            errors: meta.all("error", self.ns).map(|e| e.text.trim().to_string()).collect(),
            generator,
            policy,
            records: Vec::new(),
            extensions: Vec::new(),
        })
    }

    pub(crate) fn no_records(&mut self, root: &Element) {
        self.warnings
            .push("a report without <record> rows", Some(root.position));
    }

    fn policy(&mut self, el: &Element) -> Result<PolicyPublished, Rejection> {
        let pct = match el.text_of("pct", self.ns) {
            None => None,
            Some(raw) => match raw.parse::<u8>() {
                Ok(n) if n <= 100 => Some(n),
                _ => return Err(number_error(el, "pct", raw, "0 to 100")),
            },
        };
        Ok(PolicyPublished {
            domain: self
                .required_text(el, "domain", "policy_published")?
                .to_ascii_lowercase(),
            adkim: self.choice(el, "adkim", ALIGNMENT),
            aspf: self.choice(el, "aspf", ALIGNMENT),
            p: self.choice(el, "p", DISPOSITIONS),
            sp: self.choice(el, "sp", DISPOSITIONS),
            np: self.choice(el, "np", DISPOSITIONS),
            pct,
            fo: el.text_of("fo", self.ns).map(str::to_string),
            testing: self.choice(el, "testing", &["n", "y"]),
            discovery_method: self.choice(el, "discovery_method", &["psl", "treewalk"]),
        })
    }

    pub(crate) fn record(&mut self, rec: &Element) -> Result<Record, Rejection> {
        let row = self.required(rec, "row", "record")?;
        let evaluated = self.required(row, "policy_evaluated", "row")?;
        let identifiers = self.required(rec, "identifiers", "record")?;
        let ip_text = self.required_text(row, "source_ip", "row")?;
        let source_ip = ip_text.parse::<IpAddr>().map_err(|_| {
            Rejection::new(
                Reason::InvalidValue,
                format!("source_ip {ip_text:?} is not an IP address"),
            )
            .at(row.position)
        })?;
        let count_text = self.required_text(row, "count", "row")?;
        let count = count_text
            .parse::<u64>()
            .map_err(|_| number_error(row, "count", &count_text, "0 to 18446744073709551615"))?;
        let Some(disposition) = self.choice(evaluated, "disposition", DISPOSITIONS) else {
            return Err(missing(evaluated, "disposition", "policy_evaluated"));
        };
        let auth = rec.first("auth_results", self.ns);
        Ok(Record {
            source_ip,
            count,
            disposition,
            dkim: self.choice(evaluated, "dkim", DMARC_RESULTS),
            spf: self.choice(evaluated, "spf", DMARC_RESULTS),
            reasons: evaluated
                .all("reason", self.ns)
                .map(|r| OverrideReason {
                    kind: self.choice(r, "type", OVERRIDES).unwrap_or_default(),
                    comment: r.text_of("comment", self.ns).map(str::to_string),
                })
                .collect(),
            header_from: self
                .required_text(identifiers, "header_from", "identifiers")?
                .to_ascii_lowercase(),
            envelope_from: identifiers
                .text_of("envelope_from", self.ns)
                .map(str::to_ascii_lowercase),
            envelope_to: identifiers.text_of("envelope_to", self.ns).map(str::to_ascii_lowercase),
            dkim_results: auth.map_or_else(Vec::new, |a| self.dkim_results(a)),
            spf_results: auth.map_or_else(Vec::new, |a| self.spf_results(a)),
        })
    }

    fn dkim_results(&mut self, auth: &Element) -> Vec<DkimResult> {
        auth.all("dkim", self.ns)
            .map(|d| DkimResult {
                domain: d.text_of("domain", self.ns).unwrap_or_default().to_ascii_lowercase(),
                selector: d.text_of("selector", self.ns).map(str::to_string),
                result: self.choice(d, "result", DKIM_RESULTS).unwrap_or_default(),
                human_result: d.text_of("human_result", self.ns).map(str::to_string),
            })
            .collect()
    }

    fn spf_results(&mut self, auth: &Element) -> Vec<SpfResult> {
        auth.all("spf", self.ns)
            .map(|s| SpfResult {
                domain: s.text_of("domain", self.ns).unwrap_or_default().to_ascii_lowercase(),
                scope: self.choice(s, "scope", &["helo", "mfrom"]),
                result: self.choice(s, "result", SPF_RESULTS).unwrap_or_default(),
            })
            .collect()
    }

    /// An enumerated value, lower-cased; a capitalised or unknown value is
    /// kept with a warning (real reporters write `Pass` and `None`).
    fn choice(&mut self, el: &Element, name: &str, allowed: &[&str]) -> Option<String> {
        let child = el.first(name, self.ns)?;
        let raw = child.text.trim();
        if raw.is_empty() {
            return None;
        }
        let lower = raw.to_ascii_lowercase();
        if !allowed.contains(&lower.as_str()) {
            self.warnings.push(
                format!("<{name}> has the unknown value {raw:?}, kept as written"),
                Some(child.position),
            );
        } else if lower != raw {
            self.warnings
                .push(format!("<{name}> {raw:?} read as {lower:?}"), Some(child.position));
        }
        Some(lower)
    }

    fn epoch(&mut self, range: &Element, name: &str) -> Result<i64, Rejection> {
        let raw = self.required_text(range, name, "date_range")?;
        // Some reporters write `1530133200.0`; a zero fraction is unambiguous.
        let whole = match raw.split_once('.') {
            Some((int, frac)) if frac.bytes().all(|b| b == b'0') => {
                self.warnings
                    .push(format!("<{name}> {raw:?} read as {int}"), Some(range.position));
                int
            }
            _ => raw.as_str(),
        };
        match whole.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(n),
            _ => Err(number_error(
                range,
                name,
                &raw,
                "seconds since 1970 (a non-negative integer)",
            )),
        }
    }

    fn required<'e>(&self, el: &'e Element, name: &str, parent: &str) -> Result<&'e Element, Rejection> {
        el.first(name, self.ns).ok_or_else(|| missing(el, name, parent))
    }

    fn required_text(&self, el: &Element, name: &str, parent: &str) -> Result<String, Rejection> {
        el.text_of(name, self.ns)
            .map(str::to_string)
            .ok_or_else(|| missing(el, name, parent))
    }
}

fn missing(el: &Element, name: &str, parent: &str) -> Rejection {
    Rejection::new(Reason::MissingField, format!("<{parent}> has no <{name}>")).at(el.position)
}

fn number_error(el: &Element, name: &str, raw: &str, expected: &str) -> Rejection {
    let shown: String = raw.chars().take(40).collect();
    Rejection::new(
        Reason::InvalidNumber,
        format!("<{name}> is {shown:?}, expected {expected}"),
    )
    // Point at the offending element itself, not at its parent.
    .at(el
        .children
        .iter()
        .find(|c| c.name == name)
        .map_or(el.position, |c| c.position))
}

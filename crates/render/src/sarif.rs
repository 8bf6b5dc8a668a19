//! SARIF 2.1.0 output: one run for the whole invocation, one
//! `tool.driver.rules[]` entry per catalogue rule, one result per failing
//! or indeterminate finding.
//!
//! Choices (documented in the README):
//!
//! - **Levels**: a rule's `defaultConfiguration.level` and a failing
//!   result's `level` come from the severity: critical/high → `error`,
//!   medium → `warning`, low/info → `note`. `properties.security-severity`
//!   gives code-scanning UIs a CVSS-like number.
//! - **Accepted risks** (a live waiver covers a failing finding) are
//!   results like any failure, with a `suppressions` entry (`kind:
//!   external`, `status: accepted`, the reason as `justification`).
//! - **Indeterminate** findings (we could not look) are results with
//!   `kind: "review"` and `level: "none"` (SARIF §3.27.9 requires `none` for
//!   any kind other than `fail`), so a CI gate on errors never fails on
//!   them but a reviewer sees them. Passes and not-applicable are omitted.
//! - **Logical location**: the DNS name and type the rule concerns, e.g.
//!   `_dmarc.example.com/TXT` ([`record_location`]).
//! - **Physical location**: when the scan read zone files, the file and the
//!   line where the record's owner (or its closest existing ancestor) is
//!   written ([`ZoneLines`]).
//! - **Fingerprints**: `partialFingerprints["mailwardenFinding/v1"]` is the
//!   SHA-256 of rule id, domain and subject (NUL-separated): no message
//!   text, no time, so a finding keeps its fingerprint across runs.
//!
//! Reports are collected and written at the end (SARIF is one JSON document
//! whose `rules` precede the results), sorted by domain
//! ([`crate::sink::Collected`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use mailwarden_model::{Finding, Outcome, Severity};
use mailwarden_policy::Catalogue;
use mailwarden_policy::frameworks::Frameworks;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::DomainReport;
use crate::sink::{Document, ZoneReader};

/// The `$schema` URI of SARIF 2.1.0.
pub const SARIF_SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The key of the fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "mailwardenFinding/v1";

/// The SARIF level of a severity.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub code scanning's `security-severity` (0.0-10.0) for a severity.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// The stable fingerprint of a finding: SHA-256 of rule id, domain and
/// subject, hex.
pub fn fingerprint(rule_id: &str, domain: &str, subject: &str) -> String {
    let mut h = Sha256::new();
    for part in [rule_id, domain, subject] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    mailwarden_model::codec::hex(&h.finalize())
}

/// The DNS name and record type a finding is about, `name/TYPE` (or just
/// the name when no single type applies). Derived from the rule's prefix:
/// DMARC lives at `_dmarc.DOMAIN`, DKIM at the selector's `_domainkey`
/// name, MX targets at their host name, and so on.
pub fn record_location(finding: &Finding, domain: &str) -> (String, Option<&'static str>) {
    let id = finding.id.as_str();
    let subject = finding.subject.trim_end_matches('.');
    let (prefix, rest) = id.split_once('.').unwrap_or((id, ""));
    let at_subject_or = |label: &str, default: String| {
        if subject.contains(label) {
            subject.to_string()
        } else {
            default
        }
    };
    match prefix {
        "spf" if rest == "type99" => (subject.to_string(), Some("SPF")),
        "spf" => (subject.to_string(), Some("TXT")),
        "dmarc" => (at_subject_or("_dmarc.", format!("_dmarc.{subject}")), Some("TXT")),
        "dkim" => (
            at_subject_or("_domainkey.", format!("_domainkey.{subject}")),
            Some("TXT"),
        ),
        "bimi" => (
            at_subject_or("._bimi.", format!("default._bimi.{subject}")),
            Some("TXT"),
        ),
        "mta-sts" | "mtasts" => (at_subject_or("_mta-sts.", format!("_mta-sts.{subject}")), Some("TXT")),
        "tlsrpt" | "tls-rpt" => (
            at_subject_or("_smtp._tls.", format!("_smtp._tls.{subject}")),
            Some("TXT"),
        ),
        "dane" | "tlsa" => (at_subject_or("_tcp.", format!("_25._tcp.{subject}")), Some("TLSA")),
        "mx" => match rest {
            "target-cname" => (subject.to_string(), Some("CNAME")),
            "target-unresolvable" | "target-non-global" | "dnssec" if subject != domain => {
                (subject.to_string(), Some("A"))
            }
            "null-mx-spf" => (domain.to_string(), Some("TXT")),
            _ => (domain.to_string(), Some("MX")),
        },
        "ns" if rest == "soa-serial" => (subject.to_string(), Some("SOA")),
        "ns" => (subject.to_string(), Some("NS")),
        "dnssec" if rest.starts_with("ds-") => (subject.to_string(), Some("DS")),
        "dnssec" => (subject.to_string(), Some("DNSKEY")),
        _ => (subject.to_string(), None),
    }
}

/// Where each owner name is written in the zone files of a scan: file
/// label (as the evidence names it) and 1-based line.
#[derive(Debug, Clone, Default)]
pub struct ZoneLines {
    owners: BTreeMap<String, (String, u32)>,
    files: Vec<String>,
}

impl ZoneLines {
    /// Index one zone file's text. `label` is how the scan's evidence names
    /// the file (`observation.source.zone_files`), `origin` the origin
    /// given on the command line, if any. Only the first line of each
    /// owner is kept. `$INCLUDE`d files are not followed.
    pub fn add(&mut self, label: &str, text: &str, origin: Option<&str>) {
        self.files.push(label.to_string());
        let mut origin = origin.map(normalise);
        let mut last_owner: Option<String> = None;
        let mut depth = 0usize;
        for (n, line) in text.lines().enumerate() {
            let n = u32::try_from(n + 1).unwrap_or(u32::MAX);
            let code = strip_comment(line);
            let starts_record = depth == 0;
            if starts_record && !code.trim().is_empty() {
                let first = code.split_whitespace().next().unwrap_or("");
                if first.eq_ignore_ascii_case("$ORIGIN") {
                    origin = code.split_whitespace().nth(1).map(|o| absolute(o, origin.as_deref()));
                } else if first.starts_with('$') {
                    // $TTL, $INCLUDE: no owner.
                } else {
                    let mut tokens = code.split_whitespace();
                    if code.starts_with(|c: char| !c.is_whitespace()) {
                        tokens.next();
                        last_owner = Some(if first == "@" {
                            origin.clone().unwrap_or_default()
                        } else {
                            absolute(first, origin.as_deref())
                        });
                    }
                    if let Some(owner) = &last_owner {
                        let rtype = tokens
                            .find(|t| {
                                !t.bytes().all(|b| b.is_ascii_digit())
                                    && !["IN", "CH", "HS", "CS"].iter().any(|c| t.eq_ignore_ascii_case(c))
                            })
                            .unwrap_or("")
                            .to_ascii_uppercase();
                        self.owners
                            .entry(owner.clone())
                            .or_insert_with(|| (label.to_string(), n));
                        self.owners
                            .entry(format!("{owner}/{rtype}"))
                            .or_insert_with(|| (label.to_string(), n));
                    }
                }
            }
            depth = paren_depth(code, depth);
        }
    }

    /// The file and line of `name`, or of its closest ancestor written in
    /// a file; the first file with no line when none is.
    pub fn locate(&self, name: &str, rtype: Option<&str>) -> Option<(&str, Option<u32>)> {
        let mut name = normalise(name);
        if let Some((file, line)) = rtype.and_then(|t| self.owners.get(&format!("{name}/{t}"))) {
            return Some((file, Some(*line)));
        }
        loop {
            if let Some((file, line)) = self.owners.get(&name) {
                return Some((file, Some(*line)));
            }
            match name.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => name = parent.to_string(),
                _ => return self.files.first().map(|f| (f.as_str(), None)),
            }
        }
    }
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn absolute(name: &str, origin: Option<&str>) -> String {
    if name.ends_with('.') {
        return normalise(name);
    }
    match origin {
        Some(o) if !o.is_empty() => format!("{}.{o}", normalise(name)),
        _ => normalise(name),
    }
}

/// The line without its `;` comment (quotes respected).
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn paren_depth(code: &str, mut depth: usize) -> usize {
    let mut quoted = false;
    let mut escaped = false;
    for c in code.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    depth
}

/// A zone file label as an artifact URI: relative paths stay relative to
/// `%SRCROOT%`, absolute ones become `file://` URIs; the `ORIGIN=` prefix
/// of a `--zone-file` argument is dropped.
fn artifact_location(label: &str) -> Value {
    let path = match label.split_once('=') {
        Some((origin, path))
            if !origin.is_empty()
                && origin
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) =>
        {
            path
        }
        _ => label,
    };
    let encoded = percent_encode(path);
    if path.starts_with('/') {
        json!({ "uri": format!("file://{encoded}") })
    } else {
        json!({ "uri": encoded, "uriBaseId": "%SRCROOT%" })
    }
}

fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A waiver as SARIF 2.1.0 `suppressions` (§3.27.23, §3.35): suppressed
/// outside the analysed artifact (`kind: external`), `status: accepted`,
/// the reason as `justification`; owner, expiry and waiver in `properties`.
/// Code-scanning tools show a suppressed result as dismissed, not open.
fn suppressions(a: &mailwarden_model::Acceptance) -> Value {
    let mut properties = json!({ "waiver": a.waiver });
    if let Some(owner) = &a.owner {
        properties["owner"] = json!(owner);
    }
    if let Some(expires) = &a.expires {
        properties["expires"] = json!(expires);
    }
    json!([{
        "kind": "external",
        "status": "accepted",
        "justification": crate::inert::block(&a.reason),
        "properties": properties,
    }])
}

/// `Rule.Id` → `RuleId`-style name for `reportingDescriptor.name`.
fn rule_name(id: &str) -> String {
    id.split(['.', '-'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `framework:control` labels of the controls a rule gives evidence for.
pub fn control_labels(frameworks: &Frameworks, rule_id: &str) -> Vec<String> {
    frameworks
        .controls_for(rule_id)
        .iter()
        .map(|c| format!("{}:{}", c.framework, c.id))
        .collect()
}

/// The SARIF log: one run, the catalogue's rules, each domain's results
/// ([`crate::sink::Collected`] writes them sorted by domain).
pub struct SarifLog<'a> {
    catalogue: &'a Catalogue,
    frameworks: &'a Frameworks,
    zones: ZoneLines,
    /// Reads the zone files the reports name; none: no physical locations
    /// beyond the zone lines given.
    zone_reader: Option<ZoneReader>,
    /// Zone files already indexed.
    indexed: BTreeSet<String>,
    tool_version: String,
}

impl<'a> SarifLog<'a> {
    pub fn new(catalogue: &'a Catalogue, frameworks: &'a Frameworks, tool_version: &str) -> Self {
        Self {
            catalogue,
            frameworks,
            zones: ZoneLines::default(),
            zone_reader: None,
            indexed: BTreeSet::new(),
            tool_version: tool_version.to_string(),
        }
    }

    /// Where owners are written in the zone files the scan read.
    pub fn with_zone_lines(mut self, zones: ZoneLines) -> Self {
        self.zones = zones;
        self
    }

    /// Read each zone file a report names (once), to point results at its lines.
    pub fn with_zone_reader(mut self, reader: ZoneReader) -> Self {
        self.zone_reader = Some(reader);
        self
    }

    /// Index the zone files of a report not indexed yet.
    fn index_zones(&mut self, report: &DomainReport) {
        let Some(read) = self.zone_reader.as_mut() else { return };
        for label in &report.observation.source.zone_files {
            if self.indexed.insert(label.clone()) {
                let (text, origin) = read(label);
                self.zones.add(label, &text, origin.as_deref());
            }
        }
    }

    /// One domain's failing and indeterminate findings as results.
    pub fn results(&mut self, report: &DomainReport) -> Vec<Value> {
        self.index_zones(report);
        let rule_index: BTreeMap<&str, usize> = self
            .catalogue
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        let zone_backed = !report.observation.source.zone_files.is_empty();
        report
            .findings
            .iter()
            .filter(|f| matches!(f.outcome, Outcome::Fail | Outcome::Indeterminate))
            .map(|f| self.result(f, &report.domain, rule_index.get(f.id.as_str()).copied(), zone_backed))
            .collect()
    }

    fn result(&self, f: &Finding, domain: &str, rule_index: Option<usize>, zone_backed: bool) -> Value {
        let (name, rtype) = record_location(f, domain);
        let fqn = match rtype {
            Some(t) => format!("{name}/{t}"),
            None => name.clone(),
        };
        let mut location = json!({
            "logicalLocations": [{
                "name": rtype.unwrap_or("name"),
                "fullyQualifiedName": fqn,
                "kind": "resource",
            }],
        });
        if zone_backed && let Some((file, line)) = self.zones.locate(&name, rtype) {
            let mut physical = json!({ "artifactLocation": artifact_location(file) });
            if let Some(line) = line {
                physical["region"] = json!({ "startLine": line });
            }
            location["physicalLocation"] = physical;
        }
        let mut result = json!({
            "ruleId": f.id,
            "message": { "text": crate::inert::block(&f.message) },
            "locations": [location],
            "partialFingerprints": { FINGERPRINT_KEY: fingerprint(&f.id, domain, &f.subject) },
            "properties": {
                "domain": domain,
                "subject": f.subject,
                "outcome": f.outcome.as_str(),
                "severity": f.severity.as_str(),
                "evidence": f.evidence,
                "remediation": f.remediation,
                "frameworks": control_labels(self.frameworks, &f.id),
            },
        });
        if let Some(i) = rule_index {
            result["ruleIndex"] = json!(i);
        }
        if f.outcome == Outcome::Fail {
            result["kind"] = json!("fail");
            result["level"] = json!(level(f.severity));
            if let Some(a) = &f.accepted {
                result["suppressions"] = suppressions(a);
            }
        } else {
            result["kind"] = json!("review");
            result["level"] = json!("none");
        }
        result
    }

    fn rules(&self) -> Vec<Value> {
        self.catalogue
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "name": rule_name(&r.id),
                    "shortDescription": { "text": r.title },
                    "fullDescription": { "text": r.rationale },
                    "help": { "text": r.remediation },
                    "defaultConfiguration": { "level": level(r.severity) },
                    "properties": {
                        "severity": r.severity.as_str(),
                        "security-severity": security_severity(r.severity),
                        "area": r.area,
                        "references": r.references,
                        "frameworks": control_labels(self.frameworks, &r.id),
                        "tags": ["security", "email"],
                    },
                })
            })
            .collect()
    }

    /// The whole log as a JSON value, from each domain's results in order.
    pub fn to_value(&self, results: Vec<Vec<Value>>) -> Value {
        let results: Vec<Value> = results.into_iter().flatten().collect();
        json!({
            "$schema": SARIF_SCHEMA_URI,
            "version": "2.1.0",
            "runs": [{
                "tool": {
                    "driver": {
                        "name": "mailwarden",
                        "version": self.tool_version,
                        "semanticVersion": self.tool_version,
                        "rules": self.rules(),
                    }
                },
                "originalUriBaseIds": {
                    "%SRCROOT%": { "description": { "text": "The directory mailwarden was run from." } }
                },
                "columnKind": "unicodeCodePoints",
                "invocations": [{ "executionSuccessful": true }],
                "results": results,
            }],
        })
    }
}

impl Document for SarifLog<'_> {
    type Part = Vec<Value>;

    fn part(&mut self, report: &DomainReport) -> Self::Part {
        self.results(report)
    }

    /// The log, pretty-printed.
    fn write_to(self, parts: Vec<Self::Part>, out: &mut dyn Write) -> io::Result<()> {
        crate::inert::to_writer_pretty(&mut *out, &self.to_value(parts))?;
        out.write_all(b"\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_severity() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::High), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Low), "note");
        assert_eq!(level(Severity::Info), "note");
    }

    #[test]
    fn fingerprints_are_stable_and_separate_fields() {
        let a = fingerprint("mx.present", "example.com", "example.com");
        assert_eq!(a, fingerprint("mx.present", "example.com", "example.com"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, fingerprint("mx.present", "example.co", "mexample.com"));
    }

    #[test]
    fn record_locations_name_the_record() {
        let f = |id: &str, subject: &str| Finding::new(id, Outcome::Fail, subject, "m");
        let loc = |id: &str, subject: &str| {
            let (n, t) = record_location(&f(id, subject), "example.com");
            format!("{n}/{}", t.unwrap_or("-"))
        };
        assert_eq!(loc("dmarc.policy-none", "example.com"), "_dmarc.example.com/TXT");
        assert_eq!(loc("spf.softfail-all", "example.com"), "example.com/TXT");
        assert_eq!(loc("spf.type99", "example.com"), "example.com/SPF");
        assert_eq!(loc("mx.target-cname", "mail.example.com"), "mail.example.com/CNAME");
        assert_eq!(loc("mx.present", "example.com"), "example.com/MX");
        assert_eq!(
            loc("dkim.rsa-weak", "mail._domainkey.example.com"),
            "mail._domainkey.example.com/TXT"
        );
        assert_eq!(loc("dns.budget-exhausted", "example.com"), "example.com/-");
    }

    #[test]
    fn zone_lines_find_owners_and_fall_back_to_ancestors() {
        let zone = "$ORIGIN example.com.\n$TTL 60\n@ IN SOA a. b. (\n 1 2 3 4 5 )\n  IN MX 10 mx1\n_dmarc IN TXT \"v=DMARC1; p=none\" ; c\nmx1.example.com. IN A 192.0.2.1\n";
        let mut z = ZoneLines::default();
        z.add("z.zone", zone, None);
        assert_eq!(z.locate("example.com", None), Some(("z.zone", Some(3))));
        assert_eq!(z.locate("example.com", Some("MX")), Some(("z.zone", Some(5))));
        assert_eq!(z.locate("_dmarc.example.com", Some("TXT")), Some(("z.zone", Some(6))));
        assert_eq!(z.locate("MX1.example.com.", Some("AAAA")), Some(("z.zone", Some(7))));
        assert_eq!(
            z.locate("sel._domainkey.example.com", Some("TXT")),
            Some(("z.zone", Some(3)))
        );
        assert_eq!(z.locate("other.test", None), Some(("z.zone", None)));
    }

    #[test]
    fn artifact_locations_are_uris() {
        assert_eq!(
            artifact_location("examples/a b.zone"),
            json!({"uri": "examples/a%20b.zone", "uriBaseId": "%SRCROOT%"})
        );
        assert_eq!(
            artifact_location("example.com=/tmp/z.zone"),
            json!({"uri": "file:///tmp/z.zone"})
        );
    }
}

//! What a reader acts on first, shared by the text and HTML reports.
//!
//! * [`fix_first`]: the failing findings (info-level excluded: those are
//!   notes), one entry per rule and remediation, ordered by severity, then
//!   by how many other problems they explain, then by rule id.
//! * [`fold_undetermined`]: indeterminate findings that share one cause
//!   (an address the egress guard refused, a DNS failure) folded into one
//!   line, so 70 STARTTLS checks on 5 documentation addresses read as one.
//!
//! "Explains": a problem on a subject explains the other problems about
//! that subject or about something below it (an MX host's failure explains
//! the failures at that host's addresses), and any problem whose message
//! names its rule ("Not probed (see smtp.probed)").

use std::collections::BTreeMap;
use std::net::IpAddr;

use mailwarden_model::{Finding, Outcome, Severity};

/// One thing to fix: a failing rule, the subjects it fails on, its fix.
#[derive(Debug)]
pub struct Problem<'a> {
    pub severity: Severity,
    pub findings: Vec<&'a Finding>,
    /// How many other problems (failing or undetermined) it explains.
    pub explains: usize,
}

impl Problem<'_> {
    pub fn id(&self) -> &str {
        &self.findings[0].id
    }

    pub fn remediation(&self) -> Option<&str> {
        self.findings[0].remediation.as_deref()
    }

    /// The subjects, in order, without repeats.
    pub fn subjects(&self) -> Vec<&str> {
        let mut s: Vec<&str> = self.findings.iter().map(|f| f.subject.as_str()).collect();
        s.dedup();
        s
    }
}

/// Whether a finding needs fixing (fails above info, and no waiver accepted it).
pub fn needs_fix(f: &Finding) -> bool {
    f.fails() && f.severity > Severity::Info
}

/// Whether a finding is a note: it fails at info level (advice), not accepted.
pub fn is_note(f: &Finding) -> bool {
    f.fails() && f.severity == Severity::Info
}

/// The failing findings, grouped by (rule, remediation), in fix-first order.
pub fn fix_first(findings: &[Finding]) -> Vec<Problem<'_>> {
    let problems: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.fails() || f.outcome == Outcome::Indeterminate)
        .collect();
    let mut groups: BTreeMap<(&str, Option<&str>), Problem<'_>> = BTreeMap::new();
    for f in findings.iter().filter(|f| needs_fix(f)) {
        let p = groups
            .entry((f.id.as_str(), f.remediation.as_deref()))
            .or_insert_with(|| Problem {
                severity: f.severity,
                findings: Vec::new(),
                explains: 0,
            });
        p.severity = p.severity.max(f.severity);
        p.findings.push(f);
        p.explains += problems.iter().filter(|g| explains(f, g)).count();
    }
    let mut list: Vec<Problem<'_>> = groups.into_values().collect();
    list.sort_by(|a, b| {
        (b.severity, b.explains)
            .cmp(&(a.severity, a.explains))
            .then_with(|| a.id().cmp(b.id()))
    });
    list
}

/// Whether problem `f` explains problem `g` (see the module comment).
fn explains(f: &Finding, g: &Finding) -> bool {
    if std::ptr::eq(f, g) || f.id == g.id {
        return false;
    }
    let below = g.subject == f.subject || g.subject.starts_with(&format!("{} (", f.subject));
    below || g.message.contains(&format!("see {}", f.id))
}

/// Indeterminate findings that share one cause.
#[derive(Debug)]
pub struct Fold<'a> {
    /// Why they could not be decided, in words.
    pub cause: String,
    /// Whether nothing was attempted (a probe refused or switched off), as
    /// opposed to attempted and failed.
    pub not_run: bool,
    pub findings: Vec<&'a Finding>,
}

impl Fold<'_> {
    /// "70 STARTTLS checks on 5 MX addresses" or "dnssec.ds-digest on
    /// example.com" for a fold of one.
    pub fn what(&self) -> String {
        let f = self.findings[0];
        let mut subjects: Vec<&str> = self.findings.iter().map(|f| f.subject.as_str()).collect();
        subjects.sort_unstable();
        subjects.dedup();
        if self.findings.len() == 1 {
            return if f.subject.is_empty() {
                f.id.clone()
            } else {
                format!("{} on {}", f.id, f.subject)
            };
        }
        let mut protocols: Vec<&str> = self.findings.iter().map(|f| protocol(&f.id)).collect();
        protocols.sort_unstable();
        protocols.dedup();
        let addresses = subjects.iter().filter(|s| address_of(s).is_some()).count();
        let mut hosts: Vec<&str> = subjects.iter().map(|s| s.split(" (").next().unwrap_or(s)).collect();
        hosts.dedup();
        let on = match subjects.as_slice() {
            [one] => format!(" on {one}"),
            many if addresses == many.len() => {
                format!(" on {}", crate::plural(many.len(), "MX address", "MX addresses"))
            }
            _ if addresses > 0 => format!(
                " on {} ({})",
                crate::plural(hosts.len(), "MX host", "MX hosts"),
                crate::plural(addresses, "address", "addresses")
            ),
            many => format!(" on {}", crate::plural(many.len(), "name", "names")),
        };
        let n = self.findings.len();
        format!("{n} {} checks{on}", join_words(&protocols))
    }
}

/// Fold the indeterminate findings among `findings` by cause; in the
/// order their first finding comes.
pub fn fold_undetermined<'a>(findings: &[&'a Finding]) -> Vec<Fold<'a>> {
    let mut folds: Vec<Fold<'a>> = Vec::new();
    for f in findings.iter().filter(|f| f.outcome == Outcome::Indeterminate) {
        let (cause, not_run) = cause(f);
        match folds.iter_mut().find(|g| g.cause == cause) {
            Some(g) => g.findings.push(f),
            None => folds.push(Fold {
                cause,
                not_run,
                findings: vec![f],
            }),
        }
    }
    // A cause shared by none: say it as the finding does.
    for g in &mut folds {
        if g.findings.len() == 1 && !g.not_run {
            g.cause = g.findings[0].message.clone();
        }
    }
    folds
}

/// The cause of an indeterminate finding, in words, and whether the check
/// was not run at all.
fn cause(f: &Finding) -> (String, bool) {
    let evidence = serde_json::to_string(&f.evidence).unwrap_or_default();
    if evidence.contains("egress-refused") {
        return (egress_cause(f), true);
    }
    if evidence.contains("\"not-probed\"") || f.message.contains("--no-smtp") {
        return ("probes were switched off (--no-smtp / --no-https)".into(), true);
    }
    if f.message.contains("budget") {
        return ("the per-domain query or time budget ran out".into(), true);
    }
    if let Some(at) = f.message.find("lookup failed: ") {
        let rest = &f.message[at + "lookup failed: ".len()..];
        let mut why = rest.split(['.', ';']).next().unwrap_or(rest).trim();
        if !why.contains('(') {
            why = why.trim_end_matches(')');
        }
        return (format!("DNS lookups failed ({why})"), false);
    }
    for (phrase, words) in [
        ("timed out", "DNS lookups timed out"),
        ("SERVFAIL", "a DNS server failed (SERVFAIL)"),
        ("REFUSED", "a DNS server refused (REFUSED)"),
        (
            "not in the saved evidence",
            "the saved evidence does not hold what the rule needs",
        ),
    ] {
        if f.message.contains(phrase) {
            return (words.into(), false);
        }
    }
    (strip_subject(&f.message, &f.subject), false)
}

/// "documentation addresses are not probed (...)": the classes of the
/// refused addresses, from the subject `host (address)`.
fn egress_cause(f: &Finding) -> String {
    let from_subject = address_of(&f.subject).and_then(mailwarden_model::net::non_global_reason);
    // Findings about a host (not one address) carry the refusal in their
    // evidence: "192.0.2.25 is documentation (RFC 5737), not a global address".
    let evidence = serde_json::to_string(&f.evidence).unwrap_or_default();
    let from_evidence = evidence
        .split(" is ")
        .skip(1)
        .find(|s| s.contains(" (RFC") && s.contains("not a global address"))
        .and_then(|s| s.split(" (").next());
    let class = from_subject
        .as_deref()
        .map(|r| r.split(" (").next().unwrap_or(r))
        .or(from_evidence)
        .unwrap_or("non-global");
    format!("{class} addresses are not probed (use --allow-private-targets for internal hosts)")
}

/// The address of a subject written `host (address)`.
fn address_of(subject: &str) -> Option<IpAddr> {
    let inner = subject.strip_suffix(')')?.rsplit_once(" (")?.1;
    inner.parse().ok()
}

/// A message with the subject's parts replaced, so messages about
/// different subjects with one cause compare equal.
fn strip_subject(message: &str, subject: &str) -> String {
    let mut out = message.to_string();
    for part in subject.split([' ', '(', ')']).filter(|p| p.len() > 2) {
        out = out.replace(part, "…");
    }
    out
}

/// The protocol a rule belongs to, as a reader names it.
pub fn protocol(rule_id: &str) -> &'static str {
    match rule_id.split('.').next().unwrap_or("") {
        "smtp" => "STARTTLS",
        "dane" => "DANE",
        "mta-sts" => "MTA-STS",
        "tlsrpt" => "TLS-RPT",
        "dmarc" => "DMARC",
        "spf" => "SPF",
        "dkim" => "DKIM",
        "bimi" => "BIMI",
        "dnssec" => "DNSSEC",
        "ns" => "nameserver",
        "mx" => "MX",
        "failover" => "failover",
        _ => "other",
    }
}

/// "A", "A and B", "A, B and C".
fn join_words(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, outcome: Outcome, severity: Severity, subject: &str, message: &str) -> Finding {
        let mut f = Finding::new(id, outcome, subject, message);
        f.severity = severity;
        f
    }

    #[test]
    fn fix_first_orders_by_severity_then_by_what_a_problem_explains() {
        let findings = vec![
            finding("mx.ipv6", Outcome::Fail, Severity::Low, "example.com", "no IPv6"),
            finding(
                "smtp.cert-expired",
                Outcome::Fail,
                Severity::Critical,
                "mx.example.com (192.0.2.1)",
                "expired",
            ),
            finding(
                "dmarc.rua-missing",
                Outcome::Fail,
                Severity::Medium,
                "example.com",
                "no rua",
            ),
            finding(
                "mx.target-cname",
                Outcome::Fail,
                Severity::Medium,
                "mx.example.com",
                "alias",
            ),
            finding(
                "smtp.cert-name",
                Outcome::Fail,
                Severity::High,
                "mx.example.com (192.0.2.1)",
                "name",
            ),
            finding(
                "smtp.cipher",
                Outcome::Indeterminate,
                Severity::Medium,
                "mx.example.com (192.0.2.1)",
                "?",
            ),
            finding(
                "dane.tlsa-present",
                Outcome::Fail,
                Severity::Info,
                "mx.example.com",
                "note",
            ),
        ];
        let problems = fix_first(&findings);
        let order: Vec<&str> = problems.iter().map(|p| p.id()).collect();
        // mx.target-cname explains the three problems at its address (and
        // the note on its host); dmarc.rua-missing only mx.ipv6.
        assert_eq!(
            order,
            [
                "smtp.cert-expired",
                "smtp.cert-name",
                "mx.target-cname",
                "dmarc.rua-missing",
                "mx.ipv6"
            ]
        );
    }

    #[test]
    fn undetermined_checks_with_one_cause_fold_into_one_line() {
        let mut refused = Vec::new();
        for addr in ["192.0.2.25", "2001:db8::25"] {
            for id in ["smtp.starttls", "smtp.cipher", "smtp.probed"] {
                let mut f = finding(
                    id,
                    Outcome::Indeterminate,
                    Severity::High,
                    &format!("mx.example.com ({addr})"),
                    "x",
                );
                f.evidence.insert("status".into(), "egress-refused".into());
                refused.push(f);
            }
        }
        refused.push(finding(
            "dnssec.ds-digest",
            Outcome::Indeterminate,
            Severity::Medium,
            "example.com",
            "Could not read the DS records of example.com: lookup failed: timed out",
        ));
        let refs: Vec<&Finding> = refused.iter().collect();
        let folds = fold_undetermined(&refs);
        assert_eq!(folds.len(), 2);
        assert_eq!(folds[0].what(), "6 STARTTLS checks on 2 MX addresses");
        assert_eq!(
            folds[0].cause,
            "documentation addresses are not probed (use --allow-private-targets for internal hosts)"
        );
        assert_eq!(folds[1].what(), "dnssec.ds-digest on example.com");
        assert!(
            folds[1].cause.starts_with("Could not read the DS records"),
            "{}",
            folds[1].cause
        );
    }
}

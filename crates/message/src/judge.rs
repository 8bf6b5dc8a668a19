//! Findings from an analysed message (pure). Rule ids are `message.*`
//! (`rules/message.toml`); the subject of each is the message's label.

use std::collections::BTreeMap;

use mailwarden_model::{Outcome, RawFinding, Severity};

use crate::Analysis;
use crate::auth::AuthReport;
use crate::hops::{Hop, Transport};
use crate::leaks::Leak;

/// RFC 5321 §6.3 suggests a loop threshold of "at least 100" Received
/// fields; more than that is reported.
pub const LOOP_THRESHOLD: usize = 100;

/// Every finding for one message: parsing, path, leaks, and, when `auth`
/// was verified, authentication.
pub fn judge(a: &Analysis, auth: Option<&AuthReport>) -> Vec<RawFinding> {
    let mut out = vec![parse(a), hop_count(a), unencrypted_hops(a), tls_versions(a)];
    out.extend(leak_findings(a));
    if let Some(auth) = auth {
        out.extend(crate::auth::findings(a, auth));
    }
    out
}

fn subject(a: &Analysis) -> &str {
    &a.label
}

fn parse(a: &Analysis) -> RawFinding {
    let mut problems = a.headers.problems.clone();
    problems.extend(a.trusted_problem.clone());
    if a.headers.fields.is_empty() {
        problems.push("no header fields: this does not look like a message".into());
    }
    if problems.is_empty() {
        return RawFinding::new(
            "message.parse",
            Outcome::Pass,
            subject(a),
            "The header section is well-formed.",
        );
    }
    RawFinding::new(
        "message.parse",
        Outcome::Fail,
        subject(a),
        format!("The message could not be read cleanly: {}.", problems.join("; ")),
    )
    .evidence("problems", &problems)
}

/// Always emitted, so it carries the whole hop table as evidence: JSON
/// (and SARIF) reports have the path of every message.
fn hop_count(a: &Analysis) -> RawFinding {
    let n = a.path.received_fields;
    if n <= LOOP_THRESHOLD {
        return RawFinding::new(
            "message.hop-count",
            Outcome::Pass,
            subject(a),
            format!("{n} Received field(s), at most {LOOP_THRESHOLD}."),
        )
        .evidence("path", crate::table::evidence(&a.path));
    }
    RawFinding::new(
        "message.hop-count",
        Outcome::Fail,
        subject(a),
        format!(
            "{n} Received fields: more than {LOOP_THRESHOLD} means a mail loop or a crafted message; {} were read, {} ignored.",
            a.path.hops.len(),
            a.path.dropped
        ),
    )
    .evidence("received_fields", n)
    .evidence("path", crate::table::evidence(&a.path))
}

/// Hops after the first that crossed a network without TLS.
fn unencrypted_hops(a: &Analysis) -> RawFinding {
    let hops = &a.path.hops;
    let id = "message.hop-unencrypted";
    if hops.len() < 2 {
        return RawFinding::new(
            id,
            Outcome::NotApplicable,
            subject(a),
            "Fewer than two hops: no relay hop to judge.",
        );
    }
    let later = &hops[1..];
    let plain: Vec<&Hop> = later.iter().filter(|h| h.transport == Transport::Plain).collect();
    let unknown: Vec<&Hop> = later.iter().filter(|h| h.transport == Transport::Unknown).collect();
    if !plain.is_empty() {
        return RawFinding::new(
            id,
            Outcome::Fail,
            subject(a),
            format!(
                "{} without TLS: {}.",
                if plain.len() == 1 {
                    "One hop after the first went"
                } else {
                    "Hops after the first went"
                },
                plain.iter().map(|h| describe_hop(h)).collect::<Vec<_>>().join("; ")
            ),
        )
        .evidence("hops", plain.iter().map(|h| hop_evidence(h)).collect::<Vec<_>>());
    }
    if !unknown.is_empty() {
        return RawFinding::new(
            id,
            Outcome::Indeterminate,
            subject(a),
            format!(
                "Whether these hops used TLS is not recorded: {}.",
                unknown.iter().map(|h| describe_hop(h)).collect::<Vec<_>>().join("; ")
            ),
        )
        .evidence("hops", unknown.iter().map(|h| hop_evidence(h)).collect::<Vec<_>>());
    }
    RawFinding::new(
        id,
        Outcome::Pass,
        subject(a),
        format!(
            "Every hop after the first used TLS or stayed inside one machine ({} hops).",
            hops.len()
        ),
    )
}

/// TLS below 1.2 on any hop (RFC 8996 deprecates TLS 1.0 and 1.1).
fn tls_versions(a: &Analysis) -> RawFinding {
    let id = "message.hop-tls-version";
    let recorded: Vec<&Hop> = a.path.hops.iter().filter(|h| h.tls_version.is_some()).collect();
    if recorded.is_empty() {
        return RawFinding::new(
            id,
            Outcome::NotApplicable,
            subject(a),
            "No hop recorded its TLS version.",
        );
    }
    let old: Vec<&Hop> = recorded
        .iter()
        .copied()
        .filter(|h| {
            matches!(
                h.tls_version.as_deref(),
                Some("TLSv1" | "TLSv1.0" | "TLSv1.1" | "SSLv3" | "SSLv2")
            )
        })
        .collect();
    if old.is_empty() {
        return RawFinding::new(
            id,
            Outcome::Pass,
            subject(a),
            format!("Every recorded TLS version is 1.2 or later ({} hops).", recorded.len()),
        );
    }
    RawFinding::new(
        id,
        Outcome::Fail,
        subject(a),
        format!(
            "Deprecated TLS on {}.",
            old.iter()
                .map(|h| format!("{} ({})", describe_hop(h), h.tls_version.as_deref().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    )
    .evidence("hops", old.iter().map(|h| hop_evidence(h)).collect::<Vec<_>>())
}

fn describe_hop(h: &Hop) -> String {
    let from = h
        .from_ip
        .map(|ip| ip.to_string())
        .or_else(|| h.from.clone())
        .unwrap_or_else(|| "?".into());
    let by = h.by.as_deref().unwrap_or("?");
    let with = h.with.as_deref().unwrap_or("no protocol recorded");
    format!("hop {} {from} → {by} with {with}", h.number)
}

fn hop_evidence(h: &Hop) -> BTreeMap<&'static str, serde_json::Value> {
    let mut m = BTreeMap::new();
    m.insert("hop", serde_json::json!(h.number));
    m.insert("received", serde_json::json!(h.raw));
    m.insert("transport", serde_json::json!(h.transport.as_str()));
    m
}

/// The leak rules, each with a pass when nothing leaked.
const LEAK_RULES: [&str; 6] = [
    "message.received-private-address",
    "message.received-internal-name",
    "message.originating-ip",
    "message.client-software",
    "message.message-id-host",
    "message.internal-header",
];

fn leak_findings(a: &Analysis) -> Vec<RawFinding> {
    LEAK_RULES
        .iter()
        .flat_map(|rule| {
            let leaks: Vec<&Leak> = a.leaks.iter().filter(|l| l.rule == *rule).collect();
            if leaks.is_empty() {
                return vec![RawFinding::new(
                    rule,
                    Outcome::Pass,
                    subject(a),
                    "Nothing of this kind disclosed.",
                )];
            }
            leaks.into_iter().map(|l| leak_finding(a, l)).collect()
        })
        .collect()
}

fn leak_finding(a: &Analysis, l: &Leak) -> RawFinding {
    let place = match l.hop {
        Some(n) => format!("{} (hop {n})", l.header),
        None => l.header.clone(),
    };
    let mut f = RawFinding::new(
        l.rule,
        Outcome::Fail,
        subject(a),
        format!("{place} discloses {:?}: {}.", l.value, l.why),
    )
    .evidence("header", &l.header)
    .evidence("value", &l.value);
    if let Some(n) = l.hop {
        f = f.evidence("hop", n);
    }
    // The sender's client address is personal data (GDPR Art. 4(1)); an
    // internal one says less about a person.
    if l.rule == "message.originating-ip" && l.why.contains("internal address") {
        f = f.severity(Severity::Low);
    }
    f
}

#[cfg(test)]
mod tests;

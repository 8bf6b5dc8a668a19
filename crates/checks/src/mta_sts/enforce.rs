//! What a policy asks of the MX hosts: that each is covered by an `mx`
//! pattern (RFC 8461 §4.1) and, in enforce mode, presents a certificate
//! senders accept (§4.2, §5).

use std::collections::BTreeMap;

use mailwarden_model::{DnsView, Outcome, RawFinding, Severity, SmtpStatus};
use mailwarden_records::mta_sts::{Mode, Policy};
use serde::Serialize;

use crate::Unlooked;
use crate::facts::Facts;
use crate::facts::sts::mx_matches;
use crate::rule;
use crate::tls::cert;
use crate::transport::{AddressTls, MxHost};

/// RFC 8461 §4.1: senders check that the MX host "matches at least one of
/// the "mx" values" of the policy (paraphrased), with a wildcard covering
/// exactly one left-most label ([`mx_matches`]); §5: in enforce mode they
/// "MUST NOT deliver the message to hosts that fail MX matching". An MX
/// the policy forgets is refused under enforce (critical) and reported
/// under testing (high).
pub(super) fn mx_match(domain: &str, policy: &Policy, hosts: Option<&Result<Vec<MxHost>, Unlooked>>) -> RawFinding {
    const ID: &str = rule::MTA_STS_MX_MATCH;
    let patterns: Vec<&str> = policy.mx.iter().map(|p| p.pattern.as_str()).collect();
    let hosts = match hosts {
        None => {
            return RawFinding::new(
                ID,
                Outcome::NotApplicable,
                domain,
                "The policy is `mode: none`: senders apply no policy, so the MX hosts need not match it.",
            );
        }
        Some(Err(why)) => {
            return RawFinding::new(ID, Outcome::Indeterminate, domain, format!("Could not look up {why}."))
                .evidence("failed_lookups", [why]);
        }
        Some(Ok(hosts)) if hosts.is_empty() => {
            return RawFinding::new(
                ID,
                Outcome::NotApplicable,
                domain,
                "The domain has no MX host names to match against the policy.",
            )
            .evidence("mx_patterns", &patterns);
        }
        Some(Ok(hosts)) => hosts,
    };
    let pattern_of = |host: &str| patterns.iter().copied().find(|p| mx_matches(p, host));
    let uncovered: Vec<&str> = hosts
        .iter()
        .map(|h| h.name.as_str())
        .filter(|h| pattern_of(h).is_none())
        .collect();
    let mx: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    let enforce = policy.mode == Some(Mode::Enforce);
    if uncovered.is_empty() {
        let matches: BTreeMap<&str, &str> = mx.iter().filter_map(|h| Some((*h, pattern_of(h)?))).collect();
        return RawFinding::new(
            ID,
            Outcome::Pass,
            domain,
            format!("Every MX host ({}) matches an mx pattern of the policy.", mx.join(", ")),
        )
        .evidence("matches", matches)
        .evidence("mx_patterns", &patterns);
    }
    let consequence = if enforce {
        "In enforce mode senders that implement MTA-STS do not deliver to them (RFC 8461 §5); while another MX passes, mail goes there, and if none does it is deferred and in the end bounced."
    } else {
        "In testing mode senders still deliver to them but report each delivery as a policy failure; switching to enforce would make them refuse these hosts."
    };
    let mut f = RawFinding::new(
        ID,
        Outcome::Fail,
        domain,
        format!(
            "{} of {} MX host(s) match no mx pattern of the policy ({}): {}. {consequence}",
            uncovered.len(),
            mx.len(),
            if patterns.is_empty() { "none".to_string() } else { patterns.join(", ") },
            uncovered.join(", ")
        ),
    )
    .evidence("uncovered", &uncovered)
    .evidence("mx", &mx)
    .evidence("mx_patterns", &patterns)
    .remediation(format!(
        "Add {} to the policy (a `*.` pattern covers exactly one left-most label: `*.example.com` covers mx.example.com, not example.com or a.b.example.com), or correct the MX records if these hosts should not receive mail; then change the id in the _mta-sts record so senders fetch the new policy.",
        uncovered.iter().map(|h| format!("`mx: {h}`")).collect::<Vec<_>>().join(", ")
    ));
    if enforce {
        f = f.severity(Severity::Critical);
    }
    f
}

/// One probed address that a sender under an enforce policy would refuse.
#[derive(Debug, Serialize)]
struct Refused {
    host: String,
    address: std::net::IpAddr,
    status: &'static str,
    reason: String,
}

/// Why a sender would refuse this address (its `pkix_valid()` is false).
fn refusal(a: &AddressTls<'_>) -> String {
    let detail = a.probe.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
    match a.probe.status {
        SmtpStatus::NoStarttls => "does not offer STARTTLS".into(),
        SmtpStatus::StarttlsRefused => format!(
            "refuses STARTTLS{}",
            a.probe.reply.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
        ),
        SmtpStatus::HandshakeFailed => format!("the TLS handshake fails{detail}"),
        _ => {
            let Some(report) = &a.chain else {
                return "presents no certificate".into();
            };
            let mut why = Vec::new();
            if let cert::Pkix::Untrusted { reason } = &report.pkix {
                why.push(format!("the certificate is not trusted: {reason}"));
            }
            match &report.leaf {
                None => why.push("the certificate cannot be read".into()),
                Some(leaf) if !leaf.valid_for_host() => why.push(format!(
                    "the certificate is for {}, not {}",
                    if leaf.names.is_empty() {
                        "no DNS name".to_string()
                    } else {
                        leaf.names.join(", ")
                    },
                    a.host
                )),
                Some(_) => {}
            }
            if why.is_empty() {
                "the certificate is not valid for the host".into()
            } else {
                why.join("; ")
            }
        }
    }
}

/// RFC 8461 §4.2: "The certificate presented by the receiving MTA MUST
/// not be expired and MUST chain to a root CA that is trusted by the
/// Sending MTA", and it "MUST have a subject alternative name (SAN)
/// [RFC5280] with a DNS-ID [RFC6125] matching the hostname"; §5: in
/// enforce mode senders "MUST NOT deliver the message to hosts that fail
/// MX matching or certificate validation or that do not support STARTTLS".
/// Checked on every address of every MX host the policy covers (uncovered
/// hosts are `mta-sts.mx-match`'s).
pub(super) fn enforce_tls(
    domain: &str,
    view: &DnsView<'_>,
    facts: &Facts<'_, '_>,
    policy: &Policy,
    hosts: Option<&Result<Vec<MxHost>, Unlooked>>,
) -> RawFinding {
    const ID: &str = rule::MTA_STS_ENFORCE_TLS;
    let hosts = match (policy.mode, hosts) {
        (Some(Mode::Enforce), Some(Ok(hosts))) => hosts,
        (Some(Mode::Enforce), Some(Err(why))) => {
            return RawFinding::new(ID, Outcome::Indeterminate, domain, format!("Could not look up {why}."))
                .evidence("failed_lookups", [why]);
        }
        (mode, _) => {
            return RawFinding::new(
                ID,
                Outcome::NotApplicable,
                domain,
                format!(
                    "The policy is in {} mode, not enforce: senders deliver even when TLS to an MX fails, so no MX is refused.",
                    mode.map_or("no", Mode::as_str)
                ),
            );
        }
    };
    let covered: Vec<&MxHost> = hosts
        .iter()
        .filter(|h| policy.mx.iter().any(|p| mx_matches(&p.pattern, &h.name)))
        .collect();
    if covered.is_empty() {
        return RawFinding::new(
            ID,
            Outcome::NotApplicable,
            domain,
            "No MX host is covered by the policy (see mta-sts.mx-match), so none is checked here.",
        );
    }
    let mut valid = Vec::new();
    let mut refused = Vec::new();
    let mut unknown = Vec::new();
    for host in covered {
        if let Err(why) = &host.addresses {
            unknown.push(format!("{}: could not look up its addresses: {why}", host.name));
            continue;
        }
        for a in facts.probe_host(view, host) {
            match a.pkix_valid() {
                Some(true) => valid.push(a.subject()),
                Some(false) => refused.push(Refused {
                    host: a.host.clone(),
                    address: a.address,
                    status: a.probe.status.as_str(),
                    reason: refusal(&a),
                }),
                None => unknown.push(format!("{}: {}", a.subject(), a.probe.describe())),
            }
        }
    }
    if !refused.is_empty() {
        let lines: Vec<String> = refused
            .iter()
            .map(|r| format!("- {} ({}): {}", r.host, r.address, r.reason))
            .collect();
        let mut f = RawFinding::new(
            ID,
            Outcome::Fail,
            domain,
            format!(
                "The policy is in enforce mode, and senders that implement MTA-STS will not deliver to {} MX address(es) that do not offer STARTTLS with a certificate valid for the MX name (RFC 8461 §4.2, §5):\n{}\nWhile another MX passes, mail goes there; if none does, it is deferred and in the end bounced.",
                refused.len(),
                lines.join("\n")
            ),
        )
        .evidence("refused", &refused)
        .remediation(
            "On each MX listed, offer STARTTLS with a certificate from a publicly trusted CA whose subjectAltName includes the MX host name, in date, served with its intermediate certificates. Until then, switch the policy to `mode: testing` (and change the id in the _mta-sts record) so senders do not refuse mail.",
        );
        if !valid.is_empty() {
            f = f.evidence("valid", &valid);
        }
        if !unknown.is_empty() {
            f = f.evidence("not_checked", &unknown);
        }
        return f;
    }
    if !unknown.is_empty() {
        return RawFinding::new(
            ID,
            Outcome::Indeterminate,
            domain,
            format!(
                "No MX address checked fails, but some could not be checked: {}.",
                unknown.join("; ")
            ),
        )
        .evidence("not_checked", &unknown)
        .evidence("valid", &valid);
    }
    if valid.is_empty() {
        return RawFinding::new(
            ID,
            Outcome::NotApplicable,
            domain,
            "The MX hosts the policy covers have no addresses, so there is nothing to connect to.",
        );
    }
    RawFinding::new(
        ID,
        Outcome::Pass,
        domain,
        format!(
            "Every address of every MX host the policy covers offers STARTTLS with a certificate valid for its name: {}.",
            valid.join(", ")
        ),
    )
    .evidence("valid", &valid)
}

//! `dnssec.bogus-rrset`: a record set senders need does not validate,
//! though its zone's keys and chain of trust do (one RRset signed wrongly,
//! or its signatures corrupted on the way). Validating resolvers answer
//! SERVFAIL for it, so validating senders cannot deliver, or cannot apply
//! the policy it carries.

use mailwarden_model::{DnsView, Outcome, RType, RawFinding, Status};

use crate::Context;
use crate::rule;

/// The record sets a sending MTA (or its validating resolver) looks up on
/// the way to delivering mail to the domain.
fn rrsets_senders_need(domain: &str, mx_hosts: &[String]) -> Vec<(String, RType)> {
    let mut out = vec![
        (domain.to_string(), RType::Mx),
        (domain.to_string(), RType::Txt),
        (format!("_dmarc.{domain}"), RType::Txt),
        (format!("_mta-sts.{domain}"), RType::Txt),
    ];
    for host in mx_hosts {
        out.push((host.clone(), RType::A));
        out.push((host.clone(), RType::Aaaa));
        out.push((format!("_25._tcp.{host}"), RType::Tlsa));
    }
    out
}

fn at_or_below(name: &str, apex: &str) -> bool {
    name == apex || name.ends_with(&format!(".{apex}"))
}

/// What [`judge`] reads: the record sets senders need.
pub(super) fn reads(domain: &str, view: &DnsView<'_>, mx_hosts: &[String]) {
    for (name, rtype) in &rrsets_senders_need(domain, mx_hosts) {
        view.get(name, *rtype);
    }
}

/// RFC 4035 §4.3: "Bogus: An RRset for which the resolver believes that
/// it ought to be able to establish a chain of trust but for which it is
/// unable to do so, either due to signatures that for some reason fail to
/// validate or due to missing data that the relevant DNSSEC RRs indicate
/// should be present." Validating resolvers answer SERVFAIL for such data
/// (as for `dnssec.bogus`), so what it says never reaches the sender.
///
/// `bogus_zones` are the zones whose own chain is bogus: their RRsets are
/// reported once, by `dnssec.bogus`, not again here.
pub(super) fn judge(ctx: &Context<'_>, view: &DnsView<'_>, mx_hosts: &[String], bogus_zones: &[String]) -> RawFinding {
    const ID: &str = rule::DNSSEC_BOGUS_RRSET;
    let domain = ctx.domain;
    let mut bogus = Vec::new();
    let mut covered = Vec::new();
    let mut unanswered = Vec::new();
    let rrsets = rrsets_senders_need(domain, mx_hosts);
    for (name, rtype) in &rrsets {
        let answer = view.get(name, *rtype);
        let label = format!("{name} {rtype}");
        match &answer.status {
            Status::Bogus(why) if bogus_zones.iter().any(|zone| at_or_below(name, zone)) => {
                covered.push(format!("{label}: {why}"));
            }
            Status::Bogus(why) => bogus.push((label, why.clone())),
            status if !status.is_definite() => unanswered.push(format!("{label}: {}", status.describe())),
            _ => {}
        }
    }
    if !bogus.is_empty() {
        return failure(domain, &bogus);
    }
    // Could not look comes first, as for the zone rules: without
    // validation the rule cannot apply, but a lookup that failed is still
    // reported as such.
    if unanswered.is_empty() && !ctx.source.dnssec_validation {
        return RawFinding::new(
            ID,
            Outcome::NotApplicable,
            domain,
            "DNSSEC was not validated in this scan (zone-file input or validation off).",
        );
    }
    if !unanswered.is_empty() {
        return RawFinding::new(
            ID,
            Outcome::Indeterminate,
            domain,
            format!(
                "Could not check that every record set senders need validates: {}.",
                unanswered.join("; ")
            ),
        )
        .evidence("unanswered", &unanswered);
    }
    if !covered.is_empty() {
        return RawFinding::new(
            ID,
            Outcome::NotApplicable,
            domain,
            "The zone itself does not validate; see dnssec.bogus.",
        )
        .evidence("bogus_in_bogus_zone", &covered);
    }
    let checked: Vec<String> = rrsets.iter().map(|(n, t)| format!("{n} {t}")).collect();
    RawFinding::new(
        ID,
        Outcome::Pass,
        domain,
        format!(
            "None of the {} record sets senders look up for {domain} is bogus.",
            checked.len()
        ),
    )
    .evidence("checked", &checked)
}

fn failure(domain: &str, bogus: &[(String, String)]) -> RawFinding {
    let names: Vec<&str> = bogus.iter().map(|(label, _)| label.as_str()).collect();
    let reasons: Vec<String> = bogus.iter().map(|(label, why)| format!("{label}: {why}")).collect();
    RawFinding::new(
        rule::DNSSEC_BOGUS_RRSET,
        Outcome::Fail,
        domain,
        format!(
            "DNSSEC-bogus record set{} {}: the signatures do not validate though the zone's keys do. \
             Validating resolvers answer SERVFAIL for {}, so senders that validate cannot deliver mail to {domain} \
             (or cannot apply the policy the record carries).",
            if names.len() == 1 { "" } else { "s" },
            names.join(", "),
            if names.len() == 1 { "it" } else { "them" },
        ),
    )
    .evidence("bogus_rrsets", &names)
    .evidence("reasons", &reasons)
    .remediation(format!(
        "Re-sign {} (its RRSIGs do not match the records, or were made with a key that is not in the DNSKEY set): \
         check with `delv {} +rtrace` or DNSViz, and make sure every server of the zone serves the same signed copy.",
        names.join(", "),
        names.first().copied().unwrap_or(domain)
    ))
}

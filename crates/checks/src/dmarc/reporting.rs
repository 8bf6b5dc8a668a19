//! Aggregate and failure reporting (RFC 7489 §7): the rua/ruf URIs, their
//! number, privacy, and whether external destinations authorise the
//! reports (§7.1) and can receive mail.

use super::*;
use crate::rule;

/// One reporting destination (a `mailto:` domain) and what is known of it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Destination {
    pub(super) domain: String,
    pub(super) tags: BTreeSet<&'static str>,
    pub(super) uris: Vec<String>,
}

pub(super) fn destinations(a: &Applied) -> Vec<Destination> {
    let mut out: Vec<Destination> = Vec::new();
    for (tag, list) in [("rua", &a.record.rua), ("ruf", &a.record.ruf)] {
        for uri in list.iter().filter(|u| u.valid) {
            let Some(dom) = &uri.domain else { continue };
            match out.iter_mut().find(|d| &d.domain == dom) {
                Some(d) => {
                    d.tags.insert(tag);
                    d.uris.push(uri.text.clone());
                }
                None => out.push(Destination {
                    domain: dom.clone(),
                    tags: [tag].into_iter().collect(),
                    uris: vec![uri.text.clone()],
                }),
            }
        }
    }
    out.sort_by(|a, b| a.domain.cmp(&b.domain));
    out
}

/// RFC 7489 §7.1: "When a Mail Receiver discovers a DMARC policy in the
/// DNS, and the Organizational Domain at which that record was discovered
/// is not identical to the Organizational Domain of the host part of the
/// authority component of a [URI] specified in the "rua" or "ruf" tag, the
/// following verification steps are to be taken".
pub(super) fn is_external(policy_domain: &str, destination: &str) -> bool {
    organisational_domain_psl(policy_domain) != organisational_domain_psl(destination)
}

pub(super) fn report_name(policy_domain: &str, destination: &str) -> String {
    format!("{policy_domain}._report._dmarc.{destination}")
}

pub(super) fn reporting_findings(domain: &str, view: &DnsView<'_>, a: &Applied) -> Vec<RawFinding> {
    let mut out = vec![
        rua_missing(domain, a),
        uris_invalid(domain, a),
        too_many(domain, a),
        ruf_privacy(domain, a),
    ];
    let dests = destinations(a);
    let external: Vec<&Destination> = dests.iter().filter(|d| is_external(&a.source, &d.domain)).collect();
    if dests.is_empty() {
        out.push(RawFinding::new(
            rule::DMARC_EXTERNAL_UNAUTHORISED,
            Outcome::NotApplicable,
            domain,
            "No valid mailto: reporting destination.",
        ));
    } else if external.is_empty() {
        out.push(RawFinding::new(
            rule::DMARC_EXTERNAL_UNAUTHORISED,
            Outcome::Pass,
            domain,
            format!(
                "Every reporting destination is within the organisational domain of {}; no authorisation is needed.",
                a.source
            ),
        ));
    }
    for dest in &external {
        out.push(external_authorised(a, view, dest));
    }
    for dest in &dests {
        out.push(destination_mx(view, dest));
    }
    out
}

/// RFC 9989 §4.7 on `rua`: "If the tag is not provided, Mail Receivers
/// MUST NOT generate aggregate feedback reports for the domain."
pub(super) fn rua_missing(domain: &str, a: &Applied) -> RawFinding {
    if a.record.rua.is_empty() {
        return RawFinding::new(
            rule::DMARC_RUA_MISSING,
            Outcome::Fail,
            domain,
            format!(
                "The record at {} has no rua tag: no aggregate reports are sent, so nobody sees who sends mail as {domain} or whether legitimate mail fails.",
                a.describe_source()
            ),
        )
        .remediation(format!(
            "Add rua=mailto:dmarc@{} (a mailbox or report-processing service you read) to the record at _dmarc.{}.",
            a.source, a.source
        ));
    }
    RawFinding::new(
        rule::DMARC_RUA_MISSING,
        Outcome::Pass,
        domain,
        format!("Aggregate reports are requested ({} URI(s)).", a.record.rua.len()),
    )
    // The URIs as written, for profile checks such as BOD 18-01's required
    // report address (`dmarc-rua-includes`).
    .evidence("rua", a.record.rua.iter().map(|u| u.text.as_str()).collect::<Vec<_>>())
}

/// RFC 7489 §6.2: "A Mail Receiver MUST implement support for a "mailto:"
/// URI, i.e., the ability to send a DMARC report via electronic mail."
/// The grammar (§6.4) is `dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g"
/// / "t" ] ]`; RFC 9989 dropped the size suffix.
pub(super) fn uris_invalid(domain: &str, a: &Applied) -> RawFinding {
    let codes = [
        "invalid-uri",
        "invalid-mailto",
        "invalid-size",
        "non-mailto-uri",
        "size-suffix",
    ];
    let problems: Vec<String> = a
        .record
        .diagnostics
        .iter()
        .filter(|d| codes.contains(&d.code))
        .map(|d| format!("{} ({})", d.message, d.code))
        .collect();
    let total = a.record.rua.len() + a.record.ruf.len();
    if total == 0 {
        return RawFinding::new(
            rule::DMARC_RUA_INVALID,
            Outcome::NotApplicable,
            domain,
            "No reporting URIs.",
        );
    }
    if problems.is_empty() {
        return RawFinding::new(
            rule::DMARC_RUA_INVALID,
            Outcome::Pass,
            domain,
            "Every reporting URI is a valid mailto: address.",
        );
    }
    let valid_rua = a.record.rua.iter().filter(|u| u.valid && u.address.is_some()).count();
    let consequence = if !a.record.rua.is_empty() && valid_rua == 0 {
        " No rua URI is usable, so no aggregate reports arrive."
    } else {
        ""
    };
    RawFinding::new(
        rule::DMARC_RUA_INVALID,
        Outcome::Fail,
        domain,
        format!("Problems with the reporting URIs:{consequence} {}", problems.join("; ")),
    )
    .evidence("problems", &problems)
    .remediation(format!(
        "Write each destination as mailto:local@domain without a !size suffix, separated by commas, e.g. rua=mailto:dmarc@{}.",
        a.source
    ))
}

/// RFC 7489 §6.2: "Mail Receivers MAY impose a limit on the number of URIs
/// to which they will send reports but MUST support the ability to send to
/// at least two."
pub(super) fn too_many(domain: &str, a: &Applied) -> RawFinding {
    let over: Vec<String> = [("rua", &a.record.rua), ("ruf", &a.record.ruf)]
        .iter()
        .filter(|(_, l)| l.len() > 2)
        .map(|(t, l)| format!("{t} lists {}", l.len()))
        .collect();
    if over.is_empty() {
        return RawFinding::new(
            rule::DMARC_TOO_MANY_DESTINATIONS,
            Outcome::Pass,
            domain,
            "At most two destinations per report type.",
        );
    }
    RawFinding::new(
        rule::DMARC_TOO_MANY_DESTINATIONS,
        Outcome::Fail,
        domain,
        format!(
            "{}: receivers are only required to send to two destinations, so the ones after the second may get no reports.",
            over.join(", ")
        ),
    )
    .remediation("Keep at most two destinations per tag, the most important first; forward internally if more parties need the reports.")
}

/// Failure reports carry message content and personal data.
pub(super) fn ruf_privacy(domain: &str, a: &Applied) -> RawFinding {
    if a.record.ruf.is_empty() {
        return RawFinding::new(
            rule::DMARC_RUF_PRIVACY,
            Outcome::Pass,
            domain,
            "No failure reports (ruf) are requested.",
        );
    }
    let uris: Vec<&str> = a.record.ruf.iter().map(|u| u.text.as_str()).collect();
    RawFinding::new(
        rule::DMARC_RUF_PRIVACY,
        Outcome::Fail,
        domain,
        format!(
            "ruf={} requests failure reports: copies or excerpts of individual messages, with addresses and possibly content, i.e. personal data of third parties. Under GDPR's data-minimisation principle this needs a documented purpose and retention; most receivers no longer send them.",
            uris.join(",")
        ),
    )
    .evidence("ruf", &uris)
    .remediation(format!(
        "Remove ruf (and fo) from the record at _dmarc.{} unless you have a documented need, a processing agreement with the destination, and a retention limit.",
        a.source
    ))
}

/// RFC 7489 §7.1 steps 2-6: "Prepend the string "_report._dmarc"." ...
/// "Prepend the domain name from which the policy was retrieved" ... "In
/// particular, the "v=DMARC1" tag is mandatory and MUST appear first in
/// the list. Discard any that do not pass this test." ... "If the result
/// includes no TXT resource records that pass basic parsing, a positive
/// determination of the external reporting relationship cannot be made;
/// stop." A wildcard `*._report._dmarc.<destination>` answers the query
/// by itself.
pub(super) fn external_authorised(a: &Applied, view: &DnsView<'_>, dest: &Destination) -> RawFinding {
    let name = report_name(&a.source, &dest.domain);
    let answer = view.get(&name, RType::Txt);
    let base = |outcome, msg: String| {
        RawFinding::new(rule::DMARC_EXTERNAL_UNAUTHORISED, outcome, &dest.domain, msg)
            .evidence("query", &name)
            .evidence("uris", &dest.uris)
    };
    if !answer.status.is_definite() {
        return base(
            Outcome::Indeterminate,
            format!(
                "Could not check whether {} accepts reports for {}: the TXT lookup of {name} {}.",
                dest.domain,
                a.source,
                answer.status.describe()
            ),
        );
    }
    let ok = answer
        .records
        .iter()
        .filter_map(RawRecord::from_rdata)
        .any(|r| mailwarden_records::dmarc::is_dmarc_record(&r.bytes));
    if ok {
        return base(
            Outcome::Pass,
            format!(
                "{} authorises reports for {} ({name} publishes v=DMARC1).",
                dest.domain, a.source
            ),
        );
    }
    let tags: Vec<&str> = dest.tags.iter().copied().collect();
    base(
        Outcome::Fail,
        format!(
            "{} is outside the organisational domain of {} and does not authorise it: {name} has no TXT record starting with v=DMARC1, so receivers send no {} reports there.",
            dest.domain,
            a.source,
            tags.join("/")
        ),
    )
    .remediation(format!(
        "Ask the operator of {} to publish `{name}. IN TXT \"v=DMARC1\"` (or `*._report._dmarc.{}. IN TXT \"v=DMARC1\"` for all customers), or send reports to an address within {}.",
        dest.domain, dest.domain, a.source
    ))
}

/// A report destination must accept mail: MX, or an address as the
/// implicit MX of RFC 5321 §5.1 ("If an empty list of MXs is returned, the
/// address is treated as if it was associated with an implicit MX RR"),
/// and no null MX (RFC 7505).
pub(super) fn destination_mx(view: &DnsView<'_>, dest: &Destination) -> RawFinding {
    let d = &dest.domain;
    let mx = view.get(d, RType::Mx);
    let base = |outcome, msg: String| {
        RawFinding::new(rule::DMARC_DESTINATION_NO_MX, outcome, d, msg).evidence("uris", &dest.uris)
    };
    match &mx.status {
        Status::Records => {
            let exchanges: Vec<String> = mx
                .records
                .iter()
                .filter_map(|r| match r {
                    RData::Mx { exchange, .. } => Some(mailwarden_model::name::normalise(exchange)),
                    _ => None,
                })
                .collect();
            if exchanges.iter().all(String::is_empty) {
                return base(
                    Outcome::Fail,
                    format!("The report destination {d} publishes a null MX: it accepts no mail, so reports sent there bounce."),
                )
                .remediation(format!("Send reports to a domain that receives mail, or remove the null MX of {d}."));
            }
            base(Outcome::Pass, format!("The report destination {d} has MX records."))
        }
        Status::NoData => {
            let a = view.get(d, RType::A);
            let aaaa = view.get(d, RType::Aaaa);
            if a.status == Status::Records || aaaa.status == Status::Records {
                return base(
                    Outcome::Pass,
                    format!("The report destination {d} has no MX but an address, used as its implicit MX."),
                );
            }
            if let Some(failed) = [a, aaaa].iter().find(|x| !x.status.is_definite()) {
                return base(
                    Outcome::Indeterminate,
                    format!(
                        "The report destination {d} has no MX, and its address lookup failed: {}.",
                        failed.status.describe()
                    ),
                );
            }
            base(
                Outcome::Fail,
                format!("The report destination {d} has neither MX nor address records: reports sent there cannot be delivered."),
            )
            .remediation(format!("Fix the mail routing of {d} or use another report address."))
        }
        Status::NxDomain => base(
            Outcome::Fail,
            format!("The report destination {d} does not exist (NXDOMAIN): reports cannot be delivered."),
        )
        .remediation(format!("Correct the report address; {d} does not exist.")),
        other => base(
            Outcome::Indeterminate,
            format!(
                "Could not look up the MX of the report destination {d}: {}.",
                other.describe()
            ),
        ),
    }
}

/// What the reporting checks read, building no findings: each external
/// destination's authorisation record, each destination's MX and, when
/// it has none, its addresses (an implicit MX).
pub(super) fn reporting_reads(view: &DnsView<'_>, a: &Applied) {
    for dest in destinations(a) {
        if is_external(&a.source, &dest.domain) {
            view.get(&report_name(&a.source, &dest.domain), RType::Txt);
        }
        if view.get(&dest.domain, RType::Mx).status == Status::NoData {
            view.get(&dest.domain, RType::A);
            view.get(&dest.domain, RType::Aaaa);
        }
    }
}

/// The lookups the reporting checks needed that failed.
pub(super) fn reporting_failures(view: &DnsView<'_>, a: &Applied) -> Vec<String> {
    let mut out = Vec::new();
    for dest in destinations(a) {
        let mut names = vec![(dest.domain.clone(), RType::Mx)];
        if is_external(&a.source, &dest.domain) {
            names.push((report_name(&a.source, &dest.domain), RType::Txt));
        }
        for (name, rtype) in names {
            let answer = view.get(&name, rtype);
            if !answer.status.is_definite() {
                out.push(format!("{name}/{rtype} {}", answer.status.describe()));
            }
        }
    }
    out
}

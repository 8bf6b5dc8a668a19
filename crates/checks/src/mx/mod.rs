//! Mail routing: the MX records of a domain and the hosts they name.
//!
//! Pure over a [`DnsView`]: asks for `MX` at the domain, `A`/`AAAA` of each
//! target (and of the apex when there is no MX), and `TXT` at the domain
//! when it publishes a null MX.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use mailwarden_model::{Answer, DnsView, Outcome, Proof, RData, RType, RawFinding, Severity, Status};

use crate::host_addresses::HostAddresses;
use crate::net::non_global_reason;
use crate::rule;

/// One MX record as the judge reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mx {
    preference: u16,
    /// Normalised target; empty for the null MX (`.`).
    exchange: String,
}

/// What is known about one MX target's addresses.
type Target<'a> = HostAddresses<'a>;

/// Judge the mail routing of `domain`.
pub fn judge(domain: &str, view: &DnsView<'_>) -> Vec<RawFinding> {
    let answer = view.get(domain, RType::Mx);
    match &answer.status {
        Status::Records => judge_mx_set(domain, view, answer),
        Status::NoData | Status::NxDomain => vec![judge_implicit_mx(domain, view, answer)],
        other => vec![RawFinding::new(
            rule::MX_PRESENT,
            Outcome::Indeterminate,
            domain,
            format!("Could not look up the MX records: {}", other.describe()),
        )],
    }
}

/// What [`judge`] reads, building no findings: the MX set, the
/// addresses of each target named (or of the domain itself when it has
/// no MX), the TXT records of a null-MX domain.
pub fn ask(domain: &str, view: &DnsView<'_>) {
    let answer = view.get(domain, RType::Mx);
    match &answer.status {
        Status::Records => {
            let set = parse_mx(answer);
            let real: BTreeSet<&str> = (set.iter().map(|m| m.exchange.as_str()))
                .filter(|e| !e.is_empty())
                .collect();
            if real.is_empty() && !set.is_empty() {
                view.get(domain, RType::Txt);
            }
            for name in real.into_iter().filter(|name| !is_ip_literal(name)) {
                view.get(name, RType::A);
                view.get(name, RType::Aaaa);
            }
        }
        Status::NoData => {
            view.get(domain, RType::A);
            view.get(domain, RType::Aaaa);
        }
        _ => {}
    }
}

/// Whether `domain` publishes only a null MX (RFC 7505: it accepts no
/// mail); `None` when the MX lookup could not be completed.
pub fn publishes_null_mx(view: &DnsView<'_>, domain: &str) -> Option<bool> {
    let answer = view.get(domain, RType::Mx);
    if !answer.status.is_definite() {
        return None;
    }
    let set = parse_mx(answer);
    Some(!set.is_empty() && set.iter().all(|m| m.exchange.is_empty()))
}

fn parse_mx(answer: &Answer) -> Vec<Mx> {
    answer
        .records
        .iter()
        .filter_map(|rd| match rd {
            RData::Mx { preference, exchange } => Some(Mx {
                preference: *preference,
                exchange: mailwarden_model::name::normalise(exchange),
            }),
            _ => None,
        })
        .collect()
}

/// RFC 5321 §5.1: "If an empty list of MXs is returned, the address is
/// treated as if it was associated with an implicit MX RR, with a
/// preference of 0, pointing to that host."
fn judge_implicit_mx(domain: &str, view: &DnsView<'_>, mx: &Answer) -> RawFinding {
    if mx.status == Status::NxDomain {
        return RawFinding::new(
            rule::MX_PRESENT,
            Outcome::Fail,
            domain,
            "The domain does not exist (NXDOMAIN): it can neither receive nor legitimately send mail.",
        )
        .evidence("mx", "NXDOMAIN");
    }
    let apex = Target {
        name: domain.to_string(),
        a: view.get(domain, RType::A),
        aaaa: view.get(domain, RType::Aaaa),
    };
    let addresses = apex.addresses();
    if !addresses.is_empty() {
        return RawFinding::new(
            rule::MX_PRESENT,
            Outcome::Fail,
            domain,
            format!("No MX records: senders fall back to the domain's own address ({}) as an implicit MX.", join(&addresses)),
        )
        .evidence("mx", "NODATA")
        .evidence("implicit_mx_addresses", &addresses)
        .remediation(format!(
            "If {domain} receives mail, publish `{domain}. IN MX 10 <your mail server>.`; if it does not, publish a null MX: `{domain}. IN MX 0 .`"
        ));
    }
    if let Some(why) = apex.failure() {
        return RawFinding::new(
            rule::MX_PRESENT,
            Outcome::Indeterminate,
            domain,
            format!("No MX records, and the implicit-MX address lookup failed: {why}"),
        );
    }
    RawFinding::new(
        rule::MX_PRESENT,
        Outcome::Fail,
        domain,
        "No MX records and no address records: the domain cannot receive mail, but does not say so with a null MX.",
    )
    .evidence("mx", "NODATA")
    .remediation(format!(
        "Publish a null MX to declare that {domain} accepts no mail: `{domain}. IN MX 0 .`"
    ))
}

fn judge_mx_set(domain: &str, view: &DnsView<'_>, answer: &Answer) -> Vec<RawFinding> {
    let set = parse_mx(answer);
    let listing: Vec<String> = set
        .iter()
        .map(|m| format!("{} {}", m.preference, display_exchange(&m.exchange)))
        .collect();
    let mut out = vec![
        RawFinding::new(
            rule::MX_PRESENT,
            Outcome::Pass,
            domain,
            format!("MX: {}", listing.join(", ")),
        )
        .evidence("mx", &listing),
    ];
    let (null, real): (Vec<&Mx>, Vec<&Mx>) = set.iter().partition(|m| m.exchange.is_empty());
    if !null.is_empty() {
        out.extend(judge_null_mx(domain, view, &null, &real));
    }
    if real.is_empty() {
        return out;
    }
    out.push(judge_duplicates(domain, &real));
    let mut targets = Vec::new();
    let unique: BTreeSet<&str> = real.iter().map(|m| m.exchange.as_str()).collect();
    for name in unique {
        if let Some(f) = judge_ip_literal(name) {
            out.push(f);
            continue;
        }
        let target = Target {
            name: name.to_string(),
            a: view.get(name, RType::A),
            aaaa: view.get(name, RType::Aaaa),
        };
        out.extend(judge_target(&target));
        targets.push(target);
    }
    out.extend(judge_targets_together(domain, &targets));
    out
}

fn display_exchange(exchange: &str) -> &str {
    if exchange.is_empty() { "." } else { exchange }
}

/// RFC 7505 §3: "A domain that advertises a null MX MUST NOT advertise any
/// other MX RR." and the null MX has "preference number 0".
fn judge_null_mx(domain: &str, view: &DnsView<'_>, null: &[&Mx], real: &[&Mx]) -> Vec<RawFinding> {
    let mut out = Vec::new();
    out.push(if real.is_empty() {
        RawFinding::new(
            rule::MX_NULL_MX_MIXED,
            Outcome::Pass,
            domain,
            "The null MX is the only MX record.",
        )
    } else {
        let others: Vec<&str> = real.iter().map(|m| m.exchange.as_str()).collect();
        RawFinding::new(
            rule::MX_NULL_MX_MIXED,
            Outcome::Fail,
            domain,
            format!("A null MX is published together with {}.", others.join(", ")),
        )
        .evidence("other_mx", &others)
    });
    let bad: Vec<u16> = null.iter().map(|m| m.preference).filter(|p| *p != 0).collect();
    out.push(if bad.is_empty() {
        RawFinding::new(
            rule::MX_NULL_MX_PREFERENCE,
            Outcome::Pass,
            domain,
            "The null MX has preference 0.",
        )
    } else {
        RawFinding::new(
            rule::MX_NULL_MX_PREFERENCE,
            Outcome::Fail,
            domain,
            format!("The null MX has preference {} instead of 0.", bad[0]),
        )
        .remediation(format!("Publish the null MX as `{domain}. IN MX 0 .`"))
    });
    if real.is_empty() {
        out.push(judge_null_mx_spf(domain, view));
    }
    out
}

/// A null-MX domain should authorise no sender: `v=spf1 -all`.
fn judge_null_mx_spf(domain: &str, view: &DnsView<'_>) -> RawFinding {
    let txt = view.get(domain, RType::Txt);
    if !txt.status.is_definite() {
        return RawFinding::new(
            rule::MX_NULL_MX_SPF,
            Outcome::Indeterminate,
            domain,
            format!("Could not read the TXT records: {}", txt.status.describe()),
        );
    }
    let spf: Vec<String> = txt
        .records
        .iter()
        .filter_map(RData::txt_bytes)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .filter(|t| t.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("v=spf1 ")) || t.eq_ignore_ascii_case("v=spf1"))
        .collect();
    let normalised: Vec<String> = spf
        .iter()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase())
        .collect();
    if normalised.len() == 1 && normalised[0] == "v=spf1 -all" {
        return RawFinding::new(
            rule::MX_NULL_MX_SPF,
            Outcome::Pass,
            domain,
            "The null-MX domain publishes `v=spf1 -all`.",
        );
    }
    let what = if spf.is_empty() {
        "no SPF record".to_string()
    } else {
        format!("SPF {:?}", spf)
    };
    RawFinding::new(
        rule::MX_NULL_MX_SPF,
        Outcome::Fail,
        domain,
        format!("The domain accepts no mail (null MX) but publishes {what} instead of `v=spf1 -all`."),
    )
    .evidence("spf", &spf)
    .remediation(format!(
        "Publish `{domain}. IN TXT \"v=spf1 -all\"` (and remove any other v=spf1 record)."
    ))
}

fn judge_duplicates(domain: &str, real: &[&Mx]) -> RawFinding {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for m in real {
        *count.entry(m.exchange.as_str()).or_default() += 1;
    }
    let dups: Vec<&str> = count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, _)| name)
        .collect();
    if dups.is_empty() {
        RawFinding::new(
            rule::MX_DUPLICATE,
            Outcome::Pass,
            domain,
            "Every MX host is listed once.",
        )
    } else {
        RawFinding::new(
            rule::MX_DUPLICATE,
            Outcome::Fail,
            domain,
            format!("Listed more than once: {}.", dups.join(", ")),
        )
        .evidence("duplicates", &dups)
    }
}

/// RFC 1035 §3.3.9: EXCHANGE is "A <domain-name> which specifies a host
/// willing to act as a mail exchange for the owner name."
fn judge_ip_literal(name: &str) -> Option<RawFinding> {
    is_ip_literal(name).then(|| {
        RawFinding::new(
            rule::MX_TARGET_IP_LITERAL,
            Outcome::Fail,
            name,
            format!("The MX target {name} is an IP address; it will be looked up as a host name and fail."),
        )
    })
}

/// An MX target written as an address (`192.0.2.1`, `[192.0.2.1]`).
fn is_ip_literal(name: &str) -> bool {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok()
}

fn judge_target(t: &Target<'_>) -> Vec<RawFinding> {
    vec![judge_cname(t), judge_resolvable(t), judge_global(t), judge_dnssec(t)]
}

/// RFC 2181 §10.3: "The domain name used as the value of a NS resource
/// record, or part of the value of a MX resource record must not be an
/// alias."
fn judge_cname(t: &Target<'_>) -> RawFinding {
    let chain = if t.a.cname_chain.is_empty() {
        &t.aaaa.cname_chain
    } else {
        &t.a.cname_chain
    };
    if !chain.is_empty() {
        return RawFinding::new(
            rule::MX_TARGET_CNAME,
            Outcome::Fail,
            &t.name,
            format!("{} is an alias: {} → {}", t.name, t.name, chain.join(" → ")),
        )
        .evidence("cname_chain", chain)
        .remediation(format!(
            "Point the MX record at {} instead of the alias {}.",
            chain.last().map_or("the canonical name", String::as_str),
            t.name
        ));
    }
    match t.failure() {
        Some(why) if !t.a.status.is_definite() && !t.aaaa.status.is_definite() => RawFinding::new(
            rule::MX_TARGET_CNAME,
            Outcome::Indeterminate,
            &t.name,
            format!("Could not look up {}: {why}", t.name),
        ),
        _ => RawFinding::new(
            rule::MX_TARGET_CNAME,
            Outcome::Pass,
            &t.name,
            format!("{} is not an alias.", t.name),
        ),
    }
}

/// RFC 5321 §5.1: "If MX records are present, but none of them are usable,
/// or the implicit MX is unusable, this situation MUST be reported as an
/// error."
fn judge_resolvable(t: &Target<'_>) -> RawFinding {
    let addresses = t.addresses();
    if !addresses.is_empty() {
        return RawFinding::new(
            rule::MX_TARGET_UNRESOLVABLE,
            Outcome::Pass,
            &t.name,
            format!("{} has {}.", t.name, join(&addresses)),
        )
        .evidence("addresses", &addresses);
    }
    if let Some(why) = t.failure() {
        return RawFinding::new(
            rule::MX_TARGET_UNRESOLVABLE,
            Outcome::Indeterminate,
            &t.name,
            format!("Could not look up the addresses of {}: {why}", t.name),
        );
    }
    let why = if t.a.status == Status::NxDomain {
        "does not exist (NXDOMAIN)"
    } else {
        "has neither A nor AAAA records"
    };
    RawFinding::new(
        rule::MX_TARGET_UNRESOLVABLE,
        Outcome::Fail,
        &t.name,
        format!("The MX host {} {why}.", t.name),
    )
}

fn judge_global(t: &Target<'_>) -> RawFinding {
    let addresses = t.addresses();
    if addresses.is_empty() {
        let outcome = if t.complete() {
            Outcome::NotApplicable
        } else {
            Outcome::Indeterminate
        };
        return RawFinding::new(
            rule::MX_TARGET_NON_GLOBAL,
            outcome,
            &t.name,
            format!("{} has no addresses to check.", t.name),
        );
    }
    let bad: Vec<String> = addresses
        .iter()
        .filter_map(|ip| non_global_reason(*ip).map(|r| format!("{ip}: {r}")))
        .collect();
    if bad.is_empty() {
        RawFinding::new(
            rule::MX_TARGET_NON_GLOBAL,
            Outcome::Pass,
            &t.name,
            format!("Every address of {} is a global unicast address.", t.name),
        )
    } else {
        RawFinding::new(
            rule::MX_TARGET_NON_GLOBAL,
            Outcome::Fail,
            &t.name,
            format!("{} has non-global addresses: {}.", t.name, bad.join("; ")),
        )
        .evidence("non_global", &bad)
    }
}

/// RFC 7672 §2.2: DANE for SMTP needs the MX host's address records (and
/// TLSA) to be DNSSEC-secure.
fn judge_dnssec(t: &Target<'_>) -> RawFinding {
    // A bogus answer is the strongest DNSSEC evidence there is, not a
    // failure to look: keep it next to the definite answers.
    let proofs: Vec<Proof> = [t.a, t.aaaa]
        .iter()
        .filter(|a| a.status.is_definite() || matches!(a.status, Status::Bogus(_)))
        .map(|a| a.proof)
        .collect();
    let Some(proof) = combine(&proofs) else {
        return RawFinding::new(
            rule::MX_DNSSEC,
            Outcome::Indeterminate,
            &t.name,
            format!("Could not look up {}: {}", t.name, t.failure().unwrap_or_default()),
        );
    };
    let finding =
        |outcome, msg: String| RawFinding::new(rule::MX_DNSSEC, outcome, &t.name, msg).evidence("proof", proof);
    match proof {
        Proof::Secure => finding(Outcome::Pass, format!("{} is DNSSEC-secure.", t.name)),
        Proof::Insecure => finding(
            Outcome::Fail,
            format!(
                "{} is DNSSEC-insecure (its zone is unsigned, or signed without a DS record at the parent): DANE cannot protect it.",
                t.name
            ),
        ),
        Proof::Bogus => finding(
            Outcome::Fail,
            format!(
                "{}'s DNSSEC signatures fail validation (bogus): validating senders cannot reach it.",
                t.name
            ),
        )
        .severity(Severity::Critical),
        Proof::Indeterminate => finding(
            Outcome::Indeterminate,
            format!("The DNSSEC status of {} could not be determined.", t.name),
        ),
        Proof::NotValidated => finding(
            Outcome::NotApplicable,
            "DNSSEC was not validated in this scan (zone-file input or validation off).".to_string(),
        ),
    }
}

/// The weakest of several proofs (bogus < indeterminate < insecure < secure).
fn combine(proofs: &[Proof]) -> Option<Proof> {
    let rank = |p: &Proof| match p {
        Proof::Bogus => 0,
        Proof::Indeterminate => 1,
        Proof::NotValidated => 2,
        Proof::Insecure => 3,
        Proof::Secure => 4,
    };
    proofs.iter().copied().min_by_key(rank)
}

fn judge_targets_together(domain: &str, targets: &[Target<'_>]) -> Vec<RawFinding> {
    let addresses: BTreeSet<IpAddr> = targets.iter().flat_map(Target::addresses).collect();
    let complete = targets.iter().all(Target::complete);
    vec![
        judge_redundancy(domain, targets.len(), &addresses, complete),
        judge_diversity(domain, &addresses, complete),
        judge_ipv6(domain, &addresses, complete),
    ]
}

fn judge_redundancy(domain: &str, hosts: usize, addresses: &BTreeSet<IpAddr>, complete: bool) -> RawFinding {
    let evidence = |f: RawFinding| f.evidence("mx_hosts", hosts).evidence("addresses", addresses);
    if hosts >= 2 && addresses.len() >= 2 {
        return evidence(RawFinding::new(
            rule::MX_REDUNDANCY,
            Outcome::Pass,
            domain,
            format!("{hosts} MX hosts with {} addresses.", addresses.len()),
        ));
    }
    if !complete && addresses.len() < 2 {
        return evidence(RawFinding::new(
            rule::MX_REDUNDANCY,
            Outcome::Indeterminate,
            domain,
            "Some MX address lookups failed.",
        ));
    }
    let msg = if hosts < 2 {
        format!("Only one MX host ({} address(es)): no failover.", addresses.len())
    } else {
        "All MX hosts share a single address: no failover.".to_string()
    };
    evidence(RawFinding::new(rule::MX_REDUNDANCY, Outcome::Fail, domain, msg))
}

fn judge_diversity(domain: &str, addresses: &BTreeSet<IpAddr>, complete: bool) -> RawFinding {
    if addresses.len() < 2 {
        let outcome = if complete {
            Outcome::NotApplicable
        } else {
            Outcome::Indeterminate
        };
        return RawFinding::new(
            rule::MX_NETWORK_DIVERSITY,
            outcome,
            domain,
            "Fewer than two MX addresses.",
        );
    }
    let v4: BTreeSet<[u8; 3]> = addresses
        .iter()
        .filter_map(|ip| match ip {
            IpAddr::V4(a) => {
                let o = a.octets();
                Some([o[0], o[1], o[2]])
            }
            _ => None,
        })
        .collect();
    let v6: BTreeSet<[u16; 3]> = addresses
        .iter()
        .filter_map(|ip| match ip {
            IpAddr::V6(a) => {
                let s = a.segments();
                Some([s[0], s[1], s[2]])
            }
            _ => None,
        })
        .collect();
    if v4.len() <= 1 && v6.len() <= 1 && !complete {
        // An address we could not look up may be in another network.
        RawFinding::new(
            rule::MX_NETWORK_DIVERSITY,
            Outcome::Indeterminate,
            domain,
            "The known MX addresses share one network, but some MX address lookups failed.",
        )
        .evidence("addresses", addresses)
    } else if v4.len() <= 1 && v6.len() <= 1 {
        RawFinding::new(
            rule::MX_NETWORK_DIVERSITY,
            Outcome::Fail,
            domain,
            "Every MX address is in one IPv4 /24 (and one IPv6 /48).",
        )
        .evidence("addresses", addresses)
    } else {
        RawFinding::new(
            rule::MX_NETWORK_DIVERSITY,
            Outcome::Pass,
            domain,
            format!(
                "MX addresses span {} IPv4 /24 and {} IPv6 /48 networks.",
                v4.len(),
                v6.len()
            ),
        )
    }
}

fn judge_ipv6(domain: &str, addresses: &BTreeSet<IpAddr>, complete: bool) -> RawFinding {
    let v6: Vec<&IpAddr> = addresses.iter().filter(|ip| ip.is_ipv6()).collect();
    if !v6.is_empty() {
        RawFinding::new(
            rule::MX_IPV6,
            Outcome::Pass,
            domain,
            format!("{} MX address(es) over IPv6.", v6.len()),
        )
    } else if !complete {
        RawFinding::new(
            rule::MX_IPV6,
            Outcome::Indeterminate,
            domain,
            "Some AAAA lookups failed.",
        )
    } else {
        RawFinding::new(
            rule::MX_IPV6,
            Outcome::Fail,
            domain,
            "No MX host has an IPv6 (AAAA) address.",
        )
    }
}

fn join(addresses: &[IpAddr]) -> String {
    addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;

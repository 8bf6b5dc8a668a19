//! Failover: is a backup MX as well protected as the primary, and does
//! inbound mail depend on a single provider?
//!
//! RFC 5321 §5.1: "Multiple MX records contain a preference indication
//! that MUST be used in sorting if there is more than one such record (see
//! below). Lower numbers are more preferred than higher ones." and "To
//! provide reliable mail transmission, the SMTP client MUST be able to try
//! (and retry) each of the relevant addresses in this list in order, until
//! a delivery attempt succeeds." So whoever can make the primary
//! unreachable (an outage, or an attacker on the path) sends the mail to
//! the backup: a backup weaker than the primary is the protection the
//! domain really has.
//!
//! Pure over a [`DnsView`]. `failover.single-provider` reads MX only.
//! `failover.tls-parity` asks, when there are at least two preference
//! levels: the MX hosts' addresses and STARTTLS probes
//! (`crate::transport`), TLSA of the primaries (and of the backups only
//! if a primary might have DANE), and the MTA-STS policy
//! (`Facts::policy_state`). A property the primary lacks is not
//! looked up at the backups. Network diversity (one /24 or /48) is
//! `mx.network-diversity`, a single MX host `mx.redundancy`: not repeated
//! here.

use std::collections::{BTreeMap, BTreeSet};

use mailwarden_model::{DnsView, Outcome, RawFinding};
use mailwarden_records::mta_sts::Mode;

use crate::facts::PolicyState;
use crate::rule;
use crate::tls::cert::Pkix;
use crate::transport::{self, AddressTls, MxHost, all_of};
use crate::{ChainCache, Context, Facts};

const PARITY: &str = rule::FAILOVER_TLS_PARITY;
const PROVIDER: &str = rule::FAILOVER_SINGLE_PROVIDER;

/// Judge the failover properties of `ctx.domain`'s MX hosts.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<RawFinding> {
    let chains = ChainCache::default();
    judge_with(ctx, view, &Facts::of_view(ctx, view, &chains))
}

/// What [`judge_with`] reads, building no findings: the MX exchanges
/// and, when there are backups, what comparing them with the primaries
/// reads (`assess`).
pub fn ask(ctx: &Context<'_>, view: &DnsView<'_>, facts: &Facts<'_, '_>) {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let Ok(exchanges) = transport::mx_exchanges(&domain, view) else {
        return;
    };
    let levels: BTreeSet<u16> = exchanges.iter().map(|(p, _)| *p).collect();
    if levels.len() < 2 {
        return;
    }
    let Ok(hosts) = facts.mx_hosts(view) else { return };
    let Some(top) = hosts.first().map(|h| h.preference) else {
        return;
    };
    let primaries: Vec<&MxHost> = hosts
        .iter()
        .filter(|h| h.preference == top && !unaddressable(h))
        .collect();
    if primaries.is_empty() {
        return;
    }
    let sts = sts(facts.policy_state(view));
    let primary = assess(facts, view, &primaries, &Property::ALL, &sts);
    for backup in hosts.iter().filter(|h| h.preference != top) {
        if !backup.addresses.as_ref().is_ok_and(|a| a.is_empty()) {
            assess(facts, view, &[backup], &compared(&primary), &sts);
        }
    }
}

/// A host whose addresses were looked up and are none.
fn unaddressable(host: &MxHost) -> bool {
    host.addresses.as_ref().is_ok_and(|a| a.is_empty())
}

/// [`judge`], reading the shared facts of the view.
pub fn judge_with(ctx: &Context<'_>, view: &DnsView<'_>, facts: &Facts<'_, '_>) -> Vec<RawFinding> {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let exchanges = match transport::mx_exchanges(&domain, view) {
        Ok(e) => e,
        Err(why) => {
            return [PARITY, PROVIDER]
                .iter()
                .map(|id| {
                    RawFinding::new(
                        id,
                        Outcome::Indeterminate,
                        &domain,
                        format!("Could not look up the MX hosts: {why}."),
                    )
                    .evidence("failed_lookups", [&why])
                })
                .collect();
        }
    };
    if exchanges.is_empty() {
        return [PARITY, PROVIDER]
            .iter()
            .map(|id| {
                RawFinding::new(
                    id,
                    Outcome::NotApplicable,
                    &domain,
                    "The domain has no MX hosts (none, or a null MX), so there is no failover to judge.",
                )
            })
            .collect();
    }
    let mut out = vec![single_provider(&domain, &exchanges)];
    out.extend(parity(facts, &domain, view, &exchanges));
    out
}

/// The registrable domain of `host` by the public suffix list (the host
/// itself when it is a public suffix or shorter).
fn provider(host: &str) -> String {
    crate::facts::organisational_domain_psl(host)
}

/// All MX hosts under one registrable domain that is not the domain's own
/// organisational domain: one provider's outage or compromise stops or
/// exposes all inbound mail. The registrable domain stands in for the
/// operator, so two brands of one operator count as two, and hosts named
/// under the domain but run by a provider count as the domain's own.
///
/// One MX host is not applicable: `mx.redundancy` already reports that
/// there is no second host, provider or not.
fn single_provider(domain: &str, exchanges: &[(u16, String)]) -> RawFinding {
    let providers: BTreeMap<&str, String> = exchanges.iter().map(|(_, h)| (h.as_str(), provider(h))).collect();
    let distinct: BTreeSet<&str> = providers.values().map(String::as_str).collect();
    let own = crate::facts::organisational_domain_psl(domain);
    let finding = |outcome, message: String| {
        RawFinding::new(PROVIDER, outcome, domain, message)
            .evidence("providers", &providers)
            .evidence("organisational_domain", &own)
    };
    if exchanges.len() < 2 {
        return finding(
            Outcome::NotApplicable,
            format!(
                "One MX host ({}): provider diversity needs a second host, whose absence mx.redundancy reports.",
                exchanges[0].1
            ),
        );
    }
    if distinct.len() > 1 {
        return finding(
            Outcome::Pass,
            format!(
                "The {} MX hosts are under {} registrable domains ({}).",
                exchanges.len(),
                distinct.len(),
                distinct.iter().copied().collect::<Vec<_>>().join(", ")
            ),
        );
    }
    let only = distinct.iter().next().copied().unwrap_or_default();
    if only == own {
        return finding(
            Outcome::Pass,
            format!(
                "Every MX host is under the domain's own organisational domain {own}: the domain runs (or at least names) its own mail servers."
            ),
        );
    }
    finding(
        Outcome::Fail,
        format!(
            "All {} MX hosts are under {only}: a single provider's outage or compromise affects all inbound mail of {domain}.",
            exchanges.len()
        ),
    )
    .remediation(format!(
        "If mail must keep flowing through an outage of {only}, add a backup MX at an independent provider, with the same protection as the primary (STARTTLS, a certificate valid for its name, TLSA, and an entry in the MTA-STS policy; see failover.tls-parity). Otherwise note the dependency as an accepted risk."
    ))
}

/// What a backup can lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Property {
    Starttls,
    Certificate,
    Dane,
    MtaSts,
}

impl Property {
    const ALL: [Property; 4] = [
        Property::Starttls,
        Property::Certificate,
        Property::Dane,
        Property::MtaSts,
    ];

    fn name(self) -> &'static str {
        match self {
            Property::Starttls => "STARTTLS",
            Property::Certificate => "a certificate valid for its name",
            Property::Dane => "DANE (secure, usable TLSA records that match)",
            Property::MtaSts => "coverage by the MTA-STS policy",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Property::Starttls => "starttls",
            Property::Certificate => "certificate",
            Property::Dane => "dane",
            Property::MtaSts => "mta-sts",
        }
    }

    /// Needs the STARTTLS probes.
    fn probed(self) -> bool {
        !matches!(self, Property::MtaSts)
    }
}

/// One property of a host (or of the primaries together): whether it has
/// it (`None`: unknown) and why not, or why unknown.
#[derive(Debug, Clone)]
struct Assessment {
    has: Option<bool>,
    detail: Vec<String>,
}

impl Assessment {
    /// Combine per-address or per-host answers as [`all_of`] does; keep
    /// the details of those that are not a plain yes.
    fn of(parts: Vec<(Option<bool>, String)>) -> Assessment {
        let has = all_of(parts.iter().map(|(v, _)| *v));
        let detail = parts
            .into_iter()
            .filter(|(v, _)| *v != Some(true))
            .map(|(_, d)| d)
            .collect();
        Assessment { has, detail }
    }
}

/// What senders get from a group of hosts, property by property.
type Strength = BTreeMap<Property, Assessment>;

/// The MTA-STS policy as far as parity is concerned.
enum Sts<'a> {
    /// No policy in force, or `mode: none`: coverage protects nothing.
    Irrelevant,
    /// A policy in `enforce` or `testing`.
    Active(&'a PolicyState<'a>, Mode),
    /// Could not tell (why).
    Unknown(String),
}

fn sts<'a>(policy: &'a PolicyState<'a>) -> Sts<'a> {
    match policy {
        PolicyState::Active { .. } => match policy.mode() {
            Some(mode @ (Mode::Enforce | Mode::Testing)) => Sts::Active(policy, mode),
            _ => Sts::Irrelevant,
        },
        PolicyState::Unknown(why) => Sts::Unknown(why.clone()),
        _ => Sts::Irrelevant,
    }
}

/// Assess `props` for `hosts` taken together: a group has a property when
/// every address (or host) of it has.
fn assess(facts: &Facts<'_, '_>, view: &DnsView<'_>, hosts: &[&MxHost], props: &[Property], sts: &Sts<'_>) -> Strength {
    let probed: Vec<(&MxHost, Vec<AddressTls<'_>>)> = if props.iter().any(|p| p.probed()) {
        hosts.iter().map(|h| (*h, facts.probe_host(view, h))).collect()
    } else {
        hosts.iter().map(|h| (*h, Vec::new())).collect()
    };
    let addresses = || probed.iter().flat_map(|(h, a)| a.iter().map(move |a| (*h, a)));
    let mut out = Strength::new();
    for &prop in props {
        let parts: Vec<(Option<bool>, String)> = match prop {
            Property::Starttls => addresses()
                .map(|(_, a)| (a.starttls(), format!("{}: {}", a.subject(), a.probe.describe())))
                .chain(unaddressed(&probed))
                .collect(),
            Property::Certificate => addresses()
                .map(|(_, a)| (a.pkix_valid(), format!("{}: {}", a.subject(), certificate_problem(a))))
                .chain(unaddressed(&probed))
                .collect(),
            Property::Dane => probed
                .iter()
                .map(|(h, a)| {
                    let d = facts.host_dane(view, h, a);
                    (d.authenticated, d.detail)
                })
                .collect(),
            Property::MtaSts => hosts.iter().map(|h| coverage(h, sts)).collect(),
        };
        out.insert(prop, Assessment::of(parts));
    }
    out
}

/// Hosts whose addresses could not be looked up: unknown.
fn unaddressed<'h>(probed: &'h [(&MxHost, Vec<AddressTls<'_>>)]) -> impl Iterator<Item = (Option<bool>, String)> + 'h {
    probed.iter().filter_map(|(h, _)| {
        h.addresses
            .as_ref()
            .err()
            .map(|why| (None, format!("{}: could not look up its addresses ({why})", h.name)))
    })
}

/// Why an address's certificate is not valid for its name.
fn certificate_problem(a: &AddressTls<'_>) -> String {
    match (a.starttls(), &a.chain) {
        (None, _) => format!("not probed ({})", a.probe.describe()),
        (Some(false), _) => format!("no TLS ({})", a.probe.describe()),
        (Some(true), None) => "no certificate presented".into(),
        (Some(true), Some(report)) => match (&report.pkix, &report.leaf) {
            (Pkix::Untrusted { reason }, _) => format!("untrusted chain ({reason})"),
            (_, Some(leaf)) if !leaf.valid_for_host() => {
                format!("the certificate is for {}, not {}", leaf.names.join(", "), a.host)
            }
            (_, None) => "the leaf certificate does not parse".into(),
            _ => "valid".into(),
        },
    }
}

/// Whether the policy covers `host` (RFC 8461 §4.1 matching).
fn coverage(host: &MxHost, sts: &Sts<'_>) -> (Option<bool>, String) {
    match sts {
        Sts::Active(policy, mode) => match policy.covers(&host.name) {
            Some(true) => (Some(true), format!("{} matches an mx pattern", host.name)),
            other => (
                other,
                format!("{} matches no mx pattern of the {} policy", host.name, mode.as_str()),
            ),
        },
        Sts::Unknown(why) => (None, format!("the MTA-STS policy is unknown: {why}")),
        Sts::Irrelevant => (Some(false), "no MTA-STS policy in force".into()),
    }
}

/// RFC 5321 §5.1: the hosts of the lowest preference are the primaries,
/// every other host a backup. A backup must have every property the
/// primaries all have: STARTTLS (RFC 3207), a certificate valid for its
/// name, DANE (RFC 7672), coverage by an `enforce` or `testing` MTA-STS
/// policy (RFC 8461 §4.1, paraphrased: a sender with a policy checks that
/// the MX host matches one of its `mx` patterns).
fn parity(facts: &Facts<'_, '_>, domain: &str, view: &DnsView<'_>, exchanges: &[(u16, String)]) -> Vec<RawFinding> {
    let levels: BTreeSet<u16> = exchanges.iter().map(|(p, _)| *p).collect();
    if levels.len() < 2 {
        return vec![RawFinding::new(
            PARITY,
            Outcome::NotApplicable,
            domain,
            format!(
                "Every MX host has the same preference ({}): there is no backup MX. Senders spread mail across hosts of equal preference (RFC 5321 §5.1), and the smtp and dane rules judge each.",
                exchanges[0].0
            ),
        )
        .evidence("mx", exchanges.iter().map(|(p, h)| format!("{p} {h}")).collect::<Vec<_>>())];
    }
    let hosts = match facts.mx_hosts(view) {
        Ok(hosts) => hosts,
        Err(why) => {
            return vec![
                RawFinding::new(
                    PARITY,
                    Outcome::Indeterminate,
                    domain,
                    format!("Could not look up the MX hosts: {why}."),
                )
                .evidence("failed_lookups", [&why]),
            ];
        }
    };
    let top = hosts[0].preference;
    // A primary without any address receives no mail: it sets no standard.
    let primaries: Vec<&MxHost> = hosts
        .iter()
        .filter(|h| h.preference == top && !unaddressable(h))
        .collect();
    if primaries.is_empty() {
        return vec![RawFinding::new(
            PARITY,
            Outcome::NotApplicable,
            domain,
            format!(
                "No MX host of preference {top} has an address (see mx.target-unresolvable), so there is no primary to compare the backups with."
            ),
        )];
    }
    let sts = sts(facts.policy_state(view));
    let primary = assess(facts, view, &primaries, &Property::ALL, &sts);
    let names: Vec<&str> = primaries.iter().map(|h| h.name.as_str()).collect();
    hosts
        .iter()
        .filter(|h| h.preference != top)
        .map(|backup| judge_backup(facts, view, &names, &primary, backup, &sts))
        .collect()
}

/// The properties a backup is compared in: what the primaries lack, a
/// backup cannot be weaker in, so it is not asked.
fn compared(primary: &Strength) -> Vec<Property> {
    Property::ALL
        .into_iter()
        .filter(|p| primary[p].has != Some(false))
        .collect()
}

fn judge_backup(
    facts: &Facts<'_, '_>,
    view: &DnsView<'_>,
    primaries: &[&str],
    primary: &Strength,
    backup: &MxHost,
    sts: &Sts<'_>,
) -> RawFinding {
    let subject = backup.name.as_str();
    if unaddressable(backup) {
        return RawFinding::new(
            PARITY,
            Outcome::NotApplicable,
            subject,
            format!("{subject} has no address, so senders cannot use it (see mx.target-unresolvable)."),
        );
    }
    let compared = compared(primary);
    let strength = assess(facts, view, &[backup], &compared, sts);
    let mut lacks = BTreeMap::new();
    let mut unknown = BTreeMap::new();
    for prop in &compared {
        let (p, b) = (&primary[prop], &strength[prop]);
        match (p.has, b.has) {
            (Some(true), Some(false)) => {
                lacks.insert(prop.key(), b.detail.join("; "));
            }
            (Some(true), None) => {
                unknown.insert(prop.key(), format!("backup: {}", b.detail.join("; ")));
            }
            (None, Some(false) | None) => {
                unknown.insert(prop.key(), format!("primary: {}", p.detail.join("; ")));
            }
            _ => {}
        }
    }
    let primary_has: Vec<&str> = Property::ALL
        .into_iter()
        .filter(|p| primary[p].has == Some(true))
        .map(Property::name)
        .collect();
    let finding = |outcome, message: String| {
        RawFinding::new(PARITY, outcome, subject, message)
            .evidence("preference", backup.preference)
            .evidence("primary", primaries)
            .evidence("primary_has", &primary_has)
    };
    if !lacks.is_empty() {
        let missing: Vec<&str> = Property::ALL
            .into_iter()
            .filter(|p| lacks.contains_key(p.key()))
            .map(Property::name)
            .collect();
        let mut f = finding(
            Outcome::Fail,
            format!(
                "Backup MX {subject} (preference {}) is weaker than the primary ({}): it lacks {}. Attackers and outages push mail to the weakest MX, so the primary's protection is only as good as this host's.",
                backup.preference,
                primaries.join(", "),
                missing.join("; ")
            ),
        )
        .evidence("backup_lacks", &lacks)
        .remediation(remediation(subject, &lacks));
        if !unknown.is_empty() {
            f = f.evidence("not_compared", &unknown);
        }
        return f;
    }
    if !unknown.is_empty() {
        return finding(
            Outcome::Indeterminate,
            format!(
                "Backup MX {subject} could not be compared with the primary ({}) on: {}.",
                primaries.join(", "),
                unknown.keys().copied().collect::<Vec<_>>().join(", ")
            ),
        )
        .evidence("not_compared", &unknown);
    }
    finding(
        Outcome::Pass,
        if primary_has.is_empty() {
            format!(
                "Backup MX {subject} is as strong as the primary ({}), which has none of STARTTLS, a valid certificate, DANE or MTA-STS coverage to lose (the smtp, dane and mta-sts rules report those).",
                primaries.join(", ")
            )
        } else {
            format!(
                "Backup MX {subject} has everything the primary ({}) has: {}.",
                primaries.join(", "),
                primary_has.join(", ")
            )
        },
    )
}

/// One step per missing property.
fn remediation(host: &str, lacks: &BTreeMap<&str, String>) -> String {
    let mut steps = Vec::new();
    for prop in Property::ALL {
        if !lacks.contains_key(prop.key()) {
            continue;
        }
        steps.push(match prop {
            Property::Starttls => format!("offer STARTTLS on every address of {host}"),
            Property::Certificate => {
                format!("install on {host} a certificate for its name from a CA senders trust, with the full chain")
            }
            Property::Dane => format!(
                "publish TLSA records for {host}'s key at _25._tcp.{host} in a DNSSEC-signed zone (`mailwarden generate tlsa`)"
            ),
            Property::MtaSts => format!("add `mx: {host}` to the MTA-STS policy and change the id in its TXT record"),
        });
    }
    format!(
        "Give the backup what the primary has: {}. Or remove the backup MX: senders queue mail and retry for days while the primary is down.",
        steps.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use mailwarden_model::{
        Outcome::*, Proof, RType, RawFinding, ScanOptions, SmtpProbe, SmtpStatus, SourceInfo, Status,
    };

    use super::*;
    use crate::dane;
    use crate::facts::sts as mta_sts;
    use crate::testutil::{Dns, fetched, find, outcome, tls_probe};
    use crate::tls::cert::Roots;
    use crate::tls::testcerts::{Ca, NOW, sha256_hex};

    const D: &str = "example.com";
    const MX1: &str = "mx1.example.com";
    const MX2: &str = "mx2.example.com";
    const IP1: &str = "192.0.2.1";
    const IP2: &str = "192.0.2.2";
    const STS: &str = "_mta-sts.example.com";

    struct Setup {
        ca: Ca,
        roots: Roots,
    }

    fn setup() -> Setup {
        let ca = Ca::new("Failover CA");
        let roots = Roots::from_der(std::slice::from_ref(&ca.der)).unwrap();
        Setup { ca, roots }
    }

    impl Setup {
        fn run(&self, dns: &Dns) -> Vec<RawFinding> {
            let options = ScanOptions::default();
            let source = SourceInfo {
                dnssec_validation: true,
                ..SourceInfo::default()
            };
            let ctx = Context {
                roots: &self.roots,
                domain: D,
                options: &options,
                source: &source,
                now: NOW,
            };
            dns.judge(|v| judge(&ctx, v))
        }

        /// A chain for `host` from the test CA, and its leaf's SPKI hash.
        fn chain(&self, host: &str) -> (Vec<Vec<u8>>, String) {
            let leaf = self.ca.valid_leaf(&[host]);
            (vec![leaf.der, self.ca.der.clone()], sha256_hex(&leaf.spki))
        }
    }

    /// MX 10 mx1, 20 mx2, one IPv4 address each, no MTA-STS record.
    fn two_levels() -> Dns {
        Dns::new()
            .mx(D, &[(10, MX1), (20, MX2)])
            .a(MX1, &[IP1])
            .aaaa(MX1, &[])
            .a(MX2, &[IP2])
            .aaaa(MX2, &[])
            .status(STS, RType::Txt, Status::NxDomain)
    }

    fn tlsa(dns: Dns, host: &str, spki: &str) -> Dns {
        dns.rec(
            &dane::tlsa_name(host),
            RType::Tlsa,
            vec![mailwarden_model::rdata::from_text(52, &format!("3 1 1 {spki}")).expect("TLSA")],
            Proof::Secure,
        )
    }

    fn no_tlsa(dns: Dns, host: &str) -> Dns {
        dns.status(&dane::tlsa_name(host), RType::Tlsa, Status::NxDomain)
    }

    #[test]
    fn an_equally_strong_backup_passes() {
        let s = setup();
        let dns = two_levels().smtp(MX1, IP1, tls_probe(&s.chain(MX1).0, "TLSv1.3")).smtp(
            MX2,
            IP2,
            tls_probe(&s.chain(MX2).0, "TLSv1.2"),
        );
        let dns = no_tlsa(no_tlsa(dns, MX1), MX2);
        let f = s.run(&dns);
        let p = find(&f, PARITY, MX2);
        assert_eq!(p.outcome, Pass, "{p:#?}");
        assert!(p.message.contains("STARTTLS"), "{}", p.message);
        assert_eq!(p.evidence["primary"][0], MX1);
        // Own hosts: not a single third-party provider.
        assert_eq!(outcome(&f, PROVIDER, D), Pass);
    }

    #[test]
    fn a_backup_without_starttls_is_weaker() {
        let s = setup();
        let dns = two_levels().smtp(MX1, IP1, tls_probe(&s.chain(MX1).0, "TLSv1.3")).smtp(
            MX2,
            IP2,
            SmtpProbe::status(SmtpStatus::NoStarttls, None),
        );
        let dns = no_tlsa(dns, MX1);
        let f = s.run(&dns);
        let p = find(&f, PARITY, MX2);
        assert_eq!(p.outcome, Fail, "{p:#?}");
        assert!(p.message.contains("weakest MX"), "{}", p.message);
        let lacks = p.evidence["backup_lacks"].as_object().unwrap();
        assert!(lacks["starttls"].as_str().unwrap().contains("no-starttls"), "{lacks:?}");
        assert!(lacks.contains_key("certificate"), "{lacks:?}");
        assert!(
            p.remediation
                .as_deref()
                .unwrap()
                .contains("offer STARTTLS on every address of mx2.example.com")
        );
        // The backup's TLSA was not asked: the primary has no DANE.
    }

    #[test]
    fn a_backup_with_a_certificate_for_another_name_is_weaker() {
        let s = setup();
        let dns = two_levels().smtp(MX1, IP1, tls_probe(&s.chain(MX1).0, "TLSv1.3")).smtp(
            MX2,
            IP2,
            tls_probe(&s.chain("other.example.net").0, "TLSv1.3"),
        );
        let dns = no_tlsa(dns, MX1);
        let f = s.run(&dns);
        let p = find(&f, PARITY, MX2);
        assert_eq!(p.outcome, Fail);
        let lacks = p.evidence["backup_lacks"].as_object().unwrap();
        assert_eq!(lacks.keys().collect::<Vec<_>>(), ["certificate"]);
        assert!(lacks["certificate"].as_str().unwrap().contains("other.example.net"));
    }

    #[test]
    fn a_backup_without_dane_is_weaker_than_a_dane_primary() {
        let s = setup();
        let (chain1, spki1) = s.chain(MX1);
        let dns = two_levels().smtp(MX1, IP1, tls_probe(&chain1, "TLSv1.3")).smtp(
            MX2,
            IP2,
            tls_probe(&s.chain(MX2).0, "TLSv1.3"),
        );
        let f = s.run(&no_tlsa(tlsa(dns, MX1, &spki1), MX2));
        let p = find(&f, PARITY, MX2);
        assert_eq!(p.outcome, Fail, "{p:#?}");
        let lacks = p.evidence["backup_lacks"].as_object().unwrap();
        assert_eq!(lacks.keys().collect::<Vec<_>>(), ["dane"]);
        assert!(p.evidence["primary_has"].to_string().contains("DANE"));

        // With a matching record of its own, the backup is as strong.
        let (chain2, spki2) = s.chain(MX2);
        let dns =
            two_levels()
                .smtp(MX1, IP1, tls_probe(&chain1, "TLSv1.3"))
                .smtp(MX2, IP2, tls_probe(&chain2, "TLSv1.3"));
        let f = s.run(&tlsa(tlsa(dns, MX1, &spki1), MX2, &spki2));
        assert_eq!(outcome(&f, PARITY, MX2), Pass);

        // A record that does not match the backup's key is no DANE either.
        let dns =
            two_levels()
                .smtp(MX1, IP1, tls_probe(&chain1, "TLSv1.3"))
                .smtp(MX2, IP2, tls_probe(&chain2, "TLSv1.3"));
        let f = s.run(&tlsa(tlsa(dns, MX1, &spki1), MX2, &spki1));
        assert_eq!(outcome(&f, PARITY, MX2), Fail);
    }

    #[test]
    fn a_backup_outside_the_mta_sts_policy_is_weaker() {
        let s = setup();
        let policy = |mx: &str| format!("version: STSv1\nmode: enforce\n{mx}max_age: 604800\n");
        let with_policy = |body: String| {
            two_levels()
                .txt(STS, &["v=STSv1; id=20240101"])
                .a("mta-sts.example.com", &["192.0.2.80"])
                .aaaa("mta-sts.example.com", &[])
                .https(&mta_sts::policy_url(D), fetched(&body))
                .smtp(MX1, IP1, tls_probe(&s.chain(MX1).0, "TLSv1.3"))
                .smtp(MX2, IP2, tls_probe(&s.chain(MX2).0, "TLSv1.3"))
        };
        let dns = no_tlsa(with_policy(policy("mx: mx1.example.com\n")), MX1);
        let f = s.run(&dns);
        let p = find(&f, PARITY, MX2);
        assert_eq!(p.outcome, Fail, "{p:#?}");
        let lacks = p.evidence["backup_lacks"].as_object().unwrap();
        assert_eq!(lacks.keys().collect::<Vec<_>>(), ["mta-sts"]);
        assert!(p.remediation.as_deref().unwrap().contains("mx: mx2.example.com"));
        // A wildcard covering both: as strong.
        let dns = no_tlsa(with_policy(policy("mx: *.example.com\n")), MX1);
        assert_eq!(outcome(&s.run(&dns), PARITY, MX2), Pass);
    }

    #[test]
    fn a_primary_lacking_everything_sets_no_standard_and_backups_are_not_probed() {
        let s = setup();
        // No probe of mx2 is given: asking for one would panic.
        let dns = two_levels().smtp(MX1, IP1, SmtpProbe::status(SmtpStatus::NoStarttls, None));
        let dns = no_tlsa(dns, MX1);
        let f = s.run(&dns);
        let p = find(&f, PARITY, MX2);
        assert_eq!(p.outcome, Pass, "{p:#?}");
        assert!(p.message.contains("none of"), "{}", p.message);
    }

    #[test]
    fn unprobed_addresses_make_parity_indeterminate() {
        let s = setup();
        let dns = two_levels().smtp(MX1, IP1, tls_probe(&s.chain(MX1).0, "TLSv1.3")).smtp(
            MX2,
            IP2,
            SmtpProbe::status(SmtpStatus::NotProbed, None),
        );
        let dns = no_tlsa(dns, MX1);
        let f = s.run(&dns);
        let p = find(&f, PARITY, MX2);
        assert_eq!(p.outcome, Indeterminate, "{p:#?}");
        assert!(p.evidence["not_compared"].as_object().unwrap().contains_key("starttls"));
        // A fact of weakness wins over what could not be looked at.
        let dns = two_levels().smtp(MX1, IP1, tls_probe(&s.chain(MX1).0, "TLSv1.3")).smtp(
            MX2,
            IP2,
            SmtpProbe::status(SmtpStatus::NoStarttls, None),
        );
        let dns = no_tlsa(dns, MX1).status(STS, RType::Txt, Status::Timeout);
        let p = find(&s.run(&dns), PARITY, MX2).clone();
        assert_eq!(p.outcome, Fail);
        assert!(p.evidence["not_compared"].as_object().unwrap().contains_key("mta-sts"));
    }

    #[test]
    fn one_preference_level_is_not_applicable() {
        let s = setup();
        let f = s.run(&Dns::new().mx(D, &[(10, MX1), (10, MX2)]));
        let p = find(&f, PARITY, D);
        assert_eq!(p.outcome, NotApplicable);
        assert!(p.message.contains("no backup MX"), "{}", p.message);
        assert_eq!(outcome(&f, PROVIDER, D), Pass);
    }

    #[test]
    fn all_mx_at_one_provider_is_reported() {
        let s = setup();
        let f = s.run(&Dns::new().mx(D, &[(10, "mx1.provider.net"), (10, "mx2.provider.net")]));
        let p = find(&f, PROVIDER, D);
        assert_eq!(p.outcome, Fail);
        assert!(p.message.contains("provider.net"), "{}", p.message);
        assert_eq!(p.evidence["providers"]["mx2.provider.net"], "provider.net");
        // Two providers.
        let f = s.run(&Dns::new().mx(D, &[(10, "mx1.provider.net"), (10, "mx.other.org")]));
        assert_eq!(outcome(&f, PROVIDER, D), Pass);
        // Public-suffix-aware: two co.uk registrations are two providers.
        let f = s.run(&Dns::new().mx(D, &[(10, "mx.a.co.uk"), (10, "mx.b.co.uk")]));
        assert_eq!(outcome(&f, PROVIDER, D), Pass);
        // One host: mx.redundancy's business.
        let f = s.run(&Dns::new().mx(D, &[(10, "mx1.provider.net")]));
        assert_eq!(outcome(&f, PROVIDER, D), NotApplicable);
        assert_eq!(outcome(&f, PARITY, D), NotApplicable);
    }

    #[test]
    fn failed_or_empty_mx_lookups() {
        let s = setup();
        let f = s.run(&Dns::new().status(D, RType::Mx, Status::ServFail));
        assert_eq!(outcome(&f, PARITY, D), Indeterminate);
        assert_eq!(outcome(&f, PROVIDER, D), Indeterminate);
        let f = s.run(&Dns::new().mx(D, &[(0, ".")]));
        assert_eq!(outcome(&f, PARITY, D), NotApplicable);
        assert_eq!(outcome(&f, PROVIDER, D), NotApplicable);
    }

    #[test]
    fn a_backup_without_address_is_not_applicable() {
        let s = setup();
        let dns = Dns::new()
            .mx(D, &[(10, MX1), (20, MX2)])
            .a(MX1, &[IP1])
            .aaaa(MX1, &[])
            .a(MX2, &[])
            .aaaa(MX2, &[])
            .status(STS, RType::Txt, Status::NxDomain)
            .smtp(MX1, IP1, tls_probe(&s.chain(MX1).0, "TLSv1.3"));
        let f = s.run(&no_tlsa(dns, MX1));
        assert_eq!(outcome(&f, PARITY, MX2), NotApplicable);
    }
}

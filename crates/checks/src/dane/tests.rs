//! Hand-built transcripts and probes for every DANE rule, passing and failing.

use mailwarden_model::{
    Answer, Outcome::*, Proof, QueryKey, RType, RawFinding, ScanOptions, Severity, SmtpProbe, SmtpStatus, SourceInfo,
    Status,
};

use super::*;
use crate::testutil::{Dns, find, outcome, tls_probe};
use crate::tls::testcerts::{Ca, NOW, sha256_hex};

const D: &str = "example.com";
const MX: &str = "mx.example.com";
const T: &str = "_25._tcp.mx.example.com";
const H: &str = "8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1";
const H2: &str = "0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6";
const IP: &str = "192.0.2.25";
const IP6: &str = "2001:db8::25";

/// `f` in the context these tests judge in (DNSSEC validated or not).
fn in_context<T>(validated: bool, f: impl FnOnce(&Context<'_>) -> T) -> T {
    let options = ScanOptions::default();
    let source = SourceInfo {
        dnssec_validation: validated,
        ..SourceInfo::default()
    };
    let ctx = Context {
        roots: &crate::tls::cert::Roots::WebPki,
        domain: D,
        options: &options,
        source: &source,
        now: NOW,
    };
    f(&ctx)
}

fn run_with(dns: &Dns, validated: bool) -> Vec<RawFinding> {
    in_context(validated, |ctx| dns.judge(|v| judge(ctx, v)))
}

/// The MX's address (and no IPv6), with this probe result.
fn probed(dns: Dns, probe: SmtpProbe) -> Dns {
    dns.a(MX, &[IP]).aaaa(MX, &[]).smtp(MX, IP, probe)
}

/// The MX's address, which was not probed (`--no-smtp`).
fn unprobed(dns: Dns) -> Dns {
    probed(dns, SmtpProbe::status(SmtpStatus::NotProbed, None))
}

fn run(dns: &Dns) -> Vec<RawFinding> {
    run_with(dns, true)
}

fn tlsa(records: &[String], proof: Proof) -> Dns {
    let rdata = records
        .iter()
        .map(|t| mailwarden_model::rdata::from_text(52, t).expect("TLSA"))
        .collect();
    Dns::new().mx(D, &[(10, MX)]).rec(T, RType::Tlsa, rdata, proof)
}

fn negative(status: Status, proof: Proof) -> Dns {
    let mut dns = Dns::new().mx(D, &[(10, MX)]);
    dns.0
        .insert(QueryKey::new(T, RType::Tlsa), Answer::empty(status, proof));
    dns
}

#[test]
fn secure_rollover_ready_records_pass_and_unprobed_matching_is_indeterminate() {
    let f = run(&unprobed(tlsa(
        &[format!("3 1 1 {H}"), format!("3 1 1 {H2}")],
        Proof::Secure,
    )));
    for id in [
        "dane.tlsa-present",
        "dane.insecure",
        "dane.bogus",
        "dane.syntax",
        "dane.usage",
        "dane.full-certificate",
        "dane.rollover",
    ] {
        assert_eq!(outcome(&f, id, MX), Pass, "{id}: {f:#?}");
    }
    let m = find(&f, "dane.match", MX);
    assert_eq!(m.outcome, Indeterminate);
    assert!(m.message.contains("not probed"), "{}", m.message);
    assert!(m.evidence["addresses"][IP].as_str().unwrap().contains("not-probed"));
    // 3 x x plus 2 x x is rollover-ready too.
    let f = run(&unprobed(tlsa(
        &[format!("3 1 1 {H}"), format!("2 1 1 {H2}")],
        Proof::Secure,
    )));
    assert_eq!(outcome(&f, "dane.rollover", MX), Pass);
}

#[test]
fn a_single_record_is_not_rollover_ready() {
    let f = run(&unprobed(tlsa(&[format!("3 1 1 {H}")], Proof::Secure)));
    let r = find(&f, "dane.rollover", MX);
    assert_eq!(r.outcome, Fail);
    assert!(r.remediation.as_deref().unwrap().contains("second record"));
}

#[test]
fn insecure_records_are_not_in_effect() {
    let f = run(&tlsa(&[format!("3 1 1 {H}")], Proof::Insecure));
    let i = find(&f, "dane.insecure", MX);
    assert_eq!(i.outcome, Fail);
    assert!(i.message.contains("not in effect"));
    assert!(i.remediation.as_deref().unwrap().contains("Sign the zone"));
    assert_eq!(outcome(&f, "dane.match", MX), NotApplicable);
    assert_eq!(outcome(&f, "dane.tlsa-present", MX), Pass);
}

#[test]
fn an_unsigned_mx_zone_cannot_use_dane() {
    let f = run(&negative(Status::NxDomain, Proof::Insecure));
    let p = find(&f, "dane.tlsa-present", MX);
    assert_eq!((p.outcome, p.severity), (Fail, Some(mailwarden_model::Severity::Info)));
    assert!(p.remediation.as_deref().unwrap().contains("Sign the zone"));
    let i = find(&f, "dane.insecure", MX);
    assert_eq!(i.outcome, Fail);
    assert!(i.message.contains("cannot use DANE"));
    for id in ["dane.syntax", "dane.usage", "dane.rollover", "dane.match"] {
        assert_eq!(outcome(&f, id, MX), NotApplicable, "{id}");
    }
    // Signed, but no records: a plain miss.
    let f = run(&negative(Status::NoData, Proof::Secure));
    let p = find(&f, "dane.tlsa-present", MX);
    assert_eq!(p.outcome, Fail);
    assert!(p.remediation.as_deref().unwrap().contains("generate tlsa"));
    assert_eq!(outcome(&f, "dane.insecure", MX), Pass);
}

#[test]
fn bogus_tlsa_is_critical() {
    for dns in [
        negative(Status::Bogus("RRSIG expired".into()), Proof::Bogus),
        tlsa(&[format!("3 1 1 {H}")], Proof::Bogus),
    ] {
        let f = run(&dns);
        let b = find(&f, "dane.bogus", MX);
        assert_eq!(
            (b.outcome, b.severity),
            (Fail, Some(mailwarden_model::Severity::Critical))
        );
        assert!(b.message.contains("defer"));
        assert_eq!(outcome(&f, "dane.match", MX), Indeterminate);
        assert_eq!(outcome(&f, "dane.tlsa-present", MX), Indeterminate);
    }
}

#[test]
fn pkix_usages_are_flagged() {
    for usage in [0, 1] {
        let f = run(&tlsa(&[format!("{usage} 0 1 {H}")], Proof::Secure));
        let u = find(&f, "dane.usage", MX);
        assert_eq!(u.outcome, Fail, "{usage}");
        assert!(u.message.contains("RFC 7672"));
        assert!(u.remediation.as_deref().unwrap().contains("3 1 1"));
        // Nothing usable: rollover and matching do not apply.
        assert_eq!(outcome(&f, "dane.match", MX), NotApplicable);
    }
}

#[test]
fn malformed_and_full_certificate_records() {
    let f = run(&tlsa(&["3 1 1 abcd".into(), "3 1 x 00".into()], Proof::Secure));
    let s = find(&f, "dane.syntax", MX);
    assert_eq!(s.outcome, Fail);
    assert_eq!(s.evidence["problems"].as_array().unwrap().len(), 2);
    let f = run(&unprobed(tlsa(
        &[format!("3 1 0 3059{H}"), format!("3 1 1 {H}")],
        Proof::Secure,
    )));
    assert_eq!(outcome(&f, "dane.full-certificate", MX), Fail);
    assert_eq!(outcome(&f, "dane.syntax", MX), Pass);
}

#[test]
fn failed_lookups_are_indeterminate() {
    let f = run(&negative(Status::Timeout, Proof::Indeterminate));
    for id in RULES {
        assert_eq!(outcome(&f, id, MX), Indeterminate, "{id}");
    }
    let f = run(&Dns::new().status(D, RType::Mx, Status::ServFail));
    assert_eq!(outcome(&f, "dane.tlsa-present", D), Indeterminate);
    assert_eq!(f.len(), 1);
}

#[test]
fn no_mx_or_null_mx_is_not_applicable() {
    let f = run(&Dns::new().mx(D, &[(0, ".")]));
    assert_eq!(outcome(&f, "dane.tlsa-present", D), NotApplicable);
    let f = run(&Dns::new().status(D, RType::Mx, Status::NoData));
    assert_eq!(outcome(&f, "dane.tlsa-present", D), NotApplicable);
}

#[test]
fn without_validation_proof_rules_are_not_applicable_but_data_rules_run() {
    let f = run_with(&tlsa(&[format!("1 1 1 {H}")], Proof::NotValidated), false);
    assert_eq!(outcome(&f, "dane.insecure", MX), NotApplicable);
    assert_eq!(outcome(&f, "dane.bogus", MX), NotApplicable);
    assert_eq!(outcome(&f, "dane.usage", MX), Fail);
    let f = run_with(&tlsa(&[format!("3 1 1 {H}")], Proof::NotValidated), false);
    assert_eq!(outcome(&f, "dane.match", MX), Indeterminate);
    assert_eq!(outcome(&f, "dane.rollover", MX), Fail);
}

/// A chain for MX from a fresh CA: (chain, SPKI SHA-256 of the leaf, CA).
fn chain_for(name: &str) -> (Vec<Vec<u8>>, String, Ca) {
    let ca = Ca::new("DANE test CA");
    let leaf = ca.valid_leaf(&[name]);
    (vec![leaf.der, ca.der.clone()], sha256_hex(&leaf.spki), ca)
}

#[test]
fn a_dane_ee_record_matching_every_address_passes() {
    let (chain, spki, _) = chain_for(MX);
    let dns = tlsa(&[format!("3 1 1 {spki}"), format!("3 1 1 {H2}")], Proof::Secure)
        .a(MX, &[IP])
        .aaaa(MX, &[IP6])
        .smtp(MX, IP, tls_probe(&chain, "TLSv1.3"))
        .smtp(MX, IP6, tls_probe(&chain, "TLSv1.2"));
    let f = run(&dns);
    let m = find(&f, "dane.match", MX);
    assert_eq!(m.outcome, Pass, "{m:#?}");
    let by_address = m.evidence["addresses"].as_object().unwrap();
    assert_eq!(by_address.len(), 2);
    assert!(by_address[IP6].as_str().unwrap().contains("matches certificate 0"));
}

#[test]
fn a_chain_no_usable_record_matches_is_critical() {
    let (chain, spki, _) = chain_for(MX);
    let (other_chain, other_spki, _) = chain_for(MX);
    // One address presents the published key, the other a new one.
    let dns = tlsa(&[format!("3 1 1 {spki}")], Proof::Secure)
        .a(MX, &[IP])
        .aaaa(MX, &[IP6])
        .smtp(MX, IP, tls_probe(&chain, "TLSv1.3"))
        .smtp(MX, IP6, tls_probe(&other_chain, "TLSv1.3"));
    let f = run(&dns);
    let m = find(&f, "dane.match", MX);
    assert_eq!((m.outcome, m.severity), (Fail, Some(Severity::Critical)), "{m:#?}");
    assert!(m.message.contains("1 of 2 address(es)"), "{}", m.message);
    assert!(m.message.contains("defer all mail"), "{}", m.message);
    assert!(
        m.evidence["addresses"][IP]
            .as_str()
            .unwrap()
            .contains("matches certificate 0")
    );
    assert!(
        m.evidence["addresses"][IP6]
            .as_str()
            .unwrap()
            .contains("no usable TLSA record matches")
    );
    let fix = m.remediation.as_deref().unwrap();
    assert!(fix.contains(&format!("IN TLSA 3 1 1 {other_spki}")), "{fix}");
}

#[test]
fn dane_ta_needs_the_chain_to_verify_for_the_mx_name() {
    let (chain, _, ca) = chain_for(MX);
    let record = format!("2 0 1 {}", sha256_hex(&ca.der));
    let f = run(&probed(
        tlsa(std::slice::from_ref(&record), Proof::Secure),
        tls_probe(&chain, "TLSv1.3"),
    ));
    assert_eq!(outcome(&f, "dane.match", MX), Pass);
    // The same CA, but a leaf for another name.
    let leaf = ca.valid_leaf(&["other.example.net"]);
    let chain = vec![leaf.der, ca.der.clone()];
    let f = run(&probed(tlsa(&[record], Proof::Secure), tls_probe(&chain, "TLSv1.3")));
    let m = find(&f, "dane.match", MX);
    assert_eq!(m.outcome, Fail);
    assert!(m.message.contains("not valid for mx.example.com"), "{}", m.message);
}

#[test]
fn tlsa_without_tls_is_critical() {
    let (_, spki, _) = chain_for(MX);
    for status in [
        SmtpStatus::NoStarttls,
        SmtpStatus::StarttlsRefused,
        SmtpStatus::HandshakeFailed,
    ] {
        let probe = SmtpProbe::status(status, Some("as the test says".into()));
        let f = run(&probed(tlsa(&[format!("3 1 1 {spki}")], Proof::Secure), probe));
        let m = find(&f, "dane.match", MX);
        assert_eq!((m.outcome, m.severity), (Fail, Some(Severity::Critical)), "{status:?}");
        assert!(m.message.contains("no TLS"), "{}", m.message);
        assert!(
            m.remediation
                .as_deref()
                .unwrap()
                .starts_with("Offer STARTTLS on every address")
        );
    }
}

#[test]
fn addresses_that_could_not_be_probed_are_indeterminate_unless_another_fails() {
    let (chain, spki, _) = chain_for(MX);
    let record = [format!("3 1 1 {spki}")];
    for status in [
        SmtpStatus::EgressRefused,
        SmtpStatus::NotCollected,
        SmtpStatus::Unreachable,
    ] {
        let f = run(&probed(tlsa(&record, Proof::Secure), SmtpProbe::status(status, None)));
        assert_eq!(outcome(&f, "dane.match", MX), Indeterminate, "{status:?}");
    }
    // Matched at one address, not probed at the other: still unknown.
    let dns = tlsa(&record, Proof::Secure)
        .a(MX, &[IP])
        .aaaa(MX, &[IP6])
        .smtp(MX, IP, tls_probe(&chain, "TLSv1.3"))
        .smtp(MX, IP6, SmtpProbe::status(SmtpStatus::NoRoute, None));
    assert_eq!(outcome(&run(&dns), "dane.match", MX), Indeterminate);
    // Failed at one, not probed at the other: a fact of failure.
    let dns = tlsa(&record, Proof::Secure)
        .a(MX, &[IP])
        .aaaa(MX, &[IP6])
        .smtp(MX, IP, SmtpProbe::status(SmtpStatus::NoStarttls, None))
        .smtp(MX, IP6, SmtpProbe::status(SmtpStatus::NoRoute, None));
    assert_eq!(outcome(&run(&dns), "dane.match", MX), Fail);
    // A failed address lookup.
    let dns = tlsa(&record, Proof::Secure)
        .status(MX, RType::A, Status::Timeout)
        .status(MX, RType::Aaaa, Status::Timeout);
    let m = run(&dns);
    let m = find(&m, "dane.match", MX);
    assert_eq!(m.outcome, Indeterminate);
    assert!(m.message.contains("could not look up the addresses"), "{}", m.message);
}

#[test]
fn a_server_speaking_only_old_tls_is_not_counted_as_a_dane_failure() {
    let (_, spki, _) = chain_for(MX);
    let mut probe = SmtpProbe::status(SmtpStatus::HandshakeFailed, Some("received fatal alert".into()));
    probe.alert = Some("ProtocolVersion".into());
    let f = run(&probed(tlsa(&[format!("3 1 1 {spki}")], Proof::Secure), probe));
    let m = find(&f, "dane.match", MX);
    assert_eq!(m.outcome, Indeterminate);
    assert!(m.evidence["addresses"][IP].as_str().unwrap().contains("below 1.2"));
}

#[test]
fn hosts_without_usable_secure_records_are_not_probed() {
    // No address or probe is given: asking for one would panic.
    let f = run(&tlsa(&[format!("3 1 1 {H}")], Proof::Insecure));
    assert_eq!(outcome(&f, "dane.match", MX), NotApplicable);
    let f = run(&tlsa(&[format!("1 1 1 {H}")], Proof::Secure));
    assert_eq!(outcome(&f, "dane.match", MX), NotApplicable);
    let f = run_with(&tlsa(&[format!("3 1 1 {H}")], Proof::NotValidated), false);
    let m = find(&f, "dane.match", MX);
    assert_eq!(m.outcome, Indeterminate);
    assert!(m.message.contains("not validated"), "{}", m.message);
    // A host without records, next to one with a matching record: only
    // the latter's address is probed.
    let (chain, spki, _) = chain_for(MX);
    let dns = Dns::new()
        .mx(D, &[(10, MX), (20, "backup.example.com")])
        .rec(
            T,
            RType::Tlsa,
            vec![mailwarden_model::rdata::from_text(52, &format!("3 1 1 {spki}")).expect("TLSA")],
            Proof::Secure,
        )
        .status("_25._tcp.backup.example.com", RType::Tlsa, Status::NxDomain)
        .a("backup.example.com", &["192.0.2.26"])
        .aaaa("backup.example.com", &[]);
    let f = run(&probed(dns, tls_probe(&chain, "TLSv1.3")));
    assert_eq!(outcome(&f, "dane.match", MX), Pass);
    assert_eq!(outcome(&f, "dane.match", "backup.example.com"), NotApplicable);
}

#[test]
fn host_dane_gives_failover_the_same_verdict() {
    let (chain, spki, _) = chain_for(MX);
    let dns = probed(
        tlsa(&[format!("3 1 1 {spki}")], Proof::Secure),
        tls_probe(&chain, "TLSv1.3"),
    );
    let verdict = |dns: &Dns| {
        in_context(true, |ctx| {
            let out = std::cell::RefCell::new(None);
            dns.judge(|v| {
                let hosts = transport::mx_hosts(ctx, D, v).unwrap();
                let chains = crate::ChainCache::default();
                let facts = crate::Facts::of_view(ctx, v, &chains);
                let addresses = facts.probe_host(v, &hosts[0]);
                *out.borrow_mut() = Some(host_dane(&facts, v, &hosts[0], &addresses));
                Vec::new()
            });
            out.into_inner().unwrap()
        })
    };
    let d = verdict(&dns);
    assert_eq!(d.authenticated, Some(true), "{d:?}");
    let dns = probed(
        tlsa(&[format!("3 1 1 {H}")], Proof::Secure),
        tls_probe(&chain, "TLSv1.3"),
    );
    assert_eq!(verdict(&dns).authenticated, Some(false));
    let dns = probed(
        tlsa(&[format!("3 1 1 {spki}")], Proof::Insecure),
        tls_probe(&chain, "TLSv1.3"),
    );
    let d = verdict(&dns);
    assert_eq!(d.authenticated, Some(false));
    assert!(d.detail.contains("not DNSSEC-secure"), "{}", d.detail);
    let dns = probed(
        tlsa(&[format!("3 1 1 {spki}")], Proof::Secure),
        SmtpProbe::status(SmtpStatus::NotProbed, None),
    );
    assert_eq!(verdict(&dns).authenticated, None);
}

/// `dane.match`, the certificate checks DANE waives in `smtp` and DANE
/// parity in `failover` each matched the TLSA records against every
/// chain again, smtp once per certificate check DANE could waive.
#[test]
fn one_dane_match_per_probe_target_whatever_judges_read_it() {
    let (chain, spki, _) = chain_for(MX);
    // A leaf for another name: smtp's hostname check asks whether DANE
    // waives it, so smtp reads the match too.
    let ca = Ca::new("DANE other CA");
    let other = vec![ca.valid_leaf(&["other.example.net"]).der, ca.der.clone()];
    let dns = tlsa(&[format!("3 1 1 {spki}")], Proof::Secure)
        .a(MX, &[IP])
        .aaaa(MX, &[IP6])
        .smtp(MX, IP, tls_probe(&chain, "TLSv1.3"))
        .smtp(MX, IP6, tls_probe(&other, "TLSv1.3"));
    let view = mailwarden_model::DnsView::with_probes(&dns.0, &dns.1);
    let (matches, judged) = in_context(true, |ctx| {
        let chains = crate::ChainCache::default();
        let facts = crate::Facts::of_view(ctx, &view, &chains);
        let mut judged = Vec::new();
        for name in ["dane", "smtp", "failover"] {
            let judge = crate::JUDGES.iter().find(|j| j.name == name).unwrap();
            judged.extend((judge.findings)(ctx, &view, &facts));
        }
        (facts.dane_matches(), judged)
    });
    assert_eq!(matches, 2, "one per probed address");
    assert_eq!(outcome(&judged, "dane.match", MX), Fail, "{judged:#?}");
}

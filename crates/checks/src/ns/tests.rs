//! Pure tests of the nameserver judge over hand-built transcripts.

use std::net::IpAddr;

use mailwarden_model::{
    Answer, Outcome::*, Proof, QueryKey, RData, RType, RawFinding, ScanOptions, SourceInfo, Status,
};

use super::{judge, newest_serial};
use crate::Context;
use crate::testutil::{Dns, find, outcome};

const D: &str = "example.com";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn soa(serial: u32) -> RData {
    RData::Soa {
        mname: "ns1.example.com".into(),
        rname: "hostmaster.example.com".into(),
        serial,
        minimum: 300,
    }
}

/// An authoritative answer of `server`.
fn at(mut dns: Dns, server: &str, name: &str, rtype: RType, records: Vec<RData>) -> Dns {
    let mut answer = Answer::with_records(records, Proof::NotValidated);
    answer.authoritative = true;
    dns.0.insert(QueryKey::at(ip(server), name, rtype), answer);
    dns
}

/// A server-directed answer with this status and AA bit.
fn at_status(mut dns: Dns, server: &str, name: &str, rtype: RType, status: Status, aa: bool) -> Dns {
    let mut answer = Answer::empty(status, Proof::Indeterminate);
    answer.authoritative = aa;
    dns.0.insert(QueryKey::at(ip(server), name, rtype), answer);
    dns
}

fn mx(pref: u16, host: &str) -> RData {
    RData::Mx {
        preference: pref,
        exchange: host.into(),
    }
}

fn txt(t: &str) -> RData {
    RData::Txt {
        strings: vec![t.into()],
    }
}

/// The resolver's view: apex SOA, NS set and addresses.
fn zone(ns: &[(&str, &str)]) -> Dns {
    let mut dns = Dns::new().rec(D, RType::Soa, vec![soa(1)], Proof::NotValidated).rec(
        D,
        RType::Ns,
        ns.iter().map(|(n, _)| RData::Ns { target: (*n).into() }).collect(),
        Proof::NotValidated,
    );
    for (name, addr) in ns {
        dns = dns.a(name, &[addr]).status(name, RType::Aaaa, Status::NoData);
    }
    dns
}

/// A server that serves the zone with serial `serial` and `mx_host` as MX.
fn server(mut dns: Dns, addr: &str, serial: u32, mx_host: &str) -> Dns {
    dns = at(dns, addr, D, RType::Soa, vec![soa(serial)]);
    dns = at(dns, addr, D, RType::Mx, vec![mx(10, mx_host)]);
    dns = at(dns, addr, D, RType::Txt, vec![txt("v=spf1 mx -all")]);
    dns = at(
        dns,
        addr,
        &format!("_dmarc.{D}"),
        RType::Txt,
        vec![txt("v=DMARC1; p=reject")],
    );
    dns = at_status(dns, addr, &format!("_mta-sts.{D}"), RType::Txt, Status::NxDomain, true);
    at_status(dns, addr, &format!("_smtp._tls.{D}"), RType::Txt, Status::NoData, true)
}

const TWO: [(&str, &str); 2] = [("ns1.example.com", "192.0.2.1"), ("ns2.example.net", "198.51.100.1")];

fn live() -> SourceInfo {
    SourceInfo {
        backend: "live".into(),
        ..SourceInfo::default()
    }
}

fn run(dns: &Dns, source: &SourceInfo) -> Vec<RawFinding> {
    run_for(D, dns, source)
}

fn run_for(domain: &str, dns: &Dns, source: &SourceInfo) -> Vec<RawFinding> {
    let options = ScanOptions::default();
    let ctx = Context {
        roots: &crate::tls::cert::Roots::WebPki,
        domain,
        options: &options,
        source,
        now: 0,
    };
    dns.judge(|view| judge(&ctx, view))
}

fn healthy() -> Dns {
    let dns = zone(&TWO);
    let dns = server(dns, "192.0.2.1", 7, "mx.example.com");
    server(dns, "198.51.100.1", 7, "mx.example.com")
}

#[test]
fn a_healthy_pair_passes_every_rule() {
    let f = run(&healthy(), &live());
    assert_eq!(outcome(&f, "ns.count", D), Pass);
    assert_eq!(outcome(&f, "ns.network-diversity", D), Pass);
    assert_eq!(outcome(&f, "ns.soa-serial", D), Pass);
    assert_eq!(outcome(&f, "ns.lame", "ns1.example.com"), Pass);
    assert_eq!(outcome(&f, "ns.lame", "ns2.example.net"), Pass);
    for subject in [
        "example.com/MX",
        "example.com/TXT",
        "_dmarc.example.com/TXT",
        "_mta-sts.example.com/TXT",
        "_smtp._tls.example.com/TXT",
    ] {
        assert_eq!(outcome(&f, "ns.consistency", subject), Pass, "{subject}");
    }
    assert!(f.iter().all(|f| f.id != "ns.lookup-failed"));
}

#[test]
fn a_single_nameserver_fails_the_count() {
    let dns = zone(&TWO[..1]);
    let dns = server(dns, "192.0.2.1", 7, "mx.example.com");
    let f = run(&dns, &live());
    let count = find(&f, "ns.count", D);
    assert_eq!(count.outcome, Fail);
    assert!(count.remediation.as_deref().unwrap().contains("IN NS"));
    // One server: nothing to compare, and one network.
    assert_eq!(outcome(&f, "ns.soa-serial", D), NotApplicable);
    assert_eq!(outcome(&f, "ns.consistency", "example.com/MX"), NotApplicable);
    assert_eq!(outcome(&f, "ns.network-diversity", D), Fail);
}

#[test]
fn no_ns_records_fail_the_count() {
    let dns = Dns::new()
        .rec(D, RType::Soa, vec![soa(1)], Proof::NotValidated)
        .status(D, RType::Ns, Status::NoData);
    let f = run(&dns, &live());
    assert_eq!(outcome(&f, "ns.count", D), Fail);
    assert_eq!(f.len(), 1);
}

#[test]
fn nameservers_in_one_slash_24_fail_diversity() {
    let same = [("ns1.example.com", "192.0.2.1"), ("ns2.example.com", "192.0.2.2")];
    let dns = zone(&same);
    let dns = server(dns, "192.0.2.1", 7, "mx.example.com");
    let dns = server(dns, "192.0.2.2", 7, "mx.example.com");
    let f = run(&dns, &live());
    let div = find(&f, "ns.network-diversity", D);
    assert_eq!(div.outcome, Fail);
    assert_eq!(div.evidence["ipv4_networks"], serde_json::json!(["192.0.2.0/24"]));
}

#[test]
fn ipv6_networks_count_per_slash_48() {
    let dns = Dns::new()
        .rec(D, RType::Soa, vec![soa(1)], Proof::NotValidated)
        .rec(
            D,
            RType::Ns,
            vec![
                RData::Ns {
                    target: "ns1.example.com".into(),
                },
                RData::Ns {
                    target: "ns2.example.com".into(),
                },
            ],
            Proof::NotValidated,
        )
        .status("ns1.example.com", RType::A, Status::NoData)
        .status("ns2.example.com", RType::A, Status::NoData)
        .aaaa("ns1.example.com", &["2001:db8:1::53"])
        .aaaa("ns2.example.com", &["2001:db8:2::53"]);
    let dns = server(dns, "2001:db8:1::53", 3, "mx.example.com");
    let dns = server(dns, "2001:db8:2::53", 3, "mx.example.com");
    let f = run(&dns, &live());
    assert_eq!(outcome(&f, "ns.network-diversity", D), Pass);
}

#[test]
fn an_address_lookup_failure_makes_diversity_indeterminate_not_failed() {
    let dns = Dns::new()
        .rec(D, RType::Soa, vec![soa(1)], Proof::NotValidated)
        .rec(
            D,
            RType::Ns,
            vec![
                RData::Ns {
                    target: "ns1.example.com".into(),
                },
                RData::Ns {
                    target: "ns2.example.net".into(),
                },
            ],
            Proof::NotValidated,
        )
        .a("ns1.example.com", &["192.0.2.1"])
        .status("ns1.example.com", RType::Aaaa, Status::NoData)
        .status("ns2.example.net", RType::A, Status::Timeout)
        .status("ns2.example.net", RType::Aaaa, Status::Timeout);
    let dns = server(dns, "192.0.2.1", 7, "mx.example.com");
    let f = run(&dns, &live());
    assert_eq!(outcome(&f, "ns.network-diversity", D), Indeterminate);
    assert_eq!(outcome(&f, "ns.lame", "ns2.example.net"), Indeterminate);
    // One of two servers answered: nothing to compare with.
    assert_eq!(outcome(&f, "ns.consistency", "example.com/MX"), Indeterminate);
}

#[test]
fn a_server_with_a_different_mx_is_named() {
    let dns = zone(&[
        ("ns1.example.com", "192.0.2.1"),
        ("ns2.example.net", "198.51.100.1"),
        ("ns3.example.org", "203.0.113.1"),
    ]);
    let dns = server(dns, "192.0.2.1", 7, "mx.example.com");
    let dns = server(dns, "198.51.100.1", 7, "mx.example.com");
    let dns = server(dns, "203.0.113.1", 7, "mx.attacker.example");
    let f = run(&dns, &live());
    let c = find(&f, "ns.consistency", "example.com/MX");
    assert_eq!(c.outcome, Fail);
    assert!(
        c.message
            .contains("203.0.113.1 (ns3.example.org) answers 10 mx.attacker.example"),
        "{}",
        c.message
    );
    assert!(!c.message.contains("192.0.2.1 (ns1"), "{}", c.message);
    assert_eq!(
        c.evidence["answers"]["198.51.100.1 (ns2.example.net)"],
        serde_json::json!(["10 mx.example.com"])
    );
    assert!(c.remediation.is_some());
    // The other record sets still agree.
    assert_eq!(outcome(&f, "ns.consistency", "_dmarc.example.com/TXT"), Pass);
}

#[test]
fn order_does_not_matter_but_content_does() {
    let dns = zone(&TWO);
    let dns = server(dns, "192.0.2.1", 7, "mx.example.com");
    let dns = server(dns, "198.51.100.1", 7, "mx.example.com");
    let dns = at(
        dns,
        "192.0.2.1",
        D,
        RType::Txt,
        vec![txt("v=spf1 mx -all"), txt("google-site-verification=x")],
    );
    let dns = at(
        dns,
        "198.51.100.1",
        D,
        RType::Txt,
        vec![txt("google-site-verification=x"), txt("v=spf1 mx -all")],
    );
    // An empty set at one server and a record at the other differ; two
    // servers: no majority, both named.
    let dns = at(dns, "198.51.100.1", &format!("_dmarc.{D}"), RType::Txt, vec![]);
    let f = run(&dns, &live());
    assert_eq!(outcome(&f, "ns.consistency", "example.com/TXT"), Pass);
    let c = find(&f, "ns.consistency", "_dmarc.example.com/TXT");
    assert_eq!(c.outcome, Fail);
    assert!(
        c.message
            .contains("192.0.2.1 (ns1.example.com) answers \"v=DMARC1; p=reject\""),
        "{}",
        c.message
    );
    assert!(
        c.message.contains("198.51.100.1 (ns2.example.net) answers no records"),
        "{}",
        c.message
    );
}

#[test]
fn nxdomain_and_nodata_are_the_same_empty_set() {
    let dns = healthy();
    let dns = at_status(
        dns,
        "198.51.100.1",
        &format!("_mta-sts.{D}"),
        RType::Txt,
        Status::NoData,
        true,
    );
    let f = run(&dns, &live());
    assert_eq!(outcome(&f, "ns.consistency", "_mta-sts.example.com/TXT"), Pass);
}

#[test]
fn a_lagging_secondary_fails_the_serial_check() {
    let dns = zone(&TWO);
    let dns = server(dns, "192.0.2.1", 2026010102, "mx.example.com");
    let dns = server(dns, "198.51.100.1", 2026010101, "mx.example.com");
    let f = run(&dns, &live());
    let s = find(&f, "ns.soa-serial", D);
    assert_eq!(s.outcome, Fail);
    assert!(s.message.contains("newest serial is 2026010102"), "{}", s.message);
    assert!(
        s.message.contains("198.51.100.1 (ns2.example.net) at 2026010101"),
        "{}",
        s.message
    );
    assert_eq!(s.evidence["serials"]["192.0.2.1 (ns1.example.com)"], 2026010102);
}

#[test]
fn serials_compare_in_sequence_space() {
    assert_eq!(newest_serial(&[4_294_967_295, 5].into_iter().collect()), 5);
    assert_eq!(newest_serial(&[1, 2, 3].into_iter().collect()), 3);
}

#[test]
fn a_server_that_times_out_is_indeterminate_not_lame_and_never_makes_a_record_missing() {
    // Port 53 blocked on the scanner's side looks exactly like this: we
    // could not reach the server, which says nothing about what it serves.
    let dns = zone(&TWO);
    let dns = server(dns, "192.0.2.1", 7, "mx.example.com");
    let dns = at_status(dns, "198.51.100.1", D, RType::Soa, Status::Timeout, false);
    let f = run(&dns, &live());
    let lame = find(&f, "ns.lame", "ns2.example.net");
    assert_eq!(lame.outcome, Indeterminate);
    let evidence = lame.evidence["servers"]["198.51.100.1"].as_str().unwrap();
    assert!(
        evidence.starts_with("could not ask: timed out: it could not be reached from here"),
        "{evidence}"
    );
    assert!(lame.message.contains("port 53 blocked"), "{}", lame.message);
    assert_eq!(outcome(&f, "ns.lame", "ns1.example.com"), Pass);
    // The timed-out server is not compared, so nothing is "missing".
    let c = find(&f, "ns.consistency", "example.com/MX");
    assert_eq!(c.outcome, Indeterminate);
    let not_compared = c.evidence["not_compared"]["198.51.100.1 (ns2.example.net)"]
        .as_str()
        .unwrap();
    assert!(not_compared.starts_with("not asked: timed out"), "{not_compared}");
}

#[test]
fn a_server_the_egress_guard_refused_is_indeterminate_with_the_flag_to_pass() {
    let why =
        "127.0.0.1 is loopback (RFC 1122), not a global address; pass --allow-private-targets to ask such servers";
    let dns = zone(&TWO);
    let dns = server(dns, "192.0.2.1", 7, "mx.example.com");
    let dns = at_status(
        dns,
        "198.51.100.1",
        D,
        RType::Soa,
        Status::EgressRefused(why.into()),
        false,
    );
    let f = run(&dns, &live());
    let lame = find(&f, "ns.lame", "ns2.example.net");
    assert_eq!(lame.outcome, Indeterminate);
    assert!(lame.message.contains("--allow-private-targets"), "{}", lame.message);
    assert_eq!(outcome(&f, "ns.soa-serial", D), Indeterminate);
}

#[test]
fn refusal_servfail_referral_and_no_aa_are_lame() {
    let referral = Status::Referral {
        servers: vec!["a.test".into()],
        cut: "example.com".into(),
    };
    for (status, aa) in [
        (Status::Refused, false),
        (Status::ServFail, false),
        (referral, false),
        (Status::NxDomain, true),
    ] {
        let dns = zone(&TWO);
        let dns = server(dns, "192.0.2.1", 7, "mx.example.com");
        let dns = at_status(dns, "198.51.100.1", D, RType::Soa, status.clone(), aa);
        let f = run(&dns, &live());
        assert_eq!(outcome(&f, "ns.lame", "ns2.example.net"), Fail, "{status:?}");
    }
    // Records, but without the AA bit (a caching resolver answering).
    let mut dns = zone(&TWO);
    dns = server(dns, "192.0.2.1", 7, "mx.example.com");
    dns.0.insert(
        QueryKey::at(ip("198.51.100.1"), D, RType::Soa),
        Answer::with_records(vec![soa(7)], Proof::NotValidated),
    );
    let f = run(&dns, &live());
    let lame = find(&f, "ns.lame", "ns2.example.net");
    assert_eq!(lame.outcome, Fail);
    assert!(lame.message.contains("without the AA bit"), "{}", lame.message);
}

#[test]
fn an_io_error_asking_a_server_is_indeterminate_not_lame() {
    let dns = zone(&TWO);
    let dns = server(dns, "192.0.2.1", 7, "mx.example.com");
    let dns = at_status(
        dns,
        "198.51.100.1",
        D,
        RType::Soa,
        Status::Error("network unreachable".into()),
        false,
    );
    let f = run(&dns, &live());
    assert_eq!(outcome(&f, "ns.lame", "ns2.example.net"), Indeterminate);
    assert_eq!(outcome(&f, "ns.soa-serial", D), Indeterminate);
}

#[test]
fn a_record_query_that_fails_is_indeterminate_unless_others_already_disagree() {
    let dns = healthy();
    let dns = at_status(dns, "198.51.100.1", D, RType::Mx, Status::Timeout, false);
    let f = run(&dns, &live());
    assert_eq!(outcome(&f, "ns.consistency", "example.com/MX"), Indeterminate);
}

#[test]
fn a_nameserver_without_addresses_is_lame() {
    let dns = Dns::new()
        .rec(D, RType::Soa, vec![soa(1)], Proof::NotValidated)
        .rec(
            D,
            RType::Ns,
            vec![
                RData::Ns {
                    target: "ns1.example.com".into(),
                },
                RData::Ns {
                    target: "gone.example.net".into(),
                },
            ],
            Proof::NotValidated,
        )
        .a("ns1.example.com", &["192.0.2.1"])
        .status("ns1.example.com", RType::Aaaa, Status::NoData)
        .status("gone.example.net", RType::A, Status::NxDomain)
        .status("gone.example.net", RType::Aaaa, Status::NxDomain);
    let dns = server(dns, "192.0.2.1", 7, "mx.example.com");
    let f = run(&dns, &live());
    assert_eq!(outcome(&f, "ns.lame", "gone.example.net"), Fail);
}

#[test]
fn a_subdomain_walks_up_to_its_zone_apex() {
    let dns = healthy().status("mail.example.com", RType::Soa, Status::NoData).rec(
        "mail.example.com",
        RType::Mx,
        vec![],
        Proof::NotValidated,
    );
    let mut dns = dns;
    for addr in ["192.0.2.1", "198.51.100.1"] {
        dns = at(dns, addr, "mail.example.com", RType::Mx, vec![mx(5, "in.example.com")]);
        dns = at(dns, addr, "mail.example.com", RType::Txt, vec![]);
        for sub in ["_dmarc.", "_mta-sts.", "_smtp._tls."] {
            dns = at_status(
                dns,
                addr,
                &format!("{sub}mail.example.com"),
                RType::Txt,
                Status::NxDomain,
                true,
            );
        }
    }
    let f = run_for("mail.example.com", &dns, &live());
    assert_eq!(outcome(&f, "ns.count", D), Pass);
    assert_eq!(outcome(&f, "ns.consistency", "mail.example.com/MX"), Pass);
}

#[test]
fn a_domain_that_does_not_exist_has_no_zone_to_check() {
    let dns = Dns::new().status(D, RType::Soa, Status::NxDomain);
    let f = run(&dns, &live());
    assert_eq!(f.len(), 1);
    assert_eq!(outcome(&f, "ns.count", D), NotApplicable);
}

#[test]
fn a_failed_ns_lookup_is_indeterminate_never_missing() {
    let dns = Dns::new()
        .rec(D, RType::Soa, vec![soa(1)], Proof::NotValidated)
        .status(D, RType::Ns, Status::ServFail);
    let f = run(&dns, &live());
    assert_eq!(f.len(), 1);
    assert_eq!(outcome(&f, "ns.lookup-failed", D), Indeterminate);

    // The parent cannot be read either: nothing more to say.
    let dns = Dns::new()
        .status(D, RType::Soa, Status::Timeout)
        .status("com", RType::Soa, Status::Timeout);
    let f = run(&dns, &live());
    assert_eq!(f.len(), 1);
    let failed = find(&f, "ns.lookup-failed", D);
    assert_eq!(failed.outcome, Indeterminate);
    assert!(
        failed
            .message
            .contains("the delegation at the parent could not be read either"),
        "{}",
        failed.message
    );
}

/// The resolver fails for everything in example.com (its servers refuse
/// the zone); `com` resolves and its first server, at 192.0.2.53, gives
/// `delegation` for NS example.com.
fn lame_at_parent(delegation: Answer) -> Dns {
    let mut dns = Dns::new()
        .status(D, RType::Soa, Status::ServFail)
        .rec("com", RType::Soa, vec![soa(1)], Proof::NotValidated)
        .rec(
            "com",
            RType::Ns,
            vec![
                RData::Ns {
                    target: "a.gtld.test".into(),
                },
                RData::Ns {
                    target: "b.gtld.test".into(),
                },
            ],
            Proof::NotValidated,
        )
        .a("a.gtld.test", &["192.0.2.53"])
        .status("a.gtld.test", RType::Aaaa, Status::NoData)
        .a("b.gtld.test", &["198.51.100.53"])
        .status("b.gtld.test", RType::Aaaa, Status::NoData);
    dns.0.insert(QueryKey::at(ip("192.0.2.53"), D, RType::Ns), delegation);
    dns
}

/// The parent's referral: ns1.example.com with glue, ns2.example.net without.
fn referral_to_two() -> Answer {
    let mut answer = Answer::with_records(
        vec![
            RData::Ns {
                target: "ns1.example.com".into(),
            },
            RData::Ns {
                target: "ns2.example.net".into(),
            },
        ],
        Proof::NotValidated,
    );
    answer.glue.insert("ns1.example.com".into(), vec![ip("203.0.113.1")]);
    answer
}

#[test]
fn a_lame_delegation_the_resolver_cannot_follow_is_found_at_the_parent_and_fails() {
    let dns = lame_at_parent(referral_to_two())
        .a("ns2.example.net", &["203.0.113.2"])
        .status("ns2.example.net", RType::Aaaa, Status::NoData);
    let dns = at_status(dns, "203.0.113.1", D, RType::Soa, Status::Refused, false);
    let dns = at_status(dns, "203.0.113.2", D, RType::Soa, Status::Refused, false);
    let f = run(&dns, &live());
    let failed = find(&f, "ns.lookup-failed", D);
    assert_eq!(failed.outcome, Indeterminate);
    assert!(
        failed
            .message
            .contains("The parent zone com (asked directly at 192.0.2.53) delegates example.com to ns1.example.com, ns2.example.net"),
        "{}",
        failed.message
    );
    for host in ["ns1.example.com", "ns2.example.net"] {
        let lame = find(&f, "ns.lame", host);
        assert_eq!(lame.outcome, Fail, "{host}: {}", lame.message);
        assert!(lame.message.contains("REFUSED"), "{}", lame.message);
    }
    assert_eq!(
        find(&f, "ns.lame", "ns1.example.com").evidence["servers"]["203.0.113.1"],
        "lame: the server refused (REFUSED)"
    );
}

#[test]
fn a_delegation_to_servers_that_time_out_is_indeterminate_and_a_failing_parent_server_is_skipped() {
    let dns = lame_at_parent(Answer::empty(Status::Timeout, Proof::Indeterminate))
        .a("ns2.example.net", &["203.0.113.2"])
        .status("ns2.example.net", RType::Aaaa, Status::NoData);
    let mut dns = dns;
    dns.0
        .insert(QueryKey::at(ip("198.51.100.53"), D, RType::Ns), referral_to_two());
    let dns = at_status(dns, "203.0.113.1", D, RType::Soa, Status::Timeout, false);
    let dns = at_status(dns, "203.0.113.2", D, RType::Soa, Status::Refused, false);
    let f = run(&dns, &live());
    assert_eq!(outcome(&f, "ns.lame", "ns1.example.com"), Indeterminate);
    assert_eq!(outcome(&f, "ns.lame", "ns2.example.net"), Fail);
    assert!(
        find(&f, "ns.lookup-failed", D)
            .message
            .contains("asked directly at 198.51.100.53")
    );
}

#[test]
fn a_parent_that_delegates_nothing_leaves_the_lookup_failure_alone() {
    let mut nothing = Answer::empty(Status::NxDomain, Proof::NotValidated);
    nothing.authoritative = true;
    let f = run(&lame_at_parent(nothing), &live());
    assert_eq!(f.len(), 1);
    let failed = find(&f, "ns.lookup-failed", D);
    assert!(
        failed.message.contains("the parent delegates nothing there"),
        "{}",
        failed.message
    );
}

#[test]
fn zone_files_are_not_applicable_and_ask_nothing() {
    let source = SourceInfo {
        backend: "zone-file".into(),
        ..SourceInfo::default()
    };
    // `Dns::judge` panics if the judge asks for anything: it must ask nothing.
    let f = run(&Dns::new(), &source);
    assert_eq!(f.len(), 5);
    for id in [
        "ns.count",
        "ns.network-diversity",
        "ns.consistency",
        "ns.soa-serial",
        "ns.lame",
    ] {
        assert_eq!(outcome(&f, id, D), NotApplicable, "{id}");
    }
}

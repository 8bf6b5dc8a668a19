//! Tests of the MX judge: each rule passing, failing and indeterminate.

use mailwarden_model::{Outcome::*, Proof, RData, RType, Status};

use super::judge;
use crate::testutil::{Dns, find, outcome};

const D: &str = "example.com";

/// Two well-run MX hosts on different networks, dual-stack.
fn healthy() -> Dns {
    Dns::new()
        .mx(D, &[(10, "mx1.example.com"), (20, "mx2.example.net")])
        .a("mx1.example.com", &["8.8.4.1"])
        .aaaa("mx1.example.com", &["2a00:1450:4001::1"])
        .a("mx2.example.net", &["9.9.9.1"])
        .aaaa("mx2.example.net", &[])
}

fn run(dns: &Dns) -> Vec<mailwarden_model::RawFinding> {
    dns.judge(|v| judge(D, v))
}

#[test]
fn healthy_domain_passes_every_rule() {
    let f = run(&healthy());
    for id in [
        "mx.present",
        "mx.duplicate",
        "mx.redundancy",
        "mx.network-diversity",
        "mx.ipv6",
    ] {
        assert_eq!(outcome(&f, id, D), Pass, "{id}");
    }
    for host in ["mx1.example.com", "mx2.example.net"] {
        for id in ["mx.target-cname", "mx.target-unresolvable", "mx.target-non-global"] {
            assert_eq!(outcome(&f, id, host), Pass, "{id} {host}");
        }
        assert_eq!(outcome(&f, "mx.dnssec", host), NotApplicable);
    }
    assert!(f.iter().all(|x| x.outcome != Fail), "{f:#?}");
}

#[test]
fn mx_lookup_timeout_is_indeterminate_never_missing() {
    let f = run(&Dns::new().status(D, RType::Mx, Status::Timeout));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].outcome, Indeterminate);
    assert!(f[0].message.contains("timed out"), "{}", f[0].message);
}

#[test]
fn servfail_is_indeterminate() {
    let f = run(&Dns::new().status(D, RType::Mx, Status::ServFail));
    assert_eq!(outcome(&f, "mx.present", D), Indeterminate);
}

#[test]
fn no_mx_with_apex_address_is_implicit_mx() {
    let dns = Dns::new()
        .status(D, RType::Mx, Status::NoData)
        .a(D, &["8.8.8.8"])
        .aaaa(D, &[]);
    let f = run(&dns);
    let p = find(&f, "mx.present", D);
    assert_eq!(p.outcome, Fail);
    assert!(p.message.contains("implicit MX"), "{}", p.message);
    assert!(p.remediation.as_deref().unwrap().contains("MX 0 ."));
}

#[test]
fn no_mx_and_no_address_recommends_null_mx() {
    let dns = Dns::new().status(D, RType::Mx, Status::NoData).a(D, &[]).aaaa(D, &[]);
    let p = run(&dns).remove(0);
    assert_eq!(p.outcome, Fail);
    assert!(p.message.contains("null MX"));
}

#[test]
fn no_mx_with_failed_apex_lookup_is_indeterminate() {
    let dns = Dns::new()
        .status(D, RType::Mx, Status::NoData)
        .status(D, RType::A, Status::Timeout)
        .aaaa(D, &[]);
    assert_eq!(outcome(&run(&dns), "mx.present", D), Indeterminate);
}

#[test]
fn nxdomain_domain_fails() {
    let f = run(&Dns::new().status(D, RType::Mx, Status::NxDomain));
    assert_eq!(outcome(&f, "mx.present", D), Fail);
}

fn null_mx(spf: &[&str]) -> Dns {
    Dns::new().mx(D, &[(0, ".")]).txt(D, spf)
}

#[test]
fn proper_null_mx_passes() {
    let f = run(&null_mx(&["v=spf1 -all"]));
    for id in [
        "mx.present",
        "mx.null-mx-mixed",
        "mx.null-mx-preference",
        "mx.null-mx-spf",
    ] {
        assert_eq!(outcome(&f, id, D), Pass, "{id}");
    }
    assert!(
        f.iter().all(|x| !x.id.starts_with("mx.target")),
        "no target checks for a null MX"
    );
}

#[test]
fn null_mx_without_spf_all_fails() {
    let f = run(&null_mx(&[
        "v=spf1 include:_spf.example.net ~all",
        "google-site-verification=x",
    ]));
    let spf = find(&f, "mx.null-mx-spf", D);
    assert_eq!(spf.outcome, Fail);
    assert!(spf.remediation.as_deref().unwrap().contains("v=spf1 -all"));
    let none = run(&null_mx(&[]));
    assert_eq!(outcome(&none, "mx.null-mx-spf", D), Fail);
}

#[test]
fn null_mx_spf_lookup_failure_is_indeterminate() {
    let dns = Dns::new().mx(D, &[(0, ".")]).status(D, RType::Txt, Status::Refused);
    assert_eq!(outcome(&run(&dns), "mx.null-mx-spf", D), Indeterminate);
}

#[test]
fn null_mx_with_other_mx_and_bad_preference_fails() {
    let dns = Dns::new()
        .mx(D, &[(10, "."), (20, "mx.example.com")])
        .a("mx.example.com", &["8.8.8.8"])
        .aaaa("mx.example.com", &[]);
    let f = run(&dns);
    assert_eq!(outcome(&f, "mx.null-mx-mixed", D), Fail);
    assert_eq!(outcome(&f, "mx.null-mx-preference", D), Fail);
}

#[test]
fn cname_target_fails_with_chain() {
    let mut dns = healthy();
    let alias = |rt| {
        let mut a = mailwarden_model::Answer::with_records(
            vec![RData::A {
                address: "8.8.4.1".parse().unwrap(),
            }],
            Proof::NotValidated,
        );
        if rt == RType::Aaaa {
            a = mailwarden_model::Answer::with_records(vec![], Proof::NotValidated);
        }
        a.cname_chain = vec!["host.provider.net".into()];
        a
    };
    dns.0.insert(
        mailwarden_model::QueryKey::new("mx1.example.com", RType::A),
        alias(RType::A),
    );
    dns.0.insert(
        mailwarden_model::QueryKey::new("mx1.example.com", RType::Aaaa),
        alias(RType::Aaaa),
    );
    let f = run(&dns);
    let c = find(&f, "mx.target-cname", "mx1.example.com");
    assert_eq!(c.outcome, Fail);
    assert!(c.remediation.as_deref().unwrap().contains("host.provider.net"));
}

#[test]
fn ip_literal_target_fails_and_is_not_looked_up() {
    let dns = Dns::new()
        .mx(D, &[(10, "192.0.2.25"), (20, "mx.example.com")])
        .a("mx.example.com", &["8.8.8.8"])
        .aaaa("mx.example.com", &[]);
    let f = run(&dns);
    assert_eq!(outcome(&f, "mx.target-ip-literal", "192.0.2.25"), Fail);
}

#[test]
fn unresolvable_targets_fail_and_failed_lookups_are_indeterminate() {
    let dns = Dns::new()
        .mx(
            D,
            &[
                (10, "gone.example.com"),
                (20, "empty.example.com"),
                (30, "slow.example.com"),
            ],
        )
        .status("gone.example.com", RType::A, Status::NxDomain)
        .status("gone.example.com", RType::Aaaa, Status::NxDomain)
        .a("empty.example.com", &[])
        .aaaa("empty.example.com", &[])
        .status("slow.example.com", RType::A, Status::Timeout)
        .status("slow.example.com", RType::Aaaa, Status::Timeout);
    let f = run(&dns);
    assert_eq!(outcome(&f, "mx.target-unresolvable", "gone.example.com"), Fail);
    assert!(
        find(&f, "mx.target-unresolvable", "gone.example.com")
            .message
            .contains("NXDOMAIN")
    );
    assert_eq!(outcome(&f, "mx.target-unresolvable", "empty.example.com"), Fail);
    assert_eq!(outcome(&f, "mx.target-unresolvable", "slow.example.com"), Indeterminate);
    assert_eq!(outcome(&f, "mx.target-cname", "slow.example.com"), Indeterminate);
    assert_eq!(outcome(&f, "mx.redundancy", D), Indeterminate);
}

#[test]
fn non_global_addresses_fail() {
    let dns = Dns::new()
        .mx(D, &[(10, "mx.example.com")])
        .a("mx.example.com", &["10.0.0.25", "8.8.8.8"])
        .aaaa("mx.example.com", &["::1"]);
    let f = find(&run(&dns), "mx.target-non-global", "mx.example.com").clone();
    assert_eq!(f.outcome, Fail);
    assert!(
        f.message.contains("10.0.0.25: private") && f.message.contains("::1: loopback"),
        "{}",
        f.message
    );
    assert!(!f.message.contains("8.8.8.8"));
}

#[test]
fn duplicate_mx_differing_only_in_case_fails() {
    let dns = Dns::new()
        .mx(D, &[(10, "mx.example.com"), (20, "MX.example.com.")])
        .a("mx.example.com", &["8.8.8.8"])
        .aaaa("mx.example.com", &[]);
    assert_eq!(outcome(&run(&dns), "mx.duplicate", D), Fail);
}

#[test]
fn single_mx_single_network_no_ipv6_fail() {
    let dns = Dns::new()
        .mx(D, &[(10, "mx.example.com")])
        .a("mx.example.com", &["8.8.8.8", "8.8.8.9"])
        .aaaa("mx.example.com", &[]);
    let f = run(&dns);
    assert_eq!(outcome(&f, "mx.redundancy", D), Fail);
    assert_eq!(outcome(&f, "mx.network-diversity", D), Fail);
    assert_eq!(outcome(&f, "mx.ipv6", D), Fail);
}

#[test]
fn two_hosts_sharing_one_address_fail_redundancy() {
    let dns = Dns::new()
        .mx(D, &[(10, "a.example.com"), (20, "b.example.com")])
        .a("a.example.com", &["8.8.8.8"])
        .aaaa("a.example.com", &[])
        .a("b.example.com", &["8.8.8.8"])
        .aaaa("b.example.com", &[]);
    let f = run(&dns);
    assert_eq!(outcome(&f, "mx.redundancy", D), Fail);
    assert_eq!(outcome(&f, "mx.network-diversity", D), NotApplicable);
}

fn with_proof(proof: Proof) -> Dns {
    Dns::new()
        .mx(D, &[(10, "mx.example.com")])
        .rec(
            "mx.example.com",
            RType::A,
            vec![RData::A {
                address: "8.8.8.8".parse().unwrap(),
            }],
            proof,
        )
        .rec("mx.example.com", RType::Aaaa, vec![], proof)
}

#[test]
fn dnssec_secure_passes_insecure_fails_bogus_is_critical() {
    let h = "mx.example.com";
    assert_eq!(outcome(&run(&with_proof(Proof::Secure)), "mx.dnssec", h), Pass);
    assert_eq!(outcome(&run(&with_proof(Proof::Insecure)), "mx.dnssec", h), Fail);
    let bogus = run(&with_proof(Proof::Bogus));
    let b = find(&bogus, "mx.dnssec", h);
    assert_eq!(
        (b.outcome, b.severity),
        (Fail, Some(mailwarden_model::Severity::Critical))
    );
    assert_eq!(
        outcome(&run(&with_proof(Proof::Indeterminate)), "mx.dnssec", h),
        Indeterminate
    );
}

/// Regression: the live backend pairs `Proof::Bogus` with
/// `Status::Bogus`, and the judge used to drop non-definite answers, so
/// a bogus MX host came out indeterminate instead of critical.
#[test]
fn bogus_status_answers_make_mx_dnssec_critical_not_indeterminate() {
    let bogus = |rt| {
        let _ = rt;
        mailwarden_model::Answer::empty(Status::Bogus("signature expired".into()), Proof::Bogus)
    };
    let mut dns = Dns::new().mx(D, &[(10, "mx.example.com")]);
    dns.0.insert(
        mailwarden_model::QueryKey::new("mx.example.com", RType::A),
        bogus(RType::A),
    );
    dns.0.insert(
        mailwarden_model::QueryKey::new("mx.example.com", RType::Aaaa),
        bogus(RType::Aaaa),
    );
    let f = run(&dns);
    let d = find(&f, "mx.dnssec", "mx.example.com");
    assert_eq!(
        (d.outcome, d.severity),
        (Fail, Some(mailwarden_model::Severity::Critical))
    );
    assert_eq!(outcome(&f, "mx.target-unresolvable", "mx.example.com"), Indeterminate);
}

/// Regression: two known addresses in one /24 failed the rule although
/// a third MX host's address could not be looked up.
#[test]
fn network_diversity_is_indeterminate_while_an_address_is_unknown() {
    let dns = Dns::new()
        .mx(
            D,
            &[(10, "a.example.com"), (20, "b.example.com"), (30, "c.example.com")],
        )
        .a("a.example.com", &["8.8.8.1"])
        .aaaa("a.example.com", &[])
        .a("b.example.com", &["8.8.8.2"])
        .aaaa("b.example.com", &[])
        .status("c.example.com", RType::A, Status::Timeout)
        .status("c.example.com", RType::Aaaa, Status::Timeout);
    assert_eq!(outcome(&run(&dns), "mx.network-diversity", D), Indeterminate);
}

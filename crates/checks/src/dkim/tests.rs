//! Tests of the DKIM judge: each rule passing, failing and indeterminate.

use mailwarden_model::{
    Answer, Outcome::*, Proof, QueryKey, RData, RType, RawFinding, ScanOptions, Severity, SourceInfo, Status,
};

use super::*;
use crate::testutil::{Dns, find, outcome};

const D: &str = "example.com";
const RSA512: &str = include_str!("../../../../testdata/dkim/rsa512.spki.b64");
const RSA1024: &str = include_str!("../../../../testdata/dkim/rsa1024.spki.b64");
const RSA2048: &str = include_str!("../../../../testdata/dkim/rsa2048.spki.b64");
const ED_RAW: &str = include_str!("../../../../testdata/dkim/ed25519.raw.b64");

fn key(b64: &str) -> String {
    format!("v=DKIM1; k=rsa; p={}", b64.trim())
}

fn name(sel: &str) -> String {
    format!("{sel}._domainkey.{D}")
}

/// Every selector NXDOMAIN, the probe as given, and `records` at some.
fn dns(probe: Status, records: &[(&str, &[&str])]) -> Dns {
    let (tried, _) = selectors(&["custom".to_string()]);
    let mut d = Dns::new().mx(D, &[(10, "mx.example.com")]);
    for s in &tried {
        d = d.status(&name(s), RType::Txt, Status::NxDomain);
    }
    d = if probe == Status::Records {
        d.txt(&format!("_domainkey.{D}"), &["o=~"])
    } else {
        d.status(&format!("_domainkey.{D}"), RType::Txt, probe)
    };
    for (sel, texts) in records {
        d = d.txt(&name(sel), texts);
    }
    d
}

fn run_with(dns: &Dns, parked: bool) -> Vec<RawFinding> {
    let options = ScanOptions {
        dkim_selectors: vec!["custom".to_string()],
        parked,
        ..ScanOptions::default()
    };
    run_options(dns, &options)
}

fn run_options(dns: &Dns, options: &ScanOptions) -> Vec<RawFinding> {
    let source = SourceInfo::default();
    let ctx = Context {
        roots: &crate::tls::cert::Roots::WebPki,
        domain: D,
        options,
        source: &source,
        now: 0,
    };
    dns.judge(|v| judge(&ctx, v))
}

fn run(dns: &Dns) -> Vec<RawFinding> {
    run_with(dns, false)
}

#[test]
fn selector_list_has_user_selectors_first_without_duplicates() {
    let (tried, ignored) = selectors(&["Custom.".into(), "google".into(), "bad sel".into(), "".into()]);
    assert_eq!(tried[0], "custom");
    assert_eq!(tried.iter().filter(|s| *s == "google").count(), 1);
    assert_eq!(ignored, ["bad sel", ""]);
    for s in [
        "google",
        "selector1",
        "selector2",
        "k1",
        "mandrill",
        "mxvault",
        "everlytickey2",
    ] {
        assert!(tried.iter().any(|t| t == s), "{s}");
    }
}

#[test]
fn a_good_2048_bit_key_passes_every_rule() {
    let text = key(RSA2048);
    let f = run(&dns(Status::NoData, &[("google", &[&text])]));
    assert_eq!(outcome(&f, "dkim.keys-found", D), Pass);
    assert_eq!(outcome(&f, "dkim.domainkey-probe", D), Pass);
    assert_eq!(outcome(&f, "dkim.lookup-failed", D), Pass);
    let n = name("google");
    for id in [
        "dkim.multiple-records",
        "dkim.syntax",
        "dkim.syntax-warning",
        "dkim.version",
        "dkim.key-type",
        "dkim.key-revoked",
        "dkim.key-invalid",
        "dkim.rsa-weak",
        "dkim.testing",
        "dkim.sha1",
        "dkim.service-type",
    ] {
        assert_eq!(outcome(&f, id, &n), Pass, "{id}: {f:#?}");
    }
    assert!(f.iter().all(|x| x.outcome != Fail), "{f:#?}");
    let keys = &find(&f, "dkim.keys-found", D).evidence["keys"];
    assert_eq!(keys[0]["rsa_bits"], 2048);
    let tried = find(&f, "dkim.keys-found", D).evidence["selectors_tried"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(tried, COMMON_SELECTORS.len() + 1);
}

#[test]
fn ed25519_key_passes_and_rsa_length_is_not_applicable() {
    let text = format!("v=DKIM1; k=ed25519; p={}", ED_RAW.trim());
    let f = run(&dns(Status::NoData, &[("custom", &[&text])]));
    assert_eq!(outcome(&f, "dkim.keys-found", D), Pass);
    assert_eq!(outcome(&f, "dkim.rsa-weak", &name("custom")), NotApplicable);
    assert_eq!(outcome(&f, "dkim.key-invalid", &name("custom")), Pass);
}

#[test]
fn short_rsa_keys_fail_with_graded_severity() {
    let k512 = key(RSA512);
    let k1024 = key(RSA1024);
    let f = run(&dns(Status::NoData, &[("s1", &[&k512]), ("s2", &[&k1024])]));
    let weak = find(&f, "dkim.rsa-weak", &name("s1"));
    assert_eq!((weak.outcome, weak.severity), (Fail, Some(Severity::High)));
    assert!(weak.remediation.as_deref().unwrap().contains("openssl genrsa"));
    let medium = find(&f, "dkim.rsa-weak", &name("s2"));
    assert_eq!(medium.outcome, Fail);
    assert!(medium.severity.is_none());
    assert!(medium.message.contains("1024 bits"));
}

#[test]
fn nxdomain_probe_and_no_keys_fails_keys_found() {
    let f = run(&dns(Status::NxDomain, &[]));
    let k = find(&f, "dkim.keys-found", D);
    assert_eq!(k.outcome, Fail);
    assert!(k.message.contains("RFC 8020"), "{}", k.message);
    // Under an NXDOMAIN probe only the user's selector is asked (RFC 8020).
    assert!(
        k.message.contains("custom") && !k.message.contains("everlytickey1"),
        "{}",
        k.message
    );
    assert!(k.remediation.as_deref().unwrap().contains("v=DKIM1; k=rsa; p="));
    assert_eq!(outcome(&f, "dkim.domainkey-probe", D), Pass);
}

/// Without `--dkim-selector`, an NXDOMAIN probe leaves no selector to
/// ask: the findings said "selectors tried: ." (an empty list).
#[test]
fn nxdomain_probe_without_user_selectors_prints_no_empty_selector_list() {
    let d =
        Dns::new()
            .mx(D, &[(10, "mx.example.com")])
            .status(&format!("_domainkey.{D}"), RType::Txt, Status::NxDomain);
    let f = run_options(&d, &ScanOptions::default());
    let k = find(&f, "dkim.keys-found", D);
    assert_eq!(k.outcome, Fail);
    for f in &f {
        assert!(
            !f.message.contains("tried: .") && !f.message.contains(" 0 ") && !f.message.contains("(0 "),
            "{}: {}",
            f.id,
            f.message
        );
    }
    assert!(k.message.ends_with("(RFC 8020)."), "{}", k.message);
}

#[test]
fn existing_domainkey_without_found_keys_is_indeterminate_not_missing() {
    for probe in [Status::NoData, Status::Records] {
        let f = run(&dns(probe, &[]));
        let k = find(&f, "dkim.keys-found", D);
        assert_eq!(k.outcome, Indeterminate);
        assert!(k.message.contains("--dkim-selector"), "{}", k.message);
        assert_eq!(outcome(&f, "dkim.domainkey-probe", D), Pass);
    }
}

#[test]
fn probe_nxdomain_with_keys_below_violates_rfc8020() {
    let text = key(RSA2048);
    let f = run(&dns(Status::NxDomain, &[("custom", &[&text])]));
    assert_eq!(outcome(&f, "dkim.domainkey-probe", D), Fail);
    assert_eq!(outcome(&f, "dkim.keys-found", D), Pass);
}

/// The built-in selectors cost dozens of queries per domain; under an
/// NXDOMAIN probe they cannot exist (RFC 8020), so they are not asked.
#[test]
fn nxdomain_probe_skips_the_built_in_selectors() {
    let d =
        Dns::new()
            .mx(D, &[(10, "mx.example.com")])
            .status(&format!("_domainkey.{D}"), RType::Txt, Status::NxDomain);
    let view = mailwarden_model::DnsView::new(&d.0);
    let options = ScanOptions {
        dkim_selectors: vec!["custom".into()],
        parked: false,
        ..ScanOptions::default()
    };
    let source = SourceInfo::default();
    judge(
        &Context {
            roots: &crate::tls::cert::Roots::WebPki,
            domain: D,
            options: &options,
            source: &source,
            now: 0,
        },
        &view,
    );
    let missing = view.into_missing();
    assert_eq!(
        missing.into_iter().map(|k| k.name).collect::<Vec<_>>(),
        vec![name("custom")]
    );
}

#[test]
fn failed_lookups_are_indeterminate_never_missing() {
    let d = dns(Status::NoData, &[]).status(&name("google"), RType::Txt, Status::Timeout);
    let f = run(&d);
    assert_eq!(outcome(&f, "dkim.keys-found", D), Indeterminate);
    let lf = find(&f, "dkim.lookup-failed", D);
    assert_eq!(lf.outcome, Indeterminate);
    assert!(lf.message.contains("google._domainkey.example.com"));
    let d = dns(Status::ServFail, &[]);
    let f = run(&d);
    assert_eq!(outcome(&f, "dkim.keys-found", D), Indeterminate);
    assert_eq!(outcome(&f, "dkim.domainkey-probe", D), Indeterminate);
    assert_eq!(outcome(&f, "dkim.lookup-failed", D), Indeterminate);
}

#[test]
fn wildcard_txt_at_selector_is_not_a_key() {
    let f = run(&dns(Status::NoData, &[("default", &["v=spf1 -all"])]));
    assert_eq!(outcome(&f, "dkim.keys-found", D), Indeterminate);
    assert!(f.iter().all(|x| x.subject != name("default")));
    let ev = &find(&f, "dkim.keys-found", D).evidence["non_dkim_txt"];
    assert_eq!(ev[0], "default._domainkey.example.com: v=spf1 -all");
}

#[test]
fn revoked_key_fails_and_counts_as_no_usable_key() {
    let f = run(&dns(Status::NoData, &[("k1", &["v=DKIM1; k=rsa; p="])]));
    assert_eq!(outcome(&f, "dkim.key-revoked", &name("k1")), Fail);
    assert_eq!(outcome(&f, "dkim.key-invalid", &name("k1")), NotApplicable);
    assert_eq!(outcome(&f, "dkim.keys-found", D), Fail);
    assert_eq!(outcome(&f, "dkim.syntax", &name("k1")), Pass);
}

#[test]
fn parked_domain_needs_no_key() {
    let f = run_with(&dns(Status::NxDomain, &[]), true);
    assert_eq!(outcome(&f, "dkim.keys-found", D), NotApplicable);
}

/// Regression: a null-MX domain (it accepts no mail and, per the
/// parked-domain practice, sends none) was told to publish a DKIM key.
#[test]
fn null_mx_domain_needs_no_key() {
    let f = run(&dns(Status::NxDomain, &[]).mx(D, &[(0, ".")]));
    assert_eq!(outcome(&f, "dkim.keys-found", D), NotApplicable);
    let with_mx = run(&dns(Status::NxDomain, &[]));
    assert_eq!(outcome(&with_mx, "dkim.keys-found", D), Fail);
}

#[test]
fn record_level_failures() {
    let k = RSA2048.trim();
    let cases: Vec<(&str, String)> = vec![
        ("dkim.syntax", format!("v=DKIM1; p={k}; p={k}")),
        ("dkim.syntax-warning", format!("v=DKIM1; x=1; p={k}")),
        ("dkim.version", format!("k=rsa; v=DKIM1; p={k}")),
        ("dkim.key-type", format!("v=DKIM1; k=dsa; p={k}")),
        ("dkim.key-invalid", "v=DKIM1; p=aGVsbG8=".to_string()),
        ("dkim.testing", format!("v=DKIM1; t=y:s; p={k}")),
        ("dkim.sha1", format!("v=DKIM1; h=sha1; p={k}")),
        ("dkim.service-type", format!("v=DKIM1; s=other; p={k}")),
    ];
    for (id, text) in cases {
        let f = run(&dns(Status::NoData, &[("custom", &[&text])]));
        let hit = find(&f, id, &name("custom"));
        assert_eq!(hit.outcome, Fail, "{id}: {hit:#?}");
        assert!(hit.evidence.contains_key("record"), "{id}");
    }
}

#[test]
fn syntax_errors_carry_carets() {
    let k = RSA2048.trim();
    let text = format!("v=DKIM1; junk; p={k}");
    let f = run(&dns(Status::NoData, &[("custom", &[&text])]));
    let s = find(&f, "dkim.syntax", &name("custom"));
    assert!(s.message.contains("         ^^^^"), "{}", s.message);
    assert_eq!(s.evidence["diagnostics"][0]["code"], "tag-without-value");
    assert_eq!(outcome(&f, "dkim.keys-found", D), Fail);
}

#[test]
fn testing_remediation_keeps_strict_flag() {
    let k = RSA2048.trim();
    let text = format!("v=DKIM1; t=y:s; p={k}");
    let f = run(&dns(Status::NoData, &[("custom", &[&text])]));
    let t = find(&f, "dkim.testing", &name("custom"));
    assert!(
        t.remediation.as_deref().unwrap().ends_with("t=s\""),
        "{:?}",
        t.remediation
    );
    // Testing mode does not make the key unusable.
    assert_eq!(outcome(&f, "dkim.keys-found", D), Pass);
}

#[test]
fn sha1_next_to_sha256_is_low() {
    let k = RSA2048.trim();
    let text = format!("v=DKIM1; h=sha1:sha256; p={k}");
    let f = run(&dns(Status::NoData, &[("custom", &[&text])]));
    let s = find(&f, "dkim.sha1", &name("custom"));
    assert_eq!((s.outcome, s.severity), (Fail, Some(Severity::Low)));
}

#[test]
fn multiple_records_at_one_selector_fail() {
    let a = key(RSA2048);
    let b = key(RSA1024);
    let f = run(&dns(Status::NoData, &[("custom", &[&a, &b])]));
    assert_eq!(outcome(&f, "dkim.multiple-records", &name("custom")), Fail);
    let weak: Vec<&RawFinding> = f.iter().filter(|x| x.id == "dkim.rsa-weak").collect();
    assert_eq!(weak.len(), 2);
    assert!(weak.iter().all(|w| w.message.starts_with("Record ")));
}

fn cname(d: Dns, sel: &str, chain: &[&str], answer: Answer) -> Dns {
    let mut d = d;
    let mut a = answer;
    a.cname_chain = chain.iter().map(|s| s.to_string()).collect();
    d.0.insert(QueryKey::new(&name(sel), RType::Txt), a);
    d
}

#[test]
fn microsoft_365_delegation_reports_the_tenant() {
    let text = key(RSA2048);
    let target = "selector1-example-com._domainkey.contoso.onmicrosoft.com";
    let answer = Answer::with_records(
        vec![RData::Txt {
            strings: vec![text.clone()],
        }],
        Proof::NotValidated,
    );
    let d = cname(dns(Status::NoData, &[]), "selector1", &[target], answer);
    let f = run(&d);
    let del = find(&f, "dkim.delegated", &name("selector1"));
    assert_eq!(del.outcome, Pass);
    assert_eq!(del.evidence["provider"], "Microsoft 365");
    assert_eq!(del.evidence["microsoft_tenant"], "contoso");
    assert!(!del.evidence.contains_key("expected_target_label"));
    assert_eq!(outcome(&f, "dkim.keys-found", D), Pass);
    let keys = &find(&f, "dkim.keys-found", D).evidence["keys"];
    assert_eq!(keys[0]["cname_chain"][0], target);
}

#[test]
fn dangling_delegation_fails() {
    let target = "s1.domainkey.u123.wl.sendgrid.net";
    let d = cname(
        dns(Status::NoData, &[]),
        "s1",
        &[target],
        Answer::empty(Status::NxDomain, Proof::NotValidated),
    );
    let f = run(&d);
    let del = find(&f, "dkim.delegated", &name("s1"));
    assert_eq!(del.outcome, Fail);
    assert_eq!(del.evidence["provider"], "SendGrid");
    assert!(del.remediation.is_some());
    let d = cname(
        dns(Status::NoData, &[]),
        "s1",
        &[target],
        Answer::empty(Status::ServFail, Proof::Indeterminate),
    );
    assert_eq!(outcome(&run(&d), "dkim.delegated", &name("s1")), Indeterminate);
}

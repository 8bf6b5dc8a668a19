//! Tests of the MTA-STS judge: each rule passing, failing and indeterminate.

use mailwarden_model::{
    HttpsFetch, HttpsStatus, Outcome::*, RType, RawFinding, ScanOptions, Severity, SmtpProbe, SmtpStatus, SourceInfo,
    Status,
};
use mailwarden_records::mta_sts::Mode;

use crate::facts::sts::{mx_matches, policy_state};

use super::*;
use crate::testutil::{Dns, fetched, find, outcome, tls_probe};
use crate::tls::cert::Roots;
use crate::tls::testcerts::{self, Ca};

const D: &str = "example.com";
const N: &str = "_mta-sts.example.com";
const STS: &str = "mta-sts.example.com";
const URL: &str = "https://mta-sts.example.com/.well-known/mta-sts.txt";
const MX: &str = "mail.example.com";
const MX_IP: &str = "192.0.2.25";
const ENFORCE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n";

fn run_with(dns: &Dns, roots: &Roots) -> Vec<RawFinding> {
    let options = ScanOptions::default();
    let source = SourceInfo::default();
    let ctx = Context {
        roots,
        domain: D,
        options: &options,
        source: &source,
        now: testcerts::NOW,
    };
    dns.judge(|v| judge(&ctx, v))
}

fn run(dns: &Dns) -> Vec<RawFinding> {
    run_with(dns, &Roots::WebPki)
}

/// A record and an address for the policy host.
fn record() -> Dns {
    Dns::new()
        .txt(N, &["v=STSv1; id=20160831085700Z;", "unrelated"])
        .a(STS, &["192.0.2.80"])
        .aaaa(STS, &[])
}

/// A record, the policy host, and this fetch result.
fn serving(fetch: HttpsFetch) -> Dns {
    record().https(URL, fetch)
}

/// A test CA and a trust store holding only it.
fn ca() -> (Ca, Roots) {
    let ca = Ca::new("Test CA");
    let roots = Roots::from_der(std::slice::from_ref(&ca.der)).unwrap();
    (ca, roots)
}

/// `body` served, MX `mail.example.com` at one address presenting
/// `chain`.
fn enforce_with(body: &str, probe: SmtpProbe) -> Dns {
    serving(fetched(body))
        .mx(D, &[(10, MX)])
        .a(MX, &[MX_IP])
        .aaaa(MX, &[])
        .smtp(MX, MX_IP, probe)
}

const RECORD_RULES: [&str; 3] = ["mta-sts.record", "mta-sts.syntax", "mta-sts.id"];

fn all() -> impl Iterator<Item = &'static str> {
    RECORD_RULES.into_iter().chain(POLICY_RULES)
}

#[test]
fn an_enforced_policy_covering_a_valid_mx_passes_every_rule() {
    let (ca, roots) = ca();
    let leaf = ca.valid_leaf(&[MX]);
    let f = run_with(&enforce_with(ENFORCE, tls_probe(&[leaf.der], "TLSv1.3")), &roots);
    for id in all() {
        assert_eq!(outcome(&f, id, D), Pass, "{id}: {f:#?}");
    }
    assert_eq!(f.len(), 9);
    let p = find(&f, "mta-sts.policy", D);
    assert_eq!(p.evidence["url"], URL);
    assert_eq!(p.evidence["mode"], "enforce");
    assert_eq!(p.evidence["max_age"], 604800);
    assert_eq!(p.evidence["mx"], serde_json::json!([MX]));
    let t = find(&f, "mta-sts.enforce-tls", D);
    assert_eq!(
        t.evidence["valid"],
        serde_json::json!(["mail.example.com (192.0.2.25)"])
    );
}

#[test]
fn no_record_is_not_applicable() {
    for dns in [
        Dns::new().status(N, RType::Txt, Status::NxDomain),
        Dns::new().txt(N, &["v=spf1 -all"]),
    ] {
        let f = run(&dns);
        for id in all() {
            assert_eq!(outcome(&f, id, D), NotApplicable, "{id}");
        }
    }
}

#[test]
fn failed_lookup_is_indeterminate_everywhere() {
    let f = run(&Dns::new().status(N, RType::Txt, Status::Timeout));
    for id in all() {
        assert_eq!(outcome(&f, id, D), Indeterminate, "{id}");
    }
}

#[test]
fn two_records_or_a_lookalike_mean_no_policy() {
    let f = run(&Dns::new().txt(N, &["v=STSv1; id=1", "v=STSv1; id=2"]));
    let r = find(&f, "mta-sts.record", D);
    assert_eq!(r.outcome, Fail);
    assert!(r.message.contains("no MTA-STS policy"));
    for id in POLICY_RULES {
        assert_eq!(outcome(&f, id, D), NotApplicable, "{id}");
    }
    let f = run(&Dns::new().txt(N, &["v=stsv1; id=1"]));
    assert_eq!(outcome(&f, "mta-sts.record", D), Fail);
    assert_eq!(outcome(&f, "mta-sts.syntax", D), NotApplicable);
}

#[test]
fn syntax_errors_fail_with_carets_and_id_is_separate() {
    let f = run(&Dns::new().txt(N, &["v=STSv1; id=1; junk"]));
    let s = find(&f, "mta-sts.syntax", D);
    assert_eq!(s.outcome, Fail);
    assert!(
        s.message.contains("missing-equals") && s.message.contains('^'),
        "{}",
        s.message
    );
    assert_eq!(outcome(&f, "mta-sts.id", D), Pass);
    let f = run(&Dns::new().txt(N, &["v=STSv1; id=2016-08-31"]));
    assert_eq!(outcome(&f, "mta-sts.syntax", D), Pass);
    let i = find(&f, "mta-sts.id", D);
    assert_eq!(i.outcome, Fail);
    assert!(i.remediation.as_deref().unwrap().contains("v=STSv1; id="));
    // An invalid record is no record (RFC 8461 §3.1): no policy is
    // fetched (the test gives no answers for it), none is judged.
    let f = run(&Dns::new().txt(N, &["v=STSv1;"]));
    assert_eq!(outcome(&f, "mta-sts.id", D), Fail);
    for id in POLICY_RULES {
        let p = find(&f, id, D);
        assert_eq!(p.outcome, NotApplicable, "{id}");
        assert!(p.message.contains("record is invalid"), "{}", p.message);
    }
}

/// The policy rules of `f` other than `mta-sts.policy` are not
/// applicable: there is no policy to judge.
fn rest_not_applicable(f: &[RawFinding]) {
    for id in &POLICY_RULES[1..] {
        assert_eq!(outcome(f, id, D), NotApplicable, "{id}: {f:#?}");
    }
}

#[test]
fn a_policy_host_without_an_address_fails_the_policy() {
    let dns = Dns::new()
        .txt(N, &["v=STSv1; id=1"])
        .status(STS, RType::A, Status::NxDomain)
        .status(STS, RType::Aaaa, Status::NxDomain);
    let f = run(&dns);
    let p = find(&f, "mta-sts.policy", D);
    assert_eq!(p.outcome, Fail, "{p:#?}");
    assert!(
        p.message.contains("mta-sts.example.com has no address"),
        "{}",
        p.message
    );
    assert_eq!(p.evidence["host"], STS);
    assert!(p.remediation.as_deref().unwrap().contains("A and/or AAAA"));
    rest_not_applicable(&f);
}

#[test]
fn a_redirect_is_not_followed_and_fails_the_policy() {
    let mut redirect = HttpsFetch::status(HttpsStatus::Redirect, None);
    redirect.http_status = Some(301);
    redirect.location = Some("https://www.example.com/mta-sts.txt".into());
    redirect.address = Some("192.0.2.80:443".parse().unwrap());
    let f = run(&serving(redirect));
    let p = find(&f, "mta-sts.policy", D);
    assert_eq!(p.outcome, Fail);
    assert!(
        p.message
            .contains("HTTP 301 redirecting to https://www.example.com/mta-sts.txt")
            && p.message.contains("MUST NOT be followed"),
        "{}",
        p.message
    );
    assert_eq!(p.evidence["location"], "https://www.example.com/mta-sts.txt");
    assert_eq!(p.evidence["http_status"], 301);
    assert_eq!(p.evidence["address"], "192.0.2.80:443");
    assert_eq!(p.evidence["status"], "redirect");
    rest_not_applicable(&f);
}

#[test]
fn other_fetch_failures_fail_the_policy_with_their_evidence() {
    let mut not_found = HttpsFetch::status(HttpsStatus::HttpStatus, None);
    not_found.http_status = Some(404);
    let mut big = HttpsFetch::status(HttpsStatus::TooLarge, Some("over 65536 bytes".into()));
    big.address = Some("192.0.2.80:443".parse().unwrap());
    let mut html = fetched("<html>policy</html>");
    html.content_type = Some("text/html; charset=utf-8".into());
    let mut untyped = fetched(ENFORCE);
    untyped.content_type = None;
    let cases = [
        (not_found, "HTTP 404", "http_status"),
        (big, "larger than 64 KiB", "detail"),
        (
            HttpsFetch::status(HttpsStatus::NotUtf8, Some("invalid byte at offset 3".into())),
            "not UTF-8",
            "detail",
        ),
        (
            HttpsFetch::status(HttpsStatus::Unreachable, Some("connection refused".into())),
            "accepted an HTTPS connection (connection refused)",
            "detail",
        ),
        (html, "\"text/html; charset=utf-8\", not text/plain", "content_type"),
        (untyped, "no Content-Type", "url"),
    ];
    for (fetch, says, key) in cases {
        let f = run(&serving(fetch));
        let p = find(&f, "mta-sts.policy", D);
        assert_eq!(p.outcome, Fail, "{says}: {p:#?}");
        assert!(p.message.contains(says), "{says}: {}", p.message);
        assert!(p.evidence.contains_key(key), "{key}: {:?}", p.evidence);
        if says.contains("text/plain") || says.contains("Content-Type") {
            let fix = p.remediation.as_deref().unwrap();
            assert!(fix.contains("`Content-Type: text/plain`"), "{fix}");
        }
        rest_not_applicable(&f);
    }
}

#[test]
fn a_policy_certificate_for_another_name_fails_with_the_names_it_has() {
    let (ca, roots) = ca();
    let leaf = ca.valid_leaf(&["www.example.com"]);
    let mut tls = HttpsFetch::status(HttpsStatus::TlsFailed, Some("invalid peer certificate".into()));
    tls.tls_problem = Some("name".into());
    tls.chain = vec![mailwarden_model::probe::Der(leaf.der)];
    let f = run_with(&serving(tls), &roots);
    let p = find(&f, "mta-sts.policy", D);
    assert_eq!(p.outcome, Fail);
    assert!(
        p.message
            .contains("its certificate is not valid for mta-sts.example.com"),
        "{}",
        p.message
    );
    assert_eq!(p.evidence["tls_problem"], "name");
    assert_eq!(
        p.evidence["certificate"]["names"],
        serde_json::json!(["www.example.com"])
    );
    assert_eq!(p.evidence["certificate"]["pkix"]["verdict"], "trusted");
    assert!(p.remediation.as_deref().unwrap().contains("publicly trusted CA"));
    rest_not_applicable(&f);
}

#[test]
fn a_policy_that_could_not_be_fetched_or_resolved_is_indeterminate() {
    let no_https = HttpsFetch::status(HttpsStatus::NotProbed, Some("HTTPS fetches are off".into()));
    let refused = HttpsFetch::status(HttpsStatus::EgressRefused, Some("192.0.2.80 is not global".into()));
    let lookup = Dns::new()
        .txt(N, &["v=STSv1; id=1"])
        .status(STS, RType::A, Status::Timeout)
        .status(STS, RType::Aaaa, Status::NoData);
    for (dns, says) in [
        (serving(no_https), "HTTPS fetches are off"),
        (serving(refused), "not global"),
        (lookup, "mta-sts.example.com/A"),
    ] {
        let f = run(&dns);
        for id in POLICY_RULES {
            let p = find(&f, id, D);
            assert_eq!(p.outcome, Indeterminate, "{id}");
            assert!(p.message.contains(says), "{id}: {}", p.message);
        }
    }
}

#[test]
fn policy_syntax_errors_fail_with_lines_and_carets() {
    let body = "version: STSv1\r\nmode: Enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n";
    let f = run(&serving(fetched(body)));
    assert_eq!(outcome(&f, "mta-sts.policy", D), Pass, "fetched, just not valid");
    let s = find(&f, "mta-sts.policy-syntax", D);
    assert_eq!(s.outcome, Fail);
    assert!(
        s.message.contains("line 2 (mode)") && s.message.contains("mode: Enforce\n      ^^^^^^^"),
        "{}",
        s.message
    );
    assert_eq!(s.evidence["diagnostics"][0]["line"], 2);
    assert_eq!(s.evidence["diagnostics"][0]["caret"], "mode: Enforce\n      ^^^^^^^");
    assert!(s.remediation.as_deref().unwrap().contains("version: STSv1"));
    // Senders cannot apply it: the content rules have nothing to judge
    // (and MX is not even asked).
    for id in CONTENT_RULES {
        assert_eq!(outcome(&f, id, D), NotApplicable, "{id}");
    }
    // Over a year is a syntax error, not a max-age finding.
    let body = "version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 31557601\r\n";
    let f = run(&serving(fetched(body)));
    let s = find(&f, "mta-sts.policy-syntax", D);
    assert_eq!(s.outcome, Fail);
    assert!(s.message.contains("max-age-too-long"), "{}", s.message);
    assert_eq!(outcome(&f, "mta-sts.max-age", D), NotApplicable);
}

#[test]
fn policy_warnings_are_evidence_on_a_pass() {
    let body = "version: STSv1\nmode: none\nmax_age: 86400\nmode: enforce\n";
    let f = run(&serving(fetched(body)));
    let s = find(&f, "mta-sts.policy-syntax", D);
    assert_eq!(s.outcome, Pass, "{s:#?}");
    assert_eq!(s.evidence["line_endings"], "lf");
    let codes: Vec<&str> = (s.evidence["warnings"].as_array().unwrap().iter())
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["lf-line-endings", "duplicate-key"]);
    // The first mode counts: none.
    assert_eq!(find(&f, "mta-sts.mode", D).evidence["mode"], "none");
}

#[test]
fn testing_mode_is_not_yet_protecting() {
    let body = "version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 604800\r\n";
    let dns = serving(fetched(body)).mx(D, &[(10, MX)]).a(MX, &[MX_IP]).aaaa(MX, &[]);
    let f = run(&dns);
    let m = find(&f, "mta-sts.mode", D);
    assert_eq!(m.outcome, Fail);
    assert!(m.severity.is_none(), "the catalogue's medium");
    assert!(m.message.contains("not yet protecting"), "{}", m.message);
    let fix = m.remediation.as_deref().unwrap();
    assert!(fix.contains("TLS-RPT") && fix.contains("mode: enforce"), "{fix}");
    // Not enforced: no probe is asked for (the test gives none).
    let t = find(&f, "mta-sts.enforce-tls", D);
    assert_eq!(t.outcome, NotApplicable);
    assert!(t.message.contains("testing mode"), "{}", t.message);
    assert_eq!(outcome(&f, "mta-sts.mx-match", D), Pass);
}

#[test]
fn mode_none_is_a_withdrawal_and_low() {
    let body = "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n";
    let f = run(&serving(fetched(body)));
    let m = find(&f, "mta-sts.mode", D);
    assert_eq!(m.outcome, Fail);
    assert!(m.severity.is_some());
    assert_eq!(m.severity, Some(Severity::Low));
    assert!(m.message.contains("withdraws"), "{}", m.message);
    // Nothing else to judge, and MX is not asked.
    for id in ["mta-sts.max-age", "mta-sts.mx-match", "mta-sts.enforce-tls"] {
        assert_eq!(outcome(&f, id, D), NotApplicable, "{id}");
    }
}

#[test]
fn a_max_age_under_a_day_fails_and_a_day_passes() {
    let (ca, roots) = ca();
    let probe = || tls_probe(&[ca.valid_leaf(&[MX]).der], "TLSv1.3");
    let short = ENFORCE.replace("604800", "3600");
    let f = run_with(&enforce_with(&short, probe()), &roots);
    let a = find(&f, "mta-sts.max-age", D);
    assert_eq!(a.outcome, Fail);
    assert!(
        a.message.contains("`max_age: 3600` (1 hour) is under a day") && a.message.contains("weeks"),
        "{}",
        a.message
    );
    assert!(a.remediation.as_deref().unwrap().contains("max_age: 604800"));
    // Judged here, so not repeated as a syntax warning.
    let s = find(&f, "mta-sts.policy-syntax", D);
    assert_eq!(s.outcome, Pass);
    assert!(!s.evidence.contains_key("warnings"), "{s:#?}");
    let day = ENFORCE.replace("604800", "86400");
    let f = run_with(&enforce_with(&day, probe()), &roots);
    let a = find(&f, "mta-sts.max-age", D);
    assert_eq!(a.outcome, Pass);
    assert!(a.message.contains("expects weeks"), "{}", a.message);
}

#[test]
fn an_mx_outside_every_pattern_fails_critical_under_enforce() {
    let (ca, roots) = ca();
    let dns = enforce_with(ENFORCE, tls_probe(&[ca.valid_leaf(&[MX]).der], "TLSv1.3"))
        .mx(D, &[(10, MX), (20, "backup.example.net")])
        .a("backup.example.net", &["192.0.2.26"])
        .aaaa("backup.example.net", &[]);
    // The uncovered backup is not probed: the test gives no probe.
    let f = run_with(&dns, &roots);
    let m = find(&f, "mta-sts.mx-match", D);
    assert_eq!(m.outcome, Fail);
    assert_eq!(m.severity, Some(Severity::Critical));
    assert!(m.severity.is_some());
    assert_eq!(m.evidence["uncovered"], serde_json::json!(["backup.example.net"]));
    assert_eq!(m.evidence["mx_patterns"], serde_json::json!([MX]));
    assert!(
        m.message.contains("1 of 2 MX host(s)") && m.message.contains("do not deliver to them"),
        "{}",
        m.message
    );
    assert!(m.remediation.as_deref().unwrap().contains("`mx: backup.example.net`"));
    assert_eq!(outcome(&f, "mta-sts.enforce-tls", D), Pass);
}

#[test]
fn an_uncovered_mx_under_testing_is_high_and_a_wildcard_covers_one_label() {
    let body = "version: STSv1\r\nmode: testing\r\nmx: *.example.com\r\nmax_age: 604800\r\n";
    let dns = serving(fetched(body))
        .mx(D, &[(10, MX), (20, "a.b.example.com")])
        .a(MX, &[MX_IP])
        .aaaa(MX, &[])
        .a("a.b.example.com", &["192.0.2.26"])
        .aaaa("a.b.example.com", &[]);
    let f = run(&dns);
    let m = find(&f, "mta-sts.mx-match", D);
    assert_eq!(m.outcome, Fail);
    assert!(m.severity.is_none(), "the catalogue's high");
    assert_eq!(m.evidence["uncovered"], serde_json::json!(["a.b.example.com"]));
    assert!(m.message.contains("testing mode"), "{}", m.message);
    let dns = serving(fetched(body))
        .mx(D, &[(10, "MAIL.example.com.")])
        .a(MX, &[MX_IP])
        .aaaa(MX, &[]);
    let f = run(&dns);
    let m = find(&f, "mta-sts.mx-match", D);
    assert_eq!(m.outcome, Pass);
    assert_eq!(m.evidence["matches"][MX], "*.example.com");
}

#[test]
fn mx_match_is_indeterminate_when_mx_cannot_be_looked_up() {
    let f = run(&serving(fetched(ENFORCE)).status(D, RType::Mx, Status::ServFail));
    for id in ["mta-sts.mx-match", "mta-sts.enforce-tls"] {
        assert_eq!(outcome(&f, id, D), Indeterminate, "{id}");
    }
    let f = run(&serving(fetched(ENFORCE)).status(D, RType::Mx, Status::NoData));
    assert_eq!(outcome(&f, "mta-sts.mx-match", D), NotApplicable);
}

#[test]
fn enforce_fails_for_an_mx_without_a_valid_certificate_or_starttls() {
    let (ca, roots) = ca();
    let other = Ca::new("Other CA");
    let cases = [
        (
            tls_probe(&[other.valid_leaf(&[MX]).der], "TLSv1.3"),
            "the certificate is not trusted",
        ),
        (
            tls_probe(&[ca.valid_leaf(&["other.example.net"]).der], "TLSv1.3"),
            "the certificate is for other.example.net, not mail.example.com",
        ),
        (
            tls_probe(&[ca.leaf(&[MX], (2020, 1, 1), (2021, 1, 1)).der], "TLSv1.3"),
            "expired",
        ),
        (
            SmtpProbe::status(SmtpStatus::NoStarttls, None),
            "does not offer STARTTLS",
        ),
        (
            SmtpProbe::status(SmtpStatus::HandshakeFailed, Some("alert: protocol version".into())),
            "the TLS handshake fails (alert: protocol version)",
        ),
    ];
    for (probe, says) in cases {
        let f = run_with(&enforce_with(ENFORCE, probe), &roots);
        let t = find(&f, "mta-sts.enforce-tls", D);
        assert_eq!(t.outcome, Fail, "{says}: {t:#?}");
        assert!(
            t.message.contains("- mail.example.com (192.0.2.25): ") && t.message.contains(says),
            "{says}: {}",
            t.message
        );
        assert_eq!(t.evidence["refused"][0]["host"], MX);
        assert!(t.remediation.as_deref().unwrap().contains("mode: testing"));
        // The record, the policy and the match are all fine.
        assert_eq!(outcome(&f, "mta-sts.mx-match", D), Pass);
    }
}

#[test]
fn enforce_is_indeterminate_when_an_mx_could_not_be_probed() {
    let (_, roots) = ca();
    let refused = SmtpProbe::status(SmtpStatus::EgressRefused, Some("192.0.2.25 is not global".into()));
    let f = run_with(&enforce_with(ENFORCE, refused), &roots);
    let t = find(&f, "mta-sts.enforce-tls", D);
    assert_eq!(t.outcome, Indeterminate);
    assert!(t.message.contains("egress-refused"), "{}", t.message);
    // A failure elsewhere outweighs the unknown.
    let (ca, roots) = ca();
    let dns = enforce_with(ENFORCE, SmtpProbe::status(SmtpStatus::NotProbed, None))
        .mx(D, &[(10, MX), (20, "mx2.example.com")])
        .a("mx2.example.com", &["192.0.2.26"])
        .aaaa("mx2.example.com", &[])
        .smtp(
            "mx2.example.com",
            "192.0.2.26",
            tls_probe(&[ca.valid_leaf(&[MX]).der], "TLSv1.3"),
        );
    let body = ENFORCE.replace("mx: mail.example.com", "mx: *.example.com");
    let dns = Dns(dns.0, dns.1).https(URL, fetched(&body));
    let f = run_with(&dns, &roots);
    let t = find(&f, "mta-sts.enforce-tls", D);
    assert_eq!(t.outcome, Fail, "{t:#?}");
    assert_eq!(t.evidence["refused"][0]["host"], "mx2.example.com");
    assert_eq!(t.evidence["not_checked"].as_array().unwrap().len(), 1);
}

#[test]
fn mx_patterns_match_as_rfc_8461_section_4_1_says() {
    assert!(mx_matches("*.example.com", "mx.example.com"));
    assert!(!mx_matches("*.example.com", "example.com"));
    assert!(!mx_matches("*.example.com", "a.b.example.com"));
    assert!(!mx_matches("*.example.com", ".example.com"));
    assert!(mx_matches("mail.example.com", "MAIL.Example.COM"));
    assert!(mx_matches("*.EXAMPLE.com", "mx.example.com."));
    assert!(mx_matches("mail.example.com.", "mail.example.com"));
    assert!(!mx_matches("mail.example.com", "mail.example.com.evil.test"));
    assert!(!mx_matches("mail.example.com", "other.example.com"));
    assert!(!mx_matches("example.com", "mx.example.com"), "no implicit wildcard");
}

#[test]
fn policy_state_reports_coverage_and_mode() {
    let dns = serving(fetched(ENFORCE));
    let view = mailwarden_model::DnsView::with_probes(&dns.0, &dns.1);
    let state = policy_state(D, &view);
    assert_eq!(state.mode(), Some(Mode::Enforce));
    assert_eq!(state.covers("mail.example.com."), Some(true));
    assert_eq!(state.covers("backup.example.com"), Some(false));
    let dns = serving(HttpsFetch::status(HttpsStatus::NotCollected, None));
    let view = mailwarden_model::DnsView::with_probes(&dns.0, &dns.1);
    let state = policy_state(D, &view);
    assert_eq!(state.covers(MX), None);
    assert_eq!(state.mode(), None);
}

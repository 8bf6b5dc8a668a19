//! The SMTP judge over hand-built evidence: probe results and test
//! certificates from a test CA that the context trusts.

use mailwarden_model::{
    Outcome::*, RType, RawFinding, ScanOptions, Severity, SmtpProbe, SmtpStatus, SourceInfo, Status,
};

use super::*;
use crate::testutil::{Dns, fetched, find, outcome, tls_probe};
use crate::tls::cert::Roots;
use crate::tls::testcerts::{Ca, FakeRsa, NOW, self_signed, sha1_leaf};

const D: &str = "example.com";
const MX: &str = "mx.example.com";
const IP: &str = "192.0.2.25";
const S: &str = "mx.example.com (192.0.2.25)";
const ENFORCE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 604800\r\n";

/// A test CA and a context that trusts it.
struct Fixture {
    ca: Ca,
    roots: Roots,
}

impl Fixture {
    fn new() -> Self {
        let ca = Ca::new("Test CA");
        let roots = Roots::from_der(std::slice::from_ref(&ca.der)).unwrap();
        Self { ca, roots }
    }

    fn run(&self, dns: &Dns) -> Vec<RawFinding> {
        let options = ScanOptions::default();
        let source = SourceInfo::default();
        let ctx = Context {
            domain: D,
            options: &options,
            source: &source,
            now: NOW,
            roots: &self.roots,
        };
        dns.judge(|v| judge(&ctx, v))
    }

    /// A TLS 1.3 session presenting `leaf` and the CA.
    fn session(&self, leaf: Vec<u8>) -> SmtpProbe {
        tls_probe(&[leaf, self.ca.der.clone()], "TLSv1.3")
    }

    fn good(&self) -> SmtpProbe {
        self.session(self.ca.valid_leaf(&[MX]).der)
    }

    /// A leaf for the MX valid from `from` to `until`.
    fn dated(&self, from: (i32, u8, u8), until: (i32, u8, u8)) -> SmtpProbe {
        self.session(self.ca.leaf(&[MX], from, until).der)
    }
}

/// One MX with one IPv4 address, probed as `probe`; no TLSA records.
fn probed(probe: SmtpProbe) -> Dns {
    Dns::new()
        .mx(D, &[(10, MX)])
        .a(MX, &[IP])
        .status(MX, RType::Aaaa, Status::NoData)
        .status(&crate::dane::tlsa_name(MX), RType::Tlsa, Status::NoData)
        .smtp(MX, IP, probe)
}

/// The domain has no MTA-STS record.
fn no_sts(dns: Dns) -> Dns {
    dns.status(&format!("_mta-sts.{D}"), RType::Txt, Status::NxDomain)
}

/// The domain has a valid MTA-STS policy with this body.
fn sts(dns: Dns, policy: &str) -> Dns {
    dns.txt(&format!("_mta-sts.{D}"), &["v=STSv1; id=20250101"])
        .a(&format!("mta-sts.{D}"), &["192.0.2.80"])
        .status(&format!("mta-sts.{D}"), RType::Aaaa, Status::NoData)
        .https(&crate::facts::sts::policy_url(D), fetched(policy))
}

fn status(status: SmtpStatus, detail: &str) -> SmtpProbe {
    let mut p = SmtpProbe::status(status, Some(detail.into()));
    p.port = Some(25);
    p
}

fn ids(f: &[RawFinding]) -> Vec<&str> {
    f.iter().map(|f| f.id.as_str()).collect()
}

#[test]
fn a_good_server_passes_every_rule_without_asking_for_mta_sts() {
    let fx = Fixture::new();
    let f = fx.run(&probed(fx.good()));
    assert_eq!(ids(&f), RULES.to_vec());
    for id in RULES {
        assert_eq!(outcome(&f, id, S), Pass, "{id}: {f:#?}");
    }
    let name = find(&f, "smtp.cert-name", S);
    assert_eq!(name.evidence["san"], serde_json::json!([MX]));
    assert_eq!(name.evidence["not_after"], "2027-01-01T00:00:00Z");
    assert_eq!(name.evidence["sha256"].as_str().unwrap().len(), 64);
    assert!(name.evidence["issuer"].as_str().unwrap().contains("Test CA"));
}

#[test]
fn a_refused_target_is_indeterminate_and_says_how_to_allow_it() {
    let fx = Fixture::new();
    let probe = status(
        SmtpStatus::EgressRefused,
        "not probed: 10.0.0.25 is private, not a global address",
    );
    let f = fx.run(&probed(probe));
    let p = find(&f, "smtp.probed", S);
    assert_eq!(p.outcome, Indeterminate);
    assert!(p.message.contains("--allow-private-targets"), "{}", p.message);
    assert_eq!(p.evidence["status"], "egress-refused");
    for id in RULES {
        assert_eq!(outcome(&f, id, S), Indeterminate, "{id}");
    }
}

#[test]
fn every_could_not_look_status_is_indeterminate_never_a_failure() {
    let fx = Fixture::new();
    for (st, words) in [
        (SmtpStatus::NoRoute, "no route"),
        (SmtpStatus::NotProbed, "--no-smtp"),
        (SmtpStatus::BudgetExhausted, "budget"),
        (SmtpStatus::NotCollected, "holds no probe"),
    ] {
        let probe = SmtpProbe::status(
            st,
            (st == SmtpStatus::NotProbed).then(|| "SMTP probes are off (--no-smtp)".into()),
        );
        let f = fx.run(&probed(probe));
        assert!(f.iter().all(|f| f.outcome == Indeterminate), "{st:?}: {f:#?}");
        assert!(find(&f, "smtp.probed", S).message.contains(words), "{st:?}");
    }
}

#[test]
fn unreachable_port_25_fails_reachable_and_leaves_the_rest_indeterminate() {
    let fx = Fixture::new();
    let f = fx.run(&probed(status(SmtpStatus::Unreachable, "connection refused")));
    let r = find(&f, "smtp.reachable", S);
    assert_eq!(r.outcome, Fail);
    assert!(r.message.contains("from the scanner's network"), "{}", r.message);
    assert!(r.remediation.as_deref().unwrap().contains("port 25"));
    assert_eq!(outcome(&f, "smtp.probed", S), Pass, "the probe was made");
    for id in ["smtp.starttls", "smtp.handshake", "smtp.cert-expired", "smtp.injection"] {
        assert_eq!(outcome(&f, id, S), Indeterminate, "{id}");
    }
    // A server that accepted and then went silent is reachable.
    let f = fx.run(&probed(status(SmtpStatus::Timeout, "timed out during EHLO")));
    assert_eq!(outcome(&f, "smtp.reachable", S), Pass);
    let s = find(&f, "smtp.starttls", S);
    assert_eq!(s.outcome, Indeterminate);
    assert!(s.message.contains("timed out during EHLO"), "{}", s.message);
}

#[test]
fn no_starttls_fails_and_later_stages_do_not_apply() {
    let fx = Fixture::new();
    let mut probe = status(SmtpStatus::NoStarttls, "the server does not offer STARTTLS");
    probe.ehlo_keywords = vec!["PIPELINING".into(), "8BITMIME".into()];
    let f = fx.run(&probed(probe));
    let s = find(&f, "smtp.starttls", S);
    assert_eq!(s.outcome, Fail);
    assert_eq!(
        s.evidence["ehlo_keywords"],
        serde_json::json!(["PIPELINING", "8BITMIME"])
    );
    for id in &RULES[3..] {
        let n = find(&f, id, S);
        assert_eq!(n.outcome, NotApplicable, "{id}");
        assert!(n.message.contains("smtp.starttls"), "{id}: {}", n.message);
    }
    assert_eq!(outcome(&f, "smtp.reachable", S), Pass);
}

#[test]
fn starttls_refused_fails_with_the_reply() {
    let fx = Fixture::new();
    let mut probe = status(SmtpStatus::StarttlsRefused, "STARTTLS refused");
    probe.reply = Some("454 4.7.0 TLS not available due to local problem".into());
    let f = fx.run(&probed(probe));
    let r = find(&f, "smtp.starttls-refused", S);
    assert_eq!(r.outcome, Fail);
    assert!(r.message.contains("454 4.7.0"), "{}", r.message);
    assert_eq!(r.evidence["reply"], "454 4.7.0 TLS not available due to local problem");
    assert_eq!(outcome(&f, "smtp.starttls", S), Pass, "it was advertised");
    assert_eq!(outcome(&f, "smtp.handshake", S), NotApplicable);
    assert_eq!(outcome(&f, "smtp.cert-untrusted", S), NotApplicable);
    // Accepted STARTTLS passes.
    let f = fx.run(&probed(fx.good()));
    assert_eq!(outcome(&f, "smtp.starttls-refused", S), Pass);
}

#[test]
fn a_protocol_version_failure_means_only_tls_below_1_2() {
    let fx = Fixture::new();
    let mut by_alert = status(
        SmtpStatus::HandshakeFailed,
        "TLS handshake failed: received fatal alert: ProtocolVersion",
    );
    by_alert.alert = Some("ProtocolVersion".into());
    let by_rustls = status(
        SmtpStatus::HandshakeFailed,
        "TLS handshake failed: peer is incompatible: ServerDoesNotSupportTls12Or13",
    );
    for probe in [by_alert, by_rustls] {
        let f = fx.run(&probed(probe));
        let h = find(&f, "smtp.handshake", S);
        assert_eq!(h.outcome, Fail);
        assert!(h.message.contains("only TLS below 1.2"), "{}", h.message);
        assert!(h.evidence.contains_key("alert") && h.evidence.contains_key("detail"));
        assert_eq!(outcome(&f, "smtp.tls-version", S), NotApplicable);
        assert_eq!(outcome(&f, "smtp.cert-expired", S), NotApplicable);
        assert_eq!(outcome(&f, "smtp.starttls-refused", S), Pass);
    }
    let mut other = status(
        SmtpStatus::HandshakeFailed,
        "TLS handshake failed: received fatal alert: HandshakeFailure",
    );
    other.alert = Some("HandshakeFailure".into());
    let f = fx.run(&probed(other));
    let h = find(&f, "smtp.handshake", S);
    assert_eq!(h.outcome, Fail);
    assert!(!h.message.contains("below 1.2"), "{}", h.message);
    assert!(h.message.contains("HandshakeFailure"), "{}", h.message);
    assert_eq!(h.evidence["alert"], "HandshakeFailure");
}

#[test]
fn tls_1_2_is_a_low_failure_and_tls_1_3_passes() {
    let fx = Fixture::new();
    let leaf = fx.ca.valid_leaf(&[MX]).der;
    let f = fx.run(&probed(tls_probe(&[leaf, fx.ca.der.clone()], "TLSv1.2")));
    let v = find(&f, "smtp.tls-version", S);
    assert_eq!(v.outcome, Fail);
    assert!(v.message.contains("TLS 1.3 not offered"), "{}", v.message);
    assert!(v.severity.is_none(), "low comes from the catalogue");
    assert_eq!(outcome(&f, "smtp.cipher", S), Pass, "ECDHE with AES-GCM");
    let p = find(&fx.run(&probed(fx.good())), "smtp.tls-version", S).clone();
    assert_eq!(p.outcome, Pass);
    assert!(
        p.message.contains("smtp.legacy-protocol"),
        "points at the legacy probe: {}",
        p.message
    );
}

#[test]
fn a_weak_negotiated_suite_fails_and_an_unreadable_one_is_indeterminate() {
    let fx = Fixture::new();
    let mut probe = fx.good();
    probe.tls.as_mut().unwrap().cipher_suite = "TLS_RSA_WITH_AES_128_CBC_SHA".into();
    let f = fx.run(&probed(probe.clone()));
    let c = find(&f, "smtp.cipher", S);
    assert_eq!(c.outcome, Fail);
    assert_eq!(c.evidence["cipher_suite"], "TLS_RSA_WITH_AES_128_CBC_SHA");
    assert_eq!(
        c.evidence["weaknesses"].as_array().unwrap().len(),
        3,
        "{:?}",
        c.evidence
    );
    probe.tls.as_mut().unwrap().cipher_suite = "Unknown(0xcafe)".into();
    assert_eq!(outcome(&fx.run(&probed(probe)), "smtp.cipher", S), Indeterminate);
}

#[test]
fn bytes_before_the_handshake_are_injection() {
    let fx = Fixture::new();
    let mut probe = fx.good();
    probe.pre_handshake_bytes = Some("250 injected\\r\\n".into());
    let f = fx.run(&probed(probe));
    let i = find(&f, "smtp.injection", S);
    assert_eq!(i.outcome, Fail);
    assert!(i.message.contains("CVE-2011-0411"), "{}", i.message);
    assert_eq!(i.evidence["pre_handshake_bytes"], "250 injected\\r\\n");
    assert_eq!(outcome(&fx.run(&probed(fx.good())), "smtp.injection", S), Pass);
}

#[test]
fn an_expired_certificate_is_medium_and_not_also_untrusted() {
    let fx = Fixture::new();
    let f = fx.run(&no_sts(probed(fx.dated((2024, 1, 1), (2025, 6, 1)))));
    let e = find(&f, "smtp.cert-expired", S);
    assert_eq!(e.outcome, Fail);
    assert!(e.severity.is_none(), "medium from the catalogue");
    assert!(e.message.contains("opportunistic"), "{}", e.message);
    assert_eq!(e.evidence["not_after"], "2025-06-01T00:00:00Z");
    assert!(e.remediation.as_deref().unwrap().contains("Renew"));
    let u = find(&f, "smtp.cert-untrusted", S);
    assert_eq!(u.outcome, Pass, "only the dates are wrong: {}", u.message);
    assert!(u.message.contains("Apart from the leaf's validity dates"));
    assert_eq!(outcome(&f, "smtp.cert-expiring", S), NotApplicable);
    assert_eq!(outcome(&f, "smtp.cert-not-yet-valid", S), Pass);
}

#[test]
fn a_certificate_not_yet_valid_fails() {
    let fx = Fixture::new();
    let f = fx.run(&no_sts(probed(fx.dated((2026, 2, 1), (2027, 1, 1)))));
    assert_eq!(outcome(&f, "smtp.cert-not-yet-valid", S), Fail);
    assert_eq!(outcome(&f, "smtp.cert-expired", S), Pass);
    assert_eq!(outcome(&f, "smtp.cert-untrusted", S), Pass);
    assert_eq!(outcome(&f, "smtp.cert-expiring", S), NotApplicable);
}

#[test]
fn a_certificate_for_another_name_fails_with_its_names() {
    let fx = Fixture::new();
    let leaf = fx.ca.valid_leaf(&["other.example.net", "www.example.net"]).der;
    let f = fx.run(&no_sts(probed(fx.session(leaf))));
    let n = find(&f, "smtp.cert-name", S);
    assert_eq!(n.outcome, Fail);
    assert_eq!(
        n.evidence["san"],
        serde_json::json!(["other.example.net", "www.example.net"])
    );
    assert!(
        n.message.contains("other.example.net, www.example.net"),
        "{}",
        n.message
    );
    assert!(n.remediation.as_deref().unwrap().contains(MX));
    assert_eq!(outcome(&f, "smtp.cert-untrusted", S), Pass, "the chain itself is fine");
}

#[test]
fn an_untrusted_chain_fails_with_the_reason() {
    let fx = Fixture::new();
    let f = fx.run(&no_sts(probed(tls_probe(&[self_signed(&[MX]).der], "TLSv1.3"))));
    let u = find(&f, "smtp.cert-untrusted", S);
    assert_eq!(u.outcome, Fail);
    let reason = u.evidence["reason"].as_str().unwrap();
    assert!(
        reason.contains("unknown issuer") && reason.contains("the given CA file"),
        "{reason}"
    );
    assert_eq!(outcome(&f, "smtp.cert-name", S), Pass);
    // No certificate at all is untrusted too, and the leaf rules cannot look.
    let f = fx.run(&no_sts(probed(tls_probe(&[], "TLSv1.3"))));
    let u = find(&f, "smtp.cert-untrusted", S);
    assert_eq!(u.outcome, Fail);
    assert!(u.message.contains("no certificate presented"), "{}", u.message);
    assert_eq!(outcome(&f, "smtp.cert-expired", S), Indeterminate);
    assert_eq!(outcome(&f, "smtp.cert-weak-key", S), Indeterminate);
}

#[test]
fn a_certificate_expiring_within_14_days_is_reported() {
    let fx = Fixture::new();
    let f = fx.run(&probed(fx.dated((2025, 1, 1), (2026, 1, 6))));
    let x = find(&f, "smtp.cert-expiring", S);
    assert_eq!(x.outcome, Fail);
    assert_eq!(x.evidence["days_left"], 5);
    assert!(x.message.contains("5 day(s)"), "{}", x.message);
    let f = fx.run(&probed(fx.dated((2025, 1, 1), (2026, 1, 31))));
    assert_eq!(outcome(&f, "smtp.cert-expiring", S), Pass);
}

#[test]
fn a_weak_rsa_key_fails_and_2048_bits_pass() {
    let fx = Fixture::new();
    let dates = ((2025, 1, 1), (2027, 1, 1));
    let weak = fx.ca.leaf_with_key(&[MX], dates.0, dates.1, &FakeRsa::new(1024));
    let f = fx.run(&no_sts(probed(fx.session(weak))));
    let w = find(&f, "smtp.cert-weak-key", S);
    assert_eq!(w.outcome, Fail);
    assert!(w.message.contains("1024 bits"), "{}", w.message);
    let fine = fx.ca.leaf_with_key(&[MX], dates.0, dates.1, &FakeRsa::new(2048));
    let f = fx.run(&no_sts(probed(fx.session(fine))));
    assert_eq!(outcome(&f, "smtp.cert-weak-key", S), Pass);
}

#[test]
fn a_sha1_signature_below_the_root_fails() {
    let fx = Fixture::new();
    let f = fx.run(&no_sts(probed(tls_probe(&[sha1_leaf(&[MX])], "TLSv1.3"))));
    let s = find(&f, "smtp.cert-sha1", S);
    assert_eq!(s.outcome, Fail);
    assert!(s.message.contains("sha1WithRSAEncryption"), "{}", s.message);
    // A self-signed root's own SHA-2 signature, or the test CA's chain: no SHA-1.
    assert_eq!(outcome(&fx.run(&probed(fx.good())), "smtp.cert-sha1", S), Pass);
}

#[test]
fn certificate_problems_are_critical_under_an_enforced_mta_sts_policy_for_the_mx() {
    let fx = Fixture::new();
    let cases = [
        ("smtp.cert-expired", fx.dated((2024, 1, 1), (2025, 6, 1))),
        ("smtp.cert-not-yet-valid", fx.dated((2026, 2, 1), (2027, 1, 1))),
        (
            "smtp.cert-name",
            fx.session(fx.ca.valid_leaf(&["other.example.net"]).der),
        ),
        ("smtp.cert-untrusted", tls_probe(&[self_signed(&[MX]).der], "TLSv1.3")),
    ];
    for (id, probe) in cases {
        let f = fx.run(&sts(probed(probe.clone()), ENFORCE));
        let c = find(&f, id, S);
        assert_eq!((c.outcome, c.severity), (Fail, Some(Severity::Critical)), "{id}");
        assert!(c.message.contains("refuse to deliver"), "{id}: {}", c.message);
        assert_eq!(c.evidence["mta_sts_mode"], "enforce");
        // Testing mode, or a policy that does not list this MX: medium.
        for policy in [
            ENFORCE.replace("mode: enforce", "mode: testing"),
            ENFORCE.replace("mx: mx.example.com", "mx: other.example.net"),
        ] {
            let f = fx.run(&sts(probed(probe.clone()), &policy));
            let c = find(&f, id, S);
            assert_eq!(c.outcome, Fail, "{id}");
            assert!(c.severity.is_none(), "{id} under {policy:?}");
        }
    }
    // Low-severity certificate rules are not raised.
    let f = fx.run(&sts(probed(fx.dated((2025, 1, 1), (2026, 1, 6))), ENFORCE));
    assert!(find(&f, "smtp.cert-expiring", S).severity.is_none());
}

#[test]
fn mx_lookup_failure_is_indeterminate_and_no_mx_not_applicable() {
    let fx = Fixture::new();
    let f = fx.run(&Dns::new().status(D, RType::Mx, Status::ServFail));
    assert_eq!(ids(&f), RULES.to_vec());
    assert!(f.iter().all(|f| f.outcome == Indeterminate && f.subject == D), "{f:#?}");
    for dns in [
        Dns::new().mx(D, &[(0, ".")]),
        Dns::new().status(D, RType::Mx, Status::NoData),
    ] {
        let f = fx.run(&dns);
        assert_eq!(f.len(), RULES.len());
        assert!(f.iter().all(|f| f.outcome == NotApplicable && f.subject == D), "{f:#?}");
    }
}

#[test]
fn host_address_lookups_failed_or_empty() {
    let fx = Fixture::new();
    let dns = Dns::new()
        .mx(D, &[(10, MX)])
        .status(MX, RType::A, Status::Timeout)
        .status(MX, RType::Aaaa, Status::Timeout);
    let f = fx.run(&dns);
    assert!(
        f.iter().all(|f| f.outcome == Indeterminate && f.subject == MX),
        "{f:#?}"
    );
    let dns = Dns::new()
        .mx(D, &[(10, MX)])
        .status(MX, RType::A, Status::NoData)
        .status(MX, RType::Aaaa, Status::NoData);
    let f = fx.run(&dns);
    assert!(
        f.iter().all(|f| f.outcome == NotApplicable && f.subject == MX),
        "{f:#?}"
    );
}

#[test]
fn every_address_is_judged_on_its_own() {
    let fx = Fixture::new();
    let dns = Dns::new()
        .mx(D, &[(10, MX)])
        .a(MX, &[IP])
        .aaaa(MX, &["2001:db8::25"])
        .smtp(MX, IP, fx.good())
        .smtp(MX, "2001:db8::25", status(SmtpStatus::NoRoute, "network unreachable"));
    let f = fx.run(&dns);
    assert_eq!(f.len(), 2 * RULES.len());
    assert_eq!(outcome(&f, "smtp.starttls", S), Pass);
    assert_eq!(
        outcome(&f, "smtp.starttls", "mx.example.com (2001:db8::25)"),
        Indeterminate
    );
}

// --- DANE: certificate problems that DANE senders do not check --------------

/// The MX publishes these TLSA records with this DNSSEC proof.
fn with_tlsa(dns: Dns, records: &[String], proof: mailwarden_model::Proof) -> Dns {
    let rdata = records
        .iter()
        .map(|t| mailwarden_model::rdata::from_text(52, t).expect("TLSA"))
        .collect();
    dns.rec(&crate::dane::tlsa_name(MX), RType::Tlsa, rdata, proof)
}

/// Judge as a validating scan does (TLSA records count only then).
fn run_validated(fx: &Fixture, dns: &Dns) -> Vec<RawFinding> {
    let options = ScanOptions::default();
    let source = SourceInfo {
        dnssec_validation: true,
        ..SourceInfo::default()
    };
    let ctx = Context {
        domain: D,
        options: &options,
        source: &source,
        now: NOW,
        roots: &fx.roots,
    };
    dns.judge(|v| judge(&ctx, v))
}

fn dane_ee(spki: &[u8]) -> String {
    format!("3 1 1 {}", crate::tls::testcerts::sha256_hex(spki))
}

/// PKIX findings on an MX whose DNSSEC-secure DANE-EE record matches the
/// leaf were medium (critical under MTA-STS) as if no sender could
/// authenticate it; RFC 7672 §3.1.1 has DANE senders ignore names, dates
/// and the issuer.
#[test]
fn pkix_problems_waived_by_a_matching_secure_dane_ee_record_are_low() {
    use mailwarden_model::Proof;
    let fx = Fixture::new();
    let own = self_signed(&[MX]);
    let expired = fx.ca.leaf(&[MX], (2024, 1, 1), (2025, 6, 1));
    let misnamed = fx.ca.leaf(&["other.example.net"], (2025, 1, 1), (2027, 1, 1));
    let cases = [
        (
            "smtp.cert-untrusted",
            tls_probe(std::slice::from_ref(&own.der), "TLSv1.3"),
            &own.spki,
        ),
        ("smtp.cert-expired", fx.session(expired.der.clone()), &expired.spki),
        ("smtp.cert-name", fx.session(misnamed.der.clone()), &misnamed.spki),
    ];
    for (id, probe, spki) in cases {
        let dns = with_tlsa(no_sts(probed(probe.clone())), &[dane_ee(spki)], Proof::Secure);
        let f = find(&run_validated(&fx, &dns), id, S).clone();
        assert_eq!(
            (f.outcome, f.severity),
            (Fail, Some(Severity::Low)),
            "{id}: {}",
            f.message
        );
        assert!(
            f.message.contains("DANE senders authenticate the server"),
            "{id}: {}",
            f.message
        );
        assert!(f.message.contains("RFC 7672 §3.1.1"), "{id}: {}", f.message);
        assert_eq!(f.evidence["dane_usage"], "DANE-EE(3)");
        // Not secure, not validated, or not matching: no waiver.
        let insecure = with_tlsa(no_sts(probed(probe.clone())), &[dane_ee(spki)], Proof::Insecure);
        let stale = with_tlsa(no_sts(probed(probe.clone())), &[dane_ee(b"another key")], Proof::Secure);
        for dns in [&insecure, &stale] {
            let f = find(&run_validated(&fx, dns), id, S).clone();
            assert_eq!(f.outcome, Fail, "{id}");
            assert!(f.severity.is_none(), "{id}: {}", f.message);
        }
        assert!(find(&fx.run(&dns), id, S).severity.is_none(), "{id}: unvalidated scan");
        // An MTA-STS enforce policy covering the MX keeps it critical.
        let enforced = with_tlsa(sts(probed(probe), ENFORCE), &[dane_ee(spki)], Proof::Secure);
        let f = find(&run_validated(&fx, &enforced), id, S).clone();
        assert_eq!(f.severity, Some(Severity::Critical), "{id}");
        assert!(
            f.message.contains("DANE senders authenticate it"),
            "{id}: {}",
            f.message
        );
    }
}

/// DANE-TA(2) replaces the public CAs only (RFC 6698 §2.1.1): an
/// untrusted private CA that the record names is low; an expired leaf
/// under it does not verify, so DANE does not waive the expiry.
#[test]
fn a_matching_dane_ta_record_waives_only_the_untrusted_issuer() {
    use mailwarden_model::Proof;
    let fx = Fixture::new();
    let private = Ca::new("Private CA");
    let ta = format!("2 0 1 {}", crate::tls::testcerts::sha256_hex(&private.der));
    let good = tls_probe(&[private.valid_leaf(&[MX]).der, private.der.clone()], "TLSv1.3");
    let dns = with_tlsa(no_sts(probed(good)), std::slice::from_ref(&ta), Proof::Secure);
    let u = find(&run_validated(&fx, &dns), "smtp.cert-untrusted", S).clone();
    assert_eq!((u.outcome, u.severity), (Fail, Some(Severity::Low)), "{}", u.message);
    assert_eq!(u.evidence["dane_usage"], "DANE-TA(2)");
    let expired = private.leaf(&[MX], (2024, 1, 1), (2025, 6, 1)).der;
    let dns = with_tlsa(
        no_sts(probed(tls_probe(&[expired, private.der.clone()], "TLSv1.3"))),
        &[ta],
        Proof::Secure,
    );
    let f = run_validated(&fx, &dns);
    let e = find(&f, "smtp.cert-expired", S);
    assert_eq!(e.outcome, Fail);
    assert!(e.severity.is_none(), "DANE-TA checks dates: {}", e.message);
}

mod legacy;

//! The legacy-TLS rules over hand-built legacy probe results.

use mailwarden_model::probe::{HelloOutcome, LegacyHello, LegacyTls};

use super::*;
use crate::testutil::legacy_refused;

const LEGACY: [&str; 3] = ["smtp.legacy-protocol", "smtp.ssl3", "smtp.legacy-cipher"];

fn accepted(version: &str, suite: &str) -> LegacyHello {
    let mut h = LegacyHello::new(HelloOutcome::Accepted, "ServerHello");
    h.version = Some(version.into());
    h.cipher_suite = Some(suite.into());
    h
}

fn refused() -> LegacyHello {
    legacy_refused().protocols
}

fn unknown(why: &str) -> LegacyHello {
    LegacyHello::new(HelloOutcome::Unknown, why)
}

/// A good TLS 1.3 session whose legacy probes saw `legacy`.
fn with_legacy(fx: &Fixture, legacy: Option<LegacyTls>) -> Vec<RawFinding> {
    let mut probe = fx.good();
    probe.legacy = legacy;
    fx.run(&probed(probe))
}

#[test]
fn tls10_with_3des_fails_protocol_and_cipher_and_a_refused_ssl3_hello_passes() {
    let fx = Fixture::new();
    let f = with_legacy(
        &fx,
        Some(LegacyTls {
            protocols: accepted("TLSv1.0", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
            ciphers: accepted("TLSv1.2", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
            ssl3: Some(refused()),
        }),
    );
    let p = find(&f, "smtp.legacy-protocol", S);
    assert_eq!(p.outcome, Fail);
    assert!(
        p.message.contains("TLSv1.0") && p.message.contains("RFC 8996"),
        "{}",
        p.message
    );
    assert_eq!(p.evidence["version"], "TLSv1.0");
    let c = find(&f, "smtp.legacy-cipher", S);
    assert_eq!(c.outcome, Fail);
    assert!(c.message.contains("Sweet32"), "{}", c.message);
    assert_eq!(c.evidence["cipher_suite"], "TLS_RSA_WITH_3DES_EDE_CBC_SHA");
    assert_eq!(outcome(&f, "smtp.ssl3", S), Pass);
}

#[test]
fn ssl3_chosen_for_the_protocols_hello_fails_ssl3() {
    let fx = Fixture::new();
    let f = with_legacy(
        &fx,
        Some(LegacyTls {
            protocols: accepted("SSLv3", "TLS_RSA_WITH_AES_128_CBC_SHA"),
            ciphers: refused(),
            ssl3: None,
        }),
    );
    assert_eq!(outcome(&f, "smtp.ssl3", S), Fail);
    assert_eq!(outcome(&f, "smtp.legacy-protocol", S), Fail);
    assert_eq!(outcome(&f, "smtp.legacy-cipher", S), Pass);
}

#[test]
fn ssl3_accepted_alone_after_tls11_fails_ssl3() {
    let fx = Fixture::new();
    let f = with_legacy(
        &fx,
        Some(LegacyTls {
            protocols: accepted("TLSv1.1", "TLS_RSA_WITH_AES_128_CBC_SHA"),
            ciphers: refused(),
            ssl3: Some(accepted("SSLv3", "TLS_RSA_WITH_AES_128_CBC_SHA")),
        }),
    );
    let s = find(&f, "smtp.ssl3", S);
    assert_eq!(s.outcome, Fail);
    assert!(s.message.contains("RFC 7568"), "{}", s.message);
}

#[test]
fn every_legacy_hello_refused_passes_all_three() {
    let fx = Fixture::new();
    let f = with_legacy(&fx, Some(legacy_refused()));
    for id in LEGACY {
        assert_eq!(outcome(&f, id, S), Pass, "{id}");
    }
    assert!(find(&f, "smtp.ssl3", S).message.contains("Appendix E.1"));
}

#[test]
fn evidence_saved_before_the_legacy_probe_is_not_collected_never_a_pass() {
    let fx = Fixture::new();
    let f = with_legacy(&fx, None);
    for id in LEGACY {
        let finding = find(&f, id, S);
        assert_eq!(finding.outcome, Indeterminate, "{id}");
        assert!(finding.message.contains("Not collected"), "{id}: {}", finding.message);
    }
}

#[test]
fn an_unreadable_or_timed_out_answer_is_indeterminate_never_a_verdict() {
    let fx = Fixture::new();
    let f = with_legacy(
        &fx,
        Some(LegacyTls {
            protocols: unknown("not a TLS record: HTTP/1.1"),
            ciphers: unknown("timed out during the TLS handshake"),
            ssl3: None,
        }),
    );
    for id in LEGACY {
        assert_eq!(outcome(&f, id, S), Indeterminate, "{id}");
    }
    assert!(find(&f, "smtp.legacy-cipher", S).message.contains("timed out"));
}

#[test]
fn tls10_accepted_without_an_ssl3_answer_leaves_ssl3_indeterminate() {
    let fx = Fixture::new();
    let f = with_legacy(
        &fx,
        Some(LegacyTls {
            protocols: accepted("TLSv1.0", "TLS_RSA_WITH_AES_128_CBC_SHA"),
            ciphers: refused(),
            ssl3: None,
        }),
    );
    assert_eq!(outcome(&f, "smtp.ssl3", S), Indeterminate);
}

#[test]
fn rc4_chosen_for_the_protocols_hello_fails_the_cipher_rule_whatever_the_cipher_hello_says() {
    let fx = Fixture::new();
    let f = with_legacy(
        &fx,
        Some(LegacyTls {
            protocols: accepted("TLSv1.0", "TLS_RSA_WITH_RC4_128_SHA"),
            ciphers: unknown("timed out"),
            ssl3: Some(refused()),
        }),
    );
    let c = find(&f, "smtp.legacy-cipher", S);
    assert_eq!(c.outcome, Fail);
    assert!(c.message.contains("RFC 7465"), "{}", c.message);
}

#[test]
fn a_tls10_only_server_fails_the_handshake_and_the_legacy_protocol_rule() {
    let fx = Fixture::new();
    let mut probe = status(
        SmtpStatus::HandshakeFailed,
        "TLS handshake failed: peer is incompatible",
    );
    probe.alert = Some("ProtocolVersion".into());
    probe.legacy = Some(LegacyTls {
        protocols: accepted("TLSv1.0", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
        ciphers: accepted("TLSv1.0", "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
        ssl3: Some(refused()),
    });
    let f = fx.run(&probed(probe));
    assert_eq!(outcome(&f, "smtp.handshake", S), Fail);
    assert_eq!(outcome(&f, "smtp.legacy-protocol", S), Fail);
    assert_eq!(outcome(&f, "smtp.legacy-cipher", S), Fail);
}

#[test]
fn without_starttls_the_legacy_rules_are_not_applicable() {
    let fx = Fixture::new();
    let mut probe = status(SmtpStatus::NoStarttls, "no STARTTLS");
    probe.ehlo_keywords = vec!["PIPELINING".into()];
    let f = fx.run(&probed(probe));
    for id in LEGACY {
        let finding = find(&f, id, S);
        assert_eq!(finding.outcome, NotApplicable, "{id}");
        assert!(finding.message.contains("smtp.starttls"), "{id}");
    }
}

//! No false criticals: every rule, run over correctly configured domains of
//! every shape the tests know, finds nothing failing at high or critical.
//!
//! A false critical costs more trust than a missed low. The domains below
//! are set up the way their operators should set them up (two MX hosts on
//! global addresses in different networks, IPv6, `v=spf1 mx -all`, DMARC
//! `p=reject` with reports, a 2048-bit DKIM key, TLS-RPT, MTA-STS, two
//! nameservers), in zones of every shape: signed with NSEC and NSEC3,
//! unsigned, records reached through CNAME chains within a zone and into
//! another signed zone, wildcards, a delegated child zone, a subdomain
//! that is not a zone apex, a parked domain, and MX hosts in a provider's
//! zone. They are served signed under a private root (crates/test-support)
//! and collected through the validating live backend, then the same shapes
//! are read from a zone file (the zone-file backend).
//!
//! Probes are not made (`NoProber`): the transport rules are indeterminate
//! here; their false positives are the real-peer tier's business. Nothing
//! is sent anywhere but the loopback test server: the nameservers' addresses
//! are 127.0.0.1, and the MX addresses are only data.

use std::time::Duration;

mod common;

use common::audit_without_probes;
use mailwarden_dns::DnsSource;
use mailwarden_dns::live::{DirectGuard, LiveConfig, LiveSource, TrustAnchor};
use mailwarden_dns::zonefile::ZoneFileSource;
use mailwarden_model::{Finding, Outcome, ScanOptions, Severity};
use mailwarden_policy::Catalogue;
use mailwarden_test_support::{BrokenServer, TestDns, TestDnsBuilder};

/// A 2048-bit RSA DKIM key (testdata/cli/offsite.example.zone), in the two
/// strings a TXT record needs.
const DKIM_KEY: &str = "\"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAq65eiMDcIYWOCvgtck6i0N2KF2b/zTUJRoYV+tac98HDdMd7eD73NXBBtqsD5hwNLNFPNliThZdt8ZsMGES+YJHGXtSVXDRCk8KKEISuo4zvfokmHf5YVAdSkdGfczwr85Y9LDExp6\" \"RxGkArLX9RJMc1JyPV3gMnbN93h1eHf5I1E/85uHFYw9NHenHnkvI+C/o+WY71GLZO1OGh4pklt56wFMfBmxcWvKqq6B6LaHsOkYfvJhu2UHa2amlCkYXscc+7itIfRl7b8XkcwmPfawlv03caZ+YfJ5kmd/TvaYeLOAtpoRkiOjrnw3fhqN7W8Lu61MNCGLJcTUxnj5kxZwIDAQAB\"";

/// Records of one correctly configured mail domain, as (owner, rdata).
/// `mx` names the MX hosts' zone: the domain itself, or a provider's.
fn mail_records(domain: &str, mx: &str) -> Vec<(String, String)> {
    let mut r = vec![
        (domain.to_string(), format!("MX 10 mx1.{mx}.")),
        (domain.to_string(), format!("MX 20 mx2.{mx}.")),
        (domain.to_string(), "TXT \"v=spf1 mx -all\"".to_string()),
        (
            format!("_dmarc.{domain}"),
            format!("TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@{domain}\""),
        ),
        (format!("sel1._domainkey.{domain}"), format!("TXT {DKIM_KEY}")),
        (
            format!("_smtp._tls.{domain}"),
            format!("TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}\""),
        ),
        (format!("_mta-sts.{domain}"), "TXT \"v=STSv1; id=20250101\"".to_string()),
        (format!("mta-sts.{domain}"), "A 100.200.3.80".to_string()),
    ];
    if mx == domain {
        r.extend(mx_hosts(domain));
    }
    r
}

/// [`mail_records`] of a domain with its own MX hosts, without the records
/// `drop` picks (by owner and rdata), which the caller replaces.
fn mail_records_but(domain: &str, drop: impl Fn(&str, &str) -> bool) -> Vec<(String, String)> {
    mail_records(domain, domain)
        .into_iter()
        .filter(|(owner, rdata)| !drop(owner, rdata))
        .collect()
}

/// Two MX hosts on global addresses in different networks, with IPv6.
fn mx_hosts(zone: &str) -> Vec<(String, String)> {
    vec![
        (format!("mx1.{zone}"), "A 100.200.1.25".to_string()),
        (format!("mx1.{zone}"), "AAAA 2a00:1:1::25".to_string()),
        (format!("mx2.{zone}"), "A 100.201.2.25".to_string()),
        (format!("mx2.{zone}"), "AAAA 2a00:2:2::25".to_string()),
    ]
}

/// A second nameserver at the zone apex, and both on the loopback test
/// server (the only place the nameserver checks may ask).
fn nameservers(zone: &str) -> Vec<(String, String)> {
    vec![
        (zone.to_string(), format!("NS ns2.{zone}.")),
        (format!("ns.{zone}"), "A 127.0.0.1".to_string()),
        (format!("ns2.{zone}"), "A 127.0.0.1".to_string()),
    ]
}

/// Every shape's records.
fn records() -> Vec<(String, String)> {
    let mut r = Vec::new();
    for (zone, _) in &ZONES[1..] {
        r.extend(nameservers(zone));
    }
    // The first five scanned domains have their own MX hosts and nothing else.
    for domain in &SCANNED[..5] {
        r.extend(mail_records(domain, domain));
    }
    // MX hosts in a provider's signed zone, named directly.
    r.extend(mx_hosts("provider.test"));
    r.extend(mail_records("outsourced.test", "provider.test"));
    // A subdomain that inherits the organisational domain's DMARC policy.
    r.extend(mail_records_but("inherits.secure.test", |owner, _| {
        owner.starts_with("_dmarc.")
    }));
    // An in-zone CNAME chain to the DMARC record.
    r.extend(mail_records_but("chain.test", |owner, _| owner == "_dmarc.chain.test"));
    // DMARC and DKIM delegated to a provider's signed zone by CNAME.
    r.extend(mail_records_but("cname.test", |owner, _| {
        owner.starts_with("_dmarc.") || owner.starts_with("sel1.")
    }));
    // Wildcards: every name below wild.test routes mail to its MX hosts
    // and authorises them; a name synthesised from them is scanned.
    r.extend(mail_records("wild.test", "wild.test"));
    // The case: an MX target that is an alias into the provider's
    // signed zone (mx.target-cname is a true medium; nothing more).
    r.extend(mail_records_but("mxalias.test", |owner, rdata| {
        owner.starts_with("mx1.") || owner.starts_with("mx2.") || rdata.starts_with("MX")
    }));
    let dkim = format!("TXT {DKIM_KEY}");
    let shapes: [(&str, &str); 14] = [
        ("_dmarc.chain.test", "CNAME d1.chain.test."),
        ("d1.chain.test", "CNAME d2.chain.test."),
        (
            "d2.chain.test",
            "TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@chain.test\"",
        ),
        ("_dmarc.cname.test", "CNAME cname.dmarc.provider.test."),
        (
            "cname.dmarc.provider.test",
            "TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@cname.test\"",
        ),
        ("sel1._domainkey.cname.test", "CNAME sel1.dkim.provider.test."),
        ("sel1.dkim.provider.test", &dkim),
        ("*.wild.test", "MX 10 mx1.wild.test."),
        ("*.wild.test", "MX 20 mx2.wild.test."),
        ("*.wild.test", "TXT \"v=spf1 mx:wild.test -all\""),
        // A parked domain (RFC 7505 null MX, M3AAWG practice).
        ("parked.test", "MX 0 ."),
        ("parked.test", "TXT \"v=spf1 -all\""),
        (
            "_dmarc.parked.test",
            "TXT \"v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s\"",
        ),
        ("mxalias.test", "MX 10 mail.mxalias.test."),
    ];
    r.extend(
        shapes
            .iter()
            .map(|(owner, rdata)| (owner.to_string(), rdata.to_string())),
    );
    r.push(("mail.mxalias.test".into(), "CNAME mx1.provider.test.".into()));
    r
}

/// Every domain scanned, one per shape.
const SCANNED: [&str; 13] = [
    "secure.test",
    "nsec3.test",
    "plain.test",
    "child.secure.test",
    "sub.secure.test",
    "inherits.secure.test",
    "outsourced.test",
    "chain.test",
    "cname.test",
    "wild.test",
    "anything.wild.test",
    "parked.test",
    "mxalias.test",
];

/// The zones below the (signed) root, and whether each is signed.
const ZONES: [(&str, bool); 12] = [
    ("test", true),
    ("secure.test", true),
    ("child.secure.test", true),
    ("nsec3.test", true),
    ("plain.test", false),
    ("provider.test", true),
    ("outsourced.test", true),
    ("chain.test", true),
    ("cname.test", true),
    ("wild.test", true),
    ("parked.test", true),
    ("mxalias.test", true),
];

/// The zones served signed (NSEC3 for nsec3.test) under a private root.
fn world() -> TestDnsBuilder {
    let mut b = TestDns::builder();
    for (zone, signed) in ZONES {
        let origin = format!("{zone}.");
        b = if signed {
            b.signed_zone(&origin)
        } else {
            b.unsigned_zone(&origin)
        };
    }
    b = b.nsec3("nsec3.test.", 0, &[]);
    for (owner, rdata) in records() {
        b = b.record(&format!("{owner}."), &rdata);
    }
    b
}

/// The zone `name` belongs to: the longest origin it falls under.
fn zone_of(name: &str) -> &'static str {
    ZONES
        .iter()
        .map(|(zone, _)| *zone)
        .filter(|zone| name == *zone || name.ends_with(&format!(".{zone}")))
        .max_by_key(|zone| zone.len())
        .expect("every test name is under test.")
}

/// The same zones as zone files: SOA, NS and the delegations of each,
/// and every record in the zone it belongs to.
fn zone_files() -> ZoneFileSource {
    let mut source: Option<ZoneFileSource> = None;
    for (zone, _) in ZONES {
        let mut text = format!(
            "$ORIGIN {zone}.\n$TTL 300\n@ SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 300\n@ NS ns.{zone}.\n"
        );
        for (child, _) in ZONES
            .iter()
            .filter(|(c, _)| c.strip_suffix(&format!(".{zone}")).is_some_and(|l| !l.contains('.')))
        {
            text.push_str(&format!("{child}. NS ns.{child}.\n"));
        }
        for (owner, rdata) in records().into_iter().filter(|(owner, _)| zone_of(owner) == zone) {
            text.push_str(&format!("{owner}. {rdata}\n"));
        }
        let label = format!("{zone}.zone");
        match &mut source {
            None => source = Some(ZoneFileSource::from_str(&text, Some(zone), &label).unwrap()),
            Some(s) => s.add_str(&text, Some(zone), &label).unwrap(),
        }
    }
    source.expect("zones")
}

/// Every finding of a full audit of `domain` from `source`, completed from
/// the rule catalogue.
async fn audit_all(source: &dyn DnsSource, domain: &str) -> Vec<Finding> {
    let findings = audit_without_probes(source, domain, ScanOptions::default()).await;
    Catalogue::builtin().complete_all(findings)
}

/// The failing findings of high or critical severity.
fn false_criticals(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.outcome == Outcome::Fail && f.severity >= Severity::High)
        .map(|f| format!("{} {:?} [{}] {}", f.id, f.severity, f.subject, f.message))
        .collect()
}

/// Audit `domain` over the validating live backend and assert that no
/// finding fails at high or critical.
async fn assert_no_false_critical(domain: &str) {
    let net = world().start().await;
    assert_none_high(&audit_all(&live_source(&net, net.addr()), domain).await, domain);
}

/// The same, asking through a relay that answers as a recursive resolver
/// does (following a CNAME into another zone), not the authoritative test
/// server itself: what a scan meets in the field.
async fn assert_no_false_critical_through_a_resolver(domain: &str) {
    let net = world().start().await;
    let resolver = BrokenServer::recursive(net.addr()).await;
    assert_none_high(&audit_all(&live_source(&net, resolver.addr()), domain).await, domain);
}

/// A validating live source asking `resolver`, trusting `net`'s root, its
/// direct questions sent to `net`'s (loopback) port.
fn live_source(net: &TestDns, resolver: std::net::SocketAddr) -> LiveSource {
    LiveSource::new(LiveConfig {
        resolvers: vec![resolver],
        timeout: Duration::from_millis(500),
        retries: 1,
        trust_anchor: TrustAnchor::Text(net.trust_anchor()),
        authoritative_port: net.addr().port(),
        // The test servers are on loopback: allow it (the guard is tested on its own).
        direct_guard: DirectGuard {
            allow_private: true,
            max_targets: DirectGuard::DEFAULT_MAX_TARGETS,
        },
    })
    .unwrap()
}

fn assert_none_high(findings: &[Finding], domain: &str) {
    assert!(
        findings
            .iter()
            .any(|f| f.id == "dmarc.missing" && f.outcome == Outcome::Pass)
            || domain.starts_with("parked.test"),
        "{domain} was not read as configured: {findings:#?}"
    );
    let bad = false_criticals(findings);
    assert!(
        bad.is_empty(),
        "{domain}: false high/critical findings:\n{}",
        bad.join("\n")
    );
}

/// Every domain of every shape (the NSEC3 zone and the CNAME and wildcard
/// cases too), read from zone files instead: no DNSSEC proofs, no servers
/// to ask, the zone-file backend's own CNAME and wildcard lookups.
#[tokio::test]
async fn every_shape_read_from_zone_files_has_no_false_critical() {
    let source = zone_files();
    for domain in SCANNED {
        assert_none_high(&audit_all(&source, domain).await, &format!("{domain} (zone files)"));
    }
}

#[tokio::test]
async fn signed_domain_with_nsec_has_no_false_critical() {
    assert_no_false_critical("secure.test").await;
}

#[tokio::test]
#[ignore = "test infrastructure: hickory 0.26's validator finds every zone hickory-server signs with NSEC3 bogus, whatever the parameters (crates/dns/tests/dnssec.rs nsec3_zones_publish_their_parameters), so this tier cannot serve a valid NSEC3 zone; the real-peer tier (NSD, Unbound) covers NSEC3: real_peers.rs correctly_configured_real_zones_have_no_false_critical"]
async fn signed_domain_with_nsec3_has_no_false_critical() {
    assert_no_false_critical("nsec3.test").await;
}

#[tokio::test]
async fn unsigned_domain_has_no_false_critical() {
    assert_no_false_critical("plain.test").await;
}

#[tokio::test]
async fn delegated_signed_child_zone_has_no_false_critical() {
    assert_no_false_critical("child.secure.test").await;
}

#[tokio::test]
async fn subdomain_that_is_not_a_zone_apex_has_no_false_critical() {
    assert_no_false_critical("sub.secure.test").await;
    assert_no_false_critical("inherits.secure.test").await;
}

#[tokio::test]
async fn mx_hosts_in_a_providers_signed_zone_have_no_false_critical() {
    assert_no_false_critical("outsourced.test").await;
}

#[tokio::test]
async fn dmarc_reached_through_an_in_zone_cname_chain_has_no_false_critical() {
    assert_no_false_critical("chain.test").await;
}

#[tokio::test]
async fn dmarc_and_dkim_delegated_by_cname_into_another_signed_zone_have_no_false_critical() {
    assert_no_false_critical("cname.test").await;
}

#[tokio::test]
async fn domain_with_wildcards_below_it_has_no_false_critical() {
    assert_no_false_critical("wild.test").await;
}

/// The validator's half of this case is fixed: hickory 0.26 found every
/// answer one label below a wildcard bogus (crates/dns live/wildcard.rs;
/// crates/dns/tests/live.rs
/// `an_answer_synthesised_from_a_wildcard_one_label_down_is_secure_not_bogus`,
/// and against NSD and Unbound real_peers.rs
/// `a_name_synthesised_from_a_wildcard_one_label_down_validates_secure_with_no_false_critical`).
/// What still fails here is the test server's answer to the dnssec judge's
/// SOA question at the synthesised name.
#[tokio::test]
#[ignore = "test infrastructure: hickory-server 0.26 answers a wildcard NODATA (SOA at anything.wild.test, which *.wild.test matches but has no SOA) with NXDOMAIN and an NSEC proving *.wild.test exists, an answer that contradicts itself and that every validator rightly finds bogus (dnssec.bogus, dnssec.chain critical here); NSD answers NOERROR with the wildcard's NSEC (RFC 4035 §3.1.3.4) and mailwarden validates it secure: real_peers.rs a_name_synthesised_from_a_wildcard_one_label_down_validates_secure_with_no_false_critical"]
async fn name_synthesised_from_a_wildcard_has_no_false_critical() {
    assert_no_false_critical("anything.wild.test").await;
}

#[tokio::test]
async fn parked_domain_has_no_false_critical() {
    assert_no_false_critical("parked.test").await;
}

/// Asked through a recursive relay: the authoritative test server answers
/// the SOA question at `mail.mxalias.test` with the bare CNAME (correct for
/// an authoritative server, which does not follow a CNAME out of its zone),
/// and a stub pointed straight at it cannot validate that. A resolver in
/// the field returns the CNAME and the target zone's denial; real_peers.rs
/// `an_mx_target_cname_into_another_signed_zone_has_no_high_or_critical_failure`
/// checks the same against Unbound.
#[tokio::test]
async fn mx_target_aliased_into_another_signed_zone_has_no_false_critical() {
    assert_no_false_critical_through_a_resolver("mxalias.test").await;
}

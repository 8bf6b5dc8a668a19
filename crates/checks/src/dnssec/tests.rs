//! Hand-built transcripts for every DNSSEC rule, passing and failing.

use mailwarden_model::{
    Answer, Outcome::*, Proof, QueryKey, RData, RType, RawFinding, ScanOptions, Severity, Signature, SourceInfo, Status,
};

use super::{Dnskey, EXPIRY_WARNING_SECONDS, judge};
use crate::Context;
use crate::testutil::{Dns, find, outcome};

const D: &str = "example.com";
/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600;
const DAY: i64 = 86_400;

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        for _ in chunk.len()..3 {
            out.push('=');
        }
    }
    out
}

/// A realistic ECDSA P-256 KSK (64 bytes of key material).
fn ksk13() -> String {
    let key: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
    format!("257 3 13 {}", b64(&key))
}

fn zsk13() -> String {
    let key: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(53).wrapping_add(7)).collect();
    format!("256 3 13 {}", b64(&key))
}

/// An RSA key (RFC 3110 format, exponent 65537) with a `bits`-bit modulus.
fn rsa_key(flags: u16, algorithm: u8, bits: usize) -> String {
    let mut key = vec![3, 1, 0, 1];
    let mut modulus: Vec<u8> = (0..bits / 8).map(|i| (i as u8).wrapping_mul(29) | 1).collect();
    modulus[0] |= 0x80;
    key.extend(modulus);
    format!("{flags} 3 {algorithm} {}", b64(&key))
}

fn ds_for(owner: &str, dnskey: &str) -> String {
    Dnskey::parse(dnskey).unwrap().ds_text(owner)
}

/// Records of `rtype` from presentation text, typed as the DNS layer
/// types them (`Unparsed` when they do not parse).
fn other(rtype: RType, texts: &[String]) -> Vec<RData> {
    texts
        .iter()
        .map(|t| mailwarden_model::rdata::from_text(rtype.code(), t).expect("a typed type"))
        .collect()
}

fn sig(type_covered: RType, signer: &str, inception: i64, expiration: i64) -> Signature {
    let key = Dnskey::parse(&zsk13()).unwrap();
    Signature {
        type_covered: type_covered.code(),
        algorithm: 13,
        key_tag: key.key_tag,
        signer: signer.into(),
        inception: inception as u32,
        expiration: expiration as u32,
    }
}

/// A transcript builder for one zone at a time.
struct World {
    dns: Dns,
}

impl World {
    fn new() -> Self {
        Self { dns: Dns::new() }
    }

    fn put(mut self, name: &str, rtype: RType, answer: Answer) -> Self {
        self.dns.0.insert(QueryKey::new(name, rtype), answer);
        self
    }

    fn records(self, name: &str, rtype: RType, records: Vec<RData>, proof: Proof) -> Self {
        self.put(name, rtype, Answer::with_records(records, proof))
    }

    fn negative(self, name: &str, rtype: RType, status: Status, proof: Proof) -> Self {
        self.put(name, rtype, Answer::empty(status, proof))
    }

    fn failed(self, name: &str, rtype: RType, status: Status) -> Self {
        self.put(name, rtype, Answer::empty(status, Proof::Indeterminate))
    }

    fn soa(self, apex: &str, proof: Proof) -> Self {
        let soa = RData::Soa {
            mname: format!("ns.{apex}"),
            rname: format!("hostmaster.{apex}"),
            serial: 1,
            minimum: 300,
        };
        let mut answer = Answer::with_records(vec![soa], proof);
        if proof == Proof::Secure {
            answer.signatures = vec![sig(RType::Soa, apex, NOW - DAY, NOW + 20 * DAY)];
        }
        self.put(apex, RType::Soa, answer)
    }

    fn mx(self, hosts: &[&str]) -> Self {
        let records = hosts
            .iter()
            .map(|h| RData::Mx {
                preference: 10,
                exchange: (*h).into(),
            })
            .collect();
        self.records(D, RType::Mx, records, Proof::Secure)
    }

    /// A zone whose SOA, DNSKEY, DS and NSEC3PARAM all validate.
    fn secure_zone(self, apex: &str) -> Self {
        let ksk = ksk13();
        let ds = ds_for(apex, &ksk);
        self.soa(apex, Proof::Secure)
            .records(
                apex,
                RType::Dnskey,
                other(RType::Dnskey, &[ksk, zsk13()]),
                Proof::Secure,
            )
            .records(apex, RType::Ds, other(RType::Ds, &[ds]), Proof::Secure)
            .negative(apex, RType::Nsec3param, Status::NoData, Proof::Secure)
    }

    fn unsigned_zone(self, apex: &str) -> Self {
        self.soa(apex, Proof::Insecure)
            .negative(apex, RType::Dnskey, Status::NoData, Proof::Insecure)
            .negative(apex, RType::Ds, Status::NoData, Proof::Secure)
            .negative(apex, RType::Nsec3param, Status::NoData, Proof::Insecure)
    }

    /// `name` is below its zone apex: SOA NODATA.
    fn below_apex(self, name: &str) -> Self {
        self.negative(name, RType::Soa, Status::NoData, Proof::Secure)
    }

    fn run(&self) -> Vec<RawFinding> {
        self.run_with(true)
    }

    fn run_with(&self, validated: bool) -> Vec<RawFinding> {
        let options = ScanOptions::default();
        let source = SourceInfo {
            backend: if validated { "live" } else { "zone-file" }.into(),
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
        self.with_sender_rrsets().dns.judge(|view| judge(&ctx, view))
    }

    /// The record sets `dnssec.bogus-rrset` reads (see `rrsets`), as
    /// secure NODATA where the test gave none.
    fn with_sender_rrsets(&self) -> World {
        let mut world = World {
            dns: Dns(self.dns.0.clone(), Default::default()),
        };
        let hosts: Vec<String> = match self.dns.0.get(&QueryKey::new(D, RType::Mx)) {
            Some(answer) => answer
                .records
                .iter()
                .filter_map(|r| match r {
                    RData::Mx { exchange, .. } => Some(exchange.clone()),
                    _ => None,
                })
                .collect(),
            None => Vec::new(),
        };
        let mut wanted = vec![
            (D.to_string(), RType::Mx),
            (D.to_string(), RType::Txt),
            (format!("_dmarc.{D}"), RType::Txt),
            (format!("_mta-sts.{D}"), RType::Txt),
        ];
        for host in hosts {
            wanted.push((format!("_25._tcp.{host}"), RType::Tlsa));
            wanted.push((host.clone(), RType::A));
            wanted.push((host, RType::Aaaa));
        }
        for (name, rtype) in wanted {
            if !world.dns.0.contains(&QueryKey::new(&name, rtype)) {
                world = world.negative(&name, rtype, Status::NoData, Proof::Secure);
            }
        }
        world
    }
}

/// The domain's zone is secure; one MX host in it, one in a secure zone elsewhere.
fn healthy() -> World {
    World::new()
        .mx(&["mx1.example.com", "mx.mail.example.net"])
        .secure_zone(D)
        .below_apex("mx1.example.com")
        .below_apex("mx.mail.example.net")
        .secure_zone("mail.example.net")
}

const ALL: [&str; 10] = [
    "dnssec.chain",
    "dnssec.island",
    "dnssec.bogus",
    "dnssec.ds-mismatch",
    "dnssec.signature-expiry",
    "dnssec.algorithm",
    "dnssec.ds-digest",
    "dnssec.rsa-key-size",
    "dnssec.nsec3-parameters",
    "dnssec.lookup-failed",
];

#[test]
fn secure_zones_pass_every_rule_for_domain_and_mx_zone() {
    let f = healthy().run();
    for zone in [D, "mail.example.net"] {
        for id in ALL {
            let o = outcome(&f, id, zone);
            let expected = match id {
                "dnssec.rsa-key-size" | "dnssec.nsec3-parameters" => NotApplicable,
                _ => Pass,
            };
            assert_eq!(o, expected, "{id} {zone}: {:#?}", find(&f, id, zone));
        }
    }
    let chain = find(&f, "dnssec.chain", D);
    assert_eq!(chain.evidence["zone_of"], serde_json::json!([D, "mx1.example.com"]));
    assert_eq!(chain.evidence["soa_proof"], "secure");
    assert_eq!(outcome(&f, "dnssec.bogus-rrset", D), Pass);
    assert_eq!(
        f.len(),
        21,
        "one zone each for the domain and the MX zone, and the domain's RRsets: {f:#?}"
    );
}

fn bogus(why: &str) -> Status {
    Status::Bogus(why.into())
}

#[test]
fn a_bogus_mx_rrset_in_a_zone_that_validates_is_a_critical_failure_naming_it() {
    let w = healthy().put(
        D,
        RType::Mx,
        Answer::empty(bogus("the MX answer for example.com does not validate"), Proof::Bogus),
    );
    let f = w.run();
    let rrset = find(&f, "dnssec.bogus-rrset", D);
    assert_eq!(rrset.outcome, Fail);
    assert!(rrset.message.contains("example.com MX"), "{}", rrset.message);
    assert_eq!(rrset.evidence["bogus_rrsets"], serde_json::json!(["example.com MX"]));
    assert_eq!(outcome(&f, "dnssec.bogus", D), Pass, "the zone itself validates");
}

#[test]
fn bogus_address_records_of_an_mx_host_are_named() {
    let w = healthy().failed(
        "mx.mail.example.net",
        RType::Aaaa,
        bogus("the AAAA answer does not validate"),
    );
    let f = w.run();
    let rrset = find(&f, "dnssec.bogus-rrset", D);
    assert_eq!(rrset.outcome, Fail);
    assert_eq!(
        rrset.evidence["bogus_rrsets"],
        serde_json::json!(["mx.mail.example.net AAAA"])
    );
}

#[test]
fn a_bogus_rrset_in_a_bogus_zone_is_left_to_dnssec_bogus() {
    let w = healthy()
        .failed("mail.example.net", RType::Soa, bogus("the zone does not validate"))
        .soa("example.net", Proof::Secure)
        .failed("mx.mail.example.net", RType::A, bogus("the zone does not validate"));
    let f = w.run();
    assert_eq!(outcome(&f, "dnssec.bogus", "mail.example.net"), Fail);
    assert_eq!(outcome(&f, "dnssec.bogus-rrset", D), NotApplicable);
}

#[test]
fn an_rrset_that_could_not_be_looked_up_leaves_bogus_rrset_indeterminate() {
    let w = healthy().failed(&format!("_dmarc.{D}"), RType::Txt, Status::Timeout);
    let rrset = find(&w.run(), "dnssec.bogus-rrset", D).clone();
    assert_eq!(rrset.outcome, Indeterminate);
    assert!(
        rrset.message.contains("_dmarc.example.com TXT: timed out"),
        "{}",
        rrset.message
    );
}

#[test]
fn an_mx_host_that_is_a_cname_lives_in_its_parents_zone_and_its_target_zone_is_judged() {
    let mut alias = Answer::empty(Status::NoData, Proof::Secure);
    alias.cname_chain = vec!["mx1.provider.example".into()];
    let w = World::new()
        .mx(&["mail.example.com"])
        .secure_zone(D)
        .put("mail.example.com", RType::Soa, alias)
        .below_apex("mx1.provider.example")
        .secure_zone("provider.example");
    let f = w.run();
    assert_eq!(outcome(&f, "dnssec.chain", D), Pass);
    assert_eq!(outcome(&f, "dnssec.chain", "provider.example"), Pass);
    assert!(
        !f.iter().any(|x| x.subject == "mail.example.com"),
        "a CNAME owner is no zone apex: {f:#?}"
    );
    assert!(f.iter().all(|x| x.outcome != Fail), "{f:#?}");
}

#[test]
fn unsigned_delegation_is_insecure_not_bogus() {
    let w = World::new()
        .mx(&["mx.example.com"])
        .unsigned_zone(D)
        .below_apex("mx.example.com");
    let f = w.run();
    let chain = find(&f, "dnssec.chain", D);
    assert_eq!(chain.outcome, Fail);
    assert_eq!(chain.evidence["status"], "insecure");
    assert!(chain.message.contains("not signed"), "{}", chain.message);
    assert!(chain.remediation.as_deref().unwrap().contains("algorithm 13"));
    assert_eq!(outcome(&f, "dnssec.island", D), NotApplicable);
    assert_eq!(outcome(&f, "dnssec.bogus", D), Pass);
    assert_eq!(outcome(&f, "dnssec.ds-mismatch", D), NotApplicable);
    assert_eq!(outcome(&f, "dnssec.algorithm", D), NotApplicable);
    assert_eq!(outcome(&f, "dnssec.signature-expiry", D), NotApplicable);
}

#[test]
fn signed_zone_without_ds_is_an_island() {
    let ksk = ksk13();
    let w = World::new()
        .mx(&[])
        .soa(D, Proof::Insecure)
        .records(
            D,
            RType::Dnskey,
            other(RType::Dnskey, &[ksk.clone(), zsk13()]),
            Proof::Insecure,
        )
        .negative(D, RType::Ds, Status::NoData, Proof::Secure)
        .negative(D, RType::Nsec3param, Status::NoData, Proof::Insecure);
    let f = w.run();
    let island = find(&f, "dnssec.island", D);
    assert_eq!(island.outcome, Fail);
    let expected = format!("{D}. IN DS {}", ds_for(D, &ksk));
    assert!(
        island.remediation.as_deref().unwrap().contains(&expected),
        "{island:#?}"
    );
    assert!(expected.contains(" 13 2 "), "{expected}");
    assert_eq!(find(&f, "dnssec.chain", D).evidence["status"], "insecure");
    assert_eq!(outcome(&f, "dnssec.bogus", D), Pass);
    assert_eq!(outcome(&f, "dnssec.ds-mismatch", D), NotApplicable);
}

#[test]
fn bogus_zone_is_critical() {
    let w = World::new()
        .mx(&[])
        .put(
            D,
            RType::Soa,
            Answer::empty(Status::Bogus("signature expired".into()), Proof::Bogus),
        )
        .put(D, RType::Dnskey, Answer::empty(Status::Bogus("x".into()), Proof::Bogus))
        .records(D, RType::Ds, other(RType::Ds, &[ds_for(D, &ksk13())]), Proof::Secure)
        .put(
            D,
            RType::Nsec3param,
            Answer::empty(Status::Bogus("x".into()), Proof::Bogus),
        )
        .soa("com", Proof::Secure);
    let f = w.run();
    let bogus = find(&f, "dnssec.bogus", D);
    assert_eq!(bogus.outcome, Fail);
    assert!(bogus.message.contains("SERVFAIL"), "{}", bogus.message);
    assert_eq!(find(&f, "dnssec.chain", D).severity, Some(Severity::Critical));
    assert_eq!(outcome(&f, "dnssec.island", D), NotApplicable);
    // Without the keys the DS cannot be checked: indeterminate, not a guess.
    assert_eq!(outcome(&f, "dnssec.ds-mismatch", D), Indeterminate);
    assert_eq!(outcome(&f, "dnssec.algorithm", D), Indeterminate);
    assert_eq!(
        outcome(&f, "dnssec.lookup-failed", D),
        Pass,
        "bogus is not a lookup failure"
    );
}

#[test]
fn bogus_answers_on_the_way_up_locate_the_bogus_zone() {
    let bogus = || Answer::empty(Status::Bogus("no valid signature".into()), Proof::Bogus);
    let w = World::new()
        .mx(&["mx.bad.example.com"])
        .secure_zone(D)
        .put("mx.bad.example.com", RType::Soa, bogus())
        .put("bad.example.com", RType::Soa, bogus())
        .put("bad.example.com", RType::Dnskey, bogus())
        .negative("bad.example.com", RType::Ds, Status::NoData, Proof::Secure)
        .put("bad.example.com", RType::Nsec3param, bogus());
    let f = w.run();
    assert_eq!(outcome(&f, "dnssec.bogus", D), Pass);
    assert_eq!(outcome(&f, "dnssec.bogus", "bad.example.com"), Fail);
    assert_eq!(
        find(&f, "dnssec.chain", "bad.example.com").evidence["zone_of"],
        serde_json::json!(["mx.bad.example.com"])
    );
}

#[test]
fn ds_matching_no_key_fails_critical_and_names_the_ds_to_publish() {
    let ksk = ksk13();
    let wrong = ds_for(D, &rsa_key(257, 8, 2048));
    let w = World::new().mx(&[]).secure_zone(D).records(
        D,
        RType::Ds,
        other(RType::Ds, std::slice::from_ref(&wrong)),
        Proof::Secure,
    );
    let f = w.run();
    let m = find(&f, "dnssec.ds-mismatch", D);
    assert_eq!(m.outcome, Fail);
    assert_eq!(m.severity, Some(Severity::Critical));
    let remediation = m.remediation.as_deref().unwrap();
    assert!(remediation.contains(&wrong), "{remediation}");
    assert!(remediation.contains(&ds_for(D, &ksk)), "{remediation}");
}

#[test]
fn a_stale_ds_next_to_a_matching_one_fails_without_critical() {
    let ksk = ksk13();
    let stale = ds_for(D, &rsa_key(257, 8, 2048));
    let w = World::new().mx(&[]).secure_zone(D).records(
        D,
        RType::Ds,
        other(RType::Ds, &[ds_for(D, &ksk), stale]),
        Proof::Secure,
    );
    let f = w.run();
    let m = find(&f, "dnssec.ds-mismatch", D);
    assert_eq!(m.outcome, Fail);
    assert!(m.severity.is_none());
    assert!(m.message.contains("stale"), "{}", m.message);
}

#[test]
fn ds_with_the_right_tag_but_wrong_digest_does_not_match() {
    let ksk = ksk13();
    let mut ds = ds_for(D, &ksk);
    ds.replace_range(ds.len() - 4.., "0000");
    let w = World::new()
        .mx(&[])
        .secure_zone(D)
        .records(D, RType::Ds, other(RType::Ds, &[ds]), Proof::Secure);
    assert_eq!(outcome(&w.run(), "dnssec.ds-mismatch", D), Fail);
}

fn with_signature(inception: i64, expiration: i64) -> Vec<RawFinding> {
    let mut w = World::new().mx(&[]).secure_zone(D);
    let mut soa = w.dns.0.get(&QueryKey::new(D, RType::Soa)).unwrap().clone();
    soa.signatures = vec![sig(RType::Soa, D, inception, expiration)];
    w = w.put(D, RType::Soa, soa);
    w.run()
}

#[test]
fn signatures_valid_for_weeks_pass() {
    let f = find(&with_signature(NOW - DAY, NOW + 14 * DAY), "dnssec.signature-expiry", D).clone();
    assert_eq!(f.outcome, Pass);
    assert!(f.message.contains("14 more days"), "{}", f.message);
}

#[test]
fn signatures_expiring_within_three_days_fail() {
    let f = find(&with_signature(NOW - DAY, NOW + 2 * DAY), "dnssec.signature-expiry", D).clone();
    assert_eq!(f.outcome, Fail);
    assert!(f.message.contains("expire within 3 days"), "{}", f.message);
    assert!(f.severity.is_none());
    let edge = with_signature(NOW - DAY, NOW + EXPIRY_WARNING_SECONDS);
    assert_eq!(outcome(&edge, "dnssec.signature-expiry", D), Pass);
}

#[test]
fn expired_signatures_fail_critical() {
    let f = find(&with_signature(NOW - 20 * DAY, NOW - DAY), "dnssec.signature-expiry", D).clone();
    assert_eq!(f.outcome, Fail);
    assert_eq!(f.severity, Some(Severity::Critical));
    assert!(f.message.contains("expired"), "{}", f.message);
    assert!(f.message.contains("20251231000000"), "{}", f.message);
}

#[test]
fn signatures_not_yet_valid_fail() {
    let f = find(&with_signature(NOW + DAY, NOW + 30 * DAY), "dnssec.signature-expiry", D).clone();
    assert_eq!(f.outcome, Fail);
    assert!(f.message.contains("not valid yet"), "{}", f.message);
}

#[test]
fn signatures_by_another_signer_are_not_the_zones() {
    let f = with_signature(NOW - 20 * DAY, NOW - DAY);
    // The DS RRset's signature belongs to the parent and is never counted.
    let mut w = World::new().mx(&[]).secure_zone(D);
    let mut ds = w.dns.0.get(&QueryKey::new(D, RType::Ds)).unwrap().clone();
    ds.signatures = vec![sig(RType::Ds, "com", NOW - 20 * DAY, NOW - DAY)];
    w = w.put(D, RType::Ds, ds);
    assert_eq!(outcome(&w.run(), "dnssec.signature-expiry", D), Pass);
    assert_eq!(outcome(&f, "dnssec.signature-expiry", D), Fail);
}

fn with_keys(keys: &[String]) -> Vec<RawFinding> {
    let ds = ds_for(D, &keys[0]);
    World::new()
        .mx(&[])
        .secure_zone(D)
        .records(D, RType::Dnskey, other(RType::Dnskey, keys), Proof::Secure)
        .records(D, RType::Ds, other(RType::Ds, &[ds]), Proof::Secure)
        .run()
}

#[test]
fn rsasha1_is_not_recommended_for_signing() {
    let f = with_keys(&[rsa_key(257, 5, 2048), rsa_key(256, 5, 2048)]);
    let a = find(&f, "dnssec.algorithm", D);
    assert_eq!(a.outcome, Fail);
    assert!(a.message.contains("5 (RSASHA1)"), "{}", a.message);
    assert!(a.message.contains("NOT RECOMMENDED"), "{}", a.message);
    assert!(a.severity.is_none());
    assert!(a.remediation.as_deref().unwrap().contains("algorithm 13"));
    assert_eq!(outcome(&f, "dnssec.rsa-key-size", D), Pass);
}

#[test]
fn rsamd5_and_dsa_must_not_be_used() {
    let dsa = format!("257 3 3 {}", b64(&[7u8; 213]));
    let f = with_keys(&[rsa_key(257, 1, 2048), dsa]);
    let a = find(&f, "dnssec.algorithm", D);
    assert_eq!(a.outcome, Fail);
    assert_eq!(a.severity, Some(Severity::High));
    assert!(a.message.contains("MUST NOT"), "{}", a.message);
    assert!(
        a.message.contains("1 (RSAMD5)") && a.message.contains("3 (DSA)"),
        "{}",
        a.message
    );
}

#[test]
fn rsasha256_with_2048_bits_passes_and_1024_fails() {
    let good = with_keys(&[rsa_key(257, 8, 2048), rsa_key(256, 8, 2048)]);
    assert_eq!(outcome(&good, "dnssec.algorithm", D), Pass);
    assert_eq!(outcome(&good, "dnssec.rsa-key-size", D), Pass);
    let weak = with_keys(&[rsa_key(257, 8, 2048), rsa_key(256, 8, 1024)]);
    let r = find(&weak, "dnssec.rsa-key-size", D);
    assert_eq!(r.outcome, Fail);
    assert!(r.message.contains("1024 bits"), "{}", r.message);
    assert!(!r.message.contains(": 2048 bits"), "{}", r.message);
}

#[test]
fn sha1_ds_digest_fails_with_a_sha256_replacement() {
    let ksk = ksk13();
    let key = Dnskey::parse(&ksk).unwrap();
    let sha1 = format!(
        "{} 13 1 {}",
        key.key_tag,
        mailwarden_model::codec::hex_upper(&key.ds_digest(D, 1).unwrap())
    );
    let w = World::new()
        .mx(&[])
        .secure_zone(D)
        .records(D, RType::Ds, other(RType::Ds, &[sha1]), Proof::Secure);
    let f = w.run();
    let d = find(&f, "dnssec.ds-digest", D);
    assert_eq!(d.outcome, Fail);
    assert!(d.message.contains("SHA-1"), "{}", d.message);
    assert!(d.remediation.as_deref().unwrap().contains(&ds_for(D, &ksk)));
    assert_eq!(
        outcome(&f, "dnssec.ds-mismatch", D),
        Pass,
        "a SHA-1 DS still matches its key"
    );
}

fn with_nsec3(param: &str) -> Vec<RawFinding> {
    World::new()
        .mx(&[])
        .secure_zone(D)
        .records(
            D,
            RType::Nsec3param,
            other(RType::Nsec3param, &[param.to_string()]),
            Proof::Secure,
        )
        .run()
}

#[test]
fn nsec3_with_zero_iterations_and_no_salt_passes() {
    assert_eq!(outcome(&with_nsec3("1 0 0 -"), "dnssec.nsec3-parameters", D), Pass);
}

#[test]
fn nsec3_with_iterations_or_salt_fails() {
    let f = with_nsec3("1 0 10 AABBCCDD");
    let n = find(&f, "dnssec.nsec3-parameters", D);
    assert_eq!(n.outcome, Fail);
    assert!(n.message.contains("10 additional iterations"), "{}", n.message);
    assert!(n.message.contains("salt AABBCCDD"), "{}", n.message);
    assert!(n.remediation.as_deref().unwrap().contains("`1 0 0 -`"));
    let salt_only = with_nsec3("1 1 0 AB");
    let n = find(&salt_only, "dnssec.nsec3-parameters", D);
    assert_eq!(n.outcome, Fail);
    assert!(n.remediation.as_deref().unwrap().contains("`1 1 0 -`"));
}

#[test]
fn servfail_finding_the_zone_is_indeterminate_never_bogus() {
    let w = World::new().mx(&[]).failed(D, RType::Soa, Status::ServFail);
    let f = w.run();
    assert_eq!(outcome(&f, "dnssec.lookup-failed", D), Indeterminate);
    assert_eq!(outcome(&f, "dnssec.chain", D), Indeterminate);
    assert!(f.iter().all(|x| x.id != "dnssec.bogus"), "{f:#?}");
}

#[test]
fn timeouts_anywhere_are_indeterminate_never_bogus_or_missing() {
    for rtype in [RType::Soa, RType::Dnskey, RType::Ds, RType::Nsec3param] {
        let f = World::new()
            .mx(&[])
            .secure_zone(D)
            .failed(D, rtype, Status::Timeout)
            .run();
        assert_eq!(outcome(&f, "dnssec.lookup-failed", D), Indeterminate, "{rtype}");
        for x in &f {
            assert_ne!(x.outcome, Fail, "{rtype}: {x:#?}");
        }
        if rtype != RType::Nsec3param {
            assert_eq!(outcome(&f, "dnssec.chain", D), Indeterminate, "{rtype}");
        }
        if matches!(rtype, RType::Dnskey | RType::Ds) {
            assert_eq!(outcome(&f, "dnssec.bogus", D), Indeterminate, "{rtype}");
        }
    }
}

/// Regression: a resolver that refused or failed was reported as a
/// failure of the domain; it is a failure to look.
#[test]
fn a_failing_dnskey_lookup_is_indeterminate_not_a_domain_failure() {
    let f = World::new()
        .mx(&[])
        .secure_zone(D)
        .failed(D, RType::Dnskey, Status::ServFail)
        .run();
    let l = find(&f, "dnssec.lookup-failed", D);
    assert_eq!(l.outcome, Indeterminate);
    assert!(l.message.contains("example.com/DNSKEY"), "{}", l.message);
    assert_eq!(outcome(&f, "dnssec.bogus", D), Indeterminate);
}

#[test]
fn without_validation_proof_rules_are_not_applicable_but_parameters_are_checked() {
    let w = World::new()
        .mx(&[])
        .soa(D, Proof::NotValidated)
        .records(
            D,
            RType::Dnskey,
            other(RType::Dnskey, &[rsa_key(257, 7, 1024)]),
            Proof::NotValidated,
        )
        .negative(D, RType::Ds, Status::NoData, Proof::NotValidated)
        .records(
            D,
            RType::Nsec3param,
            other(RType::Nsec3param, &["1 0 5 -".to_string()]),
            Proof::NotValidated,
        );
    let f = w.run_with(false);
    for id in ["dnssec.chain", "dnssec.island", "dnssec.bogus", "dnssec.bogus-rrset"] {
        assert_eq!(outcome(&f, id, D), NotApplicable, "{id}");
    }
    assert_eq!(outcome(&f, "dnssec.algorithm", D), Fail);
    assert_eq!(outcome(&f, "dnssec.rsa-key-size", D), Fail);
    assert_eq!(outcome(&f, "dnssec.nsec3-parameters", D), Fail);
}

#[test]
fn the_walk_asks_for_soa_up_the_labels_until_it_finds_the_apex() {
    let t = mailwarden_model::Transcript::default();
    let view = mailwarden_model::DnsView::new(&t);
    let options = ScanOptions::default();
    let source = SourceInfo::default();
    let ctx = Context {
        roots: &crate::tls::cert::Roots::WebPki,
        domain: "a.b.example.com",
        options: &options,
        source: &source,
        now: NOW,
    };
    let _ = judge(&ctx, &view);
    // The zone walk asks SOA (and MX for the hosts); the RRsets senders
    // need are asked for dnssec.bogus-rrset.
    let walk = |missing: std::collections::BTreeSet<QueryKey>| -> Vec<String> {
        missing
            .iter()
            .filter(|k| matches!(k.rtype, RType::Soa | RType::Mx))
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(walk(view.into_missing()), ["a.b.example.com/MX", "a.b.example.com/SOA"]);

    let mut dns = Dns::new();
    dns.0.insert(
        QueryKey::new("a.b.example.com", RType::Mx),
        Answer::empty(Status::NoData, Proof::Secure),
    );
    for name in ["a.b.example.com", "b.example.com"] {
        dns.0.insert(
            QueryKey::new(name, RType::Soa),
            Answer::empty(Status::NoData, Proof::Secure),
        );
    }
    let view = mailwarden_model::DnsView::new(&dns.0);
    let _ = judge(&ctx, &view);
    assert_eq!(walk(view.into_missing()), ["example.com/SOA"]);
}

/// Regression: `Zone::read` used to `filter_map(Dnskey::parse)` the DNSKEY
/// texts, so a key it could not parse vanished and the DS that named it
/// "matched no key": a false critical on a key the judge never read.
#[test]
fn a_dnskey_that_cannot_be_parsed_is_not_silently_dropped() {
    let ksk = ksk13();
    let ds = ds_for(D, &ksk);
    // The KSK the DS names, with its key damaged: `!` is not base64.
    let damaged = format!("{}!", ksk);
    let w = World::new()
        .mx(&[])
        .secure_zone(D)
        .records(
            D,
            RType::Dnskey,
            other(RType::Dnskey, &[damaged, zsk13()]),
            Proof::Secure,
        )
        .records(D, RType::Ds, other(RType::Ds, &[ds]), Proof::Secure);
    let f = w.run();
    let m = find(&f, "dnssec.ds-mismatch", D);
    assert_eq!(m.outcome, Indeterminate, "{}", m.message);
    assert!(m.message.contains("could not be read"), "{}", m.message);
    assert!(m.message.contains("not base64"), "{}", m.message);
    let unparsed = m.evidence["dnskey_unparsed"].as_array().unwrap();
    assert_eq!(unparsed.len(), 1, "{unparsed:?}");
    // The key that was read passes the algorithm rule, but the one that
    // was not might not: indeterminate, saying which.
    let alg = find(&f, "dnssec.algorithm", D);
    assert_eq!(alg.outcome, Indeterminate, "{}", alg.message);
    assert!(alg.evidence.contains_key("dnskey_unparsed"));
    // A healthy zone carries no such evidence.
    let healthy = World::new().mx(&[]).secure_zone(D).run();
    let m = find(&healthy, "dnssec.ds-mismatch", D);
    assert_eq!(m.outcome, Pass);
    assert!(!m.evidence.contains_key("dnskey_unparsed"));
}

#[test]
fn only_unparsable_keys_ds_or_nsec3param_are_could_not_read_not_absent() {
    let ds = ds_for(D, &ksk13());
    let w = World::new()
        .mx(&[])
        .secure_zone(D)
        .records(
            D,
            RType::Dnskey,
            other(RType::Dnskey, &["257 3 13 !!".into()]),
            Proof::Secure,
        )
        .records(D, RType::Ds, other(RType::Ds, &[ds]), Proof::Secure);
    let f = w.run();
    for id in ["dnssec.ds-mismatch", "dnssec.algorithm", "dnssec.rsa-key-size"] {
        let x = find(&f, id, D);
        assert_eq!(x.outcome, Indeterminate, "{id}: {}", x.message);
        assert!(x.message.contains("Could not read the DNSKEY"), "{id}: {}", x.message);
    }
    let w = World::new().mx(&[]).secure_zone(D).records(
        D,
        RType::Ds,
        other(RType::Ds, &["1 13 2 XYZ".into()]),
        Proof::Secure,
    );
    let f = w.run();
    let m = find(&f, "dnssec.ds-mismatch", D);
    assert_eq!(m.outcome, Indeterminate, "{}", m.message);
    assert!(m.message.contains("Could not read the DS"), "{}", m.message);
    let f = with_nsec3("1 0 10 XYZ");
    let n = find(&f, "dnssec.nsec3-parameters", D);
    assert_eq!(n.outcome, Indeterminate, "{}", n.message);
    assert!(n.message.contains("salt"), "{}", n.message);
}

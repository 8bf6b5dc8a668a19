//! DKIM and BIMI through the public API: what the judges ask the collector
//! for, and judging saved evidence with real test keys.

use mailwarden_checks::{Context, bimi, dkim};
use mailwarden_model::{
    Answer, DnsView, Outcome, Proof, QueryKey, RData, RType, ScanOptions, SourceInfo, Status, Transcript,
};

const D: &str = "example.org";

fn ctx<'a>(options: &'a ScanOptions, source: &'a SourceInfo) -> Context<'a> {
    Context {
        roots: &mailwarden_checks::tls::cert::Roots::WebPki,
        domain: D,
        options,
        source,
        now: 0,
    }
}

/// Round one asks the `_domainkey` probe and the user's selectors; the
/// built-in selectors follow only once the probe shows names exist below
/// `_domainkey` (RFC 8020), all in one further round.
#[test]
fn dkim_asks_the_probe_first_then_every_selector_in_one_round() {
    let options = ScanOptions {
        dkim_selectors: vec!["mysel".into()],
        parked: false,
        ..ScanOptions::default()
    };
    let source = SourceInfo::default();
    let mut transcript = Transcript::default();
    let view = DnsView::new(&transcript);
    let findings = dkim::judge(&ctx(&options, &source), &view);
    let first = view.into_missing();
    let probe = QueryKey::new("_domainkey.example.org", RType::Txt);
    assert!(first.contains(&probe));
    assert!(first.contains(&QueryKey::new("mysel._domainkey.example.org", RType::Txt)));
    // The MX set too: a null-MX domain needs no key (the MX judge asks it anyway).
    assert!(first.contains(&QueryKey::new(D, RType::Mx)));
    assert_eq!(first.len(), 3, "{first:?}");
    // Nothing collected yet: indeterminate, never "missing".
    let keys = findings.iter().find(|f| f.id == "dkim.keys-found").unwrap();
    assert_eq!(keys.outcome, Outcome::Indeterminate);

    transcript.insert(probe, Answer::empty(Status::NoData, Proof::NotValidated));
    let view = DnsView::new(&transcript);
    dkim::judge(&ctx(&options, &source), &view);
    let second = view.into_missing();
    for s in dkim::COMMON_SELECTORS {
        assert!(
            second.contains(&QueryKey::new(&format!("{s}._domainkey.{D}"), RType::Txt)),
            "{s}"
        );
    }
    assert_eq!(
        second.len(),
        dkim::COMMON_SELECTORS.len() + 2,
        "built-ins, mysel and MX"
    );
}

#[test]
fn saved_evidence_with_a_real_2048_bit_key_is_judged_offline() {
    let key = include_str!("../../../testdata/dkim/rsa2048.spki.b64").trim();
    // A 2048-bit key is longer than one character-string: split at 255.
    let record = format!("v=DKIM1; k=rsa; p={key}");
    let strings = vec![record[..255].to_string(), record[255..].to_string()];
    let options = ScanOptions::default();
    let source = SourceInfo::default();
    let mut t = Transcript::default();
    for s in dkim::COMMON_SELECTORS {
        t.insert(
            QueryKey::new(&format!("{s}._domainkey.{D}"), RType::Txt),
            Answer::empty(Status::NxDomain, Proof::NotValidated),
        );
    }
    t.insert(
        QueryKey::new(&format!("google._domainkey.{D}"), RType::Txt),
        Answer::with_records(vec![RData::Txt { strings }], Proof::NotValidated),
    );
    t.insert(
        QueryKey::new(&format!("_domainkey.{D}"), RType::Txt),
        Answer::empty(Status::NoData, Proof::NotValidated),
    );
    t.insert(
        QueryKey::new(D, RType::Mx),
        Answer::with_records(
            vec![RData::Mx {
                preference: 10,
                exchange: format!("mx.{D}"),
            }],
            Proof::NotValidated,
        ),
    );
    let json = serde_json::to_string(&t).unwrap();
    let saved: Transcript = serde_json::from_str(&json).unwrap();
    let view = DnsView::new(&saved);
    let findings = dkim::judge(&ctx(&options, &source), &view);
    assert!(view.into_missing().is_empty());
    let rsa = findings
        .iter()
        .find(|f| f.id == "dkim.rsa-weak" && f.subject == "google._domainkey.example.org")
        .unwrap();
    assert_eq!(rsa.outcome, Outcome::Pass);
    assert_eq!(rsa.evidence["rsa_bits"], 2048);
    assert!(findings.iter().all(|f| f.outcome != Outcome::Fail), "{findings:#?}");
}

#[test]
fn bimi_asks_dmarc_only_when_a_logo_is_published() {
    let options = ScanOptions::default();
    let source = SourceInfo::default();
    let mut t = Transcript::default();
    t.insert(
        QueryKey::new(&format!("default._bimi.{D}"), RType::Txt),
        Answer::with_records(
            vec![RData::Txt {
                strings: vec!["v=BIMI1; l=; a=;".into()],
            }],
            Proof::NotValidated,
        ),
    );
    let view = DnsView::new(&t);
    bimi::judge(&ctx(&options, &source), &view);
    assert!(view.into_missing().is_empty());
    t.insert(
        QueryKey::new(&format!("default._bimi.{D}"), RType::Txt),
        Answer::with_records(
            vec![RData::Txt {
                strings: vec!["v=BIMI1; l=https://example.org/logo.svg; a=https://example.org/vmc.pem".into()],
            }],
            Proof::NotValidated,
        ),
    );
    let view = DnsView::new(&t);
    bimi::judge(&ctx(&options, &source), &view);
    let missing: Vec<QueryKey> = view.into_missing().into_iter().collect();
    assert_eq!(missing, vec![QueryKey::new("_dmarc.example.org", RType::Txt)]);
}

//! Judging round by round (each judge only until it wants nothing more,
//! its findings kept from that round) gives exactly what judging the
//! final evidence once with every judge gives, on every zone the
//! repository ships, and the evidence itself is complete: judging it
//! again asks nothing.

use std::path::PathBuf;

use mailwarden_checks::{Context, judge_domain, judge_observation};
use mailwarden_dns::zonefile::ZoneFileSource;
use mailwarden_engine::{Budget, audit};
use mailwarden_model::probe::NoProber;
use mailwarden_model::{DnsView, ScanOptions};

const NOW: i64 = 1_767_225_600; // 2026-01-01

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// (domain, zone file) for every zone the examples and tests ship.
const ZONES: [(&str, &str); 8] = [
    ("example.com", "examples/example.com.zone"),
    ("parked.example", "examples/parked.example.zone"),
    ("example.com", "testdata/zones/example.com.zone"),
    ("child.example.com", "testdata/zones/child.example.com.zone"),
    ("hostile.example", "testdata/cli/hostile.example.zone"),
    ("offsite.example", "testdata/cli/offsite.example.zone"),
    ("one-network.example", "testdata/cli/one-network.example.zone"),
    ("partial.example", "testdata/cli/partial.example.zone"),
];

/// Whether every judge, run on the saved evidence, finds every answer.
fn asks_nothing_more(observation: &mailwarden_model::Observation) -> bool {
    let roots = mailwarden_checks::roots_for(&observation.options).unwrap();
    let ctx = Context {
        domain: &observation.domain,
        options: &observation.options,
        source: &observation.source,
        now: NOW,
        roots: &roots,
    };
    let view = DnsView::with_probes(&observation.dns, &observation.probes);
    judge_domain(&ctx, &view);
    view.into_wants().is_empty()
}

#[tokio::test]
async fn round_by_round_findings_equal_judging_the_final_evidence_once() {
    let prober = NoProber::new("no probes in this test");
    for (domain, zone) in ZONES {
        let source = ZoneFileSource::load(&[repo(zone)]).unwrap_or_else(|e| panic!("{zone}: {e}"));
        for options in [
            ScanOptions::default(),
            ScanOptions {
                checks: vec!["mx".into(), "smtp".into()],
                ..ScanOptions::default()
            },
        ] {
            let audited = audit(&source, &prober, domain, options, Budget::default(), NOW).await;
            let again = judge_observation(&audited.observation, NOW);
            assert_eq!(audited.findings, again, "{domain} ({zone})");
            assert!(asks_nothing_more(&audited.observation), "{domain} ({zone})");
        }
    }
}

#[tokio::test]
async fn a_domain_that_does_not_exist_gets_only_the_nxdomain_finding() {
    let prober = NoProber::new("no probes in this test");
    let source = ZoneFileSource::load(&[repo("examples/example.com.zone")]).unwrap();
    let audited = audit(
        &source,
        &prober,
        "nothere.example.com",
        ScanOptions::default(),
        Budget::default(),
        NOW,
    )
    .await;
    let ids: Vec<&str> = audited.findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["dns.nxdomain"]);
}

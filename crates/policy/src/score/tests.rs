use super::*;

fn f(id: &str, outcome: Outcome, severity: Severity) -> Finding {
    let mut f = Finding::new(id, outcome, "example.com", "m");
    f.severity = severity;
    f
}

fn cat() -> &'static Catalogue {
    Catalogue::builtin()
}

/// Findings as the catalogue would complete them: each rule at its
/// catalogue severity.
fn findings(outcome: Outcome, ids: &[&str]) -> Vec<Finding> {
    ids.iter()
        .map(|id| f(id, outcome, cat().get(id).unwrap_or_else(|| panic!("{id}")).severity))
        .collect()
}

#[test]
fn all_pass_is_100_and_failures_cost_by_severity() {
    let pass = [
        f("spf.missing", Outcome::Pass, Severity::High),
        f("spf.softfail-all", Outcome::Pass, Severity::Low),
    ];
    let s = Scores::compute(&pass, cat());
    assert_eq!(s.overall, Some(100));
    assert_eq!(s.areas[&Area::SenderAuthentication].score, 100);

    let high_fail = [
        f("spf.missing", Outcome::Fail, Severity::High),
        f("spf.softfail-all", Outcome::Pass, Severity::Low),
    ];
    let low_fail = [
        f("spf.missing", Outcome::Pass, Severity::High),
        f("spf.softfail-all", Outcome::Fail, Severity::Low),
    ];
    let h = Scores::compute(&high_fail, cat());
    let l = Scores::compute(&low_fail, cat());
    // 7 possible: high fail loses 6 → floor(100/7) = 14; low fail loses 1 → floor(600/7) = 85.
    assert_eq!((h.overall, l.overall), (Some(14), Some(85)));
    assert_eq!(h.cap, None, "14 is already below the high cap");
    assert_eq!(
        h.areas[&Area::SenderAuthentication].lost,
        vec!["spf.missing example.com"]
    );
}

#[test]
fn indeterminate_is_excluded_and_listed_not_counted() {
    let with = [
        f("spf.missing", Outcome::Pass, Severity::High),
        f("spf.lookup-failed", Outcome::Indeterminate, Severity::Medium),
        f("mx.present", Outcome::NotApplicable, Severity::Medium),
    ];
    let without = [f("spf.missing", Outcome::Pass, Severity::High)];
    let a = Scores::compute(&with, cat());
    let b = Scores::compute(&without, cat());
    assert_eq!(a.overall, b.overall);
    assert_eq!(a.overall, Some(100));
    let sa = &a.areas[&Area::SenderAuthentication];
    assert_eq!(sa.excluded, vec!["spf.lookup-failed example.com"]);
    assert_eq!((sa.points_possible, sa.points_unknown), (6, 3));
    assert!(sa.lost.is_empty());
    assert!(!a.areas.contains_key(&Area::Routing), "n/a only: no routing score");
    assert!(
        !a.unscored_areas.contains_key(&Area::Routing),
        "n/a is not could-not-look"
    );
    assert_eq!(a.excluded, vec!["spf.lookup-failed example.com"]);
    assert_eq!((a.checks, a.could_not_look), (2, 1));
}

#[test]
fn nothing_seen_is_not_scored_never_100() {
    // `scan good.test --resolver 127.0.0.1:9`: every check indeterminate
    // was "score 100/100".
    let blind = findings(
        Outcome::Indeterminate,
        &[
            "mx.present",
            "spf.missing",
            "dmarc.missing",
            "dnssec.chain",
            "smtp.starttls",
            "tlsrpt.record",
        ],
    );
    let s = Scores::compute(&blind, cat());
    assert_eq!(s.overall, None);
    assert_eq!(s.not_scored.as_deref(), Some("6 of 6 checks could not look"));
    assert_eq!(s.describe(), "not scored: 6 of 6 checks could not look");
    assert!(s.areas.is_empty(), "no area scored: {:?}", s.areas);
    assert_eq!(
        s.unscored_areas[&Area::TransportSecurity],
        "2 of 2 checks could not look"
    );
    assert_eq!(s.unscored_areas.len(), 4);
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["overall"].is_null(), "{json}");
    assert_eq!(Scores::compute(&[], cat()).overall, None, "no finding, no score");
}

#[test]
fn an_area_mostly_not_looked_at_is_not_scored() {
    // "Transport security 100/100" when nothing was probed: the DNS-side
    // TLS-RPT record passed, the STARTTLS checks could not look.
    let mut all = findings(Outcome::Pass, &["tlsrpt.record", "spf.missing", "dmarc.missing"]);
    all.extend(findings(
        Outcome::Indeterminate,
        &["smtp.starttls", "smtp.handshake", "smtp.cert-name"],
    ));
    let s = Scores::compute(&all, cat());
    assert!(!s.areas.contains_key(&Area::TransportSecurity));
    assert_eq!(
        s.unscored_areas[&Area::TransportSecurity],
        "3 of 4 checks could not look (worth 15 points, more than the 1 points of the checks that could)"
    );
    assert_eq!(s.overall, Some(100), "scored over what could be seen");
    assert_eq!(s.areas[&Area::SenderAuthentication].score, 100);
    // Half seen by weight is enough: 6 unknown against 6 judged.
    let half = [
        f("smtp.starttls", Outcome::Pass, Severity::High),
        f("smtp.handshake", Outcome::Indeterminate, Severity::High),
    ];
    assert_eq!(Scores::compute(&half, cat()).areas[&Area::TransportSecurity].score, 100);
}

#[test]
fn a_critical_failure_caps_the_score_at_30_and_a_high_one_at_70() {
    let mut many = findings(
        Outcome::Pass,
        &[
            "mx.present",
            "mx.redundancy",
            "spf.missing",
            "spf.syntax",
            "spf.no-all",
            "dmarc.missing",
            "dmarc.policy-none",
            "dkim.keys-found",
            "dnssec.chain",
            "ns.count",
            "ns.lame",
            "smtp.starttls",
            "smtp.handshake",
            "smtp.cert-name",
            "smtp.cert-untrusted",
            "mta-sts.policy",
        ],
    );
    many.push(f("smtp.cert-expired", Outcome::Fail, Severity::Critical));
    let s = Scores::compute(&many, cat());
    assert_eq!(s.overall, Some(30));
    let cap = s.cap.clone().expect("capped");
    assert_eq!((cap.limit, cap.severity), (30, Severity::Critical));
    assert!(
        cap.uncapped > 80,
        "the formula alone would say {}: close to a correct 100",
        cap.uncapped
    );
    assert_eq!(s.areas[&Area::TransportSecurity].score, 30);
    assert_eq!(s.areas[&Area::Routing].score, 100, "other areas keep their own score");
    assert_eq!(s.describe(), "score 30/100 (capped by a critical failure)");

    let last = many.len() - 1;
    many[last].severity = Severity::High;
    assert_eq!(Scores::compute(&many, cat()).overall, Some(70));
    many[last].severity = Severity::Medium;
    let medium = Scores::compute(&many, cat());
    assert!(medium.overall > Some(90) && medium.cap.is_none(), "{medium:?}");
}

#[test]
fn a_failure_seen_caps_the_score_even_in_an_area_not_scored() {
    let mut all = findings(Outcome::Pass, &["spf.missing", "dmarc.missing"]);
    all.extend(findings(
        Outcome::Indeterminate,
        &[
            "smtp.starttls",
            "smtp.handshake",
            "smtp.cert-name",
            "smtp.cert-untrusted",
        ],
    ));
    all.push(f("mta-sts.enforce-tls", Outcome::Fail, Severity::Critical));
    let s = Scores::compute(&all, cat());
    assert!(s.unscored_areas.contains_key(&Area::TransportSecurity), "{s:?}");
    assert_eq!(s.overall, Some(30));
}

/// The faults of the lab (tests/real-peers) and of issue 9, as findings,
/// each next to an otherwise correct configuration.
fn correct_domain() -> Vec<Finding> {
    findings(
        Outcome::Pass,
        &[
            "mx.present",
            "mx.target-unresolvable",
            "mx.redundancy",
            "spf.missing",
            "spf.syntax",
            "spf.no-all",
            "spf.lookup-limit",
            "dmarc.missing",
            "dmarc.policy-none",
            "dmarc.rua-missing",
            "dkim.keys-found",
            "dkim.rsa-weak",
            "dnssec.chain",
            "dnssec.bogus",
            "mx.dnssec",
            "ns.count",
            "ns.lame",
            "ns.consistency",
            "smtp.reachable",
            "smtp.starttls",
            "smtp.handshake",
            "smtp.cert-expired",
            "smtp.cert-name",
            "smtp.cert-untrusted",
            "smtp.cipher",
            "mta-sts.record",
            "mta-sts.policy",
            "mta-sts.mx-match",
            "mta-sts.enforce-tls",
            "tlsrpt.record",
            "dane.match",
        ],
    )
}

fn with_failures(failures: &[(&str, Severity)]) -> Vec<Finding> {
    let mut all = correct_domain();
    for (id, severity) in failures {
        let finding = all.iter_mut().find(|f| f.id == *id).expect("in the correct domain");
        finding.outcome = Outcome::Fail;
        finding.severity = *severity;
    }
    all
}

/// A fault's name, its failing findings, and the highest score allowed.
type Fault<'a> = (&'a str, &'a [(&'a str, Severity)], u8);

#[test]
fn lab_fault_domains_rank_well_below_a_correct_domain() {
    let correct = Scores::compute(&correct_domain(), cat()).overall.unwrap();
    assert_eq!(correct, 100);
    let faults: &[Fault<'_>] = &[
        // Inbound mail refused by MTA-STS senders: expired certificate under enforce.
        (
            "expired certificate under MTA-STS enforce",
            &[
                ("smtp.cert-expired", Severity::Critical),
                ("mta-sts.enforce-tls", Severity::Critical),
            ],
            30,
        ),
        (
            "bogus DNSSEC",
            &[("dnssec.bogus", Severity::Critical), ("mx.dnssec", Severity::Critical)],
            30,
        ),
        (
            "TLSA matching no certificate",
            &[("dane.match", Severity::Critical)],
            30,
        ),
        ("no STARTTLS", &[("smtp.starttls", Severity::High)], 70),
        ("lame delegation", &[("ns.lame", Severity::High)], 70),
        ("DMARC p=none", &[("dmarc.policy-none", Severity::High)], 70),
        (
            "untrusted certificate, no MTA-STS",
            &[("smtp.cert-untrusted", Severity::Medium)],
            99,
        ),
    ];
    for (name, failures, at_most) in faults {
        let s = Scores::compute(&with_failures(failures), cat());
        let score = s.overall.unwrap();
        assert!(score <= *at_most, "{name}: {score} > {at_most}");
        assert!(score < correct, "{name}: {score} does not rank below {correct}");
    }
    // Refused mail is never close to a working domain: 70 points apart.
    let refused = Scores::compute(&with_failures(faults[0].1), cat()).overall.unwrap();
    assert!(correct - refused >= 70, "{refused}");
}

#[test]
fn overall_pools_areas_and_is_deterministic() {
    let findings = [
        f("mx.present", Outcome::Fail, Severity::Medium),
        f("mx.redundancy", Outcome::Pass, Severity::Low),
        f("dnssec.bogus", Outcome::Pass, Severity::Critical),
        f("spf.missing", Outcome::Pass, Severity::High),
    ];
    let s = Scores::compute(&findings, cat());
    // routing 4 possible, 3 lost → 25; overall 20 possible, 3 lost → 85.
    assert_eq!(s.areas[&Area::Routing].score, 25);
    assert_eq!(s.overall, Some(85));
    let mut reversed = findings.to_vec();
    reversed.reverse();
    assert_eq!(Scores::compute(&reversed, cat()), s);
}

#[test]
fn info_findings_alone_are_not_scored() {
    let s = Scores::compute(&[f("spf.string-split", Outcome::Fail, Severity::Info)], cat());
    assert_eq!(s.overall, None);
    assert_eq!(
        s.unscored_areas[&Area::SenderAuthentication],
        "its checks carry no points (info only)"
    );
}

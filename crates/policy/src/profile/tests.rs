use mailwarden_model::Severity;

use super::*;

fn f(id: &str, outcome: Outcome) -> Finding {
    let mut f = Finding::new(id, outcome, "example.com", "m");
    f.severity = Severity::High;
    f
}

fn profile(body: &str) -> Profile {
    let text = format!("[profile]\nid = \"t\"\ntitle = \"T\"\nframework = \"mailwarden\"\n\n{body}");
    Profile::parse("t.toml", &text, Catalogue::builtin(), Frameworks::builtin()).unwrap()
}

const DMARC_REJECT: &str = "[[requirement]]\nid = \"reject\"\ntitle = \"DMARC p=reject\"\nrules = [\"dmarc.policy-none\", \"dmarc.subdomain-policy\"]\n";

#[test]
fn met_not_met_and_not_determinable() {
    let p = profile(DMARC_REJECT);
    let met = p.evaluate(
        &[
            f("dmarc.policy-none", Outcome::Pass),
            f("dmarc.subdomain-policy", Outcome::NotApplicable),
        ],
        Catalogue::builtin(),
    );
    assert_eq!(met.verdict, Verdict::Met);
    assert_eq!(
        met.requirements[0].findings,
        vec![
            "dmarc.policy-none example.com pass",
            "dmarc.subdomain-policy example.com not-applicable"
        ]
    );
    let not_met = p.evaluate(
        &[
            f("dmarc.policy-none", Outcome::Fail),
            f("dmarc.subdomain-policy", Outcome::Indeterminate),
        ],
        Catalogue::builtin(),
    );
    assert_eq!(not_met.verdict, Verdict::NotMet, "a failure beats indeterminate");
    let nd = p.evaluate(
        &[
            f("dmarc.policy-none", Outcome::Pass),
            f("dmarc.subdomain-policy", Outcome::Indeterminate),
        ],
        Catalogue::builtin(),
    );
    assert_eq!(nd.verdict, Verdict::NotDeterminable);
    // A rule the DMARC judge did not report while it ran: nothing to object to.
    let silent = p.evaluate(&[f("dmarc.policy-none", Outcome::Pass)], Catalogue::builtin());
    assert_eq!(silent.verdict, Verdict::Met);
    // No DMARC finding at all: the judge did not run; not evidence.
    let missing = p.evaluate(&[f("spf.missing", Outcome::Pass)], Catalogue::builtin());
    assert_eq!(missing.verdict, Verdict::NotDeterminable);
    assert!(missing.requirements[0].notes[0].contains("no finding of dmarc.policy-none"));
}

#[test]
fn planned_rule_is_not_determinable_never_met() {
    let p = profile(
        "[[requirement]]\nid = \"starttls\"\ntitle = \"STARTTLS on every MX\"\nplanned = [\"starttls.offered\"]\n",
    );
    let r = p.evaluate(&[f("mx.present", Outcome::Pass)], Catalogue::builtin());
    assert_eq!(r.verdict, Verdict::NotDeterminable);
    assert!(
        r.requirements[0].notes[0].starts_with("no rule yet: starttls.offered"),
        "{:?}",
        r.requirements[0].notes
    );
}

#[test]
fn must_pass_needs_a_pass() {
    let p = profile("[[requirement]]\nid = \"signed\"\ntitle = \"DNSSEC\"\nmust_pass = [\"dnssec.chain\"]\n");
    let na = p.evaluate(&[f("dnssec.chain", Outcome::NotApplicable)], Catalogue::builtin());
    assert_eq!(na.verdict, Verdict::NotDeterminable);
    let ok = p.evaluate(&[f("dnssec.chain", Outcome::Pass)], Catalogue::builtin());
    assert_eq!(ok.verdict, Verdict::Met);
}

#[test]
fn overall_verdict_combines_requirements() {
    let p = profile(&format!(
        "{DMARC_REJECT}\n[[requirement]]\nid = \"starttls\"\ntitle = \"STARTTLS\"\nplanned = [\"starttls.offered\"]\n"
    ));
    let good = [
        f("dmarc.policy-none", Outcome::Pass),
        f("dmarc.subdomain-policy", Outcome::Pass),
    ];
    assert_eq!(
        p.evaluate(&good, Catalogue::builtin()).verdict,
        Verdict::NotDeterminable
    );
    let bad = [
        f("dmarc.policy-none", Outcome::Fail),
        f("dmarc.subdomain-policy", Outcome::Pass),
    ];
    assert_eq!(p.evaluate(&bad, Catalogue::builtin()).verdict, Verdict::NotMet);
}

#[test]
fn rua_includes_check() {
    let p = profile(
        "[[requirement]]\nid = \"rua\"\ntitle = \"rua\"\nrules = [\"dmarc.rua-invalid\"]\ncheck = { kind = \"dmarc-rua-includes\", value = \"mailto:reports@dmarc.cyber.dhs.gov\" }\n",
    );
    let with = |uris: &[&str]| {
        let mut rua = f("dmarc.rua-missing", Outcome::Pass);
        rua.evidence.insert("rua".into(), serde_json::json!(uris));
        p.evaluate(&[rua, f("dmarc.rua-invalid", Outcome::Pass)], Catalogue::builtin())
            .verdict
    };
    assert_eq!(
        with(&["mailto:dmarc@example.com", "MAILTO:Reports@dmarc.cyber.dhs.gov"]),
        Verdict::Met
    );
    assert_eq!(with(&["mailto:dmarc@example.com"]), Verdict::NotMet);
    let no_evidence = p.evaluate(
        &[
            f("dmarc.rua-missing", Outcome::Pass),
            f("dmarc.rua-invalid", Outcome::Pass),
        ],
        Catalogue::builtin(),
    );
    assert_eq!(no_evidence.verdict, Verdict::NotDeterminable);
    let no_rua = p.evaluate(
        &[
            f("dmarc.rua-missing", Outcome::Fail),
            f("dmarc.rua-invalid", Outcome::NotApplicable),
        ],
        Catalogue::builtin(),
    );
    assert_eq!(no_rua.verdict, Verdict::NotMet);
}

#[test]
fn every_builtin_profile_loads_and_names_existing_rules() {
    let ids: Vec<&str> = Profile::builtins().iter().map(|p| p.id.as_str()).collect();
    for want in [
        "baseline",
        "bod-18-01",
        "bsi-tr-03108",
        "nist-800-177",
        "pci-dss-4",
        "hipaa",
        "gdpr",
        "iso-27001",
        "nis2",
        "ncsc-uk",
        "sox",
    ] {
        assert!(ids.contains(&want), "missing built-in profile {want}");
    }
    let cat = Catalogue::builtin();
    for p in Profile::builtins() {
        for r in &p.requirements {
            for rule in r.rules.iter().chain(&r.must_pass) {
                assert!(cat.get(rule).is_some(), "{}/{}: unknown rule {rule}", p.id, r.id);
            }
        }
    }
}

#[test]
fn bod_18_01_weak_protocols_and_starttls_are_judged_by_the_probe_rules() {
    let p = Profile::builtin("bod-18-01").unwrap();
    let r = p.evaluate(&[], Catalogue::builtin());
    let req = |r: &ProfileResult, id: &str| r.requirements.iter().find(|q| q.id == id).unwrap().clone();
    assert_eq!(req(&r, "no-weak-tls").verdict, Verdict::NotDeterminable, "nothing seen");
    let mx = "mx.example.com (192.0.2.25)";
    let mut legacy: Vec<Finding> = ["smtp.ssl3", "smtp.legacy-cipher"]
        .iter()
        .map(|id| Finding::new(id, Outcome::Pass, mx, "refused"))
        .collect();
    // TLS 1.0/1.1 are not part of BOD 18-01's SSL requirement.
    legacy.push(Finding::new("smtp.legacy-protocol", Outcome::Fail, mx, "TLSv1.0"));
    let weak = |f: &[Finding]| req(&p.evaluate(f, Catalogue::builtin()), "no-weak-tls").verdict;
    assert_eq!(weak(&legacy), Verdict::Met);
    legacy[1].outcome = Outcome::Fail;
    assert_eq!(weak(&legacy), Verdict::NotMet, "3DES accepted");
    legacy[1].outcome = Outcome::Indeterminate;
    assert_eq!(weak(&legacy), Verdict::NotDeterminable, "could not tell");
    let mut findings: Vec<Finding> = [
        "smtp.starttls",
        "smtp.starttls-refused",
        "smtp.handshake",
        "failover.tls-parity",
    ]
    .iter()
    .map(|id| Finding::new(id, Outcome::Pass, mx, "ok"))
    .collect();
    assert_eq!(
        req(&p.evaluate(&findings, Catalogue::builtin()), "starttls").verdict,
        Verdict::Met
    );
    findings[0].outcome = Outcome::Fail;
    assert_eq!(
        req(&p.evaluate(&findings, Catalogue::builtin()), "starttls").verdict,
        Verdict::NotMet
    );
}

#[test]
fn bsi_dane_is_never_met_on_tlsa_records_alone() {
    let p = Profile::builtin("bsi-tr-03108").unwrap();
    let mx = "mx.example.com";
    let mut findings: Vec<Finding> = [
        "dane.tlsa-present",
        "dane.insecure",
        "dane.bogus",
        "dane.syntax",
        "dane.usage",
    ]
    .iter()
    .map(|id| Finding::new(id, Outcome::Pass, mx, "ok"))
    .collect();
    findings.push(Finding::new(
        "dane.match",
        Outcome::Indeterminate,
        mx,
        "needs the probe",
    ));
    let dane = |f: &[Finding]| {
        p.evaluate(f, Catalogue::builtin())
            .requirements
            .into_iter()
            .find(|r| r.id == "dane")
            .unwrap()
    };
    assert_eq!(dane(&findings).verdict, Verdict::NotDeterminable);
    findings[5].outcome = Outcome::Pass;
    assert_eq!(dane(&findings).verdict, Verdict::Met, "records and a matching chain");
    findings[0].outcome = Outcome::Fail;
    assert_eq!(dane(&findings).verdict, Verdict::NotMet);
}

#[test]
fn syntax_errors_name_file_and_line() {
    let e = Profile::parse(
        "custom.toml",
        "[profile]\nid = \"x\"\ntitle = \"X\"\nframework = \"mailwarden\"\n[[requirement]\nid = 1\n",
        Catalogue::builtin(),
        Frameworks::builtin(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("custom.toml: ") && e.contains("line 5"), "{e}");
    let e = Profile::parse(
        "custom.toml",
        "[profile]\nid = \"x\"\ntitle = \"X\"\nframework = \"mailwarden\"\n[[requirement]]\nid = \"r\"\ntitle = \"R\"\nrules = [\"spf.nope\"]\n",
        Catalogue::builtin(),
        Frameworks::builtin(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("\"spf.nope\" is not in the rule catalogue"), "{e}");
    assert!(matches!(
        Profile::load("no-such-profile"),
        Err(ProfileError::Unknown { .. })
    ));
}

/// Rules whose catalogue severity is below high but that a judge raises to
/// high or critical (`.severity(Severity::High | Severity::Critical)` in
/// crates/checks): a certificate problem under an MTA-STS enforce policy,
/// a bogus chain, expired signatures, a sub-1024-bit DKIM key ...
const RAISED_TO_HIGH_OR_CRITICAL: &[&str] = &[
    "mta-sts.mx-match",
    "smtp.cert-expired",
    "smtp.cert-not-yet-valid",
    "smtp.cert-name",
    "smtp.cert-untrusted",
    "dnssec.chain",
    "dnssec.algorithm",
    "mx.dnssec",
    "dkim.rsa-weak",
];

/// Every rule that can fail high or critical and maps to one of the
/// requirement's controls.
fn serious_rules_of(r: &Requirement) -> std::collections::BTreeSet<&'static str> {
    let (cat, fw) = (Catalogue::builtin(), Frameworks::builtin());
    r.controls
        .iter()
        .filter_map(|key| key.split_once('/'))
        .flat_map(|(framework, control)| fw.rules_for(framework, control))
        .filter(|rule| {
            RAISED_TO_HIGH_OR_CRITICAL.contains(rule) || cat.get(rule).is_some_and(|c| c.severity >= Severity::High)
        })
        .collect()
}

#[test]
fn a_serious_failure_of_a_mapped_rule_makes_every_requirement_not_met() {
    let mut silent = Vec::new();
    for p in Profile::builtins() {
        for r in &p.requirements {
            for rule in serious_rules_of(r) {
                if r.exemption(rule).is_some() {
                    continue;
                }
                for severity in [Severity::High, Severity::Critical] {
                    let mut failing = Finding::new(rule, Outcome::Fail, "mx.example.com", "broken");
                    failing.severity = severity;
                    let verdict = evaluate_requirement(r, &[failing], Catalogue::builtin()).verdict;
                    if verdict != Verdict::NotMet {
                        silent.push(format!("{}/{}: {rule} ({verdict})", p.id, r.id));
                        break;
                    }
                }
            }
        }
    }
    assert!(
        silent.is_empty(),
        "a high or critical failure of these rules leaves the requirement met or not determinable; judge the rule or add an `exempt` entry saying why:\n{}",
        silent.join("\n")
    );
}

#[test]
fn exemptions_name_catalogue_rules_with_a_reason_and_never_a_judged_rule() {
    let base = "[[requirement]]\nid = \"r\"\ntitle = \"R\"\nrules = [\"spf.missing\"]\ncontrols = [\"bod-18-01/SPF/DMARC valid\"]\n";
    let parse = |extra: &str| {
        let text = format!("[profile]\nid = \"t\"\ntitle = \"T\"\nframework = \"mailwarden\"\n\n{base}{extra}");
        Profile::parse("t.toml", &text, Catalogue::builtin(), Frameworks::builtin())
    };
    let ok = parse(
        "[[requirement.exempt]]\nrules = [\"dmarc.missing\"]\nreason = \"DMARC is another profile's business\"\n",
    )
    .unwrap();
    assert_eq!(
        ok.requirements[0].exemption("dmarc.missing"),
        Some("DMARC is another profile's business")
    );
    let e = parse("[[requirement.exempt]]\nrules = [\"dmarc.missing\"]\nreason = \"judged by requirement dmarc of this profile\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("names requirement \"dmarc\", which this profile does not have"),
        "{e}"
    );
    let e = parse(
        "[[requirement.exempt]]\nrules = [\"dmarc.missing\"]\nreason = \"judged by requirement r of this profile\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("requirement \"r\" judges \"dmarc.missing\", but it does not"),
        "{e}"
    );
    let e = parse("[[requirement.exempt]]\nrules = [\"spf.missing\"]\nreason = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("both judged and exempt"), "{e}");
    let e = parse("[[requirement.exempt]]\nrules = [\"dmarc.nope\"]\nreason = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not in the rule catalogue"), "{e}");
    let e = parse("[[requirement.exempt]]\nrules = [\"dmarc.missing\"]\nreason = \" \"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs rules and a reason"), "{e}");
}

#[test]
fn expired_certificate_under_mta_sts_enforce_fails_every_transport_requirement() {
    // The case: two critical findings; every profile's transport
    // encryption requirement said "met".
    let mx = "mx.example.com (192.0.2.25)";
    let mut findings: Vec<Finding> = [
        "smtp.probed",
        "smtp.reachable",
        "smtp.starttls",
        "smtp.starttls-refused",
        "smtp.handshake",
        "smtp.cipher",
        "smtp.tls-version",
        "smtp.cert-not-yet-valid",
        "smtp.cert-name",
        "smtp.cert-untrusted",
        "smtp.cert-weak-key",
        "smtp.cert-sha1",
        "smtp.injection",
        "mta-sts.record",
        "mta-sts.policy",
        "mta-sts.mx-match",
    ]
    .iter()
    .map(|id| Finding::new(id, Outcome::Pass, mx, "ok"))
    .collect();
    for id in ["smtp.cert-expired", "mta-sts.enforce-tls"] {
        let mut f = Finding::new(id, Outcome::Fail, mx, "expired; senders refuse");
        f.severity = Severity::Critical;
        findings.push(f);
    }
    for (profile, requirement) in [
        ("pci-dss-4", "4.2.1-transport"),
        ("hipaa", "164.312(e)(2)(ii)-encryption"),
        ("ncsc-uk", "tls"),
        ("nis2", "21-2-h-transport"),
        ("gdpr", "art-32-1-a-encryption"),
        ("baseline", "transport"),
        ("nist-800-177", "tls"),
        ("bsi-tr-03108", "tls"),
    ] {
        let p = Profile::builtin(profile).unwrap_or_else(|| panic!("no profile {profile}"));
        let result = p.evaluate(&findings, Catalogue::builtin());
        let r = result
            .requirements
            .iter()
            .find(|r| r.id == requirement)
            .unwrap_or_else(|| panic!("{profile} has no requirement {requirement}"));
        assert_eq!(r.verdict, Verdict::NotMet, "{profile}/{requirement}: {:?}", r.findings);
        assert_eq!(result.verdict, Verdict::NotMet, "{profile}");
    }
}

#[test]
fn every_framework_has_a_profile() {
    // `mailwarden frameworks` listed SOX while `--profile sox` was unknown.
    let profiled: Vec<&str> = Profile::builtins().iter().map(|p| p.framework.as_str()).collect();
    for fw in Frameworks::builtin().frameworks() {
        assert!(
            profiled.contains(&fw.id.as_str()),
            "framework {} has no built-in profile",
            fw.id
        );
    }
}

#[test]
fn sox_judges_change_consistency_and_says_the_audit_trail_needs_history() {
    let p = Profile::builtin("sox").expect("sox profile");
    let ns = |outcome| Finding::new("ns.consistency", outcome, "example.com", "m");
    let serial = Finding::new("ns.soa-serial", Outcome::Pass, "example.com", "m");
    let req = |r: &ProfileResult, id: &str| r.requirements.iter().find(|q| q.id == id).unwrap().clone();
    let good = p.evaluate(&[ns(Outcome::Pass), serial.clone()], Catalogue::builtin());
    assert_eq!(req(&good, "change-consistency").verdict, Verdict::Met);
    let trail = req(&good, "change-audit-trail");
    assert_eq!(trail.verdict, Verdict::NotDeterminable);
    assert!(
        trail.notes.iter().any(|n| n.contains("monitoring")),
        "{:?}",
        trail.notes
    );
    assert_eq!(
        good.verdict,
        Verdict::NotDeterminable,
        "never met while the trail cannot be judged"
    );
    let bad = p.evaluate(&[ns(Outcome::Fail), serial], Catalogue::builtin());
    assert_eq!(req(&bad, "change-consistency").verdict, Verdict::NotMet);
    assert_eq!(bad.verdict, Verdict::NotMet);
}

#[test]
fn a_profile_whose_only_failures_are_accepted_is_met_with_accepted_risks() {
    let p = profile(DMARC_REJECT);
    let mut waived = f("dmarc.policy-none", Outcome::Fail);
    waived.accepted = Some(mailwarden_model::Acceptance {
        reason: "rollout".into(),
        owner: Some("mail-team".into()),
        expires: Some("2026-12-31".into()),
        waiver: "waivers.toml:1".into(),
    });
    let findings = [waived, f("dmarc.subdomain-policy", Outcome::Pass)];
    let r = p.evaluate(&findings, Catalogue::builtin());
    assert_eq!(r.verdict, Verdict::Met);
    assert_eq!(r.verdict_phrase(), "met, with 1 accepted risk");
    assert_eq!(
        r.requirements[0].accepted,
        ["dmarc.policy-none example.com: accepted by mail-team until 2026-12-31: rollout (waivers.toml:1)"]
    );
    assert!(
        r.requirements[0]
            .findings
            .contains(&"dmarc.policy-none example.com accepted".to_string())
    );
    // Without the waiver the same finding is not met.
    let r = p.evaluate(
        &[
            f("dmarc.policy-none", Outcome::Fail),
            f("dmarc.subdomain-policy", Outcome::Pass),
        ],
        Catalogue::builtin(),
    );
    assert_eq!(r.verdict_phrase(), "not-met");
}

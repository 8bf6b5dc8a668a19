//! Frameworks, profiles and scores through the binary.

use crate::support::{json, only_domain, run_args};

const ZONE: &str = "examples/example.com.zone";

#[test]
fn frameworks_lists_every_framework_with_mapped_rule_counts() {
    let (code, out, err) = run_args(&["frameworks"]);
    assert_eq!(code, 0, "{err}");
    for id in [
        "gdpr",
        "hipaa",
        "pci-dss-4",
        "iso-27001",
        "nis2",
        "sox",
        "bod-18-01",
        "nist-800-177",
        "bsi-tr-03108",
        "ncsc-uk",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{id}  "))),
            "{id} missing:\n{out}"
        );
    }
    assert!(out.contains("5.4.1") && out.contains(" rules]"), "{out}");
    assert!(
        out.contains("unmapped: "),
        "controls no rule maps to say why (e.g. SOX record retention):\n{out}"
    );

    let (code, out, err) = run_args(&["frameworks", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc = json(&out);
    let list = doc.as_array().expect("a list of frameworks");
    assert!(list.len() >= 10);
    let pci = list.iter().find(|f| f["id"] == "pci-dss-4").expect("pci-dss-4");
    let c = pci["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "5.4.1")
        .unwrap();
    assert!(["primary", "secondary"].contains(&c["checked"].as_str().unwrap()));
    assert!(c["rules"].as_array().unwrap().iter().any(|r| r == "dmarc.policy-none"));
}

#[test]
fn explain_shows_controls_with_citation_and_basis() {
    let (code, out, err) = run_args(&["explain", "dmarc.policy-none"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Framework controls"), "{out}");
    assert!(out.contains("bod-18-01 DMARC reject"), "{out}");
    assert!(out.contains("citation: BOD 18-01"), "{out}");
    assert!(out.contains("basis:    quote: "), "{out}");
    assert!(out.contains("basis:    judgement: "), "{out}");
}

/// The example zone's report judged against PROFILE (`--format json`).
fn scan_example_with_profile(profile: &str) -> serde_json::Value {
    let (code, out, err) = run_args(&[
        "scan",
        "example.com",
        "--zone-file",
        ZONE,
        "--profile",
        profile,
        "--format",
        "json",
        "--fail-on",
        "none",
    ]);
    assert_eq!(code, 0, "{err}");
    only_domain(&json(&out)).clone()
}

/// One requirement's result in a profile result.
fn requirement(profile: &serde_json::Value, id: &str) -> serde_json::Value {
    profile["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no requirement {id}: {profile:#}"))
        .clone()
}

#[test]
fn profile_baseline_on_the_example_zone() {
    let d = &scan_example_with_profile("baseline");
    let p = &d["profiles"][0];
    assert_eq!(p["profile"], "baseline");
    // The example has p=none and MX targets with documentation addresses.
    assert_eq!(p["verdict"], "not-met");
    let req = |id: &str| requirement(p, id);
    assert_eq!(req("dmarc-enforced")["verdict"], "not-met");
    assert!(
        req("dmarc-enforced")["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "dmarc.policy-none example.com fail")
    );
    assert_eq!(req("spf-valid")["verdict"], "met");
    // Scores are on every report.
    let overall = d["scores"]["overall"].as_u64().expect("overall score");
    assert!(overall < 100);
    assert!(!d["scores"]["areas"]["routing"]["lost"].as_array().unwrap().is_empty());

    let (_, text, _) = run_args(&[
        "scan",
        "example.com",
        "--zone-file",
        ZONE,
        "--profile",
        "baseline",
        "--fail-on",
        "none",
    ]);
    assert!(text.contains(&format!("score {overall}/100")), "{text}");
    assert!(
        text.contains("Profile baseline (mailwarden baseline): NOT MET"),
        "{text}"
    );
}

#[test]
fn bod_18_01_transport_requirements_are_not_determinable_without_a_probe() {
    let (_, out, err) = run_args(&[
        "scan",
        "example.com",
        "--zone-file",
        ZONE,
        "--profile",
        "bod-18-01",
        "--format",
        "json",
        "--fail-on",
        "none",
    ]);
    let doc = json(&out);
    let reqs = only_domain(&doc)["profiles"][0]["requirements"]
        .as_array()
        .unwrap()
        .clone();
    // The example's MX addresses are documentation addresses: the egress
    // guard refuses them, so STARTTLS cannot be judged, never "met".
    let starttls = reqs.iter().find(|r| r["id"] == "starttls").expect("starttls");
    assert_eq!(starttls["verdict"], "not-determinable", "{err}");
    let weak = reqs.iter().find(|r| r["id"] == "no-weak-tls").expect("no-weak-tls");
    assert_eq!(
        weak["verdict"], "not-determinable",
        "the legacy probe could not be made either"
    );
    let rua = reqs.iter().find(|r| r["id"] == "dmarc-rua-cisa").unwrap();
    assert_eq!(rua["verdict"], "not-met", "the example reports only to its own mailbox");
}

#[test]
fn fail_on_profile_gates_on_the_verdict() {
    let (code, _, err) = run_args(&[
        "scan",
        "example.com",
        "--zone-file",
        ZONE,
        "--profile",
        "baseline",
        "--fail-on",
        "profile",
    ]);
    assert_eq!(code, 1, "baseline is not met: {err}");

    let dir = tempfile::tempdir().unwrap();
    let met = dir.path().join("spf-only.toml");
    std::fs::write(
        &met,
        "[profile]\nid = \"spf-only\"\ntitle = \"SPF only\"\nframework = \"mailwarden\"\n\n[[requirement]]\nid = \"spf\"\ntitle = \"SPF published\"\nrules = [\"spf.missing\"]\n",
    )
    .unwrap();
    let (code, out, err) = run_args(&[
        "scan",
        "example.com",
        "--zone-file",
        ZONE,
        "--profile",
        met.to_str().unwrap(),
        "--fail-on",
        "profile",
    ]);
    assert_eq!(
        code, 0,
        "a met custom profile passes the gate even with high failures: {err}\n{out}"
    );
    assert!(out.contains("Profile spf-only (SPF only): met"), "{out}");

    let (code, _, err) = run_args(&["scan", "example.com", "--zone-file", ZONE, "--fail-on", "profile"]);
    assert_eq!(code, 2);
    assert!(err.contains("--fail-on profile") && err.contains("--profile"), "{err}");
}

#[test]
fn custom_profile_syntax_error_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[profile]\nid = \"x\"\ntitle = \"X\"\nframework = \"mailwarden\"\n[[requirement]\nid = \"r\"\n",
    )
    .unwrap();
    let path = bad.to_str().unwrap();
    let (code, out, err) = run_args(&["scan", "example.com", "--zone-file", ZONE, "--profile", path]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains(&format!("{path}: ")), "{err}");
    assert!(err.contains("line 5"), "{err}");

    let (code, _, err) = run_args(&[
        "scan",
        "example.com",
        "--zone-file",
        ZONE,
        "--profile",
        "no-such-profile",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown profile \"no-such-profile\"") && err.contains("baseline"),
        "{err}"
    );
}

#[test]
fn judge_fills_profiles_too() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("ev.jsonl");
    let (code, _, err) = run_args(&[
        "scan",
        "example.com",
        "--zone-file",
        ZONE,
        "--save-evidence",
        evidence.to_str().unwrap(),
        "--fail-on",
        "none",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run_args(&[
        "judge",
        evidence.to_str().unwrap(),
        "--profile",
        "bod-18-01",
        "--format",
        "json",
        "--fail-on",
        "none",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc = json(&out);
    assert_eq!(only_domain(&doc)["profiles"][0]["profile"], "bod-18-01");
    assert!(only_domain(&doc)["scores"]["overall"].is_u64());
}

#[test]
fn profiles_lists_every_builtin_with_its_title_and_requirement_count() {
    let (code, out, err) = run_args(&["profiles"]);
    assert_eq!(code, 0, "{err}");
    let (_, frameworks, _) = run_args(&["frameworks", "--format", "json"]);
    // Every framework has a profile of the same id (SOX had none), and
    // the baseline is mailwarden's own.
    let frameworks = json(&frameworks);
    let mut ids: Vec<&str> = frameworks
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    ids.push("baseline");
    for id in ids {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("{id} missing:\n{out}"));
        assert!(
            line.contains(" requirements ") || line.contains(" requirement "),
            "{line}"
        );
    }
    assert!(out.contains("SOX IT general controls"), "{out}");

    let (code, out, err) = run_args(&["profiles", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc = json(&out);
    let list = doc.as_array().expect("a list of profiles");
    let baseline = list.iter().find(|p| p["id"] == "baseline").expect("baseline");
    assert_eq!(baseline["title"], "mailwarden baseline");
    assert_eq!(baseline["framework"], "mailwarden");
    assert_eq!(baseline["requirements"], 8, "{baseline:#}");
    for p in list {
        assert!(p["requirements"].as_u64().unwrap() > 0, "{p:#}");
        assert!(!p["title"].as_str().unwrap().is_empty(), "{p:#}");
    }
}

#[test]
fn profile_sox_is_known_and_its_audit_trail_is_not_determinable() {
    // `frameworks` listed SOX while `--profile sox` was unknown.
    let d = scan_example_with_profile("sox");
    let p = &d["profiles"][0];
    assert_eq!(p["profile"], "sox");
    let trail = requirement(p, "change-audit-trail");
    assert_eq!(trail["verdict"], "not-determinable", "{trail:#}");
    assert!(
        trail["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("monitoring")),
        "{trail:#}"
    );
}

//! Commands that need no DNS: rules, explain, usage errors.

use crate::support::{repo, run_args};

#[test]
fn rules_lists_the_catalogue_and_json_is_parseable() {
    let (code, out, _) = run_args(&["rules"]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("mx.target-cname")), "{out}");
    let (code, out, _) = run_args(&["rules", "--format", "json"]);
    assert_eq!(code, 0);
    let rules: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(rules.as_array().unwrap().iter().any(|r| r["id"] == "mx.null-mx-mixed"));
}

#[test]
fn explain_prints_rationale_references_and_remediation() {
    let (code, out, _) = run_args(&["explain", "mx.null-mx-mixed"]);
    assert_eq!(code, 0);
    for want in ["RFC 7505 §3", "Why it matters", "Remediation"] {
        assert!(out.contains(want), "missing {want:?} in {out}");
    }
}

#[test]
fn explain_unknown_rule_is_a_usage_error_with_hint() {
    let (code, _, err) = run_args(&["explain", "mx.nope"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown rule \"mx.nope\"") && err.contains("mx.present"),
        "{err}"
    );
}

#[test]
fn scan_without_domains_is_a_usage_error() {
    let (code, _, err) = run_args(&["scan"]);
    assert_eq!(code, 2);
    assert!(err.contains("nothing to scan"), "{err}");
}

#[test]
fn bad_flag_values_name_the_flag() {
    let (code, _, err) = run_args(&["scan", "example.com", "--fail-on", "severe"]);
    assert_eq!(code, 2);
    assert!(err.contains("--fail-on \"severe\""), "{err}");
    let (code, _, err) = run_args(&["scan", "example.com", "--resolver", "dns.example"]);
    assert_eq!(code, 2);
    assert!(err.contains("--resolver \"dns.example\""), "{err}");
    let (code, _, err) = run_args(&["scan", "example.com", "--input", "/nonexistent/list.txt"]);
    assert_eq!(code, 2);
    assert!(err.contains("--input /nonexistent/list.txt: cannot open"), "{err}");
}

#[test]
fn judge_reports_unreadable_and_malformed_evidence() {
    let (code, _, err) = run_args(&["judge", "/nonexistent/evidence.jsonl"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/evidence.jsonl: cannot read"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"schema\":1}\nnot json\n").unwrap();
    let (code, _, err) = run_args(&["judge", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.jsonl:1: not an Observation"), "{err}");
}

#[test]
fn unknown_check_names_are_refused_with_the_list() {
    let (code, _, err) = run_args(&["scan", "example.com", "--checks", "mx,starttls"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--checks \"starttls\"") && err.contains("mx, spf"),
        "{err}"
    );
}

#[test]
fn checks_option_limits_the_findings() {
    let (code, out, err) = run_args(&[
        "scan",
        "example.com",
        "--zone-file",
        "examples/example.com.zone",
        "--checks",
        "mx,spf",
        "--format",
        "json",
        "--fail-on",
        "none",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let findings = doc["domains"][0]["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["id"].as_str().unwrap().starts_with("spf.")));
    assert!(findings.iter().all(|f| {
        let id = f["id"].as_str().unwrap();
        id.starts_with("mx.") || id.starts_with("spf.")
    }));
}

/// The README listed 36 of 136 rules for months: its catalogue block must
/// be exactly what `mailwarden rules` prints.
#[test]
fn readme_rules_catalogue_is_the_whole_catalogue() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let (_, rest) = readme
        .split_once("<!-- rules:begin -->\n```\n")
        .expect("rules:begin marker");
    let (listed, _) = rest.split_once("```\n<!-- rules:end -->").expect("rules:end marker");
    let (code, out, _) = run_args(&["rules"]);
    assert_eq!(code, 0);
    assert_eq!(
        listed, out,
        "README.md's rules catalogue differs from `mailwarden rules`: regenerate it"
    );
}

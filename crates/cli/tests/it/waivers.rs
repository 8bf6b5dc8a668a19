//! Accepted risks end to end: `--waivers FILE` and `--ignore RULE[@SUBJECT]`
//! on the example zone. A live waiver turns a failing finding into an
//! accepted one in every format and keeps it out of the exit code; an
//! expired one fails again and is itself a finding (`waiver.expired`).
//! Expiry is tested against dates far from today (the policy crate's unit
//! tests pin the clock to the day).

use std::path::Path;

use crate::formats::{assert_valid, report_schema, sarif_schema};
use crate::support::{finding, json, mailwarden, only_domain, run};

const EXAMPLE: &str = "examples/example.com.zone";

/// The high failures of the example zone: DMARC p=none and its MX hosts'
/// documentation addresses. Waiving them leaves only medium and low ones.
fn waiver_file(dir: &Path, expires: &str) -> std::path::PathBuf {
    let path = dir.join("waivers.toml");
    std::fs::write(
        &path,
        format!(
            "[[waiver]]\nrule = \"dmarc.policy-none\"\nsubject = \"example.com\"\nreason = \"rollout\"\nowner = \"mail-team\"\nexpires = {expires}\n\n\
             [[waiver]]\nrule = \"mx.target-non-global\"\nsubject = \"*.example.com\"\nreason = \"documentation addresses\"\nowner = \"docs\"\nexpires = {expires}\n"
        ),
    )
    .unwrap();
    path
}

fn scan(extra: &[&str], waivers: Option<&Path>) -> (i32, String, String) {
    let mut cmd = mailwarden();
    cmd.args(["scan", "example.com", "--zone-file", EXAMPLE]).args(extra);
    if let Some(w) = waivers {
        cmd.arg("--waivers").arg(w);
    }
    run(&mut cmd)
}

#[test]
fn a_live_waiver_accepts_findings_and_keeps_them_out_of_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, _) = scan(&["--format", "json"], None);
    assert_eq!(code, 1, "without waivers the high failures fail the run");
    let w = waiver_file(dir.path(), "2999-12-31");
    let (code, out, err) = scan(&["--format", "json"], Some(&w));
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "");
    let doc = json(&out);
    assert_valid(&report_schema(), &doc, "json with accepted risks");
    let d = only_domain(&doc);
    let dmarc = finding(d, "dmarc.policy-none", "example.com");
    assert_eq!(dmarc["outcome"], "fail");
    assert_eq!(dmarc["accepted"]["owner"], "mail-team");
    assert_eq!(dmarc["accepted"]["expires"], "2999-12-31");
    assert!(
        dmarc["accepted"]["waiver"]
            .as_str()
            .unwrap()
            .ends_with("waivers.toml:2")
    );
    assert_eq!(d["summary"]["accepted"], 4);
    assert_eq!(d["summary"]["worst_failure"], "medium");
    // Still failing at medium: --fail-on medium fails the run.
    let (code, _, _) = scan(&["--fail-on", "medium"], Some(&w));
    assert_eq!(code, 1);
}

#[test]
fn an_expired_waiver_fails_again_and_is_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let w = waiver_file(dir.path(), "2020-01-31");
    let (code, out, err) = scan(&["--format", "json"], Some(&w));
    assert_eq!(code, 1, "{err}");
    assert_eq!(err, "", "an expired waiver that matched is a finding, not a warning");
    let doc = json(&out);
    assert_valid(&report_schema(), &doc, "json with expired waivers");
    let d = only_domain(&doc);
    let dmarc = finding(d, "dmarc.policy-none", "example.com");
    assert!(dmarc.get("accepted").is_none(), "{dmarc}");
    let expired = finding(d, "waiver.expired", "dmarc.policy-none@example.com");
    assert_eq!(expired["outcome"], "fail");
    assert_eq!(expired["severity"], "low");
    assert!(
        expired["message"]
            .as_str()
            .unwrap()
            .contains("expired after 2020-01-31")
    );
    assert!(
        !expired["reference"].as_str().unwrap().is_empty(),
        "completed from the catalogue"
    );
    assert!(d["summary"].get("accepted").is_none());
}

#[test]
fn ignore_matches_its_subject_and_warns_when_it_matches_nothing() {
    let (code, out, err) = scan(
        &[
            "--format",
            "json",
            "--ignore",
            "DMARC.policy-none@example.com",
            "--ignore",
            "mx.target-non-global",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "");
    let d = json(&out)["domains"][0].clone();
    let dmarc = finding(&d, "dmarc.policy-none", "example.com");
    assert_eq!(dmarc["accepted"]["reason"], "ignored on the command line");
    assert_eq!(dmarc["accepted"]["waiver"], "--ignore DMARC.policy-none@example.com");
    assert!(dmarc["accepted"].get("owner").is_none() && dmarc["accepted"].get("expires").is_none());

    let (code, out, err) = scan(
        &["--format", "json", "--ignore", "dmarc.policy-none@other.example"],
        None,
    );
    assert_eq!(code, 1);
    let d = json(&out)["domains"][0].clone();
    assert!(
        finding(&d, "dmarc.policy-none", "example.com")
            .get("accepted")
            .is_none()
    );
    assert_eq!(
        err.trim_end(),
        "mailwarden: warning: waiver --ignore dmarc.policy-none@other.example (dmarc.policy-none@other.example) matched no failing finding; remove it if the problem is fixed"
    );
}

#[test]
fn every_format_shows_accepted_risks_apart() {
    let dir = tempfile::tempdir().unwrap();
    let w = waiver_file(dir.path(), "2999-12-31");
    let format = |f: &str| {
        let (code, out, err) = scan(&["--format", f, "--profile", "baseline"], Some(&w));
        assert_eq!(code, 0, "{f}: {err}");
        out
    };
    let text = format("text");
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("4 failures (3 medium, 1 low), 4 accepted, 3 notes"),
        "{text}"
    );
    assert!(text.contains("\n  Accepted risks\n"), "{text}");
    assert!(
        text.contains("accepted by mail-team until 2999-12-31: rollout"),
        "{text}"
    );
    let fix_first = text
        .split("Fix first")
        .nth(1)
        .unwrap()
        .split("Accepted risks")
        .next()
        .unwrap();
    assert!(
        !fix_first.contains("dmarc.policy-none"),
        "accepted is not in fix first: {fix_first}"
    );

    let line = json(format("jsonl").trim_end());
    assert_eq!(line["summary"]["accepted"], 4);

    let sarif = json(&format("sarif"));
    assert_valid(&sarif_schema(), &sarif, "sarif with suppressions");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let dmarc = results.iter().find(|r| r["ruleId"] == "dmarc.policy-none").unwrap();
    assert_eq!(dmarc["suppressions"][0]["kind"], "external");
    assert_eq!(dmarc["suppressions"][0]["status"], "accepted");
    assert_eq!(dmarc["suppressions"][0]["justification"], "rollout");
    assert_eq!(dmarc["suppressions"][0]["properties"]["owner"], "mail-team");
    let unsuppressed = results.iter().find(|r| r["ruleId"] == "dmarc.np-policy").unwrap();
    assert!(unsuppressed.get("suppressions").is_none());

    let csv = format("csv");
    assert!(csv.starts_with("domain,rule,outcome,severity,subject,title,message,frameworks,remediation,accepted_reason,accepted_owner,accepted_until\r\n"));
    let row = csv
        .lines()
        .find(|l| l.starts_with("example.com,dmarc.policy-none,"))
        .unwrap();
    assert!(row.starts_with("example.com,dmarc.policy-none,accepted,high,"), "{row}");
    assert!(
        row.ends_with(",rollout,mail-team,2999-12-31\r") || row.ends_with(",rollout,mail-team,2999-12-31"),
        "{row}"
    );

    let html = format("html");
    assert!(html.contains("<h3>Accepted risks</h3>"));
    assert!(html.contains("accepted by mail-team until 2999-12-31: rollout"));
    assert!(
        html.contains(", with 1 accepted risk</h3>") || html.contains("accepted risks</h3>"),
        "profile heading"
    );

    let md = format("markdown");
    assert!(md.contains("| 4 | 3 | 4 | 97 | 65 | 52 | medium |"), "{md}");
    assert!(md.contains("### Accepted risks"));
    assert!(md.contains("| high | dmarc.policy-none | example.com |"), "{md}");
}

#[test]
fn a_profile_whose_failures_are_accepted_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let w = waiver_file(dir.path(), "2999-12-31");
    let (_, out, _) = scan(&["--format", "json", "--profile", "baseline"], Some(&w));
    let d = json(&out)["domains"][0].clone();
    let baseline = &d["profiles"][0];
    let accepted: Vec<&serde_json::Value> = baseline["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["accepted"].as_array().into_iter().flatten())
        .collect();
    assert!(
        accepted.iter().any(|a| a
            .as_str()
            .unwrap()
            .starts_with("dmarc.policy-none example.com: accepted by mail-team until 2999-12-31: rollout")),
        "{baseline:#}"
    );
}

#[test]
fn judge_applies_waivers_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("ev.jsonl");
    run(mailwarden()
        .args(["scan", "example.com", "--zone-file", EXAMPLE, "--save-evidence"])
        .arg(&evidence));
    let w = waiver_file(dir.path(), "2999-12-31");
    let (code, out, err) = run(mailwarden()
        .arg("judge")
        .arg(&evidence)
        .args(["--format", "json"])
        .env("MAILWARDEN_WAIVERS", &w));
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["domains"][0]["summary"]["accepted"], 4);
}

#[test]
fn bad_waivers_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(
        &path,
        "[[waiver]]\nrule = \"dmarc.policy-none\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"soon\"\n",
    )
    .unwrap();
    let (code, out, err) = scan(&[], Some(&path));
    assert_eq!(code, 2);
    assert_eq!(out, "", "nothing is scanned with a bad waiver file");
    assert!(err.contains("w.toml:5: expires: \"soon\" is not a date"), "{err}");

    let (code, _, err) = scan(&["--ignore", "dmarc.polcy-none"], None);
    assert_eq!(code, 2);
    assert!(err.contains("--ignore dmarc.polcy-none: unknown rule"), "{err}");
    assert!(err.contains("did you mean \"dmarc.policy-none\"?"), "{err}");

    let (code, _, err) = scan(&[], Some(&dir.path().join("missing.toml")));
    assert_eq!(code, 2);
    assert!(err.contains("--waivers") && err.contains("missing.toml"), "{err}");
}

#[test]
fn a_list_summary_counts_accepted_risks_apart() {
    let dir = tempfile::tempdir().unwrap();
    let w = waiver_file(dir.path(), "2999-12-31");
    let (code, out, err) = run(mailwarden()
        .args([
            "scan",
            "example.com",
            "parked.example",
            "--zone-file",
            EXAMPLE,
            "--zone-file",
            "examples/parked.example.zone",
            "--waivers",
        ])
        .arg(&w));
    assert_eq!(code, 0, "{err}");
    let summary = out.split("Summary of 2 domains").nth(1).expect("a summary table");
    assert!(
        summary.contains("\n  accepted: 4 risks (waived, not counted as failures)\n"),
        "{summary}"
    );
}

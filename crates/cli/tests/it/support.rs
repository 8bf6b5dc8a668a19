//! Running the binary and reading its output.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The repository root, for paths to examples and testdata.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `mailwarden` command with colour off.
pub fn mailwarden() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mailwarden"));
    c.env("NO_COLOR", "1").current_dir(repo()).stdin(Stdio::null());
    c
}

/// `bash -c SCRIPT` in the repository, colour off (for process substitution).
pub fn mailwarden_shell(script: &str) -> Command {
    let mut c = Command::new("bash");
    c.args(["-c", script])
        .env("NO_COLOR", "1")
        .current_dir(repo())
        .stdin(Stdio::null());
    c
}

/// Run and capture; returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = cmd.output().expect("run mailwarden");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

pub fn run_args(args: &[&str]) -> (i32, String, String) {
    run(mailwarden().args(args))
}

/// Run on a blocking thread, for tests that serve DNS from their own tokio
/// runtime: the servers keep answering while the binary runs.
pub async fn run_blocking(mut cmd: Command) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .expect("join the mailwarden run")
}

/// Parse a JSON document, showing it on failure.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The one domain of a `--format json` document.
pub fn only_domain(doc: &serde_json::Value) -> &serde_json::Value {
    let domains = doc["domains"].as_array().expect("domains is a list");
    assert_eq!(domains.len(), 1, "expected one domain in {doc:#}");
    &domains[0]
}

/// The findings of one domain report, as a list.
pub fn findings(domain: &serde_json::Value) -> &[serde_json::Value] {
    domain["findings"].as_array().expect("findings is a list")
}

/// The one finding with this rule id and subject.
pub fn finding<'a>(domain: &'a serde_json::Value, id: &str, subject: &str) -> &'a serde_json::Value {
    let mut hits = findings(domain)
        .iter()
        .filter(|f| f["id"] == id && f["subject"] == subject);
    let hit = hits
        .next()
        .unwrap_or_else(|| panic!("no {id} finding for {subject} in {:#}", domain["findings"]));
    assert!(hits.next().is_none(), "more than one {id} finding for {subject}");
    hit
}

/// Check one `domains[]` entry against the documented report shape: the
/// domain, the findings with their fields and closed vocabularies, and the
/// observation behind them.
pub fn assert_report_shape(report: &serde_json::Value) {
    const OUTCOMES: [&str; 4] = ["pass", "fail", "not-applicable", "indeterminate"];
    const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];
    let domain = report["domain"].as_str().expect("domain is a string");
    assert!(!domain.is_empty());
    assert!(report["observation"].is_object(), "{domain}: no observation");
    assert_eq!(report["observation"]["domain"], domain);
    let findings = findings(report);
    assert!(!findings.is_empty(), "{domain}: no findings");
    for f in findings {
        let id = f["id"].as_str().unwrap_or_else(|| panic!("finding without id: {f}"));
        let outcome = f["outcome"].as_str().unwrap_or_default();
        assert!(OUTCOMES.contains(&outcome), "{domain} {id}: outcome {outcome:?}");
        let severity = f["severity"].as_str().unwrap_or_default();
        assert!(SEVERITIES.contains(&severity), "{domain} {id}: severity {severity:?}");
        assert!(
            f["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{domain} {id}: no message"
        );
        assert!(f["evidence"].is_object(), "{domain} {id}: evidence is not an object");
        assert!(
            f["reference"].as_str().is_some_and(|r| !r.is_empty()),
            "{domain} {id}: no reference"
        );
        let remediation = f
            .get("remediation")
            .unwrap_or_else(|| panic!("{domain} {id}: no remediation key"));
        if outcome == "fail" {
            assert!(
                remediation.as_str().is_some_and(|r| !r.is_empty()),
                "{domain} {id}: failing without remediation"
            );
        } else {
            assert!(
                remediation.is_null() || remediation.is_string(),
                "{domain} {id}: {remediation}"
            );
        }
    }
}

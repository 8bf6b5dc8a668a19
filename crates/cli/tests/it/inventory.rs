//! Outputs for inventories: the one-row-per-domain CSV (`--summary`), JSON
//! without the observation (`--no-evidence`), CSV pass rows.

use crate::support::{json, run_args};

const EXAMPLE: &str = "examples/example.com.zone";
const PARKED: &str = "examples/parked.example.zone";

fn scan(args: &[&str]) -> String {
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--zone-file", EXAMPLE, "--zone-file", PARKED]);
    let (code, out, err) = run_args(&all);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    out
}

/// Split one CSV line (no quoted line breaks in these rows).
fn cells(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => out.last_mut().unwrap().push(c),
        }
    }
    out
}

#[test]
fn csv_summary_is_one_row_per_domain_with_published_values_and_worst_findings() {
    let out = scan(&[
        "example.com",
        "parked.example",
        "nothing.invalid",
        "--format",
        "csv",
        "--summary",
    ]);
    let lines: Vec<&str> = out.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 4, "{out}");
    let header = cells(lines[0]);
    let row = |i: usize| -> std::collections::BTreeMap<String, String> {
        header.iter().cloned().zip(cells(lines[i])).collect()
    };
    let example = row(1);
    assert_eq!(example["domain"], "example.com");
    assert_eq!(example["verdict"], "high");
    assert_eq!(
        example["mx"],
        "10 mx1.example.com, 20 mx2.example.com, 30 mail.example.com"
    );
    assert_eq!(example["spf"], "v=spf1 mx include:_spf.example.com ~all");
    assert_eq!(example["dmarc"], "p=none sp=none np=none");
    assert_eq!(example["mta_sts_id"], "none");
    assert!(
        example["fix_first"].starts_with("high mx.target-non-global ("),
        "{example:?}"
    );
    assert_eq!(row(2)["dmarc"], "p=reject sp=reject np=reject");
    let nothing = row(3);
    assert_eq!(
        (nothing["verdict"].as_str(), nothing["mx"].as_str()),
        ("unknown", "unknown")
    );
}

#[test]
fn summary_and_no_evidence_are_refused_with_formats_they_do_not_apply_to() {
    let (code, _, err) = run_args(&["scan", "example.com", "--zone-file", EXAMPLE, "--summary"]);
    assert_eq!(code, 2);
    assert!(err.contains("--summary: only for --format csv"), "{err}");
    let (code, _, err) = run_args(&["scan", "example.com", "--zone-file", EXAMPLE, "--no-evidence"]);
    assert_eq!(code, 2);
    assert!(err.contains("--no-evidence: only for --format json"), "{err}");
}

#[test]
fn json_without_evidence_has_findings_but_no_observation_and_fits_the_schema() {
    let schema = json(&run_args(&["schema"]).1);
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let doc = json(&scan(&["example.com", "--format", "json", "--no-evidence"]));
    let domain = &doc["domains"][0];
    assert!(domain.get("observation").is_none(), "{domain:#}");
    assert!(!domain["findings"].as_array().unwrap().is_empty());
    assert!(validator.is_valid(&doc));
    let line = scan(&["example.com", "--format", "jsonl", "--no-evidence"]);
    assert!(json(line.trim_end()).get("observation").is_none());
    let with = json(&scan(&["example.com", "--format", "json"]));
    assert!(with["domains"][0]["observation"].is_object());
}

#[test]
fn csv_pass_rows_are_not_titled_with_the_problem_they_did_not_find() {
    let out = scan(&["parked.example", "--format", "csv"]);
    let mut lines = out.split("\r\n").filter(|l| !l.is_empty());
    let header = cells(lines.next().unwrap());
    let (outcome, title) = (
        header.iter().position(|h| h == "outcome").unwrap(),
        header.iter().position(|h| h == "title").unwrap(),
    );
    let rows: Vec<Vec<String>> = lines.map(cells).collect();
    let pass = rows
        .iter()
        .find(|r| r[1] == "dkim.keys-found" || r[outcome] == "pass")
        .unwrap();
    assert_eq!(pass[title], "", "{pass:?}");
    let problem = rows
        .iter()
        .find(|r| r[outcome] == "fail" || r[outcome] == "indeterminate")
        .unwrap();
    assert!(!problem[title].is_empty(), "{problem:?}");
}

#[test]
fn judge_of_json_without_evidence_says_there_is_nothing_to_judge() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lean.json");
    std::fs::write(&path, scan(&["example.com", "--format", "json", "--no-evidence"])).unwrap();
    let (code, _, err) = run_args(&["judge", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("domains[0] has no observation (written with --no-evidence?)"),
        "{err}"
    );
}

//! `mailwarden reports import`: one JSON line per report, exit codes, the
//! store across runs, and the text summary.

use crate::support::{mailwarden, run};

const CORPUS: &str = "testdata/reports/ingest";

fn lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn reports_import_json_prints_one_line_per_report_and_exit_1_on_rejection() {
    let store = tempfile::tempdir().unwrap();
    let store_arg = store.path().to_str().unwrap();
    let files = [
        "agg-7489-google.xml",
        "agg-7489-google.xml.gz",
        "hostile-doctype-xxe.xml",
        "tlsrpt-google.json",
    ];
    let paths: Vec<String> = files.iter().map(|f| format!("{CORPUS}/{f}")).collect();
    let (code, out, err) = run(mailwarden()
        .args(["reports", "import", "--format", "json", "--store", store_arg])
        .args(&paths));
    assert_eq!(code, 1, "{err}");
    let rows = lines(&out);
    let summary: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap(),
                r["kind"].as_str().unwrap_or("-"),
                r["reason"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("imported", "aggregate", "-"),
            ("duplicate", "aggregate", "-"),
            ("rejected", "aggregate", "doctype"),
            ("imported", "tlsrpt", "-"),
        ]
    );
    assert_eq!(rows[0]["records"], 3);
    assert_eq!(rows[3]["records"], 2);
    assert_eq!(rows[2]["position"]["line"], 2);
    assert!(rows[0]["file"].as_str().unwrap().ends_with("agg-7489-google.xml"));
}

#[test]
fn reports_import_twice_stores_nothing_new_and_exits_0() {
    let store = tempfile::tempdir().unwrap();
    let store_arg = store.path().to_str().unwrap();
    let file = format!("{CORPUS}/agg-9990-gmx.xml");
    let args = ["reports", "import", "--format", "json", "--store", store_arg, &file];
    let (code, first, _) = run(mailwarden().args(args));
    assert_eq!(code, 0);
    let (code, second, _) = run(mailwarden().args(args));
    assert_eq!(code, 0);
    assert_eq!(lines(&first)[0]["status"], "imported");
    assert_eq!(lines(&second)[0]["status"], "duplicate");
    let index = std::fs::read_to_string(store.path().join("index.jsonl")).unwrap();
    assert_eq!(index.lines().count(), 1);
}

#[test]
fn reports_import_walks_directories_and_summarises_in_text() {
    let (code, out, _) = run(mailwarden().args([
        "reports",
        "import",
        "--dry-run",
        &format!("{CORPUS}/maildir"),
        &format!("{CORPUS}/reports.mbox"),
    ]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("maildir/new/1796083200.M1P1.host"), "{out}");
    assert!(out.contains("reports.mbox#3: not-a-report"), "{out}");
    assert!(
        out.trim_end()
            .ends_with("3 imported (3 records), 0 duplicate, 1 rejected; nothing stored (--dry-run)"),
        "{out}"
    );
}

#[test]
fn reports_import_of_a_missing_path_is_rejected_as_unreadable() {
    let (code, out, _) =
        run(mailwarden().args(["reports", "import", "--dry-run", "--format", "json", "no/such/file.xml"]));
    assert_eq!(code, 1);
    assert_eq!(lines(&out)[0]["reason"], "unreadable");
}

#[test]
fn reports_import_max_size_caps_the_input() {
    let (code, out, _) = run(mailwarden().args([
        "reports",
        "import",
        "--dry-run",
        "--format",
        "json",
        "--max-size",
        "100",
        &format!("{CORPUS}/agg-7489-google.xml"),
    ]));
    assert_eq!(code, 1);
    assert_eq!(lines(&out)[0]["reason"], "size-limit");
}

//! The checked-in corpus (testdata/reports/ingest) against its table of
//! expected outcomes (expected.tsv): every file, every report in it.

use std::path::{Path, PathBuf};

use mailwarden_ingest::{Limits, MemorySink, Outcome, import, walk};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/reports/ingest")
}

/// One row per outcome: file, status, kind, records, reason.
fn row(o: &Outcome) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        o.file,
        o.status.as_str(),
        o.kind.map_or("-", |k| k.as_str()),
        o.records.map_or_else(|| "-".to_string(), |n| n.to_string()),
        o.reason.map_or("-", |r| r.as_str()),
    )
}

fn import_corpus() -> Vec<Outcome> {
    let dir = corpus_dir();
    let mut sink = MemorySink::default();
    let mut outcomes = Vec::new();
    for file in walk::files(std::slice::from_ref(&dir)) {
        let file = file.expect("corpus is readable");
        let name = file.strip_prefix(&dir).unwrap().to_string_lossy().into_owned();
        if name == "make.py" || name == "expected.tsv" {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        outcomes.extend(import(&name, &bytes, &Limits::default(), &mut sink).unwrap());
    }
    outcomes
}

#[test]
fn every_corpus_item_has_its_expected_outcome() {
    let actual: Vec<String> = import_corpus().iter().map(row).collect();
    let expected_text = std::fs::read_to_string(corpus_dir().join("expected.tsv")).unwrap();
    let expected: Vec<&str> = expected_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    if actual != expected {
        panic!(
            "corpus outcomes differ from expected.tsv; actual:\n{}\n",
            actual.join("\n")
        );
    }
}

#[test]
fn rejections_say_what_was_wrong() {
    for o in import_corpus() {
        if o.reason.is_some() {
            let detail = o.detail.as_deref().unwrap_or_default();
            assert!(!detail.is_empty(), "{}: a rejection without detail", o.file);
        }
    }
}

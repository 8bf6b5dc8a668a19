//! `mailwarden evidence` and `mailwarden audit verify-evidence`: a bundle
//! of a monitored domain verifies offline; an edited event, an edited file
//! or a dropped event fails, each named; a date filter leaves out the
//! events outside the period.

use std::path::{Path, PathBuf};

use mailwarden_audit::hash::hash_from_hex;
use serde_json::Value;

use crate::audit_alert::Db;

fn ok(db: &Db, args: &[&str]) -> String {
    let (code, out, err) = db.cli(args);
    assert_eq!(code, 0, "{args:?}: {out}{err}");
    out
}

/// `monitor add` of example.com from the zone file ZONE, offline.
const ADD_EXAMPLE: [&str; 7] = [
    "monitor",
    "add",
    "example.com",
    "--zone-file",
    "ZONE",
    "--no-smtp",
    "--no-https",
];

/// example.com monitored from a zone copy and scanned once; the zone file.
fn monitored_and_scanned(db: &Db) -> PathBuf {
    let zone = db.path("example.com.zone");
    std::fs::copy(crate::support::repo().join("examples/example.com.zone"), &zone).unwrap();
    ok(
        db,
        &ADD_EXAMPLE.map(|a| if a == "ZONE" { zone.to_str().unwrap() } else { a }),
    );
    ok(db, &["monitor", "run", "--once"]);
    zone
}

/// example.com monitored from a zone copy: a snapshot, an approval, a
/// changed MX (an unapproved change, alerts queued).
pub fn monitored_with_a_change(db: &Db) {
    let zone = monitored_and_scanned(db);
    ok(
        db,
        &[
            "baseline",
            "approve",
            "example.com",
            "--reason",
            "ticket 7",
            "--by",
            "alice",
        ],
    );
    crate::monitor::replace_second_mx(&zone);
    ok(db, &["monitor", "run", "--once"]);
}

fn export(db: &Db, dir: &str, period: &[&str]) -> PathBuf {
    let out = db.path(dir);
    let mut args = vec!["evidence", "example.com", "--output", out.to_str().unwrap()];
    args.extend_from_slice(period);
    ok(db, &args);
    out
}

fn verify(db: &Db, dir: &Path) -> (i32, String) {
    let (code, out, err) = db.cli(&["audit", "verify-evidence", dir.to_str().unwrap()]);
    (code, format!("{out}{err}"))
}

fn events(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("audit/events.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn kinds(dir: &Path) -> Vec<String> {
    events(dir)
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_evidence_bundle_verifies_offline_and_proves_every_event_it_cites() {
    let db = Db::new();
    monitored_with_a_change(&db);
    let dir = export(&db, "bundle", &[]);
    let (code, out) = verify(&db, &dir);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("evidence bundle verified") && out.contains("5 file(s) match"),
        "{out}"
    );
    let kinds = kinds(&dir);
    for kind in [
        "monitor-added",
        "snapshot-stored",
        "baseline-approved",
        "change-detected",
        "alert-queued",
        "evidence-exported",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    // Every proof leads to the checkpoint's root, by crates/audit's §2.1.3.2.
    let cp: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("audit/checkpoint.json")).unwrap()).unwrap();
    let (size, root) = (
        cp["tree_size"].as_u64().unwrap(),
        hash_from_hex(cp["root_hash"].as_str().unwrap()).unwrap(),
    );
    for e in events(&dir) {
        let path: Vec<[u8; 32]> = e["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hash_from_hex(h.as_str().unwrap()).unwrap())
            .collect();
        let leaf = hash_from_hex(e["leaf_hash"].as_str().unwrap()).unwrap();
        let index = e["seq"].as_u64().unwrap() - 1;
        assert!(
            mailwarden_audit::verify_inclusion(index, size, &leaf, &path, &root),
            "{e}"
        );
    }
    // The files say who approved what and what changed.
    let changes = std::fs::read_to_string(dir.join("changes.json")).unwrap();
    assert!(
        changes.contains("\"approved_by\": \"alice\"") && changes.contains("mx9.example.com"),
        "{changes}"
    );
    let alerts = std::fs::read_to_string(dir.join("alerts.json")).unwrap();
    assert!(alerts.contains("unapproved-change"), "{alerts}");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let key_id = cp["public_key"].as_str().map(|k| {
        use sha2::Digest;
        mailwarden_audit::hash::to_hex(&sha2::Sha256::digest(mailwarden_audit::hash::from_hex(k).unwrap()))
    });
    let key_id = key_id.unwrap();
    assert!(
        readme.contains(&key_id) && readme.contains("verify-evidence"),
        "{readme}"
    );
    // Pinned to the right key it verifies; to another it fails.
    let (code, out, _) = db.cli(&["audit", "verify-evidence", dir.to_str().unwrap(), "--key-id", &key_id]);
    assert_eq!(code, 0, "{out}");
    let other = "0".repeat(64);
    let (code, out, _) = db.cli(&["audit", "verify-evidence", dir.to_str().unwrap(), "--key-id", &other]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not by the key"), "{out}");
    // A second export never mixes with the first.
    let (code, _, err) = db.cli(&["evidence", "example.com", "--output", dir.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("not empty"), "{err}");
}

/// Rewrites `file` in the bundle with `edit`.
fn tamper(dir: &Path, file: &str, edit: impl Fn(String) -> String) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit changed nothing: the test would prove nothing");
    std::fs::write(path, edited).unwrap();
}

#[test]
fn an_edited_event_an_edited_file_or_a_dropped_event_fails_verification() {
    let db = Db::new();
    monitored_with_a_change(&db);
    let dir = export(&db, "edited-event", &[]);
    let approved = events(&dir)
        .into_iter()
        .find(|e| e["kind"] == "baseline-approved")
        .unwrap();
    tamper(&dir, "audit/events.json", |t| {
        t.replace("\"by\": \"alice\"", "\"by\": \"mallory\"")
    });
    let (code, out) = verify(&db, &dir);
    assert_eq!(code, 1, "{out}");
    let seq = approved["seq"].as_u64().unwrap();
    assert!(
        out.contains(&format!("event {seq}: its content does not match the digest")),
        "{out}"
    );

    let dir = export(&db, "edited-file", &[]);
    tamper(&dir, "changes.json", |t| t.replace("\"alice\"", "\"mallory\""));
    let (code, out) = verify(&db, &dir);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("changes.json: changed since the export"), "{out}");

    let dir = export(&db, "dropped-event", &[]);
    let mut list = events(&dir);
    let dropped = list.remove(0)["seq"].as_u64().unwrap();
    std::fs::write(dir.join("audit/events.json"), serde_json::to_string(&list).unwrap()).unwrap();
    let (code, out) = verify(&db, &dir);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("event {dropped} was cited by the export but is missing")),
        "{out}"
    );
}

#[test]
fn a_date_filter_leaves_out_the_events_outside_the_period() {
    let db = Db::new();
    monitored_and_scanned(&db);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let cut = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    ok(
        &db,
        &[
            "baseline",
            "approve",
            "example.com",
            "--reason",
            "after the cut",
            "--by",
            "bob",
        ],
    );

    let after = export(&db, "after", &["--since", &cut]);
    assert_eq!(verify(&db, &after).0, 0);
    let kinds_after = kinds(&after);
    assert_eq!(kinds_after, ["baseline-approved", "evidence-exported"], "--since {cut}");
    // The snapshot was still in force in the period; its storing was not in it.
    let findings: Value = serde_json::from_str(&std::fs::read_to_string(after.join("findings.json")).unwrap()).unwrap();
    assert_eq!(findings["items"][0]["snapshot"], 1);
    assert!(findings["items"][0]["audit_seq"].is_null(), "{findings}");

    let before = export(&db, "before", &["--until", &cut]);
    assert_eq!(verify(&db, &before).0, 0);
    let kinds_before = kinds(&before);
    assert!(kinds_before.contains(&"snapshot-stored".to_owned()), "{kinds_before:?}");
    assert!(
        !kinds_before.contains(&"baseline-approved".to_owned()),
        "--until {cut}: {kinds_before:?}"
    );
    let changes = std::fs::read_to_string(before.join("changes.json")).unwrap();
    assert!(!changes.contains("bob"), "{changes}");

    let (code, _, err) = db.cli(&["evidence", "example.com", "--since", "last week", "--output", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("--since \"last week\""), "{err}");
}

/// A log that fails `audit verify` gets no evidence-exported event and no
/// bundle: its proofs would prove nothing.
#[tokio::test]
async fn no_evidence_is_exported_from_a_log_that_does_not_verify() {
    let db = Db::new();
    monitored_and_scanned(&db);
    crate::audit_alert::sql(&db, r#"UPDATE audit_events SET content = '{"x":1}' WHERE seq = 1"#).await;
    let out = db.path("tampered");
    let (code, _, err) = db.cli(&["evidence", "example.com", "--output", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("does not verify") && err.contains("entry 1 was altered"),
        "{err}"
    );
    let store = db.store().await;
    let exports = mailwarden_store::count(
        &store,
        "SELECT COUNT(*) FROM audit_events WHERE kind = 'evidence-exported'",
    );
    assert_eq!(exports.await.unwrap(), 0);
    assert!(!out.exists(), "no bundle directory is made");
}

//! `mailwarden message`: real and hostile messages, every format, offline
//! (keys from testdata/messages/samples.zone).

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;

use crate::support::{mailwarden, run, run_args};

const SAMPLES: &str = "testdata/messages/samples.zone";

fn findings(doc: &Value, domain: usize) -> Vec<(String, String)> {
    doc["domains"][domain]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has(f: &[(String, String)], id: &str, outcome: &str) -> bool {
    f.iter().any(|(i, o)| i == id && o == outcome)
}

#[test]
fn message_leaky_headers_are_findings_with_the_hop_table() {
    let (code, out, err) = run_args(&["message", "--no-auth", "testdata/messages/leaky.eml"]);
    assert_eq!(code, 0, "medium is below --fail-on high: {err}");
    assert!(out.contains("Path (3 hops, first hop first):"), "{out}");
    assert!(out.contains("ws17.corp.local [10.1.2.3]"), "{out}");
    assert!(out.contains("TLSv1.3 TLS_AES_256_GCM_SHA384"), "{out}");
    assert!(
        !out.contains("Published"),
        "the scan's records block is left out: {out}"
    );
    for id in [
        "message.originating-ip",
        "message.client-software",
        "message.message-id-host",
        "message.received-internal-name",
        "message.received-private-address",
        "message.hop-unencrypted",
    ] {
        assert!(out.contains(&format!("[{id}]")), "{id} missing: {out}");
    }
}

#[test]
fn message_clean_mail_has_no_leaks_and_fail_on_low_passes() {
    let (code, out, err) = run_args(&[
        "message",
        "--no-auth",
        "--fail-on",
        "low",
        "--format",
        "json",
        "testdata/messages/clean.eml",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let f = findings(&doc, 0);
    assert!(f.iter().all(|(_, o)| o != "fail"), "{f:?}");
    assert!(has(&f, "message.hop-unencrypted", "pass"));
}

#[test]
fn message_rfc8463_signatures_verify_offline() {
    let (code, out, err) = run_args(&[
        "message",
        "--zone-file",
        SAMPLES,
        "--format",
        "json",
        "testdata/messages/rfc8463.eml",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let f = findings(&doc, 0);
    assert_eq!(
        f.iter().filter(|(i, o)| i == "message.dkim" && o == "pass").count(),
        2,
        "{f:?}"
    );
    // The evidence is kept like a scan's: the key lookups are in the observation.
    let dns = doc["domains"][0]["observation"]["dns"].as_array().unwrap();
    assert!(
        dns.iter()
            .any(|q| q["name"] == "brisbane._domainkey.football.example.com"),
        "{dns:?}"
    );
}

/// The JSON report of `message --zone-file SAMPLES FILE`.
fn audit_json(file: &str) -> Value {
    let (_, out, err) = run_args(&["message", "--zone-file", SAMPLES, "--format", "json", file]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"))
}

#[test]
fn message_list_damage_is_told_apart_and_the_arc_chain_validates() {
    let doc = audit_json("testdata/messages/arc-ietf-list.eml");
    let f = findings(&doc, 0);
    assert!(has(&f, "message.arc", "pass"), "{f:?}");
    assert_eq!(
        f.iter().filter(|(i, o)| i == "message.dkim" && o == "pass").count(),
        2,
        "ietf.org signs twice"
    );
    let list = doc["domains"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "message.dkim" && f["outcome"] == "fail")
        .expect("the author's signature is broken by the list");
    assert!(
        list["message"].as_str().unwrap().contains("list damage, not forgery"),
        "{list}"
    );
    assert_eq!(list["severity"], "low");
    // Gmail's hops: internal stages and the amavis hand-off are local, the
    // relay hops used TLS; nothing went in plain text between servers.
    assert!(has(&f, "message.hop-unencrypted", "pass"), "{f:?}");
}

#[test]
fn message_every_format_works() {
    for format in ["text", "json", "jsonl", "sarif", "csv", "html", "markdown"] {
        let (code, out, err) = run_args(&[
            "message",
            "--no-auth",
            "--format",
            format,
            "testdata/messages/leaky.eml",
        ]);
        assert_eq!(code, 0, "{format}: {err}");
        assert!(out.contains("message.originating-ip"), "{format}: {out}");
        match format {
            "json" => {
                let doc = serde_json::from_str::<Value>(&out).unwrap();
                crate::formats::assert_valid(&crate::formats::report_schema(), &doc, "message json");
            }
            "sarif" => {
                serde_json::from_str::<Value>(&out).unwrap_or_else(|e| panic!("{format}: {e}"));
            }
            "jsonl" => {
                for line in out.lines() {
                    serde_json::from_str::<Value>(line).unwrap();
                }
            }
            "html" => {
                assert!(out.contains("<h2>Message paths</h2>"), "{out}");
                assert!(out.contains("<td>ws17.corp.local [10.1.2.3]</td>"), "{out}");
                assert!(out.trim_end().ends_with("</html>"));
            }
            _ => {}
        }
    }
}

#[test]
fn message_mbox_and_standard_input() {
    let eml = std::fs::read_to_string(crate::support::repo().join("testdata/messages/clean.eml")).unwrap();
    let leaky = std::fs::read_to_string(crate::support::repo().join("testdata/messages/leaky.eml")).unwrap();
    let mbox =
        format!("From alice@example.org Mon Jan  1 10:00:00 2024\n{eml}\nFrom x Mon Jan  1 10:00:01 2024\n{leaky}\n");
    let mut child = mailwarden()
        .args(["message", "--no-auth", "--format", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(mbox.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let labels: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["domain"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(labels, ["-#1", "-#2"], "{text}");
}

#[test]
fn message_hostile_input_ends_in_findings_or_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut hostile = Vec::new();
    for _ in 0..10_000 {
        hostile
            .extend_from_slice(b"Received: from a (a [10.0.0.1]) by b with SMTP; Mon, 1 Jan 2024 10:00:00 +0000\r\n");
    }
    hostile.extend_from_slice(b"Subject: \xff\xfe\0\x1b[2J\r\n\r\nbody");
    let path = dir.path().join("hostile.eml");
    std::fs::write(&path, &hostile).unwrap();
    let (code, out, err) = run_args(&["message", "--no-auth", "--format", "json", path.to_str().unwrap()]);
    assert!(code == 0 || code == 1, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let f = findings(&doc, 0);
    assert!(has(&f, "message.hop-count", "fail"), "{f:?}");
    assert!(has(&f, "message.parse", "fail"), "the NUL byte: {f:?}");

    // Over the size cap: reported, not buffered.
    let (code, out, _) = run_args(&[
        "message",
        "--no-auth",
        "--max-message-bytes",
        "4096",
        "--format",
        "json",
        path.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert!(doc["domains"][0]["domain"].as_str().unwrap().ends_with("(truncated)"));

    let (code, _, err) = run_args(&["message", "/nonexistent/x.eml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/x.eml: cannot open"), "{err}");
    let (code, _, err) = run_args(&["message"]);
    assert_eq!(code, 2);
    assert!(err.contains("nothing to read"), "{err}");
}

#[test]
fn message_dkim_selectors_are_listed_for_scan() {
    let (code, out, _) = run_args(&[
        "message",
        "--dkim-selectors",
        "testdata/messages/rfc8463.eml",
        "testdata/messages/arc-ietf-list.eml",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("football.example.com brisbane\n"), "{out}");
    assert!(out.contains("football.example.com test\n"), "{out}");
    assert!(out.contains("ietf.org ietf1\n"), "{out}");
}

#[test]
fn message_trusted_hop_that_names_no_server_is_reported() {
    let mut c = mailwarden();
    c.args([
        "message",
        "--no-auth",
        "--format",
        "json",
        "--trusted-hop",
        "mx.nowhere.example",
        "testdata/messages/leaky.eml",
    ]);
    let (_, out, _) = run(&mut c);
    let doc: Value = serde_json::from_str(&out).unwrap();
    let parse = doc["domains"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "message.parse")
        .unwrap();
    let m = parse["message"].as_str().unwrap();
    assert!(
        m.contains("--trusted-hop mx.nowhere.example: no Received field was written by"),
        "{m}"
    );
    assert!(m.contains("mx.example.net"), "the by-names are listed: {m}");
}

#[test]
fn message_save_evidence_keeps_hops_verdicts_and_dns_answers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.jsonl");
    let (code, _, err) = run_args(&[
        "message",
        "--zone-file",
        SAMPLES,
        "--save-evidence",
        path.to_str().unwrap(),
        "--format",
        "csv",
        "testdata/messages/rfc8463.eml",
        "testdata/messages/leaky.eml",
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["auth"]["dkim"][0]["result"], "pass", "{}", lines[0]);
    assert!(lines[0]["observation"]["dns"].as_array().unwrap().len() >= 2);
    assert_eq!(lines[1]["path"]["hops"].as_array().unwrap().len(), 3);
    assert!(!lines[1]["leaks"].as_array().unwrap().is_empty());
}

/// An offline DKIM-only scan (the domain follows).
const SCAN_DKIM: [&str; 11] = [
    "scan",
    "--zone-file",
    SAMPLES,
    "--checks",
    "dkim",
    "--no-smtp",
    "--no-https",
    "--format",
    "json",
    "--fail-on",
    "none",
];

/// The selectors `scan` asked for football.example.com, and whether it
/// looked the brisbane key up, with or without `--db`.
fn scan_selectors(db: Option<&str>) -> (Vec<String>, bool) {
    let mut args = SCAN_DKIM.to_vec();
    if let Some(db) = db {
        args.extend(["--db", db]);
    }
    args.push("football.example.com");
    let (code, out, err) = run_args(&args);
    assert!(code == 0 || code == 1, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let observation = &doc["domains"][0]["observation"];
    let selectors = observation["options"]["dkim_selectors"]
        .as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let asked = observation["dns"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["name"] == "brisbane._domainkey.football.example.com");
    (selectors, asked)
}

/// `message --db DB --zone-file SAMPLES --format json FILE`.
fn audit_with_db(db: &str, file: &str) -> (i32, String, String) {
    run_args(&["message", "--db", db, "--zone-file", SAMPLES, "--format", "json", file])
}

#[test]
fn message_with_db_remembers_verified_selectors_and_scan_asks_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("mw.db").display());
    // Before: scan guesses, and brisbane is no guess.
    assert_eq!(scan_selectors(Some(&db)), (Vec::new(), false));
    let (code, _, err) = audit_with_db(&db, "testdata/messages/rfc8463.eml");
    assert!(code == 0 || code == 1, "{err}");
    assert!(err.contains("2 DKIM selector(s) remembered"), "{err}");
    let (selectors, asked) = scan_selectors(Some(&db));
    assert!(selectors.contains(&"brisbane".to_string()), "{selectors:?}");
    assert!(selectors.contains(&"test".to_string()), "{selectors:?}");
    assert!(asked, "the remembered selector's key was looked up");
    // Without --db a scan asks only what it is told (and never creates a database).
    assert_eq!(scan_selectors(None), (Vec::new(), false));
}

#[test]
fn message_with_db_does_not_remember_selectors_of_signatures_that_fail() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("mw.db").display());
    let forged = std::fs::read_to_string(crate::support::repo().join("testdata/messages/rfc8463.eml"))
        .unwrap()
        .replacen("Subject:", "Subject: pay now,", 1);
    let path = dir.path().join("forged.eml");
    std::fs::write(&path, forged).unwrap();
    let (_, out, err) = audit_with_db(&db, path.to_str().unwrap());
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    assert!(has(&findings(&doc, 0), "message.dkim", "fail"), "{out}");
    assert!(!err.contains("remembered"), "{err}");
    assert_eq!(scan_selectors(Some(&db)), (Vec::new(), false));
}

#[test]
fn message_dkim_selectors_with_db_are_remembered_as_listed() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("mw.db").display());
    let (code, out, err) = run_args(&[
        "message",
        "--db",
        &db,
        "--dkim-selectors",
        "testdata/messages/rfc8463.eml",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "football.example.com brisbane\nfootball.example.com test\n");
    let (selectors, asked) = scan_selectors(Some(&db));
    assert_eq!(selectors.len(), 2, "{selectors:?}");
    assert!(asked);
}

#[test]
fn monitor_scans_ask_the_selectors_remembered_from_messages() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("mw.db").display());
    let zone = crate::support::repo().join(SAMPLES).display().to_string();
    let mw = |args: &[&str]| {
        let (code, out, err) = run(mailwarden().arg("--db").arg(&db).args(args));
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    };
    mw(&[
        "monitor",
        "add",
        "football.example.com",
        "--zone-file",
        &zone,
        "--no-smtp",
        "--no-https",
        "--checks",
        "dkim",
    ]);
    mw(&[
        "message",
        "--no-auth",
        "--dkim-selectors",
        "testdata/messages/rfc8463.eml",
    ]);
    mw(&["monitor", "run", "--once"]);
    let observation = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = mailwarden_store::Store::open(&db).await.unwrap();
        let mut conn = store.pool().acquire().await.unwrap();
        let meta = mailwarden_store::snapshot::list(&mut conn, "football.example.com")
            .await
            .unwrap();
        mailwarden_store::snapshot::load(&mut conn, meta[0].id)
            .await
            .unwrap()
            .observation
    });
    assert!(
        observation.options.dkim_selectors.contains(&"brisbane".to_string()),
        "{:?}",
        observation.options
    );
    assert!(
        observation
            .dns
            .iter()
            .any(|(k, _)| k.name == "brisbane._domainkey.football.example.com"),
        "the remembered selector's key was looked up"
    );
}

/// The Markdown report of a message has its hop table after the summary,
/// every cell escaped (the leaky sample: an internal workstation, a plain
/// relay hop, a TLS 1.3 hop).
#[test]
fn message_markdown_has_the_hop_table() {
    let (code, out, err) = run_args(&[
        "message",
        "--no-auth",
        "--format",
        "markdown",
        "testdata/messages/leaky.eml",
    ]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("message_markdown_leaky", out);
}

/// JSON (and so SARIF) carry each message's path as the evidence of
/// message.hop-count, which every message has.
#[test]
fn message_json_carries_the_path_as_hop_count_evidence() {
    let (_, out, err) = run_args(&[
        "message",
        "--no-auth",
        "--format",
        "json",
        "testdata/messages/leaky.eml",
    ]);
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    let hop_count = doc["domains"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "message.hop-count")
        .unwrap();
    insta::assert_json_snapshot!("message_json_leaky_path", hop_count["evidence"]["path"]);
}

/// The IETF list sample with its body changed after Google sealed it: the
/// ARC-Message-Signature's body hash no longer matches, so the chain fails
/// (RFC 8617 §5.2), where the untouched sample passes.
#[test]
fn message_an_arc_chain_broken_after_sealing_fails() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(crate::support::repo().join("testdata/messages/arc-ietf-list.eml")).unwrap();
    let changed = sample.replace("Jmap mailing list", "Jmap mailing list (footer changed after sealing)");
    assert_ne!(changed, sample);
    let path = dir.path().join("arc-broken.eml");
    std::fs::write(&path, changed).unwrap();
    let f = findings(&audit_json(path.to_str().unwrap()), 0);
    assert!(has(&f, "message.arc", "fail"), "{f:?}");
}

/// MAILWARDEN_DB may be set for monitor; a scan or message audit whose
/// database cannot be opened still runs, without the remembered selectors,
/// and says so.
#[test]
fn scan_and_message_with_an_unusable_db_run_without_remembered_selectors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let db = format!("sqlite:{}/mw.db", file.display());
    let (code, out, err) = run(mailwarden()
        .env("MAILWARDEN_DB", &db)
        .args(SCAN_DKIM)
        .arg("football.example.com"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("DKIM selectors are not remembered nor asked"), "{err}");
    serde_json::from_str::<Value>(&out).unwrap();
    // And `message` still reports.
    let (code, out, err) = run(mailwarden().env("MAILWARDEN_DB", &db).args([
        "message",
        "--no-auth",
        "--format",
        "json",
        "testdata/messages/clean.eml",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("DKIM selectors are not remembered nor asked"), "{err}");
    serde_json::from_str::<Value>(&out).unwrap();
}

//! `mailwarden audit` and `mailwarden alert` on a real SQLite file: verify
//! names the row edited, deleted or reordered with raw SQL and a truncation
//! against a checkpoint, stays green through erasure; an alert queued before
//! a `kill -9` of its delivery is delivered once per idempotency key.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use mailwarden_alert::testing::{Answer, WebhookReceiver};
use mailwarden_store::{EventKind, NewAlert, Store, Trigger, append_event, audit_log, queue_alert};
use serde_json::json;

use crate::support::{mailwarden, run};

/// A database file, and the key file the binary and this process share.
pub struct Db {
    dir: tempfile::TempDir,
}

impl Db {
    pub fn new() -> Self {
        let db = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        mailwarden_store::audit_key::set_key_path(db.key());
        db
    }
    pub fn key(&self) -> PathBuf {
        // One key for the whole test process (the store caches it by path).
        std::env::temp_dir().join(format!("mailwarden-it-audit-{}.key", std::process::id()))
    }
    pub fn url(&self) -> String {
        format!("sqlite:{}", self.dir.path().join("mw.db").display())
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub async fn store(&self) -> Store {
        Store::open(&self.url()).await.unwrap()
    }
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        run(mailwarden()
            .args(["--db", &self.url()])
            .args(args)
            .env("MAILWARDEN_AUDIT_KEY", self.key()))
    }
}

async fn with_events(n: usize) -> Db {
    let db = Db::new();
    let store = db.store().await;
    for i in 0..n {
        let mut tx = store.begin().await.unwrap();
        let domain = format!("d{}.example", i % 2);
        append_event(&mut tx, EventKind::ChangeDetected, Some(&domain), &json!({"change": i}))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    store.close().await;
    db
}

pub async fn sql(db: &Db, statement: &str) {
    let store = db.store().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test]
async fn audit_verify_passes_on_an_untouched_log() {
    let db = with_events(5).await;
    let (code, out, err) = db.cli(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("audit log verified: 5 entries"), "{out}");
}

#[tokio::test]
async fn audit_verify_names_an_edited_row_and_exits_1() {
    let db = with_events(5).await;
    sql(
        &db,
        r#"UPDATE audit_events SET content = '{"change":42}' WHERE seq = 3"#,
    )
    .await;
    let (code, out, err) = db.cli(&["audit", "verify"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("entry 3 was altered"), "{out}");
    let (code, out, _) = db.cli(&["audit", "verify", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (code, json["verified"].as_bool(), json["first_bad_entry"].as_u64()),
        (1, Some(false), Some(3))
    );
}

#[tokio::test]
async fn audit_verify_names_a_deleted_row() {
    let db = with_events(5).await;
    sql(&db, "DELETE FROM audit_events WHERE seq = 2").await;
    let (code, out, _) = db.cli(&["audit", "verify"]);
    assert_eq!(code, 1);
    assert!(out.contains("entry 2 was deleted"), "{out}");
}

#[tokio::test]
async fn audit_verify_names_reordered_rows() {
    let db = with_events(5).await;
    sql(&db, "UPDATE audit_events SET seq = -1 WHERE seq = 4; UPDATE audit_events SET seq = 4 WHERE seq = 5; UPDATE audit_events SET seq = 5 WHERE seq = -1").await;
    let (code, out, _) = db.cli(&["audit", "verify"]);
    assert_eq!(code, 1);
    assert!(out.contains("entry 4 was reordered"), "{out}");
}

#[tokio::test]
async fn a_checkpoint_catches_a_later_truncation() {
    let db = with_events(6).await;
    let cp = db.path("checkpoint.json");
    let (code, out, err) = db.cli(&["audit", "checkpoint", "--output", cp.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("checkpoint of 6 entries"), "{out}");
    let (code, out, _) = db.cli(&["audit", "verify", "--checkpoint", cp.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("consistent with the checkpoint of 6 entries"), "{out}");
    sql(&db, "DELETE FROM audit_events WHERE seq > 4").await;
    let (code, out, _) = db.cli(&["audit", "verify"]);
    assert_eq!(code, 0, "a truncation alone is invisible without a checkpoint: {out}");
    let (code, out, _) = db.cli(&["audit", "verify", "--checkpoint", cp.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains("truncated") && out.contains("entries 5 to 6 were deleted"),
        "{out}"
    );
}

#[tokio::test]
async fn a_checkpoint_alone_verifies_without_the_key_file() {
    // An auditor with the checkpoint and a copy of the database, not the key.
    let db = with_events(3).await;
    let cp = db.path("cp.json");
    db.cli(&["audit", "checkpoint", "--output", cp.to_str().unwrap()]);
    let missing = db.path("no-such.key");
    let (code, out, err) = run(mailwarden()
        .args([
            "--db",
            &db.url(),
            "audit",
            "verify",
            "--checkpoint",
            cp.to_str().unwrap(),
        ])
        .env("MAILWARDEN_AUDIT_KEY", &missing));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("the checkpoint"), "{out}");
    let (code, _, err) = run(mailwarden()
        .args(["--db", &db.url(), "audit", "verify"])
        .env("MAILWARDEN_AUDIT_KEY", &missing));
    assert_eq!(code, 2);
    assert!(err.contains("no audit key at"), "{err}");
}

#[tokio::test]
async fn erasure_keeps_audit_verify_green() {
    let db = with_events(6).await;
    let store = db.store().await;
    let mut tx = store.begin().await.unwrap();
    audit_log::erase_domain(&mut tx, "d0.example").await.unwrap();
    tx.commit().await.unwrap();
    store.close().await;
    let (code, out, err) = db.cli(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("contents checked against their digests: 3"), "{out}");
}

pub async fn queue_one(db: &Db) -> i64 {
    queue(db, "fp-1").await
}

/// Queues an alert for example.test whose condition is `condition`.
pub async fn queue(db: &Db, condition: &str) -> i64 {
    let store = db.store().await;
    let mut tx = store.begin().await.unwrap();
    let alert = NewAlert {
        domain: "example.test".into(),
        trigger: Trigger::UnapprovedChange,
        severity: "critical".into(),
        summary: "MX changed".into(),
        snapshot_id: None,
        details: json!({}),
        condition: condition.into(),
    };
    let id = queue_alert(&mut tx, &alert).await.unwrap();
    tx.commit().await.unwrap();
    store.close().await;
    id
}

pub async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `kill -9` of `alert deliver` while the receiver holds the request (sent,
/// not answered, nothing recorded), then a restart: the alert is delivered,
/// and the receiver processed its idempotency key exactly once.
// Multi-threaded: the receiver must answer while a blocking CLI run waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_survives_kill_9_mid_delivery_and_is_processed_once() {
    let db = Db::new();
    let receiver = WebhookReceiver::start(Some("k"), vec![Answer::Hang]).await;
    let (code, out, err) = db.cli(&["alert", "add", "webhook", &receiver.url, "--secret", "k"]);
    assert_eq!(code, 0, "{out}{err}");
    let id = queue_one(&db).await;
    let mut child = mailwarden()
        .args(["--db", &db.url(), "alert", "deliver"])
        .env("MAILWARDEN_AUDIT_KEY", db.key())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the request to reach the receiver", || !receiver.requests().is_empty()).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let store = db.store().await;
    let row = |alerts: Vec<mailwarden_store::outbox::QueuedAlert>| alerts.into_iter().find(|a| a.id == id).unwrap();
    assert_eq!(
        row(mailwarden_store::outbox::list_alerts(&store, None).await.unwrap()).state,
        "pending"
    );
    // The restart, after the killed worker's claim has lapsed.
    let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(3);
    let report = mailwarden_store::alert_delivery::deliver_pending(&store, later)
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.signature_ok));
    assert_eq!(
        requests[0].header("idempotency-key"),
        requests[1].header("idempotency-key")
    );
    assert_eq!(receiver.processed_keys().len(), 1);
    assert_eq!(
        row(mailwarden_store::outbox::list_alerts(&store, None).await.unwrap()).state,
        "sent"
    );
    assert!(audit_log::verify(&store, None).await.unwrap().outcome.is_ok());
}

/// `kill -9` after the alert was queued and before anything was sent (the
/// worker is stopped before it runs), then a restart of the CLI worker.
// Multi-threaded: the receiver must answer while a blocking CLI run waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_queued_before_kill_9_is_delivered_by_the_next_run() {
    let db = Db::new();
    let receiver = WebhookReceiver::start(None, vec![]).await;
    db.cli(&["alert", "add", "webhook", &receiver.url]);
    queue_one(&db).await;
    let mut child = mailwarden()
        .args(["--db", &db.url(), "alert", "deliver"])
        .env("MAILWARDEN_AUDIT_KEY", db.key())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // SIGSTOP at once, then SIGKILL: the process may have done nothing yet.
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    child.kill().unwrap();
    child.wait().unwrap();
    let before = receiver.requests().len();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (code, out, err) = db.cli(&["alert", "deliver"]);
    assert_eq!(code, 0, "{out}{err}");
    if before == 0 {
        assert!(out.contains("1 sent"), "{out}");
    }
    assert_eq!(receiver.processed_keys().len(), 1, "{:?}", receiver.requests());
}

// Multi-threaded: the receiver must answer while a blocking CLI run waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_list_shows_a_failed_delivery_and_its_error() {
    let db = Db::new();
    let receiver = WebhookReceiver::start(None, vec![Answer::Status(500)]).await;
    db.cli(&["alert", "add", "webhook", &receiver.url]);
    queue_one(&db).await;
    let (code, out, err) = db.cli(&["alert", "deliver"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 to retry"), "{out}");
    assert!(err.contains("HTTP 500"), "the failure is logged: {err}");
    let (_, out, _) = db.cli(&["alert", "list"]);
    assert!(
        out.contains("[pending, 1 attempt(s)]") && out.contains("HTTP 500"),
        "{out}"
    );
    let (code, _, err) = db.cli(&["alert", "add", "webhook", "ftp://x"]);
    assert_eq!(code, 2);
    assert!(err.contains("http:// or https://"), "{err}");
}

/// Issue 16's ownership gate as `alert list` shows it: the CLI's own
/// destination gets the alert; one added through the web holds it until
/// the tenant shows ownership of example.test, and the list says so, why,
/// and who added which destination (text and JSON).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_list_shows_an_alert_held_for_a_web_added_destination_and_why() {
    let db = Db::new();
    let (cli_hook, web_hook) = (
        WebhookReceiver::start(None, vec![]).await,
        WebhookReceiver::start(None, vec![]).await,
    );
    db.cli(&["alert", "add", "webhook", &cli_hook.url]);
    let store = db.store().await;
    let scope = mailwarden_store::tenant::scope_named(&store, "default").await.unwrap();
    let web = mailwarden_alert::Destination::webhook(&web_hook.url, None).unwrap();
    mailwarden_store::tenant_alerts::add(&store, scope, &web, "ann@example.test")
        .await
        .unwrap();
    store.close().await;
    queue_one(&db).await;
    let (code, out, err) = db.cli(&["alert", "deliver"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 sent") && out.contains("1 held"), "{out}");
    assert_eq!((cli_hook.requests().len(), web_hook.requests().len()), (1, 0));

    let (_, out, _) = db.cli(&["alert", "list"]);
    assert!(out.contains("[held, 1 attempt(s)]"), "{out}");
    assert!(out.contains("held: ownership of example.test not shown"), "{out}");
    assert!(
        out.contains("by the CLI: not gated") && out.contains("web:ann@example.test"),
        "{out}"
    );
    let (_, out, _) = db.cli(&["alert", "list", "--format", "json"]);
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed["alerts"][0]["state"], "held", "{listed}");
    let origins: Vec<&serde_json::Value> = listed["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["added_by"])
        .collect();
    assert_eq!(origins, [&json!("cli"), &json!("web:ann@example.test")], "{listed}");
}

/// The whole chain through the binary: a monitored domain's zone changes
/// after its baseline was approved, `monitor run --once` queues the alert,
/// `alert deliver` brings it to a signed webhook, and the audit log that
/// recorded all of it verifies, before and after `erase`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unapproved_change_is_alerted_and_the_audit_log_verifies_through_erasure() {
    let db = Db::new();
    crate::evidence::monitored_with_a_change(&db);
    let ok = |args: &[&str]| {
        let (code, out, err) = db.cli(args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        out
    };
    let receiver = WebhookReceiver::start(Some("k"), vec![]).await;
    ok(&["alert", "add", "webhook", &receiver.url, "--secret", "k"]);
    let out = ok(&["alert", "deliver"]);
    assert!(!out.starts_with("0 sent"), "{out}");
    let got = receiver.requests();
    let bodies: Vec<serde_json::Value> = got.iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    assert!(got.iter().all(|r| r.signature_ok));
    assert!(
        bodies
            .iter()
            .any(|b| b["trigger"] == "unapproved-change" && b["domain"] == "example.com"),
        "{bodies:?}"
    );
    let verified = ok(&["audit", "verify"]);
    assert!(verified.contains("audit log verified"), "{verified}");
    ok(&["erase", "example.com"]);
    let verified = ok(&["audit", "verify"]);
    assert!(verified.contains("audit log verified"), "{verified}");
}

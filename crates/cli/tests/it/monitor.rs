//! `monitor add|run|list|remove|sync`, `history`, `diff`, `baseline`,
//! `retention`, `erase` through the binary, on an SQLite file; DNS from a
//! zone file the test edits between runs.

use std::path::Path;
use std::process::Command;

use crate::support::{json, mailwarden, repo, run};

/// `mailwarden --db sqlite:DIR/t.db ARGS...`, its audit key in DIR too
/// (never in ~/.config).
fn mw(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run(mailwarden_in(dir).args(args))
}

/// The binary with the database and the audit key of DIR.
fn mailwarden_in(dir: &Path) -> Command {
    let db = format!("sqlite:{}", dir.join("t.db").display());
    let mut c = mailwarden();
    c.arg("--db").arg(db).env("MAILWARDEN_AUDIT_KEY", dir.join("audit.key"));
    c
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = mw(dir, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

fn zone(dir: &Path) -> String {
    let path = dir.join("example.com.zone");
    if !path.exists() {
        std::fs::copy(repo().join("examples/example.com.zone"), &path).unwrap();
    }
    path.display().to_string()
}

/// The change the tests make to the example zone: its second MX host is
/// replaced (mx2 by mx9).
pub fn replace_second_mx(zone: &Path) {
    let text = std::fs::read_to_string(zone).unwrap();
    let changed = text.replace("20 mx2.example.com.", "20 mx9.example.com.");
    assert_ne!(changed, text, "{}: no `20 mx2.example.com.` to replace", zone.display());
    std::fs::write(zone, changed).unwrap();
}

/// Monitor example.com from a copy of the example zone, offline.
fn add_example(dir: &Path) {
    let z = zone(dir);
    ok(
        dir,
        &[
            "monitor",
            "add",
            "example.com",
            "--zone-file",
            &z,
            "--no-smtp",
            "--no-https",
        ],
    );
}

fn alerts(dir: &Path) -> Vec<mailwarden_store::outbox::QueuedAlert> {
    let url = format!("sqlite:{}", dir.join("t.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = mailwarden_store::Store::open(&url).await.unwrap();
        mailwarden_store::outbox::list_alerts(&store, None).await.unwrap()
    })
}

#[test]
fn monitor_run_once_stores_dedupes_diffs_and_alerts_on_an_unapproved_change() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let z = zone(dir);
    let out = ok(
        dir,
        &[
            "monitor",
            "add",
            "example.com",
            "--every",
            "1h",
            "--zone-file",
            &z,
            "--no-smtp",
            "--no-https",
        ],
    );
    assert!(out.contains("example.com: monitored every 1h"), "{out}");
    let list = json(&ok(dir, &["monitor", "list", "--format", "json"]));
    assert_eq!(list[0]["domain"], "example.com");
    ok(dir, &["monitor", "run", "--once"]);
    ok(dir, &["monitor", "run", "--once"]);
    let h = json(&ok(dir, &["history", "example.com", "--format", "json"]));
    assert_eq!(
        h["snapshots"].as_array().unwrap().len(),
        1,
        "an unchanged re-scan is no new snapshot"
    );
    assert_eq!(h["snapshots"][0]["snapshot"]["seen_count"], 2);
    ok(
        dir,
        &[
            "baseline",
            "approve",
            "example.com",
            "--reason",
            "reviewed, ticket 7",
            "--by",
            "alice",
        ],
    );
    // The zone changes: the second MX host is replaced.
    replace_second_mx(Path::new(&z));
    ok(dir, &["monitor", "run", "--once"]);
    let d = json(&ok(dir, &["diff", "example.com", "--format", "json"]));
    assert_eq!(d["domain"], "example.com");
    let mx = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "MX")
        .expect("an MX change");
    assert!(mx["before"].to_string().contains("mx2.example.com"), "{mx}");
    assert!(mx["after"].to_string().contains("mx9.example.com"), "{mx}");
    let text = ok(dir, &["diff", "example.com"]);
    assert!(text.contains("+ 20 mx9.example.com"), "{text}");
    let unapproved: Vec<_> = alerts(dir)
        .into_iter()
        .filter(|a| a.trigger == "unapproved-change")
        .collect();
    assert_eq!(unapproved.len(), 1);
    assert_eq!(unapproved[0].state, "pending");
    let h = ok(dir, &["history", "example.com"]);
    assert!(h.contains("approved as baseline 1 by alice"), "{h}");
}

#[test]
fn erase_prints_a_receipt_and_leaves_nothing_about_the_domain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    add_example(dir);
    ok(dir, &["monitor", "run", "--once"]);
    let receipt = ok(dir, &["erase", "example.com"]);
    assert!(receipt.contains("snapshots deleted:      1"), "{receipt}");
    let h = ok(dir, &["history", "example.com"]);
    assert!(h.contains("nothing stored"), "{h}");
    assert!(ok(dir, &["monitor", "list"]).contains("no domain is monitored"));
}

/// `erase` once cleared only the contents of the domain's audit events: the
/// domain stayed in them, and the salt that makes its digest linkable.
#[test]
fn erase_clears_the_domain_and_salt_of_its_audit_events_and_verify_stays_green() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    add_example(dir);
    ok(dir, &["monitor", "run", "--once"]);
    let count = |sql: &'static str| {
        let url = format!("sqlite:{}", dir.join("t.db").display());
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let store = mailwarden_store::Store::open(&url).await.unwrap();
            let n = sqlx_count(&store, sql).await;
            store.close().await;
            n
        })
    };
    let about = count("SELECT COUNT(*) FROM audit_events WHERE domain = 'example.com'");
    assert!(about >= 2, "monitor-added and snapshot-stored are about the domain");
    let receipt = ok(dir, &["erase", "example.com"]);
    assert!(
        receipt.contains(&format!("audit events cleared:   {about}")),
        "{receipt}"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_events WHERE domain = 'example.com'"),
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_events WHERE domain IS NULL AND salt IS NULL AND content IS NULL"),
        about
    );
    let verified = ok(dir, &["audit", "verify"]);
    assert!(verified.contains("audit log verified"), "{verified}");
}

/// `monitor run --once` delivers the alerts it queued (cron and CI users
/// have no `monitor run` loop to do it): the unapproved change reaches a
/// signed webhook in the same run.
// Multi-threaded: the receiver must answer while a blocking CLI run waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_run_once_delivers_the_alerts_it_queued() {
    use mailwarden_alert::testing::WebhookReceiver;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    add_example(dir);
    let receiver = WebhookReceiver::start(Some("k"), vec![]).await;
    ok(dir, &["alert", "add", "webhook", &receiver.url, "--secret", "k"]);
    ok(dir, &["monitor", "run", "--once"]);
    let approve = "baseline approve example.com --reason reviewed --by alice";
    ok(dir, &approve.split(' ').collect::<Vec<_>>());
    let z = zone(dir);
    replace_second_mx(Path::new(&z));
    let before = receiver.requests().len();
    let (code, _, err) = mw(dir, &["monitor", "run", "--once"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("alerts:") && err.contains("sent"), "{err}");
    let bodies: Vec<serde_json::Value> = receiver.requests()[before..]
        .iter()
        .inspect(|r| assert!(r.signature_ok))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert!(
        bodies
            .iter()
            .any(|b| b["trigger"] == "unapproved-change" && b["domain"] == "example.com"),
        "{bodies:?}"
    );
    let store = mailwarden_store::Store::open(&format!("sqlite:{}", dir.join("t.db").display()))
        .await
        .unwrap();
    let queued = mailwarden_store::outbox::list_alerts(&store, None).await.unwrap();
    let unapproved = queued.iter().find(|a| a.trigger == "unapproved-change").unwrap();
    assert_eq!(unapproved.state, "sent");
}

#[test]
fn bad_database_urls_and_bad_monitor_options_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = run(mailwarden().args(["--db", "mysql://x/y", "monitor", "list"]));
    assert_eq!(code, 2);
    assert!(err.contains("unsupported scheme"), "{err}");
    let (code, _, err) = run(mailwarden()
        .args(["monitor", "list"])
        .env("MAILWARDEN_DB", "postgres://u@127.0.0.1:1/x"));
    assert_eq!(code, 2);
    assert!(err.contains("cannot open the database"), "{err}");
    let (code, _, err) = mw(tmp.path(), &["monitor", "add", "example.com", "--every", "5x"]);
    assert_eq!(code, 2);
    assert!(err.contains("--every"), "{err}");
    let (code, _, err) = mw(tmp.path(), &["monitor", "add", "example.com", "--checks", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("--checks"), "{err}");
    let (code, _, err) = mw(tmp.path(), &["diff", "example.com"]);
    assert_eq!(code, 2);
    assert!(err.contains("no snapshot stored"), "{err}");
}

#[test]
fn the_default_database_is_created_in_the_xdg_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = run(mailwarden()
        .args(["monitor", "list"])
        .env_remove("MAILWARDEN_DB")
        .env("XDG_DATA_HOME", tmp.path()));
    assert_eq!(code, 0, "{err}");
    assert!(tmp.path().join("mailwarden/mailwarden.db").is_file());
}

#[test]
fn a_monitors_file_adds_and_later_removes_its_monitors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    zone(dir);
    let file = dir.join("monitors.toml");
    std::fs::write(
        &file,
        "[[monitor]]\ndomains = [\"example.com\", \"example.net\"]\nevery = \"30m\"\nzone-file = [\"example.com.zone\"]\nno-smtp = true\n",
    )
    .unwrap();
    ok(dir, &["monitor", "sync", file.to_str().unwrap()]);
    let list = json(&ok(dir, &["monitor", "list", "--format", "json"]));
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(
        list[0]["options"]
            .as_str()
            .unwrap()
            .contains(&dir.join("example.com.zone").display().to_string())
    );
    std::fs::write(
        &file,
        "[[monitor]]\ndomains = [\"example.com\"]\nzone-file = [\"example.com.zone\"]\n",
    )
    .unwrap();
    let out = ok(dir, &["monitor", "sync", file.to_str().unwrap()]);
    assert!(out.contains("example.net: no longer in"), "{out}");
}

/// kill -9 of `monitor run` in the middle of a cycle, then a restart: what
/// was stored before the kill is all there, consistent (each snapshot with
/// its audit event), and the restart stores the rest.
#[test]
fn kill_9_mid_cycle_loses_nothing_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A resolver that never answers: each scan waits on its timeouts, so
    // the kill lands while scans are in flight.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = silent.local_addr().unwrap().to_string();
    let domains: Vec<String> = (0..6).map(|i| format!("d{i}.example")).collect();
    let mut add = vec!["monitor", "add"];
    add.extend(domains.iter().map(String::as_str));
    add.extend([
        "--resolver",
        &resolver,
        "--no-dnssec",
        "--no-smtp",
        "--no-https",
        "--",
        "--timeout",
        "0.5",
        "--retries",
        "0",
    ]);
    ok(dir, &add);
    let db = format!("sqlite:{}", dir.join("t.db").display());
    let mut child = mailwarden_in(dir)
        .args(["monitor", "run", "--once", "--concurrency", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let count = |sql: &'static str| {
        rt.block_on(async {
            let store = mailwarden_store::Store::open(&db).await.unwrap();
            let n: i64 = sqlx_count(&store, sql).await;
            store.close().await;
            n
        })
    };
    let started = std::time::Instant::now();
    while count("SELECT COUNT(*) FROM snapshots") == 0 && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SIGKILL: no handler, no flush, no rollback by the process itself.
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = count("SELECT COUNT(*) FROM snapshots");
    assert!(at_kill >= 1, "nothing stored before the kill");
    assert!(at_kill < 6, "the kill came after the cycle: the test proves nothing");
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_events WHERE kind = 'snapshot-stored'"),
        at_kill
    );
    ok(dir, &["monitor", "run", "--once"]);
    let after = count("SELECT COUNT(DISTINCT domain) FROM snapshots");
    assert_eq!(after, 6, "the restart stores every domain");
    assert!(count("SELECT COUNT(*) FROM snapshots") >= at_kill);
}

async fn sqlx_count(store: &mailwarden_store::Store, sql: &'static str) -> i64 {
    mailwarden_store::count(store, sql).await.unwrap()
}

/// `monitor run` (forever) stops on SIGTERM with exit 0, after storing
/// what it scanned.
#[test]
fn monitor_run_stops_gracefully_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    add_example(dir);
    let db = format!("sqlite:{}", dir.join("t.db").display());
    let child = mailwarden_in(dir)
        .args(["monitor", "run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stored = || {
        rt.block_on(async {
            let store = mailwarden_store::Store::open(&db).await.unwrap();
            sqlx_count(&store, "SELECT COUNT(*) FROM snapshots").await
        })
    };
    let started = std::time::Instant::now();
    while stored() == 0 && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("mailwarden: stopped"), "{err}");
    assert_eq!(stored(), 1);
}

/// The snapshots stored in DIR's database.
fn snapshots(dir: &Path) -> i64 {
    let url = format!("sqlite:{}", dir.join("t.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = mailwarden_store::Store::open(&url).await.unwrap();
        mailwarden_store::count(&store, "SELECT COUNT(*) FROM snapshots")
            .await
            .unwrap()
    })
}

/// `--no-store` is the baseline bench/monitor-lab.sh measures the store
/// against: the same scans, nothing written. `--timings` says where a
/// run's time went.
#[test]
fn monitor_run_once_no_store_scans_but_stores_nothing_and_timings_split_store_from_scans() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    add_example(dir);
    let (code, _, err) = mw(dir, &["monitor", "run", "--once", "--no-store", "--timings"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("0 new snapshot(s), 0 unchanged"), "{err}");
    assert!(err.contains("timings: 1 scan(s), wall "), "{err}");
    assert!(err.contains("nothing stored (--no-store)"), "{err}");
    assert_eq!(snapshots(dir), 0, "--no-store stored a scan");

    let (code, _, err) = mw(dir, &["monitor", "run", "--once", "--timings"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 new snapshot(s)"), "{err}");
    assert!(
        err.contains("timings: 1 scan(s), wall ") && !err.contains("--no-store"),
        "{err}"
    );
    // The store's CPU share, counted inside the run (cpu_meter.rs).
    assert!(
        err.contains("timings: store CPU ") && err.contains("SQLite threads ") && err.contains("% on the rest"),
        "{err}"
    );
    assert_eq!(snapshots(dir), 1);
    // Without --timings, no timings line.
    let (_, _, err) = mw(dir, &["monitor", "run", "--once"]);
    assert!(!err.contains("timings:"), "{err}");

    // Storing nothing is only for a single pass: `monitor run` forever must store.
    let (code, _, err) = mw(dir, &["monitor", "run", "--no-store"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--once"), "{err}");
}

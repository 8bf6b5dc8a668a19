//! Beyond one machine (issue 15): `mailwarden jobs` and `mailwarden worker`
//! processes, and `monitor run` processes sharing one schedule, on a real
//! PostgreSQL (tests/real-peers/postgres.sh; `.ci/run` runs them through
//! `postgres.sh test`). Without MAILWARDEN_TEST_PG_URL the PostgreSQL tests
//! are skipped, unless MAILWARDEN_TEST_PG_REQUIRED=1 (the PostgreSQL tier)
//! makes that a failure. DNS comes from a generated zone file: no network.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{mailwarden, run};

/// d0.test .. d<n-1>.test, each with an MX, SPF and DMARC record.
fn zone(dir: &Path, n: usize) -> (String, String) {
    let mut z = String::from(
        "$ORIGIN test.\n$TTL 300\n@ SOA ns1.test. host.test. 1 3600 600 86400 300\n@ NS ns1.test.\nns1 A 192.0.2.53\n",
    );
    let mut list = String::new();
    for i in 0..n {
        z.push_str(&format!(
            "d{i} MX 10 mx.d{i}\nd{i} TXT \"v=spf1 -all\"\n_dmarc.d{i} TXT \"v=DMARC1; p=reject\"\n"
        ));
        list.push_str(&format!("d{i}.test\n"));
    }
    let (zone, listed) = (dir.join("test.zone"), dir.join("list"));
    std::fs::write(&zone, z).unwrap();
    std::fs::write(&listed, list).unwrap();
    (zone.display().to_string(), listed.display().to_string())
}

/// What every test here starts from: a database, a temporary directory
/// (audit key, zone, list) and d0.test .. d<n-1>.test in a zone file.
struct Setup {
    db: String,
    tmp: tempfile::TempDir,
    zone: String,
    list: String,
}

impl Setup {
    /// On a fresh PostgreSQL database; `None` (skipped) without one.
    fn postgres(n: usize) -> Option<Self> {
        postgres_db().map(|db| Self::with(db, n))
    }

    /// On an SQLite file in the temporary directory.
    fn sqlite(n: usize) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let db = format!("sqlite:{}", tmp.path().join("t.db").display());
        Self::with_dir(db, tmp, n)
    }

    fn with(db: String, n: usize) -> Self {
        Self::with_dir(db, tempfile::tempdir().unwrap(), n)
    }

    fn with_dir(db: String, tmp: tempfile::TempDir, n: usize) -> Self {
        let (zone, list) = zone(tmp.path(), n);
        Self { db, tmp, zone, list }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn ok(&self, args: &[&str]) -> String {
        ok(&self.db, self.dir(), args)
    }

    /// `monitor add` d0.test .. d<n-1>.test from the zone file, with `flags`.
    fn monitor_all(&self, n: usize, flags: &[&str]) {
        let mut add = vec!["monitor".to_string(), "add".into()];
        add.extend((0..n).map(|i| format!("d{i}.test")));
        add.extend(flags.iter().map(|f| f.to_string()));
        add.extend([
            "--zone-file".into(),
            self.zone.clone(),
            "--no-smtp".into(),
            "--no-https".into(),
        ]);
        self.ok(&add.iter().map(String::as_str).collect::<Vec<_>>());
    }

    /// `count` processes of `mailwarden ARGS`, started together.
    fn spawn(&self, count: usize, args: &[&str]) -> Vec<Child> {
        (0..count).map(|_| spawn(&self.db, self.dir(), args)).collect()
    }
}

/// Wait for each process to exit 0; their standard errors.
fn finish_all(children: Vec<Child>) -> Vec<String> {
    children.into_iter().map(finish).collect()
}

/// A fresh database on the PostgreSQL at MAILWARDEN_TEST_PG_URL, as a URL.
fn postgres_db() -> Option<String> {
    let Some(base) = std::env::var("MAILWARDEN_TEST_PG_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(
            std::env::var("MAILWARDEN_TEST_PG_REQUIRED").is_err(),
            "MAILWARDEN_TEST_PG_REQUIRED is set but MAILWARDEN_TEST_PG_URL is not"
        );
        eprintln!("skipped: MAILWARDEN_TEST_PG_URL is not set (tests/real-peers/postgres.sh start)");
        return None;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("mw_workers_{}_{nanos}", std::process::id());
    sql(&base, &format!("CREATE DATABASE {name}"));
    let i = base.rfind('/').unwrap();
    Some(format!("{}/{name}", &base[..i]))
}

/// Run one statement (no result) on `url`.
fn sql(url: &str, statement: &str) {
    let (url, statement) = (url.to_string(), statement.to_string());
    rt().block_on(async move {
        use sqlx::Connection;
        let mut c = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut c)
            .await
            .unwrap();
    });
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The integer answer of `query` on the store at `url`.
fn count(url: &str, query: &'static str) -> i64 {
    rt().block_on(async {
        let store = mailwarden_store::Store::open(url).await.unwrap();
        let n = mailwarden_store::count(&store, query).await.unwrap();
        store.close().await;
        n
    })
}

fn mw(db: &str, dir: &Path, args: &[&str]) -> Command {
    let mut c = mailwarden();
    c.arg("--db")
        .arg(db)
        .args(args)
        .env("MAILWARDEN_AUDIT_KEY", dir.join("audit.key"));
    c
}

fn ok(db: &str, dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = run(&mut mw(db, dir, args));
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

fn spawn(db: &str, dir: &Path, args: &[&str]) -> Child {
    mw(db, dir, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    err
}

fn submit(db: &str, dir: &Path, list: &str, zone: &str, batch: &str) -> String {
    let out = ok(
        db,
        dir,
        &[
            "jobs",
            "submit",
            list,
            "--batch-size",
            batch,
            "--",
            "--zone-file",
            zone,
            "--no-smtp",
            "--no-https",
        ],
    );
    out.trim().to_string()
}

/// Every listed domain has exactly one result, in list order.
fn assert_every_domain_once(db: &str, dir: &Path, job: &str, n: usize) {
    let lines = ok(db, dir, &["jobs", "results", job, "--format", "jsonl"]);
    let domains: Vec<String> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["domain"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let expected: Vec<String> = (0..n).map(|i| format!("d{i}.test")).collect();
    assert_eq!(domains, expected, "each domain once, in list order");
}

#[test]
fn four_workers_on_postgresql_scan_each_domain_once_though_one_is_killed_mid_batch() {
    let n = 600;
    let Some(setup) = Setup::postgres(n) else { return };
    let (db, dir) = (&setup.db, setup.dir());
    let job = submit(db, dir, &setup.list, &setup.zone, "20");
    let worker = |name: &str, concurrency: &str| {
        spawn(
            db,
            dir,
            &[
                "worker",
                "--until-done",
                "--lease",
                "2s",
                "--name",
                name,
                "--concurrency",
                concurrency,
            ],
        )
    };
    // The victim starts first and slowly (one scan at a time), so it holds
    // a batch half done when it is killed.
    let mut victim = worker("victim", "1");
    wait_for("the victim's first results", Duration::from_secs(60), || {
        count(db, "SELECT COUNT(*) FROM job_results WHERE worker = 'victim'") >= 3
    });
    let others: Vec<Child> = (1..4).map(|i| worker(&format!("w{i}"), "8")).collect();
    std::thread::sleep(Duration::from_millis(100));
    victim.kill().unwrap(); // SIGKILL: no handler, no release
    victim.wait().unwrap();
    let held = count(
        db,
        "SELECT COUNT(*) FROM job_batches WHERE state = 'running' AND lease_owner LIKE 'victim/%'",
    );
    assert!(held >= 1, "the kill came between batches: the test proves nothing");
    let logs = finish_all(others);
    assert_every_domain_once(db, dir, &job, n);
    assert_eq!(count(db, "SELECT COUNT(*) FROM job_results"), n as i64);
    assert!(
        count(db, "SELECT COUNT(*) FROM job_batches WHERE attempts > 1") >= 1,
        "the victim's batch was taken over"
    );
    assert_eq!(count(db, "SELECT COUNT(*) FROM job_batches WHERE state <> 'done'"), 0);
    assert!(
        logs.iter().any(|l| l.contains("taken over")),
        "a worker says it took the batch over: {logs:?}"
    );
    // The domains the victim stored are not scanned again. A live worker
    // may still lose a lease (a machine so loaded that its heartbeat came
    // late): then it says so, and the domains both scanned are stored once.
    assert!(
        logs.iter().all(|l| l.contains(" 0 already stored by another"))
            || logs
                .iter()
                .any(|l| l.contains("lease lost") || l.contains("lease ran out before it was done")),
        "{logs:?}"
    );
    let status = setup.ok(&["jobs", "status", &job]);
    assert!(
        status.contains(&format!("complete): {n} of {n} domain(s) stored")),
        "{status}"
    );
    assert!(status.contains("claimed again after a lease ran out"), "{status}");
    let workers = count(db, "SELECT COUNT(DISTINCT worker) FROM job_results");
    assert!(workers >= 3, "the work was shared: {workers} worker(s) stored results");
}

/// Two `monitor run --once` started together on one PostgreSQL: the test
/// holds the monitors table locked until both are waiting to claim, so
/// neither can finish before the other starts; each domain is then scanned
/// once in all.
#[test]
fn two_monitor_run_once_processes_on_postgresql_scan_each_domain_once() {
    let n = 40;
    let Some(setup) = Setup::postgres(n) else { return };
    let db = &setup.db;
    setup.monitor_all(n, &[]);
    let once = ["monitor", "run", "--once", "--concurrency", "2"];
    let children = rt().block_on(async {
        use sqlx::Connection;
        let mut lock = sqlx::postgres::PgConnection::connect(db).await.unwrap();
        let mut tx = lock.begin().await.unwrap();
        sqlx::raw_sql("LOCK TABLE monitors IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .unwrap();
        let children = setup.spawn(2, &once);
        let started = Instant::now();
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                 WHERE c.relname = 'monitors' AND NOT l.granted",
            )
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            if waiting >= 2 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the runs never tried to claim"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tx.commit().await.unwrap();
        children
    });
    let logs = finish_all(children);
    assert_eq!(count(db, "SELECT COUNT(*) FROM snapshots"), n as i64, "{logs:?}");
    assert_eq!(
        count(db, "SELECT CAST(SUM(seen_count) AS BIGINT) FROM snapshots"),
        n as i64,
        "a domain was scanned twice: {logs:?}"
    );
    assert_eq!(count(db, "SELECT COUNT(DISTINCT domain) FROM snapshots"), n as i64);
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM monitors WHERE lease_until IS NOT NULL"),
        0
    );
    // A later --once run scans every domain again (one more sighting each).
    setup.ok(&once);
    assert_eq!(
        count(db, "SELECT CAST(SUM(seen_count) AS BIGINT) FROM snapshots"),
        2 * n as i64
    );
}

/// Two `monitor run` processes (forever) on one PostgreSQL: each due
/// domain is scanned once for its due time; then both stop on SIGTERM.
#[test]
fn two_monitor_run_processes_on_postgresql_scan_each_due_domain_once() {
    two_processes_share_the_schedule(40, &["monitor", "run", "--concurrency", "2"]);
}

/// web-ops (issue 16): two `serve` processes (each runs the monitor
/// schedule) on one PostgreSQL: each due domain is scanned once; SIGTERM
/// stops both gracefully.
#[test]
fn two_serve_processes_on_postgresql_share_the_monitor_work_and_stop_on_sigterm() {
    let logs = two_processes_share_the_schedule(30, &["serve", "--listen", "127.0.0.1:0", "--no-dnssec"]);
    assert!(logs.iter().all(|l| l.contains("mailwarden: stopped")), "{logs:?}");
}

/// `n` due domains, two `process` runs on one PostgreSQL until every
/// domain is stored, then SIGTERM: each domain scanned once. Their logs.
fn two_processes_share_the_schedule(n: usize, process: &[&str]) -> Vec<String> {
    let Some(setup) = Setup::postgres(n) else {
        return Vec::new();
    };
    let db = &setup.db;
    setup.monitor_all(n, &["--every", "1h"]);
    let children = setup.spawn(2, process);
    wait_for("every domain stored", Duration::from_secs(120), || {
        count(
            db,
            "SELECT COUNT(*) FROM monitors WHERE next_due_at > added_at AND lease_until IS NULL",
        ) == n as i64
    });
    std::thread::sleep(Duration::from_millis(500));
    for c in &children {
        let sent = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }
    let logs = finish_all(children);
    assert_eq!(
        count(db, "SELECT CAST(SUM(seen_count) AS BIGINT) FROM snapshots"),
        n as i64,
        "a domain was scanned twice for one due time: {logs:?}"
    );
    assert_eq!(count(db, "SELECT COUNT(DISTINCT domain) FROM snapshots"), n as i64);
    logs
}

/// On SQLite a worker works alone (one machine; the database's write lock
/// serialises claims): a submitted job is scanned whole.
#[test]
fn a_worker_on_sqlite_scans_a_submitted_job_whole() {
    let n = 30;
    let setup = Setup::sqlite(n);
    let (db, dir) = (&setup.db, setup.dir());
    let job = submit(db, dir, &setup.list, &setup.zone, "7");
    let log = finish_all(setup.spawn(1, &["worker", "--until-done", "--lease", "30s"])).remove(0);
    assert!(log.contains(&format!("{n} domain(s) stored in 5 batch(es)")), "{log}");
    assert_every_domain_once(db, dir, &job, n);
    let status: serde_json::Value =
        serde_json::from_str(&setup.ok(&["jobs", "status", &job, "--format", "json"])).unwrap();
    assert_eq!(status["domains_done"], n);
    assert_eq!(status["batches_done"], 5);
    let listed = setup.ok(&["jobs", "list"]);
    assert!(listed.contains("30 domain(s)"), "{listed}");
}

#[test]
fn a_list_with_a_bad_line_is_refused_whole_naming_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = format!("sqlite:{}", dir.join("t.db").display());
    let list = dir.join("list");
    std::fs::write(&list, "a.example\nnot a domain!\nb.example\n").unwrap();
    let (code, _, err) = run(&mut mw(&db, dir, &["jobs", "submit", list.to_str().unwrap()]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(":2: invalid domain name"), "{err}");
    assert!(err.contains("nothing was submitted"), "{err}");
    assert!(ok(&db, dir, &["jobs", "list"]).contains("no job in the store"));
    let (code, _, err) = run(&mut mw(
        &db,
        dir,
        &["jobs", "submit", list.to_str().unwrap(), "--", "--checks", "nope"],
    ));
    assert_eq!(code, 2);
    assert!(
        err.contains("--checks"),
        "bad scan flags are refused at submission: {err}"
    );
    let (code, _, err) = run(&mut mw(&db, dir, &["jobs", "status", "99"]));
    assert_eq!(code, 2);
    assert!(err.contains("no job 99"), "{err}");
}

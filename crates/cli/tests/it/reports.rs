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

/// The databases the report commands are tested on: a fresh SQLite file,
/// and a fresh database on the PostgreSQL at MAILWARDEN_TEST_PG_URL when
/// set (tests/real-peers/postgres.sh).
fn databases(dir: &std::path::Path) -> Vec<String> {
    let mut out = vec![format!("sqlite:{}", dir.join("reports.db").display())];
    if let Some(base) = std::env::var("MAILWARDEN_TEST_PG_URL").ok().filter(|u| !u.is_empty()) {
        use sqlx::Connection;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("mw_cli_reports_{}_{n}", std::process::id());
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let mut admin = sqlx::postgres::PgConnection::connect(&base).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .unwrap();
        });
        let (server, _) = base.rsplit_once('/').unwrap();
        out.push(format!("{server}/{name}"));
    }
    out
}

fn with_db(db: &str, key: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    run(mailwarden()
        .env("MAILWARDEN_AUDIT_KEY", key)
        .env_remove("MAILWARDEN_REPORTS_DIR")
        .args(["--db", db])
        .args(args))
}

fn ok_db(db: &str, key: &std::path::Path, args: &[&str]) -> String {
    let (code, out, err) = with_db(db, key, args);
    assert_eq!(code, 0, "{db} {args:?}: {err}");
    out
}

#[test]
fn reports_import_goes_to_the_database_and_list_show_tls_read_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("audit.key");
    for db in databases(tmp.path()) {
        let files = [
            format!("{CORPUS}/agg-7489-google.xml"),
            format!("{CORPUS}/tlsrpt-google.json"),
            format!("{CORPUS}/mail-failure-arf.eml"),
        ];
        let mut args = vec!["reports", "import", "--format", "json"];
        args.extend(files.iter().map(String::as_str));
        let first = lines(&ok_db(&db, &key, &args));
        assert!(first.iter().all(|r| r["status"] == "imported"), "{db}: {first:?}");
        let second = lines(&ok_db(&db, &key, &args));
        assert!(second.iter().all(|r| r["status"] == "duplicate"), "{db}: {second:?}");
        let listed = lines(&ok_db(&db, &key, &["reports", "list", "--format", "json"]));
        assert_eq!(listed.len(), 3, "{db}");
        let tls = lines(&ok_db(
            &db,
            &key,
            &["reports", "list", "--kind", "tlsrpt", "--format", "json"],
        ));
        assert_eq!(tls.len(), 1);
        assert_eq!(tls[0]["id"], first[1]["id"], "import prints the id list and show take");
        let agg_id = first[0]["id"].as_str().unwrap();
        let shown: serde_json::Value =
            serde_json::from_str(&ok_db(&db, &key, &["reports", "show", agg_id, "--format", "json"])).unwrap();
        assert_eq!(shown["rows"].as_array().unwrap().len(), 3);
        assert_eq!(shown["meta"]["policy_published"]["p"], "none");
        let text = ok_db(&db, &key, &["reports", "show", agg_id]);
        assert!(text.contains("policy seen: p=none"), "{text}");
        let (code, _, err) = with_db(&db, &key, &["reports", "show", "ffffffffffffffff"]);
        assert_eq!(code, 2);
        assert!(err.contains("no stored report"), "{err}");
        let summary: serde_json::Value = serde_json::from_str(&ok_db(
            &db,
            &key,
            &["reports", "tls", "example.com", "--format", "json"],
        ))
        .unwrap();
        let mx = &summary["mx"][0];
        assert_eq!(mx["mx"], "mx1.example.com");
        assert_eq!(mx["results"]["certificate-expired"], 2);
        // The failure beside the scan of mx1 then: there is none, and
        // nothing is made up.
        let failure = &summary["joins"]["failures"][0];
        assert_eq!(
            (&failure["result_type"], &failure["mx"], &failure["scan"]),
            (
                &serde_json::json!("certificate-expired"),
                &serde_json::json!("mx1.example.com"),
                &serde_json::Value::Null
            ),
            "{db}: {summary}"
        );
        assert_eq!(failure["related_rules"][0], "smtp.cert-expired");
        assert_eq!(failure["findings"], serde_json::json!([]));
        let text = ok_db(&db, &key, &["reports", "tls", "example.com"]);
        assert!(
            text.contains("certificate-expired x2 at mx1.example.com")
                && text.contains("no scan of the domain in that period (nearest before: none, after: none)"),
            "{text}"
        );
        // erase DOMAIN removes the reports with everything else.
        let receipt: serde_json::Value =
            serde_json::from_str(&ok_db(&db, &key, &["erase", "example.com", "--format", "json"])).unwrap();
        assert_eq!(receipt["reports"], 3, "{db}");
        assert!(lines(&ok_db(&db, &key, &["reports", "list", "--format", "json"])).is_empty());
    }
}

/// The inventory joined with the latest stored scan of the example zone:
/// its SPF is `mx include:_spf.example.com ~all` (198.51.100.0/24,
/// 2001:db8:25::/48) and it publishes the DKIM selector `mail`.
#[test]
fn senders_joins_the_reports_with_the_latest_stored_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("audit.key");
    for db in databases(tmp.path()) {
        let before = json_of(&ok_db(
            &db,
            &key,
            &["senders", "example.com", "--format", "json", "--offline"],
        ));
        assert!(before["configuration"].is_null());
        ok_db(
            &db,
            &key,
            &[
                "reports",
                "import",
                &format!("{CORPUS}/agg-7489-google.xml"),
                &format!("{CORPUS}/agg-9990-gmx.xml"),
                &format!("{CORPUS}/mail-ses-octet-stream.eml"),
            ],
        );
        let zone = crate::support::repo().join("examples/example.com.zone");
        let zone = zone.to_str().unwrap();
        ok_db(
            &db,
            &key,
            &[
                "monitor",
                "add",
                "example.com",
                "--zone-file",
                zone,
                "--no-smtp",
                "--no-https",
            ],
        );
        ok_db(&db, &key, &["monitor", "run", "--once"]);
        let r = json_of(&ok_db(
            &db,
            &key,
            &["senders", "example.com", "--format", "json", "--offline"],
        ));
        assert_eq!(
            r["configuration"]["spf_record"], "v=spf1 mx include:_spf.example.com ~all",
            "{db}"
        );
        assert_eq!(r["joins"]["in_spf_never_seen"], serde_json::json!(["mx"]));
        assert_eq!(
            r["joins"]["selectors_published_never_seen"],
            serde_json::json!(["mail"])
        );
        assert_eq!(r["joins"]["selectors_seen_not_published"], serde_json::json!(["s1"]));
        let passing_unlisted = r["joins"]["seen_passing_not_in_spf"].as_array().unwrap();
        assert!(
            passing_unlisted.contains(&serde_json::json!("192.0.2.10")),
            "{passing_unlisted:?}"
        );
        // 198.51.100.7 is inside _spf.example.com's 198.51.100.0/24 but fails DKIM and SPF.
        let failing = r["senders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| {
                s["sources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["ip"] == "198.51.100.7")
            })
            .unwrap();
        assert_eq!(failing["class"], "authorised-failing");
        let csv = ok_db(&db, &key, &["senders", "example.com", "--format", "csv", "--offline"]);
        assert!(csv.starts_with("sender,identified_by,class,ip,"), "{csv}");
        assert!(csv.lines().any(|l| l.contains(",198.51.100.7,")), "{csv}");
        let text = ok_db(&db, &key, &["senders", "example.com", "--offline"]);
        assert!(text.contains("in SPF but never seen"), "{text}");
    }
}

fn json_of(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The stored state of a PostgreSQL database after imports of the report
/// `big_xml` writes: reports, rows, summed messages of the rows and of
/// the rollup.
fn pg_state(url: &str) -> (i64, i64, i64, i64) {
    use sqlx::Connection;
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut conn = sqlx::postgres::PgConnection::connect(url).await.unwrap();
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM reports), (SELECT COUNT(*) FROM report_records),
                    (SELECT COALESCE(SUM(count), 0)::BIGINT FROM report_records),
                    (SELECT COALESCE(SUM(messages), 0)::BIGINT FROM report_rollup)",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap()
    })
}

/// An aggregate report of `rows` rows, each from its own address.
fn big_xml(rows: usize) -> String {
    let mut doc = String::from(
        "<feedback><report_metadata><org_name>kill.example</org_name><email>a@kill.example</email>\
         <report_id>kill-1</report_id><date_range><begin>1796083200</begin><end>1796169599</end></date_range>\
         </report_metadata><policy_published><domain>example.com</domain><p>none</p></policy_published>\n",
    );
    for i in 0..rows {
        doc.push_str(&format!(
            "<record><row><source_ip>10.{}.{}.{}</source_ip><count>{}</count><policy_evaluated>\
             <disposition>none</disposition></policy_evaluated></row><identifiers><header_from>example.com\
             </header_from></identifiers><auth_results><spf><domain>example.com</domain><result>pass</result>\
             </spf></auth_results></record>\n",
            i >> 16,
            (i >> 8) & 255,
            i & 255,
            i % 5 + 1
        ));
    }
    doc.push_str("</feedback>\n");
    doc
}

/// PostgreSQL's import (rows by COPY, sums from arrays, one transaction
/// per report): an importer killed (SIGKILL) at any moment leaves the
/// report whole or absent, never some of its rows or sums. Needs
/// MAILWARDEN_TEST_PG_URL (skipped without).
#[test]
fn a_killed_postgres_import_leaves_the_report_whole_or_absent() {
    const ROWS: usize = 40_000;
    let tmp = tempfile::tempdir().unwrap();
    let Some(db) = databases(tmp.path()).into_iter().find(|d| d.starts_with("postgres")) else {
        eprintln!("skipped: MAILWARDEN_TEST_PG_URL is not set");
        return;
    };
    let key = tmp.path().join("audit.key");
    let file = tmp.path().join("big.xml");
    std::fs::write(&file, big_xml(ROWS)).unwrap();
    // The schema first: a run killed while migrating would prove nothing.
    ok_db(&db, &key, &["reports", "list"]);
    let messages: i64 = (0..ROWS as i64).map(|i| i % 5 + 1).sum();
    let (mut killed, mut whole) = (0, false);
    // Kills at growing moments; how far an import gets by then depends on
    // the build (a debug build never finished within the attempts, and
    // the test failed for want of a whole run): one more run then goes to
    // the end, after the killed ones, which must have left it room.
    for attempt in 1..=20u64 {
        let mut child = mailwarden()
            .env("MAILWARDEN_AUDIT_KEY", &key)
            .args(["--db", &db, "reports", "import", "--format", "json"])
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50 * attempt));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
        let state = pg_state(&db);
        assert!(
            state == (0, 0, 0, 0) || state == (1, ROWS as i64, messages, messages),
            "attempt {attempt}: half a report stored: {state:?}"
        );
        if state.0 == 1 {
            whole = true;
            break;
        }
    }
    assert!(killed > 0, "no run was killed: the test proved nothing");
    if !whole {
        ok_db(
            &db,
            &key,
            &["reports", "import", "--format", "json", file.to_str().unwrap()],
        );
        let state = pg_state(&db);
        assert_eq!(
            state,
            (1, ROWS as i64, messages, messages),
            "the run to the end after the killed ones"
        );
    }
}

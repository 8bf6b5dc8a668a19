//! Imported reports in the store (issue 14): the duplicate rule, one
//! transaction per report, selectors seen, list and show, retention and
//! erasure, and the synchronous sink from inside and outside the runtime;
//! on SQLite and, when MAILWARDEN_TEST_PG_URL is set, a real PostgreSQL.

mod common;

use std::sync::OnceLock;

use mailwarden_ingest::sink::Stored;
use mailwarden_ingest::{Limits, Parsed, ReportSink, Status};
use mailwarden_store::reports::{self, StoreSink, Writer};
use mailwarden_store::reports_query::{self, Filter};
use mailwarden_store::{Store, retention};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/reports/ingest");

fn use_test_key() {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    mailwarden_store::audit_key::set_key_path(dir.path().join("audit.key"));
}

/// The one report of a corpus file.
fn parsed(file: &str) -> Parsed {
    let bytes = std::fs::read(format!("{CORPUS}/{file}")).unwrap();
    let mut items = mailwarden_ingest::read(file, &bytes, &Limits::default());
    assert_eq!(items.len(), 1, "{file}");
    items.remove(0).outcome.unwrap()
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

fn imported(stored: &Stored) -> (&str, &[String]) {
    match stored {
        Stored::Imported { id, flags } => (id, flags),
        other => panic!("expected imported, got {other:?}"),
    }
}

#[tokio::test]
async fn the_same_report_twice_is_one_duplicate_and_its_rows_are_stored_once() {
    for db in common::stores().await {
        let store = &db.store;
        let report = parsed("agg-7489-google.xml");
        let first = reports::put(store, &report).await.unwrap();
        let (id, flags) = imported(&first);
        assert!(flags.is_empty());
        // The gzip copy is the same document: a duplicate without a note.
        let again = reports::put(store, &parsed("agg-7489-google.xml.gz")).await.unwrap();
        assert_eq!(
            again,
            Stored::Duplicate {
                id: id.to_string(),
                note: None
            },
            "{}",
            db.label
        );
        assert_eq!(count(store, "reports").await, 1, "{}", db.label);
        assert_eq!(count(store, "report_records").await, 3, "{}", db.label);
    }
}

#[tokio::test]
async fn same_identity_with_other_content_is_a_duplicate_with_a_note() {
    for db in common::stores().await {
        let store = &db.store;
        let report = parsed("agg-7489-google.xml");
        reports::put(store, &report).await.unwrap();
        let mut changed = report.clone();
        changed.digest = "0".repeat(64);
        match reports::put(store, &changed).await.unwrap() {
            Stored::Duplicate { note: Some(note), .. } => assert!(note.contains("different content"), "{note}"),
            other => panic!("{}: {other:?}", db.label),
        }
        assert_eq!(count(store, "reports").await, 1);
    }
}

#[tokio::test]
async fn same_report_id_for_another_range_is_kept_and_flagged() {
    for db in common::stores().await {
        let store = &db.store;
        reports::put(store, &parsed("agg-7489-google.xml")).await.unwrap();
        let other = reports::put(store, &parsed("agg-7489-same-id-other-range.xml"))
            .await
            .unwrap();
        let (id, flags) = imported(&other);
        assert_eq!(flags.len(), 1, "{}", db.label);
        assert!(flags[0].contains("another date range"), "{}", flags[0]);
        let shown = reports_query::show(store, id).await.unwrap().unwrap();
        assert_eq!(shown.row.flags, flags);
        assert_eq!(count(store, "reports").await, 2);
    }
}

/// A report is one transaction: rows written and then given up leave
/// nothing behind, not even the report row.
#[tokio::test]
async fn an_aborted_report_leaves_no_row() {
    for db in common::stores().await {
        let store = &db.store;
        let p = parsed("agg-9990-gmx.xml");
        let mailwarden_ingest::Report::Aggregate(a) = &p.report else {
            panic!("aggregate expected")
        };
        let identity = p.report.identity();
        let mut writer = Writer::begin(store, &identity, &reports::meta(&p.report, &p.warnings))
            .await
            .unwrap()
            .unwrap();
        writer.records(&a.records).await.unwrap();
        writer.abort().await.unwrap();
        for table in ["reports", "report_records", "report_selectors"] {
            assert_eq!(count(store, table).await, 0, "{} {table}", db.label);
        }
        // Dropped without commit (a crash, an error): the same.
        let mut writer = Writer::begin(store, &identity, &reports::meta(&p.report, &p.warnings))
            .await
            .unwrap()
            .unwrap();
        writer.records(&a.records).await.unwrap();
        drop(writer);
        assert_eq!(count(store, "reports").await, 0, "{}", db.label);
        // And the report can still be imported afterwards.
        imported(&reports::put(store, &p).await.unwrap());
        assert_eq!(count(store, "report_records").await, 2);
    }
}

#[tokio::test]
async fn selectors_seen_sum_messages_and_passes_per_signing_domain() {
    for db in common::stores().await {
        let store = &db.store;
        for file in ["agg-7489-google.xml", "agg-9990-gmx.xml", "agg-quirks-capitalised.xml"] {
            reports::put(store, &parsed(file)).await.unwrap();
        }
        let seen = reports_query::selectors_seen(store, "EXAMPLE.com.").await.unwrap();
        assert!(!seen.is_empty(), "{}", db.label);
        let total: i64 = seen.iter().map(|s| s.messages).sum();
        let expected: i64 = sqlx::query_scalar(
            "SELECT CAST(SUM(messages) AS BIGINT) FROM report_selectors WHERE domain = 'example.com'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(total, expected);
        assert!(seen.iter().all(|s| s.domain == "example.com" && s.passed <= s.messages));
        assert!(seen.iter().all(|s| s.first_seen <= s.last_seen && s.reports >= 1));
        assert!(
            reports_query::selectors_seen(store, "nobody.example")
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn list_filters_by_domain_and_kind_and_show_returns_rows_and_policies() {
    for db in common::stores().await {
        let store = &db.store;
        for file in ["agg-7489-google.xml", "tlsrpt-google.json", "mail-failure-arf.eml"] {
            reports::put(store, &parsed(file)).await.unwrap();
        }
        let all = reports_query::list(store, &Filter::default()).await.unwrap();
        assert_eq!(all.len(), 3, "{}", db.label);
        let tls = reports_query::list(
            store,
            &Filter {
                kind: Some("tlsrpt"),
                ..Filter::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(tls.len(), 1);
        let none = reports_query::list(
            store,
            &Filter {
                domain: Some("other.example"),
                ..Filter::default()
            },
        )
        .await
        .unwrap();
        assert!(none.is_empty());
        let agg = all.iter().find(|r| r.kind == "aggregate").unwrap();
        let detail = reports_query::show(store, &agg.id).await.unwrap().unwrap();
        assert_eq!(detail.rows.len(), 3);
        assert!(reports_query::policy_published(&detail.meta).is_some());
        let detail = reports_query::show(store, &tls[0].id).await.unwrap().unwrap();
        assert_eq!(detail.policies.len(), 2);
        assert!(detail.policies.iter().any(|p| !p.failures.is_empty()));
        assert!(reports_query::show(store, "0000000000000000").await.unwrap().is_none());
        let failure = all.iter().find(|r| r.kind == "failure").unwrap();
        let detail = reports_query::show(store, &failure.id).await.unwrap().unwrap();
        // Redacted at parse time: no subject, no local part, no raw message.
        let meta = detail.meta.to_string();
        assert!(!meta.contains("Subject") && !meta.contains('@'), "{meta}");
    }
}

#[tokio::test]
async fn retention_deletes_reports_whose_period_ended_before_the_cut_with_their_rows() {
    use_test_key();
    for db in common::stores().await {
        let store = &db.store;
        reports::put(store, &parsed("agg-7489-google.xml")).await.unwrap();
        reports::put(store, &parsed("tlsrpt-google.json")).await.unwrap();
        // Nothing is old yet: the corpus reports end in December 2026.
        let at_period_end = time::OffsetDateTime::from_unix_timestamp(1_796_169_599).unwrap();
        let removed = retention::run(store, at_period_end).await.unwrap();
        assert_eq!(removed.reports, 0, "{}", db.label);
        retention::set(store, "reports", 30 * 86_400).await.unwrap();
        let later = at_period_end + time::Duration::days(31);
        let removed = retention::run(store, later).await.unwrap();
        assert_eq!(removed.reports, 2, "{}", db.label);
        for table in ["reports", "report_records", "report_tls", "report_selectors"] {
            assert_eq!(count(store, table).await, 0, "{} {table}", db.label);
        }
    }
}

/// PostgreSQL's foreign key from `report_records` to `reports` checked
/// every copied row (most of COPY's time); migration 0700 replaced it with
/// a statement trigger on `reports`. Deleting reports (any statement, not
/// only retention's) still takes their rows, and only theirs.
#[tokio::test]
async fn deleting_a_report_takes_its_rows_and_only_its_rows() {
    for db in common::stores().await {
        let store = &db.store;
        reports::put(store, &parsed("agg-7489-google.xml")).await.unwrap();
        reports::put(store, &parsed("agg-9990-gmx.xml")).await.unwrap();
        let rows_of = |which: &'static str| {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM report_records WHERE report_id = (SELECT {which}(id) FROM reports)"
            )))
            .fetch_one(store.pool())
        };
        let (first, last) = (rows_of("MIN").await.unwrap(), rows_of("MAX").await.unwrap());
        assert!(first > 0 && last > 0, "{}", db.label);
        sqlx::query("DELETE FROM reports WHERE id = (SELECT MIN(id) FROM reports)")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(count(store, "reports").await, 1, "{}", db.label);
        assert_eq!(count(store, "report_records").await, last, "{}", db.label);
        assert_eq!(rows_of("MAX").await.unwrap(), last, "{}", db.label);
        sqlx::query("DELETE FROM reports").execute(store.pool()).await.unwrap();
        assert_eq!(count(store, "report_records").await, 0, "{}", db.label);
    }
}

#[tokio::test]
async fn erase_removes_the_domains_reports_and_keeps_others() {
    use_test_key();
    for db in common::stores().await {
        let store = &db.store;
        reports::put(store, &parsed("agg-7489-google.xml")).await.unwrap();
        reports::put(store, &parsed("mail-failure-arf.eml")).await.unwrap();
        let receipt = retention::erase(store, "example.com").await.unwrap();
        assert_eq!(receipt.reports, 2, "{}", db.label);
        for table in ["reports", "report_records", "report_selectors"] {
            assert_eq!(count(store, table).await, 0, "{} {table}", db.label);
        }
        assert!(
            reports_query::selectors_seen(store, "example.com")
                .await
                .unwrap()
                .is_empty()
        );
    }
}

/// `import` is synchronous: the sink must work from a runtime worker
/// (the CLI) and from a blocking thread (an HTTP handler's spawn_blocking).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_sink_works_on_a_worker_and_on_a_blocking_thread() {
    for db in common::stores().await {
        let mut sink = StoreSink::new(db.store.clone()).unwrap();
        let bytes = std::fs::read(format!("{CORPUS}/agg-9990-gmx.xml")).unwrap();
        let out = mailwarden_ingest::import("gmx", &bytes, &Limits::default(), &mut sink).unwrap();
        assert_eq!(out[0].status, Status::Imported, "{}", db.label);
        let mut sink2 = sink.clone();
        let out = tokio::task::spawn_blocking(move || {
            let bytes = std::fs::read(format!("{CORPUS}/tlsrpt-google.json")).unwrap();
            mailwarden_ingest::import("tls", &bytes, &Limits::default(), &mut sink2).unwrap()
        })
        .await
        .unwrap();
        assert_eq!(out[0].status, Status::Imported, "{}", db.label);
        let again = sink.put(&parsed("agg-9990-gmx.xml")).unwrap();
        assert!(matches!(again, Stored::Duplicate { .. }));
        assert_eq!(count(&db.store, "reports").await, 2);
    }
}

/// A generated aggregate report of `rows` rows; row `bad` (if any) has a
/// source_ip that is no address.
fn big_report(rows: usize, bad: Option<usize>) -> String {
    let mut doc = String::from(
        "<feedback><version>1.0</version><report_metadata><org_name>big.example</org_name><email>a@big.example</email>\
         <report_id>big-1</report_id><date_range><begin>1796083200</begin><end>1796169599</end></date_range></report_metadata>\
         <policy_published><domain>example.com</domain><p>none</p></policy_published>\n",
    );
    for i in 0..rows {
        let ip = if Some(i) == bad {
            "bad".to_string()
        } else {
            format!("10.1.{}.{}", i / 256 % 256, i % 256)
        };
        doc.push_str(&format!(
            "<record><row><source_ip>{ip}</source_ip><count>2</count><policy_evaluated><disposition>none</disposition>\
             </policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers>\
             <auth_results><dkim><domain>example.com</domain><selector>big</selector><result>pass</result></dkim></auth_results></record>\n"
        ));
    }
    doc.push_str("</feedback>\n");
    doc
}

/// The database sink streams aggregate reports: rows in batches inside one
/// transaction; a bad row late in the report leaves nothing; the streamed
/// and the in-memory import of one document are the same report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_report_is_stored_whole_or_not_at_all() {
    for db in common::stores().await {
        let store = &db.store;
        let mut sink = StoreSink::new(store.clone()).unwrap();
        let bad = big_report(1203, Some(1100));
        let out = mailwarden_ingest::import_reader("bad.xml", bad.as_bytes(), &Limits::default(), &mut sink).unwrap();
        assert_eq!(out[0].status, Status::Rejected, "{}", db.label);
        for table in ["reports", "report_records", "report_selectors"] {
            assert_eq!(count(store, table).await, 0, "{} {table}", db.label);
        }
        let good = big_report(1203, None);
        let out = mailwarden_ingest::import_reader("big.xml", good.as_bytes(), &Limits::default(), &mut sink).unwrap();
        assert_eq!(
            (out[0].status, out[0].records),
            (Status::Imported, Some(1203)),
            "{}",
            db.label
        );
        assert_eq!(count(store, "report_records").await, 1203);
        let seen = reports_query::selectors_seen(store, "example.com").await.unwrap();
        assert_eq!((seen[0].selector.as_str(), seen[0].messages), ("big", 2406));
        // The same document through the in-memory path: a duplicate, same digest, no note.
        let parsed = mailwarden_ingest::read("big.xml", good.as_bytes(), &Limits::default())
            .remove(0)
            .outcome
            .unwrap();
        assert_eq!(
            reports::put(store, &parsed).await.unwrap(),
            Stored::Duplicate {
                id: out[0].id.clone().unwrap(),
                note: None
            },
            "{}",
            db.label
        );
        // Streamed again with other content: a duplicate with a note, nothing added.
        let changed = good.replace("<count>2</count>", "<count>3</count>");
        let again =
            mailwarden_ingest::import_reader("big2.xml", changed.as_bytes(), &Limits::default(), &mut sink).unwrap();
        assert_eq!(again[0].status, Status::Duplicate);
        assert!(
            again[0].warnings.iter().any(|w| w.contains("different content")),
            "{:?}",
            again[0].warnings
        );
        assert_eq!(count(store, "report_records").await, 1203);
    }
}

/// Each tenant has its own reports: the same report for two tenants is
/// imported twice (no duplicate across tenants), each row carries its
/// tenant, and the owner of a domain is the scope a TLS report goes to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_sink_stores_for_that_tenant_and_duplicates_are_per_tenant() {
    for db in common::stores().await {
        let store = db.store.clone();
        let acme = mailwarden_store::tenant::add(&store, "acme").await.unwrap();
        let scope = mailwarden_store::tenant::scope_named(&store, &acme.name).await.unwrap();
        let mut default = StoreSink::new(store.clone()).unwrap();
        let mut tenant = StoreSink::for_tenant(store.clone(), scope).unwrap();
        let report = parsed("agg-9990-gmx.xml");
        assert!(
            matches!(default.put(&report).unwrap(), Stored::Imported { .. }),
            "{}",
            db.label
        );
        assert!(
            matches!(tenant.put(&report).unwrap(), Stored::Imported { .. }),
            "{}",
            db.label
        );
        assert!(
            matches!(tenant.put(&report).unwrap(), Stored::Duplicate { .. }),
            "{}",
            db.label
        );
        for table in ["reports", "report_records", "report_selectors"] {
            let sql = format!("SELECT COUNT(DISTINCT tenant_id) FROM {table}");
            let tenants: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(tenants, 2, "{} {table}", db.label);
        }
        assert_eq!(reports::owner_scope(&store, "example.com").await.unwrap(), None);
    }
}

/// One import run is one `reports-imported` event with its counts, and the
/// log still verifies.
#[tokio::test]
async fn an_import_run_is_one_audit_event_with_its_counts() {
    use_test_key();
    for db in common::stores().await {
        let store = &db.store;
        let mut run = mailwarden_ingest::RunSummary::default();
        let mut sink = mailwarden_ingest::MemorySink::default();
        for file in ["agg-7489-google.xml", "agg-7489-google.xml", "hostile-doctype-xxe.xml"] {
            let bytes = std::fs::read(format!("{CORPUS}/{file}")).unwrap();
            for o in mailwarden_ingest::import(file, &bytes, &Limits::default(), &mut sink).unwrap() {
                run.add(&o);
            }
        }
        reports::record_run(store, "import", &run).await.unwrap();
        let events = mailwarden_store::events::list_events(store, None).await.unwrap();
        let event = events
            .iter()
            .find(|e| e.kind == "reports-imported")
            .expect("the run's event");
        let content: serde_json::Value = serde_json::from_str(event.content.as_deref().unwrap()).unwrap();
        assert_eq!(
            (&content["imported"], &content["duplicate"], &content["rejected"]),
            (&serde_json::json!(1), &serde_json::json!(1), &serde_json::json!(1)),
            "{}: {content}",
            db.label
        );
        assert_eq!(content["reasons"]["doctype"], 1);
        assert_eq!(content["source"], "import");
        let verified = mailwarden_store::audit_log::verify(store, None).await.unwrap();
        assert!(verified.outcome.is_ok(), "{}: {:?}", db.label, verified.outcome);
    }
}

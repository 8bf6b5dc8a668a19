//! The sums kept for the sender inventory (`report_rollup` and its
//! shapes and reporters, migration 0250): every stored aggregate row summed exactly once, whatever path
//! stored it (a whole report, a streamed one, the migration's backfill), a
//! duplicate adding nothing, and retention and erasure taking the sums with
//! their reports; on SQLite and, when MAILWARDEN_TEST_PG_URL is set, a real
//! PostgreSQL. That the inventory read from the sums is the row-by-row
//! fold is `mailwarden-senders`' `the_inventory_summed_in_sql_equals_the_row_by_row_fold`.

mod common;

use common::{corpus, parsed_bytes};

use mailwarden_ingest::{Limits, Parsed, Status};
use mailwarden_store::reports::{self, StoreSink};
use mailwarden_store::{Store, retention, rollup};

/// The first day (2026-12-01) of the generated reports.
const DAY: i64 = 1_796_083_200;

/// An aggregate report about example.com from `org` for [begin, end] with
/// `rows` rows over 40 addresses, two kinds of result and `adkim=s`.
fn aggregate(org: &str, id: &str, period: (i64, i64), rows: usize) -> Parsed {
    parsed_bytes(&format!("{id}.xml"), aggregate_xml(org, id, period, rows).as_bytes())
}

fn aggregate_xml(org: &str, id: &str, (begin, end): (i64, i64), rows: usize) -> String {
    let mut doc = format!(
        "<feedback><report_metadata><org_name>{org}</org_name><email>a@{org}</email><report_id>{id}</report_id>\
         <date_range><begin>{begin}</begin><end>{end}</end></date_range></report_metadata>\
         <policy_published><domain>example.com</domain><adkim>s</adkim><p>none</p></policy_published>"
    );
    for i in 0..rows {
        let result = if i % 3 == 0 { "fail" } else { "pass" };
        doc.push_str(&format!(
            "<record><row><source_ip>192.0.2.{}</source_ip><count>{}</count><policy_evaluated>\
             <disposition>none</disposition></policy_evaluated></row><identifiers><header_from>example.com</header_from>\
             <envelope_from>bounce{}.example.com</envelope_from></identifiers><auth_results><dkim><domain>example.com</domain>\
             <selector>s{}</selector><result>{result}</result></dkim></auth_results></record>",
            i % 40 + 1,
            i % 7 + 1,
            i % 2,
            i % 5
        ));
    }
    doc.push_str("</feedback>");
    doc
}

/// Messages per day of period end, from the stored rows and from the
/// rollup; and the last period end per source and reporter, from the rows
/// and from `report_rollup_reporters`.
async fn sums(store: &Store) -> [Vec<(i64, String, i64)>; 4] {
    let day = "(r.end_at - ((r.end_at % 86400) + 86400) % 86400) / 86400";
    let query = |sql: String| async move {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(store.pool())
            .await
            .unwrap()
    };
    [
        query(format!(
            "SELECT {day}, '', CAST(SUM(rr.count) AS BIGINT) FROM reports r JOIN report_records rr ON rr.report_id = r.id
             GROUP BY {day} ORDER BY 1"
        ))
        .await,
        query("SELECT day, '', CAST(SUM(messages) AS BIGINT) FROM report_rollup GROUP BY day ORDER BY day".into()).await,
        query(
            "SELECT 0, rr.source_ip || ' ' || r.reporter, MAX(r.end_at) FROM reports r
             JOIN report_records rr ON rr.report_id = r.id GROUP BY rr.source_ip, r.reporter ORDER BY 2"
                .into(),
        )
        .await,
        query(
            "SELECT 0, source_ip || ' ' || reporter, last_end FROM report_rollup_reporters ORDER BY 2".into(),
        )
        .await,
    ]
}

/// The rollup holds every stored row once; the messages per day.
async fn assert_summed_once(store: &Store, label: &str) -> Vec<(i64, String, i64)> {
    let [rows, rollup, last_seen, reporters] = sums(store).await;
    assert_eq!(rollup, rows, "{label}: report_rollup");
    assert_eq!(reporters, last_seen, "{label}: report_rollup_reporters");
    let orphans: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM report_rollup r WHERE NOT EXISTS (
             SELECT 1 FROM report_rollup_shapes s
             WHERE s.tenant_id = r.tenant_id AND s.domain = r.domain AND s.shape = r.shape AND s.last_day >= r.day)",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(orphans, 0, "{label}: rows whose shape is unknown or forgotten");
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollup_sums_every_stored_row_once_and_a_duplicate_adds_nothing() {
    for db in common::stores().await {
        let store = &db.store;
        for p in [
            corpus("agg-7489-google.xml"),
            corpus("agg-9990-gmx.xml"),
            corpus("agg-7489-same-id-other-range.xml"),
            aggregate("small.example", "small", (DAY, DAY + 86_399), 30),
        ] {
            reports::put(store, &p).await.unwrap();
        }
        // Streamed in batches: more rows than one rollup flush.
        let big = aggregate_xml("big.example", "big", (DAY, DAY + 86_399), 1_300);
        let mut sink = StoreSink::new(store.clone()).unwrap();
        let mut streamed =
            || mailwarden_ingest::import_reader("big.xml", big.as_bytes(), &Limits::default(), &mut sink);
        assert_eq!(streamed().unwrap()[0].status, Status::Imported, "{}", db.label);
        let before = assert_summed_once(store, db.label).await;
        assert_eq!(before.len(), 2, "{}: two days", db.label);
        // The same reports again: duplicates, nothing added.
        reports::put(store, &corpus("agg-7489-google.xml.gz")).await.unwrap();
        reports::put(store, &aggregate("small.example", "small", (DAY, DAY + 86_399), 30))
            .await
            .unwrap();
        assert_eq!(streamed().unwrap()[0].status, Status::Duplicate, "{}", db.label);
        assert_eq!(assert_summed_once(store, db.label).await, before, "{}", db.label);
    }
}

/// Retention deletes whole days from the rollup and sums the day of the
/// cut again from the reports it keeps: three reports ending an hour, two
/// hours and a day after midnight, the cut between the first two.
#[tokio::test]
async fn retention_takes_the_sums_of_the_reports_it_deletes_and_keeps_the_rest() {
    for db in common::stores().await {
        let store = &db.store;
        let ends = [DAY + 3_600, DAY + 7_200, DAY + 86_400 + 100];
        for (k, end) in ends.iter().enumerate() {
            let p = aggregate(&format!("r{k}.example"), &format!("r{k}"), (end - 86_400, *end), 20 + k);
            reports::put(store, &p).await.unwrap();
        }
        assert_eq!(assert_summed_once(store, db.label).await.len(), 2, "{}", db.label);
        retention::set(store, "reports", 86_400).await.unwrap();
        let now = time::OffsetDateTime::from_unix_timestamp(DAY + 86_400 + 5_000).unwrap();
        assert_eq!(retention::run(store, now).await.unwrap().reports, 1, "{}", db.label);
        let kept = assert_summed_once(store, db.label).await;
        assert_eq!(kept.len(), 2, "{}: the cut's day keeps its later report", db.label);
        let later = now + time::Duration::days(3);
        assert_eq!(retention::run(store, later).await.unwrap().reports, 2, "{}", db.label);
        assert!(assert_summed_once(store, db.label).await.is_empty(), "{}", db.label);
    }
}

#[tokio::test]
async fn erasure_takes_the_domains_sums_and_keeps_other_domains() {
    for db in common::stores().await {
        let store = &db.store;
        reports::put(store, &corpus("agg-7489-google.xml")).await.unwrap();
        let other = aggregate_xml("o.example", "other", (DAY, DAY + 86_399), 5)
            .replace(
                "<domain>example.com</domain><adkim>",
                "<domain>example.org</domain><adkim>",
            )
            .replace("<header_from>example.com<", "<header_from>example.org<");
        reports::put(store, &parsed_bytes("other.xml", other.as_bytes()))
            .await
            .unwrap();
        retention::erase(store, "example.com").await.unwrap();
        assert_summed_once(store, db.label).await;
        for table in ["report_rollup", "report_rollup_shapes", "report_rollup_reporters"] {
            let domains: Vec<String> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT DISTINCT domain FROM {table}")))
                    .fetch_all(store.pool())
                    .await
                    .unwrap();
            assert_eq!(domains, ["example.org"], "{} {table}", db.label);
        }
    }
}

/// The rollup by content (a shape's name is the import's digest or the
/// migration's number): the rows with their shapes, the shapes, the reporters.
async fn rollup_rows(store: &Store) -> (Vec<RollupRow>, Vec<ShapeRow>, Vec<(i64, String, String, String, i64)>) {
    let content = "s.tenant_id, s.domain || ' ' || s.header_from || ' ' || s.envelope_from || ' ' || s.adkim || ' ' \
                   || s.aspf || ' ' || s.auth";
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.day, r.begin_day, r.source_ip, {content}, CAST(SUM(r.messages) AS BIGINT), MIN(r.first_begin),
                MAX(r.last_end)
         FROM report_rollup r JOIN report_rollup_shapes s
           ON s.tenant_id = r.tenant_id AND s.domain = r.domain AND s.shape = r.shape
         GROUP BY r.day, r.begin_day, r.source_ip, 4, 5 ORDER BY r.day, r.begin_day, r.source_ip, 4, 5"
    )))
    .fetch_all(store.pool())
    .await
    .unwrap();
    let shapes = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {content}, MAX(s.last_day) FROM report_rollup_shapes s GROUP BY 1, 2 ORDER BY 1, 2"
    )))
    .fetch_all(store.pool())
    .await
    .unwrap();
    let reporters = sqlx::query_as(
        "SELECT tenant_id, domain, source_ip, reporter, last_end FROM report_rollup_reporters
         ORDER BY tenant_id, domain, source_ip, reporter",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    (rows, shapes, reporters)
}

type RollupRow = (i64, i64, String, i64, String, i64, i64, i64);
type ShapeRow = (i64, String, i64);

/// The migration sums the reports stored before it exactly as the import
/// would have: drop the tables, forget the migration, open again. And
/// [`rollup::rebuild`] (for tools that write rows directly) does the same.
#[tokio::test]
async fn the_migration_and_a_rebuild_sum_the_stored_rows_as_the_import_does() {
    for db in common::stores().await {
        let store = &db.store;
        for p in [
            corpus("agg-7489-google.xml"),
            corpus("agg-9990-gmx.xml"),
            corpus("agg-quirks-capitalised.xml"),
            aggregate("a.example", "a", (DAY - 86_400, DAY - 1), 60),
            aggregate("a.example", "b", (DAY, DAY + 86_399), 60),
        ] {
            reports::put(store, &p).await.unwrap();
        }
        let imported = rollup_rows(store).await;
        assert!(!imported.0.is_empty());
        rollup::rebuild(store).await.unwrap();
        assert_eq!(rollup_rows(store).await, imported, "{}: rebuild", db.label);
        sqlx::raw_sql(
            "DROP TABLE report_rollup; DROP TABLE report_rollup_shapes; DROP TABLE report_rollup_reporters;
             DELETE FROM _sqlx_migrations WHERE version = 250",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let reopened = Store::open(&db.url).await.unwrap();
        assert_eq!(rollup_rows(&reopened).await, imported, "{}: migration", db.label);
    }
}

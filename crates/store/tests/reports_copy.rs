//! PostgreSQL's aggregate import path (COPY into `report_records`, the
//! rollup upserted from arrays: `reports_copy`) stores exactly what the
//! `Any` path stores: the same reports go into SQLite (the `Any` path) and
//! into PostgreSQL (the COPY path) and every stored row, every rollup row
//! (shape digests included) and the senders' summary compare equal; on
//! PostgreSQL the rollup rebuilt by the row-by-row `Sums::flush` equals
//! the one the import wrote. Needs MAILWARDEN_TEST_PG_URL (skipped without).

mod common;

use common::corpus;

use mailwarden_ingest::{Limits, Status};
use mailwarden_store::reports::{self, StoreSink};
use mailwarden_store::{Store, reports_query, rollup};

/// The first day (2026-12-01) of the generated reports.
const DAY: i64 = 1_796_083_200;

/// Rows in [`repeating_xml`]: more distinct (source, shape) sums than the
/// COPY path holds before it writes them (10,000), so its second flush
/// meets sums of the first in the table.
const ROWS: usize = 10_600;

/// A report of [`ROWS`] rows whose keys repeat: source `k(i)` is
/// `i % 10_200` (rows 10,200 on meet the first flush's sums again), and
/// the first ten rows of every 500-row batch share ten sources (repeats
/// within a batch and across batches). With `huge`, counts near and at
/// u64::MAX make the sums saturate in memory (same batch) and in SQL
/// (across flushes). `adkim` present or not, envelope_from on two rows in three.
fn repeating_xml(id: &str, (begin, end): (i64, i64), adkim: bool, huge: bool) -> String {
    let adkim = if adkim { "<adkim>s</adkim>" } else { "" };
    let mut doc = format!(
        "<feedback><report_metadata><org_name>rep.example</org_name><email>a@rep.example</email>\
         <report_id>{id}</report_id><date_range><begin>{begin}</begin><end>{end}</end></date_range>\
         </report_metadata><policy_published><domain>example.com</domain>{adkim}<p>none</p></policy_published>"
    );
    for i in 0..ROWS {
        let k = if i % 500 < 10 { i % 10 } else { i % 10_200 };
        let count = match i {
            0 | 10_200 if huge => "9223372036854775000".to_string(),
            1 | 2 if huge => u64::MAX.to_string(),
            _ => (i % 7 + 1).to_string(),
        };
        let envelope = if i % 3 == 0 {
            String::new()
        } else {
            format!("<envelope_from>b{}.example.com</envelope_from>", i % 2)
        };
        let result = if k % 4 == 0 { "fail" } else { "pass" };
        doc.push_str(&format!(
            "<record><row><source_ip>10.{}.{}.{}</source_ip><count>{count}</count><policy_evaluated>\
             <disposition>none</disposition><dkim>{result}</dkim></policy_evaluated></row><identifiers>\
             <header_from>example.com</header_from>{envelope}</identifiers><auth_results><dkim>\
             <domain>example.com</domain><selector>s{}</selector><result>{result}</result></dkim><spf>\
             <domain>example.com</domain><result>pass</result></spf></auth_results></record>",
            k >> 16,
            (k >> 8) & 255,
            k & 255,
            k % 3,
        ));
    }
    doc.push_str("</feedback>");
    doc
}

/// Import the test's first reports into `store`: three of the corpus
/// whole, two repeating reports streamed (same days, other periods within
/// them: the rollup's first/last are LEAST/GREATEST).
async fn import(store: &Store, label: &str) {
    for p in [
        corpus("agg-7489-google.xml"),
        corpus("agg-9990-gmx.xml"),
        corpus("agg-quirks-capitalised.xml"),
    ] {
        reports::put(store, &p).await.unwrap();
    }
    stream(
        store,
        label,
        "a",
        (DAY + 3_600, DAY + 86_000),
        true,
        false,
        Status::Imported,
    );
    stream(
        store,
        label,
        "b",
        (DAY + 100, DAY + 80_000),
        true,
        false,
        Status::Imported,
    );
}

/// Then one whose sums saturate (another shape: no `adkim`), and the first
/// again (a duplicate, adds nothing).
fn import_saturating(store: &Store, label: &str) {
    stream(
        store,
        label,
        "c",
        (DAY + 100, DAY + 80_000),
        false,
        true,
        Status::Imported,
    );
    stream(
        store,
        label,
        "a",
        (DAY + 3_600, DAY + 86_000),
        true,
        false,
        Status::Duplicate,
    );
}

/// Stream report `id` through the store's sink (the CLI's path).
fn stream(store: &Store, label: &str, id: &str, period: (i64, i64), adkim: bool, huge: bool, want: Status) {
    let mut sink = StoreSink::new(store.clone()).unwrap();
    let xml = repeating_xml(id, period, adkim, huge);
    let done = mailwarden_ingest::import_reader("rep.xml", xml.as_bytes(), &Limits::default(), &mut sink).unwrap();
    assert_eq!(done[0].status, want, "{label} {id}");
}

type Rows = Vec<Vec<String>>;

/// Every row of `sql` as text (the columns cast in the query), in order.
async fn rows(store: &Store, sql: &str) -> Rows {
    use sqlx::Row;
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(store.pool())
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            (0..row.len())
                .map(|i| {
                    row.try_get::<Option<String>, _>(i)
                        .unwrap_or_else(|_| row.try_get::<Option<i64>, _>(i).unwrap().map(|n| n.to_string()))
                        .unwrap_or_else(|| "NULL".into())
                })
                .collect()
        })
        .collect()
}

/// The rollup tables whole, shape digests included.
async fn rollup_tables(store: &Store) -> [Rows; 3] {
    [
        rows(
            store,
            "SELECT tenant_id, domain, day, begin_day, source_ip, shape, messages, first_begin, last_end
             FROM report_rollup ORDER BY tenant_id, domain, source_ip, shape, day, begin_day",
        )
        .await,
        rows(
            store,
            "SELECT tenant_id, domain, shape, header_from, envelope_from, adkim, aspf, auth, last_day
             FROM report_rollup_shapes ORDER BY tenant_id, domain, shape",
        )
        .await,
        rows(
            store,
            "SELECT tenant_id, domain, source_ip, reporter, last_end FROM report_rollup_reporters
             ORDER BY tenant_id, domain, source_ip, reporter",
        )
        .await,
    ]
}

/// What an import stores besides the rollup: each report's rows (by the
/// report's short id), selectors and header.
async fn stored(store: &Store) -> [Rows; 3] {
    [
        rows(
            store,
            "SELECT r.short_id, rr.tenant_id, rr.source_ip, rr.count, rr.disposition, rr.dkim_eval, rr.spf_eval,
                    rr.header_from, rr.envelope_from, rr.envelope_to, rr.auth
             FROM report_records rr JOIN reports r ON r.id = rr.report_id
             ORDER BY r.short_id, rr.source_ip, rr.count, COALESCE(rr.envelope_from, ''), rr.auth,
                      COALESCE(rr.dkim_eval, ''), COALESCE(rr.spf_eval, '')",
        )
        .await,
        rows(
            store,
            "SELECT r.short_id, s.domain, s.selector, s.messages, s.passed, s.tenant_id
             FROM report_selectors s JOIN reports r ON r.id = s.report_id ORDER BY 1, 2, 3",
        )
        .await,
        rows(
            store,
            "SELECT short_id, kind, reporter, report_id, domain, begin_at, end_at, digest, records, flags, meta, tenant_id
             FROM reports ORDER BY short_id",
        )
        .await,
    ]
}

/// The senders' summary of example.com, in a stable order: from the
/// rollup (`since` absent) or from the rows (`since` not a midnight). A
/// summed group carries "one of its source's reporters", whichever the
/// database lists first: blanked (the bare groups carry every reporter).
async fn summary(store: &Store, since: Option<i64>) -> reports_query::AggregateSummary {
    let mut s = reports_query::aggregate_summary_of(store, "example.com", since)
        .await
        .unwrap();
    for g in s.groups.iter_mut().filter(|g| !g.record.header_from.is_empty()) {
        g.reporter.clear();
    }
    s.groups.sort_by_key(|g| format!("{g:?}"));
    s.per_period
        .sort_by(|a, b| (a.begin, &a.source_ip).cmp(&(b.begin, &b.source_ip)));
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copy_path_stores_exactly_what_the_row_by_row_path_stores() {
    let Some(pg) = common::postgres().await else {
        eprintln!("MAILWARDEN_TEST_PG_URL unset: the COPY path is not tested");
        return;
    };
    let sqlite = common::sqlite().await;
    import(&sqlite.store, "sqlite").await;
    import(&pg.store, "postgres").await;
    // The senders' page, before any sum saturates (exact sums compared).
    let from_rollup = summary(&pg.store, None).await;
    assert_eq!(
        from_rollup,
        summary(&sqlite.store, None).await,
        "senders from the rollup"
    );
    assert_eq!(
        summary(&pg.store, Some(1)).await.groups.len(),
        summary(&sqlite.store, Some(1)).await.groups.len(),
        "senders from the rows"
    );
    import_saturating(&sqlite.store, "sqlite");
    import_saturating(&pg.store, "postgres");

    let want = rollup_tables(&sqlite.store).await;
    let got = rollup_tables(&pg.store).await;
    assert!(want[0].len() > 10_000, "the report must outgrow one flush");
    for (table, (got, want)) in ["report_rollup", "report_rollup_shapes", "report_rollup_reporters"]
        .iter()
        .zip(got.iter().zip(&want))
    {
        assert_eq!(got.len(), want.len(), "{table}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g, w, "{table}");
        }
    }
    // Saturated, not wrapped nor failed: rows 0 and 10,200 (one key, two
    // flushes), rows 1 and 2 (one key, one batch).
    let max = i64::MAX.to_string();
    let saturated = got[0].iter().filter(|r| r[6] == max).count();
    assert!(saturated >= 2, "saturated sums: {saturated}");
    // Regression: summing saturated sums failed the senders' page on both
    // backends (integer overflow, bigint out of range); it saturates too.
    for since in [None, Some(1)] {
        let (on_pg, on_sqlite) = (summary(&pg.store, since).await, summary(&sqlite.store, since).await);
        let top = |s: &reports_query::AggregateSummary| s.per_period.iter().map(|p| p.count).max();
        assert_eq!(top(&on_pg), Some(i64::MAX), "since {since:?}");
        assert_eq!(top(&on_sqlite), Some(i64::MAX), "since {since:?}");
    }

    let (got, want) = (stored(&pg.store).await, stored(&sqlite.store).await);
    for (what, (got, want)) in ["rows", "selectors", "reports"].iter().zip(got.iter().zip(&want)) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g, w, "{what}");
        }
    }

    // The row-by-row `Any` path on the same PostgreSQL writes the same rollup.
    let imported = rollup_tables(&pg.store).await;
    rollup::rebuild(&pg.store).await.unwrap();
    assert!(rollup_tables(&pg.store).await == imported, "rebuilt by Sums::flush");
}

/// Regression guard for the COPY path's transaction: a report that fails
/// midway (an invalid row after several batches were copied and a flush
/// of sums written) leaves nothing, and the next import on the same pool
/// (its connection given back after the rollback) stores normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_import_that_fails_midway_leaves_nothing_and_the_next_one_stores() {
    let Some(pg) = common::postgres().await else {
        eprintln!("MAILWARDEN_TEST_PG_URL unset: the COPY path is not tested");
        return;
    };
    let store = &pg.store;
    let good = repeating_xml("good", (DAY, DAY + 86_399), true, false);
    let cut = good.rfind("<record>").unwrap();
    let bad = format!(
        "{}{}",
        &good[..cut],
        good[cut..].replacen("<source_ip>10.", "<source_ip>x10.", 1)
    );
    let mut sink = StoreSink::new(store.clone()).unwrap();
    let done = mailwarden_ingest::import_reader("bad.xml", bad.as_bytes(), &Limits::default(), &mut sink).unwrap();
    assert_eq!(done[0].status, Status::Rejected);
    for table in [
        "reports",
        "report_records",
        "report_selectors",
        "report_rollup",
        "report_rollup_shapes",
    ] {
        let n = rows(store, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}")).await;
        assert_eq!(n, [["0"]], "{table}");
    }
    let done = mailwarden_ingest::import_reader("good.xml", good.as_bytes(), &Limits::default(), &mut sink).unwrap();
    assert_eq!(done[0].status, Status::Imported);
    let n = rows(store, "SELECT CAST(COUNT(*) AS BIGINT) FROM report_records").await;
    assert_eq!(n, [[ROWS.to_string()]]);
}

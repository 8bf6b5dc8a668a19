//! The audit log in a real database (SQLite always, PostgreSQL when
//! MAILWARDEN_TEST_PG_URL is set): appends are RFC 9162 entries with signed
//! heads, and `verify` names the row edited, deleted or reordered with raw
//! SQL, a truncation against a checkpoint, and stays green through erasure
//! and expiry of contents.

mod common;

use mailwarden_audit::{Checkpoint, Tamper};
use mailwarden_store::audit_log::{self, Verification};
use mailwarden_store::{EventKind, Store, append_event};
use serde_json::json;

async fn append_n(store: &Store, n: usize) {
    for i in 0..n {
        let mut tx = store.begin().await.unwrap();
        let domain = format!("d{}.example", i % 3);
        append_event(
            &mut tx,
            EventKind::SnapshotStored,
            Some(&domain),
            &json!({"snapshot": i, "mx": ["a", "b"]}),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

async fn outcome(store: &Store, checkpoint: Option<&Checkpoint>) -> Result<u64, Tamper> {
    let v: Verification = audit_log::verify(store, checkpoint).await.unwrap();
    v.outcome.map(|v| v.size)
}

async fn sql(store: &Store, statement: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(store.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_appended_log_verifies() {
    common::use_test_key();
    for db in common::stores().await {
        append_n(&db.store, 7).await;
        assert_eq!(outcome(&db.store, None).await, Ok(7), "{}", db.label);
    }
}

#[tokio::test]
async fn an_edited_row_is_named() {
    common::use_test_key();
    for db in common::stores().await {
        append_n(&db.store, 6).await;
        sql(
            &db.store,
            r#"UPDATE audit_events SET content = '{"snapshot":99,"mx":["a","b"]}' WHERE seq = 4"#,
        )
        .await;
        let err = outcome(&db.store, None).await.unwrap_err();
        assert!(matches!(err, Tamper::Altered { seq: 4, .. }), "{}: {err}", db.label);
    }
}

#[tokio::test]
async fn a_deleted_row_is_named() {
    common::use_test_key();
    for db in common::stores().await {
        append_n(&db.store, 6).await;
        sql(&db.store, "DELETE FROM audit_events WHERE seq = 3").await;
        let err = outcome(&db.store, None).await.unwrap_err();
        assert!(matches!(err, Tamper::Deleted { seq: 3, .. }), "{}: {err}", db.label);
        // Closing the gap by renumbering is caught as well.
        sql(&db.store, "UPDATE audit_events SET seq = seq - 1 WHERE seq > 3").await;
        let err = outcome(&db.store, None).await.unwrap_err();
        assert!(matches!(err, Tamper::Deleted { seq: 3, .. }), "{}: {err}", db.label);
    }
}

#[tokio::test]
async fn reordered_rows_are_named() {
    common::use_test_key();
    for db in common::stores().await {
        append_n(&db.store, 6).await;
        sql(&db.store, "UPDATE audit_events SET seq = -2 WHERE seq = 2").await;
        sql(&db.store, "UPDATE audit_events SET seq = 2 WHERE seq = 3").await;
        sql(&db.store, "UPDATE audit_events SET seq = 3 WHERE seq = -2").await;
        let err = outcome(&db.store, None).await.unwrap_err();
        assert!(matches!(err, Tamper::Reordered { seq: 2, .. }), "{}: {err}", db.label);
    }
}

#[tokio::test]
async fn truncation_is_caught_against_a_checkpoint() {
    common::use_test_key();
    for db in common::stores().await {
        append_n(&db.store, 5).await;
        let cp = audit_log::checkpoint(&db.store).await.unwrap();
        let cp = Checkpoint::from_json(&cp.to_json()).unwrap();
        append_n(&db.store, 2).await;
        assert_eq!(outcome(&db.store, Some(&cp)).await, Ok(7), "{}", db.label);
        // The last three rows and the append state, rolled back together:
        // without the checkpoint this is a shorter log that verifies.
        sql(&db.store, "DELETE FROM audit_events WHERE seq > 4").await;
        assert_eq!(outcome(&db.store, None).await, Ok(4), "{}", db.label);
        let err = outcome(&db.store, Some(&cp)).await.unwrap_err();
        assert_eq!(
            err,
            Tamper::Truncated {
                log_size: 4,
                checkpoint_size: 5
            },
            "{}",
            db.label
        );
    }
}

#[tokio::test]
async fn erasure_and_expiry_keep_verify_green_and_the_log_growing() {
    common::use_test_key();
    for db in common::stores().await {
        append_n(&db.store, 9).await;
        let mut tx = db.store.begin().await.unwrap();
        assert_eq!(audit_log::erase_domain(&mut tx, "d1.example").await.unwrap(), 3);
        assert_eq!(
            audit_log::expire_contents(&mut tx, "9999-01-01T00:00:00.000Z")
                .await
                .unwrap(),
            6
        );
        tx.commit().await.unwrap();
        let erased: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE content IS NULL AND salt IS NULL AND domain IS NULL",
        )
        .fetch_one(db.store.pool())
        .await
        .unwrap();
        assert_eq!(erased, 3, "{}", db.label);
        assert_eq!(outcome(&db.store, None).await, Ok(9), "{}", db.label);
        append_n(&db.store, 2).await;
        assert_eq!(outcome(&db.store, None).await, Ok(11), "{}", db.label);
    }
}

#[tokio::test]
async fn concurrent_appends_build_one_consistent_tree() {
    common::use_test_key();
    for db in common::stores().await {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = db.store.clone();
                tokio::spawn(async move {
                    let mut tx = store.begin().await.unwrap();
                    append_event(&mut tx, EventKind::SeenAgain, None, &json!({ "i": i }))
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(outcome(&db.store, None).await, Ok(8), "{}", db.label);
    }
}

#[tokio::test]
async fn inclusion_proofs_verify_against_their_checkpoint() {
    common::use_test_key();
    for db in common::stores().await {
        append_n(&db.store, 6).await;
        let proofs = audit_log::inclusion_proofs(&db.store, &[1, 4, 6]).await.unwrap();
        for p in &proofs {
            let head = p.checkpoint.sth.head;
            assert!(mailwarden_audit::verify_inclusion(
                p.seq - 1,
                head.tree_size,
                &p.leaf_hash,
                &p.path,
                &head.root_hash
            ));
        }
        assert!(audit_log::inclusion_proofs(&db.store, &[7]).await.is_err());
    }
}

#[tokio::test]
async fn the_stores_erase_and_retention_run_keep_verify_green() {
    common::use_test_key();
    for db in common::stores().await {
        append_n(&db.store, 6).await;
        mailwarden_store::retention::erase(&db.store, "d2.example")
            .await
            .unwrap();
        let far = time::OffsetDateTime::now_utc() + time::Duration::days(2000);
        mailwarden_store::retention::run(&db.store, far).await.unwrap();
        let v = audit_log::verify(&db.store, None).await.unwrap();
        let verified = v.outcome.unwrap_or_else(|t| panic!("{}: {t}", db.label));
        assert!(
            verified.size >= 8,
            "{}: the erasure and the retention run are events too",
            db.label
        );
    }
}

/// Not a test: numbers for bench/audit.sh (appends per second, bytes per
/// entry, verify time), asserting nothing about speed.
#[tokio::test]
#[ignore = "a measurement: bench/audit.sh runs it"]
async fn measure_audit_log() {
    common::use_test_key();
    let n: usize = std::env::var("MW_AUDIT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let db = common::sqlite().await;
    let size = |store: &Store| {
        let store = store.clone();
        async move {
            let pages: i64 =
                sqlx::query_scalar("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
            pages
        }
    };
    let before = size(&db.store).await;
    let start = std::time::Instant::now();
    let content = json!({"snapshot": 123456, "fingerprint": "0123456789abcdef0123456789abcdef"});
    for _ in 0..n {
        let mut tx = db.store.begin().await.unwrap();
        append_event(&mut tx, EventKind::SnapshotStored, Some("example.com"), &content)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let appended = start.elapsed();
    let after = size(&db.store).await;
    let start = std::time::Instant::now();
    assert_eq!(outcome(&db.store, None).await, Ok(n as u64));
    let verified = start.elapsed();
    println!(
        "audit log, SQLite, {n} entries: append {:.0}/s (one transaction each), {:.0} bytes/entry on disk \
         (content included), verify {:.2} s ({:.0} entries/s)",
        n as f64 / appended.as_secs_f64(),
        (after - before) as f64 / n as f64,
        verified.as_secs_f64(),
        n as f64 / verified.as_secs_f64()
    );
}

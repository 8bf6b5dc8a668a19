//! `monitor run`'s writer: several finished scans stored in one
//! transaction (`ingest_batch`), each as `ingest` alone would store it; a
//! scan the database refuses costs only its own result; the state of a new
//! snapshot computed from the scan in memory equals the one read back. On
//! SQLite and, when MAILWARDEN_TEST_PG_URL is set, on a real PostgreSQL.

mod common;

use mailwarden_model::{Answer, Finding, Observation, Outcome, Proof, QueryKey, RData, RType, Severity};
use mailwarden_store::ingest::{AlertPolicy, Finished, Ingested, ingest_batch};
use mailwarden_store::snapshot::{ScanInput, Stored};
use mailwarden_store::{Backend, Store, StoreError, audit_log, monitor, timeline};

const NEXT_DUE: &str = "2030-01-01T00:00:00.000Z";

/// A scan of `domain` with these MX hosts, a passing and a failing finding.
fn scan(domain: &str, mx: &[&str]) -> Finished {
    let mut dns = mailwarden_model::Transcript::default();
    let records = mx
        .iter()
        .map(|h| RData::Mx {
            preference: 10,
            exchange: h.to_string(),
        })
        .collect();
    dns.insert(
        QueryKey::new(&format!("{domain}."), RType::Mx),
        Answer::with_records(records, Proof::Insecure),
    );
    let mut fail = Finding::new("dmarc.present", Outcome::Fail, domain, "no DMARC record");
    fail.severity = Severity::High;
    Finished {
        scan: ScanInput {
            observation: Observation {
                dns,
                ..Observation::new(domain)
            },
            findings: vec![Finding::new("spf.present", Outcome::Pass, domain, "found"), fail],
            scores: None,
            score: Some(70),
            profiles: serde_json::json!([]),
            scanner_version: "0.1.0".into(),
            catalogue_version: "c1".into(),
            at: time::OffsetDateTime::now_utc(),
        },
        next_due_at: NEXT_DUE.into(),
        fingerprint: None,
    }
}

/// `scan`, its fingerprint computed by the caller (as `monitor run` does
/// where the scan finished).
fn fingerprinted(domain: &str, mx: &[&str]) -> Finished {
    let mut f = scan(domain, mx);
    f.fingerprint = Some(f.scan.fingerprint());
    f
}

async fn monitored(store: &Store, domains: &[&str]) {
    for d in domains {
        monitor::add(store, d, 3600, &[], "cli").await.unwrap();
    }
}

async fn stored(store: &Store, batch: &[Finished]) -> Vec<Result<Ingested, StoreError>> {
    ingest_batch(store, batch, &AlertPolicy::default()).await
}

async fn scalar(store: &Store, sql: &'static str) -> i64 {
    mailwarden_store::count(store, sql).await.unwrap()
}

async fn snapshot_events(store: &Store) -> i64 {
    scalar(
        store,
        "SELECT COUNT(*) FROM audit_events WHERE kind = 'snapshot-stored'",
    )
    .await
}

async fn log_verifies(store: &Store) {
    let v = audit_log::verify(store, None).await.unwrap();
    assert!(v.outcome.is_ok(), "{:?}", v.outcome);
}

#[tokio::test]
async fn a_batch_stores_each_scan_as_ingest_alone_would_and_moves_each_monitor_on() {
    for db in common::stores().await {
        let store = &db.store;
        monitored(store, &["a.example", "b.example"]).await;
        let first = [
            scan("a.example", &["mx1.a.example."]),
            scan("b.example", &["mx1.b.example."]),
        ];
        let done: Vec<Ingested> = stored(store, &first).await.into_iter().map(Result::unwrap).collect();
        assert!(
            done.iter()
                .all(|i| matches!(i.stored, Stored::New { previous: None, .. })),
            "{}: {done:?}",
            db.label
        );
        assert_eq!(snapshot_events(store).await, 2, "{}", db.label);
        assert_eq!(
            scalar(
                store,
                "SELECT COUNT(*) FROM monitors WHERE next_due_at = '2030-01-01T00:00:00.000Z' AND lease_until IS NULL"
            )
            .await,
            2,
            "{}: each monitor moved on and released in the batch",
            db.label
        );
        let a_first = done[0].stored.id();

        // Unchanged: seen again. A changed scan of `a` and a later one of `a`
        // in the same batch: the second compares with the first, stored
        // moments before in the same transaction.
        let second = [
            scan("b.example", &["mx1.b.example."]),
            scan("a.example", &["mx2.a.example."]),
            scan("a.example", &["mx3.a.example."]),
        ];
        let done: Vec<Ingested> = stored(store, &second).await.into_iter().map(Result::unwrap).collect();
        assert!(
            matches!(done[0].stored, Stored::SeenAgain { seen_count: 2, .. }),
            "{done:?}"
        );
        let (
            Stored::New { id: two, previous },
            Stored::New {
                previous: after_two, ..
            },
        ) = (done[1].stored, done[2].stored)
        else {
            panic!("{}: {done:?}", db.label)
        };
        assert_eq!(previous, Some(a_first));
        assert_eq!(after_two, Some(two));
        assert_eq!((done[1].changes, done[2].changes), (1, 1), "{}: {done:?}", db.label);
        log_verifies(store).await;
    }
}

/// A batch moves all its monitors on in one statement; a domain scanned
/// twice in one batch is next due when its last scan says, as a statement
/// per scan in order left it, and every other monitor keeps its own time.
#[tokio::test]
async fn a_domain_twice_in_a_batch_is_next_due_when_its_last_scan_says() {
    for db in common::stores().await {
        let store = &db.store;
        monitored(store, &["a.example", "b.example", "c.example"]).await;
        let due = |mut f: Finished, at: &str| {
            f.next_due_at = at.into();
            f
        };
        let batch = [
            due(scan("a.example", &["mx1.a.example."]), "2030-01-01T00:00:00.000Z"),
            due(scan("b.example", &["mx1.b.example."]), "2030-02-02T00:00:00.000Z"),
            due(scan("a.example", &["mx2.a.example."]), "2030-03-03T00:00:00.000Z"),
        ];
        assert!(stored(store, &batch).await.iter().all(Result::is_ok), "{}", db.label);
        let next: Vec<(String, String, Option<String>)> =
            sqlx::query_as("SELECT domain, next_due_at, lease_until FROM monitors ORDER BY domain")
                .fetch_all(store.pool())
                .await
                .unwrap();
        let untouched = next[2].1.clone();
        assert!(!untouched.starts_with("2030"), "{}: {next:?}", db.label);
        assert_eq!(
            next,
            [
                ("a.example".into(), "2030-03-03T00:00:00.000Z".into(), None),
                ("b.example".into(), "2030-02-02T00:00:00.000Z".into(), None),
                ("c.example".into(), untouched, None),
            ],
            "{}",
            db.label
        );
    }
}

#[tokio::test]
async fn one_scan_the_database_refuses_in_a_batch_costs_only_its_own_result() {
    for db in common::stores().await {
        let store = &db.store;
        monitored(store, &["a.example", "bad.example", "c.example"]).await;
        let refuse = match store.backend() {
            Backend::Sqlite => vec![
                "CREATE TRIGGER refuse BEFORE INSERT ON snapshots WHEN NEW.domain = 'bad.example'
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            ],
            Backend::Postgres => vec![
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF NEW.domain = 'bad.example' THEN RAISE EXCEPTION 'refused by the test'; END IF;
                 RETURN NEW; END $$",
                "CREATE TRIGGER refuse BEFORE INSERT ON snapshots FOR EACH ROW EXECUTE FUNCTION refuse()",
            ],
        };
        for sql in refuse {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(store.pool())
                .await
                .unwrap();
        }
        let batch = [
            scan("a.example", &["mx.a.example."]),
            scan("bad.example", &["mx.bad.example."]),
            scan("c.example", &["mx.c.example."]),
        ];
        let done = stored(store, &batch).await;
        assert!(done[0].is_ok() && done[2].is_ok(), "{}: {done:?}", db.label);
        let err = done[1].as_ref().unwrap_err().to_string();
        assert!(err.contains("refused by the test"), "{}: {err}", db.label);
        assert_eq!(scalar(store, "SELECT COUNT(*) FROM snapshots").await, 2);
        assert_eq!(snapshot_events(store).await, 2, "{}", db.label);
        assert_eq!(
            scalar(
                store,
                "SELECT COUNT(*) FROM monitors WHERE domain = 'bad.example' AND next_due_at = '2030-01-01T00:00:00.000Z'"
            )
            .await,
            0,
            "{}: the refused scan's monitor stays due",
            db.label
        );
        log_verifies(store).await;
    }
}

/// The writer computes a snapshot's state from the scan it holds rather
/// than reading the compressed Observation back: the two must agree.
#[tokio::test]
async fn a_new_snapshots_state_from_the_scan_in_memory_equals_the_state_read_back() {
    for db in common::stores().await {
        let store = &db.store;
        monitored(store, &["a.example"]).await;
        // New, seen again (the second sighting recomputes the state), new, new.
        for mx in [
            &["mx1.a.example."][..],
            &["mx1.a.example."],
            &["mx1.a.example.", "mx2.a.example."],
            &[],
        ] {
            stored(store, &[scan("a.example", mx)]).await[0].as_ref().unwrap();
        }
        let from_memory = timeline::read(store, "a.example").await.unwrap();
        assert!(from_memory.iter().all(|s| !s.computed), "the writer cached every state");
        sqlx::query("UPDATE snapshots SET state = NULL, state_packed = NULL, settled = NULL, changes = NULL")
            .execute(store.pool())
            .await
            .unwrap();
        let read_back = timeline::read(store, "a.example").await.unwrap();
        assert!(read_back.iter().all(|s| s.computed));
        assert_eq!(from_memory.len(), 3);
        for (m, r) in from_memory.iter().zip(&read_back) {
            assert_eq!(m.state, r.state, "{}: snapshot {}", db.label, m.snapshot.id);
            assert_eq!(
                serde_json::to_value(&m.changes).unwrap(),
                serde_json::to_value(&r.changes).unwrap()
            );
        }
    }
}

/// A fingerprint the caller computed is stored and compared as the one the
/// writer computes; against a snapshot an earlier version fingerprinted
/// with SHA-256 the scan is still hashed both ways, and seen again.
#[tokio::test]
async fn a_fingerprint_computed_where_the_scan_finished_dedupes_as_the_writers_own_and_meets_sha256() {
    for db in common::stores().await {
        let store = &db.store;
        monitored(store, &["a.example"]).await;
        let first = stored(store, &[scan("a.example", &["mx1.a.example."])]).await;
        let id = first[0].as_ref().unwrap().stored.id();
        let given = fingerprinted("a.example", &["mx1.a.example."]);
        assert_eq!(
            given.fingerprint.as_deref(),
            Some(common::fingerprint_of(store, id).await.as_str())
        );
        let again = stored(store, std::slice::from_ref(&given)).await;
        assert_eq!(
            again[0].as_ref().unwrap().stored,
            Stored::SeenAgain { id, seen_count: 2 },
            "{}",
            db.label
        );

        let sha256 = given
            .scan
            .fingerprints_against(Some("0".repeat(64).as_str()))
            .sha256
            .unwrap();
        sqlx::query("UPDATE snapshots SET fingerprint = $1 WHERE id = $2")
            .bind(&sha256)
            .bind(id)
            .execute(store.pool())
            .await
            .unwrap();
        let third = stored(store, std::slice::from_ref(&given)).await;
        assert_eq!(
            third[0].as_ref().unwrap().stored,
            Stored::SeenAgain { id, seen_count: 3 },
            "{}: a given BLAKE3 fingerprint must not hide a SHA-256 match",
            db.label
        );

        let changed = fingerprinted("a.example", &["mx2.a.example."]);
        let done = stored(store, std::slice::from_ref(&changed)).await;
        let Stored::New { id: new_id, previous } = done[0].as_ref().unwrap().stored else {
            panic!("{}: {done:?}", db.label)
        };
        assert_eq!(previous, Some(id));
        assert_eq!(
            changed.fingerprint,
            Some(common::fingerprint_of(store, new_id).await),
            "{}",
            db.label
        );
        log_verifies(store).await;
    }
}

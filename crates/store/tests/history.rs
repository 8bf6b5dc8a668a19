//! Storing scans and reading them back, fingerprint dedupe, diffs (changed
//! record, removal over two scans, timeout), baselines and the alerts
//! they cause, retention and erasure; on SQLite and, when
//! MAILWARDEN_TEST_PG_URL is set, on a real PostgreSQL.

mod common;

use mailwarden_model::{Answer, Finding, Observation, Outcome, Proof, QueryKey, RData, RType, Severity, Status};
use mailwarden_store::ingest::{AlertPolicy, ingest};
use mailwarden_store::snapshot::{ScanInput, Stored};
use mailwarden_store::{Store, baseline, events, outbox, retention, timeline};
use serde_json::json;

const D: &str = "watch.example";

/// A scan of D whose MX answer is `mx` (or `status` when not records)
/// and whose SPF finding has `spf` as outcome.
fn scan(mx: Result<&[&str], Status>, spf: Outcome, ttl: u32) -> ScanInput {
    let mut dns = mailwarden_model::Transcript::default();
    let mut answer = match mx {
        Ok(hosts) => Answer::with_records(
            hosts
                .iter()
                .map(|h| RData::Mx {
                    preference: 10,
                    exchange: h.to_string(),
                })
                .collect(),
            Proof::Insecure,
        ),
        Err(status) => Answer::empty(status, Proof::Indeterminate),
    };
    answer.ttl = Some(ttl);
    dns.insert(QueryKey::new("watch.example.", RType::Mx), answer);
    let mut f = Finding::new("spf.present", spf, D, format!("checked with ttl {ttl}"));
    f.severity = Severity::High;
    ScanInput {
        observation: Observation {
            started_at: Some(format!("2026-01-01T00:00:{:02}Z", ttl % 60)),
            duration_ms: Some(ttl as u64),
            dns,
            ..Observation::new(D)
        },
        findings: vec![f],
        scores: Some(json!({"overall": 90})),
        score: Some(90),
        profiles: json!([{"profile": "baseline", "verdict": "met"}]),
        scanner_version: "0.1.0".into(),
        catalogue_version: "c1".into(),
        at: time::OffsetDateTime::now_utc(),
    }
}

async fn store_it(store: &Store, s: &ScanInput) -> mailwarden_store::ingest::Ingested {
    ingest(store, s, &AlertPolicy::default(), None).await.unwrap()
}

async fn event_kinds(store: &Store) -> Vec<String> {
    events::list_events(store, Some(D))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_scan_is_stored_whole_and_an_unchanged_rescan_only_marks_it_seen_again() {
    for db in common::stores().await {
        let store = &db.store;
        let first = store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300)).await;
        let Stored::New { id, previous: None } = first.stored else {
            panic!("{first:?}")
        };
        // Same content: other TTL, start time, duration, finding message.
        let again = store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 17)).await;
        assert_eq!(again.stored, Stored::SeenAgain { id, seen_count: 2 }, "{}", db.label);
        assert_eq!(count(store, "snapshots").await, 1);
        // The findings are packed into the snapshot's row, not rows of their own.
        assert_eq!(count(store, "findings").await, 0);
        let held: Option<i64> = sqlx::query_scalar("SELECT findings_count FROM snapshots WHERE id = $1")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(held, Some(1), "{}", db.label);
        let mut conn = store.pool().acquire().await.unwrap();
        let snap = mailwarden_store::snapshot::load(&mut conn, id).await.unwrap();
        assert_eq!(snap.observation.domain, D);
        assert_eq!(snap.observation.dns.len(), 1);
        assert_eq!(snap.findings[0].rule_id, "spf.present");
        assert_eq!(snap.meta.seen_count, 2);
        assert!(snap.meta.last_seen_at >= snap.meta.first_seen_at);
        assert_eq!(
            (snap.meta.scanner_version.as_str(), snap.meta.catalogue_version.as_str()),
            ("0.1.0", "c1")
        );
        assert_eq!(snap.meta.score, Some(90));
        let kinds = event_kinds(store).await;
        assert_eq!(kinds, ["snapshot-stored"], "{}", db.label);
    }
}

/// Storing a scan reads the latest snapshot and the approved baseline in
/// one statement (a batch of scans: two statements for all its domains);
/// it must read what the two separate queries read, on both backends,
/// before and after each exists.
#[tokio::test]
async fn the_latest_snapshot_and_baseline_read_together_equal_the_two_read_apart() {
    for db in common::stores().await {
        let store = &db.store;
        let together_and_apart = || async {
            let mut conn = store.pool().acquire().await.unwrap();
            let together = mailwarden_store::snapshot::latest_and_baseline(&mut conn, D)
                .await
                .unwrap();
            let latest = mailwarden_store::snapshot::latest(&mut conn, D).await.unwrap();
            let approved = baseline::current(&mut conn, D).await.unwrap();
            // And as a batch reads them, beside a domain with nothing stored.
            let mut batch = mailwarden_store::snapshot::latest_and_baselines(&mut conn, &[D, "none.example"])
                .await
                .unwrap();
            assert_eq!(batch.remove("none.example"), Some((None, None)));
            assert_eq!(batch.remove(D).as_ref(), Some(&together));
            (together, (latest, approved))
        };
        let (together, apart) = together_and_apart().await;
        assert_eq!(together, (None, None), "{}", db.label);
        assert_eq!(together, apart);
        store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300)).await;
        let (together, apart) = together_and_apart().await;
        assert!(
            together.0.as_ref().is_some_and(|l| l.settled),
            "{}: {together:?}",
            db.label
        );
        assert_eq!(together, apart, "{}", db.label);
        baseline::approve(store, D, "alice", "initial state").await.unwrap();
        store_it(store, &scan(Ok(&["mx2.watch.example."]), Outcome::Pass, 300)).await;
        let (together, apart) = together_and_apart().await;
        assert!(together.1.is_some(), "{}", db.label);
        assert_eq!(together, apart, "{}", db.label);
    }
}

/// Fingerprints are BLAKE3 since session 14; a snapshot stored before has
/// a SHA-256 one. An unchanged re-scan after the upgrade is still seen
/// again (hashed both ways), the snapshot keeps the fingerprint its audit
/// event cites, and a changed scan stores a BLAKE3 fingerprint.
#[tokio::test]
async fn a_snapshot_fingerprinted_with_sha256_by_an_earlier_version_is_still_seen_again() {
    for db in common::stores().await {
        let store = &db.store;
        let first = scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300);
        let Stored::New { id, .. } = store_it(store, &first).await.stored else {
            panic!()
        };
        let earlier = first
            .fingerprints_against(Some("0000000000000000000000000000000000000000000000000000000000000000"))
            .sha256
            .unwrap();
        assert_eq!(earlier.len(), 64);
        sqlx::query("UPDATE snapshots SET fingerprint = $1 WHERE id = $2")
            .bind(&earlier)
            .bind(id)
            .execute(store.pool())
            .await
            .unwrap();
        let again = store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 17)).await;
        assert_eq!(again.stored, Stored::SeenAgain { id, seen_count: 2 }, "{}", db.label);
        assert_eq!(common::fingerprint_of(store, id).await, earlier, "{}", db.label);
        let changed = store_it(store, &scan(Ok(&["mx2.watch.example."]), Outcome::Pass, 17)).await;
        let Stored::New { id: new_id, previous } = changed.stored else {
            panic!("{changed:?}")
        };
        assert_eq!(previous, Some(id));
        assert!(
            common::fingerprint_of(store, new_id).await.starts_with("b3:"),
            "{}",
            db.label
        );
    }
}

#[tokio::test]
async fn diff_shows_a_changed_record_but_not_a_timeout_and_a_removal_only_after_two_scans() {
    for db in common::stores().await {
        let store = &db.store;
        store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300)).await;
        // A timeout: a new snapshot (the content differs) but no change.
        let t = store_it(store, &scan(Err(Status::Timeout), Outcome::Pass, 300)).await;
        assert_eq!(t.changes, 0, "{}", db.label);
        let d = timeline::diff(store, D, None, None).await.unwrap();
        assert!(d.changes.is_empty(), "{}: {:?}", db.label, d.changes);
        // A changed record.
        let c = store_it(store, &scan(Ok(&["mx2.watch.example."]), Outcome::Pass, 300)).await;
        assert_eq!(c.changes, 1);
        let d = timeline::diff(store, D, None, None).await.unwrap();
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].rtype, "MX");
        assert_eq!(d.changes[0].before, json!(["10 mx1.watch.example."]));
        assert_eq!(d.changes[0].after, json!(["10 mx2.watch.example."]));
        let j = serde_json::to_value(&d).unwrap();
        for key in ["domain", "from", "to", "changes", "findings"] {
            assert!(j.get(key).is_some(), "{key}");
        }
        // NXDOMAIN once: not yet a removal; the same scan again: it is.
        let gone = store_it(store, &scan(Err(Status::NxDomain), Outcome::Pass, 300)).await;
        assert_eq!(gone.changes, 0, "{}", db.label);
        let confirmed = store_it(store, &scan(Err(Status::NxDomain), Outcome::Pass, 200)).await;
        assert_eq!(confirmed.changes, 1, "{}", db.label);
        let d = timeline::diff(store, D, None, None).await.unwrap();
        // The last two snapshots: mx2 → NXDOMAIN (confirmed by the re-scan).
        assert_eq!(d.changes[0].after, json!("NXDOMAIN"), "{}", db.label);
        assert_eq!(d.changes[0].before, json!(["10 mx2.watch.example."]));
        let steps = timeline::read(store, D).await.unwrap();
        assert_eq!(steps.len(), 4);
        // The cached states (snapshots.state) give the timeline that
        // recomputing every state from the Observations gives.
        assert!(steps.iter().all(|s| !s.computed), "{}: states not cached", db.label);
        sqlx::query("UPDATE snapshots SET state = NULL, state_packed = NULL, settled = NULL")
            .execute(store.pool())
            .await
            .unwrap();
        let recomputed = timeline::read(store, D).await.unwrap();
        assert!(recomputed.iter().all(|s| s.computed));
        let view = |steps: &[timeline::Step]| serde_json::to_string(steps).unwrap();
        assert_eq!(view(&steps), view(&recomputed), "{}", db.label);
        let err = timeline::diff(store, D, Some(999), None).await.unwrap_err().to_string();
        assert!(err.contains("--from 999: not a snapshot"), "{err}");
    }
}

/// `history` reads the changes cached with each snapshot (one query, no
/// state parsed): the same timeline as computing it, also after the second
/// sighting of a removal invalidated and recomputed the last snapshot's.
#[tokio::test]
async fn history_from_the_cached_changes_equals_the_computed_timeline_after_a_confirmed_removal() {
    for db in common::stores().await {
        let store = &db.store;
        store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300)).await;
        store_it(store, &scan(Ok(&["mx2.watch.example."]), Outcome::Fail, 300)).await;
        store_it(store, &scan(Err(Status::NxDomain), Outcome::Pass, 300)).await;
        let view = |steps: &[timeline::Step]| serde_json::to_string(steps).unwrap();
        let before_confirmation = view(&timeline::read_history(store, D).await.unwrap());
        store_it(store, &scan(Err(Status::NxDomain), Outcome::Pass, 200)).await;
        let history = timeline::read_history(store, D).await.unwrap();
        let computed = timeline::read(store, D).await.unwrap();
        assert_eq!(view(&history), view(&computed), "{}", db.label);
        assert_ne!(
            view(&history),
            before_confirmation,
            "{}: the confirmed removal is shown",
            db.label
        );
        assert!(
            history[2].changes.iter().any(|c| c.after == json!("NXDOMAIN")),
            "{}",
            db.label
        );
        // A database whose states were cached before the changes were.
        sqlx::query("UPDATE snapshots SET changes = NULL")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(view(&timeline::read_history(store, D).await.unwrap()), view(&computed));
        let missing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM snapshots WHERE changes IS NULL")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(missing, 0, "{}: the changes are cached again", db.label);
    }
}

/// The state cached with a snapshot is recomputed on its second sighting
/// only when it awaits the confirmation of a removal: rewriting every
/// settled state made the first unchanged re-scan of 10,000 domains grow
/// the database by megabytes. The marker (a trailing space after the
/// cached changes, still valid JSON; they are rewritten with the state)
/// shows whether a state was rewritten.
#[tokio::test]
async fn an_unchanged_rescan_keeps_a_settled_state_and_recomputes_one_awaiting_a_removal() {
    for db in common::stores().await {
        let store = &db.store;
        let mark = "UPDATE snapshots SET changes = changes || ' '";
        let marked = || async {
            let states: Vec<String> = sqlx::query_scalar("SELECT changes FROM snapshots ORDER BY id")
                .fetch_all(store.pool())
                .await
                .unwrap();
            states.iter().map(|s| s.ends_with(' ')).collect::<Vec<bool>>()
        };
        store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300)).await;
        sqlx::query(mark).execute(store.pool()).await.unwrap();
        let again = store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 17)).await;
        assert!(matches!(again.stored, Stored::SeenAgain { seen_count: 2, .. }));
        assert_eq!(marked().await, [true], "{}: a settled state was rewritten", db.label);
        // A removal seen once awaits its second sighting: that one recomputes.
        let gone = store_it(store, &scan(Err(Status::NxDomain), Outcome::Pass, 300)).await;
        assert_eq!(gone.changes, 0, "{}", db.label);
        sqlx::query(mark).execute(store.pool()).await.unwrap();
        let confirmed = store_it(store, &scan(Err(Status::NxDomain), Outcome::Pass, 200)).await;
        assert_eq!(confirmed.changes, 1, "{}: the removal is confirmed", db.label);
        assert_eq!(marked().await, [true, false], "{}", db.label);
    }
}

/// `monitor run` cuts each finding to what the store keeps, in the scan's
/// task (`ScanInput::without_unstored`): the cut scan has the fingerprint
/// of the whole one (an unchanged domain stays one snapshot) and stores the
/// same findings (rule, subject, outcome, severity, message).
#[tokio::test]
async fn a_scan_cut_to_what_is_stored_fingerprints_and_stores_as_the_whole_one() {
    for db in common::stores().await {
        let store = &db.store;
        let mut whole = scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300);
        let f = &mut whole.findings[0];
        f.title = "SPF record present".into();
        f.reference = "RFC 7208 §4".into();
        f.remediation = Some("publish one".into());
        f.evidence.insert("records".into(), json!(["v=spf1 -all"]));
        let cut = whole.clone().without_unstored();
        assert!(cut.findings[0].evidence.is_empty() && cut.findings[0].title.is_empty());
        assert_eq!(cut.findings[0].message, whole.findings[0].message);
        assert_eq!(cut.fingerprint(), whole.fingerprint(), "{}", db.label);
        let Stored::New { id, .. } = store_it(store, &whole).await.stored else {
            panic!("{}: not a new snapshot", db.label)
        };
        let again = store_it(store, &cut).await;
        assert_eq!(again.stored, Stored::SeenAgain { id, seen_count: 2 }, "{}", db.label);
        let mut conn = store.pool().acquire().await.unwrap();
        let stored = mailwarden_store::snapshot::findings_of(&mut conn, id).await.unwrap();
        assert_eq!(stored.len(), 1, "{}", db.label);
        assert_eq!(
            (stored[0].rule_id.as_str(), stored[0].message.as_str()),
            ("spf.present", whole.findings[0].message.as_str()),
            "{}",
            db.label
        );
    }
}

/// A snapshot's cached state is stored compressed, with whether it awaits
/// a removal beside it (migration 0800: the text was half of a new
/// snapshot's row). States cached as text by earlier versions (`settled`
/// NULL) still read, and still say whether they await a removal.
#[tokio::test]
async fn states_are_cached_compressed_and_those_cached_as_text_before_still_read() {
    for db in common::stores().await {
        let store = &db.store;
        store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300)).await;
        store_it(store, &scan(Err(Status::NxDomain), Outcome::Pass, 300)).await;
        /// A row's cached state as text, compressed, and its `settled`.
        type Cache = (Option<String>, Option<Vec<u8>>, Option<i64>);
        let rows: Vec<Cache> = sqlx::query_as("SELECT state, state_packed, settled FROM snapshots ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert!(rows.iter().all(|r| r.0.is_none() && r.1.is_some()), "{}", db.label);
        // The second awaits the confirmation of the removal it saw.
        assert_eq!(
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            [Some(1), Some(0)],
            "{}",
            db.label
        );
        let steps = timeline::read(store, D).await.unwrap();
        assert!(steps.iter().all(|s| !s.computed), "{}", db.label);
        for s in &steps {
            sqlx::query("UPDATE snapshots SET state = $1, state_packed = NULL, settled = NULL WHERE id = $2")
                .bind(s.state.to_text())
                .bind(s.snapshot.id)
                .execute(store.pool())
                .await
                .unwrap();
        }
        let as_text = timeline::read(store, D).await.unwrap();
        assert!(
            as_text.iter().all(|s| !s.computed),
            "{}: a text state was not read",
            db.label
        );
        let states = |steps: &[timeline::Step]| steps.iter().map(|s| s.state.clone()).collect::<Vec<_>>();
        assert_eq!(states(&as_text), states(&steps), "{}", db.label);
        // Read from the text, the last state still awaits the removal's
        // second sighting, which confirms it.
        let confirmed = store_it(store, &scan(Err(Status::NxDomain), Outcome::Pass, 200)).await;
        assert_eq!(confirmed.changes, 1, "{}", db.label);
    }
}

/// Storing a scan reads the timeline from the snapshot before it (or the
/// approved one) on, not every snapshot the domain ever had: with a year
/// of history each stored scan parsed a year of states. An old snapshot
/// made unreadable shows it is not read.
#[tokio::test]
async fn storing_a_scan_reads_only_the_end_of_the_timeline() {
    for db in common::stores().await {
        let store = &db.store;
        for mx in ["mx1.watch.example.", "mx2.watch.example.", "mx3.watch.example."] {
            store_it(store, &scan(Ok(&[mx]), Outcome::Pass, 300)).await;
        }
        let first: i64 = sqlx::query_scalar("SELECT MIN(id) FROM snapshots")
            .fetch_one(store.pool())
            .await
            .unwrap();
        sqlx::query(
            "UPDATE snapshots SET state = NULL, state_packed = NULL, settled = NULL, changes = NULL, observation = $1
             WHERE id = $2",
        )
        .bind(vec![0u8; 4])
        .bind(first)
        .execute(store.pool())
        .await
        .unwrap();
        let next = store_it(store, &scan(Ok(&["mx4.watch.example."]), Outcome::Pass, 300)).await;
        assert_eq!(next.changes, 1, "{}", db.label);
        let again = store_it(store, &scan(Ok(&["mx4.watch.example."]), Outcome::Pass, 17)).await;
        assert!(
            matches!(again.stored, Stored::SeenAgain { seen_count: 2, .. }),
            "{}",
            db.label
        );
        // Reading the whole timeline does need it, and says so.
        let err = timeline::read(store, D).await.unwrap_err().to_string();
        assert!(err.contains(&format!("snapshot {first}")), "{}: {err}", db.label);
    }
}

/// The second unchanged sighting of a snapshot whose state awaits no
/// removal confirms nothing either, so it skips the timeline as later
/// sightings do: on 2,000 domains reading it was 4% of the second
/// monitoring round's CPU (bench/monitor-lab.sh). A cached state the
/// timeline cannot parse, left as it is, shows it is not read; the one
/// awaiting a removal still is
/// (`an_unchanged_rescan_keeps_a_settled_state_and_recomputes_one_awaiting_a_removal`).
#[tokio::test]
async fn a_settled_second_sighting_skips_the_timeline() {
    for db in common::stores().await {
        let store = &db.store;
        let mx = || scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300);
        store_it(store, &mx()).await;
        // Still settled, but not a state the timeline can read: reading the
        // timeline would compute it again and save it.
        sqlx::query("UPDATE snapshots SET state_packed = $1")
            .bind(b"unparsed".to_vec())
            .execute(store.pool())
            .await
            .unwrap();
        let second = store_it(store, &mx()).await;
        assert!(
            matches!(second.stored, Stored::SeenAgain { seen_count: 2, .. }),
            "{}",
            db.label
        );
        assert_eq!((second.changes, second.alerts.len()), (0, 0), "{}", db.label);
        let state: Vec<u8> = sqlx::query_scalar("SELECT state_packed FROM snapshots")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(state, b"unparsed", "{}: the timeline was read", db.label);
    }
}

/// A third unchanged sighting, with no approved baseline and no TLS
/// certificate to count down, changes nothing and alerts nothing: the
/// timeline is not read, so a state taken away stays away. With a
/// baseline to compare with, it is read again (and the state cached).
#[tokio::test]
async fn a_third_unchanged_sighting_skips_the_timeline_unless_a_baseline_is_approved() {
    for db in common::stores().await {
        let store = &db.store;
        let mx = || scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300);
        store_it(store, &mx()).await;
        store_it(store, &mx()).await;
        let id: i64 = sqlx::query_scalar("SELECT id FROM snapshots")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let uncached = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM snapshots WHERE state_packed IS NULL AND state IS NULL")
                .fetch_one(store.pool())
                .await
                .unwrap()
        };
        sqlx::query("UPDATE snapshots SET state = NULL, state_packed = NULL, settled = NULL, changes = NULL")
            .execute(store.pool())
            .await
            .unwrap();
        let third = store_it(store, &mx()).await;
        assert_eq!(third.stored, Stored::SeenAgain { id, seen_count: 3 }, "{}", db.label);
        assert_eq!((third.changes, third.alerts.len()), (0, 0), "{}", db.label);
        assert_eq!(uncached().await, 1, "{}: the timeline was read", db.label);
        sqlx::query(
            "INSERT INTO baselines (domain, snapshot_id, approved_at, approved_by, reason)
             VALUES ($1, $2, '2026-01-01T00:00:00.000Z', 'ops', 'test')",
        )
        .bind(D)
        .bind(id)
        .execute(store.pool())
        .await
        .unwrap();
        let fourth = store_it(store, &mx()).await;
        assert_eq!(fourth.changes, 0, "{}", db.label);
        assert_eq!(uncached().await, 0, "{}: the timeline was not read", db.label);
    }
}

#[tokio::test]
async fn a_difference_from_the_approved_baseline_queues_one_unapproved_change_alert() {
    for db in common::stores().await {
        let store = &db.store;
        store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300)).await;
        let err = baseline::approve(store, "other.example", "ops", "x").await.unwrap_err();
        assert!(err.to_string().contains("nothing stored"), "{err}");
        let b = baseline::approve(store, D, "alice", "initial state, ticket 42")
            .await
            .unwrap();
        let changed = store_it(store, &scan(Ok(&["evil.example."]), Outcome::Pass, 300)).await;
        assert_eq!(changed.alerts.len(), 1, "{}", db.label);
        // Seen again: the same condition, no second row.
        let again = store_it(store, &scan(Ok(&["evil.example."]), Outcome::Pass, 100)).await;
        assert!(again.alerts.is_empty());
        let rows = outbox::list_alerts(store, Some(D)).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].trigger, "unapproved-change");
        assert_eq!(rows[0].state, "pending");
        let payload: serde_json::Value = serde_json::from_str(&rows[0].payload).unwrap();
        assert_eq!(payload["details"]["baseline"], b.id);
        assert_eq!(payload["details"]["changes"][0]["after"], json!(["10 evil.example."]));
        // Reverted: no alert. Approved again, then a new change alerts again.
        let back = store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300)).await;
        assert!(back.alerts.is_empty(), "{}", db.label);
        let kinds = event_kinds(store).await;
        assert!(kinds.contains(&"baseline-approved".to_string()));
        assert!(kinds.contains(&"alert-queued".to_string()));
        assert!(kinds.contains(&"change-detected".to_string()));
    }
}

#[tokio::test]
async fn a_newly_failing_finding_and_a_score_drop_alert() {
    for db in common::stores().await {
        let store = &db.store;
        store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300)).await;
        let mut worse = scan(Ok(&["mx1.watch.example."]), Outcome::Fail, 300);
        worse.score = Some(60);
        worse.profiles = json!([{"profile": "baseline", "verdict": "not-met"}]);
        let r = store_it(store, &worse).await;
        let rows = outbox::list_alerts(store, Some(D)).await.unwrap();
        let mut triggers: Vec<&str> = rows.iter().map(|r| r.trigger.as_str()).collect();
        triggers.sort();
        assert_eq!(
            triggers,
            ["new-failing-finding", "profile-not-met", "score-drop"],
            "{}",
            db.label
        );
        assert_eq!(r.alerts.len(), 3);
    }
}

#[tokio::test]
async fn erase_removes_every_row_about_a_domain_and_keeps_the_audit_sequence() {
    for db in common::stores().await {
        let store = &db.store;
        mailwarden_store::monitor::add(store, D, 3600, &["--no-smtp".into()], "cli")
            .await
            .unwrap();
        store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Pass, 300)).await;
        baseline::approve(store, D, "alice", "ok").await.unwrap();
        store_it(store, &scan(Ok(&["mx9.watch.example."]), Outcome::Pass, 300)).await;
        let events_before = count(store, "audit_events").await;
        let receipt = retention::erase(store, D).await.unwrap();
        assert_eq!(
            (receipt.snapshots, receipt.monitors, receipt.baselines, receipt.alerts),
            (2, 1, 1, 1)
        );
        assert_eq!(receipt.findings, 2, "{}: one packed finding in each snapshot", db.label);
        for table in ["snapshots", "findings", "baselines", "monitors", "alert_outbox"] {
            assert_eq!(count(store, table).await, 0, "{} {table}", db.label);
        }
        assert_eq!(count(store, "audit_events").await, events_before + 1);
        assert_eq!(receipt.audit_seq, events_before + 1);
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE content LIKE '%watch.example%'")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(left, 0, "{}: an event still names the domain", db.label);
    }
}

#[tokio::test]
async fn retention_deletes_expired_snapshots_but_keeps_the_latest_and_the_approved() {
    for db in common::stores().await {
        let store = &db.store;
        let old = time::OffsetDateTime::now_utc() - time::Duration::days(500);
        for (i, mx) in ["a.", "b.", "c."].iter().enumerate() {
            let mut s = scan(Ok(&[mx]), Outcome::Pass, 300);
            s.at = old + time::Duration::days(i as i64);
            store_it(store, &s).await;
        }
        let steps = timeline::read(store, D).await.unwrap();
        sqlx::query("INSERT INTO baselines (domain, snapshot_id, approved_at, approved_by, reason) VALUES ($1, $2, 'x', 'y', 'z')")
            .bind(D)
            .bind(steps[0].snapshot.id)
            .execute(store.pool())
            .await
            .unwrap();
        assert!(retention::set(store, "audit", 30 * 86_400).await.is_err());
        retention::set(store, "snapshots", 100 * 86_400).await.unwrap();
        let removed = retention::run(store, time::OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(removed.snapshots, 1, "{}", db.label);
        let ids: Vec<i64> = timeline::read(store, D)
            .await
            .unwrap()
            .iter()
            .map(|s| s.snapshot.id)
            .collect();
        assert_eq!(ids, [steps[0].snapshot.id, steps[2].snapshot.id]);
        assert!(retention::last_run(store).await.unwrap().is_some());
    }
}

/// Move snapshot `id`'s packed findings into rows of the `findings` table,
/// as snapshots stored before migration 0600 hold them.
async fn unpack_into_rows(store: &Store, id: i64) {
    let mut conn = store.pool().acquire().await.unwrap();
    let findings = mailwarden_store::snapshot::findings_of(&mut conn, id).await.unwrap();
    for f in findings {
        sqlx::query(
            "INSERT INTO findings (snapshot_id, rule_id, subject, outcome, severity, message) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(&f.rule_id)
        .bind(&f.subject)
        .bind(&f.outcome)
        .bind(&f.severity)
        .bind(&f.message)
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    sqlx::query("UPDATE snapshots SET findings = NULL, findings_count = NULL WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn findings_stored_as_rows_before_they_moved_into_the_snapshot_still_read() {
    for db in common::stores().await {
        let store = &db.store;
        let old = store_it(store, &scan(Ok(&["mx1.watch.example."]), Outcome::Fail, 300)).await;
        unpack_into_rows(store, old.stored.id()).await;
        let new = store_it(store, &scan(Ok(&["mx2.watch.example."]), Outcome::Pass, 300)).await;
        let mut conn = store.pool().acquire().await.unwrap();
        let rows = mailwarden_store::snapshot::load(&mut conn, old.stored.id())
            .await
            .unwrap();
        let packed = mailwarden_store::snapshot::load(&mut conn, new.stored.id())
            .await
            .unwrap();
        drop(conn);
        assert_eq!(
            (rows.findings[0].outcome.as_str(), packed.findings[0].outcome.as_str()),
            ("fail", "pass"),
            "{}",
            db.label
        );
        // The fail -> pass transition is seen across the two layouts.
        let steps = timeline::read(store, D).await.unwrap();
        assert_eq!(steps[1].findings.len(), 1, "{}", db.label);
        let receipt = retention::erase(store, D).await.unwrap();
        assert_eq!(receipt.findings, 2, "{}: one row and one packed finding", db.label);
        assert_eq!(count(store, "findings").await, 0);
    }
}

#[tokio::test]
async fn retention_clears_expired_findings_in_either_layout_and_counts_them() {
    for db in common::stores().await {
        let store = &db.store;
        let old = time::OffsetDateTime::now_utc() - time::Duration::days(500);
        let mut ids = Vec::new();
        for (i, mx) in ["a.", "b.", "c."].iter().enumerate() {
            let mut s = scan(Ok(&[mx]), Outcome::Pass, 300);
            s.at = old + time::Duration::days(i as i64);
            ids.push(store_it(store, &s).await.stored.id());
        }
        unpack_into_rows(store, ids[0]).await;
        retention::set(store, "snapshots", 1000 * 86_400).await.unwrap();
        retention::set(store, "findings", 100 * 86_400).await.unwrap();
        let removed = retention::run(store, time::OffsetDateTime::now_utc()).await.unwrap();
        // The latest snapshot keeps its findings; the two before lose theirs.
        assert_eq!((removed.findings, removed.snapshots), (2, 0), "{}", db.label);
        let mut conn = store.pool().acquire().await.unwrap();
        for (id, kept) in [(ids[0], 0), (ids[1], 0), (ids[2], 1)] {
            let findings = mailwarden_store::snapshot::findings_of(&mut conn, id).await.unwrap();
            assert_eq!(findings.len(), kept, "{} snapshot {id}", db.label);
        }
    }
}

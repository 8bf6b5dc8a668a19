//! The two tables agreed with auditalert (INTERFACES.md): append_event and
//! queue_alert, on every backend available.

mod common;

use mailwarden_store::events::list_events;
use mailwarden_store::outbox::list_alerts;
use mailwarden_store::{EventKind, NewAlert, Trigger, append_event, queue_alert};
use serde_json::json;

#[tokio::test]
async fn events_get_gapless_sequence_numbers_and_roll_back_with_their_change() {
    for db in common::stores().await {
        let store = &db.store;
        let mut tx = store.begin().await.unwrap();
        let a = append_event(
            &mut tx,
            EventKind::MonitorAdded,
            Some("a.example"),
            &json!({"every": "1h"}),
        )
        .await
        .unwrap();
        let b = append_event(&mut tx, EventKind::RetentionRun, None, &serde_json::Value::Null)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!((a, b), (1, 2), "{}", db.label);
        // A rolled-back transaction leaves no event and no gap.
        let mut tx = store.begin().await.unwrap();
        append_event(&mut tx, EventKind::Erasure, Some("a.example"), &json!({}))
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let c = append_event(&mut tx, EventKind::SeenAgain, Some("b.example"), &json!({"n": 1}))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(c, 3, "{}", db.label);
        let events = list_events(store, None).await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["monitor-added", "retention-run", "seen-again"], "{}", db.label);
        assert_eq!(events[1].content, None);
        assert_eq!(events[0].content.as_deref(), Some(r#"{"every":"1h"}"#));
        assert!(events[0].at.ends_with('Z'));
    }
}

#[tokio::test]
async fn concurrent_appends_never_share_a_sequence_number() {
    for db in common::stores().await {
        let store = db.store.clone();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut tx = store.begin().await.unwrap();
                    let seq = append_event(&mut tx, EventKind::SeenAgain, None, &json!({ "i": i }))
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                    seq
                })
            })
            .collect();
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap());
        }
        seqs.sort();
        assert_eq!(seqs, (1..=8).collect::<Vec<i64>>(), "{}", db.label);
    }
}

#[tokio::test]
async fn the_same_alert_condition_is_queued_once() {
    for db in common::stores().await {
        let store = &db.store;
        let alert = NewAlert {
            domain: "a.example".into(),
            trigger: Trigger::UnapprovedChange,
            severity: "high".into(),
            summary: "a.example MX changed".into(),
            snapshot_id: None,
            details: json!({"changes": 1}),
            condition: "baseline 1 / fingerprint f".into(),
        };
        let mut tx = store.begin().await.unwrap();
        let first = queue_alert(&mut tx, &alert).await.unwrap();
        let again = queue_alert(&mut tx, &alert).await.unwrap();
        let other = queue_alert(
            &mut tx,
            &NewAlert {
                condition: "baseline 1 / fingerprint g".into(),
                ..alert.clone()
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(first, again, "{}", db.label);
        assert_ne!(first, other, "{}", db.label);
        let rows = list_alerts(store, Some("a.example")).await.unwrap();
        assert_eq!(rows.len(), 2, "{}", db.label);
        assert_eq!(rows[0].state, "pending");
        assert_eq!(rows[0].trigger, "unapproved-change");
        assert_eq!(rows[0].attempts, 0);
        let payload: serde_json::Value = serde_json::from_str(&rows[0].payload).unwrap();
        assert_eq!(payload["domain"], "a.example");
        assert_eq!(payload["details"]["changes"], 1);
    }
}

#[tokio::test]
async fn a_bad_or_unreachable_database_is_a_clear_error() {
    let err = mailwarden_store::Store::open("mysql://u@h/db").await.unwrap_err();
    assert!(err.to_string().contains("unsupported scheme"), "{err}");
    // Nothing listens on port 1 of loopback.
    let err = mailwarden_store::Store::open("postgres://u:pw@127.0.0.1:1/db")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot open the database") && !err.contains("pw@"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let err = mailwarden_store::Store::open(&format!("sqlite:{}/sub/db", file.display()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot create the directory"), "{err}");
}

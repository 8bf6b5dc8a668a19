//! Delivery of the alert outbox to a local webhook receiver, on every
//! backend available: signature, retries with backoff, giving up, the
//! suppression window, per-destination retries, and the audit trail.

mod common;

use std::time::Duration;

use mailwarden_alert::testing::{Answer, WebhookReceiver};
use mailwarden_alert::{Destination, RetryPolicy};
use mailwarden_store::alert_delivery::{
    add_destination, deliver_pending, deliver_pending_with, set_suppression_window,
};
use mailwarden_store::events::list_events;
use mailwarden_store::outbox::QueuedAlert;
use mailwarden_store::{NewAlert, Store, Trigger, audit_log};
use time::OffsetDateTime;

fn new_alert(condition: &str) -> NewAlert {
    NewAlert {
        domain: "example.test".into(),
        trigger: Trigger::UnapprovedChange,
        severity: "high".into(),
        summary: "MX of example.test changed".into(),
        snapshot_id: Some(1),
        details: serde_json::json!({"name": "example.test", "type": "MX"}),
        condition: condition.into(),
    }
}

async fn queue(store: &Store, condition: &str) -> i64 {
    common::queue(store, &new_alert(condition)).await
}

async fn row(store: &Store, id: i64) -> QueuedAlert {
    common::alert_row(store, id).await
}

async fn webhook(store: &Store, script: Vec<Answer>) -> WebhookReceiver {
    let receiver = WebhookReceiver::start(Some("s3cret"), script).await;
    add_destination(
        store,
        &Destination::webhook(&receiver.url, Some("s3cret".into())).unwrap(),
    )
    .await
    .unwrap();
    receiver
}

async fn event_kinds(store: &Store) -> Vec<String> {
    list_events(store, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

fn later(secs: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::seconds(secs)
}

#[tokio::test]
async fn a_queued_alert_reaches_the_webhook_signed_and_is_audited() {
    common::use_test_key();
    for db in common::stores().await {
        let store = &db.store;
        let receiver = webhook(store, vec![]).await;
        let id = queue(store, "baseline 1 / fingerprint a").await;
        let report = deliver_pending(store, later(1)).await.unwrap();
        assert_eq!(report.sent, 1, "{}: {report:?}", db.label);
        let got = receiver.requests();
        assert_eq!(got.len(), 1, "{}", db.label);
        assert!(got[0].signature_ok, "{}", db.label);
        let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
        assert_eq!(body["payload"]["details"]["type"], "MX", "{}", db.label);
        let r = row(store, id).await;
        assert_eq!((r.state.as_str(), r.attempts), ("sent", 1), "{}", db.label);
        // Delivered is delivered: a second pass sends nothing.
        assert_eq!(deliver_pending(store, later(600)).await.unwrap().sent, 0);
        let kinds = event_kinds(store).await;
        assert!(kinds.contains(&"alert-sent".to_owned()), "{}: {kinds:?}", db.label);
        assert!(
            audit_log::verify(store, None).await.unwrap().outcome.is_ok(),
            "{}",
            db.label
        );
    }
}

#[tokio::test]
async fn a_failing_webhook_is_retried_with_backoff_until_it_takes_the_alert() {
    common::use_test_key();
    for db in common::stores().await {
        let store = &db.store;
        let receiver = webhook(store, vec![Answer::Status(500), Answer::Status(503)]).await;
        let id = queue(store, "c").await;
        let r1 = deliver_pending(store, later(1)).await.unwrap();
        assert_eq!((r1.retrying, r1.errors.len()), (1, 1), "{}: {r1:?}", db.label);
        let r = row(store, id).await;
        assert_eq!((r.state.as_str(), r.attempts), ("pending", 1), "{}", db.label);
        assert!(r.last_error.unwrap().contains("HTTP 500"), "{}", db.label);
        // Not due before the first backoff (30 s) has passed.
        assert_eq!(
            deliver_pending(store, later(20)).await.unwrap(),
            Default::default(),
            "{}",
            db.label
        );
        assert_eq!(
            deliver_pending(store, later(35)).await.unwrap().retrying,
            1,
            "{}",
            db.label
        );
        // The second backoff is 60 s after the second failure.
        assert_eq!(deliver_pending(store, later(80)).await.unwrap().sent, 0, "{}", db.label);
        assert_eq!(
            deliver_pending(store, later(100)).await.unwrap().sent,
            1,
            "{}",
            db.label
        );
        let got = receiver.requests();
        assert_eq!(got.len(), 3, "{}", db.label);
        assert!(got.iter().all(|g| g.signature_ok));
        assert_eq!(receiver.processed_keys().len(), 1, "{}", db.label);
        assert_eq!(row(store, id).await.state, "sent", "{}", db.label);
    }
}

#[tokio::test]
async fn an_alert_nobody_takes_fails_visibly_after_its_last_attempt() {
    common::use_test_key();
    for db in common::stores().await {
        let store = &db.store;
        let _receiver = webhook(store, vec![Answer::Status(500); 5]).await;
        let id = queue(store, "c").await;
        let policy = RetryPolicy {
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(1),
            max_attempts: 2,
        };
        deliver_pending_with(store, later(1), &policy).await.unwrap();
        let report = deliver_pending_with(store, later(10), &policy).await.unwrap();
        assert_eq!(report.failed, 1, "{}: {report:?}", db.label);
        let r = row(store, id).await;
        assert_eq!((r.state.as_str(), r.attempts), ("failed", 2), "{}", db.label);
        assert!(r.last_error.unwrap().contains("HTTP 500"));
        let kinds = event_kinds(store).await;
        assert!(kinds.contains(&"alert-failed".to_owned()), "{}: {kinds:?}", db.label);
    }
}

#[tokio::test]
async fn a_repeat_within_the_window_is_suppressed_and_one_after_it_is_sent() {
    common::use_test_key();
    for db in common::stores().await {
        let store = &db.store;
        let receiver = webhook(store, vec![]).await;
        set_suppression_window(store, Duration::from_secs(3600)).await.unwrap();
        queue(store, "fingerprint a").await;
        assert_eq!(deliver_pending(store, later(1)).await.unwrap().sent, 1);
        let repeat = queue(store, "fingerprint b").await;
        assert_eq!(
            deliver_pending(store, later(60)).await.unwrap().suppressed,
            1,
            "{}",
            db.label
        );
        assert_eq!(row(store, repeat).await.state, "suppressed");
        queue(store, "fingerprint c").await;
        assert_eq!(
            deliver_pending(store, later(3700)).await.unwrap().sent,
            1,
            "{}",
            db.label
        );
        assert_eq!(receiver.requests().len(), 2, "{}", db.label);
    }
}

#[tokio::test]
async fn a_retry_goes_only_to_the_destination_that_failed() {
    common::use_test_key();
    for db in common::stores().await {
        let store = &db.store;
        let good = webhook(store, vec![]).await;
        let flaky = webhook(store, vec![Answer::Status(502)]).await;
        queue(store, "c").await;
        assert_eq!(deliver_pending(store, later(1)).await.unwrap().retrying, 1);
        assert_eq!(deliver_pending(store, later(60)).await.unwrap().sent, 1, "{}", db.label);
        assert_eq!((good.requests().len(), flaky.requests().len()), (1, 2), "{}", db.label);
    }
}

#[tokio::test]
async fn without_a_destination_alerts_wait_instead_of_being_lost() {
    common::use_test_key();
    for db in common::stores().await {
        let store = &db.store;
        let id = queue(store, "c").await;
        assert_eq!(deliver_pending(store, later(1)).await.unwrap(), Default::default());
        assert_eq!(row(store, id).await.state, "pending");
        let receiver = webhook(store, vec![]).await;
        assert_eq!(deliver_pending(store, later(2)).await.unwrap().sent, 1, "{}", db.label);
        assert_eq!(receiver.requests().len(), 1);
    }
}

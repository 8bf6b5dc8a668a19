//! The ownership gate on alerts (issue 16): a destination added through
//! the web gets an alert about a domain only once the alert's tenant has
//! shown ownership of the domain; until then the delivery is held (no
//! attempt counted, the reason visible), while a destination the operator
//! added with the CLI gets it at once. On SQLite and, when
//! MAILWARDEN_TEST_PG_URL is set, on a real PostgreSQL.

mod common;

use mailwarden_alert::Destination;
use mailwarden_alert::testing::WebhookReceiver;
use mailwarden_store::alert_delivery::{add_destination, deliver_pending, list_destinations, remove_destination};
use mailwarden_store::alert_hold::needs_ownership;
use mailwarden_store::outbox::QueuedAlert;
use mailwarden_store::ownership::{self, CheckOutcome};
use mailwarden_store::tenant::{self, TenantScope};
use mailwarden_store::{NewAlert, Store, Trigger, tenant_alerts};
use time::OffsetDateTime;

/// An alert about `domain` (no monitor or scan names it: tenant 1's).
async fn queue(store: &Store, domain: &str) -> i64 {
    let alert = NewAlert {
        domain: domain.into(),
        trigger: Trigger::ScoreDrop,
        severity: "high".into(),
        summary: format!("the score of {domain} fell"),
        snapshot_id: None,
        details: serde_json::json!({}),
        condition: format!("gate-{domain}"),
    };
    common::queue(store, &alert).await
}

/// The bodies a receiver got, as text.
fn bodies(receiver: &WebhookReceiver) -> Vec<String> {
    receiver
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

async fn row(store: &Store, id: i64) -> QueuedAlert {
    common::alert_row(store, id).await
}

fn hook(url: &str) -> Destination {
    Destination::webhook(url, None).unwrap()
}

/// A webhook added through the web by an analyst of `scope`.
async fn web_hook(store: &Store, scope: TenantScope) -> WebhookReceiver {
    let receiver = WebhookReceiver::start(None, Vec::new()).await;
    tenant_alerts::add(store, scope, &hook(&receiver.url), "ann@example.test")
        .await
        .unwrap();
    receiver
}

/// A webhook the operator added with `mailwarden alert add`.
async fn cli_hook(store: &Store) -> WebhookReceiver {
    let receiver = WebhookReceiver::start(None, Vec::new()).await;
    add_destination(store, &hook(&receiver.url)).await.unwrap();
    receiver
}

async fn scope(store: &Store, name: &str) -> TenantScope {
    tenant::scope_named(store, name).await.unwrap()
}

/// `mailwarden_alert_deliveries_held` as `/metrics` shows it.
async fn held_gauge(store: &Store) -> i64 {
    let gauges = mailwarden_store::ops_metrics::gauges(store).await.unwrap();
    gauges
        .iter()
        .find(|g| g.0 == "mailwarden_alert_deliveries_held")
        .unwrap()
        .2
}

fn later(secs: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::seconds(secs)
}

#[tokio::test]
async fn a_web_added_destination_holds_an_alert_for_an_unshown_domain_while_a_cli_added_one_delivers_it() {
    for db in common::stores().await {
        let (store, label) = (&db.store, db.label);
        let default = scope(store, "default").await;
        let cli = cli_hook(store).await;
        let web = web_hook(store, default).await;
        let id = queue(store, "gated.example").await;

        let report = deliver_pending(store, later(1)).await.unwrap();
        assert_eq!(
            (report.sent, report.held, report.retrying),
            (0, 1, 0),
            "{label}: {report:?}"
        );
        assert_eq!((cli.requests().len(), web.requests().len()), (1, 0), "{label}");
        let r = row(store, id).await;
        assert_eq!(
            (r.state.as_str(), r.attempts),
            ("held", 1),
            "{label}: one real attempt, to the CLI's"
        );
        let why = r.last_error.unwrap();
        assert!(
            why.starts_with("held: ownership of gated.example not shown"),
            "{label}: {why}"
        );

        // Shown per destination too: held, not failed, no attempt.
        let statuses = tenant_alerts::statuses(store, default).await.unwrap();
        let web_status = statuses
            .iter()
            .find(|s| needs_ownership(s.added_by.as_deref()))
            .unwrap();
        assert_eq!(
            (web_status.held, web_status.failed, web_status.sent),
            (1, 0, 0),
            "{label}"
        );
        assert!(
            web_status.last_error.as_deref().unwrap().starts_with("held: "),
            "{label}"
        );
        let attempts: i64 = sqlx::query_scalar(
            "SELECT attempts FROM alert_deliveries d JOIN alert_destinations t ON t.id = d.destination_id
             WHERE d.alert_id = $1 AND t.added_by LIKE 'web:%'",
        )
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(attempts, 0, "{label}: a hold is no attempt");
        assert_eq!(held_gauge(store).await, 1, "{label}: /metrics counts it");

        // Later passes neither send it again nor count attempts.
        for secs in [600, 3600] {
            let report = deliver_pending(store, later(secs)).await.unwrap();
            assert_eq!(
                report,
                Default::default(),
                "{label}: a held alert is not re-tried each pass"
            );
        }
        assert_eq!((cli.requests().len(), web.requests().len()), (1, 0), "{label}");
        assert_eq!(row(store, id).await.attempts, 1, "{label}");
    }
}

#[tokio::test]
async fn a_held_alert_is_delivered_once_ownership_is_verified_and_only_to_the_destination_that_held_it() {
    for db in common::stores().await {
        let (store, label) = (&db.store, db.label);
        let default = scope(store, "default").await;
        let cli = cli_hook(store).await;
        let web = web_hook(store, default).await;
        let id = queue(store, "gated.example").await;
        deliver_pending(store, later(1)).await.unwrap();
        assert_eq!(row(store, id).await.state, "held", "{label}");

        ownership::claim(store, default, "gated.example").await.unwrap();
        let report = deliver_pending(store, later(2)).await.unwrap();
        assert_eq!(report.held, 0, "{label}: a pending claim releases nothing: {report:?}");
        assert_eq!(web.requests().len(), 0, "{label}");
        ownership::record_check(store, default, "gated.example", &CheckOutcome::Verified)
            .await
            .unwrap();

        // Due at once (no backoff was used up by the hold).
        let report = deliver_pending(store, later(3)).await.unwrap();
        assert_eq!(report.sent, 1, "{label}: {report:?}");
        assert_eq!((cli.requests().len(), web.requests().len()), (1, 1), "{label}");
        assert!(bodies(&web)[0].contains("gated.example"), "{label}");
        let r = row(store, id).await;
        assert_eq!((r.state.as_str(), r.attempts), ("sent", 2), "{label}");
        assert_eq!(r.last_error, None, "{label}: the hold's reason is gone once sent");
        let statuses = tenant_alerts::statuses(store, default).await.unwrap();
        assert!(
            statuses.iter().all(|s| (s.sent, s.held) == (1, 0)),
            "{label}: {statuses:?}"
        );
        assert_eq!(held_gauge(store).await, 0, "{label}");
    }
}

/// Removing the web destination that held an alert (with the CLI, which
/// may remove any tenant's) leaves nothing waiting: the alert is sent, as
/// every destination left took it.
#[tokio::test]
async fn removing_the_destination_that_held_an_alert_completes_it() {
    for db in common::stores().await {
        let (store, label) = (&db.store, db.label);
        let cli = cli_hook(store).await;
        let _web = web_hook(store, scope(store, "default").await).await;
        let id = queue(store, "gated.example").await;
        assert_eq!(deliver_pending(store, later(1)).await.unwrap().held, 1, "{label}");
        let web_id = list_destinations(store).await.unwrap()[1].id;
        assert!(remove_destination(store, web_id).await.unwrap());

        let report = deliver_pending(store, later(2)).await.unwrap();
        assert_eq!((report.sent, report.held), (1, 0), "{label}: {report:?}");
        assert_eq!(cli.requests().len(), 1, "{label}: not sent again");
        let r = row(store, id).await;
        assert_eq!((r.state.as_str(), r.attempts), ("sent", 1), "{label}");
    }
}

#[tokio::test]
async fn only_the_alerts_own_tenant_showing_ownership_releases_it_and_an_admin_override_does() {
    for db in common::stores().await {
        let (store, label) = (&db.store, db.label);
        tenant::add(store, "acme").await.unwrap();
        let (default, acme) = (scope(store, "default").await, scope(store, "acme").await);
        let web = web_hook(store, default).await;
        let theirs = queue(store, "vouched-by-acme.example").await;
        let ours = queue(store, "overridden.example").await;
        // Another tenant showing ownership of the domain is not this tenant.
        ownership::override_claim(store, acme, "vouched-by-acme.example", "root@acme", "test")
            .await
            .unwrap();
        ownership::override_claim(store, default, "overridden.example", "root@default", "test")
            .await
            .unwrap();

        let report = deliver_pending(store, later(1)).await.unwrap();
        assert_eq!((report.sent, report.held), (1, 1), "{label}: {report:?}");
        assert_eq!(row(store, ours).await.state, "sent", "{label}");
        assert_eq!(row(store, theirs).await.state, "held", "{label}");
        let got = bodies(&web);
        assert!(
            got.len() == 1 && got[0].contains("overridden.example"),
            "{label}: {got:?}"
        );
    }
}

#[tokio::test]
async fn a_cli_destination_added_while_an_alert_is_held_gets_it_on_the_next_pass() {
    for db in common::stores().await {
        let (store, label) = (&db.store, db.label);
        let web = web_hook(store, scope(store, "default").await).await;
        let id = queue(store, "gated.example").await;
        assert_eq!(deliver_pending(store, later(1)).await.unwrap().held, 1, "{label}");

        let cli = cli_hook(store).await;
        let report = deliver_pending(store, later(2)).await.unwrap();
        assert_eq!(report.held, 1, "{label}: still held for the web's: {report:?}");
        assert_eq!((cli.requests().len(), web.requests().len()), (1, 0), "{label}");
        assert_eq!(row(store, id).await.state, "held", "{label}");
        let origins: Vec<Option<String>> = list_destinations(store)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.added_by)
            .collect();
        assert_eq!(
            origins,
            [Some("web:ann@example.test".to_owned()), Some("cli".to_owned())],
            "{label}"
        );
    }
}

/// Migration 0330's backfill, run again on rows as they were before it:
/// a destination the web added (its `alert-destination-added` event names
/// it) becomes `web:<email>`; one of another tenant whose event content
/// was erased `web:`; the CLI's (no event, tenant 1) stays NULL.
#[tokio::test]
async fn migration_0330_marks_the_destinations_the_web_added_before_it_and_not_the_clis() {
    for db in common::stores().await {
        let (store, label) = (&db.store, db.label);
        tenant::add(store, "acme").await.unwrap();
        let cli = add_destination(store, &hook("http://127.0.0.1:9/cli")).await.unwrap();
        let web = tenant_alerts::add(
            store,
            scope(store, "default").await,
            &hook("http://127.0.0.1:9/w"),
            "ann@x",
        )
        .await
        .unwrap();
        let erased = tenant_alerts::add(
            store,
            scope(store, "acme").await,
            &hook("http://127.0.0.1:9/e"),
            "bob@y",
        )
        .await
        .unwrap();
        sqlx::query("UPDATE audit_events SET content = NULL WHERE content LIKE '%bob@y%'")
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query("UPDATE alert_destinations SET added_by = NULL")
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(backfill(store)))
            .execute(store.pool())
            .await
            .unwrap();
        let origins: Vec<(i64, Option<String>)> =
            sqlx::query_as("SELECT id, added_by FROM alert_destinations ORDER BY id")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(
            origins,
            [
                (cli, None),
                (web, Some("web:ann@x".into())),
                (erased, Some("web:".into()))
            ],
            "{label}"
        );
    }
}

/// The UPDATE statement of the backend's migration 0330.
fn backfill(store: &Store) -> String {
    let dir = match store.backend() {
        mailwarden_store::Backend::Sqlite => "sqlite",
        mailwarden_store::Backend::Postgres => "postgres",
    };
    let path = format!(
        "{}/migrations/{dir}/0330_alert_destination_origin.sql",
        env!("CARGO_MANIFEST_DIR")
    );
    let sql = std::fs::read_to_string(&path).unwrap();
    let start = sql.find("UPDATE alert_destinations").expect("the backfill statement");
    sql[start..].trim().trim_end_matches(';').to_owned()
}

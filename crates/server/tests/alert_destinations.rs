//! Alert destinations managed from the web: analysts and admins add, test
//! and remove their tenant's destinations with CSRF-protected forms, each
//! change audit-logged; viewers and auditors cannot; another tenant's
//! destination ids are 404; and an alert goes only to its own tenant's
//! destinations (a real webhook receiver on loopback). On SQLite and,
//! with MAILWARDEN_TEST_PG_URL, on a real PostgreSQL.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{OURS, Seeded, THEIRS, email, page_session, services};
use mailwarden_alert::testing::WebhookReceiver;
use mailwarden_store::outbox::{NewAlert, Trigger};
use mailwarden_store::tenant::{TenantScope, scope_named};
use mailwarden_store::tenant_alerts;
use mailwarden_store::user::Role;
use serde_json::Value;
use tower::ServiceExt;

/// (status, Location, body) of a request with a session cookie.
async fn send(app: &Router, method: &str, uri: &str, cookie: &str, form: &str) -> (StatusCode, String, String) {
    common::http::form(app, method, uri, cookie, form).await
}

/// A signed-in user of `tenant` with `role`: the cookie and the form's CSRF token.
async fn signed_in(s: &Seeded, tenant: &str, role: Role) -> (String, String) {
    let cookie = page_session(&s.app, &email(tenant, role)).await;
    let (_, _, page) = send(&s.app, "GET", "/alerts/destinations", &cookie, "").await;
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    let csrf = page[at..].split('"').next().unwrap().to_owned();
    (cookie, csrf)
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn events(s: &Seeded, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE kind = $1")
        .bind(kind)
        .fetch_one(s.store.pool())
        .await
        .unwrap()
}

async fn scope(s: &Seeded, name: &str) -> TenantScope {
    scope_named(&s.store, name).await.unwrap()
}

#[tokio::test]
async fn an_analyst_adds_tests_and_removes_a_webhook_and_each_change_is_audit_logged() {
    for s in services().await {
        let hook = WebhookReceiver::start(None, Vec::new()).await;
        let (cookie, csrf) = signed_in(&s, "default", Role::Analyst).await;
        let add = format!("csrf={csrf}&kind=webhook&target={}&secret=s3cret", encode(&hook.url));
        let (status, location, body) = send(&s.app, "POST", "/alerts/destinations", &cookie, &add).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{}: {body}", s.label);
        assert!(location.starts_with("/alerts/destinations?notice="), "{location}");
        let ours = tenant_alerts::destinations(&s.store, scope(&s, "default").await)
            .await
            .unwrap();
        assert_eq!(ours.len(), 1);
        let id = ours[0].id;
        assert_eq!(events(&s, "alert-destination-added").await, 1);
        let logged: String =
            sqlx::query_scalar("SELECT content FROM audit_events WHERE kind = 'alert-destination-added'")
                .fetch_one(s.store.pool())
                .await
                .unwrap();
        assert!(
            logged.contains(&email("default", Role::Analyst)) && !logged.contains("s3cret"),
            "who, never the secret: {logged}"
        );

        let (status, location, _) = send(
            &s.app,
            "POST",
            &format!("/alerts/destinations/{id}/test"),
            &cookie,
            &format!("csrf={csrf}"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(location.contains("delivered"), "{location}");
        assert_eq!(hook.requests().len(), 1, "the test alert reached the webhook");
        let (_, _, page) = send(&s.app, "GET", &location, &cookie, "").await;
        assert!(
            page.contains("Test alert delivered") && page.contains(&hook.url),
            "{page}"
        );
        assert!(!page.contains("s3cret"), "the secret is never shown");

        let auth = format!("Bearer {}", s.tokens[&("default", Role::Viewer)]);
        let api = s
            .app
            .clone()
            .oneshot(
                Request::get("/api/v1/alerts/destinations")
                    .header(header::AUTHORIZATION, auth)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(api.into_body(), 1 << 20).await.unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["items"][0]["type"], "webhook", "{v}");
        assert!(!v.to_string().contains("s3cret"));

        let remove = format!("/alerts/destinations/{id}/remove");
        let (status, _, _) = send(&s.app, "POST", &remove, &cookie, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");
        let (status, _, _) = send(&s.app, "POST", &remove, &cookie, &format!("csrf={csrf}")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(
            tenant_alerts::destinations(&s.store, scope(&s, "default").await)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(events(&s, "alert-destination-removed").await, 1);
        let v = mailwarden_store::audit_log::verify(&s.store, None).await.unwrap();
        assert!(v.outcome.is_ok(), "{}: the log verifies after the changes", s.label);
    }
}

#[tokio::test]
async fn viewers_and_auditors_cannot_manage_destinations_and_bad_forms_are_refused() {
    for s in services().await {
        for role in [Role::Viewer, Role::Auditor] {
            let (cookie, csrf) = signed_in(&s, "default", role).await;
            let (_, _, page) = send(&s.app, "GET", "/alerts/destinations", &cookie, "").await;
            assert!(!page.contains("id=\"add-destination\""), "{role:?} gets no form");
            let add = format!("csrf={csrf}&kind=syslog&target=127.0.0.1%3A514");
            let (status, _, _) = send(&s.app, "POST", "/alerts/destinations", &cookie, &add).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{} {role:?}", s.label);
        }
        let (cookie, csrf) = signed_in(&s, "default", Role::Admin).await;
        for (form, why) in [
            (
                format!("csrf={csrf}&kind=webhook&target=ftp%3A%2F%2Fx"),
                "not an http URL",
            ),
            (
                format!("csrf={csrf}&kind=email&target=nobody&smtp=127.0.0.1%3A25"),
                "not an address",
            ),
            (format!("csrf={csrf}&kind=pigeon&target=x"), "no such type"),
            ("kind=syslog&target=127.0.0.1%3A514".to_owned(), "no CSRF token"),
        ] {
            let (status, _, body) = send(&s.app, "POST", "/alerts/destinations", &cookie, &form).await;
            assert!(status.is_client_error(), "{why}: {status} {body}");
        }
        assert!(
            tenant_alerts::destinations(&s.store, scope(&s, "default").await)
                .await
                .unwrap()
                .is_empty(),
            "nothing was added"
        );
        assert_eq!(events(&s, "alert-destination-added").await, 0);
    }
}

#[tokio::test]
async fn another_tenants_destination_is_404_and_alerts_go_only_to_their_own_tenants_destinations() {
    for s in services().await {
        let (ours_hook, theirs_hook) = (
            WebhookReceiver::start(None, Vec::new()).await,
            WebhookReceiver::start(None, Vec::new()).await,
        );
        let hook = |url: &str| mailwarden_alert::Destination::webhook(url, None).unwrap();
        let (ours, theirs) = (scope(&s, "default").await, scope(&s, "acme").await);
        tenant_alerts::add(&s.store, ours, &hook(&ours_hook.url), "test")
            .await
            .unwrap();
        let their_id = tenant_alerts::add(&s.store, theirs, &hook(&theirs_hook.url), "test")
            .await
            .unwrap();
        let (cookie, csrf) = signed_in(&s, "default", Role::Admin).await;
        for action in ["test", "remove"] {
            let uri = format!("/alerts/destinations/{their_id}/{action}");
            let (status, _, _) = send(&s.app, "POST", &uri, &cookie, &format!("csrf={csrf}")).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{} {action} their destination", s.label);
        }
        let (_, _, page) = send(&s.app, "GET", "/alerts/destinations", &cookie, "").await;
        assert!(page.contains(&ours_hook.url) && !page.contains(&theirs_hook.url));
        assert!(theirs_hook.requests().is_empty(), "their webhook got no test from us");
        assert_eq!(tenant_alerts::destinations(&s.store, theirs).await.unwrap().len(), 1);

        for domain in [OURS, THEIRS] {
            queue_score_drop(&s, domain, &format!("routing-test-{domain}")).await;
        }
        // Destinations added through the web get a domain's alerts only
        // once its tenant has shown ownership (issue 16's gate): here an
        // admin of each tenant vouched.
        for (tenant, domain) in [(ours, OURS), (theirs, THEIRS)] {
            mailwarden_store::ownership::override_claim(&s.store, tenant, domain, "admin", "routing test")
                .await
                .unwrap();
        }
        let later = time::OffsetDateTime::now_utc() + time::Duration::days(1);
        mailwarden_store::alert_delivery::deliver_pending(&s.store, later)
            .await
            .unwrap();
        let bodies = |h: &WebhookReceiver| -> String {
            h.requests()
                .iter()
                .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                .collect()
        };
        let (to_us, to_them) = (bodies(&ours_hook), bodies(&theirs_hook));
        assert!(
            to_us.contains(OURS) && !to_us.contains(THEIRS),
            "{}: ours got {to_us}",
            s.label
        );
        assert!(
            to_them.contains(THEIRS) && !to_them.contains(OURS),
            "{}: theirs got {to_them}",
            s.label
        );
    }
}

/// Queues a score-drop alert about `domain` (`condition` tells it apart).
async fn queue_score_drop(s: &Seeded, domain: &str, condition: &str) {
    let alert = NewAlert {
        domain: domain.into(),
        trigger: Trigger::ScoreDrop,
        severity: "high".into(),
        summary: format!("{domain}: the score fell"),
        snapshot_id: None,
        details: serde_json::json!({}),
        condition: condition.into(),
    };
    let mut tx = s.store.begin().await.unwrap();
    mailwarden_store::queue_alert(&mut tx, &alert).await.unwrap();
    tx.commit().await.unwrap();
}

/// A regression the audit page had: destination changes name no domain,
/// and events without a domain were tenant 1's only, so another tenant's
/// auditor never saw its own changes while tenant 1 saw everyone's.
#[tokio::test]
async fn each_tenants_auditor_sees_its_own_destination_changes_and_no_one_elses() {
    for s in services().await {
        let hook = |url: &str| mailwarden_alert::Destination::webhook(url, None).unwrap();
        let (ours, theirs) = (scope(&s, "default").await, scope(&s, "acme").await);
        tenant_alerts::add(
            &s.store,
            ours,
            &hook("http://127.0.0.1:9/ours-hook"),
            "a@default.example",
        )
        .await
        .unwrap();
        let id = tenant_alerts::add(
            &s.store,
            theirs,
            &hook("http://127.0.0.1:9/their-hook"),
            "b@acme.example",
        )
        .await
        .unwrap();
        assert!(
            tenant_alerts::remove(&s.store, theirs, id, "b@acme.example")
                .await
                .unwrap()
        );
        for (tenant, mine, other) in [
            ("default", "ours-hook", "their-hook"),
            ("acme", "their-hook", "ours-hook"),
        ] {
            let auth = format!("Bearer {}", s.tokens[&(tenant, Role::Auditor)]);
            let res = s
                .app
                .clone()
                .oneshot(
                    Request::get("/api/v1/audit")
                        .header(header::AUTHORIZATION, auth)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let bytes = axum::body::to_bytes(res.into_body(), 10 << 20).await.unwrap();
            let body = String::from_utf8_lossy(&bytes);
            assert!(body.contains(mine), "{} {tenant}: its own change: {body}", s.label);
            assert!(!body.contains(other), "{} {tenant}: another tenant's change", s.label);
        }
    }
}

/// A JSON API call with a Bearer token: (status, body as JSON).
async fn api(s: &Seeded, method: &str, uri: &str, role: Role, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri).header(
        header::AUTHORIZATION,
        format!("Bearer {}", s.tokens[&("default", role)]),
    );
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let res = s.app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_api_adds_tests_and_removes_destinations_with_a_token_and_no_csrf() {
    for s in services().await {
        let hook = WebhookReceiver::start(None, Vec::new()).await;
        let new = serde_json::json!({"type": "webhook", "target": hook.url, "secret": "s3cret"});
        let (status, added) = api(&s, "POST", "/api/v1/alerts/destinations", Role::Analyst, Some(new)).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {added}", s.label);
        assert!(!added.to_string().contains("s3cret"), "never the secret: {added}");
        let id = added["id"].as_i64().unwrap();
        assert_eq!(events(&s, "alert-destination-added").await, 1);

        let (status, tested) = api(
            &s,
            "POST",
            &format!("/api/v1/alerts/destinations/{id}/test"),
            Role::Admin,
            None,
        )
        .await;
        assert_eq!(
            (status, &tested["delivered"]),
            (StatusCode::OK, &Value::Bool(true)),
            "{tested}"
        );
        assert_eq!(hook.requests().len(), 1, "the test alert reached the webhook");

        // A bad destination is a 400 saying what is wrong; nothing is added.
        for (bad, says) in [
            (
                serde_json::json!({"type": "pager", "target": "x"}),
                "expected webhook, email or syslog",
            ),
            (
                serde_json::json!({"type": "webhook", "target": "ftp://x"}),
                "must start with http",
            ),
            (
                serde_json::json!({"type": "webhook", "target": "https://x", "colour": "red"}),
                "colour",
            ),
        ] {
            let (status, p) = api(&s, "POST", "/api/v1/alerts/destinations", Role::Analyst, Some(bad)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
            assert!(p["detail"].as_str().unwrap().contains(says), "{p}");
        }
        // Viewers and auditors change nothing.
        for role in [Role::Viewer, Role::Auditor] {
            let (status, _) = api(&s, "DELETE", &format!("/api/v1/alerts/destinations/{id}"), role, None).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}");
        }
        let (status, removed) = api(
            &s,
            "DELETE",
            &format!("/api/v1/alerts/destinations/{id}"),
            Role::Analyst,
            None,
        )
        .await;
        assert_eq!((status, &removed["removed"]), (StatusCode::OK, &Value::Bool(true)));
        let (status, _) = api(
            &s,
            "DELETE",
            &format!("/api/v1/alerts/destinations/{id}"),
            Role::Analyst,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "removed already");
        assert_eq!(events(&s, "alert-destination-removed").await, 1);
        assert_eq!(
            tenant_alerts::destinations(&s.store, scope(&s, "default").await)
                .await
                .unwrap()
                .len(),
            0
        );
    }
}

/// Issue 16's ownership gate on alerts, through the HTTP API: a webhook
/// added with `POST /api/v1/alerts/destinations` gets no alert about a
/// domain whose ownership the tenant has not shown; the alert is held
/// (not failed, no attempt), and the alerts and destinations APIs and
/// pages say so and why; after an admin's override it is delivered.
#[tokio::test]
async fn an_api_added_destination_holds_alerts_until_ownership_is_shown_and_an_override_delivers_them() {
    for s in services().await {
        let hook = WebhookReceiver::start(None, Vec::new()).await;
        let new = serde_json::json!({"type": "webhook", "target": hook.url});
        let (status, added) = api(&s, "POST", "/api/v1/alerts/destinations", Role::Analyst, Some(new)).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {added}", s.label);
        assert_eq!(added["added_by"], format!("web:{}", email("default", Role::Analyst)));
        queue_score_drop(&s, OURS, "gate-test").await;
        let deliver = |secs: i64| {
            let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs);
            mailwarden_store::alert_delivery::deliver_pending(&s.store, at)
        };

        let report = deliver(1).await.unwrap();
        assert_eq!(
            (report.held, report.sent, report.failed),
            (1, 0, 0),
            "{}: {report:?}",
            s.label
        );
        assert!(hook.requests().is_empty(), "{}: nothing reached the webhook", s.label);
        let (_, alerts) = api(&s, "GET", "/api/v1/alerts", Role::Viewer, None).await;
        let held = &alerts["items"][0];
        assert_eq!(
            (&held["state"], &held["attempts"]),
            (&Value::from("held"), &Value::from(0)),
            "{alerts}"
        );
        let why = held["last_error"].as_str().unwrap();
        assert!(
            why.starts_with(&format!("held: ownership of {OURS} not shown")),
            "{why}"
        );
        let (_, destinations) = api(&s, "GET", "/api/v1/alerts/destinations", Role::Viewer, None).await;
        let d = &destinations["items"][0];
        assert_eq!(
            (&d["held"], &d["failed"], &d["sent"]),
            (&Value::from(1), &Value::from(0), &Value::from(0)),
            "{d}"
        );
        assert!(d["last_error"].as_str().unwrap().starts_with("held: "), "{d}");
        let cookie = page_session(&s.app, &email("default", Role::Viewer)).await;
        for page in ["/alerts", "/alerts/destinations"] {
            let (_, _, html) = send(&s.app, "GET", page, &cookie, "").await;
            assert!(
                html.contains("held: ownership of ours.example not shown"),
                "{} {page}: {html}",
                s.label
            );
        }

        let body = serde_json::json!({"reason": "known customer, DNS change pending"});
        let uri = format!("/api/v1/domains/{OURS}/ownership/override");
        let (status, o) = api(&s, "POST", &uri, Role::Admin, Some(body)).await;
        assert_eq!(
            (status, &o["state"]),
            (StatusCode::CREATED, &Value::from("overridden")),
            "{o}"
        );
        let report = deliver(2).await.unwrap();
        assert_eq!((report.sent, report.held), (1, 0), "{}: {report:?}", s.label);
        let got = hook.requests();
        assert_eq!(got.len(), 1, "{}", s.label);
        assert!(String::from_utf8_lossy(&got[0].body).contains(OURS));
        let (_, alerts) = api(&s, "GET", "/api/v1/alerts", Role::Viewer, None).await;
        let sent = &alerts["items"][0];
        assert_eq!(
            (&sent["state"], &sent["attempts"], &sent["last_error"]),
            (&Value::from("sent"), &Value::from(1), &Value::Null),
            "{sent}"
        );
    }
}

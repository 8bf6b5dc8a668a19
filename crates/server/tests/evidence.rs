//! The evidence bundle from the web: auditors and admins download it (a
//! zip from the page, JSON from the API), each download audit-logged as
//! an export; viewers and analysts cannot; another tenant's domain is a
//! 404 for every role and appends nothing. On SQLite and, with
//! MAILWARDEN_TEST_PG_URL, on a real PostgreSQL.

mod common;

use std::io::Read as _;

use axum::http::StatusCode;
use common::http::download as get;
use common::{OURS, Seeded, THEIRS, email, page_session, services};
use mailwarden_store::user::Role;
use serde_json::Value;

async fn exports(s: &Seeded) -> i64 {
    mailwarden_store::count(
        &s.store,
        "SELECT COUNT(*) FROM audit_events WHERE kind = 'evidence-exported'",
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn an_auditor_downloads_the_evidence_bundle_and_the_download_is_audit_logged() {
    for s in services().await {
        let auth = format!("Bearer {}", s.tokens[&("default", Role::Auditor)]);
        let (status, _, body) = get(
            &s.app,
            &format!("/api/v1/domains/{OURS}/evidence"),
            ("authorization", &auth),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{}: {}",
            s.label,
            String::from_utf8_lossy(&body)
        );
        let v: Value = serde_json::from_slice(&body).unwrap();
        let files = v["files"].as_object().unwrap();
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "README.md",
                "alerts.json",
                "audit/checkpoint.json",
                "audit/events.json",
                "changes.json",
                "findings.json",
                "verdicts.json"
            ]
        );
        assert!(
            files["findings.json"].as_str().unwrap().contains("mx2.ours.example")
                || files["changes.json"].as_str().unwrap().contains("mx2.ours.example")
        );
        assert!(!v.to_string().contains(THEIRS), "nothing of the other tenant's domain");
        assert!(
            !files["README.md"].as_str().unwrap().contains(&s.url),
            "the README never names the database URL"
        );
        assert_eq!(exports(&s).await, 1, "{}: the export is audit-logged", s.label);
        let verified = mailwarden_store::audit_log::verify(&s.store, None).await.unwrap();
        assert!(verified.outcome.is_ok(), "{}: the log still verifies", s.label);

        let cookie = page_session(&s.app, &email("default", Role::Auditor)).await;
        let (status, mime, zip) = get(
            &s.app,
            &format!("/domains/{OURS}/evidence.zip?since=2020-01-01"),
            ("cookie", &cookie),
        )
        .await;
        assert_eq!((status, mime.as_str()), (StatusCode::OK, "application/zip"));
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        let mut readme = String::new();
        archive
            .by_name(&format!("evidence-{OURS}/README.md"))
            .unwrap()
            .read_to_string(&mut readme)
            .unwrap();
        assert!(readme.contains(OURS) && readme.contains("mailwarden serve"), "{readme}");
        assert_eq!(archive.len(), 7);
        assert_eq!(exports(&s).await, 2);
        let (status, _, _) = get(
            &s.app,
            &format!("/api/v1/domains/{OURS}/evidence?since=last+year"),
            ("authorization", &auth),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn viewers_and_analysts_get_no_evidence_and_another_tenants_domain_is_404_for_everyone() {
    for s in services().await {
        for role in Role::ALL {
            let auth = format!("Bearer {}", s.tokens[&("default", role)]);
            let cookie = page_session(&s.app, &email("default", role)).await;
            for domain in [THEIRS, "THEIRS.example.", "never-seen.example"] {
                let api = get(
                    &s.app,
                    &format!("/api/v1/domains/{domain}/evidence"),
                    ("authorization", &auth),
                )
                .await;
                assert_eq!(api.0, StatusCode::NOT_FOUND, "{} {role:?} {domain}", s.label);
                let page = get(&s.app, &format!("/domains/{domain}/evidence.zip"), ("cookie", &cookie)).await;
                assert_eq!(page.0, StatusCode::NOT_FOUND, "{} {role:?} {domain}", s.label);
            }
            if !role.may_audit() {
                let api = get(
                    &s.app,
                    &format!("/api/v1/domains/{OURS}/evidence"),
                    ("authorization", &auth),
                )
                .await;
                assert_eq!(api.0, StatusCode::FORBIDDEN, "{role:?}");
                let page = get(&s.app, &format!("/domains/{OURS}/evidence.zip"), ("cookie", &cookie)).await;
                assert_eq!(page.0, StatusCode::FORBIDDEN, "{role:?}");
                let (_, _, domain) = get(&s.app, &format!("/domains/{OURS}"), ("cookie", &cookie)).await;
                assert!(!String::from_utf8_lossy(&domain).contains("evidence-link"), "{role:?}");
            }
        }
        assert_eq!(
            exports(&s).await,
            0,
            "{}: no refused download appended an event",
            s.label
        );
    }
}

#[tokio::test]
async fn the_scan_reports_download_as_html_and_sarif_for_every_role_each_audit_logged() {
    for s in services().await {
        // From the domain page (session) and from the API (Bearer).
        let cookie = page_session(&s.app, &email("default", Role::Viewer)).await;
        let (status, _, page) = get(&s.app, &format!("/domains/{OURS}"), ("cookie", &cookie)).await;
        assert_eq!(status, StatusCode::OK);
        let page = String::from_utf8_lossy(&page);
        assert!(
            page.contains(&format!("href=\"/domains/{OURS}/report.html\"")),
            "{page}"
        );
        let (status, mime, html) = get(&s.app, &format!("/domains/{OURS}/report.html"), ("cookie", &cookie)).await;
        assert_eq!(
            (status, mime.as_str()),
            (StatusCode::OK, "text/html; charset=utf-8"),
            "{}",
            s.label
        );
        let html = String::from_utf8(html).unwrap();
        assert!(
            html.starts_with("<!DOCTYPE html>") && html.contains(OURS),
            "{html:.400}"
        );
        // The latest snapshot's Observation, judged: its MX is mx2.
        assert!(html.contains("mx2.ours.example") && !html.contains("mx1.ours.example"));
        let auth = format!("Bearer {}", s.tokens[&("default", Role::Viewer)]);
        let (status, mime, sarif) = get(
            &s.app,
            &format!("/api/v1/domains/{OURS}/report.sarif"),
            ("authorization", &auth),
        )
        .await;
        assert_eq!((status, mime.as_str()), (StatusCode::OK, "application/sarif+json"));
        let sarif: Value = serde_json::from_slice(&sarif).unwrap();
        assert_eq!(sarif["version"], "2.1.0");
        assert_eq!(exports(&s).await, 2, "{}: each download is an audit event", s.label);
        let logged: String = sqlx::query_scalar(
            "SELECT content FROM audit_events WHERE kind = 'evidence-exported' ORDER BY seq DESC LIMIT 1",
        )
        .fetch_one(s.store.pool())
        .await
        .unwrap();
        let logged: Value = serde_json::from_str(&logged).unwrap();
        assert_eq!(logged["export"], "scan-report");
        assert_eq!(logged["by"], email("default", Role::Viewer));
        assert_eq!(logged["snapshot"], s.our_snapshots[1]);
        assert!(
            logged["files_sha256"][format!("mailwarden-{OURS}.sarif")].is_string(),
            "{logged}"
        );

        // Another tenant's domain: 404 from both, nothing logged.
        let (status, _, _) = get(&s.app, &format!("/domains/{THEIRS}/report.html"), ("cookie", &cookie)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = get(
            &s.app,
            &format!("/api/v1/domains/{THEIRS}/report.sarif"),
            ("authorization", &auth),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(exports(&s).await, 2);
        let v = mailwarden_store::audit_log::verify(&s.store, None).await.unwrap();
        assert!(v.outcome.is_ok(), "{}: the log verifies", s.label);
    }
}

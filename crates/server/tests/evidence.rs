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

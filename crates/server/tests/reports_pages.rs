//! The senders and TLS pages and their API over imported reports: each
//! tenant sees only the reports imported under it (even about a domain
//! name another tenant imported reports for), the chart is an SVG with
//! one series per sender, the SPF joins are listed, another tenant's
//! domain is a 404 for every role. On SQLite and, with
//! MAILWARDEN_TEST_PG_URL, on a real PostgreSQL.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::reports::{ACME_IP, THEIR_IP, with_reports};
use common::{OURS, Seeded, THEIRS, email, page_session, services};
use mailwarden_store::user::Role;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn get(app: &Router, uri: &str, auth: Option<(&str, &str)>) -> (StatusCode, String) {
    let mut req = Request::get(uri);
    if let Some((name, value)) = auth {
        req = req.header(name, value);
    }
    let res = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 10 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn bearer(s: &Seeded, tenant: &'static str, role: Role) -> String {
    format!("Bearer {}", s.tokens[&(tenant, role)])
}

#[tokio::test]
async fn the_senders_api_shows_the_tenants_reports_only_with_volume_per_day_and_the_spf_joins() {
    for s in with_reports().await {
        let auth = bearer(&s, "default", Role::Viewer);
        let (status, body) = get(
            &s.app,
            &format!("/api/v1/domains/{OURS}/senders"),
            Some(("authorization", &auth)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", s.label);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (v["reports"].as_i64(), v["messages"].as_i64()),
            (Some(2), Some(19)),
            "{body}"
        );
        assert!(
            !body.contains(ACME_IP),
            "{}: acme's report about our domain leaked",
            s.label
        );
        assert_eq!(v["volume"]["days"], json!(["2026-11-01", "2026-11-02", "2026-11-03"]));
        let series = v["volume"]["series"].as_array().unwrap();
        let total: u64 = series
            .iter()
            .flat_map(|x| x["values"].as_array().unwrap())
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(total, 19, "every message drawn once: {series:?}");
        let names: Vec<&str> = series.iter().map(|x| x["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "ours.example (own), authorised-aligned",
                "ours.example (own), not-authorised",
                "spoof.example"
            ],
            "one line per sender, the biggest first; one name, two senders: told apart"
        );
        assert!(
            series.iter().any(|x| x["values"] == json!([7, 0, 7])),
            "192.0.2.10's two days: {series:?}"
        );
        assert_eq!(v["joins"]["in_spf_never_seen"], json!(["ip4:192.0.2.200"]), "{body}");
        assert!(
            v["joins"]["seen_passing_not_in_spf"]
                .to_string()
                .contains("203.0.113.5"),
            "{body}"
        );
        let since = get(
            &s.app,
            &format!("/api/v1/domains/{OURS}/senders?since=2026-11-03"),
            Some(("authorization", &auth)),
        )
        .await;
        let v: Value = serde_json::from_str(&since.1).unwrap();
        assert_eq!(v["reports"], 1, "{}", since.1);
        let bad = get(
            &s.app,
            &format!("/api/v1/domains/{OURS}/senders?since=yesterday"),
            Some(("authorization", &auth)),
        )
        .await;
        assert_eq!(bad.0, StatusCode::BAD_REQUEST);
        assert!(bad.1.contains("expected a date"), "{}", bad.1);
        // The other tenant sees its own domain's sender, not ours.
        let acme = bearer(&s, "acme", Role::Viewer);
        let (_, theirs) = get(
            &s.app,
            &format!("/api/v1/domains/{THEIRS}/senders"),
            Some(("authorization", &acme)),
        )
        .await;
        assert!(theirs.contains(THEIR_IP) && !theirs.contains("192.0.2.10"), "{theirs}");
    }
}

#[tokio::test]
async fn the_tls_api_counts_sessions_per_day_by_result_per_policy_and_per_mx() {
    for s in with_reports().await {
        let auth = bearer(&s, "default", Role::Auditor);
        let (status, body) = get(
            &s.app,
            &format!("/api/v1/domains/{OURS}/tls"),
            Some(("authorization", &auth)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", s.label);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["reports"], 1, "acme's TLS report is not ours: {body}");
        assert_eq!(v["sessions"]["days"], json!(["2026-11-01"]));
        assert_eq!(
            v["sessions"]["series"],
            json!([{"name": "successful", "values": [120]}, {"name": "certificate-expired", "values": [3]}])
        );
        assert_eq!(v["mx"][0]["mx"], format!("mx1.{OURS}"));
        assert_eq!(v["policies"][0]["failed"], 3);
        // No scan of the domain in the report's period: joined to nothing.
        let failure = &v["joins"]["failures"][0];
        assert_eq!(failure["result_type"], "certificate-expired", "{body}");
        assert_eq!((&failure["scan"], &failure["findings"]), (&Value::Null, &json!([])));
    }
}

#[tokio::test]
async fn the_senders_and_tls_pages_draw_svg_charts_under_the_strict_csp() {
    for s in with_reports().await {
        let cookie = page_session(&s.app, &email("default", Role::Viewer)).await;
        let (status, page) = get(&s.app, &format!("/domains/{OURS}/senders"), Some(("cookie", &cookie))).await;
        assert_eq!(status, StatusCode::OK, "{}: {page}", s.label);
        assert!(page.contains("<svg") && page.contains("id=\"volume\""), "{page}");
        assert_eq!(page.matches("<g class=\"series\"").count(), 3, "one series per sender");
        for text in [
            "In SPF but never seen",
            "ip4:192.0.2.200",
            "Seen but not in SPF",
            "203.0.113.5",
            "NOT authorised by SPF",
        ] {
            assert!(page.contains(text), "{}: {text} missing", s.label);
        }
        assert!(!page.contains(ACME_IP));
        assert!(!page.contains("<script") && !page.contains("style="));
        let (status, tls) = get(&s.app, &format!("/domains/{OURS}/tls"), Some(("cookie", &cookie))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(tls.contains("id=\"sessions\"") && tls.contains("data-series=\"certificate-expired\""));
        assert!(tls.contains(&format!("mx1.{OURS}")) && !tls.contains("style="));
        assert!(
            tls.contains("id=\"failure-scans\"") && tls.contains("No scan of the domain in that period."),
            "{tls}"
        );
        let (_, domain) = get(&s.app, &format!("/domains/{OURS}"), Some(("cookie", &cookie))).await;
        assert!(domain.contains("id=\"senders-link\"") && domain.contains("id=\"tls-link\""));
    }
}

#[tokio::test]
async fn another_tenants_senders_and_tls_pages_are_404_for_every_role_and_need_a_session() {
    for s in with_reports().await {
        for role in Role::ALL {
            let cookie = page_session(&s.app, &email("default", role)).await;
            let auth = bearer(&s, "default", role);
            for domain in [THEIRS, "THEIRS.example.", "never-seen.example"] {
                for page in ["senders", "tls"] {
                    let (status, body) =
                        get(&s.app, &format!("/domains/{domain}/{page}"), Some(("cookie", &cookie))).await;
                    assert_eq!(status, StatusCode::NOT_FOUND, "{} {role:?} {domain} {page}", s.label);
                    assert!(!body.contains(THEIR_IP));
                    let (status, body) = get(
                        &s.app,
                        &format!("/api/v1/domains/{domain}/{page}"),
                        Some(("authorization", &auth)),
                    )
                    .await;
                    assert_eq!(
                        status,
                        StatusCode::NOT_FOUND,
                        "{} {role:?} api {domain} {page}",
                        s.label
                    );
                    assert!(!body.contains(THEIR_IP));
                }
            }
        }
        // Every page this branch added sends a visitor without a session to the login form.
        for (method, page) in [
            ("GET", format!("/domains/{OURS}/senders")),
            ("GET", format!("/domains/{OURS}/tls")),
            ("GET", format!("/domains/{OURS}/export/senders")),
            ("GET", format!("/domains/{OURS}/evidence.zip")),
            ("GET", "/export/domains".to_owned()),
            ("GET", "/alerts/destinations".to_owned()),
            ("POST", "/alerts/destinations".to_owned()),
            ("POST", "/alerts/destinations/1/remove".to_owned()),
        ] {
            let req = Request::builder()
                .method(method)
                .uri(&page)
                .body(Body::empty())
                .unwrap();
            let res = s.app.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "{method} {page}");
            assert_eq!(res.headers()[header::LOCATION], "/login");
        }
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_senders_and_tls_routes() {
    let s = services().await.remove(0);
    let auth = bearer(&s, "default", Role::Viewer);
    let (_, body) = get(&s.app, "/api/v1/openapi.json", Some(("authorization", &auth))).await;
    let doc: Value = serde_json::from_str(&body).unwrap();
    for path in ["/domains/{domain}/senders", "/domains/{domain}/tls"] {
        let op = &doc["paths"][path]["get"];
        assert!(op["summary"].is_string(), "{path}");
        assert_eq!(op["parameters"][1]["name"], "since", "{path}");
    }
}

/// (status, content type, body as text) of a GET.
async fn download(app: &Router, uri: &str, auth: (&str, &str)) -> (StatusCode, String, String) {
    let (status, mime, bytes) = common::http::download(app, uri, auth).await;
    (status, mime, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn exports_are_the_tenants_rows_only_for_every_role_and_the_audit_log_only_for_auditors() {
    for s in with_reports().await {
        for role in Role::ALL {
            let auth = bearer(&s, "default", role);
            let auth = ("authorization", auth.as_str());
            let (status, mime, csv) = download(&s.app, "/api/v1/export/domains?format=csv", auth).await;
            assert_eq!(
                (status, mime.as_str()),
                (StatusCode::OK, "text/csv; charset=utf-8"),
                "{csv}"
            );
            assert!(csv.starts_with("domain,monitored,score,") && csv.contains(OURS) && !csv.contains(THEIRS));
            let (status, _, alerts) = download(&s.app, "/api/v1/export/alerts", auth).await;
            assert_eq!(status, StatusCode::OK);
            assert!(!alerts.contains(THEIRS), "{alerts}");
            let (status, _, audit) = download(&s.app, "/api/v1/export/audit?format=csv", auth).await;
            let expected = if role.may_audit() {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(status, expected, "{} {role:?} audit export: {audit}", s.label);
            assert!(!audit.contains(THEIRS));
            for table in ["findings", "history", "senders", "tls"] {
                for format in ["csv", "json"] {
                    let ours = format!("/api/v1/domains/{OURS}/export/{table}?format={format}");
                    let (status, _, body) = download(&s.app, &ours, auth).await;
                    assert_eq!(status, StatusCode::OK, "{} {table} {format}: {body}", s.label);
                    assert!(!body.contains(ACME_IP), "{table}: acme's report");
                    for domain in [THEIRS, "THEIRS.example.", "never-seen.example"] {
                        let theirs = format!("/api/v1/domains/{domain}/export/{table}?format={format}");
                        let (status, _, body) = download(&s.app, &theirs, auth).await;
                        assert_eq!(status, StatusCode::NOT_FOUND, "{} {role:?} {theirs}", s.label);
                        assert!(!body.contains(THEIR_IP));
                    }
                }
            }
        }
        let auth = bearer(&s, "default", Role::Viewer);
        let auth = ("authorization", auth.as_str());
        let (_, _, senders) = download(
            &s.app,
            &format!("/api/v1/domains/{OURS}/export/senders?format=csv"),
            auth,
        )
        .await;
        assert!(
            senders.starts_with("sender,class,ip,messages,") && senders.contains(",192.0.2.10,14,"),
            "{senders}"
        );
        let (_, _, tls) = download(&s.app, &format!("/api/v1/domains/{OURS}/export/tls?format=csv"), auth).await;
        assert_eq!(
            tls,
            "day,result,sessions\r\n2026-11-01,successful,120\r\n2026-11-01,certificate-expired,3\r\n"
        );
        for (uri, status) in [
            ("/api/v1/export/secrets".to_owned(), StatusCode::NOT_FOUND),
            (format!("/api/v1/domains/{OURS}/export/users"), StatusCode::NOT_FOUND),
            ("/api/v1/export/domains?format=xlsx".to_owned(), StatusCode::BAD_REQUEST),
        ] {
            assert_eq!(download(&s.app, &uri, auth).await.0, status, "{uri}");
        }
    }
}

#[tokio::test]
async fn a_signed_in_user_downloads_exports_as_attachments_and_never_another_tenants() {
    for s in with_reports().await {
        let cookie = page_session(&s.app, &email("default", Role::Auditor)).await;
        let res = s
            .app
            .clone()
            .oneshot(
                Request::get(format!("/domains/{OURS}/export/senders?format=csv"))
                    .header("cookie", &cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CONTENT_DISPOSITION],
            format!("attachment; filename=\"{OURS}-senders.csv\"")
        );
        let cookie = ("cookie", cookie.as_str());
        assert_eq!(
            download(&s.app, "/export/audit?format=csv", cookie).await.0,
            StatusCode::OK
        );
        let (status, _, body) = download(&s.app, &format!("/domains/{THEIRS}/export/senders"), cookie).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{}", s.label);
        assert!(!body.contains(THEIR_IP));
        let viewer = page_session(&s.app, &email("default", Role::Viewer)).await;
        let (status, _, _) = download(&s.app, "/export/audit", ("cookie", viewer.as_str())).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}

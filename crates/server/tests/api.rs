//! The web service over HTTP (in process): 401 without credentials on every
//! endpoint but /healthz; the IDOR matrix (another tenant's ids always
//! 404); the role matrix; CSRF; sessions ended by logout; every route of
//! the OpenAPI document served. On SQLite and, when MAILWARDEN_TEST_PG_URL
//! is set, on a real PostgreSQL.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use common::{OURS, PASSWORD, THEIRS, email, services};
use mailwarden_server::api::ROUTES;
use mailwarden_store::user::Role;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 10 << 20).await.unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// An API call; POSTs carry a JSON body with a reason.
async fn api(app: &Router, method: &str, uri: &str, token: Option<&str>) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = if method == "POST" && uri.ends_with("/alerts/destinations") {
        req = req.header(header::CONTENT_TYPE, "application/json");
        // Nothing listens on port 9 of loopback: a test alert fails fast.
        Body::from(json!({"type": "webhook", "target": "http://127.0.0.1:9/hook"}).to_string())
    } else if method == "POST" {
        req = req.header(header::CONTENT_TYPE, "application/json");
        // `domain`: the body of POST /domains (web-ops), ignored elsewhere.
        Body::from(json!({"reason": "checked by the test", "domain": OURS}).to_string())
    } else {
        Body::empty()
    };
    send(app, req.body(body).unwrap()).await
}

/// `/api/v1` + the route's path with `{domain}` filled in (and `{id}`
/// with a destination id no tenant has).
fn uri(path: &str, domain: &str) -> String {
    uri_with(path, domain, 999_999)
}

/// `/api/v1` + the route's path with `{domain}` and `{id}` filled in.
fn uri_with(path: &str, domain: &str, id: i64) -> String {
    format!(
        "/api/v1{}",
        path.replace("{domain}", domain).replace("{id}", &id.to_string())
    )
}

/// A webhook destination of `tenant` (nothing listens at its URL).
async fn destination(s: &common::Seeded, tenant: &str) -> i64 {
    let scope = mailwarden_store::tenant::scope_named(&s.store, tenant).await.unwrap();
    let hook = mailwarden_alert::Destination::webhook("http://127.0.0.1:9/hook", None).unwrap();
    mailwarden_store::tenant_alerts::add(&s.store, scope, &hook, "test")
        .await
        .unwrap()
}

#[tokio::test]
async fn every_endpoint_answers_401_without_credentials_except_healthz() {
    for s in services().await {
        for route in ROUTES {
            for token in [None, Some("mwt_not-a-token"), Some("garbage")] {
                let r = api(&s.app, &route.method.to_uppercase(), &uri(route.path, OURS), token).await;
                assert_eq!(
                    r.status,
                    StatusCode::UNAUTHORIZED,
                    "{} {} {}",
                    s.label,
                    route.method,
                    route.path
                );
                assert_eq!(r.headers[header::CONTENT_TYPE], "application/problem+json");
                assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap()["status"], 401);
            }
        }
        assert_eq!(
            api(&s.app, "GET", "/metrics", None).await.status,
            StatusCode::UNAUTHORIZED
        );
        let health = api(&s.app, "GET", "/healthz", None).await;
        assert_eq!(
            (health.status, health.body.as_str()),
            (StatusCode::OK, "ok\n"),
            "{}",
            s.label
        );
        // Pages without a session go to the login form.
        for page in ["/domains", &format!("/domains/{OURS}"), "/alerts", "/audit"] {
            let r = send(&s.app, Request::get(page).body(Body::empty()).unwrap()).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{page}");
            assert_eq!(r.headers[header::LOCATION], "/login");
        }
    }
}

#[tokio::test]
async fn idor_matrix_another_tenants_ids_answer_404_on_every_endpoint_for_every_role() {
    for s in services().await {
        let mut checked = 0;
        for role in Role::ALL {
            let token = &s.tokens[&("default", role)];
            for route in ROUTES.iter().filter(|r| r.path.contains("{domain}")) {
                for domain in [THEIRS, "theirs.example.", "THEIRS.EXAMPLE", "never-seen.example"] {
                    let r = api(
                        &s.app,
                        &route.method.to_uppercase(),
                        &uri(route.path, domain),
                        Some(token),
                    )
                    .await;
                    assert_eq!(
                        r.status,
                        StatusCode::NOT_FOUND,
                        "{} {:?} {} {}: {}",
                        s.label,
                        role,
                        route.method,
                        route.path,
                        r.body
                    );
                    checked += 1;
                }
            }
            // Their alert destination on every route that takes an id.
            let theirs = destination(&s, "acme").await;
            for route in ROUTES.iter().filter(|r| r.path.contains("{id}")) {
                let r = api(
                    &s.app,
                    &route.method.to_uppercase(),
                    &uri_with(route.path, OURS, theirs),
                    Some(token),
                )
                .await;
                assert_eq!(
                    r.status,
                    StatusCode::NOT_FOUND,
                    "{} {role:?} {} {}: {}",
                    s.label,
                    route.method,
                    route.path,
                    r.body
                );
                checked += 1;
            }
            // Their snapshot ids against our own domain's diff.
            for id in &s.their_snapshots {
                for q in [format!("from={id}"), format!("to={id}")] {
                    let r = api(&s.app, "GET", &format!("/api/v1/domains/{OURS}/diff?{q}"), Some(token)).await;
                    assert_eq!(r.status, StatusCode::NOT_FOUND, "{} diff {q}", s.label);
                    checked += 1;
                }
            }
            // Lists never show their rows.
            let list = api(&s.app, "GET", "/api/v1/domains", Some(token)).await;
            assert!(!list.body.contains(THEIRS), "{}", list.body);
        }
        assert!(checked >= 4 * 6 * 4, "the matrix ran ({checked} requests)");
        let baselines: i64 = mailwarden_store::count(&s.store, "SELECT COUNT(*) FROM baselines")
            .await
            .unwrap();
        assert_eq!(
            baselines, 0,
            "{}: no approval went through on another tenant's domain",
            s.label
        );
        let destinations: i64 = mailwarden_store::count(&s.store, "SELECT COUNT(*) FROM alert_destinations")
            .await
            .unwrap();
        assert_eq!(destinations, 4, "{}: none of acme's destinations was removed", s.label);
    }
}

#[tokio::test]
async fn role_matrix_viewer_and_auditor_cannot_approve_only_auditor_and_admin_read_the_audit_log() {
    for s in services().await {
        for role in Role::ALL {
            let token = &s.tokens[&("default", role)];
            let approve = api(
                &s.app,
                "POST",
                &format!("/api/v1/domains/{OURS}/baselines"),
                Some(token),
            )
            .await;
            let expected = if role.may_change() {
                StatusCode::CREATED
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(
                approve.status, expected,
                "{} {role:?} approve: {}",
                s.label, approve.body
            );
            let audit = api(&s.app, "GET", "/api/v1/audit", Some(token)).await;
            let expected = if matches!(role, Role::Auditor | Role::Admin) {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(audit.status, expected, "{} {role:?} audit: {}", s.label, audit.body);
            if audit.status == StatusCode::OK {
                let v: Value = serde_json::from_str(&audit.body).unwrap();
                assert_eq!(v["verification"]["ok"], true, "{}: {}", s.label, v["verification"]);
                assert!(
                    v["entries"]["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|e| e["domain"] != THEIRS)
                );
            }
            for admin_only in ["/api/v1/users", "/api/v1/tokens"] {
                let r = api(&s.app, "GET", admin_only, Some(token)).await;
                let expected = if role == Role::Admin {
                    StatusCode::OK
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(r.status, expected, "{} {role:?} {admin_only}", s.label);
                assert!(!r.body.contains("acme.example"), "{admin_only}: another tenant's rows");
            }
            // Alert destinations through the API: analysts and admins change them.
            let ours = destination(&s, "default").await;
            let changes = [
                ("POST", "/api/v1/alerts/destinations".to_owned(), StatusCode::CREATED),
                (
                    "POST",
                    format!("/api/v1/alerts/destinations/{ours}/test"),
                    StatusCode::OK,
                ),
                ("DELETE", format!("/api/v1/alerts/destinations/{ours}"), StatusCode::OK),
            ];
            for (method, path, allowed) in changes {
                let r = api(&s.app, method, &path, Some(token)).await;
                let expected = if role.may_change() {
                    allowed
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(r.status, expected, "{} {role:?} {method} {path}: {}", s.label, r.body);
            }
            // The scan reports are read by every role.
            for read in [
                "/api/v1/domains",
                "/api/v1/alerts",
                &format!("/api/v1/domains/{OURS}/history"),
                &format!("/api/v1/domains/{OURS}/report.html"),
                &format!("/api/v1/domains/{OURS}/report.sarif"),
            ] {
                assert_eq!(
                    api(&s.app, "GET", read, Some(token)).await.status,
                    StatusCode::OK,
                    "{role:?} {read}"
                );
            }
        }
        let approvals: i64 = mailwarden_store::count(&s.store, "SELECT COUNT(*) FROM baselines")
            .await
            .unwrap();
        assert_eq!(approvals, 2, "{}: the analyst's and the admin's", s.label);
    }
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_every_route_in_it_is_served() {
    for s in services().await {
        let token = &s.tokens[&("default", Role::Admin)];
        let r = api(&s.app, "GET", "/api/v1/openapi.json", Some(token)).await;
        assert_eq!(r.status, StatusCode::OK);
        let doc: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        let mut operations = 0;
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                assert!(op["operationId"].is_string() && op["responses"]["401"].is_object());
                // A destination of our own for each route that takes one.
                let id = destination(&s, "default").await;
                let r = api(&s.app, &method.to_uppercase(), &uri_with(path, OURS, id), Some(token)).await;
                assert!(
                    r.status.is_success(),
                    "{} {method} {path} is in the document but answers {}: {}",
                    s.label,
                    r.status,
                    r.body
                );
                let success = op["responses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .find(|(code, _)| code.starts_with('2'));
                let declared = success.unwrap().1["content"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .next()
                    .unwrap()
                    .clone();
                let served = r.headers[header::CONTENT_TYPE].to_str().unwrap();
                assert!(
                    served.starts_with(&declared),
                    "{method} {path}: {served}, documented {declared}"
                );
            }
        }
        assert_eq!(operations, ROUTES.len(), "one operation per route");
        // And a path not in the document is a problem+json 404.
        let r = api(&s.app, "GET", "/api/v1/nothing-here", Some(token)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn pagination_and_bad_parameters_answer_problem_json() {
    for s in services().await {
        let token = &s.tokens[&("default", Role::Viewer)];
        let page = api(&s.app, "GET", "/api/v1/domains?limit=1&offset=0", Some(token)).await;
        let v: Value = serde_json::from_str(&page.body).unwrap();
        assert_eq!(
            (v["total"].as_i64(), v["items"].as_array().unwrap().len()),
            (Some(1), 1)
        );
        for bad in ["limit=0", "limit=501", "offset=-1", "limit=x", "sort=size"] {
            let r = api(&s.app, "GET", &format!("/api/v1/domains?{bad}"), Some(token)).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(r.headers[header::CONTENT_TYPE], "application/problem+json");
        }
        let diff = api(&s.app, "GET", &format!("/api/v1/domains/{OURS}/diff"), Some(token)).await;
        let v: Value = serde_json::from_str(&diff.body).unwrap();
        assert_eq!(
            (v["from"].as_i64(), v["to"].as_i64()),
            (Some(s.our_snapshots[0]), Some(s.our_snapshots[1]))
        );
        assert!(diff.body.contains("mx2.ours.example"), "the MX change: {}", diff.body);
    }
}

/// A browser's session: cookies kept between requests.
struct Browser<'a> {
    app: &'a Router,
    cookies: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a Router) -> Self {
        Self {
            app,
            cookies: Vec::new(),
        }
    }

    async fn go(&mut self, method: &str, path: &str, form: &[(&str, &str)]) -> Reply {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "+").replace('@', "%40")))
            .collect();
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, cookie.join("; "))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.join("&")))
            .unwrap();
        let r = send(self.app, req).await;
        for set in r.headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, attrs) = set.split_once(';').unwrap();
            assert!(attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict"), "{set}");
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() {
                self.cookies.push((k.into(), v.into()));
            }
        }
        r
    }

    async fn log_in(&mut self, email: &str) -> Reply {
        let form = self.go("GET", "/login", &[]).await;
        let csrf = hidden_csrf(&form.body);
        self.go(
            "POST",
            "/login",
            &[("email", email), ("password", PASSWORD), ("csrf", &csrf)],
        )
        .await
    }
}

fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn forms_need_the_csrf_token_and_logout_ends_the_session_server_side() {
    for s in services().await {
        let mut b = Browser::new(&s.app);
        // The login form itself needs its double-submit token.
        let r = b
            .go(
                "POST",
                "/login",
                &[
                    ("email", &email("default", Role::Analyst)),
                    ("password", PASSWORD),
                    ("csrf", "x"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", s.label);
        let r = b.log_in(&email("default", Role::Analyst)).await;
        assert_eq!(
            (r.status, &r.headers[header::LOCATION]),
            (StatusCode::SEE_OTHER, &"/domains".parse().unwrap())
        );
        let history = b.go("GET", &format!("/domains/{OURS}/history"), &[]).await;
        assert_eq!(history.status, StatusCode::OK);
        let csrf = hidden_csrf(&history.body);
        let approve = format!("/domains/{OURS}/approve");
        for bad in [vec![("reason", "ok")], vec![("reason", "ok"), ("csrf", "wrong")]] {
            let r = b.go("POST", &approve, &bad).await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{}: approve without the CSRF token",
                s.label
            );
        }
        assert_eq!(
            mailwarden_store::count(&s.store, "SELECT COUNT(*) FROM baselines")
                .await
                .unwrap(),
            0
        );
        let r = b.go("POST", &approve, &[("reason", "reviewed"), ("csrf", &csrf)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(
            mailwarden_store::count(&s.store, "SELECT COUNT(*) FROM baselines")
                .await
                .unwrap(),
            1
        );
        // Another tenant's domain: 404 even with a valid token and role.
        let r = b
            .go(
                "POST",
                &format!("/domains/{THEIRS}/approve"),
                &[("reason", "x"), ("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(
            b.go("GET", &format!("/domains/{THEIRS}"), &[]).await.status,
            StatusCode::NOT_FOUND
        );

        let stolen = b.cookies.clone();
        assert_eq!(
            b.go("POST", "/logout", &[]).await.status,
            StatusCode::FORBIDDEN,
            "logout needs the token too"
        );
        assert_eq!(
            b.go("POST", "/logout", &[("csrf", &csrf)]).await.status,
            StatusCode::SEE_OTHER
        );
        let mut replay = Browser::new(&s.app);
        replay.cookies = stolen;
        let r = replay.go("GET", "/domains", &[]).await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "{}: the old cookie no longer works",
            s.label
        );
    }
}

#[tokio::test]
async fn idor_matrix_on_the_pages_another_tenants_domain_is_404_for_every_role() {
    for s in services().await {
        for role in Role::ALL {
            let mut b = Browser::new(&s.app);
            b.log_in(&email("default", role)).await;
            let csrf = hidden_csrf(&b.go("GET", "/domains", &[]).await.body);
            for domain in [THEIRS, "THEIRS.example.", "never-seen.example"] {
                for page in [format!("/domains/{domain}"), format!("/domains/{domain}/history")] {
                    let r = b.go("GET", &page, &[]).await;
                    assert_eq!(r.status, StatusCode::NOT_FOUND, "{} {role:?} {page}", s.label);
                }
                let r = b
                    .go(
                        "POST",
                        &format!("/domains/{domain}/approve"),
                        &[("reason", "x"), ("csrf", &csrf)],
                    )
                    .await;
                assert_eq!(r.status, StatusCode::NOT_FOUND, "{} {role:?} approve {domain}", s.label);
            }
            for id in &s.their_snapshots {
                let r = b.go("GET", &format!("/domains/{OURS}/history?from={id}"), &[]).await;
                assert_eq!(
                    r.status,
                    StatusCode::NOT_FOUND,
                    "{} {role:?} their snapshot {id}",
                    s.label
                );
            }
            let list = b.go("GET", "/domains", &[]).await;
            assert!(list.body.contains(OURS) && !list.body.contains(THEIRS));
        }
        assert_eq!(
            mailwarden_store::count(&s.store, "SELECT COUNT(*) FROM baselines")
                .await
                .unwrap(),
            0
        );
    }
}

#[tokio::test]
async fn only_an_admin_sees_users_and_tokens_and_revokes_only_its_tenants_tokens() {
    for s in services().await {
        for role in Role::ALL {
            let mut b = Browser::new(&s.app);
            b.log_in(&email("default", role)).await;
            let r = b.go("GET", "/admin", &[]).await;
            let expected = if role == Role::Admin {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(r.status, expected, "{} {role:?}", s.label);
        }
        let mut b = Browser::new(&s.app);
        b.log_in(&email("default", Role::Admin)).await;
        let page = b.go("GET", "/admin", &[]).await.body;
        assert!(
            page.contains(&email("default", Role::Viewer)) && !page.contains("acme.example"),
            "{page}"
        );
        let csrf = hidden_csrf(&page);
        let theirs = &s.tokens[&("acme", Role::Viewer)];
        let their_id: i64 =
            sqlx::query_scalar("SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.email = $1")
                .bind(email("acme", Role::Viewer))
                .fetch_one(s.store.pool())
                .await
                .unwrap();
        let r = b
            .go("POST", &format!("/admin/tokens/{their_id}/revoke"), &[("csrf", &csrf)])
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: another tenant's token", s.label);
        assert_eq!(
            api(&s.app, "GET", "/api/v1/domains", Some(theirs)).await.status,
            StatusCode::OK,
            "still live"
        );
        let ours = &s.tokens[&("default", Role::Viewer)];
        let our_id: i64 =
            sqlx::query_scalar("SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.email = $1")
                .bind(email("default", Role::Viewer))
                .fetch_one(s.store.pool())
                .await
                .unwrap();
        let r = b.go("POST", &format!("/admin/tokens/{our_id}/revoke"), &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF token");
        let r = b
            .go("POST", &format!("/admin/tokens/{our_id}/revoke"), &[("csrf", &csrf)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            api(&s.app, "GET", "/api/v1/domains", Some(ours)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn cookies_are_secure_behind_tls_and_not_on_plain_loopback() {
    for s in services().await {
        for (proxy, secure) in [(None, false), (Some("https"), true), (Some("http"), false)] {
            let mut req = Request::get("/login");
            if let Some(p) = proxy {
                req = req.header("x-forwarded-proto", p);
            }
            let r = send(&s.app, req.body(Body::empty()).unwrap()).await;
            let cookie = r.headers[header::SET_COOKIE].to_str().unwrap();
            assert_eq!(cookie.contains("; Secure"), secure, "{} {proxy:?}: {cookie}", s.label);
        }
    }
}

/// Two `serve` instances on one database (as behind a load balancer): a
/// session from one works on the other, and a logout on either ends it.
#[tokio::test]
async fn two_instances_on_one_database_share_sessions_and_logouts() {
    for s in services().await {
        let other_store = mailwarden_store::Store::open(&s.url).await.unwrap();
        let other = mailwarden_server::app(mailwarden_server::AppState::new(other_store, false), None);
        let mut a = Browser::new(&s.app);
        a.log_in(&email("default", Role::Viewer)).await;
        let csrf = hidden_csrf(&a.go("GET", "/domains", &[]).await.body);
        let mut b = Browser::new(&other);
        b.cookies = a.cookies.clone();
        assert_eq!(b.go("GET", "/domains", &[]).await.status, StatusCode::OK, "{}", s.label);
        assert_eq!(
            b.go("POST", "/logout", &[("csrf", &csrf)]).await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            a.go("GET", "/domains", &[]).await.status,
            StatusCode::SEE_OTHER,
            "{}: ended on both",
            s.label
        );
    }
}

#[tokio::test]
async fn pages_have_the_strict_csp_no_script_and_no_inline_style() {
    for s in services().await {
        let mut b = Browser::new(&s.app);
        b.log_in(&email("default", Role::Auditor)).await;
        for page in [
            "/domains",
            &format!("/domains/{OURS}"),
            &format!("/domains/{OURS}/history"),
            "/alerts",
            "/audit",
            "/login",
        ] {
            let r = b.go("GET", page, &[]).await;
            assert_eq!(r.status, StatusCode::OK, "{page}");
            assert_eq!(r.headers[header::CONTENT_SECURITY_POLICY], mailwarden_server::CSP);
            assert!(!r.body.contains("<script") && !r.body.contains("style="), "{page}");
        }
        let history = b.go("GET", &format!("/domains/{OURS}/history"), &[]).await;
        assert!(history.body.contains("<svg") && history.body.contains("mx2.ours.example"));
        assert!(
            !history.body.contains("id=\"approve\""),
            "an auditor gets no approve form"
        );
    }
}

#[tokio::test]
async fn repeated_failed_logins_are_rate_limited() {
    for s in services().await {
        let mut b = Browser::new(&s.app);
        let mut statuses = Vec::new();
        for _ in 0..=mailwarden_server::auth::LOGIN_ATTEMPTS {
            let form = b.go("GET", "/login", &[]).await;
            let csrf = hidden_csrf(&form.body);
            let r = b
                .go(
                    "POST",
                    "/login",
                    &[("email", "nobody@example.org"), ("password", "wrong"), ("csrf", &csrf)],
                )
                .await;
            statuses.push(r.status);
        }
        assert!(
            statuses[..statuses.len() - 1]
                .iter()
                .all(|s| *s == StatusCode::UNAUTHORIZED)
        );
        assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{}", s.label);
    }
}

/// The data layer is the only way to tenant data: handlers never call the
/// store's unscoped per-domain modules (a forgotten filter cannot be written).
#[test]
fn the_server_calls_no_unscoped_store_function() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for module in [
            "snapshot", "timeline", "baseline", "outbox", "events", "monitor", "ingest",
        ] {
            for call in [
                format!("{module}::list"),
                format!("{module}::read"),
                format!("{module}::load"),
                format!("{module}::approve"),
                format!("{module}::diff"),
                format!("{module}::list_alerts"),
                format!("{module}::list_events"),
            ] {
                assert!(
                    !text.contains(&call),
                    "{}: calls {call}; use tenant_data",
                    path.display()
                );
            }
        }
    }
}

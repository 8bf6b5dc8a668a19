//! Domain management and ownership from the web (issue 16), in process:
//! the API and the pages, the role, IDOR and CSRF rules, the audit log.
//! DNS answers come from an in-process fake (the real-peer test with NSD
//! and Unbound is crates/cli/tests/it/domain_ownership.rs). On SQLite and,
//! when MAILWARDEN_TEST_PG_URL is set, on a real PostgreSQL.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{OURS, Seeded, THEIRS, email, services};
use mailwarden_model::{Answer, BoxFuture, DnsSource, Proof, QueryKey, RData, SourceInfo, Status};
use mailwarden_server::ownership::DomainHooks;
use mailwarden_server::{AppState, app};
use mailwarden_store::events::list_events;
use mailwarden_store::user::Role;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Answers what the test set, NXDOMAIN otherwise.
#[derive(Default)]
struct FakeDns(Mutex<HashMap<String, Answer>>);

impl FakeDns {
    fn set(&self, name: &str, answer: Answer) {
        self.0.lock().unwrap().insert(name.into(), answer);
    }
}

impl DnsSource for FakeDns {
    fn query<'a>(&'a self, key: &'a QueryKey) -> BoxFuture<'a, Answer> {
        let answer = self.0.lock().unwrap().get(&key.name).cloned();
        Box::pin(async move { answer.unwrap_or_else(|| Answer::empty(Status::NxDomain, Proof::Insecure)) })
    }

    fn describe(&self) -> SourceInfo {
        SourceInfo {
            backend: "fake".into(),
            resolvers: Vec::new(),
            zone_files: Vec::new(),
            dnssec_validation: false,
        }
    }
}

fn txt(text: &str) -> Answer {
    Answer::with_records(
        vec![RData::Txt {
            strings: vec![text.into()],
        }],
        Proof::Insecure,
    )
}

fn with_dns(s: &Seeded) -> (Router, Arc<FakeDns>) {
    let dns = Arc::new(FakeDns::default());
    let hooks = DomainHooks {
        dns: Some(dns.clone()),
        check_flags: None,
    };
    (
        app(AppState::new(s.store.clone(), false).with_domain_hooks(hooks), None),
        dns,
    )
}

async fn call(app: &Router, method: &str, uri: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("/api/v1{uri}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn kinds(events: &[mailwarden_store::events::Event]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

#[tokio::test]
async fn an_analyst_adds_a_domain_and_shows_its_ownership_by_the_txt_token() {
    for s in services().await {
        let (app, dns) = with_dns(&s);
        let analyst = &s.tokens[&("default", Role::Analyst)];
        let add =
            json!({"domain": "New.Example.", "every": "30m", "scan_flags": ["--no-smtp", "--profile", "baseline"]});
        let (status, v) = call(&app, "POST", "/domains", analyst, Some(add)).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {v}", s.label);
        assert_eq!(v["monitor"]["every_secs"], 1800);
        let (_, list) = call(&app, "GET", "/domains?q=new.example", analyst, None).await;
        assert_eq!(list["total"], 1, "{list}");

        let (status, claim) = call(&app, "POST", "/domains/new.example/ownership", analyst, None).await;
        assert_eq!(status, StatusCode::CREATED, "{claim}");
        assert_eq!(claim["record"]["name"], "_mailwarden-challenge.new.example");
        let value = claim["record"]["value"].as_str().unwrap().to_owned();
        let name = "_mailwarden-challenge.new.example";

        let verify = |app: Router| {
            let token = analyst.clone();
            async move { call(&app, "POST", "/domains/new.example/ownership/verify", &token, None).await }
        };
        let (_, v) = verify(app.clone()).await;
        assert_eq!(v["outcome"]["outcome"], "missing", "{v}");
        dns.set(name, txt("mailwarden-verify=0123456789abcdef0123456789abcdef"));
        let (_, v) = verify(app.clone()).await;
        assert_eq!(v["outcome"]["outcome"], "mismatch", "{v}");
        dns.set(name, Answer::empty(Status::ServFail, Proof::Indeterminate));
        let (_, v) = verify(app.clone()).await;
        assert_eq!(v["outcome"]["outcome"], "indeterminate", "{v}");
        assert_eq!(
            v["ownership"]["state"], "pending",
            "SERVFAIL is not a failure nor a pass"
        );
        dns.set(name, txt(&value));
        let (status, v) = verify(app.clone()).await;
        assert_eq!(
            (status, &v["ownership"]["state"]),
            (StatusCode::OK, &json!("verified")),
            "{v}"
        );

        let events = list_events(&s.store, Some("new.example")).await.unwrap();
        assert_eq!(
            kinds(&events),
            ["monitor-added", "ownership-claimed", "ownership-verified"],
            "{}",
            s.label
        );
        let added = events[0].content.as_deref().unwrap();
        assert!(
            added.contains(&format!("web:{}", email("default", Role::Analyst))),
            "{added}"
        );

        let (status, _) = call(&app, "DELETE", "/domains/new.example", analyst, None).await;
        assert_eq!(status, StatusCode::OK);
        let events = list_events(&s.store, Some("new.example")).await.unwrap();
        assert_eq!(kinds(&events).last(), Some(&"monitor-removed"));
    }
}

#[tokio::test]
async fn roles_viewers_and_auditors_change_nothing_and_only_an_admin_overrides_with_a_reason() {
    for s in services().await {
        let (app, _) = with_dns(&s);
        for role in Role::ALL {
            let token = &s.tokens[&("default", role)];
            let changes = [
                ("POST", "/domains".to_string(), Some(json!({"domain": "r.example"}))),
                ("POST", format!("/domains/{OURS}/ownership"), None),
                ("POST", format!("/domains/{OURS}/ownership/verify"), None),
            ];
            for (method, uri, body) in changes {
                let (status, v) = call(&app, method, &uri, token, body).await;
                assert_eq!(
                    status.is_success(),
                    role.may_change(),
                    "{} {role:?} {uri}: {v}",
                    s.label
                );
                if !role.may_change() {
                    assert_eq!(status, StatusCode::FORBIDDEN);
                }
            }
            let reason = Some(json!({"reason": "signed contract 42"}));
            let (status, v) = call(
                &app,
                "POST",
                &format!("/domains/{OURS}/ownership/override"),
                token,
                reason,
            )
            .await;
            let expected = if role == Role::Admin {
                StatusCode::CREATED
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(status, expected, "{} {role:?} override: {v}", s.label);
            let (status, _) = call(&app, "GET", &format!("/domains/{OURS}/ownership"), token, None).await;
            assert_eq!(status, StatusCode::OK, "every role reads the claim");
        }
        let admin = &s.tokens[&("default", Role::Admin)];
        let (status, _) = call(
            &app,
            "POST",
            &format!("/domains/{OURS}/ownership/override"),
            admin,
            Some(json!({"reason": "  "})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a blank reason");
        let events = list_events(&s.store, Some(OURS)).await.unwrap();
        let over = events
            .iter()
            .find(|e| e.kind == "ownership-overridden")
            .expect("audit-logged");
        let content = over.content.as_deref().unwrap();
        assert!(content.contains("signed contract 42") && content.contains(&email("default", Role::Admin)));
        let (_, v) = call(&app, "GET", "/ownership", admin, None).await;
        assert_eq!(v["items"][0]["state"], "overridden", "{v}");
        assert_eq!(v["items"][0]["override_reason"], "signed contract 42");
    }
}

#[tokio::test]
async fn adding_another_tenants_domain_is_a_404_and_bad_settings_say_which_field() {
    for s in services().await {
        let (app, _) = with_dns(&s);
        let analyst = &s.tokens[&("default", Role::Analyst)];
        for name in [THEIRS, "THEIRS.example."] {
            let (status, v) = call(&app, "POST", "/domains", analyst, Some(json!({"domain": name}))).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{}: {v}", s.label);
            assert!(!v.to_string().contains("acme"), "never names the other tenant: {v}");
        }
        let acme = mailwarden_store::tenant::scope_named(&s.store, "acme").await.unwrap();
        let theirs = acme.domain(&s.store, THEIRS).await.unwrap().unwrap();
        let m = mailwarden_store::tenant_monitor::get(&s.store, &theirs)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.every_secs, m.origin.as_str()),
            (3600, "cli"),
            "their monitor unchanged"
        );
        // Another tenant who has shown ownership of an unmonitored name keeps it.
        mailwarden_store::ownership::override_claim(&s.store, acme, "shown.example", "a@acme", "why")
            .await
            .unwrap();
        let (status, _) = call(
            &app,
            "POST",
            "/domains",
            analyst,
            Some(json!({"domain": "shown.example"})),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        for (body, field) in [
            (json!({"domain": "ok.example", "every": "10s"}), "every"),
            (json!({"domain": "ok.example", "every": "often"}), "every"),
            (json!({"domain": "not a name"}), "domain"),
            (
                json!({"domain": "ok.example", "scan_flags": ["--zone-file", "/etc/passwd"]}),
                "--zone-file",
            ),
            (
                json!({"domain": "ok.example", "scan_flags": ["--allow-private-targets"]}),
                "--allow-private-targets",
            ),
            (json!({"every": "1h"}), "domain"),
        ] {
            let (status, v) = call(&app, "POST", "/domains", analyst, Some(body.clone())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
            assert!(v["detail"].as_str().unwrap().contains(field), "{body}: {v}");
        }
        let (_, list) = call(&app, "GET", "/domains?q=ok.example", analyst, None).await;
        assert_eq!(list["total"], 0, "nothing refused was stored");
    }
}

/// GET a page with the session cookie; (status, body, Location).
async fn page(app: &Router, cookie: &str, method: &str, uri: &str, form: &str) -> (StatusCode, String, String) {
    let (status, location, body) = common::http::form(app, method, uri, cookie, form).await;
    (status, body, location)
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_pages_add_claim_verify_and_override_with_csrf_and_roles() {
    for s in services().await {
        let (app, dns) = with_dns(&s);
        let analyst = common::page_session(&app, &email("default", Role::Analyst)).await;
        let (status, html, _) = page(&app, &analyst, "GET", "/domains/new", "").await;
        assert_eq!(status, StatusCode::OK);
        let csrf = csrf_of(&html);
        let form = "domain=web.example&every=2h&no_smtp=1&dkim_selector=s1";
        let (status, _, _) = page(&app, &analyst, "POST", "/domains/new", form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}: no CSRF token", s.label);
        let (status, _, at) = page(&app, &analyst, "POST", "/domains/new", &format!("{form}&csrf={csrf}")).await;
        assert_eq!(
            (status, at.as_str()),
            (StatusCode::SEE_OTHER, "/domains/web.example/manage?notice=added")
        );
        let (status, html, _) = page(
            &app,
            &analyst,
            "POST",
            "/domains/new",
            &format!("domain=x.example&every=1s&csrf={csrf}"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(html.contains("at least 1m"), "the form says what is wrong");

        let claim = "/domains/web.example/ownership/claim";
        assert_eq!(page(&app, &analyst, "POST", claim, "").await.0, StatusCode::FORBIDDEN);
        page(&app, &analyst, "POST", claim, &format!("csrf={csrf}")).await;
        let (_, html, _) = page(&app, &analyst, "GET", "/domains/web.example/manage", "").await;
        assert!(html.contains("--no-smtp --dkim-selector s1"), "the options shown");
        let record = html
            .split("id=\"ownership-record\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap();
        let token = record
            .split("mailwarden-verify=")
            .nth(1)
            .unwrap()
            .trim_end_matches("&quot;");
        dns.set(
            "_mailwarden-challenge.web.example",
            txt(&format!("mailwarden-verify={token}")),
        );
        let verify = "/domains/web.example/ownership/verify";
        let (_, _, at) = page(&app, &analyst, "POST", verify, &format!("csrf={csrf}")).await;
        assert_eq!(at, "/domains/web.example/manage?notice=verified", "{}", s.label);
        let (_, html, _) = page(&app, &analyst, "GET", "/domains/web.example/manage", "").await;
        assert!(html.contains("id=\"ownership-state\">verified<"));

        // A viewer: no forms, refused changes; another tenant's domain: 404.
        let viewer = common::page_session(&app, &email("default", Role::Viewer)).await;
        let (_, html, _) = page(&app, &viewer, "GET", &format!("/domains/{OURS}/manage"), "").await;
        assert!(!html.contains("ownership-claim") && !html.contains("ownership-override"));
        let vcsrf = csrf_of(&html);
        let (status, _, _) = page(
            &app,
            &viewer,
            "POST",
            &format!("/domains/{OURS}/ownership/claim"),
            &format!("csrf={vcsrf}"),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            page(&app, &viewer, "GET", "/domains/new", "").await.0,
            StatusCode::FORBIDDEN
        );
        for uri in [
            format!("/domains/{THEIRS}/manage"),
            "/domains/never.example/manage".into(),
        ] {
            assert_eq!(
                page(&app, &analyst, "GET", &uri, "").await.0,
                StatusCode::NOT_FOUND,
                "{uri}"
            );
        }
        for action in ["remove", "ownership/claim", "ownership/verify", "ownership/override"] {
            let uri = format!("/domains/{THEIRS}/{action}");
            let admin = common::page_session(&app, &email("default", Role::Admin)).await;
            let (_, html, _) = page(&app, &admin, "GET", "/domains/new", "").await;
            let form = format!("csrf={}&reason=mine", csrf_of(&html));
            assert_eq!(
                page(&app, &admin, "POST", &uri, &form).await.0,
                StatusCode::NOT_FOUND,
                "{uri}"
            );
        }

        // The admin overrides ours with a reason, from the form.
        let admin = common::page_session(&app, &email("default", Role::Admin)).await;
        let (_, html, _) = page(&app, &admin, "GET", &format!("/domains/{OURS}/manage"), "").await;
        assert!(html.contains("ownership-override"));
        let form = format!("csrf={}&reason=registrar+letter", csrf_of(&html));
        let (_, _, at) = page(
            &app,
            &admin,
            "POST",
            &format!("/domains/{OURS}/ownership/override"),
            &form,
        )
        .await;
        assert_eq!(at, format!("/domains/{OURS}/manage?notice=overridden"));
        let (_, _, at) = page(
            &app,
            &analyst,
            "POST",
            "/domains/web.example/remove",
            &format!("csrf={csrf}"),
        )
        .await;
        assert_eq!(at, "/domains/web.example/manage?notice=removed");
        let their_events = list_events(&s.store, Some(THEIRS)).await.unwrap();
        assert!(
            their_events
                .iter()
                .all(|e| !e.kind.starts_with("ownership") && e.kind != "monitor-removed")
        );
    }
}

fn gauge(text: &str, name: &str) -> i64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn metrics_read_the_queue_and_ownership_from_the_store_alike_in_every_process() {
    for s in services().await {
        let (app, _) = with_dns(&s);
        // A second process on the same database.
        let other = app_of(&s);
        let admin = &s.tokens[&("default", Role::Admin)];
        let scrape = |app: Router| scrape(app, admin.clone());
        let before = scrape(app.clone()).await;
        // Both seeded monitors were added now: due at once.
        assert_eq!(gauge(&before, "mailwarden_monitors_due"), 2, "{}: {before}", s.label);
        assert_eq!(gauge(&before, "mailwarden_domains_ownership_shown"), 0);
        assert_eq!(gauge(&before, "mailwarden_reports_imported"), 0);
        assert_eq!(gauge(&before, "mailwarden_job_batches_waiting"), 0);
        call(&app, "POST", "/domains", admin, Some(json!({"domain": "m.example"}))).await;
        let reason = Some(json!({"reason": "metrics test"}));
        call(&app, "POST", "/domains/m.example/ownership/override", admin, reason).await;
        let after = scrape(other).await;
        assert_eq!(gauge(&after, "mailwarden_monitors_due"), 3, "{}: {after}", s.label);
        assert_eq!(gauge(&after, "mailwarden_domains_ownership_shown"), 1);
    }
}

/// `GET /metrics` with an admin's token: the exposition.
async fn scrape(app: Router, token: String) -> String {
    let req = Request::get("/metrics")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Check a Prometheus text exposition line by line: comments are `# HELP`
/// or `# TYPE` (one TYPE per name, before its samples), every sample is
/// `name[{labels}] value` with a number; each histogram's buckets rise and
/// end with `+Inf` equal to its `_count`. Returns the samples.
fn parse_exposition(text: &str) -> std::collections::HashMap<String, f64> {
    let mut types = std::collections::HashMap::new();
    let mut samples = std::collections::HashMap::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("HELP"), Some(_), Some(_)) => {}
                (Some("TYPE"), Some(name), Some(t)) => {
                    assert!(["counter", "gauge", "histogram"].contains(&t), "{line}");
                    assert!(
                        types.insert(name.to_owned(), t.to_owned()).is_none(),
                        "TYPE twice: {line}"
                    );
                }
                _ => panic!("not a HELP or TYPE comment: {line}"),
            }
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        let name = key.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.is_empty(),
            "metric name: {line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "a sample before its TYPE: {line}");
        assert!(
            samples.insert(key.to_owned(), value).is_none(),
            "a sample twice: {line}"
        );
    }
    for (name, _) in types.iter().filter(|(_, t)| *t == "histogram") {
        let mut buckets: Vec<(f64, f64)> = samples
            .iter()
            .filter_map(|(k, v)| {
                let le = k.strip_prefix(&format!("{name}_bucket{{le=\""))?.strip_suffix("\"}")?;
                Some((
                    if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    },
                    *v,
                ))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{name}: buckets are cumulative"
        );
        assert_eq!(
            buckets.last().map(|b| b.0),
            Some(f64::INFINITY),
            "{name}: a +Inf bucket"
        );
        assert_eq!(
            buckets.last().map(|b| b.1),
            samples.get(&format!("{name}_count")).copied()
        );
        assert!(samples.contains_key(&format!("{name}_sum")));
    }
    samples
}

#[tokio::test]
async fn the_exposition_parses_and_the_scan_duration_histogram_counts_stored_scans() {
    for s in services().await {
        let app = app_of(&s);
        let admin = s.tokens[&("default", Role::Admin)].clone();
        let scrape = |app: Router| {
            let token = admin.clone();
            async move { parse_exposition(&scrape(app, token).await) }
        };
        let bucket = |m: &std::collections::HashMap<String, f64>, le: &str| {
            m[&format!("mailwarden_scan_duration_seconds_bucket{{le=\"{le}\"}}")]
        };
        // The seeded scans record no duration: nothing counted.
        let first = scrape(app.clone()).await;
        assert_eq!(first["mailwarden_scan_duration_seconds_count"], 0.0, "{}", s.label);
        common::store_scan(&s.store, OURS, "mx3.ours.example.", 1_500).await;
        let second = scrape(app.clone()).await;
        assert_eq!(second["mailwarden_scan_duration_seconds_count"], 1.0);
        assert_eq!((bucket(&second, "1"), bucket(&second, "2")), (0.0, 1.0));
        assert_eq!(second["mailwarden_scan_duration_seconds_sum"], 1.5);
        common::store_scan(&s.store, THEIRS, "mx3.theirs.example.", 45_000).await;
        let third = scrape(app.clone()).await;
        assert_eq!(
            third["mailwarden_scan_duration_seconds_count"], 2.0,
            "each scan read once"
        );
        assert_eq!((bucket(&third, "30"), bucket(&third, "60")), (1.0, 2.0));
        // Another process's first scrape reads the last day's scans.
        let other = scrape(app_of(&s)).await;
        assert_eq!(other["mailwarden_scan_duration_seconds_count"], 2.0);
    }
}

fn app_of(s: &Seeded) -> Router {
    app(AppState::new(s.store.clone(), false), None)
}

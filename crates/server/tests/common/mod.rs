//! A seeded service for the API and browser tests: tenants `default` and
//! `acme`, a user and token per role in each, and scanned domains (one
//! with two snapshots whose MX differs, so history shows a change).
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::collections::HashMap;

use axum::Router;
use mailwarden_model::{Answer, Finding, Observation, Outcome, Proof, QueryKey, RData, RType, Severity};
use mailwarden_server::{AppState, app};
use mailwarden_store::ingest::{AlertPolicy, ingest};
use mailwarden_store::snapshot::ScanInput;
use mailwarden_store::tenant::{self, TenantScope};
use mailwarden_store::user::{self, Role};
use mailwarden_store::{Store, monitor, token};
use serde_json::json;
use sqlx::Connection;

// webpages: imported reports for the senders and TLS pages; downloads.
pub mod http;
pub mod reports;

pub const PASSWORD: &str = "correct horse battery";
/// Tenant `default`'s domain (two snapshots, a changed MX) and acme's.
pub const OURS: &str = "ours.example";
pub const THEIRS: &str = "theirs.example";

pub struct Seeded {
    pub label: &'static str,
    /// The database URL, for a second process's store.
    pub url: String,
    pub store: Store,
    pub app: Router,
    /// (tenant name, role) → Bearer token.
    pub tokens: HashMap<(&'static str, Role), String>,
    /// Snapshot ids of THEIRS (acme's), for the IDOR matrix.
    pub their_snapshots: Vec<i64>,
    pub our_snapshots: Vec<i64>,
    _dir: tempfile::TempDir,
}

pub fn email(tenant: &str, role: Role) -> String {
    format!("{}@{tenant}.example", role.as_str())
}

fn scan(domain: &str, mx: &str, score: i64) -> ScanInput {
    let mut dns = mailwarden_model::Transcript::default();
    let answer = Answer::with_records(
        vec![RData::Mx {
            preference: 10,
            exchange: mx.into(),
        }],
        Proof::Insecure,
    );
    dns.insert(QueryKey::new(&format!("{domain}."), RType::Mx), answer);
    let mut f = Finding::new("dmarc.policy-none", Outcome::Fail, domain, "p=none enforces nothing");
    f.severity = Severity::High;
    ScanInput {
        observation: Observation {
            dns,
            ..Observation::new(domain)
        },
        findings: vec![f],
        scores: None,
        score: Some(score),
        profiles: json!([{"profile": "baseline", "verdict": "not-met"}]),
        scanner_version: "0.1.0".into(),
        catalogue_version: "c1".into(),
        at: time::OffsetDateTime::now_utc(),
    }
}

/// Monitor `domain` for the tenant and store one scan per MX host in `mx`.
pub async fn monitored(store: &Store, scope: TenantScope, domain: &str, mx: &[&str]) -> Vec<i64> {
    tenant::claim_domain(store, scope, domain).await.unwrap();
    monitor::add(store, domain, 3600, &[], "cli").await.unwrap();
    tenant::assign_monitor(store, scope, domain).await.unwrap();
    let mut ids = Vec::new();
    for (i, host) in mx.iter().enumerate() {
        let s = ingest(
            store,
            &scan(domain, host, 60 + 10 * i64::try_from(i).unwrap()),
            &AlertPolicy::default(),
            None,
        )
        .await
        .unwrap();
        ids.push(s.stored.id());
    }
    ids
}

/// Store one more scan of `domain` (MX `mx`) that took `duration_ms`; its snapshot id.
pub async fn store_scan(store: &Store, domain: &str, mx: &str, duration_ms: u64) -> i64 {
    let mut input = scan(domain, mx, 50);
    input.observation.duration_ms = Some(duration_ms);
    let stored = ingest(store, &input, &AlertPolicy::default(), None).await.unwrap();
    stored.stored.id()
}

/// One seeded service per backend: SQLite always, PostgreSQL when
/// MAILWARDEN_TEST_PG_URL names a server (tests/real-peers/postgres.sh).
pub async fn services() -> Vec<Seeded> {
    let mut urls = Vec::new();
    // The audit key path is process-wide: a file of this run under cargo's
    // scratch directory, never ~/.config.
    let scratch = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    mailwarden_store::audit_key::set_key_path(scratch.join(format!("web-audit-{}.key", std::process::id())));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("web.db");
    urls.push(("sqlite", format!("sqlite:{}", db.display())));
    if let Some(pg) = postgres_url().await {
        urls.push(("postgres", pg));
    }
    let mut out = Vec::new();
    let mut dirs = vec![dir];
    for (label, url) in urls {
        let dir = dirs.pop().unwrap_or_else(|| tempfile::tempdir().unwrap());
        out.push(seed(label, &url, dir).await);
    }
    out
}

async fn seed(label: &'static str, url: &str, dir: tempfile::TempDir) -> Seeded {
    let store = Store::open(url).await.unwrap();
    tenant::add(&store, "acme").await.unwrap();
    let mut tokens = HashMap::new();
    for name in ["default", "acme"] {
        let scope = tenant::scope_named(&store, name).await.unwrap();
        for role in Role::ALL {
            user::add(&store, scope, &email(name, role), role, PASSWORD)
                .await
                .unwrap();
            let (_, t) = token::create(&store, &email(name, role), None).await.unwrap();
            tokens.insert((name, role), t);
        }
    }
    let ours = tenant::scope_named(&store, "default").await.unwrap();
    let theirs = tenant::scope_named(&store, "acme").await.unwrap();
    let our_snapshots = monitored(&store, ours, OURS, &["mx1.ours.example.", "mx2.ours.example."]).await;
    let their_snapshots = monitored(&store, theirs, THEIRS, &["mx.theirs.example.", "mx9.theirs.example."]).await;
    Seeded {
        label,
        url: url.to_owned(),
        app: app(AppState::new(store.clone(), false), None),
        store,
        tokens,
        their_snapshots,
        our_snapshots,
        _dir: dir,
    }
}

/// A fresh database on the server at MAILWARDEN_TEST_PG_URL, if set.
async fn postgres_url() -> Option<String> {
    let base = std::env::var("MAILWARDEN_TEST_PG_URL").ok().filter(|u| !u.is_empty())?;
    let name = format!(
        "mw_web_{}_{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000
    );
    let mut admin = sqlx::postgres::PgConnection::connect(&base).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let (server, _) = base.rsplit_once('/').unwrap();
    Some(format!("{server}/{name}"))
}

/// Log `email` in through the form; the `Cookie` header of its session.
pub async fn page_session(app: &Router, email: &str) -> String {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt;
    let form = app
        .clone()
        .oneshot(Request::get("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let set = form.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    let csrf_cookie = set.split(';').next().unwrap().to_owned();
    let csrf = csrf_cookie.split_once('=').unwrap().1.to_owned();
    let body = format!(
        "email={}&password={}&csrf={csrf}",
        email.replace('@', "%40"),
        PASSWORD.replace(' ', "+")
    );
    let req = Request::post("/login")
        .header(header::COOKIE, csrf_cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("mw_session=") && c.len() > "mw_session=".len())
        .expect("logged in")
}

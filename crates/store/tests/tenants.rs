//! Tenants, users, sessions and API tokens (issue 16), and the tenant
//! scoping of domain data; on SQLite and, when MAILWARDEN_TEST_PG_URL is
//! set, on a real PostgreSQL.

mod common;

use mailwarden_model::{Finding, Observation, Outcome, Severity};
use mailwarden_store::ingest::{AlertPolicy, ingest};
use mailwarden_store::snapshot::ScanInput;
use mailwarden_store::user::{self, Refusal, Role};
use mailwarden_store::{Store, monitor, session, tenant, tenant_data, token};
use serde_json::json;

fn scan(domain: &str) -> ScanInput {
    let mut f = Finding::new("spf.present", Outcome::Fail, domain, "no SPF record");
    f.severity = Severity::High;
    ScanInput {
        observation: Observation::new(domain),
        findings: vec![f],
        scores: None,
        score: Some(40),
        profiles: json!([{"profile": "baseline", "verdict": "not-met"}]),
        scanner_version: "0.1.0".into(),
        catalogue_version: "c1".into(),
        at: time::OffsetDateTime::now_utc(),
    }
}

fn key_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    mailwarden_store::audit_key::set_key_path(dir.path().join("audit.key"));
    dir
}

/// Tenant `name` with a monitored, scanned domain `domain`.
async fn tenant_with_domain(store: &Store, name: &str, domain: &str) -> tenant::TenantScope {
    let scope = match tenant::scope_named(store, name).await {
        Ok(s) => s,
        Err(_) => {
            tenant::add(store, name).await.unwrap();
            tenant::scope_named(store, name).await.unwrap()
        }
    };
    tenant::claim_domain(store, scope, domain).await.unwrap();
    monitor::add(store, domain, 3600, &[], "cli").await.unwrap();
    tenant::assign_monitor(store, scope, domain).await.unwrap();
    ingest(store, &scan(domain), &AlertPolicy::default(), None)
        .await
        .unwrap();
    scope
}

#[tokio::test]
async fn the_default_tenant_exists_and_a_second_makes_the_cli_ask_which() {
    for db in common::stores().await {
        let store = &db.store;
        let only = tenant::scope_for_cli(store, None).await.unwrap();
        assert_eq!(only.id(), 1, "{}", db.label);
        let acme = tenant::add(store, "acme").await.unwrap();
        assert_eq!(acme.id, 2, "{}: ids after the default start at 2", db.label);
        let err = tenant::scope_for_cli(store, None).await.unwrap_err().to_string();
        assert!(err.contains("--tenant"), "{}: {err}", db.label);
        assert_eq!(tenant::scope_for_cli(store, Some("acme")).await.unwrap().id(), 2);
        assert!(tenant::scope_named(store, "nobody").await.is_err());
        assert!(tenant::add(store, "acme").await.is_err(), "a name is used once");
    }
}

#[tokio::test]
async fn a_tenant_sees_only_its_domains_and_rows_carry_its_id() {
    let _keys = key_dir();
    for db in common::stores().await {
        let store = &db.store;
        let one = tenant_with_domain(store, "default", "one.example").await;
        let two = tenant_with_domain(store, "two", "two.example").await;
        let names = |v: Vec<tenant_data::DomainSummary>| v.into_iter().map(|d| d.domain).collect::<Vec<_>>();
        assert_eq!(names(tenant_data::domains(store, one).await.unwrap()), ["one.example"]);
        assert_eq!(names(tenant_data::domains(store, two).await.unwrap()), ["two.example"]);
        assert!(
            one.domain(store, "two.example").await.unwrap().is_none(),
            "{}",
            db.label
        );
        let owned = two
            .domain(store, "TWO.example.")
            .await
            .unwrap()
            .expect("its own domain");
        assert_eq!(
            tenant_data::detail(store, &owned)
                .await
                .unwrap()
                .unwrap()
                .findings
                .len(),
            1
        );
        let tenant_of_snapshot: i64 =
            sqlx::query_scalar("SELECT tenant_id FROM snapshots WHERE domain = 'two.example'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(
            tenant_of_snapshot,
            two.id(),
            "{}: the snapshot is the monitor's tenant's",
            db.label
        );
        tenant_data::approve(store, &owned, "a@two", "checked").await.unwrap();
        let tenant_of_baseline: i64 = sqlx::query_scalar("SELECT tenant_id FROM baselines")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(tenant_of_baseline, two.id());
        let err = tenant::claim_domain(store, one, "two.example")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("belongs to tenant \"two\""), "{err}");
        let page = tenant_data::Page { limit: 50, offset: 0 };
        let audit = tenant_data::audit_events(store, one, page).await.unwrap();
        assert!(
            audit.items.iter().all(|e| e.domain.as_deref() != Some("two.example")),
            "{}: another tenant's events leaked",
            db.label
        );
    }
}

#[tokio::test]
async fn a_login_locks_after_five_failures_and_the_right_password_resets_the_count() {
    for db in common::stores().await {
        let store = &db.store;
        let scope = tenant::scope_for_cli(store, None).await.unwrap();
        user::add(store, scope, "Ana@Example.org", Role::Analyst, "correct horse")
            .await
            .unwrap();
        let now = time::OffsetDateTime::now_utc();
        let ok = user::login(store, "ana@example.org", "correct horse", now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((ok.role, ok.scope), (Role::Analyst, scope));
        assert_eq!(
            user::login(store, "nobody@example.org", "x", now).await.unwrap(),
            Err(Refusal::Unknown)
        );
        for _ in 0..user::LOCK_AFTER {
            assert_eq!(
                user::login(store, "ana@example.org", "wrong", now).await.unwrap(),
                Err(Refusal::WrongPassword)
            );
        }
        assert_eq!(
            user::login(store, "ana@example.org", "correct horse", now)
                .await
                .unwrap(),
            Err(Refusal::Locked),
            "{}: locked even with the right password",
            db.label
        );
        let later = now + user::LOCK_FOR + time::Duration::seconds(1);
        assert!(
            user::login(store, "ana@example.org", "correct horse", later)
                .await
                .unwrap()
                .is_ok()
        );
        assert!(
            user::add(store, scope, "short@example.org", Role::Viewer, "short")
                .await
                .is_err()
        );
        let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'ana@example.org'")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
    }
}

#[tokio::test]
async fn sessions_and_tokens_authenticate_until_revoked_or_expired() {
    for db in common::stores().await {
        let store = &db.store;
        let scope = tenant::scope_for_cli(store, None).await.unwrap();
        user::add(store, scope, "v@example.org", Role::Viewer, "long enough")
            .await
            .unwrap();
        let who = user::principal(store, "v@example.org").await.unwrap();
        let s = session::create(store, &who, time::Duration::hours(1)).await.unwrap();
        let (found, csrf) = session::lookup(store, &s.secret).await.unwrap().unwrap();
        assert_eq!((found.user_id, csrf), (who.user_id, s.csrf_token.clone()));
        assert!(session::revoke(store, &s.secret).await.unwrap());
        assert!(
            session::lookup(store, &s.secret).await.unwrap().is_none(),
            "{}",
            db.label
        );
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE secret_hash = $1")
            .bind(&s.secret)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(stored, 0, "the secret itself is never stored");

        let (id, t) = token::create(store, "v@example.org", None).await.unwrap();
        assert!(t.starts_with(token::PREFIX));
        assert_eq!(
            token::authenticate(store, &t).await.unwrap().unwrap().email,
            "v@example.org"
        );
        assert!(token::authenticate(store, "mwt_0000").await.unwrap().is_none());
        assert!(token::revoke(store, id).await.unwrap());
        assert!(token::authenticate(store, &t).await.unwrap().is_none(), "{}", db.label);
        let (_, expired) = token::create(store, "v@example.org", Some(time::Duration::seconds(-1)))
            .await
            .unwrap();
        assert!(token::authenticate(store, &expired).await.unwrap().is_none());
    }
}

//! Domain ownership (issue 16): claims, checks, admin overrides and the
//! gate reports and alerts ask; on SQLite and, when MAILWARDEN_TEST_PG_URL
//! is set, on a real PostgreSQL.

mod common;

use mailwarden_store::events::list_events;
use mailwarden_store::ownership::{self, CheckOutcome};
use mailwarden_store::{monitor, tenant};

#[tokio::test]
async fn a_claim_is_pending_until_the_token_is_seen_and_then_gates_reports() {
    for db in common::stores().await {
        let store = &db.store;
        let scope = tenant::scope_named(store, "default").await.unwrap();
        let claim = ownership::claim(store, scope, "owned.example").await.unwrap();
        assert_eq!(claim.state, "pending", "{}", db.label);
        assert!(
            claim
                .record()
                .starts_with("_mailwarden-challenge.owned.example. TXT \"mailwarden-verify=")
        );
        // Claiming again keeps the token already published.
        let again = ownership::claim(store, scope, "owned.example").await.unwrap();
        assert_eq!(again.token, claim.token);

        let refused = ownership::require_shown(store, scope, "owned.example")
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("ownership not shown yet"), "{refused}");
        let unclaimed = ownership::require_shown(store, scope, "other.example")
            .await
            .unwrap_err();
        assert!(
            unclaimed.to_string().contains("domain claim other.example"),
            "{unclaimed}"
        );

        // A failed and an indeterminate check change nothing but the note.
        let o = ownership::record_check(store, scope, "owned.example", &CheckOutcome::Missing("NXDOMAIN".into()))
            .await
            .unwrap();
        assert_eq!(o.state, "pending");
        assert!(o.last_check.unwrap().starts_with("failed"));
        let o = ownership::record_check(
            store,
            scope,
            "owned.example",
            &CheckOutcome::Indeterminate("ServFail".into()),
        )
        .await
        .unwrap();
        assert_eq!(o.state, "pending");
        assert!(o.last_check.unwrap().starts_with("indeterminate"));

        let o = ownership::record_check(store, scope, "owned.example", &CheckOutcome::Verified)
            .await
            .unwrap();
        assert_eq!((o.state.as_str(), o.verified_by.as_deref()), ("verified", Some("dns")));
        ownership::require_shown(store, scope, "OWNED.example.").await.unwrap();
        // A later failed check leaves a shown ownership shown.
        let o = ownership::record_check(store, scope, "owned.example", &CheckOutcome::Missing("gone".into()))
            .await
            .unwrap();
        assert_eq!(o.state, "verified");

        let kinds: Vec<String> = list_events(store, Some("owned.example"))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["ownership-claimed", "ownership-verified"], "{}", db.label);
    }
}

#[tokio::test]
async fn an_admin_override_is_audit_logged_with_its_reason() {
    for db in common::stores().await {
        let store = &db.store;
        let scope = tenant::scope_named(store, "default").await.unwrap();
        let blank = ownership::override_claim(store, scope, "vouched.example", "admin@x", "  ").await;
        assert!(blank.unwrap_err().to_string().contains("--reason"));
        let o = ownership::override_claim(store, scope, "vouched.example", "admin@x", "contract #42 shows it")
            .await
            .unwrap();
        assert_eq!(o.state, "overridden");
        assert_eq!(o.verified_by.as_deref(), Some("admin@x"));
        ownership::require_shown(store, scope, "vouched.example").await.unwrap();
        let events = list_events(store, Some("vouched.example")).await.unwrap();
        let last = events.last().unwrap();
        assert_eq!(last.kind, "ownership-overridden");
        let content = last.content.as_deref().unwrap();
        assert!(
            content.contains("contract #42 shows it") && content.contains("admin@x"),
            "{content}"
        );
        let verified = mailwarden_store::audit_log::verify(store, None).await.unwrap();
        assert!(verified.outcome.is_ok(), "{}: the log verifies", db.label);
    }
}

#[tokio::test]
async fn another_tenants_domain_cannot_be_claimed_and_claims_are_per_tenant() {
    for db in common::stores().await {
        let store = &db.store;
        let default = tenant::scope_named(store, "default").await.unwrap();
        tenant::add(store, "beta").await.unwrap();
        let beta = tenant::scope_named(store, "beta").await.unwrap();
        // beta monitors it: default may not claim it.
        monitor::add(store, "beta.example", 3600, &[], "cli").await.unwrap();
        tenant::assign_monitor(store, beta, "beta.example").await.unwrap();
        let err = ownership::claim(store, default, "beta.example").await.unwrap_err();
        assert!(err.to_string().contains("belongs to tenant \"beta\""), "{err}");
        // beta shows ownership of an unmonitored name: default may not claim it.
        ownership::override_claim(store, beta, "shown.example", "a@b", "why")
            .await
            .unwrap();
        let err = ownership::claim(store, default, "shown.example").await.unwrap_err();
        assert!(err.to_string().contains("another tenant"), "{err}");
        // Nor does default see beta's claims or pass its gate.
        assert!(ownership::list(store, default).await.unwrap().is_empty());
        assert!(ownership::require_shown(store, default, "shown.example").await.is_err());
        assert_eq!(ownership::list(store, beta).await.unwrap().len(), 1);
        // A check of a domain never claimed is a clear error.
        let err = ownership::record_check(store, default, "never.example", &CheckOutcome::Verified)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not claimed"), "{err}");
    }
}

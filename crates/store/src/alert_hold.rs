//! The ownership gate on alerts (issue 16: "A domain can be added for
//! reports and alerts only after its ownership is shown"). A destination
//! added through the web or the API (`added_by` = `web:<email>`) gets an
//! alert about domain D only once the alert's tenant has shown ownership
//! of D ([`crate::ownership::Ownership::is_shown`]: verified by the DNS TXT
//! token, or an admin override). Until then its delivery is *held*: not
//! attempted, no attempt counted, no retry backoff used, the reason
//! recorded. Destinations the operator adds with `mailwarden alert add`
//! (`cli`, or NULL from before migration 0330) are not gated: whoever runs
//! the CLI holds the database, as with `mailwarden reports import`.
//!
//! An alert that is held at every destination that has not yet taken it
//! leaves `pending` for the outbox state `held`, rather than staying
//! `pending` and being re-checked each pass: a pass reads at most a batch
//! of due alerts in id order, so a few hundred held alerts would fill
//! every batch and starve the alerts behind them. A held alert is never
//! leased, so re-opening it needs no lease check: `reopen_shown` (each
//! delivery pass; one query per held domain) puts the alerts whose
//! ownership is now shown back to `pending`, due at once; `reopen_tenant`
//! does so for a tenant whose destinations change (a new CLI destination
//! takes them now; a removed web destination no longer holds them).

use time::OffsetDateTime;

use crate::tenant::TenantScope;
use crate::{Store, StoreError, Tx, clock, ownership};

/// `added_by` of the destinations `mailwarden alert add` adds.
pub const CLI_ORIGIN: &str = "cli";
/// What `added_by` of a destination added through the web starts with.
pub const WEB_PREFIX: &str = "web:";

/// `added_by` of a destination added through the web by `email`.
pub fn web_origin(email: &str) -> String {
    format!("{WEB_PREFIX}{email}")
}

/// Whether a destination of this origin gets an alert about a domain only
/// once ownership of the domain is shown. Pure.
pub fn needs_ownership(added_by: Option<&str>) -> bool {
    added_by.is_some_and(|a| a.starts_with(WEB_PREFIX))
}

/// Why a delivery about `domain` is held, in words for `alert list` and
/// the alerts pages. Pure.
pub fn held_reason(domain: &str) -> String {
    format!(
        "held: ownership of {domain} not shown by this tenant (publish the TXT record from \
         `mailwarden domain claim {domain}` and verify it, or an admin override)"
    )
}

/// Whether tenant `tenant_id` has shown ownership of `domain`.
pub(crate) async fn shown(store: &Store, tenant_id: i64, domain: &str) -> Result<bool, StoreError> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let claim = ownership::get(store, TenantScope::from_stored(tenant_id), &domain).await?;
    Ok(claim.is_some_and(|o| o.is_shown()))
}

/// Puts the held alerts whose tenant has shown ownership of their domain
/// back to `pending`, due at `now`; how many.
pub(crate) async fn reopen_shown(store: &Store, now: OffsetDateTime) -> Result<u64, StoreError> {
    let held: Vec<(i64, String)> =
        sqlx::query_as("SELECT DISTINCT tenant_id, domain FROM alert_outbox WHERE state = 'held'")
            .fetch_all(store.pool())
            .await?;
    let mut reopened = 0;
    for (tenant_id, domain) in held {
        if !shown(store, tenant_id, &domain).await? {
            continue;
        }
        let mut tx = store.begin().await?;
        let done = sqlx::query(
            "UPDATE alert_outbox SET state = 'pending', next_attempt_at = $1
             WHERE state = 'held' AND tenant_id = $2 AND domain = $3",
        )
        .bind(clock::stamp(now))
        .bind(tenant_id)
        .bind(&domain)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        reopened += done.rows_affected();
    }
    Ok(reopened)
}

/// Puts the held alerts of `tenant_id` (every tenant's when `None`) back
/// to `pending`, due now, in the transaction that changes its destinations.
pub(crate) async fn reopen_tenant(tx: &mut Tx<'_>, tenant_id: Option<i64>) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE alert_outbox SET state = 'pending', next_attempt_at = $1
         WHERE state = 'held' AND ($2 IS NULL OR tenant_id = $2)",
    )
    .bind(clock::now())
    .bind(tenant_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_added_destinations_need_ownership() {
        assert!(needs_ownership(Some(&web_origin("ann@example.com"))));
        assert!(needs_ownership(Some("web:")), "web-added, its audit event erased");
        assert!(!needs_ownership(Some(CLI_ORIGIN)));
        assert!(!needs_ownership(None), "added by the CLI before migration 0330");
        assert!(!needs_ownership(Some("webhook")), "only the exact prefix");
    }

    #[test]
    fn the_held_reason_names_the_domain_and_what_to_do() {
        let why = held_reason("example.com");
        assert!(why.starts_with("held: ownership of example.com not shown"), "{why}");
        assert!(
            why.contains("domain claim example.com") && why.contains("override"),
            "{why}"
        );
    }
}

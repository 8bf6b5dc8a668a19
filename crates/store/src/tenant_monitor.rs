//! Monitors changed through a tenant's scope (issue 16, the web's domain
//! management): adding one makes the domain the tenant's (refused when it
//! is another tenant's), removing one needs the [`OwnedDomain`]. The
//! `monitor` module itself stays unscoped for the CLI's operator commands.

use crate::ownership::shown_by_another;
use crate::tenant::{OwnedDomain, TenantScope, assign_monitor, claim_domain};
use crate::{Store, StoreError, monitor};

/// Why a scoped add was refused.
#[derive(Debug, thiserror::Error)]
pub enum AddRefused {
    /// The domain is another tenant's: callers answer as for a missing
    /// object and never name the other tenant.
    #[error("the domain belongs to another tenant")]
    OtherTenant,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Monitor `domain` (normalised by the caller) for the tenant every
/// `every_secs` with `scan_flags`; updates the tenant's own monitor.
pub async fn add(
    store: &Store,
    scope: TenantScope,
    domain: &str,
    every_secs: i64,
    scan_flags: &[String],
    origin: &str,
) -> Result<OwnedDomain, AddRefused> {
    if claim_domain(store, scope, domain).await.is_err() || shown_by_another(store, scope, domain).await? {
        return Err(AddRefused::OtherTenant);
    }
    monitor::add(store, domain, every_secs, scan_flags, origin).await?;
    assign_monitor(store, scope, domain).await?;
    scope
        .domain(store, domain)
        .await?
        .ok_or_else(|| AddRefused::Store(StoreError::Corrupt(format!("{domain}: the monitor just added is gone"))))
}

/// Stop monitoring one of the tenant's domains (its history stays).
/// Returns false when it was scanned but not monitored.
pub async fn remove(store: &Store, domain: &OwnedDomain) -> Result<bool, StoreError> {
    monitor::remove(store, domain.name()).await
}

/// The tenant's monitor of `domain`, if it has one.
pub async fn get(store: &Store, domain: &OwnedDomain) -> Result<Option<monitor::Monitor>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT domain, every_secs, options, origin, added_at, next_due_at FROM monitors
         WHERE tenant_id = $1 AND domain = $2",
    )
    .bind(domain.tenant().id())
    .bind(domain.name())
    .fetch_optional(store.pool())
    .await?)
}

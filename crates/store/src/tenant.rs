//! Tenants (issue 16): every domain row belongs to one, and every read of
//! tenant data goes through a [`TenantScope`]. A scope cannot be made from
//! a bare id outside this crate: only by naming a tenant that exists
//! ([`scope_named`], [`scope_for_cli`]) or by authenticating
//! ([`crate::session`], [`crate::token`]). The per-domain reads of
//! [`crate::tenant_data`] need an [`OwnedDomain`], which only
//! [`TenantScope::domain`] makes after checking the domain is the tenant's,
//! so a query over tenant data without its scope cannot be written:
//!
//! ```compile_fail
//! // A scope from a bare id does not compile (the field is private) ...
//! let scope = mailwarden_store::tenant::TenantScope { id: 2 };
//! ```
//!
//! ```compile_fail
//! // ... nor does a domain that skipped the ownership check.
//! let d = mailwarden_store::tenant::OwnedDomain { tenant: todo!(), name: "example.com".into() };
//! ```
//!
//! A domain belongs to one tenant: the tenant of its monitor, and of its
//! stored snapshots, approvals and alerts (each row carries `tenant_id`).

use serde::Serialize;

use crate::{Store, StoreError, clock};

/// The tenant every row stored before tenants existed belongs to.
pub const DEFAULT_TENANT: &str = "default";

/// Proof that the holder may read and change one tenant's data. Made only
/// by this crate (by name, or from an authenticated session or token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantScope {
    id: i64,
}

impl TenantScope {
    /// Made inside the crate only, from a tenant id read from the database.
    pub(crate) fn from_stored(id: i64) -> Self {
        Self { id }
    }

    /// The tenant's id (for display and for binding in this crate's queries).
    pub fn id(self) -> i64 {
        self.id
    }

    /// `name` as one of this tenant's domains, or `None` when the tenant
    /// has neither a monitor nor a stored scan of it (another tenant's
    /// domain and an unknown one look the same: callers answer 404).
    pub async fn domain(self, store: &Store, name: &str) -> Result<Option<OwnedDomain>, StoreError> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let owner = owner_of(store, &name).await?;
        Ok((owner == Some(self.id)).then_some(OwnedDomain { tenant: self, name }))
    }
}

/// A domain checked to belong to a tenant ([`TenantScope::domain`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedDomain {
    tenant: TenantScope,
    name: String,
}

impl OwnedDomain {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tenant(&self) -> TenantScope {
        self.tenant
    }
}

/// One tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Tenant {
    pub id: i64,
    pub name: String,
    pub created_at: String,
}

/// The tenant owning `domain` (its monitor's, else its snapshots'), if any.
pub(crate) async fn owner_of(store: &Store, domain: &str) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT tenant_id FROM monitors WHERE domain = $1
         UNION ALL SELECT tenant_id FROM snapshots WHERE domain = $1
         LIMIT 1",
    )
    .bind(domain)
    .fetch_optional(store.pool())
    .await?)
}

/// Create a tenant; refuses a name in use or a blank one.
pub async fn add(store: &Store, name: &str) -> Result<Tenant, StoreError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(StoreError::NotFound(format!(
            "tenant name {name:?}: expected 1 to 100 printable characters"
        )));
    }
    if find(store, name).await?.is_some() {
        return Err(StoreError::NotFound(format!("tenant {name:?} exists already")));
    }
    let created_at = clock::now();
    let id: i64 = sqlx::query_scalar("INSERT INTO tenants (name, created_at) VALUES ($1, $2) RETURNING id")
        .bind(name)
        .bind(&created_at)
        .fetch_one(store.pool())
        .await?;
    Ok(Tenant {
        id,
        name: name.into(),
        created_at,
    })
}

/// Every tenant, by id.
pub async fn list(store: &Store) -> Result<Vec<Tenant>, StoreError> {
    Ok(sqlx::query_as("SELECT id, name, created_at FROM tenants ORDER BY id")
        .fetch_all(store.pool())
        .await?)
}

async fn find(store: &Store, name: &str) -> Result<Option<Tenant>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, name, created_at FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(store.pool())
            .await?,
    )
}

/// The scope of the tenant called `name`.
pub async fn scope_named(store: &Store, name: &str) -> Result<TenantScope, StoreError> {
    match find(store, name).await? {
        Some(t) => Ok(TenantScope::from_stored(t.id)),
        None => {
            let known: Vec<String> = list(store).await?.into_iter().map(|t| t.name).collect();
            Err(StoreError::NotFound(format!(
                "--tenant {name:?}: no such tenant (tenants: {}; `mailwarden tenant add NAME` makes one)",
                known.join(", ")
            )))
        }
    }
}

/// The scope a CLI command works in: `--tenant NAME` if given, else the
/// only tenant there is; with several and none named, a clear refusal.
pub async fn scope_for_cli(store: &Store, name: Option<&str>) -> Result<TenantScope, StoreError> {
    if let Some(name) = name {
        return scope_named(store, name).await;
    }
    let all = list(store).await?;
    match all.as_slice() {
        [only] => Ok(TenantScope::from_stored(only.id)),
        _ => Err(StoreError::NotFound(format!(
            "there are {} tenants ({}): say which with --tenant NAME",
            all.len(),
            all.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Make `domain` the tenant's: refused when another tenant owns it (one
/// domain, one owner, so its history never mixes two tenants' rows).
/// Rows already stored for it under this tenant stay; none move.
pub async fn claim_domain(store: &Store, scope: TenantScope, domain: &str) -> Result<(), StoreError> {
    match owner_of(store, domain).await? {
        Some(owner) if owner != scope.id => {
            let name: String = sqlx::query_scalar("SELECT name FROM tenants WHERE id = $1")
                .bind(owner)
                .fetch_one(store.pool())
                .await?;
            Err(StoreError::NotFound(format!(
                "{domain}: belongs to tenant {name:?}; a domain has one tenant"
            )))
        }
        _ => Ok(()),
    }
}

/// After `monitor::add` of a claimed domain: its monitor row is the tenant's.
pub async fn assign_monitor(store: &Store, scope: TenantScope, domain: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE monitors SET tenant_id = $1 WHERE domain = $2")
        .bind(scope.id)
        .bind(domain)
        .execute(store.pool())
        .await?;
    Ok(())
}

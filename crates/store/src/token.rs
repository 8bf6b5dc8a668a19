//! API tokens (issue 16): `Authorization: Bearer mwt_...`. Shown once at
//! creation, stored as their SHA-256 (256 random bits need no slow hash),
//! with an optional expiry and a revocation time.

use serde::Serialize;

use crate::session::{digest, random_secret};
use crate::user::{self, Principal};
use crate::{Store, StoreError, clock};

/// What every token starts with, so a leaked one is recognisable (secret scanners).
pub const PREFIX: &str = "mwt_";

/// A token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: i64,
    pub email: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// Create a token for the user `email`, expiring after `lifetime` if given.
/// Returns its id and the token (the only time it is seen).
pub async fn create(store: &Store, email: &str, lifetime: Option<time::Duration>) -> Result<(i64, String), StoreError> {
    let who = user::principal(store, email).await?;
    let token = format!("{PREFIX}{}", random_secret()?);
    let now = time::OffsetDateTime::now_utc();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(who.user_id)
    .bind(digest(&token))
    .bind(clock::stamp(now))
    .bind(lifetime.map(|l| clock::stamp(now + l)))
    .fetch_one(store.pool())
    .await?;
    Ok((id, token))
}

/// Who a presented token stands for, if it is live (known, not expired, not revoked).
pub async fn authenticate(store: &Store, token: &str) -> Result<Option<Principal>, StoreError> {
    if !token.starts_with(PREFIX) {
        return Ok(None);
    }
    let user_id: Option<i64> = sqlx::query_scalar(
        "SELECT user_id FROM api_tokens
         WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(digest(token))
    .bind(clock::now())
    .fetch_optional(store.pool())
    .await?;
    match user_id {
        Some(id) => user::principal_by_id(store, id).await,
        None => Ok(None),
    }
}

/// Revoke token `id`. Returns false when there is no live token `id`.
pub async fn revoke(store: &Store, id: i64) -> Result<bool, StoreError> {
    Ok(
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(clock::now())
            .bind(id)
            .execute(store.pool())
            .await?
            .rows_affected()
            > 0,
    )
}

/// Every token (all users, for `token list`), by id.
pub async fn list(store: &Store) -> Result<Vec<TokenInfo>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT t.id, u.email, t.created_at, t.expires_at, t.revoked_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id",
    )
    .fetch_all(store.pool())
    .await?)
}

/// The tenant's tokens (its users'), by id.
pub async fn list_for(store: &Store, scope: crate::tenant::TenantScope) -> Result<Vec<TokenInfo>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT t.id, u.email, t.created_at, t.expires_at, t.revoked_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.tenant_id = $1 ORDER BY t.id",
    )
    .bind(scope.id())
    .fetch_all(store.pool())
    .await?)
}

/// Revoke token `id` if it is one of the tenant's users'. `None`: no such
/// token in this tenant (another tenant's looks the same); `Some(false)`:
/// already revoked.
pub async fn revoke_in(store: &Store, scope: crate::tenant::TenantScope, id: i64) -> Result<Option<bool>, StoreError> {
    let owned: Option<i64> = sqlx::query_scalar(
        "SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1 AND u.tenant_id = $2",
    )
    .bind(id)
    .bind(scope.id())
    .fetch_optional(store.pool())
    .await?;
    match owned {
        Some(_) => Ok(Some(revoke(store, id).await?)),
        None => Ok(None),
    }
}

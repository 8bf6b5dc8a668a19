//! Web sessions (issue 16), kept server-side so logging out (or an admin)
//! ends them: the browser's cookie holds a random secret, the database its
//! SHA-256 (a copy of the database logs nobody in), with the session's
//! CSRF token, expiry and revocation.

use sha2::{Digest, Sha256};

use crate::user::{self, Principal};
use crate::{Store, StoreError, clock};

/// A new session: the cookie value and the CSRF token of its forms.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub secret: String,
    pub csrf_token: String,
}

/// 256 random bits as 64 hex digits.
pub(crate) fn random_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Corrupt(format!("no randomness for a secret: {e}")))?;
    Ok(hex(&bytes))
}

/// SHA-256 of a secret, hex: what is stored instead of the secret.
pub(crate) fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Open a session for `principal`, valid for `lifetime`.
pub async fn create(store: &Store, principal: &Principal, lifetime: time::Duration) -> Result<NewSession, StoreError> {
    let session = NewSession {
        secret: random_secret()?,
        csrf_token: random_secret()?,
    };
    let now = time::OffsetDateTime::now_utc();
    // Sessions over a day past their end are only clutter: drop them here,
    // on the rare path (a login), instead of with a timer.
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(clock::stamp(now - time::Duration::days(1)))
        .execute(store.pool())
        .await?;
    sqlx::query(
        "INSERT INTO sessions (secret_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(digest(&session.secret))
    .bind(principal.user_id)
    .bind(&session.csrf_token)
    .bind(clock::stamp(now))
    .bind(clock::stamp(now + lifetime))
    .execute(store.pool())
    .await?;
    Ok(session)
}

/// The live session with this cookie secret: who, and its CSRF token.
pub async fn lookup(store: &Store, secret: &str) -> Result<Option<(Principal, String)>, StoreError> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT user_id, csrf_token FROM sessions
         WHERE secret_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(digest(secret))
    .bind(clock::now())
    .fetch_optional(store.pool())
    .await?;
    let Some((user_id, csrf)) = row else {
        return Ok(None);
    };
    Ok(user::principal_by_id(store, user_id).await?.map(|p| (p, csrf)))
}

/// End the session (logout). Returns whether one was live.
pub async fn revoke(store: &Store, secret: &str) -> Result<bool, StoreError> {
    Ok(
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE secret_hash = $2 AND revoked_at IS NULL")
            .bind(clock::now())
            .bind(digest(secret))
            .execute(store.pool())
            .await?
            .rows_affected()
            > 0,
    )
}

//! Users of the web service (issue 16): one tenant and one role each, a
//! password stored as an Argon2id PHC string, and a lockout after repeated
//! failed logins that holds across processes (it lives in the row).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::Serialize;

use crate::tenant::TenantScope;
use crate::{Store, StoreError, clock};

/// Failed logins in a row that lock an account.
pub const LOCK_AFTER: i64 = 5;
/// How long a locked account stays locked.
pub const LOCK_FOR: time::Duration = time::Duration::minutes(15);
/// Shortest password accepted (NIST SP 800-63B §3.1.1.2: at least 8).
pub const MIN_PASSWORD: usize = 8;

/// What a user may do (issue 16): viewer reads; analyst also approves
/// baselines and manages domains and alerts; admin also manages users and
/// tokens; auditor reads everything including the audit log, changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Analyst,
    Admin,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Analyst, Role::Admin, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Approve baselines, manage domains and alerts.
    pub fn may_change(self) -> bool {
        matches!(self, Role::Analyst | Role::Admin)
    }

    /// Read the audit log and evidence.
    pub fn may_audit(self) -> bool {
        matches!(self, Role::Auditor | Role::Admin)
    }

    /// Manage users and tokens.
    pub fn may_administer(self) -> bool {
        self == Role::Admin
    }
}

/// Who is asking: an authenticated user, in their tenant's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub scope: TenantScope,
    pub user_id: i64,
    pub email: String,
    pub role: Role,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    tenant_id: i64,
    email: String,
    role: String,
    password_hash: String,
    failed_logins: i64,
    locked_until: Option<String>,
}

impl UserRow {
    fn principal(&self) -> Result<Principal, StoreError> {
        Ok(Principal {
            scope: TenantScope::from_stored(self.tenant_id),
            user_id: self.id,
            email: self.email.clone(),
            role: Role::parse(&self.role)
                .ok_or_else(|| StoreError::Corrupt(format!("user {}: unknown role {:?}", self.email, self.role)))?,
        })
    }
}

const USER_COLUMNS: &str = "SELECT id, tenant_id, email, role, password_hash, failed_logins, locked_until FROM users";

async fn find(store: &Store, email: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE email = $1")))
            .bind(email.trim().to_ascii_lowercase())
            .fetch_optional(store.pool())
            .await?,
    )
}

/// The user with this e-mail address, as a principal (for `token create`).
pub async fn principal(store: &Store, email: &str) -> Result<Principal, StoreError> {
    find(store, email)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no user {email:?} (mailwarden user add)")))?
        .principal()
}

/// The principal of user `id` (sessions and tokens store the id).
pub(crate) async fn principal_by_id(store: &Store, id: i64) -> Result<Option<Principal>, StoreError> {
    let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE id = $1")))
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    row.map(|r| r.principal()).transpose()
}

/// Add a user to the tenant; refuses an address in use, a short password.
pub async fn add(
    store: &Store,
    scope: TenantScope,
    email: &str,
    role: Role,
    password: &str,
) -> Result<i64, StoreError> {
    let email = email.trim().to_ascii_lowercase();
    if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(StoreError::NotFound(format!("{email:?}: not an e-mail address")));
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(StoreError::NotFound(format!(
            "the password has fewer than {MIN_PASSWORD} characters"
        )));
    }
    if find(store, &email).await?.is_some() {
        return Err(StoreError::NotFound(format!("user {email:?} exists already")));
    }
    let hash = hash_password(password.to_owned()).await?;
    Ok(sqlx::query_scalar(
        "INSERT INTO users (tenant_id, email, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(scope.id())
    .bind(&email)
    .bind(role.as_str())
    .bind(&hash)
    .bind(clock::now())
    .fetch_one(store.pool())
    .await?)
}

/// Why a login was refused. The web answers the same to all of them, so
/// an attacker cannot tell a wrong password from an unknown or locked user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unknown,
    WrongPassword,
    Locked,
}

/// Check a login at `now`. A wrong password counts towards the lockout;
/// a right one resets it. A locked account is refused without looking at
/// the password (which therefore cannot be guessed during the lock).
pub async fn login(
    store: &Store,
    email: &str,
    password: &str,
    now: time::OffsetDateTime,
) -> Result<Result<Principal, Refusal>, StoreError> {
    let Some(row) = find(store, email).await? else {
        // The same work as for a real user, so timing does not tell.
        let _same_cost = verify_password(password.to_owned(), dummy_hash().to_owned()).await;
        return Ok(Err(Refusal::Unknown));
    };
    let stamp = clock::stamp(now);
    if row.locked_until.as_deref().is_some_and(|until| until > stamp.as_str()) {
        return Ok(Err(Refusal::Locked));
    }
    if verify_password(password.to_owned(), row.password_hash.clone()).await {
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(row.id)
            .execute(store.pool())
            .await?;
        return Ok(Ok(row.principal()?));
    }
    let failed = row.failed_logins + 1;
    let locked_until = (failed >= LOCK_AFTER).then(|| clock::stamp(now + LOCK_FOR));
    sqlx::query("UPDATE users SET failed_logins = $1, locked_until = $2 WHERE id = $3")
        .bind(if locked_until.is_some() { 0 } else { failed })
        .bind(locked_until)
        .bind(row.id)
        .execute(store.pool())
        .await?;
    Ok(Err(Refusal::WrongPassword))
}

/// The tenant's users (email, role), for the admin page and `user list`.
pub async fn list(store: &Store, scope: TenantScope) -> Result<Vec<(String, String)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT email, role FROM users WHERE tenant_id = $1 ORDER BY email")
            .bind(scope.id())
            .fetch_all(store.pool())
            .await?,
    )
}

/// Argon2id with the crate's defaults (RFC 9106 §4's second recommended
/// option: m = 19 MiB, t = 2, p = 1), off the async threads.
async fn hash_password(password: String) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Corrupt(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("hashing a password: {e}")))?
}

async fn verify_password(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A hash of nothing anyone knows, verified against for unknown users.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        Argon2::default()
            .hash_password(b"no user has this password")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

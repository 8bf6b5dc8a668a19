//! Domain ownership (issue 16): "A domain can be added for reports and
//! alerts only after its ownership is shown with a DNS TXT token (or by an
//! admin override that is audit-logged)".
//!
//! Per (tenant, domain) a random token; the owner publishes
//!
//! ```text
//! _mailwarden-challenge.example.com. TXT "mailwarden-verify=TOKEN"
//! ```
//!
//! and a check looks it up (the lookup itself is the caller's: the server
//! crate's `ownership::verify` asks the configured DNS source; [`judge`]
//! here reads the answer). A pending claim becomes `verified` only when the
//! token is seen; a failed DNS lookup (SERVFAIL, timeout, bogus) is
//! indeterminate and changes nothing. An admin may vouch instead
//! ([`override_claim`]), with a reason, appended to the audit log.
//!
//! The reports and alerts code asks [`require_shown`] before taking data
//! for a domain.

use mailwarden_model::{Answer, RData, Status};
use serde::Serialize;
use serde_json::json;

use crate::tenant::{TenantScope, claim_domain};
use crate::{EventKind, Store, StoreError, append_event, clock};

/// The label under the domain where the token is published.
pub const CHALLENGE_LABEL: &str = "_mailwarden-challenge";
/// What the TXT record's text starts with; the token follows.
pub const TXT_PREFIX: &str = "mailwarden-verify=";

/// The name to publish the TXT record at.
pub fn challenge_name(domain: &str) -> String {
    format!("{CHALLENGE_LABEL}.{domain}")
}

/// A tenant's claim on a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Ownership {
    pub domain: String,
    pub token: String,
    /// `pending`, `verified` (the token was seen in DNS) or `overridden`
    /// (an admin vouched for it).
    pub state: String,
    pub created_at: String,
    pub checked_at: Option<String>,
    /// The latest check's outcome, in words.
    pub last_check: Option<String>,
    pub verified_at: Option<String>,
    /// `dns`, or the email of the admin who overrode.
    pub verified_by: Option<String>,
    pub override_reason: Option<String>,
}

impl Ownership {
    /// Whether ownership is shown (by DNS or by an admin).
    pub fn is_shown(&self) -> bool {
        self.state == "verified" || self.state == "overridden"
    }

    /// The record the owner publishes, in zone-file form.
    pub fn record(&self) -> String {
        format!("{}. TXT \"{TXT_PREFIX}{}\"", challenge_name(&self.domain), self.token)
    }
}

/// What one lookup of the challenge record showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "kebab-case")]
pub enum CheckOutcome {
    /// A TXT record holds this claim's token.
    Verified,
    /// A `mailwarden-verify=` record is there, with other tokens (another
    /// claim's, or a stale one).
    Mismatch(Vec<String>),
    /// No `mailwarden-verify=` record at the name (the detail says what
    /// the DNS answered).
    Missing(String),
    /// The DNS did not answer usably (SERVFAIL, timeout, DNSSEC bogus):
    /// nothing is known, so nothing changes.
    Indeterminate(String),
}

impl CheckOutcome {
    /// The outcome in words, as stored in `last_check`.
    pub fn describe(&self) -> String {
        match self {
            CheckOutcome::Verified => "verified: the TXT record holds the token".into(),
            CheckOutcome::Mismatch(found) => format!(
                "failed: the TXT record holds another token ({}), not this claim's",
                found.join(", ")
            ),
            CheckOutcome::Missing(why) => format!("failed: no {TXT_PREFIX} TXT record ({why})"),
            CheckOutcome::Indeterminate(why) => format!("indeterminate: the lookup failed ({why}); try again"),
        }
    }
}

/// Read the TXT answer at the challenge name against `token`. Pure.
pub fn judge(token: &str, answer: &Answer) -> CheckOutcome {
    match &answer.status {
        Status::Records => {}
        Status::NxDomain => return CheckOutcome::Missing("the name does not exist (NXDOMAIN)".into()),
        Status::NoData => return CheckOutcome::Missing("the name has no TXT records".into()),
        other => return CheckOutcome::Indeterminate(format!("{other:?}")),
    }
    // RFC 7208 §3.3 reading of TXT: the character-strings of one record
    // are concatenated; a long token may be split across strings.
    let texts: Vec<String> = answer
        .records
        .iter()
        .filter_map(|r| match r {
            RData::Txt { strings } => Some(strings.concat()),
            _ => None,
        })
        .collect();
    let ours: Vec<&str> = texts
        .iter()
        .filter_map(|t| t.trim().strip_prefix(TXT_PREFIX))
        .map(str::trim)
        .collect();
    if ours.contains(&token) {
        CheckOutcome::Verified
    } else if ours.is_empty() {
        CheckOutcome::Missing(format!("{} other TXT record(s)", texts.len()))
    } else {
        CheckOutcome::Mismatch(ours.iter().map(|s| s.to_string()).collect())
    }
}

const COLUMNS: &str = "SELECT domain, token, state, created_at, checked_at, last_check, verified_at, verified_by, \
                       override_reason FROM domain_ownership";

/// The tenant's claim on `domain`, if any.
pub async fn get(store: &Store, scope: TenantScope, domain: &str) -> Result<Option<Ownership>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE tenant_id = $1 AND domain = $2"
    )))
    .bind(scope.id())
    .bind(domain)
    .fetch_optional(store.pool())
    .await?)
}

/// The tenant's claims, by domain.
pub async fn list(store: &Store, scope: TenantScope) -> Result<Vec<Ownership>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{COLUMNS} WHERE tenant_id = $1 ORDER BY domain"
    )))
    .bind(scope.id())
    .fetch_all(store.pool())
    .await?)
}

/// Claim `domain` for the tenant: a new token, or the claim there is
/// (claiming twice keeps the token already published). Refused when the
/// domain is another tenant's (monitored, scanned, or shown owned).
pub async fn claim(store: &Store, scope: TenantScope, domain: &str) -> Result<Ownership, StoreError> {
    if let Some(existing) = get(store, scope, domain).await? {
        return Ok(existing);
    }
    claim_domain(store, scope, domain).await?;
    if shown_by_another(store, scope, domain).await? {
        return Err(StoreError::NotFound(format!(
            "{domain}: another tenant has shown ownership of it; a domain has one tenant"
        )));
    }
    let token = new_token()?;
    let now = clock::now();
    let mut tx = store.begin().await?;
    sqlx::query(
        "INSERT INTO domain_ownership (tenant_id, domain, token, state, created_at) VALUES ($1, $2, $3, 'pending', $4)",
    )
    .bind(scope.id())
    .bind(domain)
    .bind(&token)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    // The token stays out of the log: it is a secret until published.
    append_event(
        &mut tx,
        EventKind::OwnershipClaimed,
        Some(domain),
        &json!({"tenant_id": scope.id()}),
    )
    .await?;
    tx.commit().await?;
    get(store, scope, domain)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("{domain}: the claim just stored is gone")))
}

/// Store what a check showed. Only [`CheckOutcome::Verified`] changes the
/// state (to `verified`, audit-logged); a failed or indeterminate check is
/// recorded as the latest check and leaves a shown ownership shown.
pub async fn record_check(
    store: &Store,
    scope: TenantScope,
    domain: &str,
    outcome: &CheckOutcome,
) -> Result<Ownership, StoreError> {
    let now = clock::now();
    let mut tx = store.begin().await?;
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM domain_ownership WHERE tenant_id = $1 AND domain = $2")
            .bind(scope.id())
            .bind(domain)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(state) = state else {
        return Err(not_claimed(domain));
    };
    sqlx::query("UPDATE domain_ownership SET checked_at = $3, last_check = $4 WHERE tenant_id = $1 AND domain = $2")
        .bind(scope.id())
        .bind(domain)
        .bind(&now)
        .bind(outcome.describe())
        .execute(&mut *tx)
        .await?;
    if *outcome == CheckOutcome::Verified && state != "verified" {
        sqlx::query(
            "UPDATE domain_ownership SET state = 'verified', verified_at = $3, verified_by = 'dns'
             WHERE tenant_id = $1 AND domain = $2",
        )
        .bind(scope.id())
        .bind(domain)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        let content = json!({"tenant_id": scope.id(), "by": "dns", "name": challenge_name(domain)});
        append_event(&mut tx, EventKind::OwnershipVerified, Some(domain), &content).await?;
    }
    tx.commit().await?;
    get(store, scope, domain).await?.ok_or_else(|| not_claimed(domain))
}

/// An admin vouches for the tenant's ownership of `domain` without the DNS
/// record (claiming it first if needed); the reason goes into the audit log.
pub async fn override_claim(
    store: &Store,
    scope: TenantScope,
    domain: &str,
    by: &str,
    reason: &str,
) -> Result<Ownership, StoreError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(StoreError::NotFound(
            "--reason: say why ownership is taken as shown without the DNS record".into(),
        ));
    }
    claim(store, scope, domain).await?;
    let now = clock::now();
    let mut tx = store.begin().await?;
    sqlx::query(
        "UPDATE domain_ownership SET state = 'overridden', verified_at = $3, verified_by = $4, override_reason = $5
         WHERE tenant_id = $1 AND domain = $2",
    )
    .bind(scope.id())
    .bind(domain)
    .bind(&now)
    .bind(by)
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    let content = json!({"tenant_id": scope.id(), "by": by, "reason": reason});
    append_event(&mut tx, EventKind::OwnershipOverridden, Some(domain), &content).await?;
    tx.commit().await?;
    get(store, scope, domain).await?.ok_or_else(|| not_claimed(domain))
}

/// Refuse, with what to do, unless the tenant has shown ownership of
/// `domain`. For the reports import and the alert settings of a domain.
pub async fn require_shown(store: &Store, scope: TenantScope, domain: &str) -> Result<(), StoreError> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    match get(store, scope, &domain).await? {
        Some(o) if o.is_shown() => Ok(()),
        Some(o) => Err(StoreError::NotFound(format!(
            "{domain}: ownership not shown yet (publish {} and run `mailwarden domain verify {domain}`; latest check: {})",
            o.record(),
            o.last_check.as_deref().unwrap_or("none")
        ))),
        None => Err(StoreError::NotFound(format!(
            "{domain}: ownership not shown (`mailwarden domain claim {domain}` gives the DNS TXT record to publish)"
        ))),
    }
}

/// Whether another tenant has shown ownership of `domain` (then it is
/// theirs: neither claimed nor monitored by anyone else).
pub async fn shown_by_another(store: &Store, scope: TenantScope, domain: &str) -> Result<bool, StoreError> {
    let taken: Option<i64> = sqlx::query_scalar(
        "SELECT tenant_id FROM domain_ownership WHERE domain = $1 AND tenant_id <> $2 AND state <> 'pending' LIMIT 1",
    )
    .bind(domain)
    .bind(scope.id())
    .fetch_optional(store.pool())
    .await?;
    Ok(taken.is_some())
}

fn not_claimed(domain: &str) -> StoreError {
    StoreError::NotFound(format!(
        "{domain}: not claimed (`mailwarden domain claim {domain}` first)"
    ))
}

/// 128 random bits, hex: short enough for any DNS console, unguessable.
fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Corrupt(format!("no randomness for a token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailwarden_model::Proof;

    fn txt(texts: &[&[&str]]) -> Answer {
        let mut a = Answer::empty(Status::Records, Proof::Indeterminate);
        a.records = texts
            .iter()
            .map(|s| RData::Txt {
                strings: s.iter().map(|x| x.to_string()).collect(),
            })
            .collect();
        a
    }

    #[test]
    fn the_token_in_a_txt_record_verifies_even_split_across_strings() {
        assert_eq!(
            judge("abc123", &txt(&[&["mailwarden-verify=abc123"]])),
            CheckOutcome::Verified
        );
        assert_eq!(
            judge("abc123", &txt(&[&["v=spf1 -all"], &["mailwarden-verify=", "abc123"]])),
            CheckOutcome::Verified
        );
    }

    #[test]
    fn another_token_is_a_mismatch_not_a_pass() {
        assert_eq!(
            judge("abc123", &txt(&[&["mailwarden-verify=zzz"]])),
            CheckOutcome::Mismatch(vec!["zzz".into()])
        );
        // A prefix of the token is not the token.
        assert!(matches!(
            judge("abc123", &txt(&[&["mailwarden-verify=abc"]])),
            CheckOutcome::Mismatch(_)
        ));
    }

    #[test]
    fn no_record_is_missing_and_a_failed_lookup_is_indeterminate() {
        let nx = Answer::empty(Status::NxDomain, Proof::Indeterminate);
        assert!(matches!(judge("t", &nx), CheckOutcome::Missing(_)));
        assert!(matches!(
            judge("t", &txt(&[&["v=spf1 -all"]])),
            CheckOutcome::Missing(_)
        ));
        for failed in [Status::ServFail, Status::Timeout, Status::Bogus("sig expired".into())] {
            let a = Answer::empty(failed, Proof::Indeterminate);
            assert!(matches!(judge("t", &a), CheckOutcome::Indeterminate(_)), "{a:?}");
        }
    }

    #[test]
    fn tokens_are_128_bit_hex_and_differ() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}

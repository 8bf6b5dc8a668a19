//! DKIM selectors remembered from real messages (`mailwarden message`
//! with `--db`), per signing domain, so that `scan` and `monitor` ask them
//! besides the guessed ones. RFC 6376 §3.1: "To support multiple
//! concurrent public keys per signing domain, the key namespace is
//! subdivided using "selectors"." DNS cannot list them, so the selectors a
//! domain's own mail carries are the sure way to find its keys.
//!
//! Only well-formed names are kept (DNS labels of letters, digits, `-`,
//! `_`), as `scan --dkim-selector` would accept them, so a hostile message
//! cannot make a later scan fail; and a scan asks at most
//! [`MAX_PER_DOMAIN`] of them, the most recently seen first.

use serde::Serialize;

use crate::{Store, StoreError, clock};

/// The most remembered selectors a scan asks per domain.
pub const MAX_PER_DOMAIN: i64 = 16;

/// One remembered selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Remembered {
    pub domain: String,
    pub selector: String,
    pub first_seen: String,
    pub last_seen: String,
    pub seen_count: i64,
}

/// Whether `name` is one or more DNS labels of letters, digits, `-`, `_`
/// (at most 63 bytes each, 253 in all).
pub fn well_formed(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn normal(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Remember that messages were signed with these `(domain, selector)`
/// pairs now: new pairs are added, known ones get their last-seen time
/// and count updated, in one transaction. Returns how many were stored;
/// malformed pairs are skipped.
pub async fn remember(store: &Store, pairs: &[(String, String)]) -> Result<usize, StoreError> {
    let now = clock::now();
    let mut tx = store.begin().await?;
    let mut stored = 0;
    for (domain, selector) in pairs {
        let (domain, selector) = (normal(domain), normal(selector));
        if !well_formed(&domain) || !well_formed(&selector) {
            continue;
        }
        sqlx::query(
            "INSERT INTO dkim_selectors (domain, selector, first_seen, last_seen, seen_count)
             VALUES ($1, $2, $3, $3, 1)
             ON CONFLICT (tenant_id, domain, selector)
             DO UPDATE SET last_seen = excluded.last_seen, seen_count = dkim_selectors.seen_count + 1",
        )
        .bind(&domain)
        .bind(&selector)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        stored += 1;
    }
    tx.commit().await?;
    Ok(stored)
}

/// The selectors remembered for `domain`, most recently seen first, at
/// most [`MAX_PER_DOMAIN`].
pub async fn for_domain(store: &Store, domain: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT selector FROM dkim_selectors WHERE domain = $1
         ORDER BY last_seen DESC, selector LIMIT $2",
    )
    .bind(normal(domain))
    .bind(MAX_PER_DOMAIN)
    .fetch_all(store.pool())
    .await?)
}

/// The selectors remembered for every domain, as [`for_domain`] gives
/// them, read in one query: `monitor run` asks once per cycle, not once per
/// scan (through a real resolver the per-scan reads cost 3-5 ms each).
pub async fn by_domain(store: &Store) -> Result<ByDomain, StoreError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT domain, selector FROM dkim_selectors ORDER BY domain, last_seen DESC, selector")
            .fetch_all(store.pool())
            .await?;
    let mut map: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for (domain, selector) in rows {
        let list = map.entry(domain).or_default();
        if (list.len() as i64) < MAX_PER_DOMAIN {
            list.push(selector);
        }
    }
    Ok(ByDomain(map))
}

/// Remembered selectors by domain ([`by_domain`]).
#[derive(Debug, Clone, Default)]
pub struct ByDomain(std::collections::BTreeMap<String, Vec<String>>);

impl ByDomain {
    /// The selectors of `domain` (none when nothing is remembered).
    pub fn get(&self, domain: &str) -> Vec<String> {
        self.0.get(&normal(domain)).cloned().unwrap_or_default()
    }
}

/// Every remembered selector, by domain and selector.
pub async fn list(store: &Store) -> Result<Vec<Remembered>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT domain, selector, first_seen, last_seen, seen_count FROM dkim_selectors ORDER BY domain, selector",
    )
    .fetch_all(store.pool())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dns_labels_are_well_formed() {
        assert!(well_formed("s2048._v1"));
        assert!(well_formed("example.org"));
        for bad in ["", "a..b", "a b", "a;b", "x\u{1b}[2J", &"a".repeat(64)] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }
}

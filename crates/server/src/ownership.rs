//! Checking a domain's ownership claim (issue 16): ask the configured DNS
//! source for `_mailwarden-challenge.DOMAIN` TXT and store what it showed
//! ([`mailwarden_store::ownership`] holds the claims and reads the answer).
//! Used by the web's verify action and by `mailwarden domain verify`.

use std::sync::Arc;

use mailwarden_model::{DnsSource, QueryKey, RType};
use mailwarden_store::ownership::{self, CheckOutcome, Ownership, challenge_name, judge};
use mailwarden_store::tenant::TenantScope;
use mailwarden_store::{Store, StoreError};

/// Checks a web user's monitor scan flags the way `mailwarden scan` would
/// (the CLI supplies it; the server crate does not parse scan flags).
pub type FlagCheck = Arc<dyn Fn(&str, &[String]) -> Result<(), String> + Send + Sync>;

/// What the domain-management actions need from the process around them.
#[derive(Clone, Default)]
pub struct DomainHooks {
    /// Where ownership checks look the TXT record up (`serve`'s resolver
    /// settings); `None`: every check is indeterminate.
    pub dns: Option<Arc<dyn DnsSource>>,
    /// Checks monitor scan flags; `None`: only the allow-list applies.
    pub check_flags: Option<FlagCheck>,
}

/// Look the challenge record up and store the outcome. The claim must
/// exist ([`ownership::claim`]); a failed lookup is indeterminate.
pub async fn verify(
    store: &Store,
    scope: TenantScope,
    domain: &str,
    dns: &dyn DnsSource,
) -> Result<(Ownership, CheckOutcome), StoreError> {
    let Some(claim) = ownership::get(store, scope, domain).await? else {
        return Err(StoreError::NotFound(format!(
            "{domain}: not claimed (`mailwarden domain claim {domain}` first)"
        )));
    };
    let answer = dns.query(&QueryKey::new(&challenge_name(domain), RType::Txt)).await;
    let outcome = judge(&claim.token, &answer);
    let stored = ownership::record_check(store, scope, domain, &outcome).await?;
    Ok((stored, outcome))
}

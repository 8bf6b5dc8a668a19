//! SPF (RFC 7208): `check_host()` over a [`DnsView`](mailwarden_model::DnsView)
//! and the audit of a domain's published policy.
//!
//! - [`check_host()`]: the RFC's evaluation, for one client address.
//! - [`judge()`]: findings about the policy itself: discovery, syntax,
//!   processing limits over the whole include/redirect tree, weak `all`,
//!   and the inventory of every network it authorises.

mod audit;
mod check_host;
#[cfg(test)]
mod tests;

pub use audit::{ask, judge};
pub use check_host::{
    CheckHost, MAX_DNS_TERMS, MAX_NAMES, MAX_VOID_LOOKUPS, Params, SpfResult, check_host, check_host_with,
    check_mail_from,
};
pub use mailwarden_records::spf::{Qualifier, effective_all};

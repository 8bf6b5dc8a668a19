//! What a sending server would experience at each MX: shared by the
//! judges of transport security (`smtp`, `dane`, `mta-sts`, failover
//! parity), so that they ask the same questions and agree on the answers.
//!
//! Pure over a [`DnsView`]: MX at the domain, A and AAAA of each MX host,
//! and the STARTTLS probe of each address (up to
//! [`mailwarden_model::ScanOptions::mx_address_limit`] per host), read
//! through [`crate::Facts`], which computes them once per view.

use std::net::IpAddr;

use mailwarden_model::{DnsView, RData, RType, SmtpProbe, SmtpStatus};

use crate::Context;
use crate::tls::cert::{self, ChainReport};
use crate::unlooked::{Unlooked, Unlookeds};

/// One MX host with its preference and the addresses a sender would try.
#[derive(Debug, Clone)]
pub(crate) struct MxHost {
    pub name: String,
    pub preference: u16,
    /// A then AAAA, or why neither could be looked up. Empty when the
    /// host has no address (a fact: `mx.target-unresolvable` reports it).
    pub addresses: Result<Vec<IpAddr>, Unlookeds>,
}

/// The MX exchanges of `domain` with their preferences, in the order
/// published (null MX, IP literals and repeats left out: there is no TLS
/// to judge), or why MX could not be looked up. Asks nothing but MX.
pub(crate) fn mx_exchanges(domain: &str, view: &DnsView<'_>) -> Result<Vec<(u16, String)>, Unlooked> {
    let mx = view.get(domain, RType::Mx);
    if let Some(unlooked) = Unlooked::of(domain, RType::Mx, mx) {
        return Err(unlooked);
    }
    let mut out: Vec<(u16, String)> = Vec::new();
    for rd in &mx.records {
        if let RData::Mx { preference, exchange } = rd {
            let host = mailwarden_model::name::normalise(exchange);
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            if !host.is_empty() && bare.parse::<IpAddr>().is_err() && !out.iter().any(|(_, h)| *h == host) {
                out.push((*preference, host));
            }
        }
    }
    Ok(out)
}

/// The MX hosts of `domain` in preference order, with their addresses,
/// or why MX could not be looked up.
pub(crate) fn mx_hosts(ctx: &Context<'_>, domain: &str, view: &DnsView<'_>) -> Result<Vec<MxHost>, Unlooked> {
    let mut hosts: Vec<MxHost> = mx_exchanges(domain, view)?
        .into_iter()
        .map(|(preference, name)| MxHost {
            addresses: addresses(view, &name, ctx.options.mx_address_limit()),
            name,
            preference,
        })
        .collect();
    hosts.sort_by(|a, b| (a.preference, &a.name).cmp(&(b.preference, &b.name)));
    Ok(hosts)
}

/// A then AAAA addresses of `host`, at most `limit`; an error when a
/// lookup failed and nothing was found.
pub(crate) fn addresses(view: &DnsView<'_>, host: &str, limit: usize) -> Result<Vec<IpAddr>, Unlookeds> {
    let mut out = Vec::new();
    let mut failed = Vec::new();
    for rtype in [RType::A, RType::Aaaa] {
        let answer = view.get(host, rtype);
        failed.extend(Unlooked::of(host, rtype, answer));
        for rd in &answer.records {
            match rd {
                RData::A { address } => out.push(IpAddr::V4(*address)),
                RData::Aaaa { address } => out.push(IpAddr::V6(*address)),
                _ => {}
            }
        }
    }
    if out.is_empty() && !failed.is_empty() {
        return Err(Unlookeds(failed));
    }
    out.truncate(limit);
    Ok(out)
}

/// One address of an MX host: its probe, and its chain judged.
#[derive(Debug)]
pub(crate) struct AddressTls<'a> {
    pub host: String,
    pub address: IpAddr,
    pub probe: &'a SmtpProbe,
    /// The chain against the trust store, for the MX name, as of `now`;
    /// `None` when no handshake succeeded.
    pub chain: Option<ChainReport>,
}

impl AddressTls<'_> {
    /// `host (address)`: the subject of per-address findings.
    pub fn subject(&self) -> String {
        format!("{} ({})", self.host, self.address)
    }

    /// The DER chain presented, when a handshake succeeded.
    pub fn chain_der(&self) -> Option<Vec<Vec<u8>>> {
        self.probe.tls.as_ref().map(|t| t.chain_der())
    }

    /// `Some(true)` when STARTTLS worked, `Some(false)` when the server
    /// does not offer or complete it, `None` when we could not look.
    pub fn starttls(&self) -> Option<bool> {
        match self.probe.status {
            SmtpStatus::Tls => Some(true),
            SmtpStatus::NoStarttls | SmtpStatus::StarttlsRefused | SmtpStatus::HandshakeFailed => Some(false),
            _ => None,
        }
    }

    /// `Some(true)` when the certificate is valid for the MX name under
    /// the trust store (PKIX, dates, name); `None` without a handshake.
    pub fn pkix_valid(&self) -> Option<bool> {
        match (self.starttls()?, &self.chain) {
            (true, Some(report)) => {
                Some(report.pkix == cert::Pkix::Trusted && report.leaf.as_ref().is_some_and(|l| l.valid_for_host()))
            }
            _ => Some(false),
        }
    }
}

/// Combine per-address answers: `Some(false)` if any address is `false`,
/// `None` if any could not be looked at (and none is `false`), `Some(true)`
/// when every address is `true`; `None` for no addresses.
pub(crate) fn all_of(values: impl IntoIterator<Item = Option<bool>>) -> Option<bool> {
    let mut any = false;
    let mut unknown = false;
    for v in values {
        any = true;
        match v {
            Some(false) => return Some(false),
            None => unknown = true,
            Some(true) => {}
        }
    }
    (any && !unknown).then_some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_of_prefers_a_fact_of_failure_over_unknowns() {
        assert_eq!(all_of([Some(true), None, Some(false)]), Some(false));
        assert_eq!(all_of([Some(true), None]), None);
        assert_eq!(all_of([Some(true), Some(true)]), Some(true));
        assert_eq!(all_of([]), None);
    }
}

//! A host name and its two address lookups (A and AAAA), as the `mx`
//! judge reads its targets and the `ns` judge its nameservers.

use std::net::IpAddr;

use mailwarden_model::{Answer, RData};

/// One host name and the answers to its A and AAAA lookups.
pub(crate) struct HostAddresses<'a> {
    pub name: String,
    pub a: &'a Answer,
    pub aaaa: &'a Answer,
}

impl HostAddresses<'_> {
    /// The addresses of both answers, IPv4 first.
    pub fn addresses(&self) -> Vec<IpAddr> {
        addresses_of(self.a, self.aaaa)
    }

    /// Both lookups gave definite answers.
    pub fn complete(&self) -> bool {
        self.a.status.is_definite() && self.aaaa.status.is_definite()
    }

    /// Why the first lookup that was not answered failed, if one was not.
    pub fn failure(&self) -> Option<String> {
        [self.a, self.aaaa]
            .iter()
            .find(|a| !a.status.is_definite())
            .map(|a| a.status.describe())
    }
}

/// The addresses in an A and an AAAA answer, IPv4 first.
pub(crate) fn addresses_of(a: &Answer, aaaa: &Answer) -> Vec<IpAddr> {
    a.records
        .iter()
        .chain(&aaaa.records)
        .filter_map(|rd| match rd {
            RData::A { address } => Some(IpAddr::V4(*address)),
            RData::Aaaa { address } => Some(IpAddr::V6(*address)),
            _ => None,
        })
        .collect()
}

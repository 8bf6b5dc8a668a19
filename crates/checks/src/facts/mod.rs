//! Facts several judges read, computed once per view: the MX hosts with
//! their addresses and probes (one certificate-chain analysis per chain),
//! the MTA-STS policy state, the organisational domain, DANE per host,
//! whether the domain publishes a null MX. Judges read these here instead
//! of calling into each other's internals.
//!
//! Pure, like the judges: each fact is computed from the evidence through
//! a [`DnsView`] the first time a judge reads it, asking exactly what the
//! judge that owned it used to ask, and only once the step before says
//! there is something to ask. When judges run on views of their own (as
//! `collect` runs them, to know which still want something), a fact
//! remembers what it asked and could not read, and every judge that reads
//! it is told the same questions: a judge that read an incomplete fact is
//! not done.

pub(crate) mod sts;

use std::cell::{self, OnceCell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;

use mailwarden_model::dns::Tlsa;
use mailwarden_model::{DnsView, Probes, SmtpTarget, Transcript, Wants};

use crate::tls::cert::{self, ChainReport};
use crate::tls::dane::{DaneMatch, match_tlsa};
use crate::transport::{self, AddressTls, MxHost};
use crate::{Context, Unlooked};
pub(crate) use sts::PolicyState;

/// Certificate-chain analyses of STARTTLS probes, by probe target: a
/// probe in the evidence never changes, so one analysis serves every
/// judge and every round.
#[derive(Debug, Default)]
pub struct ChainCache {
    reports: RefCell<HashMap<SmtpTarget, ChainReport>>,
    analysed: cell::Cell<usize>,
}

impl ChainCache {
    /// How many times a chain was analysed (once per probe target read).
    pub fn analyses(&self) -> usize {
        self.analysed.get()
    }

    /// The analysis of the chain `target` presented (DER, leaf first),
    /// for `target.host`, made the first time it is asked for.
    fn analyse(&self, ctx: &Context<'_>, target: SmtpTarget, chain: impl FnOnce() -> Vec<Vec<u8>>) -> ChainReport {
        if let Some(report) = self.reports.borrow().get(&target) {
            return report.clone();
        }
        let report = cert::analyse_chain(&chain(), &target.host, ctx.now, ctx.roots);
        self.analysed.set(self.analysed.get() + 1);
        self.reports.borrow_mut().insert(target, report.clone());
        report
    }
}

/// Where facts are computed: on the one view every judge shares, or on
/// views of their own over the same evidence.
#[derive(Clone, Copy)]
enum Basis<'f, 'a> {
    Shared(&'f DnsView<'a>),
    Own { dns: &'a Transcript, probes: &'a Probes },
}

/// A fact and what computing it asked that the evidence lacked.
type Cell<T> = OnceCell<(T, Wants)>;

/// The shared facts of one domain on one view of its evidence.
pub struct Facts<'f, 'a> {
    pub(crate) ctx: Context<'f>,
    domain: String,
    basis: Basis<'f, 'a>,
    chains: &'f ChainCache,
    mx_hosts: Cell<Result<Vec<MxHost>, Unlooked>>,
    policy: Cell<PolicyState<'a>>,
    sts_discovery: Cell<sts::Discovery>,
    /// DANE matches by probe target (see [`Self::dane_match`]).
    dane_matches: RefCell<HashMap<SmtpTarget, DaneMatch>>,
    dane_matched: cell::Cell<usize>,
}

impl<'f, 'a> Facts<'f, 'a> {
    /// Facts computed on `view`, the view every judge reads (so what a
    /// fact asks is asked on it directly).
    pub fn of_view(ctx: &Context<'f>, view: &'f DnsView<'a>, chains: &'f ChainCache) -> Self {
        Self::with_basis(ctx, Basis::Shared(view), chains)
    }

    /// Facts computed on views of their own over `dns` and `probes`, for
    /// judges that each read through a view of their own.
    pub fn new(ctx: &Context<'f>, dns: &'a Transcript, probes: &'a Probes, chains: &'f ChainCache) -> Self {
        Self::with_basis(ctx, Basis::Own { dns, probes }, chains)
    }

    fn with_basis(ctx: &Context<'f>, basis: Basis<'f, 'a>, chains: &'f ChainCache) -> Self {
        Self {
            ctx: *ctx,
            domain: mailwarden_model::name::normalise(ctx.domain),
            basis,
            chains,
            mx_hosts: OnceCell::new(),
            policy: OnceCell::new(),
            sts_discovery: OnceCell::new(),
            dane_matches: RefCell::default(),
            dane_matched: cell::Cell::new(0),
        }
    }

    /// `cell`'s fact, computed by `compute` on the basis the first time;
    /// what it asked is asked again on the reader's `view`.
    fn cached<'s, T>(
        &'s self,
        cell: &'s Cell<T>,
        view: &DnsView<'_>,
        compute: impl FnOnce(&DnsView<'a>) -> T,
    ) -> &'s T {
        let (value, wants) = cell.get_or_init(|| match self.basis {
            Basis::Shared(shared) => (compute(shared), Wants::default()),
            Basis::Own { dns, probes } => {
                let own = DnsView::with_probes(dns, probes);
                let value = compute(&own);
                (value, own.into_wants())
            }
        });
        ask_again(view, wants);
        value
    }

    /// The MX hosts of the domain in preference order, with their
    /// addresses, or why MX could not be looked up
    /// ([`transport::mx_hosts`]).
    pub(crate) fn mx_hosts(&self, view: &DnsView<'_>) -> &Result<Vec<MxHost>, Unlooked> {
        self.cached(&self.mx_hosts, view, |v| {
            transport::mx_hosts(&self.ctx, &self.domain, v)
        })
    }

    /// Every probed address of `host`, each chain analysed once (see
    /// [`ChainCache`]). Reads the probes through `view`.
    pub(crate) fn probe_host<'v>(&self, view: &DnsView<'v>, host: &MxHost) -> Vec<AddressTls<'v>> {
        let Ok(addresses) = &host.addresses else {
            return Vec::new();
        };
        addresses
            .iter()
            .map(|&address| self.address_tls(view, &host.name, address))
            .collect()
    }

    fn address_tls<'v>(&self, view: &DnsView<'v>, host: &str, address: IpAddr) -> AddressTls<'v> {
        let probe = view.smtp(host, address);
        let chain = (probe.tls.as_ref()).filter(|t| !t.chain.is_empty()).map(|t| {
            self.chains
                .analyse(&self.ctx, SmtpTarget::new(host, address), || t.chain_der())
        });
        AddressTls {
            host: host.to_string(),
            address,
            probe,
            chain,
        }
    }

    /// What the `_mta-sts` lookup of the domain says (RFC 8461 §3.1).
    pub(crate) fn sts_discovery(&self, view: &DnsView<'_>) -> &sts::Discovery {
        self.cached(&self.sts_discovery, view, |v| sts::discover(&self.domain, v))
    }

    /// The MTA-STS policy a sender would hold for the domain.
    pub(crate) fn policy_state(&self, view: &DnsView<'_>) -> &PolicyState<'a> {
        self.cached(&self.policy, view, |v| sts::policy_state(&self.domain, v))
    }

    /// Whether any MX host publishes TLSA records (see
    /// [`crate::dane::in_use`]).
    pub(crate) fn dane_in_use(&self, view: &DnsView<'_>) -> Result<bool, Unlooked> {
        crate::dane::in_use(&self.domain, view)
    }

    /// Whether DANE senders authenticate `chain`, presented at `target`.
    pub(crate) fn dane_authenticates(
        &self,
        view: &DnsView<'_>,
        target: SmtpTarget,
        chain: &[Vec<u8>],
    ) -> Option<crate::dane::DaneAuthenticated> {
        crate::dane::authenticates(self, view, target, chain)
    }

    /// DANE at `host` over its probed `addresses`.
    pub(crate) fn host_dane(
        &self,
        view: &DnsView<'_>,
        host: &MxHost,
        addresses: &[AddressTls<'_>],
    ) -> crate::dane::HostDane {
        crate::dane::host_dane(self, view, host, addresses)
    }

    /// The match of a host's usable TLSA `records` against the `chain`
    /// one of its addresses (`target`) presented: made once per view,
    /// whichever judges read it (`dane.match`, the certificate checks DANE
    /// waives in `smtp`, DANE parity in `failover`). Within one view the
    /// records at `_25._tcp.<host>` and the probe never change, so the
    /// target names the match.
    pub(crate) fn dane_match(&self, records: &[Tlsa], target: SmtpTarget, chain: &[Vec<u8>]) -> DaneMatch {
        if let Some(found) = self.dane_matches.borrow().get(&target) {
            return found.clone();
        }
        let found = match_tlsa(records, chain, &target.host, self.ctx.now);
        self.dane_matched.set(self.dane_matched.get() + 1);
        self.dane_matches.borrow_mut().insert(target, found.clone());
        found
    }

    /// How many DANE matches `Self::dane_match` made.
    pub fn dane_matches(&self) -> usize {
        self.dane_matched.get()
    }
}

/// The RFC 7489 organisational domain by the embedded public suffix list;
/// the domain itself when it is a public suffix or shorter. Pure: asks
/// nothing (the DMARC judge's tree walk, RFC 9989, is its own).
pub fn organisational_domain_psl(domain: &str) -> String {
    let domain = mailwarden_model::name::normalise(domain);
    psl::domain_str(&domain).map(str::to_ascii_lowercase).unwrap_or(domain)
}

/// Whether `domain` publishes only a null MX (RFC 7505: it accepts no
/// mail), as the `mx` judge reads it; `None` when MX could not be looked
/// up. Cheap: read where needed, not cached.
pub fn null_mx(view: &DnsView<'_>, domain: &str) -> Option<bool> {
    crate::mx::publishes_null_mx(view, domain)
}

/// Record on `view` the questions a fact asked and could not read.
fn ask_again(view: &DnsView<'_>, wants: &Wants) {
    for key in &wants.dns {
        match key.server {
            Some(server) => view.get_at(server, &key.name, key.rtype),
            None => view.get(&key.name, key.rtype),
        };
    }
    for target in &wants.smtp {
        view.smtp(&target.host, target.address);
    }
    for (url, addresses) in &wants.https {
        view.https(url, addresses);
    }
}

#[cfg(test)]
mod tests {
    use mailwarden_model::{RType, ScanOptions, SourceInfo, Status};

    use super::*;
    use crate::testutil::{Dns, tls_probe};
    use crate::tls::cert::Roots;
    use crate::tls::testcerts::{Ca, NOW};

    const D: &str = "example.com";
    const MX1: &str = "mx1.example.com";
    const MX2: &str = "mx2.example.com";

    /// `transport::probe_host` once analysed every chain for each judge
    /// that read it (smtp, failover, mta-sts), every round: here 3 probe
    /// targets read by two judges over two rounds made 12 analyses.
    #[test]
    fn one_chain_analysis_per_probe_target_whatever_judges_and_rounds_read_it() {
        let ca = Ca::new("Facts CA");
        let roots = Roots::from_der(std::slice::from_ref(&ca.der)).unwrap();
        let chain = |host: &str| vec![ca.valid_leaf(&[host]).der, ca.der.clone()];
        let dns = Dns::new()
            .mx(D, &[(10, MX1), (20, MX2)])
            .a(MX1, &["192.0.2.1", "192.0.2.2"])
            .aaaa(MX1, &[])
            .a(MX2, &["192.0.2.3"])
            .aaaa(MX2, &[])
            .status("_mta-sts.example.com", RType::Txt, Status::NxDomain)
            .smtp(MX1, "192.0.2.1", tls_probe(&chain(MX1), "TLSv1.3"))
            .smtp(MX1, "192.0.2.2", tls_probe(&chain(MX1), "TLSv1.3"))
            .smtp(MX2, "192.0.2.3", tls_probe(&chain(MX2), "TLSv1.2"));
        let options = ScanOptions::default();
        let source = SourceInfo::default();
        let ctx = Context {
            domain: D,
            options: &options,
            source: &source,
            now: NOW,
            roots: &roots,
        };
        let chains = ChainCache::default();
        let mut smtp = Vec::new();
        for _round in 0..2 {
            let view = DnsView::with_probes(&dns.0, &dns.1);
            let facts = Facts::of_view(&ctx, &view, &chains);
            for judge in crate::JUDGES {
                let findings = (judge.findings)(&ctx, &view, &facts);
                if judge.name == "smtp" {
                    smtp = findings;
                }
            }
        }
        assert_eq!(chains.analyses(), 3);
        let trusted = |id: &str| {
            smtp.iter()
                .filter(|f| f.id == id && f.outcome == mailwarden_model::Outcome::Pass)
                .count()
        };
        assert_eq!(trusted("smtp.cert-untrusted"), 3, "{smtp:#?}");
    }
}

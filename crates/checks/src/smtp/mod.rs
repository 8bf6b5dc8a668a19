//! STARTTLS and certificates at every address of every MX (RFC 3207,
//! RFC 8461 §4.2 / §5, RFC 7672 §3): what a sending server experiences.
//!
//! Pure over a [`DnsView`]: MX at the domain, A and AAAA of each MX host
//! and the STARTTLS probe of each address (`crate::transport`); the
//! domain's MTA-STS policy only when a certificate problem is found (its
//! severity depends on it). Per-address findings have the subject
//! `host (address)`.
//!
//! Three kinds of outcome keep "could not look" apart from "the server
//! fails":
//! - the probe could not be made (the egress guard refused a non-global
//!   address, no route, `--no-smtp`, budget, older evidence):
//!   `smtp.probed` says why, and every rule is indeterminate;
//! - the server stopped the conversation before a rule's stage (no
//!   STARTTLS, STARTTLS refused, handshake failed): later rules are
//!   not-applicable, pointing at the rule that failed;
//! - port 25 unreachable, or the conversation broke off (timeout, an SMTP
//!   error): later rules are indeterminate, since a sender elsewhere may
//!   well get further.
//!
//! RFC 3207 §4: "A publicly-referenced SMTP server MUST NOT require use of
//! the STARTTLS extension in order to deliver mail locally." SMTP TLS is
//! therefore opportunistic, and a certificate problem is medium, unless
//! the domain's MTA-STS policy enforces TLS for the MX. RFC 8461 §5,
//! "enforce": "In this mode, Sending MTAs MUST NOT deliver the message to
//! hosts that fail MX matching or certificate validation or that do not
//! support STARTTLS." Then it is critical: mail to that MX bounces or
//! waits. DANE (RFC 7672) authenticates the MX by TLSA records instead;
//! the `dane` judge matches them, and a certificate problem that a
//! matching record waives (names and dates under DANE-EE, the public CAs
//! under DANE-TA) is low, unless MTA-STS enforces.
//!
//! Legacy protocols and ciphers (SSL 3.0, TLS 1.0/1.1, RC4, 3DES) are
//! judged from the legacy-TLS probes (`legacy`), made when STARTTLS was
//! accepted.

mod certs;
mod cipher;
mod legacy;
mod session;

use std::net::IpAddr;

use mailwarden_model::{DnsView, Outcome, RawFinding, SmtpProbe, SmtpStatus};
use mailwarden_records::mta_sts::Mode;

use crate::facts::PolicyState;
use crate::rule;
use crate::tls::cert::{ChainReport, Pkix, Validity, analyse_chain};
use crate::transport::{AddressTls, MxHost};
use crate::{ChainCache, Context, Facts};

/// Every rule of this judge; each address gets one finding of each.
const RULES: [&str; 18] = [
    rule::SMTP_PROBED,
    rule::SMTP_REACHABLE,
    rule::SMTP_STARTTLS,
    rule::SMTP_STARTTLS_REFUSED,
    rule::SMTP_HANDSHAKE,
    rule::SMTP_TLS_VERSION,
    rule::SMTP_CIPHER,
    rule::SMTP_LEGACY_PROTOCOL,
    rule::SMTP_SSL3,
    rule::SMTP_LEGACY_CIPHER,
    rule::SMTP_INJECTION,
    rule::SMTP_CERT_EXPIRED,
    rule::SMTP_CERT_NOT_YET_VALID,
    rule::SMTP_CERT_NAME,
    rule::SMTP_CERT_UNTRUSTED,
    rule::SMTP_CERT_EXPIRING,
    rule::SMTP_CERT_WEAK_KEY,
    rule::SMTP_CERT_SHA1,
];

/// Judge STARTTLS and the certificates of every MX address of `ctx.domain`.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<RawFinding> {
    let chains = ChainCache::default();
    judge_with(ctx, view, &Facts::of_view(ctx, view, &chains))
}

/// What [`judge_with`] reads, building no findings: the MX hosts, the
/// probes of their addresses and, for a certificate some sender would
/// refuse, what `Senders` look up.
pub fn ask(ctx: &Context<'_>, view: &DnsView<'_>, facts: &Facts<'_, '_>) {
    let Ok(hosts) = facts.mx_hosts(view) else { return };
    let senders = Senders { facts, view };
    for host in hosts {
        for tls in facts.probe_host(view, host) {
            Address::new(ctx, tls).certificate_reads(&senders);
        }
    }
}

/// [`judge`], reading the shared facts of the view.
pub fn judge_with(ctx: &Context<'_>, view: &DnsView<'_>, facts: &Facts<'_, '_>) -> Vec<RawFinding> {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let hosts = match facts.mx_hosts(view) {
        Ok(hosts) => hosts,
        Err(why) => {
            let message = format!("Could not look up the MX hosts, so no SMTP server was probed: {why}.");
            return every_rule(Outcome::Indeterminate, &domain, &message)
                .map(|f| f.evidence("failed_lookups", [&why]))
                .collect();
        }
    };
    if hosts.is_empty() {
        let message = "The domain has no MX hosts (none, or a null MX): there is no SMTP server to probe.";
        return every_rule(Outcome::NotApplicable, &domain, message).collect();
    }
    let senders = Senders { facts, view };
    let mut out = Vec::new();
    for host in hosts {
        out.extend(judge_host(ctx, view, host, &senders));
    }
    out
}

fn judge_host(
    ctx: &Context<'_>,
    view: &DnsView<'_>,
    host: &MxHost,
    senders: &Senders<'_, '_, '_, '_>,
) -> Vec<RawFinding> {
    match &host.addresses {
        Err(why) => {
            let message = format!(
                "Could not look up the addresses of {}, so it was not probed: {why}.",
                host.name
            );
            every_rule(Outcome::Indeterminate, &host.name, &message)
                .map(|f| f.evidence("failed_lookups", [why]))
                .collect()
        }
        Ok(addresses) if addresses.is_empty() => {
            let message = format!(
                "{} has no address (see mx.target-unresolvable): there is no server to probe.",
                host.name
            );
            every_rule(Outcome::NotApplicable, &host.name, &message).collect()
        }
        Ok(_) => (senders.facts.probe_host(view, host))
            .into_iter()
            .flat_map(|tls| Address::new(ctx, tls).judge(senders))
            .collect(),
    }
}

/// One finding per rule, all alike.
fn every_rule<'a>(outcome: Outcome, subject: &'a str, message: &'a str) -> impl Iterator<Item = RawFinding> + 'a {
    RULES
        .into_iter()
        .map(move |id| RawFinding::new(id, outcome, subject, message))
}

/// What the senders that authenticate the MX look up: the domain's
/// MTA-STS policy (at most once) and each MX host's DANE TLSA records,
/// only when a certificate problem makes them matter (so evidence without
/// one need not hold their answers).
struct Senders<'v, 'f, 'p, 'a> {
    facts: &'v Facts<'f, 'p>,
    view: &'v DnsView<'a>,
}

impl<'p> Senders<'_, '_, 'p, '_> {
    /// Whether DANE senders authenticate the chain `host` presented
    /// (RFC 7672 §3.1), and by which record.
    fn dane(&self, host: &str, address: IpAddr, chain: &[Vec<u8>]) -> Option<crate::dane::DaneAuthenticated> {
        let target = mailwarden_model::SmtpTarget::new(host, address);
        self.facts.dane_authenticates(self.view, target, chain)
    }

    fn state(&self) -> &PolicyState<'p> {
        self.facts.policy_state(self.view)
    }

    /// RFC 8461 §5: a valid policy in enforce mode whose `mx` patterns
    /// cover `host` (§4.1) makes senders refuse a host that fails
    /// certificate validation.
    fn enforces(&self, host: &str) -> bool {
        let state = self.state();
        state.mode() == Some(Mode::Enforce) && state.covers(host) == Some(true)
    }
}

/// How far the SMTP conversation with one address got, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reached {
    /// Not as far as the EHLO reply (unreachable, timeout, SMTP error).
    Nothing,
    /// EHLO answered, without STARTTLS.
    Ehlo,
    /// STARTTLS sent and refused.
    StarttlsCommand,
    /// STARTTLS accepted, the handshake failed.
    Handshake,
    /// A TLS session.
    Session,
}

/// One probed address of one MX host.
struct Address<'p> {
    host: String,
    address: IpAddr,
    subject: String,
    probe: &'p SmtpProbe,
    /// The chain judged, when there is a session (an empty chain is
    /// judged too: "no certificate presented").
    chain: Option<ChainReport>,
    /// The PKIX verdict inside the leaf's validity period, when the leaf
    /// is outside it now (see [`undated_pkix`]).
    undated_pkix: Option<Pkix>,
}

impl<'p> Address<'p> {
    fn new(ctx: &Context<'_>, tls: AddressTls<'p>) -> Self {
        let subject = tls.subject();
        let der = tls.chain_der();
        let chain = (tls.chain).or_else(|| der.as_ref().map(|d| analyse_chain(d, &tls.host, ctx.now, ctx.roots)));
        let undated_pkix = chain
            .as_ref()
            .zip(der.as_ref())
            .and_then(|(report, der)| undated_pkix(ctx, &tls.host, report, der));
        Self {
            host: tls.host,
            address: tls.address,
            subject,
            probe: tls.probe,
            chain,
            undated_pkix,
        }
    }

    fn judge(&self, senders: &Senders<'_, '_, '_, '_>) -> Vec<RawFinding> {
        if !self.probe.status.is_definite() {
            return self.not_probed();
        }
        let mut out = vec![
            self.probed(),
            self.reachable(),
            self.starttls(),
            self.starttls_refused(),
            self.handshake(),
            self.tls_version(),
            self.cipher(),
            self.legacy_protocol(),
            self.ssl3(),
            self.legacy_cipher(),
            self.injection(),
        ];
        out.extend(self.certificates(senders));
        out
    }

    fn finding(&self, id: &str, outcome: Outcome, message: impl Into<String>) -> RawFinding {
        RawFinding::new(id, outcome, &self.subject, message)
    }

    fn reached(&self) -> Reached {
        match self.probe.status {
            SmtpStatus::Tls => Reached::Session,
            SmtpStatus::HandshakeFailed => Reached::Handshake,
            SmtpStatus::StarttlsRefused => Reached::StarttlsCommand,
            SmtpStatus::NoStarttls => Reached::Ehlo,
            _ => Reached::Nothing,
        }
    }

    /// The finding of rule `id` when the conversation did not reach
    /// `needed`: not-applicable when the server stopped it at an earlier
    /// stage (a fact, judged by that stage's rule), indeterminate when it
    /// never got as far as EHLO. `None` when the rule can be judged.
    fn short_of(&self, id: &str, needed: Reached) -> Option<RawFinding> {
        let reached = self.reached();
        if reached >= needed {
            return None;
        }
        let (outcome, message) = match reached {
            Reached::Nothing => (Outcome::Indeterminate, self.stopped_early()),
            Reached::Ehlo => (
                Outcome::NotApplicable,
                "The server does not offer STARTTLS (see smtp.starttls).".into(),
            ),
            Reached::StarttlsCommand => (
                Outcome::NotApplicable,
                "The server refused STARTTLS (see smtp.starttls-refused).".into(),
            ),
            Reached::Handshake | Reached::Session => (
                Outcome::NotApplicable,
                "There is no TLS session: the handshake failed (see smtp.handshake).".into(),
            ),
        };
        Some(self.finding(id, outcome, message).evidence("status", self.probe.status))
    }

    /// Why the probe saw nothing of STARTTLS although it was made.
    fn stopped_early(&self) -> String {
        match self.probe.status {
            SmtpStatus::Unreachable => format!(
                "Port {} could not be reached from the scanner's network (see smtp.reachable), so STARTTLS could not be tried.",
                self.port()
            ),
            _ => format!(
                "The SMTP conversation ended before STARTTLS could be tried ({}); a sender elsewhere may get further.",
                self.probe.describe()
            ),
        }
    }

    fn port(&self) -> u16 {
        self.probe.port.unwrap_or(25)
    }
}

/// The PKIX verdict as of the middle of the leaf's validity period, when
/// the leaf is outside that period at `now`: whether the chain would be
/// trusted but for its dates, which `smtp.cert-expired` and
/// `smtp.cert-not-yet-valid` report on their own.
fn undated_pkix(ctx: &Context<'_>, host: &str, report: &ChainReport, der: &[Vec<u8>]) -> Option<Pkix> {
    let leaf = report.leaf.as_ref()?;
    if !matches!(leaf.validity, Validity::Expired | Validity::NotYetValid) {
        return None;
    }
    let cert = report.certificates.first()?.as_ref()?;
    let middle = cert.not_before + (cert.not_after - cert.not_before) / 2;
    Some(analyse_chain(der, host, middle, ctx.roots).pkix)
}

// Declared last: the catalogue test reads the judge code up to the test module.
#[cfg(test)]
mod tests;

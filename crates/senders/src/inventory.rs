//! The sender inventory, pure: aggregate-report rows folded into sources
//! (one per IP address) with DMARC alignment **recomputed** from the
//! identifiers and the published policy, never copied from the reporter;
//! sources grouped into senders (a known service from
//! `senders_services.toml`, the domain's own infrastructure, or the
//! organisational domain that signs or bounces for them).
//!
//! RFC 7489 §3.1: "In relaxed mode, the Organizational Domains of both
//! the \[DKIM\]-authenticated signing domain (taken from the value of the d=
//! tag in the signature) and that of the RFC5322.From domain must be
//! equal"; "In strict mode, only an exact match is considered to produce
//! Identifier Alignment." §4.2: "A message satisfies the DMARC checks if
//! at least one of the supported authentication mechanisms: 1. produces a
//! 'pass' result, and 2. produces that result based on an identifier that
//! is in alignment".

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use mailwarden_checks::dmarc::organisational_domain_psl;
use mailwarden_ingest::aggregate::{DkimResult, SpfResult};
use serde::{Deserialize, Serialize};

use crate::rdns::Rdns;

/// A known sending service and how it shows.
#[derive(Debug, Clone, Deserialize)]
pub struct Service {
    pub name: String,
    #[serde(default)]
    pub dkim: Vec<String>,
    #[serde(default)]
    pub envelope: Vec<String>,
    #[serde(default)]
    pub spf: Vec<String>,
    /// Host names its outbound servers carry in DNS (PTR), matched only
    /// against a forward-confirmed name.
    #[serde(default)]
    pub ptr: Vec<String>,
}

/// The services of `senders_services.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct Services {
    #[serde(rename = "service")]
    pub list: Vec<Service>,
}

impl Services {
    pub fn builtin() -> Services {
        toml::from_str(include_str!("senders_services.toml")).expect("senders_services.toml is valid (tested)")
    }

    fn find(&self, name: &str, pick: impl Fn(&Service) -> &[String]) -> Option<&str> {
        self.list
            .iter()
            .find(|s| pick(s).iter().any(|p| under(name, p)))
            .map(|s| s.name.as_str())
    }

    /// The service whose SPF include `target` is.
    pub fn by_spf_include(&self, target: &str) -> Option<&str> {
        self.find(target, |s| &s.spf)
    }
}

/// A source's class: authorised when the current SPF policy covers it
/// (unknown: when a reporter saw SPF pass), aligned when every message
/// passed DMARC.
fn class_of(src: &Source) -> Class {
    match (src.in_spf.unwrap_or(src.spf_pass > 0), src.dmarc_pass == src.messages) {
        (false, _) => Class::NotAuthorised,
        (true, true) => Class::AuthorisedAligned,
        (true, false) => Class::AuthorisedFailing,
    }
}

/// `name` is `pattern` or a name under it.
pub fn under(name: &str, pattern: &str) -> bool {
    let name = name.trim_end_matches('.');
    name.eq_ignore_ascii_case(pattern)
        || (name.len() > pattern.len()
            && name.as_bytes()[name.len() - pattern.len() - 1] == b'.'
            && name[name.len() - pattern.len()..].eq_ignore_ascii_case(pattern))
}

/// Whether `a` and `b` align in mode `mode` (`s` strict, else relaxed).
pub fn aligned(a: &str, b: &str, mode: Option<&str>) -> bool {
    let (a, b) = (a.trim_end_matches('.'), b.trim_end_matches('.'));
    if mode == Some("s") {
        a.eq_ignore_ascii_case(b)
    } else {
        !a.is_empty() && organisational_domain_psl(a) == organisational_domain_psl(b)
    }
}

/// One aggregate row as the inventory reads it.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    pub ip: IpAddr,
    pub count: u64,
    pub header_from: &'a str,
    pub envelope_from: Option<&'a str>,
    pub dkim: &'a [DkimResult],
    pub spf: &'a [SpfResult],
    /// The published `adkim` / `aspf` the reporter saw (`None`: relaxed).
    pub adkim: Option<&'a str>,
    pub aspf: Option<&'a str>,
    pub reporter: &'a str,
    /// The reported period, seconds since the epoch.
    pub begin: i64,
    pub end: i64,
}

/// Everything seen from one IP address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Source {
    pub ip: String,
    pub messages: u64,
    /// SPF `pass` for the MAIL FROM domain, aligned or not.
    pub spf_pass: u64,
    /// At least one DKIM signature `pass`, aligned or not.
    pub dkim_pass: u64,
    pub spf_aligned: u64,
    pub dkim_aligned: u64,
    /// DMARC pass recomputed: an aligned SPF or DKIM pass.
    pub dmarc_pass: u64,
    pub envelope_domains: BTreeSet<String>,
    pub dkim_domains: BTreeSet<String>,
    pub reporters: BTreeSet<String>,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Whether the domain's SPF record (latest stored scan) covers this
    /// address; `None` when unknown (no scan, or not resolvable offline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_spf: Option<bool>,
    /// The address's reverse DNS, when looked up (not with `--offline`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdns: Option<Rdns>,
}

/// How a sender stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Authorised by SPF and every message DMARC-aligned.
    AuthorisedAligned,
    /// Authorised, but some messages fail DKIM or alignment: fix before enforcing.
    AuthorisedFailing,
    /// Not authorised by the current SPF policy: a forgotten service, a
    /// forwarder, or someone spoofing.
    NotAuthorised,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::AuthorisedAligned => "authorised-aligned",
            Class::AuthorisedFailing => "authorised-failing",
            Class::NotAuthorised => "not-authorised",
        }
    }
}

/// A group of sources that send as one service or organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sender {
    pub name: String,
    /// How the name was found: `service`, `ptr-service`, `own`, `dkim`,
    /// `envelope`, `ptr` or `unidentified`.
    pub identified_by: &'static str,
    pub class: Class,
    pub messages: u64,
    pub spf_pass: u64,
    pub dkim_pass: u64,
    pub dmarc_pass: u64,
    pub sources: Vec<Source>,
}

/// The rows of a domain's aggregate reports, folded.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub domain: String,
    pub sources: BTreeMap<IpAddr, Source>,
    /// (DKIM d=, selector) → (messages, passed).
    pub selectors: BTreeMap<(String, String), (u64, u64)>,
    pub reports: usize,
}

impl Inventory {
    pub fn new(domain: &str) -> Inventory {
        Inventory {
            domain: domain.to_ascii_lowercase(),
            ..Inventory::default()
        }
    }

    /// Fold one row in.
    pub fn add(&mut self, row: &Row<'_>) {
        let n = row.count;
        let from = row.header_from;
        let envelope = row
            .spf
            .iter()
            .find(|s| s.scope.as_deref() != Some("helo") && !s.domain.is_empty())
            .map(|s| s.domain.as_str())
            .or(row.envelope_from);
        let spf_pass = row
            .spf
            .iter()
            .any(|s| s.scope.as_deref() != Some("helo") && s.result == "pass");
        let spf_aligned = spf_pass && envelope.is_some_and(|e| aligned(e, from, row.aspf));
        let dkim_pass = row.dkim.iter().any(|d| d.result == "pass");
        let dkim_aligned = row
            .dkim
            .iter()
            .any(|d| d.result == "pass" && aligned(&d.domain, from, row.adkim));
        let src = self.sources.entry(row.ip).or_insert_with(|| Source {
            ip: row.ip.to_string(),
            first_seen: row.begin,
            last_seen: row.end,
            ..Source::default()
        });
        src.messages += n;
        src.spf_pass += u64::from(spf_pass) * n;
        src.dkim_pass += u64::from(dkim_pass) * n;
        src.spf_aligned += u64::from(spf_aligned) * n;
        src.dkim_aligned += u64::from(dkim_aligned) * n;
        src.dmarc_pass += u64::from(spf_aligned || dkim_aligned) * n;
        src.envelope_domains.extend(envelope.map(str::to_ascii_lowercase));
        src.dkim_domains.extend(
            row.dkim
                .iter()
                .filter(|d| !d.domain.is_empty())
                .map(|d| d.domain.clone()),
        );
        src.reporters.insert(row.reporter.to_string());
        src.first_seen = src.first_seen.min(row.begin);
        src.last_seen = src.last_seen.max(row.end);
        for d in row.dkim {
            if let Some(selector) = &d.selector {
                let e = self
                    .selectors
                    .entry((d.domain.clone(), selector.to_ascii_lowercase()))
                    .or_default();
                e.0 += n;
                e.1 += u64::from(d.result == "pass") * n;
            }
        }
    }

    /// The selectors seen signing for the domain itself (d= aligned, relaxed).
    pub fn own_selectors(&self) -> BTreeMap<String, (u64, u64)> {
        let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for ((d, s), (n, p)) in &self.selectors {
            if aligned(d, &self.domain, None) {
                let e = out.entry(s.clone()).or_default();
                e.0 += n;
                e.1 += p;
            }
        }
        out
    }

    /// The senders, most messages first. `authorised(source)` says whether
    /// the current SPF policy authorises a source (`None`: unknown, then
    /// the reported SPF pass decides).
    pub fn senders(&self, services: &Services, authorised: impl Fn(&Source) -> Option<bool>) -> Vec<Sender> {
        self.senders_named(services, authorised, &BTreeMap::new())
    }

    /// [`Inventory::senders`] with the reverse DNS of the sources: shown
    /// on each, and a confirmed name (never another) identifies a service
    /// by its PTR pattern or groups an otherwise unidentified source
    /// under the name's organisational domain.
    pub fn senders_named(
        &self,
        services: &Services,
        authorised: impl Fn(&Source) -> Option<bool>,
        names: &BTreeMap<IpAddr, Rdns>,
    ) -> Vec<Sender> {
        // One sender per identity and class: a service's forwarded or
        // spoofed mail is shown apart from its authorised mail.
        let mut groups: BTreeMap<(String, &'static str, Class), Vec<Source>> = BTreeMap::new();
        for (ip, src) in &self.sources {
            let mut src = src.clone();
            src.in_spf = authorised(&src);
            src.rdns = names.get(ip).cloned();
            let (name, by) = self.identify(&src, services);
            groups.entry((name, by, class_of(&src))).or_default().push(src);
        }
        let mut out: Vec<Sender> = groups
            .into_iter()
            .map(|((name, identified_by, class), mut sources)| {
                sources.sort_by(|a, b| b.messages.cmp(&a.messages).then_with(|| a.ip.cmp(&b.ip)));
                let sum = |f: fn(&Source) -> u64| sources.iter().map(f).sum::<u64>();
                Sender {
                    name,
                    identified_by,
                    class,
                    messages: sum(|s| s.messages),
                    spf_pass: sum(|s| s.spf_pass),
                    dkim_pass: sum(|s| s.dkim_pass),
                    dmarc_pass: sum(|s| s.dmarc_pass),
                    sources,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.messages
                .cmp(&a.messages)
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.class.cmp(&b.class))
        });
        out
    }

    /// Who a source sends as: a known service (by DKIM or envelope
    /// domain, else by its confirmed PTR name), the domain itself, else
    /// the organisational domain that signs (DKIM) or bounces (envelope)
    /// for it, else that of its confirmed PTR name.
    fn identify(&self, src: &Source, services: &Services) -> (String, &'static str) {
        let service = src
            .dkim_domains
            .iter()
            .find_map(|d| services.find(d, |s| &s.dkim))
            .or_else(|| {
                src.envelope_domains
                    .iter()
                    .find_map(|d| services.find(d, |s| &s.envelope))
            });
        if let Some(name) = service {
            return (name.to_string(), "service");
        }
        let ptr = src.rdns.as_ref().and_then(Rdns::confirmed);
        if let Some(name) = ptr.and_then(|p| services.find(p, |s| &s.ptr)) {
            return (name.to_string(), "ptr-service");
        }
        let own = |d: &String| aligned(d, &self.domain, None);
        if src.envelope_domains.iter().any(own) || src.dkim_domains.iter().any(own) {
            return (format!("{} (own)", organisational_domain_psl(&self.domain)), "own");
        }
        if let Some(d) = src.dkim_domains.iter().next() {
            return (organisational_domain_psl(d), "dkim");
        }
        if let Some(d) = src.envelope_domains.iter().next() {
            return (organisational_domain_psl(d), "envelope");
        }
        if let Some(name) = ptr {
            return (organisational_domain_psl(name), "ptr");
        }
        ("unidentified".to_string(), "unidentified")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dkim(domain: &str, selector: &str, result: &str) -> DkimResult {
        DkimResult {
            domain: domain.into(),
            selector: Some(selector.into()),
            result: result.into(),
            human_result: None,
        }
    }

    fn spf(domain: &str, result: &str) -> SpfResult {
        SpfResult {
            domain: domain.into(),
            scope: Some("mfrom".into()),
            result: result.into(),
        }
    }

    fn row<'a>(ip: &str, n: u64, dk: &'a [DkimResult], sp: &'a [SpfResult]) -> Row<'a> {
        Row {
            ip: ip.parse().unwrap(),
            count: n,
            header_from: "example.com",
            envelope_from: None,
            dkim: dk,
            spf: sp,
            adkim: None,
            aspf: None,
            reporter: "google.com",
            begin: 100,
            end: 200,
        }
    }

    #[test]
    fn services_file_parses_and_every_service_has_a_pattern() {
        let s = Services::builtin();
        assert!(s.list.len() >= 10);
        assert!(
            s.list
                .iter()
                .all(|x| !x.dkim.is_empty() && !x.spf.is_empty() && !x.ptr.is_empty())
        );
        assert_eq!(s.by_spf_include("_spf.google.com"), Some("Google Workspace"));
        assert_eq!(s.by_spf_include("spf.example.net"), None);
    }

    #[test]
    fn under_matches_the_name_and_names_below_only() {
        assert!(under("sendgrid.net", "sendgrid.net"));
        assert!(under("em123.SendGrid.net.", "sendgrid.net"));
        assert!(!under("notsendgrid.net", "sendgrid.net"));
        assert!(!under("net", "sendgrid.net"));
    }

    #[test]
    fn alignment_is_recomputed_not_copied_relaxed_and_strict() {
        assert!(aligned("mail.example.com", "example.com", None));
        assert!(!aligned("mail.example.com", "example.com", Some("s")));
        assert!(aligned("example.com", "EXAMPLE.com", Some("s")));
        assert!(!aligned("example.net", "example.com", None));
        // PSL: two customers of one public suffix are not aligned.
        assert!(!aligned("a.co.uk", "b.co.uk", None));
    }

    #[test]
    fn a_service_signing_with_its_own_domain_is_authorised_but_failing_alignment() {
        let mut inv = Inventory::new("example.com");
        let d = [dkim("sendgrid.net", "s1", "pass")];
        let s = [spf("sendgrid.net", "pass")];
        inv.add(&row("192.0.2.1", 10, &d, &s));
        let senders = inv.senders(&Services::builtin(), |_| Some(true));
        assert_eq!(senders.len(), 1);
        assert_eq!(
            (senders[0].name.as_str(), senders[0].identified_by),
            ("SendGrid", "service")
        );
        assert_eq!(senders[0].dmarc_pass, 0);
        assert_eq!(senders[0].class, Class::AuthorisedFailing);
    }

    #[test]
    fn own_aligned_mail_is_authorised_and_aligned_and_spoofing_is_not_authorised() {
        let mut inv = Inventory::new("example.com");
        let good_d = [dkim("example.com", "s1", "pass")];
        let good_s = [spf("example.com", "pass")];
        inv.add(&row("192.0.2.1", 5, &good_d, &good_s));
        let bad_s = [spf("example.com", "fail")];
        inv.add(&row("203.0.113.9", 3, &[], &bad_s));
        let senders = inv.senders(&Services::builtin(), |s| Some(s.ip == "192.0.2.1"));
        let own: Vec<_> = senders.iter().map(|s| (s.name.as_str(), s.class, s.messages)).collect();
        // Both claim the domain itself; the spoofing source is a sender of its own class.
        assert_eq!(
            own,
            vec![
                ("example.com (own)", Class::AuthorisedAligned, 5),
                ("example.com (own)", Class::NotAuthorised, 3)
            ]
        );
        let all_listed = inv.senders(&Services::builtin(), |_| Some(true));
        let classes: Vec<_> = all_listed.iter().map(|s| s.class).collect();
        assert_eq!(classes, vec![Class::AuthorisedAligned, Class::AuthorisedFailing]);
        assert_eq!(inv.own_selectors().get("s1"), Some(&(5, 5)));
    }

    /// Without a scan, the reported SPF result decides authorisation.
    #[test]
    fn unknown_configuration_falls_back_to_the_reported_spf_result() {
        let mut inv = Inventory::new("example.com");
        let s = [spf("bounce.example.com", "pass")];
        let d = [dkim("example.com", "k", "fail")];
        inv.add(&row("192.0.2.7", 4, &d, &s));
        let senders = inv.senders(&Services::builtin(), |_| None);
        assert_eq!(senders[0].class, Class::AuthorisedAligned);
        let s = [spf("bounce.example.com", "softfail")];
        let mut inv = Inventory::new("example.com");
        inv.add(&row("192.0.2.7", 4, &d, &s));
        assert_eq!(
            inv.senders(&Services::builtin(), |_| None)[0].class,
            Class::NotAuthorised
        );
    }

    /// Only a forward-confirmed PTR name identifies: an unconfirmed
    /// `mail-x.google.com` (anyone can publish that PTR for their own
    /// address) stays unidentified.
    #[test]
    fn only_a_confirmed_ptr_name_identifies_a_service_or_groups_a_source() {
        // No DKIM and no envelope domain: nothing but the PTR to go by.
        let mut inv = Inventory::new("example.com");
        for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"] {
            inv.add(&row(ip, 1, &[], &[]));
        }
        let names: BTreeMap<IpAddr, Rdns> = [
            (
                "192.0.2.1",
                Rdns::Confirmed {
                    name: "mail-a1.google.com".into(),
                },
            ),
            (
                "192.0.2.2",
                Rdns::Unconfirmed {
                    names: vec!["mail-a2.google.com".into()],
                },
            ),
            (
                "192.0.2.3",
                Rdns::Confirmed {
                    name: "relay.forwarder.example.net".into(),
                },
            ),
            (
                "192.0.2.4",
                Rdns::Indeterminate {
                    reason: "timeout".into(),
                },
            ),
        ]
        .into_iter()
        .map(|(ip, r)| (ip.parse().unwrap(), r))
        .collect();
        let senders = inv.senders_named(&Services::builtin(), |_| Some(false), &names);
        let got: Vec<(&str, &str, Vec<&str>)> = senders
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.identified_by,
                    s.sources.iter().map(|x| x.ip.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("unidentified", "unidentified", vec!["192.0.2.2", "192.0.2.4"]),
                ("Google Workspace", "ptr-service", vec!["192.0.2.1"]),
                ("example.net", "ptr", vec!["192.0.2.3"]),
            ]
        );
        // The unconfirmed name is shown on the source, never trusted.
        assert_eq!(senders[0].sources[0].rdns.as_ref().unwrap().state(), "unconfirmed");
        // Without names: all four unidentified, as offline.
        assert_eq!(inv.senders(&Services::builtin(), |_| Some(false)).len(), 1);
    }

    #[test]
    fn strict_dkim_alignment_fails_a_subdomain_signature() {
        let mut inv = Inventory::new("example.com");
        let d = [dkim("mail.example.com", "k", "pass")];
        let mut r = row("192.0.2.8", 2, &d, &[]);
        r.adkim = Some("s");
        inv.add(&r);
        assert_eq!(inv.sources.values().next().unwrap().dmarc_pass, 0);
        let mut inv = Inventory::new("example.com");
        inv.add(&row("192.0.2.8", 2, &d, &[]));
        assert_eq!(inv.sources.values().next().unwrap().dmarc_pass, 2);
    }
}

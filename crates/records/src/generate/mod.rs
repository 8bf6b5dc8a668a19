//! Recommended DNS records, built from a domain's current state: pure
//! functions from [`DomainState`] (which the CLI gathers by scanning the
//! domain) to zone-file text with comments explaining each step.
//!
//! Every output is valid zone-file syntax: exactly the records to publish
//! now are uncommented; later stages, files to serve over HTTPS and
//! warnings are comments.

use std::fmt::Write as _;

mod dmarc;
mod mta_sts;
mod null_mx;
pub mod readback;
mod spf;
mod tlsa;
mod tlsrpt;

pub use dmarc::dmarc;
pub use mta_sts::mta_sts;
pub use null_mx::null_mx;
pub use spf::{flatten_networks, spf};
pub use tlsa::{CertInfo, ProbedAddress, ProbedHost, tlsa, tlsa_live};
pub use tlsrpt::tlsrpt;

/// TTL used for the generated records.
pub const TTL: u32 = 3600;

/// What the generators need to know about the domain as it is now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainState {
    /// The domain, normalised (lower case, no trailing dot).
    pub domain: String,
    /// MX records: preference and exchange (`""` for a null MX).
    pub mx: Vec<(u16, String)>,
    /// The current SPF record, concatenated, if exactly one is published.
    pub spf: Option<String>,
    /// DNS-querying terms of the whole SPF tree (RFC 7208 §4.6.4), if known.
    pub spf_lookups: Option<usize>,
    /// Every network the current SPF tree authorises (`ADDR/LEN`), flattened.
    pub spf_networks: Vec<String>,
    /// Terms that cannot be flattened (macros, `exists`), as written.
    pub spf_dynamic: Vec<String>,
    /// The current DMARC record at `_dmarc.DOMAIN`, if one is published.
    pub dmarc: Option<String>,
}

impl DomainState {
    /// True when the domain publishes a null MX (RFC 7505).
    pub fn null_mx(&self) -> bool {
        self.mx.iter().any(|(_, x)| x.is_empty() || x == ".")
    }

    /// The MX host names (not the null MX), sorted, without duplicates.
    pub fn mx_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .mx
            .iter()
            .filter(|(_, x)| !x.is_empty() && x != ".")
            .map(|(_, x)| x.trim_end_matches('.').to_ascii_lowercase())
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    pub(super) fn dmarc_tag(&self, tag: &str) -> Option<String> {
        self.dmarc.as_deref()?.split(';').find_map(|t| {
            let (k, v) = t.split_once('=')?;
            k.trim().eq_ignore_ascii_case(tag).then(|| v.trim().to_string())
        })
    }
}

/// The zone-file text, or the builder's refusal.
pub type GenResult = Result<String, GenError>;

/// A builder's refusal: what is missing or wrong, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenError {
    /// `--rua` for TLS-RPT is neither `mailto:` with an address nor `https:`.
    #[error("--rua {rua:?}: expected mailto:ADDRESS or https://URL")]
    RuaNotMailtoOrHttps {
        /// As given.
        rua: String,
    },
    /// `--rua` for DMARC is not `mailto:` with an address.
    #[error("--rua {rua:?}: expected mailto:ADDRESS (e.g. mailto:dmarc-reports@example.com)")]
    RuaNotMailto {
        /// As given.
        rua: String,
    },
    /// Flattening asked for, but the policy names no fixed network.
    #[error("{domain}: the SPF policy authorises no fixed network, so there is nothing to flatten")]
    NothingToFlatten {
        /// The domain.
        domain: String,
    },
    /// An MTA-STS id that RFC 8461 §3.1 does not allow.
    #[error("--id {id:?}: an MTA-STS id is 1 to 32 letters and digits (RFC 8461 §3.1)")]
    BadStsId {
        /// As given.
        id: String,
    },
    /// MTA-STS for a domain without MX hosts.
    #[error(
        "{domain} has no MX hosts (null MX or no MX records): MTA-STS protects mail sent to a domain's MX hosts, so it needs some"
    )]
    NoMxForMtaSts {
        /// The domain.
        domain: String,
    },
    /// TLSA for a domain without MX hosts and no `--host`.
    #[error("{domain} has no MX hosts: DANE protects delivery to MX hosts; name one with --host HOST")]
    NoMxForDane {
        /// The domain.
        domain: String,
    },
    /// No MX host presented a key; every reason, `HOST: why`.
    #[error("no TLSA record could be produced for {domain}:{}", indented(.reasons))]
    NoTlsaKey {
        /// The domain.
        domain: String,
        /// Why each host or address gave no key.
        reasons: Vec<String>,
    },
}

/// Each reason on a line of its own, indented.
fn indented(reasons: &[String]) -> String {
    reasons.iter().map(|r| format!("\n  {r}")).collect()
}

/// Quote TXT data as zone-file character-strings of at most 255 octets.
/// Control, bidi and invisible characters (copied from a published record)
/// are written as RFC 1035 `\DDD` octets: the same data, inert on a
/// terminal.
pub fn txt(data: &str) -> String {
    let escaped = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '\\' | '"' => {
                    out.push('\\');
                    out.push(c);
                }
                c if crate::visible::is_unsafe(c) => {
                    for b in c.encode_utf8(&mut [0; 4]).bytes() {
                        let _ = write!(out, "\\{b:03}");
                    }
                }
                c => out.push(c),
            }
        }
        out
    };
    let bytes = data.as_bytes();
    if bytes.len() <= 255 {
        return format!("\"{}\"", escaped(data));
    }
    let mut parts = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let mut end = (start + 255).min(data.len());
        while !data.is_char_boundary(end) {
            end -= 1;
        }
        parts.push(format!("\"{}\"", escaped(&data[start..end])));
        start = end;
    }
    format!("( {} )", parts.join("\n        "))
}

pub(super) fn record(out: &mut String, owner: &str, rtype: &str, data: &str) {
    let _ = writeln!(out, "{owner}. {TTL} IN {rtype} {data}");
}

pub(super) fn commented_record(out: &mut String, owner: &str, rtype: &str, data: &str) {
    let _ = writeln!(out, "; {owner}. {TTL} IN {rtype} {}", data.replace('\n', "\n;"));
}

pub(super) fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push_str(";\n");
        } else {
            let _ = writeln!(out, "; {line}");
        }
    }
}

/// Check a report URI for `rua=`: `mailto:` with an address (and `https:`
/// when `https_ok`).
pub fn check_rua(rua: &str, https_ok: bool) -> Result<(), GenError> {
    let ok_mailto = rua
        .strip_prefix("mailto:")
        .and_then(|a| a.split_once('@'))
        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains([' ', ',', ';', '!']));
    let ok_https = https_ok && rua.starts_with("https://") && rua.len() > "https://".len();
    let clean = !rua.contains([' ', ';', '"', '\\', ',']);
    if (ok_mailto || ok_https) && clean {
        Ok(())
    } else if https_ok {
        Err(GenError::RuaNotMailtoOrHttps { rua: rua.to_string() })
    } else {
        Err(GenError::RuaNotMailto { rua: rua.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::testing::state;
    use super::*;

    #[test]
    fn txt_splits_long_strings() {
        let long = "a".repeat(300);
        let t = txt(&long);
        assert!(t.starts_with("( \"") && t.contains("\"\n        \""), "{t}");
        assert_eq!(txt("say \"x\""), "\"say \\\"x\\\"\"");
    }

    /// Every record of `zone` and every policy file in it, with what its
    /// own parser says, as `owner TYPE: code` lines.
    fn problems(zone: &str) -> Vec<String> {
        let mut out = Vec::new();
        for r in readback::records(zone).unwrap() {
            for d in readback::diagnostics(&r) {
                out.push(format!("{} {}: {}", r.owner, r.rtype, d.code));
            }
        }
        for body in readback::policies(zone) {
            for d in crate::mta_sts::parse_policy(body.as_bytes()).diagnostics {
                out.push(format!("policy line {}: {}", d.line, d.code));
            }
        }
        out
    }

    fn cert() -> CertInfo {
        CertInfo {
            subject: "CN=mx".into(),
            not_after: "Jan  1 00:00:00 2030 +00:00".into(),
            spki_sha256: "8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1".into(),
        }
    }

    #[test]
    fn every_builder_output_parses_back_through_the_strict_parsers_with_no_diagnostic() {
        let s = state();
        let mut over = state();
        over.spf_lookups = Some(14);
        let mut chained = over.clone();
        chained.spf_networks = (0..60).map(|i| format!("192.0.{i}.0/24")).collect();
        let outputs = [
            spf(&s, false),
            spf(&s, true),
            spf(&over, false),
            spf(&chained, false),
            dmarc(&s, None),
            dmarc(&s, Some("mailto:reports@elsewhere.example")),
            mta_sts(&s, "20260101"),
            tlsrpt(&s, None),
            tlsrpt(&s, Some("https://reports.example/tlsrpt")),
            tlsa(&s, &cert(), &[]),
            null_mx(&s, Some("mailto:d@example.com")),
        ];
        for out in outputs {
            let zone = out.unwrap();
            assert!(!readback::records(&zone).unwrap().is_empty(), "{zone}");
            // An empty p= is how a null-MX domain revokes every DKIM key.
            let problems: Vec<String> = problems(&zone)
                .into_iter()
                .filter(|p| p != "*._domainkey.example.com TXT: key-revoked")
                .collect();
            assert!(problems.is_empty(), "{problems:?}\n{zone}");
        }
    }

    #[test]
    fn the_mta_sts_output_holds_two_valid_policies_testing_then_enforce() {
        let zone = mta_sts(&state(), "20260101").unwrap();
        let policies: Vec<_> = readback::policies(&zone)
            .iter()
            .map(|b| crate::mta_sts::parse_policy(b.as_bytes()))
            .collect();
        let modes: Vec<_> = policies.iter().map(|p| (p.is_valid(), p.mode)).collect();
        use crate::mta_sts::Mode;
        assert_eq!(modes, [(true, Some(Mode::Testing)), (true, Some(Mode::Enforce))]);
        assert_eq!(policies[0].mx.len(), 2);
    }

    /// The check itself must be able to fail: a builder that printed a bad
    /// record would be caught.
    #[test]
    fn a_bad_record_in_the_output_is_caught() {
        let zone = "example.com. 3600 IN TXT \"v=spf1 mx foo -all\"\n\
                    _dmarc.example.com. 3600 IN TXT \"v=DMARC1; p=maybe\"\n\
                    _25._tcp.mx.example.com. 3600 IN TLSA 3 1 1 abcd\n";
        let p = problems(zone);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].starts_with("example.com TXT: "), "{p:?}");
        assert!(p[2].ends_with("tlsa-unusable"), "{p:?}");
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::DomainState;

    pub(crate) fn state() -> DomainState {
        DomainState {
            domain: "example.com".into(),
            mx: vec![(10, "mx1.example.com".into()), (20, "mx2.example.com".into())],
            spf: Some("v=spf1 mx include:_spf.example.com ptr ~all".into()),
            spf_lookups: Some(3),
            spf_networks: vec![
                "192.0.2.25/32".into(),
                "198.51.100.0/24".into(),
                "198.51.100.25/32".into(),
                "2001:db8::/32".into(),
                "2001:db8:25::1/128".into(),
            ],
            spf_dynamic: vec![],
            dmarc: Some("v=DMARC1; p=none; rua=mailto:d@example.com".into()),
        }
    }
}

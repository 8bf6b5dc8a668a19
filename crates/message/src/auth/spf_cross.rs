//! mail-auth's SPF verdict over the same DNS answers as ours: a second,
//! independent check_host() (RFC 7208 §4) to cross-check mailwarden's.
//!
//! mail-auth reads every answer from caches filled from our transcript
//! (TXT, A, AAAA, MX, PTR); its resolver has no servers, so a name our
//! check_host() never asked is a temperror on its side, never a query.
//! Its caches hold records only: a negative A/AAAA/MX answer is cached as
//! an empty set (no match, as RFC 7208 §5.3 and §5.4 read). But mail-auth's
//! `exists:` takes any cached entry as existing, so when an SPF record in
//! the transcript uses `exists:`, negative A/AAAA answers are left out and
//! mail-auth says temperror where it needs one: a known difference,
//! reported as "could not cross-check", never as a disagreement.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use mail_auth::spf::Spf;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{DnssecStatus, MX, RecordSet, SpfResult, Txt};
use mailwarden_model::{Answer, DnsView, RData, RType, Status, Transcript};

use super::verifier::{Cache, TxtCache, offline_authenticator, txt_entry};

/// The caches mail-auth's check_host() reads.
#[derive(Default)]
struct Caches {
    txt: TxtCache,
    mx: Cache<Box<str>, RecordSet<MX>>,
    a: Cache<Box<str>, RecordSet<Ipv4Addr>>,
    aaaa: Cache<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: Cache<IpAddr, RecordSet<Box<str>>>,
}

fn set<T>(items: Vec<T>) -> RecordSet<T> {
    RecordSet {
        rrset: items.into(),
        dnssec_status: DnssecStatus::Indeterminate,
    }
}

/// Whether an answer says definitely "no such records".
fn negative(a: &Answer) -> bool {
    matches!(a.status, Status::NxDomain | Status::NoData)
}

impl Caches {
    /// Every resolver answer of the transcript, as mail-auth caches hold it.
    fn from_transcript(transcript: &Transcript, client: IpAddr) -> Self {
        let c = Caches::default();
        let view = DnsView::new(transcript);
        let negatives = !uses_exists(transcript);
        for (key, _) in transcript.iter().filter(|(k, _)| k.server.is_none()) {
            let answer = view.get(&key.name, key.rtype);
            let name = key.name.as_str();
            match key.rtype {
                RType::Txt if !name.contains("_domainkey.") && !name.starts_with("_dmarc.") => {
                    c.txt.put(name, txt_entry::<Spf>(answer, |s| Txt::Spf(Arc::new(s))));
                }
                RType::A => Self::addresses(&c.a, name, answer, negatives, |r| match r {
                    RData::A { address } => Some(*address),
                    _ => None,
                }),
                RType::Aaaa => Self::addresses(&c.aaaa, name, answer, negatives, |r| match r {
                    RData::Aaaa { address } => Some(*address),
                    _ => None,
                }),
                RType::Mx if answer.status == Status::Records || negative(answer) => {
                    let exchanges = answer.records.iter().filter_map(|r| match r {
                        RData::Mx { preference, exchange } => Some(MX {
                            exchanges: vec![format!("{exchange}.").into_boxed_str()].into_boxed_slice(),
                            preference: *preference,
                        }),
                        _ => None,
                    });
                    c.mx.put(name, set(exchanges.collect()));
                }
                RType::Ptr if name == reverse(client) && answer.status == Status::Records => {
                    let names = answer.records.iter().filter_map(|r| match r {
                        RData::Ptr { target } => Some(format!("{target}.").into_boxed_str()),
                        _ => None,
                    });
                    c.ptr.put_key(client, set(names.collect()));
                }
                _ => {}
            }
        }
        c
    }

    /// Addresses, or an empty set for a definite "none" when `negatives`
    /// (see the module comment on `exists:`).
    fn addresses<T>(
        cache: &Cache<Box<str>, RecordSet<T>>,
        name: &str,
        answer: &Answer,
        negatives: bool,
        pick: fn(&RData) -> Option<T>,
    ) {
        let found: Vec<T> = answer.records.iter().filter_map(pick).collect();
        if !found.is_empty() || (negatives && negative(answer)) {
            cache.put(name, set(found));
        }
    }
}

/// Whether any TXT record of the transcript has an `exists:` mechanism.
fn uses_exists(transcript: &Transcript) -> bool {
    transcript
        .iter()
        .filter(|(k, _)| k.rtype == RType::Txt)
        .flat_map(|(_, a)| a.records.iter().filter_map(|r| r.txt_bytes()))
        .any(|t| String::from_utf8_lossy(&t).to_ascii_lowercase().contains("exists:"))
}

/// The `in-addr.arpa` / `ip6.arpa` name of the client (RFC 7208 §5.5).
fn reverse(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let hex: String = v6.octets().iter().map(|b| format!("{b:02x}")).collect();
            let nibbles: Vec<String> = hex.chars().rev().map(String::from).collect();
            format!("{}.ip6.arpa", nibbles.join("."))
        }
    }
}

/// mail-auth's check_host() result (RFC 8601 words) for `sender` (or the
/// HELO identity when `helo_only`) from `ip`, over the transcript's answers.
pub async fn check(
    transcript: &Transcript,
    ip: IpAddr,
    helo: &str,
    host: &str,
    sender: &str,
    helo_only: bool,
) -> Option<String> {
    let authenticator = offline_authenticator()?;
    let caches = Caches::from_transcript(transcript, ip);
    let params = if helo_only {
        SpfParameters::verify_ehlo(ip, helo, host)
    } else {
        SpfParameters::verify_mail_from(ip, helo, host, sender)
    };
    let out = authenticator
        .verify_spf(
            mail_auth::Parameters::new(params)
                .with_txt_cache(&caches.txt)
                .with_mx_cache(&caches.mx)
                .with_ipv4_cache(&caches.a)
                .with_ipv6_cache(&caches.aaaa)
                .with_ptr_cache(&caches.ptr),
        )
        .await;
    Some(word(out.result()).to_string())
}

fn word(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names_follow_rfc_7208_section_5_5() {
        assert_eq!(reverse("192.0.2.10".parse().unwrap()), "10.2.0.192.in-addr.arpa");
        assert!(reverse("2001:db8::1".parse().unwrap()).starts_with("1.0.0.0.0.0.0.0"));
        assert!(reverse("2001:db8::1".parse().unwrap()).ends_with("8.b.d.0.1.0.0.2.ip6.arpa"));
    }
}

//! Address classification: which addresses can receive mail from the
//! Internet, and which mailwarden may contact because a scanned domain
//! named them. Used by the MX audit (`mailwarden_checks::net` re-exports
//! it), by the egress guard of `mailwarden-probe` (SMTP, HTTPS) and by the
//! server-directed DNS queries of `mailwarden-dns`.
//!
//! The references are the IANA IPv4 and IPv6 Special-Purpose Address
//! Registries (RFC 6890), the IPv6 address space registry (only 2000::/3
//! is allocated as global unicast), and the RFCs that deprecate ranges.
//! IPv6 forms that carry an IPv4 address (NAT64, 6to4, SIIT, IPv4-mapped,
//! IPv4-compatible, Teredo) are judged by the IPv4 address they carry: a
//! translator or relay delivers the packet there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not a global unicast address, or `None` if it is.
///
/// RFC 6890 §2.2.2 and §2.2.3 list the special-purpose blocks; those whose
/// "Global" column is False, deprecated ranges, multicast and IPv6 outside
/// 2000::/3 are refused here.
pub fn non_global_reason(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4).map(str::to_string),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

/// Why mailwarden refuses to send to an address a scanned domain named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address} is {reason}, not a global address")]
pub struct NotGlobal {
    /// The refused address.
    pub address: IpAddr,
    /// Its class, from [`non_global_reason`], e.g. `loopback (RFC 1122)`.
    pub reason: String,
}

/// `Ok(())` when mailwarden may send to `ip` because a scanned domain named
/// it: a global unicast address, or any address when `allow_private` is
/// set. Otherwise why not, shown as e.g. `"127.0.0.1 is loopback (RFC
/// 1122), not a global address"`. This never connects.
pub fn check_target(ip: IpAddr, allow_private: bool) -> Result<(), NotGlobal> {
    match non_global_reason(ip) {
        Some(reason) if !allow_private => Err(NotGlobal { address: ip, reason }),
        _ => Ok(()),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    let reason = match o {
        [0, ..] => "\"this network\" (RFC 1122)",
        [10, ..] => "private (RFC 1918)",
        [100, b, ..] if (64..128).contains(&b) => "shared CGNAT space (RFC 6598)",
        [127, ..] => "loopback (RFC 1122)",
        [169, 254, ..] => "link-local (RFC 3927)",
        [172, b, ..] if (16..32).contains(&b) => "private (RFC 1918)",
        // 192.0.0.9 and 192.0.0.10 are global anycast (RFC 7723, RFC 8155).
        [192, 0, 0, 9 | 10] => return None,
        [192, 0, 0, _] => "IETF protocol assignments (RFC 6890)",
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => "documentation (RFC 5737)",
        [192, 88, 99, _] => "deprecated 6to4 relay anycast (RFC 7526)",
        [192, 168, ..] => "private (RFC 1918)",
        [198, b, ..] if b == 18 || b == 19 => "benchmarking (RFC 2544)",
        [a, ..] if (224..240).contains(&a) => "multicast (RFC 5771)",
        [255, 255, 255, 255] => "limited broadcast (RFC 919)",
        [a, ..] if a >= 240 => "reserved (RFC 1112)",
        _ => return None,
    };
    Some(reason)
}

fn v6_reason(ip: Ipv6Addr) -> Option<String> {
    if let Some((form, v4)) = embedded_v4(ip) {
        return embedded_reason(form, v4);
    }
    let s = ip.segments();
    let reason = match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => "unspecified (RFC 4291)",
        [0, 0, 0, 0, 0, 0, 0, 1] => "loopback (RFC 4291)",
        [0x64, 0xff9b, 1, ..] => "local-use NAT64 (RFC 8215)",
        [0x100, 0, 0, 0, ..] => "discard-only (RFC 6666)",
        [0x100, 0, 0, 1, ..] => "dummy prefix (RFC 9780)",
        [0x2001, 0x0002, 0, ..] => "benchmarking (RFC 5180)",
        [0x2001, b, ..] if b & 0xfff0 == 0x0010 => "ORCHID, deprecated (RFC 4843)",
        [0x2001, b, ..] if b & 0xfff0 == 0x0020 => "ORCHIDv2, an identifier that is not routable (RFC 7343)",
        [0x2001, 0xdb8, ..] => "documentation (RFC 3849)",
        [0x2001, b, ..] if b < 0x200 && !ietf_global(s) => "IETF protocol assignments (RFC 2928)",
        [0x3fff, b, ..] if b < 0x1000 => "documentation (RFC 9637)",
        [0x5f00, ..] => "segment routing SIDs (RFC 9602)",
        [a, ..] if a & 0xfe00 == 0xfc00 => "unique local (RFC 4193)",
        [a, ..] if a & 0xffc0 == 0xfe80 => "link-local (RFC 4291)",
        [a, ..] if a & 0xffc0 == 0xfec0 => "site-local, deprecated (RFC 3879)",
        [a, ..] if a & 0xff00 == 0xff00 => "multicast (RFC 4291)",
        [a, ..] if a & 0xe000 != 0x2000 => "outside the global unicast space 2000::/3 (RFC 4291 §2.4)",
        _ => return None,
    };
    Some(reason.to_string())
}

/// The global blocks inside 2001::/23 (the IANA registry's "Global: True"
/// rows): PCP, TURN and DNS-SD SRP anycast, AMT and AS112-v6.
fn ietf_global(s: [u16; 8]) -> bool {
    matches!(
        s,
        [0x2001, 0x0001, 0, 0, 0, 0, 0, 1..=3] | [0x2001, 0x0003, ..] | [0x2001, 0x0004, 0x0112, ..]
    )
}

/// The IPv6 forms that carry an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Embedding {
    /// `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2).
    Mapped,
    /// `::ffff:0:a.b.c.d`, SIIT IPv4-translated (RFC 2765 §2.1).
    Translated,
    /// `::a.b.c.d`, deprecated (RFC 4291 §2.5.5.1).
    Compatible,
    /// `64:ff9b::a.b.c.d`, the NAT64 well-known prefix (RFC 6052 §2.1).
    Nat64,
    /// `2002:AABB:CCDD::/48`, 6to4 (RFC 3056 §2).
    SixToFour,
    /// `2001:0::/32`, Teredo: the client's address, bits inverted (RFC 4380 §4).
    Teredo,
}

fn embedded_v4(ip: Ipv6Addr) -> Option<(Embedding, Ipv4Addr)> {
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let form = match s {
        [0, 0, 0, 0, 0, 0xffff, ..] => Embedding::Mapped,
        [0, 0, 0, 0, 0xffff, 0, ..] => Embedding::Translated,
        // :: and ::1 are their own special addresses.
        [0, 0, 0, 0, 0, 0, 0, 0..=1] => return None,
        [0, 0, 0, 0, 0, 0, ..] => Embedding::Compatible,
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Embedding::Nat64,
        [0x2002, a, b, ..] => {
            let v4 = Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8);
            return Some((Embedding::SixToFour, v4));
        }
        [0x2001, 0, ..] => return Some((Embedding::Teredo, Ipv4Addr::from(!u32::from(low)))),
        _ => return None,
    };
    Some((form, low))
}

fn embedded_reason(form: Embedding, v4: Ipv4Addr) -> Option<String> {
    let name = match form {
        Embedding::Mapped => "IPv4-mapped (RFC 4291)",
        Embedding::Translated => "IPv4-translated (SIIT, RFC 2765)",
        Embedding::Compatible => "IPv4-compatible, deprecated (RFC 4291 §2.5.5.1)",
        Embedding::Nat64 => "NAT64 (RFC 6052)",
        Embedding::SixToFour => "6to4 (RFC 3056)",
        Embedding::Teredo => "Teredo (RFC 4380)",
    };
    match v4_reason(v4) {
        Some(inner) => Some(format!("{name} for {v4}, {inner}")),
        None if form == Embedding::Compatible => Some(name.to_string()),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<String> {
        non_global_reason(s.parse().unwrap())
    }

    #[test]
    fn global_addresses_pass() {
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "172.32.0.1",
            "192.0.0.9",
            "2a00:1450::1",
            "2001:4860:4860::8888",
        ] {
            assert_eq!(reason(a), None, "{a}");
        }
    }

    /// (below, first, last, above, reason); see [`RANGES`].
    type Range = (
        Option<&'static str>,
        &'static str,
        &'static str,
        Option<&'static str>,
        &'static str,
    );

    /// Every range, with the last address below it, its first and last
    /// address, and the first above it: (below, first, last, above, reason).
    /// `below`/`above` are `None` when they belong to a neighbouring
    /// non-global range (tested there).
    #[rustfmt::skip]
    const RANGES: &[Range] = &[
        // IPv4 (IANA IPv4 Special-Purpose Address Registry).
        (None, "0.0.0.0", "0.255.255.255", Some("1.0.0.0"), "this network"),
        (Some("9.255.255.255"), "10.0.0.0", "10.255.255.255", Some("11.0.0.0"), "private"),
        (Some("100.63.255.255"), "100.64.0.0", "100.127.255.255", Some("100.128.0.0"), "CGNAT"),
        (Some("126.255.255.255"), "127.0.0.0", "127.255.255.255", Some("128.0.0.0"), "loopback"),
        (Some("169.253.255.255"), "169.254.0.0", "169.254.255.255", Some("169.255.0.0"), "link-local"),
        (Some("172.15.255.255"), "172.16.0.0", "172.31.255.255", Some("172.32.0.0"), "private"),
        (Some("191.255.255.255"), "192.0.0.0", "192.0.0.8", Some("192.0.0.9"), "IETF protocol"),
        (Some("192.0.0.10"), "192.0.0.11", "192.0.0.255", Some("192.0.1.0"), "IETF protocol"),
        (Some("192.0.1.255"), "192.0.2.0", "192.0.2.255", Some("192.0.3.0"), "documentation"),
        (Some("192.88.98.255"), "192.88.99.0", "192.88.99.255", Some("192.88.100.0"), "6to4 relay"),
        (Some("192.167.255.255"), "192.168.0.0", "192.168.255.255", Some("192.169.0.0"), "private"),
        (Some("198.17.255.255"), "198.18.0.0", "198.19.255.255", Some("198.20.0.0"), "benchmarking"),
        (Some("198.51.99.255"), "198.51.100.0", "198.51.100.255", Some("198.51.101.0"), "documentation"),
        (Some("203.0.112.255"), "203.0.113.0", "203.0.113.255", Some("203.0.114.0"), "documentation"),
        (Some("223.255.255.255"), "224.0.0.0", "239.255.255.255", None, "multicast"),
        (None, "240.0.0.0", "255.255.255.254", None, "reserved"),
        (None, "255.255.255.255", "255.255.255.255", None, "broadcast"),
        // IPv6 (IANA IPv6 Special-Purpose Address Registry and address space).
        (None, "::", "::", None, "unspecified"),
        (None, "::1", "::1", None, "loopback"),
        (None, "::ffff:0.0.0.0", "::ffff:255.255.255.255", None, "IPv4-mapped"),
        (None, "::ffff:0:0.0.0.0", "::ffff:0:255.255.255.255", None, "IPv4-translated"),
        (None, "::0.0.0.2", "::255.255.255.255", None, "IPv4-compatible"),
        (None, "64:ff9b::0.0.0.0", "64:ff9b::10.255.255.255", None, "NAT64"),
        (None, "64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", None, "local-use NAT64"),
        (None, "100::", "100::ffff:ffff:ffff:ffff", None, "discard-only"),
        (None, "100:0:0:1::", "100:0:0:1:ffff:ffff:ffff:ffff", None, "dummy prefix"),
        (Some("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "2001::ffff:ffff", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", None, "Teredo"),
        (Some("2001:1::3"), "2001:1::4", "2001:1:ffff:ffff:ffff:ffff:ffff:ffff", None, "IETF protocol"),
        (None, "2001:2::", "2001:2:0:ffff:ffff:ffff:ffff:ffff", None, "benchmarking"),
        (None, "2001:2:1::", "2001:2:ffff:ffff:ffff:ffff:ffff:ffff", Some("2001:3::"), "IETF protocol"),
        (Some("2001:4:112::"), "2001:4:113::", "2001:f:ffff:ffff:ffff:ffff:ffff:ffff", None, "IETF protocol"),
        (None, "2001:10::", "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", None, "ORCHID"),
        (None, "2001:20::", "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", None, "ORCHIDv2"),
        (None, "2001:30::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", Some("2001:200::"), "IETF protocol"),
        (Some("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"), "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Some("2001:db9::"), "documentation"),
        (Some("2001:ffff::"), "2002::", "2002:0aff:ffff:ffff:ffff:ffff:ffff:ffff", Some("2002:0b00::"), "6to4"),
        (Some("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", Some("3fff:1000::"), "documentation"),
        (Some("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "4000::", "5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None, "2000::/3"),
        (None, "5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None, "segment routing"),
        (None, "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None, "unique local"),
        (None, "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None, "link-local"),
        (None, "fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None, "site-local"),
        (None, "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None, "multicast"),
    ];

    #[test]
    fn every_special_purpose_range_is_refused_on_both_boundaries_and_its_neighbours_are_not() {
        for &(below, first, last, above, want) in RANGES {
            for a in [first, last] {
                let r = reason(a).unwrap_or_else(|| panic!("{a} should be non-global ({want})"));
                assert!(r.contains(want), "{a}: {r} (want {want})");
            }
            for a in [below, above].into_iter().flatten() {
                assert_eq!(reason(a), None, "{a}, just outside {first}..{last}, is global");
            }
        }
    }

    /// An IPv6 address that carries an IPv4 address: (address, carried, form).
    #[rustfmt::skip]
    const EMBEDDED: &[(&str, &str, &str)] = &[
        ("64:ff9b::a00:1", "10.0.0.1", "NAT64"),
        ("64:ff9b::a9fe:a9fe", "169.254.169.254", "NAT64"),
        ("2002:a00:1::1", "10.0.0.1", "6to4"),
        ("2002:7f00:1::", "127.0.0.1", "6to4"),
        ("::ffff:0:a00:1", "10.0.0.1", "IPv4-translated"),
        ("::ffff:10.0.0.1", "10.0.0.1", "IPv4-mapped"),
        ("::ffff:127.0.0.1", "127.0.0.1", "IPv4-mapped"),
        ("::127.0.78.1", "127.0.78.1", "IPv4-compatible"),
        // Teredo: server 65.54.227.120, client 10.0.0.1 inverted (f5ff:fffe).
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.1", "Teredo"),
        ("2001::a00:1", "245.255.255.254", "Teredo"),
    ];

    #[test]
    fn ipv6_forms_that_embed_ipv4_are_judged_by_the_ipv4_they_carry() {
        for &(a, v4, form) in EMBEDDED {
            let r = reason(a).unwrap_or_else(|| panic!("{a} carries {v4}, non-global"));
            assert!(r.contains(form) && r.contains(v4), "{a}: {r}");
        }
        // The same forms carrying a global address are global, except the
        // deprecated IPv4-compatible form.
        for a in [
            "64:ff9b::808:808",
            "2002:808:808::1",
            "::ffff:0:808:808",
            "::ffff:8.8.8.8",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
        ] {
            assert_eq!(reason(a), None, "{a} carries 8.8.8.8");
        }
        let r = reason("::8.8.8.8").unwrap();
        assert!(r.contains("IPv4-compatible, deprecated"), "{r}");
    }

    #[test]
    fn check_target_refuses_non_global_addresses_unless_allowed() {
        let ip: IpAddr = "64:ff9b::7f00:1".parse().unwrap();
        let err = check_target(ip, false).unwrap_err();
        assert_eq!(err.address, ip);
        let shown = err.to_string();
        assert!(
            shown.starts_with("64:ff9b::7f00:1 is NAT64") && shown.contains("loopback"),
            "{shown}"
        );
        assert_eq!(check_target(ip, true), Ok(()));
        assert_eq!(check_target("8.8.8.8".parse().unwrap(), false), Ok(()));
    }
}

//! Address classification: which addresses can receive mail from the
//! Internet. Used by the MX audit (`mailwarden_checks::net` re-exports it)
//! and by the egress guard of `mailwarden-probe`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not a global unicast address, or `None` if it is.
///
/// RFC 6890 §2.2.2 and §2.2.3 list the special-purpose blocks; those whose
/// "Global" column is False, plus multicast, are refused here.
pub fn non_global_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
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
        [192, 0, 0, _] => "IETF protocol assignments (RFC 6890)",
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => "documentation (RFC 5737)",
        [192, 168, ..] => "private (RFC 1918)",
        [198, b, ..] if b == 18 || b == 19 => "benchmarking (RFC 2544)",
        [a, ..] if (224..240).contains(&a) => "multicast (RFC 5771)",
        [a, ..] if a >= 240 => "reserved (RFC 1112)",
        _ => return None,
    };
    Some(reason)
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4).or(Some("IPv4-mapped (RFC 4291)"));
    }
    let s = ip.segments();
    let reason = match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => "unspecified (RFC 4291)",
        [0, 0, 0, 0, 0, 0, 0, 1] => "loopback (RFC 4291)",
        [0x64, 0xff9b, 1, ..] => "local-use NAT64 (RFC 8215)",
        [0x100, 0, 0, 0, ..] => "discard-only (RFC 6666)",
        [0x2001, 0xdb8, ..] => "documentation (RFC 3849)",
        [0x2001, b, ..] if b < 0x200 && b != 0 => "IETF protocol assignments (RFC 2928)",
        [a, ..] if (0x3fff..=0x3fff).contains(&a) && s[1] < 0x1000 => "documentation (RFC 9637)",
        [a, ..] if a & 0xfe00 == 0xfc00 => "unique local (RFC 4193)",
        [a, ..] if a & 0xffc0 == 0xfe80 => "link-local (RFC 4291)",
        [a, ..] if a & 0xff00 == 0xff00 => "multicast (RFC 4291)",
        _ => return None,
    };
    Some(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<&'static str> {
        non_global_reason(s.parse().unwrap())
    }

    #[test]
    fn global_addresses_pass() {
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "172.32.0.1",
            "2a00:1450::1",
            "2001::1",
        ] {
            assert_eq!(reason(a), None, "{a}");
        }
    }

    #[test]
    fn special_purpose_addresses_are_named() {
        for (a, want) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("192.168.1.1", "private"),
            ("172.20.0.1", "private"),
            ("100.64.0.1", "CGNAT"),
            ("169.254.169.254", "link-local"),
            ("192.0.2.10", "documentation"),
            ("224.0.0.1", "multicast"),
            ("::1", "loopback"),
            ("fd00::1", "unique local"),
            ("fe80::1", "link-local"),
            ("2001:db8::25", "documentation"),
            ("::ffff:10.0.0.1", "private"),
            ("3fff::1", "documentation"),
        ] {
            let r = reason(a).unwrap_or_else(|| panic!("{a} should be non-global"));
            assert!(r.contains(want), "{a}: {r}");
        }
    }
}

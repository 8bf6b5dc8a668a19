//! The egress guard: whether mailwarden may connect to an address that a
//! scanned domain gave it.
//!
//! A domain's owner controls its DNS, so an MX host, an MTA-STS host, a
//! nameserver or a report URI can name any address, including ones inside
//! the network mailwarden runs in (loopback services, cloud metadata at
//! 169.254.169.254, RFC 1918 hosts, or the same behind an IPv6 form that
//! carries an IPv4 address). Connecting there on a stranger's say would
//! make mailwarden a probe of its own network, so non-global addresses are
//! refused unless the operator allows them. The same check guards the
//! server-directed DNS queries (`mailwarden_dns::live`).

/// `Ok(())` when mailwarden may connect to `ip`: a global unicast address,
/// or any address when `allow_private` is set. Otherwise the reason, e.g.
/// `"127.0.0.1 is loopback (RFC 1122), not a global address"`.
///
/// The classification is [`mailwarden_model::net::non_global_reason`]
/// (the IANA special-purpose registries, multicast, deprecated ranges,
/// IPv6 outside 2000::/3, embedded IPv4 judged by the IPv4 address). This
/// never connects.
pub use mailwarden_model::net::check_target;

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ip: &str, allow: bool) -> Result<(), String> {
        check_target(ip.parse().unwrap(), allow).map_err(|e| e.to_string())
    }

    #[test]
    fn non_global_targets_are_refused_unless_allowed() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("10.0.0.1", "private"),
            ("::1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("fd00::25", "unique local"),
            ("::ffff:192.168.0.1", "private"),
            ("64:ff9b::a00:1", "NAT64"),
            ("2002:a00:1::1", "6to4"),
            ("::ffff:0:a00:1", "IPv4-translated"),
            ("::127.0.78.1", "IPv4-compatible"),
            ("fec0::1", "site-local"),
            ("2001::a00:1", "Teredo"),
        ] {
            let err = check(ip, false).expect_err(ip);
            let shown = ip.parse::<std::net::IpAddr>().unwrap().to_string();
            assert!(err.starts_with(&shown) && err.contains(why), "{ip}: {err}");
            assert_eq!(check(ip, true), Ok(()), "{ip} allowed");
        }
    }

    #[test]
    fn global_targets_are_accepted() {
        for ip in ["8.8.8.8", "2a00:1450:4001::1a", "64:ff9b::808:808"] {
            assert_eq!(check(ip, false), Ok(()), "{ip}");
            assert_eq!(check(ip, true), Ok(()), "{ip}");
        }
    }
}

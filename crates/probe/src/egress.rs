//! The egress guard: whether mailwarden may connect to an address that a
//! scanned domain gave it.
//!
//! A domain's owner controls its DNS, so an MX host, an MTA-STS host or a
//! report URI can name any address, including ones inside the network
//! mailwarden runs in (loopback services, cloud metadata at
//! 169.254.169.254, RFC 1918 hosts). Connecting there on a stranger's say
//! would make mailwarden a probe of its own network, so non-global
//! addresses are refused unless the operator allows them.

use std::net::IpAddr;

use mailwarden_model::net::non_global_reason;

/// `Ok(())` when mailwarden may connect to `ip`: a global unicast address,
/// or any address when `allow_private` is set. Otherwise the reason, e.g.
/// `"127.0.0.1 is loopback (RFC 1122), not a global address"`.
///
/// The classification is [`mailwarden_model::net::non_global_reason`]
/// (RFC 6890 special-purpose blocks, plus multicast). This never connects.
pub fn check_target(ip: IpAddr, allow_private: bool) -> Result<(), String> {
    match non_global_reason(ip) {
        Some(reason) if !allow_private => Err(format!("{ip} is {reason}, not a global address")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ip: &str, allow: bool) -> Result<(), String> {
        check_target(ip.parse().unwrap(), allow)
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
        ] {
            let err = check(ip, false).expect_err(ip);
            assert!(err.starts_with(ip) && err.contains(why), "{ip}: {err}");
            assert_eq!(check(ip, true), Ok(()), "{ip} allowed");
        }
    }

    #[test]
    fn global_targets_are_accepted() {
        for ip in ["8.8.8.8", "2a00:1450:4001::1a"] {
            assert_eq!(check(ip, false), Ok(()), "{ip}");
            assert_eq!(check(ip, true), Ok(()), "{ip}");
        }
    }
}

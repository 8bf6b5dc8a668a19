//! What is weak about a negotiated cipher suite, from its name alone.
//!
//! Names are the IANA registry names as rustls prints them (`Debug` of
//! `CipherSuite`): `TLS13_AES_256_GCM_SHA384` for TLS 1.3, and
//! `TLS_<key exchange>_WITH_<cipher>_<MAC or PRF hash>` for TLS 1.2 and
//! earlier, e.g. `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`. The reasons
//! follow RFC 9325 §4.2 (BCP 195, paraphrased: recommend only AEAD suites
//! with ephemeral ECDHE or DHE key exchange, i.e. forward secrecy) and RFC
//! 7465 §2: "TLS clients MUST NOT include RC4 cipher suites in the
//! ClientHello message."

/// Why the suite called `suite` is weak: empty when it is not, `Err`
/// when the name is not one this function can read (rustls prints
/// `Unknown(0x...)` for code points it has no name for).
pub(crate) fn weaknesses(suite: &str) -> Result<Vec<&'static str>, Unreadable> {
    let name = suite.trim().to_ascii_uppercase();
    if let Some(rest) = name.strip_prefix("TLS13_") {
        // Every TLS 1.3 suite is an AEAD with (EC)DHE key exchange.
        return if rest.is_empty() {
            Err(unreadable(suite))
        } else {
            Ok(Vec::new())
        };
    }
    let body = name.strip_prefix("TLS_").or_else(|| name.strip_prefix("SSL_"));
    let Some((kx, rest)) = body.and_then(|b| b.split_once("_WITH_")) else {
        return Err(unreadable(suite));
    };
    let mut out = key_exchange_weaknesses(kx);
    if name.contains("EXPORT") {
        out.push("export-grade (deliberately weakened) cryptography");
    }
    out.extend(cipher_weaknesses(rest));
    Ok(out)
}

/// A cipher suite name [`weaknesses`] cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreadable(String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is not a cipher suite name this check can read", self.0)
    }
}

fn unreadable(suite: &str) -> Unreadable {
    Unreadable(suite.to_string())
}

/// The key exchange part, e.g. `ECDHE_RSA`, `RSA`, `DH_ANON`.
fn key_exchange_weaknesses(kx: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    if kx.split('_').any(|t| t == "ANON") {
        out.push("anonymous key exchange: the server is not authenticated at all");
    }
    if kx != "ECDHE" && kx != "DHE" && !kx.starts_with("ECDHE_") && !kx.starts_with("DHE_") {
        out.push("no forward secrecy (static key exchange, not ECDHE or DHE)");
    }
    out
}

/// The cipher and MAC part, e.g. `AES_128_CBC_SHA`, `RC4_128_MD5`.
fn cipher_weaknesses(rest: &str) -> Vec<&'static str> {
    let tokens: Vec<&str> = rest.split('_').collect();
    let has = |t: &str| tokens.contains(&t);
    let mut out = Vec::new();
    if has("NULL") {
        out.push("no encryption (NULL cipher)");
    }
    if has("RC4") {
        out.push("RC4, a broken stream cipher (RFC 7465 prohibits it)");
    }
    if has("3DES") {
        out.push("3DES, a 64-bit block cipher (Sweet32, CVE-2016-2183)");
    }
    if has("DES") || has("DES40") {
        out.push("single DES (56 bits or less)");
    }
    if has("RC2") || has("IDEA") {
        out.push("an obsolete block cipher (RC2 or IDEA)");
    }
    if has("CBC") {
        out.push("CBC mode with MAC-then-encrypt (padding-oracle attacks such as Lucky Thirteen)");
    }
    match tokens.last() {
        Some(&"SHA") => out.push("HMAC-SHA1 message authentication"),
        Some(&"MD5") => out.push("HMAC-MD5 message authentication"),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::weaknesses;

    fn weak(suite: &str) -> Vec<&'static str> {
        weaknesses(suite).unwrap()
    }

    #[test]
    fn modern_suites_are_not_weak() {
        for suite in [
            "TLS13_AES_256_GCM_SHA384",
            "TLS13_AES_128_GCM_SHA256",
            "TLS13_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
            "tls_ecdhe_rsa_with_aes_128_gcm_sha256",
        ] {
            assert_eq!(weak(suite), Vec::<&str>::new(), "{suite}");
        }
    }

    #[test]
    fn cbc_with_sha1_is_weak_twice() {
        let w = weak("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA");
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("CBC mode"));
        assert!(w[1].contains("SHA1"));
        // CBC with a SHA-256 MAC is still CBC.
        let w = weak("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256");
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("CBC mode"));
    }

    #[test]
    fn static_rsa_has_no_forward_secrecy() {
        let w = weak("TLS_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(w, vec!["no forward secrecy (static key exchange, not ECDHE or DHE)"]);
        assert!(weak("TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384")[0].starts_with("no forward secrecy"));
        assert!(weak("TLS_PSK_WITH_AES_128_GCM_SHA256")[0].starts_with("no forward secrecy"));
    }

    #[test]
    fn rc4_des_3des_null_export_anon_md5() {
        let w = weak("TLS_RSA_WITH_RC4_128_MD5");
        assert!(w.iter().any(|r| r.starts_with("RC4")), "{w:?}");
        assert!(w.iter().any(|r| r.contains("MD5")), "{w:?}");
        assert!(
            weak("TLS_RSA_WITH_3DES_EDE_CBC_SHA")
                .iter()
                .any(|r| r.starts_with("3DES"))
        );
        assert!(
            weak("TLS_DHE_RSA_WITH_DES_CBC_SHA")
                .iter()
                .any(|r| r.starts_with("single DES"))
        );
        assert!(
            weak("TLS_RSA_WITH_NULL_SHA256")
                .iter()
                .any(|r| r.starts_with("no encryption"))
        );
        let w = weak("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA");
        assert!(w.iter().any(|r| r.starts_with("export-grade")), "{w:?}");
        assert!(w.iter().any(|r| r.starts_with("single DES")), "{w:?}");
        let w = weak("TLS_DH_anon_WITH_AES_128_GCM_SHA256");
        assert!(w.iter().any(|r| r.starts_with("anonymous")), "{w:?}");
        assert!(w.iter().any(|r| r.starts_with("no forward secrecy")), "{w:?}");
        let w = weak("TLS_ECDH_anon_WITH_AES_128_CBC_SHA");
        assert!(w.iter().any(|r| r.starts_with("anonymous")), "{w:?}");
        assert!(weak("TLS_RSA_WITH_IDEA_CBC_SHA").iter().any(|r| r.contains("IDEA")));
        assert!(
            weak("TLS_NULL_WITH_NULL_NULL")
                .iter()
                .any(|r| r.starts_with("no encryption"))
        );
    }

    #[test]
    fn unreadable_names_are_errors_not_verdicts() {
        for suite in ["", "Unknown(0x1301)", "TLS13_", "AES256-GCM-SHA384", "TLS_ECDHE_RSA"] {
            assert!(weaknesses(suite).is_err(), "{suite}");
        }
    }
}

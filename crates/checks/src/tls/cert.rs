//! What a sending MTA would think of the certificate chain an MX presents:
//! [`analyse_chain`] over the DER chain the STARTTLS probe captured.
//!
//! - **validity** of the leaf at `now`: expired, not yet valid, or expiring
//!   within [`EXPIRY_WARNING_DAYS`];
//! - **names**: the leaf's SAN dNSNames against the MX host name, RFC 6125
//!   §6.4 (exact, case-insensitive match; a `*` that is the whole left-most
//!   label matches exactly one label). The subject CN is not used (RFC 6125
//!   §6.4.4 allows it only when there is no SAN; certificates from public
//!   CAs always carry SANs, and so does every client we emulate: webpki);
//! - **PKIX**: `webpki::EndEntityCert::verify_for_usage` with the
//!   server-auth EKU at `now`, against [`Roots`] (webpki-roots, or the
//!   user's CA file);
//! - **key**: type and size, RSA below [`MIN_RSA_BITS`] is weak, EC curve;
//! - **signature algorithm** of every certificate but a self-signed root,
//!   SHA-1 flagged;
//! - **fingerprints** for evidence: SHA-256 of the DER and of the
//!   SubjectPublicKeyInfo (what a `3 1 1` TLSA record holds).

use rustls_pki_types::CertificateDer;
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::{describe_webpki, sha256_hex, unix_time};

/// A leaf that expires within this many days is reported as expiring.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// RSA keys shorter than this are weak.
pub const MIN_RSA_BITS: usize = 2048;

const DAY: i64 = 86_400;

/// The trust store the PKIX verdict is taken against: the run's one
/// [`Roots`], shared with the HTTPS client (`mailwarden-roots`).
pub use mailwarden_roots::{Roots, RootsError};

/// Everything [`analyse_chain`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// One entry per presented certificate, leaf first; `None` where the
    /// certificate did not parse (see `parse_errors`).
    pub certificates: Vec<Option<CertInfo>>,
    /// "certificate N: why", and "no certificate presented".
    pub parse_errors: Vec<String>,
    /// About the leaf; `None` when there is no parsable leaf.
    pub leaf: Option<LeafReport>,
    pub pkix: Pkix,
}

impl ChainReport {
    /// Certificates (by index, 0 = leaf) signed with SHA-1.
    pub fn sha1_signed(&self) -> Vec<usize> {
        self.certificates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.as_ref().is_some_and(|c| c.signature.sha1))
            .map(|(i, _)| i)
            .collect()
    }
}

/// One certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// Seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// basicConstraints cA.
    pub is_ca: bool,
    pub key: KeyInfo,
    pub signature: SignatureInfo,
    /// SHA-256 of the certificate DER, lower-case hex.
    pub sha256: String,
    /// SHA-256 of the SubjectPublicKeyInfo DER (the data of `3 1 1`).
    pub spki_sha256: String,
}

/// The subject public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// `RSA`, `EC`, `Ed25519`, `Ed448`, `DSA`, or the algorithm OID.
    pub algorithm: String,
    /// Key size in bits, where it has one.
    pub bits: Option<usize>,
    /// The named curve of an EC key (`P-256`, or the OID).
    pub curve: Option<String>,
    /// Why the key is weak, if it is.
    pub weak: Option<String>,
}

/// The certificate's signature algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureInfo {
    /// A short name (`sha256WithRSAEncryption`) or the OID.
    pub algorithm: String,
    /// Signed with SHA-1. A self-signed certificate's own signature is
    /// never checked (it is a trust anchor), so it is not flagged.
    pub sha1: bool,
}

/// The leaf, judged for `host` at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeafReport {
    pub validity: Validity,
    /// Whole days from `now` to notAfter (negative once expired).
    pub days_left: i64,
    /// The SAN dNSNames, as presented.
    pub names: Vec<String>,
    /// The SAN entry that matched `host`; `None`: issued for another name.
    pub matched_name: Option<String>,
}

impl LeafReport {
    pub fn valid_for_host(&self) -> bool {
        self.matched_name.is_some()
    }
}

/// The leaf's validity period at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Validity {
    Valid,
    /// Valid, but notAfter is less than [`EXPIRY_WARNING_DAYS`] away.
    ExpiringSoon,
    Expired,
    NotYetValid,
}

/// The PKIX verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Pkix {
    /// The chain verifies to a root of the store, for server auth, at `now`.
    Trusted,
    /// It does not; `reason` says why.
    Untrusted { reason: String },
}

/// Analyse `chain` (DER, leaf first) as a sender connecting to `host`
/// would, at `now` (seconds since the Unix epoch), against `roots`.
pub fn analyse_chain(chain: &[Vec<u8>], host: &str, now: i64, roots: &Roots) -> ChainReport {
    let mut parse_errors = Vec::new();
    if chain.is_empty() {
        parse_errors.push("no certificate presented".to_string());
    }
    let certificates: Vec<Option<CertInfo>> = chain
        .iter()
        .enumerate()
        .map(|(i, der)| match X509Certificate::from_der(der) {
            Ok((rest, cert)) => {
                if !rest.is_empty() {
                    parse_errors.push(format!("certificate {i}: {} bytes after the certificate", rest.len()));
                }
                Some(cert_info(&cert, der))
            }
            Err(e) => {
                parse_errors.push(format!("certificate {i}: not a valid X.509 certificate ({e})"));
                None
            }
        })
        .collect();
    let leaf = chain
        .first()
        .and_then(|der| X509Certificate::from_der(der).ok())
        .map(|(_, cert)| leaf_report(&cert, host, now));
    ChainReport {
        certificates,
        parse_errors,
        leaf,
        pkix: pkix(chain, now, roots),
    }
}

fn pkix(chain: &[Vec<u8>], now: i64, roots: &Roots) -> Pkix {
    let Some(leaf) = chain.first() else {
        return Pkix::Untrusted {
            reason: "no certificate presented".into(),
        };
    };
    let leaf = CertificateDer::from(leaf.as_slice());
    let ee = match webpki::EndEntityCert::try_from(&leaf) {
        Ok(ee) => ee,
        Err(e) => {
            return Pkix::Untrusted {
                reason: format!("the leaf certificate cannot be used: {}", describe_webpki(&e)),
            };
        }
    };
    let intermediates: Vec<CertificateDer<'_>> =
        chain[1..].iter().map(|c| CertificateDer::from(c.as_slice())).collect();
    match ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        roots.anchors(),
        &intermediates,
        unix_time(now),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    ) {
        Ok(_) => Pkix::Trusted,
        Err(e) => Pkix::Untrusted {
            reason: format!("{} (against {})", describe_webpki(&e), roots.describe()),
        },
    }
}

fn leaf_report(cert: &X509Certificate<'_>, host: &str, now: i64) -> LeafReport {
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    let validity = if now < not_before {
        Validity::NotYetValid
    } else if now > not_after {
        Validity::Expired
    } else if not_after - now < EXPIRY_WARNING_DAYS * DAY {
        Validity::ExpiringSoon
    } else {
        Validity::Valid
    };
    let names = san_dns_names(cert);
    let matched_name = names.iter().find(|n| name_matches(n, host)).cloned();
    LeafReport {
        validity,
        days_left: (not_after - now).div_euclid(DAY),
        names,
        matched_name,
    }
}

/// The dNSName entries of the subjectAltName extension.
pub(crate) fn san_dns_names(cert: &X509Certificate<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|g| match g {
                GeneralName::DNSName(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether the presented identifier `pattern` (a SAN dNSName) matches the
/// reference identifier `host`, per RFC 6125 §6.4: labels compared
/// case-insensitively (§6.4.1), a trailing dot ignored; a wildcard only as
/// the complete left-most label, matching exactly one label (§6.4.3: not
/// two labels, not the apex), and not above a registrable-looking name
/// (`*.com` matches nothing). Partial wildcards (`w*.example.com`), which
/// §6.4.3 lets clients refuse, are refused.
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || pattern.is_empty() || host.contains('*') {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(rest) => {
            if rest.contains('*') || !rest.contains('.') {
                return false;
            }
            match host.split_once('.') {
                Some((label, parent)) => !label.is_empty() && parent == rest,
                None => false,
            }
        }
        None => !pattern.contains('*') && pattern == host,
    }
}

fn cert_info(cert: &X509Certificate<'_>, der: &[u8]) -> CertInfo {
    let is_ca = matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    let self_signed = cert.subject().as_raw() == cert.issuer().as_raw();
    CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        is_ca,
        key: key_info(cert),
        signature: signature_info(cert, self_signed),
        sha256: sha256_hex(der),
        spki_sha256: sha256_hex(cert.public_key().raw),
    }
}

fn key_info(cert: &X509Certificate<'_>) -> KeyInfo {
    let spki = cert.public_key();
    let oid = spki.algorithm.algorithm.to_id_string();
    let mut info = KeyInfo {
        algorithm: oid.clone(),
        bits: None,
        curve: None,
        weak: None,
    };
    match oid.as_str() {
        "1.3.101.112" => info.algorithm = "Ed25519".into(),
        "1.3.101.113" => info.algorithm = "Ed448".into(),
        _ => {}
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = rsa.key_size();
            info.algorithm = "RSA".into();
            info.bits = Some(bits);
            if bits < MIN_RSA_BITS {
                info.weak = Some(format!("RSA key of {bits} bits (below {MIN_RSA_BITS})"));
            }
        }
        Ok(PublicKey::EC(point)) => {
            info.algorithm = "EC".into();
            info.bits = Some(point.key_size());
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            info.curve = curve.map(|c| {
                match c.as_str() {
                    "1.2.840.10045.3.1.7" => "P-256",
                    "1.3.132.0.34" => "P-384",
                    "1.3.132.0.35" => "P-521",
                    other => return other.to_string(),
                }
                .to_string()
            });
        }
        Ok(PublicKey::DSA(_)) => info.algorithm = "DSA".into(),
        _ => {}
    }
    info
}

fn signature_info(cert: &X509Certificate<'_>, self_signed: bool) -> SignatureInfo {
    let oid = cert.signature_algorithm.algorithm.to_id_string();
    let (name, sha1) = match oid.as_str() {
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => ("sha1WithRSAEncryption", true),
        "1.2.840.10045.4.1" => ("ecdsa-with-SHA1", true),
        "1.2.840.10040.4.3" => ("dsa-with-SHA1", true),
        "1.2.840.113549.1.1.4" => ("md5WithRSAEncryption", false),
        "1.2.840.113549.1.1.11" => ("sha256WithRSAEncryption", false),
        "1.2.840.113549.1.1.12" => ("sha384WithRSAEncryption", false),
        "1.2.840.113549.1.1.13" => ("sha512WithRSAEncryption", false),
        "1.2.840.113549.1.1.10" => ("RSASSA-PSS", false),
        "1.2.840.10045.4.3.2" => ("ecdsa-with-SHA256", false),
        "1.2.840.10045.4.3.3" => ("ecdsa-with-SHA384", false),
        "1.2.840.10045.4.3.4" => ("ecdsa-with-SHA512", false),
        "1.3.101.112" => ("Ed25519", false),
        "1.3.101.113" => ("Ed448", false),
        _ => ("", false),
    };
    SignatureInfo {
        algorithm: if name.is_empty() { oid } else { name.to_string() },
        sha1: sha1 && !self_signed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::testcerts::{Ca, FakeRsa, HOST, NOW, self_signed, sha1_leaf, sha256_hex};

    fn roots(ca: &Ca) -> Roots {
        Roots::from_pem(ca.pem.as_bytes()).unwrap()
    }

    #[test]
    fn valid_chain_against_its_ca() {
        let ca = Ca::new("Test CA");
        let leaf = ca.valid_leaf(&[HOST]);
        let chain = vec![leaf.der.clone(), ca.der.clone()];
        let r = analyse_chain(&chain, HOST, NOW, &roots(&ca));
        assert_eq!(r.pkix, Pkix::Trusted);
        assert!(r.parse_errors.is_empty());
        let l = r.leaf.as_ref().unwrap();
        assert_eq!(l.validity, Validity::Valid);
        assert_eq!(l.days_left, 365);
        assert_eq!(l.matched_name.as_deref(), Some(HOST));
        assert!(l.valid_for_host());
        let c = r.certificates[0].as_ref().unwrap();
        assert_eq!(c.key.algorithm, "EC");
        assert_eq!(c.key.curve.as_deref(), Some("P-256"));
        assert_eq!(c.key.bits, Some(256));
        assert_eq!(c.key.weak, None);
        assert_eq!(c.signature.algorithm, "ecdsa-with-SHA256");
        assert!(r.sha1_signed().is_empty());
        assert_eq!(c.sha256, sha256_hex(&leaf.der));
        assert_eq!(c.spki_sha256, sha256_hex(&leaf.spki));
        assert!(!c.is_ca);
        assert!(r.certificates[1].as_ref().unwrap().is_ca);
        assert!(c.issuer.contains("Test CA"), "{}", c.issuer);
    }

    #[test]
    fn expired_leaf() {
        let ca = Ca::new("Test CA");
        let leaf = ca.leaf(&[HOST], (2024, 1, 1), (2025, 6, 1));
        let r = analyse_chain(&[leaf.der, ca.der.clone()], HOST, NOW, &roots(&ca));
        let l = r.leaf.unwrap();
        assert_eq!(l.validity, Validity::Expired);
        assert!(l.days_left < 0);
        assert!(
            matches!(&r.pkix, Pkix::Untrusted { reason } if reason.contains("expired")),
            "{:?}",
            r.pkix
        );
    }

    #[test]
    fn not_yet_valid_leaf() {
        let ca = Ca::new("Test CA");
        let leaf = ca.leaf(&[HOST], (2026, 2, 1), (2027, 1, 1));
        let r = analyse_chain(&[leaf.der, ca.der.clone()], HOST, NOW, &roots(&ca));
        assert_eq!(r.leaf.unwrap().validity, Validity::NotYetValid);
        assert!(matches!(&r.pkix, Pkix::Untrusted { reason } if reason.contains("not valid yet")));
    }

    #[test]
    fn leaf_expiring_in_five_days_but_not_in_thirty() {
        let ca = Ca::new("Test CA");
        let soon = ca.leaf(&[HOST], (2025, 1, 1), (2026, 1, 6));
        let r = analyse_chain(&[soon.der, ca.der.clone()], HOST, NOW, &roots(&ca));
        let l = r.leaf.unwrap();
        assert_eq!(l.validity, Validity::ExpiringSoon);
        assert_eq!(l.days_left, 5);
        assert_eq!(r.pkix, Pkix::Trusted, "still valid");

        let later = ca.leaf(&[HOST], (2025, 1, 1), (2026, 1, 31));
        let r = analyse_chain(&[later.der, ca.der.clone()], HOST, NOW, &roots(&ca));
        assert_eq!(r.leaf.unwrap().validity, Validity::Valid);
    }

    #[test]
    fn wrong_name() {
        let ca = Ca::new("Test CA");
        let leaf = ca.valid_leaf(&["other.example.net"]);
        let r = analyse_chain(&[leaf.der, ca.der.clone()], HOST, NOW, &roots(&ca));
        let l = r.leaf.unwrap();
        assert_eq!(l.names, vec!["other.example.net".to_string()]);
        assert_eq!(l.matched_name, None);
        assert!(!l.valid_for_host());
        assert_eq!(r.pkix, Pkix::Trusted, "PKIX is about the chain; names are separate");
    }

    #[test]
    fn wildcard_names() {
        let ca = Ca::new("Test CA");
        let leaf = ca.valid_leaf(&["*.example.com"]);
        let chain = [leaf.der, ca.der.clone()];
        let report = |host| analyse_chain(&chain, host, NOW, &roots(&ca)).leaf.unwrap().matched_name;
        assert_eq!(report("mx.example.com").as_deref(), Some("*.example.com"));
        assert_eq!(report("MX.Example.COM.").as_deref(), Some("*.example.com"));
        assert_eq!(report("a.mx.example.com"), None, "one label only");
        assert_eq!(report("example.com"), None, "not the apex");
    }

    #[test]
    fn name_matching_rules() {
        assert!(name_matches("mx.example.com", "MX.example.com."));
        assert!(name_matches("*.example.com", "mx.example.com"));
        assert!(!name_matches("mx.example.com", "mx2.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("*.com", "example.com"), "no wildcard over a TLD");
        assert!(
            !name_matches("m*.example.com", "mx.example.com"),
            "no partial wildcards"
        );
        assert!(!name_matches("mx.*.com", "mx.example.com"));
        assert!(!name_matches("*.example.com", ".example.com"));
        assert!(!name_matches("", ""));
    }

    #[test]
    fn self_signed_leaf_is_untrusted_against_webpki_roots() {
        let leaf = self_signed(&[HOST]);
        let r = analyse_chain(&[leaf.der], HOST, NOW, &Roots::WebPki);
        assert!(
            matches!(&r.pkix, Pkix::Untrusted { reason } if reason.contains("unknown issuer") && reason.contains("webpki-roots")),
            "{:?}",
            r.pkix
        );
        assert_eq!(r.leaf.unwrap().validity, Validity::Valid);
        assert!(Roots::default().describe().starts_with("webpki-roots"));
    }

    #[test]
    fn chain_verifies_against_a_custom_root_only() {
        let ca = Ca::new("Test CA");
        let other = Ca::new("Other CA");
        let leaf = ca.valid_leaf(&[HOST]);
        // The root need not be presented: it is in the store.
        let r = analyse_chain(std::slice::from_ref(&leaf.der), HOST, NOW, &roots(&ca));
        assert_eq!(r.pkix, Pkix::Trusted);
        let r = analyse_chain(&[leaf.der, ca.der.clone()], HOST, NOW, &roots(&other));
        assert!(matches!(&r.pkix, Pkix::Untrusted { reason } if reason.contains("unknown issuer")));
    }

    #[test]
    fn rsa_1024_leaf_is_weak_rsa_2048_is_not() {
        let ca = Ca::new("Test CA");
        let weak = ca.leaf_with_key(&[HOST], (2025, 1, 1), (2027, 1, 1), &FakeRsa::new(1024));
        let r = analyse_chain(&[weak, ca.der.clone()], HOST, NOW, &roots(&ca));
        let key = &r.certificates[0].as_ref().unwrap().key;
        assert_eq!(key.algorithm, "RSA");
        assert_eq!(key.bits, Some(1024));
        assert!(key.weak.as_deref().unwrap().contains("1024 bits"));

        let fine = ca.leaf_with_key(&[HOST], (2025, 1, 1), (2027, 1, 1), &FakeRsa::new(2048));
        let r = analyse_chain(&[fine], HOST, NOW, &roots(&ca));
        let key = &r.certificates[0].as_ref().unwrap().key;
        assert_eq!((key.bits, key.weak.as_ref()), (Some(2048), None));
    }

    #[test]
    fn sha1_signed_leaf_is_flagged() {
        let leaf = sha1_leaf(&[HOST]);
        let r = analyse_chain(&[leaf], HOST, NOW, &Roots::WebPki);
        assert!(r.parse_errors.is_empty(), "{:?}", r.parse_errors);
        let sig = &r.certificates[0].as_ref().unwrap().signature;
        assert_eq!(sig.algorithm, "sha1WithRSAEncryption");
        assert!(sig.sha1);
        assert_eq!(r.sha1_signed(), vec![0]);
        // A self-signed root's own signature is not flagged (never checked).
        let root = self_signed(&[HOST]);
        assert!(
            analyse_chain(&[root.der], HOST, NOW, &Roots::WebPki)
                .sha1_signed()
                .is_empty()
        );
    }

    #[test]
    fn parse_errors_are_reported() {
        let r = analyse_chain(&[], HOST, NOW, &Roots::WebPki);
        assert_eq!(r.parse_errors, vec!["no certificate presented".to_string()]);
        assert!(r.leaf.is_none());
        assert!(matches!(r.pkix, Pkix::Untrusted { .. }));

        let ca = Ca::new("Test CA");
        let leaf = ca.valid_leaf(&[HOST]);
        let r = analyse_chain(&[leaf.der, b"junk".to_vec()], HOST, NOW, &roots(&ca));
        assert_eq!(r.parse_errors.len(), 1);
        assert!(r.parse_errors[0].starts_with("certificate 1: not a valid X.509"));
        assert!(r.certificates[1].is_none());
        assert_eq!(r.pkix, Pkix::Trusted, "an unrelated junk intermediate is ignored");

        let r = analyse_chain(&[b"junk".to_vec()], HOST, NOW, &Roots::WebPki);
        assert!(r.leaf.is_none());
        assert!(matches!(&r.pkix, Pkix::Untrusted { reason } if reason.contains("leaf")));
    }
}

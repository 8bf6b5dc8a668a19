//! # mailwarden-roots
//!
//! The one trust store of a run: the PKIX verdicts of the judges
//! (`mailwarden_checks::tls::cert`) and the hardened HTTPS client
//! (`mailwarden_probe::https`) both take their anchors from a [`Roots`],
//! parsed from the same PEM (`--ca-file`) or the pinned `webpki-roots`.
//!
//! This crate needs no TLS stack and does no I/O (the caller reads the
//! file), so the pure judges can depend on it: only `rustls-pki-types`,
//! `rustls-webpki` (ring) and `x509-parser`.
//!
//! A CA file is parsed once per run: [`Roots::from_pem`] keeps the last
//! PEM text it parsed and its anchors, so a scan that checks the file
//! when reading its flags, builds its HTTPS client and judges a thousand
//! domains against the same file parses it once.
#![warn(missing_docs)]

use std::sync::{Arc, Mutex};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor};
use thiserror::Error;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The trust store certificates are checked against.
#[derive(Debug, Clone, Default)]
pub enum Roots {
    /// The Mozilla root programme as shipped by `webpki-roots` (pinned, so
    /// results do not differ between machines; never the OS store).
    #[default]
    WebPki,
    /// CA certificates the user gave (`--ca-file`), or a test CA.
    Custom(Vec<TrustAnchor<'static>>),
}

/// Why a CA file could not be used; the message says which certificate
/// and how.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RootsError {
    /// The PEM text holds no certificate at all.
    #[error("no `-----BEGIN CERTIFICATE-----` section found: the CA file must hold PEM certificates")]
    NoPemCertificate,
    /// An empty list of DER certificates.
    #[error("no CA certificate given")]
    NoCertificate,
    /// A BEGIN line without its END line.
    #[error("PEM certificate {n}: no `-----END {marker}-----` line")]
    MissingEnd {
        /// The certificate's position, from 1.
        n: usize,
        /// The label the END line should carry.
        marker: String,
    },
    /// A malformed BEGIN line.
    #[error("PEM certificate {n}: `{line}` is not a valid BEGIN line")]
    BadBegin {
        /// The certificate's position, from 1.
        n: usize,
        /// The line as written.
        line: String,
    },
    /// The body of a section is not base64.
    #[error("PEM certificate {n}: invalid base64 ({why})")]
    Base64 {
        /// The certificate's position, from 1.
        n: usize,
        /// The decoder's reason.
        why: String,
    },
    /// Any other PEM problem.
    #[error("PEM certificate {n}: {why}")]
    Pem {
        /// The certificate's position, from 1.
        n: usize,
        /// The PEM reader's reason.
        why: String,
    },
    /// The DER is not a certificate.
    #[error("CA certificate {n} is not a valid X.509 certificate: {why}")]
    NotX509 {
        /// The certificate's position, from 1.
        n: usize,
        /// The X.509 parser's reason.
        why: String,
    },
    /// A certificate webpki cannot take as an anchor.
    #[error("CA certificate {n} cannot be a trust anchor: {why}")]
    NotAnchor {
        /// The certificate's position, from 1.
        n: usize,
        /// webpki's reason, in words.
        why: String,
    },
}

/// The last PEM text [`Roots::from_pem`] parsed, and what it gave.
type Parsed = (Vec<u8>, Result<Roots, RootsError>);
static LAST_PEM: Mutex<Option<Arc<Parsed>>> = Mutex::new(None);

impl Roots {
    /// The built-in `webpki-roots` (the default).
    pub fn webpki() -> Roots {
        Roots::WebPki
    }

    /// Trust anchors from PEM text: every `CERTIFICATE` section (other
    /// sections, such as keys, are skipped). Errors say which section is
    /// wrong and how. The same text twice in a run is parsed once.
    pub fn from_pem(pem: &[u8]) -> Result<Roots, RootsError> {
        let last = LAST_PEM.lock().ok().and_then(|last| last.clone());
        if let Some(parsed) = last.filter(|p| p.0 == pem) {
            return parsed.1.clone();
        }
        let result = Self::parse_pem(pem);
        if let Ok(mut last) = LAST_PEM.lock() {
            *last = Some(Arc::new((pem.to_vec(), result.clone())));
        }
        result
    }

    fn parse_pem(pem: &[u8]) -> Result<Roots, RootsError> {
        let mut ders = Vec::new();
        for (i, item) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let n = i + 1;
            let der = item.map_err(|e| {
                use rustls_pki_types::pem::Error as P;
                match e {
                    P::MissingSectionEnd { end_marker } => RootsError::MissingEnd {
                        n,
                        marker: String::from_utf8_lossy(&end_marker).into_owned(),
                    },
                    P::IllegalSectionStart { line } => RootsError::BadBegin {
                        n,
                        line: String::from_utf8_lossy(&line).into_owned(),
                    },
                    P::Base64Decode(why) => RootsError::Base64 { n, why },
                    other => RootsError::Pem {
                        n,
                        why: other.to_string(),
                    },
                }
            })?;
            ders.push(der.to_vec());
        }
        if ders.is_empty() {
            return Err(RootsError::NoPemCertificate);
        }
        Roots::from_der(&ders)
    }

    /// Trust anchors from DER certificates.
    pub fn from_der<I>(certs: I) -> Result<Roots, RootsError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut anchors = Vec::new();
        for (i, der) in certs.into_iter().enumerate() {
            let (n, der) = (i + 1, der.as_ref());
            if let Err(e) = X509Certificate::from_der(der) {
                return Err(RootsError::NotX509 { n, why: e.to_string() });
            }
            let der = CertificateDer::from(der);
            let anchor = webpki::anchor_from_trusted_cert(&der).map_err(|e| RootsError::NotAnchor {
                n,
                why: describe_webpki(&e),
            })?;
            anchors.push(anchor.to_owned());
        }
        if anchors.is_empty() {
            return Err(RootsError::NoCertificate);
        }
        Ok(Roots::Custom(anchors))
    }

    /// The anchors, for webpki (the judges) or a rustls `RootCertStore`
    /// (the HTTPS client).
    pub fn anchors(&self) -> &[TrustAnchor<'static>] {
        match self {
            Roots::WebPki => webpki_roots::TLS_SERVER_ROOTS,
            Roots::Custom(anchors) => anchors,
        }
    }

    /// How many trust anchors.
    pub fn len(&self) -> usize {
        self.anchors().len()
    }

    /// True when there are none (a CA file that did not parse, judged
    /// with no anchors rather than the built-in ones).
    pub fn is_empty(&self) -> bool {
        self.anchors().is_empty()
    }

    /// The store in words, for evidence.
    pub fn describe(&self) -> String {
        match self {
            Roots::WebPki => format!("webpki-roots ({} roots)", webpki_roots::TLS_SERVER_ROOTS.len()),
            Roots::Custom(a) => format!("the given CA file ({} certificates)", a.len()),
        }
    }
}

/// A webpki error in words.
pub fn describe_webpki(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => "no chain to a trusted root (unknown issuer)".into(),
        E::CertExpired { .. } => "a certificate in the chain has expired".into(),
        E::CertNotValidYet { .. } => "a certificate in the chain is not valid yet".into(),
        E::InvalidSignatureForPublicKey => "a signature in the chain does not verify".into(),
        E::UnsupportedSignatureAlgorithmContext(_) | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "a certificate is signed with an unsupported algorithm (e.g. SHA-1)".into()
        }
        E::CaUsedAsEndEntity => "the leaf certificate is a CA certificate".into(),
        E::EndEntityUsedAsCa => "a non-CA certificate was used as an issuer".into(),
        E::CertNotValidForName(_) => "the certificate is not valid for the name".into(),
        E::BadDer | E::BadDerTime => "a certificate is not valid DER".into(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

    use super::*;

    /// A self-signed CA: (DER, PEM).
    fn ca(name: &str) -> (Vec<u8>, String) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        let cert = p.self_signed(&key).unwrap();
        (cert.der().to_vec(), cert.pem())
    }

    #[test]
    fn webpki_is_the_default_and_says_so() {
        let roots = Roots::default();
        assert!(roots.describe().starts_with("webpki-roots"));
        assert!(roots.len() > 50);
        assert!(!roots.is_empty());
    }

    #[test]
    fn roots_from_pem_skip_comments_and_count_certificates() {
        let (a_der, a_pem) = ca("A");
        let (_, b_pem) = ca("B");
        let pem = format!("# comment\n{a_pem}\n{b_pem}");
        let roots = Roots::from_pem(pem.as_bytes()).unwrap();
        assert!(matches!(&roots, Roots::Custom(v) if v.len() == 2));
        assert_eq!(roots.describe(), "the given CA file (2 certificates)");
        assert_eq!(Roots::from_der([a_der.as_slice()]).unwrap().len(), 1);
        assert_eq!(Roots::from_der(std::slice::from_ref(&a_der)).unwrap().len(), 1);
    }

    #[test]
    fn the_same_pem_twice_gives_the_same_anchors_and_another_pem_its_own() {
        let (_, a_pem) = ca("A");
        let (_, b_pem) = ca("B");
        let first = Roots::from_pem(a_pem.as_bytes()).unwrap();
        let again = Roots::from_pem(a_pem.as_bytes()).unwrap();
        assert_eq!(first.anchors(), again.anchors());
        let other = Roots::from_pem(b_pem.as_bytes()).unwrap();
        assert_ne!(first.anchors(), other.anchors());
        assert!(Roots::from_pem(b"").is_err());
        assert_eq!(Roots::from_pem(a_pem.as_bytes()).unwrap().anchors(), first.anchors());
    }

    #[test]
    fn roots_from_pem_errors_name_the_problem() {
        let (_, a_pem) = ca("A");
        let err = |pem: &str| Roots::from_pem(pem.as_bytes()).unwrap_err().to_string();
        assert!(err("").contains("no `-----BEGIN CERTIFICATE-----` section"));
        assert!(err("not pem at all").contains("no `-----BEGIN CERTIFICATE-----` section"));
        let truncated = a_pem.replace("-----END CERTIFICATE-----", "");
        assert!(
            err(&truncated).contains("PEM certificate 1: no `-----END CERTIFICATE-----` line"),
            "{}",
            err(&truncated)
        );
        let bad64 = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(
            err(bad64).contains("PEM certificate 1: invalid base64"),
            "{}",
            err(bad64)
        );
        let not_x509 = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(
            err(not_x509).contains("CA certificate 1 is not a valid X.509 certificate"),
            "{}",
            err(not_x509)
        );
        assert_eq!(
            Roots::from_der::<[&[u8]; 0]>([]).unwrap_err(),
            RootsError::NoCertificate
        );
        assert_eq!(RootsError::NoCertificate.to_string(), "no CA certificate given");
    }
}

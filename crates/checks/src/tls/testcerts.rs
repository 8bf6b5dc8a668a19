//! Test certificates, generated with rcgen (ring) in the test.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData, SignatureAlgorithm, SigningKey, date_time_ymd,
};
use sha2::{Digest, Sha256};

/// The tests' "now": 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600;
pub const HOST: &str = "mail.example.com";

/// A CA that can issue leaves.
pub struct Ca {
    pub der: Vec<u8>,
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2040, 1, 1);
        let cert = p.self_signed(&key).unwrap();
        Ca {
            der: cert.der().to_vec(),
            pem: cert.pem(),
            issuer: Issuer::new(p, key),
        }
    }

    /// A leaf for `names`, valid from `from` to `until` ((y, m, d)).
    pub fn leaf(&self, names: &[&str], from: (i32, u8, u8), until: (i32, u8, u8)) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let der = self.leaf_with_key(names, from, until, &key);
        Leaf {
            der,
            spki: key.subject_public_key_info(),
        }
    }

    /// A leaf valid from 2025-01-01 to 2027-01-01.
    pub fn valid_leaf(&self, names: &[&str]) -> Leaf {
        self.leaf(names, (2025, 1, 1), (2027, 1, 1))
    }

    pub fn leaf_with_key(
        &self,
        names: &[&str],
        from: (i32, u8, u8),
        until: (i32, u8, u8),
        key: &impl PublicKeyData,
    ) -> Vec<u8> {
        leaf_params(names, from, until)
            .signed_by(key, &self.issuer)
            .unwrap()
            .der()
            .to_vec()
    }
}

pub struct Leaf {
    pub der: Vec<u8>,
    /// The SubjectPublicKeyInfo DER, as rcgen wrote it.
    pub spki: Vec<u8>,
}

fn leaf_params(names: &[&str], from: (i32, u8, u8), until: (i32, u8, u8)) -> CertificateParams {
    let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.not_before = date_time_ymd(from.0, from.1, from.2);
    p.not_after = date_time_ymd(until.0, until.1, until.2);
    p
}

/// A self-signed leaf (as many DANE-EE servers use).
pub fn self_signed(names: &[&str]) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let cert = leaf_params(names, (2025, 1, 1), (2027, 1, 1))
        .self_signed(&key)
        .unwrap();
    Leaf {
        der: cert.der().to_vec(),
        spki: key.subject_public_key_info(),
    }
}

/// An RSA public key of `bits` bits that nobody holds the private key of:
/// ring cannot make RSA keys, and refuses to sign with ones below 2048
/// bits, but a leaf's key is only ever read, never used, here.
pub struct FakeRsa(Vec<u8>);

impl FakeRsa {
    pub fn new(bits: usize) -> FakeRsa {
        let mut modulus = vec![0x00, 0xc5];
        modulus.extend(std::iter::repeat_n(0x5a, bits / 8 - 2));
        modulus.push(0x01);
        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            match body.len() {
                n if n < 0x80 => out.push(n as u8),
                n if n < 0x100 => out.extend([0x81, n as u8]),
                n => out.extend([0x82, (n >> 8) as u8, n as u8]),
            }
            out.extend(body);
            out
        }
        let mut body = tlv(0x02, &modulus);
        body.extend(tlv(0x02, &[0x01, 0x00, 0x01]));
        FakeRsa(tlv(0x30, &body))
    }
}

impl PublicKeyData for FakeRsa {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// Signs with garbage: for certificates whose signature is never checked.
impl SigningKey for FakeRsa {
    fn sign(&self, _msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        Ok(vec![0x55; 256])
    }
}

/// A leaf "signed" with sha1WithRSAEncryption. rcgen has no SHA-1
/// algorithm, so: a leaf issued by a fake RSA CA with
/// sha256WithRSAEncryption, and the algorithm OID's last arc patched from
/// 11 to 5 (1.2.840.113549.1.1.5) in both places. The signature is garbage;
/// the analysis only reads the algorithm.
pub fn sha1_leaf(names: &[&str]) -> Vec<u8> {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, "SHA-1 CA");
    let issuer = Issuer::new(p, FakeRsa::new(2048));
    let key = KeyPair::generate().unwrap();
    let mut der = leaf_params(names, (2025, 1, 1), (2027, 1, 1))
        .signed_by(&key, &issuer)
        .unwrap()
        .der()
        .to_vec();
    const SHA256_RSA: [u8; 11] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
    let mut patched = 0;
    let mut i = 0;
    while i + SHA256_RSA.len() <= der.len() {
        if der[i..i + SHA256_RSA.len()] == SHA256_RSA {
            der[i + SHA256_RSA.len() - 1] = 0x05;
            patched += 1;
        }
        i += 1;
    }
    assert_eq!(
        patched, 2,
        "the OID appears in the TBS and in the outer signatureAlgorithm"
    );
    der
}

pub fn sha256_hex(b: &[u8]) -> String {
    super::hex(&Sha256::digest(b))
}

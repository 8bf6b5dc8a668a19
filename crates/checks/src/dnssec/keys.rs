//! DNSSEC key material as the judge reads it: the typed DNSKEY, DS and
//! NSEC3PARAM records of the evidence (parsed once by the DNS layer,
//! `mailwarden_model::rdata`) with what is derived from them: key tags, DS
//! digests and RSA modulus sizes. Pure functions, no I/O.

use mailwarden_model::dns as typed;
use mailwarden_model::{RData, RType};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384};

/// A DNSKEY record (RFC 4034 §2), with what is derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dnskey {
    pub flags: u16,
    pub protocol: u8,
    pub algorithm: u8,
    pub public_key: Vec<u8>,
    /// RFC 4034 Appendix B.
    pub key_tag: u16,
    /// The record as received, for evidence.
    pub text: String,
}

impl Dnskey {
    /// The judge's view of a typed DNSKEY record.
    pub fn from_rdata(key: &typed::Dnskey) -> Self {
        let mut out = Self {
            flags: key.flags,
            protocol: key.protocol,
            algorithm: key.algorithm,
            public_key: key.public_key.clone(),
            key_tag: 0,
            text: key.to_string(),
        };
        out.key_tag = key_tag(&out.rdata(), key.algorithm);
        out
    }

    /// Parse `flags protocol algorithm base64...` (the key may be split
    /// into several words), through the DNS layer's parser.
    pub fn parse(text: &str) -> Option<Self> {
        match mailwarden_model::rdata::from_text(RType::Dnskey.code(), text)? {
            RData::Dnskey(key) => Some(Self::from_rdata(&key)),
            _ => None,
        }
    }

    /// The RDATA in wire format.
    pub fn rdata(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.public_key.len());
        out.extend(self.flags.to_be_bytes());
        out.push(self.protocol);
        out.push(self.algorithm);
        out.extend(&self.public_key);
        out
    }

    /// RFC 4034 §2.1.1: bit 7 is the Zone Key flag.
    pub fn is_zone_key(&self) -> bool {
        self.flags & 0x0100 != 0
    }

    /// RFC 4034 §2.1.1: bit 15 is the Secure Entry Point flag (a KSK).
    pub fn is_sep(&self) -> bool {
        self.flags & 0x0001 != 0
    }

    /// RFC 5011 §3: bit 8 is the REVOKE flag.
    pub fn is_revoked(&self) -> bool {
        self.flags & 0x0080 != 0
    }

    /// The RSA modulus size in bits, for RSA algorithms (RFC 3110 §2).
    pub fn rsa_bits(&self) -> Option<usize> {
        is_rsa(self.algorithm).then(|| rsa_modulus_bits(&self.public_key))?
    }

    /// The DS digest of this key at `owner` (RFC 4034 §5.1.4), for the
    /// digest types mailwarden can compute (1, 2, 4).
    pub fn ds_digest(&self, owner: &str, digest_type: u8) -> Option<Vec<u8>> {
        let mut input = owner_wire(owner);
        input.extend(self.rdata());
        match digest_type {
            1 => Some(Sha1::digest(&input).to_vec()),
            2 => Some(Sha256::digest(&input).to_vec()),
            4 => Some(Sha384::digest(&input).to_vec()),
            _ => None,
        }
    }

    /// The DS record to publish at the parent for this key, SHA-256.
    pub fn ds_text(&self, owner: &str) -> String {
        let digest = self.ds_digest(owner, 2).unwrap_or_default();
        format!("{} {} 2 {}", self.key_tag, self.algorithm, hex_upper(&digest))
    }
}

/// A DS record (RFC 4034 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ds {
    pub key_tag: u16,
    pub algorithm: u8,
    pub digest_type: u8,
    pub digest: Vec<u8>,
    pub text: String,
}

impl Ds {
    /// The judge's view of a typed DS record.
    pub fn from_rdata(ds: &typed::Ds) -> Self {
        Self {
            key_tag: ds.key_tag,
            algorithm: ds.algorithm,
            digest_type: ds.digest_type,
            digest: ds.digest.clone(),
            text: ds.to_string(),
        }
    }

    /// Parse `key-tag algorithm digest-type hex...`, through the DNS
    /// layer's parser.
    pub fn parse(text: &str) -> Option<Self> {
        match mailwarden_model::rdata::from_text(RType::Ds.code(), text)? {
            RData::Ds(ds) => Some(Self::from_rdata(&ds)),
            _ => None,
        }
    }

    /// How this DS relates to `key` at `owner`.
    pub fn matches(&self, owner: &str, key: &Dnskey) -> Match {
        if self.key_tag != key.key_tag || self.algorithm != key.algorithm {
            return Match::No;
        }
        match key.ds_digest(owner, self.digest_type) {
            Some(digest) if digest == self.digest => Match::Yes,
            Some(_) => Match::No,
            None => Match::Unverifiable,
        }
    }
}

/// Whether a DS refers to a DNSKEY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Yes,
    No,
    /// Same key tag and algorithm, but a digest type we cannot compute.
    Unverifiable,
}

/// NSEC3 parameters at a zone apex (RFC 5155 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nsec3Param {
    pub hash_algorithm: u8,
    pub flags: u8,
    pub iterations: u16,
    /// Hex, or empty for no salt (`-`).
    pub salt: String,
    pub text: String,
}

impl Nsec3Param {
    /// The judge's view of a typed NSEC3PARAM record.
    pub fn from_rdata(param: &typed::Nsec3param) -> Self {
        Self {
            hash_algorithm: param.hash_algorithm,
            flags: param.flags,
            iterations: param.iterations,
            salt: hex_upper(&param.salt),
            text: param.to_string(),
        }
    }

    /// Parse `algorithm flags iterations salt` (salt `-` when empty),
    /// through the DNS layer's parser.
    pub fn parse(text: &str) -> Option<Self> {
        match mailwarden_model::rdata::from_text(RType::Nsec3param.code(), text)? {
            RData::Nsec3param(param) => Some(Self::from_rdata(&param)),
            _ => None,
        }
    }
}

/// RFC 4034 Appendix B: the key tag of a DNSKEY, given its RDATA.
///
/// "For all algorithms except algorithm 1, the key tag is computed ...
/// as if the RDATA were a sequence of 16-bit unsigned integers ... the key
/// tag is the sum of these integers, ignoring carries"; Appendix B.1: for
/// RSA/MD5 "the key tag is the most significant 16 bits of the least
/// significant 24 bits in the public key modulus".
pub fn key_tag(rdata: &[u8], algorithm: u8) -> u16 {
    if algorithm == 1 {
        let n = rdata.len();
        if n < 4 + 3 {
            return 0;
        }
        return u16::from_be_bytes([rdata[n - 3], rdata[n - 2]]);
    }
    let mut ac: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        ac += if i & 1 == 1 { u32::from(*b) } else { u32::from(*b) << 8 };
    }
    ac += (ac >> 16) & 0xFFFF;
    (ac & 0xFFFF) as u16
}

/// A domain name in canonical wire form (RFC 4034 §6.2): lower-case
/// labels, each preceded by its length, ending with the root label.
pub fn owner_wire(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        let label = label.to_ascii_lowercase();
        out.push(u8::try_from(label.len()).unwrap_or(63));
        out.extend(label.as_bytes());
    }
    out.push(0);
    out
}

/// RSA algorithms: RSAMD5, RSASHA1, RSASHA1-NSEC3-SHA1, RSASHA256, RSASHA512.
pub fn is_rsa(algorithm: u8) -> bool {
    matches!(algorithm, 1 | 5 | 7 | 8 | 10)
}

/// RFC 3110 §2: "The key is formatted as: exponent length (1 or 3 octets),
/// exponent, modulus"; a leading zero octet means the length is in the
/// next two octets. Returns the modulus size in bits (leading zero bits
/// not counted), or `None` when the key is malformed.
pub fn rsa_modulus_bits(key: &[u8]) -> Option<usize> {
    let (&first, rest) = key.split_first()?;
    let (exponent_len, rest) = if first == 0 {
        let (len, rest) = rest.split_at_checked(2)?;
        (usize::from(u16::from_be_bytes([len[0], len[1]])), rest)
    } else {
        (usize::from(first), rest)
    };
    let modulus = rest.get(exponent_len..)?;
    let skip = modulus.iter().take_while(|b| **b == 0).count();
    let modulus = &modulus[skip..];
    let (&top, _) = modulus.split_first()?;
    Some(modulus.len() * 8 - top.leading_zeros() as usize)
}

/// Standard base64 (RFC 4648 §4) with padding optional; `None` on any
/// other character (the one codec, `mailwarden_model::codec`).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    mailwarden_model::codec::base64_decode_lenient(text)
        .ok()
        .map(|(bytes, _)| bytes)
}

/// Hex digits to bytes; `None` when the text is not whole octets of hex.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    mailwarden_model::codec::hex_decode(text).ok()
}

/// Upper-case hex, as DS digests are presented.
pub fn hex_upper(bytes: &[u8]) -> String {
    mailwarden_model::codec::hex_upper(bytes)
}

/// The mnemonic of a DNSSEC algorithm number (IANA registry).
pub fn algorithm_name(algorithm: u8) -> String {
    match algorithm {
        1 => "RSAMD5".into(),
        3 => "DSA".into(),
        5 => "RSASHA1".into(),
        6 => "DSA-NSEC3-SHA1".into(),
        7 => "RSASHA1-NSEC3-SHA1".into(),
        8 => "RSASHA256".into(),
        10 => "RSASHA512".into(),
        12 => "ECC-GOST".into(),
        13 => "ECDSAP256SHA256".into(),
        14 => "ECDSAP384SHA384".into(),
        15 => "ED25519".into(),
        16 => "ED448".into(),
        other => format!("algorithm {other}"),
    }
}

/// The mnemonic of a DS digest type number (IANA registry).
pub fn digest_name(digest_type: u8) -> String {
    match digest_type {
        0 => "NULL".into(),
        1 => "SHA-1".into(),
        2 => "SHA-256".into(),
        3 => "GOST R 34.11-94".into(),
        4 => "SHA-384".into(),
        other => format!("digest type {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4034 §5.4: the DS example for dskey.example.com.
    const RFC4034_KEY: &str = "256 3 5 AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==";

    #[test]
    fn key_tag_and_ds_digest_match_rfc_4034_example() {
        // RFC 4034 §5.4 gives the DS for this key with flags 256 and key tag 60485.
        let key = Dnskey::parse(RFC4034_KEY).unwrap();
        assert_eq!(key.key_tag, 60485);
        let ds = Ds::parse("60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118").unwrap();
        assert_eq!(ds.matches("dskey.example.com", &key), Match::Yes);
        assert_eq!(ds.matches("other.example.com", &key), Match::No);
        let ds = Ds::parse("60485 5 3 2BB183AF").unwrap();
        assert_eq!(ds.matches("dskey.example.com", &key), Match::Unverifiable);
    }

    #[test]
    fn owner_wire_is_canonical() {
        assert_eq!(owner_wire("Ex.COM."), b"\x02ex\x03com\x00");
        assert_eq!(owner_wire(""), b"\x00");
    }

    #[test]
    fn rsa_modulus_bits_reads_both_exponent_length_forms() {
        let key = Dnskey::parse(RFC4034_KEY).unwrap();
        assert_eq!(key.rsa_bits(), Some(1024));
        let mut long_form = vec![0, 0, 3, 1, 0, 1];
        long_form.extend([0x80; 256]);
        assert_eq!(rsa_modulus_bits(&long_form), Some(2048));
        assert_eq!(rsa_modulus_bits(&[3, 1, 0, 1, 0x01]), Some(1));
        assert_eq!(rsa_modulus_bits(&[9, 1]), None);
        assert_eq!(rsa_modulus_bits(&[]), None);
    }

    #[test]
    fn base64_and_hex_round_trip() {
        assert_eq!(base64_decode("AQAB").unwrap(), [1, 0, 1]);
        assert_eq!(base64_decode("AQ==").unwrap(), [1]);
        assert!(base64_decode("A*").is_none());
        assert_eq!(hex_decode("0aFF").unwrap(), [10, 255]);
        assert!(hex_decode("abc").is_none());
        assert_eq!(hex_upper(&[10, 255]), "0AFF");
    }

    #[test]
    fn nsec3param_parses_empty_and_present_salt() {
        let p = Nsec3Param::parse("1 0 0 -").unwrap();
        assert_eq!((p.iterations, p.salt.as_str()), (0, ""));
        let p = Nsec3Param::parse("1 0 10 aabb").unwrap();
        assert_eq!((p.iterations, p.salt.as_str()), (10, "AABB"));
    }

    #[test]
    fn rsa_md5_key_tag_comes_from_the_modulus() {
        let rdata = [1, 0, 3, 1, 0xAA, 0xBB, 0x12, 0x34, 0x56];
        assert_eq!(key_tag(&rdata, 1), 0x1234);
    }
}

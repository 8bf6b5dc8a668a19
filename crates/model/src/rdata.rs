//! Typed DNSSEC and DANE record data: DS, DNSKEY (RFC 4034 §5.1, §2.1),
//! NSEC3PARAM (RFC 5155 §4.2) and TLSA (RFC 6698 §2.1), parsed once where
//! the DNS layer meets them (live answers, zone files, trust anchors, and
//! schema-1 evidence that kept them as text), so judges read numbers and
//! bytes, never text.
//!
//! Each type reads its presentation form ([`parse_text`]) and its wire
//! form ([`parse_wire`]), and displays as the presentation form the live
//! backend has always written (hickory's): DS digests and NSEC3 salts in
//! upper-case hex, TLSA data in lower-case hex, DNSKEY keys in one base64
//! word. In JSON the bytes are written the same way.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::dns::RData;
use crate::presentation::{DecodeError, base64_serde, hex_lower_serde, hex_upper_serde};

/// A DS record (RFC 4034 §5.1): the parent's digest of a child's DNSKEY.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ds {
    /// The key tag of the DNSKEY the digest is of (RFC 4034 Appendix B).
    pub key_tag: u16,
    /// The DNSSEC algorithm number of that DNSKEY.
    pub algorithm: u8,
    /// The digest algorithm (1 SHA-1, 2 SHA-256, 4 SHA-384).
    pub digest_type: u8,
    /// The digest, written in JSON as upper-case hex.
    #[serde(with = "hex_upper_serde")]
    pub digest: Vec<u8>,
}

/// A DNSKEY record (RFC 4034 §2.1): a zone's public key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dnskey {
    /// Flags: 256 a zone key, 257 a zone key that is a secure entry point.
    pub flags: u16,
    /// Always 3 (RFC 4034 §2.1.2).
    pub protocol: u8,
    /// The DNSSEC algorithm number.
    pub algorithm: u8,
    /// The public key, written in JSON as base64 (as in zone files).
    #[serde(with = "base64_serde")]
    pub public_key: Vec<u8>,
}

/// A TLSA record (RFC 6698 §2.1): a certificate association for DANE.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Tlsa {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE (RFC 7218 names).
    pub usage: u8,
    /// 0 the full certificate, 1 its SubjectPublicKeyInfo.
    pub selector: u8,
    /// 0 exact match, 1 SHA-256, 2 SHA-512.
    pub matching_type: u8,
    /// The certificate association data, written in JSON as lower-case hex.
    #[serde(with = "hex_lower_serde")]
    pub data: Vec<u8>,
}

/// An NSEC3PARAM record (RFC 5155 §4.2): how a zone hashes its NSEC3 names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Nsec3param {
    /// The hash algorithm (1 SHA-1).
    pub hash_algorithm: u8,
    /// Flags (0; the opt-out bit is not used here).
    pub flags: u8,
    /// Extra hash iterations.
    pub iterations: u16,
    /// The salt, written in JSON as upper-case hex (empty: no salt).
    #[serde(with = "hex_upper_serde")]
    pub salt: Vec<u8>,
}

impl fmt::Display for Ds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digest = codec::hex_upper(&self.digest);
        write!(f, "{} {} {} {digest}", self.key_tag, self.algorithm, self.digest_type)
    }
}

impl fmt::Display for Dnskey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = codec::base64(&self.public_key);
        write!(f, "{} {} {} {key}", self.flags, self.protocol, self.algorithm)
    }
}

impl fmt::Display for Tlsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = codec::hex(&self.data);
        write!(f, "{} {} {} {data}", self.usage, self.selector, self.matching_type)
    }
}

impl Tlsa {
    /// `3 1 1` style short form: usage, selector, matching type.
    pub fn params(&self) -> String {
        format!("{} {} {}", self.usage, self.selector, self.matching_type)
    }

    /// The RFC 7218 acronym of the usage.
    pub fn usage_name(&self) -> &'static str {
        tlsa_usage_name(self.usage)
    }

    /// Why no client can use the record, if so: RFC 7671 §4 has clients
    /// treat unknown parameters as unusable, and a digest of the wrong
    /// length can never match.
    pub fn unusable(&self) -> Option<String> {
        if self.usage > 3 {
            return Some(format!("certificate usage {} is not defined (0-3)", self.usage));
        }
        if self.selector > 1 {
            return Some(format!("selector {} is not defined (0 or 1)", self.selector));
        }
        let octets = self.data.len();
        match self.matching_type {
            0 if octets == 0 => Some("matching type 0 with no data".into()),
            1 if octets != 32 => Some(format!(
                "matching type 1 (SHA-256) needs 32 octets of data, not {octets}"
            )),
            2 if octets != 64 => Some(format!(
                "matching type 2 (SHA-512) needs 64 octets of data, not {octets}"
            )),
            0..=2 => None,
            m => Some(format!("matching type {m} is not defined (0-2)")),
        }
    }

    /// Parse the presentation text of one TLSA record, either form
    /// (`usage selector matching-type hex`, or RFC 3597's `\# LENGTH HEX`):
    /// the one TLSA text parser, which [`from_text`] uses at the DNS
    /// boundary and `mailwarden_records::tlsa` for record diagnostics.
    pub fn from_text(text: &str) -> Result<Self, TlsaError> {
        let words: Vec<&str> = text.split_ascii_whitespace().collect();
        tlsa_words(&words)
    }
}

/// The RFC 7218 acronym of a TLSA certificate usage.
pub fn tlsa_usage_name(usage: u8) -> &'static str {
    match usage {
        0 => "PKIX-TA",
        1 => "PKIX-EE",
        2 => "DANE-TA",
        3 => "DANE-EE",
        _ => "unassigned",
    }
}

/// Why the presentation text of a TLSA record does not parse, and which
/// of its blank-separated words are at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsaError {
    /// The words at fault, as indices into the text's blank-separated
    /// words (empty: the text ended too soon).
    pub words: std::ops::Range<usize>,
    /// A stable code for the problem: `tlsa-fields`, `tlsa-field`,
    /// `tlsa-odd-hex`, `tlsa-not-hex` or `tlsa-generic`.
    pub code: &'static str,
    /// What is wrong, in words (the reason evidence keeps).
    pub message: String,
}

impl fmt::Display for Nsec3param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let salt = match self.salt.as_slice() {
            [] => "-".to_string(),
            salt => codec::hex_upper(salt),
        };
        write!(f, "{} {} {} {salt}", self.hash_algorithm, self.flags, self.iterations)
    }
}

/// The wire numbers of the types this module types.
pub const TYPED_CODES: [u16; 4] = [DS, DNSKEY, NSEC3PARAM, TLSA];
const DS: u16 = 43;
const DNSKEY: u16 = 48;
const NSEC3PARAM: u16 = 51;
const TLSA: u16 = 52;

/// Whether records of type `code` are typed here (and never kept as
/// [`RData::Other`]).
pub fn is_typed(code: u16) -> bool {
    TYPED_CODES.contains(&code)
}

/// The record data of a typed type from its presentation text (the words
/// after the type in a zone file, or RFC 3597's `\# LENGTH HEX`). `None`
/// when `code` is not a typed type; a record that does not parse is kept
/// as [`RData::Unparsed`] with the reason, never dropped.
pub fn from_text(code: u16, text: &str) -> Option<RData> {
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let parsed = match words.split_first() {
        Some((&"\\#", _)) if !is_typed(code) => return None,
        Some((&"\\#", generic)) => match generic_octets(generic) {
            Ok(octets) => parse_wire(code, &octets)?,
            Err(e) => Err(e),
        },
        _ => parse_text(code, &words)?,
    };
    Some(parsed.unwrap_or_else(|e| RData::Unparsed {
        rtype: code,
        text: words.join(" "),
        error: e.0,
    }))
}

/// The record data of a typed type from its wire octets (RFC 4034 §2.1,
/// §5.1; RFC 5155 §4.2; RFC 6698 §2.1). `None` when `code` is not typed;
/// malformed octets are kept as [`RData::Unparsed`] in RFC 3597 form.
pub fn from_wire(code: u16, octets: &[u8]) -> Option<RData> {
    let parsed = parse_wire(code, octets)?;
    Some(parsed.unwrap_or_else(|e| RData::Unparsed {
        rtype: code,
        text: generic_text(octets),
        error: e.0,
    }))
}

/// RFC 3597 §5's form of any rdata: `\# LENGTH HEX`.
pub fn generic_text(octets: &[u8]) -> String {
    match octets.len() {
        0 => "\\# 0".to_owned(),
        n => format!("\\# {n} {}", codec::hex(octets)),
    }
}

/// RFC 3597 §5: `\# <length> <hex>`, the octets of any RR type's rdata,
/// from the words after `\#` (the hex may be split into several words).
pub fn generic_octets(words: &[&str]) -> Result<Vec<u8>, DecodeError> {
    let Some((length, hex)) = words.split_first() else {
        return Err(DecodeError("RFC 3597 rdata \\# needs a length".into()));
    };
    let length: usize = length
        .parse()
        .map_err(|_| DecodeError(format!("RFC 3597 rdata length \"{length}\" is not a number")))?;
    let hex = hex.concat();
    let octets = codec::hex_decode(&hex)
        .map_err(|_| DecodeError("RFC 3597 rdata is not an even number of hexadecimal digits".into()))?;
    if octets.len() != length {
        return Err(DecodeError(format!(
            "RFC 3597 rdata has {} octets but its length says {length}",
            octets.len()
        )));
    }
    Ok(octets)
}

/// Parse presentation words; `None` when `code` is not typed.
pub fn parse_text(code: u16, words: &[&str]) -> Option<Result<RData, DecodeError>> {
    let mut fields = Fields { words, i: 0 };
    Some(match code {
        DS => ds_text(&mut fields),
        DNSKEY => dnskey_text(&mut fields),
        TLSA => tlsa_words(words).map(RData::Tlsa).map_err(|e| DecodeError(e.message)),
        NSEC3PARAM => nsec3param_text(&mut fields),
        _ => return None,
    })
}

fn ds_text(fields: &mut Fields<'_>) -> Result<RData, DecodeError> {
    Ok(RData::Ds(Ds {
        key_tag: fields.number("key tag")?,
        algorithm: fields.number("algorithm")?,
        digest_type: fields.number("digest type")?,
        digest: codec::hex_decode(&fields.rest("digest")?).map_err(|e| DecodeError::hex("digest", e))?,
    }))
}

fn dnskey_text(fields: &mut Fields<'_>) -> Result<RData, DecodeError> {
    Ok(RData::Dnskey(Dnskey {
        flags: fields.number("flags")?,
        protocol: fields.number("protocol")?,
        algorithm: fields.number("algorithm")?,
        public_key: codec::base64_decode_dns(&fields.rest("public key")?)
            .map_err(|e| DecodeError::base64("public key", e))?,
    }))
}

fn nsec3param_text(fields: &mut Fields<'_>) -> Result<RData, DecodeError> {
    Ok(RData::Nsec3param(Nsec3param {
        hash_algorithm: fields.number("hash algorithm")?,
        flags: fields.number("flags")?,
        iterations: fields.number("iterations")?,
        salt: match fields.rest("salt")?.as_str() {
            "-" => Vec::new(),
            hex => codec::hex_decode(hex).map_err(|e| DecodeError::hex("salt", e))?,
        },
    }))
}

/// TLSA text (either form), with the reasons DANE findings have always
/// quoted.
fn tlsa_words(words: &[&str]) -> Result<Tlsa, TlsaError> {
    let error = |words: std::ops::Range<usize>, code, message| TlsaError { words, code, message };
    if let Some((&"\\#", generic)) = words.split_first() {
        let generic_error = |e: DecodeError| error(1..words.len(), "tlsa-generic", e.0);
        let octets = generic_octets(generic).map_err(generic_error)?;
        return tlsa_wire(&octets).map_err(generic_error);
    }
    if words.len() < 4 {
        let message = format!("`{}` is not `usage selector matching-type data`", words.join(" "));
        return Err(error(0..words.len(), "tlsa-fields", message));
    }
    let field = |i: usize, what: &str| {
        let word = words[i];
        word.parse::<u8>().map_err(|_| {
            let message = format!("the {what} `{word}` is not a number from 0 to 255");
            error(i..i + 1, "tlsa-field", message)
        })
    };
    // The fields in order, so the first word at fault is the one named.
    let (usage, selector, matching_type) = (
        field(0, "certificate usage")?,
        field(1, "selector")?,
        field(2, "matching type")?,
    );
    let data = codec::hex_decode(&words[3..].concat()).map_err(|e| {
        let data_words = 3..words.len();
        let at = match e {
            codec::HexError::OddLength(_) => data_words,
            codec::HexError::NotHex(c) => {
                (words[3..].iter().position(|w| w.contains(c))).map_or(data_words, |i| 3 + i..4 + i)
            }
        };
        let code = match e {
            codec::HexError::OddLength(_) => "tlsa-odd-hex",
            codec::HexError::NotHex(_) => "tlsa-not-hex",
        };
        error(at, code, DecodeError::hex("data", e).0)
    })?;
    Ok(Tlsa {
        usage,
        selector,
        matching_type,
        data,
    })
}

/// TLSA wire octets (RFC 6698 §2.1).
fn tlsa_wire(octets: &[u8]) -> Result<Tlsa, DecodeError> {
    match octets {
        [usage, selector, matching_type, data @ ..] => Ok(Tlsa {
            usage: *usage,
            selector: *selector,
            matching_type: *matching_type,
            data: data.to_vec(),
        }),
        _ => Err(DecodeError(format!(
            "TLSA rdata needs at least 3 octets, not {}",
            octets.len()
        ))),
    }
}

/// Parse wire octets; `None` when `code` is not typed.
pub fn parse_wire(code: u16, octets: &[u8]) -> Option<Result<RData, DecodeError>> {
    let short = |need: usize, what: &str| {
        DecodeError(format!(
            "{what} rdata needs at least {need} octets, not {}",
            octets.len()
        ))
    };
    Some(match (code, octets) {
        (DS, [tag_hi, tag_lo, algorithm, digest_type, digest @ ..]) => Ok(RData::Ds(Ds {
            key_tag: u16::from_be_bytes([*tag_hi, *tag_lo]),
            algorithm: *algorithm,
            digest_type: *digest_type,
            digest: digest.to_vec(),
        })),
        (DS, _) => Err(short(4, "DS")),
        (DNSKEY, [flags_hi, flags_lo, protocol, algorithm, key @ ..]) => Ok(RData::Dnskey(Dnskey {
            flags: u16::from_be_bytes([*flags_hi, *flags_lo]),
            protocol: *protocol,
            algorithm: *algorithm,
            public_key: key.to_vec(),
        })),
        (DNSKEY, _) => Err(short(4, "DNSKEY")),
        (TLSA, _) => tlsa_wire(octets).map(RData::Tlsa),
        (NSEC3PARAM, [hash_algorithm, flags, it_hi, it_lo, salt_len, salt @ ..]) => {
            if salt.len() == usize::from(*salt_len) {
                Ok(RData::Nsec3param(Nsec3param {
                    hash_algorithm: *hash_algorithm,
                    flags: *flags,
                    iterations: u16::from_be_bytes([*it_hi, *it_lo]),
                    salt: salt.to_vec(),
                }))
            } else {
                Err(DecodeError(format!(
                    "NSEC3PARAM salt length says {salt_len} octets but {} follow",
                    salt.len()
                )))
            }
        }
        (NSEC3PARAM, _) => Err(short(5, "NSEC3PARAM")),
        _ => return None,
    })
}

/// Presentation words read in order, with errors that name the field.
struct Fields<'w> {
    words: &'w [&'w str],
    i: usize,
}

impl Fields<'_> {
    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, DecodeError> {
        let word = self
            .words
            .get(self.i)
            .ok_or_else(|| DecodeError(format!("missing {what}")))?;
        self.i += 1;
        word.parse()
            .map_err(|_| DecodeError(format!("the {what} `{word}` is not a number in range")))
    }

    /// The remaining words joined (a key or digest may be split).
    fn rest(&mut self, what: &str) -> Result<String, DecodeError> {
        let rest = self.words.get(self.i..).unwrap_or_default();
        self.i = self.words.len();
        if rest.is_empty() {
            return Err(DecodeError(format!("missing {what}")));
        }
        Ok(rest.concat())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1";

    fn tlsa(text: &str) -> Result<Tlsa, String> {
        match from_text(TLSA, text) {
            Some(RData::Tlsa(t)) => Ok(t),
            Some(RData::Unparsed { error, .. }) => Err(error),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tlsa_presentation_and_generic_forms_are_the_same_record() {
        let t = tlsa(&format!("3 1 1 {H}")).unwrap();
        assert_eq!((t.usage, t.selector, t.matching_type), (3, 1, 1));
        assert_eq!(t.to_string(), format!("3 1 1 {H}"));
        let g = tlsa(&format!("\\# 35 030101{}", H.to_ascii_uppercase())).unwrap();
        assert_eq!(g, t);
        let split = tlsa(&format!("2 0 1 {} {}", &H[..10], &H[10..])).unwrap();
        assert_eq!(codec::hex(&split.data), H);
    }

    #[test]
    fn malformed_tlsa_keeps_its_text_and_reason() {
        assert!(tlsa("3 1 1").unwrap_err().contains("is not `usage"));
        assert!(tlsa("3 1 x abcd").unwrap_err().contains("matching type `x`"));
        assert!(tlsa("3 1 1 abc").unwrap_err().contains("odd"));
        assert!(tlsa("3 1 1 zz").unwrap_err().contains("`z`"));
        assert!(tlsa("\\# 4 0301").unwrap_err().contains("length says 4"));
        assert!(tlsa("\\# 2 0301").unwrap_err().contains("at least 3 octets"));
        assert_eq!(
            from_text(TLSA, "3  1 1   zz"),
            Some(RData::Unparsed {
                rtype: 52,
                text: "3 1 1 zz".into(),
                error: "the data contains `z`, which is not a hex digit".into()
            })
        );
    }

    #[test]
    fn ds_dnskey_nsec3param_display_as_the_live_backend_wrote_them() {
        let cases = [
            (DS, "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
            (
                DNSKEY,
                "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==",
            ),
            (NSEC3PARAM, "1 0 10 AABBCCDD"),
            (NSEC3PARAM, "1 0 0 -"),
        ];
        for (code, text) in cases {
            let rd = from_text(code, text).unwrap();
            assert!(!matches!(rd, RData::Unparsed { .. }), "{rd:?}");
            assert_eq!(rd.data_text().unwrap(), text);
        }
        // Lower-case hex and a key split in words read the same.
        let ds = from_text(DS, "60485 5 1 2bb183af5f22588179a53b0a98631fad 1a292118").unwrap();
        assert_eq!(ds.data_text().unwrap(), cases[0].1);
    }

    #[test]
    fn wire_and_text_agree_and_bad_wire_is_kept_as_generic_text() {
        let text = from_text(NSEC3PARAM, "1 0 10 aabbccdd").unwrap();
        let wire = from_wire(NSEC3PARAM, &[1, 0, 0, 10, 4, 0xaa, 0xbb, 0xcc, 0xdd]).unwrap();
        assert_eq!(text, wire);
        let ds = from_wire(DS, &[0, 1, 8]).unwrap();
        assert_eq!(
            ds,
            RData::Unparsed {
                rtype: 43,
                text: "\\# 3 000108".into(),
                error: "DS rdata needs at least 4 octets, not 3".into()
            }
        );
        assert!(from_wire(16, b"x").is_none());
        assert!(from_text(16, "x").is_none());
    }

    #[test]
    fn bad_dnskey_and_ds_say_which_field() {
        let reason = |code, text| match from_text(code, text) {
            Some(RData::Unparsed { error, .. }) => error,
            other => panic!("{other:?}"),
        };
        assert!(reason(DNSKEY, "257 3 13 !!!").contains("public key is not base64"));
        assert!(reason(DNSKEY, "257 3").contains("missing algorithm"));
        assert!(reason(DS, "70000 8 2 AB").contains("key tag `70000`"));
        assert!(reason(NSEC3PARAM, "1 0 10 xyz").contains("salt"));
    }

    #[test]
    fn typed_records_are_readable_json() {
        let rd = from_text(DS, "60485 5 1 2BB183AF").unwrap();
        let json = serde_json::to_value(&rd).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "DS", "key_tag": 60485, "algorithm": 5, "digest_type": 1, "digest": "2BB183AF"})
        );
        assert_eq!(serde_json::from_value::<RData>(json).unwrap(), rd);
        let key = from_text(DNSKEY, "256 3 15 AQAB").unwrap();
        let json = serde_json::to_value(&key).unwrap();
        assert_eq!(json["public_key"], "AQAB");
        assert_eq!(serde_json::from_value::<RData>(json).unwrap(), key);
    }
}

//! The presentation-text codec: the one place that turns record bytes into
//! zone-file text and back (RFC 1035 §5.1), shared by the zone-file
//! parser, the trust-anchor parser, the live backend and the judges.
//!
//! - character-strings: `\DDD`, `\X` escapes ([`escape`], [`unescape`],
//!   and [`unescape_lenient`] for text this codec wrote itself);
//! - binary fields of typed records: hexadecimal (DS digests, TLSA data,
//!   NSEC3 salts) and base64 (DNSKEY public keys), also used to write
//!   those fields readably in JSON ([`hex_upper_serde`],
//!   [`hex_lower_serde`], [`base64_serde`]).

/// Why presentation text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

impl DecodeError {
    /// The field `what` is not hex ([`crate::codec::hex_decode`]).
    pub fn hex(what: &str, e: crate::codec::HexError) -> Self {
        Self(match e {
            crate::codec::HexError::OddLength(n) => format!("the {what} has an odd number of hex digits ({n})"),
            crate::codec::HexError::NotHex(c) => format!("the {what} contains `{c}`, which is not a hex digit"),
        })
    }

    /// The field `what` is not base64 ([`crate::codec::base64_decode_dns`]).
    pub fn base64(what: &str, e: base64::DecodeError) -> Self {
        Self(format!("the {what} is not base64: {e}"))
    }
}

/// Write raw character-string bytes in presentation form: bytes outside
/// printable ASCII are written `\DDD`, `"` and `\` as `\"` and `\\`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out
}

/// Decode `\X` and `\DDD` escapes: "\DDD where each D is a digit is the
/// octet corresponding to the decimal number described by DDD" (RFC 1035
/// §5.1). Strict: a `\DDD` that is not three digits or not an octet, or a
/// backslash at the end, is an error.
pub fn unescape(raw: &[u8]) -> Result<Vec<u8>, DecodeError> {
    decode(raw, Policy::Strict)
}

/// [`unescape`] for text [`escape`] wrote (stored evidence): a malformed
/// escape is kept as written instead of refused.
pub fn unescape_lenient(s: &str) -> Vec<u8> {
    // The lenient policy never fails.
    decode(s.as_bytes(), Policy::Lenient).unwrap_or_default()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Policy {
    Strict,
    Lenient,
}

fn decode(raw: &[u8], policy: Policy) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let digits = &raw[i + 1..raw.len().min(i + 4)];
        match decimal_escape(digits) {
            Ok(Some(byte)) => {
                out.push(byte);
                i += 4;
                continue;
            }
            Err(why) if policy == Policy::Strict => return Err(why),
            Ok(None) | Err(_) => {}
        }
        match raw.get(i + 1) {
            Some(&quoted) => out.push(quoted),
            None if policy == Policy::Lenient => out.push(b'\\'),
            None => return Err(DecodeError("'\\' at the end escapes nothing".into())),
        }
        i += 2;
    }
    Ok(out)
}

/// `Some(octet)` for `DDD`, `None` when `digits` does not start with a
/// digit (a `\X` escape), an error for a bad `\DDD`.
fn decimal_escape(digits: &[u8]) -> Result<Option<u8>, DecodeError> {
    if !digits.first().is_some_and(u8::is_ascii_digit) {
        return Ok(None);
    }
    if digits.len() < 3 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(DecodeError("an escape \\DDD needs exactly three decimal digits".into()));
    }
    let value = digits.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
    u8::try_from(value).map(Some).map_err(|_| {
        DecodeError(format!(
            "escape \\{} is not an octet (0-255)",
            String::from_utf8_lossy(digits)
        ))
    })
}

/// Serde for bytes as upper-case hexadecimal (reads either case).
pub mod hex_upper_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write `bytes` as upper-case hex.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::codec::hex_upper(bytes))
    }

    /// Read hex of either case.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        let e = |e| serde::de::Error::custom(super::DecodeError::hex("hex field", e));
        crate::codec::hex_decode(&text).map_err(e)
    }
}

/// Serde for bytes as lower-case hexadecimal (reads either case).
pub mod hex_lower_serde {
    use serde::Serializer;

    /// Write `bytes` as lower-case hex.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::codec::hex(bytes))
    }

    pub use super::hex_upper_serde::deserialize;
}

/// Serde for bytes as standard, padded base64.
pub mod base64_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write `bytes` as base64.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::codec::base64(bytes))
    }

    /// Read base64, padding optional.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        let e = |e| serde::de::Error::custom(super::DecodeError::base64("base64 field", e));
        crate::codec::base64_decode_dns(&text).map_err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(unescape(escape(&all).as_bytes()).unwrap(), all);
        assert_eq!(unescape_lenient(&escape(&all)), all);
    }

    #[test]
    fn strict_refuses_what_lenient_keeps() {
        assert_eq!(unescape(b"a\\\"b\\\\c\\255\\000").unwrap(), b"a\"b\\c\xff\x00");
        assert!(unescape(b"\\256").unwrap_err().0.contains("not an octet"));
        assert!(unescape(b"\\12").unwrap_err().0.contains("three decimal digits"));
        assert!(unescape(b"a\\").is_err());
        assert_eq!(unescape_lenient("\\256"), b"256");
        assert_eq!(unescape_lenient("\\12x"), b"12x");
        assert_eq!(unescape_lenient("a\\"), b"a\\");
    }

    #[test]
    fn field_errors_name_the_field_and_what_is_wrong() {
        use crate::codec::{base64_decode_dns, hex_decode};
        let hex = |text| hex_decode(text).map_err(|e| DecodeError::hex("digest", e));
        assert_eq!(hex("0aFF").unwrap(), [10, 255]);
        assert_eq!(
            hex("abc").unwrap_err().0,
            "the digest has an odd number of hex digits (3)"
        );
        assert_eq!(
            hex("zz").unwrap_err().0,
            "the digest contains `z`, which is not a hex digit"
        );
        let b64 = |text| base64_decode_dns(text).map_err(|e| DecodeError::base64("key", e));
        assert_eq!(b64("AQAB").unwrap(), [1, 0, 1]);
        assert_eq!(b64("AQ==").unwrap(), [1]);
        assert_eq!(b64("AQ").unwrap(), [1]);
        assert!(b64("A*").unwrap_err().0.starts_with("the key is not base64: "));
    }
}

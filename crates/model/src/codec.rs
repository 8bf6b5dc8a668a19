//! Hex and base64, once for the whole workspace: digests in evidence
//! (lower-case hex), DS digests in presentation form (upper-case hex),
//! TLSA association data, DER certificates in an Observation (base64) and
//! DKIM keys (base64, with the padding some publishers leave out).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use thiserror::Error;

/// Why text is not hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HexError {
    /// Hex digits come in pairs, one per octet.
    #[error("an odd number of hex digits ({0})")]
    OddLength(usize),
    /// A character outside `0-9`, `a-f`, `A-F`.
    #[error("`{0}` is not a hex digit")]
    NotHex(char),
}

/// Lower-case hex of `bytes` (digests, fingerprints, TLSA data).
pub fn hex(bytes: &[u8]) -> String {
    encode(bytes, b"0123456789abcdef")
}

/// Upper-case hex of `bytes` (DS digests as zone files present them).
pub fn hex_upper(bytes: &[u8]) -> String {
    encode(bytes, b"0123456789ABCDEF")
}

fn encode(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(digits[usize::from(b >> 4)]));
        out.push(char::from(digits[usize::from(b & 0x0f)]));
    }
    out
}

/// The octets of hex text, either case, nothing else (no sign, no
/// blanks). An odd length is reported before a bad character.
pub fn hex_decode(text: &str) -> Result<Vec<u8>, HexError> {
    if !text.len().is_multiple_of(2) {
        return Err(HexError::OddLength(text.len()));
    }
    if let Some(c) = text.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(HexError::NotHex(c));
    }
    let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
    Ok(text
        .as_bytes()
        .chunks_exact(2)
        .map(|p| (digit(p[0]) << 4) | digit(p[1]))
        .collect())
}

/// Standard base64 (RFC 4648 §4) with padding.
pub fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The octets of standard, padded base64.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD.decode(text.as_bytes())
}

/// The octets of standard base64 as DNS software has always read keys
/// (DNSKEY in presentation form): padding optional, unused trailing bits
/// ignored.
pub fn base64_decode_dns(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    const DNS: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    DNS.decode(text.as_bytes())
}

/// The octets of standard base64 whose `=` padding may be missing, and
/// whether it was right: DKIM verifiers differ on unpadded keys, so the
/// caller warns rather than rejects.
pub fn base64_decode_lenient(text: &str) -> Result<(Vec<u8>, bool), base64::DecodeError> {
    if let Ok(bytes) = STANDARD.decode(text.as_bytes()) {
        return Ok((bytes, true));
    }
    let lenient = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(false),
    );
    lenient.decode(text.as_bytes()).map(|bytes| (bytes, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_in_either_case() {
        assert_eq!(hex(&[10, 255, 0]), "0aff00");
        assert_eq!(hex_upper(&[10, 255]), "0AFF");
        assert_eq!(hex_decode("0aFF").unwrap(), [10, 255]);
        assert_eq!(hex_decode("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn hex_decode_names_what_is_wrong() {
        assert_eq!(hex_decode("abc"), Err(HexError::OddLength(3)));
        assert_eq!(hex_decode("zz"), Err(HexError::NotHex('z')));
        // `u8::from_str_radix` takes a sign; hex digits do not.
        assert_eq!(hex_decode("+f"), Err(HexError::NotHex('+')));
        assert_eq!(hex_decode("é"), Err(HexError::NotHex('é')));
    }

    #[test]
    fn base64_strict_and_lenient() {
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert!(base64_decode("YWI").is_err());
        assert_eq!(base64_decode_lenient("YWI=").unwrap(), (b"ab".to_vec(), true));
        assert_eq!(base64_decode_lenient("YWI").unwrap(), (b"ab".to_vec(), false));
        assert!(base64_decode_lenient("Y!").is_err());
    }
}

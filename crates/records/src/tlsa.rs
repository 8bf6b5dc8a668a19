//! TLSA records (RFC 6698 §2) from their presentation text, as the DNS
//! layer keeps them (`RData::Other { rtype: 52, text }`): either
//! `usage selector matching-type hex` or the RFC 3597 generic form
//! `\# LENGTH HEX`. Problems are [`Diagnostic`]s like every other
//! record's.

use mailwarden_model::codec::{self, HexError};
use serde::Serialize;

use crate::diag::{Diagnostic, Span};

/// One parsed TLSA record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tlsa {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE (RFC 7218 names).
    pub usage: u8,
    /// 0 full certificate, 1 SubjectPublicKeyInfo.
    pub selector: u8,
    /// 0 exact match, 1 SHA-256, 2 SHA-512.
    pub matching_type: u8,
    /// The association data, lower-case hex.
    pub data: String,
}

impl Tlsa {
    /// `3 1 1` style short form.
    pub fn params(&self) -> String {
        format!("{} {} {}", self.usage, self.selector, self.matching_type)
    }

    /// The RFC 7218 acronym of the usage.
    pub fn usage_name(&self) -> &'static str {
        usage_name(self.usage)
    }

    /// Why the record cannot be used by any client, if so: RFC 7671 §4
    /// has clients treat unknown parameters as unusable, and a digest of
    /// the wrong length can never match.
    pub fn unusable(&self) -> Option<String> {
        if self.usage > 3 {
            return Some(format!("certificate usage {} is not defined (0-3)", self.usage));
        }
        if self.selector > 1 {
            return Some(format!("selector {} is not defined (0 or 1)", self.selector));
        }
        let octets = self.data.len() / 2;
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
}

/// The presentation form, `usage selector matching-type hex`: what
/// [`parse`] reads back to the same record.
impl std::fmt::Display for Tlsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.params(), self.data)
    }
}

/// The RFC 7218 acronym of a certificate usage.
pub fn usage_name(usage: u8) -> &'static str {
    match usage {
        0 => "PKIX-TA",
        1 => "PKIX-EE",
        2 => "DANE-TA",
        3 => "DANE-EE",
        _ => "unassigned",
    }
}

/// One blank-separated word of the text and its span.
struct Word<'a> {
    text: &'a str,
    span: Span,
}

fn words(text: &str) -> Vec<Word<'_>> {
    text.split_ascii_whitespace()
        .map(|w| {
            // `w` is a slice of `text`, so its offset is the pointer difference.
            let start = w.as_ptr() as usize - text.as_ptr() as usize;
            Word {
                text: w,
                span: Span::new(start, start + w.len()),
            }
        })
        .collect()
}

/// The span from the first to the last of `words` (`at` when there are none).
fn covering(words: &[Word<'_>], at: usize) -> Span {
    match (words.first(), words.last()) {
        (Some(first), Some(last)) => Span::new(first.span.start, last.span.end),
        _ => Span::new(at, at),
    }
}

fn field(word: &Word<'_>, what: &str) -> Result<u8, Diagnostic> {
    word.text.parse::<u8>().map_err(|_| {
        Diagnostic::error(
            word.span,
            "tlsa-field",
            format!("the {what} `{}` is not a number from 0 to 255", word.text),
        )
    })
}

/// The association data: `words` concatenated, checked and lower-cased.
fn hex(words: &[Word<'_>], at: usize) -> Result<String, Diagnostic> {
    let data: String = words.iter().map(|w| w.text).collect();
    match codec::hex_decode(&data) {
        Ok(_) => Ok(data.to_ascii_lowercase()),
        Err(HexError::OddLength(n)) => Err(Diagnostic::error(
            covering(words, at),
            "tlsa-odd-hex",
            format!("the data has an odd number of hex digits ({n})"),
        )),
        Err(HexError::NotHex(c)) => {
            let word = words.iter().find(|w| w.text.contains(c));
            Err(Diagnostic::error(
                word.map_or_else(|| covering(words, at), |w| w.span),
                "tlsa-not-hex",
                format!("the data contains `{c}`, which is not a hex digit"),
            ))
        }
    }
}

/// Parse the presentation text of one TLSA record; an error is a
/// [`Diagnostic`] whose span points at the word at fault.
pub fn parse(text: &str) -> Result<Tlsa, Diagnostic> {
    let words = words(text);
    let end = text.len();
    if words.first().is_some_and(|w| w.text == "\\#") {
        let len: usize = words.get(1).and_then(|w| w.text.parse().ok()).ok_or_else(|| {
            Diagnostic::error(
                words.get(1).map_or_else(|| Span::new(end, end), |w| w.span),
                "tlsa-generic-length",
                "the generic form needs a length",
            )
        })?;
        let rest = &words[2.min(words.len())..];
        let data = hex(rest, end)?;
        if data.len() / 2 != len {
            return Err(Diagnostic::error(
                covering(rest, end),
                "tlsa-generic-length",
                format!("the generic form says {len} octets but has {}", data.len() / 2),
            ));
        }
        if len < 3 {
            return Err(Diagnostic::error(
                covering(rest, end),
                "tlsa-too-short",
                format!("a TLSA record needs at least 3 octets, not {len}"),
            ));
        }
        let byte = |i: usize| u8::from_str_radix(&data[2 * i..2 * i + 2], 16).unwrap_or(0);
        return Ok(Tlsa {
            usage: byte(0),
            selector: byte(1),
            matching_type: byte(2),
            data: data[6..].to_string(),
        });
    }
    if words.len() < 4 {
        return Err(Diagnostic::error(
            Span::new(0, end),
            "tlsa-fields",
            format!("`{text}` is not `usage selector matching-type data`"),
        ));
    }
    Ok(Tlsa {
        usage: field(&words[0], "certificate usage")?,
        selector: field(&words[1], "selector")?,
        matching_type: field(&words[2], "matching type")?,
        data: hex(&words[3..], end)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1";

    #[test]
    fn presentation_and_generic_forms() {
        let t = parse(&format!("3 1 1 {H}")).unwrap();
        assert_eq!((t.usage, t.selector, t.matching_type), (3, 1, 1));
        assert_eq!(t.params(), "3 1 1");
        assert_eq!(t.usage_name(), "DANE-EE");
        assert!(t.unusable().is_none());
        let g = parse(&format!("\\# 35 030101{}", H.to_ascii_uppercase())).unwrap();
        assert_eq!(g, t);
        let split = parse(&format!("2 0 1 {} {}", &H[..10], &H[10..])).unwrap();
        assert_eq!(split.data, H);
    }

    #[test]
    fn malformed_and_unusable() {
        assert!(parse("3 1 1").is_err());
        assert!(parse("3 1 x abcd").is_err());
        assert!(parse("3 1 1 abc").unwrap_err().message.contains("odd"));
        assert!(parse("3 1 1 zz").unwrap_err().message.contains("`z`"));
        assert!(parse("\\# 4 0301").is_err());
        assert!(parse("3 1 1 abcd").unwrap().unusable().unwrap().contains("32 octets"));
        assert!(parse(&format!("4 1 1 {H}")).unwrap().unusable().is_some());
        assert!(parse(&format!("3 2 1 {H}")).unwrap().unusable().is_some());
        assert!(parse(&format!("3 1 3 {H}")).unwrap().unusable().is_some());
        assert!(parse(&format!("3 1 2 {H}{H}")).unwrap().unusable().is_none());
    }

    #[test]
    fn errors_are_diagnostics_pointing_at_the_word_at_fault() {
        let text = "3 1 x abcd";
        let e = parse(text).unwrap_err();
        assert_eq!((&text[e.span.start..e.span.end], e.code), ("x", "tlsa-field"));
        let text = "3 1 1 ab zz";
        let e = parse(text).unwrap_err();
        assert_eq!((&text[e.span.start..e.span.end], e.code), ("zz", "tlsa-not-hex"));
        assert_eq!(e.to_string(), "the data contains `z`, which is not a hex digit");
        let e = parse("3 1").unwrap_err();
        assert_eq!((e.span, e.code), (Span::new(0, 3), "tlsa-fields"));
    }
}

//! TLSA records (RFC 6698 §2) from their presentation text, as the DNS
//! layer keeps them (`RData::Other { rtype: 52, text }`): either
//! `usage selector matching-type hex` or the RFC 3597 generic form
//! `\# LENGTH HEX`.

use serde::Serialize;

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

fn field(word: &str, what: &str) -> Result<u8, String> {
    word.parse::<u8>()
        .map_err(|_| format!("the {what} `{word}` is not a number from 0 to 255"))
}

fn hex(s: &str) -> Result<String, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("the data has an odd number of hex digits ({})", s.len()));
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("the data contains `{c}`, which is not a hex digit"));
    }
    Ok(s.to_ascii_lowercase())
}

/// Parse the presentation text of one TLSA record.
pub fn parse(text: &str) -> Result<Tlsa, String> {
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    if words.first() == Some(&"\\#") {
        let len: usize = words
            .get(1)
            .and_then(|w| w.parse().ok())
            .ok_or("the generic form needs a length")?;
        let data = hex(&words[2.min(words.len())..].concat())?;
        if data.len() / 2 != len {
            return Err(format!("the generic form says {len} octets but has {}", data.len() / 2));
        }
        if len < 3 {
            return Err(format!("a TLSA record needs at least 3 octets, not {len}"));
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
        return Err(format!("`{text}` is not `usage selector matching-type data`"));
    }
    Ok(Tlsa {
        usage: field(words[0], "certificate usage")?,
        selector: field(words[1], "selector")?,
        matching_type: field(words[2], "matching type")?,
        data: hex(&words[3..].concat())?,
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
        assert!(parse("3 1 1 abc").unwrap_err().contains("odd"));
        assert!(parse("3 1 1 zz").unwrap_err().contains("`z`"));
        assert!(parse("\\# 4 0301").is_err());
        assert!(parse("3 1 1 abcd").unwrap().unusable().unwrap().contains("32 octets"));
        assert!(parse(&format!("4 1 1 {H}")).unwrap().unusable().is_some());
        assert!(parse(&format!("3 2 1 {H}")).unwrap().unusable().is_some());
        assert!(parse(&format!("3 1 3 {H}")).unwrap().unusable().is_some());
        assert!(parse(&format!("3 1 2 {H}{H}")).unwrap().unusable().is_none());
    }
}

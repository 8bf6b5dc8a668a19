//! Decoding of the token forms RFC 1035 §5.1 defines: domain names,
//! character-strings, TTLs, and the RFC 3597 generic `\#` form.

use mailwarden_model::dns::escape_presentation;
use mailwarden_model::{RData, presentation, rdata};

use crate::lexer::Token;

/// Decode `\X` and `\DDD` escapes (the shared codec,
/// [`mailwarden_model::presentation::unescape`]).
pub(super) fn unescape(raw: &[u8]) -> Result<Vec<u8>, String> {
    presentation::unescape(raw).map_err(|e| e.0)
}

/// One character-string token, stored in presentation form.
pub(super) fn character_string(token: &Token) -> Result<String, String> {
    Ok(escape_presentation(&unescape(&token.text)?))
}

/// A label's octets as normalised text, in the form lookups ask with (an
/// SPF macro expands to `macro%percent  space.example.com`, spaces and all):
/// ASCII lower case, printable octets (space included) as themselves, and
/// only what would change the name's meaning (`.` and `\`) or is not
/// printable written `\DDD`. So `macro\037percent\032\032space` in a zone
/// file is the name that query asks for (RFC 1035 §5.1 escapes).
pub(super) fn label_text(label: &[u8]) -> String {
    let mut out = String::with_capacity(label.len());
    for &b in label {
        match b {
            b'.' | b'\\' => out.push_str(&format!("\\{b:03}")),
            0x20..=0x7e => out.push(b.to_ascii_lowercase() as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out
}

/// A domain name token, normalised, made absolute with `origin`.
///
/// "Domain names that end in a dot are called absolute ... Domain names
/// that do not end in a dot are called relative; the actual domain name is
/// the concatenation of the relative part with an origin" (RFC 1035 §5.1).
/// `@` "denotes the current origin".
pub(super) fn domain_name(token: &Token, origin: Option<&str>) -> Result<String, String> {
    if token.quoted {
        return Err(format!("a domain name cannot be quoted: \"{}\"", token.display()));
    }
    let origin_for = |what: &str| {
        origin.map(str::to_owned).ok_or_else(|| {
            format!("{what} needs an origin, and none is set: add $ORIGIN or give the zone as ORIGIN=PATH")
        })
    };
    if token.text == b"@" {
        return origin_for("\"@\"");
    }
    if token.text == b"." {
        return Ok(String::new());
    }
    let (labels, absolute) = split_labels(&token.text)?;
    let mut name = Vec::with_capacity(labels.len());
    for label in &labels {
        if label.is_empty() {
            return Err(format!("name \"{}\" has an empty label", token.display()));
        }
        if label.len() > 63 {
            return Err(format!(
                "name \"{}\" has a label longer than 63 octets",
                token.display()
            ));
        }
        name.push(label_text(label));
    }
    let name = name.join(".");
    if absolute {
        return Ok(name);
    }
    let origin = origin_for(&format!("the relative name \"{}\"", token.display()))?;
    Ok(if origin.is_empty() {
        name
    } else {
        format!("{name}.{origin}")
    })
}

/// Split raw name text at unescaped dots; the flag says it ended in one.
fn split_labels(raw: &[u8]) -> Result<(Vec<Vec<u8>>, bool), String> {
    let mut labels = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\\' => i += 2,
            b'.' => {
                labels.push(unescape(&raw[start..i])?);
                start = i + 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    let absolute = start == raw.len() && !raw.is_empty() && !labels.is_empty();
    if !absolute {
        labels.push(unescape(&raw[start..])?);
    }
    Ok((labels, absolute))
}

/// A TTL in seconds, or with BIND's units (`1h30m`, `2d`, `1w`), which
/// every zone file in the wild uses.
pub(super) fn ttl(token: &Token) -> Option<u32> {
    if token.quoted || token.text.is_empty() {
        return None;
    }
    let text = std::str::from_utf8(&token.text).ok()?;
    if let Ok(seconds) = text.parse::<u32>() {
        return Some(seconds);
    }
    let mut total: u32 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        let value: u32 = digits.parse().ok()?;
        total = total.checked_add(value.checked_mul(unit)?)?;
        digits.clear();
    }
    digits.is_empty().then_some(total)
}

/// Whether a token looks like a TTL (so a bad one is reported as a TTL).
pub(super) fn looks_like_ttl(token: &Token) -> bool {
    !token.quoted && token.text.first().is_some_and(u8::is_ascii_digit)
}

/// RFC 3597 §5: "\# <length> <hex>", the octets of any RR type's rdata
/// (the shared reader, [`rdata::generic_octets`]).
pub(super) fn generic_octets(tokens: &[Token]) -> Result<Vec<u8>, String> {
    let words: Vec<String> = tokens.iter().map(Token::display).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    rdata::generic_octets(&words).map_err(|e| e.0)
}

/// Typed rdata from wire octets (RFC 3597 §5 allows `\#` for known types
/// too; their names are uncompressed, RFC 3597 §4). DS, DNSKEY, TLSA and
/// NSEC3PARAM are read by the shared [`rdata::from_wire`] (kept as
/// `RData::Unparsed` with the reason when malformed).
pub(super) fn rdata_from_wire(code: u16, octets: &[u8]) -> Option<RData> {
    let mut wire = Wire { octets, at: 0 };
    let rdata = match code {
        1 => RData::A {
            address: <[u8; 4]>::try_from(wire.take(4)?).ok()?.into(),
        },
        28 => RData::Aaaa {
            address: <[u8; 16]>::try_from(wire.take(16)?).ok()?.into(),
        },
        5 => RData::Cname { target: wire.name()? },
        2 => RData::Ns { target: wire.name()? },
        12 => RData::Ptr { target: wire.name()? },
        15 => RData::Mx {
            preference: wire.u16()?,
            exchange: wire.name()?,
        },
        6 => {
            let (mname, rname, serial) = (wire.name()?, wire.name()?, wire.u32()?);
            wire.take(12)?;
            RData::Soa {
                mname,
                rname,
                serial,
                minimum: wire.u32()?,
            }
        }
        16 | 99 => {
            let mut strings = Vec::new();
            while wire.at < octets.len() {
                let len = usize::from(wire.take(1)?[0]);
                strings.push(escape_presentation(wire.take(len)?));
            }
            if code == 16 {
                RData::Txt { strings }
            } else {
                RData::Spf { strings }
            }
        }
        _ => return rdata::from_wire(code, octets),
    };
    (wire.at == octets.len()).then_some(rdata)
}

struct Wire<'a> {
    octets: &'a [u8],
    at: usize,
}

impl<'a> Wire<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.octets.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn name(&mut self) -> Option<String> {
        let mut labels = Vec::new();
        loop {
            let len = usize::from(self.take(1)?[0]);
            if len == 0 {
                return Some(labels.join("."));
            }
            if len > 63 {
                return None;
            }
            labels.push(label_text(self.take(len)?));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zonefile::Position;

    fn tok(text: &str) -> Token {
        Token {
            text: text.as_bytes().to_vec(),
            quoted: false,
            at: Position { line: 1, column: 1 },
        }
    }

    #[test]
    fn names_are_normalised_and_made_absolute() {
        assert_eq!(
            domain_name(&tok("WWW"), Some("example.com")).unwrap(),
            "www.example.com"
        );
        assert_eq!(
            domain_name(&tok("Mail.Example.COM."), None).unwrap(),
            "mail.example.com"
        );
        assert_eq!(domain_name(&tok("@"), Some("example.com")).unwrap(), "example.com");
        assert_eq!(
            domain_name(&tok("a\\.b"), Some("example.com")).unwrap(),
            "a\\046b.example.com"
        );
        assert_eq!(domain_name(&tok("\\065"), Some("x")).unwrap(), "a.x");
        assert_eq!(domain_name(&tok("\\000\\255"), Some("x")).unwrap(), "\\000\\255.x");
        assert_eq!(domain_name(&tok("."), None).unwrap(), "");
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(domain_name(&tok("www"), None).unwrap_err().contains("add $ORIGIN"));
        assert!(domain_name(&tok("@"), None).unwrap_err().contains("add $ORIGIN"));
        assert!(domain_name(&tok("a..b."), None).unwrap_err().contains("empty label"));
        assert!(
            domain_name(&tok(&format!("{}.", "a".repeat(64))), None)
                .unwrap_err()
                .contains("63")
        );
    }

    #[test]
    fn escaped_owner_names_decode_to_the_name_a_macro_expansion_asks_for() {
        assert_eq!(
            domain_name(
                &tok("macro\\037percent\\032\\032space\\03720url-space.Example.COM."),
                None
            )
            .unwrap(),
            "macro%percent  space%20url-space.example.com"
        );
        assert_eq!(domain_name(&tok("a\\ b\\(c\\)"), Some("x")).unwrap(), "a b(c).x");
    }

    #[test]
    fn escapes_decode_to_octets() {
        assert_eq!(unescape(b"a\\\"b\\\\c\\255\\000").unwrap(), b"a\"b\\c\xff\x00");
        assert!(unescape(b"\\256").is_err());
        assert!(unescape(b"\\12").is_err());
    }

    #[test]
    fn ttls_accept_seconds_and_units() {
        assert_eq!(ttl(&tok("3600")), Some(3600));
        assert_eq!(ttl(&tok("1h30m")), Some(5400));
        assert_eq!(ttl(&tok("1W")), Some(604_800));
        assert_eq!(ttl(&tok("1x")), None);
        assert_eq!(ttl(&tok("1h5")), None);
        assert_eq!(ttl(&tok("99999999999")), None);
    }

    #[test]
    fn generic_rdata_checks_its_length() {
        assert_eq!(
            generic_octets(&[tok("4"), tok("c000"), tok("0201")]).unwrap(),
            [192, 0, 2, 1]
        );
        assert!(
            generic_octets(&[tok("3"), tok("c0000201")])
                .unwrap_err()
                .contains("length says 3")
        );
        assert!(generic_octets(&[tok("1"), tok("c")]).is_err());
        assert!(generic_octets(&[tok("x")]).unwrap_err().contains("not a number"));
    }

    #[test]
    fn typed_rdata_decodes_from_wire() {
        let mx = [0, 10, 2, b'm', b'x', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0];
        assert_eq!(
            rdata_from_wire(15, &mx),
            Some(RData::Mx {
                preference: 10,
                exchange: "mx.example".into()
            })
        );
        assert_eq!(
            rdata_from_wire(16, b"\x02ab\x01c"),
            Some(RData::Txt {
                strings: vec!["ab".into(), "c".into()]
            })
        );
        assert_eq!(rdata_from_wire(1, &[1, 2, 3]), None);
    }
}

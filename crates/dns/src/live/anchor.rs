//! Trust anchors in zone-file format: DNSKEY or DS lines.
//!
//! hickory only takes DNSKEYs as anchors, so DS lines are kept aside and
//! turned into keys later (see `LiveSource`): fetch the owner's DNSKEY
//! RRset and keep the keys a DS digest matches (RFC 4034 §5.1.4).

use hickory_resolver::proto::dnssec::PublicKey;
use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::proto::serialize::txt::trust_anchor;

use super::LiveError;
use crate::bounded::{TRUST_ANCHOR_LIMIT, read_capped};

/// One anchor record and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub line: usize,
    pub owner: Name,
    pub key: AnchorKey,
}

#[derive(Debug, Clone)]
pub(crate) enum AnchorKey {
    Dnskey(DNSKEY),
    Ds(DS),
}

/// Read a `--trust-anchor` file: at most [`TRUST_ANCHOR_LIMIT`] bytes (the
/// root's anchors are a few hundred), UTF-8.
pub(crate) fn read_file(path: &std::path::Path) -> Result<String, LiveError> {
    let fail = |source| LiveError::ReadAnchor {
        path: path.to_path_buf(),
        source,
    };
    let bytes = read_capped(path, TRUST_ANCHOR_LIMIT).map_err(fail)?;
    String::from_utf8(bytes).map_err(|_| fail(std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text")))
}

/// Parse `text`; `source` names it in errors ("trust anchor file /x").
///
/// Accepts zone-file lines `owner [ttl] [IN] DNSKEY|DS rdata`, in either
/// order for TTL and class, with `;` comments, parentheses across lines,
/// a blank owner meaning "the previous owner", `@`, `$ORIGIN` and `$TTL`.
pub(crate) fn parse(text: &str, source: &str) -> Result<Vec<Entry>, LiveError> {
    let mut parser = AnchorParser {
        source,
        origin: Name::root(),
        last_owner: None,
        entries: Vec::new(),
    };
    for logical in logical_lines(text).map_err(|(line, message)| syntax(source, line, message))? {
        parser.line(logical)?;
    }
    if parser.entries.is_empty() {
        return Err(LiveError::EmptyAnchor {
            input: source.to_string(),
        });
    }
    Ok(parser.entries)
}

/// One record, possibly spread over several physical lines by parentheses.
struct LogicalLine {
    line: usize,
    owner_omitted: bool,
    tokens: Vec<String>,
}

/// Split into records: strip comments, join parenthesised continuations.
fn logical_lines(text: &str) -> Result<Vec<LogicalLine>, (usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<LogicalLine> = None;
    let mut depth = 0usize;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split(';').next().unwrap_or_default();
        if depth == 0 {
            if content.trim().is_empty() {
                continue;
            }
            let owner_omitted = content.starts_with([' ', '\t']);
            current = Some(LogicalLine {
                line,
                owner_omitted,
                tokens: Vec::new(),
            });
        }
        let record = current.as_mut().expect("a record is open");
        for token in content.replace('(', " ( ").replace(')', " ) ").split_whitespace() {
            match token {
                "(" => depth += 1,
                ")" => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| (line, "unbalanced ')'".to_string()))?
                }
                word => record.tokens.push(word.to_string()),
            }
        }
        if depth == 0 {
            out.extend(current.take());
        }
    }
    match current {
        Some(open) if depth > 0 => Err((open.line, "'(' is never closed".into())),
        _ => Ok(out),
    }
}

struct AnchorParser<'a> {
    source: &'a str,
    origin: Name,
    last_owner: Option<Name>,
    entries: Vec<Entry>,
}

impl AnchorParser<'_> {
    fn line(&mut self, logical: LogicalLine) -> Result<(), LiveError> {
        let LogicalLine {
            line,
            owner_omitted,
            tokens,
        } = logical;
        let err = |message: String| syntax(self.source, line, message);
        let mut tokens = tokens.into_iter().peekable();
        if tokens.peek().is_some_and(|t| t.starts_with('$')) {
            return self.directive(line, tokens.collect());
        }
        let owner = if owner_omitted {
            self.last_owner
                .clone()
                .ok_or_else(|| err("a record without an owner name".into()))?
        } else {
            let token = tokens.next().unwrap_or_default();
            self.name(&token)
                .map_err(|e| err(format!("bad owner name {token:?}: {e}")))?
        };
        self.last_owner = Some(owner.clone());

        // TTL and class, in either order, are optional and ignored.
        while tokens.peek().is_some_and(|t| is_ttl(t) || t.eq_ignore_ascii_case("IN")) {
            tokens.next();
        }
        let rtype = match tokens.next() {
            Some(t) if t.eq_ignore_ascii_case("DNSKEY") => RecordType::DNSKEY,
            Some(t) if t.eq_ignore_ascii_case("DS") => RecordType::DS,
            Some(t) => return Err(err(format!("expected DNSKEY or DS, found {t:?}"))),
            None => return Err(err("expected DNSKEY or DS, found the end of the record".into())),
        };
        let rdata = tokens.collect::<Vec<_>>().join(" ");
        let key = match rtype {
            RecordType::DNSKEY => parse_dnskey(&rdata).map(AnchorKey::Dnskey),
            _ => parse_ds(&rdata).map(AnchorKey::Ds),
        }
        .map_err(|e| err(format!("bad {rtype} data {rdata:?}: {e}")))?;
        self.entries.push(Entry { line, owner, key });
        Ok(())
    }

    fn directive(&mut self, line: usize, tokens: Vec<String>) -> Result<(), LiveError> {
        let err = |message: String| syntax(self.source, line, message);
        match (tokens[0].to_ascii_uppercase().as_str(), tokens.get(1)) {
            ("$TTL", Some(_)) => Ok(()),
            ("$ORIGIN", Some(origin)) => {
                let mut name = Name::from_ascii(origin).map_err(|e| err(format!("bad $ORIGIN {origin:?}: {e}")))?;
                name.set_fqdn(true);
                self.origin = name;
                Ok(())
            }
            (directive @ ("$TTL" | "$ORIGIN"), None) => Err(err(format!("{directive} needs a value"))),
            (other, _) => Err(err(format!("unsupported directive {other}"))),
        }
    }

    /// An owner name: `@`, absolute, or relative to `$ORIGIN`.
    fn name(&self, token: &str) -> Result<Name, String> {
        if token == "@" {
            return Ok(self.origin.clone());
        }
        let name = Name::from_ascii(token).map_err(|e| e.to_string())?;
        if name.is_fqdn() {
            Ok(name)
        } else {
            name.append_domain(&self.origin).map_err(|e| e.to_string())
        }
    }
}

fn parse_ds(rdata: &str) -> Result<DS, String> {
    match RData::try_from_str(RecordType::DS, rdata) {
        Ok(RData::DNSSEC(DNSSECRData::DS(ds))) => Ok(ds),
        Ok(other) => Err(format!("parsed as {}", other.record_type())),
        Err(e) => Err(e.to_string()),
    }
}

/// hickory's generic rdata parser refuses DNSKEY ("should be dynamically
/// generated"); its trust-anchor parser reads them, so hand it one line.
fn parse_dnskey(rdata: &str) -> Result<DNSKEY, String> {
    let line = format!(". IN DNSKEY {rdata}\n");
    let entries = trust_anchor::Parser::new(line.as_str())
        .parse()
        .map_err(|e| e.to_string())?;
    entries
        .into_iter()
        .find_map(|entry| match entry {
            trust_anchor::Entry::DNSKEY(record) => Some(record.data().clone()),
            #[allow(
                unreachable_patterns,
                reason = "trust_anchor::Entry has one variant today and may gain more"
            )]
            _ => None,
        })
        .ok_or_else(|| "no key".to_string())
        .and_then(|key| {
            let public = key.public_key();
            check_key_shape(u8::from(public.algorithm()), public.public_bytes())?;
            Ok(key)
        })
}

/// Refuse a key that cannot be what its algorithm says: a truncated or
/// mistyped anchor would otherwise make every answer bogus with nothing
/// pointing at the anchor. Sizes: RFC 3110 §2 (RSA: exponent length,
/// exponent, modulus), RFC 6605 §4 (P-256: 64 octets, P-384: 96), RFC 8080
/// §3 (Ed25519: 32, Ed448: 57).
fn check_key_shape(algorithm: u8, key: &[u8]) -> Result<(), String> {
    let fixed = match algorithm {
        13 => Some(64),
        14 => Some(96),
        15 => Some(32),
        16 => Some(57),
        5 | 7 | 8 | 10 => None,
        other => return Err(format!("DNSSEC algorithm {other} is not supported for trust anchors")),
    };
    if let Some(len) = fixed {
        if key.len() != len {
            return Err(format!(
                "an algorithm {algorithm} key is {len} octets, this one is {}",
                key.len()
            ));
        }
        return Ok(());
    }
    let (exponent_len, header) = match key {
        [0, hi, lo, ..] => (usize::from(*hi) << 8 | usize::from(*lo), 3),
        [n, ..] => (usize::from(*n), 1),
        [] => return Err("the RSA key is empty".into()),
    };
    let modulus = key.len().saturating_sub(header + exponent_len);
    if exponent_len == 0 || modulus < 64 {
        return Err(format!(
            "the RSA key is malformed (exponent {exponent_len} octets, modulus {modulus} octets)"
        ));
    }
    Ok(())
}

/// A TTL: digits, or BIND units such as `1d12h`.
fn is_ttl(token: &str) -> bool {
    token.starts_with(|c: char| c.is_ascii_digit())
        && token.chars().all(|c| c.is_ascii_digit() || "smhdwSMHDW".contains(c))
}

fn syntax(source: &str, line: usize, message: String) -> LiveError {
    LiveError::AnchorSyntax {
        input: source.to_string(),
        line,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_zero_as_trust_anchor_is_refused_at_the_limit() {
        let err = read_file(std::path::Path::new("/dev/zero")).unwrap_err().to_string();
        assert_eq!(err, "trust anchor file /dev/zero: larger than the limit of 1 MiB");
    }

    #[test]
    fn truncated_keys_are_refused_by_algorithm() {
        assert!(check_key_shape(15, &[0; 32]).is_ok());
        assert!(check_key_shape(15, &[0; 3]).unwrap_err().contains("32 octets"));
        assert!(check_key_shape(13, &[0; 64]).is_ok());
        assert!(check_key_shape(13, &[0; 63]).is_err());
        let mut rsa = vec![3, 1, 0, 1];
        rsa.extend([0xab; 256]);
        assert!(check_key_shape(8, &rsa).is_ok());
        assert!(check_key_shape(8, &[3, 1, 0, 1, 9]).unwrap_err().contains("malformed"));
        assert!(check_key_shape(99, &[0; 32]).unwrap_err().contains("not supported"));
    }

    const KEY: &str = "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=";

    #[test]
    fn parses_dnskey_and_ds_with_comments_ttl_and_parentheses() {
        let text = format!(
            "; root anchors\n$TTL 3600\n. 172800 IN DNSKEY 257 3 8 {KEY} ; KSK-2017\n\
             . IN DS 20326 8 2 (\n  E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D )\n"
        );
        let entries = parse(&text, "test").unwrap();
        assert_eq!(entries.len(), 2);
        assert!(matches!(entries[0].key, AnchorKey::Dnskey(_)));
        assert_eq!(entries[0].line, 3);
        let AnchorKey::Ds(ds) = &entries[1].key else {
            panic!("expected DS")
        };
        assert_eq!(ds.key_tag(), 20326);
        assert_eq!(entries[1].line, 4);
        assert!(entries[1].owner.is_root());
    }

    #[test]
    fn relative_owner_uses_origin() {
        let text = "$ORIGIN example.\n@ IN DS 1 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n\
                    sub DS 1 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
        let entries = parse(text, "test").unwrap();
        assert_eq!(entries[0].owner.to_ascii(), "example.");
        assert_eq!(entries[1].owner.to_ascii(), "sub.example.");
    }

    #[test]
    fn errors_name_the_source_and_line() {
        let err = parse("; c\n\n. IN A 192.0.2.1\n", "trust anchor file /x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "trust anchor file /x: line 3: expected DNSKEY or DS, found \"A\""
        );
        let err = parse(". IN DS 1 8 2 (\n AB\n", "t").unwrap_err();
        assert_eq!(err.to_string(), "t: line 1: '(' is never closed");
        let err = parse(". IN DNSKEY 257 3 8 !!!\n", "t").unwrap_err();
        assert!(err.to_string().starts_with("t: line 1: bad DNSKEY data"), "{err}");
        let err = parse("$INCLUDE other\n", "t").unwrap_err();
        assert_eq!(err.to_string(), "t: line 1: unsupported directive $INCLUDE");
        let err = parse("; nothing\n", "t").unwrap_err();
        assert_eq!(err.to_string(), "t: no DNSKEY or DS records");
    }
}

//! Entries → records: directives, owners, TTLs, classes, types and rdata
//! (RFC 1035 §5.1, RFC 2308 §4 for `$TTL`, RFC 3597 §5 for unknown types).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailwarden_model::{RData, RType, rdata};

use super::text;
use super::{Position, ZoneError};
use crate::lexer::{self, Entry, Token};

/// How deep `$INCLUDE`s may nest before we suspect a file includes itself.
const MAX_INCLUDE_DEPTH: usize = 8;

/// One resource record, with where it was written.
#[derive(Debug, Clone)]
pub(super) struct Record {
    pub(super) owner: String,
    pub(super) code: u16,
    pub(super) ttl: u32,
    pub(super) rdata: RData,
    pub(super) file: Arc<str>,
    pub(super) at: Position,
}

/// A parsed file: its records and the zone origin (apex) they belong to.
#[derive(Debug)]
pub(super) struct ParsedZone {
    pub(super) origin: String,
    pub(super) records: Vec<Record>,
}

/// A failure inside one file, before the file's label is attached.
type Fail = (Position, String);

/// What `$INCLUDE` may read while one zone is parsed.
#[derive(Debug, Default)]
pub(super) struct Includes {
    /// Directories (canonical) an included file must be in or below.
    pub(super) roots: Vec<PathBuf>,
    /// Bytes that included files may still add to the zone (the zone's
    /// size cap less what has been read).
    pub(super) remaining: u64,
    /// The zone's size cap, for the error message.
    pub(super) limit: u64,
}

/// Parse one zone file's text. `dir` is where `$INCLUDE` paths are
/// resolved from (the file's directory).
pub(super) fn parse(
    text: &[u8],
    origin_hint: Option<&str>,
    label: &str,
    dir: Option<&Path>,
    includes: Includes,
) -> Result<ParsedZone, ZoneError> {
    let hint = origin_hint.map(mailwarden_model::name::normalise);
    let mut parser = Parser {
        origin: hint.clone(),
        includes,
        ..Parser::default()
    };
    let file: Arc<str> = Arc::from(label);
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text); // a UTF-8 byte-order mark
    parser.parse_file(text, &file, dir)?;
    let origin = hint
        .or(parser.first_origin_directive)
        .or(parser.first_soa_owner)
        .ok_or_else(|| ZoneError::NoOrigin { file: label.to_owned() })?;
    check_inside(&parser.records, &origin)?;
    Ok(ParsedZone {
        origin,
        records: parser.records,
    })
}

/// Every record must be at or below the origin, and the SOA at it.
fn check_inside(records: &[Record], origin: &str) -> Result<(), ZoneError> {
    let mut soa_seen = false;
    for record in records {
        let fail = |message: String| ZoneError::at(&record.file, record.at, message);
        if !is_at_or_below(&record.owner, origin) {
            return Err(fail(format!(
                "owner \"{}\" is outside the zone's origin \"{origin}\"",
                record.owner
            )));
        }
        if record.code == RType::Soa.code() {
            if record.owner != origin {
                return Err(fail(format!(
                    "SOA record at \"{}\" is not at the zone's origin \"{origin}\"",
                    record.owner
                )));
            }
            if std::mem::replace(&mut soa_seen, true) {
                return Err(fail("a second SOA record: a zone has exactly one".into()));
            }
        }
    }
    Ok(())
}

/// `name` equals `ancestor` or is below it (the root, "", is above all).
pub(super) fn is_at_or_below(name: &str, ancestor: &str) -> bool {
    ancestor.is_empty()
        || name == ancestor
        || (name.len() > ancestor.len()
            && name.ends_with(ancestor)
            && name.as_bytes()[name.len() - ancestor.len() - 1] == b'.')
}

#[derive(Debug, Default)]
struct Parser {
    /// The current origin, for relative names.
    origin: Option<String>,
    /// "$TTL <TTL>": the default for records without one (RFC 2308 §4).
    default_ttl: Option<u32>,
    /// "If omitted, the TTL defaults to the last explicitly stated value"
    /// (RFC 1035 §5.1), when there is no `$TTL`.
    last_ttl: Option<u32>,
    last_owner: Option<String>,
    first_origin_directive: Option<String>,
    first_soa_owner: Option<String>,
    records: Vec<Record>,
    depth: usize,
    includes: Includes,
}

impl Parser {
    fn parse_file(&mut self, text: &[u8], file: &Arc<str>, dir: Option<&Path>) -> Result<(), ZoneError> {
        let entries = lexer::lex(text).map_err(|(at, message)| ZoneError::at(file, at, message))?;
        for entry in &entries {
            self.entry(entry, file, dir)?;
        }
        Ok(())
    }

    fn entry(&mut self, entry: &Entry, file: &Arc<str>, dir: Option<&Path>) -> Result<(), ZoneError> {
        let fail = |(at, message): Fail| ZoneError::at(file, at, message);
        // `()` alone is a logical line with no tokens: nothing to read.
        let Some(first) = entry.tokens.first() else {
            return Ok(());
        };
        if !entry.blank_owner && !first.quoted && first.text.starts_with(b"$") {
            if first.is("$INCLUDE") {
                return self.include(entry, file, dir);
            }
            return self.directive(entry).map_err(fail);
        }
        let record = self.record(entry, file).map_err(fail)?;
        if record.code == RType::Soa.code() && self.first_soa_owner.is_none() {
            self.first_soa_owner = Some(record.owner.clone());
            // An origin taken from the SOA serves the relative names after it.
            self.origin.get_or_insert_with(|| record.owner.clone());
        }
        self.last_owner = Some(record.owner.clone());
        self.records.push(record);
        Ok(())
    }

    /// `$ORIGIN <domain-name>` and `$TTL <TTL>`.
    fn directive(&mut self, entry: &Entry) -> Result<(), Fail> {
        let mut cursor = Cursor::new(&entry.tokens);
        let keyword = cursor.next("directive")?;
        if keyword.is("$ORIGIN") {
            let token = cursor.next("domain name after $ORIGIN")?;
            let origin = text::domain_name(token, self.origin.as_deref()).map_err(|m| (token.at, m))?;
            if self.records.is_empty() && self.depth == 0 && self.first_origin_directive.is_none() {
                self.first_origin_directive = Some(origin.clone());
            }
            self.origin = Some(origin);
        } else if keyword.is("$TTL") {
            let token = cursor.next("TTL after $TTL")?;
            self.default_ttl = Some(text::ttl(token).ok_or_else(|| bad_ttl(token))?);
        } else if keyword.is("$GENERATE") {
            return Err((keyword.at, "$GENERATE is a BIND extension and is not supported".into()));
        } else {
            return Err((keyword.at, format!("unknown directive \"{}\"", keyword.display())));
        }
        cursor.finish(&keyword.display())
    }

    /// `$INCLUDE <file-name> [<domain-name>]`, resolved relative to the
    /// including file's directory. "the origin in the parent file is
    /// unaffected" (RFC 1035 §5.1), and so is its current owner.
    fn include(&mut self, entry: &Entry, file: &Arc<str>, dir: Option<&Path>) -> Result<(), ZoneError> {
        let fail = |(at, message): Fail| ZoneError::at(file, at, message);
        let mut cursor = Cursor::new(&entry.tokens);
        let keyword = cursor.next("directive").map_err(fail)?;
        let path_token = cursor.next("file name after $INCLUDE").map_err(fail)?;
        let origin = match cursor.peek() {
            Some(token) => {
                cursor.next("origin").map_err(fail)?;
                Some(text::domain_name(token, self.origin.as_deref()).map_err(|m| fail((token.at, m)))?)
            }
            None => None,
        };
        cursor.finish("$INCLUDE").map_err(fail)?;
        if self.depth >= MAX_INCLUDE_DEPTH {
            let message = format!("$INCLUDE nested more than {MAX_INCLUDE_DEPTH} deep: does a file include itself?");
            return Err(fail((keyword.at, message)));
        }
        let raw = text::unescape(&path_token.text).map_err(|m| fail((path_token.at, m)))?;
        let relative = PathBuf::from(String::from_utf8_lossy(&raw).into_owned());
        let path = dir.map_or_else(|| relative.clone(), |d| d.join(&relative));
        let bytes = self.read_included(&path).map_err(|m| fail((path_token.at, m)))?;

        let saved = (self.origin.clone(), self.last_owner.clone());
        if origin.is_some() {
            self.origin = origin;
        }
        self.depth += 1;
        let label: Arc<str> = Arc::from(path.display().to_string());
        let result = self.parse_file(&bytes, &label, path.parent());
        self.depth -= 1;
        (self.origin, self.last_owner) = saved;
        result
    }

    /// Read an `$INCLUDE`d file: only inside the allowed directories (a
    /// zone file from elsewhere must not make us read, and quote in an
    /// error, `/etc/shadow`), within what is left of the zone's size cap,
    /// and only text (a binary file is not a zone file; nothing of it is
    /// shown). Symbolic links are resolved before the directory check.
    fn read_included(&mut self, path: &Path) -> Result<Vec<u8>, String> {
        let shown = path.display();
        let real = std::fs::canonicalize(path).map_err(|e| format!("cannot read included file \"{shown}\": {e}"))?;
        if !self.includes.roots.iter().any(|root| real.starts_with(root)) {
            return Err(format!(
                "$INCLUDE \"{shown}\" is outside the zone file's directory; \
                 allow its directory with --zone-include-dir"
            ));
        }
        let limit = crate::bounded::human_size(self.includes.limit);
        let bytes = crate::bounded::read_capped(&real, self.includes.remaining).map_err(|e| match e.kind() {
            std::io::ErrorKind::FileTooLarge => {
                format!("included file \"{shown}\" makes the zone larger than the limit of {limit}")
            }
            _ => format!("cannot read included file \"{shown}\": {e}"),
        })?;
        if bytes.contains(&0) {
            return Err(format!(
                "included file \"{shown}\" is not a zone file (it holds binary data)"
            ));
        }
        self.includes.remaining -= bytes.len() as u64;
        Ok(bytes)
    }

    /// `[<owner>] [<TTL>] [<class>] <type> <RDATA>`, TTL and class in
    /// either order (RFC 1035 §5.1).
    fn record(&mut self, entry: &Entry, file: &Arc<str>) -> Result<Record, Fail> {
        let mut cursor = Cursor::new(&entry.tokens);
        let owner_at = entry.tokens[0].at;
        let owner = if entry.blank_owner {
            self.last_owner.clone().ok_or_else(|| {
                (
                    owner_at,
                    "this line starts with a space, so it continues the previous owner, but no record precedes it"
                        .to_owned(),
                )
            })?
        } else {
            let token = cursor.next("owner")?;
            text::domain_name(token, self.origin.as_deref()).map_err(|m| (token.at, m))?
        };
        let (ttl, type_token, code) = self.ttl_class_type(&mut cursor)?;
        let rdata = rdata(code, type_token, cursor.rest(), self.origin.as_deref(), cursor.end())?;
        let ttl = match ttl {
            Some(ttl) => ttl,
            None => self
                .default_ttl
                .or(self.last_ttl)
                .or_else(|| soa_minimum(&rdata))
                .ok_or_else(|| {
                    (
                        type_token.at,
                        "no TTL for this record: give one or add $TTL before it".to_owned(),
                    )
                })?,
        };
        Ok(Record {
            owner,
            code,
            ttl,
            rdata,
            file: file.clone(),
            at: owner_at,
        })
    }

    fn ttl_class_type<'t>(&mut self, cursor: &mut Cursor<'t>) -> Result<(Option<u32>, &'t Token, u16), Fail> {
        let (mut ttl, mut class_seen) = (None, false);
        loop {
            let token = cursor.next("record type")?;
            if let Some(is_internet) = class(token) {
                if class_seen {
                    return Err((token.at, format!("a second class \"{}\"", token.display())));
                }
                if !is_internet {
                    let message = format!("class \"{}\" is not supported: only IN is", token.display());
                    return Err((token.at, message));
                }
                class_seen = true;
            } else if ttl.is_none() && text::looks_like_ttl(token) {
                let value = text::ttl(token).ok_or_else(|| bad_ttl(token))?;
                self.last_ttl = Some(value);
                ttl = Some(value);
            } else {
                let code = type_code(token)
                    .ok_or_else(|| (token.at, format!("unknown record type \"{}\"", token.display())))?;
                return Ok((ttl, token, code));
            }
        }
    }
}

fn bad_ttl(token: &Token) -> Fail {
    let message = format!(
        "TTL \"{}\" is not a number of seconds (units s, m, h, d, w allowed)",
        token.display()
    );
    (token.at, message)
}

/// "If omitted [and no $TTL], the TTL of the SOA is its MINIMUM", as BIND
/// does: a zone file that starts with its SOA needs no other default.
fn soa_minimum(rdata: &RData) -> Option<u32> {
    match rdata {
        RData::Soa { minimum, .. } => Some(*minimum),
        _ => None,
    }
}

/// `Some(true)` for IN, `Some(false)` for another class, `None` if the
/// token is not a class.
fn class(token: &Token) -> Option<bool> {
    if token.quoted {
        return None;
    }
    let word = String::from_utf8_lossy(&token.text).to_ascii_uppercase();
    match word.as_str() {
        "IN" | "CLASS1" => Some(true),
        "CH" | "CHAOS" | "HS" | "HESIOD" | "CS" | "CSNET" | "NONE" | "ANY" => Some(false),
        _ => word
            .strip_prefix("CLASS")
            .and_then(|n| n.parse::<u16>().ok())
            .map(|_| false),
    }
}

/// Mnemonics of types kept as [`RData::Other`], with their numbers.
const OTHER_TYPES: &[(&str, u16)] = &[
    ("HINFO", 13),
    ("RP", 17),
    ("AFSDB", 18),
    ("SIG", 24),
    ("KEY", 25),
    ("LOC", 29),
    ("SRV", 33),
    ("NAPTR", 35),
    ("KX", 36),
    ("CERT", 37),
    ("DNAME", 39),
    ("APL", 42),
    ("SSHFP", 44),
    ("IPSECKEY", 45),
    ("RRSIG", 46),
    ("NSEC", 47),
    ("DHCID", 49),
    ("NSEC3", 50),
    ("NSEC3PARAM", 51),
    ("SMIMEA", 53),
    ("HIP", 55),
    ("CDS", 59),
    ("CDNSKEY", 60),
    ("OPENPGPKEY", 61),
    ("CSYNC", 62),
    ("ZONEMD", 63),
    ("SVCB", 64),
    ("HTTPS", 65),
    ("EUI48", 108),
    ("EUI64", 109),
    ("URI", 256),
    ("CAA", 257),
];

/// A type mnemonic, or RFC 3597's `TYPE<number>`.
fn type_code(token: &Token) -> Option<u16> {
    if token.quoted {
        return None;
    }
    let word = std::str::from_utf8(&token.text).ok()?;
    if let Some(rtype) = RType::from_mnemonic(word) {
        return Some(rtype.code());
    }
    if let Some(&(_, code)) = OTHER_TYPES.iter().find(|(name, _)| name.eq_ignore_ascii_case(word)) {
        return Some(code);
    }
    let digits = word
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("TYPE"))
        .map(|_| &word[4..])?;
    digits.parse().ok()
}

fn is_known(code: u16) -> bool {
    RType::ALL.iter().any(|t| t.code() == code) || OTHER_TYPES.iter().any(|&(_, c)| c == code)
}

fn type_name(code: u16) -> String {
    RType::ALL
        .iter()
        .find(|t| t.code() == code)
        .map(|t| t.as_str())
        .or_else(|| OTHER_TYPES.iter().find(|&&(_, c)| c == code).map(|&(n, _)| n))
        .map_or_else(|| format!("TYPE{code}"), str::to_owned)
}

/// The record data for type `code`.
fn rdata(code: u16, type_token: &Token, tokens: &[Token], origin: Option<&str>, end: Position) -> Result<RData, Fail> {
    let kind = type_name(code);
    if tokens.first().is_some_and(|t| !t.quoted && t.text == b"\\#") {
        return generic(code, &kind, &tokens[1..], type_token.at);
    }
    let mut cursor = Cursor { tokens, i: 0, end };
    let name = |cursor: &mut Cursor<'_>, what: &str| -> Result<String, Fail> {
        let token = cursor.next(&format!("{what} of the {kind} record"))?;
        text::domain_name(token, origin).map_err(|m| (token.at, m))
    };
    let rdata = match code {
        1 => {
            let token = cursor.next("address of the A record")?;
            let address = parse_word(token).ok_or_else(|| {
                (
                    token.at,
                    format!("A address \"{}\" is not an IPv4 address", token.display()),
                )
            })?;
            RData::A { address }
        }
        28 => {
            let token = cursor.next("address of the AAAA record")?;
            let address = parse_word(token).ok_or_else(|| {
                (
                    token.at,
                    format!("AAAA address \"{}\" is not an IPv6 address", token.display()),
                )
            })?;
            RData::Aaaa { address }
        }
        5 => RData::Cname {
            target: name(&mut cursor, "target")?,
        },
        2 => RData::Ns {
            target: name(&mut cursor, "name server")?,
        },
        12 => RData::Ptr {
            target: name(&mut cursor, "target")?,
        },
        15 => {
            let preference = number(cursor.next("preference of the MX record")?, "MX preference")?;
            RData::Mx {
                preference,
                exchange: name(&mut cursor, "exchange")?,
            }
        }
        6 => soa(&mut cursor, &name)?,
        16 | 99 => {
            let strings = character_strings(&mut cursor, &kind)?;
            if code == 16 {
                RData::Txt { strings }
            } else {
                RData::Spf { strings }
            }
        }
        _ if !is_known(code) => {
            let message = format!("rdata of the unknown type {kind} must use the RFC 3597 form: \\# <length> <hex>");
            return Err((type_token.at, message));
        }
        _ => {
            if tokens.is_empty() {
                return Err((end, format!("missing rdata of the {kind} record")));
            }
            // DS, DNSKEY, TLSA, NSEC3PARAM: typed by the shared parser
            // (kept as `Unparsed` with the reason when malformed).
            let words: Vec<String> = tokens.iter().map(presentation_word).collect();
            if let Some(typed) = rdata::from_text(code, &words.join(" ")) {
                return Ok(typed);
            }
            return Ok(RData::Other {
                rtype: code,
                text: presentation(code, tokens),
            });
        }
    };
    cursor.finish(&format!("the {kind} rdata"))?;
    Ok(rdata)
}

fn soa(cursor: &mut Cursor<'_>, name: &dyn Fn(&mut Cursor<'_>, &str) -> Result<String, Fail>) -> Result<RData, Fail> {
    let mname = name(cursor, "primary name server (MNAME)")?;
    let rname = name(cursor, "mailbox (RNAME)")?;
    let serial = number(cursor.next("serial of the SOA record")?, "SOA serial")?;
    let mut timers = [0u32; 4];
    for (slot, what) in timers.iter_mut().zip(["refresh", "retry", "expire", "minimum"]) {
        let token = cursor.next(&format!("{what} of the SOA record"))?;
        *slot = text::ttl(token).ok_or_else(|| {
            (
                token.at,
                format!("SOA {what} \"{}\" is not a number of seconds", token.display()),
            )
        })?;
    }
    Ok(RData::Soa {
        mname,
        rname,
        serial,
        minimum: timers[3],
    })
}

/// "<character-string> is expressed in one or two ways: as a contiguous
/// set of characters without interior spaces, or as a string beginning
/// with a \" and ending with a \"" (RFC 1035 §5.1). Kept apart, and kept
/// even when longer than 255 octets: the audit reports that, it is not a
/// reason to refuse the file.
fn character_strings(cursor: &mut Cursor<'_>, kind: &str) -> Result<Vec<String>, Fail> {
    let mut strings = Vec::new();
    while let Some(token) = cursor.peek() {
        cursor.i += 1;
        strings.push(text::character_string(token).map_err(|m| (token.at, m))?);
    }
    if strings.is_empty() {
        return Err((cursor.end, format!("missing character-string of the {kind} record")));
    }
    Ok(strings)
}

/// Rdata written `\# <length> <hex>` (RFC 3597 §5).
fn generic(code: u16, kind: &str, tokens: &[Token], at: Position) -> Result<RData, Fail> {
    let octets = text::generic_octets(tokens).map_err(|m| (tokens.first().map_or(at, |t| t.at), m))?;
    if matches!(code, 1 | 2 | 5 | 6 | 12 | 15 | 16 | 28 | 99) {
        return text::rdata_from_wire(code, &octets)
            .ok_or_else(|| (at, format!("RFC 3597 rdata is not valid {kind} rdata")));
    }
    Ok(rdata::from_wire(code, &octets).unwrap_or_else(|| RData::Other {
        rtype: code,
        text: rdata::generic_text(&octets),
    }))
}

/// Presentation text of a type kept as `Other`, in the form the live
/// backend writes (hickory's `Display`), so both compare equal: DS digests
/// in upper-case hex, TLSA data in lower-case hex, DNSKEY keys in one
/// base64 word, anything else its tokens joined by single spaces.
fn presentation(code: u16, tokens: &[Token]) -> String {
    let words: Vec<String> = tokens.iter().map(presentation_word).collect();
    let joined_tail = |case: fn(&str) -> String| {
        let (head, tail) = words.split_at(3.min(words.len()));
        let tail = case(&tail.concat());
        head.iter()
            .cloned()
            .chain((!tail.is_empty()).then_some(tail))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match code {
        43 | 59 => joined_tail(|s| s.to_ascii_uppercase()),
        52 | 53 => joined_tail(|s| s.to_ascii_lowercase()),
        48 | 60 => joined_tail(str::to_owned),
        _ => words.join(" "),
    }
}

/// A token as presentation text: quoted again if it was, and any octet
/// outside printable ASCII written `\DDD`.
fn presentation_word(token: &Token) -> String {
    let mut out = String::new();
    for &b in &token.text {
        match b {
            0x21..=0x7e => out.push(b as char),
            b' ' if token.quoted => out.push(' '),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    if token.quoted { format!("\"{out}\"") } else { out }
}

fn parse_word<T: std::str::FromStr>(token: &Token) -> Option<T> {
    if token.quoted {
        return None;
    }
    std::str::from_utf8(&token.text).ok()?.parse().ok()
}

fn number<T: std::str::FromStr + TryFrom<u64>>(token: &Token, what: &str) -> Result<T, Fail> {
    let wide: u64 =
        parse_word(token).ok_or_else(|| (token.at, format!("{what} \"{}\" is not a number", token.display())))?;
    T::try_from(wide).map_err(|_| (token.at, format!("{what} \"{}\" is out of range", token.display())))
}

/// Walks an entry's tokens, reporting what is missing where it ends.
struct Cursor<'t> {
    tokens: &'t [Token],
    i: usize,
    end: Position,
}

impl<'t> Cursor<'t> {
    fn new(tokens: &'t [Token]) -> Self {
        Self {
            tokens,
            i: 0,
            end: end_of(tokens),
        }
    }

    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.i)
    }

    fn next(&mut self, what: &str) -> Result<&'t Token, Fail> {
        let token = self.peek().ok_or_else(|| (self.end, format!("missing {what}")))?;
        self.i += 1;
        Ok(token)
    }

    fn rest(&self) -> &'t [Token] {
        &self.tokens[self.i..]
    }

    fn end(&self) -> Position {
        self.end
    }

    /// Refuse anything left over.
    fn finish(&self, after: &str) -> Result<(), Fail> {
        match self.peek() {
            None => Ok(()),
            Some(token) => Err((token.at, format!("unexpected \"{}\" after {after}", token.display()))),
        }
    }
}

/// The position just after the last token (where a missing one belongs).
fn end_of(tokens: &[Token]) -> Position {
    tokens.last().map_or(Position { line: 1, column: 1 }, |last| {
        let width = String::from_utf8_lossy(&last.text).chars().count() + if last.quoted { 2 } else { 0 };
        Position {
            line: last.at.line,
            column: last.at.column + width + 1,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(text: &str, quoted: bool) -> Token {
        Token {
            text: text.as_bytes().to_vec(),
            quoted,
            at: Position { line: 1, column: 1 },
        }
    }

    #[test]
    fn type_names_and_rfc3597_numbers() {
        assert_eq!(type_code(&tok("mx", false)), Some(15));
        assert_eq!(type_code(&tok("CAA", false)), Some(257));
        assert_eq!(type_code(&tok("type65534", false)), Some(65534));
        assert_eq!(type_code(&tok("TYPE65536", false)), None);
        assert_eq!(type_code(&tok("TYPE", false)), None);
        assert_eq!(type_code(&tok("MX", true)), None);
        assert_eq!(type_name(99), "SPF");
        assert_eq!(type_name(4242), "TYPE4242");
    }

    #[test]
    fn classes_are_recognised_and_only_in_accepted() {
        assert_eq!(class(&tok("in", false)), Some(true));
        assert_eq!(class(&tok("CLASS1", false)), Some(true));
        assert_eq!(class(&tok("CH", false)), Some(false));
        assert_eq!(class(&tok("CLASS3", false)), Some(false));
        assert_eq!(class(&tok("A", false)), None);
    }

    #[test]
    fn presentation_matches_the_live_backend() {
        let words = |s: &str| s.split(' ').map(|w| tok(w, false)).collect::<Vec<_>>();
        assert_eq!(presentation(43, &words("1 13 2 ab cd")), "1 13 2 ABCD");
        assert_eq!(presentation(52, &words("3 1 1 AB CD")), "3 1 1 abcd");
        assert_eq!(presentation(48, &words("257 3 13 ab= cd")), "257 3 13 ab=cd");
        let caa = [tok("0", false), tok("issue", false), tok("ca. x", true)];
        assert_eq!(presentation(257, &caa), "0 issue \"ca. x\"");
        assert_eq!(presentation_word(&tok("caf\u{e9}", true)), "\"caf\\195\\169\"");
    }

    #[test]
    fn containment_respects_label_boundaries() {
        assert!(is_at_or_below("a.example.com", "example.com"));
        assert!(is_at_or_below("example.com", "example.com"));
        assert!(is_at_or_below("anything", ""));
        assert!(!is_at_or_below("xexample.com", "example.com"));
        assert!(!is_at_or_below("com", "example.com"));
    }
}

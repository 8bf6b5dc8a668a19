//! SPF records (RFC 7208): a strict parser that keeps byte positions and
//! reports every problem it finds, plus macro expansion (§7).
//!
//! [`parse`] never stops at the first error: a linter wants all of them.
//! A record with any [`Level::Error`] diagnostic is a `permerror` when
//! evaluated (RFC 7208 §4.6: "If there are any syntax errors anywhere in the
//! record, check_host() returns immediately with the result 'permerror'").
//! Warnings are legal but suspicious constructions.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::Serialize;

pub use crate::diag::{Diagnostic, Level, Span};

/// A mechanism's qualifier (RFC 7208 §4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Qualifier {
    /// `+` (the default)
    Pass,
    /// `-`
    Fail,
    /// `~`
    SoftFail,
    /// `?`
    Neutral,
}

impl Qualifier {
    /// The qualifier character (`+`, `-`, `~`, `?`).
    pub fn symbol(self) -> char {
        match self {
            Qualifier::Pass => '+',
            Qualifier::Fail => '-',
            Qualifier::SoftFail => '~',
            Qualifier::Neutral => '?',
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            b'+' => Some(Qualifier::Pass),
            b'-' => Some(Qualifier::Fail),
            b'~' => Some(Qualifier::SoftFail),
            b'?' => Some(Qualifier::Neutral),
            _ => None,
        }
    }
}

/// One piece of a macro-string (RFC 7208 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum MacroPart {
    /// Literal text; `%%`, `%_` and `%-` are already decoded to `%`, ` `
    /// and `%20`.
    Literal {
        /// The decoded text.
        text: String,
    },
    /// `%{letter digits r delimiters}`.
    Macro {
        /// The macro letter, lower case.
        letter: char,
        /// Written upper case: the value is URL-escaped (§7.3).
        url_escape: bool,
        /// Number of right-hand parts to keep.
        digits: Option<u32>,
        /// `r`: the parts are reversed.
        reverse: bool,
        /// Delimiters to split on; empty means `.`.
        delimiters: String,
    },
}

/// A parsed macro-string: its text as written and its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MacroString {
    /// The text as written.
    pub text: String,
    /// The literal and macro parts, in order.
    pub parts: Vec<MacroPart>,
}

/// Where a macro-string appears, which decides the letters allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroContext {
    /// A domain-spec or modifier value: `s l o d i p v h`.
    Domain,
    /// An explanation string fetched by `exp=`: also `c r t`, and spaces.
    Explanation,
}

impl MacroString {
    /// The macro letters used, lower case, in order of appearance.
    pub fn letters(&self) -> impl Iterator<Item = char> + '_ {
        self.parts.iter().filter_map(|p| match p {
            MacroPart::Macro { letter, .. } => Some(*letter),
            MacroPart::Literal { .. } => None,
        })
    }

    /// True when the string uses a macro whose value depends on the message
    /// or the connection (every letter but `d`, the domain being checked),
    /// so it cannot be expanded when auditing a domain without a message.
    pub fn needs_message(&self) -> bool {
        self.letters().any(|l| l != 'd')
    }

    /// Whether `letter` (lower case) is used.
    pub fn uses(&self, letter: char) -> bool {
        self.letters().any(|l| l == letter)
    }

    /// Expand with `value` giving the raw value of each macro letter
    /// (RFC 7208 §7.3): split on the delimiters, reverse, keep the
    /// right-hand parts, join with `.`, URL-escape for upper-case letters.
    pub fn expand(&self, mut value: impl FnMut(char) -> String) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                MacroPart::Literal { text } => out.push_str(text),
                MacroPart::Macro {
                    letter,
                    url_escape,
                    digits,
                    reverse,
                    delimiters,
                } => {
                    let raw = value(*letter);
                    let transformed = transform(&raw, *digits, *reverse, delimiters);
                    if *url_escape {
                        out.push_str(&url_escape_str(&transformed));
                    } else {
                        out.push_str(&transformed);
                    }
                }
            }
        }
        out
    }
}

impl fmt::Display for MacroString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// RFC 7208 §7.3 transformers: split the value on the delimiters (default
/// `.`), reverse if `r`, keep the DIGIT right-hand parts ("The DIGIT
/// transformer indicates the number of right-hand parts to use, after
/// optional reversal"), join with `.`.
fn transform(raw: &str, digits: Option<u32>, reverse: bool, delimiters: &str) -> String {
    let delims: &str = if delimiters.is_empty() { "." } else { delimiters };
    let mut parts: Vec<&str> = raw.split(|c: char| delims.contains(c)).collect();
    if reverse {
        parts.reverse();
    }
    if let Some(n) = digits {
        let n = n as usize;
        if n < parts.len() {
            parts.drain(..parts.len() - n);
        }
    }
    parts.join(".")
}

/// RFC 7208 §7.3: upper-case macros are URL-escaped; "all characters not
/// in the 'unreserved' set [RFC3986] MUST be escaped".
fn url_escape_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// CIDR prefix lengths of `a` and `mx`; defaults 32 and 128 (§5.3, §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DualCidr {
    /// The IPv4 prefix length.
    pub v4: u8,
    /// The IPv6 prefix length.
    pub v6: u8,
}

impl Default for DualCidr {
    fn default() -> Self {
        Self { v4: 32, v6: 128 }
    }
}

impl fmt::Display for DualCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.v4 != 32 {
            write!(f, "/{}", self.v4)?;
        }
        if self.v6 != 128 {
            write!(f, "//{}", self.v6)?;
        }
        Ok(())
    }
}

/// A mechanism (RFC 7208 §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Mechanism {
    /// `all`: matches every sender.
    All,
    /// `include:`: the result of another domain's policy.
    Include {
        /// The domain whose policy is evaluated.
        domain: MacroString,
    },
    /// `a`: the domain's addresses.
    A {
        /// The domain, if not the current one.
        domain: Option<MacroString>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `mx`: the addresses of the domain's MX hosts.
    Mx {
        /// The domain, if not the current one.
        domain: Option<MacroString>,
        /// Prefix lengths.
        cidr: DualCidr,
    },
    /// `ptr` (RFC 7208 §5.5: "SHOULD NOT be used").
    Ptr {
        /// The domain, if not the current one.
        domain: Option<MacroString>,
    },
    /// `ip4:`: an IPv4 network.
    Ip4 {
        /// The network.
        network: Ipv4Net,
    },
    /// `ip6:`: an IPv6 network.
    Ip6 {
        /// The network.
        network: Ipv6Net,
    },
    /// `exists:`: matches when the name has an A record.
    Exists {
        /// The name to look up.
        domain: MacroString,
    },
}

impl Mechanism {
    /// The mechanism name as written in a record.
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::All => "all",
            Mechanism::Include { .. } => "include",
            Mechanism::A { .. } => "a",
            Mechanism::Mx { .. } => "mx",
            Mechanism::Ptr { .. } => "ptr",
            Mechanism::Ip4 { .. } => "ip4",
            Mechanism::Ip6 { .. } => "ip6",
            Mechanism::Exists { .. } => "exists",
        }
    }

    /// RFC 7208 §4.6.4: "the following terms cause DNS queries: the
    /// 'include', 'a', 'mx', 'ptr', and 'exists' mechanisms".
    pub fn queries_dns(&self) -> bool {
        matches!(
            self,
            Mechanism::Include { .. }
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr { .. }
                | Mechanism::Exists { .. }
        )
    }

    /// The domain-spec, when the mechanism has one.
    pub fn domain_spec(&self) -> Option<&MacroString> {
        match self {
            Mechanism::Include { domain } | Mechanism::Exists { domain } => Some(domain),
            Mechanism::A { domain, .. } | Mechanism::Mx { domain, .. } | Mechanism::Ptr { domain } => domain.as_ref(),
            _ => None,
        }
    }
}

/// A qualified mechanism with its position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    /// `+`, `-`, `~` or `?` (`+` when none is written).
    pub qualifier: Qualifier,
    /// What it matches.
    pub mechanism: Mechanism,
    /// Where it is in the record.
    pub span: Span,
    /// The term as written.
    pub text: String,
}

/// A modifier (RFC 7208 §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum ModifierKind {
    /// `redirect=`: another domain's policy replaces this one.
    Redirect {
        /// That domain.
        domain: MacroString,
    },
    /// `exp=`: where the explanation for a `fail` is.
    Exp {
        /// The name of its TXT record.
        domain: MacroString,
    },
    /// A modifier RFC 7208 does not define (ignored, §6).
    Unknown {
        /// Its name.
        name: String,
        /// Its value.
        value: MacroString,
    },
}

/// A modifier as written, with its position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Modifier {
    /// Which modifier.
    pub kind: ModifierKind,
    /// Where it is in the record.
    pub span: Span,
    /// The text as written.
    pub text: String,
}

/// One term of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Term {
    /// A mechanism with its qualifier.
    Directive(Directive),
    /// A `name=value` modifier.
    Modifier(Modifier),
}

/// A parsed record. Terms that failed to parse are left out (their
/// diagnostics say why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The record text (bytes outside visible ASCII replaced lossily).
    pub text: String,
    /// The terms, in order.
    pub terms: Vec<Term>,
}

impl Record {
    /// The directives (mechanisms), in order.
    pub fn directives(&self) -> impl Iterator<Item = &Directive> {
        self.terms.iter().filter_map(|t| match t {
            Term::Directive(d) => Some(d),
            Term::Modifier(_) => None,
        })
    }

    /// The modifiers, in order.
    pub fn modifiers(&self) -> impl Iterator<Item = &Modifier> {
        self.terms.iter().filter_map(|t| match t {
            Term::Modifier(m) => Some(m),
            Term::Directive(_) => None,
        })
    }

    /// The `redirect=` domain-spec, if any (the first, if duplicated).
    pub fn redirect(&self) -> Option<&MacroString> {
        self.modifiers().find_map(|m| match &m.kind {
            ModifierKind::Redirect { domain } => Some(domain),
            _ => None,
        })
    }

    /// The `exp=` domain-spec, if any.
    pub fn exp(&self) -> Option<&MacroString> {
        self.modifiers().find_map(|m| match &m.kind {
            ModifierKind::Exp { domain } => Some(domain),
            _ => None,
        })
    }

    /// The first `all` mechanism, which ends evaluation.
    pub fn all(&self) -> Option<&Directive> {
        self.directives().find(|d| d.mechanism == Mechanism::All)
    }
}

/// The qualifier of the record's `all`, the result for any address no
/// earlier mechanism matched. `None` when the record has no `all` (then
/// `redirect=`, or the default `neutral`, decides). A null-MX domain should
/// publish `v=spf1 -all`: `effective_all == Some(Qualifier::Fail)` with no
/// other directive.
pub fn effective_all(record: &Record) -> Option<Qualifier> {
    record.all().map(|d| d.qualifier)
}

/// The result of [`parse`]: the record and every diagnostic, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parsed {
    /// The record as far as it could be read.
    pub record: Record,
    /// Every problem found, in order of position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// True when evaluating the record would give `permerror`.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Error)
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.level == Level::Error)
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.level == Level::Warning)
    }
}

const VERSION: &[u8] = b"v=spf1";

/// RFC 7208 §4.5: "Records that do not begin with a version section of
/// exactly 'v=spf1' are discarded. Note that the version section is
/// terminated by either an SP character or the end of the record." The
/// comparison is case-insensitive (ABNF strings are).
pub fn is_spf_record(bytes: &[u8]) -> bool {
    bytes.len() >= VERSION.len()
        && bytes[..VERSION.len()].eq_ignore_ascii_case(VERSION)
        && bytes.get(VERSION.len()).is_none_or(|&b| b == b' ')
}

/// True for records that look like an attempt at SPF but fail
/// [`is_spf_record`] (`v=spf1.0`, `v=spf2`, `v = spf1`, leading space).
pub fn looks_like_spf(bytes: &[u8]) -> bool {
    let trimmed: Vec<u8> = bytes
        .iter()
        .copied()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(12)
        .collect();
    let squashed: Vec<u8> = trimmed.iter().copied().filter(|b| *b != b' ').collect();
    !is_spf_record(bytes) && squashed.len() >= 5 && squashed[..5].eq_ignore_ascii_case(b"v=spf")
}

/// Parse a record (the TXT character-strings already joined, §3.3).
pub fn parse(bytes: &[u8]) -> Parsed {
    let mut p = Parser {
        bytes,
        diagnostics: Vec::new(),
        terms: Vec::new(),
    };
    p.run();
    let mut diagnostics = p.diagnostics;
    diagnostics.sort_by_key(|d| (d.span.start, d.level, d.span.end));
    Parsed {
        record: Record {
            text: String::from_utf8_lossy(bytes).into_owned(),
            terms: p.terms,
        },
        diagnostics,
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    diagnostics: Vec<Diagnostic>,
    terms: Vec<Term>,
}

impl Parser<'_> {
    fn run(&mut self) {
        if !is_spf_record(self.bytes) {
            let end = self.bytes.iter().position(|&b| b == b' ').unwrap_or(self.bytes.len());
            self.diagnostics.push(Diagnostic::error(
                Span::new(0, end),
                "version",
                "the record must begin with exactly \"v=spf1\" followed by a space or the end (RFC 7208 §4.5)",
            ));
            return;
        }
        for (start, end) in split_terms(self.bytes, VERSION.len()) {
            if let Some(term) = self.term(start, end) {
                self.terms.push(term);
            }
        }
        self.check_modifier_counts();
        self.check_order();
    }

    /// One term; `None` (with diagnostics) when it does not parse.
    fn term(&mut self, start: usize, end: usize) -> Option<Term> {
        let token = &self.bytes[start..end];
        if let Some(bad) = token.iter().position(|b| !(0x21..=0x7e).contains(b)) {
            let at = start + bad;
            self.diagnostics.push(Diagnostic::error(
                Span::new(at, at + 1),
                "invalid-character",
                format!(
                    "byte 0x{:02X} is not allowed: terms are visible ASCII separated by spaces only (RFC 7208 §3.1, §4.6.1)",
                    token[bad]
                ),
            ));
            return None;
        }
        // Visible ASCII from here on.
        let text = std::str::from_utf8(token).unwrap_or_default();
        if let Some(eq) = modifier_name_end(text) {
            return self.modifier(text, start, eq).map(Term::Modifier);
        }
        if let Some(eq) = text.find('=')
            && !text[..eq].contains([':', '/'])
        {
            self.diagnostics.push(Diagnostic::error(
                Span::new(start, start + eq.max(1)),
                "modifier-name",
                format!(
                    "\"{}\" is not a valid modifier name: a name starts with a letter, then letters, digits, '-', '_' or '.' (RFC 7208 §12)",
                    &text[..eq]
                ),
            ));
            return None;
        }
        self.directive(text, start).map(Term::Directive)
    }

    fn modifier(&mut self, text: &str, start: usize, eq: usize) -> Option<Modifier> {
        let name = &text[..eq];
        let value = &text[eq + 1..];
        let value_at = start + eq + 1;
        let span = Span::new(start, start + text.len());
        let kind = if name.eq_ignore_ascii_case("redirect") || name.eq_ignore_ascii_case("exp") {
            let domain = self.domain_spec(value, value_at, name)?;
            if name.eq_ignore_ascii_case("redirect") {
                ModifierKind::Redirect { domain }
            } else {
                ModifierKind::Exp { domain }
            }
        } else {
            let value = self.macro_string(value, value_at, MacroContext::Domain)?;
            self.diagnostics.push(Diagnostic::warning(
                span,
                "unknown-modifier",
                format!("unknown modifier \"{name}\" is ignored by receivers (RFC 7208 §6)"),
            ));
            ModifierKind::Unknown {
                name: name.to_string(),
                value,
            }
        };
        Some(Modifier {
            kind,
            span,
            text: text.to_string(),
        })
    }

    fn directive(&mut self, text: &str, start: usize) -> Option<Directive> {
        let span = Span::new(start, start + text.len());
        let (qualifier, body, body_at) = match Qualifier::from_byte(text.as_bytes()[0]) {
            Some(q) => (q, &text[1..], start + 1),
            None => (Qualifier::Pass, text, start),
        };
        let name_len = body.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let (name, rest) = body.split_at(name_len);
        let rest_at = body_at + name_len;
        let lname = name.to_ascii_lowercase();
        let mechanism = match lname.as_str() {
            "all" => self.no_argument(rest, rest_at, "all").map(|_| Mechanism::All),
            "include" => self
                .required_domain(rest, rest_at, "include")
                .map(|domain| Mechanism::Include { domain }),
            "exists" => self
                .required_domain(rest, rest_at, "exists")
                .map(|domain| Mechanism::Exists { domain }),
            "a" => self
                .domain_and_cidr(rest, rest_at, "a")
                .map(|(domain, cidr)| Mechanism::A { domain, cidr }),
            "mx" => self
                .domain_and_cidr(rest, rest_at, "mx")
                .map(|(domain, cidr)| Mechanism::Mx { domain, cidr }),
            "ptr" => self.ptr(rest, rest_at),
            "ip4" => self.ip4(rest, rest_at),
            "ip6" => self.ip6(rest, rest_at),
            _ => {
                self.diagnostics.push(Diagnostic::error(
                    span,
                    "unknown-mechanism",
                    format!(
                        "\"{text}\" is not a mechanism (all, include, a, mx, ptr, ip4, ip6, exists) nor a modifier (name=value) (RFC 7208 §4.6.1, §5)"
                    ),
                ));
                None
            }
        }?;
        Some(Directive {
            qualifier,
            mechanism,
            span,
            text: text.to_string(),
        })
    }

    /// RFC 7208 §5.1: `all = "all"`, nothing after it.
    fn no_argument(&mut self, rest: &str, at: usize, name: &str) -> Option<()> {
        if rest.is_empty() {
            return Some(());
        }
        self.diagnostics.push(Diagnostic::error(
            Span::new(at, at + rest.len()),
            "mechanism-argument",
            format!("\"{name}\" takes no argument, found \"{rest}\" (RFC 7208 §5.1)"),
        ));
        None
    }

    /// RFC 7208 §5.2, §5.7: `include = "include" ":" domain-spec`,
    /// `exists = "exists" ":" domain-spec`.
    fn required_domain(&mut self, rest: &str, at: usize, name: &str) -> Option<MacroString> {
        match rest.strip_prefix(':') {
            Some(spec) => self.domain_spec(spec, at + 1, name),
            None => {
                self.diagnostics.push(Diagnostic::error(
                    Span::new(at.saturating_sub(name.len()), at + rest.len()),
                    "missing-domain",
                    format!("\"{name}\" needs \":\" and a domain (RFC 7208 §5.2, §5.7)"),
                ));
                None
            }
        }
    }

    /// RFC 7208 §5.5: `ptr = "ptr" [ ":" domain-spec ]` (no CIDR).
    fn ptr(&mut self, rest: &str, at: usize) -> Option<Mechanism> {
        if rest.is_empty() {
            return Some(Mechanism::Ptr { domain: None });
        }
        match rest.strip_prefix(':') {
            Some(spec) => self
                .domain_spec(spec, at + 1, "ptr")
                .map(|d| Mechanism::Ptr { domain: Some(d) }),
            None => {
                self.diagnostics.push(Diagnostic::error(
                    Span::new(at, at + rest.len()),
                    "mechanism-argument",
                    format!("\"ptr\" takes only \":domain\", found \"{rest}\" (RFC 7208 §5.5)"),
                ));
                None
            }
        }
    }

    /// RFC 7208 §5.3, §5.4: `a = "a" [ ":" domain-spec ] [ dual-cidr-length ]`.
    fn domain_and_cidr(&mut self, rest: &str, at: usize, name: &str) -> Option<(Option<MacroString>, DualCidr)> {
        let (spec, cidr_text) = match rest.strip_prefix(':') {
            Some(after) => {
                let split = dual_cidr_start(after).unwrap_or(after.len());
                (Some(&after[..split]), &after[split..])
            }
            None => (None, rest),
        };
        let cidr_at = at + rest.len() - cidr_text.len();
        let domain = match spec {
            Some(spec) => Some(self.domain_spec(spec, at + 1, name)?),
            None => None,
        };
        let cidr = self.dual_cidr(cidr_text, cidr_at, name)?;
        Some((domain, cidr))
    }

    fn dual_cidr(&mut self, text: &str, at: usize, name: &str) -> Option<DualCidr> {
        let mut cidr = DualCidr::default();
        if text.is_empty() {
            return Some(cidr);
        }
        let Some((v4, v6)) = split_dual_cidr(text) else {
            self.diagnostics.push(Diagnostic::error(
                Span::new(at, at + text.len()),
                "bad-cidr",
                format!(
                    "\"{text}\" after \"{name}\" is not a CIDR length: use /N for IPv4, //N for IPv6, or /N//M (RFC 7208 §5.3)"
                ),
            ));
            return None;
        };
        let mut ok = true;
        if let Some(v4) = v4 {
            ok &= self.prefix(v4, at + 1, 32).map(|n| cidr.v4 = n).is_some();
        }
        if let Some(v6) = v6 {
            let v6_at = at + text.len() - v6.len();
            ok &= self.prefix(v6, v6_at, 128).map(|n| cidr.v6 = n).is_some();
        }
        ok.then_some(cidr)
    }

    /// RFC 7208 §5.6: "ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT) ;
    /// value range 0-32", "ip6-cidr-length ... value range 0-128".
    fn prefix(&mut self, digits: &str, at: usize, max: u8) -> Option<u8> {
        let span = Span::new(at, at + digits.len());
        let value = digits
            .parse::<u32>()
            .ok()
            .filter(|_| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
        let leading_zero = digits.len() > 1 && digits.starts_with('0');
        match value {
            Some(n) if n <= u32::from(max) && !leading_zero => Some(n as u8),
            _ => {
                self.diagnostics.push(Diagnostic::error(
                    span,
                    "bad-cidr",
                    format!("CIDR length \"/{digits}\" must be 0-{max} without leading zeros (RFC 7208 §5.6)"),
                ));
                None
            }
        }
    }

    /// RFC 7208 §5.6: `ip4 = "ip4" ":" ip4-network [ ip4-cidr-length ]`;
    /// "It is not permitted to omit parts of the IP address instead of
    /// using CIDR notations."
    fn ip4(&mut self, rest: &str, at: usize) -> Option<Mechanism> {
        let (addr, cidr) = self.network_parts(rest, at, "ip4")?;
        let Some(ip) = parse_ip4_strict(addr) else {
            self.bad_ip(addr, at + 1, "ip4", "a dotted quad such as 192.0.2.1");
            return None;
        };
        let len = match cidr {
            Some(c) => self.prefix(c, at + 1 + addr.len() + 1, 32)?,
            None => 32,
        };
        Some(Mechanism::Ip4 {
            network: Ipv4Net::new(ip, len).ok()?,
        })
    }

    /// RFC 7208 §5.6: `ip6 = "ip6" ":" ip6-network [ ip6-cidr-length ]`.
    fn ip6(&mut self, rest: &str, at: usize) -> Option<Mechanism> {
        let (addr, cidr) = self.network_parts(rest, at, "ip6")?;
        let Ok(ip) = addr.parse::<Ipv6Addr>() else {
            self.bad_ip(addr, at + 1, "ip6", "an IPv6 address such as 2001:db8::1");
            return None;
        };
        let len = match cidr {
            Some(c) => self.prefix(c, at + 1 + addr.len() + 1, 128)?,
            None => 128,
        };
        Some(Mechanism::Ip6 {
            network: Ipv6Net::new(ip, len).ok()?,
        })
    }

    fn network_parts<'t>(&mut self, rest: &'t str, at: usize, name: &str) -> Option<(&'t str, Option<&'t str>)> {
        let Some(body) = rest.strip_prefix(':') else {
            self.diagnostics.push(Diagnostic::error(
                Span::new(at.saturating_sub(name.len()), at + rest.len()),
                "missing-network",
                format!("\"{name}\" needs \":\" and an address (RFC 7208 §5.6)"),
            ));
            return None;
        };
        Some(match body.split_once('/') {
            Some((addr, cidr)) => (addr, Some(cidr)),
            None => (body, None),
        })
    }

    fn bad_ip(&mut self, addr: &str, at: usize, name: &str, expected: &str) {
        self.diagnostics.push(Diagnostic::error(
            Span::new(at, at + addr.len().max(1)),
            "bad-ip",
            format!("\"{addr}\" after \"{name}:\" is not {expected} (RFC 7208 §5.6)"),
        ));
    }

    /// RFC 7208 §7.1: `domain-spec = macro-string domain-end`,
    /// `domain-end = ( "." toplabel [ "." ] ) / macro-expand`; a toplabel is
    /// alphanumeric, not all digits, and may contain inner dashes.
    fn domain_spec(&mut self, text: &str, at: usize, owner: &str) -> Option<MacroString> {
        let span = Span::new(at, at + text.len());
        if text.is_empty() {
            self.diagnostics.push(Diagnostic::error(
                Span::new(at.saturating_sub(1), at),
                "empty-domain",
                format!("\"{owner}\" has an empty domain-spec (RFC 7208 §7.1)"),
            ));
            return None;
        }
        let ms = self.macro_string(text, at, MacroContext::Domain)?;
        if !domain_end_ok(text) {
            self.diagnostics.push(Diagnostic::error(
                span,
                "bad-domain",
                format!(
                    "\"{text}\" is not a valid domain-spec: it must end in a macro or in \".\" and a top label that is not all digits (RFC 7208 §7.1)"
                ),
            ));
            return None;
        }
        Some(ms)
    }

    fn macro_string(&mut self, text: &str, at: usize, ctx: MacroContext) -> Option<MacroString> {
        match parse_macro_string(text.as_bytes(), at, ctx) {
            Ok(ms) => Some(ms),
            Err(d) => {
                self.diagnostics.push(d);
                None
            }
        }
    }

    /// RFC 7208 §6: "These two modifiers MUST NOT appear in a record more
    /// than once each. If they do, then check_host() exits with a result of
    /// 'permerror'."
    fn check_modifier_counts(&mut self) {
        for wanted in ["redirect", "exp"] {
            let spans: Vec<Span> = self
                .terms
                .iter()
                .filter_map(|t| match t {
                    Term::Modifier(m) if modifier_is(m, wanted) => Some(m.span),
                    _ => None,
                })
                .collect();
            for span in spans.iter().skip(1) {
                self.diagnostics.push(Diagnostic::error(
                    *span,
                    "duplicate-modifier",
                    format!("\"{wanted}=\" appears more than once (RFC 7208 §6)"),
                ));
            }
        }
    }

    /// RFC 7208 §5.1: "Mechanisms after 'all' will never be tested";
    /// §6.1: "any 'redirect' modifier MUST be ignored if there is an 'all'
    /// mechanism anywhere in the record"; §6: modifiers "SHOULD appear at
    /// the end, after all mechanisms".
    fn check_order(&mut self) {
        let mut seen_all = false;
        let mut pending_modifier: Option<Span> = None;
        let mut warnings = Vec::new();
        for term in &self.terms {
            match term {
                Term::Directive(d) => {
                    if seen_all {
                        warnings.push(Diagnostic::warning(
                            d.span,
                            "after-all",
                            format!(
                                "\"{}\" comes after \"all\" and will never be tested (RFC 7208 §5.1)",
                                d.text
                            ),
                        ));
                    }
                    if let Some(span) = pending_modifier.take() {
                        warnings.push(Diagnostic::warning(
                            span,
                            "modifier-position",
                            "modifiers should come after all mechanisms (RFC 7208 §6)",
                        ));
                    }
                    seen_all |= d.mechanism == Mechanism::All;
                }
                Term::Modifier(m) if !matches!(m.kind, ModifierKind::Unknown { .. }) => {
                    pending_modifier.get_or_insert(m.span);
                }
                Term::Modifier(_) => {}
            }
        }
        let has_all = self
            .terms
            .iter()
            .any(|t| matches!(t, Term::Directive(d) if d.mechanism == Mechanism::All));
        for term in &self.terms {
            if let Term::Modifier(m) = term
                && has_all
                && modifier_is(m, "redirect")
            {
                warnings.push(Diagnostic::warning(
                    m.span,
                    "redirect-with-all",
                    "\"redirect=\" is ignored because the record has an \"all\" mechanism (RFC 7208 §6.1)",
                ));
            }
        }
        self.diagnostics.extend(warnings);
    }
}

fn modifier_is(m: &Modifier, name: &str) -> bool {
    match &m.kind {
        ModifierKind::Redirect { .. } => name == "redirect",
        ModifierKind::Exp { .. } => name == "exp",
        ModifierKind::Unknown { .. } => false,
    }
}

/// Terms separated by one or more spaces (RFC 7208 §4.6.1: "terms =
/// *( 1*SP ( directive / modifier ) )"). Returns byte ranges.
fn split_terms(bytes: &[u8], from: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = from;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b' ' {
            i += 1;
        }
        out.push((start, i));
    }
    out
}

/// If `text` starts with a modifier name (`ALPHA *( ALPHA / DIGIT / "-" /
/// "_" / "." )`) followed by `=`, the index of the `=`.
fn modifier_name_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if !bytes.first()?.is_ascii_alphabetic() {
        return None;
    }
    let len = bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        .count();
    (bytes.get(len) == Some(&b'=')).then_some(len)
}

/// Where a trailing dual-cidr-length starts in `a:`/`mx:` arguments: the
/// first `/` from which the rest is `/N`, `//N` or `/N//M`. A `/` followed
/// by anything else belongs to the domain-spec.
fn dual_cidr_start(text: &str) -> Option<usize> {
    text.match_indices('/')
        .map(|(i, _)| i)
        .find(|&i| split_dual_cidr(&text[i..]).is_some())
}

/// Split `/N`, `//M` or `/N//M` into digit strings.
fn split_dual_cidr(text: &str) -> Option<(Option<&str>, Option<&str>)> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(v6) = text.strip_prefix("//") {
        return digits(v6).then_some((None, Some(v6)));
    }
    let body = text.strip_prefix('/')?;
    match body.split_once("//") {
        Some((v4, v6)) => (digits(v4) && digits(v6)).then_some((Some(v4), Some(v6))),
        None => digits(body).then_some((Some(body), None)),
    }
}

/// RFC 7208 §5.6: `ip4-network = qnum "." qnum "." qnum "." qnum` with
/// `qnum` 0-255 without leading zeros.
fn parse_ip4_strict(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (slot, part) in octets.iter_mut().zip(&parts) {
        let ok = !part.is_empty()
            && part.len() <= 3
            && part.bytes().all(|b| b.is_ascii_digit())
            && !(part.len() > 1 && part.starts_with('0'));
        if !ok {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// The domain-end rule of §7.1 on the text after the last macro-expand.
fn domain_end_ok(text: &str) -> bool {
    let tail = text_after_last_macro(text);
    if tail.len() != text.len() && tail.is_empty() {
        return true; // ends with a macro-expand
    }
    let tail = tail.strip_suffix('.').unwrap_or(tail);
    match tail.rfind('.') {
        Some(dot) => is_toplabel(&tail[dot + 1..]),
        None => false,
    }
}

/// The text after the last `%x` escape or `%{...}` macro.
fn text_after_last_macro(text: &str) -> &str {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut after = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            match bytes.get(i + 1) {
                Some(b'{') => {
                    let close = text[i..].find('}').map_or(bytes.len(), |c| i + c + 1);
                    i = close;
                }
                _ => i += 2,
            }
            after = i.min(bytes.len());
        } else {
            i += 1;
        }
    }
    &text[after..]
}

/// RFC 7208 §7.1: `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum
/// "-" *( alphanum / "-" ) alphanum )`.
fn is_toplabel(label: &str) -> bool {
    let b = label.as_bytes();
    let (Some(first), Some(last)) = (b.first(), b.last()) else {
        return false;
    };
    let all_alnum = b.iter().all(u8::is_ascii_alphanumeric);
    let alnum_dash = b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-');
    (all_alnum && b.iter().any(u8::is_ascii_alphabetic))
        || (alnum_dash && first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() && b.contains(&b'-'))
}

/// Parse a macro-string (RFC 7208 §7.1). `at` is the offset of `bytes` in
/// the record, for diagnostics. In [`MacroContext::Explanation`] spaces are
/// allowed and so are the letters `c`, `r` and `t`: "The following macro
/// letters are allowed only in 'exp' text: c, r, t".
pub fn parse_macro_string(bytes: &[u8], at: usize, ctx: MacroContext) -> Result<MacroString, Diagnostic> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (decoded, len) = parse_percent(bytes, i, at, ctx)?;
            match decoded {
                MacroPart::Literal { text } => literal.push_str(&text),
                part => {
                    if !literal.is_empty() {
                        parts.push(MacroPart::Literal {
                            text: std::mem::take(&mut literal),
                        });
                    }
                    parts.push(part);
                }
            }
            i += len;
            continue;
        }
        let allowed = (0x21..=0x7e).contains(&b) || (b == b' ' && ctx == MacroContext::Explanation);
        if !allowed {
            return Err(Diagnostic::error(
                Span::new(at + i, at + i + 1),
                "invalid-character",
                format!("byte 0x{b:02X} is not allowed in a macro-string (RFC 7208 §7.1)"),
            ));
        }
        literal.push(b as char);
        i += 1;
    }
    if !literal.is_empty() {
        parts.push(MacroPart::Literal { text: literal });
    }
    Ok(MacroString {
        text: String::from_utf8_lossy(bytes).into_owned(),
        parts,
    })
}

/// One `%` escape at `bytes[i]`: the part and how many bytes it used.
/// RFC 7208 §7.1: "A '%' character not followed by a '{', '%', '-', or '_'
/// character is a syntax error."
fn parse_percent(bytes: &[u8], i: usize, at: usize, ctx: MacroContext) -> Result<(MacroPart, usize), Diagnostic> {
    let literal = |t: &str| MacroPart::Literal { text: t.to_string() };
    match bytes.get(i + 1) {
        Some(b'%') => Ok((literal("%"), 2)),
        Some(b'_') => Ok((literal(" "), 2)),
        Some(b'-') => Ok((literal("%20"), 2)),
        Some(b'{') => parse_macro_expand(bytes, i, at, ctx),
        _ => Err(Diagnostic::error(
            Span::new(at + i, at + (i + 2).min(bytes.len())),
            "bad-macro",
            "'%' must be followed by '{', '%', '_' or '-' (RFC 7208 §7.1)",
        )),
    }
}

/// `"%{" macro-letter transformers *delimiter "}"` with `transformers =
/// *DIGIT [ "r" ]` and delimiters from `. - + , / _ =`.
fn parse_macro_expand(bytes: &[u8], i: usize, at: usize, ctx: MacroContext) -> Result<(MacroPart, usize), Diagnostic> {
    let close = bytes[i..].iter().position(|&b| b == b'}').map(|p| i + p);
    let end = close.map_or(bytes.len(), |c| c + 1);
    let span = Span::new(at + i, at + end);
    let bad = |msg: String| Diagnostic::error(span, "bad-macro", msg);
    let Some(close) = close else {
        return Err(bad("macro \"%{\" is not closed by '}' (RFC 7208 §7.1)".into()));
    };
    let body = &bytes[i + 2..close];
    let Some(&letter_byte) = body.first() else {
        return Err(bad("empty macro \"%{}\" (RFC 7208 §7.1)".into()));
    };
    let letter = letter_byte.to_ascii_lowercase() as char;
    let allowed = match ctx {
        MacroContext::Domain => "slodipvh",
        MacroContext::Explanation => "slodipvhcrt",
    };
    if !letter_byte.is_ascii_alphabetic() || !allowed.contains(letter) {
        let why = if "crt".contains(letter) {
            "is allowed only in explanation text"
        } else {
            "is not a macro letter"
        };
        return Err(bad(format!("'{}' {why} (RFC 7208 §7.2)", letter_byte as char)));
    }
    let rest = &body[1..];
    let ndigits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let digits = if ndigits > 0 {
        let text = std::str::from_utf8(&rest[..ndigits]).unwrap_or("0");
        let value = text.parse::<u32>().unwrap_or(u32::MAX);
        if value == 0 {
            return Err(bad("the number of parts must be nonzero (RFC 7208 §7.3)".into()));
        }
        Some(value)
    } else {
        None
    };
    let mut rest = &rest[ndigits..];
    let reverse = matches!(rest.first(), Some(b'r' | b'R'));
    if reverse {
        rest = &rest[1..];
    }
    if let Some(b) = rest.iter().find(|b| !b".-+,/_=".contains(b)) {
        return Err(bad(format!(
            "'{}' is not a macro delimiter (. - + , / _ =) (RFC 7208 §7.1)",
            *b as char
        )));
    }
    let part = MacroPart::Macro {
        letter,
        url_escape: letter_byte.is_ascii_uppercase(),
        digits,
        reverse,
        delimiters: String::from_utf8_lossy(rest).into_owned(),
    };
    Ok((part, close + 1 - i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(record: &str) -> Vec<&'static str> {
        parse(record.as_bytes()).diagnostics.iter().map(|d| d.code).collect()
    }

    fn errors(record: &str) -> Vec<&'static str> {
        parse(record.as_bytes()).errors().map(|d| d.code).collect()
    }

    #[test]
    fn clean_record_parses_into_terms() {
        let p = parse(
            b"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mail.example.com/24//64 include:_spf.example.net -all",
        );
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let kinds: Vec<&str> = p.record.directives().map(|d| d.mechanism.name()).collect();
        assert_eq!(kinds, ["ip4", "ip6", "a", "mx", "include", "all"]);
        let Mechanism::Mx { cidr, domain } = &p.record.directives().nth(3).unwrap().mechanism else {
            panic!()
        };
        assert_eq!(*cidr, DualCidr { v4: 24, v6: 64 });
        assert_eq!(domain.as_ref().unwrap().text, "mail.example.com");
        assert_eq!(effective_all(&p.record), Some(Qualifier::Fail));
        let ip4 = p.record.directives().next().unwrap();
        assert_eq!(ip4.span, Span::new(7, 23));
    }

    #[test]
    fn version_must_be_exact() {
        assert!(is_spf_record(b"v=spf1"));
        assert!(is_spf_record(b"V=SPF1 -all"));
        assert!(!is_spf_record(b"v=spf10"));
        assert!(!is_spf_record(b"v=spf1.0 -all"));
        assert!(!is_spf_record(b" v=spf1 -all"));
        assert_eq!(errors("v=spf10 -all"), ["version"]);
        assert!(errors("v=spf1 -all").is_empty());
        assert!(looks_like_spf(b"v=spf1.0 -all"));
        assert!(looks_like_spf(b" v=spf1 -all"));
        assert!(!looks_like_spf(b"v=spf1 -all"));
        assert!(!looks_like_spf(b"google-site-verification=x"));
    }

    #[test]
    fn unknown_mechanism_is_an_error_with_its_span() {
        let p = parse(b"v=spf1 ip4:1.2.3.4 -all moo");
        let d = p.errors().next().unwrap();
        assert_eq!((d.code, d.span), ("unknown-mechanism", Span::new(24, 27)));
        assert_eq!(
            d.caret(&p.record.text).lines().nth(1).unwrap(),
            format!("{}^^^", " ".repeat(24))
        );
        assert_eq!(errors("v=spf1 redirect:example.com"), ["unknown-mechanism"]);
        assert!(errors("v=spf1 a").is_empty());
    }

    #[test]
    fn every_error_is_reported_not_just_the_first() {
        assert_eq!(
            errors("v=spf1 moo ip4:1.2.3.4/33 a:foo -all/8"),
            ["unknown-mechanism", "bad-cidr", "bad-domain", "mechanism-argument"]
        );
    }

    #[test]
    fn cidr_ranges_and_leading_zeros() {
        assert!(errors("v=spf1 ip4:1.2.3.4/0 ip4:1.2.3.4/32 ip6:::1/128 a/0 a//0 mx/24//64").is_empty());
        assert_eq!(errors("v=spf1 ip4:1.2.3.4/33"), ["bad-cidr"]);
        assert_eq!(errors("v=spf1 ip4:1.2.3.4/032"), ["bad-cidr"]);
        assert_eq!(errors("v=spf1 ip6:::1/129"), ["bad-cidr"]);
        assert_eq!(errors("v=spf1 a/33"), ["bad-cidr"]);
        assert_eq!(errors("v=spf1 mx//129"), ["bad-cidr"]);
        assert_eq!(errors("v=spf1 a/24/64"), ["bad-cidr"]);
        assert_eq!(errors("v=spf1 ip4:1.2.3.4//32"), ["bad-cidr"]);
        assert_eq!(errors("v=spf1 ip6:::1.1.1.1//33"), ["bad-cidr"]);
    }

    #[test]
    fn malformed_addresses() {
        assert!(errors("v=spf1 ip4:192.0.2.1 ip6:::FFFF:1.2.3.4 ip6:2001:db8::/32").is_empty());
        for bad in [
            "ip4:1.2.3",
            "ip4:1.2.3.4:8080",
            "ip4:01.2.3.4",
            "ip4:256.1.1.1",
            "ip6::CAFE::BABE",
            "ip6:1.2.3.4",
        ] {
            assert_eq!(errors(&format!("v=spf1 {bad}")), ["bad-ip"], "{bad}");
        }
        assert_eq!(errors("v=spf1 ip4"), ["missing-network"]);
        assert_eq!(errors("v=spf1 -all ip6"), ["missing-network"]);
    }

    #[test]
    fn domain_spec_toplabel_rule() {
        for good in [
            "a:foo.example.xn--zckzah",
            "a:foo:bar/baz.example.com",
            "a:mail.example...com",
            "a:%{d}",
            "include:%{ir}.%{v}._spf.%{d2}",
            "a:o.example.com.",
        ] {
            assert!(errors(&format!("v=spf1 {good}")).is_empty(), "{good}");
        }
        for bad in [
            "a:museum",
            "a:museum.",
            "a:abc.123",
            "a:111.222.33.44",
            "a:example.-com",
            "a:example.com:8080",
            "a:foo-bar",
            "exp=-all",
            "redirect=-all",
        ] {
            assert_eq!(errors(&format!("v=spf1 {bad}")), ["bad-domain"], "{bad}");
        }
        for empty in ["a:", "mx: -all", "include:", "exists:", "ptr:", "exp=", "redirect="] {
            assert_eq!(errors(&format!("v=spf1 {empty}")), ["empty-domain"], "{empty}");
        }
        assert_eq!(errors("v=spf1 include"), ["missing-domain"]);
        assert_eq!(errors("v=spf1 exists"), ["missing-domain"]);
    }

    #[test]
    fn all_takes_no_argument_and_ptr_no_cidr() {
        for bad in ["-all.", "-all:foobar", "-all/8", "ptr/0"] {
            assert_eq!(errors(&format!("v=spf1 {bad}")), ["mechanism-argument"], "{bad}");
        }
        assert_eq!(errors("v=spf1 include:example.com/24"), ["bad-domain"]);
        assert_eq!(errors("v=spf1 exists:mail.example.com/24"), ["bad-domain"]);
    }

    #[test]
    fn macro_syntax() {
        assert!(errors("v=spf1 a:macro%%percent%_%_space%-url-space.example.com exists:%{i}.%{l2r-}.user.%{d2} exists:%{l2r+-}.x.%{D}").is_empty());
        for bad in [
            "exists:%(ir).sbl.example.com",
            "exists:foo%.sbl.example.com",
            "exists:%{ir.x.com",
            "a:%{a}.example.com",
            "a:%{d0}.example.com",
            "exists:%{i!}.example.com",
            "exp=%{r}.example.com",
            "exists:%{}.example.com",
        ] {
            assert_eq!(errors(&format!("v=spf1 {bad}")), ["bad-macro"], "{bad}");
        }
    }

    #[test]
    fn modifiers_and_duplicates() {
        assert_eq!(codes("v=spf1 moo.cow-far_out=man:dog/cat -all"), ["unknown-modifier"]);
        assert_eq!(errors("v=spf1 moo.cow/far_out=man:dog/cat"), ["unknown-mechanism"]);
        assert_eq!(errors("v=spf1 1up=foo"), ["modifier-name"]);
        assert_eq!(errors("v=spf1 =all"), ["modifier-name"]);
        assert_eq!(errors("v=spf1 -all foo=%abc"), ["bad-macro"]);
        assert_eq!(
            errors("v=spf1 exp=a.example.com -all exp=b.example.com"),
            ["duplicate-modifier"]
        );
        assert_eq!(
            errors("v=spf1 redirect=a.example.com redirect=b.example.com"),
            ["duplicate-modifier"]
        );
        assert!(errors("v=spf1 -all exp=a.example.com redirect=b.example.com").is_empty());
        let p = parse(b"v=spf1 -all exp=explain.%{d}");
        assert_eq!(p.record.exp().unwrap().text, "explain.%{d}");
        assert!(p.record.redirect().is_none());
    }

    #[test]
    fn warnings_for_order_and_ignored_redirect() {
        assert_eq!(codes("v=spf1 all -all"), ["after-all"]);
        assert_eq!(codes("v=spf1 ip4:192.0.2.1 -all exp=x.example.com"), Vec::<&str>::new());
        assert_eq!(
            codes("v=spf1 redirect=x.example.com ~all"),
            ["modifier-position", "redirect-with-all"]
        );
        assert_eq!(codes("v=spf1 ip4:192.0.2.1 redirect=x.example.com"), Vec::<&str>::new());
        assert!(!parse(b"v=spf1 all -all").has_errors());
    }

    #[test]
    fn characters_outside_visible_ascii() {
        assert_eq!(errors("v=spf1 a:ctrl.example.com\rptr -all"), ["invalid-character"]);
        assert_eq!(errors("v=spf1 a:\u{ef}garbage.example.net -all"), ["invalid-character"]);
        assert_eq!(errors("v=spf1 a:foo.example.com\0"), ["invalid-character"]);
        assert!(errors("v=spf1  a   -all ").is_empty());
    }

    #[test]
    fn macro_expansion_transformers() {
        let ms = parse_macro_string(b"%{i}.%{l2r-}.user.%{d2}", 0, MacroContext::Domain).unwrap();
        let v = |c| match c {
            'i' => "1.2.3.4".to_string(),
            'l' => "philip-gladstone-test".to_string(),
            'd' => "e11.example.com".to_string(),
            _ => String::new(),
        };
        assert_eq!(ms.expand(v), "1.2.3.4.gladstone.philip.user.example.com");
        let ms = parse_macro_string(b"%{l2r+-}", 0, MacroContext::Domain).unwrap();
        assert_eq!(ms.expand(|_| "foo-bar+zip+quux".into()), "bar.foo");
        let ms = parse_macro_string(b"l=%{L}", 0, MacroContext::Explanation).unwrap();
        assert_eq!(
            ms.expand(|_| "~jack&jill=up-a_b3.c".into()),
            "l=~jack%26jill%3Dup-a_b3.c"
        );
        let ms = parse_macro_string(b"%{ir}.%{v}", 0, MacroContext::Domain).unwrap();
        assert_eq!(
            ms.expand(|c| if c == 'i' { "192.0.2.3".into() } else { "in-addr".into() }),
            "3.2.0.192.in-addr"
        );
        let ms = parse_macro_string(b"a%%b%_c%-d", 0, MacroContext::Domain).unwrap();
        assert_eq!(ms.expand(|_| String::new()), "a%b c%20d");
    }

    #[test]
    fn needs_message_distinguishes_d() {
        let ms = |s: &str| parse_macro_string(s.as_bytes(), 0, MacroContext::Domain).unwrap();
        assert!(!ms("_spf.%{d}").needs_message());
        assert!(!ms("_spf.example.com").needs_message());
        assert!(ms("%{i}._spf.%{d}").needs_message());
        assert!(ms("%{l}.users.%{d}").needs_message());
        assert!(ms("%{h}").needs_message());
    }

    #[test]
    fn explanation_allows_spaces_and_crt() {
        assert!(
            parse_macro_string(
                b"Connections from %{c} not authorized by %{r} at %{t}.",
                0,
                MacroContext::Explanation
            )
            .is_ok()
        );
        assert!(parse_macro_string(b"The %{x}-files.", 0, MacroContext::Explanation).is_err());
        assert!(parse_macro_string(b"a b", 0, MacroContext::Domain).is_err());
    }
}

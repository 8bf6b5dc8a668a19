//! DMARC policy records (RFC 7489 §6.3/§6.4, RFC 9989 §4.7/§4.8, RFC 9091
//! for `np`): a strict parser that keeps byte positions and reports every
//! problem it finds.
//!
//! [`parse`] never stops at the first problem. [`Level::Error`] marks what
//! the grammar forbids (a receiver discards the tag, or the whole record
//! when the version is wrong); [`Level::Warning`] marks what is legal but
//! obsolete or suspicious (unknown tags, tags removed by RFC 9989, the
//! `!size` suffix).
//!
//! The grammar followed is RFC 7489 §6.4 with the relaxations of RFC 9989
//! §4.8 (tags after `v` in any order, `p` optional) reported as warnings,
//! so that a record valid for receivers of either RFC passes cleanly.

use serde::Serialize;

pub use crate::diag::{Diagnostic, Level, Span};

/// A requested handling policy: `p`, `sp`, `np` (RFC 7489 §6.3
/// `dmarc-request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Take no action (monitor).
    None,
    /// Treat failing mail as suspicious.
    Quarantine,
    /// Reject failing mail.
    Reject,
}

impl Policy {
    /// The tag value as written in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }

    /// `quarantine` or `reject`: receivers are asked to act on failures.
    pub fn enforces(self) -> bool {
        self != Policy::None
    }

    fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "none" => Some(Policy::None),
            "quarantine" => Some(Policy::Quarantine),
            "reject" => Some(Policy::Reject),
            _ => None,
        }
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifier alignment mode: `adkim`, `aspf` (`dmarc-rors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Alignment {
    /// `r`: organisational domains must match (the default).
    Relaxed,
    /// `s`: the domains must be identical.
    Strict,
}

impl Alignment {
    /// The tag value as written in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            Alignment::Relaxed => "r",
            Alignment::Strict => "s",
        }
    }
}

/// The `psd` flag of RFC 9989 (`dmarc-psd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Psd {
    /// `psd=y`: the domain is a public suffix domain.
    Yes,
    /// `psd=n`: the domain is an organisational domain.
    No,
    /// `psd=u` (the default): decided by the tree walk.
    Unknown,
}

/// One `tag=value` pair as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    /// The tag name, lower-cased.
    pub name: String,
    /// The value with surrounding whitespace removed.
    pub value: String,
    /// The whole `tag=value`, without surrounding whitespace.
    pub span: Span,
    /// The value alone.
    pub value_span: Span,
}

/// One reporting URI of `rua` or `ruf` (RFC 7489 §6.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportUri {
    /// The URI as written, including any `!size` suffix.
    pub text: String,
    /// Where it is in the record.
    pub span: Span,
    /// The scheme, lower-cased (`mailto`), if the URI has one.
    pub scheme: Option<String>,
    /// For `mailto:`, the address (percent-decoded, query removed).
    pub address: Option<String>,
    /// For `mailto:`, the domain of the address, lower-cased.
    pub domain: Option<String>,
    /// The obsolete `!size` suffix (without the `!`), if present.
    pub size: Option<String>,
    /// No error-level diagnostic was raised for this URI.
    pub valid: bool,
}

/// A parsed DMARC record. Tags whose values are invalid are left as
/// `None` (their diagnostics say why), as receivers discard them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The record text (bytes outside ASCII replaced lossily).
    pub text: String,
    /// Every tag after `v`, in order, including unknown and duplicate ones.
    pub tags: Vec<Tag>,
    /// `v=DMARC1` is the first tag, exactly.
    pub version_ok: bool,
    /// `p=`: the domain's policy.
    pub p: Option<Policy>,
    /// `sp=`: the policy for subdomains.
    pub sp: Option<Policy>,
    /// `np=`: the policy for non-existent subdomains (RFC 9989).
    pub np: Option<Policy>,
    /// `adkim=`: DKIM identifier alignment.
    pub adkim: Option<Alignment>,
    /// `aspf=`: SPF identifier alignment.
    pub aspf: Option<Alignment>,
    /// `pct=` (removed by RFC 9989).
    pub pct: Option<u8>,
    /// Failure-reporting options, each of `0`, `1`, `d`, `s`.
    pub fo: Option<Vec<char>>,
    /// `rf=` (removed by RFC 9989).
    pub rf: Option<Vec<String>>,
    /// `ri=` (removed by RFC 9989).
    pub ri: Option<u32>,
    /// `rua=`: where aggregate reports go.
    pub rua: Vec<ReportUri>,
    /// `ruf=`: where failure reports go.
    pub ruf: Vec<ReportUri>,
    /// `t=y` (RFC 9989 testing mode).
    pub t: Option<bool>,
    /// `psd=` (RFC 9989).
    pub psd: Option<Psd>,
    /// Every problem found, in order of position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Record {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.level == Level::Error)
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.level == Level::Warning)
    }

    /// The first occurrence of a tag, if written.
    pub fn tag(&self, name: &str) -> Option<&Tag> {
        self.tags.iter().find(|t| t.name == name)
    }

    /// At least one `rua` URI is syntactically valid: RFC 7489 §6.6.3
    /// step 6 then treats a record without a valid `p` as `p=none`.
    pub fn has_valid_rua(&self) -> bool {
        self.rua.iter().any(|u| u.valid)
    }

    /// The policy for subdomains: `sp`, defaulting to `p` (RFC 7489 §6.3:
    /// "If absent, the policy specified by the "p" tag MUST be applied for
    /// subdomains").
    pub fn subdomain_policy(&self) -> Option<Policy> {
        self.sp.or(self.p)
    }

    /// The policy for non-existent subdomains: `np`, defaulting to `sp`,
    /// then `p` (RFC 9091 §4.1).
    pub fn nonexistent_policy(&self) -> Option<Policy> {
        self.np.or(self.sp).or(self.p)
    }

    /// The tags RFC 9989 removed (`pct`, `rf`, `ri`) that the record uses.
    pub fn removed_tags(&self) -> Vec<&Tag> {
        self.tags
            .iter()
            .filter(|t| REMOVED_TAGS.contains(&t.name.as_str()))
            .collect()
    }
}

/// Tags defined by RFC 7489 and removed by RFC 9989.
pub const REMOVED_TAGS: [&str; 3] = ["pct", "rf", "ri"];

/// Every tag RFC 7489, RFC 9091 or RFC 9989 defines.
pub const KNOWN_TAGS: [&str; 14] = [
    "v", "p", "sp", "np", "adkim", "aspf", "pct", "fo", "rf", "ri", "rua", "ruf", "t", "psd",
];

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// True when the TXT record starts with exactly `v=DMARC1` (RFC 7489
/// §6.4 `dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41 %x52 %x43
/// %x31`), followed by a separator or the end: the records receivers keep.
pub fn is_dmarc_record(bytes: &[u8]) -> bool {
    let mut i = 0;
    if bytes.first() != Some(&b'v') {
        return false;
    }
    i += 1;
    while i < bytes.len() && is_wsp(bytes[i]) {
        i += 1;
    }
    if bytes.get(i) != Some(&b'=') {
        return false;
    }
    i += 1;
    while i < bytes.len() && is_wsp(bytes[i]) {
        i += 1;
    }
    if !bytes[i..].starts_with(b"DMARC1") {
        return false;
    }
    i += 6;
    while i < bytes.len() && is_wsp(bytes[i]) {
        i += 1;
    }
    i == bytes.len() || bytes[i] == b';'
}

/// True for records that were probably meant as DMARC but do not start
/// with the exact version (`v=dmarc1`, ` v=DMARC1`, `v=DMARC2`, `DMARC1;
/// p=...`), so receivers ignore them.
pub fn looks_like_dmarc(bytes: &[u8]) -> bool {
    if is_dmarc_record(bytes) {
        return false;
    }
    let squashed: Vec<u8> = bytes
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(u8::to_ascii_lowercase)
        .collect();
    squashed.starts_with(b"v=dmarc")
        || squashed.starts_with(b"dmarc1")
        || (squashed.windows(6).any(|w| w == b"dmarc1")
            && (squashed.windows(2).any(|w| w == b"p=") || squashed.windows(4).any(|w| w == b"rua=")))
}

/// A `;`-separated piece of the record, trimmed of WSP.
struct Segment<'a> {
    text: &'a str,
    start: usize,
}

fn segments(text: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in text.split(';') {
        let lead = piece.len() - piece.trim_start_matches([' ', '\t']).len();
        let trimmed = piece.trim_matches([' ', '\t']);
        out.push(Segment {
            text: trimmed,
            start: start + lead,
        });
        start += piece.len() + 1;
    }
    out
}

/// Parse a DMARC record (the TXT character-strings already joined).
pub fn parse(bytes: &[u8]) -> Record {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut record = Record {
        text: text.clone(),
        ..Record::default()
    };
    let mut diags = Vec::new();
    if let Some(at) = bytes.iter().position(|b| !(0x20..=0x7e).contains(b) && *b != b'\t') {
        diags.push(Diagnostic::error(
            Span::new(at, at + 1),
            "bad-character",
            format!(
                "byte 0x{:02x} is not printable ASCII; DMARC values are \"any printing characters but semicolon\"",
                bytes[at]
            ),
        ));
    }
    if text.starts_with([' ', '\t']) {
        let lead = text.len() - text.trim_start().len();
        diags.push(Diagnostic::warning(
            Span::new(0, lead),
            "leading-whitespace",
            "the record starts with whitespace; `v=DMARC1` must come first",
        ));
    }
    let segs = segments(&text);
    let last = segs.len() - 1;
    for (i, seg) in segs.iter().enumerate() {
        if seg.text.is_empty() {
            if i == 0 {
                diags.push(Diagnostic::error(
                    Span::new(0, text.len().max(1)),
                    "version",
                    "the record must start with `v=DMARC1`",
                ));
            } else if i != last {
                diags.push(Diagnostic::warning(
                    Span::new(seg.start.saturating_sub(1), seg.start),
                    "empty-tag",
                    "an empty tag between two `;`",
                ));
            }
            continue;
        }
        let span = Span::new(seg.start, seg.start + seg.text.len());
        let Some(eq) = seg.text.find('=') else {
            if i == 0 {
                diags.push(Diagnostic::error(
                    span,
                    "version",
                    format!("the record must start with `v=DMARC1`, not `{}`", seg.text),
                ));
            } else {
                diags.push(Diagnostic::error(
                    span,
                    "missing-equals",
                    format!("`{}` is not a `tag=value` pair", seg.text),
                ));
            }
            continue;
        };
        let raw_name = seg.text[..eq].trim_end_matches([' ', '\t']);
        let value_part = &seg.text[eq + 1..];
        let value_lead = value_part.len() - value_part.trim_start_matches([' ', '\t']).len();
        let value = value_part.trim_start_matches([' ', '\t']);
        let value_start = seg.start + eq + 1 + value_lead;
        let value_span = Span::new(value_start, value_start + value.len());
        let name = raw_name.to_ascii_lowercase();
        if i == 0 {
            if name != "v" {
                diags.push(Diagnostic::error(
                    span,
                    "version",
                    format!("the first tag must be `v=DMARC1`, not `{}`", seg.text),
                ));
                // Still read it as a tag below, so its value is checked.
            } else if value != "DMARC1" {
                let hint = if value.eq_ignore_ascii_case("DMARC1") {
                    " (the version is case-sensitive)"
                } else {
                    ""
                };
                diags.push(Diagnostic::error(
                    value_span,
                    "version",
                    format!("the version must be exactly `DMARC1`, not `{value}`{hint}"),
                ));
                continue;
            } else if raw_name != "v" {
                diags.push(Diagnostic::error(
                    span,
                    "version",
                    "the version tag must be a lower-case `v`",
                ));
                continue;
            } else {
                record.version_ok = true;
                continue;
            }
        }
        if raw_name.is_empty() || !raw_name.bytes().all(|b| b.is_ascii_alphabetic()) {
            diags.push(Diagnostic::error(
                span,
                "bad-tag-name",
                format!("`{raw_name}` is not a tag name (letters only)"),
            ));
            continue;
        }
        if name == "v" {
            diags.push(Diagnostic::error(
                span,
                "version-not-first",
                "`v` must be the first tag, and only once",
            ));
            continue;
        }
        if value.is_empty() {
            diags.push(Diagnostic::error(
                span,
                "empty-value",
                format!("the `{name}` tag has no value"),
            ));
            continue;
        }
        if record.tags.iter().any(|t| t.name == name) {
            diags.push(Diagnostic::error(
                span,
                "duplicate-tag",
                format!("the `{name}` tag appears more than once; RFC 6376 §3.2 makes such a tag-list invalid"),
            ));
            record.tags.push(Tag {
                name,
                value: value.to_string(),
                span,
                value_span,
            });
            continue;
        }
        record.tags.push(Tag {
            name: name.clone(),
            value: value.to_string(),
            span,
            value_span,
        });
        check_tag(&mut record, &mut diags, &name, value, value_span);
    }
    if !record.version_ok && !diags.iter().any(|d| d.code == "version") {
        diags.push(Diagnostic::error(
            Span::new(0, 0),
            "version",
            "the record must start with `v=DMARC1`",
        ));
    }
    if record.version_ok {
        match record.tags.iter().position(|t| t.name == "p") {
            None => diags.push(Diagnostic::error(
                Span::new(text.len(), text.len()),
                "missing-p",
                "no `p` tag: RFC 7489 requires it (its receivers read the record as `p=none` only if `rua` has a valid URI, otherwise they apply no DMARC at all); RFC 9989 reads it as `p=none`",
            )),
            Some(0) => {}
            Some(at) => diags.push(Diagnostic::warning(
                record.tags[at].span,
                "p-not-second",
                "`p` should directly follow `v=DMARC1` (RFC 7489 §6.4 grammar; RFC 9989 allows any order)",
            )),
        }
    }
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    record.diagnostics = diags;
    record
        .diagnostics
        .iter_mut()
        .for_each(|d| d.span = d.span.clamp_to(record.text.len()));
    record
}

fn check_tag(record: &mut Record, diags: &mut Vec<Diagnostic>, name: &str, value: &str, span: Span) {
    match name {
        "p" | "sp" | "np" => match Policy::parse(value) {
            Some(p) => match name {
                "p" => record.p = Some(p),
                "sp" => record.sp = Some(p),
                _ => record.np = Some(p),
            },
            None => diags.push(Diagnostic::error(
                span,
                "invalid-policy",
                format!("`{name}={value}`: the policy must be none, quarantine or reject"),
            )),
        },
        "adkim" | "aspf" => {
            let a = match value.to_ascii_lowercase().as_str() {
                "r" => Some(Alignment::Relaxed),
                "s" => Some(Alignment::Strict),
                _ => None,
            };
            match a {
                Some(a) if name == "adkim" => record.adkim = Some(a),
                Some(a) => record.aspf = Some(a),
                None => diags.push(Diagnostic::error(
                    span,
                    "invalid-alignment",
                    format!("`{name}={value}`: alignment must be `r` (relaxed) or `s` (strict)"),
                )),
            }
        }
        "pct" => {
            removed(diags, name, span);
            let ok = !value.is_empty() && value.len() <= 3 && value.bytes().all(|b| b.is_ascii_digit());
            match value.parse::<u8>() {
                Ok(n) if ok && n <= 100 => record.pct = Some(n),
                _ => diags.push(Diagnostic::error(
                    span,
                    "invalid-pct",
                    format!("`pct={value}`: must be an integer from 0 to 100"),
                )),
            }
        }
        "ri" => {
            removed(diags, name, span);
            let ok = value.len() <= 32 && value.bytes().all(|b| b.is_ascii_digit());
            match value.parse::<u32>() {
                Ok(n) if ok => record.ri = Some(n),
                _ => diags.push(Diagnostic::error(
                    span,
                    "invalid-ri",
                    format!("`ri={value}`: must be a number of seconds (32-bit unsigned integer)"),
                )),
            }
        }
        "rf" => {
            removed(diags, name, span);
            let formats: Vec<String> = value
                .split(':')
                .map(|f| f.trim_matches([' ', '\t']).to_ascii_lowercase())
                .collect();
            if formats.iter().any(|f| !is_keyword(f)) {
                diags.push(Diagnostic::error(
                    span,
                    "invalid-rf",
                    format!("`rf={value}`: must be a colon-separated list of report formats such as `afrf`"),
                ));
            } else {
                if let Some(other) = formats.iter().find(|f| *f != "afrf") {
                    diags.push(Diagnostic::warning(
                        span,
                        "unknown-rf",
                        format!("`{other}` is not a registered failure-report format (only `afrf` is)"),
                    ));
                }
                record.rf = Some(formats);
            }
        }
        "fo" => {
            let opts: Vec<&str> = value.split(':').map(|o| o.trim_matches([' ', '\t'])).collect();
            if opts.iter().all(|o| matches!(*o, "0" | "1" | "d" | "s" | "D" | "S")) {
                let chars: Vec<char> = opts
                    .iter()
                    .filter_map(|o| o.chars().next())
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                let mut seen = chars.clone();
                seen.sort_unstable();
                seen.dedup();
                if seen.len() != chars.len() {
                    diags.push(Diagnostic::warning(
                        span,
                        "fo-repeated",
                        format!("`fo={value}` repeats an option"),
                    ));
                }
                record.fo = Some(chars);
            } else {
                diags.push(Diagnostic::error(
                    span,
                    "invalid-fo",
                    format!("`fo={value}`: must be `0`, `1`, `d`, `s` or a colon-separated list of them"),
                ));
            }
        }
        "rua" | "ruf" => {
            let uris = parse_uris(value, span.start, diags);
            if name == "rua" {
                record.rua = uris;
            } else {
                record.ruf = uris;
            }
        }
        "t" => match value.to_ascii_lowercase().as_str() {
            "y" => record.t = Some(true),
            "n" => record.t = Some(false),
            _ => diags.push(Diagnostic::error(
                span,
                "invalid-t",
                format!("`t={value}`: must be `y` or `n`"),
            )),
        },
        "psd" => match value.to_ascii_lowercase().as_str() {
            "y" => record.psd = Some(Psd::Yes),
            "n" => record.psd = Some(Psd::No),
            "u" => record.psd = Some(Psd::Unknown),
            _ => diags.push(Diagnostic::error(
                span,
                "invalid-psd",
                format!("`psd={value}`: must be `y`, `n` or `u`"),
            )),
        },
        _ => diags.push(Diagnostic::warning(
            span,
            "unknown-tag",
            format!("`{name}` is not a DMARC tag; receivers ignore it"),
        )),
    }
}

fn removed(diags: &mut Vec<Diagnostic>, name: &str, span: Span) {
    diags.push(Diagnostic::warning(
        span,
        "removed-tag",
        format!("`{name}` was removed by RFC 9989; receivers that follow it ignore the tag"),
    ));
}

/// RFC 5321 §4.1.2 `Keyword` (Ldh-str).
fn is_keyword(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// Split a `dmarc-urilist` (RFC 7489 §6.4: `dmarc-uri *(*WSP "," *WSP
/// dmarc-uri)`) and check each URI.
fn parse_uris(value: &str, start: usize, diags: &mut Vec<Diagnostic>) -> Vec<ReportUri> {
    let mut out = Vec::new();
    let mut offset = 0;
    for piece in value.split(',') {
        let lead = piece.len() - piece.trim_start_matches([' ', '\t']).len();
        let text = piece.trim_matches([' ', '\t']);
        let s = start + offset + lead;
        offset += piece.len() + 1;
        let span = Span::new(s, s + text.len());
        if text.is_empty() {
            diags.push(Diagnostic::error(
                Span::new(s, s.max(start + offset - 1)),
                "invalid-uri",
                "an empty URI in the list",
            ));
            continue;
        }
        out.push(parse_uri(text, span, diags));
    }
    out
}

fn parse_uri(text: &str, span: Span, diags: &mut Vec<Diagnostic>) -> ReportUri {
    let before = diags.iter().filter(|d| d.level == Level::Error).count();
    let (uri, size) = match text.split_once('!') {
        Some((u, s)) => (u, Some(s)),
        None => (text, None),
    };
    if let Some(size) = size {
        let digits = size.trim_end_matches(['k', 'm', 'g', 't', 'K', 'M', 'G', 'T']);
        let unit_len = size.len() - digits.len();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || unit_len > 1 {
            diags.push(Diagnostic::error(
                span,
                "invalid-size",
                format!("`!{size}` is not a size limit (digits with an optional k, m, g or t)"),
            ));
        } else {
            diags.push(Diagnostic::warning(
                span,
                "size-suffix",
                format!("the `!{size}` size limit is obsolete: RFC 9989 dropped it and receivers ignore it"),
            ));
        }
    }
    let mut out = ReportUri {
        text: text.to_string(),
        span,
        scheme: None,
        address: None,
        domain: None,
        size: size.map(str::to_string),
        valid: false,
    };
    let scheme_end = uri.find(':');
    let scheme_ok = scheme_end.is_some_and(|e| {
        let s = &uri.as_bytes()[..e];
        !s.is_empty()
            && s[0].is_ascii_alphabetic()
            && s.iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    });
    if !scheme_ok {
        diags.push(Diagnostic::error(
            span,
            "invalid-uri",
            format!("`{uri}` is not a URI (expected e.g. `mailto:dmarc@example.com`)"),
        ));
        return out;
    }
    let e = scheme_end.unwrap_or(0);
    let scheme = uri[..e].to_ascii_lowercase();
    let rest = &uri[e + 1..];
    if rest
        .bytes()
        .any(|b| !b.is_ascii_graphic() || matches!(b, b'"' | b'<' | b'>' | b'\\' | b'`'))
    {
        diags.push(Diagnostic::error(
            span,
            "invalid-uri",
            format!("`{uri}` contains characters a URI cannot"),
        ));
    }
    if scheme == "mailto" {
        let target = rest.split_once('?').map_or(rest, |(a, _)| a);
        match percent_decode(target) {
            None => diags.push(Diagnostic::error(
                span,
                "invalid-uri",
                format!("`{uri}` has a malformed %-escape"),
            )),
            Some(addr) => match addr.rsplit_once('@') {
                Some((local, domain)) if !local.is_empty() && is_hostname(domain) && !addr.contains(',') => {
                    out.domain = Some(domain.trim_end_matches('.').to_ascii_lowercase());
                    out.address = Some(addr.clone());
                }
                _ => diags.push(Diagnostic::error(
                    span,
                    "invalid-mailto",
                    format!("`{uri}`: `{addr}` is not a single valid email address"),
                )),
            },
        }
    } else {
        diags.push(Diagnostic::warning(
            span,
            "non-mailto-uri",
            format!("`{scheme}:` reporting URIs are not supported by receivers in general; only `mailto:` must be"),
        ));
    }
    out.scheme = Some(scheme);
    let after = diags.iter().filter(|d| d.level == Level::Error).count();
    out.valid = after == before;
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A host name with at least two labels of letters, digits and hyphens.
fn is_hostname(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.len() <= 253
        && name.contains('.')
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(r: &Record) -> Vec<&'static str> {
        r.diagnostics.iter().map(|d| d.code).collect()
    }

    #[test]
    fn a_good_record_parses_cleanly() {
        let r = parse(b"v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; aspf=r; rua=mailto:dmarc@example.com, mailto:x@report.example.net; ruf=mailto:f@example.com; fo=0:d; t=n; psd=n");
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        assert!(r.version_ok);
        assert_eq!(r.p, Some(Policy::Reject));
        assert_eq!(r.sp, Some(Policy::Quarantine));
        assert_eq!(r.np, Some(Policy::Reject));
        assert_eq!(r.adkim, Some(Alignment::Strict));
        assert_eq!(r.aspf, Some(Alignment::Relaxed));
        assert_eq!(r.rua.len(), 2);
        assert_eq!(r.rua[1].domain.as_deref(), Some("report.example.net"));
        assert_eq!(r.fo, Some(vec!['0', 'd']));
        assert_eq!(r.t, Some(false));
        assert_eq!(r.psd, Some(Psd::No));
    }

    #[test]
    fn defaults_follow_the_rfcs() {
        let r = parse(b"v=DMARC1; p=reject");
        assert_eq!(r.subdomain_policy(), Some(Policy::Reject));
        assert_eq!(r.nonexistent_policy(), Some(Policy::Reject));
        let r = parse(b"v=DMARC1; p=reject; sp=none");
        assert_eq!(r.nonexistent_policy(), Some(Policy::None));
    }

    #[test]
    fn version_must_be_first_and_exact() {
        for bad in [
            &b"v=dmarc1; p=none"[..],
            b"p=none; v=DMARC1",
            b"v=DMARC2; p=none",
            b"V=DMARC1; p=none",
            b"",
        ] {
            let r = parse(bad);
            assert!(!r.version_ok, "{}", String::from_utf8_lossy(bad));
            assert!(codes(&r).contains(&"version"), "{bad:?}: {:?}", r.diagnostics);
        }
        assert!(is_dmarc_record(b"v = DMARC1 ;p=none"));
        assert!(is_dmarc_record(b"v=DMARC1"));
        assert!(!is_dmarc_record(b"v=DMARC1p=none"));
        assert!(!is_dmarc_record(b"v=dmarc1; p=none"));
        assert!(looks_like_dmarc(b"v=dmarc1; p=none"));
        assert!(looks_like_dmarc(b" v=DMARC1; p=none"));
        assert!(!looks_like_dmarc(b"v=spf1 -all"));
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let text = "v=DMARC1; p=rejct; pct=150; pct=50; foo=bar; adkim=x; rua=mailto:nobody";
        let r = parse(text.as_bytes());
        let c = codes(&r);
        for want in [
            "invalid-policy",
            "invalid-pct",
            "duplicate-tag",
            "unknown-tag",
            "invalid-alignment",
            "invalid-mailto",
            "removed-tag",
        ] {
            assert!(c.contains(&want), "missing {want}: {c:?}");
        }
        let bad = r.diagnostics.iter().find(|d| d.code == "invalid-policy").unwrap();
        assert_eq!(&text[bad.span.start..bad.span.end], "rejct");
        let dup = r.diagnostics.iter().find(|d| d.code == "duplicate-tag").unwrap();
        assert_eq!(&text[dup.span.start..dup.span.end], "pct=50");
        assert_eq!(r.p, None);
    }

    #[test]
    fn missing_p_is_an_error_and_p_order_a_warning() {
        let r = parse(b"v=DMARC1; rua=mailto:d@example.com");
        assert!(codes(&r).contains(&"missing-p"));
        assert!(r.has_valid_rua());
        let r = parse(b"v=DMARC1; rua=mailto:d@example.com; p=none");
        assert_eq!(codes(&r), vec!["p-not-second"]);
    }

    #[test]
    fn uris_size_suffix_and_schemes() {
        let text =
            "v=DMARC1; p=none; rua=mailto:a@example.com!10m, https://r.example/x, mailto:b@example.com!x, nothing";
        let r = parse(text.as_bytes());
        let c = codes(&r);
        assert!(c.contains(&"size-suffix"));
        assert!(c.contains(&"non-mailto-uri"));
        assert!(c.contains(&"invalid-size"));
        assert!(c.contains(&"invalid-uri"));
        assert_eq!(r.rua.len(), 4);
        assert!(r.rua[0].valid);
        assert_eq!(r.rua[0].size.as_deref(), Some("10m"));
        assert!(r.rua[1].valid);
        assert!(!r.rua[2].valid);
        let sized = r.diagnostics.iter().find(|d| d.code == "size-suffix").unwrap();
        assert_eq!(&text[sized.span.start..sized.span.end], "mailto:a@example.com!10m");
        let r = parse(b"v=DMARC1; p=none; rua=mailto:d%40x@example.com");
        assert_eq!(r.rua[0].address.as_deref(), Some("d@x@example.com"));
        let r = parse(b"v=DMARC1; p=none; rua=mailto:a@example.com%zz");
        assert!(codes(&r).contains(&"invalid-uri"));
    }

    #[test]
    fn other_values() {
        let r = parse(b"v=DMARC1; p=none; fo=1:x; t=maybe; psd=q; ri=abc; rf=afrf:iodef; fo=1");
        let c = codes(&r);
        for want in [
            "invalid-fo",
            "invalid-t",
            "invalid-psd",
            "invalid-ri",
            "unknown-rf",
            "duplicate-tag",
        ] {
            assert!(c.contains(&want), "missing {want}: {c:?}");
        }
        let r = parse(b"v=DMARC1; p=none; fo = d : s; ri=3600; rf=afrf; t=y; psd=u");
        assert!(r.errors().next().is_none(), "{:?}", r.diagnostics);
        assert_eq!(r.fo, Some(vec!['d', 's']));
        assert_eq!(r.t, Some(true));
        assert_eq!(r.removed_tags().len(), 2);
    }

    #[test]
    fn separators_and_empty_values() {
        let r = parse(b"v=DMARC1;;p=none;");
        assert_eq!(codes(&r), vec!["empty-tag"]);
        let r = parse(b"v=DMARC1; p=; sp");
        let c = codes(&r);
        assert!(c.contains(&"empty-value") && c.contains(&"missing-equals"), "{c:?}");
        let r = parse(b"v=DMARC1 p=none");
        assert!(!r.version_ok);
        let r = parse("v=DMARC1; p=none; rua=mailto:é@example.com".as_bytes());
        assert!(codes(&r).contains(&"bad-character"));
    }

    /// Found by the span property test: an empty record's `version`
    /// error was `0..1`, one byte past the end.
    #[test]
    fn spans_of_what_is_missing_stay_inside_the_record() {
        for text in [&b""[..], b"v=DMARC1;", b"v=DMARC1; p="] {
            let r = parse(text);
            crate::diag::assert_some_all_within(&r.diagnostics, r.text.len());
        }
    }
}

//! MTA-STS (RFC 8461): the `_mta-sts.<domain>` TXT record (§3.1) and the
//! policy file served at `https://mta-sts.<domain>/.well-known/mta-sts.txt`
//! (§3.2). Strict parsers that keep positions and report every problem.
//!
//! The record grammar (RFC 8461 §3.1):
//!
//! ```text
//! sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//! sts-field       = sts-id / sts-extension
//! sts-field-delim = *WSP ";" *WSP
//! sts-version     = %s"v=STSv1"
//! sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//! sts-extension   = sts-ext-name "=" sts-ext-value
//! sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//! sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
//! ```
//!
//! The policy file is parsed by [`parse_policy`], a pure function over the
//! bytes of the body as the HTTPS fetch returned it.

use serde::Serialize;

use crate::fields::{self, First, Piece, valid_ext_name, valid_ext_value};

pub use crate::diag::{Diagnostic, Level, Span};

/// The largest `max_age` RFC 8461 §3.2 allows: "maximum value of 31557600".
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// A `max_age` below this protects too briefly: a policy that expires
/// within a day leaves senders without one after a short outage of the
/// policy host.
pub const MAX_AGE_TOO_SHORT: u64 = 86_400;

/// One `name=value` field of the record, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// The name as written.
    pub name: String,
    /// The value as written.
    pub value: String,
    /// Where the field is in the record.
    pub span: Span,
    /// Where its value is.
    pub value_span: Span,
}

/// A parsed `_mta-sts` TXT record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The record text (bytes outside ASCII replaced lossily).
    pub text: String,
    /// The record starts with exactly `v=STSv1`.
    pub version_ok: bool,
    /// The `id` value when it is valid (1 to 32 letters and digits).
    pub id: Option<String>,
    /// Every field after the version, in order.
    pub fields: Vec<Field>,
    /// Every problem found, in order of position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Record {
    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.level == Level::Error)
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

/// True when the record begins with `v=STSv1` followed by a delimiter or
/// the end: the records senders keep (RFC 8461 §3.1: "records that do not
/// begin with "v=STSv1;" are discarded").
pub fn is_sts_record(text: &str) -> bool {
    text.strip_prefix("v=STSv1").is_some_and(|rest| {
        rest.trim_start_matches([' ', '\t']).is_empty() || rest.trim_start_matches([' ', '\t']).starts_with(';')
    })
}

/// True for a record that was probably meant as MTA-STS but is discarded
/// (`v=stsv1`, ` v=STSv1`, `v = STSv1`).
pub fn looks_like_sts(text: &str) -> bool {
    if is_sts_record(text) {
        return false;
    }
    let squashed: String = text
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    squashed.starts_with("v=sts")
}

/// A valid `id`: 1 to 32 ASCII letters and digits.
pub fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Parse an `_mta-sts` TXT record (character-strings already joined).
pub fn parse(bytes: &[u8]) -> Record {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut record = Record {
        text: text.clone(),
        ..Record::default()
    };
    let mut diags = Vec::new();
    let mut ids = 0;
    for piece in fields::lex(bytes, &text) {
        let raw = match piece {
            Piece::Problem(d) => {
                diags.push(d);
                continue;
            }
            Piece::Version(First { piece, trimmed, lead }) => {
                if trimmed == "v=STSv1" && lead == 0 {
                    record.version_ok = true;
                } else {
                    let why = if trimmed.eq_ignore_ascii_case("v=STSv1")
                        || trimmed.replace([' ', '\t'], "") == "v=STSv1"
                    {
                        format!(
                            "the record must begin with exactly `v=STSv1` (case-sensitive, no spaces), not `{piece}`"
                        )
                    } else {
                        format!("the record must begin with `v=STSv1`, not `{trimmed}`")
                    };
                    diags.push(Diagnostic::new(
                        Level::Error,
                        Span::new(0, piece.len().max(1)),
                        "version",
                        why,
                    ));
                }
                continue;
            }
            Piece::Field(raw) => raw,
        };
        let (name, value, span, value_span) = (raw.name, raw.value, raw.span, raw.value_span);
        record.fields.push(Field {
            name: name.to_string(),
            value: value.to_string(),
            span,
            value_span,
        });
        if raw.duplicate {
            continue;
        }
        match name {
            "v" => diags.push(Diagnostic::new(
                Level::Error,
                span,
                "version-not-first",
                "`v=STSv1` must be the first field, and only once",
            )),
            "id" => {
                ids += 1;
                if valid_id(value) {
                    record.id = Some(value.to_string());
                } else {
                    let why = if value.is_empty() {
                        "the `id` is empty".to_string()
                    } else if value.len() > 32 {
                        format!("the `id` has {} characters; at most 32 are allowed", value.len())
                    } else {
                        format!("the `id` `{value}` may contain only letters and digits")
                    };
                    diags.push(Diagnostic::new(Level::Error, value_span, "id-invalid", why));
                }
            }
            _ => {
                if !valid_ext_name(name) {
                    diags.push(Diagnostic::new(
                        Level::Error,
                        span,
                        "bad-field-name",
                        format!("`{name}` is not a field name (letters, digits, `_`, `-`, `.`; at most 32)"),
                    ));
                } else if !valid_ext_value(value) {
                    diags.push(Diagnostic::new(
                        Level::Error,
                        value_span.max_width(1),
                        "bad-field-value",
                        format!("the value of `{name}` must be non-empty printable ASCII without spaces, `=` or `;`"),
                    ));
                } else if name.eq_ignore_ascii_case("id") {
                    diags.push(Diagnostic::new(
                        Level::Error,
                        span,
                        "id-case",
                        format!("`{name}` is not `id` (field names are case-sensitive)"),
                    ));
                } else {
                    diags.push(Diagnostic::new(
                        Level::Warning,
                        span,
                        "unknown-field",
                        format!("`{name}` is not a field RFC 8461 defines; senders ignore it"),
                    ));
                }
            }
        }
    }
    if record.version_ok && ids == 0 && !diags.iter().any(|d| d.code == "id-case") {
        diags.push(Diagnostic::new(
            Level::Error,
            Span::new(text.len(), text.len() + 1),
            "id-missing",
            "the record has no `id` field (RFC 8461 §3.1 requires one)",
        ));
    }
    record.diagnostics = diags;
    record
        .diagnostics
        .iter_mut()
        .for_each(|d| d.span = d.span.clamp_to(record.text.len()));
    record
}

trait MaxWidth {
    fn max_width(self, min: usize) -> Self;
}

impl MaxWidth for Span {
    /// At least `min` wide, so a caret shows for an empty value.
    fn max_width(self, min: usize) -> Self {
        Span::new(self.start, self.end.max(self.start + min))
    }
}

// --- The policy file (RFC 8461 §3.2) ------------------------------------

/// The policy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Senders must not deliver without a valid TLS connection to a listed MX.
    Enforce,
    /// Senders report failures but deliver anyway.
    Testing,
    /// The policy is withdrawn.
    None,
}

impl Mode {
    /// The value as written in a policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// A problem in the policy file: the one [`Diagnostic`] of every record
/// parser (its span in bytes of the whole body), and the 1-based line it is
/// on. Serialised flat, `line` first, as before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyDiagnostic {
    /// The 1-based line of the body.
    pub line: usize,
    /// The problem; its span is in bytes of the whole body.
    #[serde(flatten)]
    pub diagnostic: Diagnostic,
}

/// A policy diagnostic reads as the diagnostic it holds (`d.code`,
/// `d.level`, `d.span`, `d.message`).
impl std::ops::Deref for PolicyDiagnostic {
    type Target = Diagnostic;

    fn deref(&self) -> &Diagnostic {
        &self.diagnostic
    }
}

impl PolicyDiagnostic {
    /// The diagnostic's line of `body` (the body it was found in) and a
    /// caret line under the offending bytes; a problem at the end of the
    /// file gets its caret just after the last line.
    pub fn caret(&self, body: &str) -> String {
        let mut line_start = 0;
        let mut text = "";
        for (index, raw) in body.split('\n').enumerate() {
            if index + 1 == self.line {
                text = raw.strip_suffix('\r').unwrap_or(raw);
                break;
            }
            line_start += raw.len() + 1;
        }
        let start = self.span.start.saturating_sub(line_start);
        let end = start + self.span.end.saturating_sub(self.span.start);
        crate::visible::excerpt(text, Span::new(start, end))
    }
}

/// One `mx` pattern as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MxPattern {
    /// The pattern as written (`*.` allowed as the whole left-most label).
    pub pattern: String,
    /// Its 1-based line.
    pub line: usize,
}

/// Which line endings the body uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineEndings {
    /// Every line ends in CRLF, as RFC 8461 §3.2 says.
    Crlf,
    /// Every line ends in LF alone.
    Lf,
    /// Some lines end in CRLF, some in LF.
    Mixed,
    /// A single line without a terminator.
    None,
}

/// A parsed policy file. Fields with invalid values are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// `version: STSv1` is the first line.
    pub version_ok: bool,
    /// `mode`, if valid.
    pub mode: Option<Mode>,
    /// `max_age` in seconds, if valid.
    pub max_age: Option<u64>,
    /// The `mx` patterns, in order.
    pub mx: Vec<MxPattern>,
    /// Which line endings the body uses.
    pub line_endings: LineEndings,
    /// Every problem found, with its line.
    pub diagnostics: Vec<PolicyDiagnostic>,
}

impl Policy {
    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &PolicyDiagnostic> {
        self.diagnostics.iter().filter(|d| d.level == Level::Error)
    }

    /// No error: senders can apply the policy.
    pub fn is_valid(&self) -> bool {
        self.errors().next().is_none()
    }
}

/// RFC 8461 §3.2 `sts-policy-mx-value = ["*."] Domain`: a wildcard only as
/// the whole left-most label; LDH labels of at most 63 octets, at least two.
fn valid_mx_pattern(p: &str) -> bool {
    let host = p.strip_prefix("*.").unwrap_or(p);
    let host = host.strip_suffix('.').unwrap_or(host);
    let labels: Vec<&str> = host.split('.').collect();
    host.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// Parse a policy file body (RFC 8461 §3.2): `key: value` lines separated
/// by CRLF or LF. Every problem is reported with its line.
pub fn parse_policy(body: &[u8]) -> Policy {
    let text = String::from_utf8_lossy(body).into_owned();
    let mut diags: Vec<PolicyDiagnostic> = Vec::new();
    let push = |diags: &mut Vec<PolicyDiagnostic>, line, span, level, code, message: String| {
        diags.push(PolicyDiagnostic {
            line,
            diagnostic: Diagnostic::new(level, span, code, message),
        });
    };
    let crlf = text.matches("\r\n").count();
    let lf = text.matches('\n').count() - crlf;
    let line_endings = match (crlf, lf) {
        (0, 0) => LineEndings::None,
        (_, 0) => LineEndings::Crlf,
        (0, _) => LineEndings::Lf,
        _ => LineEndings::Mixed,
    };
    if line_endings == LineEndings::Lf {
        let first_end = text.find('\n').unwrap_or(0);
        push(
            &mut diags,
            1,
            Span::new(first_end, first_end + 1),
            Level::Warning,
            "lf-line-endings",
            "lines end in a bare LF: RFC 8461 §3.2 describes the policy as CRLF-separated key/value pairs (its grammar also accepts LF, but a strict reader may not)".into(),
        );
    }
    if line_endings == LineEndings::Mixed {
        push(
            &mut diags,
            1,
            Span::new(0, 1),
            Level::Warning,
            "mixed-line-endings",
            format!(
                "the file mixes CRLF ({crlf} lines) and bare LF ({lf} lines) line endings; use one, CRLF as RFC 8461 §3.2 shows"
            ),
        );
    }
    let mut policy = Policy {
        version_ok: false,
        mode: None,
        max_age: None,
        mx: Vec::new(),
        line_endings,
        diagnostics: Vec::new(),
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut version_line = None;
    let mut offset = 0;
    let lines: Vec<&str> = text.split('\n').collect();
    let count = lines.len();
    for (index, raw) in lines.iter().enumerate() {
        let n = index + 1;
        let line_start = offset;
        offset += raw.len() + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let whole = Span::new(line_start, line_start + line.len().max(1));
        if line.contains('\r') {
            push(
                &mut diags,
                n,
                whole,
                Level::Error,
                "bare-cr",
                "a carriage return inside a line; lines end in CRLF or LF".into(),
            );
        }
        if line.trim_matches([' ', '\t']).is_empty() {
            // The element after a final line terminator is not a line.
            if index + 1 != count {
                push(
                    &mut diags,
                    n,
                    whole,
                    Level::Warning,
                    "empty-line",
                    "an empty line; the policy is one `key: value` field per line".into(),
                );
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            push(
                &mut diags,
                n,
                whole,
                Level::Error,
                "leading-whitespace",
                "the line starts with whitespace; a field name must start the line".into(),
            );
        }
        let content = line.trim_start_matches([' ', '\t']);
        let lead = line.len() - content.len();
        let Some(colon) = content.find(':') else {
            push(
                &mut diags,
                n,
                whole,
                Level::Error,
                "missing-colon",
                format!("`{content}` is not a `key: value` field"),
            );
            continue;
        };
        let key = &content[..colon];
        let after = &content[colon + 1..];
        let value = after.trim_matches([' ', '\t']);
        let value_at = line_start + lead + colon + 1 + (after.len() - after.trim_start_matches([' ', '\t']).len());
        let value_span = Span::new(value_at, value_at + value.len().max(1));
        let key_span = Span::new(line_start + lead, line_start + lead + key.len().max(1));
        if key != key.trim_end_matches([' ', '\t']) {
            push(
                &mut diags,
                n,
                key_span,
                Level::Error,
                "space-before-colon",
                format!("`{key}` has whitespace before the `:`"),
            );
        }
        let key = key.trim_end_matches([' ', '\t']);
        // RFC 8461 §3.2: of a repeated field other than `mx`, "all entries
        // except for the first SHALL be ignored": legal, but a trap.
        if key != "mx" && seen.contains(&key) {
            push(
                &mut diags,
                n,
                key_span,
                Level::Warning,
                "duplicate-key",
                format!(
                    "`{key}` appears more than once; senders use the first and ignore this one (only `mx` may repeat)"
                ),
            );
            continue;
        }
        seen.push(key);
        match key {
            "version" => {
                version_line = Some(n);
                if value == "STSv1" {
                    policy.version_ok = true;
                } else {
                    push(
                        &mut diags,
                        n,
                        value_span,
                        Level::Error,
                        "version",
                        format!("the version must be exactly `STSv1`, not `{value}`"),
                    );
                }
            }
            "mode" => match value {
                "enforce" => policy.mode = Some(Mode::Enforce),
                "testing" => policy.mode = Some(Mode::Testing),
                "none" => policy.mode = Some(Mode::None),
                _ => push(
                    &mut diags,
                    n,
                    value_span,
                    Level::Error,
                    "mode",
                    format!("the mode must be `enforce`, `testing` or `none` (lower case), not `{value}`"),
                ),
            },
            "max_age" => {
                if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
                    push(
                        &mut diags,
                        n,
                        value_span,
                        Level::Error,
                        "max-age",
                        format!("`max_age` must be 1 to 10 digits (seconds), not `{value}`"),
                    );
                } else {
                    let age: u64 = value.parse().unwrap_or(u64::MAX);
                    policy.max_age = Some(age);
                    if age > MAX_AGE_LIMIT {
                        push(
                            &mut diags,
                            n,
                            value_span,
                            Level::Error,
                            "max-age-too-long",
                            format!("`max_age` {age} exceeds the maximum of {MAX_AGE_LIMIT} seconds (one year)"),
                        );
                    } else if age < MAX_AGE_TOO_SHORT {
                        push(
                            &mut diags,
                            n,
                            value_span,
                            Level::Warning,
                            "max-age-too-short",
                            format!(
                                "`max_age` {age} is under a day: the policy lapses before it protects much; use weeks (e.g. 604800 or more)"
                            ),
                        );
                    }
                }
            }
            "mx" => {
                if valid_mx_pattern(value) {
                    policy.mx.push(MxPattern {
                        pattern: value.to_ascii_lowercase(),
                        line: n,
                    });
                } else {
                    push(
                        &mut diags,
                        n,
                        value_span,
                        Level::Error,
                        "mx-pattern",
                        format!(
                            "`{value}` is not an MX pattern: a host name, optionally with `*.` as the whole left-most label"
                        ),
                    );
                }
            }
            other => {
                if valid_ext_name(other) {
                    push(
                        &mut diags,
                        n,
                        key_span,
                        Level::Warning,
                        "unknown-key",
                        format!("`{other}` is not a key RFC 8461 defines; senders ignore it"),
                    );
                } else {
                    push(
                        &mut diags,
                        n,
                        key_span,
                        Level::Error,
                        "bad-key",
                        format!("`{other}` is not a key name"),
                    );
                }
            }
        }
    }
    let end = Span::new(text.len(), text.len() + 1);
    let last_line = if text.ends_with('\n') { count - 1 } else { count }.max(1);
    if version_line.is_none() {
        push(
            &mut diags,
            last_line,
            end,
            Level::Error,
            "version-missing",
            "the policy has no `version: STSv1` line".into(),
        );
    }
    if !seen.contains(&"mode") {
        push(
            &mut diags,
            last_line,
            end,
            Level::Error,
            "mode-missing",
            "the policy has no `mode` line".into(),
        );
    }
    if !seen.contains(&"max_age") {
        push(
            &mut diags,
            last_line,
            end,
            Level::Error,
            "max-age-missing",
            "the policy has no `max_age` line".into(),
        );
    }
    if policy.mx.is_empty() && !seen.contains(&"mx") && policy.mode.is_some_and(|m| m != Mode::None) {
        push(
            &mut diags,
            last_line,
            end,
            Level::Error,
            "mx-missing",
            format!(
                "mode `{}` needs at least one `mx` line naming the MX hosts",
                policy.mode.map_or("", Mode::as_str)
            ),
        );
    }
    policy.diagnostics = diags;
    for d in &mut policy.diagnostics {
        d.diagnostic.span = d.diagnostic.span.clamp_to(text.len());
    }
    policy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(r: &Record) -> Vec<&'static str> {
        r.diagnostics.iter().map(|d| d.code).collect()
    }

    #[test]
    fn a_valid_record_parses_cleanly() {
        let r = parse(b"v=STSv1; id=20160831085700Z;");
        assert!(r.version_ok);
        assert_eq!(r.id.as_deref(), Some("20160831085700Z"));
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        let r = parse(b"v=STSv1 ;id=1");
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    }

    #[test]
    fn version_must_come_first_exactly() {
        for text in ["v=stsv1; id=1", " v=STSv1; id=1", "id=1; v=STSv1"] {
            let r = parse(text.as_bytes());
            assert!(!r.version_ok, "{text}");
            assert!(codes(&r).contains(&"version"), "{text}: {:?}", r.diagnostics);
            assert_eq!(r.diagnostics[0].span.start, 0);
        }
        assert!(codes(&parse(b"id=1; v=STSv1")).contains(&"version-not-first"));
        assert!(is_sts_record("v=STSv1; id=1"));
        assert!(is_sts_record("v=STSv1"));
        assert!(!is_sts_record("v=STSv10; id=1"));
        assert!(looks_like_sts("v=stsv1; id=1"));
        assert!(!looks_like_sts("v=spf1 -all"));
    }

    #[test]
    fn id_rules_with_positions() {
        let r = parse(b"v=STSv1; id=2016-08-31");
        let d = r.diagnostics.iter().find(|d| d.code == "id-invalid").unwrap();
        assert_eq!((d.span.start, d.span.end), (12, 22));
        assert!(r.id.is_none());
        let long = format!("v=STSv1; id={}", "a".repeat(33));
        assert!(codes(&parse(long.as_bytes())).contains(&"id-invalid"));
        let ok = format!("v=STSv1; id={}", "a".repeat(32));
        assert!(parse(ok.as_bytes()).diagnostics.is_empty());
        assert!(codes(&parse(b"v=STSv1; id=")).contains(&"id-invalid"));
        let r = parse(b"v=STSv1;");
        assert_eq!(codes(&r), vec!["id-missing"]);
        assert!(codes(&parse(b"v=STSv1; ID=1")).contains(&"id-case"));
    }

    #[test]
    fn duplicates_extensions_and_junk() {
        let r = parse(b"v=STSv1; id=1; id=2");
        let d = r.diagnostics.iter().find(|d| d.code == "duplicate-field").unwrap();
        assert_eq!((d.span.start, d.span.end), (15, 19));
        let r = parse(b"v=STSv1; id=1; ext=ok");
        assert_eq!(codes(&r), vec!["unknown-field"]);
        assert!(!r.has_errors());
        assert!(codes(&parse(b"v=STSv1; id=1; junk")).contains(&"missing-equals"));
        assert!(codes(&parse(b"v=STSv1; id=1; x=a=b")).contains(&"bad-field-value"));
        assert!(codes(&parse(b"v=STSv1; id=1;; x=1")).contains(&"empty-field"));
        assert!(codes(&parse(b"v=STSv1; id=1; -x=1")).contains(&"bad-field-name"));
        assert!(codes(&parse(b"v=STSv1; id=1\x01")).contains(&"bad-character"));
    }

    /// Line and code of every diagnostic but the LF warning, which most
    /// of these LF-terminated test bodies would otherwise all carry.
    fn pcodes(p: &Policy) -> Vec<(usize, &'static str)> {
        (p.diagnostics.iter())
            .filter(|d| d.code != "lf-line-endings")
            .map(|d| (d.line, d.code))
            .collect()
    }

    #[test]
    fn a_valid_policy_with_crlf_or_lf() {
        let body =
            b"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n";
        let p = parse_policy(body);
        assert!(p.is_valid(), "{:?}", p.diagnostics);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        assert_eq!(p.mode, Some(Mode::Enforce));
        assert_eq!(p.max_age, Some(604_800));
        assert_eq!(p.mx.len(), 2);
        assert_eq!(p.mx[1].line, 4);
        assert_eq!(p.line_endings, LineEndings::Crlf);
        let lf = parse_policy(b"version: STSv1\nmode: none\nmax_age: 86400");
        assert!(lf.is_valid(), "{:?}", lf.diagnostics);
        assert_eq!(lf.line_endings, LineEndings::Lf);
        // Legal (the grammar's `sts-policy-term = LF / CRLF`), but not the
        // CRLF the prose describes: a warning at the end of line 1.
        let w: Vec<_> = lf.diagnostics.iter().map(|d| (d.line, d.level, d.code)).collect();
        assert_eq!(w, vec![(1, Level::Warning, "lf-line-endings")]);
        assert_eq!(lf.diagnostics[0].span.start, "version: STSv1".len());
        let single = parse_policy(b"version: STSv1");
        assert_eq!(single.line_endings, LineEndings::None);
        assert!(!single.diagnostics.iter().any(|d| d.code == "lf-line-endings"));
    }

    #[test]
    fn carets_point_into_the_right_line() {
        let body = "version: STSv1\r\nmode: Enforce\r\nmx: mail.example.com\r\nmax_age: 86400\r\n";
        let p = parse_policy(body.as_bytes());
        let d = p.diagnostics.iter().find(|d| d.code == "mode").unwrap();
        assert_eq!(d.line, 2);
        assert_eq!(d.caret(body), "mode: Enforce\n      ^^^^^^^");
        // A missing key is reported after the last line.
        let body = "version: STSv1\nmode: enforce\nmx: mail.example.com\n";
        let p = parse_policy(body.as_bytes());
        let d = p.diagnostics.iter().find(|d| d.code == "max-age-missing").unwrap();
        assert_eq!(d.line, 3);
        assert_eq!(d.caret(body), "mx: mail.example.com\n                    ^");
        // The LF warning points at the end of line 1.
        let d = p.diagnostics.iter().find(|d| d.code == "lf-line-endings").unwrap();
        assert_eq!(d.caret(body), "version: STSv1\n              ^");
        // Columns count characters, not bytes.
        let body = "version: STSv1\r\nmode: enforcé\r\n";
        let p = parse_policy(body.as_bytes());
        let d = p.diagnostics.iter().find(|d| d.code == "mode").unwrap();
        assert_eq!(d.caret(body), "mode: enforcé\n      ^^^^^^^");
    }

    #[test]
    fn mixed_line_endings_warn() {
        let p = parse_policy(b"version: STSv1\r\nmode: none\nmax_age: 86400\r\n");
        assert_eq!(p.line_endings, LineEndings::Mixed);
        assert_eq!(pcodes(&p), vec![(1, "mixed-line-endings")]);
        assert!(p.is_valid());
    }

    #[test]
    fn bad_values_are_reported_on_their_lines() {
        let p = parse_policy(b"version: STSv2\nmode: Enforce\nmx: mail.example.com\nmax_age: 31557601\n");
        assert_eq!(pcodes(&p), vec![(1, "version"), (2, "mode"), (4, "max-age-too-long")]);
        let d = p.diagnostics.iter().find(|d| d.code == "mode").unwrap();
        assert_eq!(&"version: STSv2\nmode: Enforce\n"[d.span.start..d.span.end], "Enforce");
        let p = parse_policy(b"version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 3600\n");
        assert_eq!(pcodes(&p), vec![(4, "max-age-too-short")]);
        assert!(p.is_valid());
        let p = parse_policy(b"version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 12345678901\n");
        assert_eq!(pcodes(&p), vec![(4, "max-age")]);
        let p = parse_policy(b"version: STSv1\nmode: testing\nmx: mail.*.example.com\nmx: *\nmax_age: 86400\n");
        assert_eq!(pcodes(&p), vec![(3, "mx-pattern"), (4, "mx-pattern")]);
    }

    #[test]
    fn missing_duplicate_and_unknown_keys() {
        let p = parse_policy(b"mode: enforce\r\nmax_age: 86400\r\n");
        let c: Vec<&str> = p.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(c, vec!["version-missing", "mx-missing"]);
        let p = parse_policy(b"version: STSv1\nmode: none\nmode: enforce\nmax_age: 86400\nfoo: bar\n");
        assert_eq!(pcodes(&p), vec![(3, "duplicate-key"), (5, "unknown-key")]);
        assert_eq!(p.mode, Some(Mode::None), "the first value is kept");
        // RFC 8461 §3.2: later entries of a repeated field are ignored, so
        // the policy stays usable.
        assert!(p.is_valid(), "{:?}", p.diagnostics);
        let p = parse_policy(b"version: STSv1\nmode: none\nmax_age: 86400\njust words\n mx : a.example\n");
        assert_eq!(
            pcodes(&p),
            vec![
                (4, "missing-colon"),
                (5, "leading-whitespace"),
                (5, "space-before-colon")
            ]
        );
        let p = parse_policy(b"version: STSv1\n\nmode: none\nmax_age: 86400\n");
        assert_eq!(pcodes(&p), vec![(2, "empty-line")]);
        // mode none needs no mx.
        assert!(pcodes(&parse_policy(b"version: STSv1\nmode: none\nmax_age: 86400\n")).is_empty());
        // No mode at all.
        let p = parse_policy(b"version: STSv1\nmax_age: 86400\n");
        assert_eq!(pcodes(&p), vec![(2, "mode-missing")]);
    }

    /// Found by the span property test: problems at the end of the text
    /// (a missing field or line) were spanned one byte past it.
    #[test]
    fn spans_of_what_is_missing_stay_inside_the_text() {
        for body in [&b""[..], b"version: STSv1\n", b"version: STSv1\r\nmode: enforce"] {
            let p = parse_policy(body);
            let diagnostics: Vec<Diagnostic> = p.diagnostics.into_iter().map(|d| d.diagnostic).collect();
            crate::diag::assert_some_all_within(&diagnostics, body.len());
        }
        for text in [&b""[..], b"v=STSv1;", b"v=STSv1; id="] {
            let r = parse(text);
            crate::diag::assert_some_all_within(&r.diagnostics, r.text.len());
        }
    }

    /// A policy diagnostic is a `Diagnostic` at a line; the evidence keeps
    /// the flat shape it had when it was a struct of its own.
    #[test]
    fn a_policy_diagnostic_serialises_flat_with_its_line_first() {
        let p = parse_policy(b"version: STSv1\r\nmode: sometimes\r\nmax_age: 86400\r\n");
        let d = p.diagnostics.iter().find(|d| d.code == "mode").unwrap();
        let json = serde_json::to_string(d).unwrap();
        let expected = format!(
            r#"{{"line":2,"span":{{"start":{},"end":{}}},"level":"error","code":"mode","message":{}}}"#,
            d.span.start,
            d.span.end,
            serde_json::to_string(&d.message).unwrap()
        );
        assert_eq!(json, expected);
    }
}

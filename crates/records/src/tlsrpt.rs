//! SMTP TLS Reporting (RFC 8460 §3): the `_smtp._tls.<domain>` TXT record,
//! a strict parser with positions.
//!
//! ```text
//! tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//! field-delim      = *WSP ";" *WSP
//! tlsrpt-field     = tlsrpt-rua / tlsrpt-extension
//! tlsrpt-version   = %s"v=TLSRPTv1"
//! tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//! tlsrpt-uri       = URI   ; mailto: or https:, "," and "!" percent-encoded
//! tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
//! tlsrpt-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//! tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
//! ```

use serde::Serialize;

use crate::fields::{self, First, Piece, valid_ext_name, valid_ext_value};

pub use crate::diag::{Diagnostic, Level, Span};

/// One reporting URI of `rua`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportUri {
    /// The URI as written.
    pub text: String,
    /// Where it is in the record.
    pub span: Span,
    /// `mailto` or `https`, lower-cased, when the URI has a scheme.
    pub scheme: Option<String>,
    /// No error was raised for this URI.
    pub valid: bool,
}

/// A parsed `_smtp._tls` record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The record text (bytes outside ASCII replaced lossily).
    pub text: String,
    /// `v=TLSRPTv1` comes first.
    pub version_ok: bool,
    /// The `rua` URIs, in order.
    pub rua: Vec<ReportUri>,
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

/// True when the record begins with `v=TLSRPTv1` followed by a delimiter or
/// the end: the records senders keep (RFC 8460 §3: "records that do not
/// begin with "v=TLSRPTv1;" are discarded").
pub fn is_tlsrpt_record(text: &str) -> bool {
    text.strip_prefix("v=TLSRPTv1").is_some_and(|rest| {
        let rest = rest.trim_start_matches([' ', '\t']);
        rest.is_empty() || rest.starts_with(';')
    })
}

/// True for a record probably meant as TLS-RPT that senders discard.
pub fn looks_like_tlsrpt(text: &str) -> bool {
    if is_tlsrpt_record(text) {
        return false;
    }
    let squashed: String = text
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    squashed.starts_with("v=tlsrpt") || squashed.contains("rua=mailto:") && squashed.contains("tlsrpt")
}

fn check_uri(text: &str, span: Span, diags: &mut Vec<Diagnostic>) -> ReportUri {
    let before = diags.len();
    let scheme = text
        .find(':')
        .map(|c| &text[..c])
        .filter(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        })
        .map(str::to_ascii_lowercase);
    match scheme.as_deref() {
        None => diags.push(Diagnostic::new(
            Level::Error,
            span,
            "uri-scheme",
            format!("`{text}` is not a URI: use `mailto:ADDRESS` or `https://HOST/PATH`"),
        )),
        Some("mailto") => {
            let addr = &text[7..];
            let addr = addr.split('?').next().unwrap_or("");
            match addr.rsplit_once('@') {
                Some((local, host)) if !local.is_empty() && host.contains('.') && !host.ends_with('.') => {}
                _ => diags.push(Diagnostic::new(
                    Level::Error,
                    span,
                    "uri-mailto",
                    format!("`{text}` has no valid address after `mailto:`"),
                )),
            }
        }
        Some("https") => {
            let rest = &text[6..];
            let host = rest
                .strip_prefix("//")
                .map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
            if host.is_none_or(|h| h.is_empty() || !h.contains('.')) {
                diags.push(Diagnostic::new(
                    Level::Error,
                    span,
                    "uri-https",
                    format!("`{text}` has no host: write `https://HOST/PATH`"),
                ));
            }
        }
        Some(other) => diags.push(Diagnostic::new(
            Level::Error,
            span,
            "uri-scheme",
            format!("`{other}:` is not a TLS-RPT reporting scheme; RFC 8460 §3 defines `mailto:` and `https:`"),
        )),
    }
    if text.bytes().any(|b| !(0x21..=0x7e).contains(&b) || b == b'!') {
        diags.push(Diagnostic::new(
            Level::Error,
            span,
            "uri-character",
            format!("`{text}` contains a character that must be percent-encoded"),
        ));
    }
    ReportUri {
        text: text.to_string(),
        span,
        scheme,
        valid: diags.len() == before,
    }
}

/// Parse a `_smtp._tls` TXT record (character-strings already joined).
pub fn parse(bytes: &[u8]) -> Record {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut record = Record {
        text: text.clone(),
        ..Record::default()
    };
    let mut diags = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for piece in fields::lex(bytes, &text) {
        let raw = match piece {
            Piece::Problem(d) => {
                diags.push(d);
                continue;
            }
            Piece::Version(First { piece, trimmed, lead }) => {
                if trimmed == "v=TLSRPTv1" && lead == 0 {
                    record.version_ok = true;
                } else {
                    diags.push(Diagnostic::new(
                        Level::Error,
                        Span::new(0, piece.len().max(1)),
                        "version",
                        format!("the record must begin with exactly `v=TLSRPTv1`, not `{piece}`"),
                    ));
                }
                continue;
            }
            Piece::Field(raw) => raw,
        };
        if raw.duplicate {
            continue;
        }
        let (name, value, span) = (raw.name, raw.value, raw.span);
        let value_start = raw.value_span.start;
        names.push(name.to_string());
        match name {
            "v" => diags.push(Diagnostic::new(
                Level::Error,
                span,
                "version-not-first",
                "`v=TLSRPTv1` must be the first field, and only once",
            )),
            "rua" => {
                let mut at = value_start;
                for part in value.split(',') {
                    let plead = part.len() - part.trim_start_matches([' ', '\t']).len();
                    let uri = part.trim_matches([' ', '\t']);
                    let uspan = Span::new(at + plead, at + plead + uri.len().max(1));
                    at += part.len() + 1;
                    if uri.is_empty() {
                        diags.push(Diagnostic::new(
                            Level::Error,
                            uspan,
                            "empty-uri",
                            "an empty reporting URI",
                        ));
                        continue;
                    }
                    let parsed = check_uri(uri, uspan, &mut diags);
                    record.rua.push(parsed);
                }
            }
            _ => {
                if !valid_ext_name(name) {
                    diags.push(Diagnostic::new(
                        Level::Error,
                        span,
                        "bad-field-name",
                        format!("`{name}` is not a field name"),
                    ));
                } else if name.eq_ignore_ascii_case("rua") {
                    diags.push(Diagnostic::new(
                        Level::Error,
                        span,
                        "rua-case",
                        format!("`{name}` is not `rua` (field names are case-sensitive)"),
                    ));
                } else if !valid_ext_value(value) {
                    diags.push(Diagnostic::new(
                        Level::Error,
                        span,
                        "bad-field-value",
                        format!("the value of `{name}` must be non-empty printable ASCII without spaces, `=` or `;`"),
                    ));
                } else {
                    diags.push(Diagnostic::new(
                        Level::Warning,
                        span,
                        "unknown-field",
                        format!("`{name}` is not a field RFC 8460 defines; senders ignore it"),
                    ));
                }
            }
        }
    }
    if record.version_ok && !names.iter().any(|n| n == "rua") {
        diags.push(Diagnostic::new(
            Level::Error,
            Span::new(text.len(), text.len() + 1),
            "rua-missing",
            "the record has no `rua` field; RFC 8460 §3 requires one, so no report can be sent",
        ));
    }
    record.diagnostics = diags;
    record
        .diagnostics
        .iter_mut()
        .for_each(|d| d.span = d.span.clamp_to(record.text.len()));
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(r: &Record) -> Vec<&'static str> {
        r.diagnostics.iter().map(|d| d.code).collect()
    }

    #[test]
    fn valid_records() {
        let r = parse(b"v=TLSRPTv1; rua=mailto:tlsrpt@example.com");
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        assert_eq!(r.rua[0].scheme.as_deref(), Some("mailto"));
        let r = parse(b"v=TLSRPTv1;rua=mailto:a@example.com , https://reports.example.net/tls;");
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        assert_eq!(r.rua.len(), 2);
        assert_eq!((r.rua[1].span.start, r.rua[1].span.end), (38, 69));
    }

    #[test]
    fn version_and_rua_problems_with_positions() {
        let r = parse(b"v=tlsrptv1; rua=mailto:a@example.com");
        assert_eq!(codes(&r), vec!["version"]);
        assert!(!is_tlsrpt_record("v=tlsrptv1; rua=mailto:a@example.com"));
        assert!(looks_like_tlsrpt("v=tlsrptv1; rua=mailto:a@example.com"));
        assert!(is_tlsrpt_record("v=TLSRPTv1 ; rua=mailto:a@example.com"));
        assert_eq!(codes(&parse(b"v=TLSRPTv1")), vec!["rua-missing"]);
        let r = parse(b"v=TLSRPTv1; rua=http://example.com/r");
        let d = &r.diagnostics[0];
        assert_eq!((d.code, d.span.start, d.span.end), ("uri-scheme", 16, 36));
        assert!(!r.rua[0].valid);
        assert_eq!(codes(&parse(b"v=TLSRPTv1; rua=tls@example.com")), vec!["uri-scheme"]);
        assert_eq!(codes(&parse(b"v=TLSRPTv1; rua=mailto:")), vec!["uri-mailto"]);
        assert_eq!(codes(&parse(b"v=TLSRPTv1; rua=https://")), vec!["uri-https"]);
        assert_eq!(
            codes(&parse(b"v=TLSRPTv1; rua=mailto:a@example.com,")),
            vec!["empty-uri"]
        );
        assert_eq!(
            codes(&parse(b"v=TLSRPTv1; rua=mailto:a@example.com!10m")),
            vec!["uri-character"]
        );
    }

    #[test]
    fn duplicates_and_extensions() {
        let r = parse(b"v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com");
        let d = &r.diagnostics[0];
        assert_eq!((d.code, d.span.start), ("duplicate-field", 38));
        assert_eq!(
            codes(&parse(b"v=TLSRPTv1; rua=mailto:a@example.com; x-ext=1")),
            vec!["unknown-field"]
        );
        assert!(codes(&parse(b"v=TLSRPTv1; RUA=mailto:a@example.com")).contains(&"rua-case"));
        assert!(codes(&parse(b"rua=mailto:a@example.com; v=TLSRPTv1")).contains(&"version-not-first"));
    }

    /// Found by the span property test: a missing `rua` was spanned one
    /// byte past the end of the record.
    #[test]
    fn spans_of_what_is_missing_stay_inside_the_record() {
        for text in [&b""[..], b"v=TLSRPTv1", b"v=TLSRPTv1; rua="] {
            let r = parse(text);
            crate::diag::assert_some_all_within(&r.diagnostics, r.text.len());
        }
    }
}

//! The `v=...; name=value; ...` field lists shared by the MTA-STS record
//! (RFC 8461 §3.1) and the TLS-RPT record (RFC 8460 §3): both define
//! `field-delim = *WSP ";" *WSP`, extension names of letters, digits,
//! `_`, `-` and `.`, and extension values of printable ASCII without
//! spaces, `=` or `;`. This module splits such a list with positions and
//! reports the problems common to both; what each field means is left to
//! the record's own parser.

use crate::diag::{Diagnostic, Level, Span};

/// `ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`
pub(crate) fn valid_ext_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

/// `ext-value = 1*(%x21-3A / %x3C / %x3E-7E)`
pub(crate) fn valid_ext_value(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|c| matches!(c, 0x21..=0x3a | 0x3c | 0x3e..=0x7e))
}

/// The first `;`-separated piece, which must be the version.
pub(crate) struct First<'a> {
    /// As written, with surrounding blanks.
    pub piece: &'a str,
    /// Without surrounding blanks.
    pub trimmed: &'a str,
    /// Blanks before it (the version must have none).
    pub lead: usize,
}

/// One `name=value` field after the version.
pub(crate) struct RawField<'a> {
    pub name: &'a str,
    pub value: &'a str,
    pub span: Span,
    pub value_span: Span,
    /// The name appeared earlier (a `duplicate-field` error is reported).
    pub duplicate: bool,
}

/// One step of a field list, in the order it is written.
pub(crate) enum Piece<'a> {
    /// The first piece, which must be the version.
    Version(First<'a>),
    /// A problem common to both records.
    Problem(Diagnostic),
    /// A `name=value` field; a duplicate comes right after its `Problem`.
    Field(RawField<'a>),
}

/// Split `text` (the lossy UTF-8 of `bytes`) into its pieces, in order,
/// reporting: a byte that is not printable ASCII (first), an empty field
/// between two `;` (a trailing `;` is allowed), a field without `=`, and a
/// field name given twice.
pub(crate) fn lex<'a>(bytes: &[u8], text: &'a str) -> Vec<Piece<'a>> {
    let mut out = Vec::new();
    if let Some(at) = bytes.iter().position(|b| !(0x20..=0x7e).contains(b) && *b != b'\t') {
        out.push(Piece::Problem(Diagnostic::new(
            Level::Error,
            Span::new(at, at + 1),
            "bad-character",
            format!("byte 0x{:02x} is not printable ASCII", bytes[at]),
        )));
    }
    let pieces: Vec<&str> = text.split(';').collect();
    let last = pieces.len() - 1;
    let mut names: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, piece) in pieces.into_iter().enumerate() {
        let lead = piece.len() - piece.trim_start_matches([' ', '\t']).len();
        let trimmed = piece.trim_matches([' ', '\t']);
        let seg_start = start + lead;
        start += piece.len() + 1;
        let span = Span::new(seg_start, seg_start + trimmed.len());
        if i == 0 {
            out.push(Piece::Version(First { piece, trimmed, lead }));
            continue;
        }
        if trimmed.is_empty() {
            if i != last {
                out.push(Piece::Problem(Diagnostic::new(
                    Level::Error,
                    Span::new(seg_start.saturating_sub(1), seg_start),
                    "empty-field",
                    "an empty field between two `;`",
                )));
            }
            continue;
        }
        let Some(eq) = trimmed.find('=') else {
            out.push(Piece::Problem(Diagnostic::new(
                Level::Error,
                span,
                "missing-equals",
                format!("`{trimmed}` is not a `name=value` field"),
            )));
            continue;
        };
        let name = &trimmed[..eq];
        let duplicate = names.contains(&name);
        if duplicate {
            out.push(Piece::Problem(Diagnostic::new(
                Level::Error,
                span,
                "duplicate-field",
                format!("the `{name}` field appears more than once"),
            )));
        }
        names.push(name);
        out.push(Piece::Field(RawField {
            name,
            value: &trimmed[eq + 1..],
            span,
            value_span: Span::new(seg_start + eq + 1, span.end),
            duplicate,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<String> {
        lex(text.as_bytes(), text)
            .into_iter()
            .map(|p| match p {
                Piece::Version(f) => format!("version:{}", f.trimmed),
                Piece::Problem(d) => format!("problem:{}", d.code),
                Piece::Field(f) => format!("field:{}{}", f.name, if f.duplicate { "(dup)" } else { "" }),
            })
            .collect()
    }

    /// Diagnostics must come out in document order, so each parser's own
    /// findings interleave with these exactly as written.
    #[test]
    fn pieces_come_in_document_order_with_duplicates_after_their_problem() {
        assert_eq!(
            kinds("v=X; a=1;; b; a=2;"),
            [
                "version:v=X",
                "field:a",
                "problem:empty-field",
                "problem:missing-equals",
                "problem:duplicate-field",
                "field:a(dup)"
            ]
        );
    }

    #[test]
    fn spans_point_at_the_field_and_its_value() {
        let text = "v=X;  name=value ";
        let Some(Piece::Field(f)) = lex(text.as_bytes(), text).into_iter().nth(1) else {
            panic!("no field")
        };
        assert_eq!(
            (
                &text[f.span.start..f.span.end],
                &text[f.value_span.start..f.value_span.end]
            ),
            ("name=value", "value")
        );
    }

    #[test]
    fn a_non_printable_byte_is_reported_first() {
        let bytes = b"v=X; a=\x01";
        let text = String::from_utf8_lossy(bytes);
        assert!(matches!(lex(bytes, &text).first(), Some(Piece::Problem(d)) if d.code == "bad-character"));
    }
}

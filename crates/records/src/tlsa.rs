//! TLSA records (RFC 6698 §2) from their presentation text: either
//! `usage selector matching-type hex` or the RFC 3597 generic form
//! `\# LENGTH HEX`. The record and its one parser are the model's
//! ([`Tlsa::from_text`], which the DNS boundary uses too); here its
//! errors become [`Diagnostic`]s with spans like every other record's.

use crate::diag::{Diagnostic, Span};

pub use mailwarden_model::rdata::{Tlsa, tlsa_usage_name as usage_name};

/// The byte span of each blank-separated word of `text`.
fn word_spans(text: &str) -> Vec<Span> {
    text.split_ascii_whitespace()
        .map(|w| {
            // `w` is a slice of `text`, so its offset is the pointer difference.
            let start = w.as_ptr() as usize - text.as_ptr() as usize;
            Span::new(start, start + w.len())
        })
        .collect()
}

/// Parse the presentation text of one TLSA record; an error is a
/// [`Diagnostic`] whose span points at the word(s) at fault (the end of
/// the text when it ended too soon).
pub fn parse(text: &str) -> Result<Tlsa, Diagnostic> {
    Tlsa::from_text(text).map_err(|e| {
        let spans = word_spans(text);
        let end = text.len();
        let at = spans.get(e.words.clone()).unwrap_or_default();
        let span = match (at.first(), at.last()) {
            (Some(first), Some(last)) => Span::new(first.start, last.end),
            _ => Span::new(end, end),
        };
        Diagnostic::error(span, e.code, e.message)
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
        assert_eq!(mailwarden_model::codec::hex(&split.data), H);
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

//! What every fuzz target checks beyond "does not panic": a parser's
//! diagnostics point inside the text they describe, and the caret excerpt
//! shown to the user can be built for each of them.

use mailwarden_records::spf::{Diagnostic, Span};

/// A span lies inside `len` bytes and does not run backwards. A problem
/// at the very end (something missing) is shown as a caret just after the
/// text: the one-byte span `len..len + 1`, which the caret excerpt clamps.
pub fn assert_span(span: Span, len: usize, what: &str) {
    let inside = span.start <= span.end && span.end <= len;
    let after_end = span.start == len && span.end == len + 1;
    assert!(
        inside || after_end,
        "{what}: span {}..{} outside the text of {len} bytes",
        span.start,
        span.end
    );
}

/// Every diagnostic's span is in `text`, and its caret excerpt renders.
pub fn assert_diagnostics(text: &str, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        assert_span(d.span, text.len(), d.code);
        let _ = d.caret(text);
    }
}

/// The fuzz input as text when it is UTF-8 (spans are byte offsets, so a
/// lossy conversion would move them).
pub fn utf8(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

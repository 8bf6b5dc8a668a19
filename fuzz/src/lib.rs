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

/// Carets rendered per input, from each end of the diagnostic list. Garbage
/// inputs of a few kilobytes carry hundreds of diagnostics; rendering every
/// caret took over half of each execution (a `perf` profile of the dmarc
/// target) for no new paths: the excerpt code is the same for all of them.
const CARETS_PER_END: usize = 8;

/// Every diagnostic's span is in `text`, and the caret excerpts of the first
/// and last few render.
pub fn assert_diagnostics(text: &str, diagnostics: &[Diagnostic]) {
    for (i, d) in diagnostics.iter().enumerate() {
        assert_span(d.span, text.len(), d.code);
        if i < CARETS_PER_END || i + CARETS_PER_END >= diagnostics.len() {
            let _ = d.caret(text);
        }
    }
}

/// The fuzz input as text when it is UTF-8 (spans are byte offsets, so a
/// lossy conversion would move them).
pub fn utf8(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

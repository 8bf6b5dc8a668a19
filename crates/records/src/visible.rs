//! Text from outside, made inert for a reader: every character that a
//! terminal, an editor or a browser would act on rather than show (C0 and
//! C1 controls, DEL, bidirectional controls, invisible format characters,
//! line and paragraph separators) is written as a visible escape, `\x1b`,
//! `\u{202e}`. Everything else is kept as it is. Record excerpts
//! ([`excerpt`]) are built from the escaped text, so their caret lines stay
//! under the right characters.
//!
//! Why: a DNS TXT record is chosen by whoever runs the scanned domain. Copied
//! raw to a terminal, ESC sequences set the window title, clear the screen or
//! plant OSC 8 hyperlinks; a U+202E override reverses what follows it, so a
//! report can show a record other than the one received ("Trojan Source",
//! CVE-2021-42574).

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::diag::Span;

/// Characters of record text shown on each side of a diagnostic's span.
pub const EXCERPT_CONTEXT: usize = 40;
/// Characters of a diagnostic's span shown at most (the rest is elided).
pub const EXCERPT_SPAN: usize = 80;

/// Whether `c` must not reach a reader raw.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        // Bidirectional controls (Unicode UAX #9): marks, embeddings,
        // overrides, isolates.
        | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        // Invisible: zero-width space, non-joiner, joiner, word joiner, BOM.
        | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}'
        // Line and paragraph separators: a line break to some readers.
        | '\u{2028}' | '\u{2029}')
}

/// Append `c` to `out`, escaped when it is unsafe (`keep_newline`: a `\n`
/// stays a line break). Returns the number of characters appended.
fn push_char(out: &mut String, c: char, keep_newline: bool) -> usize {
    if !is_unsafe(c) || (keep_newline && c == '\n') {
        out.push(c);
        return 1;
    }
    let before = out.len();
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{0}'..='\u{1f}' | '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        _ => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    out.len() - before // escapes are ASCII: bytes = characters
}

fn escape(s: &str, keep_newline: bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && !(keep_newline && c == '\n')) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        push_char(&mut out, c, keep_newline);
    }
    Cow::Owned(out)
}

/// One line of outside text: every unsafe character escaped, `\n` too.
pub fn line(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Text that may span lines: unsafe characters escaped, `\n` kept.
pub fn block(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// The largest char boundary of `s` at or before `at`.
fn floor_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A bounded, inert excerpt of `text` around `span` and a caret line under
/// the span: at most [`EXCERPT_CONTEXT`] characters either side, at most
/// [`EXCERPT_SPAN`] of the span, `…` where text was left out. The cost
/// does not grow with the record, so many diagnostics on a long record
/// stay cheap.
pub fn excerpt(text: &str, span: Span) -> String {
    let start = floor_boundary(text, span.start);
    let end = floor_boundary(text, span.end.max(start));
    let before_start = text[..start]
        .char_indices()
        .rev()
        .take(EXCERPT_CONTEXT)
        .last()
        .map_or(start, |(i, _)| i);
    let span_text = &text[start..end];
    let (shown_span, span_cut) = match span_text.char_indices().nth(EXCERPT_SPAN) {
        Some((i, _)) => (&span_text[..i], true),
        None => (span_text, false),
    };
    let after = if span_cut { "" } else { &text[end..] };
    let (shown_after, after_cut) = match after.char_indices().nth(EXCERPT_CONTEXT) {
        Some((i, _)) => (&after[..i], true),
        None => (after, false),
    };

    let mut line = String::new();
    let mut pad = 0;
    if before_start > 0 {
        line.push('…');
        pad += 1;
    }
    for c in text[before_start..start].chars() {
        pad += push_char(&mut line, c, false);
    }
    let mut width = 0;
    for c in shown_span.chars() {
        width += push_char(&mut line, c, false);
    }
    for c in shown_after.chars() {
        push_char(&mut line, c, false);
    }
    if span_cut || after_cut {
        line.push('…');
    }
    format!("{line}\n{}{}", " ".repeat(pad), "^".repeat(width.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_and_bidi_controls_are_escaped_visibly() {
        assert_eq!(line("a\u{1b}]0;pwned\u{7}b"), "a\\x1b]0;pwned\\x07b");
        assert_eq!(line("x\u{202e}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(line("nul\0"), "nul\\x00");
        assert_eq!(line("csi\u{9b}2J"), "csi\\u{9b}2J");
        assert_eq!(line("two\nlines"), "two\\nlines");
        assert_eq!(block("two\nlines\r"), "two\nlines\\r");
        for c in [
            '\u{61c}', '\u{200e}', '\u{200f}', '\u{2066}', '\u{2069}', '\u{2028}', '\u{feff}',
        ] {
            assert!(!line(&format!("a{c}b")).contains(c), "{c:?}");
        }
    }

    #[test]
    fn safe_text_is_borrowed_unchanged() {
        assert!(matches!(line("v=spf1 -all é ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_records_show_whole_with_the_caret_under_the_span() {
        assert_eq!(
            excerpt("v=spf1 foo -all", Span::new(7, 10)),
            "v=spf1 foo -all\n       ^^^"
        );
        assert_eq!(excerpt("v=spf1", Span::new(6, 6)), "v=spf1\n      ^");
        assert_eq!(excerpt("é foo", Span::new(3, 6)), "é foo\n  ^^^");
    }

    #[test]
    fn excerpts_of_long_records_are_bounded_and_marked() {
        let record = format!("v=spf1 {} bad {}", "a".repeat(5000), "b".repeat(5000));
        let at = record.find("bad").unwrap();
        let shown = excerpt(&record, Span::new(at, at + 3));
        let (text, caret) = shown.split_once('\n').unwrap();
        assert!(text.starts_with('…') && text.ends_with('…'), "{text}");
        assert_eq!(text.chars().count(), 2 * EXCERPT_CONTEXT + 3 + 2);
        assert_eq!(caret.trim_start().len(), 3);
        assert_eq!(&text[caret.find('^').unwrap() + 2..][..3], "bad"); // `…` is 3 bytes, 1 column
        let huge = excerpt(&record, Span::new(0, record.len()));
        assert!(huge.len() < 4 * EXCERPT_SPAN, "{}", huge.len());
    }

    #[test]
    fn carets_stay_under_the_span_after_escapes() {
        let shown = excerpt("\u{1b}[2Jbad", Span::new(4, 7));
        assert_eq!(shown, "\\x1b[2Jbad\n       ^^^");
    }
}

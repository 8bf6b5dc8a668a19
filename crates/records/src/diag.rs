//! The one vocabulary every record parser reports in: a [`Span`] of bytes
//! in the text it was given, a [`Level`], and a [`Diagnostic`] with a
//! stable code and a message. SPF, DMARC, DKIM, BIMI, MTA-STS (record and
//! policy file), TLS-RPT and TLSA all use these, so a judge, a renderer or
//! a fuzz target handles every record's problems the same way.
//!
//! Invariant (checked by the property tests in `tests/properties.rs`): a
//! parser's spans lie inside the text it parsed, `start <= end <= len`.

use std::fmt;

use serde::Serialize;

/// A byte range `start..end` in the record text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Span {
    /// The first byte.
    pub start: usize,
    /// One past the last byte (equal to `start` for a point, such as the
    /// end of the text where something is missing).
    pub end: usize,
}

impl Span {
    /// The bytes `start..end`.
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The span cut to a text of `len` bytes: a problem "just after the
    /// end" (something missing) becomes the empty span at the end, which
    /// [`crate::visible::excerpt`] shows with the same caret.
    pub fn clamp_to(self, len: usize) -> Self {
        Self::new(self.start.min(len), self.end.min(len))
    }

    /// Whether the span lies inside a text of `len` bytes.
    pub fn within(self, len: usize) -> bool {
        self.start <= self.end && self.end <= len
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// A syntax error: evaluating the record gives `permerror`.
    Error,
    /// Legal but almost certainly not what the publisher meant.
    Warning,
}

/// One problem in a record, with its position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Where in the record text.
    pub span: Span,
    /// Error or warning.
    pub level: Level,
    /// Stable short code, e.g. `unknown-mechanism`.
    pub code: &'static str,
    /// What is wrong, in words.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `span`.
    pub fn new(level: Level, span: Span, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            span,
            level,
            code,
            message: message.into(),
        }
    }

    /// An error at `span`.
    pub fn error(span: Span, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Level::Error, span, code, message)
    }

    /// A warning at `span`.
    pub fn warning(span: Span, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Level::Warning, span, code, message)
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }

    /// A bounded, inert excerpt of the record around the offending bytes
    /// and a caret line under them (see [`crate::visible::excerpt`]).
    pub fn caret(&self, record: &str) -> String {
        crate::visible::excerpt(record, self.span)
    }
}

/// The message alone, as users have always read it.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// Test helper: there are diagnostics, and every span is inside a text of
/// `len` bytes.
#[cfg(test)]
pub(crate) fn assert_some_all_within(diagnostics: &[Diagnostic], len: usize) {
    assert!(!diagnostics.is_empty());
    assert!(diagnostics.iter().all(|d| d.span.within(len)), "{diagnostics:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnostic_displays_its_message_and_knows_its_level() {
        let d = Diagnostic::warning(Span::new(1, 3), "x", "the message");
        assert_eq!(d.to_string(), "the message");
        assert!(!d.is_error());
        assert!(Diagnostic::error(Span::new(0, 0), "x", "m").is_error());
    }

    #[test]
    fn within_checks_both_ends() {
        assert!(Span::new(0, 0).within(0));
        assert!(Span::new(2, 5).within(5));
        assert!(!Span::new(2, 6).within(5));
        assert!(!Span::new(3, 2).within(5));
    }
}

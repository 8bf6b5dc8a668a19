//! Record diagnostics as findings show them, at a cost bounded per record:
//! each with its span and a bounded excerpt of the record around it
//! (`mailwarden_records::visible::excerpt`), at most [`MAX_PER_RECORD`] per
//! record and a count of the rest. The record itself is evidence once per
//! finding, never once per diagnostic: a 60 KB record with thousands of
//! errors once made a report of 1.9 GB.

use mailwarden_model::RawFinding;
use mailwarden_records::mta_sts::PolicyDiagnostic;
use mailwarden_records::spf::Diagnostic;
use serde::Serialize;

/// Diagnostics of one record shown in a finding; the rest are counted.
pub(crate) const MAX_PER_RECORD: usize = 20;

/// A record diagnostic that can point into its text.
pub(crate) trait Pointed {
    /// The excerpt of `text` around the problem, with its caret line.
    fn excerpt(&self, text: &str) -> String;
    fn code(&self) -> &str;
    fn message(&self) -> &str;
    /// The line, in a multi-line file.
    fn line(&self) -> Option<usize> {
        None
    }
}

impl Pointed for Diagnostic {
    fn excerpt(&self, text: &str) -> String {
        self.caret(text)
    }

    fn code(&self) -> &str {
        self.code
    }

    fn message(&self) -> &str {
        &self.message
    }
}

impl Pointed for PolicyDiagnostic {
    fn excerpt(&self, text: &str) -> String {
        self.caret(text)
    }

    fn code(&self) -> &str {
        self.code
    }

    fn message(&self) -> &str {
        &self.message
    }

    fn line(&self) -> Option<usize> {
        Some(self.line)
    }
}

/// One diagnostic as evidence shows it.
#[derive(Debug, Serialize)]
pub(crate) struct Located<'d, D> {
    /// The record's owner, where a finding covers several records (SPF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<&'d str>,
    /// How the record was reached from the scanned domain (SPF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<&'d str>,
    #[serde(flatten)]
    pub diagnostic: &'d D,
    /// A bounded excerpt of the record and a caret line under the problem.
    pub caret: String,
}

/// The diagnostics a finding shows, and how many it left out.
#[derive(Debug)]
pub(crate) struct Bounded<'d, D> {
    pub shown: Vec<Located<'d, D>>,
    pub omitted: usize,
}

impl<'d, D: Pointed> Bounded<'d, D> {
    pub fn new() -> Self {
        Self {
            shown: Vec::new(),
            omitted: 0,
        }
    }

    /// The diagnostics of one record.
    pub fn of(diags: impl IntoIterator<Item = &'d D>, text: &str) -> Self {
        let mut b = Self::new();
        b.add(diags, text, None);
        b
    }

    /// Add one record's diagnostics (`owner`: its domain and path).
    pub fn add(&mut self, diags: impl IntoIterator<Item = &'d D>, text: &str, owner: Option<(&'d str, &'d str)>) {
        let mut diags = diags.into_iter();
        for d in diags.by_ref().take(MAX_PER_RECORD) {
            self.shown.push(Located {
                domain: owner.map(|o| o.0),
                path: owner.map(|o| o.1),
                diagnostic: d,
                caret: d.excerpt(text),
            });
        }
        self.omitted += diags.count();
    }

    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    /// Shown and left out.
    pub fn total(&self) -> usize {
        self.shown.len() + self.omitted
    }

    /// One block per shown diagnostic (heading, excerpt, caret), and a line
    /// counting the rest.
    pub fn message(&self) -> String {
        let mut blocks: Vec<String> = self
            .shown
            .iter()
            .map(|l| {
                let (d, caret) = (l.diagnostic, &l.caret);
                match (l.domain, d.line()) {
                    (Some(domain), _) => format!("{domain} ({}): {}\n{caret}", d.code(), d.message()),
                    (None, Some(line)) => format!("line {line} ({}): {}\n{caret}", d.code(), d.message()),
                    (None, None) => format!("({}) {}\n{caret}", d.code(), d.message()),
                }
            })
            .collect();
        if self.omitted > 0 {
            blocks.push(format!(
                "… and {} more not shown (at most {MAX_PER_RECORD} per record).",
                self.omitted
            ));
        }
        blocks.join("\n")
    }
}

/// Attaching bounded diagnostics to a finding.
pub(crate) trait WithDiagnostics {
    /// The shown diagnostics as evidence `key`, and the count of the
    /// others as `omitted_<key>` when some were left out.
    fn diagnostics<D: Serialize>(self, key: &str, found: &Bounded<'_, D>) -> Self;
}

impl WithDiagnostics for RawFinding {
    fn diagnostics<D: Serialize>(self, key: &str, found: &Bounded<'_, D>) -> Self {
        let f = self.evidence(key, &found.shown);
        if found.omitted == 0 {
            return f;
        }
        f.evidence(&format!("omitted_{key}"), found.omitted)
    }
}

#[cfg(test)]
mod tests {
    use mailwarden_model::Outcome;

    use super::*;

    #[test]
    fn thousands_of_diagnostics_on_a_long_record_stay_bounded() {
        let record = format!("v=spf1 {}", "x: ".repeat(20_000));
        let parsed = mailwarden_records::spf::parse(record.as_bytes());
        assert!(parsed.diagnostics.len() > 10_000, "{}", parsed.diagnostics.len());
        let b = Bounded::of(&parsed.diagnostics, &record);
        assert_eq!(b.shown.len(), MAX_PER_RECORD);
        assert_eq!(b.total(), parsed.diagnostics.len());
        let message = b.message();
        assert!(message.len() < 20 * 1024, "{}", message.len());
        assert!(
            message.ends_with("more not shown (at most 20 per record)."),
            "{message}"
        );
        let f = RawFinding::new("spf.syntax", Outcome::Fail, "x", "").diagnostics("diagnostics", &b);
        assert!(serde_json::to_string(&f.evidence).unwrap().len() < 40 * 1024);
        assert_eq!(
            f.evidence["omitted_diagnostics"],
            parsed.diagnostics.len() - MAX_PER_RECORD
        );
    }
}

//! One input through the parser into a sink: the outcome per report that
//! `mailwarden reports import` prints (file, status, kind, records, reason).

use serde::Serialize;

use crate::input::{self, Item};
use crate::limits::Limits;
use crate::rejection::{Reason, Rejection};
use crate::report::Kind;
use crate::sink::{ReportSink, Stored};
use crate::warning::Warnings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Imported,
    Duplicate,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Imported => "imported",
            Status::Duplicate => "duplicate",
            Status::Rejected => "rejected",
        }
    }
}

/// What became of one report (or would-be report) of an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub file: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<crate::rejection::Position>,
    /// Quirks read anyway, and flags such as "same id, other range".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Parse `bytes` (the file `label`) and store each report in `sink`. A
/// sink failure is an `Err`: the caller stops, nothing stored is lost.
pub fn import(
    label: &str,
    bytes: &[u8],
    limits: &Limits,
    sink: &mut dyn ReportSink,
) -> Result<Vec<Outcome>, crate::sink::SinkError> {
    input::read(label, bytes, limits)
        .into_iter()
        .map(|item| store(item, sink))
        .collect()
}

/// An input that could not even be read (I/O error): a rejection too.
pub fn unreadable(label: &str, error: &std::io::Error) -> Outcome {
    rejected(
        label.to_string(),
        None,
        Rejection::new(Reason::Unreadable, error.to_string()),
    )
}

pub(crate) fn store(item: Item, sink: &mut dyn ReportSink) -> Result<Outcome, crate::sink::SinkError> {
    let parsed = match item.outcome {
        Ok(parsed) => parsed,
        Err(rejection) => return Ok(rejected(item.locator, item.kind, rejection)),
    };
    let stored = sink.put(&parsed)?;
    Ok(stored_outcome(
        item.locator,
        parsed.report.kind(),
        parsed.report.records(),
        stored,
        &parsed.warnings,
    ))
}

/// The outcome of a report the sink took (imported or duplicate).
pub(crate) fn stored_outcome(file: String, kind: Kind, records: usize, stored: Stored, warnings: &Warnings) -> Outcome {
    let mut warnings = messages(warnings);
    let (status, id) = match stored {
        Stored::Imported { id, flags } => {
            warnings.extend(flags);
            (Status::Imported, id)
        }
        Stored::Duplicate { id, note } => {
            warnings.extend(note);
            (Status::Duplicate, id)
        }
    };
    Outcome {
        file,
        status,
        kind: Some(kind),
        records: Some(records),
        id: Some(id),
        reason: None,
        detail: None,
        position: None,
        warnings,
    }
}

pub(crate) fn rejected(file: String, kind: Option<Kind>, r: Rejection) -> Outcome {
    Outcome {
        file,
        status: Status::Rejected,
        kind,
        records: None,
        id: None,
        reason: Some(r.reason),
        detail: Some(r.detail),
        position: r.position,
        warnings: Vec::new(),
    }
}

fn messages(warnings: &Warnings) -> Vec<String> {
    let mut out: Vec<String> = warnings
        .items
        .iter()
        .map(|w| match w.position {
            Some(p) => format!("{} (at {p})", w.message),
            None => w.message.clone(),
        })
        .collect();
    if warnings.more > 0 {
        out.push(format!("and {} more warnings", warnings.more));
    }
    out
}

/// What one run of an importer did (`reports import`, one `reports fetch`
/// pass, one HTTP body), for the audit log: counts per status, rejections
/// per reason, and the ids of the reports stored (report ids are digests
/// of the identity, no domain or address).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub imported: usize,
    pub records: usize,
    pub duplicate: usize,
    pub rejected: usize,
    /// Rejections per reason (`invalid-xml`, `size-limit`, ...).
    pub reasons: std::collections::BTreeMap<&'static str, usize>,
    /// The ids of the reports imported, the first [`RunSummary::MAX_IDS`].
    pub ids: Vec<String>,
}

impl RunSummary {
    /// Ids kept at most: a run of a million reports still makes one small event.
    pub const MAX_IDS: usize = 1000;

    pub fn add(&mut self, o: &Outcome) {
        match o.status {
            Status::Imported => {
                self.imported += 1;
                self.records += o.records.unwrap_or_default();
                if self.ids.len() < Self::MAX_IDS {
                    self.ids.extend(o.id.clone());
                }
            }
            Status::Duplicate => self.duplicate += 1,
            Status::Rejected => {
                self.rejected += 1;
                let reason = o.reason.map_or("unknown", |r| r.as_str());
                *self.reasons.entry(reason).or_default() += 1;
            }
        }
    }

    /// Whether the run saw no report at all (then nothing is worth recording).
    pub fn is_empty(&self) -> bool {
        self.imported + self.duplicate + self.rejected == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: Status, id: Option<&str>, reason: Option<Reason>) -> Outcome {
        Outcome {
            file: "f".into(),
            status,
            kind: Some(Kind::Aggregate),
            records: Some(3),
            id: id.map(str::to_string),
            reason,
            detail: None,
            position: None,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn run_summary_counts_statuses_reasons_and_imported_ids() {
        let mut run = RunSummary::default();
        assert!(run.is_empty());
        run.add(&outcome(Status::Imported, Some("a1"), None));
        run.add(&outcome(Status::Duplicate, Some("a1"), None));
        run.add(&outcome(Status::Rejected, None, Some(Reason::Doctype)));
        run.add(&outcome(Status::Rejected, None, Some(Reason::Doctype)));
        assert_eq!((run.imported, run.records, run.duplicate, run.rejected), (1, 3, 1, 2));
        assert_eq!(run.reasons.get("doctype"), Some(&2));
        assert_eq!(run.ids, ["a1"]);
        assert!(!run.is_empty());
    }

    #[test]
    fn run_summary_keeps_at_most_max_ids() {
        let mut run = RunSummary::default();
        for i in 0..RunSummary::MAX_IDS + 5 {
            run.add(&outcome(Status::Imported, Some(&i.to_string()), None));
        }
        assert_eq!(run.ids.len(), RunSummary::MAX_IDS);
        assert_eq!(run.imported, RunSummary::MAX_IDS + 5);
    }
}

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

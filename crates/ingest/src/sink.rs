//! Where imported reports go. The store (SQLite/PostgreSQL) will implement
//! [`ReportSink`]; until then [`MemorySink`] (tests) and
//! [`crate::DirSink`] (a directory) do. Both share the duplicate rule in
//! [`Index`]: the same identity (reporter, report id, policy domain, date
//! range) is a duplicate; the same report id for another range is kept
//! and flagged.

use std::collections::HashMap;

use crate::aggregate::{AggregateReport, Record};
use crate::report::{Identity, Parsed, Report};
use crate::warning::Warnings;

/// What a sink did with a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Stored under `id`; `flags` say what looked odd (same id, other range).
    Imported { id: String, flags: Vec<String> },
    /// Already there under `id`; `note` when the content differs.
    Duplicate { id: String, note: Option<String> },
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{path}: line {line}: {detail}")]
    Corrupt { path: String, line: usize, detail: String },
}

pub trait ReportSink {
    /// Store `parsed` unless it is a duplicate. A report counts as stored
    /// only once this returns `Ok(Stored::Imported)`.
    fn put(&mut self, parsed: &Parsed) -> Result<Stored, SinkError>;

    /// Whether aggregate reports should be streamed into
    /// [`ReportSink::begin_aggregate`] row batch by row batch (memory flat
    /// in the report's size) instead of parsed whole and given to `put`.
    /// Streamed reports carry no raw document.
    fn streams(&self) -> bool {
        false
    }

    /// Begin an aggregate report from its header (`records` empty); its
    /// rows follow in batches. The default collects them and calls `put`
    /// at the end.
    fn begin_aggregate<'s>(&'s mut self, header: &AggregateReport) -> Result<Box<dyn AggregateWriter + 's>, SinkError> {
        Ok(Box::new(Collect {
            sink: self,
            report: header.clone(),
        }))
    }
}

/// The rows of one streamed aggregate report, on their way into a sink.
pub trait AggregateWriter {
    /// Add rows (any number; called repeatedly).
    fn records(&mut self, batch: &[Record]) -> Result<(), SinkError>;

    /// [`AggregateWriter::records`] handing the batch over: a writer that
    /// stores on another thread takes it without a copy.
    fn records_owned(&mut self, batch: Vec<Record>) -> Result<(), SinkError> {
        self.records(&batch)
    }

    /// The report was read whole: store it. `header` is the final header
    /// (with the extensions seen after the rows), `records` the row count,
    /// `digest` the SHA-256 of the document.
    fn finish(
        self: Box<Self>,
        header: &AggregateReport,
        records: usize,
        warnings: &Warnings,
        digest: &str,
    ) -> Result<Stored, SinkError>;

    /// The report was rejected part way: store nothing of it.
    fn abort(self: Box<Self>) -> Result<(), SinkError>;
}

/// [`ReportSink::begin_aggregate`]'s default: the rows in memory, then `put`.
struct Collect<'s, S: ReportSink + ?Sized> {
    sink: &'s mut S,
    report: AggregateReport,
}

impl<S: ReportSink + ?Sized> AggregateWriter for Collect<'_, S> {
    fn records(&mut self, batch: &[Record]) -> Result<(), SinkError> {
        self.report.records.extend_from_slice(batch);
        Ok(())
    }

    fn finish(
        self: Box<Self>,
        header: &AggregateReport,
        _records: usize,
        warnings: &Warnings,
        digest: &str,
    ) -> Result<Stored, SinkError> {
        let report = AggregateReport {
            records: self.report.records,
            ..header.clone()
        };
        let parsed = Parsed {
            report: Report::Aggregate(report),
            warnings: warnings.clone(),
            raw: Vec::new(),
            digest: digest.to_string(),
        };
        self.sink.put(&parsed)
    }

    fn abort(self: Box<Self>) -> Result<(), SinkError> {
        Ok(())
    }
}

/// The duplicate rule, shared by the sinks.
#[derive(Debug, Default, Clone)]
pub struct Index {
    /// short id → content digest.
    digests: HashMap<String, String>,
    /// identity without range → the ranges seen.
    ranges: HashMap<String, Vec<(i64, i64)>>,
}

/// What the index says about a report before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    New { id: String, flags: Vec<String> },
    Duplicate { id: String, note: Option<String> },
}

impl Index {
    pub fn judge(&self, identity: &Identity, digest: &str) -> Verdict {
        let id = identity.short_id();
        if let Some(seen) = self.digests.get(&id) {
            let note =
                (seen != digest).then(|| "same report identity, different content (the first copy is kept)".into());
            return Verdict::Duplicate { id, note };
        }
        let flags = self
            .ranges
            .get(&family_key(identity))
            .into_iter()
            .flatten()
            .map(|(b, e)| {
                format!(
                    "report id {:?} was already imported for another date range ({b}..{e})",
                    identity.report_id
                )
            })
            .collect();
        Verdict::New { id, flags }
    }

    pub fn insert(&mut self, identity: &Identity, digest: &str) {
        self.digests.insert(identity.short_id(), digest.to_string());
        self.ranges
            .entry(family_key(identity))
            .or_default()
            .push((identity.begin, identity.end));
    }

    pub fn len(&self) -> usize {
        self.digests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }
}

fn family_key(identity: &Identity) -> String {
    let (kind, reporter, id, domain) = identity.family();
    format!("{}\n{reporter}\n{id}\n{domain}", kind.as_str())
}

/// Reports kept in memory (tests; a run without a store).
#[derive(Debug, Default)]
pub struct MemorySink {
    pub index: Index,
    pub reports: Vec<Parsed>,
}

impl ReportSink for MemorySink {
    fn put(&mut self, parsed: &Parsed) -> Result<Stored, SinkError> {
        let identity = parsed.report.identity();
        match self.index.judge(&identity, &parsed.digest) {
            Verdict::Duplicate { id, note } => Ok(Stored::Duplicate { id, note }),
            Verdict::New { id, flags } => {
                self.index.insert(&identity, &parsed.digest);
                self.reports.push(parsed.clone());
                Ok(Stored::Imported { id, flags })
            }
        }
    }
}

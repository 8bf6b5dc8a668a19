//! Where imported reports go. The store (SQLite/PostgreSQL) will implement
//! [`ReportSink`]; until then [`MemorySink`] (tests) and
//! [`crate::DirSink`] (a directory) do. Both share the duplicate rule in
//! [`Index`]: the same identity (reporter, report id, policy domain, date
//! range) is a duplicate; the same report id for another range is kept
//! and flagged.

use std::collections::HashMap;

use crate::report::{Identity, Parsed};

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

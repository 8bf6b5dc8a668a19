//! JSON output: one document per run, streamed domain by domain so memory
//! does not grow with the list; or JSON Lines, one domain per line. Without
//! evidence (`--no-evidence`) a domain's `observation` (every DNS answer
//! and probe) is left out: findings, summary, scores and profiles remain.

use std::io::{self, Write};

use crate::{DomainReport, REPORT_SCHEMA};

/// Writes `{"mailwarden": .., "schema": .., "domains": [ ... ]}` one
/// domain at a time. Call [`JsonDocument::finish`] to close it.
pub struct JsonDocument<W: Write> {
    out: W,
    written: usize,
    evidence: bool,
}

/// A report as JSON, with or without its Observation.
fn report_value(report: &DomainReport, evidence: bool) -> serde_json::Result<serde_json::Value> {
    let mut value = serde_json::to_value(report)?;
    if !evidence && let Some(object) = value.as_object_mut() {
        object.remove("observation");
    }
    Ok(value)
}

impl<W: Write> JsonDocument<W> {
    pub fn start(mut out: W, tool_version: &str) -> io::Result<Self> {
        write!(
            out,
            "{{\n  \"mailwarden\": {},\n  \"schema\": {REPORT_SCHEMA},\n  \"domains\": [",
            serde_json::to_string(tool_version)?
        )?;
        Ok(Self {
            out,
            written: 0,
            evidence: true,
        })
    }

    /// Leave each domain's Observation out (`--no-evidence`).
    pub fn without_evidence(mut self) -> Self {
        self.evidence = false;
        self
    }

    pub fn push(&mut self, report: &DomainReport) -> io::Result<()> {
        let sep = if self.written == 0 { "\n" } else { ",\n" };
        self.out.write_all(sep.as_bytes())?;
        if self.evidence {
            crate::inert::to_writer_pretty(&mut self.out, report)?;
        } else {
            crate::inert::to_writer_pretty(&mut self.out, &report_value(report, false)?)?;
        }
        self.written += 1;
        self.out.flush()
    }

    pub fn finish(mut self) -> io::Result<W> {
        let close = if self.written == 0 { "]\n}\n" } else { "\n  ]\n}\n" };
        self.out.write_all(close.as_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// JSON Lines: one domain per line, each flushed whole as it is written.
pub struct JsonLines<W: Write> {
    out: W,
    evidence: bool,
}

impl<W: Write> JsonLines<W> {
    /// Lines with each domain's Observation, or without (`--no-evidence`).
    pub fn new(out: W, evidence: bool) -> Self {
        Self { out, evidence }
    }

    pub fn push(&mut self, report: &DomainReport) -> io::Result<()> {
        write_jsonl(&mut self.out, report, self.evidence)
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One domain as one line of JSON (without its Observation unless `evidence`).
pub fn write_jsonl<W: Write>(mut out: W, report: &DomainReport, evidence: bool) -> io::Result<()> {
    if evidence {
        crate::inert::to_writer(&mut out, report)?;
    } else {
        crate::inert::to_writer(&mut out, &report_value(report, false)?)?;
    }
    out.write_all(b"\n")?;
    out.flush()
}

//! JSON output: one document per run, streamed domain by domain so memory
//! does not grow with the list; or JSON Lines, one domain per line.

use std::io::{self, Write};

use crate::{DomainReport, REPORT_SCHEMA};

/// Writes `{"mailwarden": .., "schema": .., "domains": [ ... ]}` one
/// domain at a time. Call [`JsonDocument::finish`] to close it.
pub struct JsonDocument<W: Write> {
    out: W,
    written: usize,
}

impl<W: Write> JsonDocument<W> {
    pub fn start(mut out: W, tool_version: &str) -> io::Result<Self> {
        write!(
            out,
            "{{\n  \"mailwarden\": {},\n  \"schema\": {REPORT_SCHEMA},\n  \"domains\": [",
            serde_json::to_string(tool_version)?
        )?;
        Ok(Self { out, written: 0 })
    }

    pub fn push(&mut self, report: &DomainReport) -> io::Result<()> {
        let sep = if self.written == 0 { "\n" } else { ",\n" };
        self.out.write_all(sep.as_bytes())?;
        crate::inert::to_writer_pretty(&mut self.out, report)?;
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

/// One domain as one line of JSON.
pub fn write_jsonl<W: Write>(mut out: W, report: &DomainReport) -> io::Result<()> {
    crate::inert::to_writer(&mut out, report)?;
    out.write_all(b"\n")?;
    out.flush()
}

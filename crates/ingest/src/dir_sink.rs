//! A directory of imported reports, until the database store exists (the
//! one I/O module of this crate).
//!
//! Layout: `reports/ID.json` (the parsed, redacted report), `raw/ID.xml` or
//! `raw/ID.json` (the decompressed document of aggregate and TLS reports;
//! never for failure reports), and `index.jsonl`, one line per report. The
//! index line is the commit: files are written and synced first, the line
//! is appended and synced last, so a crash leaves at most an unreferenced
//! file, never a half-stored report; a torn last line (no newline) is
//! cut off when the directory is opened again.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::{Identity, Kind, Parsed, Report};
use crate::sink::{Index, ReportSink, SinkError, Stored, Verdict};

#[derive(Debug)]
pub struct DirSink {
    root: PathBuf,
    index: Index,
}

#[derive(Serialize, Deserialize)]
struct IndexLine {
    id: String,
    kind: String,
    reporter: String,
    report_id: String,
    domain: String,
    begin: i64,
    end: i64,
    digest: String,
    records: usize,
}

impl DirSink {
    /// Open (creating if needed) the directory and read its index.
    pub fn open(root: &Path) -> Result<DirSink, SinkError> {
        fs::create_dir_all(root.join("reports"))?;
        fs::create_dir_all(root.join("raw"))?;
        let mut index = Index::default();
        let path = root.join("index.jsonl");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e.into()),
        };
        // Only newline-terminated lines were committed; cut a torn tail so
        // the next append starts on a line of its own.
        let committed_len = text.rfind('\n').map_or(0, |end| end + 1);
        if committed_len < text.len() {
            OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_len(committed_len as u64)?;
        }
        let committed = &text[..committed_len];
        for (n, line) in committed.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
            let entry: IndexLine = serde_json::from_str(line).map_err(|e| SinkError::Corrupt {
                path: path.display().to_string(),
                line: n + 1,
                detail: e.to_string(),
            })?;
            index.insert(&entry.identity(), &entry.digest);
        }
        Ok(DirSink {
            root: root.to_path_buf(),
            index,
        })
    }

    /// How many reports the directory holds.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    }
}

impl IndexLine {
    fn identity(&self) -> Identity {
        let kind = match self.kind.as_str() {
            "aggregate" => Kind::Aggregate,
            "failure" => Kind::Failure,
            _ => Kind::Tlsrpt,
        };
        Identity {
            kind,
            reporter: self.reporter.clone(),
            report_id: self.report_id.clone(),
            domain: self.domain.clone(),
            begin: self.begin,
            end: self.end,
        }
    }
}

impl ReportSink for DirSink {
    fn put(&mut self, parsed: &Parsed) -> Result<Stored, SinkError> {
        let identity = parsed.report.identity();
        let (id, flags) = match self.index.judge(&identity, &parsed.digest) {
            Verdict::Duplicate { id, note } => return Ok(Stored::Duplicate { id, note }),
            Verdict::New { id, flags } => (id, flags),
        };
        let json = serde_json::to_vec_pretty(&parsed.report).map_err(std::io::Error::other)?;
        Self::write_synced(&self.root.join("reports").join(format!("{id}.json")), &json)?;
        let ext = match parsed.report {
            Report::Aggregate(_) => Some("xml"),
            Report::Tlsrpt(_) => Some("json"),
            Report::Failure(_) => None,
        };
        if let Some(ext) = ext {
            Self::write_synced(&self.root.join("raw").join(format!("{id}.{ext}")), &parsed.raw)?;
        }
        let line = IndexLine {
            id: id.clone(),
            kind: identity.kind.as_str().to_string(),
            reporter: identity.reporter.clone(),
            report_id: identity.report_id.clone(),
            domain: identity.domain.clone(),
            begin: identity.begin,
            end: identity.end,
            digest: parsed.digest.clone(),
            records: parsed.report.records(),
        };
        let mut text = serde_json::to_string(&line).map_err(std::io::Error::other)?;
        text.push('\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("index.jsonl"))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        self.index.insert(&identity, &parsed.digest);
        Ok(Stored::Imported { id, flags })
    }
}

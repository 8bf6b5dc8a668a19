//! The streaming importer (`import_reader`) against the in-memory one
//! (`import`): the same outcome for every corpus file (status, kind,
//! records, id, reason, position, warnings) and the same stored report and
//! digest, also when the reader hands out one byte at a time (UTF-8
//! sequences and lines split across reads); and rows really arrive in
//! batches.

use std::io::Read;
use std::path::{Path, PathBuf};

use mailwarden_ingest::aggregate::{AggregateReport, Record};
use mailwarden_ingest::sink::{AggregateWriter, SinkError, Stored};
use mailwarden_ingest::{Limits, MemorySink, Outcome, Parsed, ReportSink, Warnings, import, import_reader, walk};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/reports/ingest")
}

/// A memory sink that asks for streaming (the default writer collects rows).
#[derive(Default)]
struct Streaming(MemorySink);

impl ReportSink for Streaming {
    fn put(&mut self, parsed: &Parsed) -> Result<Stored, SinkError> {
        self.0.put(parsed)
    }

    fn streams(&self) -> bool {
        true
    }
}

/// Hands out one byte per read.
struct OneByte<R>(R);

impl<R: Read> Read for OneByte<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = out.len().min(1);
        self.0.read(&mut out[..n])
    }
}

fn files() -> Vec<(String, PathBuf)> {
    let dir = corpus_dir();
    walk::files(std::slice::from_ref(&dir))
        .into_iter()
        .map(|f| f.unwrap())
        .map(|f| (f.strip_prefix(&dir).unwrap().to_string_lossy().into_owned(), f))
        .filter(|(name, _)| name != "make.py" && name != "expected.tsv")
        .collect()
}

/// What must be equal: all but the human detail of caps and streams.
fn key(o: &Outcome) -> String {
    let mut o = o.clone();
    if matches!(
        o.reason.map(|r| r.as_str()),
        Some("size-limit" | "truncated" | "bad-archive")
    ) {
        o.detail = None;
    }
    serde_json::to_string(&o).unwrap()
}

fn compare(one_byte: bool) {
    let mut memory = MemorySink::default();
    let mut streaming = Streaming::default();
    for (name, path) in files() {
        // A bomb one byte at a time is only slow, not different.
        if one_byte && name.contains("bomb") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let expected = import(&name, &bytes, &Limits::default(), &mut memory).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let actual = if one_byte {
            import_reader(&name, OneByte(file), &Limits::default(), &mut streaming).unwrap()
        } else {
            import_reader(&name, file, &Limits::default(), &mut streaming).unwrap()
        };
        let (e, a): (Vec<_>, Vec<_>) = (expected.iter().map(key).collect(), actual.iter().map(key).collect());
        assert_eq!(a, e, "{name}");
    }
    assert_eq!(memory.reports.len(), streaming.0.reports.len());
    for (m, s) in memory.reports.iter().zip(&streaming.0.reports) {
        assert_eq!(s.report, m.report);
        assert_eq!(s.digest, m.digest);
        assert_eq!(s.warnings, m.warnings);
    }
}

#[test]
fn streaming_import_equals_the_in_memory_import_on_the_corpus() {
    compare(false);
}

#[test]
fn streaming_import_equals_the_in_memory_import_one_byte_at_a_time() {
    compare(true);
}

/// Counts the batches a streamed report arrives in.
#[derive(Default)]
struct Batches {
    sizes: Vec<usize>,
    finished: Option<usize>,
    aborted: bool,
}

struct Writer<'a>(&'a mut Batches);

impl AggregateWriter for Writer<'_> {
    fn records(&mut self, batch: &[Record]) -> Result<(), SinkError> {
        self.0.sizes.push(batch.len());
        Ok(())
    }

    fn finish(
        self: Box<Self>,
        _header: &AggregateReport,
        records: usize,
        _warnings: &Warnings,
        _digest: &str,
    ) -> Result<Stored, SinkError> {
        self.0.finished = Some(records);
        Ok(Stored::Imported {
            id: "x".into(),
            flags: Vec::new(),
        })
    }

    fn abort(self: Box<Self>) -> Result<(), SinkError> {
        self.0.aborted = true;
        Ok(())
    }
}

impl ReportSink for Batches {
    fn put(&mut self, _: &Parsed) -> Result<Stored, SinkError> {
        unreachable!("aggregate reports are streamed")
    }

    fn streams(&self) -> bool {
        true
    }

    fn begin_aggregate<'s>(&'s mut self, _: &AggregateReport) -> Result<Box<dyn AggregateWriter + 's>, SinkError> {
        Ok(Box::new(Writer(self)))
    }
}

fn report(rows: usize, bad_row: Option<usize>) -> String {
    let mut doc = String::from(
        "<feedback><version>1.0</version><report_metadata><org_name>r</org_name><email>a@r</email>\
         <report_id>big</report_id><date_range><begin>1</begin><end>2</end></date_range></report_metadata>\
         <policy_published><domain>example.com</domain><p>none</p></policy_published>\n",
    );
    for i in 0..rows {
        let ip = if Some(i) == bad_row {
            "not-an-ip".to_string()
        } else {
            format!("10.0.{}.{}", i / 256 % 256, i % 256)
        };
        doc.push_str(&format!(
            "<record><row><source_ip>{ip}</source_ip><count>1</count><policy_evaluated><disposition>none</disposition>\
             </policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers></record>\n"
        ));
    }
    doc.push_str("</feedback>\n");
    doc
}

#[test]
fn rows_reach_the_sink_in_batches_and_a_bad_row_aborts_the_whole_report() {
    let mut sink = Batches::default();
    let doc = report(1203, None);
    let out = import_reader("big.xml", doc.as_bytes(), &Limits::default(), &mut sink).unwrap();
    assert_eq!(out[0].records, Some(1203));
    assert_eq!(sink.sizes, vec![500, 500, 203]);
    assert_eq!(sink.finished, Some(1203));

    let mut sink = Batches::default();
    let doc = report(1203, Some(1100));
    let out = import_reader("bad.xml", doc.as_bytes(), &Limits::default(), &mut sink).unwrap();
    assert_eq!(out[0].reason.map(|r| r.as_str()), Some("invalid-value"));
    assert_eq!(out[0].position.unwrap().line, 1102, "the bad row's line");
    assert!(sink.aborted && sink.finished.is_none());
}

/// Regression guard for the stream's own caps: a plain report over the
/// input cap is rejected while reading, not after.
#[test]
fn a_report_over_the_input_cap_is_rejected_while_streaming() {
    let mut sink = Batches::default();
    let doc = report(2000, None);
    let limits = Limits {
        max_input: 10_000,
        ..Limits::default()
    };
    let out = import_reader("big.xml", doc.as_bytes(), &limits, &mut sink).unwrap();
    assert_eq!(out[0].reason.map(|r| r.as_str()), Some("size-limit"));
    assert!(sink.aborted || sink.finished.is_none());
}

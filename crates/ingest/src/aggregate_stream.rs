//! An aggregate report read as a stream: the header (`version`,
//! `report_metadata`, `policy_published`) first, then each `<record>` parsed
//! by the same rules as [`crate::aggregate::parse`] and handed to the sink
//! in batches, so memory stays that of one batch whatever the report's size.
//!
//! Outcomes equal the in-memory parser's: a syntax error anywhere wins
//! over a bad row (the rest of the document is still read, rows dropped),
//! and a rejected report leaves nothing in the sink ([`AggregateWriter::abort`]).

use std::io::BufRead;

use crate::aggregate::{AggregateReport, Cx, Record, check_root, extensions};
use crate::rejection::Rejection;
use crate::sink::{AggregateWriter, ReportSink, SinkError, Stored};
use crate::warning::Warnings;
use crate::xml::Element;
use crate::xml_stream::Subtrees;

/// Rows handed to the sink at a time.
pub const BATCH: usize = 500;

/// How a streamed report ended.
pub enum Streamed {
    Stored {
        stored: Stored,
        records: usize,
        warnings: Warnings,
    },
    Rejected(Rejection),
}

/// A failure of the sink (stop the import) or of the document (reject it).
enum Fail {
    Sink(SinkError),
    Reject(Rejection),
}

impl From<SinkError> for Fail {
    fn from(e: SinkError) -> Fail {
        Fail::Sink(e)
    }
}

impl From<Rejection> for Fail {
    fn from(r: Rejection) -> Fail {
        Fail::Reject(r)
    }
}

/// Read the report from `doc` into `sink`.
pub fn stream<R: BufRead>(doc: &mut Subtrees<R>, sink: &mut dyn ReportSink) -> Result<Streamed, SinkError> {
    let mut state = State::default();
    let result = run(doc, sink, &mut state);
    let writer = state.writer.take();
    match result {
        Ok((stored, records)) => Ok(Streamed::Stored {
            stored,
            records,
            warnings: state.warnings,
        }),
        Err(Fail::Sink(e)) => {
            if let Some(w) = writer {
                w.abort().ok();
            }
            Err(e)
        }
        Err(Fail::Reject(r)) => {
            if let Some(w) = writer {
                w.abort()?;
            }
            Ok(Streamed::Rejected(r))
        }
    }
}

#[derive(Default)]
struct State<'s> {
    writer: Option<Box<dyn AggregateWriter + 's>>,
    warnings: Warnings,
}

fn run<'s, R: BufRead>(
    doc: &mut Subtrees<R>,
    sink: &'s mut dyn ReportSink,
    state: &mut State<'s>,
) -> Result<(Stored, usize), Fail> {
    let root = doc.root()?;
    let (ns, declared_9990) = check_root(&root)?;
    // The root's children other than rows, kept (they are small).
    let mut head = Element {
        children: Vec::new(),
        ..root.clone()
    };
    let mut header: Option<AggregateReport> = None;
    // Rows that came before the header was complete (unusual order).
    let mut early: Vec<Element> = Vec::new();
    let mut batch: Vec<Record> = Vec::with_capacity(BATCH);
    let mut count = 0usize;
    // The first bad row: reported once the whole document proved well-formed.
    let mut bad: Option<Rejection> = None;
    let mut sink = Some(sink);
    while let Some(child) = doc.next_child()? {
        if bad.is_some() {
            continue;
        }
        if child.namespace != ns || child.name != "record" {
            head.children.push(child);
            continue;
        }
        if header.is_none() {
            if head.first("report_metadata", &ns).is_none() || head.first("policy_published", &ns).is_none() {
                early.push(child);
                continue;
            }
            match begin(&head, &ns, declared_9990, state, &mut sink) {
                Ok(h) => header = Some(h),
                Err(Fail::Reject(r)) => {
                    bad = Some(r);
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        for row in early.drain(..).chain(std::iter::once(child)) {
            match add_row(&row, &ns, state, &mut batch, &mut count) {
                Ok(()) => {}
                Err(Fail::Reject(r)) => {
                    bad = Some(r);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
    }
    if let Some(r) = bad {
        return Err(r.into());
    }
    if header.is_none() {
        header = Some(begin(&head, &ns, declared_9990, state, &mut sink)?);
        for row in std::mem::take(&mut early) {
            add_row(&row, &ns, state, &mut batch, &mut count)?;
        }
    }
    let mut header = header.expect("set above");
    flush(state, &mut batch)?;
    if count == 0 {
        Cx {
            ns: &ns,
            warnings: &mut state.warnings,
        }
        .no_records(&root);
    }
    header.extensions = extensions(&head, &ns);
    let digest = doc.tracked().digest();
    let writer = state.writer.take().expect("begun with the header");
    let stored = writer.finish(&header, count, &state.warnings, &digest)?;
    Ok((stored, count))
}

/// Read the header and open the sink's writer.
fn begin<'s>(
    head: &Element,
    ns: &str,
    declared_9990: bool,
    state: &mut State<'s>,
    sink: &mut Option<&'s mut dyn ReportSink>,
) -> Result<AggregateReport, Fail> {
    let header = Cx {
        ns,
        warnings: &mut state.warnings,
    }
    .header(head, declared_9990)?;
    let sink = sink.take().expect("one header per report");
    state.writer = Some(sink.begin_aggregate(&header)?);
    Ok(header)
}

fn add_row(
    row: &Element,
    ns: &str,
    state: &mut State<'_>,
    batch: &mut Vec<Record>,
    count: &mut usize,
) -> Result<(), Fail> {
    let record = Cx {
        ns,
        warnings: &mut state.warnings,
    }
    .record(row)?;
    batch.push(record);
    *count += 1;
    if batch.len() >= BATCH {
        flush(state, batch)?;
    }
    Ok(())
}

fn flush(state: &mut State<'_>, batch: &mut Vec<Record>) -> Result<(), Fail> {
    if batch.is_empty() {
        return Ok(());
    }
    match state.writer.as_mut() {
        Some(w) => w.records_owned(std::mem::replace(batch, Vec::with_capacity(BATCH)))?,
        None => batch.clear(),
    }
    Ok(())
}

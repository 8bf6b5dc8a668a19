//! Importing from a reader (a file) without holding it: gzip layers are
//! decompressed as they are read, and an aggregate report goes through
//! [`crate::aggregate_stream`] into a sink that [`ReportSink::streams`],
//! so memory stays flat whatever the report's size. Anything else (zip,
//! e-mail, mbox, JSON, or a sink that does not stream) is read into
//! memory within the same caps and imported as [`crate::import()`] does,
//! with the same outcomes.

use std::io::{BufRead, BufReader, Read};

use crate::aggregate_stream::{self, Streamed};
use crate::import::{self, Outcome, rejected, stored_outcome};
use crate::input;
use crate::limits::Limits;
use crate::rejection::Reason;
use crate::report::Kind;
use crate::sink::{ReportSink, SinkError};
use crate::xml_stream::{Capped, Subtrees, Tracked, io_rejection};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";
const BUFFER: usize = 64 << 10;

/// Import the file `label` read from `reader`.
pub fn import_reader(
    label: &str,
    reader: impl Read,
    limits: &Limits,
    sink: &mut dyn ReportSink,
) -> Result<Vec<Outcome>, SinkError> {
    let detail = format!("more than {} bytes, over the input cap", limits.max_input);
    let capped = Capped::new(reader, limits.max_input, detail);
    layer(
        label,
        Box::new(BufReader::with_capacity(BUFFER, capped)),
        limits,
        0,
        "",
        sink,
    )
}

/// One layer: gzip (decompress and look again), an aggregate report for a
/// streaming sink, or anything else in memory. `what` names the container
/// the bytes came out of, for I/O errors.
fn layer(
    label: &str,
    mut reader: Box<dyn BufRead + '_>,
    limits: &Limits,
    depth: u8,
    what: &'static str,
    sink: &mut dyn ReportSink,
) -> Result<Vec<Outcome>, SinkError> {
    let head = match reader.fill_buf() {
        Ok(h) => h,
        Err(e) => return Ok(vec![rejected(label.to_string(), None, io_rejection(&e, what))]),
    };
    if head.starts_with(GZIP_MAGIC) && depth < limits.max_nesting {
        let detail = format!("gzip expands to more than the cap of {} bytes", limits.max_decompressed);
        let decoder = flate2::read::MultiGzDecoder::new(reader);
        let capped = Capped::new(decoder, limits.max_decompressed, detail);
        return layer(
            label,
            Box::new(BufReader::with_capacity(BUFFER, capped)),
            limits,
            depth + 1,
            "gzip",
            sink,
        );
    }
    let bom = head.starts_with(UTF8_BOM);
    let first = head[if bom { 3 } else { 0 }..]
        .iter()
        .find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'<') && sink.streams() {
        if bom {
            reader.consume(3);
        }
        return streamed(label, reader, limits, what, sink);
    }
    let mut bytes = Vec::new();
    if let Err(e) = reader.read_to_end(&mut bytes) {
        return Ok(vec![rejected(label.to_string(), None, io_rejection(&e, what))]);
    }
    let mut items = Vec::new();
    input::open(label, &bytes, limits, depth, &mut items);
    items.into_iter().map(|item| import::store(item, sink)).collect()
}

fn streamed(
    label: &str,
    reader: Box<dyn BufRead + '_>,
    limits: &Limits,
    what: &'static str,
    sink: &mut dyn ReportSink,
) -> Result<Vec<Outcome>, SinkError> {
    let mut doc = Subtrees::new(Tracked::new(reader), limits.max_xml_depth, what);
    let outcome = match aggregate_stream::stream(&mut doc, sink)? {
        Streamed::Rejected(r) => {
            // XML that is no report at all has no kind (as in memory).
            // Nor does one that failed below the XML (cap, broken gzip).
            let kind = (r.reason != Reason::NotAReport && !doc.io_failed()).then_some(Kind::Aggregate);
            rejected(label.to_string(), kind, r)
        }
        Streamed::Stored {
            stored,
            records,
            warnings,
        } => stored_outcome(label.to_string(), Kind::Aggregate, records, stored, &warnings),
    };
    Ok(vec![outcome])
}

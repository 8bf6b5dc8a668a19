//! One trait every output format implements: [`ReportSink`] takes each
//! domain's report as it finishes and closes the document at the end.
//!
//! Streaming formats (text, JSON, JSON Lines, CSV) write each report as it
//! arrives. Documents written whole (SARIF, HTML, Markdown) implement
//! [`Document`] instead: each report is rendered into a part as it arrives
//! (so the report itself is not kept), and [`Collected`], written once for
//! all three, keeps the parts and writes them sorted by domain at
//! [`ReportSink::finish`]. [`open`] builds the sink of a [`Format`].

use std::io::{self, Write};

use mailwarden_policy::Catalogue;
use mailwarden_policy::frameworks::Frameworks;

use crate::DomainReport;
use crate::csv::{CsvWriter, SummaryCsvWriter};
use crate::html::HtmlReport;
use crate::json::{JsonDocument, JsonLines};
use crate::markdown::MarkdownReport;
use crate::sarif::SarifLog;
use crate::text::{TextReport, TextStyle};

/// Where domain reports go, in one format.
pub trait ReportSink {
    /// Write (or render and keep) one domain's report.
    fn push(&mut self, report: &DomainReport) -> io::Result<()>;
    /// Close the document (write what was collected) and flush.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// A document written whole at the end, from one part per domain.
pub trait Document {
    /// One domain, rendered.
    type Part;
    /// Render one domain's part (and note what the whole needs of it).
    fn part(&mut self, report: &DomainReport) -> Self::Part;
    /// Write the document from the parts, already sorted by domain.
    fn write_to(self, parts: Vec<Self::Part>, out: &mut dyn Write) -> io::Result<()>;
}

/// A [`Document`]'s parts, collected and written sorted by domain.
pub struct Collected<D: Document, W: Write> {
    document: D,
    parts: Vec<(String, D::Part)>,
    out: W,
}

impl<D: Document, W: Write> Collected<D, W> {
    pub fn new(document: D, out: W) -> Self {
        Self {
            document,
            parts: Vec::new(),
            out,
        }
    }
}

impl<D: Document, W: Write> ReportSink for Collected<D, W> {
    fn push(&mut self, report: &DomainReport) -> io::Result<()> {
        let part = self.document.part(report);
        self.parts.push((report.domain.clone(), part));
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let Self {
            document,
            mut parts,
            mut out,
        } = *self;
        parts.sort_by(|a, b| a.0.cmp(&b.0));
        document.write_to(parts.into_iter().map(|(_, p)| p).collect(), &mut out)?;
        out.flush()
    }
}

/// Reads a zone file a scan named (`observation.source.zone_files`) for
/// SARIF line numbers: its text (empty when it cannot be read now) and the
/// origin given with it. I/O stays with the caller.
pub type ZoneReader = Box<dyn FnMut(&str) -> (String, Option<String>)>;

/// An output format and its options.
pub enum Format {
    Text(TextStyle),
    /// `evidence: false` leaves each domain's Observation out (`--no-evidence`).
    Json {
        evidence: bool,
    },
    Jsonl {
        evidence: bool,
    },
    /// One row per finding.
    Csv,
    /// One row per domain (`--summary`).
    CsvSummary,
    Sarif,
    Html,
    Markdown,
}

/// What the formats need besides the reports.
pub struct SinkContext<'a> {
    pub catalogue: &'a Catalogue,
    pub frameworks: &'a Frameworks,
    pub tool_version: &'a str,
    /// What DNSSEC was validated against, for the HTML first page.
    pub trust_anchor: Option<String>,
    /// How SARIF reads the zone files a scan named.
    pub zone_reader: Option<ZoneReader>,
}

/// The sink of `format`, writing to `out`; streaming formats write their
/// header now.
pub fn open<'a, W: Write + 'a>(format: Format, out: W, cx: SinkContext<'a>) -> io::Result<Box<dyn ReportSink + 'a>> {
    Ok(match format {
        Format::Text(style) => Box::new(TextReport::new(out, cx.catalogue, style)),
        Format::Json { evidence } => {
            let doc = JsonDocument::start(out, cx.tool_version)?;
            Box::new(if evidence { doc } else { doc.without_evidence() })
        }
        Format::Jsonl { evidence } => Box::new(JsonLines::new(out, evidence)),
        Format::Csv => Box::new(CsvWriter::start(out, cx.frameworks)?),
        Format::CsvSummary => Box::new(SummaryCsvWriter::start(out)?),
        Format::Sarif => {
            let mut log = SarifLog::new(cx.catalogue, cx.frameworks, cx.tool_version);
            if let Some(reader) = cx.zone_reader {
                log = log.with_zone_reader(reader);
            }
            Box::new(Collected::new(log, out))
        }
        Format::Html => {
            let mut html = HtmlReport::new(cx.catalogue, cx.frameworks, cx.tool_version);
            if let Some(anchor) = &cx.trust_anchor {
                html.set_trust_anchor(anchor);
            }
            Box::new(Collected::new(html, out))
        }
        Format::Markdown => Box::new(Collected::new(
            MarkdownReport::new(cx.catalogue, cx.frameworks, cx.tool_version),
            out,
        )),
    })
}

/// The trait for the streaming writers: their own `push` and `finish`.
macro_rules! streaming_sink {
    ($($ty:ty),* $(,)?) => {$(
        impl<W: Write> ReportSink for $ty {
            fn push(&mut self, report: &DomainReport) -> io::Result<()> {
                <$ty>::push(self, report)
            }

            fn finish(self: Box<Self>) -> io::Result<()> {
                <$ty>::finish(*self).map(drop)
            }
        }
    )*};
}

streaming_sink!(
    TextReport<'_, W>,
    JsonDocument<W>,
    JsonLines<W>,
    CsvWriter<'_, W>,
    SummaryCsvWriter<W>,
);

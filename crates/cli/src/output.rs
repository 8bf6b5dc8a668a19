//! Where reports go: standard output or `--output FILE`, in the chosen
//! format, plus the exit status the findings call for.
//!
//! Every format is a [`ReportSink`] ([`mailwarden_render::sink`]): text,
//! json, jsonl and csv stream each domain as it finishes; sarif, html and
//! markdown are single documents, collected and written at the end.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use mailwarden_policy::Catalogue;
use mailwarden_policy::frameworks::Frameworks;
use mailwarden_render::DomainReport;
use mailwarden_render::sink::{Format, ReportSink, SinkContext};
use mailwarden_render::text::TextStyle;

use crate::args::ReportFormat;
use crate::config::OutputConfig;

/// Standard output or a file, buffered.
pub type Out = BufWriter<Box<dyn Write + Send>>;

/// Open `--output FILE` (created or truncated), or standard output.
pub fn open_output(path: Option<&Path>) -> anyhow::Result<Out> {
    let inner: Box<dyn Write + Send> = match path {
        Some(p) => Box::new(File::create(p).with_context(|| format!("--output {}: cannot create", p.display()))?),
        None => Box::new(io::stdout()),
    };
    Ok(BufWriter::new(inner))
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Streams reports to the output in the chosen format and remembers
/// whether any failed.
pub struct Sink {
    sink: Box<dyn ReportSink>,
    config: OutputConfig,
    failed: bool,
    /// `--output PATH` or `standard output`, for write errors.
    target: String,
}

/// How `path` (from `--output`) is named in errors.
pub fn target_label(path: Option<&Path>) -> String {
    path.map_or_else(|| "standard output".into(), |p| format!("--output {}", p.display()))
}

impl Sink {
    /// `trust_anchor`: what DNSSEC was validated against, for reports that
    /// state it (HTML); `None` when not known (judging saved evidence).
    pub fn new(config: OutputConfig, trust_anchor: Option<String>) -> anyhow::Result<Self> {
        let out = open_output(config.output.as_deref())?;
        let target = target_label(config.output.as_deref());
        let format = match config.format {
            ReportFormat::Text => Format::Text(TextStyle {
                color: config.color,
                verbose: config.verbose,
                width: config.width,
            }),
            ReportFormat::Json => Format::Json {
                evidence: config.evidence,
            },
            ReportFormat::Jsonl => Format::Jsonl {
                evidence: config.evidence,
            },
            ReportFormat::Csv if config.summary => Format::CsvSummary,
            ReportFormat::Csv => Format::Csv,
            ReportFormat::Sarif => Format::Sarif,
            ReportFormat::Html => Format::Html,
            ReportFormat::Markdown => Format::Markdown,
        };
        let context = SinkContext {
            catalogue: Catalogue::builtin(),
            frameworks: Frameworks::builtin(),
            tool_version: VERSION,
            trust_anchor,
            zone_reader: Some(Box::new(|label: &str| (zone_text(label), zone_origin(label)))),
        };
        let sink = mailwarden_render::sink::open(format, out, context).with_context(|| target.clone())?;
        Ok(Self {
            sink,
            config,
            failed: false,
            target,
        })
    }

    /// Write one domain's report; errors name the output.
    pub fn push(&mut self, report: &DomainReport) -> anyhow::Result<()> {
        if let Some(threshold) = self.config.fail_on {
            self.failed |= report.fails_at(threshold);
        }
        self.failed |= crate::compliance::fails(report);
        self.sink.push(report).with_context(|| self.target.clone())
    }

    /// Close the output; returns whether a finding reached `--fail-on`.
    pub fn finish(self) -> anyhow::Result<bool> {
        self.sink.finish().with_context(|| self.target)?;
        Ok(self.failed)
    }
}

/// The text of a zone file the scan read (for SARIF line numbers); empty
/// when it cannot be read now (judging old evidence elsewhere) or is over
/// the zone-file size cap.
fn zone_text(label: &str) -> String {
    let (_, path) = mailwarden_dns::zonefile::parse_zone_arg(label);
    crate::config::read_text(&path, mailwarden_dns::bounded::ZONE_LIMIT).unwrap_or_default()
}

fn zone_origin(label: &str) -> Option<String> {
    mailwarden_dns::zonefile::parse_zone_arg(label).0
}

/// Complete raw findings from the catalogue and wrap them in a report.
pub fn report(findings: Vec<mailwarden_model::RawFinding>, observation: mailwarden_model::Observation) -> DomainReport {
    let findings = Catalogue::builtin().complete_all(findings);
    let mut report = DomainReport::new(findings, observation);
    crate::compliance::complete(&mut report);
    report
}

//! Where reports go: standard output or `--output FILE`, in the chosen
//! format, plus the exit status the findings call for.
//!
//! text, json, jsonl and csv stream each domain as it finishes; sarif, html
//! and markdown are single documents, collected and written at the end.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use mailwarden_policy::Catalogue;
use mailwarden_policy::frameworks::Frameworks;
use mailwarden_render::DomainReport;
use mailwarden_render::csv::{CsvWriter, SummaryCsvWriter};
use mailwarden_render::html::HtmlReport;
use mailwarden_render::json::{JsonDocument, write_jsonl};
use mailwarden_render::markdown::MarkdownReport;
use mailwarden_render::sarif::SarifLog;
use mailwarden_render::text::{TextReport, TextStyle};

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

enum Writer {
    Text(TextReport<'static, Out>),
    Json(JsonDocument<Out>),
    Jsonl(Out),
    Csv(CsvWriter<'static, Out>),
    CsvSummary(SummaryCsvWriter<Out>),
    Sarif(Box<SarifLog<'static>>, BTreeSet<String>, Out),
    Html(HtmlReport<'static>, Out),
    Markdown(MarkdownReport<'static>, Out),
}

/// Streams reports to standard output and remembers whether any failed.
pub struct Sink {
    writer: Writer,
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
    pub fn new(config: OutputConfig) -> anyhow::Result<Self> {
        let out = open_output(config.output.as_deref())?;
        let target = target_label(config.output.as_deref());
        let (catalogue, frameworks) = (Catalogue::builtin(), Frameworks::builtin());
        let writer = match config.format {
            ReportFormat::Text => Writer::Text(TextReport::new(
                out,
                catalogue,
                TextStyle {
                    color: config.color,
                    verbose: config.verbose,
                    width: config.width,
                },
            )),
            ReportFormat::Json if config.evidence => {
                Writer::Json(JsonDocument::start(out, VERSION).with_context(|| target.clone())?)
            }
            ReportFormat::Json => Writer::Json(
                JsonDocument::start(out, VERSION)
                    .with_context(|| target.clone())?
                    .without_evidence(),
            ),
            ReportFormat::Jsonl => Writer::Jsonl(out),
            ReportFormat::Csv if config.summary => {
                Writer::CsvSummary(SummaryCsvWriter::start(out).with_context(|| target.clone())?)
            }
            ReportFormat::Csv => Writer::Csv(CsvWriter::start(out, frameworks).with_context(|| target.clone())?),
            ReportFormat::Sarif => Writer::Sarif(
                Box::new(SarifLog::new(catalogue, frameworks, VERSION)),
                BTreeSet::new(),
                out,
            ),
            ReportFormat::Html => Writer::Html(HtmlReport::new(catalogue, frameworks, VERSION), out),
            ReportFormat::Markdown => Writer::Markdown(MarkdownReport::new(catalogue, frameworks, VERSION), out),
        };
        Ok(Self {
            writer,
            config,
            failed: false,
            target,
        })
    }

    /// Write one domain's report; errors name the output.
    pub fn push(&mut self, report: &DomainReport) -> anyhow::Result<()> {
        self.write(report).with_context(|| self.target.clone())
    }

    fn write(&mut self, report: &DomainReport) -> io::Result<()> {
        if let Some(threshold) = self.config.fail_on {
            self.failed |= report.fails_at(threshold);
        }
        self.failed |= crate::compliance::fails(report);
        match &mut self.writer {
            Writer::Text(text) => text.push(report),
            Writer::Json(doc) => doc.push(report),
            Writer::Jsonl(out) => write_jsonl(out, report, self.config.evidence),
            Writer::Csv(csv) => csv.push(report),
            Writer::CsvSummary(csv) => csv.push(report),
            Writer::Sarif(log, indexed, _) => {
                for label in &report.observation.source.zone_files {
                    if indexed.insert(label.clone()) {
                        log.zones_mut()
                            .add(label, &zone_text(label), zone_origin(label).as_deref());
                    }
                }
                log.push(report);
                Ok(())
            }
            Writer::Html(doc, _) => {
                doc.push(report);
                Ok(())
            }
            Writer::Markdown(doc, _) => {
                doc.push(report);
                Ok(())
            }
        }
    }

    /// What DNSSEC was validated against, for reports that state it (HTML).
    pub fn set_trust_anchor(&mut self, anchor: &str) {
        if let Writer::Html(doc, _) = &mut self.writer {
            doc.set_trust_anchor(anchor);
        }
    }

    /// Close the output; returns whether a finding reached `--fail-on`.
    pub fn finish(self) -> anyhow::Result<bool> {
        let target = self.target;
        Self::close(self.writer).with_context(|| target)?;
        Ok(self.failed)
    }

    fn close(writer: Writer) -> io::Result<()> {
        match writer {
            Writer::Text(text) => {
                text.finish()?;
            }
            Writer::Jsonl(mut out) => out.flush()?,
            Writer::Json(doc) => {
                doc.finish()?;
            }
            Writer::Csv(csv) => {
                csv.finish()?;
            }
            Writer::CsvSummary(csv) => {
                csv.finish()?;
            }
            Writer::Sarif(log, _, out) => {
                log.finish(out)?;
            }
            Writer::Html(doc, out) => {
                doc.finish(out)?;
            }
            Writer::Markdown(doc, out) => {
                doc.finish(out)?;
            }
        }
        Ok(())
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
pub fn report(
    mut findings: Vec<mailwarden_model::Finding>,
    observation: mailwarden_model::Observation,
) -> DomainReport {
    let catalogue = Catalogue::builtin();
    for f in &mut findings {
        catalogue.enrich(f);
    }
    let mut report = DomainReport::new(findings, observation);
    crate::compliance::complete(&mut report);
    report
}

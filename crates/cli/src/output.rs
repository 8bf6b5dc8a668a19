//! Where reports go: standard output in the chosen format, plus the exit
//! status the findings call for.

use std::io::{self, BufWriter, Stdout, Write};

use mailwarden_policy::Catalogue;
use mailwarden_render::DomainReport;
use mailwarden_render::json::{JsonDocument, write_jsonl};
use mailwarden_render::text::{TextStyle, write_domain};

use crate::args::Format;
use crate::config::OutputConfig;

enum Writer {
    Text(BufWriter<Stdout>),
    Json(JsonDocument<BufWriter<Stdout>>),
    Jsonl(BufWriter<Stdout>),
}

/// Streams reports to standard output and remembers whether any failed.
pub struct Sink {
    writer: Writer,
    config: OutputConfig,
    failed: bool,
}

impl Sink {
    pub fn new(config: OutputConfig) -> io::Result<Self> {
        let out = BufWriter::new(io::stdout());
        let writer = match config.format {
            Format::Text => Writer::Text(out),
            Format::Json => Writer::Json(JsonDocument::start(out, env!("CARGO_PKG_VERSION"))?),
            Format::Jsonl => Writer::Jsonl(out),
        };
        Ok(Self {
            writer,
            config,
            failed: false,
        })
    }

    pub fn push(&mut self, report: &DomainReport) -> io::Result<()> {
        if let Some(threshold) = self.config.fail_on {
            self.failed |= report.fails_at(threshold);
        }
        self.failed |= crate::compliance::fails(report);
        match &mut self.writer {
            Writer::Text(out) => {
                let style = TextStyle {
                    color: self.config.color,
                    verbose: self.config.verbose,
                };
                write_domain(out, report, Catalogue::builtin(), style)?;
                out.flush()
            }
            Writer::Json(doc) => doc.push(report),
            Writer::Jsonl(out) => write_jsonl(out, report),
        }
    }

    /// Close the output; returns whether a finding reached `--fail-on`.
    pub fn finish(self) -> io::Result<bool> {
        match self.writer {
            Writer::Text(mut out) | Writer::Jsonl(mut out) => out.flush()?,
            Writer::Json(doc) => {
                doc.finish()?;
            }
        }
        Ok(self.failed)
    }
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

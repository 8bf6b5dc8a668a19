//! `mailwarden message FILE...`: audit real messages (.eml, mbox, `-` for
//! standard input): the path they took, what their headers disclose, and
//! their authentication verified through the same DNS layer as `scan`.
//!
//! Thin glue: `mailwarden-message` reads and judges; each message becomes
//! a report (its label in place of a domain, its DNS transcript as the
//! observation) written by the scan's writers. Text, HTML and Markdown
//! also get the hop table of each message; JSON and SARIF carry it as the
//! evidence of `message.hop-count`; CSV (one row per finding) has the hop
//! findings only.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use mailwarden_dns::DnsSource;
use mailwarden_engine::collect::Budget;
use mailwarden_message::input::{Limits, Messages, RawMessage};
use mailwarden_message::{Analysis, Options, auth, table};
use mailwarden_model::{Observation, SourceInfo, Transcript};
use mailwarden_policy::Catalogue;
use mailwarden_policy::frameworks::Frameworks;
use mailwarden_render::html::{Html, HtmlReport};
use mailwarden_render::markdown::MarkdownReport;
use mailwarden_render::sink::Document;
use mailwarden_render::{DomainReport, inert};

use crate::args::{MessageArgs, ReportFormat};
use crate::config::{self, OutputConfig};
use crate::output::{Out, Sink, open_output, report};

pub async fn run(db: Option<&str>, args: MessageArgs) -> Result<ExitCode> {
    if args.files.is_empty() {
        bail!("nothing to read: give message files (.eml or mbox), or - for standard input");
    }
    if args.max_message_bytes < 1024 {
        bail!("--max-message-bytes {}: at least 1024", args.max_message_bytes);
    }
    let limits = Limits {
        max_message_bytes: args.max_message_bytes,
        ..Limits::default()
    };
    let options = Options {
        trusted_hop: args.trusted_hop.clone(),
    };
    // With --db: the selectors of the messages' signatures are remembered
    // for scan and monitor (a database that cannot be used costs only that).
    let store = crate::remembered::open_or_warn(db).await;
    if args.dkim_selectors {
        let seen = print_selectors(&args.files, limits, &args.output.output)?;
        remember(store.as_ref(), seen.into_iter().collect()).await;
        return Ok(ExitCode::SUCCESS);
    }
    let output = OutputConfig::from_args(&args.output)?;
    let budget = config::budget(&args.dns)?;
    let source = if args.no_auth {
        None
    } else {
        Some(config::dns_source(&args.dns, false).await?)
    };
    let mut evidence = args
        .save_evidence
        .as_deref()
        .map(|p| File::create(p).with_context(|| format!("--save-evidence {}: cannot create", p.display())))
        .transpose()?
        .map(io::BufWriter::new);
    let mut sink = MessageSink::new(output)?;
    let mut verified = std::collections::BTreeSet::new();
    for path in &args.files {
        let reader = open(path)?;
        let mut messages = Messages::new(reader, limits);
        let mut labels = Vec::new();
        for item in messages.by_ref() {
            let raw = item.with_context(|| format!("{}: read error", path.display()))?;
            labels.push(raw.number);
            let label = label(path, &raw);
            let (analysis, auth, transcript) = audit(&label, &raw, &options, source.as_deref(), budget).await;
            let (described, exhausted) = match (&source, &auth) {
                (Some(s), Some(a)) => (s.describe(), a.budget_exhausted),
                _ => (unasked(&args.dns), false),
            };
            let observation = observation(&label, described, exhausted, transcript);
            verified.extend(verified_selectors(auth.as_ref()));
            let findings = mailwarden_message::judge(&analysis, auth.as_ref());
            let report = report(findings, observation);
            if let Some(out) = evidence.as_mut() {
                save(out, &analysis, auth.as_ref(), &report)?;
            }
            sink.push(&analysis, &report)?;
        }
        if messages.messages_dropped {
            eprintln!(
                "mailwarden: {}: more than {} messages; the rest were not read",
                path.display(),
                limits.max_messages
            );
        }
        if labels.is_empty() {
            eprintln!("mailwarden: {}: no message in the file (it is empty)", path.display());
        }
    }
    if let Some(mut out) = evidence {
        out.flush().context("--save-evidence")?;
    }
    let failed = sink.finish()?;
    remember(store.as_ref(), verified.into_iter().collect()).await;
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The (domain, selector) of every DKIM signature that verified. Only
/// those are remembered from a report run: a forged or broken signature
/// names selectors the domain may never have used.
fn verified_selectors(auth: Option<&auth::AuthReport>) -> Vec<(String, String)> {
    auth.map(|a| {
        a.dkim
            .iter()
            .filter(|s| s.result == "pass")
            .map(|s| (s.domain.clone(), s.selector.to_ascii_lowercase()))
            .collect()
    })
    .unwrap_or_default()
}

/// Store the selectors (with --db), and say so on standard error; a
/// failed write is said there too (the reports are out already).
async fn remember(store: Option<&mailwarden_store::Store>, pairs: Vec<(String, String)>) {
    let Some(store) = store.filter(|_| !pairs.is_empty()) else {
        return;
    };
    match mailwarden_store::selectors::remember(store, &pairs).await {
        Ok(n) => eprintln!(
            "mailwarden: {n} DKIM selector(s) remembered in {} for scan and monitor",
            store.url()
        ),
        Err(e) => eprintln!(
            "mailwarden: {}: the DKIM selectors could not be stored: {}",
            store.url(),
            inert::line(&e.to_string())
        ),
    }
}

/// Analyse one message and, with a DNS source, verify its authentication.
async fn audit(
    label: &str,
    raw: &RawMessage,
    options: &Options,
    source: Option<&dyn DnsSource>,
    budget: Budget,
) -> (Analysis, Option<auth::AuthReport>, Transcript) {
    let analysis = mailwarden_message::analyse(label, &raw.bytes, options);
    let Some(source) = source else {
        return (analysis, None, Transcript::default());
    };
    let (transcript, auth, _) = auth::authenticate(source, budget, &analysis, &raw.bytes, raw.truncated).await;
    (analysis, Some(auth), transcript)
}

/// `FILE`, `FILE#N` for the Nth message of an mbox, `-` for standard input.
fn label(path: &Path, raw: &RawMessage) -> String {
    let name = path.display().to_string();
    let mut label = if raw.mbox {
        format!("{name}#{}", raw.number)
    } else {
        name
    };
    if raw.truncated {
        label.push_str(" (truncated)");
    }
    label
}

/// The source the flags name, for `--no-auth` runs that ask it nothing.
fn unasked(dns: &crate::args::DnsArgs) -> SourceInfo {
    SourceInfo {
        backend: if dns.zone_files.is_empty() { "live" } else { "zone-file" }.into(),
        resolvers: dns.resolvers.clone(),
        zone_files: dns.zone_files.clone(),
        dnssec_validation: false,
    }
}

fn observation(label: &str, source: SourceInfo, budget_exhausted: bool, dns: Transcript) -> Observation {
    Observation {
        source,
        budget_exhausted,
        dns,
        ..Observation::new(label)
    }
}

fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    if path == Path::new("-") {
        return Ok(Box::new(BufReader::new(io::stdin())));
    }
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    Ok(Box::new(BufReader::new(file)))
}

/// One JSON line per message: the analysis (hops, leaks), the verified
/// authentication, and the observation (every DNS answer).
fn save(out: &mut impl Write, a: &Analysis, auth: Option<&auth::AuthReport>, r: &DomainReport) -> Result<()> {
    let line = serde_json::json!({
        "label": a.label,
        "message_id": a.message_id,
        "path": a.path,
        "trusted_hop": a.trusted.map(|t| t + 1),
        "leaks": a.leaks,
        "auth": auth,
        "observation": r.observation,
    });
    inert::to_writer(&mut *out, &line).context("--save-evidence")?;
    writeln!(out).context("--save-evidence")?;
    Ok(())
}

/// `--dkim-selectors`: `DOMAIN SELECTOR` per signature, once each, for
/// `scan --dkim-selector`; returns them. Nothing is verified here, so with
/// --db these are remembered as the user listed them (their own archive).
fn print_selectors(
    files: &[PathBuf],
    limits: Limits,
    output: &Option<PathBuf>,
) -> Result<std::collections::BTreeSet<(String, String)>> {
    let mut seen = std::collections::BTreeSet::new();
    for path in files {
        for item in Messages::new(open(path)?, limits) {
            let raw = item.with_context(|| format!("{}: read error", path.display()))?;
            seen.extend(
                auth::signed_keys(&raw.bytes)
                    .into_iter()
                    .map(|k| (k.domain, k.selector)),
            );
        }
    }
    let mut out = open_output(output.as_deref())?;
    for (domain, selector) in &seen {
        writeln!(out, "{} {}", inert::line(domain), inert::line(selector))?;
    }
    out.flush()?;
    Ok(seen)
}

/// The scan's writers, plus the hop table in text, HTML and Markdown.
enum MessageSink {
    Text {
        out: Out,
        style: mailwarden_render::text::TextStyle,
        failed: bool,
        fail_on: Option<mailwarden_model::Severity>,
    },
    Html {
        doc: Box<HtmlReport<'static>>,
        parts: Vec<<HtmlReport<'static> as Document>::Part>,
        tables: Vec<String>,
        out: Out,
        failed: bool,
        fail_on: Option<mailwarden_model::Severity>,
    },
    Markdown {
        doc: Box<MarkdownReport<'static>>,
        parts: Vec<(String, String)>,
        out: Out,
        failed: bool,
        fail_on: Option<mailwarden_model::Severity>,
    },
    Other(Box<Sink>),
}

impl MessageSink {
    fn new(config: OutputConfig) -> Result<Self> {
        Ok(match config.format {
            ReportFormat::Text => MessageSink::Text {
                out: open_output(config.output.as_deref())?,
                style: mailwarden_render::text::TextStyle {
                    color: config.color,
                    verbose: config.verbose,
                    width: config.width,
                },
                failed: false,
                fail_on: config.fail_on,
            },
            ReportFormat::Html => MessageSink::Html {
                doc: Box::new(HtmlReport::new(
                    Catalogue::builtin(),
                    Frameworks::builtin(),
                    env!("CARGO_PKG_VERSION"),
                )),
                parts: Vec::new(),
                tables: Vec::new(),
                out: open_output(config.output.as_deref())?,
                failed: false,
                fail_on: config.fail_on,
            },
            ReportFormat::Markdown => MessageSink::Markdown {
                doc: Box::new(MarkdownReport::new(
                    Catalogue::builtin(),
                    Frameworks::builtin(),
                    env!("CARGO_PKG_VERSION"),
                )),
                parts: Vec::new(),
                out: open_output(config.output.as_deref())?,
                failed: false,
                fail_on: config.fail_on,
            },
            _ => MessageSink::Other(Box::new(Sink::new(config, None)?)),
        })
    }

    fn push(&mut self, a: &Analysis, report: &DomainReport) -> Result<()> {
        match self {
            MessageSink::Text {
                out,
                style,
                failed,
                fail_on,
            } => {
                *failed |= fails(*fail_on, report);
                writeln!(out, "{}", inert::line(&a.label))?;
                if a.path.hops.is_empty() {
                    writeln!(out, "  Path: no Received fields")?;
                } else {
                    writeln!(out, "  Path ({} hops, first hop first):", a.path.hops.len())?;
                    out.write_all(table::text(&a.path, 4, 48).as_bytes())?;
                }
                let mut text = Vec::new();
                mailwarden_render::text::write_domain(&mut text, report, Catalogue::builtin(), *style)?;
                out.write_all(without_published(&String::from_utf8_lossy(&text)).as_bytes())?;
                out.flush()?;
            }
            MessageSink::Html {
                doc,
                parts,
                tables,
                failed,
                fail_on,
                ..
            } => {
                *failed |= fails(*fail_on, report);
                tables.push(html_table(a));
                parts.push(doc.part(report));
            }
            MessageSink::Markdown {
                doc,
                parts,
                failed,
                fail_on,
                ..
            } => {
                *failed |= fails(*fail_on, report);
                let (label, section) = doc.part(report);
                parts.push((label, with_markdown_path(&section, a)));
            }
            MessageSink::Other(sink) => sink.push(report)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<bool> {
        match self {
            MessageSink::Text { mut out, failed, .. } => {
                out.flush()?;
                Ok(failed)
            }
            MessageSink::Html {
                doc,
                parts,
                tables,
                mut out,
                failed,
                ..
            } => {
                let mut page = Vec::new();
                doc.write_to(parts, &mut page)?;
                out.write_all(with_tables(&String::from_utf8_lossy(&page), &tables).as_bytes())?;
                out.flush()?;
                Ok(failed)
            }
            MessageSink::Markdown {
                doc,
                parts,
                mut out,
                failed,
                ..
            } => {
                doc.write_to(parts, &mut out)?;
                out.flush()?;
                Ok(failed)
            }
            MessageSink::Other(sink) => sink.finish(),
        }
    }
}

/// A message's Markdown section with its path after the summary table.
fn with_markdown_path(section: &str, a: &Analysis) -> String {
    let path = if a.path.hops.is_empty() {
        "### Path\n\nNo Received fields.\n\n".to_string()
    } else {
        format!(
            "### Path ({} hops, first hop first)\n\n{}\n",
            a.path.hops.len(),
            table::markdown(&a.path, mailwarden_render::markdown::cell)
        )
    };
    // The summary table is the first block; its last row ends in "|\n\n".
    match section.find("|\n\n") {
        Some(at) => format!("{}{path}{}", &section[..at + 3], &section[at + 3..]),
        None => format!("{section}{path}"),
    }
}

/// The text report without its "Published" block (a domain's MX, SPF,
/// DMARC ... records as asked by `scan`), which a message audit never asks.
fn without_published(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let visible = |l: &str| console::strip_ansi_codes(l).trim().to_string();
    let Some(start) = lines.iter().position(|l| visible(l) == "Published") else {
        return text.to_string();
    };
    let end = (start + 1..lines.len())
        .find(|&i| !lines[i].starts_with("    "))
        .unwrap_or(lines.len());
    let start = if start > 0 && lines[start - 1].trim().is_empty() {
        start - 1
    } else {
        start
    };
    lines[..start].concat() + &lines[end..].concat()
}

/// Whether a report fails the run: a finding at `--fail-on`, or a
/// `--profile` not met (as `scan` decides).
fn fails(fail_on: Option<mailwarden_model::Severity>, report: &DomainReport) -> bool {
    fail_on.is_some_and(|t| report.fails_at(t)) || crate::compliance::fails(report)
}

/// The hop table of one message as an HTML section.
fn html_table(a: &Analysis) -> String {
    let mut h = Html::default();
    h.raw("<section>\n<h3>Path of ")
        .text(&a.label)
        .raw("</h3>\n<table>\n<thead><tr>");
    for heading in table::HEADINGS {
        h.raw("<th>").text(heading).raw("</th>");
    }
    h.raw("</tr></thead>\n<tbody>\n");
    for row in table::rows(&a.path) {
        h.raw("<tr>");
        for cell in &row {
            h.raw("<td>").text(cell).raw("</td>");
        }
        h.raw("</tr>\n");
    }
    h.raw("</tbody>\n</table>\n</section>\n");
    h.into_string()
}

/// The document with a "Message paths" part before the appendix.
fn with_tables(document: &str, tables: &[String]) -> String {
    let mut part = String::from("<div class=\"paths\">\n<h2>Message paths</h2>\n");
    for t in tables {
        part.push_str(t);
    }
    part.push_str("</div>\n");
    let at = document
        .find("<div class=\"appendix\">")
        .or_else(|| document.rfind("</body>"))
        .unwrap_or(document.len());
    format!("{}{part}{}", &document[..at], &document[at..])
}

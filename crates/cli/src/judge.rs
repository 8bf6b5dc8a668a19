//! `mailwarden judge FILE`: judge saved evidence again, offline.
//!
//! Accepts what `scan --save-evidence` writes (one Observation per line,
//! read and judged one line at a time), a single Observation, or the JSON
//! document `scan --format json` prints (read whole, up to
//! [`DOCUMENT_LIMIT`]).
//!
//! Evidence is input like any other: each Observation's domain must be a
//! domain name and its schema one this build understands; a line that is
//! not is reported as `FILE:LINE` and skipped (exit 2 at the end). A last
//! line cut short (a scan killed while writing it) is a warning: every
//! complete line is still judged. Nothing usable at all is an error.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use mailwarden_model::observation::OBSERVATION_SCHEMA;
use mailwarden_model::{DomainName, Observation};

use crate::args::JudgeArgs;
use crate::config::OutputConfig;
use crate::input::{Line, read_bounded_line, shown};
use crate::output::{Sink, report};
use crate::seen::RunSight;

/// Longest evidence line (one Observation): room for a domain's full query
/// budget of maximal answers and its probes' certificate chains.
pub const LINE_LIMIT: usize = 64 << 20;
/// Largest evidence file read whole (a single Observation or a `--format
/// json` document); `--save-evidence` files are streamed and have no limit.
pub const DOCUMENT_LIMIT: u64 = 256 << 20;

pub fn run(args: JudgeArgs) -> Result<ExitCode> {
    let output = OutputConfig::from_args(&args.output)?;
    let label = args.file.display().to_string();
    let waivers = crate::waivers::RunWaivers::load(&args.output)?;
    let mut sink = Sink::new(output, None)?;
    let mut judged = 0usize;
    let mut sight = RunSight::default();
    let outcome = read_evidence(&args.file, &label, |observation| {
        let now = mailwarden_policy::evidence_time(&observation);
        let findings = mailwarden_checks::judge_observation(&observation, now);
        judged += 1;
        let mut report = report(findings, observation);
        waivers.accept(&mut report);
        sink.push(&report)?;
        if let Some(line) = sight.record(&report) {
            eprintln!("mailwarden: {line}");
        }
        Ok(())
    })?;
    let failed = sink.finish()?;
    waivers.warn_unused();
    if judged == 0 {
        bail!("{label}: no evidence could be read");
    }
    Ok(crate::scan::finish(&sight, outcome.bad_lines > 0, failed))
}

/// What reading the evidence came to, besides the Observations handed on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Lines reported as unusable (errors on stderr).
    pub bad_lines: usize,
    /// The last line was cut short (a warning on stderr).
    pub truncated_tail: bool,
}

/// Read evidence in any accepted shape and hand each valid Observation to
/// `each`; problems with single lines go to stderr, naming file and line.
pub fn read_evidence(path: &Path, label: &str, mut each: impl FnMut(Observation) -> Result<()>) -> Result<ReadOutcome> {
    let file = File::open(path).with_context(|| format!("{label}: cannot read"))?;
    let mut input = BufReader::new(file);
    let mut buf = Vec::new();
    let first = read_bounded_line(&mut input, &mut buf, LINE_LIMIT).with_context(|| format!("{label}: cannot read"))?;
    let Some(first) = first else {
        bail!("{label}: no evidence in the file");
    };
    match serde_json::from_slice::<serde_json::Value>(&buf) {
        Ok(serde_json::Value::Object(doc)) if !doc.contains_key("domains") => {
            read_lines(&mut input, label, (first, buf), &mut each)
        }
        _ => {
            let observations = read_document(path, label)?;
            let mut outcome = ReadOutcome::default();
            for (what, observation) in observations {
                match validate(&observation) {
                    Ok(()) => each(observation)?,
                    Err(e) => {
                        eprintln!("mailwarden: {label}: {what}: {e}");
                        outcome.bad_lines += 1;
                    }
                }
            }
            Ok(outcome)
        }
    }
}

/// One Observation per line; the first line is already read.
fn read_lines(
    input: &mut dyn BufRead,
    label: &str,
    (first, first_buf): (Line, Vec<u8>),
    each: &mut dyn FnMut(Observation) -> Result<()>,
) -> Result<ReadOutcome> {
    let mut outcome = ReadOutcome::default();
    let mut current = Some((first, first_buf));
    for n in 1.. {
        let Some((line, bytes)) = current.take() else { break };
        let mut next_bytes = Vec::new();
        let next = read_bounded_line(input, &mut next_bytes, LINE_LIMIT)
            .with_context(|| format!("{label}:{}: cannot read", n + 1))?;
        match parse_line(&bytes, line) {
            Ok(Some(observation)) => each(observation)?,
            Ok(None) => {}
            Err(e) if next.is_none() && !line.terminated => {
                eprintln!(
                    "mailwarden: warning: {label}:{n}: the last line is incomplete ({e}); was the scan interrupted? The complete lines before it were judged"
                );
                outcome.truncated_tail = true;
            }
            Err(e) => {
                eprintln!("mailwarden: {label}:{n}: {e} (skipped)");
                outcome.bad_lines += 1;
            }
        }
        current = next.map(|l| (l, next_bytes));
    }
    Ok(outcome)
}

/// One evidence line: an Observation, nothing (blank), or why not.
fn parse_line(bytes: &[u8], line: Line) -> Result<Option<Observation>, String> {
    if line.length > LINE_LIMIT {
        return Err(format!(
            "line of {} bytes, longer than the limit of {}",
            line.length,
            mailwarden_dns::bounded::human_size(LINE_LIMIT as u64)
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let observation: Observation = serde_json::from_slice(bytes).map_err(|e| format!("not an Observation: {e}"))?;
    validate(&observation)?;
    Ok(Some(observation))
}

/// A single Observation or a `scan --format json` document, read whole.
fn read_document(path: &Path, label: &str) -> Result<Vec<(String, Observation)>> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(DOCUMENT_LIMIT + 1).read_to_end(&mut bytes))
        .with_context(|| format!("{label}: cannot read"))?;
    if bytes.len() as u64 > DOCUMENT_LIMIT {
        bail!(
            "{label}: a JSON document larger than the limit of {}; judge the --save-evidence file instead (read line by line, no limit)",
            mailwarden_dns::bounded::human_size(DOCUMENT_LIMIT)
        );
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{label}: neither evidence lines nor a JSON document"))?;
    let serde_json::Value::Object(mut doc) = value else {
        bail!("{label}: not an Observation");
    };
    let Some(domains) = doc.remove("domains") else {
        let observation = serde_json::from_value(serde_json::Value::Object(doc))
            .with_context(|| format!("{label}: not an Observation"))?;
        return Ok(vec![("the Observation".into(), observation)]);
    };
    let serde_json::Value::Array(domains) = domains else {
        bail!("{label}: \"domains\" is not a list");
    };
    if domains.is_empty() {
        bail!("{label}: no evidence in the file");
    }
    domains
        .into_iter()
        .enumerate()
        .map(|(i, mut d)| {
            if d.get("observation").is_none() {
                bail!("{label}: domains[{i}] has no observation (written with --no-evidence?): nothing to judge");
            }
            let observation = serde_json::from_value(d["observation"].take())
                .with_context(|| format!("{label}: domains[{i}].observation is not an Observation"))?;
            Ok((format!("domains[{i}].observation"), observation))
        })
        .collect()
}

/// Evidence is checked like any other input before it is judged.
fn validate(observation: &Observation) -> Result<(), String> {
    if observation.schema > OBSERVATION_SCHEMA {
        return Err(format!(
            "evidence for {} has schema {}, newer than this mailwarden understands ({OBSERVATION_SCHEMA}); upgrade mailwarden",
            shown(&observation.domain),
            observation.schema
        ));
    }
    DomainName::parse(&observation.domain)
        .map_err(|e| format!("invalid domain name {}: {e}", shown(&observation.domain)))?;
    Ok(())
}

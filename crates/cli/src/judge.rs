//! `mailwarden judge FILE`: judge saved evidence again, offline.
//!
//! Accepts what `scan --save-evidence` writes (one Observation per line),
//! a single Observation, or the JSON document `scan --format json` prints.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use mailwarden_model::Observation;
use mailwarden_model::observation::OBSERVATION_SCHEMA;

use crate::args::JudgeArgs;
use crate::config::OutputConfig;
use crate::output::{Sink, report};
use crate::seen::RunSight;

pub fn run(args: JudgeArgs) -> Result<ExitCode> {
    let output = OutputConfig::from_args(&args.output)?;
    let label = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("{label}: cannot read"))?;
    let observations = parse_evidence(&text, &label)?;
    let mut sink = Sink::new(output)?;
    let mut sight = RunSight::default();
    for observation in observations {
        let now = evidence_time(&observation);
        let findings = mailwarden_checks::judge_observation(&observation, now);
        let report = report(findings, observation);
        sink.push(&report)?;
        if let Some(line) = sight.record(&report) {
            eprintln!("mailwarden: {line}");
        }
    }
    let failed = sink.finish()?;
    Ok(crate::scan::finish(&sight, false, failed))
}

/// Read evidence in any of the accepted shapes; errors name file and line.
pub fn parse_evidence(text: &str, label: &str) -> Result<Vec<Observation>> {
    let observations = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(doc)) if doc.contains_key("domains") => {
            let domains = doc["domains"]
                .as_array()
                .with_context(|| format!("{label}: \"domains\" is not a list"))?;
            domains
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    if d.get("observation").is_none() {
                        bail!(
                            "{label}: domains[{i}] has no observation (written with --no-evidence?): nothing to judge"
                        );
                    }
                    serde_json::from_value(d["observation"].clone())
                        .with_context(|| format!("{label}: domains[{i}].observation is not an Observation"))
                })
                .collect::<Result<Vec<Observation>>>()?
        }
        Ok(value @ serde_json::Value::Object(_)) => {
            vec![serde_json::from_value(value).with_context(|| format!("{label}: not an Observation"))?]
        }
        _ => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, l)| serde_json::from_str(l).with_context(|| format!("{label}:{}: not an Observation", n + 1)))
            .collect::<Result<Vec<Observation>>>()?,
    };
    if observations.is_empty() {
        bail!("{label}: no evidence in the file");
    }
    for o in &observations {
        if o.schema > OBSERVATION_SCHEMA {
            bail!(
                "{label}: evidence for {} has schema {}, newer than this mailwarden understands ({OBSERVATION_SCHEMA}); upgrade mailwarden",
                o.domain,
                o.schema
            );
        }
    }
    Ok(observations)
}

/// The judge's "now" for saved evidence: when it was collected, so a
/// signature that was valid then is judged valid; the current time if the
/// evidence does not say.
fn evidence_time(observation: &Observation) -> i64 {
    let parse = |s: &String| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok();
    observation
        .started_at
        .as_ref()
        .and_then(parse)
        .unwrap_or_else(time::OffsetDateTime::now_utc)
        .unix_timestamp()
}

//! `mailwarden rules` and `mailwarden explain`.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Result, bail};
use mailwarden_model::Severity;
use mailwarden_policy::frameworks::Frameworks;
use mailwarden_policy::{Area, Catalogue, Rule};

use crate::args::{Format, RulesArgs};

const AREAS: [Area; 5] = [
    Area::Routing,
    Area::SenderAuthentication,
    Area::TransportSecurity,
    Area::DnsIntegrity,
    Area::Privacy,
];

pub fn list(args: RulesArgs) -> Result<ExitCode> {
    let catalogue = Catalogue::builtin();
    let keep = filter(&args)?;
    let rules: Vec<&Rule> = catalogue.iter().filter(|r| keep(r)).collect();
    let mut out = io::BufWriter::new(io::stdout());
    match args.format {
        Format::Text => {
            for r in &rules {
                writeln!(out, "{:<28} {:<9} {}", r.id, r.severity, r.title)?;
            }
        }
        Format::Json | Format::Jsonl => {
            serde_json::to_writer_pretty(&mut out, &rules)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `--area` (an area or a rule-id prefix such as `spf`) and `--severity`, checked.
fn filter(args: &RulesArgs) -> Result<impl Fn(&Rule) -> bool> {
    let catalogue = Catalogue::builtin();
    let area = match args.area.as_deref().map(str::to_ascii_lowercase) {
        None => None,
        Some(a) => {
            let named = AREAS.iter().find(|x| area_name(**x) == a).copied();
            let prefix = format!("{a}.");
            if named.is_none() && !catalogue.iter().any(|r| r.id.starts_with(&prefix)) {
                let mut known: Vec<String> = AREAS.iter().map(|x| area_name(*x)).collect();
                known.extend(protocols(catalogue));
                bail!(
                    "--area {a:?}: expected one of {}{}",
                    known.join(", "),
                    did_you_mean(&a, &known)
                );
            }
            Some((named, prefix))
        }
    };
    let severity =
        match &args.severity {
            None => None,
            Some(s) => Some(Severity::parse(s).ok_or_else(|| {
                anyhow::anyhow!("--severity {s:?}: expected one of info, low, medium, high, critical")
            })?),
        };
    Ok(move |r: &Rule| {
        let area_ok = match &area {
            None => true,
            Some((Some(named), _)) => r.area == *named,
            Some((None, prefix)) => r.id.starts_with(prefix.as_str()),
        };
        area_ok && severity.is_none_or(|s| r.severity == s)
    })
}

/// An area as written on the command line (its serialised, kebab-case name).
fn area_name(area: Area) -> String {
    serde_json::to_value(area)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The protocol prefixes of the rule ids (`spf`, `mta-sts`, ...).
fn protocols(catalogue: &Catalogue) -> Vec<String> {
    let mut out: Vec<String> = catalogue
        .iter()
        .filter_map(|r| r.id.split_once('.').map(|(p, _)| p.to_owned()))
        .collect();
    out.dedup();
    out.sort();
    out.dedup();
    out
}

/// A rule by id, ignoring case (ids are lower-case).
pub fn find_rule(id: &str) -> Option<&'static Rule> {
    Catalogue::builtin().get(&id.to_ascii_lowercase())
}

pub fn explain(id: &str) -> Result<ExitCode> {
    let catalogue = Catalogue::builtin();
    let Some(rule) = find_rule(id) else {
        let ids: Vec<String> = catalogue.iter().map(|r| r.id.clone()).collect();
        let lower = id.to_ascii_lowercase();
        let near: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|r| r.starts_with(lower.split('.').next().unwrap_or(&lower)))
            .collect();
        let mut hint = did_you_mean(&lower, &ids);
        if !near.is_empty() {
            hint.push_str(&format!("; rules with that prefix: {}", near.join(", ")));
        }
        bail!("unknown rule {id:?} (`mailwarden rules` lists them){hint}");
    };
    let mut out = io::stdout().lock();
    writeln!(out, "{rule}")?;
    let mappings = Frameworks::builtin().mappings_for(&rule.id);
    if !mappings.is_empty() {
        writeln!(out, "\nFramework controls")?;
        for m in mappings {
            let c = m.control;
            writeln!(out, "  {} {}: {}", c.framework, c.id, c.title)?;
            writeln!(
                out,
                "    citation: {} (checked against {} text: {})",
                c.citation,
                c.checked.as_str(),
                c.checked_source
            )?;
            writeln!(out, "    basis:    {}", m.basis)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `; did you mean "x"?` for the closest of `known` within a few edits, or
/// nothing.
pub fn did_you_mean(given: &str, known: &[String]) -> String {
    let given = given.to_ascii_lowercase();
    let limit = (given.chars().count() / 3).clamp(1, 4);
    known
        .iter()
        .map(|k| (edit_distance(&given, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| format!("; did you mean {k:?}?"))
        .unwrap_or_default()
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_rule_id_gets_the_nearest_as_a_suggestion() {
        let ids: Vec<String> = ["spf.all-qualifier", "spf.present"].map(String::from).to_vec();
        assert_eq!(did_you_mean("spf.presnt", &ids), "; did you mean \"spf.present\"?");
        assert_eq!(did_you_mean("dmarc.policy", &ids), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn upper_case_rule_id_is_found() {
        assert_eq!(
            find_rule("MX.Null-MX-Mixed").map(|r| r.id.as_str()),
            Some("mx.null-mx-mixed")
        );
    }
}

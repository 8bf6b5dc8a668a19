//! `mailwarden rules` and `mailwarden explain`.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Result, bail};
use mailwarden_policy::Catalogue;
use mailwarden_policy::frameworks::Frameworks;

use crate::args::{Format, RulesArgs};

pub fn list(args: RulesArgs) -> Result<ExitCode> {
    let catalogue = Catalogue::builtin();
    let mut out = io::BufWriter::new(io::stdout());
    match args.format {
        Format::Text => {
            for r in catalogue.iter() {
                writeln!(out, "{:<28} {:<9} {}", r.id, r.severity, r.title)?;
            }
        }
        Format::Json | Format::Jsonl => {
            let rules: Vec<_> = catalogue.iter().collect();
            serde_json::to_writer_pretty(&mut out, &rules)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn explain(id: &str) -> Result<ExitCode> {
    let catalogue = Catalogue::builtin();
    let Some(rule) = catalogue.get(id) else {
        let near: Vec<&str> = catalogue
            .iter()
            .map(|r| r.id.as_str())
            .filter(|r| r.starts_with(id.split('.').next().unwrap_or(id)))
            .collect();
        let hint = if near.is_empty() {
            String::new()
        } else {
            format!("; rules with that prefix: {}", near.join(", "))
        };
        bail!("unknown rule {id:?} (`mailwarden rules` lists them){hint}");
    };
    let mut out = io::stdout().lock();
    writeln!(out, "{rule}")?;
    let mappings = Frameworks::builtin().mappings_for(id);
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

//! Compliance on every report: scores (always), the verdicts of the
//! profiles asked for with `--profile`, and the `--fail-on profile` gate;
//! and `mailwarden frameworks` and `mailwarden profiles`.
//!
//! The profiles are loaded once per run ([`configure`], from the output
//! flags that `scan` and `judge` share) and applied to every report as it
//! is built ([`complete`]).

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::OnceLock;

use anyhow::Result;
use mailwarden_model::Finding;
use mailwarden_policy::Catalogue;
use mailwarden_policy::frameworks::Frameworks;
use mailwarden_policy::profile::{Profile, Verdict};
use mailwarden_policy::score::Scores;
use mailwarden_render::DomainReport;
use serde::Serialize;

use crate::args::{Format, FrameworksArgs, ProfilesArgs};

#[derive(Debug, Default)]
struct Config {
    profiles: Vec<Profile>,
    fail_on_profile: bool,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Whether `--fail-on` names `profile` (it takes a comma-separated list,
/// e.g. `high,profile`).
pub fn fail_on_profile(fail_on: &str) -> bool {
    fail_on.split(',').any(|p| p.trim().eq_ignore_ascii_case("profile"))
}

/// Load the `--profile` arguments (built-in names or paths) for this run.
pub fn configure(profiles: &[String], fail_on: &str) -> Result<()> {
    let mut loaded = Vec::new();
    for p in profiles {
        let profile = Profile::load(p).map_err(|e| anyhow::anyhow!("--profile {p}: {e}"))?;
        if !loaded.iter().any(|l: &Profile| l.id == profile.id) {
            loaded.push(profile);
        }
    }
    let fail_on_profile = fail_on_profile(fail_on);
    if fail_on_profile && loaded.is_empty() {
        anyhow::bail!("--fail-on profile: no profile to gate on; add --profile NAME (e.g. --profile baseline)");
    }
    // A second call in one process (tests) keeps the first configuration.
    let _ = CONFIG.set(Config {
        profiles: loaded,
        fail_on_profile,
    });
    Ok(())
}

/// Fill a report's scores and profile verdicts from its findings.
pub fn complete(report: &mut DomainReport) {
    let catalogue = Catalogue::builtin();
    report.scores = Some(Scores::compute(&report.findings, catalogue));
    if let Some(config) = CONFIG.get() {
        report.profiles = evaluate(&config.profiles, &report.findings, catalogue);
    }
}

fn evaluate(
    profiles: &[Profile],
    findings: &[Finding],
    catalogue: &Catalogue,
) -> Vec<mailwarden_policy::profile::ProfileResult> {
    profiles.iter().map(|p| p.evaluate(findings, catalogue)).collect()
}

/// Whether `--fail-on profile` is set and a requested profile is not met
/// (not determinable does not fail: it is not evidence of a failure).
pub fn fails(report: &DomainReport) -> bool {
    CONFIG.get().is_some_and(|c| c.fail_on_profile) && report.profiles.iter().any(|p| p.verdict == Verdict::NotMet)
}

#[derive(Serialize)]
struct ControlRow<'a> {
    #[serde(flatten)]
    control: &'a mailwarden_policy::frameworks::Control,
    rules: Vec<&'a str>,
}

#[derive(Serialize)]
struct FrameworkRow<'a> {
    id: &'a str,
    name: &'a str,
    version: &'a str,
    source: &'a str,
    controls: Vec<ControlRow<'a>>,
}

/// `mailwarden frameworks`: every framework, its controls, and how many
/// rules map to each.
pub fn list_frameworks(args: FrameworksArgs) -> Result<ExitCode> {
    let fw = Frameworks::builtin();
    let rows: Vec<FrameworkRow<'_>> = fw
        .frameworks()
        .iter()
        .map(|f| FrameworkRow {
            id: &f.id,
            name: &f.name,
            version: &f.version,
            source: &f.source,
            controls: f
                .controls
                .iter()
                .map(|c| ControlRow {
                    control: c,
                    rules: fw.rules_for(&f.id, &c.id),
                })
                .collect(),
        })
        .collect();
    write_listing(args.format, &rows, |out| {
        for f in &rows {
            writeln!(out, "{}  {} ({})", f.id, f.name, f.version)?;
            writeln!(out, "  source: {}", f.source)?;
            for c in &f.controls {
                let mapped = if c.rules.is_empty() {
                    format!(
                        "unmapped: {}",
                        c.control.unmapped.as_deref().unwrap_or("no rule maps here")
                    )
                } else {
                    format!("{} rules", c.rules.len())
                };
                writeln!(
                    out,
                    "  {:<28} {:<9} {}  [{}]",
                    c.control.id,
                    c.control.checked.as_str(),
                    c.control.title,
                    mapped
                )?;
            }
            writeln!(out)?;
        }
        writeln!(
            out,
            "checked: primary = compared with the publisher's own text; secondary = only reproductions or summaries were found."
        )?;
        writeln!(
            out,
            "`mailwarden frameworks --format json` gives citations, sources and the mapped rules; `mailwarden explain RULE` the basis of each mapping."
        )
    })
}

/// Print a listing to standard output: `rows` as pretty JSON, or as
/// `text` writes it.
fn write_listing<T: Serialize>(
    format: Format,
    rows: &T,
    text: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<ExitCode> {
    let mut out = io::BufWriter::new(io::stdout());
    match format {
        Format::Json | Format::Jsonl => {
            serde_json::to_writer_pretty(&mut out, rows)?;
            writeln!(out)?;
        }
        Format::Text => text(&mut out)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ProfileRow<'a> {
    id: &'a str,
    title: &'a str,
    framework: &'a str,
    description: &'a str,
    /// How many requirements the profile has.
    requirements: usize,
}

/// `mailwarden profiles`: the built-in profiles, for `--profile NAME`.
pub fn list_profiles(args: ProfilesArgs) -> Result<ExitCode> {
    let rows: Vec<ProfileRow<'_>> = Profile::builtins()
        .iter()
        .map(|p| ProfileRow {
            id: &p.id,
            title: &p.title,
            framework: &p.framework,
            description: &p.description,
            requirements: p.requirements.len(),
        })
        .collect();
    write_listing(args.format, &rows, |out| {
        let width = rows.iter().map(|r| r.id.len()).max().unwrap_or(0);
        for r in &rows {
            let plural = if r.requirements == 1 { "" } else { "s" };
            let count = format!("{} requirement{plural}", r.requirements);
            writeln!(out, "{:<width$}  {count:<16}  {}", r.id, r.title)?;
        }
        writeln!(
            out,
            "\nUse one with `scan --profile NAME` (repeatable), or give the path of your own profile file; README \"Profiles\" describes the format."
        )
    })
}

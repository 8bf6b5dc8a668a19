//! The readable report: one block per domain, findings grouped by area,
//! failures first. Colour only when asked (the caller decides from the
//! terminal and `NO_COLOR`).

use std::collections::BTreeMap;
use std::io::{self, Write};

use mailwarden_model::{Finding, Outcome};
use mailwarden_policy::profile::{ProfileResult, Verdict};
use mailwarden_policy::{Area, Catalogue};

use crate::DomainReport;

/// How to print.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextStyle {
    pub color: bool,
    /// List passing findings one by one, with evidence and references
    /// under problems; otherwise passes are summarised by rule id.
    pub verbose: bool,
}

const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const GREEN: &str = "\x1b[32m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";
/// Where details under a finding start.
const INDENT: &str = "          ";

impl TextStyle {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

/// Write one domain's report.
pub fn write_domain<W: Write>(
    out: &mut W,
    report: &DomainReport,
    catalogue: &Catalogue,
    style: TextStyle,
) -> io::Result<()> {
    let report = &*crate::inert::displayable(report);
    let s = &report.summary;
    let score = report
        .scores
        .as_ref()
        .map_or(String::new(), |sc| format!(", {}", sc.describe()));
    writeln!(
        out,
        "{}  {} fail, {} indeterminate, {} pass, {} not applicable{score}",
        style.paint(BOLD, &report.domain),
        s.count(Outcome::Fail),
        s.count(Outcome::Indeterminate),
        s.count(Outcome::Pass),
        s.count(Outcome::NotApplicable),
    )?;
    if report.observation.budget_exhausted {
        writeln!(
            out,
            "  {}",
            style.paint(YELLOW, "incomplete: the per-domain query or time budget ran out")
        )?;
    }
    let mut by_area: BTreeMap<Area, Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        by_area.entry(catalogue.area_of(&f.id)).or_default().push(f);
    }
    for (area, mut findings) in by_area {
        findings.sort_by(|a, b| display_order(a).cmp(&display_order(b)));
        let area_score = report.scores.as_ref().and_then(|sc| sc.areas.get(&area));
        let suffix = match (&report.scores, area_score) {
            (_, Some(a)) => match &a.cap {
                Some(c) => format!("  score {}/100 (capped by a {} failure)", a.score, c.severity),
                None => format!("  score {}/100", a.score),
            },
            (Some(sc), None) => match sc.unscored_areas.get(&area) {
                Some(why) => format!("  (not scored: {why})"),
                None => "  (not scored)".to_string(),
            },
            (None, None) => String::new(),
        };
        writeln!(out, "\n  {}{suffix}", style.paint(BOLD, area.title()))?;
        if let (Some(a), true) = (area_score, style.verbose) {
            if !a.lost.is_empty() {
                writeln!(
                    out,
                    "    {}",
                    style.paint(
                        DIM,
                        &format!(
                            "lost {} of {} points: {}",
                            a.points_lost,
                            a.points_possible,
                            a.lost.join(", ")
                        )
                    )
                )?;
            }
            if !a.excluded.is_empty() {
                writeln!(
                    out,
                    "    {}",
                    style.paint(DIM, &format!("not scored (indeterminate): {}", a.excluded.join(", ")))
                )?;
            }
        }
        let (shown, quiet): (Vec<&Finding>, Vec<&Finding>) = findings
            .into_iter()
            .partition(|f| style.verbose || is_problem(f.outcome));
        for f in shown {
            write_finding(out, f, style)?;
        }
        write_quiet_summary(out, &quiet, style)?;
    }
    for profile in &report.profiles {
        write_profile(out, profile, style)?;
    }
    writeln!(out)
}

fn verdict_label(v: Verdict, style: TextStyle) -> String {
    match v {
        Verdict::Met => style.paint(GREEN, "met             "),
        Verdict::NotMet => style.paint(RED, "NOT MET         "),
        Verdict::NotDeterminable => style.paint(YELLOW, "not determinable"),
    }
}

/// A profile's verdict, its requirements, and the findings behind those
/// that are not met (all of them with `--verbose`).
fn write_profile<W: Write>(out: &mut W, p: &ProfileResult, style: TextStyle) -> io::Result<()> {
    writeln!(
        out,
        "\n  {} {}",
        style.paint(BOLD, &format!("Profile {} ({}):", p.profile, p.title)),
        verdict_label(p.verdict, style).trim_end()
    )?;
    for r in &p.requirements {
        writeln!(out, "    {} {:<24} {}", verdict_label(r.verdict, style), r.id, r.title)?;
        if style.verbose || r.verdict != Verdict::Met {
            let shown: Vec<&String> = if style.verbose {
                r.findings.iter().collect()
            } else {
                // The findings that decided it: not the passes.
                r.findings
                    .iter()
                    .filter(|f| !f.ends_with(" pass") && !f.ends_with(" not-applicable"))
                    .collect()
            };
            for f in shown {
                writeln!(out, "{INDENT}{f}")?;
            }
            for n in &r.notes {
                writeln!(out, "{INDENT}{}", style.paint(DIM, n))?;
            }
        }
    }
    Ok(())
}

fn is_problem(o: Outcome) -> bool {
    matches!(o, Outcome::Fail | Outcome::Indeterminate)
}

/// Failures first, worst first; then indeterminate, pass, not applicable.
fn display_order(f: &Finding) -> (u8, std::cmp::Reverse<Option<mailwarden_model::Severity>>, &str, &str) {
    let severity = (f.outcome == Outcome::Fail).then_some(f.severity);
    (outcome_rank(f.outcome), std::cmp::Reverse(severity), &f.id, &f.subject)
}

/// Passing and not-applicable findings in one line each, by rule id.
fn write_quiet_summary<W: Write>(out: &mut W, quiet: &[&Finding], style: TextStyle) -> io::Result<()> {
    for (outcome, label, color) in [(Outcome::Pass, "pass", GREEN), (Outcome::NotApplicable, "n/a ", DIM)] {
        let mut ids: Vec<&str> = quiet
            .iter()
            .filter(|f| f.outcome == outcome)
            .map(|f| f.id.as_str())
            .collect();
        ids.dedup();
        if !ids.is_empty() {
            writeln!(out, "    {} {}", style.paint(color, label), ids.join(", "))?;
        }
    }
    Ok(())
}

fn outcome_rank(o: Outcome) -> u8 {
    match o {
        Outcome::Fail => 0,
        Outcome::Indeterminate => 1,
        Outcome::Pass => 2,
        Outcome::NotApplicable => 3,
    }
}

fn write_finding<W: Write>(out: &mut W, f: &Finding, style: TextStyle) -> io::Result<()> {
    let (label, color) = match f.outcome {
        Outcome::Fail => ("FAIL", RED),
        Outcome::Indeterminate => ("????", YELLOW),
        Outcome::Pass => ("pass", GREEN),
        Outcome::NotApplicable => ("n/a ", DIM),
    };
    let severity = if f.outcome == Outcome::Fail {
        f.severity.as_str()
    } else {
        ""
    };
    let subject = if f.subject.is_empty() {
        String::new()
    } else {
        format!("[{}] ", f.subject)
    };
    writeln!(
        out,
        "    {} {:<8} {:<24} {}{}",
        style.paint(color, label),
        severity,
        f.id,
        subject,
        f.message
    )?;
    if matches!(f.outcome, Outcome::Fail | Outcome::Indeterminate) {
        if let Some(fix) = &f.remediation {
            writeln!(out, "{INDENT}fix: {fix}")?;
        }
        if style.verbose {
            for (k, v) in &f.evidence {
                writeln!(out, "{INDENT}{k}: {}", crate::inert::json_text(v))?;
            }
            if !f.reference.is_empty() {
                writeln!(out, "{INDENT}see: {}", f.reference)?;
            }
        }
    }
    Ok(())
}

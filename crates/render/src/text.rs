//! The readable report, fix first. Per domain:
//!
//! 1. one summary line: the verdict (worst severity, `OK`, or `UNKNOWN`
//!    when nothing could be looked at) and the counts;
//! 2. what is published (MX, SPF, DMARC with effective p / sp / np,
//!    MTA-STS mode and id, TLS-RPT), compactly;
//! 3. "Fix first": the failing findings by severity, then by how many
//!    other problems each explains ([`crate::triage`]), with the fix;
//! 4. the rest by area: notes (info-level failures, never counted as
//!    failures) and undetermined checks folded by cause; passes and
//!    not-applicable only with `--verbose`;
//! 5. profile verdicts.
//!
//! A list ends with a summary table. Lines are filled to the width the
//! caller gives (the terminal's, or 100). Colour only when asked.
//!
//! Text from outside (DNS, servers, files) reaches the output only through
//! `outside`, so escaping it is done in one place.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Write};

use mailwarden_model::{Finding, Outcome, Severity};
use mailwarden_policy::profile::{ProfileResult, Verdict};
use mailwarden_policy::{Area, Catalogue};

use crate::published::Published;
use crate::triage::{Fold, Problem, fix_first, fold_undetermined, is_note, needs_fix};
use crate::wrap::fill;
use crate::{DomainReport, Tally, plural};

/// How to print.
#[derive(Debug, Clone, Copy)]
pub struct TextStyle {
    pub color: bool,
    /// Show passes and not-applicable findings, and evidence and
    /// references under problems.
    pub verbose: bool,
    /// Columns to fill lines to.
    pub width: usize,
}

impl Default for TextStyle {
    fn default() -> Self {
        Self {
            color: false,
            verbose: false,
            width: DEFAULT_WIDTH,
        }
    }
}

/// The width when the output is not a terminal.
pub const DEFAULT_WIDTH: usize = 100;
/// Rows kept for the summary table of a list; past it, totals only (so
/// memory does not grow with the list).
pub const SUMMARY_ROWS: usize = 1000;

const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Text that came from outside mailwarden (DNS answers, server replies,
/// file names), on its way to the terminal: control, bidi and invisible
/// characters shown as visible escapes, line breaks kept
/// ([`crate::inert::block`]; idempotent on text already escaped).
fn outside(s: &str) -> Cow<'_, str> {
    crate::inert::block(s)
}

impl TextStyle {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    /// Write `text` filled to the width, the first line after `first`,
    /// the rest indented by `indent` spaces.
    fn para<W: Write>(&self, out: &mut W, first: &str, indent: usize, text: &str) -> io::Result<()> {
        let rest = " ".repeat(indent);
        let plain_first = strip_ansi(first);
        let lines = fill(&outside(text), self.width.max(40), &plain_first, &rest);
        for (i, line) in lines.iter().enumerate() {
            if i == 0 && first != plain_first {
                writeln!(out, "{first}{}", &line[plain_first.len()..])?;
            } else {
                writeln!(out, "{line}")?;
            }
        }
        Ok(())
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => RED,
        Severity::Medium => YELLOW,
        Severity::Low | Severity::Info => CYAN,
    }
}

fn verdict_color(verdict: &str) -> &'static str {
    match verdict {
        "OK" => GREEN,
        "UNKNOWN" | "MEDIUM" => YELLOW,
        "LOW" => CYAN,
        _ => RED,
    }
}

/// The counts of the summary line: "7 failures (3 high, 4 medium), 3
/// notes, 79 undetermined, 65 passed".
pub fn counts_phrase(t: &Tally) -> String {
    let mut parts = Vec::new();
    let failed = t.failed();
    let by_severity: Vec<String> = t
        .failures
        .iter()
        .rev()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    parts.push(if failed == 0 {
        "no failures".to_string()
    } else {
        format!("{} ({})", plural(failed, "failure", "failures"), by_severity.join(", "))
    });
    if t.accepted > 0 {
        parts.push(format!("{} accepted", t.accepted));
    }
    if t.notes > 0 {
        parts.push(plural(t.notes, "note", "notes"));
    }
    if t.indeterminate > 0 {
        parts.push(format!("{} undetermined", t.indeterminate));
    }
    parts.push(format!("{} passed", t.passed));
    parts.join(", ")
}

/// Write one domain's report.
pub fn write_domain<W: Write>(
    out: &mut W,
    report: &DomainReport,
    catalogue: &Catalogue,
    style: TextStyle,
) -> io::Result<()> {
    let report = &*crate::inert::displayable(report);
    let tally = Tally::of(&report.findings);
    let verdict = tally.verdict();
    let score = report.score_label().map_or(String::new(), |s| format!("{s}, "));
    let head = format!(
        "{}  {}  {score}",
        style.paint(BOLD, &outside(&report.domain)),
        style.paint(verdict_color(verdict), verdict)
    );
    style.para(out, &head, 4, &counts_phrase(&tally))?;
    if report.observation.budget_exhausted {
        let warn = style.paint(YELLOW, "incomplete:");
        style.para(
            out,
            &format!("  {warn} "),
            4,
            "the per-domain query or time budget ran out",
        )?;
    }
    if tally.nothing_decided() && tally.indeterminate > 0 {
        style.para(
            out,
            "  ",
            2,
            "Nothing could be looked at, so nothing is known about this domain: see why below.",
        )?;
    }
    write_published(out, &Published::of(&report.observation), style)?;
    write_fix_first(out, &fix_first(&report.findings), style)?;
    write_accepted(out, &report.accepted(), style)?;
    write_rest_by_area(out, report, catalogue, style)?;
    for profile in &report.profiles {
        write_profile(out, profile, style)?;
    }
    writeln!(out)
}

fn write_published<W: Write>(out: &mut W, p: &Published, style: TextStyle) -> io::Result<()> {
    writeln!(out, "\n  {}", style.paint(BOLD, "Published"))?;
    for (label, value) in p.rows() {
        style.para(out, &format!("    {label:<9}"), 13, &value)?;
    }
    Ok(())
}

fn write_fix_first<W: Write>(out: &mut W, problems: &[Problem<'_>], style: TextStyle) -> io::Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n  {}", style.paint(BOLD, "Fix first"))?;
    for (i, p) in problems.iter().enumerate() {
        let sev = p.severity.as_str().to_ascii_uppercase();
        let first = format!(
            "  {:>2}. {} ",
            i + 1,
            style.paint(severity_color(p.severity), &format!("{sev:<8}"))
        );
        let f = p.findings[0];
        let mut messages: Vec<&str> = p.findings.iter().map(|f| f.message.as_str()).collect();
        messages.dedup();
        if let [message] = messages.as_slice() {
            // One finding: its message says what is wrong; the rule's
            // title would say it twice.
            style.para(out, &first, 15, &format!("[{}] {message}", f.id))?;
        } else {
            style.para(out, &first, 15, &format!("{} [{}]", f.title, f.id))?;
            for m in messages {
                style.para(out, &format!("{:15}- ", ""), 17, m)?;
            }
        }
        if let Some(fix) = p.remediation() {
            style.para(out, &format!("{:15}{} ", "", style.paint(GREEN, "fix:")), 20, fix)?;
        }
        if style.verbose {
            for f in &p.findings {
                write_evidence(out, f, style)?;
            }
        }
    }
    Ok(())
}

/// Failing findings a live waiver accepted: what, and who decided it, why
/// and until when.
fn write_accepted<W: Write>(out: &mut W, accepted: &[&Finding], style: TextStyle) -> io::Result<()> {
    if accepted.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n  {}", style.paint(BOLD, "Accepted risks"))?;
    for f in accepted {
        let sev = f.severity.as_str().to_ascii_uppercase();
        let first = format!("    {} ", style.paint(DIM, &format!("{sev:<8}")));
        style.para(out, &first, 13, &subject_line(f))?;
        if let Some(a) = &f.accepted {
            style.para(out, &format!("{:13}", ""), 13, &a.describe())?;
        }
    }
    Ok(())
}

fn write_evidence<W: Write>(out: &mut W, f: &Finding, style: TextStyle) -> io::Result<()> {
    for (k, v) in &f.evidence {
        let value = match v {
            serde_json::Value::String(s) => s.clone(),
            other => crate::inert::json_text(other),
        };
        style.para(
            out,
            &format!("{:15}{} ", "", style.paint(DIM, &format!("{k}:"))),
            17,
            &value,
        )?;
    }
    if !f.reference.is_empty() {
        style.para(
            out,
            &format!("{:15}{} ", "", style.paint(DIM, "see:")),
            20,
            &f.reference,
        )?;
    }
    Ok(())
}

/// Notes and undetermined checks by area (passes and not-applicable too
/// with `--verbose`).
fn write_rest_by_area<W: Write>(
    out: &mut W,
    report: &DomainReport,
    catalogue: &Catalogue,
    style: TextStyle,
) -> io::Result<()> {
    let mut by_area: BTreeMap<Area, Vec<&Finding>> = BTreeMap::new();
    for f in report.findings.iter().filter(|f| !needs_fix(f)) {
        if style.verbose || matches!(f.outcome, Outcome::Indeterminate) || is_note(f) {
            by_area.entry(catalogue.area_of(&f.id)).or_default().push(f);
        }
    }
    for (area, findings) in by_area {
        let score = match report.area_score_label(area) {
            Some(s) if s.starts_with("score") => s,
            Some(s) => format!("({s})"),
            None => String::new(),
        };
        writeln!(out)?;
        style.para(out, &format!("  {}  ", style.paint(BOLD, area.title())), 4, &score)?;
        if style.verbose {
            write_points(out, report, area, style)?;
        }
        write_notes(out, &findings, style)?;
        for fold in fold_undetermined(&findings) {
            write_fold(out, &fold, style)?;
        }
        if style.verbose {
            for f in findings
                .iter()
                .filter(|f| matches!(f.outcome, Outcome::Pass | Outcome::NotApplicable))
            {
                let label = if f.outcome == Outcome::Pass {
                    style.paint(GREEN, "pass    ")
                } else {
                    style.paint(DIM, "n/a     ")
                };
                style.para(out, &format!("    {label} "), 13, &subject_line(f))?;
            }
        }
    }
    Ok(())
}

/// With `--verbose`: the points an area lost and to what.
fn write_points<W: Write>(out: &mut W, report: &DomainReport, area: Area, style: TextStyle) -> io::Result<()> {
    let Some(a) = report.scores.as_ref().and_then(|s| s.areas.get(&area)) else {
        return Ok(());
    };
    if !a.lost.is_empty() {
        let lost = format!(
            "lost {} of {} points: {}",
            a.points_lost,
            a.points_possible,
            a.lost.join(", ")
        );
        style.para(out, "    ", 4, &lost)?;
    }
    Ok(())
}

/// `rule-id on subject: message`.
fn subject_line(f: &Finding) -> String {
    if f.subject.is_empty() {
        format!("{}: {}", f.id, f.message)
    } else {
        format!("{} on {}: {}", f.id, f.subject, f.message)
    }
}

/// Notes (info-level failures), one line per rule with its subjects.
fn write_notes<W: Write>(out: &mut W, findings: &[&Finding], style: TextStyle) -> io::Result<()> {
    let mut by_rule: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings.iter().filter(|f| is_note(f)) {
        by_rule.entry(f.id.as_str()).or_default().push(f);
    }
    for (id, notes) in by_rule {
        let subjects: Vec<&str> = notes.iter().map(|f| f.subject.as_str()).collect();
        let text = format!("{} [{id}]: {}", notes[0].title, subjects.join(", "));
        style.para(out, &format!("    {} ", style.paint(CYAN, "note    ")), 13, &text)?;
        if style.verbose {
            for f in notes {
                style.para(out, &format!("{:13}- ", ""), 15, &f.message)?;
            }
        }
    }
    Ok(())
}

fn write_fold<W: Write>(out: &mut W, fold: &Fold<'_>, style: TextStyle) -> io::Result<()> {
    let label = if fold.not_run { "not run " } else { "unknown " };
    let text = format!("{}: {}", fold.what(), fold.cause);
    style.para(out, &format!("    {} ", style.paint(YELLOW, label)), 13, &text)?;
    if style.verbose && fold.findings.len() > 1 {
        for f in &fold.findings {
            style.para(out, &format!("{:13}- ", ""), 15, &format!("{} on {}", f.id, f.subject))?;
        }
    }
    Ok(())
}

fn verdict_label(v: Verdict, style: TextStyle) -> String {
    match v {
        Verdict::Met => style.paint(GREEN, "met             "),
        Verdict::NotMet => style.paint(RED, "NOT MET         "),
        Verdict::NotDeterminable => style.paint(YELLOW, "not determinable"),
    }
}

/// A profile's verdict, and the requirements that are not met (all of
/// them, with the findings behind them, with `--verbose`).
fn write_profile<W: Write>(out: &mut W, p: &ProfileResult, style: TextStyle) -> io::Result<()> {
    let accepted = match p.accepted() {
        0 => String::new(),
        n => format!(", with {}", plural(n, "accepted risk", "accepted risks")),
    };
    writeln!(
        out,
        "\n  {} {}{accepted}",
        style.paint(BOLD, &format!("Profile {} ({}):", p.profile, p.title)),
        verdict_label(p.verdict, style).trim_end()
    )?;
    for r in p
        .requirements
        .iter()
        .filter(|r| style.verbose || r.verdict != Verdict::Met || !r.accepted.is_empty())
    {
        let first = format!("    {} ", verdict_label(r.verdict, style));
        style.para(out, &first, 21, &format!("{} {}", r.id, r.title))?;
        let shown = r
            .findings
            .iter()
            // An accepted finding is listed below with its waiver.
            .filter(|f| !f.ends_with(" accepted"))
            .filter(|f| style.verbose || !(f.ends_with(" pass") || f.ends_with(" not-applicable")));
        for f in shown {
            style.para(out, &format!("{:21}", ""), 21, f)?;
        }
        for n in &r.notes {
            style.para(out, &format!("{:21}", ""), 21, &style.paint(DIM, n))?;
        }
        for a in &r.accepted {
            style.para(out, &format!("{:21}", ""), 21, a)?;
        }
    }
    Ok(())
}

/// One row of a list's summary table.
struct Row {
    domain: String,
    tally: Tally,
    score: String,
}

/// A run's text output: each domain as it comes, and for a list a summary
/// table at the end (the first [`SUMMARY_ROWS`] domains, and totals).
pub struct TextReport<'a, W: Write> {
    out: W,
    catalogue: &'a Catalogue,
    style: TextStyle,
    rows: Vec<Row>,
    domains: usize,
    totals: Tally,
}

impl<'a, W: Write> TextReport<'a, W> {
    pub fn new(out: W, catalogue: &'a Catalogue, style: TextStyle) -> Self {
        Self {
            out,
            catalogue,
            style,
            rows: Vec::new(),
            domains: 0,
            totals: Tally::default(),
        }
    }

    pub fn push(&mut self, report: &DomainReport) -> io::Result<()> {
        write_domain(&mut self.out, report, self.catalogue, self.style)?;
        let tally = Tally::of(&report.findings);
        self.totals.add(&tally);
        self.domains += 1;
        if self.rows.len() < SUMMARY_ROWS {
            self.rows.push(Row {
                domain: report.domain.clone(),
                tally,
                score: report.score_short(),
            });
        }
        self.out.flush()
    }

    /// Write the summary table (for more than one domain) and flush.
    pub fn finish(mut self) -> io::Result<W> {
        if self.domains > 1 {
            self.write_summary()?;
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_summary(&mut self) -> io::Result<()> {
        let style = self.style;
        let out = &mut self.out;
        let mut verdicts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.rows {
            *verdicts.entry(r.tally.verdict()).or_default() += 1;
        }
        writeln!(
            out,
            "{}",
            style.paint(
                BOLD,
                &format!("Summary of {}", plural(self.domains, "domain", "domains"))
            )
        )?;
        let w = self
            .rows
            .iter()
            .map(|r| r.domain.chars().count())
            .max()
            .unwrap_or(6)
            .clamp(6, 48);
        let header = format!(
            "  {:<w$}  {:<8}  {:>5}  {:>5}  {:>12}  {:>6}  {:>10}",
            "domain", "verdict", "fail", "notes", "undetermined", "passed", "score"
        );
        writeln!(out, "{}", style.paint(DIM, &header))?;
        for r in &self.rows {
            let verdict = r.tally.verdict();
            let mut domain: String = outside(&r.domain).chars().take(w).collect();
            if r.domain.chars().count() > w {
                domain.pop();
                domain.push('…');
            }
            writeln!(
                out,
                "  {domain:<w$}  {}  {:>5}  {:>5}  {:>12}  {:>6}  {:>10}",
                style.paint(verdict_color(verdict), &format!("{verdict:<8}")),
                r.tally.failed(),
                r.tally.notes,
                r.tally.indeterminate,
                r.tally.passed,
                r.score
            )?;
        }
        if self.domains > self.rows.len() {
            writeln!(
                out,
                "  … {} more not listed here",
                plural(self.domains - self.rows.len(), "domain", "domains")
            )?;
        }
        let t = &self.totals;
        writeln!(
            out,
            "  {:<w$}  {:<8}  {:>5}  {:>5}  {:>12}  {:>6}",
            "total",
            "",
            t.failed(),
            t.notes,
            t.indeterminate,
            t.passed
        )?;
        if self.domains == self.rows.len() {
            let by: Vec<String> = verdicts.iter().map(|(v, n)| format!("{n} {v}")).collect();
            writeln!(out, "  verdicts: {}", by.join(", "))?;
        }
        if t.accepted > 0 {
            writeln!(
                out,
                "  accepted: {} (waived, not counted as failures)",
                plural(t.accepted, "risk", "risks")
            )?;
        }
        Ok(())
    }
}

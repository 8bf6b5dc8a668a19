//! CSV output for spreadsheets and inventories: one row per finding (every
//! outcome; `title` names the problem, so it is filled on fail and
//! indeterminate rows only; accepted risks have outcome `accepted` and
//! their waiver in the last three columns), or with `--summary` one row per domain
//! ([`SummaryCsvWriter`]: the verdict, counts, published values and the
//! worst findings). RFC 4180: CRLF line ends, fields quoted when they hold
//! a comma, quote, CR or LF, quotes doubled.
//!
//! Spreadsheet formula injection (OWASP "CSV Injection"; dnsrecon #151 was
//! a crafted `_spf` TXT record): any cell that starts with `=`, `+`, `-`,
//! `@`, a tab or a carriage return is prefixed with `'`, so a spreadsheet
//! shows it as text and never evaluates it. Streamed: each report is
//! written as it arrives.

use std::io::{self, Write};

use mailwarden_policy::frameworks::Frameworks;

use mailwarden_model::Outcome;

use crate::published::Published;
use crate::triage::fix_first;
use crate::{DomainReport, Tally};

/// The header row. `outcome` is `accepted` for a failing finding a live
/// waiver covers; the last three columns say who accepted it, why and
/// until when (empty on every other row).
pub const HEADER: [&str; 12] = [
    "domain",
    "rule",
    "outcome",
    "severity",
    "subject",
    "title",
    "message",
    "frameworks",
    "remediation",
    "accepted_reason",
    "accepted_owner",
    "accepted_until",
];

/// Neutralise a cell a spreadsheet would read as a formula.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// One field: control and bidi characters made visible
/// ([`crate::inert::block`]; line breaks kept), neutralised, and quoted as
/// RFC 4180 asks.
pub fn field(cell: &str) -> String {
    let cell = crate::inert::block(cell);
    let cell = neutralise(&cell);
    if cell.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.into_owned()
    }
}

fn write_row<W: Write>(out: &mut W, cells: &[&str]) -> io::Result<()> {
    let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
    out.write_all(line.join(",").as_bytes())?;
    out.write_all(b"\r\n")
}

/// The frameworks cell: `framework:control` pairs joined with `; `.
pub fn frameworks_cell(frameworks: &Frameworks, rule_id: &str) -> String {
    crate::sarif::control_labels(frameworks, rule_id).join("; ")
}

/// Streams findings as CSV rows.
pub struct CsvWriter<'a, W: Write> {
    out: W,
    frameworks: &'a Frameworks,
}

impl<'a, W: Write> CsvWriter<'a, W> {
    /// Start the file: write the header.
    pub fn start(mut out: W, frameworks: &'a Frameworks) -> io::Result<Self> {
        write_row(&mut out, &HEADER)?;
        Ok(Self { out, frameworks })
    }

    pub fn push(&mut self, report: &DomainReport) -> io::Result<()> {
        for f in &report.findings {
            let frameworks = frameworks_cell(self.frameworks, &f.id);
            let a = f.accepted.as_ref();
            write_row(
                &mut self.out,
                &[
                    &report.domain,
                    &f.id,
                    if a.is_some() { "accepted" } else { f.outcome.as_str() },
                    f.severity.as_str(),
                    &f.subject,
                    title_cell(f),
                    &f.message,
                    &frameworks,
                    f.remediation.as_deref().unwrap_or(""),
                    a.map_or("", |a| &a.reason),
                    a.and_then(|a| a.owner.as_deref()).unwrap_or(""),
                    a.and_then(|a| a.expires.as_deref()).unwrap_or(""),
                ],
            )?;
        }
        self.out.flush()
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The title names the problem ("No usable DKIM key found"): a pass or
/// not-applicable row leaves it empty rather than read as that problem.
fn title_cell(f: &mailwarden_model::Finding) -> &str {
    match f.outcome {
        Outcome::Fail | Outcome::Indeterminate => &f.title,
        Outcome::Pass | Outcome::NotApplicable => "",
    }
}

/// The header row of `--summary`.
pub const SUMMARY_HEADER: [&str; 20] = [
    "domain",
    "verdict",
    "score",
    "failures",
    "critical",
    "high",
    "medium",
    "low",
    "notes",
    "undetermined",
    "passed",
    "mx",
    "spf",
    "dmarc",
    "dmarc_rua",
    "mta_sts_mode",
    "mta_sts_id",
    "tlsrpt",
    "fix_first",
    "accepted",
];

/// How many fix-first entries the `fix_first` cell lists.
const WORST: usize = 5;

/// Streams one row per domain: an inventory.
pub struct SummaryCsvWriter<W: Write> {
    out: W,
}

impl<W: Write> SummaryCsvWriter<W> {
    pub fn start(mut out: W) -> io::Result<Self> {
        write_row(&mut out, &SUMMARY_HEADER)?;
        Ok(Self { out })
    }

    pub fn push(&mut self, report: &DomainReport) -> io::Result<()> {
        let t = Tally::of(&report.findings);
        let p = Published::of(&report.observation);
        let count = |s| t.failures.get(&s).copied().unwrap_or(0).to_string();
        use mailwarden_model::Severity::*;
        let worst: Vec<String> = fix_first(&report.findings)
            .iter()
            .take(WORST)
            .map(|p| format!("{} {} ({})", p.severity.as_str(), p.id(), p.subjects().join(", ")))
            .collect();
        let cells = [
            report.domain.clone(),
            t.verdict().to_ascii_lowercase(),
            report.score_value().map_or(String::new(), |n| n.to_string()),
            t.failed().to_string(),
            count(Critical),
            count(High),
            count(Medium),
            count(Low),
            t.notes.to_string(),
            t.indeterminate.to_string(),
            t.passed.to_string(),
            p.mx.cell().to_string(),
            p.spf.cell().to_string(),
            p.dmarc.cell().to_string(),
            p.dmarc_rua.cell().to_string(),
            p.mta_sts_mode.cell().to_string(),
            p.mta_sts_id.cell().to_string(),
            p.tlsrpt.cell().to_string(),
            worst.join("; "),
            t.accepted.to_string(),
        ];
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        write_row(&mut self.out, &refs)?;
        self.out.flush()
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for bad in ["=cmd|' /c calc'!A1", "+1", "-1", "@SUM(1)"] {
            assert!(field(bad).trim_start_matches('"').starts_with('\''), "{bad:?}");
        }
        // A leading tab or CR is shown as `\t` / `\r`: text, not a formula.
        assert_eq!(field("\t=1"), "\\t=1");
        assert_eq!(field("\r=1"), "\\r=1");
        assert_eq!(field("v=spf1 -all"), "v=spf1 -all");
    }

    #[test]
    fn control_and_bidi_characters_are_visible() {
        assert_eq!(field("a\u{1b}[2J\u{7}\0b"), "a\\x1b[2J\\x07\\x00b");
        assert_eq!(field("\u{202e}lla-"), "\\u{202e}lla-");
    }

    #[test]
    fn quoting_follows_rfc_4180() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("=a,b"), "\"'=a,b\"");
    }
}

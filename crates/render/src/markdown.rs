//! Markdown output, for pasting into tickets: one document with, per
//! domain, a summary table, scores and profile verdicts when present, and
//! the failing and indeterminate findings grouped by area (passes are
//! counted, not listed). Collected and written at the end, sorted by domain
//! ([`crate::sink::Collected`]).
//!
//! Every cell from DNS or a finding goes through [`cell`]: `\`, `|`,
//! backticks, `*`, `_`, `[`, `]`, `<`, `>` and `&` are escaped, newlines
//! become `<br>`, control and bidi characters visible escapes, and bare
//! URLs, `www.`, e-mail addresses and `~~` are kept from auto-linking or
//! striking through ([`crate::inert`]), so data can neither break the
//! table nor add markup or links.

use std::io::{self, Write};

use mailwarden_model::{Finding, Outcome};
use mailwarden_policy::Catalogue;
use mailwarden_policy::frameworks::Frameworks;
use mailwarden_policy::profile::ProfileResult;
use mailwarden_policy::score::{Cap, Scores};

use crate::sink::Document;
use crate::triage::is_note;
use crate::{DomainReport, Tally};

/// Escape text for a Markdown table cell (or a line of prose).
pub fn cell(s: &str) -> String {
    let s = crate::inert::block(&s.replace("\r\n", "\n")).into_owned();
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push_str("<br>");
                }
            }
            '\n' => out.push_str("<br>"),
            _ => out.push(c),
        }
    }
    crate::inert::markdown_inline(&out)
}

/// The Markdown document: one section per domain
/// ([`crate::sink::Collected`] writes them sorted by domain).
pub struct MarkdownReport<'a> {
    catalogue: &'a Catalogue,
    frameworks: &'a Frameworks,
    tool_version: String,
}

impl Document for MarkdownReport<'_> {
    type Part = (String, String);

    fn part(&mut self, report: &DomainReport) -> Self::Part {
        (report.domain.clone(), self.section(report))
    }

    fn write_to(self, parts: Vec<Self::Part>, out: &mut dyn Write) -> io::Result<()> {
        let mut head = format!(
            "# Email security report\n\nmailwarden {}.\n\n",
            cell(&self.tool_version)
        );
        if parts.len() > 1 {
            head.push_str("| Domain |\n| --- |\n");
            for (d, _) in &parts {
                head.push_str(&format!("| {} |\n", cell(d)));
            }
            head.push('\n');
        }
        out.write_all(head.as_bytes())?;
        for (_, section) in &parts {
            out.write_all(section.as_bytes())?;
        }
        Ok(())
    }
}

impl<'a> MarkdownReport<'a> {
    pub fn new(catalogue: &'a Catalogue, frameworks: &'a Frameworks, tool_version: &str) -> Self {
        Self {
            catalogue,
            frameworks,
            tool_version: tool_version.to_string(),
        }
    }

    fn section(&self, r: &DomainReport) -> String {
        let mut s = format!("## {}\n\n", cell(&r.domain));
        let t = Tally::of(&r.findings);
        let worst = t.worst().map_or("none", |w| w.as_str());
        s.push_str("| Fail | Notes | Accepted | Indeterminate | Pass | Not applicable | Worst failure |\n");
        s.push_str("| ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n\n",
            t.failed(),
            t.notes,
            t.accepted,
            t.indeterminate,
            t.passed,
            t.not_applicable,
            worst
        ));
        if let Some(scores) = &r.scores {
            scores_table(&mut s, scores);
        }
        if !r.profiles.is_empty() {
            profiles_table(&mut s, &r.profiles);
        }
        self.problems(&mut s, r);
        accepted_table(&mut s, &r.accepted());
        s
    }

    /// Failing (notes included) and indeterminate findings, by area.
    fn problems(&self, s: &mut String, r: &DomainReport) {
        let mut problems: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| f.fails() || f.outcome == Outcome::Indeterminate)
            .collect();
        if problems.is_empty() {
            s.push_str("No failing or indeterminate findings.\n\n");
            return;
        }
        problems.sort_by_key(|f| {
            (
                self.catalogue.area_of(&f.id),
                f.outcome != Outcome::Fail,
                std::cmp::Reverse(f.severity),
                f.id.as_str(),
                f.subject.as_str(),
            )
        });
        let mut area = None;
        for f in problems {
            let a = self.catalogue.area_of(&f.id);
            if area != Some(a) {
                area = Some(a);
                s.push_str(&format!(
                    "### {}\n\n| Outcome | Severity | Rule | Subject | Finding | Remediation | Frameworks |\n| --- | --- | --- | --- | --- | --- | --- |\n",
                    cell(a.title())
                ));
            }
            // An info-level failure is advice: a note, never a fail.
            let (outcome, severity) = match f.outcome {
                Outcome::Fail if is_note(f) => ("note", f.severity.as_str()),
                Outcome::Fail => ("fail", f.severity.as_str()),
                other => (other.as_str(), ""),
            };
            s.push_str(&format!(
                "| {outcome} | {severity} | {} | {} | {} | {} | {} |\n",
                cell(&f.id),
                cell(&f.subject),
                cell(&f.message),
                cell(f.remediation.as_deref().unwrap_or("")),
                cell(&crate::sarif::control_labels(self.frameworks, &f.id).join("; ")),
            ));
        }
        s.push('\n');
    }
}

/// A score as a cell: "87", "30 (capped by a critical failure)".
fn score_text(score: u8, cap: Option<&Cap>) -> String {
    match cap {
        Some(c) => format!("{score} (capped by a {} failure)", c.severity),
        None => score.to_string(),
    }
}

/// The overall score and a table of the areas (by area id).
fn scores_table(s: &mut String, scores: &Scores) {
    let overall = match scores.overall {
        Some(n) => score_text(n, scores.cap.as_ref()),
        None => format!("not scored: {}", scores.not_scored.as_deref().unwrap_or("")),
    };
    s.push_str(&format!("**Score: {}**\n\n", cell(&overall)));
    s.push_str("| Area | Score | Points lost to |\n| --- | ---: | --- |\n");
    let mut areas: Vec<_> = scores.areas.iter().collect();
    areas.sort_by_key(|(area, _)| area.id());
    for (area, a) in areas {
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            cell(area.id()),
            cell(&score_text(a.score, a.cap.as_ref())),
            cell(&a.lost.join(", "))
        ));
    }
    let mut unscored: Vec<_> = scores.unscored_areas.iter().collect();
    unscored.sort_by_key(|(area, _)| area.id());
    for (area, why) in unscored {
        s.push_str(&format!("| {} | not scored: {} | |\n", cell(area.id()), cell(why)));
    }
    s.push('\n');
}

/// Each profile's verdict and its requirements'.
fn profiles_table(s: &mut String, profiles: &[ProfileResult]) {
    s.push_str("| Profile | Requirement | Verdict |\n| --- | --- | --- |\n");
    for p in profiles {
        s.push_str(&format!(
            "| {} | **overall** | {} |\n",
            cell(&p.profile),
            cell(&p.verdict_phrase())
        ));
        for req in &p.requirements {
            s.push_str(&format!(
                "| {} | {} | {} |\n",
                cell(&p.profile),
                cell(&format!("{} {}", req.id, req.title)),
                cell(&req.verdict_phrase())
            ));
        }
    }
    s.push('\n');
}

/// Failing findings a live waiver accepted.
fn accepted_table(s: &mut String, accepted: &[&Finding]) {
    if accepted.is_empty() {
        return;
    }
    s.push_str("### Accepted risks\n\n| Severity | Rule | Subject | Finding | Reason | Owner | Expires | Waiver |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for f in accepted {
        let Some(a) = &f.accepted else { continue };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            f.severity.as_str(),
            cell(&f.id),
            cell(&f.subject),
            cell(&f.message),
            cell(&a.reason),
            cell(a.owner.as_deref().unwrap_or("")),
            cell(a.expires.as_deref().unwrap_or("never")),
            cell(&a.waiver),
        ));
    }
    s.push('\n');
}

#[cfg(test)]
mod tests {
    use mailwarden_model::{Finding, Observation, Outcome, Severity};
    use mailwarden_policy::Catalogue;
    use mailwarden_policy::frameworks::Frameworks;

    use super::{MarkdownReport, cell};
    use crate::DomainReport;
    use crate::sink::{Collected, ReportSink};

    fn failing(id: &str, severity: Severity) -> Finding {
        let mut f = Finding::new(id, Outcome::Fail, "example.com", "m");
        f.severity = severity;
        f
    }

    #[test]
    fn info_level_failures_are_counted_as_notes_not_failures() {
        let observation: Observation = serde_json::from_value(serde_json::json!({
            "schema": 1, "tool_version": "t", "domain": "example.com",
            "source": mailwarden_model::SourceInfo::default(), "dns": []
        }))
        .unwrap();
        let report = DomainReport::new(
            vec![
                failing("dane.tlsa-present", Severity::Info),
                failing("mx.ipv6", Severity::Low),
            ],
            observation,
        );
        let mut out = Vec::new();
        let mut md = Box::new(Collected::new(
            MarkdownReport::new(Catalogue::builtin(), Frameworks::builtin(), "0"),
            &mut out,
        ));
        md.push(&report).unwrap();
        md.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("| 1 | 1 | 0 | 0 | 0 | 0 | low |"), "{text}");
        assert!(text.contains("| note | info | dane.tlsa-present |"), "{text}");
        assert!(text.contains("| fail | low | mx.ipv6 |"), "{text}");
    }

    #[test]
    fn cells_cannot_break_the_table_or_add_markup() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(cell("`x`"), "\\`x\\`");
        assert_eq!(cell("<script>"), "&lt;script&gt;");
        assert_eq!(cell("one\ntwo\r\nthree"), "one<br>two<br>three");
        assert_eq!(cell("[click](http://x)"), "\\[click\\](http&#58;//x)");
    }

    #[test]
    fn record_text_cannot_link_strike_or_reach_a_terminal_raw() {
        let hostile =
            "\u{1b}]8;;https://evil.example\u{7}click\u{1b}]8;;\u{7} ~~v=spf1~~ www.evil.example \u{202e}lla-";
        let shown = cell(hostile);
        assert!(!shown.chars().any(crate::inert::is_unsafe), "{shown}");
        for raw in ["https://", "www.", "~~"] {
            assert!(!shown.contains(raw), "{raw} in {shown}");
        }
        assert!(
            shown.contains(r"\\x1b\]8;;https&#58;//evil.example\\x07click"),
            "{shown}"
        );
        assert!(shown.contains("\\u{202e}lla-"), "{shown}");
    }
}

//! Markdown output, for pasting into tickets: one document with, per
//! domain, a summary table, scores and profile verdicts when present, and
//! the failing and indeterminate findings grouped by area (passes are
//! counted, not listed). Collected and written at [`MarkdownReport::finish`],
//! sorted by domain.
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
use serde_json::Value;

use crate::DomainReport;
use crate::html::{list, scalar, score_cell};

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

/// Collects domain reports and writes one Markdown document.
pub struct MarkdownReport<'a> {
    catalogue: &'a Catalogue,
    frameworks: &'a Frameworks,
    tool_version: String,
    domains: Vec<(String, String)>,
}

impl<'a> MarkdownReport<'a> {
    pub fn new(catalogue: &'a Catalogue, frameworks: &'a Frameworks, tool_version: &str) -> Self {
        Self {
            catalogue,
            frameworks,
            tool_version: tool_version.to_string(),
            domains: Vec::new(),
        }
    }

    pub fn push(&mut self, report: &DomainReport) {
        let text = self.section(report);
        self.domains.push((report.domain.clone(), text));
    }

    pub fn render(mut self) -> String {
        self.domains.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = format!(
            "# Email security report\n\nmailwarden {}.\n\n",
            cell(&self.tool_version)
        );
        if self.domains.len() > 1 {
            out.push_str("| Domain |\n| --- |\n");
            for (d, _) in &self.domains {
                out.push_str(&format!("| {} |\n", cell(d)));
            }
            out.push('\n');
        }
        for (_, s) in &self.domains {
            out.push_str(s);
        }
        out
    }

    pub fn finish<W: Write>(self, mut out: W) -> io::Result<W> {
        out.write_all(self.render().as_bytes())?;
        out.flush()?;
        Ok(out)
    }

    fn section(&self, r: &DomainReport) -> String {
        let mut s = format!("## {}\n\n", cell(&r.domain));
        let worst = r.summary.worst_failure.map_or("none", |w| w.as_str());
        s.push_str("| Fail | Indeterminate | Pass | Not applicable | Worst failure |\n");
        s.push_str("| ---: | ---: | ---: | ---: | --- |\n");
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n\n",
            r.summary.count(Outcome::Fail),
            r.summary.count(Outcome::Indeterminate),
            r.summary.count(Outcome::Pass),
            r.summary.count(Outcome::NotApplicable),
            worst
        ));
        if let Some(scores) = &r.scores {
            let v = serde_json::to_value(scores).unwrap_or(Value::Null);
            s.push_str(&format!("**Score: {}**\n\n", cell(&score_cell(&v, &v["not_scored"]))));
            if let Some(areas) = v["areas"].as_object() {
                s.push_str("| Area | Score | Points lost to |\n| --- | ---: | --- |\n");
                for (area, a) in areas {
                    s.push_str(&format!(
                        "| {} | {} | {} |\n",
                        cell(area),
                        cell(&score_cell(a, &Value::Null)),
                        cell(&list(&a["lost"]))
                    ));
                }
                if let Some(unscored) = v["unscored_areas"].as_object() {
                    for (area, why) in unscored {
                        s.push_str(&format!("| {} | not scored: {} | |\n", cell(area), cell(&scalar(why))));
                    }
                }
                s.push('\n');
            }
        }
        if !r.profiles.is_empty() {
            let v = serde_json::to_value(&r.profiles).unwrap_or(Value::Null);
            s.push_str("| Profile | Requirement | Verdict |\n| --- | --- | --- |\n");
            for p in v.as_array().into_iter().flatten() {
                s.push_str(&format!(
                    "| {} | **overall** | {} |\n",
                    cell(&scalar(&p["profile"])),
                    cell(&scalar(&p["verdict"]))
                ));
                for req in p["requirements"].as_array().into_iter().flatten() {
                    s.push_str(&format!(
                        "| {} | {} | {} |\n",
                        cell(&scalar(&p["profile"])),
                        cell(&format!("{} {}", scalar(&req["id"]), scalar(&req["title"]))),
                        cell(&scalar(&req["verdict"]))
                    ));
                }
            }
            s.push('\n');
        }
        let mut problems: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| matches!(f.outcome, Outcome::Fail | Outcome::Indeterminate))
            .collect();
        if problems.is_empty() {
            s.push_str("No failing or indeterminate findings.\n\n");
            return s;
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
            let severity = if f.outcome == Outcome::Fail {
                f.severity.as_str()
            } else {
                ""
            };
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                f.outcome,
                severity,
                cell(&f.id),
                cell(&f.subject),
                cell(&f.message),
                cell(f.remediation.as_deref().unwrap_or("")),
                cell(&crate::sarif::control_labels(self.frameworks, &f.id).join("; ")),
            ));
        }
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

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

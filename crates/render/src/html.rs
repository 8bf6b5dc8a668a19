//! HTML output: one self-contained document for an auditor (no external
//! assets, no scripts, inline CSS that prints cleanly to PDF), with a
//! section per domain: where the evidence came from, the summary, scores and
//! profile verdicts when present, every finding with its evidence and
//! remediation, and every DNS answer as received.
//!
//! Escaping is structural: [`Html::raw`] only takes `&'static str` (markup
//! written in this file), and every other string goes through
//! [`Html::text`], which escapes `& < > " '`. A strict Content-Security-Policy
//! (`default-src 'none'`, the one style block allowed by its SHA-256 hash)
//! backs it up. Reports are collected and written at [`HtmlReport::finish`],
//! sorted by domain.

use std::fmt::Write as _;
use std::io::{self, Write};

use base64::Engine as _;
use mailwarden_model::dns::RData;
use mailwarden_model::{Finding, Outcome};
use mailwarden_policy::Catalogue;
use mailwarden_policy::frameworks::Frameworks;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::DomainReport;

/// The document's only style sheet; the CSP allows exactly this text.
pub const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1b1b;margin:2em auto;max-width:72em;padding:0 1em}
h1{font-size:1.6em;margin:0 0 .2em}h2{border-bottom:2px solid #333;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.5em}table{border-collapse:collapse;margin:.5em 0;width:100%}
th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#eee}
pre{background:#f6f6f6;border:1px solid #ddd;padding:.5em;white-space:pre-wrap;word-break:break-all;font-size:12px;margin:.3em 0}
code{font-size:12px}.finding{border:1px solid #ccc;border-left:6px solid #999;padding:.4em .8em;margin:.6em 0;break-inside:avoid}
.fail{border-left-color:#b00020}.indeterminate{border-left-color:#c77800}.pass{border-left-color:#2e7d32}.not-applicable{border-left-color:#999}
.badge{display:inline-block;padding:0 .4em;border-radius:3px;font-size:12px;font-weight:600;border:1px solid #888}
.sev-critical,.sev-high{background:#fde0e0}.sev-medium{background:#fff0c2}.sev-low,.sev-info{background:#eef}
.v-met{color:#2e7d32;font-weight:600}.v-not-met{color:#b00020;font-weight:600}.v-not-determinable{color:#c77800;font-weight:600}
.meta{color:#555}dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;margin:.3em 0}dt{font-weight:600}dd{margin:0}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-before:page}h2:first-of-type{break-before:auto}
.finding,tr{break-inside:avoid}pre{white-space:pre-wrap}a{color:inherit;text-decoration:none}}
";

/// The Content-Security-Policy of the document.
pub fn content_security_policy() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!("default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; base-uri 'none'; form-action 'none'")
}

/// Escape text for HTML element content and quoted attribute values;
/// control and bidi characters become visible escapes first
/// ([`crate::inert::block`]).
pub fn escape(s: &str) -> String {
    let s = crate::inert::block(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A document under construction: markup from this file, text escaped.
#[derive(Default)]
pub struct Html {
    buf: String,
}

impl Html {
    /// Markup written in the source; never data.
    pub fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.buf.push_str(markup);
        self
    }

    /// Any text, escaped.
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.buf.push_str(&escape(s));
        self
    }

    pub fn num(&mut self, n: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.buf, "{}", escape(&n.to_string()));
        self
    }

    /// `<tag>text</tag>` with a static tag pair.
    fn el(&mut self, open: &'static str, s: &str, close: &'static str) -> &mut Self {
        self.raw(open).text(s).raw(close)
    }

    pub fn into_string(self) -> String {
        self.buf
    }
}

/// Collects domain reports and writes one HTML document.
pub struct HtmlReport<'a> {
    catalogue: &'a Catalogue,
    frameworks: &'a Frameworks,
    tool_version: String,
    domains: Vec<(String, String)>,
}

impl<'a> HtmlReport<'a> {
    pub fn new(catalogue: &'a Catalogue, frameworks: &'a Frameworks, tool_version: &str) -> Self {
        Self {
            catalogue,
            frameworks,
            tool_version: tool_version.to_string(),
            domains: Vec::new(),
        }
    }

    /// Render one domain's section now (the report itself is not kept).
    pub fn push(&mut self, report: &DomainReport) {
        let mut h = Html::default();
        self.section(&mut h, report);
        self.domains.push((report.domain.clone(), h.into_string()));
    }

    /// The whole document.
    pub fn render(mut self) -> String {
        self.domains.sort_by(|a, b| a.0.cmp(&b.0));
        let mut h = Html::default();
        h.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .raw("<meta http-equiv=\"Content-Security-Policy\" content=\"")
            .text(&content_security_policy())
            .raw("\">\n<meta name=\"referrer\" content=\"no-referrer\">\n")
            .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .raw("<meta name=\"generator\" content=\"mailwarden ")
            .text(&self.tool_version)
            .raw("\">\n<title>mailwarden email security report</title>\n<style>")
            .raw(STYLE)
            .raw("</style>\n</head>\n<body>\n<header>\n<h1>Email security report</h1>\n")
            .raw("<p class=\"meta\">mailwarden ")
            .text(&self.tool_version)
            .raw(". Findings are judged from the DNS answers shown under each domain; everything quoted from DNS is shown as received.</p>\n");
        if self.domains.is_empty() {
            h.raw("<p>No domains were audited.</p>\n");
        } else {
            h.raw("<table>\n<thead><tr><th>Domain</th></tr></thead>\n<tbody>\n");
            for (domain, _) in &self.domains {
                h.el("<tr><td>", domain, "</td></tr>\n");
            }
            h.raw("</tbody>\n</table>\n");
        }
        h.raw("</header>\n");
        let mut out = h.into_string();
        for (_, section) in &self.domains {
            out.push_str(section);
        }
        out.push_str("</body>\n</html>\n");
        out
    }

    pub fn finish<W: Write>(self, mut out: W) -> io::Result<W> {
        out.write_all(self.render().as_bytes())?;
        out.flush()?;
        Ok(out)
    }

    fn section(&self, h: &mut Html, r: &DomainReport) {
        let o = &r.observation;
        h.raw("<section>\n").el("<h2>", &r.domain, "</h2>\n").raw("<dl>\n");
        h.el("<dt>Source</dt><dd>", &o.source.backend, "</dd>\n");
        if !o.source.zone_files.is_empty() {
            h.el("<dt>Zone files</dt><dd>", &o.source.zone_files.join(", "), "</dd>\n");
        }
        if !o.source.resolvers.is_empty() {
            h.el("<dt>Resolvers</dt><dd>", &o.source.resolvers.join(", "), "</dd>\n");
        }
        h.raw("<dt>DNSSEC validated</dt><dd>")
            .raw(if o.source.dnssec_validation { "yes" } else { "no" })
            .raw("</dd>\n");
        if let Some(t) = &o.started_at {
            h.el("<dt>Scanned at</dt><dd>", t, "</dd>\n");
        }
        if let Some(ms) = o.duration_ms {
            h.raw("<dt>Duration</dt><dd>").num(ms).raw(" ms</dd>\n");
        }
        if o.budget_exhausted {
            h.raw("<dt>Incomplete</dt><dd>the query or time budget ran out</dd>\n");
        }
        h.raw("</dl>\n");

        h.raw("<h3>Summary</h3>\n<table>\n<thead><tr><th>Outcome</th><th>Findings</th></tr></thead>\n<tbody>\n");
        for outcome in [
            Outcome::Fail,
            Outcome::Indeterminate,
            Outcome::Pass,
            Outcome::NotApplicable,
        ] {
            h.el("<tr><td>", outcome.as_str(), "</td><td>")
                .num(r.summary.count(outcome))
                .raw("</td></tr>\n");
        }
        h.raw("</tbody>\n</table>\n<p>Worst failure: ");
        match r.summary.worst_failure {
            Some(s) => h.el("<strong>", s.as_str(), "</strong>"),
            None => h.raw("none"),
        };
        h.raw("</p>\n");

        if let Some(scores) = &r.scores {
            self.scores(h, &serde_json::to_value(scores).unwrap_or(Value::Null));
        }
        if !r.profiles.is_empty() {
            let profiles = serde_json::to_value(&r.profiles).unwrap_or(Value::Null);
            self.profiles(h, &profiles);
        }

        h.raw("<h3>Findings</h3>\n");
        let mut findings: Vec<&Finding> = r.findings.iter().collect();
        findings.sort_by_key(|f| {
            (
                self.catalogue.area_of(&f.id),
                outcome_rank(f.outcome),
                std::cmp::Reverse(f.severity),
                f.id.as_str(),
                f.subject.as_str(),
            )
        });
        let mut area = None;
        for f in findings {
            let a = self.catalogue.area_of(&f.id);
            if area != Some(a) {
                area = Some(a);
                h.el("<h4>", a.title(), "</h4>\n");
            }
            self.finding(h, f);
        }

        h.raw("<h3>DNS answers as received</h3>\n<table>\n<thead><tr><th>Name</th><th>Type</th><th>Status</th><th>TTL</th><th>DNSSEC</th><th>Records</th></tr></thead>\n<tbody>\n");
        for (key, answer) in o.dns.iter() {
            h.raw("<tr><td>").text(&key.name);
            if let Some(server) = key.server {
                h.raw(" @").text(&server.to_string());
            }
            h.el("</td><td>", key.rtype.as_str(), "</td><td>")
                .text(&answer.status.describe())
                .raw("</td><td>");
            if let Some(ttl) = answer.ttl {
                h.num(ttl);
            }
            h.el("</td><td>", proof_str(answer.proof), "</td><td>");
            if !answer.cname_chain.is_empty() {
                h.el("<div>via ", &answer.cname_chain.join(" → "), "</div>");
            }
            for rd in &answer.records {
                h.el("<div><code>", &presentation(rd), "</code></div>");
            }
            h.raw("</td></tr>\n");
        }
        h.raw("</tbody>\n</table>\n</section>\n");
    }

    fn finding(&self, h: &mut Html, f: &Finding) {
        h.raw("<article class=\"finding ")
            .text(f.outcome.as_str())
            .raw("\">\n<div><span class=\"badge\">")
            .text(f.outcome.as_str())
            .raw("</span> ");
        if f.outcome == Outcome::Fail {
            h.raw("<span class=\"badge sev-")
                .text(f.severity.as_str())
                .raw("\">")
                .text(f.severity.as_str())
                .raw("</span> ");
        }
        h.el("<code>", &f.id, "</code> ")
            .el("<strong>", &f.title, "</strong></div>\n");
        h.raw("<dl>\n").el("<dt>Subject</dt><dd>", &f.subject, "</dd>\n");
        h.el("<dt>Finding</dt><dd>", &f.message, "</dd>\n");
        if !f.reference.is_empty() {
            h.el("<dt>Reference</dt><dd>", &f.reference, "</dd>\n");
        }
        let controls = self.frameworks.controls_for(&f.id);
        if !controls.is_empty() {
            h.raw("<dt>Controls</dt><dd>");
            for (i, c) in controls.iter().enumerate() {
                if i > 0 {
                    h.raw("; ");
                }
                h.text(&c.framework).raw(" ").text(&c.id);
                if !c.citation.is_empty() {
                    h.raw(" (").text(&c.citation).raw(")");
                }
            }
            h.raw("</dd>\n");
        }
        if let Some(fix) = &f.remediation {
            h.el("<dt>Remediation</dt><dd>", fix, "</dd>\n");
        }
        h.raw("</dl>\n");
        if !f.evidence.is_empty() {
            let pretty = serde_json::to_string_pretty(&f.evidence).unwrap_or_default();
            h.el("<pre>", &pretty, "</pre>\n");
        }
        h.raw("</article>\n");
    }

    fn scores(&self, h: &mut Html, scores: &Value) {
        h.raw("<h3>Scores</h3>\n<table>\n<thead><tr><th>Area</th><th>Score</th><th>Points lost to</th><th>Excluded (indeterminate)</th></tr></thead>\n<tbody>\n");
        h.raw("<tr><td><strong>Overall</strong></td><td><strong>")
            .text(&score_cell(scores, &scores["not_scored"]))
            .raw("</strong></td><td></td><td></td></tr>\n");
        if let Some(areas) = scores["areas"].as_object() {
            for (area, s) in areas {
                h.el("<tr><td>", area, "</td><td>")
                    .text(&score_cell(s, &Value::Null))
                    .raw("</td><td>")
                    .text(&list(&s["lost"]))
                    .raw("</td><td>")
                    .text(&list(&s["excluded"]))
                    .raw("</td></tr>\n");
            }
        }
        if let Some(unscored) = scores["unscored_areas"].as_object() {
            for (area, why) in unscored {
                h.el("<tr><td>", area, "</td><td>")
                    .text(&format!("not scored: {}", scalar(why)))
                    .raw("</td><td></td><td></td></tr>\n");
            }
        }
        h.raw("</tbody>\n</table>\n");
    }

    fn profiles(&self, h: &mut Html, profiles: &Value) {
        h.raw("<h3>Framework requirements</h3>\n");
        for p in profiles.as_array().into_iter().flatten() {
            let verdict = scalar(&p["verdict"]);
            h.raw("<h4>")
                .text(&scalar(&p["title"]))
                .raw(" (<code>")
                .text(&scalar(&p["profile"]))
                .raw("</code>): ");
            verdict_span(h, &verdict);
            h.raw("</h4>\n<table>\n<thead><tr><th>Requirement</th><th>Verdict</th><th>Findings</th></tr></thead>\n<tbody>\n");
            for req in p["requirements"].as_array().into_iter().flatten() {
                h.raw("<tr><td><code>")
                    .text(&scalar(&req["id"]))
                    .raw("</code> ")
                    .text(&scalar(&req["title"]))
                    .raw("</td><td>");
                verdict_span(h, &scalar(&req["verdict"]));
                h.raw("</td><td>").text(&list(&req["findings"])).raw("</td></tr>\n");
            }
            h.raw("</tbody>\n</table>\n");
        }
    }
}

fn verdict_span(h: &mut Html, verdict: &str) {
    let class = match verdict {
        "met" => "v-met",
        "not-met" => "v-not-met",
        _ => "v-not-determinable",
    };
    h.raw("<span class=\"")
        .raw(class)
        .raw("\">")
        .text(verdict)
        .raw("</span>");
}

fn outcome_rank(o: Outcome) -> u8 {
    match o {
        Outcome::Fail => 0,
        Outcome::Indeterminate => 1,
        Outcome::Pass => 2,
        Outcome::NotApplicable => 3,
    }
}

fn proof_str(p: mailwarden_model::dns::Proof) -> &'static str {
    use mailwarden_model::dns::Proof;
    match p {
        Proof::Secure => "secure",
        Proof::Insecure => "insecure",
        Proof::Bogus => "bogus",
        Proof::Indeterminate => "indeterminate",
        Proof::NotValidated => "not validated",
    }
}

/// A JSON scalar as text (strings unquoted).
pub(crate) fn scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON list as `a, b, c` (or a scalar as text).
pub(crate) fn list(v: &Value) -> String {
    match v {
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(", "),
        other => scalar(other),
    }
}

/// A record in zone-file presentation form, TXT strings quoted as received.
pub fn presentation(rd: &RData) -> String {
    match rd {
        RData::A { address } => address.to_string(),
        RData::Aaaa { address } => address.to_string(),
        RData::Cname { target } | RData::Ns { target } | RData::Ptr { target } => format!("{target}."),
        RData::Mx { preference, exchange } => {
            if exchange.is_empty() || exchange == "." {
                format!("{preference} .")
            } else {
                format!("{preference} {exchange}.")
            }
        }
        RData::Soa {
            mname,
            rname,
            serial,
            minimum,
        } => format!("{mname}. {rname}. {serial} … {minimum}"),
        RData::Txt { strings } | RData::Spf { strings } => {
            strings.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(" ")
        }
        RData::Other { text, .. } => text.clone(),
    }
}

/// A score as shown: "87", "30 (capped by a critical failure)", or "not
/// scored: why" when the value is null.
pub(crate) fn score_cell(score: &Value, not_scored: &Value) -> String {
    let value = if score.get("overall").is_some() {
        &score["overall"]
    } else {
        &score["score"]
    };
    match value.as_u64() {
        None => format!("not scored: {}", scalar(not_scored)),
        Some(n) => match score["cap"]["severity"].as_str() {
            Some(sev) => format!("{n} (capped by a {sev} failure)"),
            None => n.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape("\"><img src=x onerror=alert(1)>"),
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(
            escape("<script>'&'</script>"),
            "&lt;script&gt;&#39;&amp;&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn escape_shows_control_and_bidi_characters() {
        assert_eq!(
            escape("a\u{1b}]0;x\u{7}\u{202e}<b>"),
            "a\\x1b]0;x\\x07\\u{202e}&lt;b&gt;"
        );
    }

    #[test]
    fn csp_hash_matches_the_style_block() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"), "{csp}");
        assert!(!csp.contains("script"));
    }
}

//! HTML output: one self-contained document an auditor files (no external
//! assets, no scripts, inline CSS that prints cleanly to PDF, A4):
//!
//! * a first page: scope, date, tool and rule-catalogue versions, resolver
//!   and trust anchor, limitations (what could not be looked at, folded by
//!   cause), and a domains × profiles matrix of verdicts;
//! * per domain: the verdict and counts, what is published, the failing
//!   findings fix-first with evidence and remediation, coloured by
//!   severity, notes, undetermined checks by cause, profile requirements
//!   not met, and the passes as a compact checklist;
//! * an appendix with the raw evidence (DNS answers, probes), long values
//!   wrapped so nothing runs off the page.
//!
//! The sections are built in `crate::html_sections`. Escaping is
//! structural: [`Html::raw`] only takes `&'static str` (markup written in
//! this crate), and every other string goes through [`Html::text`], which
//! escapes `& < > " '`. A strict Content-Security-Policy (`default-src
//! 'none'`, the one style block allowed by its SHA-256 hash) backs it up.
//! Domains are kept as rendered sections and written at the end, sorted by
//! domain ([`crate::sink::Collected`]).

use std::fmt::Write as _;
use std::io::{self, Write};

use mailwarden_model::dns::RData;
use mailwarden_policy::Catalogue;
use mailwarden_policy::frameworks::Frameworks;
use sha2::{Digest, Sha256};

use crate::DomainReport;
use crate::html_sections::{self as sections, Cover};
use crate::sink::Document;

/// The document's only style sheet; the CSP allows exactly this text.
pub const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1b1b;margin:2em auto;max-width:72em;padding:0 1em}
h1{font-size:1.6em;margin:0 0 .2em}h2{border-bottom:2px solid #333;padding-bottom:.2em;margin-top:2em}
h3{margin:1.2em 0 .3em}h4{margin:.8em 0 .2em}table{border-collapse:collapse;margin:.4em 0;width:100%;table-layout:fixed}
th,td{border:1px solid #bbb;padding:.2em .4em;text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#eee}
pre{background:#f6f6f6;border:1px solid #ddd;padding:.4em;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-all;font-size:11px;margin:.3em 0}
code{font-size:12px;overflow-wrap:anywhere;word-break:break-all}
.finding{border:1px solid #ccc;border-left:6px solid #999;padding:.3em .7em;margin:.5em 0;break-inside:avoid}
.sev-critical{border-left-color:#7a0010;background:#fff5f6}.sev-high{border-left-color:#b00020}.sev-medium{border-left-color:#c77800}.sev-low{border-left-color:#3465a4}
.badge{display:inline-block;padding:0 .4em;border-radius:3px;font-size:12px;font-weight:600;border:1px solid #888}
.b-critical{background:#7a0010;color:#fff}.b-high{background:#fde0e0}.b-medium{background:#fff0c2}.b-low,.b-info{background:#e6eefc}
.b-ok{background:#e3f4e4}.b-unknown{background:#fff0c2}
.v-met{color:#2e7d32;font-weight:600}.v-not-met{color:#b00020;font-weight:600}.v-not-determinable{color:#c77800;font-weight:600}
.meta{color:#555}dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;margin:.3em 0}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
ul.checks{columns:3 14em;padding-left:1.2em;margin:.3em 0;font-size:12px}ul.checks li{break-inside:avoid}
ul.plain{padding-left:1.2em;margin:.3em 0}.evidence{font-size:11px}
.matrix{table-layout:auto;font-size:12px}.matrix td,.matrix th{text-align:center;overflow-wrap:normal}.matrix td:first-child,.matrix th:first-child{text-align:left;overflow-wrap:anywhere;width:20%}
.badge{white-space:nowrap}.kv th{width:14%}.reqs th:first-child{width:40%}.reqs th:nth-child(2){width:16%}
.appendix table{font-size:11px}.appendix th:nth-child(1){width:24%}.appendix th:nth-child(2){width:7%}.appendix th:nth-child(3){width:15%}.appendix th:nth-child(4){width:6%}.appendix th:nth-child(5){width:9%}
.appendix .probes th:nth-child(1){width:30%}.appendix .probes th:nth-child(2){width:auto}.negatives{font-size:11px;overflow-wrap:anywhere}
@page{size:A4;margin:14mm 12mm}
@media print{body{margin:0;max-width:none;font-size:10.5px}.matrix{font-size:9.5px}.negatives{font-size:9px}h2{break-before:page}.cover h2{break-before:auto}
.appendix{break-before:page}.finding,tr,dl{break-inside:avoid}h3,h4{break-after:avoid}a{color:inherit;text-decoration:none}
.finding{padding:.2em .5em;margin:.35em 0}pre{font-size:9px}.appendix table{font-size:9px}code{font-size:10px}}
";

/// The Content-Security-Policy of the document.
pub fn content_security_policy() -> String {
    let hash = mailwarden_model::codec::base64(&Sha256::digest(STYLE.as_bytes()));
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
    pub(crate) fn el(&mut self, open: &'static str, s: &str, close: &'static str) -> &mut Self {
        self.raw(open).text(s).raw(close)
    }

    pub fn into_string(self) -> String {
        self.buf
    }
}

/// The HTML document: the first page gathered as domains arrive, one
/// section and one appendix part per domain ([`crate::sink::Collected`]
/// writes them sorted by domain).
pub struct HtmlReport<'a> {
    catalogue: &'a Catalogue,
    frameworks: &'a Frameworks,
    tool_version: String,
    cover: Cover,
}

impl<'a> HtmlReport<'a> {
    pub fn new(catalogue: &'a Catalogue, frameworks: &'a Frameworks, tool_version: &str) -> Self {
        Self {
            catalogue,
            frameworks,
            tool_version: tool_version.to_string(),
            cover: Cover::default(),
        }
    }

    /// What the run validated DNSSEC against, for the first page (the
    /// Observation does not record it): a file, the built-in root KSK, or
    /// why there was none.
    pub fn set_trust_anchor(&mut self, anchor: &str) {
        self.cover.trust_anchor = Some(anchor.to_string());
    }
}

impl Document for HtmlReport<'_> {
    /// The domain's section and its part of the evidence appendix.
    type Part = (String, String);

    fn part(&mut self, report: &DomainReport) -> Self::Part {
        self.cover.add(report, self.catalogue);
        let mut section = Html::default();
        sections::domain(&mut section, report, self.frameworks);
        let mut appendix = Html::default();
        sections::evidence(&mut appendix, report);
        (section.into_string(), appendix.into_string())
    }

    fn write_to(mut self, parts: Vec<Self::Part>, out: &mut dyn Write) -> io::Result<()> {
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
            .raw("</style>\n</head>\n<body>\n");
        self.cover.render(&mut h, self.catalogue, &self.tool_version);
        out.write_all(h.into_string().as_bytes())?;
        for (section, _) in &parts {
            out.write_all(section.as_bytes())?;
        }
        if !parts.is_empty() {
            out.write_all(b"<div class=\"appendix\">\n<h2>Appendix: evidence as received</h2>\n")?;
            out.write_all(b"<p class=\"meta\">Every DNS answer and probe behind the findings above, per domain, as received.</p>\n")?;
            for (_, appendix) in &parts {
                out.write_all(appendix.as_bytes())?;
            }
            out.write_all(b"</div>\n")?;
        }
        out.write_all(b"</body>\n</html>\n")
    }
}

/// A fingerprint of the rule catalogue (ids, severities, titles,
/// remediation): two reports with the same fingerprint were judged by the
/// same rules.
pub fn catalogue_fingerprint(catalogue: &Catalogue) -> String {
    let mut hash = Sha256::new();
    for rule in catalogue.iter() {
        hash.update(serde_json::to_vec(rule).unwrap_or_default());
    }
    let digest = hash.finalize();
    mailwarden_model::codec::hex(&digest[..6])
}

pub(crate) fn verdict_span(h: &mut Html, verdict: &str) {
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

pub(crate) fn proof_str(p: mailwarden_model::dns::Proof) -> &'static str {
    use mailwarden_model::dns::Proof;
    match p {
        Proof::Secure => "secure",
        Proof::Insecure => "insecure",
        Proof::Bogus => "bogus",
        Proof::Indeterminate => "indeterminate",
        Proof::NotValidated => "not validated",
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
        other => other.data_text().unwrap_or_default(),
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

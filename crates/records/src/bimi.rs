//! BIMI assertion records (draft-brand-indicators-for-message-identification):
//! a strict parser with byte positions that reports every problem.
//!
//! The record at `default._bimi.<domain>` is a DKIM-style tag-list
//! ([`crate::dkim::parse_tag_list`]): `v=BIMI1` first, `l=` the location of
//! the SVG indicator, `a=` the location of the evidence document (a PEM
//! VMC or CMC). Both empty is a declination to publish. Fetching and
//! checking the logo and the certificate is not done here (it needs the
//! hardened HTTPS client): this module only reads the DNS record.

use serde::Serialize;

use crate::diag::{Diagnostic, Level, Span};
use crate::dkim::{Tag, parse_tag_list};

/// Tags the draft defines: version, location, authority evidence, and the
/// later local-part selectors and avatar preference.
const BIMI_TAGS: [&str; 5] = ["v", "l", "a", "lps", "avp"];

/// A parsed BIMI assertion record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BimiRecord {
    /// The record text the spans refer to.
    pub text: String,
    /// The tags as written, in order.
    pub tags: Vec<Tag>,
    /// `l=`: the indicator location; `None` when absent, `Some("")` when empty.
    pub location: Option<String>,
    /// `a=`: the authority evidence location; `None` when absent.
    pub authority: Option<String>,
    /// Every problem found, in order of position.
    pub diagnostics: Vec<Diagnostic>,
}

impl BimiRecord {
    /// A declination to publish: "If both the "l=" and "a=" tags are empty,
    /// it is an explicit refusal to participate in BIMI." An absent tag
    /// counts as empty (both default to empty).
    pub fn is_declination(&self) -> bool {
        self.location.as_deref().unwrap_or("").is_empty() && self.authority.as_deref().unwrap_or("").is_empty()
    }

    /// A logo location is published.
    pub fn has_logo(&self) -> bool {
        self.location.as_deref().is_some_and(|l| !l.is_empty())
    }

    /// An evidence document (VMC/CMC) location is published.
    pub fn has_authority(&self) -> bool {
        self.authority.as_deref().is_some_and(|a| !a.is_empty())
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Error)
    }
}

/// Whether a TXT record at `default._bimi` is meant as BIMI (and not, say,
/// an SPF record a wildcard put there): it mentions `bimi` in its first
/// tag, or its first tag is `l=` or `a=`.
pub fn looks_like_bimi_record(text: &str) -> bool {
    let list = parse_tag_list(text);
    match list.tags.first() {
        Some(t) if t.name.eq_ignore_ascii_case("v") => t.value.to_ascii_lowercase().starts_with("bimi"),
        Some(t) => matches!(t.name.as_str(), "l" | "a"),
        None => false,
    }
}

/// Parse a BIMI assertion record. Never fails: problems are diagnostics.
pub fn parse(text: &str) -> BimiRecord {
    let list = parse_tag_list(text);
    let mut diagnostics = list.diagnostics;
    let tags = list.tags;
    let first = |name: &str| tags.iter().find(|t| t.name == name);

    // v= must be "BIMI1": "It MUST be the first tag in the list."
    match first("v") {
        None => diagnostics.push(Diagnostic::error(
            Span::new(0, text.len().min(1)),
            "version-missing",
            "The record has no v=BIMI1 tag; it is REQUIRED and must come first.",
        )),
        Some(v) => {
            if tags.first().is_some_and(|t| t.name != "v") {
                diagnostics.push(Diagnostic::error(
                    v.span,
                    "version-not-first",
                    "v=BIMI1 must be the first tag of the record.",
                ));
            }
            if v.value != "BIMI1" {
                diagnostics.push(Diagnostic::error(
                    if v.value.is_empty() { v.span } else { v.value_span },
                    "version",
                    format!("v={} is not \"BIMI1\" (the value is case-sensitive).", v.value),
                ));
            }
        }
    }

    // "l= ... The value of this tag is either empty indicating declination
    // to publish, or a single URI representing the location of a Brand
    // Indicator file. The only supported transport is HTTPS."
    if let Some(l) = first("l") {
        diagnostics.extend(check_uri(l, "location"));
        if !l.value.is_empty() && !l.value.contains(',') {
            let path = l.value.split(['?', '#']).next().unwrap_or("").to_ascii_lowercase();
            if !(path.ends_with(".svg") || path.ends_with(".svgz")) {
                diagnostics.push(Diagnostic::warning(
                    l.value_span,
                    "location-not-svg",
                    "l= does not end in .svg: BIMI indicators are SVG Tiny PS documents, and a URI with another image suffix is a permanent error.",
                ));
            }
        }
    }

    // "a= ... If present, this tag MUST have an empty value or its value
    // MUST be a single URI. ... The URI, if present, MUST contain a fully
    // qualified domain name (FQDN) and MUST specify HTTPS as the URI scheme."
    if let Some(a) = first("a") {
        diagnostics.extend(check_uri(a, "authority"));
    }

    if let Some(avp) = first("avp")
        && avp.value != "brand"
        && avp.value != "personal"
    {
        {
            diagnostics.push(Diagnostic::warning(
                avp.value_span,
                "avp",
                format!("avp={} is neither \"brand\" nor \"personal\".", avp.value),
            ));
        }
    }

    for t in &tags {
        if !BIMI_TAGS.contains(&t.name.as_str()) && !t.name.is_empty() {
            let lower = t.name.to_ascii_lowercase();
            let message = if BIMI_TAGS.contains(&lower.as_str()) {
                format!(
                    "\"{}\" is not \"{lower}\": tag names are case-sensitive, so receivers ignore this tag.",
                    t.name
                )
            } else {
                format!("\"{}\" is not a BIMI tag; receivers ignore it.", t.name)
            };
            diagnostics.push(Diagnostic::warning(t.name_span, "unknown-tag", message));
        }
    }

    if let (Some(l), Some(a)) = (first("l"), first("a"))
        && l.value.is_empty()
        && !a.value.is_empty()
    {
        diagnostics.push(Diagnostic::error(
            l.span,
            "evidence-without-location",
            "l= is empty but a= names an evidence document: no indicator can be shown. Publish the logo in l=, or empty a= to decline BIMI.",
        ));
    }

    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    BimiRecord {
        text: text.to_string(),
        location: first("l").map(|t| t.value.clone()),
        authority: first("a").map(|t| t.value.clone()),
        tags,
        diagnostics,
    }
}

/// An empty value, or a single `https://` URI with a fully qualified host.
fn check_uri(tag: &Tag, what: &str) -> Vec<Diagnostic> {
    let value = tag.value.as_str();
    let span = tag.value_span;
    if value.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    if value.contains(',') {
        out.push(Diagnostic::error(
            span,
            "uri-list",
            format!(
                "{}= must be a single URI, not a list (commas in a URI must be percent-encoded).",
                tag.name
            ),
        ));
        return out;
    }
    if value.chars().any(char::is_whitespace) {
        out.push(Diagnostic::error(
            span,
            "uri-space",
            format!("The {what} URI contains whitespace."),
        ));
        return out;
    }
    let Some(rest) = value
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .map(|_| &value[8..])
    else {
        out.push(Diagnostic::error(
            span,
            "uri-not-https",
            format!("The {what} URI {value} is not an https:// URI; HTTPS is the only transport BIMI allows."),
        ));
        return out;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    let fqdn = host.contains('.')
        && !host.starts_with('.')
        && host
            .trim_end_matches('.')
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && host.parse::<std::net::Ipv4Addr>().is_err();
    if !fqdn {
        out.push(Diagnostic::error(
            span,
            "uri-host",
            format!("The {what} URI {value} does not name a fully qualified host."),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(r: &BimiRecord) -> Vec<&'static str> {
        r.diagnostics.iter().map(|d| d.code).collect()
    }

    #[test]
    fn a_full_record_parses_cleanly() {
        let r = parse("v=BIMI1; l=https://brand.example/logo.svg; a=https://brand.example/vmc.pem");
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        assert!(r.has_logo() && r.has_authority() && !r.is_declination());
        assert_eq!(r.location.as_deref(), Some("https://brand.example/logo.svg"));
    }

    #[test]
    fn declination_forms() {
        for text in ["v=BIMI1; l=; a=;", "v=BIMI1; l=;", "v=BIMI1;"] {
            let r = parse(text);
            assert!(r.diagnostics.is_empty(), "{text}: {:?}", r.diagnostics);
            assert!(r.is_declination(), "{text}");
        }
    }

    #[test]
    fn version_rules_with_positions() {
        let r = parse("l=https://brand.example/logo.svg; v=BIMI1");
        assert_eq!(codes(&r), ["version-not-first"]);
        assert_eq!(r.diagnostics[0].span.start, 34);
        let r = parse("v=bimi1; l=https://brand.example/logo.svg");
        assert_eq!(codes(&r), ["version"]);
        assert_eq!(r.diagnostics[0].span, Span::new(2, 7));
        let r = parse("l=https://brand.example/logo.svg");
        assert_eq!(codes(&r), ["version-missing"]);
    }

    #[test]
    fn uri_rules() {
        let r = parse("v=BIMI1; l=http://brand.example/logo.svg");
        assert_eq!(codes(&r), ["uri-not-https"]);
        assert_eq!(r.diagnostics[0].span.start, 11);
        let r = parse("v=BIMI1; l=https://a.example/1.svg,https://b.example/2.svg");
        assert_eq!(codes(&r), ["uri-list"]);
        let r = parse("v=BIMI1; l=https://localhost/logo.svg");
        assert_eq!(codes(&r), ["uri-host"]);
        let r = parse("v=BIMI1; l=https://brand.example/logo.png");
        assert_eq!(codes(&r), ["location-not-svg"]);
        let r = parse("v=BIMI1; l=; a=https://brand.example/vmc.pem");
        assert_eq!(codes(&r), ["evidence-without-location"]);
        let r = parse("v=BIMI1; l=https://brand.example/logo.svg; a=ftp://brand.example/vmc.pem");
        assert_eq!(codes(&r), ["uri-not-https"]);
    }

    #[test]
    fn tags_grammar() {
        let r = parse("v=BIMI1; l=https://brand.example/logo.svg; l=https://brand.example/logo.svg");
        assert_eq!(codes(&r), ["duplicate-tag"]);
        let r = parse("v=BIMI1; L=https://brand.example/logo.svg; x=1; avp=brand");
        assert_eq!(codes(&r), ["unknown-tag", "unknown-tag"]);
        let r = parse("v=BIMI1; avp=none");
        assert_eq!(codes(&r), ["avp"]);
        assert!(parse("").has_errors());
    }

    #[test]
    fn looks_like_bimi() {
        assert!(looks_like_bimi_record("v=BIMI1; l=;"));
        assert!(looks_like_bimi_record("l=https://x.example/l.svg; v=BIMI1"));
        assert!(!looks_like_bimi_record("v=spf1 -all"));
        assert!(!looks_like_bimi_record("hello"));
    }
}

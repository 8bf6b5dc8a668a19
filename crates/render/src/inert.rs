//! Output that cannot attack its reader. Records, names and messages carry
//! text a scanned domain chose; every writer passes it through here at the
//! output boundary.
//!
//! - Text, Markdown, CSV, HTML, SARIF messages: every control, bidi or
//!   invisible format character is shown as a visible escape (`\x1b`,
//!   `\u{202e}`; [`mailwarden_records::visible`]), so ESC/OSC sequences,
//!   BEL, NUL and bidi overrides never reach a terminal, an editor or a
//!   browser raw. Line breaks inside a message are kept (ours: caret lines).
//! - JSON, JSON Lines and SARIF documents: values are exact (a parser reads
//!   back what DNS said), and the JSON text is inert too: serde escapes C0
//!   controls, and [`JsonFormatter`] also writes DEL, C1 controls, bidi and
//!   invisible characters and U+2028/U+2029 as `\uXXXX`, so `cat`, `less` or
//!   a JavaScript `<script>` embedding shows or parses them harmlessly.
//! - Every finding's message and remediation is capped at [`MESSAGE_CAP`]
//!   bytes ([`cap`], applied when a [`DomainReport`] is built).

use std::borrow::Cow;
use std::io;

use mailwarden_model::Finding;
pub use mailwarden_records::visible::{block, is_unsafe, line};
use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter};

use crate::DomainReport;

/// The most bytes of one finding's message (and remediation) in a report.
pub const MESSAGE_CAP: usize = 4096;

/// `text` cut to [`MESSAGE_CAP`] bytes (at a character boundary), with
/// `… (N bytes more)` saying what was cut.
pub fn cap(text: &str) -> Cow<'_, str> {
    if text.len() <= MESSAGE_CAP {
        return Cow::Borrowed(text);
    }
    let mut end = MESSAGE_CAP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes more)", &text[..end], text.len() - end))
}

/// Cap the message and the remediation of `f` in place.
pub(crate) fn cap_finding(f: &mut Finding) {
    if let Cow::Owned(m) = cap(&f.message) {
        f.message = m;
    }
    if let Some(Cow::Owned(r)) = f.remediation.as_deref().map(cap) {
        f.remediation = Some(r);
    }
}

/// The report as a human-readable writer may print it: every string it
/// shows escaped ([`line()`] for names, [`block`] for messages; evidence is
/// printed with [`json_text`]). Borrowed unchanged when nothing needs
/// escaping.
pub fn displayable(report: &DomainReport) -> Cow<'_, DomainReport> {
    let unsafe_in = |s: &str| s.chars().any(is_unsafe);
    let unsafe_in_block = |s: &str| s.chars().any(|c| is_unsafe(c) && c != '\n');
    let finding_unsafe = |f: &Finding| {
        [&f.subject, &f.title, &f.id].iter().any(|s| unsafe_in(s))
            || unsafe_in_block(&f.message)
            || f.remediation.as_deref().is_some_and(unsafe_in_block)
    };
    let profiles_unsafe = report
        .profiles
        .iter()
        .flat_map(|p| &p.requirements)
        .any(|r| r.findings.iter().chain(&r.notes).any(|s| unsafe_in(s)));
    if !unsafe_in(&report.domain) && !report.findings.iter().any(finding_unsafe) && !profiles_unsafe {
        return Cow::Borrowed(report);
    }
    let mut r = report.clone();
    r.domain = line(&r.domain).into_owned();
    for f in &mut r.findings {
        for s in [&mut f.id, &mut f.subject, &mut f.title] {
            *s = line(s).into_owned();
        }
        f.message = block(&f.message).into_owned();
        if let Some(fix) = &mut f.remediation {
            *fix = block(fix).into_owned();
        }
    }
    for req in r.profiles.iter_mut().flat_map(|p| &mut p.requirements) {
        for s in req.findings.iter_mut().chain(&mut req.notes) {
            *s = line(s).into_owned();
        }
    }
    Cow::Owned(r)
}

/// A JSON value on one line, inert: [`JsonFormatter`] escapes (`\u001b`,
/// `\u202e`), for readers that print evidence as JSON.
pub fn json_text(v: &serde_json::Value) -> String {
    let mut out = Vec::new();
    match to_writer(&mut out, v) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// A serde_json formatter (pretty or compact) that also writes the
/// characters [`is_unsafe`] names, beyond the C0 controls JSON requires,
/// as `\uXXXX` escapes. The value read back is unchanged.
pub struct JsonFormatter<F>(F);

impl JsonFormatter<PrettyFormatter<'static>> {
    pub fn pretty() -> Self {
        Self(PrettyFormatter::new())
    }
}

impl JsonFormatter<CompactFormatter> {
    pub fn compact() -> Self {
        Self(CompactFormatter)
    }
}

/// Write `value` as pretty JSON with [`JsonFormatter`].
pub fn to_writer_pretty<W: io::Write, T: Serialize + ?Sized>(out: W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, JsonFormatter::pretty());
    value.serialize(&mut ser).map_err(io::Error::from)
}

/// Write `value` as compact JSON with [`JsonFormatter`].
pub fn to_writer<W: io::Write, T: Serialize + ?Sized>(out: W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, JsonFormatter::compact());
    value.serialize(&mut ser).map_err(io::Error::from)
}

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $name<W: ?Sized + io::Write>(&mut self, writer: &mut W $(, $arg: $ty)*) -> io::Result<()> {
                self.0.$name(writer $(, $arg)*)
            }
        )*
    };
}

impl<F: Formatter> Formatter for JsonFormatter<F> {
    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
        write_char_escape(char_escape: CharEscape);
    }

    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut rest = fragment;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| is_unsafe(c)) {
            writer.write_all(&rest.as_bytes()[..at])?;
            // Every unsafe character is in the Basic Multilingual Plane.
            write!(writer, "\\u{:04x}", u32::from(c))?;
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }
}

/// Markdown text of a table cell or prose: [`block`] escapes, then the
/// Markdown rules in [`crate::markdown::cell`]; here, what GitHub-flavoured
/// Markdown would turn into links or strikethrough: `://` (bare URLs),
/// `www.`, `@` (e-mail addresses) and `~`.
pub(crate) fn markdown_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        let lower_www = rest.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www."));
        if rest.starts_with("://") {
            out.push_str("&#58;//");
            rest = &rest[3..];
        } else if lower_www {
            out.push_str(&rest[..3]);
            out.push_str("&#46;");
            rest = &rest[4..];
        } else {
            match c {
                '@' => out.push_str("&#64;"),
                '~' => out.push_str("\\~"),
                _ => out.push(c),
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_capped_with_the_count_of_the_rest() {
        assert_eq!(cap("short"), "short");
        let long = "é".repeat(3000); // 6000 bytes
        let capped = cap(&long);
        assert!(capped.len() < MESSAGE_CAP + 40);
        assert!(
            capped.ends_with("… (1904 bytes more)"),
            "{}",
            &capped[capped.len() - 30..]
        );
    }

    #[test]
    fn json_escapes_bidi_and_separators_and_reads_back_the_same() {
        let value = serde_json::json!({"record": "a\u{1b}]0;t\u{7}\u{202e}b\u{2028}c\u{7f}\u{9b}", "ok": "é"});
        let mut out = Vec::new();
        to_writer(&mut out, &value).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.chars().any(is_unsafe), "{text}");
        assert!(
            text.contains("\\u202e") && text.contains("\\u2028") && text.contains("é"),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value);
    }

    #[test]
    fn pretty_json_keeps_its_layout() {
        let value = serde_json::json!({"a": [1, 2]});
        let mut out = Vec::new();
        to_writer_pretty(&mut out, &value).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string_pretty(&value).unwrap()
        );
    }

    #[test]
    fn markdown_autolinks_and_strikethrough_are_neutralised() {
        assert_eq!(
            markdown_inline("see https://evil.example/x"),
            "see https&#58;//evil.example/x"
        );
        assert_eq!(markdown_inline("WWW.evil.example"), "WWW&#46;evil.example");
        assert_eq!(
            markdown_inline("a@b.example ~~gone~~"),
            "a&#64;b.example \\~\\~gone\\~\\~"
        );
    }
}

/// Every writer, fed a report whose DNS data and findings carry terminal
/// and bidi controls, writes none of them raw.
#[cfg(test)]
mod writers {
    use mailwarden_model::dns::{Answer, Proof, QueryKey, RData, RType};
    use mailwarden_model::{Finding, Observation, Outcome};
    use mailwarden_policy::Catalogue;
    use mailwarden_policy::frameworks::Frameworks;

    use super::{MESSAGE_CAP, is_unsafe};
    use crate::DomainReport;

    const HOSTILE: &str = "v=spf1 \u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}]8;;https://evil.example\u{1b}\\x\0 \u{202e}lla-";

    fn report() -> DomainReport {
        let mut observation = Observation::new(format!("hostile.example{}", '\u{202e}'));
        let key = QueryKey::new("hostile.example", RType::Txt);
        let txt = RData::Txt {
            strings: vec![HOSTILE.to_string()],
        };
        let answer = Answer::with_records(vec![txt], Proof::Indeterminate);
        observation.dns.insert(key, answer);
        let mut finding = Finding::new("spf.syntax", Outcome::Fail, HOSTILE, format!("bad: {HOSTILE}"));
        finding.evidence.insert("record".into(), HOSTILE.into());
        finding.remediation = Some(format!("fix {HOSTILE}"));
        DomainReport::new(vec![finding], observation)
    }

    fn assert_inert(format: &str, out: &[u8]) {
        let text = String::from_utf8_lossy(out);
        let bad: Vec<char> = text
            .chars()
            .filter(|&c| is_unsafe(c) && c != '\n' && c != '\r')
            .collect();
        assert!(bad.is_empty(), "{format}: raw {bad:?} in\n{text}");
    }

    #[test]
    fn no_writer_copies_control_or_bidi_characters_from_outside() {
        let (catalogue, frameworks) = (Catalogue::builtin(), Frameworks::builtin());
        let r = report();
        for verbose in [false, true] {
            let mut out = Vec::new();
            let style = crate::text::TextStyle {
                color: false,
                verbose,
                ..Default::default()
            };
            crate::text::write_domain(&mut out, &r, catalogue, style).unwrap();
            assert_inert("text", &out);
            assert!(String::from_utf8_lossy(&out).contains("\\x1b]0;pwned\\x07"));
        }
        use crate::sink::{Format, SinkContext, open};
        let formats = [
            ("json", Format::Json { evidence: true }),
            ("jsonl", Format::Jsonl { evidence: true }),
            ("csv", Format::Csv),
            ("csv summary", Format::CsvSummary),
            ("sarif", Format::Sarif),
            ("html", Format::Html),
            ("markdown", Format::Markdown),
        ];
        for (name, format) in formats {
            let mut out = Vec::new();
            let cx = SinkContext {
                catalogue,
                frameworks,
                tool_version: "test",
                trust_anchor: None,
                zone_reader: None,
            };
            let mut sink = open(format, &mut out, cx).unwrap();
            sink.push(&r).unwrap();
            sink.finish().unwrap();
            assert_inert(name, &out);
        }
    }

    #[test]
    fn reports_cap_every_message_and_remediation() {
        let mut r = report();
        let long = "x".repeat(10 * MESSAGE_CAP);
        let mut f = Finding::new("spf.syntax", Outcome::Fail, "s", long.clone());
        f.remediation = Some(long);
        r = DomainReport::new(vec![f], r.observation);
        for text in [&r.findings[0].message, r.findings[0].remediation.as_ref().unwrap()] {
            assert!(text.len() < MESSAGE_CAP + 40, "{}", text.len());
            assert!(text.ends_with(&format!("… ({} bytes more)", 9 * MESSAGE_CAP)));
        }
    }

    #[test]
    fn colour_codes_are_ours_only() {
        let mut out = Vec::new();
        let style = crate::text::TextStyle {
            color: true,
            verbose: true,
            ..Default::default()
        };
        crate::text::write_domain(&mut out, &report(), Catalogue::builtin(), style).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\u{1b}[1m"), "our bold is kept: {text}");
        for c in text.split('\u{1b}').skip(1) {
            assert!(
                c.starts_with('[') && c[1..].starts_with(|c: char| c.is_ascii_digit()),
                "{c:?}"
            );
            assert!(!c.starts_with("[2J"), "{c:?}");
        }
    }
}

//! The published SPF record itself: the TXT strings as received, the
//! legacy type 99, version, several records, and the string-level checks
//! (length, splits inside terms) of RFC 7208 §3.

use super::*;
use crate::rule;

/// One TXT record as received.
#[derive(Debug, Clone, Serialize)]
pub(super) struct RawRecord {
    /// The character-strings, in presentation form.
    pub(super) strings: Vec<String>,
    /// The joined text.
    pub(super) text: String,
    #[serde(skip)]
    pub(super) bytes: Vec<u8>,
}

impl RawRecord {
    pub(super) fn from_rdata(record: &RData) -> Option<Self> {
        let RData::Txt { strings } = record else { return None };
        let bytes = record.txt_bytes()?;
        Some(Self {
            strings: strings.clone(),
            text: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        })
    }
}

/// The TXT records at the domain, sorted into SPF and SPF look-alikes.
pub(super) struct Published {
    pub(super) spf: Vec<RawRecord>,
    pub(super) lookalikes: Vec<RawRecord>,
}

impl Published {
    pub(super) fn from_answer(answer: &Answer) -> Self {
        let all: Vec<RawRecord> = answer.records.iter().filter_map(RawRecord::from_rdata).collect();
        let spf = all.iter().filter(|r| spf::is_spf_record(&r.bytes)).cloned().collect();
        let lookalikes = all.into_iter().filter(|r| spf::looks_like_spf(&r.bytes)).collect();
        Self { spf, lookalikes }
    }
}

/// RFC 7208 §3.1: "SPF records MUST be published as a DNS TXT (type 16)
/// Resource Record (RR) [RFC1035] only."
pub(super) fn type99(domain: &str, view: &DnsView<'_>) -> RawFinding {
    let answer = view.get(domain, RType::Spf);
    if !answer.status.is_definite() {
        return RawFinding::new(
            rule::SPF_TYPE99,
            Outcome::Indeterminate,
            domain,
            format!(
                "Could not tell whether {domain} publishes the obsolete SPF RR type: the lookup did not succeed ({}).",
                answer.status.describe()
            ),
        );
    }
    let records: Vec<&Vec<String>> = answer
        .records
        .iter()
        .filter_map(|r| match r {
            RData::Spf { strings } => Some(strings),
            _ => None,
        })
        .collect();
    if records.is_empty() {
        return RawFinding::new(
            rule::SPF_TYPE99,
            Outcome::Pass,
            domain,
            "No record of the obsolete SPF RR type (99) is published.",
        );
    }
    RawFinding::new(
        rule::SPF_TYPE99,
        Outcome::Fail,
        domain,
        format!(
            "{domain} publishes {} record(s) of the obsolete SPF RR type (99); receivers only read TXT.",
            records.len()
        ),
    )
    .evidence("type99_records", &records)
    .remediation(format!(
        "Delete the type-99 SPF records at {domain} and keep the policy in a single TXT record."
    ))
}

/// RFC 7208 §4.5: "Records that do not begin with a version section of
/// exactly 'v=spf1' are discarded."
pub(super) fn version(domain: &str, published: &Published) -> Option<RawFinding> {
    if !published.lookalikes.is_empty() {
        let texts: Vec<&str> = published.lookalikes.iter().map(|r| r.text.as_str()).collect();
        let fixed = published
            .lookalikes
            .first()
            .map(|r| fix_version(&r.text))
            .unwrap_or_default();
        let finding = RawFinding::new(
            rule::SPF_VERSION,
            Outcome::Fail,
            domain,
            format!(
                "{} TXT record(s) look like SPF but do not start with exactly \"v=spf1\" and a space, so receivers ignore them: {}",
                texts.len(),
                texts.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ")
            ),
        )
        .evidence("records", &published.lookalikes)
        .remediation(format!("{domain}. IN TXT \"{fixed}\""));
        return Some(finding);
    }
    (!published.spf.is_empty()).then(|| {
        RawFinding::new(
            rule::SPF_VERSION,
            Outcome::Pass,
            domain,
            "The SPF record starts with the exact version \"v=spf1\".",
        )
    })
}

/// Replace a malformed version token with `v=spf1`.
pub(super) fn fix_version(text: &str) -> String {
    let trimmed = text.trim_start();
    let rest = trimmed.split_once(' ').map_or("", |(_, r)| r);
    if rest.is_empty() {
        "v=spf1 -all".to_string()
    } else {
        format!("v=spf1 {rest}")
    }
}

/// RFC 7208 §4.5: "If the resultant record set includes no records,
/// check_host() produces the 'none' result."
pub(super) fn missing(domain: &str, published: &Published) -> RawFinding {
    RawFinding::new(
        rule::SPF_MISSING,
        Outcome::Fail,
        domain,
        format!("{domain} publishes no SPF record: receivers get \"none\" and anyone can use the domain in MAIL FROM."),
    )
    .evidence("spf_lookalikes", &published.lookalikes)
    .remediation(format!(
        "If {domain} sends no mail: {domain}. IN TXT \"v=spf1 -all\". Otherwise list the senders, e.g. {domain}. IN TXT \"v=spf1 mx -all\"."
    ))
}

/// RFC 7208 §4.5: "If the resultant record set includes more than one
/// record, check_host() produces the 'permerror' result."
pub(super) fn multiple(domain: &str, records: &[RawRecord]) -> RawFinding {
    RawFinding::new(
        rule::SPF_MULTIPLE_RECORDS,
        Outcome::Fail,
        domain,
        format!(
            "{domain} publishes {} SPF records; every receiver returns permerror.",
            records.len()
        ),
    )
    .evidence("records", records)
    .remediation(format!(
        "Merge them into one record: {domain}. IN TXT \"{}\"",
        merge_records(records)
    ))
}

/// A starting point for merging several records: every mechanism except
/// `all` once, then the strictest `all` found.
pub(super) fn merge_records(records: &[RawRecord]) -> String {
    let mut terms: Vec<String> = Vec::new();
    let mut strictest: Option<Qualifier> = None;
    for record in records {
        let parsed = spf::parse(&record.bytes);
        for d in parsed.record.directives() {
            if d.mechanism == Mechanism::All {
                let rank = |q: Qualifier| {
                    [
                        Qualifier::Fail,
                        Qualifier::SoftFail,
                        Qualifier::Neutral,
                        Qualifier::Pass,
                    ]
                    .iter()
                    .position(|x| *x == q)
                };
                if strictest.is_none_or(|s| rank(d.qualifier) < rank(s)) {
                    strictest = Some(d.qualifier);
                }
            } else if !terms.contains(&d.text) {
                terms.push(d.text.clone());
            }
        }
    }
    let all = match strictest.unwrap_or(Qualifier::Fail) {
        Qualifier::Pass => "+all",
        Qualifier::Fail => "-all",
        Qualifier::SoftFail => "~all",
        Qualifier::Neutral => "?all",
    };
    std::iter::once("v=spf1".to_string())
        .chain(terms)
        .chain([all.to_string()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// RFC 7208 §3.3: "a single 'TXT' record can be composed of more than one
/// string"; RFC 1035 caps each at 255 octets. §3.4: keep the record under
/// 450 octets.
pub(super) fn raw_string_checks(domain: &str, record: &RawRecord) -> Vec<RawFinding> {
    let lengths: Vec<usize> = record
        .strings
        .iter()
        .map(|s| mailwarden_model::dns::unescape_presentation(s).len())
        .collect();
    let mut out = Vec::new();
    let too_long = lengths.iter().any(|&n| n > MAX_STRING_OCTETS);
    let strings_finding = if too_long {
        RawFinding::new(
            rule::SPF_STRING_TOO_LONG,
            Outcome::Fail,
            domain,
            format!("A character-string of the SPF record is longer than {MAX_STRING_OCTETS} octets ({lengths:?}); it cannot be served in DNS as written."),
        )
        .remediation(format!("{domain}. IN TXT {}", quoted_chunks(&record.text)))
    } else {
        RawFinding::new(
            rule::SPF_STRING_TOO_LONG,
            Outcome::Pass,
            domain,
            format!("Every character-string is at most {MAX_STRING_OCTETS} octets."),
        )
    };
    out.push(
        strings_finding
            .evidence("string_lengths", &lengths)
            .evidence("strings", &record.strings),
    );

    let splits = splits_inside_terms(&record.strings);
    let split_finding = if splits.is_empty() {
        RawFinding::new(
            rule::SPF_STRING_SPLIT,
            Outcome::Pass,
            domain,
            "No character-string boundary falls inside a term.",
        )
    } else {
        RawFinding::new(
            rule::SPF_STRING_SPLIT,
            Outcome::Fail,
            domain,
            format!(
                "The SPF record's strings are split inside a term at octet(s) {splits:?}. Receivers join strings without adding spaces (RFC 7208 §3.3), so this is valid, but check that no space was meant there: \"{}\"",
                record.text
            ),
        )
        .evidence("strings", &record.strings)
        .evidence("split_offsets", &splits)
    };
    out.push(split_finding);

    let size = record.bytes.len();
    let size_finding = if size > MAX_RECORD_OCTETS {
        RawFinding::new(
            rule::SPF_RECORD_TOO_LONG,
            Outcome::Fail,
            domain,
            format!(
                "The SPF record is {size} octets, over the {MAX_RECORD_OCTETS} RFC 7208 §3.4 advises; answers may not fit in a UDP packet."
            ),
        )
    } else {
        RawFinding::new(
            rule::SPF_RECORD_TOO_LONG,
            Outcome::Pass,
            domain,
            format!("The SPF record is {size} octets (at most {MAX_RECORD_OCTETS})."),
        )
    };
    out.push(size_finding.evidence("octets", size));
    out
}

/// Offsets in the joined record where one string ends and the next starts
/// with no space on either side.
pub(super) fn splits_inside_terms(strings: &[String]) -> Vec<usize> {
    let parts: Vec<Vec<u8>> = strings
        .iter()
        .map(|s| mailwarden_model::dns::unescape_presentation(s))
        .collect();
    let mut offset = 0;
    let mut out = Vec::new();
    for pair in parts.windows(2) {
        offset += pair[0].len();
        let (Some(&end), Some(&start)) = (pair[0].last(), pair[1].first()) else {
            continue;
        };
        if end != b' ' && start != b' ' {
            out.push(offset);
        }
    }
    out
}

/// The record as quoted character-strings of at most 255 octets, split
/// after spaces where possible.
pub(super) fn quoted_chunks(text: &str) -> String {
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_inclusive(' ') {
        if current.len() + word.len() > MAX_STRING_OCTETS && !current.is_empty() {
            chunks.push(std::mem::take(&mut current));
        }
        current.push_str(word);
        while current.len() > MAX_STRING_OCTETS {
            let rest = current.split_off(MAX_STRING_OCTETS);
            chunks.push(std::mem::replace(&mut current, rest));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(" ")
}

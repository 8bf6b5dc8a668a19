//! A snapshot's findings as stored in its row: one compressed list of
//! `[rule id, subject, outcome, severity, message]`, ordered by rule id and
//! subject as they are read back. One value instead of a row per finding:
//! the 157 rows of a full audit, their index entries and their 942 bound
//! parameters were most of what a new snapshot cost SQLite, and 60% of the
//! database's size (perf, bench/monitor-lab.sh).
//!
//! Two encodings are read. Up to session 12 the list was JSON (its first
//! byte `[`); since then it is length-prefixed fields after a version byte
//! ([`BINARY`]): escaping the findings' messages as JSON strings was 0.5%
//! of a monitoring round where every scan stored a new snapshot, a third
//! of what packing them cost (perf, bench/monitor-lab.sh).

use mailwarden_model::Finding;

use crate::codec;
use crate::snapshot::StoredFinding;

/// The first byte of the binary encoding (never the first byte of JSON).
const BINARY: u8 = 1;

/// `findings`, sorted by rule id and subject, encoded and compressed
/// ([`codec`]).
pub(crate) fn pack(findings: &[Finding]) -> Result<Vec<u8>, String> {
    let mut rows: Vec<[&str; 5]> = findings
        .iter()
        .map(|f| [&f.id, &f.subject, f.outcome.as_str(), f.severity.as_str(), &f.message])
        .collect();
    rows.sort_by(|a, b| (a[0], a[1]).cmp(&(b[0], b[1])));
    let size: usize = rows.iter().flatten().map(|s| s.len() + 4).sum();
    let mut out = Vec::with_capacity(size + 1);
    out.push(BINARY);
    for field in rows.iter().flatten() {
        let len = u32::try_from(field.len()).map_err(|_| "a finding's field is over 4 GiB".to_string())?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    codec::compress(&out)
}

/// A stored findings list back, in either encoding.
pub(crate) fn unpack(blob: &[u8]) -> Result<Vec<StoredFinding>, String> {
    let data = codec::decompress(blob, codec::READ_LIMIT)?;
    match data.first() {
        Some(b'[') => {
            let rows: Vec<[String; 5]> =
                serde_json::from_slice(&data).map_err(|e| format!("not a findings list: {e}"))?;
            Ok(rows.into_iter().map(stored).collect())
        }
        Some(&BINARY) => binary(&data[1..]),
        Some(other) => Err(format!(
            "findings stored in an unknown encoding (first byte {other}): written by a newer mailwarden?"
        )),
        None => Err("an empty findings list (not even its encoding byte)".into()),
    }
}

fn binary(mut data: &[u8]) -> Result<Vec<StoredFinding>, String> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let mut row: [String; 5] = Default::default();
        for (i, field) in row.iter_mut().enumerate() {
            let (text, rest) = field_of(data).ok_or_else(|| {
                format!(
                    "findings list cut short or damaged in field {i} of finding {}",
                    out.len() + 1
                )
            })?;
            *field = text.to_string();
            data = rest;
        }
        out.push(stored(row));
    }
    Ok(out)
}

/// One length-prefixed UTF-8 field and what follows it.
fn field_of(data: &[u8]) -> Option<(&str, &[u8])> {
    let (len, rest) = data.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    let (text, rest) = rest.split_at_checked(len)?;
    Some((std::str::from_utf8(text).ok()?, rest))
}

fn stored([rule_id, subject, outcome, severity, message]: [String; 5]) -> StoredFinding {
    StoredFinding {
        rule_id,
        subject,
        outcome,
        severity,
        message,
    }
}

#[cfg(test)]
mod tests {
    use mailwarden_model::{Outcome, Severity};

    use super::*;

    fn finding(id: &str, subject: &str, outcome: Outcome, message: &str) -> Finding {
        let mut f = Finding::new(id, outcome, subject, message);
        f.severity = Severity::High;
        f
    }

    fn sample() -> Vec<Finding> {
        vec![
            finding(
                "spf.syntax",
                "example.com",
                Outcome::Pass,
                "quote \" backslash \\ NUL \u{0} é",
            ),
            finding("dmarc.policy", "example.com", Outcome::Fail, ""),
            finding("dmarc.policy", "a.example.com", Outcome::Indeterminate, "timed out"),
        ]
    }

    #[test]
    fn findings_round_trip_sorted_by_rule_and_subject() {
        let back = unpack(&pack(&sample()).unwrap()).unwrap();
        let keys: Vec<(&str, &str)> = back.iter().map(|f| (f.rule_id.as_str(), f.subject.as_str())).collect();
        assert_eq!(
            keys,
            [
                ("dmarc.policy", "a.example.com"),
                ("dmarc.policy", "example.com"),
                ("spf.syntax", "example.com")
            ]
        );
        assert_eq!(back[2].message, "quote \" backslash \\ NUL \u{0} é");
        assert_eq!((back[1].outcome.as_str(), back[1].severity.as_str()), ("fail", "high"));
        assert!(unpack(&pack(&[]).unwrap()).unwrap().is_empty());
    }

    /// Snapshots stored before the binary encoding keep reading.
    #[test]
    fn findings_packed_as_json_by_earlier_versions_still_read() {
        let json = br#"[["spf.syntax","example.com","pass","high","ok \"quoted\""]]"#;
        let back = unpack(&codec::deflate_as_before(json)).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].message, "ok \"quoted\"");
        assert_eq!(unpack(&codec::deflate_as_before(b"[]")).unwrap(), Vec::new());
    }

    #[test]
    fn a_damaged_or_unknown_findings_list_is_an_error_that_says_where() {
        let mut data = vec![BINARY];
        data.extend_from_slice(&3u32.to_le_bytes());
        data.extend_from_slice(b"spf");
        data.extend_from_slice(&99u32.to_le_bytes());
        let err = unpack(&codec::compress(&data).unwrap()).unwrap_err();
        assert!(err.contains("field 1 of finding 1"), "{err}");
        let err = unpack(&codec::compress(&[7, 0]).unwrap()).unwrap_err();
        assert!(err.contains("unknown encoding"), "{err}");
        assert!(unpack(&codec::compress(b"").unwrap()).is_err());
        assert!(unpack(b"\xff not lz4").is_err());
        assert!(unpack(b"\x07 not deflate").is_err());
    }
}

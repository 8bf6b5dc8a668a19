//! What changed between two states ([`crate::state::State`]): items whose
//! value differs and findings whose outcome differs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::state::{Key, State};

/// One changed item. `before` is null when nothing was known before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub before: Value,
    pub after: Value,
    /// A remark, e.g. whether the MTA-STS id was bumped with the policy.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

/// One finding whose outcome changed. `before` is null for a new finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingChange {
    pub id: String,
    pub subject: String,
    pub before: Option<String>,
    pub after: String,
}

/// The changes from `a` to `b`; `domain` finds the MTA-STS TXT record.
pub fn changes(a: &State, b: &State, domain: &str) -> Vec<Change> {
    let mut out = Vec::new();
    for (key, after) in &b.items {
        let before = a.items.get(key);
        // Nothing known before and nothing there now is no news (a name
        // asked for the first time, e.g. a new MX host's AAAA).
        if before == Some(after) || (before.is_none() && crate::state::is_absent(after)) {
            continue;
        }
        let (rtype, name) = key.clone();
        let note = (rtype == "MTA-STS").then(|| sts_id_note(a, b, domain));
        out.push(Change {
            name,
            rtype,
            before: before.cloned().unwrap_or(Value::Null),
            after: after.clone(),
            note,
        });
    }
    out
}

/// The findings whose outcome differs from `a` to `b`.
pub fn finding_changes(a: &State, b: &State) -> Vec<FindingChange> {
    b.findings
        .iter()
        .filter(|(k, o)| a.findings.get(*k) != Some(*o))
        // A finding seen for the first time is news only when it fails.
        .filter(|(k, o)| a.findings.contains_key(*k) || o.as_str() == "fail")
        .map(|((id, subject), after)| FindingChange {
            id: id.clone(),
            subject: subject.clone(),
            before: a.findings.get(&(id.clone(), subject.clone())).cloned(),
            after: after.clone(),
        })
        .collect()
}

/// RFC 8461 §3.1: "id: A short string used to track policy updates. This
/// string MUST uniquely identify a given instance of a policy, such that
/// senders can determine when the policy has been updated by comparing to
/// the "id" of a previously seen policy."
fn sts_id_note(a: &State, b: &State, domain: &str) -> String {
    let key: Key = ("TXT".into(), format!("_mta-sts.{}.", domain.trim_end_matches('.')));
    let id = |s: &State| s.items.get(&key).and_then(sts_id);
    match (id(a), id(b)) {
        (Some(x), Some(y)) if x != y => format!("MTA-STS id bumped: {x} -> {y}"),
        (Some(x), Some(_)) => {
            format!("MTA-STS id NOT bumped ({x}): senders that cached the old policy keep using it (RFC 8461 §3.1)")
        }
        (None, Some(y)) => format!("MTA-STS id {y}"),
        _ => "MTA-STS TXT record not seen".into(),
    }
}

/// The `id=` of an MTA-STS TXT record value (a list of presentation strings).
fn sts_id(records: &Value) -> Option<String> {
    records.as_array()?.iter().filter_map(Value::as_str).find_map(|r| {
        let text: String = r.split('"').skip(1).step_by(2).collect();
        let text = if text.is_empty() { r.to_string() } else { text };
        text.starts_with("v=STSv1").then(|| {
            text.split(';')
                .filter_map(|kv| kv.trim().strip_prefix("id="))
                .map(|v| v.trim().to_string())
                .next()
        })?
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::state::{FindingView, Seen};

    fn key(t: &str, n: &str) -> Key {
        (t.into(), n.into())
    }

    fn step(prev: &State, items: &[(&str, &str, Seen)], count: i64) -> State {
        let seen: BTreeMap<Key, Seen> = items.iter().map(|(t, n, s)| (key(t, n), s.clone())).collect();
        prev.advance(seen, &[], count)
    }

    #[test]
    fn a_changed_record_is_a_change_with_before_and_after() {
        let a = step(&State::default(), &[("MX", "x.", Seen::Value(json!(["10 a."])))], 1);
        let b = step(&a, &[("MX", "x.", Seen::Value(json!(["10 b."])))], 1);
        let c = changes(&a, &b, "x");
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].before.clone(), c[0].after.clone()),
            (json!(["10 a."]), json!(["10 b."]))
        );
        assert_eq!((c[0].rtype.as_str(), c[0].name.as_str()), ("MX", "x."));
    }

    #[test]
    fn a_timeout_is_no_change() {
        let a = step(&State::default(), &[("MX", "x.", Seen::Value(json!(["10 a."])))], 1);
        let b = step(&a, &[("MX", "x.", Seen::Unknown)], 1);
        assert!(changes(&a, &b, "x").is_empty());
        assert_eq!(a.digest(), b.digest());
    }

    #[test]
    fn a_removal_counts_only_after_two_consecutive_scans_saw_it() {
        let a = step(
            &State::default(),
            &[("TXT", "x.", Seen::Value(json!(["\"v=spf1 -all\""])))],
            1,
        );
        let gone = Seen::Absent(json!("NXDOMAIN"));
        // Seen gone once: pending, no change.
        let b = step(&a, &[("TXT", "x.", gone.clone())], 1);
        assert!(changes(&a, &b, "x").is_empty());
        assert!(b.pending_removals.contains(&key("TXT", "x.")));
        // The same snapshot seen again: confirmed.
        let b2 = step(&a, &[("TXT", "x.", gone.clone())], 2);
        assert_eq!(changes(&a, &b2, "x")[0].after, json!("NXDOMAIN"));
        // Or the next snapshot (different elsewhere) sees it gone too.
        let c = step(
            &b,
            &[("TXT", "x.", gone.clone()), ("MX", "x.", Seen::Value(json!([])))],
            1,
        );
        let removal: Vec<_> = changes(&b, &c, "x").into_iter().filter(|c| c.rtype == "TXT").collect();
        assert_eq!(removal[0].before, json!(["\"v=spf1 -all\""]));
        // Gone once, then back: never a change.
        let back = step(&b, &[("TXT", "x.", Seen::Value(json!(["\"v=spf1 -all\""])))], 1);
        assert!(changes(&a, &back, "x").is_empty());
    }

    #[test]
    fn indeterminate_findings_keep_the_previous_outcome() {
        let f = |o: &'static str| FindingView {
            rule_id: "spf.present",
            subject: "x",
            outcome: o,
            severity: "high",
        };
        let a = State::default().advance(BTreeMap::new(), &[f("pass")], 1);
        let b = a.advance(BTreeMap::new(), &[f("indeterminate")], 1);
        assert!(finding_changes(&a, &b).is_empty());
        let c = b.advance(BTreeMap::new(), &[f("fail")], 1);
        let fc = finding_changes(&b, &c);
        assert_eq!((fc[0].before.as_deref(), fc[0].after.as_str()), (Some("pass"), "fail"));
    }

    #[test]
    fn an_mta_sts_policy_change_says_whether_the_id_was_bumped() {
        let txt = |id: &str| Seen::Value(json!([format!("\"v=STSv1; id={id}\"")]));
        let pol = |mode: &str| Seen::Value(json!({"policy": ["version: STSv1", format!("mode: {mode}")]}));
        let url = "https://mta-sts.x/.well-known/mta-sts.txt";
        let a = step(
            &State::default(),
            &[("TXT", "_mta-sts.x.", txt("1")), ("MTA-STS", url, pol("testing"))],
            1,
        );
        let same_id = step(&a, &[("MTA-STS", url, pol("enforce"))], 1);
        let note = changes(&a, &same_id, "x")[0].note.clone().unwrap();
        assert!(note.contains("NOT bumped (1)"), "{note}");
        let bumped = step(
            &a,
            &[("TXT", "_mta-sts.x.", txt("2")), ("MTA-STS", url, pol("enforce"))],
            1,
        );
        let c = changes(&a, &bumped, "x");
        let note = c.iter().find(|c| c.rtype == "MTA-STS").unwrap().note.clone().unwrap();
        assert_eq!(note, "MTA-STS id bumped: 1 -> 2");
    }
}

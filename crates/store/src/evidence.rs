//! Evidence for auditors (`mailwarden evidence DOMAIN`): what the store
//! holds about a domain over a period (findings, changes and who approved
//! them, alerts, profile verdicts), each item naming the audit events that
//! recorded it, and the `evidence-exported` event that anchors the bundle's
//! files in the log. The CLI writes the files; `audit_log::cite` adds the
//! signed checkpoint and the inclusion proofs.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::events::{Event, list_events};
use crate::outbox::list_alerts;
use crate::{EventKind, Store, StoreError, append_event, baseline, clock, timeline};

/// The period an export covers: `since` inclusive, `until` exclusive, both
/// as the store writes times (so text order is time order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Period {
    pub since: Option<String>,
    pub until: Option<String>,
}

/// A `--since` / `--until` that is not a period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodBoundError {
    /// `flag` is `--since` or `--until`.
    #[error("{flag} {text:?}: expected a date (2026-12-01) or an RFC 3339 time (2026-12-01T08:00:00Z)")]
    NotATime { flag: &'static str, text: String },
    #[error("--since {since} is not before --until {until}: the period is empty")]
    Empty { since: String, until: String },
}

impl Period {
    /// From `--since` / `--until`: a date (`2026-12-01`; `--until` then
    /// covers that whole day) or an RFC 3339 time (`--until` inclusive).
    pub fn parse(since: Option<&str>, until: Option<&str>) -> Result<Self, PeriodBoundError> {
        let from = since.map(|s| bound(s, "--since", false)).transpose()?;
        let to = until.map(|u| bound(u, "--until", true)).transpose()?;
        if let (Some(s), Some(u)) = (&from, &to)
            && s >= u
        {
            return Err(PeriodBoundError::Empty {
                since: since.unwrap_or_default().trim().into(),
                until: until.unwrap_or_default().trim().into(),
            });
        }
        Ok(Self {
            since: from.map(clock::stamp),
            until: to.map(clock::stamp),
        })
    }

    /// Whether a stored time falls in the period.
    pub fn contains(&self, at: &str) -> bool {
        self.since.as_deref().is_none_or(|s| at >= s) && self.until.as_deref().is_none_or(|u| at < u)
    }

    /// Whether a stretch `[first, last]` overlaps the period.
    fn overlaps(&self, first: &str, last: &str) -> bool {
        self.since.as_deref().is_none_or(|s| last >= s) && self.until.as_deref().is_none_or(|u| first < u)
    }
}

/// A period bound; an upper bound is made exclusive (the next day after a
/// date, the next millisecond after a time).
fn bound(text: &str, flag: &'static str, upper: bool) -> Result<OffsetDateTime, PeriodBoundError> {
    let text = text.trim();
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(date) = time::Date::parse(text, date_format) {
        let start = date.midnight().assume_utc();
        return Ok(if upper { start + time::Duration::days(1) } else { start });
    }
    let at = clock::parse(text).ok_or_else(|| PeriodBoundError::NotATime {
        flag,
        text: text.into(),
    })?;
    Ok(if upper {
        at + time::Duration::milliseconds(1)
    } else {
        at
    })
}

/// What an export holds, before it is written.
#[derive(Debug, Clone, Serialize)]
pub struct Collected {
    pub domain: String,
    pub period: Period,
    /// `findings.json`: each snapshot in force during the period (from its
    /// first sighting until the next snapshot), with its findings.
    pub findings: Vec<Value>,
    /// `changes.json`: changes found in the period and the approvals.
    pub changes: Value,
    /// `alerts.json`: alerts queued in the period, their delivery state.
    pub alerts: Vec<Value>,
    /// `verdicts.json`: profile verdicts and scores per snapshot.
    pub verdicts: Vec<Value>,
    /// Every audit event about the domain in the period (its `seq`s).
    pub cited: Vec<u64>,
}

/// The audit events of the period, by what they recorded.
#[derive(Default)]
struct EventIndex {
    /// (kind, the id its content names) -> seqs.
    by_subject: BTreeMap<(String, i64), Vec<u64>>,
    cited: Vec<u64>,
}

impl EventIndex {
    fn new(events: &[Event], period: &Period) -> Self {
        let mut index = Self::default();
        for e in events.iter().filter(|e| period.contains(&e.at)) {
            let seq = u64::try_from(e.seq).unwrap_or(0);
            index.cited.push(seq);
            let content: Value = e
                .content
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .unwrap_or(Value::Null);
            if let Some(id) = subject_key(&e.kind).and_then(|k| content[k].as_i64()) {
                index.by_subject.entry((e.kind.clone(), id)).or_default().push(seq);
            }
        }
        index
    }

    fn seqs(&self, kind: EventKind, id: i64) -> Vec<u64> {
        self.by_subject
            .get(&(kind.as_str().to_owned(), id))
            .cloned()
            .unwrap_or_default()
    }

    fn seq(&self, kind: EventKind, id: i64) -> Option<u64> {
        self.seqs(kind, id).first().copied()
    }
}

/// The content key naming what an event of `kind` is about (see ingest.rs,
/// baseline.rs and alert_delivery.rs for what they write).
fn subject_key(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "snapshot-stored" | "change-detected" => "snapshot",
        "baseline-approved" => "baseline",
        "alert-queued" => "alert",
        "alert-sent" | "alert-failed" => "alert_id",
        _ => return None,
    })
}

/// Collects what the store holds about `domain` over `period`.
pub async fn collect(store: &Store, domain: &str, period: Period) -> Result<Collected, StoreError> {
    let events = list_events(store, Some(domain)).await?;
    let index = EventIndex::new(&events, &period);
    let steps = timeline::read(store, domain).await?;
    let approvals = baseline::list(store, domain).await?;
    let mut findings = Vec::new();
    let mut verdicts = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let m = &step.snapshot;
        // A snapshot is the domain's state until the next one replaces it;
        // the latest is in force still.
        let in_force_until = steps
            .get(i + 1)
            .map_or("9999", |next| next.snapshot.first_seen_at.as_str());
        if !period.overlaps(&m.first_seen_at, in_force_until) {
            continue;
        }
        let audit_seq = index.seq(EventKind::SnapshotStored, m.id);
        findings.push(json!({
            "snapshot": m.id, "first_seen_at": m.first_seen_at, "last_seen_at": m.last_seen_at,
            "seen_count": m.seen_count, "fingerprint": m.fingerprint, "score": m.score,
            "scanner_version": m.scanner_version, "catalogue_version": m.catalogue_version,
            "findings": snapshot_findings(store, m.id).await?, "audit_seq": audit_seq,
        }));
        let profiles: Value = serde_json::from_str(&m.profiles).unwrap_or(Value::Null);
        verdicts.push(json!({
            "snapshot": m.id, "first_seen_at": m.first_seen_at, "last_seen_at": m.last_seen_at,
            "score": m.score, "verdicts": crate::snapshot::verdicts_of(&profiles)
                .into_iter().map(|(p, v)| json!({"profile": p, "verdict": v})).collect::<Vec<_>>(),
            "profiles": profiles, "audit_seq": audit_seq,
        }));
    }
    let changes = steps
        .iter()
        .skip(1)
        .filter(|s| period.contains(&s.snapshot.first_seen_at))
        .filter(|s| !s.changes.is_empty() || !s.findings.is_empty())
        .map(|s| {
            // Approved by the first baseline at or after the snapshot that
            // showed the change (a later approval covers the state it had).
            let approval = approvals.iter().find(|a| a.snapshot_id >= s.snapshot.id);
            json!({
                "snapshot": s.snapshot.id, "at": s.snapshot.first_seen_at,
                "changes": s.changes, "findings": s.findings,
                "approved_by_baseline": approval.map(|a| json!({
                    "baseline": a.id, "by": a.approved_by, "at": a.approved_at, "reason": a.reason,
                })),
                "audit_seq": index.seq(EventKind::ChangeDetected, s.snapshot.id),
            })
        })
        .collect::<Vec<_>>();
    let baselines = approvals
        .iter()
        .filter(|a| period.contains(&a.approved_at))
        .map(|a| {
            json!({
                "baseline": a.id, "snapshot": a.snapshot_id, "approved_at": a.approved_at,
                "approved_by": a.approved_by, "reason": a.reason,
                "audit_seq": index.seq(EventKind::BaselineApproved, a.id),
            })
        })
        .collect::<Vec<_>>();
    let alerts = list_alerts(store, Some(domain))
        .await?
        .into_iter()
        .filter(|a| period.contains(&a.created_at))
        .map(|a| {
            let mut delivery = index.seqs(EventKind::AlertSent, a.id);
            delivery.extend(index.seqs(EventKind::AlertFailed, a.id));
            json!({
                "alert": a.id, "created_at": a.created_at, "trigger": a.trigger, "severity": a.severity,
                "summary": a.summary, "state": a.state, "attempts": a.attempts, "last_error": a.last_error,
                "idempotency_key": a.idempotency_key,
                "audit_seq": index.seq(EventKind::AlertQueued, a.id), "delivery_audit_seqs": delivery,
            })
        })
        .collect();
    Ok(Collected {
        domain: domain.to_owned(),
        period,
        findings,
        changes: json!({ "changes": changes, "baselines": baselines }),
        alerts,
        verdicts,
        cited: index.cited,
    })
}

/// The findings of one snapshot, as stored.
async fn snapshot_findings(store: &Store, snapshot: i64) -> Result<Vec<crate::snapshot::StoredFinding>, StoreError> {
    let mut conn = store.pool().acquire().await?;
    crate::snapshot::findings_of(&mut conn, snapshot).await
}

/// Appends the `evidence-exported` event: the domain, the period, the
/// SHA-256 of every data file and the events cited. Its content digest is
/// in the log, so the files are anchored in the signed tree. Returns its seq.
pub async fn record_export(
    store: &Store,
    collected: &Collected,
    files: &BTreeMap<String, String>,
) -> Result<u64, StoreError> {
    let mut tx = store.begin().await?;
    let seq = append_event(
        &mut tx,
        EventKind::EvidenceExported,
        Some(&collected.domain),
        &json!({
            "domain": collected.domain, "since": collected.period.since, "until": collected.period.until,
            "files_sha256": files, "cited": collected.cited,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(u64::try_from(seq).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_covers_its_whole_day_and_a_time_is_exact() {
        let p = Period::parse(Some("2026-12-01"), Some("2026-12-02")).unwrap();
        assert_eq!(p.since.as_deref(), Some("2026-12-01T00:00:00.000Z"));
        assert_eq!(p.until.as_deref(), Some("2026-12-03T00:00:00.000Z"));
        assert!(p.contains("2026-12-02T23:59:59.999Z"));
        assert!(!p.contains("2026-11-30T23:59:59.999Z") && !p.contains("2026-12-03T00:00:00.000Z"));
        let p = Period::parse(Some("2026-12-01T08:00:00Z"), Some("2026-12-01T09:00:00Z")).unwrap();
        assert!(p.contains("2026-12-01T09:00:00.000Z") && !p.contains("2026-12-01T09:00:00.001Z"));
        assert!(!p.contains("2026-12-01T07:59:59.999Z"));
    }

    #[test]
    fn bad_or_empty_periods_say_what_is_wrong() {
        assert!(
            Period::parse(Some("yesterday"), None)
                .unwrap_err()
                .to_string()
                .contains("--since \"yesterday\"")
        );
        assert!(
            Period::parse(Some("2026-12-02"), Some("2026-12-01"))
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        assert!(Period::parse(None, None).unwrap().contains("1970-01-01T00:00:00.000Z"));
    }

    #[test]
    fn a_stretch_overlaps_when_any_part_is_inside() {
        let p = Period::parse(Some("2026-12-02"), Some("2026-12-02")).unwrap();
        assert!(p.overlaps("2026-12-01T00:00:00.000Z", "2026-12-02T01:00:00.000Z"));
        assert!(!p.overlaps("2026-12-01T00:00:00.000Z", "2026-12-01T23:00:00.000Z"));
        assert!(!p.overlaps("2026-12-03T00:00:00.000Z", "2026-12-04T00:00:00.000Z"));
    }
}

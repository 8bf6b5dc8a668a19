//! Storing a monitored scan: the snapshot (or seen-again mark), its audit
//! events, the change it shows, and the alerts it triggers, all in one
//! transaction, so a crash at any point loses neither a scan nor an alert.

use serde_json::json;

use crate::audit_log::Appender;
use crate::diff::changes;
use crate::monitor::MoveOn;
use crate::outbox::{NewAlert, Trigger};
use crate::snapshot::{self, ScanInput, Stored, verdicts_of};
use crate::timeline::{Step, judged_on};
use crate::{EventKind, Store, StoreError, Tx, append_event, baseline, clock, queue_alert};

/// When the triggers fire.
#[derive(Debug, Clone)]
pub struct AlertPolicy {
    /// A newly failing finding alerts at or above this severity.
    pub min_severity: mailwarden_model::Severity,
    /// An MX certificate alerts this many days before it expires.
    pub certificate_days: i64,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            min_severity: mailwarden_model::Severity::High,
            certificate_days: 14,
        }
    }
}

/// What storing one scan did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub stored: Stored,
    /// Changes from the previous state.
    pub changes: usize,
    /// Outbox ids of the alerts queued (new rows only).
    pub alerts: Vec<i64>,
}

/// Store `scan`, detect changes and queue alerts; `next_due_at` moves the
/// domain's monitor on in the same transaction.
pub async fn ingest(
    store: &Store,
    scan: &ScanInput,
    policy: &AlertPolicy,
    next_due_at: Option<&str>,
) -> Result<Ingested, StoreError> {
    let mut tx = store.begin().await?;
    let move_on = next_due_at.map(|next_due_at| MoveOn {
        next_due_at,
        released_at: None,
    });
    let mut log = Appender::default();
    let done = ingest_in(&mut tx, &mut log, scan, None, policy, None).await?;
    if let Some(m) = move_on {
        crate::monitor::move_on_in(&mut tx, &scan.observation.domain, m).await?;
    }
    log.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(done)
}

/// A finished scan of a monitored domain, as `monitor run` stores it.
#[derive(Debug, Clone)]
pub struct Finished {
    pub scan: ScanInput,
    /// When the domain's monitor is next due.
    pub next_due_at: String,
    /// `scan`'s fingerprint ([`ScanInput::fingerprint`]), if the caller
    /// computed it where the scan finished (`monitor run` does, beside
    /// the scan, so its writer only compares).
    pub fingerprint: Option<String>,
}

/// Store several finished scans of monitored domains in ONE transaction
/// (group commit), each as [`ingest`] would, and end this process's claim
/// on each domain in it. One commit for many scans: on PostgreSQL each
/// commit waits for its WAL flush, on SQLite each is a write-lock round and
/// a WAL append. Crash safety is the same as one transaction per scan: a
/// scan counts as stored only once its transaction committed, and its
/// monitor's next due time moves in that same transaction, so a scan lost
/// to a crash is scanned again on restart, and its alerts are never lost
/// (they are queued in the transaction that stores it).
///
/// If anything in the batch fails, the batch is rolled back and each scan
/// is stored alone, so one bad scan costs only its own result.
pub async fn ingest_batch(
    store: &Store,
    scans: &[Finished],
    policy: &AlertPolicy,
) -> Vec<Result<Ingested, StoreError>> {
    if scans.len() > 1
        && let Ok(done) = try_batch(store, scans, policy).await
    {
        return done.into_iter().map(Ok).collect();
    }
    let mut out = Vec::with_capacity(scans.len());
    for f in scans {
        out.push(
            try_batch(store, std::slice::from_ref(f), policy)
                .await
                .map(|mut d| d.remove(0)),
        );
    }
    out
}

async fn try_batch(store: &Store, scans: &[Finished], policy: &AlertPolicy) -> Result<Vec<Ingested>, StoreError> {
    let mut tx = store.begin().await?;
    // The claims end at the database's time (other machines compare it),
    // read once for the batch rather than once per scan.
    let released_at = clock::stamp(crate::jobs_claim::db_now(&mut tx).await?);
    // The audit log's append state, read once for the batch.
    let mut log = Appender::default();
    let mut done = Vec::with_capacity(scans.len());
    // Each domain's latest snapshot and baseline, read for the batch. A
    // domain's entry serves its first scan only: a later scan of it in the
    // batch compares with what the first one stored.
    let domains: Vec<&str> = scans.iter().map(|f| f.scan.observation.domain.as_str()).collect();
    let mut known = snapshot::latest_and_baselines(&mut tx, &domains).await?;
    for f in scans {
        let read = known.remove(&f.scan.observation.domain);
        done.push(ingest_in(&mut tx, &mut log, &f.scan, f.fingerprint.as_deref(), policy, read).await?);
    }
    // Every monitor of the batch moves on in one statement.
    let moves: Vec<(&str, &str)> = scans
        .iter()
        .map(|f| (f.scan.observation.domain.as_str(), f.next_due_at.as_str()))
        .collect();
    crate::monitor::move_on_many(&mut tx, &moves, &released_at).await?;
    log.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(done)
}

/// The domain's latest snapshot and current approved baseline.
type LatestAndBaseline = (Option<snapshot::Latest>, Option<baseline::Baseline>);

/// [`ingest`] inside the caller's transaction, its events appended through
/// `log`; the caller moves the domain's monitor on. `read`: the domain's
/// latest snapshot and baseline, if the caller read them in this
/// transaction (and stored nothing for the domain since); `fingerprint`:
/// the scan's, if the caller computed it.
async fn ingest_in(
    tx: &mut Tx<'_>,
    log: &mut Appender,
    scan: &ScanInput,
    fingerprint: Option<&str>,
    policy: &AlertPolicy,
    read: Option<LatestAndBaseline>,
) -> Result<Ingested, StoreError> {
    let domain = scan.observation.domain.clone();
    // With it the approved baseline, read once: what the timeline starts
    // from, the unapproved-change trigger, and whether there is anything
    // to compare.
    let (latest, approved) = match read {
        Some(read) => read,
        None => snapshot::latest_and_baseline(tx, &domain).await?,
    };
    let fingerprints = scan.fingerprints_given(latest.as_ref().map(|l| l.fingerprint.as_str()), fingerprint);
    let fingerprint = fingerprints.current.as_str();
    let approved_id = approved.as_ref().map(|b| b.snapshot_id);
    let (stored, settled, steps) = match latest {
        Some(l) if fingerprints.matches(&l.fingerprint) => (snapshot::seen_again(tx, &l, scan).await?, l.settled, None),
        latest => {
            let previous = latest.map(|l| l.id);
            let (id, steps) = store_new(tx, scan, fingerprint, previous, approved_id).await?;
            log.append(
                tx,
                EventKind::SnapshotStored.as_str(),
                Some(&domain),
                &json!({
                    "snapshot": id, "previous": previous, "fingerprint": fingerprint,
                    "score": scan.score, "scanner_version": scan.scanner_version,
                    "catalogue_version": scan.catalogue_version,
                }),
            )
            .await?;
            (Stored::New { id, previous }, false, Some(steps))
        }
    };
    if unchanged_with_nothing_to_compare(stored, settled, scan, approved.is_some()) {
        return Ok(Ingested {
            stored,
            changes: 0,
            alerts: Vec::new(),
        });
    }
    // A seen-again scan's state, where it must be computed (the second
    // sighting may confirm a removal), comes from the scan in memory: it
    // has the snapshot's fingerprint, which covers everything the state is
    // made of (records, statuses, probes, finding outcomes and severities;
    // state.rs).
    let steps = match steps {
        Some(steps) => steps,
        None => {
            let steps = steps_for(tx, &domain, stored, scan, approved_id).await?;
            crate::timeline::save_computed(tx, &steps).await?;
            steps
        }
    };
    let mut alerts = Vec::new();
    let mut change_count = 0;
    if let Some(last) = steps.last() {
        let found = match stored {
            // The first snapshot is where the record starts, not a change.
            Stored::New { previous: None, .. } => Vec::new(),
            _ => changes(&before_state(&steps, stored), &last.state, &domain),
        };
        change_count = found.len();
        if !found.is_empty() {
            log.append(
                tx,
                EventKind::ChangeDetected.as_str(),
                Some(&domain),
                &json!({ "snapshot": last.snapshot.id, "changes": found }),
            )
            .await?;
        }
        for alert in triggers(approved.as_ref(), &steps, stored, policy) {
            if let Some(id) = queue_new(tx, log, &alert).await? {
                alerts.push(id);
            }
        }
    }
    Ok(Ingested {
        stored,
        changes: change_count,
        alerts,
    })
}

/// Whether this scan is an unchanged sighting that can confirm nothing,
/// with neither an approved baseline to compare with nor a TLS certificate
/// counting down: its state is the cached one, no change and no alert can
/// come of it, so the timeline is not read. That is every sighting after
/// the second, and the second too when the cached state awaits no removal
/// (`settled`: only a removal seen once waits for a second sighting).
/// Most scans of a monitored domain are these; the timeline's state
/// parsing was half of what they cost the store, and on the second
/// sighting of 2,000 domains it was 4% of the whole run's CPU (perf,
/// bench/monitor-lab.sh).
fn unchanged_with_nothing_to_compare(stored: Stored, settled: bool, scan: &ScanInput, has_baseline: bool) -> bool {
    let Stored::SeenAgain { seen_count, .. } = stored else {
        return false;
    };
    let certificates = scan.observation.probes.smtp.values().any(|p| p.tls.is_some());
    (seen_count > 2 || (seen_count == 2 && settled)) && !certificates && !has_baseline
}

/// Store `scan` (fingerprint `fp`) as a new snapshot after `previous`,
/// with its state and changes in its INSERT (computed first, from the scan
/// in memory); its id and the steps it is judged on (see [`steps_for`]).
async fn store_new(
    tx: &mut Tx<'_>,
    scan: &ScanInput,
    fp: &str,
    previous: Option<i64>,
    approved: Option<i64>,
) -> Result<(i64, Vec<Step>), StoreError> {
    let meta = snapshot::provisional_meta(scan, fp)?;
    let fresh = (snapshot::PROVISIONAL_ID, scan);
    let domain = scan.observation.domain.as_str();
    let mut steps = match since(previous, approved) {
        // The domain's first snapshot: there is no timeline to read.
        None => crate::timeline::first_step(tx, domain, meta, fresh).await?,
        since => judged_on(tx, domain, since, Some(meta), fresh).await?,
    };
    let Some((last, earlier)) = steps.split_last_mut() else {
        return Err(StoreError::Corrupt("the timeline lost the new snapshot".into()));
    };
    // Earlier states the timeline had to compute (not cached yet).
    crate::timeline::save_computed(tx, earlier).await?;
    let id = snapshot::insert(tx, scan, &last.snapshot, Some(crate::timeline::cached(last)?)).await?;
    last.snapshot.id = id;
    Ok((id, steps))
}

/// Where the timeline a scan is judged on starts: the older of the
/// previous snapshot and the approved one.
fn since(previous: Option<i64>, approved: Option<i64>) -> Option<i64> {
    match (previous, approved) {
        (Some(p), Some(a)) => Some(p.min(a)),
        (p, a) => p.or(a),
    }
}

/// The timeline a stored scan is judged on: from the snapshot before it
/// (or the approved one, if older) to its own, or the whole timeline when
/// that start's state is not cached.
async fn steps_for(
    tx: &mut Tx<'_>,
    domain: &str,
    stored: Stored,
    scan: &ScanInput,
    approved: Option<i64>,
) -> Result<Vec<Step>, StoreError> {
    let previous = match stored {
        Stored::New { previous, .. } => previous,
        Stored::SeenAgain { id, .. } => crate::snapshot::previous_id(tx, domain, id).await?,
    };
    judged_on(tx, domain, since(previous, approved), None, (stored.id(), scan)).await
}

/// The state this scan is compared with: the previous snapshot's for a new
/// one; for a seen-again mark, the same snapshot as it stood before (the
/// second sighting may confirm a removal).
fn before_state(steps: &[Step], stored: Stored) -> crate::state::State {
    let last = &steps[steps.len() - 1];
    match stored {
        Stored::SeenAgain { seen_count: 2, .. } => last.first_state.clone().unwrap_or_else(|| last.state.clone()),
        Stored::SeenAgain { .. } => last.state.clone(),
        Stored::New { .. } => steps
            .len()
            .checked_sub(2)
            .map(|i| steps[i].state.clone())
            .unwrap_or_default(),
    }
}

/// Queue an alert unless its condition is already queued; the new id.
async fn queue_new(tx: &mut Tx<'_>, log: &mut Appender, alert: &NewAlert) -> Result<Option<i64>, StoreError> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM alert_outbox WHERE idempotency_key = $1")
        .bind(alert.idempotency_key())
        .fetch_optional(&mut **tx)
        .await?;
    if exists.is_some() {
        return Ok(None);
    }
    let id = queue_alert(tx, alert).await?;
    log.append(
        tx,
        EventKind::AlertQueued.as_str(),
        Some(&alert.domain),
        &json!({ "alert": id, "trigger": alert.trigger.as_str(), "severity": alert.severity, "summary": alert.summary }),
    )
    .await?;
    Ok(Some(id))
}

/// The alerts the latest step sets off.
fn triggers(
    approved: Option<&baseline::Baseline>,
    steps: &[Step],
    stored: Stored,
    policy: &AlertPolicy,
) -> Vec<NewAlert> {
    let last = &steps[steps.len() - 1];
    let domain = last.snapshot.domain.clone();
    let sid = last.snapshot.id;
    let alert = |trigger, severity: &str, summary: String, details, condition: String| NewAlert {
        domain: domain.clone(),
        trigger,
        severity: severity.into(),
        summary,
        snapshot_id: Some(sid),
        details,
        condition,
    };
    let mut out = Vec::new();
    // An unapproved change: any difference from the approved state.
    if let Some(base) = approved
        && let Some(approved) = steps.iter().find(|s| s.snapshot.id == base.snapshot_id)
    {
        let diff = changes(&approved.state, &last.state, &domain);
        if !diff.is_empty() {
            let what: Vec<String> = diff.iter().take(3).map(|c| format!("{} {}", c.rtype, c.name)).collect();
            out.push(alert(
                Trigger::UnapprovedChange,
                "high",
                format!(
                    "{domain}: {} unapproved change(s) since baseline {} ({}{})",
                    diff.len(),
                    base.id,
                    what.join(", "),
                    if diff.len() > 3 { ", ..." } else { "" }
                ),
                json!({ "baseline": base.id, "baseline_snapshot": base.snapshot_id, "changes": diff }),
                format!("baseline {} state {}", base.id, last.state.digest()),
            ));
        }
    }
    let Stored::New { previous: Some(_), .. } = stored else {
        // The first snapshot (or a re-scan) has nothing newer to compare;
        // certificates still count down.
        out.extend(expiring(last, policy, &domain, sid));
        return out;
    };
    let prev = &steps[steps.len() - 2];
    for (id, subject, severity) in &last.failing {
        let was_failing = prev
            .state
            .findings
            .get(&(id.clone(), subject.clone()))
            .map(String::as_str)
            == Some("fail");
        let severe = mailwarden_model::Severity::parse(severity).is_some_and(|s| s >= policy.min_severity);
        if !was_failing && severe {
            out.push(alert(
                Trigger::NewFailingFinding,
                severity,
                format!("{domain}: {id} now fails for {subject}"),
                json!({ "finding": id, "subject": subject }),
                format!("{id} {subject} failing since snapshot {sid}"),
            ));
        }
    }
    let before = verdicts_of(&serde_json::from_str(&prev.snapshot.profiles).unwrap_or_default());
    for (profile, verdict) in verdicts_of(&serde_json::from_str(&last.snapshot.profiles).unwrap_or_default()) {
        let was_met = before.iter().any(|(p, v)| *p == profile && v == "met");
        if verdict == "not-met" && was_met {
            out.push(alert(
                Trigger::ProfileNotMet,
                "high",
                format!("{domain}: profile {profile} is no longer met"),
                json!({ "profile": profile }),
                format!("profile {profile} not met since snapshot {sid}"),
            ));
        }
    }
    if let (Some(a), Some(b)) = (prev.snapshot.score, last.snapshot.score)
        && b < a
    {
        out.push(alert(
            Trigger::ScoreDrop,
            "medium",
            format!("{domain}: score dropped from {a} to {b}"),
            json!({ "from": a, "to": b }),
            format!("score {a} to {b} at snapshot {sid}"),
        ));
    }
    out.extend(expiring(last, policy, &domain, sid));
    out
}

/// MX certificates expiring within the policy's days (one alert each).
fn expiring(last: &Step, policy: &AlertPolicy, domain: &str, sid: i64) -> Vec<NewAlert> {
    let horizon = time::OffsetDateTime::now_utc() + time::Duration::days(policy.certificate_days);
    let mut out = Vec::new();
    for ((kind, name), value) in &last.state.items {
        let cert = &value["certificate"];
        let (Some(not_after), Some(sha)) = (cert["not_after"].as_str(), cert["sha256"].as_str()) else {
            continue;
        };
        if kind != "SMTP" || clock::parse(not_after).is_none_or(|t| t > horizon) {
            continue;
        }
        out.push(NewAlert {
            domain: domain.into(),
            trigger: Trigger::CertificateExpiring,
            severity: "high".into(),
            summary: format!("{domain}: the certificate of {name} expires {not_after}"),
            snapshot_id: Some(sid),
            details: json!({ "server": name, "certificate": cert }),
            condition: format!("certificate {sha} expiring"),
        });
    }
    out
}

/// One `seen-again` event for a batch of unchanged re-scans (one per
/// `monitor run` cycle rather than one per scan, so an unchanged re-scan
/// of many domains adds one row to the log, not one per domain).
pub async fn seen_again(store: &Store, snapshots: &[i64]) -> Result<(), StoreError> {
    if snapshots.is_empty() {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    append_event(
        &mut tx,
        EventKind::SeenAgain,
        None,
        &json!({ "count": snapshots.len(), "snapshots": snapshots }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

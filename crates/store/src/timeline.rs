//! A domain's timeline: its snapshots in order, each with the state after
//! it ([`State`]) and what changed from the one before. `history` shows
//! it; `diff` compares two of its states; the alert triggers read it.

use mailwarden_model::Observation;
use serde::Serialize;
use sqlx::AnyConnection;

use crate::diff::{Change, FindingChange, changes, finding_changes};
use crate::snapshot::{self, ScanInput, SnapshotMeta};
use crate::state::{FindingView, State, seen_in};
use crate::{Store, StoreError};

/// One snapshot on the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub snapshot: SnapshotMeta,
    #[serde(skip)]
    pub state: State,
    /// The state before this snapshot's seen-again count confirmed a
    /// removal (`None`: the same as `state`); for alerts on a re-scan.
    #[serde(skip)]
    pub first_state: Option<State>,
    pub changes: Vec<Change>,
    pub findings: Vec<FindingChange>,
    /// Failing findings (rule id, subject, severity) of this snapshot
    /// (only when its state was computed, not read from the cache).
    #[serde(skip)]
    pub failing: Vec<(String, String, String)>,
    /// Whether the state was computed now (not cached yet).
    #[serde(skip)]
    pub computed: bool,
}

/// The timeline of `domain`, oldest first.
pub async fn timeline(conn: &mut AnyConnection, domain: &str) -> Result<Vec<Step>, StoreError> {
    let metas = snapshot::list(conn, domain).await?;
    walk(conn, metas, domain, None).await
}

/// The steps a stored scan is judged on: from snapshot `since` (the
/// previous or the approved one) on when the state after it is cached,
/// otherwise the whole timeline; reading every snapshot's state made
/// storing a scan of a domain with a year of history parse a year of
/// states. `pending` is a new snapshot not inserted yet (its
/// [`snapshot::provisional_meta`]), appended so that its INSERT can write
/// its state. `fresh` is the snapshot (stored or pending) whose scan is
/// still in memory: where its state must be computed, it is computed from
/// that scan rather than from the compressed Observation read back (the
/// same content: a seen-again scan has the snapshot's fingerprint).
pub(crate) async fn judged_on(
    conn: &mut AnyConnection,
    domain: &str,
    since: Option<i64>,
    pending: Option<SnapshotMeta>,
    fresh: (i64, &ScanInput),
) -> Result<Vec<Step>, StoreError> {
    let mut metas = match since {
        Some(since) => snapshot::list_since(conn, domain, since).await?,
        None => Vec::new(),
    };
    if metas.first().and_then(cached_state).is_none() {
        metas = snapshot::list(conn, domain).await?;
    }
    metas.extend(pending);
    walk(conn, metas, domain, Some(fresh)).await
}

/// The one step of a domain's first snapshot, `pending` (not inserted yet,
/// as [`judged_on`] takes it), whose scan `fresh` is in memory: no
/// snapshot is read (the domain has none yet).
pub(crate) async fn first_step(
    conn: &mut AnyConnection,
    domain: &str,
    pending: SnapshotMeta,
    fresh: (i64, &ScanInput),
) -> Result<Vec<Step>, StoreError> {
    walk(conn, vec![pending], domain, Some(fresh)).await
}

/// What a step's row caches: its state and its changes.
pub(crate) fn cached(step: &Step) -> Result<snapshot::Cached, StoreError> {
    let changes = serde_json::json!({ "changes": step.changes, "findings": step.findings });
    snapshot::Cached::of(&step.state, &changes)
}

fn cached_state(meta: &SnapshotMeta) -> Option<State> {
    snapshot::cached_state_json(meta)
        .and_then(|json| serde_json::from_slice(&json).ok())
        .and_then(|v| State::from_json(&v))
}

/// The steps of `metas` (in order, the first either the domain's first
/// snapshot or one with a cached state).
async fn walk(
    conn: &mut AnyConnection,
    metas: Vec<SnapshotMeta>,
    domain: &str,
    fresh: Option<(i64, &ScanInput)>,
) -> Result<Vec<Step>, StoreError> {
    let mut steps: Vec<Step> = Vec::with_capacity(metas.len());
    let start = State::default();
    for meta in metas {
        // The state before this snapshot: the last step's (not a copy).
        let before = steps.last().map_or(&start, |s| &s.state);
        let (first_state, next, failing, computed) = match cached_state(&meta) {
            Some(c) => (None, c, Vec::new(), false),
            None => {
                let (first, next, failing) = match fresh {
                    Some((id, scan)) if id == meta.id => {
                        advance(before, &meta, &scan.observation, &views(&scan.findings))
                    }
                    _ => compute(conn, before, &meta).await?,
                };
                (first, next, failing, true)
            }
        };
        // The first snapshot is where the record starts, not a change.
        let (changes, findings) = if steps.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            (changes(before, &next, domain), finding_changes(before, &next))
        };
        steps.push(Step {
            changes,
            findings,
            snapshot: meta,
            state: next,
            first_state,
            failing,
            computed,
        });
    }
    Ok(steps)
}

/// A snapshot's state as after one sighting (`None`: the same as after
/// all of them), as after all of them, and its failing findings (rule id,
/// subject, severity).
type Computed = (Option<State>, State, Vec<(String, String, String)>);

/// The state after `meta` from its stored Observation and findings (when
/// not cached).
async fn compute(conn: &mut AnyConnection, before: &State, meta: &SnapshotMeta) -> Result<Computed, StoreError> {
    let snap = snapshot::load(conn, meta.id).await?;
    Ok(advance(before, meta, &snap.observation, &views(&snap.findings)))
}

/// The state after `meta` from what it observed.
fn advance(before: &State, meta: &SnapshotMeta, observation: &Observation, findings: &[FindingView<'_>]) -> Computed {
    let seen = seen_in(observation);
    let (first_state, next) = if meta.seen_count >= 2 {
        let first = before.advance(seen.clone(), findings, 1);
        (Some(first), before.advance(seen, findings, meta.seen_count))
    } else {
        (None, before.advance(seen, findings, 1))
    };
    let failing = findings
        .iter()
        .filter(|f| f.outcome == "fail")
        .map(|f| (f.rule_id.to_string(), f.subject.to_string(), f.severity.to_string()))
        .collect();
    (first_state, next, failing)
}

/// Findings as the state reads them, ordered by rule id and subject as
/// [`snapshot::load`] reads them back (so the failing list's order does
/// not depend on where they came from).
fn views<'a, F>(findings: &'a [F]) -> Vec<FindingView<'a>>
where
    &'a F: Into<FindingView<'a>>,
{
    let mut out: Vec<FindingView<'a>> = findings.iter().map(Into::into).collect();
    out.sort_by(|a, b| (a.rule_id, a.subject).cmp(&(b.rule_id, b.subject)));
    out
}

/// Cache the states the timeline had to compute, with the changes at each.
pub async fn save_computed(conn: &mut AnyConnection, steps: &[Step]) -> Result<(), StoreError> {
    for s in steps.iter().filter(|s| s.computed) {
        let changes = serde_json::json!({ "changes": s.changes, "findings": s.findings });
        snapshot::save_state(conn, s.snapshot.id, &s.state, &changes).await?;
    }
    Ok(())
}

/// The timeline as `history` shows it (snapshots, changes, finding
/// transitions), from the changes cached with each snapshot: one query, no
/// state parsed, no Observation decompressed. Where a snapshot's changes are
/// not cached yet (or were cached before they were), the whole timeline is
/// computed once ([`read`]) and cached. The steps' states are left empty.
pub async fn read_history(store: &Store, domain: &str) -> Result<Vec<Step>, StoreError> {
    let rows = {
        let mut conn = store.pool().acquire().await?;
        snapshot::list_with_changes(&mut conn, domain).await?
    };
    let mut steps = Vec::with_capacity(rows.len());
    for (meta, changes) in rows {
        let cached: Option<CachedChanges> = changes.as_deref().and_then(|c| serde_json::from_str(c).ok());
        let Some(cached) = cached else {
            return read_and_cache_changes(store, domain).await;
        };
        steps.push(Step {
            snapshot: meta,
            state: State::default(),
            first_state: None,
            changes: cached.changes,
            findings: cached.findings,
            failing: Vec::new(),
            computed: false,
        });
    }
    Ok(steps)
}

/// The whole timeline ([`read`], which caches the states it computed), and
/// the changes of every step cached too (a database from before the
/// changes were cached has states without them).
async fn read_and_cache_changes(store: &Store, domain: &str) -> Result<Vec<Step>, StoreError> {
    let steps = read(store, domain).await?;
    let mut tx = store.begin().await?;
    for s in &steps {
        let changes = serde_json::json!({ "changes": s.changes, "findings": s.findings });
        sqlx::query(
            "UPDATE snapshots SET changes = $1 WHERE id = $2 AND (state IS NOT NULL OR state_packed IS NOT NULL)",
        )
        .bind(changes.to_string())
        .bind(s.snapshot.id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(steps)
}

/// The changes cached with a snapshot.
#[derive(serde::Deserialize)]
struct CachedChanges {
    changes: Vec<Change>,
    findings: Vec<FindingChange>,
}

/// The timeline, read from the pool.
/// States it had to compute are cached for the next reader (derived data,
/// written in a transaction of its own).
pub async fn read(store: &Store, domain: &str) -> Result<Vec<Step>, StoreError> {
    let steps = {
        let mut conn = store.pool().acquire().await?;
        timeline(&mut conn, domain).await?
    };
    if steps.iter().any(|s| s.computed) {
        let mut tx = store.begin().await?;
        save_computed(&mut tx, &steps).await?;
        tx.commit().await?;
    }
    Ok(steps)
}

/// What `diff` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub domain: String,
    pub from: i64,
    pub to: i64,
    pub changes: Vec<Change>,
    pub findings: Vec<FindingChange>,
}

/// The differences between snapshots `from` and `to` of `domain`
/// (default: the last two).
pub async fn diff(store: &Store, domain: &str, from: Option<i64>, to: Option<i64>) -> Result<Diff, StoreError> {
    let steps = read(store, domain).await?;
    if steps.is_empty() {
        return Err(StoreError::NotFound(format!("{domain}: no snapshot stored")));
    }
    let find = |id: i64, flag: &str| {
        steps.iter().position(|s| s.snapshot.id == id).ok_or_else(|| {
            let ids: Vec<String> = steps.iter().map(|s| s.snapshot.id.to_string()).collect();
            StoreError::NotFound(format!(
                "{flag} {id}: not a snapshot of {domain} (its snapshots: {})",
                ids.join(", ")
            ))
        })
    };
    let to_i = match to {
        Some(id) => find(id, "--to")?,
        None => steps.len() - 1,
    };
    let from_i = match from {
        Some(id) => find(id, "--from")?,
        None => to_i.saturating_sub(1),
    };
    let (a, b) = (&steps[from_i], &steps[to_i]);
    Ok(Diff {
        domain: domain.into(),
        from: a.snapshot.id,
        to: b.snapshot.id,
        changes: changes(&a.state, &b.state, domain),
        findings: finding_changes(&a.state, &b.state),
    })
}

//! Stored scans. A scan whose fingerprint equals the domain's latest
//! snapshot only moves that snapshot's `last_seen_at` and `seen_count`
//! (the "seen again" mark); any other scan is a new snapshot holding the
//! Observation (compressed JSON, codec.rs), the findings (one compressed list
//! in the snapshot's row: findings_pack.rs), the profile verdicts and scores, and the
//! scanner and rule-catalogue versions. Snapshots stored before migration
//! 0600 keep their findings as rows of the `findings` table; both are read.

use std::collections::HashMap;

use mailwarden_model::{Finding, Observation};
use serde::Serialize;
use sqlx::AnyConnection;
use time::OffsetDateTime;

use crate::fingerprint::{Fingerprints, fingerprint, is_sha256};
use crate::{StoreError, clock, codec};

/// One finished scan, as the scanner hands it over.
#[derive(Debug, Clone)]
pub struct ScanInput {
    pub observation: Observation,
    pub findings: Vec<Finding>,
    /// The scores (`mailwarden_policy::score::Scores` as JSON), if any.
    pub scores: Option<serde_json::Value>,
    /// The overall score.
    pub score: Option<i64>,
    /// The profile results (`ProfileResult` list as JSON).
    pub profiles: serde_json::Value,
    pub scanner_version: String,
    pub catalogue_version: String,
    /// When the scan finished.
    pub at: OffsetDateTime,
}

impl ScanInput {
    /// The scan with its findings cut to what the store keeps of them
    /// (rule id, subject, outcome, severity, message: findings_pack.rs):
    /// their evidence, titles, references and remedies are freed by the
    /// caller, while still in its cache. Freed later by the store's writer,
    /// with a batch of other scans, they cost the scans that went on
    /// allocating from that memory more than the writer's own work
    /// (issue 13: storing every scan of a lab round as a new snapshot cost
    /// 15.5% more CPU than `--no-store` while the store's own threads
    /// counted 9.8%; perf put a third more of the run's samples in the
    /// allocator's fast path. Cut in the scan's task: 9.5%, and an unchanged
    /// re-scan 8.7% → 3.4%; bench/monitor-lab.sh, four rounds).
    pub fn without_unstored(mut self) -> Self {
        for f in &mut self.findings {
            f.evidence = Default::default();
            f.title = String::new();
            f.reference = String::new();
            f.remediation = None;
            f.accepted = None;
        }
        self
    }

    /// (profile, verdict) pairs from the profile results.
    pub fn verdicts(&self) -> Vec<(String, String)> {
        verdicts_of(&self.profiles)
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&self.observation, &self.findings, &self.verdicts(), self.score)
    }

    /// The scan's fingerprints as compared with `stored`, the fingerprint of
    /// the domain's latest snapshot: with the SHA-256 one too when an
    /// earlier version made `stored` (fingerprint.rs).
    pub fn fingerprints_against(&self, stored: Option<&str>) -> Fingerprints {
        let with_sha256 = stored.is_some_and(is_sha256);
        Fingerprints::of(
            &self.observation,
            &self.findings,
            &self.verdicts(),
            self.score,
            with_sha256,
        )
    }

    /// [`ScanInput::fingerprints_against`], given the scan's fingerprint
    /// when the caller computed it ([`ScanInput::fingerprint`]): it is
    /// the whole answer unless `stored` was made with SHA-256.
    pub fn fingerprints_given(&self, stored: Option<&str>, fingerprint: Option<&str>) -> Fingerprints {
        match fingerprint {
            Some(current) if !stored.is_some_and(is_sha256) => Fingerprints {
                current: current.to_string(),
                sha256: None,
            },
            _ => self.fingerprints_against(stored),
        }
    }
}

/// (profile, verdict) pairs of a stored or new profile list.
pub fn verdicts_of(profiles: &serde_json::Value) -> Vec<(String, String)> {
    profiles
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|p| Some((p["profile"].as_str()?.to_string(), p["verdict"].as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// What storing a scan did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A new snapshot; `previous` is the domain's snapshot before it.
    New { id: i64, previous: Option<i64> },
    /// Unchanged: the latest snapshot was marked seen again.
    SeenAgain { id: i64, seen_count: i64 },
}

impl Stored {
    pub fn id(self) -> i64 {
        match self {
            Stored::New { id, .. } | Stored::SeenAgain { id, .. } => id,
        }
    }
}

/// A snapshot's row, without the Observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SnapshotMeta {
    pub id: i64,
    pub domain: String,
    pub fingerprint: String,
    pub first_seen_at: String,
    pub last_seen_at: String,
    pub seen_count: i64,
    pub scanner_version: String,
    pub catalogue_version: String,
    pub score: Option<i64>,
    pub profiles: String,
    /// The cached state after this snapshot as JSON text, if computed
    /// and cached before states were compressed (migration 0800).
    #[serde(skip)]
    pub state: Option<String>,
    /// The cached state after this snapshot, compressed (LZ4 of its JSON text),
    /// if computed: what is written now.
    #[serde(skip)]
    #[sqlx(default)]
    pub state_packed: Option<Vec<u8>>,
}

/// A finding as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StoredFinding {
    pub rule_id: String,
    pub subject: String,
    pub outcome: String,
    pub severity: String,
    pub message: String,
}

/// A snapshot with everything in it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub meta: SnapshotMeta,
    pub observation: Observation,
    pub findings: Vec<StoredFinding>,
}

const META_COLUMNS: &str = "id, domain, fingerprint, first_seen_at, last_seen_at, seen_count, scanner_version, catalogue_version, score, profiles, state, state_packed";

/// Store one scan (inside `conn`'s transaction), without its state
/// (computed when first read; `monitor run` stores through ingest.rs,
/// which writes it).
pub async fn record_scan(conn: &mut AnyConnection, scan: &ScanInput) -> Result<Stored, StoreError> {
    let latest = latest(conn, &scan.observation.domain).await?;
    let fingerprints = scan.fingerprints_against(latest.as_ref().map(|l| l.fingerprint.as_str()));
    match latest {
        Some(l) if fingerprints.matches(&l.fingerprint) => seen_again(conn, &l, scan).await,
        _ => Ok(Stored::New {
            id: insert(conn, scan, &provisional_meta(scan, &fingerprints.current)?, None).await?,
            previous: latest.map(|l| l.id),
        }),
    }
}

/// A domain's latest snapshot, as storing a scan compares with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    pub id: i64,
    pub fingerprint: String,
    /// Its cached state holds no removal seen once and awaiting its
    /// second sighting.
    pub settled: bool,
}

/// A snapshot row's `settled` (1 or 0): its cached state awaits no removal.
/// Rows cached before migration 0800 have it NULL and their state as text:
/// an unescaped `"` cannot occur inside a JSON string, so only the state's
/// own key matches. A row with no cached state is not settled.
const SETTLED: &str = r#"CASE WHEN settled = 1 THEN 1
    WHEN settled IS NULL AND state LIKE '%"pending\_removals":[]%' ESCAPE '\' THEN 1 ELSE 0 END"#;

/// The latest snapshot of `domain`, if any.
pub async fn latest(conn: &mut AnyConnection, domain: &str) -> Result<Option<Latest>, StoreError> {
    let sql = format!("SELECT id, fingerprint, {SETTLED} FROM snapshots WHERE domain = $1 ORDER BY id DESC LIMIT 1");
    let row: Option<(i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(domain)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|(id, fingerprint, settled)| Latest {
        id,
        fingerprint,
        settled: settled == 1,
    }))
}

/// The latest snapshot of `domain` and its current approved baseline:
/// [`latest_and_baselines`] of the one domain.
pub async fn latest_and_baseline(
    conn: &mut AnyConnection,
    domain: &str,
) -> Result<(Option<Latest>, Option<crate::baseline::Baseline>), StoreError> {
    Ok(latest_and_baselines(conn, &[domain])
        .await?
        .remove(domain)
        .unwrap_or_default())
}

/// The latest snapshot and the current approved baseline of each of
/// `domains`, in two statements for a batch of scans: storing a scan needs
/// both, and each statement sent to SQLite's worker thread cost about as
/// much CPU as writing a new snapshot's 21 KB row (bench/monitor-lab.sh:
/// SQLite's thread spent the same on an unchanged re-scan, which writes
/// almost nothing, as on a round of new snapshots). Every domain asked for
/// has an entry (`(None, None)` when it has neither).
pub async fn latest_and_baselines(
    conn: &mut AnyConnection,
    domains: &[&str],
) -> Result<HashMap<String, (Option<Latest>, Option<crate::baseline::Baseline>)>, StoreError> {
    let mut out: HashMap<String, (Option<Latest>, Option<crate::baseline::Baseline>)> =
        domains.iter().map(|d| (d.to_string(), (None, None))).collect();
    for chunk in domains.chunks(DOMAINS_PER_READ) {
        let list = (1..=chunk.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT id, domain, fingerprint, {SETTLED}
             FROM snapshots WHERE id IN (SELECT MAX(id) FROM snapshots WHERE domain IN ({list}) GROUP BY domain)"
        );
        let mut query = sqlx::query_as::<_, (i64, String, String, i64)>(sqlx::AssertSqlSafe(sql));
        for d in chunk {
            query = query.bind(*d);
        }
        for (id, domain, fingerprint, settled) in query.fetch_all(&mut *conn).await? {
            if let Some(entry) = out.get_mut(&domain) {
                entry.0 = Some(Latest {
                    id,
                    fingerprint,
                    settled: settled == 1,
                });
            }
        }
        let sql = format!(
            "SELECT id, domain, snapshot_id, approved_at, approved_by, reason FROM baselines
             WHERE id IN (SELECT MAX(id) FROM baselines WHERE domain IN ({list}) GROUP BY domain)"
        );
        let mut query = sqlx::query_as::<_, crate::baseline::Baseline>(sqlx::AssertSqlSafe(sql));
        for d in chunk {
            query = query.bind(*d);
        }
        for b in query.fetch_all(&mut *conn).await? {
            if let Some(entry) = out.get_mut(&b.domain) {
                entry.1 = Some(b);
            }
        }
    }
    Ok(out)
}

/// Domains per statement of [`latest_and_baselines`].
const DOMAINS_PER_READ: usize = 500;

/// Mark `latest` (whose fingerprint `scan` has) seen again.
pub(crate) async fn seen_again(
    conn: &mut AnyConnection,
    latest: &Latest,
    scan: &ScanInput,
) -> Result<Stored, StoreError> {
    // The second sighting may confirm a removal: the cached state is
    // recomputed then (timeline.rs), unless it awaits none; later
    // sightings change nothing. Rewriting a settled state would only
    // churn pages: the first unchanged re-scan of many domains grew
    // the database by their states' size.
    let seen_count: i64 = sqlx::query_scalar(
        "UPDATE snapshots SET last_seen_at = $1, seen_count = seen_count + 1,
             state = CASE WHEN seen_count = 1 AND $3 = 0 THEN NULL ELSE state END,
             state_packed = CASE WHEN seen_count = 1 AND $3 = 0 THEN NULL ELSE state_packed END,
             settled = CASE WHEN seen_count = 1 AND $3 = 0 THEN NULL ELSE settled END,
             changes = CASE WHEN seen_count = 1 AND $3 = 0 THEN NULL ELSE changes END
         WHERE id = $2 RETURNING seen_count",
    )
    .bind(clock::stamp(scan.at))
    .bind(latest.id)
    .bind(i64::from(latest.settled))
    .fetch_one(&mut *conn)
    .await?;
    Ok(Stored::SeenAgain {
        id: latest.id,
        seen_count,
    })
}

/// The id a new snapshot's [`SnapshotMeta`] has before it is inserted
/// ([`provisional_meta`]).
pub(crate) const PROVISIONAL_ID: i64 = i64::MAX;

/// The row a new snapshot of `scan` (fingerprint `fp`) will have, as
/// [`list`] would read it back, before it is inserted: its state can then
/// be computed first and written by the INSERT, where an UPDATE after it
/// made SQLite write the whole row (Observation, findings, state) twice.
pub(crate) fn provisional_meta(scan: &ScanInput, fp: &str) -> Result<SnapshotMeta, StoreError> {
    let at = clock::stamp(scan.at);
    Ok(SnapshotMeta {
        id: PROVISIONAL_ID,
        domain: scan.observation.domain.clone(),
        fingerprint: fp.to_string(),
        first_seen_at: at.clone(),
        last_seen_at: at,
        seen_count: 1,
        scanner_version: scan.scanner_version.clone(),
        catalogue_version: scan.catalogue_version.clone(),
        score: scan.score,
        profiles: serde_json::to_string(&scan.profiles)?,
        state: None,
        state_packed: None,
    })
}

/// What a snapshot's row caches once its state is computed.
pub(crate) struct Cached {
    /// The state after it, compressed.
    pub state: Vec<u8>,
    /// Whether that state awaits no removal (the row's `settled`).
    pub settled: bool,
    /// What changed at it (JSON: `{"changes": [...], "findings": [...]}`).
    pub changes: String,
}

impl Cached {
    pub(crate) fn of(state: &crate::state::State, changes: &serde_json::Value) -> Result<Self, StoreError> {
        Ok(Self {
            // Its JSON text, compressed: a full audit's state is about 12 KB
            // of text, half of a new snapshot's row before (migration 0800).
            state: codec::compress(state.to_text().as_bytes())
                .map_err(|e| StoreError::Corrupt(format!("compressing a state: {e}")))?,
            settled: state.pending_removals.is_empty(),
            changes: changes.to_string(),
        })
    }
}

/// The JSON of a row's cached state: decompressed, or the text rows cached
/// before held; `None` when neither is there or it does not decompress
/// (then it is computed again).
pub(crate) fn cached_state_json(meta: &SnapshotMeta) -> Option<std::borrow::Cow<'_, [u8]>> {
    match (&meta.state_packed, &meta.state) {
        (Some(packed), _) => codec::decompress(packed, codec::READ_LIMIT)
            .ok()
            .map(std::borrow::Cow::Owned),
        (None, Some(text)) => Some(std::borrow::Cow::Borrowed(text.as_bytes())),
        (None, None) => None,
    }
}

/// Insert a new snapshot of `scan` as `meta` ([`provisional_meta`]) has
/// it, with its state and changes when already computed.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    scan: &ScanInput,
    meta: &SnapshotMeta,
    cached: Option<Cached>,
) -> Result<i64, StoreError> {
    let (state, settled, changes) = match cached {
        Some(c) => (Some(c.state), Some(i64::from(c.settled)), Some(c.changes)),
        None => (None, None, None),
    };
    Ok(sqlx::query_scalar(
        "INSERT INTO snapshots (domain, fingerprint, first_seen_at, last_seen_at, seen_count, scanner_version,
                                catalogue_version, observation, score, scores, profiles, findings, findings_count,
                                state_packed, settled, changes, tenant_id)
         VALUES ($1, $2, $3, $3, 1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
             -- the domain's tenant (issue 16; one domain, one tenant)
             COALESCE((SELECT tenant_id FROM monitors WHERE domain = $1),
                      (SELECT MAX(tenant_id) FROM snapshots WHERE domain = $1), 1))
         RETURNING id",
    )
    .bind(&meta.domain)
    .bind(&meta.fingerprint)
    .bind(&meta.first_seen_at)
    .bind(&meta.scanner_version)
    .bind(&meta.catalogue_version)
    .bind(compress(&scan.observation)?)
    .bind(meta.score)
    .bind(scan.scores.as_ref().map(serde_json::to_string).transpose()?)
    .bind(&meta.profiles)
    .bind(
        crate::findings_pack::pack(&scan.findings)
            .map_err(|e| StoreError::Corrupt(format!("packing findings: {e}")))?,
    )
    .bind(i64::try_from(scan.findings.len()).unwrap_or(i64::MAX))
    .bind(state)
    .bind(settled)
    .bind(changes)
    .fetch_one(&mut *conn)
    .await?)
}

/// The findings of snapshot `id`, ordered by rule id and subject: from its
/// row, or from the `findings` table for a snapshot stored before they
/// moved into the row (or whose findings expired: then none).
pub async fn findings_of(conn: &mut AnyConnection, id: i64) -> Result<Vec<StoredFinding>, StoreError> {
    let packed: Option<Option<Vec<u8>>> = sqlx::query_scalar("SELECT findings FROM snapshots WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    findings_from(conn, id, packed.flatten()).await
}

/// The findings of snapshot `id` from its packed list, or from the rows of
/// the `findings` table where there is none.
async fn findings_from(
    conn: &mut AnyConnection,
    id: i64,
    packed: Option<Vec<u8>>,
) -> Result<Vec<StoredFinding>, StoreError> {
    if let Some(blob) = packed {
        return crate::findings_pack::unpack(&blob).map_err(|e| StoreError::Corrupt(format!("snapshot {id}: {e}")));
    }
    Ok(sqlx::query_as(
        "SELECT rule_id, subject, outcome, severity, message FROM findings WHERE snapshot_id = $1
         ORDER BY rule_id, subject",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The snapshots of `domain`, oldest first.
pub async fn list(conn: &mut AnyConnection, domain: &str) -> Result<Vec<SnapshotMeta>, StoreError> {
    let sql = format!("SELECT {META_COLUMNS} FROM snapshots WHERE domain = $1 ORDER BY id");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(domain)
        .fetch_all(&mut *conn)
        .await?)
}

/// The snapshots of `domain` from id `since` on, oldest first.
pub async fn list_since(conn: &mut AnyConnection, domain: &str, since: i64) -> Result<Vec<SnapshotMeta>, StoreError> {
    let sql = format!("SELECT {META_COLUMNS} FROM snapshots WHERE domain = $1 AND id >= $2 ORDER BY id");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(domain)
        .bind(since)
        .fetch_all(&mut *conn)
        .await?)
}

/// The id of the snapshot of `domain` before `id`, if any.
pub async fn previous_id(conn: &mut AnyConnection, domain: &str, id: i64) -> Result<Option<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM snapshots WHERE domain = $1 AND id < $2 ORDER BY id DESC LIMIT 1")
            .bind(domain)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// The snapshots of `domain`, oldest first, without their states, each
/// with its cached changes (`None` where not computed yet): what `history`
/// reads.
pub async fn list_with_changes(
    conn: &mut AnyConnection,
    domain: &str,
) -> Result<Vec<(SnapshotMeta, Option<String>)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        meta: SnapshotMeta,
        changes: Option<String>,
    }
    // `state` stays unread (NULL here): history needs only the changes.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, domain, fingerprint, first_seen_at, last_seen_at, seen_count, scanner_version,
                catalogue_version, score, profiles, CASE WHEN state IS NULL THEN NULL ELSE '' END AS state, changes
         FROM snapshots WHERE domain = $1 ORDER BY id",
    )
    .bind(domain)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut meta = r.meta;
            meta.state = None;
            (meta, r.changes)
        })
        .collect())
}

/// One snapshot whole.
pub async fn load(conn: &mut AnyConnection, id: i64) -> Result<Snapshot, StoreError> {
    let sql = format!("SELECT {META_COLUMNS} FROM snapshots WHERE id = $1");
    let meta: SnapshotMeta = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no snapshot {id}")))?;
    let (blob, packed): (Vec<u8>, Option<Vec<u8>>) =
        sqlx::query_as("SELECT observation, findings FROM snapshots WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
    let findings = findings_from(conn, id, packed).await?;
    Ok(Snapshot {
        observation: decompress(&blob).map_err(|e| StoreError::Corrupt(format!("snapshot {id}: {e}")))?,
        meta,
        findings,
    })
}

fn compress(observation: &Observation) -> Result<Vec<u8>, StoreError> {
    // LZ4 (codec): 8.5:1 on a full audit's Observation, at under half the
    // CPU of the fastest deflate (the store's cost is measured against the
    // scan's: issue 13). Room for a full audit's JSON (about 21 KB) from the start: grown
    // from serde_json's 128 bytes it was copied eight times on the way.
    let mut json = Vec::with_capacity(32 << 10);
    serde_json::to_writer(&mut json, observation)?;
    codec::compress(&json).map_err(|e| StoreError::Corrupt(format!("compressing an observation: {e}")))
}

fn decompress(blob: &[u8]) -> Result<Observation, String> {
    let json = codec::decompress(blob, codec::READ_LIMIT)?;
    serde_json::from_slice(&json).map_err(|e| format!("not an Observation: {e}"))
}

/// Cache the state after snapshot `id` and what changed at it (JSON:
/// `{"changes": [...], "findings": [...]}`).
pub async fn save_state(
    conn: &mut AnyConnection,
    id: i64,
    state: &crate::state::State,
    changes: &serde_json::Value,
) -> Result<(), StoreError> {
    let cached = Cached::of(state, changes)?;
    sqlx::query("UPDATE snapshots SET state = NULL, state_packed = $1, settled = $2, changes = $3 WHERE id = $4")
        .bind(cached.state)
        .bind(i64::from(cached.settled))
        .bind(cached.changes)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

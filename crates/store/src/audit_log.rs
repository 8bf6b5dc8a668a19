//! The audit events as an RFC 9162 verifiable log (issue 13): the append
//! behind [`crate::append_event`], reading the log back, `audit verify`,
//! `audit checkpoint`, inclusion proofs for evidence, and the erasure and
//! expiry of event contents that keep every proof valid.
//!
//! Appends are serialised by the caller's write transaction (SQLite: begun
//! IMMEDIATE by [`crate::Store::begin`]; PostgreSQL: the transaction-scoped
//! advisory lock taken in `append_event`), so the frontier read here is the
//! frontier of the last committed entry.

use std::time::{SystemTime, UNIX_EPOCH};

use mailwarden_audit::hash::to_hex;
use mailwarden_audit::{
    Checkpoint, CitedEvent, Frontier, Hash, NewEntry, PublicKey, SALT_LEN, StoredEntry, Tamper, Verified,
};

use crate::{Store, StoreError, Tx, audit_key, clock};

/// Appends one event; returns its `seq`.
pub(crate) async fn append(
    tx: &mut Tx<'_>,
    kind: &str,
    domain: Option<&str>,
    content: &serde_json::Value,
) -> Result<i64, StoreError> {
    let mut log = Appender::default();
    let seq = log.append(tx, kind, domain, content).await?;
    log.finish(tx).await?;
    Ok(seq)
}

/// Appends several events inside one transaction: the append state (the
/// frontier) is read and checked once, at the first append (a batch of
/// unchanged re-scans appends nothing and reads nothing), and written
/// once, at [`finish`]. Each append used to read it, count the log and
/// write it back: three statements of the nine a new snapshot cost SQLite
/// when `monitor run` stored a batch of scans (bench/monitor-lab.sh).
/// Every event is still its own entry with its own signed tree head; the
/// entries are inserted together at [`finish`] too, one statement for the
/// batch (a statement per event was one of the three a new snapshot cost
/// SQLite's worker thread; bench/monitor-lab.sh).
///
/// While one is open, the transaction must append through it alone (an
/// [`append`] beside it would read the frontier it has not written yet,
/// and fail the count check).
///
/// [`finish`]: Appender::finish
#[derive(Default)]
pub(crate) struct Appender {
    /// The append state, once read.
    open: Option<AppendState>,
    /// Entries appended, not inserted yet.
    rows: Vec<NewRow>,
}

/// An `audit_events` row, as [`Appender::finish`] inserts it.
struct NewRow {
    seq: i64,
    at: String,
    kind: String,
    domain: Option<String>,
    content: Option<String>,
    salt: Vec<u8>,
    domain_digest: Vec<u8>,
    content_digest: Vec<u8>,
    leaf_hash: Vec<u8>,
    head_timestamp: i64,
    head_signature: Vec<u8>,
}

struct AppendState {
    key: std::sync::Arc<mailwarden_audit::LogKey>,
    frontier: Frontier,
}

impl AppendState {
    /// The log's append state as `tx` sees it, checked against the entries
    /// stored. Appends are serialised by the caller's write transaction
    /// (SQLite: begun IMMEDIATE by [`crate::Store::begin`]) and, on
    /// PostgreSQL, by the transaction-scoped advisory lock taken here.
    async fn read(tx: &mut Tx<'_>) -> Result<Self, StoreError> {
        if crate::backend_of(tx) == crate::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7260041913)")
                .execute(&mut **tx)
                .await?;
        }
        let key = audit_key::signing_key()?;
        let frontier = read_frontier(tx).await?;
        let stored: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_events")
            .fetch_one(&mut **tx)
            .await?;
        if stored as u64 != frontier.size() {
            return Err(StoreError::Corrupt(format!(
                "the audit log holds {stored} entries but its append state says {}: run `mailwarden audit verify`",
                frontier.size()
            )));
        }
        Ok(AppendState { key, frontier })
    }
}

impl Appender {
    /// Appends one event; returns its `seq`.
    pub(crate) async fn append(
        &mut self,
        tx: &mut Tx<'_>,
        kind: &str,
        domain: Option<&str>,
        content: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let state = match &mut self.open {
            Some(state) => state,
            None => self.open.insert(AppendState::read(tx).await?),
        };
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| StoreError::Corrupt(format!("no randomness for an audit salt: {e}")))?;
        let at = clock::now();
        let entry = NewEntry {
            at: &at,
            kind,
            domain,
            content,
            salt,
        };
        let a = mailwarden_audit::append(&mut state.frontier, &state.key, &entry, now_ms());
        self.rows.push(NewRow {
            seq: a.seq as i64,
            at,
            kind: kind.to_string(),
            domain: domain.map(str::to_string),
            // A JSON null is stored as SQL NULL, like an erased content; the
            // leaf still commits to it.
            content: (!content.is_null()).then_some(a.content_text),
            salt: salt.to_vec(),
            domain_digest: a.domain_digest.to_vec(),
            content_digest: a.content_digest.to_vec(),
            leaf_hash: a.leaf_hash.to_vec(),
            head_timestamp: a.sth.head.timestamp_ms as i64,
            head_signature: a.sth.signature.to_vec(),
        });
        Ok(a.seq as i64)
    }

    /// Inserts the entries appended and writes the append state, if
    /// anything was appended.
    pub(crate) async fn finish(self, tx: &mut Tx<'_>) -> Result<(), StoreError> {
        let Some(state) = self.open else {
            return Ok(());
        };
        for rows in self.rows.chunks(ROWS_PER_INSERT) {
            insert_rows(tx, rows).await?;
        }
        write_frontier(tx, &state.frontier, &state.key.public()).await
    }
}

/// Rows per INSERT: 11 parameters each, well under SQLite's 32,766 and
/// PostgreSQL's 65,535.
const ROWS_PER_INSERT: usize = 256;

async fn insert_rows(tx: &mut Tx<'_>, rows: &[NewRow]) -> Result<(), StoreError> {
    let values: Vec<String> = (0..rows.len())
        .map(|i| {
            let p: Vec<String> = (1..=11).map(|j| format!("${}", 11 * i + j)).collect();
            format!("({})", p.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO audit_events (seq, at, kind, domain, content, salt, domain_digest, content_digest,
                                   leaf_hash, head_timestamp, head_signature)
         VALUES {}",
        values.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for r in rows {
        query = query
            .bind(r.seq)
            .bind(&r.at)
            .bind(&r.kind)
            .bind(r.domain.as_deref())
            .bind(r.content.as_deref())
            .bind(&r.salt)
            .bind(&r.domain_digest)
            .bind(&r.content_digest)
            .bind(&r.leaf_hash)
            .bind(r.head_timestamp)
            .bind(&r.head_signature);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn read_frontier(tx: &mut Tx<'_>) -> Result<Frontier, StoreError> {
    let row: Option<(i64, Vec<u8>)> = sqlx::query_as("SELECT size, frontier FROM audit_tree WHERE id = 1")
        .fetch_optional(&mut **tx)
        .await?;
    let Some((size, bytes)) = row else {
        return Ok(Frontier::default());
    };
    let peaks: Option<Vec<Hash>> = bytes.chunks(32).map(|c| <[u8; 32]>::try_from(c).ok()).collect();
    peaks
        .and_then(|p| Frontier::from_parts(size as u64, p))
        .ok_or_else(|| StoreError::Corrupt("the audit log's append state (table audit_tree) is damaged".into()))
}

async fn write_frontier(tx: &mut Tx<'_>, frontier: &Frontier, key: &PublicKey) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_tree (id, size, frontier, key_id) VALUES (1, $1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier, key_id = excluded.key_id",
    )
    .bind(frontier.size() as i64)
    .bind(frontier.peaks().concat())
    .bind(key.key_id())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    at: String,
    kind: String,
    domain: Option<String>,
    content: Option<String>,
    salt: Option<Vec<u8>>,
    domain_digest: Option<Vec<u8>>,
    content_digest: Option<Vec<u8>>,
    leaf_hash: Option<Vec<u8>>,
    head_timestamp: Option<i64>,
    head_signature: Option<Vec<u8>>,
}

impl From<Row> for StoredEntry {
    fn from(r: Row) -> Self {
        // Missing columns read as empty values: they then fail verification
        // like any other alteration, at their own entry.
        StoredEntry {
            seq: u64::try_from(r.seq).unwrap_or(0),
            at: r.at,
            kind: r.kind,
            domain: r.domain,
            content: r.content,
            salt: r.salt,
            domain_digest: r.domain_digest.unwrap_or_default(),
            content_digest: r.content_digest.unwrap_or_default(),
            leaf_hash: r.leaf_hash.unwrap_or_default(),
            head_timestamp_ms: r.head_timestamp.and_then(|t| u64::try_from(t).ok()).unwrap_or(0),
            head_signature: r.head_signature.unwrap_or_default(),
        }
    }
}

/// Every entry of the log, in `seq` order.
pub async fn read_entries(store: &Store) -> Result<Vec<StoredEntry>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, at, kind, domain, content, salt, domain_digest, content_digest, leaf_hash,
                head_timestamp, head_signature
         FROM audit_events ORDER BY seq",
    )
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(StoredEntry::from).collect())
}

/// The outcome of `audit verify`.
#[derive(Debug)]
pub struct Verification {
    /// Where the public key came from (key file path or "the checkpoint").
    pub key_source: String,
    /// The public key's id.
    pub key_id: String,
    /// The log verified, or the first problem.
    pub outcome: Result<Verified, Tamper>,
    /// With a checkpoint: the length of the RFC 9162 §2.1.4 consistency
    /// proof from the checkpoint's tree to the current one, which verified.
    pub consistency_proof: Option<usize>,
}

/// Verifies the whole log, and against `checkpoint` if given. The key is the
/// key file's; without one, the checkpoint's (an auditor's copy).
pub async fn verify(store: &Store, checkpoint: Option<&Checkpoint>) -> Result<Verification, StoreError> {
    let entries = read_entries(store).await?;
    let (key_source, key) = match (audit_key::public_key()?, checkpoint) {
        (Some((path, key)), _) => (path.display().to_string(), key),
        (None, Some(cp)) => ("the checkpoint".to_owned(), cp.public_key),
        (None, None) if entries.is_empty() => {
            return Ok(Verification {
                key_source: "none (the log is empty)".into(),
                key_id: String::new(),
                outcome: Ok(Verified {
                    size: 0,
                    root: mailwarden_audit::empty_root(),
                    latest: None,
                    contents_checked: 0,
                }),
                consistency_proof: None,
            });
        }
        (None, None) => {
            return Err(StoreError::NotFound(format!(
                "no audit key at {}: the log's signatures cannot be checked without the key that made them \
                 (--audit-key FILE, or --checkpoint FILE with its public key)",
                audit_key::key_path()?.display()
            )));
        }
    };
    let mut outcome = mailwarden_audit::verify(&entries, &key, checkpoint);
    let mut consistency_proof = None;
    if let (Ok(verified), Some(cp)) = (&outcome, checkpoint) {
        // Recomputing already matched the checkpoint's root; the proof is
        // what an auditor holding only the two heads would check.
        let first = cp.sth.head;
        let proof = mailwarden_audit::consistency_proof(&leaf_hashes(&entries), first.tree_size).unwrap_or_default();
        if mailwarden_audit::verify_consistency(
            first.tree_size,
            verified.size,
            &first.root_hash,
            &verified.root,
            &proof,
        ) {
            consistency_proof = Some(proof.len());
        } else {
            outcome = Err(Tamper::Forked { size: first.tree_size });
        }
    }
    Ok(Verification {
        key_source,
        key_id: key.key_id(),
        outcome,
        consistency_proof,
    })
}

fn leaf_hashes(entries: &[StoredEntry]) -> Vec<Hash> {
    entries
        .iter()
        .map(|e| <[u8; 32]>::try_from(e.leaf_hash.as_slice()).unwrap_or([0; 32]))
        .collect()
}

/// A checkpoint of the log as it is, after verifying it.
pub async fn checkpoint(store: &Store) -> Result<Checkpoint, StoreError> {
    let v = verify(store, None).await?;
    let verified = v
        .outcome
        .map_err(|t| StoreError::Corrupt(format!("the audit log does not verify: {t}")))?;
    let sth = verified
        .latest
        .ok_or_else(|| StoreError::NotFound("the audit log is empty: nothing to checkpoint".into()))?;
    let public_key = audit_key::public_key()?
        .map(|(_, k)| k)
        .ok_or_else(|| StoreError::NotFound("no audit key".into()))?;
    Ok(Checkpoint { sth, public_key })
}

/// An inclusion proof (RFC 9162 §2.1.3) of entry `seq` in the tree of the
/// log's current size, with the leaf hash and the signed head it is against.
#[derive(Debug, Clone)]
pub struct InclusionProof {
    /// The entry.
    pub seq: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The audit path.
    pub path: Vec<Hash>,
    /// The checkpoint (signed head) the path leads to.
    pub checkpoint: Checkpoint,
}

/// Proofs that each of `seqs` is in the log, against one fresh checkpoint.
pub async fn inclusion_proofs(store: &Store, seqs: &[u64]) -> Result<Vec<InclusionProof>, StoreError> {
    let checkpoint = checkpoint(store).await?;
    let leaves = leaf_hashes(&read_entries(store).await?);
    seqs.iter()
        .map(|&seq| {
            let index = seq.checked_sub(1).filter(|i| (*i as usize) < leaves.len());
            let index = index.ok_or_else(|| StoreError::NotFound(format!("no audit entry {seq}")))?;
            Ok(InclusionProof {
                seq,
                leaf_hash: leaves[index as usize],
                path: mailwarden_audit::inclusion_proof(&leaves, index).unwrap_or_default(),
                checkpoint: checkpoint.clone(),
            })
        })
        .collect()
}

/// The events `seqs` as an evidence bundle cites them (stored fields and an
/// inclusion proof each), against one fresh checkpoint of the verified log.
pub async fn cite(store: &Store, seqs: &[u64]) -> Result<(Checkpoint, Vec<CitedEvent>), StoreError> {
    let checkpoint = checkpoint(store).await?;
    let entries = read_entries(store).await?;
    let size = checkpoint.sth.head.tree_size as usize;
    let leaves = leaf_hashes(&entries[..size.min(entries.len())]);
    let cited = seqs
        .iter()
        .map(|&seq| {
            let index = seq.checked_sub(1).filter(|i| (*i as usize) < leaves.len());
            let index = index.ok_or_else(|| StoreError::NotFound(format!("no audit entry {seq}")))?;
            let e = &entries[index as usize];
            let content = e.content.as_deref().map(serde_json::from_str).transpose()?;
            Ok(CitedEvent {
                seq,
                at: e.at.clone(),
                kind: e.kind.clone(),
                domain: e.domain.clone(),
                content,
                salt: e.salt.as_deref().map(to_hex),
                domain_digest: to_hex(&e.domain_digest),
                content_digest: to_hex(&e.content_digest),
                leaf_hash: to_hex(&e.leaf_hash),
                inclusion_proof: mailwarden_audit::inclusion_proof(&leaves, index)
                    .unwrap_or_default()
                    .iter()
                    .map(|h| to_hex(h))
                    .collect(),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok((checkpoint, cited))
}

/// Erasure (`mailwarden erase DOMAIN`): the domain, content and salt of every
/// event about `domain` are removed; their leaves keep committing to the
/// digests, so every proof stays valid, and without the salt the kept digests
/// say nothing about what was erased. Returns the number of events.
pub async fn erase_domain(tx: &mut Tx<'_>, domain: &str) -> Result<u64, StoreError> {
    let done = sqlx::query("UPDATE audit_events SET domain = NULL, content = NULL, salt = NULL WHERE domain = $1")
        .bind(domain)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

/// Retention of audit event contents: the content of events appended before
/// `before` (an RFC 3339 time as the store writes them) is removed; the
/// domain stays checkable. Returns the number of events.
pub async fn expire_contents(tx: &mut Tx<'_>, before: &str) -> Result<u64, StoreError> {
    let done = sqlx::query("UPDATE audit_events SET content = NULL WHERE at < $1 AND content IS NOT NULL")
        .bind(before)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

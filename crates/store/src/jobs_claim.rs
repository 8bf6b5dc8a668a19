//! What a worker does with the batches of [`crate::jobs`]: claim one under
//! a lease, keep the lease alive, store each domain's result, mark the
//! batch done.
//!
//! On PostgreSQL a claim is `UPDATE ... WHERE id = (SELECT ... FOR UPDATE
//! SKIP LOCKED)`: concurrent claimers skip the rows another has locked, so
//! each takes a different batch without waiting. On SQLite a write
//! transaction holds the database's one write lock (`BEGIN IMMEDIATE`), which
//! serialises claims the same way for processes sharing the file on one
//! machine.
//!
//! A lease is a time, `lease_until`, taken from the database's clock, not
//! the worker's: workers on machines whose clocks disagree still agree on
//! when a lease ran out. A batch whose lease ran out is claimed again by
//! whoever asks next. Its old holder may still be alive (paused, cut off);
//! results are unique per (job, domain) and stored with `ON CONFLICT DO
//! NOTHING`, so the two never store a domain twice, and only the current
//! holder (its claim token) can mark the batch done.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::time::Duration;

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use sqlx::AnyConnection;
use time::OffsetDateTime;

use crate::{Backend, Store, StoreError, stamp};

/// Largest inflated report read back (a guard against a corrupt row).
const REPORT_LIMIT: u64 = 64 << 20;

/// The database's clock, now. Every lease and result time comes from here.
pub async fn db_now(conn: &mut AnyConnection) -> Result<OffsetDateTime, StoreError> {
    let sql = if conn.backend_name() == "PostgreSQL" {
        "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
    } else {
        "SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    };
    let ms: i64 = sqlx::query_scalar(sql).fetch_one(&mut *conn).await?;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("the database's clock says {ms} ms: {e}")))
}

/// `at` plus `lease`, as stored.
pub fn lease_end(at: OffsetDateTime, lease: Duration) -> String {
    stamp(at + lease)
}

/// A batch claimed by one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub batch_id: i64,
    pub job_id: i64,
    /// The list position of the batch's first domain.
    pub first_index: i64,
    pub domains: Vec<String>,
    /// 1 on the first claim; more when a lease ran out before.
    pub attempts: i64,
    /// This claim's owner token (worker name and a random suffix).
    pub token: String,
    /// Domains of the batch already stored by an earlier holder.
    pub already: HashSet<String>,
}

impl Claim {
    /// (list position, domain) of each domain still to scan.
    pub fn todo(&self) -> Vec<(i64, String)> {
        (self.first_index..)
            .zip(&self.domains)
            .filter(|(_, d)| !self.already.contains(*d))
            .map(|(i, d)| (i, d.clone()))
            .collect()
    }
}

/// Claim one batch for `worker` for `lease`: a batch whose lease ran out
/// first (so a dead worker's batch is finished before new work starts),
/// else the oldest pending one. `None` when there is nothing to claim now.
pub async fn claim(store: &Store, worker: &str, lease: Duration) -> Result<Option<Claim>, StoreError> {
    let token = format!("{worker}/{}", random_suffix()?);
    let skip_locked = match store.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let mut tx = store.begin().await?;
    let now = db_now(&mut tx).await?;
    let until = lease_end(now, lease);
    let set = "UPDATE job_batches SET state = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1";
    let returning = "RETURNING id, job_id, first_index, domains, attempts";
    let expired = format!(
        "{set} WHERE id = (SELECT id FROM job_batches WHERE state = 'running' AND lease_until <= $3
                           ORDER BY lease_until, id LIMIT 1{skip_locked}) {returning}"
    );
    let pending = format!(
        "{set} WHERE id = (SELECT id FROM job_batches WHERE state = 'pending' ORDER BY id LIMIT 1{skip_locked}) {returning}"
    );
    type Row = (i64, i64, i64, String, i64);
    let mut row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(expired))
        .bind(&token)
        .bind(&until)
        .bind(stamp(now))
        .fetch_optional(&mut *tx)
        .await?;
    if row.is_none() {
        row = sqlx::query_as(sqlx::AssertSqlSafe(pending))
            .bind(&token)
            .bind(&until)
            .fetch_optional(&mut *tx)
            .await?;
    }
    let Some((batch_id, job_id, first_index, domains, attempts)) = row else {
        tx.commit().await?;
        return Ok(None);
    };
    let already = if attempts > 1 {
        sqlx::query_scalar("SELECT domain FROM job_results WHERE batch_id = $1")
            .bind(batch_id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect()
    } else {
        HashSet::new()
    };
    tx.commit().await?;
    Ok(Some(Claim {
        batch_id,
        job_id,
        first_index,
        domains: domains.lines().map(String::from).collect(),
        attempts,
        token,
        already,
    }))
}

fn random_suffix() -> Result<String, StoreError> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Corrupt(format!("no randomness for a claim token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Extend the lease of `claim` by `lease` from now (the heartbeat). False
/// when the claim no longer holds the batch (its lease ran out and another
/// worker took it, or it is done).
pub async fn heartbeat(store: &Store, claim: &Claim, lease: Duration) -> Result<bool, StoreError> {
    let mut conn = store.pool().acquire().await?;
    let now = db_now(&mut conn).await?;
    let n =
        sqlx::query("UPDATE job_batches SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running'")
            .bind(lease_end(now, lease))
            .bind(claim.batch_id)
            .bind(&claim.token)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    Ok(n == 1)
}

/// One domain's result, as a worker stores it.
#[derive(Debug, Clone)]
pub struct JobResult<'a> {
    pub domain: &'a str,
    pub list_index: i64,
    /// Failing findings (pass/indeterminate/not-applicable excluded).
    pub failed: i64,
    /// The domain's `--format jsonl` line (without the newline).
    pub report: &'a [u8],
}

/// Store a result of `claim`'s batch. False when the domain already had
/// one (stored by an earlier holder of the batch): it is kept, not doubled.
pub async fn store_result(
    store: &Store,
    claim: &Claim,
    worker: &str,
    result: &JobResult<'_>,
) -> Result<bool, StoreError> {
    let mut conn = store.pool().acquire().await?;
    let now = db_now(&mut conn).await?;
    let n = sqlx::query(
        "INSERT INTO job_results (job_id, domain, list_index, batch_id, worker, finished_at, failed, report)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (job_id, domain) DO NOTHING",
    )
    .bind(claim.job_id)
    .bind(result.domain)
    .bind(result.list_index)
    .bind(claim.batch_id)
    .bind(worker)
    .bind(stamp(now))
    .bind(result.failed)
    .bind(deflate(result.report)?)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Mark `claim`'s batch done. False when the claim no longer held it (the
/// holder that took it over marks it done).
pub async fn complete(store: &Store, claim: &Claim) -> Result<bool, StoreError> {
    let mut conn = store.pool().acquire().await?;
    let now = db_now(&mut conn).await?;
    let n = sqlx::query(
        "UPDATE job_batches SET state = 'done', done_at = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
    )
    .bind(stamp(now))
    .bind(claim.batch_id)
    .bind(&claim.token)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Give a batch back at once (a worker stopping before it finished), so
/// the next worker need not wait for the lease to run out.
pub async fn release(store: &Store, claim: &Claim) -> Result<(), StoreError> {
    let mut conn = store.pool().acquire().await?;
    sqlx::query(
        "UPDATE job_batches SET state = 'pending', lease_owner = NULL, lease_until = NULL
         WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
    )
    .bind(claim.batch_id)
    .bind(&claim.token)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn deflate(data: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut enc = DeflateEncoder::new(Vec::with_capacity(data.len() / 4), Compression::fast());
    enc.write_all(data)
        .and_then(|()| enc.finish())
        .map_err(|e| StoreError::Corrupt(format!("compressing a report: {e}")))
}

/// A stored report back.
pub fn inflate(blob: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    DeflateDecoder::new(blob)
        .take(REPORT_LIMIT)
        .read_to_end(&mut out)
        .map_err(|e| StoreError::Corrupt(format!("a stored job result is not deflate data: {e}")))?;
    Ok(out)
}

//! Large scans as jobs: a domain list split into batches in the store, so
//! that any number of `mailwarden worker` processes, on any number of
//! machines sharing one PostgreSQL, scan it between them. This module holds
//! what the submitter and the reader see (submit, status, results);
//! [`crate::jobs_claim`] holds what a worker does (claim, heartbeat, store
//! a result, complete).
//!
//! A job keeps its scan options as `mailwarden scan` flags (like a
//! monitor). Each batch holds its domains as newline-separated text and the
//! list position of its first, so results come back in list order.

use futures::TryStreamExt;
use serde::Serialize;
use serde_json::json;

use crate::{Store, StoreError, jobs_claim::db_now};

/// Domains per batch when the submitter does not say.
pub const DEFAULT_BATCH_SIZE: usize = 100;

/// A job to submit.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// The `mailwarden scan` flags every domain is scanned with.
    pub scan_flags: &'a [String],
    /// Domains per batch (a worker's unit of claim and of loss on a crash).
    pub batch_size: usize,
    /// Where the list came from, for `jobs status`.
    pub label: &'a str,
}

/// Store a job and its domains, split into batches, in one transaction
/// (a failed submission leaves nothing behind). `domains` must be distinct
/// and valid; the caller checks. Returns the job id.
pub async fn submit(store: &Store, job: &NewJob<'_>, domains: &[String]) -> Result<i64, StoreError> {
    let size = job.batch_size.max(1);
    let mut tx = store.begin().await?;
    let now = db_now(&mut tx).await?;
    let options = json!({ "scan_flags": job.scan_flags }).to_string();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (created_at, options, batch_size, domain_count, label) VALUES ($1, $2, $3, $4, $5)
         RETURNING id",
    )
    .bind(crate::stamp(now))
    .bind(&options)
    .bind(size as i64)
    .bind(domains.len() as i64)
    .bind(job.label)
    .fetch_one(&mut *tx)
    .await?;
    for (n, chunk) in domains.chunks(size).enumerate() {
        sqlx::query("INSERT INTO job_batches (job_id, first_index, domains) VALUES ($1, $2, $3)")
            .bind(id)
            .bind((n * size) as i64)
            .bind(chunk.join("\n"))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// The `mailwarden scan` flags stored with a job.
pub fn scan_flags(options: &str) -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(options)
        .ok()
        .and_then(|v| {
            v["scan_flags"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
        })
        .unwrap_or_default()
}

/// A job's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub created_at: String,
    /// JSON: `{"scan_flags": [...]}`.
    pub options: String,
    pub batch_size: i64,
    pub domain_count: i64,
    pub label: String,
}

/// One job, or a clear error naming it.
pub async fn job(store: &Store, id: i64) -> Result<Job, StoreError> {
    sqlx::query_as("SELECT id, created_at, options, batch_size, domain_count, label FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(store.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no job {id} in the store")))
}

/// Every job, newest first.
pub async fn list(store: &Store) -> Result<Vec<Job>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, created_at, options, batch_size, domain_count, label FROM jobs ORDER BY id DESC")
            .fetch_all(store.pool())
            .await?,
    )
}

/// A batch being worked on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Lease {
    pub batch_id: i64,
    pub lease_owner: String,
    pub lease_until: String,
    pub attempts: i64,
}

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub job: Job,
    pub batches_pending: i64,
    pub batches_running: i64,
    pub batches_done: i64,
    /// Domains with a stored result.
    pub domains_done: i64,
    /// Batches claimed more than once (a worker died or lost its lease).
    pub batches_reclaimed: i64,
    pub first_result_at: Option<String>,
    pub last_result_at: Option<String>,
    /// Distinct workers that stored results.
    pub workers: i64,
    /// The batches under lease now.
    pub running: Vec<Lease>,
}

impl Status {
    /// Every domain has its result.
    pub fn complete(&self) -> bool {
        self.domains_done >= self.job.domain_count && self.batches_pending == 0 && self.batches_running == 0
    }
}

/// Where job `id` stands.
pub async fn status(store: &Store, id: i64) -> Result<Status, StoreError> {
    let job = job(store, id).await?;
    let by_state: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM job_batches WHERE job_id = $1 GROUP BY state")
            .bind(id)
            .fetch_all(store.pool())
            .await?;
    let count = |s: &str| by_state.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let reclaimed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_batches WHERE job_id = $1 AND attempts > 1")
        .bind(id)
        .fetch_one(store.pool())
        .await?;
    let (domains_done, first, last, workers): (i64, Option<String>, Option<String>, i64) = sqlx::query_as(
        "SELECT COUNT(*), MIN(finished_at), MAX(finished_at), COUNT(DISTINCT worker) FROM job_results WHERE job_id = $1",
    )
    .bind(id)
    .fetch_one(store.pool())
    .await?;
    let running = sqlx::query_as(
        "SELECT id AS batch_id, lease_owner, lease_until, attempts FROM job_batches
         WHERE job_id = $1 AND state = 'running' ORDER BY id",
    )
    .bind(id)
    .fetch_all(store.pool())
    .await?;
    Ok(Status {
        batches_pending: count("pending"),
        batches_running: count("running"),
        batches_done: count("done"),
        job,
        domains_done,
        batches_reclaimed: reclaimed,
        first_result_at: first,
        last_result_at: last,
        workers,
        running,
    })
}

/// Batches of any job not done yet (pending or under a lease, live or
/// expired).
pub async fn unfinished_batches(store: &Store) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM job_batches WHERE state <> 'done'")
            .fetch_one(store.pool())
            .await?,
    )
}

/// Each stored result of job `id` in list order, as the JSON line
/// `mailwarden scan --format jsonl` writes; `each` gets them one by one
/// (the rows are streamed, not collected).
pub async fn results<F>(store: &Store, id: i64, mut each: F) -> Result<u64, StoreError>
where
    F: FnMut(&[u8]) -> Result<(), StoreError>,
{
    job(store, id).await?;
    let mut rows =
        sqlx::query_scalar::<_, Vec<u8>>("SELECT report FROM job_results WHERE job_id = $1 ORDER BY list_index")
            .bind(id)
            .fetch(store.pool());
    let mut n = 0;
    while let Some(blob) = rows.try_next().await? {
        each(&crate::jobs_claim::inflate(&blob)?)?;
        n += 1;
    }
    Ok(n)
}

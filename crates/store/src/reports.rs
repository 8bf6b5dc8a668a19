//! Imported reports (issue 14) in the store: DMARC aggregate and failure
//! reports and TLS reports, with the duplicate rule of
//! [`mailwarden_ingest::sink::Index`]: the same identity (reporter, report
//! id, policy domain, date range) is a duplicate (noted when its content
//! differs); the same report id for another range is kept and flagged.
//!
//! A report is written in one transaction: its `reports` row, its rows
//! (aggregate), policies (TLS) and the DKIM selectors its rows show. A
//! crash before the commit leaves nothing; after it, the whole report.
//! [`StoreSink`] is the synchronous [`ReportSink`] over this, for
//! `mailwarden_ingest::import`; [`Writer`] takes an aggregate report's
//! rows in batches, so a streaming parser never holds them all.

use std::collections::BTreeMap;

use mailwarden_ingest::aggregate::{AggregateReport, Record};
use mailwarden_ingest::report::{Identity, Parsed, Report};
use mailwarden_ingest::sink::{AggregateWriter, Index, ReportSink, SinkError, Stored, Verdict};
use mailwarden_ingest::tlsrpt::TlsPolicy;
use mailwarden_ingest::warning::Warnings;
use serde_json::json;

use crate::reports_copy::{PgTx, Row};
use crate::reports_pipe::Pipe;
use crate::tenant::TenantScope;
use crate::{Store, StoreError, Tx, clock};

/// The tenant owning `domain` (its monitor's or its stored scans'), as a
/// scope: where a TLS report about `domain` that came without credentials
/// (RFC 8460 §5.4 HTTPS POST) belongs. `None` when no tenant owns it.
pub async fn owner_scope(store: &Store, domain: &str) -> Result<Option<TenantScope>, StoreError> {
    let name = domain.trim_end_matches('.').to_ascii_lowercase();
    Ok(crate::tenant::owner_of(store, &name)
        .await?
        .map(TenantScope::from_stored))
}

/// Rows per multi-row INSERT: 11 parameters each stays far below SQLite's
/// 32,766 and PostgreSQL's 65,535 bind parameters.
const BATCH: usize = 500;

/// Store `parsed` for the default tenant unless it is a duplicate, in one transaction.
pub async fn put(store: &Store, parsed: &Parsed) -> Result<Stored, StoreError> {
    put_for(store, DEFAULT_TENANT_ID, parsed).await
}

/// The id of the default tenant (migration 0300), whose reports the CLI imports.
const DEFAULT_TENANT_ID: i64 = 1;

/// Store `parsed` for tenant `tenant` unless that tenant already has it.
async fn put_for(store: &Store, tenant: i64, parsed: &Parsed) -> Result<Stored, StoreError> {
    let identity = parsed.report.identity();
    let meta = meta(&parsed.report, &parsed.warnings);
    let Some(mut writer) = Writer::begin_for(store, tenant, &identity, &meta).await? else {
        return duplicate_for(store, tenant, &identity, &parsed.digest).await;
    };
    match &parsed.report {
        Report::Aggregate(a) => {
            for chunk in a.records.chunks(BATCH) {
                writer.records(chunk).await?;
            }
        }
        Report::Tlsrpt(t) => writer.tls_policies(&t.policies).await?,
        Report::Failure(_) => {}
    }
    writer.commit(parsed.report.records(), &parsed.digest, &meta).await
}

/// A report's transaction: through `Any`, or for an aggregate report on
/// PostgreSQL on a native connection, whose rows go by COPY
/// ([`crate::reports_copy`]).
enum Conn {
    Any(Tx<'static>),
    Pg(PgTx),
}

/// Run `$body` with `$tx` the transaction of `$conn`, whichever driver:
/// the SQL is the same text, its types are the arm's.
macro_rules! on_conn {
    ($conn:expr, $tx:ident => $body:expr) => {
        match $conn {
            Conn::Any($tx) => $body,
            Conn::Pg($tx) => $body,
        }
    };
}

/// One report being written: the open transaction and its row id.
pub struct Writer {
    conn: Conn,
    id: i64,
    tenant: i64,
    short_id: String,
    flags: Vec<String>,
    tally: Tally,
}

/// What a report's rows add up to besides themselves: the DKIM selectors
/// they show and (aggregate reports) their sums for the inventory.
pub(crate) struct Tally {
    selectors: BTreeMap<(String, String), (i64, i64)>,
    pub(crate) rollup: Option<crate::rollup::Sums>,
}

impl Tally {
    /// Note one aggregate row; its source address and `auth` column as stored.
    pub(crate) fn note(&mut self, r: &Record) -> Result<(String, String), StoreError> {
        for d in &r.dkim_results {
            if let Some(selector) = &d.selector {
                let entry = self
                    .selectors
                    .entry((d.domain.clone(), selector.to_ascii_lowercase()))
                    .or_default();
                entry.0 = entry.0.saturating_add(count(r.count));
                if d.result == "pass" {
                    entry.1 = entry.1.saturating_add(count(r.count));
                }
            }
        }
        let auth = serde_json::to_string(&Auth {
            dkim: &r.dkim_results,
            reasons: &r.reasons,
            spf: &r.spf_results,
        })?;
        let ip = r.source_ip.to_string();
        if let Some(sums) = self.rollup.as_mut() {
            sums.add(&ip, &r.header_from, r.envelope_from.as_deref(), &auth, count(r.count));
        }
        Ok((ip, auth))
    }
}

impl Writer {
    /// Begin a report; `None` when `identity` is already stored (the caller
    /// then asks [`duplicate`] what to say). The digest and row count are
    /// written at [`Writer::commit`] (a streamed report knows them last).
    pub async fn begin(
        store: &Store,
        identity: &Identity,
        meta: &serde_json::Value,
    ) -> Result<Option<Writer>, StoreError> {
        Writer::begin_for(store, DEFAULT_TENANT_ID, identity, meta).await
    }

    /// [`Writer::begin`] for tenant `tenant` (the duplicate rule is per tenant).
    async fn begin_for(
        store: &Store,
        tenant: i64,
        identity: &Identity,
        meta: &serde_json::Value,
    ) -> Result<Option<Writer>, StoreError> {
        let aggregate = identity.kind == mailwarden_ingest::report::Kind::Aggregate;
        let mut conn = match store.pg_pool() {
            Some(pg) if aggregate => Conn::Pg(pg.begin().await?),
            _ => Conn::Any(store.begin().await?),
        };
        let family = on_conn!(&mut conn, tx => family_rows(identity, tenant).fetch_all(&mut **tx).await?);
        let index = family_index(identity, family);
        // Only the identity decides new or duplicate; the digest only words the note.
        let (short_id, flags) = match index.judge(identity, "") {
            Verdict::Duplicate { .. } => return Ok(None),
            Verdict::New { id, flags } => (id, flags),
        };
        // ON CONFLICT: a concurrent importer (PostgreSQL) may have stored
        // the same report since the check; then it is a duplicate too.
        let flags_json = serde_json::to_string(&flags)?;
        let meta_json = meta.to_string();
        let id: Option<i64> = on_conn!(&mut conn, tx => sqlx::query_scalar(
            "INSERT INTO reports (short_id, kind, reporter, report_id, domain, begin_at, end_at, digest,
                                  records, imported_at, flags, meta, tenant_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, '', 0, $8, $9, $10, $11)
             ON CONFLICT (tenant_id, short_id) DO NOTHING RETURNING id",
        )
        .bind(&short_id)
        .bind(identity.kind.as_str())
        .bind(&identity.reporter)
        .bind(&identity.report_id)
        .bind(&identity.domain)
        .bind(identity.begin)
        .bind(identity.end)
        .bind(clock::now())
        .bind(&flags_json)
        .bind(&meta_json)
        .bind(tenant)
        .fetch_optional(&mut **tx)
        .await?);
        Ok(id.map(|id| Writer {
            conn,
            id,
            tenant,
            short_id,
            flags,
            tally: Tally {
                selectors: BTreeMap::new(),
                rollup: aggregate.then(|| crate::rollup::Sums::new(crate::rollup::Period::of(tenant, identity, meta))),
            },
        }))
    }

    /// Add a batch of aggregate rows (any size; split as needed).
    pub async fn records(&mut self, records: &[Record]) -> Result<(), StoreError> {
        for chunk in records.chunks(BATCH) {
            self.insert_records(chunk).await?;
        }
        Ok(())
    }

    async fn insert_records(&mut self, records: &[Record]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut noted = Vec::with_capacity(records.len());
        for r in records {
            noted.push(self.tally.note(r)?);
        }
        match &mut self.conn {
            Conn::Any(tx) => {
                const COLUMNS: &str = "report_id, tenant_id, source_ip, count, disposition, dkim_eval, spf_eval, \
                                       header_from, envelope_from, envelope_to, auth";
                let sql = format!(
                    "INSERT INTO report_records ({COLUMNS}) VALUES {}",
                    placeholders(crate::backend_of(tx), records.len(), 11)
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (r, (ip, auth)) in records.iter().zip(noted) {
                    query = query
                        .bind(self.id)
                        .bind(self.tenant)
                        .bind(ip)
                        .bind(count(r.count))
                        .bind(r.disposition.clone())
                        .bind(r.dkim.clone())
                        .bind(r.spf.clone())
                        .bind(r.header_from.clone())
                        .bind(r.envelope_from.clone())
                        .bind(r.envelope_to.clone())
                        .bind(auth);
                }
                query.execute(&mut **tx).await?;
                if let Some(sums) = self.tally.rollup.as_mut().filter(|s| s.full()) {
                    sums.flush(tx).await?;
                }
            }
            Conn::Pg(tx) => {
                let rows: Vec<Row<'_>> = records
                    .iter()
                    .zip(&noted)
                    .map(|(record, (ip, auth))| Row { record, ip, auth })
                    .collect();
                crate::reports_copy::copy_records(tx, self.id, self.tenant, &rows).await?;
                if let Some(sums) = self
                    .tally
                    .rollup
                    .as_mut()
                    .filter(|s| s.len() >= crate::reports_copy::SUMS)
                {
                    crate::reports_copy::flush(tx, sums).await?;
                }
            }
        }
        Ok(())
    }

    /// Store the batches of `batches` until it closes: on PostgreSQL
    /// through one COPY held open across batches
    /// ([`crate::reports_copy::stream`]), else batch by batch.
    pub(crate) async fn stream(
        &mut self,
        batches: &mut tokio::sync::mpsc::Receiver<Vec<Record>>,
    ) -> Result<(), StoreError> {
        if let Conn::Pg(tx) = &mut self.conn {
            return crate::reports_copy::stream(tx, (self.id, self.tenant), batches, &mut self.tally).await;
        }
        while let Some(batch) = batches.recv().await {
            self.records(&batch).await?;
        }
        Ok(())
    }

    /// Add a TLS report's policies.
    pub async fn tls_policies(&mut self, policies: &[TlsPolicy]) -> Result<(), StoreError> {
        for p in policies {
            let mx_hosts = serde_json::to_string(&p.mx_hosts)?;
            let detail = json!({ "policy_strings": p.policy_strings, "failures": p.failures }).to_string();
            on_conn!(&mut self.conn, tx => {
                sqlx::query(
                    "INSERT INTO report_tls (report_id, policy_type, policy_domain, mx_hosts, successful, failed, detail, tenant_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(self.id)
                .bind(&p.policy_type)
                .bind(&p.policy_domain)
                .bind(&mx_hosts)
                .bind(count(p.successful_sessions))
                .bind(count(p.failed_sessions))
                .bind(&detail)
                .bind(self.tenant)
                .execute(&mut **tx)
                .await?;
            });
        }
        Ok(())
    }

    /// Write the selectors seen, the row count, the digest and the final
    /// header, and commit: from here on the report is stored.
    pub async fn commit(
        mut self,
        records: usize,
        digest: &str,
        meta: &serde_json::Value,
    ) -> Result<Stored, StoreError> {
        if let Some(sums) = self.tally.rollup.as_mut() {
            match &mut self.conn {
                Conn::Any(tx) => sums.flush(tx).await?,
                Conn::Pg(tx) => crate::reports_copy::flush(tx, sums).await?,
            }
        }
        for ((domain, selector), (messages, passed)) in &self.tally.selectors {
            on_conn!(&mut self.conn, tx => {
                sqlx::query(
                    "INSERT INTO report_selectors (report_id, domain, selector, messages, passed, tenant_id)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(self.id)
                .bind(domain)
                .bind(selector)
                .bind(messages)
                .bind(passed)
                .bind(self.tenant)
                .execute(&mut **tx)
                .await?;
            });
        }
        let meta = meta.to_string();
        on_conn!(&mut self.conn, tx => {
            sqlx::query("UPDATE reports SET records = $1, digest = $2, meta = $3 WHERE id = $4")
            .bind(i64::try_from(records).unwrap_or(i64::MAX))
            .bind(digest)
            .bind(&meta)
            .bind(self.id)
            .execute(&mut **tx)
            .await?;
        });
        on_conn!(self.conn, tx => tx.commit().await?);
        Ok(Stored::Imported {
            id: self.short_id,
            flags: self.flags,
        })
    }

    /// Give up: nothing of this report is stored.
    pub async fn abort(self) -> Result<(), StoreError> {
        on_conn!(self.conn, tx => tx.rollback().await?);
        Ok(())
    }
}

/// Append one `reports-imported` event for a run of an importer (`source`:
/// `import`, `fetch`, `upload`, `tlsrpt`) to the audit log. After the
/// run's reports, in a transaction of its own: the reports are committed
/// one by one, and a crash before this leaves them stored, unsummarised.
pub async fn record_run(store: &Store, source: &str, run: &mailwarden_ingest::RunSummary) -> Result<i64, StoreError> {
    let mut content = serde_json::to_value(run)?;
    content["source"] = json!(source);
    let mut tx = store.begin().await?;
    let seq = crate::append_event(&mut tx, crate::EventKind::ReportsImported, None, &content).await?;
    tx.commit().await?;
    Ok(seq)
}

/// What to say about a report whose identity is already stored.
pub async fn duplicate(store: &Store, identity: &Identity, digest: &str) -> Result<Stored, StoreError> {
    duplicate_for(store, DEFAULT_TENANT_ID, identity, digest).await
}

async fn duplicate_for(store: &Store, tenant: i64, identity: &Identity, digest: &str) -> Result<Stored, StoreError> {
    let family = family_rows(identity, tenant).fetch_all(store.pool()).await?;
    Ok(match family_index(identity, family).judge(identity, digest) {
        Verdict::Duplicate { id, note } => Stored::Duplicate { id, note },
        // Erased between the two reads: say so rather than claim a copy.
        Verdict::New { id, .. } => Stored::Duplicate {
            id,
            note: Some("stored by another importer at the same time".into()),
        },
    })
}

/// The query of `identity`'s family (same kind, reporter, report id and
/// domain, any range): begin, end and digest of each, on either driver.
fn family_rows<'q, DB: sqlx::Database>(
    identity: &'q Identity,
    tenant: i64,
) -> sqlx::query::QueryAs<'q, DB, (i64, i64, String), <DB as sqlx::Database>::Arguments>
where
    (i64, i64, String): for<'r> sqlx::FromRow<'r, DB::Row>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query_as(
        "SELECT begin_at, end_at, digest FROM reports
         WHERE kind = $1 AND reporter = $2 AND report_id = $3 AND domain = $4 AND tenant_id = $5",
    )
    .bind(identity.kind.as_str())
    .bind(identity.reporter.as_str())
    .bind(identity.report_id.as_str())
    .bind(identity.domain.as_str())
    .bind(tenant)
}

/// The family's rows as an [`Index`], so the ingest crate's rule decides.
fn family_index(identity: &Identity, rows: Vec<(i64, i64, String)>) -> Index {
    let mut index = Index::default();
    for (begin, end, digest) in rows {
        let stored = Identity {
            begin,
            end,
            ..identity.clone()
        };
        index.insert(&stored, &digest);
    }
    index
}

/// The report without its rows, as stored in `reports.meta`: everything a
/// `reports show` needs besides the rows. A failure report is already
/// redacted by the parser (domains only, no raw message).
pub fn meta(report: &Report, warnings: &Warnings) -> serde_json::Value {
    let warnings: Vec<&str> = warnings.items.iter().map(|w| w.message.as_str()).collect();
    let mut value = match report {
        Report::Aggregate(a) => aggregate_meta(a),
        Report::Tlsrpt(t) => json!({
            "organization_name": t.organization_name,
            "contact_info": t.contact_info,
        }),
        Report::Failure(f) => json!(f),
    };
    value["warnings"] = json!(warnings);
    value
}

/// An aggregate report's header (everything but `<record>` rows).
pub fn aggregate_meta(a: &AggregateReport) -> serde_json::Value {
    json!({
        "schema": a.schema, "version": a.version, "org_name": a.org_name, "email": a.email,
        "extra_contact_info": a.extra_contact_info, "errors": a.errors, "generator": a.generator,
        "policy_published": a.policy, "extensions": a.extensions,
    })
}

/// A row's `auth` column: what the reporter's `auth_results` and override
/// reasons said, serialised straight from the record (no JSON tree built
/// per row). Fields in key order, as the `json!` map wrote them before.
#[derive(serde::Serialize)]
struct Auth<'a> {
    dkim: &'a [mailwarden_ingest::aggregate::DkimResult],
    reasons: &'a [mailwarden_ingest::aggregate::OverrideReason],
    spf: &'a [mailwarden_ingest::aggregate::SpfResult],
}

/// `($1, ..., $n), ($n+1, ...)` for `rows` rows of `columns` values on
/// PostgreSQL; `(?, ...), (?, ...)` on SQLite, whose named parameters
/// (`$1`) sqlx binds by looking each name up (`sqlite3_bind_parameter_name`,
/// a linear scan): quadratic in the parameters of a statement, 77% of an
/// import's time at 5,000 parameters a batch. Anonymous `?` are bound in order.
pub(crate) fn placeholders(backend: crate::Backend, rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            match backend {
                crate::Backend::Sqlite => out.push('?'),
                crate::Backend::Postgres => {
                    out.push('$');
                    out.push_str(&(r * columns + c + 1).to_string());
                }
            }
        }
        out.push(')');
    }
    out
}

/// A count as stored (BIGINT): saturated, never wrapped.
pub(crate) fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The store as a synchronous [`ReportSink`] for `mailwarden_ingest::import`.
/// Each `put` runs on the tokio runtime it was created in.
#[derive(Debug, Clone)]
pub struct StoreSink {
    store: Store,
    handle: tokio::runtime::Handle,
    /// The tenant the reports are stored for.
    tenant: i64,
}

impl StoreSink {
    /// A sink over `store`; must be created inside a tokio runtime.
    pub fn new(store: Store) -> Result<StoreSink, StoreError> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| StoreError::NotFound(format!("the report sink needs a tokio runtime: {e}")))?;
        Ok(StoreSink {
            store,
            handle,
            tenant: DEFAULT_TENANT_ID,
        })
    }

    /// A sink storing for the tenant of `scope` (an authenticated caller's,
    /// or the owner of a report's domain: [`owner_scope`]).
    pub fn for_tenant(store: Store, scope: TenantScope) -> Result<StoreSink, StoreError> {
        Ok(StoreSink {
            tenant: scope.id(),
            ..StoreSink::new(store)?
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

fn sink_error(e: StoreError) -> SinkError {
    SinkError::Io(std::io::Error::other(e))
}

impl ReportSink for StoreSink {
    fn put(&mut self, parsed: &Parsed) -> Result<Stored, SinkError> {
        block_on(&self.handle, put_for(&self.store, self.tenant, parsed)).map_err(sink_error)
    }

    /// Aggregate reports stream into one transaction, 500 rows an INSERT.
    fn streams(&self) -> bool {
        true
    }

    fn begin_aggregate<'s>(&'s mut self, header: &AggregateReport) -> Result<Box<dyn AggregateWriter + 's>, SinkError> {
        let report = Report::Aggregate(header.clone());
        let identity = report.identity();
        let meta = meta(&report, &Warnings::default());
        let writer = block_on(
            &self.handle,
            Writer::begin_for(&self.store, self.tenant, &identity, &meta),
        )
        .map_err(sink_error)?;
        Ok(Box::new(Streaming {
            writer: writer.map(|w| Pipe::start(&self.handle, w)),
            sink: self,
            identity,
        }))
    }
}

/// A streamed aggregate report on its way into the store, its rows
/// written by a [`Pipe`] while the parser reads on; `writer` is `None` for
/// a duplicate (its rows are read and dropped).
struct Streaming<'s> {
    sink: &'s StoreSink,
    identity: Identity,
    writer: Option<Pipe>,
}

impl AggregateWriter for Streaming<'_> {
    fn records(&mut self, batch: &[Record]) -> Result<(), SinkError> {
        self.records_owned(batch.to_vec())
    }

    fn records_owned(&mut self, batch: Vec<Record>) -> Result<(), SinkError> {
        match self.writer.as_mut() {
            Some(pipe) => pipe.send(batch).map_err(sink_error),
            None => Ok(()),
        }
    }

    fn finish(
        self: Box<Self>,
        header: &AggregateReport,
        records: usize,
        warnings: &Warnings,
        digest: &str,
    ) -> Result<Stored, SinkError> {
        let handle = &self.sink.handle;
        let done = match self.writer {
            Some(pipe) => pipe.finish().and_then(|w| {
                let meta = meta(&Report::Aggregate(header.clone()), warnings);
                block_on(handle, w.commit(records, digest, &meta))
            }),
            None => block_on(
                handle,
                duplicate_for(&self.sink.store, self.sink.tenant, &self.identity, digest),
            ),
        };
        done.map_err(sink_error)
    }

    /// Rolls back (a writer that failed has already: its transaction was dropped).
    fn abort(self: Box<Self>) -> Result<(), SinkError> {
        match self.writer.map(Pipe::finish) {
            Some(Ok(w)) => block_on(&self.sink.handle, w.abort()).map_err(sink_error),
            Some(Err(_)) | None => Ok(()),
        }
    }
}

/// Run `future` to completion from synchronous code: on a worker thread of
/// a multi-threaded runtime through `block_in_place` (which lets the
/// runtime move its other tasks away), elsewhere (a `spawn_blocking`
/// thread, a plain thread) directly.
pub fn block_on<F: std::future::Future>(handle: &tokio::runtime::Handle, future: F) -> F::Output {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(current) if current.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(future))
        }
        _ => handle.block_on(future),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_then_columns() {
        assert_eq!(
            placeholders(crate::Backend::Postgres, 2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(placeholders(crate::Backend::Postgres, 1, 1), "($1)");
    }

    /// Regression: `$N` on SQLite made every batch quadratic in its
    /// parameters (sqlx looks each name up), 3,500 records/s.
    #[test]
    fn sqlite_placeholders_are_anonymous() {
        assert_eq!(placeholders(crate::Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
    }

    #[test]
    fn counts_over_i64_saturate() {
        assert_eq!(count(u64::MAX), i64::MAX);
        assert_eq!(count(7), 7);
    }
}

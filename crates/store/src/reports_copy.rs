//! An aggregate report's rows into PostgreSQL (issue 14's 50,000 records/s):
//! `COPY ... FROM STDIN (FORMAT binary)` into `report_records`, and the
//! rollup's sums ([`Sums`]) upserted set-wise, one `INSERT ... SELECT FROM
//! UNNEST(arrays) ... ON CONFLICT` per rollup table for up to [`SUMS`]
//! summed rows. Multi-row `INSERT ... VALUES` with a parameter per value
//! cost the server most of its time per row (parsing, binding, one plan
//! node per row); neither COPY nor array parameters exist in sqlx's `Any`,
//! so the report's whole transaction runs on a native connection
//! ([`crate::Store::pg_pool`]): one transaction still, a crash leaves
//! nothing of the report. SQLite keeps its `Any` path.
//!
//! The values written are those of the `Any` path exactly: the same
//! [`Sums`] (summed and saturated in memory, shapes and digests), the same
//! conflict rules (`saturating_sum`, LEAST/GREATEST).

use mailwarden_ingest::aggregate::Record;
use sqlx::postgres::{PgConnection, PgCopyIn};
use tokio::sync::mpsc;

use crate::StoreError;
use crate::reports::Tally;
use crate::rollup::{Sums, day_of, saturating_sum};

/// A report's transaction on the native PostgreSQL pool.
pub(crate) type PgTx = sqlx::Transaction<'static, sqlx::Postgres>;

/// Distinct (source, shape) sums held before they are written: large
/// enough that a statement's fixed cost vanishes, small enough that memory
/// stays a few MB (a sum is under 100 bytes, a shape a few hundred).
pub(crate) const SUMS: usize = 10_000;

/// The columns copied, in the order [`encode_rows`] writes them.
const COPY: &str = "COPY report_records (report_id, tenant_id, source_ip, count, disposition, dkim_eval, spf_eval, \
                    header_from, envelope_from, envelope_to, auth) FROM STDIN (FORMAT binary)";

/// A binary COPY stream's header: signature, flags, header extension length.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// A binary COPY stream's trailer: a tuple of -1 fields.
const TRAILER: [u8; 2] = (-1i16).to_be_bytes();

/// One stored row besides the parsed [`Record`]: its source address as
/// text and its `auth` column, as the writer made them for the rollup.
pub(crate) struct Row<'a> {
    pub record: &'a Record,
    pub ip: &'a str,
    pub auth: &'a str,
}

/// Copy `rows` of report `report` (tenant `tenant`) into `report_records`
/// in the transaction on `conn`: one COPY (a whole report's batches).
pub(crate) async fn copy_records(
    conn: &mut PgConnection,
    report: i64,
    tenant: i64,
    rows: &[Row<'_>],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut data = HEADER.to_vec();
    encode_rows(&mut data, report, tenant, rows)?;
    data.extend_from_slice(&TRAILER);
    let mut copy = conn.copy_in_raw(COPY).await?;
    match copy.send(data).await {
        Ok(_) => {
            copy.finish().await?;
            Ok(())
        }
        Err(e) => Err(abandon(copy, e.into()).await),
    }
}

/// A streamed report's batches, from `batches` until it closes, into
/// `report_records` in the transaction on `conn`, noted in `tally`. One
/// COPY stays open across batches, so the server stores one batch while
/// this task notes and encodes the next (a COPY per batch would wait for
/// each); it ends when [`SUMS`] sums are held, which are then written.
pub(crate) async fn stream(
    conn: &mut PgConnection,
    (report, tenant): (i64, i64),
    batches: &mut mpsc::Receiver<Vec<Record>>,
    tally: &mut Tally,
) -> Result<(), StoreError> {
    while let Some(first) = batches.recv().await {
        let mut copy = conn.copy_in_raw(COPY).await?;
        let mut data = HEADER.to_vec();
        let sent = copy_until_full(&mut copy, &mut data, (report, tenant), first, batches, tally).await;
        match sent {
            Ok(()) => {
                copy.send(TRAILER.as_slice()).await?;
                copy.finish().await?;
            }
            Err(e) => return Err(abandon(copy, e).await),
        }
        if let Some(sums) = tally.rollup.as_mut() {
            flush(conn, sums).await?;
        }
    }
    Ok(())
}

/// Send `first` and the batches after it into the open `copy` until the
/// sums are full or `batches` closes; `data` starts with what must
/// precede the first tuple (the header).
async fn copy_until_full(
    copy: &mut PgCopyIn<&mut PgConnection>,
    data: &mut Vec<u8>,
    (report, tenant): (i64, i64),
    first: Vec<Record>,
    batches: &mut mpsc::Receiver<Vec<Record>>,
    tally: &mut Tally,
) -> Result<(), StoreError> {
    let mut batch = first;
    loop {
        let noted = batch.iter().map(|r| tally.note(r)).collect::<Result<Vec<_>, _>>()?;
        let rows: Vec<Row<'_>> = batch
            .iter()
            .zip(&noted)
            .map(|(record, (ip, auth))| Row { record, ip, auth })
            .collect();
        encode_rows(data, report, tenant, &rows)?;
        copy.send(data.as_slice()).await?;
        data.clear();
        if tally.rollup.as_ref().is_some_and(|s| s.len() >= SUMS) {
            return Ok(());
        }
        match batches.recv().await {
            Some(next) => batch = next,
            None => return Ok(()),
        }
    }
}

/// End a COPY that failed on this side (the transaction is lost anyway),
/// so the connection goes back to its pool usable; `error` is the cause.
async fn abandon(copy: PgCopyIn<&mut PgConnection>, error: StoreError) -> StoreError {
    copy.abort("the import failed").await.ok();
    error
}

/// `rows` as binary COPY tuples appended to `out`. Every value is typed
/// as its column (`tenant_id` is INTEGER).
fn encode_rows(out: &mut Vec<u8>, report: i64, tenant: i64, rows: &[Row<'_>]) -> Result<(), StoreError> {
    let tenant = i32::try_from(tenant).map_err(|_| StoreError::NotFound(format!("tenant id {tenant} out of range")))?;
    out.reserve(rows.len() * (160 + rows.first().map_or(0, |r| r.auth.len())));
    for Row { record: r, ip, auth } in rows {
        out.extend_from_slice(&11i16.to_be_bytes());
        field(out, Some(&report.to_be_bytes()))?;
        field(out, Some(&tenant.to_be_bytes()))?;
        field(out, Some(ip.as_bytes()))?;
        field(out, Some(&crate::reports::count(r.count).to_be_bytes()))?;
        field(out, Some(r.disposition.as_bytes()))?;
        field(out, r.dkim.as_deref().map(str::as_bytes))?;
        field(out, r.spf.as_deref().map(str::as_bytes))?;
        field(out, Some(r.header_from.as_bytes()))?;
        field(out, r.envelope_from.as_deref().map(str::as_bytes))?;
        field(out, r.envelope_to.as_deref().map(str::as_bytes))?;
        field(out, Some(auth.as_bytes()))?;
    }
    Ok(())
}

/// One field: its length (-1: NULL) and bytes.
fn field(out: &mut Vec<u8>, value: Option<&[u8]>) -> Result<(), StoreError> {
    match value {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(v) => {
            let len = i32::try_from(v.len()).map_err(|_| StoreError::NotFound("a report value over 2 GB".into()))?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(v);
        }
    }
    Ok(())
}

/// Write `sums` into the transaction on `conn` (adding to what is stored)
/// and forget them: shapes, sums, reporters, as [`Sums::flush`] does.
pub(crate) async fn flush(conn: &mut PgConnection, sums: &mut Sums) -> Result<(), StoreError> {
    let Some(c) = sums.take_columns() else {
        return Ok(());
    };
    let p = &c.period;
    sqlx::query(
        "INSERT INTO report_rollup_shapes (tenant_id, domain, shape, header_from, envelope_from, adkim, aspf, auth,
                                           last_day)
         SELECT $1, $2, s.shape, s.header_from, s.envelope_from, $3, $4, s.auth, $5
         FROM UNNEST($6::text[], $7::text[], $8::text[], $9::text[]) AS s (shape, header_from, envelope_from, auth)
         ON CONFLICT (tenant_id, domain, shape)
         DO UPDATE SET last_day = GREATEST(report_rollup_shapes.last_day, excluded.last_day)",
    )
    .bind(p.tenant)
    .bind(&p.domain)
    .bind(&p.adkim)
    .bind(&p.aspf)
    .bind(day_of(p.end))
    .bind(&c.shapes)
    .bind(&c.header_from)
    .bind(&c.envelope_from)
    .bind(&c.auth)
    .execute(&mut *conn)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO report_rollup (tenant_id, domain, day, begin_day, source_ip, shape, messages, first_begin,
                                    last_end)
         SELECT $1, $2, $3, $4, s.source_ip, s.shape, s.messages, $5, $6
         FROM UNNEST($7::text[], $8::text[], $9::bigint[]) AS s (source_ip, shape, messages)
         ON CONFLICT (tenant_id, domain, source_ip, shape, day, begin_day)
         DO UPDATE SET messages = {},
             first_begin = LEAST(report_rollup.first_begin, excluded.first_begin),
             last_end = GREATEST(report_rollup.last_end, excluded.last_end)",
        saturating_sum("report_rollup.messages", "excluded.messages"),
    )))
    .bind(p.tenant)
    .bind(&p.domain)
    .bind(day_of(p.end))
    .bind(day_of(p.begin))
    .bind(p.begin)
    .bind(p.end)
    .bind(&c.row_ips)
    .bind(&c.row_shapes)
    .bind(&c.row_messages)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO report_rollup_reporters (tenant_id, domain, source_ip, reporter, last_end)
         SELECT $1, $2, s.source_ip, $3, $4 FROM UNNEST($5::text[]) AS s (source_ip)
         ON CONFLICT (tenant_id, domain, source_ip, reporter)
         DO UPDATE SET last_end = GREATEST(report_rollup_reporters.last_end, excluded.last_end)",
    )
    .bind(p.tenant)
    .bind(&p.domain)
    .bind(&p.reporter)
    .bind(p.end)
    .bind(&c.ips)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(envelope_from: Option<&str>) -> Record {
        Record {
            source_ip: "192.0.2.1".parse().unwrap(),
            count: u64::MAX,
            disposition: "none".into(),
            dkim: Some("pass".into()),
            spf: None,
            reasons: Vec::new(),
            header_from: "example.com".into(),
            envelope_from: envelope_from.map(str::to_string),
            envelope_to: None,
            dkim_results: Vec::new(),
            spf_results: Vec::new(),
        }
    }

    /// The stream PostgreSQL's binary COPY reads: signature, 11 fields a
    /// tuple, big-endian lengths, -1 for NULL, an INTEGER tenant in 4
    /// bytes, a count saturated as the `Any` path binds it, the trailer.
    #[test]
    fn rows_encode_as_binary_copy_tuples() {
        let r = record(Some("b.example"));
        let mut out = HEADER.to_vec();
        encode_rows(
            &mut out,
            7,
            1,
            &[Row {
                record: &r,
                ip: "192.0.2.1",
                auth: "{}",
            }],
        )
        .unwrap();
        out.extend_from_slice(&TRAILER);
        let mut want = HEADER.to_vec();
        want.extend_from_slice(&11i16.to_be_bytes());
        for (len, bytes) in [
            (8, 7i64.to_be_bytes().to_vec()),
            (4, 1i32.to_be_bytes().to_vec()),
            (9, b"192.0.2.1".to_vec()),
            (8, i64::MAX.to_be_bytes().to_vec()),
            (4, b"none".to_vec()),
            (4, b"pass".to_vec()),
            (-1, Vec::new()),
            (11, b"example.com".to_vec()),
            (9, b"b.example".to_vec()),
            (-1, Vec::new()),
            (2, b"{}".to_vec()),
        ] {
            want.extend_from_slice(&i32::to_be_bytes(len));
            want.extend_from_slice(&bytes);
        }
        want.extend_from_slice(&(-1i16).to_be_bytes());
        assert_eq!(out, want);
        assert_eq!(&out[..11], b"PGCOPY\n\xff\r\n\0");
    }

    /// `tenant_id` is INTEGER: a tenant id beyond it is refused before
    /// anything is sent, not wrapped into another tenant's.
    #[test]
    fn a_tenant_beyond_integer_is_refused_not_wrapped() {
        let r = record(None);
        let rows = [Row {
            record: &r,
            ip: "192.0.2.1",
            auth: "{}",
        }];
        let mut out = Vec::new();
        assert!(encode_rows(&mut out, 7, i64::from(i32::MAX) + 1, &rows).is_err());
        assert!(out.is_empty());
        assert!(encode_rows(&mut out, 7, i64::from(i32::MAX), &rows).is_ok());
    }
}

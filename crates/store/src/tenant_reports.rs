//! The imported reports of one tenant's domain (issue 16, the senders and
//! TLS pages): the same reads as [`crate::reports_query`], but only of
//! reports imported under the domain's tenant (`reports.tenant_id`), and
//! only for an [`OwnedDomain`], so the web service cannot read another
//! tenant's reports even about a domain name both imported.

use mailwarden_ingest::aggregate::PolicyPublished;

use crate::reports_query::{self, ROW_COLUMNS, ReportRow, RowTuple, StoredRecord, StoredTlsPolicy};
use crate::tenant::OwnedDomain;
use crate::{Store, StoreError};

/// The domain's reports of `kind` imported under its tenant whose period
/// ends at or after `since`, oldest period first.
async fn list(
    store: &Store,
    domain: &OwnedDomain,
    kind: &str,
    since: Option<i64>,
) -> Result<Vec<ReportRow>, StoreError> {
    let rows: Vec<RowTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROW_COLUMNS} FROM reports
         WHERE tenant_id = $1 AND domain = $2 AND kind = $3 AND end_at >= $4
         ORDER BY begin_at, id"
    )))
    .bind(domain.tenant().id())
    .bind(domain.name())
    .bind(kind)
    .bind(since.unwrap_or(i64::MIN))
    .fetch_all(store.pool())
    .await?;
    rows.into_iter().map(ReportRow::from_tuple).collect()
}

/// [`reports_query::for_each_aggregate`] over the tenant's reports only.
pub async fn for_each_aggregate(
    store: &Store,
    domain: &OwnedDomain,
    since: Option<i64>,
    each: impl FnMut(&ReportRow, Option<&PolicyPublished>, Vec<StoredRecord>),
) -> Result<usize, StoreError> {
    let reports = list(store, domain, "aggregate", since).await?;
    reports_query::walk_aggregates(store, &reports, each).await?;
    Ok(reports.len())
}

/// [`reports_query::tls_policies`] over the tenant's reports only.
pub async fn tls_policies(
    store: &Store,
    domain: &OwnedDomain,
    since: Option<i64>,
) -> Result<Vec<(ReportRow, StoredTlsPolicy)>, StoreError> {
    let mut out = Vec::new();
    for report in list(store, domain, "tlsrpt", since).await? {
        for policy in reports_query::tls_of(store, report.row_id).await? {
            out.push((report.clone(), policy));
        }
    }
    Ok(out)
}

/// [`reports_query::aggregate_summary_of`] over the tenant's reports only.
pub async fn aggregate_summary(
    store: &Store,
    domain: &OwnedDomain,
    since: Option<i64>,
) -> Result<reports_query::AggregateSummary, StoreError> {
    let scope = reports_query::AggregateScope {
        tenant: Some(domain.tenant().id()),
        domain: domain.name(),
        since,
    };
    reports_query::aggregate_summary(store, scope).await
}

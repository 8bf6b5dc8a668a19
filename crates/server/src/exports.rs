//! Exports (issue 16): every table the pages show as CSV or JSON, for the
//! caller's tenant only. Tenant-wide: `domains`, `alerts`, `audit`
//! (auditor and admin, like the page); per domain (another tenant's: 404):
//! `findings`, `history`, `senders`, `tls`. Served to the API
//! (`/api/v1/export/{table}`, `/api/v1/domains/{domain}/export/{table}`,
//! Bearer) and to the pages (the same paths without `/api/v1`, session).
//!
//! CSV is RFC 4180 ("Each field may or may not be enclosed in double
//! quotes ... Fields containing line breaks (CRLF), double quotes, and
//! commas should be enclosed in double-quotes", §2), with the cells a
//! spreadsheet would run as a formula (starting `=`, `+`, `-`, `@`)
//! prefixed by `'` ([`mailwarden_render::csv::field`]).

use std::collections::HashMap;

use axum::extract::{MatchedPath, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mailwarden_render::csv;
use mailwarden_store::tenant_data::{self, Page};
use mailwarden_store::user::Principal;
use serde_json::{Value, json};

use crate::api::ApiRoute;
use crate::auth::{ApiCaller, PageCaller};
use crate::problem::Problem;
use crate::{AppState, api, report_views, views};

/// Every row of a list (exports are not paged).
const ALL: Page = Page {
    limit: 1_000_000,
    offset: 0,
};

/// The tenant-wide tables and the per-domain ones, for the OpenAPI text.
const TENANT_TABLES: &str = "`domains`, `alerts`, `audit` (auditor, admin)";
const DOMAIN_TABLES: &str = "`findings`, `history`, `senders`, `tls`";

/// A table: its name, its CSV columns (keys of each row), its rows.
struct Table {
    name: String,
    columns: &'static [&'static str],
    rows: Vec<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
}

fn format(query: &HashMap<String, String>) -> Result<Format, Problem> {
    match query.get("format").map(String::as_str) {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(other) => Err(Problem::bad_request(format!("format={other:?}: expected csv or json"))),
    }
}

/// A cell's text: strings as they are, lists joined by spaces, other
/// values as JSON, nothing for null.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// The table as CSV: a header row, then one line per row, CRLF-ended.
fn to_csv(t: &Table) -> String {
    let mut out = t.columns.join(",") + "\r\n";
    for row in &t.rows {
        let cells: Vec<String> = t.columns.iter().map(|c| csv::field(&cell(&row[*c]))).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

fn respond(t: &Table, format: Format) -> Response {
    let (body, mime, ext) = match format {
        Format::Csv => (to_csv(t), "text/csv; charset=utf-8", "csv"),
        Format::Json => (
            serde_json::to_string_pretty(&json!({"table": t.name, "items": t.rows})).unwrap_or_default() + "\n",
            "application/json",
            "json",
        ),
    };
    let file = format!(
        "attachment; filename=\"{}.{ext}\"",
        t.name.replace(['"', '/', '\\'], "_")
    );
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&file) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

fn rows<T: serde::Serialize>(items: &[T]) -> Result<Vec<Value>, Problem> {
    items
        .iter()
        .map(|i| serde_json::to_value(i).map_err(|e| Problem::internal(&e)))
        .collect()
}

/// A tenant-wide table.
async fn tenant_table(state: &AppState, who: &Principal, table: &str) -> Result<Table, Problem> {
    let scope = who.scope;
    let (columns, rows): (&'static [&'static str], Vec<Value>) = match table {
        "domains" => {
            let list = tenant_data::domains(&state.store, scope).await?;
            let rows = list
                .iter()
                .map(|d| {
                    json!({"domain": d.domain, "monitored": d.monitored, "score": d.score, "last_scan": d.last_scan,
                           "failing": d.failing, "open_alerts": d.open_alerts,
                           "verdicts": d.verdicts.iter().map(|(p, v)| format!("{p}:{v}")).collect::<Vec<_>>(),
                           "worst_findings": d.worst_findings.iter().map(|f| f.rule_id.clone()).collect::<Vec<_>>()})
                })
                .collect();
            (
                &[
                    "domain",
                    "monitored",
                    "score",
                    "last_scan",
                    "verdicts",
                    "failing",
                    "worst_findings",
                    "open_alerts",
                ],
                rows,
            )
        }
        "alerts" => (
            &[
                "id",
                "created_at",
                "domain",
                "trigger",
                "severity",
                "summary",
                "state",
                "attempts",
                "last_error",
            ],
            rows(&tenant_data::alerts(&state.store, scope, ALL).await?.items)?,
        ),
        "audit" => {
            if !who.role.may_audit() {
                return Err(Problem::forbidden("export the audit log"));
            }
            (
                &["seq", "at", "kind", "domain", "content"],
                rows(&tenant_data::audit_events(&state.store, scope, ALL).await?.items)?,
            )
        }
        other => return Err(no_table(other, TENANT_TABLES)),
    };
    Ok(Table {
        name: table.to_owned(),
        columns,
        rows,
    })
}

fn no_table(name: &str, known: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        format!("no export called {name:?}; the exports here: {known}"),
    )
}

/// A table of one of the caller's domains (404 first when it is not theirs).
async fn domain_table(state: &AppState, who: &Principal, name: &str, table: &str) -> Result<Table, Problem> {
    let d = api::owned(state, who, name).await?;
    let (columns, rows): (&'static [&'static str], Vec<Value>) = match table {
        "findings" => (
            &["rule_id", "outcome", "severity", "subject", "message"],
            rows(
                &tenant_data::detail(&state.store, &d)
                    .await?
                    .map(|x| x.findings)
                    .unwrap_or_default(),
            )?,
        ),
        "history" => {
            let steps = tenant_data::history(&state.store, &d).await?;
            let rows = steps
                .iter()
                .map(|s| {
                    let m = &s.snapshot;
                    json!({"snapshot": m.id, "first_seen": m.first_seen_at, "last_seen": m.last_seen_at,
                           "seen_count": m.seen_count, "score": m.score,
                           "record_changes": s.changes.len(), "finding_changes": s.findings.len()})
                })
                .collect();
            (
                &[
                    "snapshot",
                    "first_seen",
                    "last_seen",
                    "seen_count",
                    "score",
                    "record_changes",
                    "finding_changes",
                ],
                rows,
            )
        }
        "senders" => {
            let view = report_views::senders(&state.store, &d, None).await?;
            let rows = view
                .report
                .senders
                .iter()
                .flat_map(|s| {
                    s.sources.iter().map(move |x| {
                        json!({"sender": s.name, "class": s.class.as_str(), "ip": x.ip, "messages": x.messages,
                               "spf_pass": x.spf_pass, "dkim_pass": x.dkim_pass, "spf_aligned": x.spf_aligned,
                               "dkim_aligned": x.dkim_aligned, "dmarc_pass": x.dmarc_pass, "in_spf": x.in_spf,
                               "reporters": x.reporters, "first_seen": x.first_seen, "last_seen": x.last_seen})
                    })
                })
                .collect();
            (
                &[
                    "sender",
                    "class",
                    "ip",
                    "messages",
                    "spf_pass",
                    "dkim_pass",
                    "spf_aligned",
                    "dkim_aligned",
                    "dmarc_pass",
                    "in_spf",
                    "reporters",
                    "first_seen",
                    "last_seen",
                ],
                rows,
            )
        }
        "tls" => {
            let view = report_views::tls(&state.store, &d, None).await?;
            let days = &view.sessions.days;
            let rows = view
                .sessions
                .series
                .iter()
                .flat_map(|s| {
                    days.iter()
                        .zip(&s.values)
                        .filter(|(_, n)| **n > 0)
                        .map(|(day, n)| json!({"day": day, "result": s.name, "sessions": n}))
                })
                .collect();
            (&["day", "result", "sessions"], rows)
        }
        other => return Err(no_table(other, DOMAIN_TABLES)),
    };
    Ok(Table {
        name: format!("{}-{table}", d.name()),
        columns,
        rows,
    })
}

const FORMAT: &[(&str, &str, &str)] = &[(
    "format",
    "string",
    "`json` (default) or `csv` (cells a spreadsheet would run as a formula are prefixed with ').",
)];

/// An API route `/export/TABLE`: one concrete path per table, so the
/// OpenAPI document lists each; the handler reads the table off the path.
pub(crate) const fn tenant_route(path: &'static str, summary: &'static str, roles: &'static str) -> ApiRoute {
    ApiRoute {
        method: "get",
        path,
        summary,
        query: FORMAT,
        body: None,
        roles,
        handler: || get(api_tenant_export),
    }
}

/// An API route `/domains/{domain}/export/TABLE`.
pub(crate) const fn domain_route(path: &'static str, summary: &'static str) -> ApiRoute {
    ApiRoute {
        method: "get",
        path,
        summary,
        query: FORMAT,
        body: None,
        roles: "any",
        handler: || get(api_domain_export),
    }
}

/// The table a concrete export route serves: its path's last segment.
fn table_of(path: &MatchedPath) -> &str {
    path.as_str().rsplit('/').next().unwrap_or_default()
}

/// `GET /api/v1/export/{table}?format=csv|json`.
async fn api_tenant_export(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    path: MatchedPath,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let format = format(&q)?;
    Ok(respond(&tenant_table(&state, &who, table_of(&path)).await?, format))
}

/// `GET /api/v1/domains/{domain}/export/{table}?format=csv|json`.
async fn api_domain_export(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    path: MatchedPath,
    Path(domain): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let format = format(&q)?;
    Ok(respond(
        &domain_table(&state, &who, &domain, table_of(&path)).await?,
        format,
    ))
}

/// A problem as a page (the browser's downloads).
fn page_problem(p: &Problem) -> Response {
    views::error_page(p.status, &p.detail)
}

/// `GET /export/{table}` for a signed-in user.
pub(crate) async fn page_tenant_export(
    State(state): State<AppState>,
    c: PageCaller,
    Path(table): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let result = async { Ok::<_, Problem>(respond(&tenant_table(&state, &c.principal, &table).await?, format(&q)?)) };
    result.await.unwrap_or_else(|p| page_problem(&p))
}

/// `GET /domains/{domain}/export/{table}` for a signed-in user.
pub(crate) async fn page_domain_export(
    State(state): State<AppState>,
    c: PageCaller,
    Path((domain, table)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let result = async {
        Ok::<_, Problem>(respond(
            &domain_table(&state, &c.principal, &domain, &table).await?,
            format(&q)?,
        ))
    };
    result.await.unwrap_or_else(|p| page_problem(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_prefixed_and_quoted() {
        let t = Table {
            name: "t".into(),
            columns: &["a", "b", "c"],
            rows: vec![
                json!({"a": "=HYPERLINK(\"x\")", "b": ["@SUM(1)", "y"], "c": null}),
                json!({"a": -3, "b": "+1", "c": "ok, fine"}),
            ],
        };
        assert_eq!(
            to_csv(&t),
            "a,b,c\r\n\"'=HYPERLINK(\"\"x\"\")\",'@SUM(1) y,\r\n'-3,'+1,\"ok, fine\"\r\n"
        );
    }

    #[test]
    fn the_format_is_csv_or_json_and_nothing_else() {
        let q = |v: &str| HashMap::from([("format".to_owned(), v.to_owned())]);
        assert_eq!(format(&q("csv")).unwrap(), Format::Csv);
        assert_eq!(format(&HashMap::new()).unwrap(), Format::Json);
        assert!(format(&q("xlsx")).unwrap_err().detail.contains("expected csv or json"));
    }
}

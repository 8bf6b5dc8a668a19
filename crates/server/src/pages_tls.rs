//! The TLS page (`/domains/{domain}/tls`) and its API
//! (`/api/v1/domains/{domain}/tls`): the TLS-RPT sessions (RFC 8460) of the
//! reports imported under the caller's tenant, per day by result type as
//! an SVG chart, per policy (MX hosts) and per receiving MX. Another
//! tenant's domain: 404 like a missing one.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{Html, Response};
use mailwarden_senders::tls_joins::TlsJoins;
use maud::{Markup, PreEscaped, html};

use crate::auth::{ApiCaller, PageCaller};
use crate::problem::Problem;
use crate::report_views::{TlsView, api_view, page_view, tls};
use crate::views::{Nav, page};
use crate::{AppState, chart_series};

/// `GET /api/v1/domains/{domain}/tls[?since=DATE]`.
pub(crate) async fn api_tls(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    api_view(&state, &who, &name, &q, tls).await
}

/// `GET /domains/{domain}/tls[?since=DATE]`.
pub(crate) async fn page_tls(
    State(state): State<AppState>,
    c: PageCaller,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    page_view(&state, &c, &name, &q, tls, render).await
}

fn rate(failed: u64, successful: u64) -> String {
    match failed + successful {
        0 => "–".into(),
        total => format!("{:.1}%", failed as f64 * 100.0 / total as f64),
    }
}

/// Each failure beside the scan of its MX then (never a made-up one),
/// and the reporters still on a replaced MTA-STS policy.
fn joins(j: &TlsJoins) -> Markup {
    html! {
        @if !j.failures.is_empty() {
            h2 { "Failures beside the scan of that MX at that time" }
            table id="failure-scans" {
                thead { tr { th { "Period" } th { "Receiving MX" } th { "Result type" } th { "Failed" } th { "The scan then" } } }
                tbody { @for f in &j.failures { tr {
                    td { (day(f.begin)) } td { code { (f.mx.as_deref().unwrap_or("–")) } }
                    td { (f.result_type) } td.num { (f.failed_sessions) }
                    td { @match &f.scan {
                        None => "No scan of the domain in that period.",
                        Some(_) if f.findings.is_empty() => { "No finding of " (f.related_rules.join(", ")) " for this MX." },
                        Some(_) => ul.compact { @for x in &f.findings { li { code { (x.rule_id) } ": " (x.outcome) " on " (x.subject) } } },
                    } }
                } } }
            }
        }
        @if !j.stale_policies.is_empty() {
            h2 { "Reporters still on a replaced MTA-STS policy" }
            ul id="stale-policies" { @for p in &j.stale_policies { li {
                (p.reporter) " (report " code { (p.report_id) } ", " (day(p.begin)) "): the policy of id " code { (p.old_id) }
                "; id " code { (p.current_id) } " published since " (p.changed_at)
            } } }
        }
    }
}

fn day(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch).map_or_else(|_| epoch.to_string(), |t| t.date().to_string())
}

fn render(nav: &Nav<'_>, v: &TlsView, since: &str) -> Html<String> {
    let name = v.domain.as_str();
    let chart = chart_series::lines(
        "sessions",
        &format!("TLS sessions per day to {name}, by result"),
        &v.sessions.days,
        &v.sessions.series,
    );
    page(
        &format!("{name}: TLS reports"),
        Some(nav),
        html! {
            p { a href={ "/domains/" (name) } { "Back to " (name) } " · "
                a href={ "/domains/" (name) "/senders" } { "Senders" } " · Export: "
                a href={ "/domains/" (name) "/export/tls?format=csv" } { "CSV" } " "
                a href={ "/domains/" (name) "/export/tls?format=json" } { "JSON" } }
            form.filter method="get" action={ "/domains/" (name) "/tls" } {
                label for="since" { "Reports since (date)" }
                input id="since" name="since" type="date" value=(since);
                button type="submit" { "Show" }
            }
            p id="summary" { (v.reports) " TLS reports." }
            @if v.reports == 0 {
                p { "No TLS reports (RFC 8460) imported for this domain yet." }
            } @else {
                h2 { "Sessions per day by result" }
                (PreEscaped(chart))
                h2 { "By policy" }
                table id="policies" {
                    thead { tr { th { "Policy" } th { "MX hosts" } th { "Successful" } th { "Failed" } th { "Failure rate" } th { "Reporters" } } }
                    tbody { @for p in &v.policies { tr {
                        td { (p.policy_type) }
                        td { @if p.mx_hosts.is_empty() { "–" } @for h in &p.mx_hosts { code { (h) } " " } }
                        td.num { (p.successful) } td.num { (p.failed) } td { (rate(p.failed, p.successful)) }
                        td { (p.reporters.iter().cloned().collect::<Vec<_>>().join(", ")) }
                    } } }
                }
                h2 { "Failures by MX and result type" }
                @if v.mx.is_empty() { p.muted { "No failure details reported." } }
                table id="mx" {
                    thead { tr { th { "Receiving MX" } th { "Failed sessions" } th { "Result types" } } }
                    tbody { @for m in &v.mx { tr {
                        td { code { (m.mx) } } td.num { (m.failed) }
                        td { ul.compact { @for (kind, n) in &m.results { li { (kind) ": " (n) } } } }
                    } } }
                }
                (joins(&v.joins))
            }
        },
    )
}

//! The senders page (`/domains/{domain}/senders`) and its API
//! (`/api/v1/domains/{domain}/senders`): the inventory `mailwarden senders`
//! prints, from the reports imported under the caller's tenant, with the
//! messages per day per sender as an SVG chart drawn here, pass and
//! alignment per sender, and the "in SPF but never seen" / "seen but not
//! in SPF" lists. Another tenant's domain: 404 like a missing one.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{Html, Response};
use mailwarden_senders::inventory::Sender;
use maud::{Markup, PreEscaped, html};

use crate::auth::{ApiCaller, PageCaller};
use crate::problem::Problem;
use crate::report_views::{SendersView, api_view, page_view, senders};
use crate::views::{Nav, page};
use crate::{AppState, chart_series};

/// `GET /api/v1/domains/{domain}/senders[?since=DATE]`.
pub(crate) async fn api_senders(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    api_view(&state, &who, &name, &q, senders).await
}

/// `GET /domains/{domain}/senders[?since=DATE]`.
pub(crate) async fn page_senders(
    State(state): State<AppState>,
    c: PageCaller,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    page_view(&state, &c, &name, &q, senders, render).await
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "–".into();
    }
    format!("{:.0}%", part as f64 * 100.0 / whole as f64)
}

/// A count with its share: "12 (40%)".
fn share(part: u64, whole: u64) -> Markup {
    html! { (part) " " span.muted { "(" (percent(part, whole)) ")" } }
}

/// The class in words (never colour alone).
fn class_label(s: &Sender) -> &'static str {
    match s.class.as_str() {
        "authorised-aligned" => "authorised, aligned",
        "authorised-failing" => "authorised, failing DMARC",
        _ => "NOT authorised by SPF",
    }
}

fn sender_row(s: &Sender) -> Markup {
    let spf_aligned: u64 = s.sources.iter().map(|x| x.spf_aligned).sum();
    let dkim_aligned: u64 = s.sources.iter().map(|x| x.dkim_aligned).sum();
    let m = s.messages;
    html! {
        tr class={ "sender class-" (s.class.as_str()) } {
            td { (s.name) br; span.muted { "by " (s.identified_by) } }
            td { (class_label(s)) }
            td.num { (m) }
            td { (share(s.spf_pass, m)) }
            td { (share(s.dkim_pass, m)) }
            td { (share(spf_aligned, m)) }
            td { (share(dkim_aligned, m)) }
            td { strong { (share(s.dmarc_pass, m)) } }
            td {
                ul.compact { @for x in s.sources.iter().take(5) {
                    li { code { (x.ip) } " (" (x.messages) ")" @if x.in_spf == Some(false) { " " strong { "not in SPF" } }
                        @if let Some(r) = &x.rdns { " " span class={ "rdns rdns-" (r.state()) } { (r.label()) } } }
                } }
                @if s.sources.len() > 5 { span.muted { "and " (s.sources.len() - 5) " more" } }
            }
        }
    }
}

fn list(id: &str, title: &str, empty: &str, items: &[String]) -> Markup {
    html! {
        section id=(id) {
            h2 { (title) " (" (items.len()) ")" }
            @if items.is_empty() { p.muted { (empty) } }
            ul { @for i in items { li { code { (i) } } } }
        }
    }
}

fn render(nav: &Nav<'_>, v: &SendersView, since: &str) -> Html<String> {
    let r = &v.report;
    let name = r.domain.as_str();
    let chart = chart_series::lines(
        "volume",
        &format!("Messages per day from each sender of {name}"),
        &v.volume.days,
        &v.volume.series,
    );
    page(
        &format!("{name}: senders"),
        Some(nav),
        html! {
            p { a href={ "/domains/" (name) } { "Back to " (name) } " · "
                a href={ "/domains/" (name) "/tls" } { "TLS reports" } " · Export: "
                a href={ "/domains/" (name) "/export/senders?format=csv" } { "CSV" } " "
                a href={ "/domains/" (name) "/export/senders?format=json" } { "JSON" } }
            form.filter method="get" action={ "/domains/" (name) "/senders" } {
                label for="since" { "Reports since (date)" }
                input id="since" name="since" type="date" value=(since);
                button type="submit" { "Show" }
            }
            p id="summary" { (r.messages) " messages from " (r.senders.len()) " senders in " (r.reports) " aggregate reports." }
            @match &r.configuration {
                Some(c) => p { "Configuration from the scan of " (c.scanned_at.as_deref().unwrap_or("–")) ": SPF "
                               code { (c.spf_record.as_deref().unwrap_or("(none)")) } },
                None => p { "No stored scan of " (name) ": a sender counts as authorised when the reporters saw SPF pass." },
            }
            @if r.reports == 0 {
                p { "No aggregate reports imported for this domain yet. "
                    code { "mailwarden reports import --tenant NAME FILE" } " imports some." }
            } @else {
                h2 { "Messages per day" }
                (PreEscaped(chart))
                h2 { "Senders" }
                table.senders id="senders" {
                    thead { tr {
                        th { "Sender" } th { "Class" } th { "Messages" } th { "SPF pass" } th { "DKIM pass" }
                        th { "SPF aligned" } th { "DKIM aligned" } th { "DMARC pass" } th { "Sources" }
                    } }
                    tbody { @for s in &r.senders { (sender_row(s)) } }
                }
            }
            (list("in-spf-never-seen", "In SPF but never seen", "Every SPF term was seen sending (or there is no scan).", &r.joins.in_spf_never_seen))
            (list("seen-not-in-spf", "Seen but not in SPF", "Every source that passed is covered by the SPF record.", &r.joins.seen_passing_not_in_spf))
            (list("seen-only-dkim", "Seen passing only with DKIM", "None.", &r.joins.seen_only_with_dkim))
        },
    )
}

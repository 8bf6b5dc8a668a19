//! The pages' HTML (maud: compiled into the binary, every value escaped).
//! No script anywhere; forms post to this origin; one stylesheet.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use mailwarden_policy::Catalogue;
use mailwarden_store::baseline::Baseline;
use mailwarden_store::tenant_data::{AlertRow, AuditRow, DomainDetail, DomainSummary, Paged};
use mailwarden_store::timeline::{Diff, Step};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::Value;

use crate::chart;

/// The signed-in user, for the navigation bar and the logout form.
pub struct Nav<'a> {
    pub email: &'a str,
    pub role: &'a str,
    pub csrf: &'a str,
    pub may_audit: bool,
    pub may_administer: bool,
    /// Analyst or admin: may add domains (web-ops).
    pub may_change: bool,
}

pub(crate) fn page(title: &str, nav: Option<&Nav<'_>>, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · mailwarden" }
                    link rel="stylesheet" href="/static/style.css";
                }
                body {
                    header {
                        a.brand href="/domains" { "mailwarden" }
                        @if let Some(nav) = nav {
                            nav aria-label="Main" {
                                a href="/domains" { "Domains" }
                                a href="/alerts" { "Alerts" }
                                @if nav.may_audit { a href="/audit" { "Audit log" } }
                                @if nav.may_administer { a href="/admin" { "Users and tokens" } }
                            }
                            form.logout method="post" action="/logout" {
                                span { (nav.email) " (" (nav.role) ")" }
                                input type="hidden" name="csrf" value=(nav.csrf);
                                button type="submit" id="logout" { "Log out" }
                            }
                        }
                    }
                    main id="main" { h1 { (title) } (body) }
                }
            }
        }
        .into_string(),
    )
}

pub fn login(csrf: &str, message: Option<&str>) -> Html<String> {
    page(
        "Log in",
        None,
        html! {
            @if let Some(m) = message { p.error role="alert" { (m) } }
            form.login method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                label for="email" { "E-mail" }
                input id="email" name="email" type="email" autocomplete="username" required;
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                button type="submit" id="login" { "Log in" }
            }
        },
    )
}

pub fn error_page(status: StatusCode, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    (
        status,
        page(
            title,
            None,
            html! { p { (message) } p { a href="/domains" { "Back to the domains" } } },
        ),
    )
        .into_response()
}

pub(crate) fn severity(s: &str) -> Markup {
    html! { span class={ "sev sev-" (s) } { (s) } }
}

fn verdicts(v: &[(String, String)]) -> Markup {
    html! {
        @for (profile, verdict) in v {
            span class={ "verdict verdict-" (verdict) } { (profile) ": " (verdict) } " "
        }
    }
}

fn score(s: Option<i64>) -> Markup {
    html! { @match s { Some(n) => span.score { (n) }, None => span.muted { "–" } } }
}

pub fn domains(nav: &Nav<'_>, list: &[DomainSummary], q: &str, sort: &str) -> Html<String> {
    page(
        "Domains",
        Some(nav),
        html! {
            @if nav.may_change { p { a href="/domains/new" id="add-domain-link" { "Add a domain" } } }
            form.filter method="get" action="/domains" {
                label for="q" { "Filter" }
                input id="q" name="q" value=(q);
                label for="sort" { "Sort by" }
                select id="sort" name="sort" {
                    option value="name" selected[sort != "score"] { "name" }
                    option value="score" selected[sort == "score"] { "score (lowest first)" }
                }
                button type="submit" { "Apply" }
            }
            p.exports { "Export: " a href="/export/domains?format=csv" { "CSV" } " " a href="/export/domains?format=json" { "JSON" } }
            @if list.is_empty() {
                p { "No domains yet. " code { "mailwarden monitor add DOMAIN --tenant NAME" } " adds one." }
            } @else {
                table.domains {
                    thead { tr { th { "Domain" } th { "Score" } th { "Verdicts" } th { "Worst findings" } th { "Last scan" } th { "Open alerts" } } }
                    tbody {
                        @for d in list {
                            tr {
                                td { a href={ "/domains/" (d.domain) } { (d.domain) } }
                                td { (score(d.score)) }
                                td { (verdicts(&d.verdicts)) }
                                td {
                                    @if d.worst_findings.is_empty() { span.muted { "none failing" } }
                                    ul.compact { @for f in &d.worst_findings { li { (severity(&f.severity)) " " code { (f.rule_id) } } } }
                                    @if d.failing > 3 { span.muted { "and " (d.failing - 3) " more" } }
                                }
                                td { (d.last_scan.as_deref().unwrap_or("never")) }
                                td { (d.open_alerts) }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub fn domain(nav: &Nav<'_>, name: &str, detail: Option<&DomainDetail>) -> Html<String> {
    let catalogue = Catalogue::builtin();
    page(
        name,
        Some(nav),
        html! {
            p { a href={ "/domains/" (name) "/history" } id="history-link" { "History, changes and approval" }  " · "
                a href={ "/domains/" (name) "/senders" } id="senders-link" { "Senders" } " · "
                a href={ "/domains/" (name) "/tls" } id="tls-link" { "TLS reports" } }
            p.exports { "Export the findings: " a href={ "/domains/" (name) "/export/findings?format=csv" } { "CSV" } " "
                a href={ "/domains/" (name) "/export/findings?format=json" } { "JSON" }
                " · The scan report: " a href={ "/domains/" (name) "/report.html" } id="report-html-link" { "HTML" } " "
                a href={ "/domains/" (name) "/report.sarif" } id="report-sarif-link" { "SARIF" }
                @if nav.may_audit { " · " a href={ "/domains/" (name) "/evidence.zip" } id="evidence-link" { "Evidence bundle (zip)" } } }
            p { a href={ "/domains/" (name) "/manage" } id="manage-link" { "Monitoring and ownership" } }
            @match detail {
                None => p { "Not scanned yet." },
                Some(d) => {
                    dl.facts {
                        dt { "Score" } dd { (score(d.score)) }
                        dt { "Verdicts" } dd { (verdicts(&d.verdicts)) }
                        dt { "Last scan" } dd { (d.last_scan) " (snapshot " (d.snapshot_id) ", seen " (d.seen_count) " times since " (d.first_seen) ")" }
                    }
                    @for (area, findings) in by_area(catalogue, &d.findings) {
                        section.area {
                            h2 { (area) }
                            @for f in findings {
                                article class={ "finding outcome-" (f.outcome) } {
                                    h3 { (severity(&f.severity)) " " (f.outcome) " " code { (f.rule_id) } }
                                    p { strong { (f.subject) } ": " (f.message) }
                                    @if let Some(rule) = catalogue.get(&f.rule_id) {
                                        @if f.outcome == "fail" { p.remediation { strong { "Remediation: " } (rule.remediation) } }
                                        p.refs { @for r in &rule.references { span { (r) } " " } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

type StoredFinding = mailwarden_store::snapshot::StoredFinding;

/// Findings grouped by the catalogue's area (areas by title), failing first within each.
fn by_area<'a>(catalogue: &Catalogue, findings: &'a [StoredFinding]) -> Vec<(&'static str, Vec<&'a StoredFinding>)> {
    let mut groups: Vec<(&'static str, Vec<&StoredFinding>)> = Vec::new();
    for f in findings {
        let title = catalogue.area_of(&f.rule_id).title();
        match groups.iter_mut().find(|(t, _)| *t == title) {
            Some((_, v)) => v.push(f),
            None => groups.push((title, vec![f])),
        }
    }
    groups.sort_by_key(|(t, _)| *t);
    groups
}

/// What the history page shows.
pub struct History<'a> {
    pub name: &'a str,
    pub steps: &'a [Step],
    pub diff: Option<&'a Diff>,
    pub baselines: &'a [Baseline],
    pub may_change: bool,
    pub notice: Option<&'a str>,
}

pub fn history(nav: &Nav<'_>, h: &History<'_>) -> Html<String> {
    let points: Vec<(String, i64)> = h
        .steps
        .iter()
        .filter_map(|s| {
            s.snapshot
                .score
                .map(|sc| (format!("snapshot {} ({})", s.snapshot.id, s.snapshot.first_seen_at), sc))
        })
        .collect();
    let name = h.name;
    page(
        &format!("{name}: history"),
        Some(nav),
        html! {
            @if let Some(n) = h.notice { p.notice role="status" { (n) } }
            p { a href={ "/domains/" (name) } { "Back to " (name) } " · Export the timeline: "
                a href={ "/domains/" (name) "/export/history?format=csv" } { "CSV" } " "
                a href={ "/domains/" (name) "/export/history?format=json" } { "JSON" } }
            h2 { "Score over time" }
            (PreEscaped(chart::score_line(&format!("Score of {name} per snapshot"), &points)))
            h2 { "Timeline" }
            table.timeline {
                thead { tr { th { "Snapshot" } th { "First seen" } th { "Last seen" } th { "Score" } th { "Changes" } } }
                tbody {
                    @for s in h.steps.iter().rev() {
                        tr {
                            td { (s.snapshot.id) }
                            td { (s.snapshot.first_seen_at) }
                            td { (s.snapshot.last_seen_at) " (" (s.snapshot.seen_count) "×)" }
                            td { (score(s.snapshot.score)) }
                            td { (s.changes.len()) " records, " (s.findings.len()) " findings" }
                        }
                    }
                }
            }
            (diff_form(name, h.steps, h.diff))
            @if let Some(d) = h.diff { (diff(d)) }
            h2 { "Baselines" }
            @if h.baselines.is_empty() { p { "No approved baseline yet." } }
            ul { @for b in h.baselines.iter().rev() {
                li { "Snapshot " (b.snapshot_id) ", approved " (b.approved_at) " by " (b.approved_by) ": " (b.reason) }
            } }
            @if h.may_change && !h.steps.is_empty() {
                form.approve method="post" action={ "/domains/" (name) "/approve" } {
                    input type="hidden" name="csrf" value=(nav.csrf);
                    label for="reason" { "Approve the latest snapshot as the baseline, because" }
                    input id="reason" name="reason" required;
                    button type="submit" id="approve" { "Approve" }
                }
            }
        },
    )
}

fn diff_form(name: &str, steps: &[Step], current: Option<&Diff>) -> Markup {
    let (from, to) = current.map_or((0, 0), |d| (d.from, d.to));
    html! {
        h2 { "Compare two scans" }
        form.filter method="get" action={ "/domains/" (name) "/history" } {
            label for="from" { "From" }
            select id="from" name="from" { @for s in steps { option value=(s.snapshot.id) selected[s.snapshot.id == from] { (s.snapshot.id) } } }
            label for="to" { "to" }
            select id="to" name="to" { @for s in steps { option value=(s.snapshot.id) selected[s.snapshot.id == to] { (s.snapshot.id) } } }
            button type="submit" { "Compare" }
        }
    }
}

fn diff(d: &Diff) -> Markup {
    html! {
        section.diff id="diff" {
            h3 { "Snapshot " (d.from) " → " (d.to) }
            @if d.changes.is_empty() && d.findings.is_empty() { p { "No difference." } }
            ul {
                @for c in &d.changes {
                    li.change { code { (c.name) " " (c.rtype) } ": " (short(&c.before)) " → " (short(&c.after))
                        @if let Some(n) = &c.note { " (" (n) ")" } }
                }
                @for f in &d.findings {
                    li.change { code { (f.id) } " " (f.subject) ": " (f.before.as_deref().unwrap_or("new")) " → " (f.after) }
                }
            }
        }
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn alerts(nav: &Nav<'_>, alerts: &Paged<AlertRow>) -> Html<String> {
    page(
        "Alerts",
        Some(nav),
        html! {
            p { a href="/alerts/destinations" id="destinations-link" { "Where alerts go (destinations)" } }
            p { (alerts.total) " alerts. Export: " a href="/export/alerts?format=csv" { "CSV" } " " a href="/export/alerts?format=json" { "JSON" } }
            table {
                thead { tr { th { "When" } th { "Domain" } th { "Trigger" } th { "Severity" } th { "Summary" } th { "Delivery" } } }
                tbody { @for a in &alerts.items {
                    tr {
                        td { (a.created_at) }
                        td { a href={ "/domains/" (a.domain) } { (a.domain) } }
                        td { (a.trigger) }
                        td { (severity(&a.severity)) }
                        td { (a.summary) }
                        td { (a.state) " after " (a.attempts) " attempts" @if let Some(e) = &a.last_error { br; span.muted { (e) } } }
                    }
                } }
            }
        },
    )
}

pub fn audit(nav: &Nav<'_>, verification: &Value, entries: &Paged<AuditRow>) -> Html<String> {
    let ok = verification["ok"].as_bool() == Some(true);
    page(
        "Audit log",
        Some(nav),
        html! {
            @if ok {
                p.verify-ok id="verification" { "The log verifies: " (verification["entries"]) " entries, signatures and hash tree intact (key " (verification["key_id"].as_str().unwrap_or("")) ")." }
            } @else {
                p.verify-bad id="verification" role="alert" { "The log does NOT verify: " (verification["problem"].as_str().unwrap_or("unknown problem")) }
            }
            p.exports { "Export: " a href="/export/audit?format=csv" { "CSV" } " " a href="/export/audit?format=json" { "JSON" } }
            table {
                thead { tr { th { "#" } th { "When" } th { "Event" } th { "Domain" } th { "Content" } } }
                tbody { @for e in &entries.items {
                    tr { td { (e.seq) } td { (e.at) } td { (e.kind) } td { (e.domain.as_deref().unwrap_or("")) }
                         td { code { (e.content.as_deref().unwrap_or("(erased)")) } } }
                } }
            }
        },
    )
}

pub fn admin(nav: &Nav<'_>, users: &[(String, String)], tokens: &[mailwarden_store::token::TokenInfo]) -> Html<String> {
    page(
        "Users and tokens",
        Some(nav),
        html! {
            p { "Add users with " code { "mailwarden user add EMAIL --tenant NAME --role ROLE --password-file FILE" }
                " and tokens with " code { "mailwarden token create --user EMAIL" } "." }
            h2 { "Users" }
            table { thead { tr { th { "E-mail" } th { "Role" } } }
                tbody { @for (email, role) in users { tr { td { (email) } td { (role) } } } } }
            h2 { "API tokens" }
            table { thead { tr { th { "Id" } th { "User" } th { "Created" } th { "Expires" } th { "State" } } }
                tbody { @for t in tokens { tr {
                    td { (t.id) } td { (t.email) } td { (t.created_at) }
                    td { (t.expires_at.as_deref().unwrap_or("never")) }
                    td { @match &t.revoked_at {
                        Some(at) => { "revoked " (at) },
                        None => form method="post" action={ "/admin/tokens/" (t.id) "/revoke" } {
                            input type="hidden" name="csrf" value=(nav.csrf);
                            button type="submit" id={ "revoke-" (t.id) } { "Revoke" }
                        },
                    } }
                } } } }
        },
    )
}

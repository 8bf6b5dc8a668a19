//! What the senders and TLS pages show, from the reports imported under
//! the domain's tenant only (`mailwarden_store::tenant_reports`): the
//! sender inventory of `mailwarden senders` with its volume per day, and
//! the TLS-RPT sessions per day by result type, per policy and per MX.
//! The folds are pure ([`volume`], [`tls_summary`]); the API, the pages
//! and the exports share them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use axum::Json;
use axum::response::{Html, IntoResponse, Response};
use mailwarden_senders::inventory::Sender;
use mailwarden_senders::rdns::Names;
use mailwarden_senders::tls_joins::{self, TlsJoins};
use mailwarden_senders::{Report, Reports, build_observed_named};
use mailwarden_store::reports_query::{ReportRow, StoredTlsPolicy};
use mailwarden_store::tenant::OwnedDomain;
use mailwarden_store::user::Principal;
use mailwarden_store::{Store, tenant_reports};
use serde::Serialize;

use crate::auth::PageCaller;
use crate::chart_series::Series;
use crate::problem::Problem;
use crate::views::{self, Nav};
use crate::{AppState, api, pages};

/// Senders drawn as their own line; the rest are summed as one.
pub const CHARTED_SENDERS: usize = 5;
/// Above this many days between the first and the last report, only the
/// days with reports are drawn (a stray old report must not make a chart
/// of ten thousand empty days).
const MAX_SPAN_DAYS: i64 = 400;

/// Values per day: the x labels (dates) and one series per line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PerDay {
    pub days: Vec<String>,
    pub series: Vec<Series>,
}

/// The senders page: the inventory and its messages per day per sender.
#[derive(Debug, Serialize)]
pub struct SendersView {
    #[serde(flatten)]
    pub report: Report,
    pub volume: PerDay,
}

/// Messages per (day since the epoch, source address).
type DayCounts = BTreeMap<(i64, String), u64>;

/// The inventory of the tenant's domain from its reports since `since`.
pub async fn senders(store: &Store, domain: &OwnedDomain, since: Option<i64>) -> Result<SendersView, Problem> {
    let mut counts = DayCounts::new();
    // The reverse DNS `mailwarden senders` looked up and cached; a page asks no DNS.
    let report = build_observed_named(store, Reports::Tenant(domain), since, Names::Cached, |report, row| {
        let ip = row
            .source_ip
            .parse::<IpAddr>()
            .map_or_else(|_| row.source_ip.clone(), |ip| ip.to_string());
        *counts.entry((report.begin.div_euclid(86_400), ip)).or_default() +=
            u64::try_from(row.count).unwrap_or_default();
    })
    .await
    .map_err(|e| Problem::internal(&format!("{e:#}")))?;
    let volume = volume(&report.senders, &counts);
    Ok(SendersView { report, volume })
}

/// The date of a day since the epoch.
fn date(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day.saturating_mul(86_400))
        .map_or_else(|_| day.to_string(), |t| t.date().to_string())
}

/// The days to draw: every day from the first to the last, or only those
/// with data when that span is too long.
fn day_axis(present: &BTreeSet<i64>) -> Vec<i64> {
    match (present.first(), present.last()) {
        (Some(&a), Some(&b)) if b - a <= MAX_SPAN_DAYS => (a..=b).collect(),
        _ => present.iter().copied().collect(),
    }
}

/// Messages per day of the [`CHARTED_SENDERS`] biggest senders, and of
/// all others as one series.
pub fn volume(senders: &[Sender], counts: &DayCounts) -> PerDay {
    let mut ranked: Vec<&Sender> = senders.iter().collect();
    ranked.sort_by(|a, b| b.messages.cmp(&a.messages).then_with(|| a.name.cmp(&b.name)));
    let others = ranked.len() > CHARTED_SENDERS;
    let mut line_of: HashMap<&str, usize> = HashMap::new();
    for (k, s) in ranked.iter().enumerate() {
        for src in &s.sources {
            line_of.insert(src.ip.as_str(), k.min(CHARTED_SENDERS));
        }
    }
    let present: BTreeSet<i64> = counts.keys().map(|(d, _)| *d).collect();
    let days = day_axis(&present);
    let index: HashMap<i64, usize> = days.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let lines = ranked.len().min(CHARTED_SENDERS) + usize::from(others);
    let mut values = vec![vec![0u64; days.len()]; lines];
    for ((day, ip), n) in counts {
        // A row the inventory did not fold (no sender) is not drawn either.
        if let (Some(&line), Some(&i)) = (line_of.get(ip.as_str()), index.get(day)) {
            values[line][i] += n;
        }
    }
    // One name can be two senders (the same organisation, in and out of
    // SPF): such lines say their class too, so no two lines read the same.
    let charted = &ranked[..ranked.len().min(CHARTED_SENDERS)];
    let names = charted
        .iter()
        .map(|s| {
            if charted.iter().filter(|o| o.name == s.name).count() > 1 {
                format!("{}, {}", s.name, s.class.as_str())
            } else {
                s.name.clone()
            }
        })
        .chain(others.then(|| format!("{} other senders", ranked.len() - CHARTED_SENDERS)));
    PerDay {
        days: days.into_iter().map(date).collect(),
        series: names
            .zip(values)
            .map(|(name, values)| Series { name, values })
            .collect(),
    }
}

/// The TLS sessions of one policy (type and MX hosts) over all reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyLine {
    pub policy_type: String,
    pub mx_hosts: Vec<String>,
    pub successful: u64,
    pub failed: u64,
    pub reporters: BTreeSet<String>,
}

/// The failed sessions reported against one receiving MX, by result type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MxLine {
    pub mx: String,
    pub failed: u64,
    pub results: BTreeMap<String, u64>,
}

/// The TLS page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsView {
    pub domain: String,
    pub reports: usize,
    /// Sessions per day: successful, then one series per failure result type.
    pub sessions: PerDay,
    pub policies: Vec<PolicyLine>,
    pub mx: Vec<MxLine>,
    /// Failures beside the scan of their MX then; stale MTA-STS policies.
    pub joins: TlsJoins,
}

/// The series name of successful sessions.
pub const SUCCESSFUL: &str = "successful";
/// Failed sessions a report counted without a failure detail.
pub const UNDETAILED: &str = "failed (result type not reported)";

/// The TLS reports of the tenant's domain since `since`.
pub async fn tls(store: &Store, domain: &OwnedDomain, since: Option<i64>) -> Result<TlsView, Problem> {
    let items = tenant_reports::tls_policies(store, domain, since).await?;
    let mut view = tls_summary(domain.name(), &items);
    view.joins = tls_joins::read(store, Reports::Tenant(domain), since)
        .await
        .map_err(|e| Problem::internal(&format!("{e:#}")))?;
    Ok(view)
}

/// Fold TLS policies into sessions per day by result type, per policy and per MX.
pub fn tls_summary(domain: &str, items: &[(ReportRow, StoredTlsPolicy)]) -> TlsView {
    let mut per_day: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
    let mut policies: BTreeMap<(String, Vec<String>), PolicyLine> = BTreeMap::new();
    let mut mx: BTreeMap<String, MxLine> = BTreeMap::new();
    let mut reports = BTreeSet::new();
    let mut add = |series: &str, day: i64, n: u64| {
        if n > 0 {
            *per_day.entry(series.to_owned()).or_default().entry(day).or_default() += n;
        }
    };
    for (report, p) in items {
        reports.insert(report.row_id);
        let day = report.begin.div_euclid(86_400);
        let ok = u64::try_from(p.successful).unwrap_or_default();
        let failed = u64::try_from(p.failed).unwrap_or_default();
        add(SUCCESSFUL, day, ok);
        let line = policies.entry((p.policy_type.clone(), p.mx_hosts.clone())).or_default();
        line.policy_type.clone_from(&p.policy_type);
        line.mx_hosts.clone_from(&p.mx_hosts);
        line.successful += ok;
        line.failed += failed;
        line.reporters.insert(report.reporter.clone());
        let mut detailed = 0;
        for f in &p.failures {
            detailed += f.failed_sessions;
            add(&f.result_type, day, f.failed_sessions);
            let host = f
                .receiving_mx_hostname
                .clone()
                .unwrap_or_else(|| "(not reported)".into());
            let m = mx.entry(host.clone()).or_default();
            m.mx = host;
            m.failed += f.failed_sessions;
            *m.results.entry(f.result_type.clone()).or_default() += f.failed_sessions;
        }
        add(UNDETAILED, day, failed.saturating_sub(detailed));
    }
    let present: BTreeSet<i64> = per_day.values().flat_map(|m| m.keys().copied()).collect();
    let days = day_axis(&present);
    // Successful first, then the failure types, biggest first.
    let mut names: Vec<(&String, u64)> = per_day.iter().map(|(k, m)| (k, m.values().sum())).collect();
    names.sort_by(|a, b| {
        (a.0 != SUCCESSFUL, std::cmp::Reverse(a.1), a.0).cmp(&(b.0 != SUCCESSFUL, std::cmp::Reverse(b.1), b.0))
    });
    let series = names
        .into_iter()
        .map(|(name, _)| Series {
            name: name.clone(),
            values: days
                .iter()
                .map(|d| per_day[name].get(d).copied().unwrap_or(0))
                .collect(),
        })
        .collect();
    TlsView {
        domain: domain.to_owned(),
        reports: reports.len(),
        sessions: PerDay {
            days: days.into_iter().map(date).collect(),
            series,
        },
        policies: policies.into_values().collect(),
        mx: mx.into_values().collect(),
        joins: TlsJoins::default(),
    }
}

/// The API handlers' shape: the caller's domain (404 otherwise), `since`
/// from the query, the view as JSON.
pub(crate) async fn api_view<T: Serialize>(
    state: &AppState,
    who: &Principal,
    name: &str,
    query: &HashMap<String, String>,
    view: impl AsyncFnOnce(&Store, &OwnedDomain, Option<i64>) -> Result<T, Problem>,
) -> Result<Response, Problem> {
    let domain = api::owned(state, who, name).await?;
    let since = parse_since(query.get("since").map(String::as_str))?;
    Ok(Json(view(&state.store, &domain, since).await?).into_response())
}

/// The pages' shape: the same, rendered by `render` (with the `since`
/// text for the form), problems as error pages.
pub(crate) async fn page_view<T>(
    state: &AppState,
    c: &PageCaller,
    name: &str,
    query: &HashMap<String, String>,
    view: impl AsyncFnOnce(&Store, &OwnedDomain, Option<i64>) -> Result<T, Problem>,
    render: fn(&Nav<'_>, &T, &str) -> Html<String>,
) -> Response {
    let d = match pages::owned(state, c, name).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let text = query.get("since").map_or("", String::as_str);
    let since = match parse_since(Some(text)) {
        Ok(s) => s,
        Err(p) => return views::error_page(p.status, &p.detail),
    };
    match view(&state.store, &d, since).await {
        Ok(v) => render(&pages::nav(c), &v, text).into_response(),
        Err(p) => pages::failed(&p.detail),
    }
}

/// `since=YYYY-MM-DD` of the pages and the API: the start of that day.
pub fn parse_since(value: Option<&str>) -> Result<Option<i64>, Problem> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, format)
        .map(|d| Some(d.midnight().assume_utc().unix_timestamp()))
        .map_err(|_| Problem::bad_request(format!("since={text:?}: expected a date, e.g. 2026-11-01")))
}

#[cfg(test)]
mod tests {
    use mailwarden_ingest::tlsrpt::FailureDetail;
    use mailwarden_senders::inventory::{Class, Source};

    use super::*;

    fn sender(name: &str, messages: u64, ips: &[&str]) -> Sender {
        Sender {
            name: name.into(),
            identified_by: "service",
            class: Class::AuthorisedAligned,
            messages,
            spf_pass: messages,
            dkim_pass: messages,
            dmarc_pass: messages,
            sources: ips
                .iter()
                .map(|ip| Source {
                    ip: (*ip).into(),
                    ..Source::default()
                })
                .collect(),
        }
    }

    #[test]
    fn volume_draws_the_biggest_senders_and_sums_the_rest_over_every_day_between() {
        let senders: Vec<Sender> = (0..7)
            .map(|i| sender(&format!("s{i}"), 100 - i, &[&format!("192.0.2.{i}")]))
            .collect();
        let mut counts = DayCounts::new();
        counts.insert((20_000, "192.0.2.0".into()), 3);
        counts.insert((20_002, "192.0.2.0".into()), 4);
        counts.insert((20_002, "192.0.2.6".into()), 5);
        counts.insert((20_002, "192.0.2.5".into()), 1);
        counts.insert((20_001, "198.51.100.1".into()), 9);
        let v = volume(&senders, &counts);
        assert_eq!(v.days, ["2024-10-04", "2024-10-05", "2024-10-06"]);
        assert_eq!(v.series.len(), CHARTED_SENDERS + 1);
        assert_eq!((v.series[0].name.as_str(), &v.series[0].values), ("s0", &vec![3, 0, 4]));
        assert_eq!(v.series[5].name, "2 other senders");
        assert_eq!(
            v.series[5].values,
            [0, 0, 6],
            "s5 and s6 summed; an unknown address not drawn"
        );
    }

    #[test]
    fn a_stray_old_report_does_not_stretch_the_axis_over_years() {
        let senders = vec![sender("a", 2, &["192.0.2.1"])];
        let mut counts = DayCounts::new();
        counts.insert((0, "192.0.2.1".into()), 1);
        counts.insert((20_000, "192.0.2.1".into()), 1);
        assert_eq!(volume(&senders, &counts).days, ["1970-01-01", "2024-10-04"]);
    }

    fn tls_item(begin: i64, ok: i64, failed: i64, failures: Vec<(&str, &str, u64)>) -> (ReportRow, StoredTlsPolicy) {
        let row = ReportRow {
            id: format!("r{begin}"),
            kind: "tlsrpt".into(),
            reporter: "rep.example".into(),
            report_id: "x".into(),
            domain: "ours.example".into(),
            begin,
            end: begin + 86_400,
            records: 1,
            imported_at: String::new(),
            flags: Vec::new(),
            row_id: begin,
        };
        let failures = failures
            .into_iter()
            .map(|(mx, kind, n)| FailureDetail {
                result_type: kind.into(),
                sending_mta_ip: None,
                receiving_mx_hostname: Some(mx.into()),
                receiving_mx_helo: None,
                receiving_ip: None,
                failed_sessions: n,
                additional_information: None,
                failure_reason_code: None,
            })
            .collect();
        let policy = StoredTlsPolicy {
            policy_type: "sts".into(),
            policy_domain: Some("ours.example".into()),
            mx_hosts: vec!["mx1.ours.example".into()],
            successful: ok,
            failed,
            policy_strings: Vec::new(),
            failures,
        };
        (row, policy)
    }

    #[test]
    fn tls_sessions_per_day_by_result_type_per_policy_and_per_mx() {
        let items = [
            tls_item(0, 90, 10, vec![("mx1.ours.example", "certificate-expired", 6)]),
            tls_item(
                2 * 86_400,
                50,
                2,
                vec![("mx2.ours.example", "starttls-not-supported", 2)],
            ),
        ];
        let v = tls_summary("ours.example", &items);
        assert_eq!(v.reports, 2);
        assert_eq!(v.sessions.days, ["1970-01-01", "1970-01-02", "1970-01-03"]);
        let names: Vec<&str> = v.sessions.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [SUCCESSFUL, "certificate-expired", UNDETAILED, "starttls-not-supported"]
        );
        assert_eq!(v.sessions.series[0].values, [90, 0, 50]);
        assert_eq!(v.sessions.series[2].values, [4, 0, 0], "10 failed, 6 with a detail");
        assert_eq!((v.policies[0].successful, v.policies[0].failed), (140, 12));
        assert_eq!(v.mx.len(), 2);
        assert_eq!(v.mx[0].results["certificate-expired"], 6);
    }

    #[test]
    fn since_is_a_date_or_a_clear_error() {
        assert_eq!(parse_since(Some("1970-01-02")).unwrap(), Some(86_400));
        assert_eq!(parse_since(None).unwrap(), None);
        let e = parse_since(Some("last week")).unwrap_err();
        assert!(e.detail.contains("expected a date"), "{}", e.detail);
    }
}

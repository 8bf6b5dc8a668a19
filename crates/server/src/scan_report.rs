//! The reports `mailwarden scan --format html|sarif` writes, as downloads
//! of a domain's latest stored scan (issue 16's exports): the stored
//! Observation judged again and rendered by the same renderers
//! (`mailwarden_render::sink`), so a download equals what `mailwarden
//! judge --format html|sarif` writes for that Observation. Served to the
//! pages (`/domains/{domain}/report.html`, `.sarif`, session) and the API
//! (`/api/v1/domains/{domain}/report.html`, `.sarif`, Bearer); any role
//! may read it (viewers read the findings already); another tenant's
//! domain is a 404. Each download appends an `evidence-exported` audit
//! event naming the snapshot, the caller and the file's SHA-256.
//!
//! Two differences from a scan on the command line, both on purpose: the
//! server reads no file (the zone files a scan read are named in SARIF,
//! without line numbers, as `judge` writes where the file is gone), and
//! states no trust anchor (as `judge`).

use axum::extract::{MatchedPath, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mailwarden_model::Observation;
use mailwarden_policy::Catalogue;
use mailwarden_policy::frameworks::Frameworks;
use mailwarden_policy::score::Scores;
use mailwarden_render::DomainReport;
use mailwarden_render::sink::{Format, SinkContext};
use mailwarden_store::snapshot::Snapshot;
use mailwarden_store::user::Principal;

use crate::api::ApiRoute;
use crate::auth::{ApiCaller, PageCaller};
use crate::problem::Problem;
use crate::{AppState, api, views};

/// A report format a domain's scan downloads as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Html,
    Sarif,
}

impl ReportFormat {
    /// The format of a path ending `report.html` or `report.sarif`.
    fn of_path(path: &str) -> Option<Self> {
        match path.rsplit('.').next()? {
            "html" => Some(Self::Html),
            "sarif" => Some(Self::Sarif),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Sarif => "sarif",
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Self::Html => "text/html; charset=utf-8",
            // SARIF 2.1.0 §3.1: "application/sarif+json".
            Self::Sarif => "application/sarif+json",
        }
    }
}

/// The stored scan's report, as `mailwarden judge` makes it: the
/// Observation judged at its own start time, each finding completed from
/// the catalogue, the scores computed, the profile verdicts as stored.
pub fn domain_report(observation: Observation, stored_profiles: &str) -> DomainReport {
    let catalogue = Catalogue::builtin();
    let now = mailwarden_policy::evidence_time(&observation);
    let findings = catalogue.complete_all(mailwarden_checks::judge_observation(&observation, now));
    let mut report = DomainReport::new(findings, observation);
    report.scores = Some(Scores::compute(&report.findings, catalogue));
    report.profiles = serde_json::from_str(stored_profiles).unwrap_or_default();
    report
}

/// One report rendered alone, as `scan --format FORMAT` writes a run of one domain.
pub fn render(report: &DomainReport, format: ReportFormat) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let context = SinkContext {
        catalogue: Catalogue::builtin(),
        frameworks: Frameworks::builtin(),
        tool_version: env!("CARGO_PKG_VERSION"),
        trust_anchor: None,
        // The zone files a scan read are named, without line numbers: the
        // server reads no file (as `judge` where the file is gone).
        zone_reader: Some(Box::new(|_: &str| (String::new(), None))),
    };
    let sink_format = match format {
        ReportFormat::Html => Format::Html,
        ReportFormat::Sarif => Format::Sarif,
    };
    let mut sink = mailwarden_render::sink::open(sink_format, &mut out, context)?;
    sink.push(report)?;
    sink.finish()?;
    Ok(out)
}

/// The download: the caller's domain (404 first), its latest snapshot
/// (404 when never scanned), rendered, the audit event appended.
async fn download(state: &AppState, who: &Principal, name: &str, format: ReportFormat) -> Result<Response, Problem> {
    let domain = api::owned(state, who, name).await?;
    let Some(Snapshot { meta, observation, .. }) =
        mailwarden_store::tenant_scans::latest(&state.store, &domain).await?
    else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("{}: no stored scan yet, so no report", domain.name()),
        ));
    };
    let profiles = meta.profiles.clone();
    // Judging and rendering are CPU work: off the async workers.
    let body = tokio::task::spawn_blocking(move || render(&domain_report(observation, &profiles), format))
        .await
        .map_err(|e| Problem::internal(&e))?
        .map_err(|e| Problem::internal(&e))?;
    let file = format!("mailwarden-{}.{}", domain.name(), format.extension());
    mailwarden_store::tenant_scans::record_report_export(&state.store, &domain, meta.id, &file, &body, &who.email)
        .await?;
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.media_type()));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

fn format_of(path: &MatchedPath) -> Result<ReportFormat, Problem> {
    ReportFormat::of_path(path.as_str()).ok_or_else(Problem::not_found)
}

/// An API route `/domains/{domain}/report.FORMAT`.
pub(crate) const fn route(path: &'static str, summary: &'static str) -> ApiRoute {
    ApiRoute::plain("get", path, summary, "any", || get(api_report))
}

/// `GET /api/v1/domains/{domain}/report.html|.sarif`.
async fn api_report(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    path: MatchedPath,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    download(&state, &who, &name, format_of(&path)?).await
}

/// `GET /domains/{domain}/report.html|.sarif` for a signed-in user.
pub(crate) async fn page_report(
    State(state): State<AppState>,
    c: PageCaller,
    path: MatchedPath,
    Path(name): Path<String>,
) -> Response {
    let result = async { download(&state, &c.principal, &name, format_of(&path)?).await };
    result.await.unwrap_or_else(|p| views::error_page(p.status, &p.detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_the_paths_extension() {
        assert_eq!(
            ReportFormat::of_path("/domains/{domain}/report.html"),
            Some(ReportFormat::Html)
        );
        assert_eq!(
            ReportFormat::of_path("/api/v1/domains/{domain}/report.sarif"),
            Some(ReportFormat::Sarif)
        );
        assert_eq!(ReportFormat::of_path("/domains/{domain}/report.pdf"), None);
    }

    #[test]
    fn a_report_of_an_observation_renders_in_both_formats() {
        let observation = Observation::new("example.com");
        let report = domain_report(observation, "[]");
        let html = String::from_utf8(render(&report, ReportFormat::Html).unwrap()).unwrap();
        assert!(
            html.starts_with("<!DOCTYPE html>") && html.contains("example.com"),
            "{html:.300}"
        );
        let sarif: serde_json::Value = serde_json::from_slice(&render(&report, ReportFormat::Sarif).unwrap()).unwrap();
        assert_eq!(sarif["version"], "2.1.0");
    }
}

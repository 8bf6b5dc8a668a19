//! The parts of the HTML report ([`crate::html`]): the first page
//! ([`Cover`]), one section per domain ([`domain`]) and the evidence
//! appendix ([`evidence`]). Every string from outside goes through
//! [`Html::text`].

use std::collections::{BTreeMap, BTreeSet};

use mailwarden_model::{Finding, Outcome, Severity};
use mailwarden_policy::frameworks::Frameworks;
use mailwarden_policy::profile::{Profile, ProfileResult, Verdict};
use mailwarden_policy::{Area, Catalogue};
use sha2::{Digest, Sha256};

use crate::html::{Html, catalogue_fingerprint, presentation, proof_str};
use crate::published::Published;
use crate::text::counts_phrase;
use crate::triage::{Problem, fix_first, fold_undetermined, is_note};
use crate::{DomainReport, Tally, plural};

/// Causes listed under "Limitations" on the first page; the rest are
/// counted (each domain's section lists its own).
const LIMITATIONS_SHOWN: usize = 12;
/// Domains named in the scope line; the matrix lists them all.
const SCOPE_NAMED: usize = 12;

/// One row of the first page's matrix.
struct MatrixRow {
    domain: String,
    verdict: &'static str,
    score: String,
    failures: usize,
    /// Profile id → verdict and the accepted risks it rests on.
    profiles: BTreeMap<String, (Verdict, usize)>,
}

/// What the first page says, gathered as domains arrive.
#[derive(Default)]
pub(crate) struct Cover {
    pub trust_anchor: Option<String>,
    rows: Vec<MatrixRow>,
    /// Profile columns: id → title, in first-seen order by id.
    profiles: BTreeMap<String, String>,
    /// No `--profile` was given for some domain: all built-in profiles shown.
    all_builtin: bool,
    started: BTreeSet<String>,
    sources: BTreeSet<String>,
    dnssec: BTreeSet<bool>,
    /// cause → (checks, domains).
    limitations: BTreeMap<String, (usize, BTreeSet<String>)>,
    incomplete: Vec<String>,
}

impl Cover {
    pub fn add(&mut self, report: &DomainReport, catalogue: &Catalogue) {
        let o = &report.observation;
        let tally = Tally::of(&report.findings);
        let profiles: Vec<ProfileResult> = if report.profiles.is_empty() {
            self.all_builtin = true;
            Profile::builtins()
                .iter()
                .map(|p| p.evaluate(&report.findings, catalogue))
                .collect()
        } else {
            report.profiles.clone()
        };
        for p in &profiles {
            self.profiles
                .entry(p.profile.clone())
                .or_insert_with(|| p.title.clone());
        }
        self.rows.push(MatrixRow {
            domain: report.domain.clone(),
            verdict: tally.verdict(),
            score: report.score_short(),
            failures: tally.failed(),
            profiles: profiles
                .iter()
                .map(|p| (p.profile.clone(), (p.verdict, p.accepted())))
                .collect(),
        });
        self.started.extend(o.started_at.iter().cloned());
        self.sources.insert(source_line(o));
        self.dnssec.insert(o.source.dnssec_validation);
        if o.budget_exhausted {
            self.incomplete.push(report.domain.clone());
        }
        let refs: Vec<&Finding> = report.findings.iter().collect();
        for fold in fold_undetermined(&refs) {
            let entry = self.limitations.entry(fold.cause.clone()).or_default();
            entry.0 += fold.findings.len();
            entry.1.insert(report.domain.clone());
        }
    }

    pub fn render(&mut self, h: &mut Html, catalogue: &Catalogue, tool_version: &str) {
        self.rows.sort_by(|a, b| a.domain.cmp(&b.domain));
        h.raw("<header class=\"cover\">\n<h1>Email security audit</h1>\n<p class=\"meta\">")
            .text(&plural(self.rows.len(), "domain", "domains"))
            .raw(" audited by mailwarden ")
            .text(tool_version)
            .raw(". Findings are judged from the DNS answers and probes in the appendix; everything quoted from DNS is shown as received.</p>\n");
        self.scope(h, catalogue, tool_version);
        self.matrix(h);
        self.limits(h);
        h.raw("</header>\n");
    }

    fn scope(&self, h: &mut Html, catalogue: &Catalogue, tool_version: &str) {
        h.raw("<h2>Scope and method</h2>\n<dl>\n<dt>Scope</dt><dd>");
        let names: Vec<&str> = self.rows.iter().take(SCOPE_NAMED).map(|r| r.domain.as_str()).collect();
        h.text(&names.join(", "));
        if self.rows.len() > SCOPE_NAMED {
            h.raw(" and ")
                .num(self.rows.len() - SCOPE_NAMED)
                .raw(" more (see the table)");
        }
        h.raw("</dd>\n<dt>Date</dt><dd>");
        match (self.started.first(), self.started.last()) {
            (Some(a), Some(b)) if a != b => h.text(a).raw(" to ").text(b),
            (Some(a), _) => h.text(a),
            _ => h.raw("not recorded in the evidence"),
        };
        h.raw("</dd>\n<dt>Tool</dt><dd>mailwarden ")
            .text(tool_version)
            .raw("</dd>\n");
        h.raw("<dt>Rule catalogue</dt><dd>")
            .text(&plural(catalogue.len(), "rule", "rules"))
            .raw(", fingerprint <code>")
            .text(&catalogue_fingerprint(catalogue))
            .raw("</code> (<code>mailwarden rules</code> lists them)</dd>\n");
        h.raw("<dt>DNS source</dt><dd>")
            .text(&self.sources.iter().cloned().collect::<Vec<_>>().join("; "))
            .raw("</dd>\n<dt>DNSSEC</dt><dd>");
        h.raw(match (self.dnssec.contains(&true), self.dnssec.contains(&false)) {
            (true, false) => "validated locally from a trust anchor",
            (true, true) => "validated for some domains only",
            _ => "not validated (answers carry no DNSSEC proof)",
        });
        if let Some(anchor) = &self.trust_anchor {
            h.raw("; trust anchor: ").text(anchor);
        }
        h.raw("</dd>\n</dl>\n");
    }

    fn matrix(&self, h: &mut Html) {
        h.raw("<h2>Results</h2>\n");
        if self.all_builtin {
            h.raw("<p class=\"meta\">No profile was asked for (<code>--profile</code>): every built-in profile is shown. met = every requirement met; NOT MET = a requirement fails; n/d = not determinable (some evidence could not be looked at).</p>\n");
        }
        h.raw("<table class=\"matrix\">\n<thead><tr><th>Domain</th><th>Verdict</th><th>Score</th><th>Failures</th>");
        for id in self.profiles.keys() {
            h.el("<th>", id, "</th>");
        }
        h.raw("</tr></thead>\n<tbody>\n");
        for r in &self.rows {
            h.el("<tr><td>", &r.domain, "</td><td>");
            verdict_badge(h, r.verdict);
            h.el("</td><td>", &r.score, "</td><td>").num(r.failures).raw("</td>");
            for id in self.profiles.keys() {
                h.raw("<td>");
                match r.profiles.get(id) {
                    Some((Verdict::Met, 0)) => h.raw("<span class=\"v-met\">met</span>"),
                    Some((Verdict::Met, n)) => h.raw("<span class=\"v-met\">met</span> (").num(n).raw(" accepted)"),
                    Some((Verdict::NotMet, _)) => h.raw("<span class=\"v-not-met\">NOT MET</span>"),
                    Some((Verdict::NotDeterminable, _)) => h.raw("<span class=\"v-not-determinable\">n/d</span>"),
                    None => h.raw("-"),
                };
                h.raw("</td>");
            }
            h.raw("</tr>\n");
        }
        h.raw("</tbody>\n</table>\n");
    }

    fn limits(&self, h: &mut Html) {
        h.raw("<h2>Limitations</h2>\n<p>What could not be looked at is reported as undetermined, never as passed or failed:</p>\n<ul class=\"plain\">\n");
        let mut causes: Vec<(&String, &(usize, BTreeSet<String>))> = self.limitations.iter().collect();
        causes.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(b.0)));
        for (cause, (checks, domains)) in causes.iter().take(LIMITATIONS_SHOWN) {
            h.raw("<li>")
                .text(&plural(*checks, "check", "checks"))
                .raw(" on ")
                .text(&plural(domains.len(), "domain", "domains"))
                .raw(": ")
                .text(cause)
                .raw("</li>\n");
        }
        if causes.len() > LIMITATIONS_SHOWN {
            h.raw("<li>")
                .text(&plural(causes.len() - LIMITATIONS_SHOWN, "other cause", "other causes"))
                .raw(": see each domain</li>\n");
        }
        if !self.incomplete.is_empty() {
            h.raw("<li>The per-domain query or time budget ran out for: ")
                .text(&self.incomplete.join(", "))
                .raw("</li>\n");
        }
        if causes.is_empty() && self.incomplete.is_empty() {
            h.raw("<li>None: every check could be decided.</li>\n");
        }
        h.raw("<li>The audit sees what the Internet sees at scan time: DNS, the MX hosts' STARTTLS and the MTA-STS policy. It does not see mail flows, DKIM private keys or internal relays.</li>\n</ul>\n");
    }
}

fn source_line(o: &mailwarden_model::Observation) -> String {
    let s = &o.source;
    if !s.zone_files.is_empty() {
        format!("zone files (offline): {}", s.zone_files.join(", "))
    } else if !s.resolvers.is_empty() {
        format!("{} resolver {}", s.backend, s.resolvers.join(", "))
    } else {
        format!("{} (the system's resolver)", s.backend)
    }
}

fn verdict_badge(h: &mut Html, verdict: &str) {
    let class = match verdict {
        "CRITICAL" => "badge b-critical",
        "HIGH" => "badge b-high",
        "MEDIUM" => "badge b-medium",
        "LOW" => "badge b-low",
        "OK" => "badge b-ok",
        _ => "badge b-unknown",
    };
    h.raw("<span class=\"")
        .raw(class)
        .raw("\">")
        .text(verdict)
        .raw("</span>");
}

fn severity_class(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Critical => ("finding sev-critical", "badge b-critical"),
        Severity::High => ("finding sev-high", "badge b-high"),
        Severity::Medium => ("finding sev-medium", "badge b-medium"),
        Severity::Low => ("finding sev-low", "badge b-low"),
        Severity::Info => ("finding", "badge b-info"),
    }
}

/// One domain's section.
pub(crate) fn domain(h: &mut Html, r: &DomainReport, frameworks: &Frameworks) {
    let o = &r.observation;
    let tally = Tally::of(&r.findings);
    h.raw("<section>\n<h2>").text(&r.domain).raw(" ");
    verdict_badge(h, tally.verdict());
    h.raw("</h2>\n<p>");
    h.text(&counts_phrase(&tally)).raw(".</p>\n<dl>\n");
    if let Some(score) = r.score_label() {
        h.el("<dt>Score</dt><dd>", &score, "");
        let areas: Vec<String> = [
            Area::Routing,
            Area::SenderAuthentication,
            Area::TransportSecurity,
            Area::DnsIntegrity,
        ]
        .into_iter()
        .filter_map(|a| r.area_score_label(a).map(|s| format!("{}: {s}", a.title())))
        .collect();
        h.raw("<br>").text(&areas.join("; ")).raw("</dd>\n");
    }
    h.el("<dt>Source</dt><dd>", &source_line(o), "</dd>\n");
    if let Some(t) = &o.started_at {
        h.el("<dt>Scanned at</dt><dd>", t, "</dd>\n");
    }
    if let Some(ms) = o.duration_ms {
        h.raw("<dt>Duration</dt><dd>").num(ms).raw(" ms</dd>\n");
    }
    if o.budget_exhausted {
        h.raw("<dt>Incomplete</dt><dd>the query or time budget ran out</dd>\n");
    }
    h.raw("</dl>\n<h3>Published</h3>\n<table class=\"kv\">\n<tbody>\n");
    for (label, value) in Published::of(o).rows() {
        h.raw("<tr><th>")
            .text(label)
            .raw("</th><td><code>")
            .text(&value)
            .raw("</code></td></tr>\n");
    }
    h.raw("</tbody>\n</table>\n");
    let problems = fix_first(&r.findings);
    if !problems.is_empty() {
        h.raw("<h3>Fix first</h3>\n");
        for p in &problems {
            problem(h, p, frameworks);
        }
    }
    accepted(h, &r.accepted());
    rest(h, r);
    for p in &r.profiles {
        profile(h, p);
    }
    passes(h, r);
    h.raw("</section>\n");
}

fn problem(h: &mut Html, p: &Problem<'_>, frameworks: &Frameworks) {
    let f = p.findings[0];
    let (card, badge) = severity_class(p.severity);
    h.raw("<article class=\"")
        .raw(card)
        .raw("\">\n<div><span class=\"")
        .raw(badge)
        .raw("\">");
    h.text(p.severity.as_str()).raw("</span> <strong>").text(&f.title).el(
        "</strong> <code>",
        &f.id,
        "</code></div>\n<dl>\n",
    );
    h.el(
        "<dt>Subject</dt><dd>",
        &p.subjects().join(", "),
        "</dd>\n<dt>Finding</dt><dd>",
    );
    let mut messages: Vec<&str> = p.findings.iter().map(|f| f.message.as_str()).collect();
    messages.dedup();
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            h.raw("<br>");
        }
        h.text(m);
    }
    h.raw("</dd>\n");
    if let Some(fix) = p.remediation() {
        h.el("<dt>Remediation</dt><dd>", fix, "</dd>\n");
    }
    if !f.reference.is_empty() {
        h.el("<dt>Reference</dt><dd>", &f.reference, "</dd>\n");
    }
    let controls = frameworks.controls_for(&f.id);
    if !controls.is_empty() {
        let labels: Vec<String> = controls.iter().map(|c| format!("{} {}", c.framework, c.id)).collect();
        h.el("<dt>Controls</dt><dd>", &labels.join("; "), "</dd>\n");
    }
    h.raw("</dl>\n");
    for f in &p.findings {
        if !f.evidence.is_empty() {
            let compact = serde_json::to_string(&f.evidence).unwrap_or_default();
            h.el("<pre class=\"evidence\">", &compact, "</pre>\n");
        }
    }
    h.raw("</article>\n");
}

/// Failing findings a live waiver accepted, with who, why and until when.
fn accepted(h: &mut Html, accepted: &[&Finding]) {
    if accepted.is_empty() {
        return;
    }
    h.raw("<h3>Accepted risks</h3>\n<p class=\"meta\">Failing findings a waiver covers: shown, not counted as failures, until the waiver expires.</p>\n");
    h.raw(
        "<table class=\"reqs\">\n<thead><tr><th>Finding</th><th>Severity</th><th>Accepted</th></tr></thead>\n<tbody>\n",
    );
    for f in accepted {
        h.el("<tr><td><code>", &f.id, "</code> ")
            .text(&f.subject)
            .el("<br>", &f.message, "</td><td>")
            .text(f.severity.as_str())
            .raw("</td><td>");
        if let Some(a) = &f.accepted {
            h.text(&a.describe());
        }
        h.raw("</td></tr>\n");
    }
    h.raw("</tbody>\n</table>\n");
}

/// Notes and undetermined checks.
fn rest(h: &mut Html, r: &DomainReport) {
    let notes: Vec<&Finding> = r.findings.iter().filter(|f| is_note(f)).collect();
    if !notes.is_empty() {
        h.raw("<h3>Notes</h3>\n<ul class=\"plain\">\n");
        let mut by_rule: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
        for f in notes {
            by_rule.entry(&f.id).or_default().push(f);
        }
        for (id, fs) in by_rule {
            let subjects: Vec<&str> = fs.iter().map(|f| f.subject.as_str()).collect();
            h.raw("<li>")
                .text(&fs[0].title)
                .el(" <code>", id, "</code>: ")
                .text(&subjects.join(", "));
            if let Some(fix) = &fs[0].remediation {
                h.raw(". ").text(fix);
            }
            h.raw("</li>\n");
        }
        h.raw("</ul>\n");
    }
    let refs: Vec<&Finding> = r.findings.iter().collect();
    let folds = fold_undetermined(&refs);
    if !folds.is_empty() {
        h.raw("<h3>Not determined</h3>\n<ul class=\"plain\">\n");
        for fold in folds {
            h.raw("<li>")
                .text(&fold.what())
                .raw(if fold.not_run { " not run: " } else { ": " })
                .text(&fold.cause)
                .raw("</li>\n");
        }
        h.raw("</ul>\n");
    }
}

/// A requested profile: its verdict and the requirements not met.
fn profile(h: &mut Html, p: &ProfileResult) {
    h.raw("<h3>Profile ")
        .text(&p.title)
        .el(" (<code>", &p.profile, "</code>): ");
    crate::html::verdict_span(h, p.verdict.as_str());
    if p.accepted() > 0 {
        h.raw(", with ")
            .text(&plural(p.accepted(), "accepted risk", "accepted risks"));
    }
    h.raw("</h3>\n");
    let open: Vec<_> = p
        .requirements
        .iter()
        .filter(|r| r.verdict != Verdict::Met || !r.accepted.is_empty())
        .collect();
    let met = p.requirements.iter().filter(|r| r.verdict == Verdict::Met).count();
    h.raw("<p>")
        .text(&plural(met, "requirement", "requirements"))
        .raw(" met.</p>\n");
    if open.is_empty() {
        return;
    }
    h.raw("<table class=\"reqs\">\n<thead><tr><th>Requirement</th><th>Verdict</th><th>Findings</th></tr></thead>\n<tbody>\n");
    for req in open {
        h.el("<tr><td><code>", &req.id, "</code> ")
            .text(&req.title)
            .raw("</td><td>");
        crate::html::verdict_span(h, req.verdict.as_str());
        let shown: Vec<&str> = req
            .findings
            .iter()
            .filter(|f| !(f.ends_with(" pass") || f.ends_with(" not-applicable") || f.ends_with(" accepted")))
            .map(String::as_str)
            .chain(req.notes.iter().map(String::as_str))
            .chain(req.accepted.iter().map(String::as_str))
            .collect();
        h.el("</td><td>", &shown.join("; "), "</td></tr>\n");
    }
    h.raw("</tbody>\n</table>\n");
}

/// The passes as a checklist of rules, and the not-applicable ones in a line.
fn passes(h: &mut Html, r: &DomainReport) {
    let mut passed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut not_applicable: BTreeSet<&str> = BTreeSet::new();
    for f in &r.findings {
        match f.outcome {
            Outcome::Pass => *passed.entry(&f.id).or_default() += 1,
            Outcome::NotApplicable => {
                not_applicable.insert(&f.id);
            }
            _ => {}
        }
    }
    if passed.is_empty() && not_applicable.is_empty() {
        return;
    }
    h.raw("<h3>Passed</h3>\n<ul class=\"checks\">\n");
    for (id, n) in &passed {
        h.raw("<li>&#10003; <code>").text(id).raw("</code>");
        if *n > 1 {
            h.raw(" ×").num(n);
        }
        h.raw("</li>\n");
    }
    h.raw("</ul>\n");
    if !not_applicable.is_empty() {
        h.raw("<p class=\"meta\">Not applicable: ")
            .text(&not_applicable.into_iter().collect::<Vec<_>>().join(", "))
            .raw("</p>\n");
    }
}

/// One domain's evidence for the appendix: DNS answers and probes.
pub(crate) fn evidence(h: &mut Html, r: &DomainReport) {
    let o = &r.observation;
    h.el("<h3>", &r.domain, "</h3>\n");
    h.raw("<table>\n<thead><tr><th>Name</th><th>Type</th><th>Status</th><th>TTL</th><th>DNSSEC</th><th>Records</th></tr></thead>\n<tbody>\n");
    let mut negatives = Vec::new();
    for (key, answer) in o.dns.iter() {
        // Plain "no such record" answers are listed after the table, one
        // line for all, so 36 DKIM selectors do not take a page.
        if answer.status.is_negative() && key.server.is_none() && answer.cname_chain.is_empty() {
            let proof = match answer.proof {
                mailwarden_model::Proof::NotValidated => String::new(),
                other => format!(" ({})", proof_str(other)),
            };
            negatives.push(format!("{}/{}{proof}", key.name, key.rtype.as_str()));
            continue;
        }
        h.raw("<tr><td>").text(&key.name);
        if let Some(server) = key.server {
            h.raw(" @").text(&server.to_string());
        }
        h.el("</td><td>", key.rtype.as_str(), "</td><td>")
            .text(&answer.status.describe())
            .raw("</td><td>");
        if let Some(ttl) = answer.ttl {
            h.num(ttl);
        }
        h.el("</td><td>", proof_str(answer.proof), "</td><td>");
        if !answer.cname_chain.is_empty() {
            h.el("<div>via ", &answer.cname_chain.join(" → "), "</div>");
        }
        for rd in &answer.records {
            h.el("<div><code>", &presentation(rd), "</code></div>");
        }
        h.raw("</td></tr>\n");
    }
    h.raw("</tbody>\n</table>\n");
    if !negatives.is_empty() {
        h.raw("<p class=\"negatives\"><strong>No records (NXDOMAIN or NODATA):</strong> ")
            .text(&negatives.join(", "))
            .raw("</p>\n");
    }
    probes(h, o);
}

fn probes(h: &mut Html, o: &mailwarden_model::Observation) {
    if o.probes.is_empty() {
        return;
    }
    h.raw("<table class=\"probes\">\n<thead><tr><th>Probe</th><th>Result</th></tr></thead>\n<tbody>\n");
    for (target, p) in &o.probes.smtp {
        h.raw("<tr><td>STARTTLS ")
            .text(&target.host)
            .raw(" (")
            .text(&target.address.to_string())
            .raw(")</td><td>")
            .text(p.status.as_str());
        if let Some(d) = &p.detail {
            h.raw(": ").text(d);
        }
        if let Some(tls) = &p.tls {
            h.raw("<br>")
                .text(&tls.version)
                .raw(" ")
                .text(&tls.cipher_suite)
                .raw("; certificates (SHA-256):");
            for der in &tls.chain {
                h.el(
                    "<br><code>",
                    &mailwarden_model::codec::hex(&Sha256::digest(&der.0)),
                    "</code>",
                );
            }
        }
        h.raw("</td></tr>\n");
    }
    for (url, f) in &o.probes.https {
        // Scheme left out: the report names no fetchable link.
        let place = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        h.raw("<tr><td>HTTPS ").text(place).raw("</td><td>").text(&f.describe());
        if let Some(body) = &f.body {
            h.el("<pre>", body, "</pre>");
        }
        h.raw("</td></tr>\n");
    }
    h.raw("</tbody>\n</table>\n");
}

//! Whether a scan saw anything at all (README "Outcomes").
//!
//! A domain **saw nothing** when its evidence holds DNS questions and not
//! one got a definite answer (records, NODATA or NXDOMAIN) and no probe
//! reached a server: every check could only be indeterminate. That is
//! reported on standard error for each such domain, and when no domain of
//! the run saw anything the run exits 2 (runtime error: most likely the
//! resolver is unreachable), never 0 with a report that reads as clean.

use std::collections::BTreeMap;

use mailwarden_model::Observation;
use mailwarden_model::dns::Status;
use mailwarden_render::DomainReport;

/// Why `observation` saw nothing, or `None` if something was seen.
pub fn nothing_seen(observation: &Observation) -> Option<String> {
    let dns = &observation.dns;
    let probes = &observation.probes;
    let answered = dns.iter().any(|(_, a)| a.status.is_definite());
    let probed =
        probes.smtp.values().any(|p| p.status.is_definite()) || probes.https.values().any(|p| p.status.is_definite());
    if dns.is_empty() || answered || probed {
        return None;
    }
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, a) in dns.iter() {
        *by_status.entry(status_kind(&a.status)).or_default() += 1;
    }
    let statuses: Vec<String> = by_status.iter().map(|(k, n)| format!("{n} {k}")).collect();
    Some(format!(
        "no DNS question got an answer ({} asked: {})",
        dns.len(),
        statuses.join(", ")
    ))
}

fn status_kind(status: &Status) -> &'static str {
    match status {
        Status::Records | Status::NoData | Status::NxDomain => "answered",
        Status::ServFail => "SERVFAIL",
        Status::Refused => "REFUSED",
        Status::Timeout => "timed out",
        Status::Bogus(_) => "bogus",
        Status::Error(_) | Status::Referral { .. } => "error",
        Status::BudgetExhausted => "not asked (budget spent)",
        Status::EgressRefused(_) => "not asked (egress guard)",
        Status::NotCollected => "not collected",
    }
}

/// What a run saw, domain by domain.
#[derive(Debug, Default)]
pub struct RunSight {
    domains: usize,
    blind: usize,
}

impl RunSight {
    /// Count one domain; returns the line to print on standard error when
    /// it saw nothing.
    pub fn record(&mut self, report: &DomainReport) -> Option<String> {
        let checks = report.scores.as_ref().map(|s| (s.could_not_look, s.checks));
        self.record_observation(&report.domain, &report.observation, checks)
    }

    fn record_observation(
        &mut self,
        domain: &str,
        observation: &Observation,
        checks: Option<(u32, u32)>,
    ) -> Option<String> {
        self.domains += 1;
        let why = nothing_seen(observation)?;
        self.blind += 1;
        let checks = checks.map_or(String::new(), |(could_not_look, total)| {
            format!("; {could_not_look} of {total} checks could not look and it is not scored")
        });
        Some(format!("{domain}: nothing could be seen: {why}{checks}"))
    }

    /// The error for a run in which no domain saw anything.
    pub fn nothing_at_all(&self) -> Option<String> {
        (self.domains > 0 && self.blind == self.domains).then(|| {
            let what = if self.domains == 1 {
                "the domain".to_string()
            } else {
                format!("any of the {} domains", self.domains)
            };
            format!(
                "nothing could be seen for {what}: is the resolver reachable (--resolver, the network, the zone files)? Exit status 2: the report above is not an audit result"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use mailwarden_model::dns::{Answer, Proof, QueryKey, RType};

    use super::*;

    fn observation(statuses: &[Status]) -> Observation {
        let mut o = Observation::new("example.com");
        for (i, s) in statuses.iter().enumerate() {
            let answer = Answer::empty(s.clone(), Proof::Indeterminate);
            o.dns
                .insert(QueryKey::new(&format!("n{i}.example.com"), RType::Txt), answer);
        }
        o
    }

    #[test]
    fn only_failed_questions_saw_nothing() {
        let blind = observation(&[Status::Timeout, Status::Timeout, Status::ServFail]);
        assert_eq!(
            nothing_seen(&blind).as_deref(),
            Some("no DNS question got an answer (3 asked: 1 SERVFAIL, 2 timed out)")
        );
        assert_eq!(nothing_seen(&observation(&[Status::Timeout, Status::NxDomain])), None);
        assert_eq!(nothing_seen(&observation(&[])), None, "nothing asked is not blindness");
    }

    #[test]
    fn the_run_fails_only_when_no_domain_saw_anything() {
        let mut run = RunSight::default();
        let line = run.record_observation("a.example", &observation(&[Status::Timeout]), Some((45, 45)));
        assert!(
            line.unwrap()
                .ends_with("45 of 45 checks could not look and it is not scored")
        );
        assert!(run.nothing_at_all().is_some());
        assert!(
            run.record_observation("b.example", &observation(&[Status::NoData]), None)
                .is_none()
        );
        assert!(run.nothing_at_all().is_none(), "one domain saw something");
        assert!(RunSight::default().nothing_at_all().is_none(), "no domain at all");
    }
}

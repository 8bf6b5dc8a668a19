//! Judging one domain round by round, as `collect` gathers its evidence.
//!
//! Each round asks every judge that still wants something what it reads
//! ([`crate::Judge::ask`]), each on its own [`DnsView`], and returns the
//! union of what they asked and could not read. Evidence only grows
//! between rounds (a question is answered once, never changed), so a
//! judge that wanted nothing has read every answer it will ever read: its
//! findings are built then, once, kept, and it is not run again. A judge
//! that still waits builds no findings (prose, JSON evidence): they would
//! be built on incomplete evidence and thrown away.
//!
//! The result is the same as [`crate::judge_domain`] on the final
//! evidence (a test in `mailwarden-engine` compares them). In debug
//! builds every round also checks that each `ask` asked exactly what its
//! judge's findings ask, so every test that collects checks the asks.

use mailwarden_model::{DnsView, Probes, RawFinding, Transcript, Wants};

use crate::facts::ChainCache;
use crate::facts::Facts;
use crate::{Context, JUDGES, Judge, nonexistent};

/// One domain's judges, between rounds of collection.
pub struct Judging<'c, 'a> {
    ctx: &'c Context<'a>,
    /// Judges that wanted something last round, by their index in
    /// [`JUDGES`] (the order their findings are merged in).
    pending: Vec<usize>,
    /// Final findings of the judges that are done, by index.
    done: Vec<(usize, Vec<RawFinding>)>,
    /// Set when the domain turned out not to exist: the only finding.
    nxdomain: Option<RawFinding>,
    /// Certificate-chain analyses, kept across rounds.
    chains: ChainCache,
    /// How many times a judge's findings were built.
    built: usize,
}

impl<'c, 'a> Judging<'c, 'a> {
    /// The judges `ctx.options` selects, none run yet.
    pub fn new(ctx: &'c Context<'a>) -> Self {
        let pending = (JUDGES.iter().enumerate())
            .filter(|(_, judge)| ctx.options.runs(judge.name))
            .map(|(i, _)| i)
            .collect();
        Self {
            ctx,
            pending,
            done: Vec::new(),
            nxdomain: None,
            chains: ChainCache::default(),
            built: 0,
        }
    }

    /// Judge `dns` and `probes` with the judges still pending; return
    /// everything they asked that the evidence lacks (empty: all done).
    pub fn round(&mut self, dns: &Transcript, probes: &Probes) -> Wants {
        let gate = DnsView::with_probes(dns, probes);
        if let Some(finding) = nonexistent(self.ctx.domain, &gate) {
            self.nxdomain = Some(finding);
            self.pending.clear();
            self.done.clear();
            return gate.into_wants();
        }
        let mut wants = gate.into_wants();
        let facts = Facts::new(self.ctx, dns, probes, &self.chains);
        let ctx = self.ctx;
        let (done, built) = (&mut self.done, &mut self.built);
        self.pending.retain(|&index| {
            let judge = &JUDGES[index];
            let view = DnsView::with_probes(dns, probes);
            (judge.ask)(ctx, &view, &facts);
            let asked = view.into_wants();
            #[cfg(debug_assertions)]
            check_ask(judge, ctx, dns, probes, &facts, &asked);
            if asked.is_empty() {
                let view = DnsView::with_probes(dns, probes);
                done.push((index, build(judge, ctx, &view, &facts, built)));
                return false;
            }
            wants.extend(asked);
            true
        });
        wants
    }

    /// How many times a judge's findings were built, over every round so
    /// far: once per judge that finished.
    pub fn findings_built(&self) -> usize {
        self.built
    }

    /// The names of the judges that still want something.
    pub fn pending(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.pending.iter().map(|index| JUDGES[*index].name)
    }

    /// The findings, sorted, once a round wanted nothing.
    pub fn into_findings(self) -> Vec<RawFinding> {
        if let Some(nxdomain) = self.nxdomain {
            return vec![nxdomain];
        }
        let mut done = self.done;
        done.sort_by_key(|(index, _)| *index);
        let mut findings: Vec<RawFinding> = done.into_iter().flat_map(|(_, f)| f).collect();
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        findings
    }
}

/// `judge`'s findings on `view`, counted in `built`.
fn build(
    judge: &Judge,
    ctx: &Context<'_>,
    view: &DnsView<'_>,
    facts: &Facts<'_, '_>,
    built: &mut usize,
) -> Vec<RawFinding> {
    *built += 1;
    (judge.findings)(ctx, view, facts)
}

/// Debug builds: the judge's findings, built on a view of the same
/// evidence, ask exactly what its `ask` asked. An `ask` that asks less
/// would let collect stop early (judges would see `not-collected`); one
/// that asks more would fetch answers no judge reads.
#[cfg(debug_assertions)]
fn check_ask(
    judge: &Judge,
    ctx: &Context<'_>,
    dns: &Transcript,
    probes: &Probes,
    facts: &Facts<'_, '_>,
    asked: &Wants,
) {
    let view = DnsView::with_probes(dns, probes);
    (judge.findings)(ctx, &view, facts);
    let wanted = view.into_wants();
    assert!(
        wanted == *asked,
        "{}: ask and findings disagree on what to read for {}:\nask:      {asked:?}\nfindings: {wanted:?}",
        judge.name,
        ctx.domain
    );
}

#[cfg(test)]
mod tests {
    use mailwarden_model::{Answer, Proof, QueryKey, RType, ScanOptions, SourceInfo, Status};

    use super::*;
    use crate::testutil::Dns;

    const D: &str = "example.com";

    /// MX answered at once; SPF three includes deep, so `spf` wants
    /// something for rounds after `mx` has everything it reads.
    fn world() -> Dns {
        Dns::new()
            .mx(D, &[(10, "mx.example.com")])
            .a("mx.example.com", &["192.0.2.25"])
            .status("mx.example.com", RType::Aaaa, Status::NoData)
            .txt(D, &["v=spf1 include:a.example.net -all"])
            .txt("a.example.net", &["v=spf1 include:b.example.net -all"])
            .txt("b.example.net", &["v=spf1 include:c.example.net -all"])
            .txt("c.example.net", &["v=spf1 ip4:192.0.2.0/24 -all"])
    }

    /// Run `judging` against `world` to its end, answering what it wants
    /// (NXDOMAIN for names `world` lacks); the pending judges after each
    /// round, and the evidence.
    fn settle(judging: &mut Judging<'_, '_>, world: &Dns) -> (Vec<Vec<&'static str>>, Dns) {
        let mut evidence = Dns::new();
        let mut pending = Vec::new();
        loop {
            let wants = judging.round(&evidence.0, &evidence.1);
            pending.push(judging.pending().collect());
            if wants.is_empty() {
                return (pending, evidence);
            }
            for key in wants.dns {
                let answer = (world.0.get(&key).cloned())
                    .unwrap_or_else(|| Answer::empty(Status::NxDomain, Proof::NotValidated));
                evidence.0.insert(key, answer);
            }
            for target in wants.smtp {
                let probe = mailwarden_model::SmtpProbe::status(mailwarden_model::SmtpStatus::NotProbed, None);
                evidence.1.smtp.insert(target, probe);
            }
            assert!(wants.https.is_empty() && pending.len() < 40);
        }
    }

    /// What [`settle`] saw with the judges `checks` selects on [`world`].
    struct Settled {
        pending: Vec<Vec<&'static str>>,
        built: usize,
        /// The findings round by round, and [`crate::judge_domain`]'s on the
        /// final evidence.
        findings: (Vec<RawFinding>, Vec<RawFinding>),
        /// What judging the final evidence asked that it lacks.
        wants_after: Wants,
        evidence: Dns,
    }

    fn settle_checks(checks: Vec<String>) -> Settled {
        let options = ScanOptions {
            checks,
            ..ScanOptions::default()
        };
        let source = SourceInfo::default();
        let roots = crate::tls::cert::Roots::WebPki;
        let ctx = Context {
            domain: D,
            options: &options,
            source: &source,
            now: 0,
            roots: &roots,
        };
        let mut judging = Judging::new(&ctx);
        let (pending, evidence) = settle(&mut judging, &world());
        let built = judging.findings_built();
        let view = DnsView::with_probes(&evidence.0, &evidence.1);
        let findings = (judging.into_findings(), crate::judge_domain(&ctx, &view));
        Settled {
            pending,
            built,
            findings,
            wants_after: view.into_wants(),
            evidence,
        }
    }

    #[test]
    fn a_judge_that_wants_nothing_is_not_run_again_and_findings_match_one_pass() {
        let settled = settle_checks(vec!["mx".into(), "spf".into()]);
        let pending = &settled.pending;
        let mx_done = pending.iter().position(|p| !p.contains(&"mx")).expect("mx finishes");
        let spf_done = pending.iter().position(|p| !p.contains(&"spf")).expect("spf finishes");
        assert!(mx_done < spf_done, "{pending:?}");
        assert!(
            pending[mx_done..].iter().all(|p| !p.contains(&"mx")),
            "once done, never pending again: {pending:?}"
        );
        assert_eq!(settled.findings.0, settled.findings.1);
        assert!(settled.wants_after.is_empty());
        let deepest = QueryKey::new("c.example.net", RType::Txt);
        assert!(settled.evidence.0.get(&deepest).is_some());
    }

    /// Before: every waiting judge built its findings (prose, JSON
    /// evidence) every round, to learn what it wanted, and threw them away.
    #[test]
    fn a_waiting_judge_builds_no_findings_and_a_finished_one_builds_them_once() {
        let all: Vec<String> = JUDGES.iter().map(|j| j.name.to_string()).collect();
        let settled = settle_checks(all.clone());
        let waits: usize = settled.pending.iter().map(Vec::len).sum();
        assert!(waits > all.len(), "judges waited rounds: {:?}", settled.pending);
        assert_eq!(settled.built, all.len(), "{:?}", settled.pending);
        assert_eq!(settled.findings.0, settled.findings.1);
    }

    #[test]
    fn a_domain_found_not_to_exist_drops_what_finished_before() {
        let options = ScanOptions::default();
        let source = SourceInfo::default();
        let roots = crate::tls::cert::Roots::WebPki;
        let ctx = Context {
            domain: "nothere.example",
            options: &options,
            source: &source,
            now: 0,
            roots: &roots,
        };
        let mut judging = Judging::new(&ctx);
        let (pending, _) = settle(&mut judging, &Dns::new());
        assert_eq!(pending.len(), 2, "{pending:?}");
        let ids: Vec<String> = judging.into_findings().into_iter().map(|f| f.id).collect();
        assert_eq!(ids, ["dns.nxdomain"]);
    }
}

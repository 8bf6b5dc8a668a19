//! Judging one domain round by round, as `collect` gathers its evidence.
//!
//! Each round judges the evidence so far with every judge that still
//! wants something, each on its own [`DnsView`], and returns the union of
//! what they asked and could not read. Evidence only grows between rounds
//! (a question is answered once, never changed), so a judge that wanted
//! nothing has read every answer it will ever read: its findings are
//! final, kept, and it is not run again. The findings of the other judges
//! are thrown away, as they were built on incomplete evidence.
//!
//! The result is the same as [`crate::judge_domain`] on the final
//! evidence (a test in `mailwarden-engine` compares them), at the cost of
//! running each judge only until it is satisfied rather than every round.

use mailwarden_model::{DnsView, Finding, Probes, Transcript, Wants};

use crate::facts::ChainCache;
use crate::{Context, JUDGES, Judge, nonexistent};

/// One domain's judges, between rounds of collection.
pub struct Judging<'c, 'a> {
    ctx: &'c Context<'a>,
    /// Judges that wanted something last round, by their index in
    /// [`JUDGES`] (the order their findings are merged in).
    pending: Vec<(usize, Judge)>,
    /// Final findings of the judges that are done, by index.
    done: Vec<(usize, Vec<Finding>)>,
    /// Set when the domain turned out not to exist: the only finding.
    nxdomain: Option<Finding>,
    /// Certificate-chain analyses, kept across rounds.
    chains: ChainCache,
}

impl<'c, 'a> Judging<'c, 'a> {
    /// The judges `ctx.options` selects, none run yet.
    pub fn new(ctx: &'c Context<'a>) -> Self {
        let pending = (JUDGES.iter().enumerate())
            .filter(|(_, (name, _))| ctx.options.runs(name))
            .map(|(i, (_, judge))| (i, *judge))
            .collect();
        Self {
            ctx,
            pending,
            done: Vec::new(),
            nxdomain: None,
            chains: ChainCache::default(),
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
        let facts = crate::facts::Facts::new(self.ctx, dns, probes, &self.chains);
        let ctx = self.ctx;
        let done = &mut self.done;
        self.pending.retain(|&(index, judge)| {
            let view = DnsView::with_probes(dns, probes);
            let findings = judge(ctx, &view, &facts);
            let asked = view.into_wants();
            if asked.is_empty() {
                done.push((index, findings));
                return false;
            }
            wants.extend(asked);
            true
        });
        wants
    }

    /// The names of the judges that still want something.
    pub fn pending(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.pending.iter().map(|(index, _)| JUDGES[*index].0)
    }

    /// The findings, sorted, once a round wanted nothing.
    pub fn into_findings(self) -> Vec<Finding> {
        if let Some(nxdomain) = self.nxdomain {
            return vec![nxdomain];
        }
        let mut done = self.done;
        done.sort_by_key(|(index, _)| *index);
        let mut findings: Vec<Finding> = done.into_iter().flat_map(|(_, f)| f).collect();
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        findings
    }
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

    #[test]
    fn a_judge_that_wants_nothing_is_not_run_again_and_findings_match_one_pass() {
        let options = ScanOptions {
            checks: vec!["mx".into(), "spf".into()],
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
        let mx_done = pending.iter().position(|p| !p.contains(&"mx")).expect("mx finishes");
        let spf_done = pending.iter().position(|p| !p.contains(&"spf")).expect("spf finishes");
        assert!(mx_done < spf_done, "{pending:?}");
        assert!(
            pending[mx_done..].iter().all(|p| !p.contains(&"mx")),
            "once done, never pending again: {pending:?}"
        );
        let findings = judging.into_findings();
        let view = DnsView::with_probes(&evidence.0, &evidence.1);
        assert_eq!(findings, crate::judge_domain(&ctx, &view));
        assert!(view.into_wants().is_empty());
        assert!(evidence.0.get(&QueryKey::new("c.example.net", RType::Txt)).is_some());
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

//! Collect: fetch exactly the DNS answers the judges need.
//!
//! Judges are pure functions over a [`DnsView`]. Collecting runs them
//! against the transcript gathered so far, fetches every question they
//! asked that it could not answer (concurrently), and repeats until they
//! ask nothing new. The result is a transcript with which the same judges,
//! run once more, see every answer they need, so judging saved evidence
//! later gives the same findings without any I/O.
//!
//! Probes work the same way: a judge that reads an SMTP probe or an
//! HTTPS fetch the evidence lacks makes it wanted, and the [`Prober`]
//! answers it in the next round, alongside that round's DNS questions.
//!
//! The loop is bounded three ways: a query budget and a wall-clock budget
//! per domain (RFC 7208 §4.6.4 asks that SPF evaluation be allowed at
//! least 20 s, so the default is 30 s), and a cap on rounds. Questions left
//! when a budget runs out are answered `budget-exhausted`, which judges
//! report as indeterminate.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use mailwarden_model::{
    Answer, DnsSource, DnsView, HttpsFetch, HttpsStatus, Prober, Probes, Proof, SmtpProbe, SmtpStatus, Status,
    Transcript, Wants,
};

/// Limits on what one domain may cost.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Most queries for one domain (shared-cache hits count too).
    pub max_queries: usize,
    /// Most wall-clock time for one domain.
    pub max_time: Duration,
    /// Most collection rounds (each round is one level of dependency).
    pub max_rounds: usize,
    /// Queries of one domain in flight at once.
    pub parallel: usize,
    /// Most distinct servers one domain makes mailwarden ask directly
    /// (nameserver checks): a domain chooses its nameservers' addresses,
    /// so without a cap it could point mailwarden at hundreds.
    pub max_direct_targets: usize,
}

impl Budget {
    /// The default per-domain cap on distinct direct-query targets: room
    /// for 13 nameservers with an IPv4 and an IPv6 address each, and the
    /// parent zone's servers asked for the delegation.
    pub const DEFAULT_DIRECT_TARGETS: usize = 32;
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_queries: 400,
            max_time: Duration::from_secs(30),
            max_rounds: 40,
            parallel: 16,
            max_direct_targets: Budget::DEFAULT_DIRECT_TARGETS,
        }
    }
}

/// What collecting cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectStats {
    pub queries: usize,
    pub rounds: usize,
    pub budget_exhausted: bool,
}

/// The evidence collected for one domain: DNS answers and probe results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    pub dns: Transcript,
    pub probes: Probes,
}

/// What the fixpoint drives: judging that says, after each round, what it
/// still wants. Evidence only grows between rounds (a question is answered
/// once and never again), so a judge that wanted nothing in one round has
/// read every answer it will ever read: its result is final.
pub trait Rounds {
    /// What judging produces once nothing more is wanted.
    type Output;
    /// Judge the evidence gathered so far; return every question that it
    /// could not answer (empty: done).
    fn round(&mut self, dns: &Transcript, probes: &Probes) -> Wants;
    /// The result, after a round that wanted nothing.
    fn finish(self) -> Self::Output;
}

/// [`Rounds`] for one function over the whole view, re-run every round:
/// the result is the last round's.
struct LastRound<F, R> {
    judge: F,
    result: Option<R>,
}

impl<F: Fn(&DnsView<'_>) -> R, R> Rounds for LastRound<F, R> {
    type Output = R;

    fn round(&mut self, dns: &Transcript, probes: &Probes) -> Wants {
        let view = DnsView::with_probes(dns, probes);
        self.result = Some((self.judge)(&view));
        view.into_wants()
    }

    fn finish(self) -> R {
        self.result.expect("finish follows a round")
    }
}

/// Run `judge` to a fixpoint, fetching from `source` the DNS answers and
/// from `prober` the SMTP probes and HTTPS fetches it asks for. Returns the
/// evidence and the judge's result on the complete view.
///
/// Probes do not count against the query budget (they are few, and the
/// prober shares and paces them across domains) but do against the time
/// budget: one unanswered in time is `budget-exhausted`.
pub async fn fixpoint<S, F, R>(
    source: &S,
    prober: &dyn Prober,
    budget: Budget,
    evidence: Evidence,
    judge: F,
) -> (Evidence, R, CollectStats)
where
    S: DnsSource + ?Sized,
    F: Fn(&DnsView<'_>) -> R,
{
    let rounds = LastRound { judge, result: None };
    fixpoint_rounds(source, prober, budget, evidence, rounds).await
}

/// [`fixpoint`] over any [`Rounds`]: judge, fetch what was wanted
/// (concurrently, within the budgets), repeat until nothing is wanted.
pub async fn fixpoint_rounds<S, J>(
    source: &S,
    prober: &dyn Prober,
    budget: Budget,
    mut evidence: Evidence,
    mut rounds: J,
) -> (Evidence, J::Output, CollectStats)
where
    S: DnsSource + ?Sized,
    J: Rounds,
{
    let started = Instant::now();
    let mut stats = CollectStats::default();
    let mut targets = BTreeSet::new();
    loop {
        let wants = rounds.round(&evidence.dns, &evidence.probes);
        if wants.is_empty() {
            return (evidence, rounds.finish(), stats);
        }
        stats.rounds += 1;
        let out_of_budget = stats.rounds > budget.max_rounds
            || started.elapsed() >= budget.max_time
            || (stats.queries >= budget.max_queries && !wants.dns.is_empty());
        if out_of_budget {
            stats.budget_exhausted = true;
            mark_exhausted(&mut evidence, wants);
            continue;
        }
        fetch(
            source,
            prober,
            budget,
            started,
            &mut targets,
            &mut evidence,
            &mut stats,
            wants,
        )
        .await;
    }
}

/// Answer one round's `wants` into `evidence`: DNS within the query
/// budget and the per-domain cap on direct targets, probes alongside, all
/// within what is left of the time budget.
#[allow(
    clippy::too_many_arguments,
    reason = "the fixpoint loop state: sources, budgets and counters passed by reference, not an API"
)]
async fn fetch<S: DnsSource + ?Sized>(
    source: &S,
    prober: &dyn Prober,
    budget: Budget,
    started: Instant,
    targets: &mut BTreeSet<IpAddr>,
    evidence: &mut Evidence,
    stats: &mut CollectStats,
    wants: Wants,
) {
    let wants = cap_direct_targets(&mut evidence.dns, targets, budget.max_direct_targets, wants);
    let room = budget.max_queries - stats.queries.min(budget.max_queries);
    let (ask, skip): (Vec<_>, Vec<_>) = wants.dns.into_iter().enumerate().partition(|(i, _)| *i < room);
    if !skip.is_empty() {
        stats.budget_exhausted = true;
        for (_, key) in skip {
            evidence.dns.insert(key, exhausted_answer());
        }
    }
    stats.queries += ask.len();
    let deadline = budget.max_time.saturating_sub(started.elapsed());
    let dns = stream::iter(ask.into_iter().map(|(_, key)| async move {
        let answer = tokio::time::timeout(deadline, source.query(&key))
            .await
            .unwrap_or_else(|_| exhausted_answer());
        (key, answer)
    }))
    .buffer_unordered(budget.parallel.max(1))
    .collect::<Vec<_>>();
    let smtp = futures::future::join_all(wants.smtp.into_iter().map(|target| async move {
        let probe = tokio::time::timeout(deadline, prober.smtp(&target))
            .await
            .unwrap_or_else(|_| exhausted_smtp());
        (target, probe)
    }));
    let https = futures::future::join_all(wants.https.into_iter().map(|(url, addresses)| async move {
        let fetch = tokio::time::timeout(deadline, prober.https(&url, &addresses))
            .await
            .unwrap_or_else(|_| exhausted_https());
        (url, fetch)
    }));
    let (answers, probes, fetches) = futures::join!(dns, smtp, https);
    for (key, answer) in answers {
        stats.budget_exhausted |= answer.status == Status::BudgetExhausted;
        evidence.dns.insert(key, answer);
    }
    for (target, probe) in probes {
        stats.budget_exhausted |= probe.status == SmtpStatus::BudgetExhausted;
        evidence.probes.smtp.insert(target, probe);
    }
    for (url, fetch) in fetches {
        stats.budget_exhausted |= fetch.status == HttpsStatus::BudgetExhausted;
        evidence.probes.https.insert(url, fetch);
    }
}

/// [`fixpoint`] for judges that read DNS only (SPF evaluation, tests): a
/// probe they asked for would be answered `not-probed`.
pub async fn dns_fixpoint<S, F, R>(
    source: &S,
    budget: Budget,
    transcript: Transcript,
    judge: F,
) -> (Transcript, R, CollectStats)
where
    S: DnsSource + ?Sized,
    F: Fn(&DnsView<'_>) -> R,
{
    let prober = mailwarden_model::probe::NoProber::new("this command makes no connections besides DNS");
    let evidence = Evidence {
        dns: transcript,
        probes: Probes::default(),
    };
    let (evidence, result, stats) = fixpoint(source, &prober, budget, evidence, judge).await;
    (evidence.dns, result, stats)
}

/// Answer `egress-refused` the server-directed questions to servers beyond
/// the first `cap` distinct ones (`targets`, kept across rounds); return
/// the rest of `wants`.
fn cap_direct_targets(dns: &mut Transcript, targets: &mut BTreeSet<IpAddr>, cap: usize, mut wants: Wants) -> Wants {
    let mut kept = Vec::with_capacity(wants.dns.len());
    for key in std::mem::take(&mut wants.dns) {
        let Some(server) = key.server else {
            kept.push(key);
            continue;
        };
        if targets.contains(&server) || targets.len() < cap {
            targets.insert(server);
            kept.push(key);
            continue;
        }
        let why = format!(
            "the domain named more than {cap} distinct servers to ask directly, the per-domain cap \
             (--max-direct-targets); {server} was not asked"
        );
        dns.insert(key, Answer::empty(Status::EgressRefused(why), Proof::Indeterminate));
    }
    wants.dns = kept.into_iter().collect();
    wants
}

fn exhausted_answer() -> Answer {
    Answer::empty(Status::BudgetExhausted, Proof::Indeterminate)
}

fn exhausted_smtp() -> SmtpProbe {
    SmtpProbe::status(
        SmtpStatus::BudgetExhausted,
        Some("the domain's time budget ran out before the probe finished".into()),
    )
}

fn exhausted_https() -> HttpsFetch {
    HttpsFetch::status(
        HttpsStatus::BudgetExhausted,
        Some("the domain's time budget ran out before the fetch finished".into()),
    )
}

fn mark_exhausted(evidence: &mut Evidence, wants: Wants) {
    for key in wants.dns {
        evidence.dns.insert(key, exhausted_answer());
    }
    for target in wants.smtp {
        evidence.probes.smtp.insert(target, exhausted_smtp());
    }
    for url in wants.https.into_keys() {
        evidence.probes.https.insert(url, exhausted_https());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use futures::future::BoxFuture;
    use mailwarden_model::{QueryKey, RData, RType, SourceInfo};

    use super::*;

    static NO_PROBER: std::sync::LazyLock<mailwarden_model::probe::NoProber> =
        std::sync::LazyLock::new(|| mailwarden_model::probe::NoProber::new("tests"));

    /// A source that answers from a map (NXDOMAIN otherwise), counting
    /// the questions it is asked, optionally slowly.
    struct MapSource {
        answers: BTreeMap<QueryKey, Answer>,
        asked: Mutex<Vec<QueryKey>>,
        delay: Duration,
    }

    impl MapSource {
        fn chain(n: usize, delay: Duration) -> Self {
            // name0 → CNAME-like pointer via TXT "name1", ... : each answer names the next question.
            let answers = (0..n)
                .map(|i| {
                    let rd = RData::Txt {
                        strings: vec![format!("n{}.test", i + 1)],
                    };
                    (
                        QueryKey::new(&format!("n{i}.test"), RType::Txt),
                        Answer::with_records(vec![rd], Proof::NotValidated),
                    )
                })
                .collect();
            Self {
                answers,
                asked: Mutex::new(Vec::new()),
                delay,
            }
        }
    }

    impl DnsSource for MapSource {
        fn query<'a>(&'a self, key: &'a QueryKey) -> BoxFuture<'a, Answer> {
            self.asked.lock().unwrap().push(key.clone());
            Box::pin(async move {
                tokio::time::sleep(self.delay).await;
                self.answers
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| Answer::empty(Status::NxDomain, Proof::NotValidated))
            })
        }
        fn describe(&self) -> SourceInfo {
            SourceInfo::default()
        }
    }

    /// Follow the chain n0 → n1 → ... as far as the transcript allows;
    /// returns how far it got.
    fn follow(view: &DnsView<'_>) -> usize {
        let mut name = "n0.test".to_string();
        let mut steps = 0;
        loop {
            let answer = view.get(&name, RType::Txt);
            match answer.records.first().and_then(RData::txt_bytes) {
                Some(next) => {
                    name = String::from_utf8(next).unwrap();
                    steps += 1;
                }
                None => return steps,
            }
        }
    }

    #[tokio::test]
    async fn fixpoint_follows_dependencies_and_asks_each_question_once() {
        let source = MapSource::chain(5, Duration::ZERO);
        let (evidence, steps, stats) =
            fixpoint(&source, &*NO_PROBER, Budget::default(), Evidence::default(), follow).await;
        assert_eq!(steps, 5);
        assert_eq!(evidence.dns.len(), 6, "five answers and the final NXDOMAIN");
        assert_eq!(source.asked.lock().unwrap().len(), 6, "no question asked twice");
        assert_eq!((stats.queries, stats.rounds, stats.budget_exhausted), (6, 6, false));
    }

    #[tokio::test]
    async fn query_budget_stops_collection_and_marks_the_rest() {
        let source = MapSource::chain(50, Duration::ZERO);
        let budget = Budget {
            max_queries: 3,
            ..Budget::default()
        };
        let (evidence, steps, stats) = fixpoint(&source, &*NO_PROBER, budget, Evidence::default(), follow).await;
        assert_eq!(steps, 3);
        assert!(stats.budget_exhausted);
        assert_eq!(source.asked.lock().unwrap().len(), 3);
        let last = evidence.dns.get(&QueryKey::new("n3.test", RType::Txt)).unwrap();
        assert_eq!(
            last.status,
            Status::BudgetExhausted,
            "the unasked question is marked, not missing"
        );
    }

    #[tokio::test]
    async fn time_budget_stops_a_slow_source() {
        let source = MapSource::chain(1000, Duration::from_millis(20));
        let budget = Budget {
            max_time: Duration::from_millis(150),
            ..Budget::default()
        };
        let (_, steps, stats) = fixpoint(&source, &*NO_PROBER, budget, Evidence::default(), follow).await;
        assert!(stats.budget_exhausted);
        assert!(steps < 20, "stopped after {steps} steps");
    }

    /// Asks SOA of `n.test` directly at 192.0.2.0 .. 192.0.2.(count-1).
    fn fan_out(count: u8) -> impl Fn(&DnsView<'_>) -> Vec<Status> {
        move |view| {
            (0..count)
                .map(|i| {
                    let server = std::net::IpAddr::from([192, 0, 2, i]);
                    view.get_at(server, "n.test", RType::Soa).status.clone()
                })
                .collect()
        }
    }

    #[tokio::test]
    async fn a_domain_naming_hundreds_of_servers_gets_only_the_per_domain_cap_asked() {
        let source = MapSource::chain(0, Duration::ZERO);
        let budget = Budget {
            max_direct_targets: 4,
            ..Budget::default()
        };
        let (_, statuses, _) = fixpoint(&source, &*NO_PROBER, budget, Evidence::default(), fan_out(200)).await;
        let asked = source.asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 4, "{asked:?}");
        assert!(statuses[..4].iter().all(|s| *s == Status::NxDomain), "{statuses:?}");
        let Status::EgressRefused(why) = &statuses[4] else {
            panic!("{:?}", statuses[4])
        };
        assert!(
            why.contains("--max-direct-targets") && why.contains("192.0.2.4"),
            "{why}"
        );
        assert_eq!(
            statuses
                .iter()
                .filter(|s| matches!(s, Status::EgressRefused(_)))
                .count(),
            196
        );
    }

    #[tokio::test]
    async fn budget_exhaustion_becomes_an_indeterminate_finding() {
        let source = MapSource::chain(0, Duration::ZERO);
        let tight = Budget {
            max_queries: 1,
            ..Budget::default()
        };
        let audit = crate::audit(&source, &*NO_PROBER, "example.test", Default::default(), tight, 0).await;
        assert!(audit.observation.budget_exhausted);
        let f = audit
            .findings
            .iter()
            .find(|f| f.id == "dns.budget-exhausted")
            .expect("budget finding");
        assert_eq!(f.outcome, mailwarden_model::Outcome::Indeterminate);
        let roomy = crate::audit(
            &source,
            &*NO_PROBER,
            "example.test",
            Default::default(),
            Budget::default(),
            0,
        )
        .await;
        assert!(!roomy.observation.budget_exhausted);
        assert!(roomy.findings.iter().all(|f| f.id != "dns.budget-exhausted"));
    }
}

//! Collect: fetch exactly the DNS answers the judges need.
//!
//! Judges are pure functions over a [`DnsView`]. Collecting runs them
//! against the transcript gathered so far, fetches every question they
//! asked that it could not answer (concurrently), and repeats until they
//! ask nothing new. The result is a transcript with which the same judges,
//! run once more, see every answer they need, so judging saved evidence
//! later gives the same findings without any I/O.
//!
//! The loop is bounded three ways: a query budget and a wall-clock budget
//! per domain (RFC 7208 §4.6.4 asks that SPF evaluation be allowed at
//! least 20 s, so the default is 30 s), and a cap on rounds. Questions left
//! when a budget runs out are answered `budget-exhausted`, which judges
//! report as indeterminate.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use mailwarden_dns::DnsSource;
use mailwarden_model::{Answer, DnsView, Proof, QueryKey, Status, Transcript};

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
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_queries: 400,
            max_time: Duration::from_secs(30),
            max_rounds: 40,
            parallel: 16,
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

/// Run `judge` to a fixpoint, fetching from `source` what it asks for.
/// Returns the transcript and the judge's result on the complete view.
pub async fn fixpoint<S, F, R>(
    source: &S,
    budget: Budget,
    mut transcript: Transcript,
    judge: F,
) -> (Transcript, R, CollectStats)
where
    S: DnsSource + ?Sized,
    F: Fn(&DnsView<'_>) -> R,
{
    let started = Instant::now();
    let mut stats = CollectStats::default();
    loop {
        let view = DnsView::new(&transcript);
        let result = judge(&view);
        let missing = view.into_missing();
        if missing.is_empty() {
            return (transcript, result, stats);
        }
        stats.rounds += 1;
        let out_of_budget = stats.rounds > budget.max_rounds
            || started.elapsed() >= budget.max_time
            || stats.queries >= budget.max_queries;
        if out_of_budget {
            stats.budget_exhausted = true;
            mark_exhausted(&mut transcript, missing);
            continue;
        }
        let room = budget.max_queries - stats.queries;
        let (ask, skip): (Vec<_>, Vec<_>) = missing.into_iter().enumerate().partition(|(i, _)| *i < room);
        if !skip.is_empty() {
            stats.budget_exhausted = true;
            mark_exhausted(&mut transcript, skip.into_iter().map(|(_, k)| k).collect());
        }
        stats.queries += ask.len();
        let deadline = budget.max_time.saturating_sub(started.elapsed());
        let answers: Vec<(QueryKey, Answer)> = stream::iter(ask.into_iter().map(|(_, key)| async move {
            let answer = match tokio::time::timeout(deadline, source.query(&key)).await {
                Ok(answer) => answer,
                Err(_) => Answer::empty(Status::BudgetExhausted, Proof::Indeterminate),
            };
            (key, answer)
        }))
        .buffer_unordered(budget.parallel.max(1))
        .collect()
        .await;
        for (key, answer) in answers {
            if answer.status == Status::BudgetExhausted {
                stats.budget_exhausted = true;
            }
            transcript.insert(key, answer);
        }
    }
}

fn mark_exhausted(transcript: &mut Transcript, keys: BTreeSet<QueryKey>) {
    for key in keys {
        transcript.insert(key, Answer::empty(Status::BudgetExhausted, Proof::Indeterminate));
    }
}

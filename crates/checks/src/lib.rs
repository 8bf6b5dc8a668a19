//! # mailwarden-checks
//!
//! The judges, one module per protocol: pure functions over a [`DnsView`]
//! of the evidence, no I/O (this crate depends on no DNS, async or TLS
//! connection stack; `tests/crate_graph.rs` keeps it so). Facts several
//! judges read (MX hosts with their probes and chain analyses, the MTA-STS
//! policy, DANE per host, the organisational domain) are computed once
//! per view in [`facts`]. [`judge_domain`] runs every judge on one view;
//! [`Judging`] runs them round by round for `mailwarden-engine`'s
//! collect fixpoint, each only until it wants nothing more.
//!
//! # Limitations
//!
//! - **No message.** mailwarden audits what a domain publishes; it sees
//!   no mail. SPF terms that need a message (most macros, `exp=` text)
//!   are reported as unevaluable, not guessed; DKIM signatures and DMARC
//!   alignment of real mail are not evaluated.
//! - **DKIM selectors are guessed.** A selector is named only in a
//!   message's signature, so [`dkim`] asks the user's `--dkim-selector`s
//!   and [`dkim::COMMON_SELECTORS`]; a key under any other selector is
//!   not found, and the finding says "none under the selectors tried".
//! - **DANE** (RFC 7672): a DANE-TA(2) record matches only a CA
//!   certificate the server presents (a bare `2 1 x` key is not
//!   supported); the reference identifier is the MX host name only (the
//!   next-hop domain is not tried). PKIX-TA(0) and PKIX-EE(1) are not for
//!   SMTP: reported as such, and they never match.
//! - **MTA-STS** policy redirects are not followed (RFC 8461 §3.3).
//! - **Certificates** are verified against webpki-roots or the PEM CAs
//!   of `--ca-file`, never the operating system's store; saved evidence is
//!   judged at the time it was collected.
//! - **Budgets**: what `mailwarden-engine`'s collect fixpoint could not
//!   fetch within the query, time and round budgets is `budget-exhausted`,
//!   and the judges that needed it say indeterminate.

pub mod bimi;
pub mod dane;
pub mod dkim;
pub mod dmarc;
pub mod dnssec;
pub mod facts;
pub mod failover;
mod judging;
pub(crate) mod located;
pub mod mta_sts;
pub mod mx;
pub mod net;
pub mod ns;
pub mod smtp;
pub mod spf;
#[cfg(test)]
mod testutil;
pub mod tls;
pub mod tlsrpt;
pub(crate) mod transport;
pub mod unlooked;

pub use facts::{ChainCache, Facts};
pub use judging::Judging;
pub use unlooked::{Unlooked, Unlookeds};

use mailwarden_model::{DnsView, Finding, Outcome, Proof, RType, ScanOptions, SourceInfo, Status};

/// What a judge knows besides the DNS.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub domain: &'a str,
    /// What the user told the scan (`--dkim-selector`, `--parked`).
    pub options: &'a ScanOptions,
    /// Where the answers came from (live or zone files; validated or not).
    pub source: &'a SourceInfo,
    /// The judge's "now", seconds since the Unix epoch: when the evidence
    /// was collected, so judging saved evidence gives the same verdicts
    /// about signature expiry as the scan did.
    pub now: i64,
    /// The trust anchors certificates are judged against: the built-in
    /// webpki roots, or the `--ca-file` kept in the options.
    pub roots: &'a tls::cert::Roots,
}

/// The trust anchors the options name: the `--ca-file` PEM they carry, or
/// the built-in webpki roots.
pub fn roots_for(options: &ScanOptions) -> Result<tls::cert::Roots, tls::cert::RootsError> {
    match &options.ca_pem {
        Some(pem) => tls::cert::Roots::from_pem(pem.as_bytes()),
        None => Ok(tls::cert::Roots::WebPki),
    }
}

/// Run every judge for the context's domain. Findings come out sorted.
///
/// A domain that does not exist gets one finding, `dns.nxdomain`, and no
/// other: advice to publish MX, SPF, DMARC and DKIM records for a name
/// that is most likely a typo would bury the one thing worth saying.
pub fn judge_domain(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<Finding> {
    if let Some(nxdomain) = nonexistent(ctx.domain, view) {
        return vec![nxdomain];
    }
    let chains = ChainCache::default();
    let facts = Facts::of_view(ctx, view, &chains);
    let mut findings = Vec::new();
    for judge in JUDGES {
        if ctx.options.runs(judge.name) {
            findings.extend((judge.findings)(ctx, view, &facts));
        }
    }
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    findings
}

/// RFC 8020 §2: NXDOMAIN "means that the domain name which is thus denied
/// AND ALL THE NAMES UNDER IT do not exist." The MX lookup (asked by every
/// scan) tells: an NXDOMAIN for the name itself (not at the end of a CNAME
/// chain, not from a bogus proof) means there is nothing to audit.
pub(crate) fn nonexistent(domain: &str, view: &DnsView<'_>) -> Option<Finding> {
    let domain = mailwarden_model::name::normalise(domain);
    let mx = view.get(&domain, RType::Mx);
    let denied = mx.status == Status::NxDomain && mx.cname_chain.is_empty() && mx.proof != Proof::Bogus;
    denied.then(|| {
        Finding::new(
            "dns.nxdomain",
            Outcome::Fail,
            &domain,
            format!(
                "NXDOMAIN: the domain does not exist (typo?). {domain} has no DNS records at all, so there is no mail routing, SPF, DKIM or DMARC to audit; no other check was run."
            ),
        )
        .evidence("query", format!("{domain}/MX"))
        .evidence("status", "NXDOMAIN")
        .evidence("proof", mx.proof)
        .remediation(format!(
            "Check the spelling of {domain}. If it should exist, register it or publish its zone and have the parent delegate it; then scan again."
        ))
    })
}

/// The findings of one protocol on a view, reading the shared facts of
/// that view.
pub type Findings = fn(&Context<'_>, &DnsView<'_>, &Facts<'_, '_>) -> Vec<Finding>;

/// What one protocol reads on a view, building nothing: every question
/// its [`Findings`] would ask there, and no other.
pub type Ask = fn(&Context<'_>, &DnsView<'_>, &Facts<'_, '_>);

/// A protocol judge.
#[derive(Clone, Copy)]
pub struct Judge {
    /// The name `--checks` selects it with.
    pub name: &'static str,
    /// Its reads without its findings: what [`Judging`] runs while the
    /// judge still waits for evidence, so prose and JSON evidence are
    /// built once, when it has everything. `None` where the reads are
    /// still interleaved with building findings (then `findings` is run
    /// and its result dropped).
    pub ask: Option<Ask>,
    /// Its findings.
    pub findings: Findings,
}

impl Judge {
    const fn new(name: &'static str, ask: Option<Ask>, findings: Findings) -> Self {
        Self { name, ask, findings }
    }
}

/// Every protocol judge, in the order their findings are merged.
pub const JUDGES: [Judge; 12] = [
    Judge::new("mx", Some(|c, v, _| mx::ask(c.domain, v)), |c, v, _| {
        mx::judge(c.domain, v)
    }),
    Judge::new("spf", Some(|c, v, _| spf::ask(c.domain, v)), |c, v, _| {
        spf::judge(c.domain, v)
    }),
    Judge::new("dmarc", Some(|c, v, _| dmarc::ask(c, v)), |c, v, _| dmarc::judge(c, v)),
    Judge::new("dkim", Some(|c, v, _| dkim::ask(c, v)), |c, v, _| dkim::judge(c, v)),
    Judge::new("bimi", Some(|c, v, _| bimi::ask(c, v)), |c, v, _| bimi::judge(c, v)),
    Judge::new("dnssec", Some(|c, v, _| dnssec::ask(c, v)), |c, v, _| {
        dnssec::judge(c, v)
    }),
    Judge::new("ns", None, |c, v, _| ns::judge(c, v)),
    Judge::new("mta-sts", Some(mta_sts::ask), mta_sts::judge_with),
    Judge::new("tlsrpt", Some(tlsrpt::ask), tlsrpt::judge_with),
    Judge::new("dane", Some(dane::ask), dane::judge_with),
    Judge::new("smtp", Some(smtp::ask), smtp::judge_with),
    Judge::new("failover", Some(failover::ask), failover::judge_with),
];

/// Judge saved evidence again, with the current rules, without any I/O,
/// as of `now` (normally when the evidence was collected).
/// Questions the evidence cannot answer are `not-collected`, so rules newer
/// than the evidence come out indeterminate rather than guessed.
pub fn judge_observation(observation: &mailwarden_model::Observation, now: i64) -> Vec<Finding> {
    let view = DnsView::with_probes(&observation.dns, &observation.probes);
    let roots = roots_for(&observation.options).unwrap_or(tls::cert::Roots::Custom(Vec::new()));
    let ctx = Context {
        domain: &observation.domain,
        options: &observation.options,
        source: &observation.source,
        now,
        roots: &roots,
    };
    let findings = judge_domain(&ctx, &view);
    with_scan_findings(observation, findings)
}

/// Add findings about the scan itself (budget exhaustion): `judge` and
/// `mailwarden-engine`'s `audit` both end with this.
pub fn with_scan_findings(observation: &mailwarden_model::Observation, mut findings: Vec<Finding>) -> Vec<Finding> {
    if observation.budget_exhausted {
        findings.push(Finding::new(
            "dns.budget-exhausted",
            Outcome::Indeterminate,
            &observation.domain,
            "The per-domain query or time budget ran out; checks that needed the missing answers are indeterminate.",
        ));
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    }
    findings
}

#[cfg(test)]
mod tests {
    use mailwarden_model::{Answer, Proof, QueryKey, RType, ScanOptions, SourceInfo, Status, Transcript};

    use super::*;

    fn judge_with(checks: &[&str]) -> Vec<Finding> {
        let mut t = Transcript::default();
        t.insert(
            QueryKey::new("example.com", RType::Mx),
            Answer::empty(Status::Timeout, Proof::Indeterminate),
        );
        let options = ScanOptions {
            checks: checks.iter().map(|c| c.to_string()).collect(),
            ..ScanOptions::default()
        };
        let source = SourceInfo::default();
        let ctx = Context {
            domain: "example.com",
            options: &options,
            source: &source,
            now: 0,
            roots: &tls::cert::Roots::WebPki,
        };
        judge_domain(&ctx, &DnsView::new(&t))
    }

    /// Judge `domain` on these answers; also returns how many questions
    /// the judges asked that the answers lack.
    fn judge_answers(domain: &str, answers: &[(&str, RType, Status)]) -> (Vec<Finding>, usize) {
        let mut t = Transcript::default();
        for (name, rtype, status) in answers {
            t.insert(
                QueryKey::new(name, *rtype),
                Answer::empty(status.clone(), Proof::NotValidated),
            );
        }
        let options = ScanOptions::default();
        let source = SourceInfo::default();
        let ctx = Context {
            domain,
            options: &options,
            source: &source,
            now: 0,
            roots: &tls::cert::Roots::WebPki,
        };
        let view = DnsView::new(&t);
        let findings = judge_domain(&ctx, &view);
        (findings, view.into_wants().dns.len())
    }

    /// `doesnotexist.test` got a full audit: advice to publish MX, SPF,
    /// DMARC and DKIM, and "selectors tried: ." (an empty list).
    #[test]
    fn nonexistent_domain_gets_one_nxdomain_finding_and_no_audit() {
        let (f, asked) = judge_answers(
            "DoesNotExist.test.",
            &[("doesnotexist.test", RType::Mx, Status::NxDomain)],
        );
        assert_eq!(asked, 0, "nothing more is asked of a domain that does not exist");
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].id.as_str(), f[0].outcome), ("dns.nxdomain", Outcome::Fail));
        assert_eq!(f[0].subject, "doesnotexist.test");
        assert!(
            f[0].message.starts_with("NXDOMAIN: the domain does not exist (typo?)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn an_existing_domain_is_audited_and_gets_no_nxdomain_finding() {
        let (_, asked) = judge_answers("example.com", &[]);
        assert!(
            asked > 5,
            "the first round asks every judge's questions at once: {asked}"
        );
        let (f, _) = judge_answers("example.com", &[("example.com", RType::Mx, Status::NoData)]);
        assert!(f.iter().all(|f| f.id != "dns.nxdomain"));
        assert!(f.iter().any(|f| f.id.starts_with("spf.")));
    }

    #[test]
    fn checks_option_selects_the_judges_that_run() {
        let only_mx = judge_with(&["mx"]);
        assert!(!only_mx.is_empty());
        assert!(only_mx.iter().all(|f| f.id.starts_with("mx.")), "{only_mx:#?}");
        let mx_spf = judge_with(&["mx", "spf"]);
        assert!(mx_spf.iter().any(|f| f.id.starts_with("spf.")));
        assert!(
            mx_spf
                .iter()
                .all(|f| f.id.starts_with("mx.") || f.id.starts_with("spf."))
        );
        let all = judge_with(&[]);
        for Judge { name, .. } in JUDGES {
            assert!(
                all.iter().any(|f| f.id.starts_with(&format!("{name}."))),
                "{name} ran no check"
            );
        }
    }
}

//! MTA-STS (RFC 8461): the `_mta-sts.<domain>` TXT record, the policy it
//! announces, and whether the MX hosts live up to it.
//!
//! Pure over a [`DnsView`]: asks TXT at `_mta-sts.<domain>`; when there is
//! exactly one valid record, A and AAAA of `mta-sts.<domain>` and the HTTPS
//! fetch of `https://mta-sts.<domain>/.well-known/mta-sts.txt`; for a
//! usable policy in testing or enforce mode, MX at the domain and the MX
//! hosts' addresses; in enforce mode, the STARTTLS probe of every address
//! of every MX host the policy covers. Each step is asked only when the one
//! before it says there is something to ask.
//!
//! Rules of the record: `mta-sts.record` (exactly one record beginning
//! `v=STSv1`; otherwise the domain has no policy, §3.1), `mta-sts.syntax`,
//! `mta-sts.id`. Rules of the policy: `mta-sts.policy` (it can be fetched,
//! §3.2, §3.3), `mta-sts.policy-syntax`, `mta-sts.mode` (§5),
//! `mta-sts.max-age` (§3.2), `mta-sts.mx-match` (§4.1) and
//! `mta-sts.enforce-tls` (§4.2, §5).

use mailwarden_model::{DnsView, Outcome, RawFinding};
use mailwarden_records::mta_sts::{self, Level, Record};

mod enforce;
mod policy;

use crate::facts::Facts;
use crate::facts::sts::Discovery;
use crate::located::{Bounded, WithDiagnostics};
use crate::rule;
use crate::{ChainCache, Context};

/// Diagnostic codes judged by `mta-sts.id` rather than `mta-sts.syntax`.
const ID_CODES: [&str; 3] = ["id-invalid", "id-missing", "id-case"];

/// The rules about the policy file and what it asks of the MX hosts.
const POLICY_RULES: [&str; 6] = [
    rule::MTA_STS_POLICY,
    rule::MTA_STS_POLICY_SYNTAX,
    rule::MTA_STS_MODE,
    rule::MTA_STS_MAX_AGE,
    rule::MTA_STS_MX_MATCH,
    rule::MTA_STS_ENFORCE_TLS,
];

/// The rules that judge what a usable policy says.
const CONTENT_RULES: [&str; 4] = [
    rule::MTA_STS_MODE,
    rule::MTA_STS_MAX_AGE,
    rule::MTA_STS_MX_MATCH,
    rule::MTA_STS_ENFORCE_TLS,
];

/// Policy diagnostics judged by `mta-sts.max-age` rather than
/// `mta-sts.policy-syntax`.
const MAX_AGE_CODES: [&str; 1] = ["max-age-too-short"];

/// The `max_age` to recommend: RFC 8461 §3.2 expects weeks.
const RECOMMENDED_MAX_AGE: u64 = 604_800;

/// Judge the MTA-STS record and policy of `ctx.domain`. Findings carry ids
/// `mta-sts.*`, all about the domain.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<RawFinding> {
    let chains = ChainCache::default();
    judge_with(ctx, view, &Facts::of_view(ctx, view, &chains))
}

/// What [`judge_with`] reads, building no findings: the `_mta-sts`
/// record and, when there is one, what the policy checks read.
pub fn ask(_: &Context<'_>, view: &DnsView<'_>, facts: &Facts<'_, '_>) {
    if let Discovery::One(..) = facts.sts_discovery(view) {
        policy::policy_reads(view, facts);
    }
}

/// [`judge`], reading the shared facts of the view.
pub fn judge_with(ctx: &Context<'_>, view: &DnsView<'_>, facts: &Facts<'_, '_>) -> Vec<RawFinding> {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let name = format!("_mta-sts.{domain}");
    let example = format!("`{name}. IN TXT \"v=STSv1; id=20250101T000000\"`");
    let all_but_record = || [rule::MTA_STS_SYNTAX, rule::MTA_STS_ID].into_iter().chain(POLICY_RULES);
    match facts.sts_discovery(view) {
        Discovery::Failed(why) => std::iter::once(rule::MTA_STS_RECORD)
            .chain(all_but_record())
            .map(|id| {
                RawFinding::new(id, Outcome::Indeterminate, &domain, format!("Could not look up {why}."))
                    .evidence("failed_lookups", [&why])
            })
            .collect(),
        Discovery::None(lookalikes) => {
            let record = if lookalikes.is_empty() {
                RawFinding::new(
                    rule::MTA_STS_RECORD,
                    Outcome::NotApplicable,
                    &domain,
                    format!(
                        "No MTA-STS record at {name}: the domain does not use MTA-STS (it is optional; DANE or MTA-STS protects mail in transit against downgrade)."
                    ),
                )
            } else {
                RawFinding::new(
                    rule::MTA_STS_RECORD,
                    Outcome::Fail,
                    &domain,
                    format!(
                        "{name} has a record meant as MTA-STS that does not begin with exactly `v=STSv1`, so senders discard it and the domain has no policy (RFC 8461 §3.1)."
                    ),
                )
                .evidence("records", lookalikes)
                .remediation(format!("Publish the record beginning exactly `v=STSv1;`: {example}."))
            };
            std::iter::once(record)
                .chain(every(
                    all_but_record(),
                    Outcome::NotApplicable,
                    &domain,
                    "No MTA-STS record, so nothing to check.",
                ))
                .collect()
        }
        Discovery::Many(records) => {
            let record = RawFinding::new(
                rule::MTA_STS_RECORD,
                Outcome::Fail,
                &domain,
                format!(
                    "{} records beginning `v=STSv1` at {name}: RFC 8461 §3.1 has senders then assume the domain has no MTA-STS policy.",
                    records.len()
                ),
            )
            .evidence("records", records)
            .remediation(format!("Keep exactly one MTA-STS record: {example}."));
            let why = "Several MTA-STS records: senders use none, so there is no record or policy to check.";
            std::iter::once(record)
                .chain(every(all_but_record(), Outcome::NotApplicable, &domain, why))
                .collect()
        }
        Discovery::One(strings, text) => {
            let parsed = mta_sts::parse(text.as_bytes());
            let mut out = vec![
                RawFinding::new(
                    rule::MTA_STS_RECORD,
                    Outcome::Pass,
                    &domain,
                    format!("{name} publishes one MTA-STS record."),
                )
                .evidence("record", text)
                .evidence("strings", strings),
                syntax(&domain, &parsed, &example),
                id(&domain, &parsed, &example),
            ];
            out.extend(policy::policy_findings(ctx, &domain, view, facts));
            out
        }
    }
}

/// The same outcome and message for each of `ids`.
fn every<'i>(ids: impl IntoIterator<Item = &'i str>, outcome: Outcome, domain: &str, message: &str) -> Vec<RawFinding> {
    ids.into_iter()
        .map(|id| RawFinding::new(id, outcome, domain, message))
        .collect()
}

/// RFC 8461 §3.1: "If the number of resulting records is not one, or if
/// the resulting record is syntactically invalid, senders MUST assume the
/// recipient domain does not have an available MTA-STS Policy".
fn syntax(domain: &str, r: &Record, example: &str) -> RawFinding {
    let errors = Bounded::of(
        (r.diagnostics.iter()).filter(|d| d.level == Level::Error && !ID_CODES.contains(&d.code)),
        &r.text,
    );
    let warnings = Bounded::of(r.diagnostics.iter().filter(|d| d.level == Level::Warning), &r.text);
    if errors.is_empty() {
        let mut f = RawFinding::new(
            rule::MTA_STS_SYNTAX,
            Outcome::Pass,
            domain,
            "The MTA-STS record is syntactically valid.",
        );
        if !warnings.is_empty() {
            f = f.diagnostics("warnings", &warnings);
        }
        return f;
    }
    RawFinding::new(
        rule::MTA_STS_SYNTAX,
        Outcome::Fail,
        domain,
        format!(
            "{} syntax error(s) in the MTA-STS record; senders treat the domain as having no MTA-STS policy.\n{}",
            errors.total(),
            errors.message()
        ),
    )
    .evidence("record", &r.text)
    .diagnostics("diagnostics", &errors)
    .remediation(format!(
        "Correct the record at the positions shown: {example} (fields separated by `;`, no spaces around `=`)."
    ))
}

/// RFC 8461 §3.1: `sts-id = %s"id=" 1*32(ALPHA / DIGIT)`; the id must
/// change whenever the policy changes.
fn id(domain: &str, r: &Record, example: &str) -> RawFinding {
    if let Some(id) = &r.id
        && !r.diagnostics.iter().any(|d| ID_CODES.contains(&d.code))
    {
        return RawFinding::new(
            rule::MTA_STS_ID,
            Outcome::Pass,
            domain,
            format!("The policy id `{id}` is 1 to 32 letters and digits."),
        )
        .evidence("id", id);
    }
    let found = Bounded::of(r.diagnostics.iter().filter(|d| ID_CODES.contains(&d.code)), &r.text);
    RawFinding::new(
        rule::MTA_STS_ID,
        Outcome::Fail,
        domain,
        format!(
            "The MTA-STS record has no valid `id`, so it is invalid and senders cannot tell when the policy changes.\n{}",
            found.message()
        ),
    )
    .evidence("record", &r.text)
    .diagnostics("diagnostics", &found)
    .remediation(format!(
        "Use an id of 1 to 32 letters and digits, e.g. the UTC time of the policy change: {example}; change it whenever the policy file changes."
    ))
}

#[cfg(test)]
mod tests;

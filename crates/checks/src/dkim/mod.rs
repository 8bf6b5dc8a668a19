//! DKIM key discovery and key audit (RFC 6376, RFC 8301, RFC 8463; RFC 8020
//! for the `_domainkey` probe).
//!
//! Pure over a [`DnsView`]. A DKIM key lives at `<selector>._domainkey.<domain>`
//! and the selector is only named in the signatures of messages, so an audit
//! without a message has to guess: it asks TXT for the selectors the user
//! gave (`--dkim-selector`) and for [`COMMON_SELECTORS`], all in one
//! collection round, plus TXT at `_domainkey.<domain>` itself. By RFC 8020,
//! NXDOMAIN there means no name exists below it (so no key exists under any
//! selector); NOERROR means names exist below it, possibly keys under
//! selectors not tried. Findings say which of these the evidence shows and
//! list every selector tried; a lookup that failed is indeterminate, never
//! "no key".
//!
//! Every key found is audited: syntax (with positions), version, key type,
//! revocation, testing mode, SHA-1, RSA modulus length, whether `p=` is a
//! public key at all, the service type, and CNAME delegation to a provider.

use std::collections::BTreeSet;

use mailwarden_model::{Answer, DnsView, Outcome, RData, RType, RawFinding, Severity, Status};
use mailwarden_records::dkim::{self, Diagnostic, KeyData, KeyRecord, KeyType, Level, PublicKey};
use serde::Serialize;

use crate::Context;
use crate::located::{Bounded, WithDiagnostics};

mod discovery;
mod keys;

use crate::rule;
use discovery::*;
use keys::*;

/// Selectors tried on every domain besides the user's, one query each.
///
/// Chosen from the selectors large providers publish under by default, so
/// that a domain that uses one of them is found without a message:
/// Google Workspace (`google`), Microsoft 365 (`selector1`, `selector2`,
/// CNAMEs to the tenant), Mailchimp/Mandrill (`k1`-`k3`, `mandrill`),
/// SendGrid and many others (`s1`, `s2`), cPanel/Plesk/generic MTAs
/// (`default`, `dkim`, `mail`, `key1`, `key2`, `smtp`), Everlytic, MXVault,
/// Fastmail (`fm1`-`fm3`), Proton (`protonmail`, `protonmail2`,
/// `protonmail3`), iCloud (`sig1`), Zoho (`zoho`, `zmail`), HubSpot
/// (`hs1`, `hs2`), Yahoo (`s1024`, `s2048`), Postmark (`pm`), Mailjet
/// (`mailjet`), Constant Contact (`ctct1`, `ctct2`), Campaign Monitor
/// (`cm`). Keys under other selectors (Amazon SES's random tokens, dated
/// selectors) are only found with `--dkim-selector`.
pub const COMMON_SELECTORS: &[&str] = &[
    "google",
    "selector1",
    "selector2",
    "k1",
    "k2",
    "k3",
    "s1",
    "s2",
    "default",
    "dkim",
    "mail",
    "mandrill",
    "mxvault",
    "everlytickey1",
    "everlytickey2",
    "key1",
    "key2",
    "smtp",
    "fm1",
    "fm2",
    "fm3",
    "protonmail",
    "protonmail2",
    "protonmail3",
    "sig1",
    "zoho",
    "zmail",
    "hs1",
    "hs2",
    "s1024",
    "s2048",
    "pm",
    "mailjet",
    "ctct1",
    "ctct2",
    "cm",
];

/// Providers recognised from the final target of a CNAME-delegated selector.
const PROVIDERS: &[(&str, &str)] = &[
    ("onmicrosoft.com", "Microsoft 365"),
    ("mail.microsoft", "Microsoft 365"),
    ("amazonses.com", "Amazon SES"),
    ("sendgrid.net", "SendGrid"),
    ("mcsv.net", "Mailchimp"),
    ("mandrillapp.com", "Mailchimp Transactional (Mandrill)"),
    ("mailgun.org", "Mailgun"),
    ("hubspotemail.net", "HubSpot"),
    ("zendesk.com", "Zendesk"),
    ("mktomail.com", "Marketo"),
    ("sparkpostmail.com", "SparkPost"),
    ("messagingengine.com", "Fastmail"),
    ("protonmail.ch", "Proton Mail"),
    ("zoho.com", "Zoho"),
    ("pphosted.com", "Proofpoint"),
];

/// RFC 8301 §3.2: "Signers MUST use RSA keys of at least 1024 bits for all keys."
pub const RSA_MIN_BITS: u32 = 1024;
/// RFC 8301 §3.2: "Signers SHOULD use RSA keys of at least 2048 bits."
pub const RSA_RECOMMENDED_BITS: u32 = 2048;

/// The selectors to try: the user's (normalised, in order), then the
/// built-in list, without duplicates. Returns them and the user's entries
/// that are not valid selectors.
pub fn selectors(user: &[String]) -> (Vec<String>, Vec<String>) {
    let mut seen = BTreeSet::new();
    let mut tried = Vec::new();
    let mut ignored = Vec::new();
    for s in user {
        let s = s.trim().trim_end_matches('.').to_ascii_lowercase();
        if valid_selector(&s) {
            if seen.insert(s.clone()) {
                tried.push(s);
            }
        } else {
            ignored.push(s);
        }
    }
    for s in COMMON_SELECTORS {
        if seen.insert((*s).to_string()) {
            tried.push((*s).to_string());
        }
    }
    (tried, ignored)
}

/// RFC 6376 §3.1: `selector = sub-domain *( "." sub-domain )`; underscores
/// are tolerated since DNS allows them.
fn valid_selector(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// One DKIM key record as received at a selector.
#[derive(Debug, Clone, Serialize)]
struct Published {
    /// The character-strings, in presentation form.
    strings: Vec<String>,
    #[serde(skip)]
    parsed: KeyRecord,
}

/// What one selector lookup showed.
#[derive(Debug)]
struct Selector<'a> {
    selector: String,
    name: String,
    answer: &'a Answer,
    /// The DKIM key records at the name.
    keys: Vec<Published>,
    /// TXT records at the name that are not DKIM (a wildcard, usually).
    other_txt: Vec<String>,
}

impl Selector<'_> {
    fn delegated_to(&self) -> Option<&str> {
        self.answer.cname_chain.last().map(String::as_str)
    }

    /// Something exists at the name: a TXT record or a CNAME.
    fn exists(&self) -> bool {
        !self.answer.records.is_empty() || !self.answer.cname_chain.is_empty()
    }
}

/// A summary of one key for evidence.
#[derive(Debug, Serialize)]
struct KeySummary<'a> {
    selector: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    cname_chain: &'a [String],
    key_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rsa_bits: Option<u32>,
    usable: bool,
    record: &'a str,
}

/// What [`judge`] reads, building no findings: the `_domainkey` probe,
/// each selector tried, the MX (for a null MX, unless `--parked` says it).
pub fn ask(ctx: &Context<'_>, view: &DnsView<'_>) {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    for sel in to_try(ctx, view, &domain).0 {
        view.get(&format!("{sel}._domainkey.{domain}"), RType::Txt);
    }
    if !ctx.options.parked {
        view.get(&domain, RType::Mx);
    }
}

/// The selectors to look up (and those ignored), after asking the
/// `_domainkey` probe name, with its answer.
fn to_try<'a>(ctx: &Context<'_>, view: &DnsView<'a>, domain: &str) -> (Vec<String>, Vec<String>, String, &'a Answer) {
    let (mut tried, ignored) = selectors(&ctx.options.dkim_selectors);
    let probe_name = format!("_domainkey.{domain}");
    let probe = view.get(&probe_name, RType::Txt);
    if matches!(probe.status, Status::NxDomain | Status::NotCollected) {
        // RFC 8020 §2: NXDOMAIN "means that there are no names at or below
        // it", so no built-in selector can hold a key: ask the probe first
        // and skip them (one query instead of dozens per domain). The
        // user's own selectors are still asked, which also catches servers
        // that wrongly answer NXDOMAIN for names with children below.
        let user: BTreeSet<String> = ctx
            .options
            .dkim_selectors
            .iter()
            .map(|s| s.trim().trim_end_matches('.').to_ascii_lowercase())
            .collect();
        tried.retain(|s| user.contains(s));
    }
    (tried, ignored, probe_name, probe)
}

/// Judge the DKIM keys of `ctx.domain`. Findings carry ids `dkim.*`.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<RawFinding> {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let (tried, ignored, probe_name, probe) = to_try(ctx, view, &domain);
    let looked: Vec<Selector<'_>> = tried
        .iter()
        .map(|sel| {
            let name = format!("{sel}._domainkey.{domain}");
            let answer = view.get(&name, RType::Txt);
            let mut keys = Vec::new();
            let mut other_txt = Vec::new();
            for rd in &answer.records {
                let (RData::Txt { strings }, Some(bytes)) = (rd, rd.txt_bytes()) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if dkim::looks_like_key_record(&text) {
                    keys.push(Published {
                        strings: strings.clone(),
                        parsed: dkim::parse_key_record(&text),
                    });
                } else {
                    other_txt.push(text);
                }
            }
            Selector {
                selector: sel.clone(),
                name,
                answer,
                keys,
                other_txt,
            }
        })
        .collect();

    let mut out = Vec::new();
    let mut summaries = Vec::new();
    for s in &looked {
        if let Some(f) = delegated(&domain, s) {
            out.push(f);
        }
        if s.keys.len() > 1 {
            out.push(multiple_records(s));
        } else if s.keys.len() == 1 {
            out.push(RawFinding::new(
                rule::DKIM_MULTIPLE_RECORDS,
                Outcome::Pass,
                &s.name,
                "Exactly one DKIM key record is published at this selector.",
            ));
        }
        let n = s.keys.len();
        for (i, key) in s.keys.iter().enumerate() {
            let prefix = if n > 1 {
                format!("Record {} of {n}: ", i + 1)
            } else {
                String::new()
            };
            out.extend(key_findings(&domain, s, key).into_iter().map(|mut f| {
                f.message = format!("{prefix}{}", f.message);
                f
            }));
            summaries.push(summary(s, key));
        }
    }

    let failed: Vec<(String, String)> = looked
        .iter()
        .filter(|s| !s.answer.status.is_definite())
        .map(|s| (s.name.clone(), s.answer.status.describe()))
        .chain((!probe.status.is_definite()).then(|| (probe_name.clone(), probe.status.describe())))
        .collect();
    let context = Discovery {
        domain: &domain,
        tried: &tried,
        ignored: &ignored,
        probe_name: &probe_name,
        probe,
        looked: &looked,
        summaries: &summaries,
        failed: &failed,
        // A parked domain (declared, or with a null MX) sends no mail.
        parked: ctx.options.parked || crate::facts::null_mx(view, &domain) == Some(true),
    };
    out.push(context.keys_found());
    out.push(context.probe_finding());
    out.push(context.lookup_failed());
    out
}

fn summary<'a>(s: &'a Selector<'_>, key: &'a Published) -> KeySummary<'a> {
    let rsa_bits = match &key.parsed.key {
        KeyData::Valid {
            key: PublicKey::Rsa { modulus_bits, .. },
        } => Some(*modulus_bits),
        _ => None,
    };
    KeySummary {
        selector: &s.selector,
        name: &s.name,
        cname_chain: &s.answer.cname_chain,
        key_type: key.parsed.key_type.as_str(),
        rsa_bits,
        usable: !key.parsed.has_errors(),
        record: &key.parsed.text,
    }
}

fn probe_state(answer: &Answer) -> &'static str {
    match answer.status {
        Status::NxDomain => "nxdomain",
        Status::NoData => "nodata",
        Status::Records => "records",
        _ => "failed",
    }
}

/// The provider a delegation target belongs to.
fn provider(target: &str) -> Option<&'static str> {
    PROVIDERS
        .iter()
        .find(|(suffix, _)| target == *suffix || target.ends_with(&format!(".{suffix}")))
        .map(|(_, name)| *name)
}

/// A CNAME-delegated selector: who holds the key, and whether the target
/// publishes one. RFC 6376 §3.6.2.1 says keys are published as TXT at the
/// selector name; a CNAME there hands the key (and its rotation) to the
/// target's owner.
fn delegated(domain: &str, s: &Selector<'_>) -> Option<RawFinding> {
    let target = s.delegated_to()?;
    let chain = &s.answer.cname_chain;
    let who = provider(target);
    let mut detail = String::new();
    if let Some(name) = who {
        detail = format!(" ({name})");
    }
    let mut f = match &s.answer.status {
        Status::Records if !s.keys.is_empty() => RawFinding::new(
            rule::DKIM_DELEGATED,
            Outcome::Pass,
            &s.name,
            format!(
                "The key is delegated by CNAME to {target}{detail}, which publishes it; that party generates and rotates the key."
            ),
        ),
        status if status.is_definite() => RawFinding::new(
            rule::DKIM_DELEGATED,
            Outcome::Fail,
            &s.name,
            format!(
                "{} is a CNAME to {target}{detail}, which publishes no DKIM key ({}): a dangling delegation. If the target's domain lapses, whoever registers it can publish a key and sign mail as {domain}.",
                s.name,
                status.describe()
            ),
        )
        .remediation(format!(
            "Remove the CNAME at {} if the provider no longer sends for {domain}; otherwise enable DKIM signing at the provider so it publishes the key at {target}.",
            s.name
        )),
        other => RawFinding::new(
            rule::DKIM_DELEGATED,
            Outcome::Indeterminate,
            &s.name,
            format!("{} is a CNAME to {target}{detail}, but the lookup failed: {}", s.name, other.describe()),
        ),
    };
    f = f.evidence("cname_chain", chain).evidence("target", target);
    if let Some(name) = who {
        f = f.evidence("provider", name);
    }
    if let Some(tenant) = microsoft_tenant(target) {
        f = f.evidence("microsoft_tenant", tenant);
        // Microsoft 365 publishes selector1/selector2 as
        // selector1-<domain-with-dashes>._domainkey.<tenant>.onmicrosoft.com.
        let expected = format!("{}-{}", s.selector, domain.replace('.', "-"));
        let first = target.split('.').next().unwrap_or("");
        if target.ends_with(".onmicrosoft.com") && first != expected {
            f = f.evidence("expected_target_label", expected);
        }
    }
    Some(f)
}

/// The tenant of a Microsoft 365 DKIM target such as
/// `selector1-example-com._domainkey.contoso.onmicrosoft.com`.
fn microsoft_tenant(target: &str) -> Option<&str> {
    let rest = target.strip_suffix(".onmicrosoft.com")?;
    rest.rsplit('.').next().filter(|t| !t.is_empty() && !t.starts_with('_'))
}

/// More than one DKIM record at one selector.
///
/// RFC 6376 §3.6.2.2: "TXT RRs MUST be unique for a particular selector
/// name; that is, if there are multiple records in an RRset, the results
/// are undefined."
fn multiple_records(s: &Selector<'_>) -> RawFinding {
    let texts: Vec<&str> = s.keys.iter().map(|k| k.parsed.text.as_str()).collect();
    RawFinding::new(
        rule::DKIM_MULTIPLE_RECORDS,
        Outcome::Fail,
        &s.name,
        format!(
            "{} DKIM key records are published at {}: verifiers pick one at random, so signatures fail unpredictably.",
            s.keys.len(),
            s.name
        ),
    )
    .evidence("records", &texts)
    .remediation(format!(
        "Keep exactly one TXT record at {}: the key your signer uses; delete the others.",
        s.name
    ))
}

#[cfg(test)]
mod tests;

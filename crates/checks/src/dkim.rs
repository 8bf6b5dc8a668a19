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

use mailwarden_model::{Answer, DnsView, Finding, Outcome, RData, RType, Severity, Status};
use mailwarden_records::dkim::{self, Diagnostic, KeyData, KeyRecord, KeyType, Level, PublicKey};
use serde::Serialize;

use crate::Context;
use crate::located::{Bounded, WithDiagnostics};

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

/// Judge the DKIM keys of `ctx.domain`. Findings carry ids `dkim.*`.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<Finding> {
    let domain = mailwarden_model::name::normalise(ctx.domain);
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
            out.push(Finding::new(
                "dkim.multiple-records",
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
        parked: ctx.options.parked || crate::mx::publishes_null_mx(view, &domain) == Some(true),
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

/// The domain-level view of discovery.
struct Discovery<'v, 'a> {
    domain: &'v str,
    tried: &'v [String],
    ignored: &'v [String],
    probe_name: &'v str,
    probe: &'a Answer,
    looked: &'v [Selector<'a>],
    summaries: &'v [KeySummary<'v>],
    failed: &'v [(String, String)],
    parked: bool,
}

impl Discovery<'_, '_> {
    fn with_evidence(&self, f: Finding) -> Finding {
        let f = f
            .evidence("selectors_tried", self.tried)
            .evidence("domainkey_probe", probe_state(self.probe))
            .evidence("keys", self.summaries);
        // TXT records at selector names that are not DKIM keys: usually a
        // wildcard TXT record answering for every name.
        let other: Vec<String> = self
            .looked
            .iter()
            .flat_map(|s| s.other_txt.iter().map(move |t| format!("{}: {t}", s.name)))
            .collect();
        let f = if other.is_empty() {
            f
        } else {
            f.evidence("non_dkim_txt", other)
        };
        if self.ignored.is_empty() {
            f
        } else {
            f.evidence("selectors_ignored", self.ignored)
        }
    }

    fn tried_text(&self) -> String {
        self.tried.join(", ")
    }

    /// `; selectors tried: a, b` after an NXDOMAIN at the probe name,
    /// which rules out every selector; nothing when none needed asking
    /// (never an empty list).
    fn also_tried(&self) -> String {
        if self.tried.is_empty() {
            String::new()
        } else {
            format!("; selectors tried: {}", self.tried_text())
        }
    }

    /// RFC 6376 §3.6.2.1: "All DKIM keys are stored in a subdomain named
    /// "_domainkey"" — each at
    /// `<selector>._domainkey.<domain>`; without a key, receivers cannot
    /// verify any signature of the domain and DMARC can only align on SPF.
    fn keys_found(&self) -> Finding {
        let usable: Vec<&KeySummary<'_>> = self.summaries.iter().filter(|k| k.usable).collect();
        let selectors_of = |keys: &[&KeySummary<'_>]| {
            keys.iter()
                .map(|k| k.selector)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !usable.is_empty() {
            return self.with_evidence(Finding::new(
                "dkim.keys-found",
                Outcome::Pass,
                self.domain,
                format!(
                    "Usable DKIM key(s) at selector(s) {} (of {} selectors tried).",
                    selectors_of(&usable),
                    self.tried.len()
                ),
            ));
        }
        if self.parked {
            return self.with_evidence(Finding::new(
                "dkim.keys-found",
                Outcome::NotApplicable,
                self.domain,
                "The domain is parked (declared with --parked, or it publishes a null MX): it sends no mail, so it needs no DKIM key.",
            ));
        }
        if !self.summaries.is_empty() {
            let all: Vec<&KeySummary<'_>> = self.summaries.iter().collect();
            return self
                .with_evidence(Finding::new(
                    "dkim.keys-found",
                    Outcome::Fail,
                    self.domain,
                    format!(
                        "DKIM key records exist at selector(s) {}, but none is usable (revoked, invalid or unusable; see the other dkim findings).",
                        selectors_of(&all)
                    ),
                ))
                .remediation(self.publish_remediation());
        }
        let missing_lookups: Vec<&str> = self
            .looked
            .iter()
            .filter(|s| !s.answer.status.is_definite())
            .map(|s| s.selector.as_str())
            .collect();
        if !missing_lookups.is_empty() {
            return self.with_evidence(Finding::new(
                "dkim.keys-found",
                Outcome::Indeterminate,
                self.domain,
                format!(
                    "No DKIM key found, but the lookups for selector(s) {} failed, so keys may exist there.",
                    missing_lookups.join(", ")
                ),
            ));
        }
        match &self.probe.status {
            Status::NxDomain => self
                .with_evidence(Finding::new(
                    "dkim.keys-found",
                    Outcome::Fail,
                    self.domain,
                    format!(
                        "No DKIM key: {} does not exist (NXDOMAIN), so no key exists under any selector (RFC 8020){}.",
                        self.probe_name,
                        self.also_tried()
                    ),
                ))
                .remediation(self.publish_remediation()),
            status if status.is_definite() => self.with_evidence(Finding::new(
                "dkim.keys-found",
                Outcome::Indeterminate,
                self.domain,
                format!(
                    "No DKIM key under the {} selectors tried ({}), but {} exists, so keys may be published under selectors not tried. Give the selector from the s= tag of a DKIM-Signature header of the domain's mail with --dkim-selector.",
                    self.tried.len(),
                    self.tried_text(),
                    self.probe_name
                ),
            )),
            status => self.with_evidence(Finding::new(
                "dkim.keys-found",
                Outcome::Indeterminate,
                self.domain,
                format!(
                    "No DKIM key under the selectors tried, and the {} probe failed ({}), so it is unknown whether keys exist under other selectors.",
                    self.probe_name,
                    status.describe()
                ),
            )),
        }
    }

    fn publish_remediation(&self) -> String {
        format!(
            "Generate a 2048-bit RSA key pair (`openssl genrsa -out dkim.key 2048`; public part: `openssl rsa -in dkim.key -pubout -outform DER | base64 -w0`), configure your mail server or provider to sign with it, and publish `<selector>._domainkey.{d}. IN TXT \"v=DKIM1; k=rsa; p=<base64>\"` (split the value into strings of at most 255 characters).",
            d = self.domain
        )
    }

    /// RFC 8020 §2: "when a DNS resolver receives a response with a
    /// response code of NXDOMAIN, it means that the domain name which is
    /// thus denied AND ALL THE NAMES UNDER IT do not exist."
    fn probe_finding(&self) -> Finding {
        let below: Vec<&str> = self
            .looked
            .iter()
            .filter(|s| s.exists())
            .map(|s| s.name.as_str())
            .collect();
        let f = match &self.probe.status {
            Status::NxDomain if !below.is_empty() => Finding::new(
                "dkim.domainkey-probe",
                Outcome::Fail,
                self.domain,
                format!(
                    "{} answers NXDOMAIN although names exist below it ({}). Resolvers that apply RFC 8020 cache the NXDOMAIN and then fail to find these DKIM keys.",
                    self.probe_name,
                    below.join(", ")
                ),
            )
            .evidence("names_below", &below)
            .remediation(
                "Fix or replace the authoritative DNS software: an empty non-terminal such as _domainkey must be answered NOERROR with no data (NODATA), not NXDOMAIN.",
            ),
            Status::NxDomain => Finding::new(
                "dkim.domainkey-probe",
                Outcome::Pass,
                self.domain,
                format!(
                    "{} does not exist (NXDOMAIN): by RFC 8020 no DKIM key exists under any selector{}.",
                    self.probe_name,
                    self.also_tried()
                ),
            ),
            Status::NoData | Status::Records => Finding::new(
                "dkim.domainkey-probe",
                Outcome::Pass,
                self.domain,
                format!(
                    "{} exists: names exist below it, so DKIM keys may be published under selectors other than the {} tried.",
                    self.probe_name,
                    self.tried.len()
                ),
            ),
            other => Finding::new(
                "dkim.domainkey-probe",
                Outcome::Indeterminate,
                self.domain,
                format!("Could not look up {}: {}", self.probe_name, other.describe()),
            ),
        };
        f.evidence("selectors_tried", self.tried)
            .evidence("domainkey_probe", probe_state(self.probe))
    }

    fn lookup_failed(&self) -> Finding {
        if self.failed.is_empty() {
            let asked = match self.tried.len() {
                0 => self.probe_name.to_string(),
                n => format!("{n} selectors and {}", self.probe_name),
            };
            return Finding::new(
                "dkim.lookup-failed",
                Outcome::Pass,
                self.domain,
                format!("Every DKIM lookup was answered ({asked})."),
            );
        }
        let list: Vec<String> = self.failed.iter().map(|(n, why)| format!("{n}/TXT {why}")).collect();
        Finding::new(
            "dkim.lookup-failed",
            Outcome::Indeterminate,
            self.domain,
            format!(
                "{} DKIM lookup(s) failed, so the DKIM checks that need them are indeterminate: {}.",
                self.failed.len(),
                list.join("; ")
            ),
        )
        .evidence("failed_lookups", &list)
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
fn delegated(domain: &str, s: &Selector<'_>) -> Option<Finding> {
    let target = s.delegated_to()?;
    let chain = &s.answer.cname_chain;
    let who = provider(target);
    let mut detail = String::new();
    if let Some(name) = who {
        detail = format!(" ({name})");
    }
    let mut f = match &s.answer.status {
        Status::Records if !s.keys.is_empty() => Finding::new(
            "dkim.delegated",
            Outcome::Pass,
            &s.name,
            format!(
                "The key is delegated by CNAME to {target}{detail}, which publishes it; that party generates and rotates the key."
            ),
        ),
        status if status.is_definite() => Finding::new(
            "dkim.delegated",
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
        other => Finding::new(
            "dkim.delegated",
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
fn multiple_records(s: &Selector<'_>) -> Finding {
    let texts: Vec<&str> = s.keys.iter().map(|k| k.parsed.text.as_str()).collect();
    Finding::new(
        "dkim.multiple-records",
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

fn located<'d>(record: &KeyRecord, diags: &[&'d Diagnostic]) -> Bounded<'d, Diagnostic> {
    Bounded::of(diags.iter().copied(), &record.text)
}

/// Diagnostic codes that belong to the tag-list grammar (dkim.syntax).
const SYNTAX_CODES: &[&str] = &[
    "empty-record",
    "tag-without-value",
    "tag-name",
    "value-char",
    "duplicate-tag",
    "key-missing",
];

/// The findings for one key record.
fn key_findings(domain: &str, s: &Selector<'_>, key: &Published) -> Vec<Finding> {
    let r = &key.parsed;
    let name = s.name.as_str();
    // Every finding cites the record; the strings as received (how it is
    // split) only where something is wrong, so a selector's dozen
    // findings do not carry a 60 KB record twice each.
    let with_record = |f: Finding| {
        let f = f.evidence("record", &r.text);
        match f.outcome {
            Outcome::Pass => f,
            _ => f.evidence("strings", &key.strings),
        }
    };
    let delegated_note = s
        .delegated_to()
        .map(|t| format!(" The key is delegated to {t}: fix it there (or ask that provider)."))
        .unwrap_or_default();
    vec![
        with_record(syntax(r, name, Level::Error)),
        with_record(syntax(r, name, Level::Warning)),
        with_record(version(r, name)),
        with_record(key_type(r, name)),
        with_record(revoked(r, name, &s.selector, domain)),
        with_record(invalid(r, name, &s.selector, domain, &delegated_note)),
        with_record(rsa_weak(r, name, &s.selector, domain, &delegated_note)),
        with_record(testing(r, name)),
        with_record(sha1(r, name)),
        with_record(service(r, name)),
    ]
}

fn codes<'r>(r: &'r KeyRecord, wanted: &[&str]) -> Vec<&'r Diagnostic> {
    r.diagnostics.iter().filter(|d| wanted.contains(&d.code)).collect()
}

/// RFC 6376 §3.2: "Tags with duplicate names MUST NOT occur within a
/// single tag-list; if a tag name does occur more than once, the entire
/// tag-list is invalid." and §3.6.1, `p=`: "Public-key data (base64;
/// REQUIRED)." Warnings: "Unrecognized tags MUST be ignored."
fn syntax(r: &KeyRecord, name: &str, level: Level) -> Finding {
    let (id, what) = match level {
        Level::Error => ("dkim.syntax", "syntax error"),
        Level::Warning => ("dkim.syntax-warning", "warning"),
    };
    let found: Vec<&Diagnostic> = r
        .diagnostics
        .iter()
        .filter(|d| d.level == level && (level == Level::Warning || SYNTAX_CODES.contains(&d.code)))
        .collect();
    if found.is_empty() {
        return Finding::new(id, Outcome::Pass, name, format!("No {what}s in the key record."));
    }
    let consequence = if level == Level::Error {
        " Verifiers reject the record, so signatures with this selector fail."
    } else {
        ""
    };
    Finding::new(
        id,
        Outcome::Fail,
        name,
        format!(
            "{} {what}(s) in the key record.{consequence}\n{}",
            found.len(),
            located(r, &found).message()
        ),
    )
    .diagnostics("diagnostics", &located(r, &found))
}

/// RFC 6376 §3.6.1, `v=`: "If specified, this tag MUST be set to "DKIM1"
/// (without the quotes). This tag MUST be the first tag in the record.
/// Records beginning with a "v=" tag with any other value MUST be
/// discarded."
fn version(r: &KeyRecord, name: &str) -> Finding {
    let found = codes(r, &["version", "version-not-first", "version-case"]);
    if found.is_empty() {
        let msg = match &r.version {
            Some(_) => "v=DKIM1 is the first tag.",
            None => "No v= tag (it is optional and defaults to DKIM1).",
        };
        return Finding::new("dkim.version", Outcome::Pass, name, msg);
    }
    let rest: Vec<String> = r
        .tags
        .iter()
        .filter(|t| t.name != "v")
        .map(|t| format!("{}={}", t.name, t.value))
        .collect();
    let f = Finding::new(
        "dkim.version",
        Outcome::Fail,
        name,
        format!("The version tag is wrong:\n{}", located(r, &found).message()),
    )
    .diagnostics("diagnostics", &located(r, &found))
    .remediation(format!(
        "Publish the record with v=DKIM1 first: \"v=DKIM1; {}\"",
        rest.join("; ")
    ));
    if found.iter().all(|d| d.level == Level::Warning) {
        f.severity(Severity::Low)
    } else {
        f
    }
}

/// RFC 6376 §3.6.1, `k=`: "Unrecognized key types MUST be ignored."; RFC
/// 8463 §4.2 registers `ed25519` next to `rsa`.
fn key_type(r: &KeyRecord, name: &str) -> Finding {
    let found = codes(r, &["key-type", "key-type-case"]);
    if found.is_empty() {
        return Finding::new(
            "dkim.key-type",
            Outcome::Pass,
            name,
            format!("Key type {}.", r.key_type.as_str()),
        )
        .evidence("key_type", r.key_type.as_str());
    }
    let f = Finding::new(
        "dkim.key-type",
        Outcome::Fail,
        name,
        format!("The key type is wrong:\n{}", located(r, &found).message()),
    )
    .diagnostics("diagnostics", &located(r, &found))
    .remediation("Use k=rsa (with an RSA key) or k=ed25519 (with a raw 32-byte Ed25519 key), in lower case.");
    if matches!(r.key_type, KeyType::Unknown(_)) {
        f
    } else {
        f.severity(Severity::Low)
    }
}

/// RFC 6376 §3.6.1, `p=`: "An empty value means that this public key has
/// been revoked."
fn revoked(r: &KeyRecord, name: &str, selector: &str, domain: &str) -> Finding {
    match r.key {
        KeyData::Revoked => Finding::new(
            "dkim.key-revoked",
            Outcome::Fail,
            name,
            format!(
                "The key at selector {selector} is revoked (empty p=): signatures made with it fail. This is expected for a retired selector."
            ),
        )
        .remediation(format!(
            "If {domain} still signs with selector {selector}, publish its current public key there; if the selector is retired, make sure no signer uses it (and eventually delete the record)."
        )),
        KeyData::Missing => Finding::new(
            "dkim.key-revoked",
            Outcome::NotApplicable,
            name,
            "The record has no p= tag at all (see dkim.syntax).",
        ),
        _ => Finding::new("dkim.key-revoked", Outcome::Pass, name, "The key is not revoked."),
    }
}

/// RFC 6376 §3.6.1, `p=`: "The syntax and semantics of this tag value
/// before being encoded in base64 are defined by the "k=" tag."; for RSA
/// it is "an ASN.1 DER-encoded [ITU-X660-1997] RSAPublicKey" inside a
/// SubjectPublicKeyInfo.
fn invalid(r: &KeyRecord, name: &str, selector: &str, domain: &str, delegated: &str) -> Finding {
    match &r.key {
        KeyData::Invalid { reason } => Finding::new(
            "dkim.key-invalid",
            Outcome::Fail,
            name,
            format!("p= is not a usable public key: {reason}"),
        )
        .evidence("reason", reason)
        .remediation(format!(
            "Publish the public key exactly as your signer exports it, e.g. `{selector}._domainkey.{domain}. IN TXT \"v=DKIM1; k=rsa; p=<base64 of the DER SubjectPublicKeyInfo>\"` (split into strings of at most 255 characters, with nothing added between them).{delegated}"
        )),
        KeyData::Valid { key } => Finding::new(
            "dkim.key-invalid",
            Outcome::Pass,
            name,
            match key {
                PublicKey::Rsa { modulus_bits, .. } => format!("p= is a {modulus_bits}-bit RSA public key."),
                PublicKey::Ed25519 => "p= is an Ed25519 public key.".to_string(),
            },
        )
        .evidence("key", key),
        KeyData::Revoked | KeyData::Missing | KeyData::Unchecked => Finding::new(
            "dkim.key-invalid",
            Outcome::NotApplicable,
            name,
            "No key to decode (missing, revoked, or of an unknown type).",
        ),
    }
}

/// RFC 8301 §3.2: "Signers MUST use RSA keys of at least 1024 bits for all
/// keys. Signers SHOULD use RSA keys of at least 2048 bits."
fn rsa_weak(r: &KeyRecord, name: &str, selector: &str, domain: &str, delegated: &str) -> Finding {
    let KeyData::Valid { key } = &r.key else {
        return Finding::new(
            "dkim.rsa-weak",
            Outcome::NotApplicable,
            name,
            "No valid key to measure.",
        );
    };
    let PublicKey::Rsa { modulus_bits: bits, .. } = key else {
        return Finding::new(
            "dkim.rsa-weak",
            Outcome::NotApplicable,
            name,
            "An Ed25519 key (RFC 8463): no RSA length concern.",
        );
    };
    let bits = *bits;
    let remediation = format!(
        "Generate a 2048-bit key (`openssl genrsa -out {selector}-new.key 2048`; public part: `openssl rsa -in {selector}-new.key -pubout -outform DER | base64 -w0`), publish it under a new selector, e.g. `<new-selector>._domainkey.{domain}. IN TXT \"v=DKIM1; k=rsa; p=<base64>\"`, switch signing to it, then revoke the old one with `{selector}._domainkey.{domain}. IN TXT \"v=DKIM1; p=\"`.{delegated}"
    );
    if bits < RSA_MIN_BITS {
        Finding::new(
            "dkim.rsa-weak",
            Outcome::Fail,
            name,
            format!(
                "The RSA key is {bits} bits, below the 1024 bits RFC 8301 requires: verifiers treat its signatures as invalid, and a key this short can be factored."
            ),
        )
        .evidence("rsa_bits", bits)
        .severity(Severity::High)
        .remediation(remediation)
    } else if bits < RSA_RECOMMENDED_BITS {
        Finding::new(
            "dkim.rsa-weak",
            Outcome::Fail,
            name,
            format!("The RSA key is {bits} bits; RFC 8301 says signers SHOULD use at least 2048 bits."),
        )
        .evidence("rsa_bits", bits)
        .remediation(remediation)
    } else {
        Finding::new(
            "dkim.rsa-weak",
            Outcome::Pass,
            name,
            format!("The RSA key is {bits} bits."),
        )
        .evidence("rsa_bits", bits)
    }
}

/// RFC 6376 §3.6.1, `t=y`: "This domain is testing DKIM. Verifiers MUST
/// NOT treat messages from Signers in testing mode differently from
/// unsigned email, even should the signature fail to verify."
fn testing(r: &KeyRecord, name: &str) -> Finding {
    let strict = if r.strict() {
        " The t=s flag (the i= domain must equal d=) is set."
    } else {
        ""
    };
    if r.testing() {
        let rest: Vec<String> = r
            .tags
            .iter()
            .filter(|t| t.name != "t")
            .map(|t| format!("{}={}", t.name, t.value))
            .chain(r.strict().then(|| "t=s".to_string()))
            .collect();
        Finding::new(
            "dkim.testing",
            Outcome::Fail,
            name,
            format!("The key is in testing mode (t=y): receivers may treat signed mail like unsigned mail.{strict}"),
        )
        .evidence("flags", &r.flags)
        .remediation(format!(
            "Once signatures verify, remove the y flag: \"{}\"",
            rest.join("; ")
        ))
    } else {
        Finding::new(
            "dkim.testing",
            Outcome::Pass,
            name,
            format!("The key is not in testing mode.{strict}"),
        )
        .evidence("flags", &r.flags)
    }
}

/// RFC 8301 §3.1: "rsa-sha1 MUST NOT be used for signing or verifying."
fn sha1(r: &KeyRecord, name: &str) -> Finding {
    let found = codes(r, &["sha1-only", "sha1-allowed", "hash-none"]);
    if found.is_empty() {
        let msg = match &r.hashes {
            None => "No h= tag: the key is usable with sha256.".to_string(),
            Some(h) => format!("h={}: sha256 is allowed and sha1 is not.", h.join(":")),
        };
        return Finding::new("dkim.sha1", Outcome::Pass, name, msg);
    }
    let only = found.iter().any(|d| d.level == Level::Error);
    let f = Finding::new(
        "dkim.sha1",
        Outcome::Fail,
        name,
        format!("The h= tag is wrong:\n{}", located(r, &found).message()),
    )
    .evidence("h", &r.hashes)
    .diagnostics("diagnostics", &located(r, &found))
    .remediation("Sign with rsa-sha256 (or ed25519-sha256) and set h=sha256, or drop the h= tag.");
    if only { f } else { f.severity(Severity::Low) }
}

/// RFC 6376 §3.6.1, `s=`: "Unrecognized service types MUST be ignored."
/// A record whose services exclude `email` and `*` cannot verify mail.
fn service(r: &KeyRecord, name: &str) -> Finding {
    let found = codes(r, &["service-type"]);
    if found.is_empty() {
        return Finding::new(
            "dkim.service-type",
            Outcome::Pass,
            name,
            "The key may be used for email.",
        );
    }
    Finding::new(
        "dkim.service-type",
        Outcome::Fail,
        name,
        format!("The key is not for email:\n{}", located(r, &found).message()),
    )
    .evidence("s", &r.services)
    .remediation("Remove the s= tag, or set s=email.")
}

#[cfg(test)]
mod tests {
    use mailwarden_model::{
        Answer, Finding, Outcome::*, Proof, QueryKey, RData, RType, ScanOptions, Severity, SourceInfo, Status,
    };

    use super::*;
    use crate::testutil::{Dns, find, outcome};

    const D: &str = "example.com";
    const RSA512: &str = include_str!("../../../testdata/dkim/rsa512.spki.b64");
    const RSA1024: &str = include_str!("../../../testdata/dkim/rsa1024.spki.b64");
    const RSA2048: &str = include_str!("../../../testdata/dkim/rsa2048.spki.b64");
    const ED_RAW: &str = include_str!("../../../testdata/dkim/ed25519.raw.b64");

    fn key(b64: &str) -> String {
        format!("v=DKIM1; k=rsa; p={}", b64.trim())
    }

    fn name(sel: &str) -> String {
        format!("{sel}._domainkey.{D}")
    }

    /// Every selector NXDOMAIN, the probe as given, and `records` at some.
    fn dns(probe: Status, records: &[(&str, &[&str])]) -> Dns {
        let (tried, _) = selectors(&["custom".to_string()]);
        let mut d = Dns::new().mx(D, &[(10, "mx.example.com")]);
        for s in &tried {
            d = d.status(&name(s), RType::Txt, Status::NxDomain);
        }
        d = if probe == Status::Records {
            d.txt(&format!("_domainkey.{D}"), &["o=~"])
        } else {
            d.status(&format!("_domainkey.{D}"), RType::Txt, probe)
        };
        for (sel, texts) in records {
            d = d.txt(&name(sel), texts);
        }
        d
    }

    fn run_with(dns: &Dns, parked: bool) -> Vec<Finding> {
        let options = ScanOptions {
            dkim_selectors: vec!["custom".to_string()],
            parked,
            ..ScanOptions::default()
        };
        run_options(dns, &options)
    }

    fn run_options(dns: &Dns, options: &ScanOptions) -> Vec<Finding> {
        let source = SourceInfo::default();
        let ctx = Context {
            roots: &crate::tls::cert::Roots::WebPki,
            domain: D,
            options,
            source: &source,
            now: 0,
        };
        dns.judge(|v| judge(&ctx, v))
    }

    fn run(dns: &Dns) -> Vec<Finding> {
        run_with(dns, false)
    }

    #[test]
    fn selector_list_has_user_selectors_first_without_duplicates() {
        let (tried, ignored) = selectors(&["Custom.".into(), "google".into(), "bad sel".into(), "".into()]);
        assert_eq!(tried[0], "custom");
        assert_eq!(tried.iter().filter(|s| *s == "google").count(), 1);
        assert_eq!(ignored, ["bad sel", ""]);
        for s in [
            "google",
            "selector1",
            "selector2",
            "k1",
            "mandrill",
            "mxvault",
            "everlytickey2",
        ] {
            assert!(tried.iter().any(|t| t == s), "{s}");
        }
    }

    #[test]
    fn a_good_2048_bit_key_passes_every_rule() {
        let text = key(RSA2048);
        let f = run(&dns(Status::NoData, &[("google", &[&text])]));
        assert_eq!(outcome(&f, "dkim.keys-found", D), Pass);
        assert_eq!(outcome(&f, "dkim.domainkey-probe", D), Pass);
        assert_eq!(outcome(&f, "dkim.lookup-failed", D), Pass);
        let n = name("google");
        for id in [
            "dkim.multiple-records",
            "dkim.syntax",
            "dkim.syntax-warning",
            "dkim.version",
            "dkim.key-type",
            "dkim.key-revoked",
            "dkim.key-invalid",
            "dkim.rsa-weak",
            "dkim.testing",
            "dkim.sha1",
            "dkim.service-type",
        ] {
            assert_eq!(outcome(&f, id, &n), Pass, "{id}: {f:#?}");
        }
        assert!(f.iter().all(|x| x.outcome != Fail), "{f:#?}");
        let keys = &find(&f, "dkim.keys-found", D).evidence["keys"];
        assert_eq!(keys[0]["rsa_bits"], 2048);
        let tried = find(&f, "dkim.keys-found", D).evidence["selectors_tried"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(tried, COMMON_SELECTORS.len() + 1);
    }

    #[test]
    fn ed25519_key_passes_and_rsa_length_is_not_applicable() {
        let text = format!("v=DKIM1; k=ed25519; p={}", ED_RAW.trim());
        let f = run(&dns(Status::NoData, &[("custom", &[&text])]));
        assert_eq!(outcome(&f, "dkim.keys-found", D), Pass);
        assert_eq!(outcome(&f, "dkim.rsa-weak", &name("custom")), NotApplicable);
        assert_eq!(outcome(&f, "dkim.key-invalid", &name("custom")), Pass);
    }

    #[test]
    fn short_rsa_keys_fail_with_graded_severity() {
        let k512 = key(RSA512);
        let k1024 = key(RSA1024);
        let f = run(&dns(Status::NoData, &[("s1", &[&k512]), ("s2", &[&k1024])]));
        let weak = find(&f, "dkim.rsa-weak", &name("s1"));
        assert_eq!((weak.outcome, weak.severity), (Fail, Severity::High));
        assert!(weak.remediation.as_deref().unwrap().contains("openssl genrsa"));
        let medium = find(&f, "dkim.rsa-weak", &name("s2"));
        assert_eq!(medium.outcome, Fail);
        assert!(!medium.severity_override);
        assert!(medium.message.contains("1024 bits"));
    }

    #[test]
    fn nxdomain_probe_and_no_keys_fails_keys_found() {
        let f = run(&dns(Status::NxDomain, &[]));
        let k = find(&f, "dkim.keys-found", D);
        assert_eq!(k.outcome, Fail);
        assert!(k.message.contains("RFC 8020"), "{}", k.message);
        // Under an NXDOMAIN probe only the user's selector is asked (RFC 8020).
        assert!(
            k.message.contains("custom") && !k.message.contains("everlytickey1"),
            "{}",
            k.message
        );
        assert!(k.remediation.as_deref().unwrap().contains("v=DKIM1; k=rsa; p="));
        assert_eq!(outcome(&f, "dkim.domainkey-probe", D), Pass);
    }

    /// Without `--dkim-selector`, an NXDOMAIN probe leaves no selector to
    /// ask: the findings said "selectors tried: ." (an empty list).
    #[test]
    fn nxdomain_probe_without_user_selectors_prints_no_empty_selector_list() {
        let d = Dns::new().mx(D, &[(10, "mx.example.com")]).status(
            &format!("_domainkey.{D}"),
            RType::Txt,
            Status::NxDomain,
        );
        let f = run_options(&d, &ScanOptions::default());
        let k = find(&f, "dkim.keys-found", D);
        assert_eq!(k.outcome, Fail);
        for f in &f {
            assert!(
                !f.message.contains("tried: .") && !f.message.contains(" 0 ") && !f.message.contains("(0 "),
                "{}: {}",
                f.id,
                f.message
            );
        }
        assert!(k.message.ends_with("(RFC 8020)."), "{}", k.message);
    }

    #[test]
    fn existing_domainkey_without_found_keys_is_indeterminate_not_missing() {
        for probe in [Status::NoData, Status::Records] {
            let f = run(&dns(probe, &[]));
            let k = find(&f, "dkim.keys-found", D);
            assert_eq!(k.outcome, Indeterminate);
            assert!(k.message.contains("--dkim-selector"), "{}", k.message);
            assert_eq!(outcome(&f, "dkim.domainkey-probe", D), Pass);
        }
    }

    #[test]
    fn probe_nxdomain_with_keys_below_violates_rfc8020() {
        let text = key(RSA2048);
        let f = run(&dns(Status::NxDomain, &[("custom", &[&text])]));
        assert_eq!(outcome(&f, "dkim.domainkey-probe", D), Fail);
        assert_eq!(outcome(&f, "dkim.keys-found", D), Pass);
    }

    /// The built-in selectors cost dozens of queries per domain; under an
    /// NXDOMAIN probe they cannot exist (RFC 8020), so they are not asked.
    #[test]
    fn nxdomain_probe_skips_the_built_in_selectors() {
        let d = Dns::new().mx(D, &[(10, "mx.example.com")]).status(
            &format!("_domainkey.{D}"),
            RType::Txt,
            Status::NxDomain,
        );
        let view = mailwarden_model::DnsView::new(&d.0);
        let options = ScanOptions {
            dkim_selectors: vec!["custom".into()],
            parked: false,
            ..ScanOptions::default()
        };
        let source = SourceInfo::default();
        judge(
            &Context {
                roots: &crate::tls::cert::Roots::WebPki,
                domain: D,
                options: &options,
                source: &source,
                now: 0,
            },
            &view,
        );
        let missing = view.into_missing();
        assert_eq!(
            missing.into_iter().map(|k| k.name).collect::<Vec<_>>(),
            vec![name("custom")]
        );
    }

    #[test]
    fn failed_lookups_are_indeterminate_never_missing() {
        let d = dns(Status::NoData, &[]).status(&name("google"), RType::Txt, Status::Timeout);
        let f = run(&d);
        assert_eq!(outcome(&f, "dkim.keys-found", D), Indeterminate);
        let lf = find(&f, "dkim.lookup-failed", D);
        assert_eq!(lf.outcome, Indeterminate);
        assert!(lf.message.contains("google._domainkey.example.com"));
        let d = dns(Status::ServFail, &[]);
        let f = run(&d);
        assert_eq!(outcome(&f, "dkim.keys-found", D), Indeterminate);
        assert_eq!(outcome(&f, "dkim.domainkey-probe", D), Indeterminate);
        assert_eq!(outcome(&f, "dkim.lookup-failed", D), Indeterminate);
    }

    #[test]
    fn wildcard_txt_at_selector_is_not_a_key() {
        let f = run(&dns(Status::NoData, &[("default", &["v=spf1 -all"])]));
        assert_eq!(outcome(&f, "dkim.keys-found", D), Indeterminate);
        assert!(f.iter().all(|x| x.subject != name("default")));
        let ev = &find(&f, "dkim.keys-found", D).evidence["non_dkim_txt"];
        assert_eq!(ev[0], "default._domainkey.example.com: v=spf1 -all");
    }

    #[test]
    fn revoked_key_fails_and_counts_as_no_usable_key() {
        let f = run(&dns(Status::NoData, &[("k1", &["v=DKIM1; k=rsa; p="])]));
        assert_eq!(outcome(&f, "dkim.key-revoked", &name("k1")), Fail);
        assert_eq!(outcome(&f, "dkim.key-invalid", &name("k1")), NotApplicable);
        assert_eq!(outcome(&f, "dkim.keys-found", D), Fail);
        assert_eq!(outcome(&f, "dkim.syntax", &name("k1")), Pass);
    }

    #[test]
    fn parked_domain_needs_no_key() {
        let f = run_with(&dns(Status::NxDomain, &[]), true);
        assert_eq!(outcome(&f, "dkim.keys-found", D), NotApplicable);
    }

    /// Regression: a null-MX domain (it accepts no mail and, per the
    /// parked-domain practice, sends none) was told to publish a DKIM key.
    #[test]
    fn null_mx_domain_needs_no_key() {
        let f = run(&dns(Status::NxDomain, &[]).mx(D, &[(0, ".")]));
        assert_eq!(outcome(&f, "dkim.keys-found", D), NotApplicable);
        let with_mx = run(&dns(Status::NxDomain, &[]));
        assert_eq!(outcome(&with_mx, "dkim.keys-found", D), Fail);
    }

    #[test]
    fn record_level_failures() {
        let k = RSA2048.trim();
        let cases: Vec<(&str, String)> = vec![
            ("dkim.syntax", format!("v=DKIM1; p={k}; p={k}")),
            ("dkim.syntax-warning", format!("v=DKIM1; x=1; p={k}")),
            ("dkim.version", format!("k=rsa; v=DKIM1; p={k}")),
            ("dkim.key-type", format!("v=DKIM1; k=dsa; p={k}")),
            ("dkim.key-invalid", "v=DKIM1; p=aGVsbG8=".to_string()),
            ("dkim.testing", format!("v=DKIM1; t=y:s; p={k}")),
            ("dkim.sha1", format!("v=DKIM1; h=sha1; p={k}")),
            ("dkim.service-type", format!("v=DKIM1; s=other; p={k}")),
        ];
        for (id, text) in cases {
            let f = run(&dns(Status::NoData, &[("custom", &[&text])]));
            let hit = find(&f, id, &name("custom"));
            assert_eq!(hit.outcome, Fail, "{id}: {hit:#?}");
            assert!(hit.evidence.contains_key("record"), "{id}");
        }
    }

    #[test]
    fn syntax_errors_carry_carets() {
        let k = RSA2048.trim();
        let text = format!("v=DKIM1; junk; p={k}");
        let f = run(&dns(Status::NoData, &[("custom", &[&text])]));
        let s = find(&f, "dkim.syntax", &name("custom"));
        assert!(s.message.contains("         ^^^^"), "{}", s.message);
        assert_eq!(s.evidence["diagnostics"][0]["code"], "tag-without-value");
        assert_eq!(outcome(&f, "dkim.keys-found", D), Fail);
    }

    #[test]
    fn testing_remediation_keeps_strict_flag() {
        let k = RSA2048.trim();
        let text = format!("v=DKIM1; t=y:s; p={k}");
        let f = run(&dns(Status::NoData, &[("custom", &[&text])]));
        let t = find(&f, "dkim.testing", &name("custom"));
        assert!(
            t.remediation.as_deref().unwrap().ends_with("t=s\""),
            "{:?}",
            t.remediation
        );
        // Testing mode does not make the key unusable.
        assert_eq!(outcome(&f, "dkim.keys-found", D), Pass);
    }

    #[test]
    fn sha1_next_to_sha256_is_low() {
        let k = RSA2048.trim();
        let text = format!("v=DKIM1; h=sha1:sha256; p={k}");
        let f = run(&dns(Status::NoData, &[("custom", &[&text])]));
        let s = find(&f, "dkim.sha1", &name("custom"));
        assert_eq!((s.outcome, s.severity), (Fail, Severity::Low));
    }

    #[test]
    fn multiple_records_at_one_selector_fail() {
        let a = key(RSA2048);
        let b = key(RSA1024);
        let f = run(&dns(Status::NoData, &[("custom", &[&a, &b])]));
        assert_eq!(outcome(&f, "dkim.multiple-records", &name("custom")), Fail);
        let weak: Vec<&Finding> = f.iter().filter(|x| x.id == "dkim.rsa-weak").collect();
        assert_eq!(weak.len(), 2);
        assert!(weak.iter().all(|w| w.message.starts_with("Record ")));
    }

    fn cname(d: Dns, sel: &str, chain: &[&str], answer: Answer) -> Dns {
        let mut d = d;
        let mut a = answer;
        a.cname_chain = chain.iter().map(|s| s.to_string()).collect();
        d.0.insert(QueryKey::new(&name(sel), RType::Txt), a);
        d
    }

    #[test]
    fn microsoft_365_delegation_reports_the_tenant() {
        let text = key(RSA2048);
        let target = "selector1-example-com._domainkey.contoso.onmicrosoft.com";
        let answer = Answer::with_records(
            vec![RData::Txt {
                strings: vec![text.clone()],
            }],
            Proof::NotValidated,
        );
        let d = cname(dns(Status::NoData, &[]), "selector1", &[target], answer);
        let f = run(&d);
        let del = find(&f, "dkim.delegated", &name("selector1"));
        assert_eq!(del.outcome, Pass);
        assert_eq!(del.evidence["provider"], "Microsoft 365");
        assert_eq!(del.evidence["microsoft_tenant"], "contoso");
        assert!(!del.evidence.contains_key("expected_target_label"));
        assert_eq!(outcome(&f, "dkim.keys-found", D), Pass);
        let keys = &find(&f, "dkim.keys-found", D).evidence["keys"];
        assert_eq!(keys[0]["cname_chain"][0], target);
    }

    #[test]
    fn dangling_delegation_fails() {
        let target = "s1.domainkey.u123.wl.sendgrid.net";
        let d = cname(
            dns(Status::NoData, &[]),
            "s1",
            &[target],
            Answer::empty(Status::NxDomain, Proof::NotValidated),
        );
        let f = run(&d);
        let del = find(&f, "dkim.delegated", &name("s1"));
        assert_eq!(del.outcome, Fail);
        assert_eq!(del.evidence["provider"], "SendGrid");
        assert!(del.remediation.is_some());
        let d = cname(
            dns(Status::NoData, &[]),
            "s1",
            &[target],
            Answer::empty(Status::ServFail, Proof::Indeterminate),
        );
        assert_eq!(outcome(&run(&d), "dkim.delegated", &name("s1")), Indeterminate);
    }
}

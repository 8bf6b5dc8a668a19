//! Accepted risks: waivers that turn a failing finding into an accepted
//! one until they expire.
//!
//! A waiver names a rule, a subject pattern, a reason, an owner and the
//! last day it applies. While it is live, a failing finding of that rule
//! whose subject matches the pattern is marked accepted
//! ([`mailwarden_model::Acceptance`]): shown with who accepted it, why and
//! until when, counted apart, and never failing the run. From the day
//! after `expires` the waiver no longer applies: the finding fails again,
//! and the expired waiver is itself a failing finding (`waiver.expired`),
//! so a lapsed decision cannot go unnoticed.
//!
//! The waiver file (TOML):
//!
//! ```toml
//! [[waiver]]
//! rule = "dmarc.policy-none"        # a rule id (`mailwarden rules`); case-insensitive
//! subject = "example.com"           # glob: `*` any run, `?` one character; default `*`
//! reason = "DMARC rollout: p=none while reports are reviewed"
//! owner = "mail-team@example.com"
//! expires = 2026-12-31              # last day it applies (UTC); a date or "YYYY-MM-DD"
//! ```
//!
//! `--ignore RULE[@SUBJECT]` on the command line makes a waiver with the
//! reason "ignored on the command line", no owner and no expiry.
//!
//! Pure: the caller reads the file and says what day it is.

use mailwarden_model::{Acceptance, Finding, Outcome, RawFinding};
use serde::Deserialize;
use time::Date;
use toml::Spanned;

use crate::Catalogue;

/// The rule id of the finding an expired waiver becomes.
pub const EXPIRED_RULE: &str = "waiver.expired";
/// The reason `--ignore` records.
pub const IGNORED_REASON: &str = "ignored on the command line";

/// One waiver, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    /// A catalogue rule id, lower-case.
    pub rule: String,
    /// A glob over the finding's subject (case-insensitive).
    pub subject: String,
    pub reason: String,
    pub owner: Option<String>,
    /// The last day the waiver applies; `None`: no expiry.
    pub expires: Option<Date>,
    /// Where it is written: `FILE:LINE`, or `--ignore RULE@SUBJECT`.
    pub origin: String,
}

/// Why a waiver file or `--ignore` could not be used. The message names
/// the file, the line and the field (or the flag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WaiverError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverFile {
    #[serde(default)]
    waiver: Vec<RawWaiver>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    rule: Spanned<String>,
    #[serde(default)]
    subject: Option<Spanned<String>>,
    reason: Spanned<String>,
    owner: Spanned<String>,
    expires: Spanned<toml::Value>,
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Waiver {
    /// Parse a waiver file; `file` names it in errors. `hint` suggests the
    /// nearest rule id for an unknown one ("; did you mean ...?").
    pub fn parse_file(
        file: &str,
        text: &str,
        catalogue: &Catalogue,
        hint: &dyn Fn(&str) -> String,
    ) -> Result<Vec<Waiver>, WaiverError> {
        let parsed: WaiverFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map_or(String::new(), |s| format!(":{}", line_of(text, s.start)));
            WaiverError(format!("{file}{line}: {}", e.message().trim_end()))
        })?;
        let at = |span: std::ops::Range<usize>, field: &str| format!("{file}:{}: {field}", line_of(text, span.start));
        parsed
            .waiver
            .into_iter()
            .map(|raw| {
                let rule = known_rule(raw.rule.get_ref(), catalogue, hint)
                    .map_err(|e| WaiverError(format!("{}: {e}", at(raw.rule.span(), "rule"))))?;
                let subject = match &raw.subject {
                    Some(s) if s.get_ref().trim().is_empty() => {
                        return Err(WaiverError(format!(
                            "{}: empty pattern (leave subject out, or write \"*\", to match every subject)",
                            at(s.span(), "subject")
                        )));
                    }
                    Some(s) => s.get_ref().trim().to_string(),
                    None => "*".to_string(),
                };
                for (field, value) in [("reason", &raw.reason), ("owner", &raw.owner)] {
                    if value.get_ref().trim().is_empty() {
                        return Err(WaiverError(format!(
                            "{}: empty; say {}",
                            at(value.span(), field),
                            if field == "reason" {
                                "why the risk is accepted"
                            } else {
                                "who accepted the risk"
                            }
                        )));
                    }
                }
                let expires = parse_date(raw.expires.get_ref())
                    .map_err(|e| WaiverError(format!("{}: {e}", at(raw.expires.span(), "expires"))))?;
                Ok(Waiver {
                    rule,
                    subject,
                    reason: raw.reason.get_ref().trim().to_string(),
                    owner: Some(raw.owner.get_ref().trim().to_string()),
                    expires: Some(expires),
                    origin: format!("{file}:{}", line_of(text, raw.rule.span().start)),
                })
            })
            .collect()
    }

    /// `--ignore RULE[@SUBJECT]`: a waiver without owner or expiry.
    pub fn ignore(arg: &str, catalogue: &Catalogue, hint: &dyn Fn(&str) -> String) -> Result<Waiver, WaiverError> {
        let (rule, subject) = match arg.split_once('@') {
            Some((_, s)) if s.trim().is_empty() => {
                return Err(WaiverError(format!(
                    "--ignore {arg}: empty subject after '@' (write RULE alone to ignore it everywhere)"
                )));
            }
            Some((r, s)) => (r, s.trim()),
            None => (arg, "*"),
        };
        let rule = known_rule(rule, catalogue, hint).map_err(|e| WaiverError(format!("--ignore {arg}: {e}")))?;
        Ok(Waiver {
            origin: format!("--ignore {arg}"),
            rule,
            subject: subject.to_string(),
            reason: IGNORED_REASON.to_string(),
            owner: None,
            expires: None,
        })
    }

    /// Whether the waiver applies on `today` (through its `expires` day).
    pub fn live(&self, today: Date) -> bool {
        self.expires.is_none_or(|last| today <= last)
    }

    /// Whether the waiver names this finding's rule and subject.
    pub fn covers(&self, finding: &Finding) -> bool {
        finding.id == self.rule && glob(&self.subject, &finding.subject)
    }

    /// `rule@subject`, as `--ignore` writes it.
    pub fn pattern(&self) -> String {
        format!("{}@{}", self.rule, self.subject)
    }

    fn acceptance(&self) -> Acceptance {
        Acceptance {
            reason: self.reason.clone(),
            owner: self.owner.clone(),
            expires: self.expires.map(format_date),
            waiver: self.origin.clone(),
        }
    }
}

fn known_rule(rule: &str, catalogue: &Catalogue, hint: &dyn Fn(&str) -> String) -> Result<String, String> {
    let id = rule.trim().to_ascii_lowercase();
    if catalogue.get(&id).is_some() && id != EXPIRED_RULE {
        return Ok(id);
    }
    if id == EXPIRED_RULE {
        return Err(format!(
            "{EXPIRED_RULE} cannot be waived: renew or remove the expired waiver"
        ));
    }
    Err(format!(
        "unknown rule {rule:?} (`mailwarden rules` lists them){}",
        hint(&id)
    ))
}

/// A TOML date (`2026-12-31`) or the same as a string.
fn parse_date(value: &toml::Value) -> Result<Date, String> {
    let text = match value {
        toml::Value::String(s) => s.trim().to_string(),
        toml::Value::Datetime(d) if d.date.is_some() && d.time.is_none() => d.to_string(),
        other => return Err(format!("{other} is not a date; write YYYY-MM-DD, e.g. 2026-12-31")),
    };
    Date::parse(&text, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("{text:?} is not a date; write YYYY-MM-DD, e.g. 2026-12-31"))
}

/// `YYYY-MM-DD`.
pub fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// `*` matches any run of characters, `?` one; case-insensitive.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Iterative matching with one backtrack point (the last `*`).
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// What applying the waivers to one domain's findings did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Indices of the waivers that matched a failing finding (live or expired).
    pub matched: Vec<usize>,
}

/// Mark the failing findings a live waiver covers as accepted; for each
/// expired waiver that covers a failing finding, add a `waiver.expired`
/// finding (completed from the built-in catalogue), naming the subjects
/// that fail again.
pub fn apply(waivers: &[Waiver], findings: &mut Vec<Finding>, today: Date) -> Applied {
    let mut applied = Applied::default();
    let mut expired: Vec<(usize, Vec<String>)> = Vec::new();
    for f in findings.iter_mut().filter(|f| f.outcome == Outcome::Fail) {
        let covering = waivers.iter().enumerate().filter(|(_, w)| w.covers(f));
        let (live, lapsed): (Vec<_>, Vec<_>) = covering.partition(|(_, w)| w.live(today));
        for (i, _) in live.iter().chain(&lapsed) {
            if !applied.matched.contains(i) {
                applied.matched.push(*i);
            }
        }
        if let Some((_, w)) = live.first() {
            f.accepted = Some(w.acceptance());
            continue;
        }
        for (i, _) in lapsed {
            match expired.iter_mut().find(|(j, _)| *j == i) {
                Some((_, subjects)) => subjects.push(f.subject.clone()),
                None => expired.push((i, vec![f.subject.clone()])),
            }
        }
    }
    applied.matched.sort_unstable();
    for (i, subjects) in expired {
        findings.push(Catalogue::builtin().complete(expired_finding(&waivers[i], &subjects)));
    }
    applied
}

fn expired_finding(w: &Waiver, subjects: &[String]) -> RawFinding {
    let last = w.expires.map(format_date).unwrap_or_default();
    let owner = w.owner.as_deref().unwrap_or("nobody named");
    RawFinding::new(
        EXPIRED_RULE,
        Outcome::Fail,
        &w.pattern(),
        format!(
            "The waiver for {} ({}) expired after {last}: {} fails again. It was accepted by {owner}: {}",
            w.pattern(),
            w.origin,
            subjects.join(", "),
            w.reason
        ),
    )
    .evidence("waiver", &w.origin)
    .evidence("rule", &w.rule)
    .evidence("subject", &w.subject)
    .evidence("owner", &w.owner)
    .evidence("reason", &w.reason)
    .evidence("expires", &last)
    .evidence("findings", subjects)
    .remediation(format!(
        "Fix {} on {}, or review the decision with {owner} and renew the waiver in {} with a new expires date.",
        w.rule,
        subjects.join(", "),
        w.origin.rsplit_once(':').map_or(w.origin.as_str(), |(file, _)| file)
    ))
}

#[cfg(test)]
mod tests;

//! Scores per area and overall: a transparent formula, documented in the
//! README ("Scores").
//!
//! Each finding whose outcome is `pass` or `fail` is worth the weight of
//! its severity ([`weight`]: info 0, low 1, medium 3, high 6, critical 10).
//! An area's score is the share of those points that did not fail, capped
//! by its worst failure:
//!
//! ```text
//! possible    = Σ weight over the area's pass and fail findings
//! lost        = Σ weight over the area's fail findings
//! unknown     = Σ weight over the area's indeterminate findings
//! score(area) = min(floor(100 × (possible − lost) / possible), cap(worst failure))
//! cap         = critical 30, high 70, otherwise 100
//! ```
//!
//! **Could not look is never success.** An area is scored only when
//! `possible > 0` and `unknown ≤ possible` (at least half of the weight
//! of its checks could look); otherwise it is listed in `unscored_areas`
//! with the reason, never shown as 100. The overall score is the same
//! formula over the scored areas pooled, capped by the worst failure of
//! any area (a failure that was seen counts even where the rest could not
//! look). A domain with no scored area has no overall score (`overall` is
//! null, `not_scored` says why: "45 of 45 checks could not look").
//!
//! **A critical failure caps the score.** A critical failure means mail
//! is refused (MTA-STS or DANE senders cannot deliver, DNSSEC is bogus)
//! whatever else is right, so such a domain never scores above 30; a high
//! failure never above 70. A correctly configured domain scores 100, so
//! broken and correct never score close.
//!
//! **A waiver changes what fails the run, not the score.** An accepted
//! finding (a live waiver covers it) still costs its points: the risk is
//! there, only decided. `waiver.expired` findings carry no points.
//!
//! `not-applicable` findings are excluded. Integer arithmetic, so the same
//! findings always give the same scores.

use std::collections::BTreeMap;

use mailwarden_model::{Finding, Outcome, Severity};
use serde::{Deserialize, Serialize};

use crate::{Area, Catalogue};

/// The points a finding of this severity is worth.
pub fn weight(severity: Severity) -> u32 {
    match severity {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 3,
        Severity::High => 6,
        Severity::Critical => 10,
    }
}

/// The highest score a domain or area with a failure of this severity can
/// have.
pub fn cap(worst_failure: Severity) -> u8 {
    match worst_failure {
        Severity::Critical => 30,
        Severity::High => 70,
        _ => 100,
    }
}

/// A cap that lowered a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cap {
    /// The highest score allowed ([`cap`] of `severity`).
    pub limit: u8,
    /// The severity of the worst failure.
    pub severity: Severity,
    /// What the formula gave before the cap.
    pub uncapped: u8,
}

/// The score of one area, 0-100, and what cost the points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaScore {
    pub score: u8,
    /// `rule-id subject` of the failing findings that cost points.
    pub lost: Vec<String>,
    /// Indeterminate checks, excluded from the score.
    pub excluded: Vec<String>,
    /// Points the failing findings cost.
    #[serde(default)]
    pub points_lost: u32,
    /// Points of all pass and fail findings of the area.
    #[serde(default)]
    pub points_possible: u32,
    /// Points of the indeterminate findings (could not look).
    #[serde(default)]
    pub points_unknown: u32,
    /// Set when the worst failure lowered the score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<Cap>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// The overall score; `None` (null) when no area could be scored.
    pub overall: Option<u8>,
    /// Why there is no overall score, e.g. "45 of 45 checks could not look".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_scored: Option<String>,
    /// Set when the worst failure lowered the overall score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<Cap>,
    /// Areas with a score.
    pub areas: BTreeMap<Area, AreaScore>,
    /// Areas with findings but no score, and why ("12 of 14 checks could
    /// not look").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unscored_areas: BTreeMap<Area, String>,
    /// Every indeterminate finding, `rule-id subject`, of all areas
    /// (including areas that have no score because nothing in them could
    /// be scored).
    #[serde(default)]
    pub excluded: Vec<String>,
    /// Findings that passed, failed or could not look (not-applicable
    /// ones are not checks of this domain).
    #[serde(default)]
    pub checks: u32,
    /// Of those, the indeterminate ones.
    #[serde(default)]
    pub could_not_look: u32,
}

fn label(f: &Finding) -> String {
    if f.subject.is_empty() {
        f.id.clone()
    } else {
        format!("{} {}", f.id, f.subject)
    }
}

fn percent(possible: u32, lost: u32) -> u8 {
    if possible == 0 {
        return 100;
    }
    // lost <= possible by construction; u64 avoids any overflow.
    (100 * u64::from(possible - lost) / u64::from(possible)) as u8
}

/// The formula's score, lowered to the cap of the worst failure.
fn capped(possible: u32, lost: u32, worst: Option<Severity>) -> (u8, Option<Cap>) {
    let uncapped = percent(possible, lost);
    match worst.map(|s| (s, cap(s))) {
        Some((severity, limit)) if limit < uncapped => (
            limit,
            Some(Cap {
                limit,
                severity,
                uncapped,
            }),
        ),
        _ => (uncapped, None),
    }
}

/// "3 of 4 checks could not look", "1 of 1 check could not look".
fn could_not_look(n: u32, of: u32) -> String {
    let plural = if of == 1 { "" } else { "s" };
    format!("{n} of {of} check{plural} could not look")
}

/// What one area's findings add up to.
#[derive(Default)]
struct Tally {
    possible: u32,
    lost: u32,
    unknown: u32,
    checks: u32,
    could_not_look: u32,
    worst: Option<Severity>,
    lost_list: Vec<String>,
    excluded: Vec<String>,
}

impl Tally {
    fn add(&mut self, f: &Finding) {
        let w = weight(f.severity);
        match f.outcome {
            Outcome::Pass => self.possible += w,
            Outcome::Fail => {
                self.possible += w;
                self.lost += w;
                if w > 0 {
                    self.lost_list.push(label(f));
                    self.worst = self.worst.max(Some(f.severity));
                }
            }
            Outcome::Indeterminate => {
                self.unknown += w;
                self.could_not_look += 1;
                self.excluded.push(label(f));
            }
            Outcome::NotApplicable => return,
        }
        self.checks += 1;
    }

    /// Why this tally gets no score, if it gets none: nothing weighted
    /// could pass or fail, or more weight could not look than could.
    fn unscored_reason(&self) -> Option<String> {
        if self.possible > 0 && self.unknown <= self.possible {
            return None;
        }
        let counts = could_not_look(self.could_not_look, self.checks);
        Some(match (self.possible, self.could_not_look) {
            (0, 0) => "its checks carry no points (info only)".to_string(),
            (0, n) if n == self.checks => counts,
            (0, _) => format!("{counts}, and the rest carry no points (info)"),
            _ => format!(
                "{counts} (worth {} points, more than the {} points of the checks that could)",
                self.unknown, self.possible
            ),
        })
    }
}

impl Scores {
    /// Score findings whose severities the catalogue has filled.
    pub fn compute(findings: &[Finding], catalogue: &Catalogue) -> Scores {
        let mut by_area: BTreeMap<Area, Tally> = BTreeMap::new();
        let mut all = Tally::default();
        // An expired waiver is about a decision, not the configuration;
        // the finding it covered counts again with its own weight.
        for f in findings.iter().filter(|f| f.id != crate::waiver::EXPIRED_RULE) {
            by_area.entry(catalogue.area_of(&f.id)).or_default().add(f);
            all.add(f);
        }
        let mut scored = Tally::default();
        let mut areas = BTreeMap::new();
        let mut unscored_areas = BTreeMap::new();
        for (area, mut t) in by_area {
            if t.checks == 0 {
                continue; // only not-applicable findings: nothing to say
            }
            if let Some(reason) = t.unscored_reason() {
                unscored_areas.insert(area, reason);
                continue;
            }
            scored.possible += t.possible;
            scored.lost += t.lost;
            let (score, cap) = capped(t.possible, t.lost, t.worst);
            t.lost_list.sort();
            t.excluded.sort();
            areas.insert(
                area,
                AreaScore {
                    score,
                    lost: t.lost_list,
                    excluded: t.excluded,
                    points_lost: t.lost,
                    points_possible: t.possible,
                    points_unknown: t.unknown,
                    cap,
                },
            );
        }
        let (overall, cap, not_scored) = if areas.is_empty() {
            let reason = all
                .unscored_reason()
                .unwrap_or_else(|| could_not_look(all.could_not_look, all.checks));
            (None, None, Some(reason))
        } else {
            // Pooled over the scored areas; capped by any failure seen.
            let (score, cap) = capped(scored.possible, scored.lost, all.worst);
            (Some(score), cap, None)
        };
        all.excluded.sort();
        Scores {
            overall,
            not_scored,
            cap,
            areas,
            unscored_areas,
            excluded: all.excluded,
            checks: all.checks,
            could_not_look: all.could_not_look,
        }
    }

    /// "score 87/100", "score 30/100 (capped: critical failure)" or
    /// "not scored: 45 of 45 checks could not look", for one-line summaries.
    pub fn describe(&self) -> String {
        match (self.overall, &self.cap) {
            (Some(s), None) => format!("score {s}/100"),
            (Some(s), Some(c)) => format!("score {s}/100 (capped by a {} failure)", c.severity),
            (None, _) => format!(
                "not scored: {}",
                self.not_scored.as_deref().unwrap_or("nothing could be judged")
            ),
        }
    }
}

#[cfg(test)]
mod tests;

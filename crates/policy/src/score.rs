//! Scores per area and overall: a transparent formula, documented in the
//! README ("Scores").
//!
//! Each finding whose outcome is `pass` or `fail` is worth the weight of
//! its severity ([`weight`]: info 0, low 1, medium 3, high 6, critical 10).
//! An area's score is the share of those points that did not fail:
//!
//! ```text
//! score(area) = floor(100 × (possible − lost) / possible)
//! possible    = Σ weight(severity) over the area's pass and fail findings
//! lost        = Σ weight(severity) over the area's fail findings
//! ```
//!
//! An area with no weighted pass or fail finding has no score (it is left
//! out of `areas`, never shown as 100). The overall score is the same formula over all areas together (so an
//! area with more evaluated checks weighs more). `indeterminate` findings
//! are excluded and listed (we could not look; that is never the domain's
//! failure); `not-applicable` findings are excluded. With no weighted
//! finding anywhere the overall score is 100. Integer arithmetic, so the same findings always
//! give the same scores.

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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub overall: u8,
    /// Areas with at least one scored (pass or fail, weight > 0) finding.
    pub areas: BTreeMap<Area, AreaScore>,
    /// Every indeterminate finding, `rule-id subject`, of all areas
    /// (including areas that have no score because nothing in them could
    /// be scored).
    #[serde(default)]
    pub excluded: Vec<String>,
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

impl Scores {
    /// Score findings whose severities the catalogue has filled.
    pub fn compute(findings: &[Finding], catalogue: &Catalogue) -> Scores {
        #[derive(Default)]
        struct Acc {
            possible: u32,
            lost: u32,
            lost_list: Vec<String>,
            excluded: Vec<String>,
        }
        let mut acc: BTreeMap<Area, Acc> = BTreeMap::new();
        for f in findings {
            let area = catalogue.area_of(&f.id);
            let w = weight(f.severity);
            match f.outcome {
                Outcome::Pass => acc.entry(area).or_default().possible += w,
                Outcome::Fail => {
                    let a = acc.entry(area).or_default();
                    a.possible += w;
                    a.lost += w;
                    if w > 0 {
                        a.lost_list.push(label(f));
                    }
                }
                Outcome::Indeterminate => acc.entry(area).or_default().excluded.push(label(f)),
                Outcome::NotApplicable => {}
            }
        }
        let (mut total_possible, mut total_lost) = (0u32, 0u32);
        let mut areas = BTreeMap::new();
        let mut excluded = Vec::new();
        for (area, mut a) in acc {
            total_possible += a.possible;
            total_lost += a.lost;
            excluded.extend(a.excluded.iter().cloned());
            if a.possible == 0 {
                // Nothing scored: no score, rather than a 100 nobody earned.
                continue;
            }
            a.lost_list.sort();
            a.excluded.sort();
            areas.insert(
                area,
                AreaScore {
                    score: percent(a.possible, a.lost),
                    lost: a.lost_list,
                    excluded: a.excluded,
                    points_lost: a.lost,
                    points_possible: a.possible,
                },
            );
        }
        excluded.sort();
        Scores {
            overall: percent(total_possible, total_lost),
            areas,
            excluded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(id: &str, outcome: Outcome, severity: Severity) -> Finding {
        let mut f = Finding::new(id, outcome, "example.com", "m");
        f.severity = severity;
        f
    }

    fn cat() -> &'static Catalogue {
        Catalogue::builtin()
    }

    #[test]
    fn all_pass_is_100_and_failures_cost_by_severity() {
        let pass = [
            f("spf.missing", Outcome::Pass, Severity::High),
            f("spf.softfail-all", Outcome::Pass, Severity::Low),
        ];
        let s = Scores::compute(&pass, cat());
        assert_eq!(s.overall, 100);
        assert_eq!(s.areas[&Area::SenderAuthentication].score, 100);

        let high_fail = [
            f("spf.missing", Outcome::Fail, Severity::High),
            f("spf.softfail-all", Outcome::Pass, Severity::Low),
        ];
        let low_fail = [
            f("spf.missing", Outcome::Pass, Severity::High),
            f("spf.softfail-all", Outcome::Fail, Severity::Low),
        ];
        let h = Scores::compute(&high_fail, cat());
        let l = Scores::compute(&low_fail, cat());
        assert!(h.overall < l.overall, "high {} vs low {}", h.overall, l.overall);
        // 7 possible: high fail loses 6 → floor(100/7) = 14; low fail loses 1 → floor(600/7) = 85.
        assert_eq!((h.overall, l.overall), (14, 85));
        assert_eq!(
            h.areas[&Area::SenderAuthentication].lost,
            vec!["spf.missing example.com"]
        );
    }

    #[test]
    fn indeterminate_is_excluded_and_listed_not_counted() {
        let with = [
            f("spf.missing", Outcome::Pass, Severity::High),
            f("spf.lookup-failed", Outcome::Indeterminate, Severity::Medium),
            f("mx.present", Outcome::NotApplicable, Severity::Medium),
        ];
        let without = [f("spf.missing", Outcome::Pass, Severity::High)];
        let a = Scores::compute(&with, cat());
        let b = Scores::compute(&without, cat());
        assert_eq!(a.overall, b.overall);
        assert_eq!(a.overall, 100);
        let sa = &a.areas[&Area::SenderAuthentication];
        assert_eq!(sa.excluded, vec!["spf.lookup-failed example.com"]);
        assert!(sa.lost.is_empty());
        assert!(!a.areas.contains_key(&Area::Routing), "n/a only: no routing score");
        assert_eq!(a.excluded, vec!["spf.lookup-failed example.com"]);
        let only_indeterminate = Scores::compute(
            &[f("dnssec.lookup-failed", Outcome::Indeterminate, Severity::Medium)],
            cat(),
        );
        assert!(only_indeterminate.areas.is_empty(), "no score nobody earned");
        assert_eq!(only_indeterminate.excluded, vec!["dnssec.lookup-failed example.com"]);
    }

    #[test]
    fn overall_pools_areas_and_is_deterministic() {
        let findings = [
            f("mx.present", Outcome::Fail, Severity::Medium),
            f("mx.redundancy", Outcome::Pass, Severity::Low),
            f("dnssec.bogus", Outcome::Pass, Severity::Critical),
            f("spf.missing", Outcome::Pass, Severity::High),
        ];
        let s = Scores::compute(&findings, cat());
        // routing 4 possible, 3 lost → 25; overall 20 possible, 3 lost → 85.
        assert_eq!(s.areas[&Area::Routing].score, 25);
        assert_eq!(s.overall, 85);
        let mut reversed = findings.to_vec();
        reversed.reverse();
        assert_eq!(Scores::compute(&reversed, cat()), s);
    }

    #[test]
    fn info_failures_cost_nothing_and_nothing_scored_is_100() {
        let s = Scores::compute(&[f("spf.string-split", Outcome::Fail, Severity::Info)], cat());
        assert_eq!(s.overall, 100);
        assert_eq!(Scores::compute(&[], cat()).overall, 100);
    }
}

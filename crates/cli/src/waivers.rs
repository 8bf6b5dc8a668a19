//! Accepted risks for a run: `--waivers FILE` and `--ignore RULE[@SUBJECT]`
//! loaded once ([`RunWaivers::load`]), applied to every report before it
//! is written ([`RunWaivers::accept`]), and at the end a warning on
//! standard error for each waiver that matched no failing finding
//! ([`RunWaivers::warn_unused`]). The matching itself is pure
//! ([`mailwarden_policy::waiver`]); here are the file, the clock and stderr.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use mailwarden_policy::Catalogue;
use mailwarden_policy::waiver::{self, Waiver};
use mailwarden_render::DomainReport;
use time::Date;

use crate::args::OutputArgs;

/// Largest waiver file read.
pub const WAIVER_FILE_LIMIT: u64 = 1 << 20;

/// The waivers of one run, what day it is, and which waivers matched.
pub struct RunWaivers {
    waivers: Vec<Waiver>,
    today: Date,
    matched: Vec<AtomicBool>,
}

impl RunWaivers {
    /// Read `--waivers` and `--ignore` (rule ids checked, with a
    /// suggestion for a misspelt one); today is the current UTC date.
    pub fn load(args: &OutputArgs) -> Result<Self> {
        Self::load_on(args, time::OffsetDateTime::now_utc().date())
    }

    /// As [`RunWaivers::load`], on a given day.
    pub fn load_on(args: &OutputArgs, today: Date) -> Result<Self> {
        let catalogue = Catalogue::builtin();
        let ids: Vec<String> = catalogue.iter().map(|r| r.id.clone()).collect();
        let hint = |id: &str| crate::rules::did_you_mean(id, &ids);
        let mut waivers = Vec::new();
        if let Some(path) = &args.waivers {
            let label = path.display().to_string();
            let text = crate::config::read_text(path, WAIVER_FILE_LIMIT)
                .with_context(|| format!("--waivers {label}: cannot read"))?;
            waivers = Waiver::parse_file(&label, &text, catalogue, &hint)?;
        }
        for arg in &args.ignore {
            waivers.push(Waiver::ignore(arg, catalogue, &hint)?);
        }
        let matched = waivers.iter().map(|_| AtomicBool::new(false)).collect();
        Ok(Self {
            waivers,
            today,
            matched,
        })
    }

    /// Mark the failing findings a live waiver covers as accepted, add a
    /// `waiver.expired` finding for each expired waiver that still covers
    /// one, and recount the report (summary, scores, profiles).
    pub fn accept(&self, report: &mut DomainReport) {
        if self.waivers.is_empty() {
            return;
        }
        let applied = waiver::apply(&self.waivers, &mut report.findings, self.today);
        for i in applied.matched {
            self.matched[i].store(true, Ordering::Relaxed);
        }
        report.recount();
        crate::compliance::complete(report);
    }

    /// One warning on standard error per waiver that matched no failing finding.
    pub fn warn_unused(&self) {
        for line in self.unused() {
            eprintln!("mailwarden: warning: {line}");
        }
    }

    fn unused(&self) -> Vec<String> {
        self.waivers
            .iter()
            .zip(&self.matched)
            .filter(|(_, m)| !m.load(Ordering::Relaxed))
            .map(|(w, _)| {
                let expired = if w.live(self.today) {
                    String::new()
                } else {
                    format!(
                        " (expired after {})",
                        w.expires.map(waiver::format_date).unwrap_or_default()
                    )
                };
                format!(
                    "waiver {} ({}){expired} matched no failing finding; remove it if the problem is fixed",
                    w.origin,
                    w.pattern()
                )
            })
            .collect()
    }
}

//! A parsed report of any kind, its identity (for duplicates) and its
//! content digest.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::aggregate::AggregateReport;
use crate::failure::{FailureReport, hex};
use crate::tlsrpt::TlsReport;
use crate::warning::Warnings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Aggregate,
    Failure,
    Tlsrpt,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Aggregate => "aggregate",
            Kind::Failure => "failure",
            Kind::Tlsrpt => "tlsrpt",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Report {
    Aggregate(AggregateReport),
    Failure(FailureReport),
    Tlsrpt(TlsReport),
}

/// Who reported what about which period: equal identities are the same
/// report sent twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Identity {
    pub kind: Kind,
    pub reporter: String,
    pub report_id: String,
    pub domain: String,
    pub begin: i64,
    pub end: i64,
}

impl Identity {
    /// The identity without its date range: the same report id for another
    /// range is kept, but flagged (Google and Mimecast have done it).
    pub fn family(&self) -> (Kind, &str, &str, &str) {
        (self.kind, &self.reporter, &self.report_id, &self.domain)
    }

    /// A short stable id (first 16 hex digits of SHA-256 over the identity).
    pub fn short_id(&self) -> String {
        let text = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.kind.as_str(),
            self.reporter,
            self.report_id,
            self.domain,
            self.begin,
            self.end
        );
        hex(&Sha256::digest(text.as_bytes()))[..16].to_string()
    }
}

impl Report {
    pub fn kind(&self) -> Kind {
        match self {
            Report::Aggregate(_) => Kind::Aggregate,
            Report::Failure(_) => Kind::Failure,
            Report::Tlsrpt(_) => Kind::Tlsrpt,
        }
    }

    /// Rows of an aggregate report; policies of a TLS report; 1 for a
    /// failure report (one reported message).
    pub fn records(&self) -> usize {
        match self {
            Report::Aggregate(a) => a.records.len(),
            Report::Failure(_) => 1,
            Report::Tlsrpt(t) => t.policies.len(),
        }
    }

    pub fn identity(&self) -> Identity {
        match self {
            Report::Aggregate(a) => Identity {
                kind: Kind::Aggregate,
                reporter: a.org_name.to_lowercase(),
                report_id: a.report_id.clone(),
                domain: a.policy.domain.clone(),
                begin: a.begin,
                end: a.end,
            },
            Report::Tlsrpt(t) => Identity {
                kind: Kind::Tlsrpt,
                reporter: t.organization_name.to_lowercase(),
                report_id: t.report_id.clone(),
                domain: t
                    .policies
                    .iter()
                    .find_map(|p| p.policy_domain.clone())
                    .unwrap_or_default(),
                begin: t.begin,
                end: t.end,
            },
            // No report id: the digest of what was reported is the identity.
            Report::Failure(f) => Identity {
                kind: Kind::Failure,
                reporter: f.reporting_mta.clone().unwrap_or_default().to_lowercase(),
                report_id: f.digest.clone(),
                domain: f.reported_domains.first().cloned().unwrap_or_default(),
                begin: 0,
                end: 0,
            },
        }
    }
}

/// A report read from an input, with its quirks and the bytes it came
/// from (the decompressed document; empty for failure reports, whose raw
/// message is personal data and never kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parsed {
    pub report: Report,
    pub warnings: Warnings,
    #[serde(skip)]
    pub raw: Vec<u8>,
    /// SHA-256 of `raw` (of the feedback fields for a failure report).
    pub digest: String,
}

impl Parsed {
    pub fn new(report: Report, warnings: Warnings, raw: Vec<u8>) -> Parsed {
        let digest = match &report {
            Report::Failure(f) => f.digest.clone(),
            _ => hex(&Sha256::digest(&raw)),
        };
        Parsed {
            report,
            warnings,
            raw,
            digest,
        }
    }
}

//! SMTP TLS reports (RFC 8460 §4, JSON).
//!
//! Tolerated, with a warning: counts written as strings, dates without a
//! time zone (read as UTC), `mx-host` as a single string or as
//! `mx-host-pattern` (the RFC's example and its prose disagree, erratum
//! 6241), `policy-string` as one string, `contact-info: null`, a missing
//! `policy-domain` for `no-policy-found`, missing `sending-mta-ip` /
//! `receiving-mx-hostname` in failure details, capitalised enumeration values.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::rejection::{Position, Reason, Rejection};
use crate::warning::Warnings;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsReport {
    pub organization_name: String,
    pub report_id: String,
    /// `date-range` in seconds since the epoch, UTC.
    pub begin: i64,
    pub end: i64,
    pub contact_info: Option<String>,
    pub policies: Vec<TlsPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsPolicy {
    pub policy_type: String,
    pub policy_strings: Vec<String>,
    pub policy_domain: Option<String>,
    pub mx_hosts: Vec<String>,
    pub successful_sessions: u64,
    pub failed_sessions: u64,
    pub failures: Vec<FailureDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureDetail {
    pub result_type: String,
    pub sending_mta_ip: Option<String>,
    pub receiving_mx_hostname: Option<String>,
    pub receiving_mx_helo: Option<String>,
    pub receiving_ip: Option<String>,
    pub failed_sessions: u64,
    pub additional_information: Option<String>,
    pub failure_reason_code: Option<String>,
}

const POLICY_TYPES: &[&str] = &["tlsa", "sts", "no-policy-found"];

/// Parse one TLS report document.
pub fn parse(text: &str, warnings: &mut Warnings) -> Result<TlsReport, Rejection> {
    let value: Value = serde_json::from_str(text).map_err(|e| json_error(text, &e))?;
    let Value::Object(top) = value else {
        return Err(Rejection::new(Reason::NotAReport, "JSON, but not an object"));
    };
    if !top.contains_key("organization-name") && !top.contains_key("policies") {
        return Err(Rejection::new(
            Reason::NotAReport,
            "a JSON object without organization-name or policies: not a TLS report",
        ));
    }
    let mut cx = Cx { warnings };
    let range = top
        .get("date-range")
        .and_then(Value::as_object)
        .ok_or_else(|| missing("date-range", "the report"))?;
    let begin = cx.datetime(range, "start-datetime")?;
    let end = cx.datetime(range, "end-datetime")?;
    if begin > end {
        return Err(Rejection::new(
            Reason::InvalidValue,
            "date-range: start-datetime is after end-datetime",
        ));
    }
    let policies = match top.get("policies") {
        Some(Value::Array(items)) => items.iter().map(|p| cx.policy(p)).collect::<Result<Vec<_>, _>>()?,
        _ => return Err(missing("policies", "the report")),
    };
    Ok(TlsReport {
        organization_name: required_str(&top, "organization-name", "the report")?,
        report_id: required_str(&top, "report-id", "the report")?,
        begin,
        end,
        contact_info: top.get("contact-info").and_then(Value::as_str).map(str::to_string),
        policies,
    })
}

struct Cx<'a> {
    warnings: &'a mut Warnings,
}

impl Cx<'_> {
    fn policy(&mut self, item: &Value) -> Result<TlsPolicy, Rejection> {
        let item = item
            .as_object()
            .ok_or_else(|| invalid("a policies entry is not an object"))?;
        let policy = item
            .get("policy")
            .and_then(Value::as_object)
            .ok_or_else(|| missing("policy", "a policies entry"))?;
        let summary = item
            .get("summary")
            .and_then(Value::as_object)
            .ok_or_else(|| missing("summary", "a policies entry"))?;
        let policy_type = self.choice(policy, "policy-type", POLICY_TYPES)?;
        let policy_domain = policy
            .get("policy-domain")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        if policy_domain.is_none() {
            if policy_type != "no-policy-found" {
                return Err(missing("policy-domain", "a policy"));
            }
            self.warnings
                .push("a no-policy-found policy without policy-domain", None);
        }
        let failures = match item.get("failure-details") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(|f| self.failure(f)).collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("failure-details is not an array")),
        };
        Ok(TlsPolicy {
            policy_type,
            policy_strings: self.strings(policy, "policy-string")?,
            policy_domain,
            mx_hosts: self.mx_hosts(policy)?,
            successful_sessions: self.count(summary, "total-successful-session-count")?,
            failed_sessions: self.count(summary, "total-failure-session-count")?,
            failures,
        })
    }

    fn failure(&mut self, item: &Value) -> Result<FailureDetail, Rejection> {
        let item = item
            .as_object()
            .ok_or_else(|| invalid("a failure-details entry is not an object"))?;
        let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
        let result_type = match item.get("result-type").and_then(Value::as_str) {
            Some(r) => self.lower(r, "result-type"),
            None => return Err(missing("result-type", "a failure-details entry")),
        };
        let additional_information = text("additional-information").or_else(|| text("additional-info-uri"));
        Ok(FailureDetail {
            result_type,
            sending_mta_ip: text("sending-mta-ip"),
            receiving_mx_hostname: text("receiving-mx-hostname"),
            receiving_mx_helo: text("receiving-mx-helo"),
            receiving_ip: text("receiving-ip"),
            failed_sessions: self.count(item, "failed-session-count")?,
            additional_information,
            failure_reason_code: text("failure-reason-code"),
        })
    }

    /// `mx-host` (RFC example: a string; prose and erratum: a list) or
    /// `mx-host-pattern`.
    fn mx_hosts(&mut self, policy: &Map<String, Value>) -> Result<Vec<String>, Rejection> {
        if policy.contains_key("mx-host") {
            return self.strings(policy, "mx-host");
        }
        if policy.contains_key("mx-host-pattern") {
            self.warnings.push("mx-host-pattern read as mx-host", None);
            return self.strings(policy, "mx-host-pattern");
        }
        Ok(Vec::new())
    }

    fn strings(&mut self, obj: &Map<String, Value>, key: &str) -> Result<Vec<String>, Rejection> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => {
                self.warnings.push(format!("{key} is one string, not a list"), None);
                Ok(vec![s.clone()])
            }
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| invalid(format!("{key} holds a non-string")))
                })
                .collect(),
            Some(_) => Err(invalid(format!("{key} is neither a string nor a list"))),
        }
    }

    /// A session count: a JSON number, or (warned) a string of digits.
    fn count(&mut self, obj: &Map<String, Value>, key: &str) -> Result<u64, Rejection> {
        match obj.get(key) {
            None => Err(missing(key, "a policy")),
            Some(Value::Number(n)) => n.as_u64().ok_or_else(|| bad_number(key, &n.to_string())),
            Some(Value::String(s)) => {
                let n = s.trim().parse::<u64>().map_err(|_| bad_number(key, s))?;
                self.warnings
                    .push(format!("{key} is the string {s:?}, read as {n}"), None);
                Ok(n)
            }
            Some(other) => Err(bad_number(key, &other.to_string())),
        }
    }

    fn choice(&mut self, obj: &Map<String, Value>, key: &str, allowed: &[&str]) -> Result<String, Rejection> {
        let raw = obj
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| missing(key, "a policy"))?;
        let lower = self.lower(raw, key);
        if !allowed.contains(&lower.as_str()) {
            return Err(invalid(format!("{key} {raw:?} is not one of {}", allowed.join(", "))));
        }
        Ok(lower)
    }

    fn lower(&mut self, raw: &str, key: &str) -> String {
        let lower = raw.to_ascii_lowercase();
        if lower != raw {
            self.warnings.push(format!("{key} {raw:?} read as {lower:?}"), None);
        }
        lower
    }

    /// RFC 3339; a date-time without an offset (Microsoft, 2023) is read
    /// as UTC with a warning.
    fn datetime(&mut self, range: &Map<String, Value>, key: &str) -> Result<i64, Rejection> {
        let raw = range
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| missing(key, "date-range"))?;
        if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
            return Ok(t.unix_timestamp());
        }
        let with_utc = format!("{raw}Z");
        match OffsetDateTime::parse(&with_utc, &Rfc3339) {
            Ok(t) => {
                self.warnings
                    .push(format!("{key} {raw:?} has no time zone, read as UTC"), None);
                Ok(t.unix_timestamp())
            }
            Err(_) => Err(invalid(format!("{key} {raw:?} is not an RFC 3339 date-time"))),
        }
    }
}

fn json_error(text: &str, e: &serde_json::Error) -> Rejection {
    let reason = if e.is_eof() {
        Reason::Truncated
    } else if e.to_string().starts_with("number out of range") {
        Reason::InvalidNumber
    } else {
        Reason::InvalidJson
    };
    let line_start: u64 = text
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(|l| l.len() as u64)
        .sum();
    let position = Position {
        line: e.line() as u64,
        column: e.column() as u64,
        offset: line_start + e.column().saturating_sub(1) as u64,
    };
    Rejection::new(reason, e.to_string()).at(position)
}

fn required_str(obj: &Map<String, Value>, key: &str, parent: &str) -> Result<String, Rejection> {
    obj.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| missing(key, parent))
}

fn missing(key: &str, parent: &str) -> Rejection {
    Rejection::new(Reason::MissingField, format!("{parent} has no {key}"))
}

fn invalid(detail: impl Into<String>) -> Rejection {
    Rejection::new(Reason::InvalidValue, detail)
}

fn bad_number(key: &str, raw: &str) -> Rejection {
    let shown: String = raw.chars().take(40).collect();
    Rejection::new(
        Reason::InvalidNumber,
        format!("{key} is {shown}, expected a count (0 to 2^64-1)"),
    )
}

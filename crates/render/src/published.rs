//! What a domain publishes, read compactly from the Observation (as
//! checkdmarc shows it): MX, SPF, DMARC with the effective p / sp / np,
//! the MTA-STS mode and id, TLS-RPT. Shown next to the findings so a reader
//! sees what is published beside what is wrong with it. Values are as
//! received (outside text: the renderers escape it at their boundary).

use mailwarden_model::dns::{Answer, RData, RType, Status};
use mailwarden_model::{Observation, QueryKey};
use mailwarden_records::{dmarc, mta_sts, spf, tlsrpt};

/// One published item: its value, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// What is published, as one line.
    Value(String),
    /// Looked, and nothing is published.
    Absent,
    /// Could not look (timeout, SERVFAIL, not probed, not asked): why.
    Unknown(String),
}

impl Shown {
    /// The value, `none` when absent, `unknown` when we could not look
    /// (for table cells).
    pub fn cell(&self) -> &str {
        match self {
            Shown::Value(v) => v,
            Shown::Absent => "none",
            Shown::Unknown(_) => "unknown",
        }
    }

    /// The value or a few words on why there is none.
    pub fn describe(&self) -> String {
        match self {
            Shown::Value(v) => v.clone(),
            Shown::Absent => "not published".into(),
            Shown::Unknown(why) => format!("unknown ({why})"),
        }
    }
}

/// The published records of one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub mx: Shown,
    pub spf: Shown,
    /// Effective policies: `p=none sp=none np=none`.
    pub dmarc: Shown,
    /// The `rua` of the DMARC record.
    pub dmarc_rua: Shown,
    /// `enforce` / `testing` / `none` from the policy file.
    pub mta_sts_mode: Shown,
    /// The id of the `_mta-sts` TXT record.
    pub mta_sts_id: Shown,
    /// The `rua` of the TLS-RPT record.
    pub tlsrpt: Shown,
}

impl Published {
    pub fn of(o: &Observation) -> Self {
        let domain = o.domain.as_str();
        let (dmarc, dmarc_rua) = dmarc_of(o, domain);
        let (mta_sts_mode, mta_sts_id) = mta_sts_of(o, domain);
        Self {
            mx: mx_of(o, domain),
            spf: txt_record(o, domain, spf::is_spf_record),
            dmarc,
            dmarc_rua,
            mta_sts_mode,
            mta_sts_id,
            tlsrpt: tlsrpt_of(o, domain),
        }
    }

    /// `(label, value)` in reading order.
    pub fn rows(&self) -> [(&'static str, String); 5] {
        let mta_sts = match (&self.mta_sts_id, &self.mta_sts_mode) {
            (Shown::Value(id), Shown::Value(mode)) => format!("mode {mode}, id {id}"),
            (Shown::Value(id), mode) => format!("id {id}; policy {}", mode.describe()),
            (id, _) => id.describe(),
        };
        let dmarc = match (&self.dmarc, &self.dmarc_rua) {
            (Shown::Value(p), Shown::Value(rua)) => format!("{p}, rua {rua}"),
            (p, _) => p.describe(),
        };
        [
            ("MX", self.mx.describe()),
            ("SPF", self.spf.describe()),
            ("DMARC", dmarc),
            ("MTA-STS", mta_sts),
            ("TLS-RPT", self.tlsrpt.describe()),
        ]
    }
}

/// The answer to `name`/`rtype`, or why there is none usable.
fn answer<'a>(o: &'a Observation, name: &str, rtype: RType) -> Result<&'a Answer, Shown> {
    match o.dns.get(&QueryKey::new(name, rtype)) {
        None => Err(Shown::Unknown("not asked".into())),
        Some(a) if a.status.is_negative() => Err(Shown::Absent),
        Some(a) if a.status == Status::Records => Ok(a),
        Some(a) => Err(Shown::Unknown(a.status.describe())),
    }
}

fn mx_of(o: &Observation, domain: &str) -> Shown {
    let a = match answer(o, domain, RType::Mx) {
        Ok(a) => a,
        Err(shown) => return shown,
    };
    let hosts: Vec<String> = a
        .records
        .iter()
        .filter_map(|r| match r {
            RData::Mx { preference, exchange } if exchange.is_empty() || exchange == "." => {
                Some(format!("{preference} . (null MX: accepts no mail)"))
            }
            RData::Mx { preference, exchange } => Some(format!("{preference} {exchange}")),
            _ => None,
        })
        .collect();
    if hosts.is_empty() {
        Shown::Absent
    } else {
        Shown::Value(hosts.join(", "))
    }
}

/// The TXT records at `name` that `is_kind` recognises, joined, as text.
fn txt_records(o: &Observation, name: &str, is_kind: impl Fn(&[u8]) -> bool) -> Result<Vec<Vec<u8>>, Shown> {
    let a = answer(o, name, RType::Txt)?;
    let found: Vec<Vec<u8>> = a
        .records
        .iter()
        .filter_map(RData::txt_bytes)
        .filter(|b| is_kind(b))
        .collect();
    if found.is_empty() {
        Err(Shown::Absent)
    } else {
        Ok(found)
    }
}

fn txt_record(o: &Observation, name: &str, is_kind: impl Fn(&[u8]) -> bool) -> Shown {
    match txt_records(o, name, is_kind) {
        Ok(found) => Shown::Value(
            found
                .iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect::<Vec<_>>()
                .join(" | "),
        ),
        Err(shown) => shown,
    }
}

/// The DMARC record that applies: at `_dmarc.DOMAIN`, else at the closest
/// parent that publishes one (the organisational domain's, RFC 7489 §6.6.3).
fn dmarc_of(o: &Observation, domain: &str) -> (Shown, Shown) {
    let mut name = domain;
    let mut first_miss = None;
    loop {
        match txt_records(o, &format!("_dmarc.{name}"), dmarc::is_dmarc_record) {
            Ok(found) => return dmarc_policy(&found[0], (name != domain).then_some(name)),
            Err(shown) => {
                first_miss.get_or_insert(shown);
            }
        }
        match name.split_once('.') {
            Some((_, parent)) if parent.contains('.') => name = parent,
            _ => break,
        }
    }
    let miss = first_miss.unwrap_or(Shown::Absent);
    (miss.clone(), miss)
}

fn dmarc_policy(bytes: &[u8], inherited_from: Option<&str>) -> (Shown, Shown) {
    let r = dmarc::parse(bytes);
    let show = |p: Option<dmarc::Policy>| p.map_or("?", dmarc::Policy::as_str);
    let mut policy = format!(
        "p={} sp={} np={}",
        show(r.p),
        show(r.subdomain_policy()),
        show(r.nonexistent_policy())
    );
    if let Some(org) = inherited_from {
        policy.push_str(&format!(" (from _dmarc.{org})"));
    }
    let rua: Vec<&str> = r.rua.iter().map(|u| u.text.as_str()).collect();
    let rua = if rua.is_empty() {
        Shown::Absent
    } else {
        Shown::Value(rua.join(", "))
    };
    (Shown::Value(policy), rua)
}

fn mta_sts_of(o: &Observation, domain: &str) -> (Shown, Shown) {
    let id = match txt_records(o, &format!("_mta-sts.{domain}"), |b| {
        mta_sts::is_sts_record(&String::from_utf8_lossy(b))
    }) {
        Ok(found) => {
            let r = mta_sts::parse(&found[0]);
            Shown::Value(r.id.unwrap_or_else(|| "(invalid)".into()))
        }
        Err(shown) => shown,
    };
    if !matches!(id, Shown::Value(_)) {
        return (id.clone(), id);
    }
    let url = format!("https://mta-sts.{domain}/.well-known/mta-sts.txt");
    let mode = match o.probes.https.get(&url) {
        Some(fetch) => match &fetch.body {
            Some(body) => {
                let policy = mta_sts::parse_policy(body.as_bytes());
                policy.mode.map_or_else(
                    || Shown::Unknown("no valid mode".into()),
                    |m| Shown::Value(m.as_str().into()),
                )
            }
            None => Shown::Unknown(fetch.describe()),
        },
        None => Shown::Unknown("not fetched".into()),
    };
    (mode, id)
}

fn tlsrpt_of(o: &Observation, domain: &str) -> Shown {
    match txt_records(o, &format!("_smtp._tls.{domain}"), |b| {
        tlsrpt::is_tlsrpt_record(&String::from_utf8_lossy(b))
    }) {
        Ok(found) => {
            let r = tlsrpt::parse(&found[0]);
            let rua: Vec<&str> = r.rua.iter().map(|u| u.text.as_str()).collect();
            Shown::Value(format!("rua {}", rua.join(", ")))
        }
        Err(shown) => shown,
    }
}

#[cfg(test)]
mod tests {
    use mailwarden_model::dns::{Answer, Proof};
    use mailwarden_model::observation::SourceInfo;

    use super::*;

    fn txt(s: &str) -> RData {
        RData::Txt {
            strings: vec![s.into()],
        }
    }

    fn observation(entries: Vec<(&str, RType, Answer)>) -> Observation {
        let mut o: Observation = serde_json::from_value(serde_json::json!({
            "schema": 1, "tool_version": "t", "domain": "sub.example.com",
            "source": SourceInfo::default(), "dns": []
        }))
        .unwrap();
        for (name, rtype, a) in entries {
            o.dns.insert(QueryKey::new(name, rtype), a);
        }
        o
    }

    #[test]
    fn dmarc_shows_effective_policies_and_where_an_inherited_record_is() {
        let o = observation(vec![
            (
                "_dmarc.sub.example.com",
                RType::Txt,
                Answer::empty(Status::NxDomain, Proof::NotValidated),
            ),
            (
                "_dmarc.example.com",
                RType::Txt,
                Answer::with_records(
                    vec![txt("v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com")],
                    Proof::NotValidated,
                ),
            ),
        ]);
        let p = Published::of(&o);
        assert_eq!(
            p.dmarc,
            Shown::Value("p=reject sp=quarantine np=quarantine (from _dmarc.example.com)".into())
        );
        assert_eq!(p.dmarc_rua, Shown::Value("mailto:d@example.com".into()));
    }

    #[test]
    fn a_failed_lookup_is_unknown_not_absent() {
        let o = observation(vec![
            (
                "sub.example.com",
                RType::Mx,
                Answer::empty(Status::Timeout, Proof::Indeterminate),
            ),
            (
                "sub.example.com",
                RType::Txt,
                Answer::empty(Status::NoData, Proof::NotValidated),
            ),
        ]);
        let p = Published::of(&o);
        assert_eq!(p.mx, Shown::Unknown("timed out".into()));
        assert_eq!(p.spf, Shown::Absent);
        assert_eq!(p.tlsrpt, Shown::Unknown("not asked".into()));
    }
}

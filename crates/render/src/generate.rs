//! Recommended DNS records, built from a domain's current state: pure
//! functions from [`DomainState`] (which the CLI gathers by scanning the
//! domain) to zone-file text with comments explaining each step.
//!
//! Every output is valid zone-file syntax: exactly the records to publish
//! now are uncommented; later stages, files to serve over HTTPS and
//! warnings are comments.

use std::fmt::Write as _;
use std::net::IpAddr;

/// TTL used for the generated records.
pub const TTL: u32 = 3600;

/// SPF records longer than this risk UDP truncation (RFC 7208 §3.4).
const SPF_MAX_OCTETS: usize = 450;

/// What the generators need to know about the domain as it is now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainState {
    /// The domain, normalised (lower case, no trailing dot).
    pub domain: String,
    /// MX records: preference and exchange (`""` for a null MX).
    pub mx: Vec<(u16, String)>,
    /// The current SPF record, concatenated, if exactly one is published.
    pub spf: Option<String>,
    /// DNS-querying terms of the whole SPF tree (RFC 7208 §4.6.4), if known.
    pub spf_lookups: Option<usize>,
    /// Every network the current SPF tree authorises (`ADDR/LEN`), flattened.
    pub spf_networks: Vec<String>,
    /// Terms that cannot be flattened (macros, `exists`), as written.
    pub spf_dynamic: Vec<String>,
    /// The current DMARC record at `_dmarc.DOMAIN`, if one is published.
    pub dmarc: Option<String>,
}

impl DomainState {
    /// True when the domain publishes a null MX (RFC 7505).
    pub fn null_mx(&self) -> bool {
        self.mx.iter().any(|(_, x)| x.is_empty() || x == ".")
    }

    /// The MX host names (not the null MX), sorted, without duplicates.
    pub fn mx_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .mx
            .iter()
            .filter(|(_, x)| !x.is_empty() && x != ".")
            .map(|(_, x)| x.trim_end_matches('.').to_ascii_lowercase())
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }

    fn dmarc_tag(&self, tag: &str) -> Option<String> {
        self.dmarc.as_deref()?.split(';').find_map(|t| {
            let (k, v) = t.split_once('=')?;
            k.trim().eq_ignore_ascii_case(tag).then(|| v.trim().to_string())
        })
    }
}

/// A generator's refusal: what is missing and what to do.
pub type GenResult = Result<String, String>;

/// Quote TXT data as zone-file character-strings of at most 255 octets.
/// Control, bidi and invisible characters (copied from a published record)
/// are written as RFC 1035 `\DDD` octets: the same data, inert on a
/// terminal.
pub fn txt(data: &str) -> String {
    let escaped = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '\\' | '"' => {
                    out.push('\\');
                    out.push(c);
                }
                c if crate::inert::is_unsafe(c) => {
                    for b in c.encode_utf8(&mut [0; 4]).bytes() {
                        let _ = write!(out, "\\{b:03}");
                    }
                }
                c => out.push(c),
            }
        }
        out
    };
    let bytes = data.as_bytes();
    if bytes.len() <= 255 {
        return format!("\"{}\"", escaped(data));
    }
    let mut parts = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let mut end = (start + 255).min(data.len());
        while !data.is_char_boundary(end) {
            end -= 1;
        }
        parts.push(format!("\"{}\"", escaped(&data[start..end])));
        start = end;
    }
    format!("( {} )", parts.join("\n        "))
}

fn record(out: &mut String, owner: &str, rtype: &str, data: &str) {
    let _ = writeln!(out, "{owner}. {TTL} IN {rtype} {data}");
}

fn commented_record(out: &mut String, owner: &str, rtype: &str, data: &str) {
    let _ = writeln!(out, "; {owner}. {TTL} IN {rtype} {}", data.replace('\n', "\n;"));
}

fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push_str(";\n");
        } else {
            let _ = writeln!(out, "; {line}");
        }
    }
}

/// Check a report URI for `rua=`: `mailto:` with an address (and `https:`
/// when `https_ok`).
pub fn check_rua(rua: &str, https_ok: bool) -> Result<(), String> {
    let ok_mailto = rua
        .strip_prefix("mailto:")
        .and_then(|a| a.split_once('@'))
        .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains([' ', ',', ';', '!']));
    let ok_https = https_ok && rua.starts_with("https://") && rua.len() > "https://".len();
    let clean = !rua.contains([' ', ';', '"', '\\', ',']);
    if (ok_mailto || ok_https) && clean {
        Ok(())
    } else if https_ok {
        Err(format!("--rua {rua:?}: expected mailto:ADDRESS or https://URL"))
    } else {
        Err(format!(
            "--rua {rua:?}: expected mailto:ADDRESS (e.g. mailto:dmarc-reports@example.com)"
        ))
    }
}

/// An IPv4 or IPv6 network, for collapsing the flattened inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Net {
    v6: bool,
    addr: u128,
    len: u8,
}

impl Net {
    fn parse(s: &str) -> Option<Net> {
        let (a, l) = s.split_once('/').unwrap_or((s, ""));
        let ip: IpAddr = a.parse().ok()?;
        let (v6, addr, max) = match ip {
            IpAddr::V4(v4) => (false, u128::from(u32::from(v4)), 32u8),
            IpAddr::V6(v6) => (true, u128::from(v6), 128u8),
        };
        let len = if l.is_empty() { max } else { l.parse().ok()? };
        (len <= max).then_some(Net { v6, addr, len })
    }

    fn max(self) -> u8 {
        if self.v6 { 128 } else { 32 }
    }

    fn mask(self, len: u8) -> u128 {
        let bits = u32::from(self.max());
        if len == 0 {
            0
        } else {
            (u128::MAX << (bits - u32::from(len))) & (u128::MAX >> (128 - bits))
        }
    }

    fn contains(self, other: Net) -> bool {
        self.v6 == other.v6
            && self.len <= other.len
            && (self.addr & self.mask(self.len)) == (other.addr & self.mask(self.len))
    }

    fn term(self) -> String {
        let base = self.addr & self.mask(self.len);
        let ip = if self.v6 {
            IpAddr::V6(base.into())
        } else {
            IpAddr::V4((base as u32).into())
        };
        let kind = if self.v6 { "ip6" } else { "ip4" };
        if self.len == self.max() {
            format!("{kind}:{ip}")
        } else {
            format!("{kind}:{ip}/{}", self.len)
        }
    }
}

/// The flattened inventory as `ip4:`/`ip6:` terms: sorted, duplicates and
/// networks inside another dropped.
pub fn flatten_networks(networks: &[String]) -> Vec<String> {
    let mut nets: Vec<Net> = networks.iter().filter_map(|n| Net::parse(n)).collect();
    nets.sort_by_key(|n| (n.v6, n.len, n.addr));
    let mut kept: Vec<Net> = Vec::new();
    for n in nets {
        if !kept.iter().any(|k| k.contains(n)) {
            kept.push(n);
        }
    }
    kept.sort_by_key(|n| (n.v6, n.addr, n.len));
    kept.into_iter().map(Net::term).collect()
}

/// A recommended SPF record from the senders in use, and a flattened
/// variant when the policy is over the 10-lookup limit (or `flatten`).
pub fn spf(state: &DomainState, flatten: bool) -> GenResult {
    let d = &state.domain;
    let mut out = String::new();
    comment(
        &mut out,
        &format!("SPF (RFC 7208) for {d}, generated by mailwarden from the domain's current state."),
    );
    let mut notes = Vec::new();
    let recommended = match &state.spf {
        None if state.null_mx() || state.mx_hosts().is_empty() => {
            notes.push("No SPF record and no MX hosts: nothing sends as this domain, so authorise no one.".to_string());
            "v=spf1 -all".to_string()
        }
        None => {
            notes.push(format!(
                "No SPF record: authorising the MX hosts ({}). Add the other services that send as {d} (include:, ip4:, ip6:) before publishing.",
                state.mx_hosts().join(", ")
            ));
            "v=spf1 mx -all".to_string()
        }
        Some(current) => {
            notes.push(format!("Current record: {current}"));
            let mut terms = Vec::new();
            let mut has_redirect = false;
            for t in current.split_ascii_whitespace().skip(1) {
                let name = t.trim_start_matches(['+', '-', '~', '?']).to_ascii_lowercase();
                if name == "all" {
                    continue;
                }
                if name == "ptr" || name.starts_with("ptr:") || name.starts_with("ptr/") {
                    notes.push(format!(
                        "Dropped {t}: ptr is slow, unreliable and \"SHOULD NOT be published\" (RFC 7208 §5.5)."
                    ));
                    continue;
                }
                has_redirect |= name.starts_with("redirect=");
                terms.push(t.to_string());
            }
            if has_redirect {
                notes.push(
                    "The record ends in redirect=: the target's policy decides; make sure it ends in -all.".into(),
                );
                format!("v=spf1 {}", terms.join(" "))
            } else {
                terms.retain(|t| !t.is_empty());
                let mut r = String::from("v=spf1");
                for t in &terms {
                    r.push(' ');
                    r.push_str(t);
                }
                r.push_str(" -all");
                r
            }
        }
    };
    if !recommended.ends_with("-all") && !recommended.contains("redirect=") {
        notes.push("Warning: the record does not end in -all.".into());
    }
    notes.push("-all: receivers reject mail from hosts the policy does not list (with DMARC, that is what protects the domain).".into());
    if !state.spf_networks.is_empty() {
        notes.push(format!(
            "The current policy authorises {} network(s): {}",
            state.spf_networks.len(),
            flatten_networks(&state.spf_networks).join(" ")
        ));
    }
    for n in &notes {
        comment(&mut out, n);
    }
    let lookups = state.spf_lookups.unwrap_or(0);
    let over = lookups > 10;
    if over {
        comment(
            &mut out,
            &format!(
                "\nThe current policy needs {lookups} DNS-querying terms; RFC 7208 §4.6.4 allows 10, so receivers return permerror.\nThe record below keeps the structure (fix it by removing includes of services no longer used), and a flattened variant follows."
            ),
        );
    }
    out.push('\n');
    let recommended_owner = d.to_string();
    if over {
        comment(
            &mut out,
            "Recommended structure (still over the limit until includes are removed):",
        );
        commented_record(&mut out, &recommended_owner, "TXT", &txt(&recommended));
    } else {
        record(&mut out, &recommended_owner, "TXT", &txt(&recommended));
    }
    if over || flatten {
        out.push('\n');
        let mut terms = flatten_networks(&state.spf_networks);
        if terms.is_empty() {
            return Err(format!(
                "{d}: the SPF policy authorises no fixed network, so there is nothing to flatten"
            ));
        }
        comment(
            &mut out,
            "Flattened variant: the include tree replaced by the addresses it authorises today.\nWARNING: flattening must be maintained. When a provider changes its addresses, its mail\nfails SPF until you regenerate this (mailwarden generate spf --flatten) and republish.\nRegenerate on a schedule, or reduce the includes instead.",
        );
        if !state.spf_dynamic.is_empty() {
            comment(
                &mut out,
                &format!(
                    "Kept as written (they depend on the message and cannot be flattened; each still costs a lookup): {}",
                    state.spf_dynamic.join(" ")
                ),
            );
            terms.extend(state.spf_dynamic.iter().cloned());
        }
        let single = format!("v=spf1 {} -all", terms.join(" "));
        if single.len() <= SPF_MAX_OCTETS {
            if over {
                record(&mut out, d, "TXT", &txt(&single));
            } else {
                commented_record(&mut out, d, "TXT", &txt(&single));
            }
        } else {
            // Chain: the top record includes parts of at most 450 octets each.
            let mut chunks: Vec<Vec<String>> = vec![Vec::new()];
            for t in terms {
                let len: usize = chunks.last().map_or(0, |c| c.iter().map(|t| t.len() + 1).sum());
                if len + t.len() + "v=spf1  -all".len() > SPF_MAX_OCTETS && !chunks.last().is_none_or(Vec::is_empty) {
                    chunks.push(Vec::new());
                }
                if let Some(c) = chunks.last_mut() {
                    c.push(t);
                }
            }
            comment(
                &mut out,
                &format!(
                    "Over {SPF_MAX_OCTETS} octets as one record, so split into {} parts included from the top record ({} lookups).",
                    chunks.len(),
                    chunks.len()
                ),
            );
            let includes: Vec<String> = (1..=chunks.len()).map(|i| format!("include:_spf{i}.{d}")).collect();
            let top = format!("v=spf1 {} -all", includes.join(" "));
            let emit = |out: &mut String, owner: &str, data: &str| {
                if over {
                    record(out, owner, "TXT", &txt(data));
                } else {
                    commented_record(out, owner, "TXT", &txt(data));
                }
            };
            emit(&mut out, d, &top);
            for (i, c) in chunks.iter().enumerate() {
                emit(
                    &mut out,
                    &format!("_spf{}.{d}", i + 1),
                    &format!("v=spf1 {} -all", c.join(" ")),
                );
            }
        }
    }
    Ok(out)
}

/// A staged DMARC rollout: `p=none` (monitor), then `p=quarantine`, then
/// `p=reject`, all with aggregate reports. The next stage from the current
/// policy is the one left uncommented.
pub fn dmarc(state: &DomainState, rua: Option<&str>) -> GenResult {
    let d = &state.domain;
    let rua = match rua {
        Some(r) => {
            check_rua(r, false)?;
            r.to_string()
        }
        None => state
            .dmarc_tag("rua")
            .and_then(|r| r.split(',').next().map(|s| s.trim().to_string()))
            .filter(|r| check_rua(r, false).is_ok())
            .unwrap_or_else(|| format!("mailto:dmarc-reports@{d}")),
    };
    let current = state.dmarc_tag("p").map(|p| p.to_ascii_lowercase());
    let now = match current.as_deref() {
        None => 0,
        Some("none") => 1,
        Some("quarantine") | Some("reject") => 2,
        Some(_) => 0,
    };
    let mut out = String::new();
    comment(
        &mut out,
        &format!("DMARC (RFC 7489, RFC 9989) for {d}: a staged rollout, generated by mailwarden."),
    );
    match &state.dmarc {
        Some(r) => comment(&mut out, &format!("Current record: {r}")),
        None => comment(&mut out, "No DMARC record is published now."),
    }
    comment(
        &mut out,
        &format!("Aggregate reports go to {rua}; read them (or feed them to a DMARC report tool) before each step."),
    );
    let rua_domain = rua
        .rsplit_once('@')
        .map(|(_, h)| h.to_ascii_lowercase())
        .unwrap_or_default();
    if !rua_domain.is_empty() && rua_domain != *d && !rua_domain.ends_with(&format!(".{d}")) {
        comment(
            &mut out,
            &format!(
                "The report address is in another domain: {rua_domain} must authorise it (RFC 7489 §7.1) by publishing\n  {d}._report._dmarc.{rua_domain}. IN TXT \"v=DMARC1\""
            ),
        );
    }
    let stages = [
        (
            "Stage 1, monitor: receivers apply no policy but send reports. Stay here until every legitimate sender passes SPF or DKIM aligned.",
            format!("v=DMARC1; p=none; rua={rua}"),
        ),
        (
            "Stage 2, quarantine: mail failing DMARC goes to spam. Watch the reports for a few weeks.",
            format!("v=DMARC1; p=quarantine; rua={rua}"),
        ),
        (
            "Stage 3, reject: mail failing DMARC is refused. The target (BOD 18-01, NCSC, M3AAWG).",
            format!("v=DMARC1; p=reject; rua={rua}"),
        ),
    ];
    let active = if current.as_deref() == Some("reject") { 2 } else { now };
    for (i, (why, rec)) in stages.iter().enumerate() {
        out.push('\n');
        let marker = if i == active { " (publish this now)" } else { "" };
        comment(&mut out, &format!("{why}{marker}"));
        let owner = format!("_dmarc.{d}");
        if i == active {
            record(&mut out, &owner, "TXT", &txt(rec));
        } else {
            commented_record(&mut out, &owner, "TXT", &txt(rec));
        }
    }
    if current.as_deref() == Some("reject") {
        comment(
            &mut out,
            "\nThe domain is already at p=reject; the record above keeps it there with reporting.",
        );
    }
    Ok(out)
}

/// An MTA-STS TXT record and policy file (RFC 8461) from the MX set:
/// `mode: testing` first, then `enforce`.
pub fn mta_sts(state: &DomainState, id: &str) -> GenResult {
    let d = &state.domain;
    if !(1..=32).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "--id {id:?}: an MTA-STS id is 1 to 32 letters and digits (RFC 8461 §3.1)"
        ));
    }
    let hosts = state.mx_hosts();
    if state.null_mx() || hosts.is_empty() {
        return Err(format!(
            "{d} has no MX hosts (null MX or no MX records): MTA-STS protects mail sent to a domain's MX hosts, so it needs some"
        ));
    }
    let mut out = String::new();
    comment(
        &mut out,
        &format!("MTA-STS (RFC 8461) for {d}, generated by mailwarden from its MX set."),
    );
    comment(
        &mut out,
        &format!(
            "\nStep 1: serve this policy at https://mta-sts.{d}/.well-known/mta-sts.txt\n(HTTPS with a valid certificate for mta-sts.{d}, no redirects, Content-Type: text/plain;\nlines end in CRLF). mta-sts.{d} needs an A/AAAA or CNAME record for that web server.\nEvery MX host needs a certificate valid for its name, or senders will not deliver once enforced.\n"
        ),
    );
    let mut policy = String::from("version: STSv1\nmode: testing\n");
    for h in &hosts {
        let _ = writeln!(policy, "mx: {h}");
    }
    policy.push_str("max_age: 86400\n");
    for line in policy.lines() {
        let _ = writeln!(out, ";     {line}");
    }
    comment(
        &mut out,
        "\nStep 2: publish the TXT record. Change id whenever the policy changes.",
    );
    record(
        &mut out,
        &format!("_mta-sts.{d}"),
        "TXT",
        &txt(&format!("v=STSv1; id={id}")),
    );
    comment(
        &mut out,
        "\nStep 3: with TLS reporting on (mailwarden generate tlsrpt), once the reports show no failures\nfor a few weeks, serve the enforcing policy and publish a new id:\n",
    );
    let enforce = policy
        .replace("mode: testing", "mode: enforce")
        .replace("max_age: 86400", "max_age: 1209600");
    for line in enforce.lines() {
        let _ = writeln!(out, ";     {line}");
    }
    Ok(out)
}

/// A TLS-RPT record (RFC 8460).
pub fn tlsrpt(state: &DomainState, rua: Option<&str>) -> GenResult {
    let d = &state.domain;
    let rua = match rua {
        Some(r) => {
            check_rua(r, true)?;
            r.to_string()
        }
        None => format!("mailto:tls-reports@{d}"),
    };
    let mut out = String::new();
    comment(
        &mut out,
        &format!("SMTP TLS reporting (RFC 8460) for {d}, generated by mailwarden."),
    );
    comment(
        &mut out,
        &format!("Senders that use MTA-STS or DANE send daily reports of TLS failures to {rua}.\n"),
    );
    record(
        &mut out,
        &format!("_smtp._tls.{d}"),
        "TXT",
        &txt(&format!("v=TLSRPTv1; rua={rua}")),
    );
    Ok(out)
}

/// What the CLI read from the certificate for [`tlsa`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    pub not_after: String,
    /// SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex.
    pub spki_sha256: String,
}

/// TLSA `3 1 1` (DANE-EE, SPKI, SHA-256; RFC 7672 §3.1) for each MX host,
/// or the given hosts.
pub fn tlsa(state: &DomainState, cert: &CertInfo, hosts: &[String]) -> GenResult {
    let d = &state.domain;
    let hosts = if hosts.is_empty() {
        state.mx_hosts()
    } else {
        hosts.to_vec()
    };
    if hosts.is_empty() {
        return Err(format!(
            "{d} has no MX hosts: DANE protects delivery to MX hosts; name one with --host HOST"
        ));
    }
    let mut out = String::new();
    comment(
        &mut out,
        &format!("DANE TLSA records (RFC 7672) for the MX hosts of {d}, generated by mailwarden."),
    );
    comment(
        &mut out,
        &format!(
            "Certificate: {}, valid until {}.\n3 1 1 = DANE-EE, the public key (SubjectPublicKeyInfo), SHA-256: it survives renewals that keep the key;\nnames and expiry are not checked (RFC 7672 §3.1.1).\nPublish these only in a DNSSEC-signed zone (TLSA without DNSSEC has no effect), and only for hosts\nthat present this certificate's key on port 25. Before changing the key, publish a second 3 1 1\nrecord for the new key, wait two TTLs, then switch and remove the old one.\n",
            cert.subject, cert.not_after
        ),
    );
    for h in hosts {
        record(
            &mut out,
            &format!("_25._tcp.{}", h.trim_end_matches('.')),
            "TLSA",
            &format!("3 1 1 {}", cert.spki_sha256),
        );
    }
    Ok(out)
}

/// What probing one address of an MX host over STARTTLS gave: the leaf
/// certificate's details, or why there is none (refused by the egress
/// guard, connection or TLS failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbedAddress {
    pub address: IpAddr,
    pub result: Result<CertInfo, String>,
}

/// One MX host and what its addresses presented; `error` when its
/// addresses could not be found at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbedHost {
    pub host: String,
    pub addresses: Vec<ProbedAddress>,
    pub error: Option<String>,
}

impl ProbedHost {
    /// The distinct keys the host presented, in first-seen order, each
    /// with the certificate first seen with it and the addresses that
    /// presented it.
    pub fn keys(&self) -> Vec<(&CertInfo, Vec<IpAddr>)> {
        let mut keys: Vec<(&CertInfo, Vec<IpAddr>)> = Vec::new();
        for a in &self.addresses {
            if let Ok(cert) = &a.result {
                match keys.iter_mut().find(|(c, _)| c.spki_sha256 == cert.spki_sha256) {
                    Some((_, addrs)) => addrs.push(a.address),
                    None => keys.push((cert, vec![a.address])),
                }
            }
        }
        keys
    }

    /// Why this host produced no key at all, or which addresses failed.
    pub fn failures(&self) -> Vec<String> {
        let mut out: Vec<String> = self.error.iter().cloned().collect();
        out.extend(
            self.addresses
                .iter()
                .filter_map(|a| a.result.as_ref().err().map(|e| format!("{}: {e}", a.address))),
        );
        out
    }
}

/// TLSA `3 1 1` records from the keys the MX hosts presented over
/// STARTTLS (probed on `smtp_port`): one record per distinct key per host.
/// A host whose addresses present different keys gets a record for each
/// and a warning; a host that could not be probed gets a comment with the
/// reason. Refuses (with every reason) when no record could be produced.
pub fn tlsa_live(state: &DomainState, hosts: &[ProbedHost], smtp_port: u16) -> GenResult {
    let d = &state.domain;
    if hosts.is_empty() {
        return Err(format!(
            "{d} has no MX hosts: DANE protects delivery to MX hosts; name one with --host HOST"
        ));
    }
    if hosts.iter().all(|h| h.keys().is_empty()) {
        let reasons: Vec<String> = hosts
            .iter()
            .flat_map(|h| h.failures().into_iter().map(move |f| format!("\n  {}: {f}", h.host)))
            .collect();
        return Err(format!("no TLSA record could be produced for {d}:{}", reasons.concat()));
    }
    let mut out = String::new();
    let port = if smtp_port == 25 {
        String::new()
    } else {
        format!(" (probed on port {smtp_port})")
    };
    comment(
        &mut out,
        &format!(
            "DANE TLSA records (RFC 7672) for the MX hosts of {d}, generated by mailwarden from the keys\nthe hosts presented over STARTTLS{port}.\n3 1 1 = DANE-EE, the public key (SubjectPublicKeyInfo), SHA-256: it survives renewals that keep the key;\nnames and expiry are not checked (RFC 7672 §3.1.1).\nPublish these only in a DNSSEC-signed zone (TLSA without DNSSEC has no effect). Before changing a key,\npublish a second 3 1 1 record for the new key, wait two TTLs, then switch and remove the old one.\nCheck that the keys below are yours: the probe trusts whatever answered on the network path.\n"
        ),
    );
    for h in hosts {
        let host = h.host.trim_end_matches('.');
        let keys = h.keys();
        out.push('\n');
        if keys.is_empty() {
            comment(&mut out, &format!("{host}: no record, the probe failed:"));
        }
        if keys.len() > 1 {
            comment(
                &mut out,
                &format!(
                    "WARNING: the addresses of {host} present {} different keys; all are listed. Senders may reach\nany address, so each record must stay valid, or make every address present the same key.",
                    keys.len()
                ),
            );
        }
        for (cert, addrs) in &keys {
            let addrs: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
            comment(
                &mut out,
                &format!(
                    "{host} ({}): {}, valid until {}",
                    addrs.join(", "),
                    cert.subject,
                    cert.not_after
                ),
            );
            record(
                &mut out,
                &format!("_25._tcp.{host}"),
                "TLSA",
                &format!("3 1 1 {}", cert.spki_sha256),
            );
        }
        for f in h.failures() {
            let f = f.replace(['\r', '\n'], " ");
            if keys.is_empty() {
                comment(&mut out, &format!("  {f}"));
            } else {
                comment(&mut out, &format!("{host}: no key from {f}"));
            }
        }
    }
    Ok(out)
}

/// The record set for a domain that neither sends nor receives mail:
/// null MX (RFC 7505), `v=spf1 -all`, DMARC `p=reject`, and an empty DKIM
/// key for every selector.
pub fn null_mx(state: &DomainState, rua: Option<&str>) -> GenResult {
    let d = &state.domain;
    if let Some(r) = rua {
        check_rua(r, false)?;
    }
    let mut out = String::new();
    comment(
        &mut out,
        &format!("A domain that sends and receives no mail: {d}, generated by mailwarden."),
    );
    let hosts = state.mx_hosts();
    if !hosts.is_empty() {
        comment(
            &mut out,
            &format!(
                "WARNING: {d} has MX hosts now ({}); remove those MX records: a null MX must stand alone (RFC 7505 §3).",
                hosts.join(", ")
            ),
        );
    }
    if let Some(spf) = &state.spf
        && spf.trim() != "v=spf1 -all"
    {
        comment(&mut out, &format!("Replace the current SPF record ({spf})."));
    }
    if let Some(dm) = &state.dmarc {
        comment(&mut out, &format!("Replace the current DMARC record ({dm})."));
    }
    comment(&mut out, "\nNo mail is accepted for the domain (RFC 7505):");
    record(&mut out, d, "MX", "0 .");
    comment(&mut out, "No host may send as the domain (RFC 7208):");
    record(&mut out, d, "TXT", &txt("v=spf1 -all"));
    comment(
        &mut out,
        "Receivers reject mail claiming to be from the domain or its subdomains:",
    );
    let mut policy = String::from("v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s");
    if let Some(r) = rua {
        policy.push_str("; rua=");
        policy.push_str(r);
    }
    record(&mut out, &format!("_dmarc.{d}"), "TXT", &txt(&policy));
    comment(
        &mut out,
        "No DKIM key is valid for any selector (an empty p= is a revoked key, RFC 6376 §3.6.1):",
    );
    record(&mut out, &format!("*._domainkey.{d}"), "TXT", &txt("v=DKIM1; p="));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> DomainState {
        DomainState {
            domain: "example.com".into(),
            mx: vec![(10, "mx1.example.com".into()), (20, "mx2.example.com".into())],
            spf: Some("v=spf1 mx include:_spf.example.com ptr ~all".into()),
            spf_lookups: Some(3),
            spf_networks: vec![
                "192.0.2.25/32".into(),
                "198.51.100.0/24".into(),
                "198.51.100.25/32".into(),
                "2001:db8::/32".into(),
                "2001:db8:25::1/128".into(),
            ],
            spf_dynamic: vec![],
            dmarc: Some("v=DMARC1; p=none; rua=mailto:d@example.com".into()),
        }
    }

    fn cert(hash: &str) -> CertInfo {
        CertInfo {
            subject: "CN=mx".into(),
            not_after: "Jan  1 00:00:00 2030 +00:00".into(),
            spki_sha256: hash.into(),
        }
    }

    fn probed(host: &str, results: &[(&str, Result<CertInfo, String>)]) -> ProbedHost {
        ProbedHost {
            host: host.into(),
            addresses: results
                .iter()
                .map(|(a, r)| ProbedAddress {
                    address: a.parse().unwrap(),
                    result: r.clone(),
                })
                .collect(),
            error: None,
        }
    }

    #[test]
    fn tlsa_live_dedupes_keys_warns_on_different_ones_and_comments_failures() {
        let hosts = [
            probed(
                "mx1.example.com",
                &[("192.0.2.1", Ok(cert("aa"))), ("2001:db8::1", Ok(cert("aa")))],
            ),
            probed(
                "mx2.example.com",
                &[("192.0.2.2", Ok(cert("bb"))), ("192.0.2.3", Ok(cert("cc")))],
            ),
            probed("mx3.example.com", &[("192.0.2.4", Err("connection refused".into()))]),
        ];
        let out = tlsa_live(&state(), &hosts, 25).unwrap();
        assert_eq!(
            out.matches("_25._tcp.mx1.example.com. 3600 IN TLSA 3 1 1 aa").count(),
            1,
            "{out}"
        );
        assert!(
            out.contains("; mx1.example.com (192.0.2.1, 2001:db8::1): CN=mx"),
            "{out}"
        );
        assert!(
            out.contains("_25._tcp.mx2.example.com. 3600 IN TLSA 3 1 1 bb\n"),
            "{out}"
        );
        assert!(
            out.contains("_25._tcp.mx2.example.com. 3600 IN TLSA 3 1 1 cc\n"),
            "{out}"
        );
        assert!(
            out.contains("WARNING: the addresses of mx2.example.com present 2 different keys"),
            "{out}"
        );
        assert!(
            out.contains("; mx3.example.com: no record, the probe failed:\n;   192.0.2.4: connection refused"),
            "{out}"
        );
        assert_eq!(out.matches("IN TLSA").count(), 3, "{out}");
        assert!(!out.contains("probed on port"), "{out}");
        assert!(
            out.lines()
                .all(|l| l.is_empty() || l.starts_with(';') || l.starts_with("_25._tcp.")),
            "{out}"
        );
    }

    #[test]
    fn tlsa_live_without_any_key_is_refused_with_every_reason() {
        let mut no_address = probed("mx2.example.com", &[]);
        no_address.error = Some("no A or AAAA record".into());
        let hosts = [
            probed("mx1.example.com", &[("10.0.0.1", Err("refused".into()))]),
            no_address,
        ];
        let err = tlsa_live(&state(), &hosts, 2525).unwrap_err();
        assert_eq!(
            err,
            "no TLSA record could be produced for example.com:\n  mx1.example.com: 10.0.0.1: refused\n  mx2.example.com: no A or AAAA record"
        );
        let err = tlsa_live(&state(), &[], 25).unwrap_err();
        assert!(err.contains("no MX hosts"), "{err}");
    }

    #[test]
    fn flattening_drops_contained_networks() {
        assert_eq!(
            flatten_networks(&state().spf_networks),
            ["ip4:192.0.2.25", "ip4:198.51.100.0/24", "ip6:2001:db8::/32"]
        );
    }

    #[test]
    fn spf_keeps_senders_drops_ptr_and_ends_in_fail_all() {
        let out = spf(&state(), false).unwrap();
        assert!(
            out.contains("example.com. 3600 IN TXT \"v=spf1 mx include:_spf.example.com -all\""),
            "{out}"
        );
        assert!(out.contains("Dropped ptr"), "{out}");
    }

    #[test]
    fn spf_over_the_limit_gets_a_flattened_record_with_a_warning() {
        let mut s = state();
        s.spf_lookups = Some(14);
        let out = spf(&s, false).unwrap();
        assert!(out.contains("flattening must be maintained"), "{out}");
        assert!(
            out.contains(
                "\nexample.com. 3600 IN TXT \"v=spf1 ip4:192.0.2.25 ip4:198.51.100.0/24 ip6:2001:db8::/32 -all\""
            ),
            "{out}"
        );
    }

    #[test]
    fn long_flattened_records_are_chained() {
        let mut s = state();
        s.spf_lookups = Some(11);
        s.spf_networks = (0..60).map(|i| format!("192.0.{i}.0/24")).collect();
        let out = spf(&s, false).unwrap();
        assert!(
            out.contains("include:_spf1.example.com include:_spf2.example.com"),
            "{out}"
        );
        for line in out.lines().filter(|l| !l.starts_with(';')) {
            assert!(line.len() < 520, "{line}");
        }
    }

    #[test]
    fn dmarc_stage_follows_the_current_policy() {
        let out = dmarc(&state(), None).unwrap();
        assert!(
            out.contains("\n_dmarc.example.com. 3600 IN TXT \"v=DMARC1; p=quarantine; rua=mailto:d@example.com\""),
            "{out}"
        );
        assert!(
            out.contains("; _dmarc.example.com. 3600 IN TXT \"v=DMARC1; p=reject;"),
            "{out}"
        );
        assert!(dmarc(&state(), Some("dmarc@example.com")).is_err());
    }

    #[test]
    fn txt_splits_long_strings() {
        let long = "a".repeat(300);
        let t = txt(&long);
        assert!(t.starts_with("( \"") && t.contains("\"\n        \""), "{t}");
        assert_eq!(txt("say \"x\""), "\"say \\\"x\\\"\"");
    }
}

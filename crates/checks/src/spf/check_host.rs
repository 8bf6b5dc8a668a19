//! `check_host()` (RFC 7208 §4-§7) as a pure function over a [`DnsView`].
//!
//! Every DNS answer comes from the view. An answer that is not definite
//! (timeout, SERVFAIL, not collected yet ...) is a DNS error in the RFC's
//! sense and gives `temperror` where the RFC says so, never "no record".
//! Run under [`crate::collect::fixpoint`], the first evaluations stop at
//! the first answer not yet collected; the last one sees them all.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use mailwarden_model::{Answer, DnsView, RData, RType};
use mailwarden_records::spf::{self, DualCidr, MacroContext, MacroString, Mechanism, Qualifier};
use serde::{Deserialize, Serialize};

/// RFC 7208 §4.6.4: "SPF implementations MUST limit the total number of
/// those terms to 10 during SPF evaluation".
pub const MAX_DNS_TERMS: u32 = 10;
/// RFC 7208 §4.6.4: "SPF implementations SHOULD limit 'void lookups' to
/// two."
pub const MAX_VOID_LOOKUPS: u32 = 2;
/// RFC 7208 §4.6.4: at most 10 MX records per `mx`, 10 PTR names per `ptr`.
pub const MAX_NAMES: usize = 10;

/// The results of RFC 7208 §2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpfResult {
    None,
    Neutral,
    Pass,
    Fail,
    Softfail,
    Temperror,
    Permerror,
}

impl SpfResult {
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::Softfail => "softfail",
            SpfResult::Temperror => "temperror",
            SpfResult::Permerror => "permerror",
        }
    }

    /// RFC 7208 §4.6.2: the result a matching mechanism's qualifier gives.
    pub fn from_qualifier(q: Qualifier) -> Self {
        match q {
            Qualifier::Pass => SpfResult::Pass,
            Qualifier::Fail => SpfResult::Fail,
            Qualifier::SoftFail => SpfResult::Softfail,
            Qualifier::Neutral => SpfResult::Neutral,
        }
    }
}

impl std::fmt::Display for SpfResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `check_host()` concluded, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckHost {
    pub result: SpfResult,
    /// The `exp=` explanation, expanded, when the result is `fail` and the
    /// explanation could be fetched (RFC 7208 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// One line per step, for humans.
    pub trace: Vec<String>,
}

/// Everything `check_host()` reads besides DNS (RFC 7208 §4.1), plus the
/// values of the `%{r}` and `%{t}` macros, which only explanations use.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    pub ip: IpAddr,
    pub domain: &'a str,
    /// `local-part@domain`; an empty local part becomes `postmaster`.
    pub sender: &'a str,
    pub helo: &'a str,
    /// `%{r}`: the receiving host's name.
    pub receiver: &'a str,
    /// `%{t}`: seconds since the epoch (passed in: judging is pure).
    pub timestamp: u64,
}

/// `check_host(<ip>, <domain>, <sender>)` with `%{h}` = `helo`, `%{r}` =
/// `unknown` and `%{t}` = 0.
pub fn check_host(view: &DnsView<'_>, ip: IpAddr, domain: &str, sender: &str, helo: &str) -> CheckHost {
    check_host_with(
        view,
        &Params {
            ip,
            domain,
            sender,
            helo,
            receiver: "unknown",
            timestamp: 0,
        },
    )
}

/// Check the MAIL FROM identity (RFC 7208 §2.4): "When the reverse-path is
/// null, this document defines the 'MAIL FROM' identity to be the mailbox
/// composed of the local-part 'postmaster' and the 'HELO' identity".
pub fn check_mail_from(view: &DnsView<'_>, ip: IpAddr, mail_from: &str, helo: &str) -> CheckHost {
    if mail_from.is_empty() {
        let sender = format!("postmaster@{helo}");
        return check_host(view, ip, helo, &sender, helo);
    }
    let domain = mail_from.rsplit_once('@').map_or(mail_from, |(_, d)| d);
    check_host(view, ip, domain, mail_from, helo)
}

/// `check_host()` with every parameter explicit.
pub fn check_host_with(view: &DnsView<'_>, params: &Params<'_>) -> CheckHost {
    let mut eval = Eval::new(view, params);
    let domain = params.domain.trim_end_matches('.');
    let (result, explanation) = match eval.check(domain) {
        Ok(verdict) => {
            let explanation = match (verdict.result, verdict.exp) {
                (SpfResult::Fail, Some(exp)) => eval.explain(&exp.spec, &exp.domain),
                _ => None,
            };
            (verdict.result, explanation)
        }
        Err(Stop::Temp(why)) => {
            eval.note(format!("temperror: {why}"));
            (SpfResult::Temperror, None)
        }
        Err(Stop::Perm(why)) => {
            eval.note(format!("permerror: {why}"));
            (SpfResult::Permerror, None)
        }
    };
    eval.note(format!("result: {result}"));
    CheckHost {
        result,
        explanation,
        trace: eval.trace,
    }
}

/// Why evaluation stopped early.
enum Stop {
    Temp(String),
    Perm(String),
}

type Step<T> = Result<T, Stop>;

/// Where the explanation comes from: the `exp=` of the record whose
/// mechanism failed, expanded with that record's domain.
struct ExpSource {
    spec: MacroString,
    domain: String,
}

struct Verdict {
    result: SpfResult,
    exp: Option<ExpSource>,
}

impl Verdict {
    fn plain(result: SpfResult) -> Self {
        Self { result, exp: None }
    }
}

struct Eval<'p, 'v, 'a> {
    view: &'v DnsView<'a>,
    /// The client address. An IPv4-mapped IPv6 address is an IPv4 client
    /// (RFC 7208 §5; the test suite's 5/9/2 cases require it).
    ip: IpAddr,
    params: &'p Params<'p>,
    local: String,
    sender: String,
    sender_domain: String,
    dns_terms: u32,
    voids: u32,
    trace: Vec<String>,
}

impl<'p, 'v, 'a> Eval<'p, 'v, 'a> {
    fn new(view: &'v DnsView<'a>, params: &'p Params<'p>) -> Self {
        let ip = canonical_ip(params.ip);
        let (local, sender_domain) = match params.sender.rsplit_once('@') {
            Some((l, d)) => (l.to_string(), d.to_string()),
            None => (String::new(), params.domain.to_string()),
        };
        // RFC 7208 §4.3: "If the <sender> has no local-part, substitute the
        // string 'postmaster' for the local-part."
        let local = if local.is_empty() {
            "postmaster".to_string()
        } else {
            local
        };
        let sender = format!("{local}@{sender_domain}");
        Self {
            view,
            ip,
            params,
            local,
            sender,
            sender_domain,
            dns_terms: 0,
            voids: 0,
            trace: Vec::new(),
        }
    }

    fn note(&mut self, line: String) {
        self.trace.push(line);
    }

    /// One `check_host()` on `domain` (also for include and redirect).
    fn check(&mut self, domain: &str) -> Step<Verdict> {
        // RFC 7208 §4.3: "If the <domain> is malformed (e.g., label longer
        // than 63 characters, zero-length label not at the end, etc.) or is
        // not a multi-label domain name ... check_host() immediately returns
        // the result 'none'."
        if let Some(why) = malformed(domain) {
            self.note(format!("{domain:?} {why} (RFC 7208 §4.3): none"));
            return Ok(Verdict::plain(SpfResult::None));
        }
        let Some(bytes) = self.fetch_record(domain)? else {
            return Ok(Verdict::plain(SpfResult::None));
        };
        let parsed = spf::parse(&bytes);
        self.note(format!("{domain}: \"{}\"", parsed.record.text));
        // RFC 7208 §4.6: "If there are any syntax errors anywhere in the
        // record, check_host() returns immediately with the result
        // 'permerror', without further interpretation or evaluation."
        if let Some(err) = parsed.errors().next() {
            return Err(Stop::Perm(format!("{domain}: {}", err.message)));
        }
        let record = parsed.record;
        for directive in record.directives() {
            if self.matches(&directive.mechanism, domain)? {
                let result = SpfResult::from_qualifier(directive.qualifier);
                self.note(format!("{domain}: \"{}\" matched: {result}", directive.text));
                let exp = record.exp().filter(|_| result == SpfResult::Fail);
                let exp = exp.map(|spec| ExpSource {
                    spec: spec.clone(),
                    domain: domain.to_string(),
                });
                return Ok(Verdict { result, exp });
            }
            self.note(format!("{domain}: \"{}\" did not match", directive.text));
        }
        // RFC 7208 §6.1: "If all mechanisms fail to match, and a 'redirect'
        // modifier is present, then processing proceeds as follows".
        if let Some(spec) = record.redirect() {
            return self.redirect(spec, domain);
        }
        // RFC 7208 §4.7: "If none of the mechanisms match and there is no
        // 'redirect' modifier, then the check_host() returns a result of
        // 'neutral', just as if '?all' were specified as the last directive."
        self.note(format!("{domain}: nothing matched: neutral"));
        Ok(Verdict::plain(SpfResult::Neutral))
    }

    /// RFC 7208 §4.4-§4.5: the TXT RRset, exactly one `v=spf1` record.
    fn fetch_record(&mut self, domain: &str) -> Step<Option<Vec<u8>>> {
        let answer = self.view.get(domain, RType::Txt);
        // §4.4: "If the DNS lookup returns a server failure (RCODE 2) or some
        // other error (RCODE other than 0 or 3), or if the lookup times out,
        // then check_host() terminates immediately with the result
        // 'temperror'."
        if !answer.status.is_definite() {
            return Err(Stop::Temp(format!(
                "TXT lookup for {domain}: {}",
                answer.status.describe()
            )));
        }
        let mut records = spf_records(answer);
        match records.len() {
            // §4.5: "If the resultant record set includes no records,
            // check_host() produces the 'none' result."
            0 => {
                self.note(format!("{domain}: no SPF record: none"));
                Ok(None)
            }
            1 => Ok(records.pop()),
            // §4.5: "If the resultant record set includes more than one
            // record, check_host() produces the 'permerror' result."
            n => Err(Stop::Perm(format!("{domain} publishes {n} SPF records"))),
        }
    }

    /// RFC 7208 §6.1: the result of the new check_host() "is then considered
    /// the result of the current evaluation with the exception that if no
    /// SPF record is found, or if the <target-name> is malformed, the result
    /// is a 'permerror' rather than 'none'."
    fn redirect(&mut self, spec: &MacroString, domain: &str) -> Step<Verdict> {
        self.count_dns_term("redirect")?;
        let Some(target) = self.expand_target(spec, domain) else {
            return Err(Stop::Perm(format!("{domain}: redirect target \"{spec}\" is malformed")));
        };
        self.note(format!("{domain}: redirect to {target}"));
        let verdict = self.check(&target)?;
        if verdict.result == SpfResult::None {
            return Err(Stop::Perm(format!("redirect target {target} has no SPF record")));
        }
        Ok(verdict)
    }

    fn matches(&mut self, mechanism: &Mechanism, domain: &str) -> Step<bool> {
        match mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Ip4 { network } => Ok(matches!(self.ip, IpAddr::V4(ip) if network.contains(&ip))),
            Mechanism::Ip6 { network } => Ok(matches!(self.ip, IpAddr::V6(ip) if network.contains(&ip))),
            Mechanism::Include { domain: spec } => self.include(spec, domain),
            Mechanism::A { domain: spec, cidr } => {
                self.count_dns_term("a")?;
                match self.target_or_current(spec.as_ref(), domain) {
                    Some(target) => self.address_matches(&target, *cidr),
                    None => Ok(false),
                }
            }
            Mechanism::Mx { domain: spec, cidr } => {
                self.count_dns_term("mx")?;
                match self.target_or_current(spec.as_ref(), domain) {
                    Some(target) => self.mx_matches(&target, *cidr),
                    None => Ok(false),
                }
            }
            Mechanism::Ptr { domain: spec } => {
                self.count_dns_term("ptr")?;
                match self.target_or_current(spec.as_ref(), domain) {
                    Some(target) => self.ptr_matches(&target),
                    None => Ok(false),
                }
            }
            Mechanism::Exists { domain: spec } => {
                self.count_dns_term("exists")?;
                match self.expand_target(spec, domain) {
                    Some(target) => self.exists(&target),
                    None => Ok(false),
                }
            }
        }
    }

    /// RFC 7208 §5.2 (its table): pass matches; fail, softfail and neutral
    /// do not; temperror and permerror propagate; none becomes permerror.
    fn include(&mut self, spec: &MacroString, domain: &str) -> Step<bool> {
        self.count_dns_term("include")?;
        let verdict = match self.expand_target(spec, domain) {
            Some(target) => self.check(&target)?,
            None => Verdict::plain(SpfResult::None),
        };
        match verdict.result {
            SpfResult::Pass => Ok(true),
            SpfResult::None => Err(Stop::Perm(format!("{domain}: include:{spec} found no SPF record"))),
            _ => Ok(false),
        }
    }

    /// RFC 7208 §5.3: "An address lookup is done on the <target-name> using
    /// the type of lookup (A or AAAA) appropriate for the connection type".
    fn address_matches(&mut self, target: &str, cidr: DualCidr) -> Step<bool> {
        let answer = self.view.get(target, self.address_type());
        self.definite(answer, target)?;
        if answer.status.is_negative() {
            self.void(target)?;
            return Ok(false);
        }
        Ok(answer.records.iter().any(|r| in_cidr(r, self.ip, cidr)))
    }

    /// RFC 7208 §5.4: MX lookup, then an address lookup per exchange; "If
    /// this limit is exceeded, the 'mx' mechanism MUST produce a 'permerror'
    /// result".
    fn mx_matches(&mut self, target: &str, cidr: DualCidr) -> Step<bool> {
        let answer = self.view.get(target, RType::Mx);
        self.definite(answer, target)?;
        if answer.status.is_negative() {
            self.void(target)?;
            return Ok(false);
        }
        if answer.records.len() > MAX_NAMES {
            return Err(Stop::Perm(format!(
                "{target} has {} MX records, more than {MAX_NAMES}",
                answer.records.len()
            )));
        }
        let hosts: Vec<&str> = answer.records.iter().filter_map(mx_exchange).collect();
        // Ask for every exchange before judging any, so collection fetches
        // them in one round.
        let rtype = self.address_type();
        let answers: Vec<&Answer> = hosts.iter().map(|h| self.view.get(h, rtype)).collect();
        for (host, answer) in hosts.iter().zip(answers) {
            self.definite(answer, host)?;
            if answer.records.iter().any(|r| in_cidr(r, self.ip, cidr)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// RFC 7208 §5.5: validated reverse names equal to or under the target.
    /// "If a DNS error occurs while doing the PTR RR lookup, then this
    /// mechanism fails to match."
    fn ptr_matches(&mut self, target: &str) -> Step<bool> {
        let reverse = reverse_name(self.ip);
        let answer = self.view.get(&reverse, RType::Ptr);
        if !answer.status.is_definite() {
            return Ok(false);
        }
        if answer.status.is_negative() {
            self.void(&reverse)?;
            return Ok(false);
        }
        let target = target.to_ascii_lowercase();
        let candidates: Vec<&str> = ptr_targets(answer)
            .take(MAX_NAMES)
            .filter(|name| is_same_or_under(name, &target))
            .collect();
        Ok(candidates.into_iter().any(|name| self.validates(name)))
    }

    /// RFC 7208 §5.7: "The resulting domain name is used for a DNS A RR
    /// lookup (even when the connection type is IPv6). If any A record is
    /// returned, this mechanism matches."
    fn exists(&mut self, target: &str) -> Step<bool> {
        let answer = self.view.get(target, RType::A);
        self.definite(answer, target)?;
        if answer.status.is_negative() {
            self.void(target)?;
            return Ok(false);
        }
        Ok(!answer.records.is_empty())
    }

    /// Does a forward lookup of `name` give back the client address?
    /// RFC 7208 §5.5: "If a DNS error occurs while doing an A RR lookup,
    /// then that domain name is skipped and the search continues."
    fn validates(&self, name: &str) -> bool {
        let answer = self.view.get(name, self.address_type());
        answer.records.iter().any(|r| address_of(r) == Some(self.ip))
    }

    /// RFC 7208 §7.3 `p`: a validated name of the client, preferring the
    /// <domain> itself, then a subdomain of it, then any; else "unknown".
    fn validated_name(&self, domain: &str) -> String {
        let answer = self.view.get(&reverse_name(self.ip), RType::Ptr);
        let names: Vec<&str> = ptr_targets(answer).take(MAX_NAMES).collect();
        let answers: Vec<bool> = names.iter().map(|n| self.validates(n)).collect();
        let valid: Vec<&str> = names
            .iter()
            .zip(answers)
            .filter(|(_, ok)| *ok)
            .map(|(n, _)| *n)
            .collect();
        let domain = domain.to_ascii_lowercase();
        let pick = valid
            .iter()
            .find(|n| **n == domain)
            .or_else(|| valid.iter().find(|n| is_same_or_under(n, &domain)))
            .or_else(|| valid.first());
        pick.map_or_else(|| "unknown".to_string(), |n| n.to_string())
    }

    fn definite(&self, answer: &Answer, name: &str) -> Step<()> {
        if answer.status.is_definite() {
            Ok(())
        } else {
            Err(Stop::Temp(format!("lookup of {name}: {}", answer.status.describe())))
        }
    }

    /// RFC 7208 §4.6.4: "The following terms cause DNS queries: the
    /// 'include', 'a', 'mx', 'ptr', and 'exists' mechanisms, and the
    /// 'redirect' modifier. SPF implementations MUST limit the total number
    /// of those terms to 10 during SPF evaluation ... If this limit is
    /// exceeded, the implementation MUST return 'permerror'."
    fn count_dns_term(&mut self, what: &str) -> Step<()> {
        self.dns_terms += 1;
        if self.dns_terms > MAX_DNS_TERMS {
            return Err(Stop::Perm(format!(
                "\"{what}\" is DNS-querying term {}, over the limit of {MAX_DNS_TERMS}",
                self.dns_terms
            )));
        }
        Ok(())
    }

    /// RFC 7208 §4.6.4: a void lookup returns "either a positive answer
    /// (RCODE 0) with an answer count of 0, or a 'Name Error' (RCODE 3)
    /// answer"; more than two is a permerror.
    fn void(&mut self, name: &str) -> Step<()> {
        self.voids += 1;
        self.note(format!("void lookup #{} for {name}", self.voids));
        if self.voids > MAX_VOID_LOOKUPS {
            return Err(Stop::Perm(format!("more than {MAX_VOID_LOOKUPS} void lookups")));
        }
        Ok(())
    }

    fn address_type(&self) -> RType {
        if self.ip.is_ipv4() { RType::A } else { RType::Aaaa }
    }

    fn target_or_current(&self, spec: Option<&MacroString>, domain: &str) -> Option<String> {
        match spec {
            Some(spec) => self.expand_target(spec, domain),
            None => Some(domain.to_string()),
        }
    }

    /// Expand a domain-spec into a name to look up, or `None` when the
    /// result is not a usable domain name (an empty or overlong label),
    /// which the mechanisms treat as no match (RFC 7208 §4.8 leaves this
    /// open; the test suite accepts it).
    fn expand_target(&self, spec: &MacroString, domain: &str) -> Option<String> {
        target_name(&spec.expand(|letter| self.macro_value(letter, domain)))
    }

    /// RFC 7208 §6.2: "If there are any DNS processing errors (any RCODE
    /// other than 0), or if no records are returned, or if more than one
    /// record is returned, or if there are syntax errors in the explanation
    /// string, then proceed as if no 'exp' modifier was given."
    fn explain(&mut self, spec: &MacroString, domain: &str) -> Option<String> {
        let target = self.expand_target(spec, domain)?;
        let answer = self.view.get(&target, RType::Txt);
        let texts: Vec<Vec<u8>> = answer.records.iter().filter_map(txt_of).collect();
        let [text] = texts.as_slice() else {
            self.note(format!(
                "exp={target}: {} TXT records, explanation ignored",
                texts.len()
            ));
            return None;
        };
        let parsed = spf::parse_macro_string(text, 0, MacroContext::Explanation).ok()?;
        Some(parsed.expand(|letter| self.macro_value(letter, domain)))
    }

    /// RFC 7208 §7.2-§7.3: the value of one macro letter.
    fn macro_value(&self, letter: char, domain: &str) -> String {
        match letter {
            's' => self.sender.clone(),
            'l' => self.local.clone(),
            'o' => self.sender_domain.clone(),
            'd' => domain.to_string(),
            'i' => dotted_ip(self.ip),
            'p' => self.validated_name(domain),
            'v' => if self.ip.is_ipv4() { "in-addr" } else { "ip6" }.to_string(),
            'h' => self.params.helo.to_string(),
            'c' => self.ip.to_string(),
            'r' => self.params.receiver.to_string(),
            't' => self.params.timestamp.to_string(),
            _ => String::new(),
        }
    }
}

/// The `v=spf1` records of a TXT answer (RFC 7208 §4.5), joined (§3.3).
pub(crate) fn spf_records(answer: &Answer) -> Vec<Vec<u8>> {
    answer
        .records
        .iter()
        .filter_map(txt_of)
        .filter(|b| spf::is_spf_record(b))
        .collect()
}

fn txt_of(record: &RData) -> Option<Vec<u8>> {
    match record {
        RData::Txt { .. } => record.txt_bytes(),
        _ => None,
    }
}

pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

pub(crate) fn mx_exchange(record: &RData) -> Option<&str> {
    match record {
        // A null MX (RFC 7505) names no host.
        RData::Mx { exchange, .. } if !exchange.is_empty() && exchange != "." => Some(exchange),
        _ => None,
    }
}

fn ptr_targets(answer: &Answer) -> impl Iterator<Item = &str> {
    answer.records.iter().filter_map(|r| match r {
        RData::Ptr { target } => Some(target.trim_end_matches('.')),
        _ => None,
    })
}

pub(crate) fn address_of(record: &RData) -> Option<IpAddr> {
    match record {
        RData::A { address } => Some(IpAddr::V4(*address)),
        RData::Aaaa { address } => Some(IpAddr::V6(*address)),
        _ => None,
    }
}

/// RFC 7208 §5.3: the client matches when it is in the network of a
/// returned address with the mechanism's CIDR prefix length.
fn in_cidr(record: &RData, ip: IpAddr, cidr: DualCidr) -> bool {
    match (record, ip) {
        (RData::A { address }, IpAddr::V4(ip)) => Ipv4Net::new(*address, cidr.v4).is_ok_and(|n| n.contains(&ip)),
        (RData::Aaaa { address }, IpAddr::V6(ip)) => Ipv6Net::new(*address, cidr.v6).is_ok_and(|n| n.contains(&ip)),
        _ => false,
    }
}

fn is_same_or_under(name: &str, target: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == target || name.ends_with(&format!(".{target}"))
}

/// The `in-addr.arpa` / `ip6.arpa` name of an address (RFC 7208 §5.5).
pub(crate) fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => format!(
            "{}.ip6.arpa",
            nibbles(v6).into_iter().rev().collect::<Vec<_>>().join(".")
        ),
    }
}

fn nibbles(v6: Ipv6Addr) -> Vec<String> {
    v6.octets()
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .map(|n| format!("{n:x}"))
        .collect()
}

/// RFC 7208 §7.3: "For IPv6 addresses, the 'i' macro expands to a
/// dot-format address; it is intended for use in %{ir}" (nibbles, upper
/// case as in the §7.4 example).
fn dotted_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => nibbles(v6).join(".").to_ascii_uppercase(),
    }
}

/// An expanded domain-spec as a name to query: trailing dot dropped,
/// truncated (§7.3), `None` if a label is empty or too long.
pub(crate) fn target_name(expanded: &str) -> Option<String> {
    let name = truncate_name(expanded.strip_suffix('.').unwrap_or(expanded));
    is_queryable(name).then(|| name.to_string())
}

/// RFC 7208 §7.3: "if the expanded domain name exceeds 253 characters ...
/// the left side is truncated to fit, by removing successive domain labels
/// (and their following dots) until the total length does not exceed 253".
fn truncate_name(name: &str) -> &str {
    let mut name = name;
    while name.len() > 253 {
        match name.split_once('.') {
            Some((_, rest)) => name = rest,
            None => break,
        }
    }
    name
}

/// A name that can be put in a DNS query: labels of 1 to 63 octets.
fn is_queryable(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

/// RFC 7208 §4.3: a well-formed, multi-label domain name (no domain
/// literals, no spaces).
pub(crate) fn is_checkable_domain(domain: &str) -> bool {
    malformed(domain).is_none()
}

/// Why `domain` is not a well-formed, multi-label domain name (RFC 7208
/// §4.3), or `None` when it is one.
pub(crate) fn malformed(domain: &str) -> Option<&'static str> {
    let why = if domain.starts_with('[') && domain.ends_with(']') {
        "is a domain literal (an address in brackets), not a domain name"
    } else if domain.is_empty() {
        "is empty"
    } else if domain.split('.').any(str::is_empty) {
        "has an empty label"
    } else if domain.split('.').any(|l| l.len() > 63) {
        "has a label longer than 63 octets"
    } else if domain.len() > 253 {
        "is longer than 253 octets"
    } else if !domain.contains('.') {
        "is a single label, not a multi-label domain name"
    } else if !domain.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'[') {
        "contains a space, a bracket or a character outside printable ASCII"
    } else {
        return None;
    };
    Some(why)
}

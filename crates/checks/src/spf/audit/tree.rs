//! The walk of the include/redirect tree (RFC 7208 §4.6.4, §5): every
//! record reached, the DNS-querying terms and void lookups counted, the
//! networks that get `pass`, and the lookups that failed.

use super::*;

/// A term, located in the tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(super) struct TermRef {
    /// `example.com → include:_spf.example.net → a:mail.example.net`
    pub(super) path: String,
    pub(super) term: String,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct FailedLookup {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) rtype: RType,
    pub(super) status: String,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct VoidLookup {
    pub(super) path: String,
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) rtype: RType,
    pub(super) status: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct MissingTarget {
    pub(super) path: String,
    pub(super) target: String,
    pub(super) reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct MxOverLimit {
    pub(super) path: String,
    pub(super) target: String,
    pub(super) mx_records: usize,
}

/// One authorised network and the path that grants it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(super) struct Sender {
    pub(super) network: IpNet,
    pub(super) path: String,
}

/// A record reached in the walk.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) domain: String,
    pub(super) path: String,
    pub(super) parsed: Parsed,
}

/// How a chain of records (a record and its redirects) ends for a client
/// that matched nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    All(Qualifier),
    /// No `all` and no `redirect`: neutral (RFC 7208 §4.7).
    Default,
    /// A syntax error, a missing or unreadable redirect target, a loop.
    Unknown,
}

/// The walked tree and everything counted on the way.
pub(super) struct Tree<'v, 'a> {
    pub(super) view: &'v DnsView<'a>,
    pub(super) nodes: Vec<Node>,
    pub(super) dns_terms: Vec<TermRef>,
    pub(super) voids: Vec<VoidLookup>,
    pub(super) failures: BTreeMap<(String, RType), String>,
    pub(super) missing: Vec<MissingTarget>,
    pub(super) loops: Vec<TermRef>,
    pub(super) ptr_terms: Vec<TermRef>,
    pub(super) unevaluable: Vec<TermRef>,
    pub(super) mx_terms: usize,
    pub(super) mx_over: Vec<MxOverLimit>,
    pub(super) senders: Vec<Sender>,
    pub(super) dynamic: Vec<TermRef>,
    pub(super) open: Vec<TermRef>,
    pub(super) include_like: usize,
    pub(super) lower_bound: bool,
    pub(super) truncated: bool,
    pub(super) ending: Ending,
}

impl<'v, 'a> Tree<'v, 'a> {
    pub(super) fn walk(view: &'v DnsView<'a>, domain: &str, record: &RawRecord) -> Self {
        let mut tree = Tree {
            view,
            nodes: Vec::new(),
            dns_terms: Vec::new(),
            voids: Vec::new(),
            failures: BTreeMap::new(),
            missing: Vec::new(),
            loops: Vec::new(),
            ptr_terms: Vec::new(),
            unevaluable: Vec::new(),
            mx_terms: 0,
            mx_over: Vec::new(),
            senders: Vec::new(),
            dynamic: Vec::new(),
            open: Vec::new(),
            include_like: 0,
            lower_bound: false,
            truncated: false,
            ending: Ending::Unknown,
        };
        let mut chain = vec![domain.to_string()];
        tree.ending = tree.record(domain, &record.bytes, domain.to_string(), &mut chain, true);
        tree.senders.sort();
        tree.senders.dedup();
        tree
    }

    pub(super) fn incomplete(&self) -> bool {
        !self.failures.is_empty() || self.truncated
    }

    /// Walk one record; `grants` is true when a match here gives the
    /// top-level `pass` (every include on the way is `+include`).
    pub(super) fn record(
        &mut self,
        domain: &str,
        bytes: &[u8],
        path: String,
        chain: &mut Vec<String>,
        grants: bool,
    ) -> Ending {
        let parsed = spf::parse(bytes);
        self.nodes.push(Node {
            domain: domain.to_string(),
            path: path.clone(),
            parsed: parsed.clone(),
        });
        if parsed.has_errors() {
            return Ending::Unknown;
        }
        for d in parsed.record.directives() {
            let here = TermRef {
                path: path.clone(),
                term: d.text.clone(),
            };
            let pass = grants && d.qualifier == Qualifier::Pass;
            if d.mechanism == Mechanism::All {
                if pass && chain.len() > 1 {
                    self.open.push(here);
                }
                return Ending::All(d.qualifier);
            }
            self.directive(&d.mechanism, domain, here, chain, pass);
        }
        let Some(spec) = parsed.record.redirect() else {
            return Ending::Default;
        };
        let here = TermRef {
            path: path.clone(),
            term: format!("redirect={spec}"),
        };
        self.dns_terms.push(here.clone());
        self.include_like += 1;
        match self.follow(spec, domain, &here, chain, grants) {
            Some(ending) => ending,
            None => Ending::Unknown,
        }
    }

    pub(super) fn directive(
        &mut self,
        mechanism: &Mechanism,
        domain: &str,
        here: TermRef,
        chain: &mut Vec<String>,
        pass: bool,
    ) {
        if mechanism.queries_dns() {
            self.dns_terms.push(here.clone());
        }
        if let Some(spec) = mechanism.domain_spec()
            && spec.needs_message()
        {
            if matches!(mechanism, Mechanism::Include { .. }) {
                self.lower_bound = true;
            }
            if pass {
                self.dynamic.push(here.clone());
            }
            self.unevaluable.push(here);
            return;
        }
        match mechanism {
            Mechanism::All => {}
            Mechanism::Ip4 { network } if pass => self.grant(IpNet::V4(network.trunc()), &here.path, &here.term),
            Mechanism::Ip6 { network } if pass => self.grant(IpNet::V6(network.trunc()), &here.path, &here.term),
            Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => {}
            Mechanism::Include { domain: spec } => {
                self.include_like += 1;
                self.follow(spec, domain, &here, chain, pass);
            }
            Mechanism::A { domain: spec, cidr } => {
                if let Some(target) = self.static_target(spec.as_ref(), domain) {
                    self.addresses(&target, *cidr, &here, pass, true);
                }
            }
            Mechanism::Mx { domain: spec, cidr } => {
                self.mx_terms += 1;
                if let Some(target) = self.static_target(spec.as_ref(), domain) {
                    self.mx(&target, *cidr, &here, pass);
                }
            }
            Mechanism::Ptr { .. } => {
                self.ptr_terms.push(here.clone());
                if pass {
                    self.dynamic.push(here);
                }
            }
            Mechanism::Exists { domain: spec } => {
                if let Some(target) = self.static_target(Some(spec), domain) {
                    self.exists(&target, here, pass);
                }
            }
        }
    }

    /// Follow `include:` or `redirect=` to the target's record. `None` when
    /// there is no record to walk.
    pub(super) fn follow(
        &mut self,
        spec: &MacroString,
        domain: &str,
        here: &TermRef,
        chain: &mut Vec<String>,
        grants: bool,
    ) -> Option<Ending> {
        if spec.needs_message() {
            self.lower_bound = true;
            self.unevaluable.push(here.clone());
            return None;
        }
        let target = target_name(&expand_static(spec, domain)).map(|t| t.to_ascii_lowercase());
        let Some(target) = target.filter(|t| is_checkable_domain(t)) else {
            self.missing_target(here, spec.text.clone(), "the target is not a valid domain name".into());
            return None;
        };
        if chain.contains(&target) {
            self.loops.push(here.clone());
            return None;
        }
        if self.nodes.len() >= MAX_RECORDS {
            self.truncated = true;
            return None;
        }
        let answer = self.view.get(&target, RType::Txt);
        if !self.definite(&target, RType::Txt, answer) {
            return None;
        }
        let mut records = spf_records(answer);
        if records.len() != 1 {
            let reason = if records.is_empty() {
                format!("no SPF record: {}", answer.status.describe())
            } else {
                format!("{} SPF records", records.len())
            };
            self.missing_target(here, target, reason);
            return None;
        }
        let bytes = records.pop().unwrap_or_default();
        chain.push(target.clone());
        let path = format!("{} → {}", here.path, here.term.replace(&spec.text, &target));
        let ending = self.record(&target, &bytes, path, chain, grants);
        chain.pop();
        Some(ending)
    }

    pub(super) fn missing_target(&mut self, here: &TermRef, target: String, reason: String) {
        let path = format!("{} → {}", here.path, here.term);
        self.missing.push(MissingTarget { path, target, reason });
    }

    pub(super) fn static_target(&mut self, spec: Option<&MacroString>, domain: &str) -> Option<String> {
        match spec {
            None => Some(domain.to_string()),
            Some(spec) => target_name(&expand_static(spec, domain)).map(|t| t.to_ascii_lowercase()),
        }
    }

    /// Record a failed lookup; true when the answer is definite.
    pub(super) fn definite(&mut self, name: &str, rtype: RType, answer: &Answer) -> bool {
        if answer.status.is_definite() {
            return true;
        }
        self.failures
            .insert((name.to_string(), rtype), answer.status.describe());
        false
    }

    /// RFC 7208 §4.6.4 void lookups, as an IPv4 client sees them (A).
    pub(super) fn note_void(&mut self, here: &TermRef, name: &str, rtype: RType, status: &Status) {
        let status = if *status == Status::NxDomain {
            "NXDOMAIN"
        } else {
            "NODATA"
        };
        let path = format!("{} → {}", here.path, here.term);
        self.voids.push(VoidLookup {
            path,
            name: name.to_string(),
            rtype,
            status,
        });
    }

    /// `a`: A and AAAA of `target`, authorised with the CIDR lengths.
    pub(super) fn addresses(&mut self, target: &str, cidr: DualCidr, here: &TermRef, pass: bool, count_void: bool) {
        let v4 = self.view.get(target, RType::A);
        let v6 = self.view.get(target, RType::Aaaa);
        if self.definite(target, RType::A, v4) && count_void && v4.status.is_negative() {
            self.note_void(here, target, RType::A, &v4.status);
        }
        self.definite(target, RType::Aaaa, v6);
        if !pass {
            return;
        }
        let path = format!("{} → {}", here.path, here.term);
        let path = if here.term.contains(':') || path.ends_with(target) {
            path
        } else {
            format!("{path} ({target})")
        };
        for record in v4.records.iter().chain(&v6.records) {
            if let Some(network) = network_of(record, cidr) {
                self.grant(network, &path, "");
            }
        }
    }

    /// `mx`: the MX set (at most 10), then each exchange's addresses.
    pub(super) fn mx(&mut self, target: &str, cidr: DualCidr, here: &TermRef, pass: bool) {
        let answer = self.view.get(target, RType::Mx);
        if !self.definite(target, RType::Mx, answer) {
            return;
        }
        if answer.status.is_negative() {
            self.note_void(here, target, RType::Mx, &answer.status);
            return;
        }
        if answer.records.len() > MAX_NAMES {
            let path = format!("{} → {}", here.path, here.term);
            self.mx_over.push(MxOverLimit {
                path,
                target: target.to_string(),
                mx_records: answer.records.len(),
            });
            return;
        }
        for host in answer.records.iter().filter_map(mx_exchange) {
            let via = TermRef {
                path: format!("{} → {}", here.path, here.term),
                term: host.to_string(),
            };
            self.addresses(host, cidr, &via, pass, false);
        }
    }

    /// `exists` with a fixed name: if it resolves, it matches every client.
    pub(super) fn exists(&mut self, target: &str, here: TermRef, pass: bool) {
        let answer = self.view.get(target, RType::A);
        if !self.definite(target, RType::A, answer) {
            return;
        }
        if answer.status.is_negative() {
            self.note_void(&here, target, RType::A, &answer.status);
        } else if pass {
            self.open.push(here);
        }
    }

    pub(super) fn grant(&mut self, network: IpNet, path: &str, term: &str) {
        let path = if term.is_empty() {
            path.to_string()
        } else {
            format!("{path} → {term}")
        };
        if network.prefix_len() == 0 {
            self.open.push(TermRef {
                path: path.clone(),
                term: network.to_string(),
            });
        }
        self.senders.push(Sender { network, path });
    }
}

/// Expand a domain-spec that uses at most `%{d}`.
pub(super) fn expand_static(spec: &MacroString, domain: &str) -> String {
    spec.expand(|letter| {
        if letter == 'd' {
            domain.to_string()
        } else {
            String::new()
        }
    })
}

pub(super) fn network_of(record: &RData, cidr: DualCidr) -> Option<IpNet> {
    match address_of(record)? {
        IpAddr::V4(a) => Ipv4Net::new(a, cidr.v4).ok().map(|n| IpNet::V4(n.trunc())),
        IpAddr::V6(a) => Ipv6Net::new(a, cidr.v6).ok().map(|n| IpNet::V6(n.trunc())),
    }
}

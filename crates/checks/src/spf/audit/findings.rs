//! The findings about the walked tree: syntax with carets, lookup and void
//! limits, `all`, `ptr`, `exists`, `redirect`, includes that do not
//! exist or loop, and the senders authorised.

use super::*;
use crate::rule;

/// A record with diagnostics, once per finding; the diagnostics point into it.
#[derive(Debug, Serialize)]
pub(super) struct RecordText<'d> {
    pub(super) domain: &'d str,
    pub(super) path: &'d str,
    pub(super) record: &'d str,
}

impl Tree<'_, '_> {
    pub(super) fn findings(&self, domain: &str) -> Vec<RawFinding> {
        let failed: Vec<FailedLookup> = self
            .failures
            .iter()
            .map(|((name, rtype), status)| FailedLookup {
                name: name.clone(),
                rtype: *rtype,
                status: status.clone(),
            })
            .collect();
        let top_text = self
            .nodes
            .first()
            .map(|n| n.parsed.record.text.clone())
            .unwrap_or_default();
        vec![
            self.syntax(domain, Level::Error),
            self.syntax(domain, Level::Warning),
            self.redirect_with_all(domain),
            self.lookup_limit(domain),
            self.void_limit(domain),
            self.mx_limit(domain),
            self.include_missing(domain),
            self.loop_finding(domain),
            self.ptr_used(domain),
            self.permissive_all(domain, &top_text),
            self.softfail_all(domain, &top_text),
            self.no_all(domain, &top_text),
            self.unevaluable_macro(domain),
            self.authorised_senders(domain),
            lookup_failed(domain, &failed),
        ]
    }

    /// The diagnostics of every record at `level` (bounded per record),
    /// and the records they point into.
    pub(super) fn located(&self, level: Level) -> (Bounded<'_, Diagnostic>, Vec<RecordText<'_>>) {
        let mut found = Bounded::new();
        let mut records = Vec::new();
        for n in &self.nodes {
            let mut diags = (n.parsed.diagnostics.iter())
                .filter(|d| d.level == level && d.code != "redirect-with-all")
                .peekable();
            if diags.peek().is_none() {
                continue;
            }
            let text = &n.parsed.record.text;
            found.add(diags, text, Some((&n.domain, &n.path)));
            records.push(RecordText {
                domain: &n.domain,
                path: &n.path,
                record: text,
            });
        }
        (found, records)
    }

    /// RFC 7208 §4.6: "If there are any syntax errors anywhere in the
    /// record, check_host() returns immediately with the result
    /// 'permerror'". Warnings: legal but not what the publisher meant.
    pub(super) fn syntax(&self, domain: &str, level: Level) -> RawFinding {
        let (id, what) = match level {
            Level::Error => (rule::SPF_SYNTAX, "syntax error"),
            Level::Warning => (rule::SPF_SYNTAX_WARNING, "warning"),
        };
        let (found, records) = self.located(level);
        if found.is_empty() {
            return RawFinding::new(
                id,
                Outcome::Pass,
                domain,
                format!("No SPF {what}s in the {} record(s) evaluated.", self.nodes.len()),
            );
        }
        let consequence = if level == Level::Error {
            " Receivers return permerror when they reach these records."
        } else {
            ""
        };
        let f = RawFinding::new(
            id,
            Outcome::Fail,
            domain,
            format!("{} SPF {what}(s).{consequence}\n{}", found.total(), found.message()),
        );
        f.diagnostics("diagnostics", &found).evidence("records", &records)
    }

    pub(super) fn redirect_with_all(&self, domain: &str) -> RawFinding {
        let hits: Vec<TermRef> = self
            .nodes
            .iter()
            .flat_map(|n| {
                n.parsed
                    .diagnostics
                    .iter()
                    .filter(|d| d.code == "redirect-with-all")
                    .map(|d| TermRef {
                        path: n.path.clone(),
                        term: n
                            .parsed
                            .record
                            .text
                            .get(d.span.start..d.span.end)
                            .unwrap_or_default()
                            .to_string(),
                    })
            })
            .collect();
        if hits.is_empty() {
            return RawFinding::new(
                rule::SPF_REDIRECT_WITH_ALL,
                Outcome::Pass,
                domain,
                "No record combines \"redirect=\" with \"all\".",
            );
        }
        RawFinding::new(
            rule::SPF_REDIRECT_WITH_ALL,
            Outcome::Fail,
            domain,
            format!(
                "{} record(s) have both \"all\" and \"redirect=\"; the redirect is ignored (RFC 7208 §6.1).",
                hits.len()
            ),
        )
        .evidence("terms", &hits)
        .remediation(
            "Remove the \"redirect=\" modifier, or remove \"all\" if the redirect target's policy is the one you want.",
        )
    }

    /// RFC 7208 §4.6.4: "SPF implementations MUST limit the total number of
    /// those terms to 10 during SPF evaluation, to avoid unreasonable load
    /// on the DNS. If this limit is exceeded, the implementation MUST
    /// return 'permerror'."
    pub(super) fn lookup_limit(&self, domain: &str) -> RawFinding {
        let count = self.dns_terms.len();
        let evidence = |f: RawFinding| {
            f.evidence("dns_lookups", count)
                .evidence("limit", MAX_DNS_TERMS)
                .evidence("terms", &self.dns_terms)
                .evidence("lower_bound", self.lower_bound)
        };
        if count > MAX_DNS_TERMS as usize {
            return evidence(RawFinding::new(
                rule::SPF_LOOKUP_LIMIT,
                Outcome::Fail,
                domain,
                format!("Evaluating the SPF policy takes {count} DNS-querying terms, over the limit of {MAX_DNS_TERMS}: receivers return permerror for mail that matches nothing before the limit."),
            ))
            .remediation(format!(
                "Remove includes of services you no longer use, replace a/mx/ptr with ip4:/ip6: networks, or move senders to subdomains. Terms counted: {}.",
                self.dns_terms.iter().map(|t| format!("{} → {}", t.path, t.term)).collect::<Vec<_>>().join("; ")
            ));
        }
        if self.incomplete() || self.lower_bound {
            return evidence(RawFinding::new(
                rule::SPF_LOOKUP_LIMIT,
                Outcome::Indeterminate,
                domain,
                format!(
                    "At least {count} DNS-querying terms; part of the tree could not be read or depends on the message."
                ),
            ));
        }
        evidence(RawFinding::new(
            rule::SPF_LOOKUP_LIMIT,
            Outcome::Pass,
            domain,
            format!("Evaluating the SPF policy takes {count} DNS-querying terms (limit {MAX_DNS_TERMS})."),
        ))
    }

    /// RFC 7208 §4.6.4: "SPF implementations SHOULD limit 'void lookups' to
    /// two ... Exceeding the limit produces a 'permerror' result."
    pub(super) fn void_limit(&self, domain: &str) -> RawFinding {
        let count = self.voids.len();
        let f = if count > MAX_VOID_LOOKUPS as usize {
            RawFinding::new(
                rule::SPF_VOID_LOOKUP_LIMIT,
                Outcome::Fail,
                domain,
                format!("{count} terms look up names that do not exist (void lookups, counted for an IPv4 client), over the limit of {MAX_VOID_LOOKUPS}: receivers return permerror."),
            )
            .remediation("Remove the terms whose names no longer exist (see the evidence).")
        } else if self.incomplete() {
            RawFinding::new(
                rule::SPF_VOID_LOOKUP_LIMIT,
                Outcome::Indeterminate,
                domain,
                format!("At least {count} void lookup(s); some lookups failed."),
            )
        } else {
            RawFinding::new(
                rule::SPF_VOID_LOOKUP_LIMIT,
                Outcome::Pass,
                domain,
                format!("{count} void lookup(s) (limit {MAX_VOID_LOOKUPS})."),
            )
        };
        f.evidence("void_lookups", &self.voids)
            .evidence("limit", MAX_VOID_LOOKUPS)
    }

    /// RFC 7208 §4.6.4: "the evaluation of each 'MX' record MUST NOT result
    /// in querying more than 10 address records ... If this limit is
    /// exceeded, the 'mx' mechanism MUST produce a 'permerror' result."
    pub(super) fn mx_limit(&self, domain: &str) -> RawFinding {
        if !self.mx_over.is_empty() {
            return RawFinding::new(
                rule::SPF_MX_LIMIT,
                Outcome::Fail,
                domain,
                format!(
                    "An \"mx\" term names a domain with more than {MAX_NAMES} MX records: receivers return permerror."
                ),
            )
            .evidence("mx_over_limit", &self.mx_over)
            .remediation("Replace the \"mx\" term with ip4:/ip6: networks of the hosts that send mail.");
        }
        if self.mx_terms == 0 {
            return RawFinding::new(
                rule::SPF_MX_LIMIT,
                Outcome::NotApplicable,
                domain,
                "The SPF tree has no \"mx\" term.",
            );
        }
        if self.failures.keys().any(|(_, t)| *t == RType::Mx) {
            return RawFinding::new(
                rule::SPF_MX_LIMIT,
                Outcome::Indeterminate,
                domain,
                "An MX lookup of an \"mx\" term failed.",
            );
        }
        RawFinding::new(
            rule::SPF_MX_LIMIT,
            Outcome::Pass,
            domain,
            format!("Every \"mx\" term looks up at most {MAX_NAMES} MX names."),
        )
    }

    /// RFC 7208 §5.2: an include whose recursive check_host() gives none
    /// returns permerror; §6.1: for redirect, "if no SPF record is found, or
    /// if the <target-name> is malformed, the result is a 'permerror' rather
    /// than 'none'."
    pub(super) fn include_missing(&self, domain: &str) -> RawFinding {
        if !self.missing.is_empty() {
            let list: Vec<String> = self
                .missing
                .iter()
                .map(|m| format!("{} ({})", m.target, m.reason))
                .collect();
            return RawFinding::new(
                rule::SPF_INCLUDE_MISSING,
                Outcome::Fail,
                domain,
                format!(
                    "Include or redirect targets without exactly one SPF record (receivers return permerror): {}.",
                    list.join(", ")
                ),
            )
            .evidence("targets", &self.missing)
            .remediation("Remove the include/redirect, or correct the target name to the one the provider documents.");
        }
        if self.include_like == 0 {
            return RawFinding::new(
                rule::SPF_INCLUDE_MISSING,
                Outcome::NotApplicable,
                domain,
                "The SPF tree has no include or redirect.",
            );
        }
        if self.failures.keys().any(|(_, t)| *t == RType::Txt) {
            return RawFinding::new(
                rule::SPF_INCLUDE_MISSING,
                Outcome::Indeterminate,
                domain,
                "The TXT lookup of an include or redirect target failed.",
            );
        }
        RawFinding::new(
            rule::SPF_INCLUDE_MISSING,
            Outcome::Pass,
            domain,
            "Every include and redirect target publishes one SPF record.",
        )
    }

    pub(super) fn loop_finding(&self, domain: &str) -> RawFinding {
        if self.loops.is_empty() {
            return RawFinding::new(
                rule::SPF_LOOP,
                Outcome::Pass,
                domain,
                "No include or redirect loops back to a record on its own path.",
            );
        }
        let list: Vec<String> = self.loops.iter().map(|l| format!("{} → {}", l.path, l.term)).collect();
        RawFinding::new(
            rule::SPF_LOOP,
            Outcome::Fail,
            domain,
            format!(
                "The SPF tree loops (receivers run out of lookups and return permerror): {}.",
                list.join("; ")
            ),
        )
        .evidence("loops", &self.loops)
        .remediation("Remove the include or redirect that points back to a record already on the path.")
    }

    /// RFC 7208 §5.5: "This mechanism SHOULD NOT be published."
    pub(super) fn ptr_used(&self, domain: &str) -> RawFinding {
        if self.ptr_terms.is_empty() {
            return RawFinding::new(
                rule::SPF_PTR_USED,
                Outcome::Pass,
                domain,
                "No \"ptr\" mechanism is used.",
            );
        }
        RawFinding::new(
            rule::SPF_PTR_USED,
            Outcome::Fail,
            domain,
            format!(
                "{} \"ptr\" mechanism(s) are used; it is slow, unreliable, and receivers consider at most {MAX_NAMES} reverse names per client (RFC 7208 §4.6.4, §5.5).",
                self.ptr_terms.len()
            ),
        )
        .evidence("terms", &self.ptr_terms)
        .remediation("Replace \"ptr\" with ip4:/ip6: networks (or a:/mx) of the sending hosts.")
    }

    /// The fix for an open policy: the top record's ending, and each open
    /// term where it actually is (often inside an include).
    pub(super) fn permissive_remediation(&self, domain: &str, top: &str, weak_ending: bool) -> String {
        let mut fixes = Vec::new();
        if weak_ending {
            fixes.push(format!("{domain}. IN TXT \"{}\"", with_all(top, "-all")));
        }
        for open in &self.open {
            fixes.push(format!(
                "remove \"{}\" from the record reached by {} (or drop the include that leads there)",
                open.term, open.path
            ));
        }
        fixes.join("; ")
    }

    /// Best practice (M3AAWG, RFC 7208 §8.1): a policy should end in
    /// `-all` or `~all`; `+all` authorises the whole Internet and `?all`
    /// asserts nothing.
    pub(super) fn permissive_all(&self, domain: &str, top: &str) -> RawFinding {
        let weak = matches!(self.ending, Ending::All(Qualifier::Pass | Qualifier::Neutral));
        if weak || !self.open.is_empty() {
            let mut why = Vec::new();
            if let Ending::All(q) = self.ending
                && weak
            {
                why.push(format!("the policy ends in \"{}all\"", q.symbol()));
            }
            why.extend(
                self.open
                    .iter()
                    .map(|o| format!("{} → {} matches every client", o.path, o.term)),
            );
            return RawFinding::new(
                rule::SPF_PERMISSIVE_ALL,
                Outcome::Fail,
                domain,
                format!("The SPF policy lets any host send as {domain}: {}.", why.join("; ")),
            )
            .evidence("open_terms", &self.open)
            .remediation(self.permissive_remediation(domain, top, weak));
        }
        match self.ending {
            Ending::All(_) => RawFinding::new(
                rule::SPF_PERMISSIVE_ALL,
                Outcome::Pass,
                domain,
                "The policy does not authorise every host.",
            ),
            Ending::Default => RawFinding::new(
                rule::SPF_PERMISSIVE_ALL,
                Outcome::NotApplicable,
                domain,
                "The policy has no \"all\" (see spf.no-all).",
            ),
            Ending::Unknown => self.unknown_ending(rule::SPF_PERMISSIVE_ALL, domain),
        }
    }

    pub(super) fn softfail_all(&self, domain: &str, top: &str) -> RawFinding {
        match self.ending {
            Ending::All(Qualifier::SoftFail) => RawFinding::new(
                rule::SPF_SOFTFAIL_ALL,
                Outcome::Fail,
                domain,
                "The policy ends in \"~all\": mail from unlisted hosts is marked suspicious, not rejected.",
            )
            .remediation(format!(
                "Once DMARC reports show all legitimate mail passes SPF: {domain}. IN TXT \"{}\"",
                with_all(top, "-all")
            )),
            Ending::All(Qualifier::Fail) => RawFinding::new(
                rule::SPF_SOFTFAIL_ALL,
                Outcome::Pass,
                domain,
                "The policy ends in \"-all\": unlisted hosts fail.",
            ),
            Ending::All(_) | Ending::Default => RawFinding::new(
                rule::SPF_SOFTFAIL_ALL,
                Outcome::NotApplicable,
                domain,
                "The policy does not end in \"~all\" or \"-all\" (see spf.permissive-all, spf.no-all).",
            ),
            Ending::Unknown => self.unknown_ending(rule::SPF_SOFTFAIL_ALL, domain),
        }
    }

    /// RFC 7208 §4.7: "If none of the mechanisms match and there is no
    /// 'redirect' modifier, then the check_host() returns a result of
    /// 'neutral', just as if '?all' were specified as the last directive."
    pub(super) fn no_all(&self, domain: &str, top: &str) -> RawFinding {
        match self.ending {
            Ending::Default => RawFinding::new(
                rule::SPF_NO_ALL,
                Outcome::Fail,
                domain,
                "The policy has no \"all\" and no \"redirect=\": unlisted hosts get \"neutral\", so anyone may send.",
            )
            .remediation(format!("{domain}. IN TXT \"{}\"", with_all(top, "-all"))),
            Ending::All(_) => RawFinding::new(
                rule::SPF_NO_ALL,
                Outcome::Pass,
                domain,
                "The policy ends with an \"all\" mechanism.",
            ),
            Ending::Unknown => self.unknown_ending(rule::SPF_NO_ALL, domain),
        }
    }

    pub(super) fn unknown_ending(&self, id: &str, domain: &str) -> RawFinding {
        if self.incomplete() || self.lower_bound {
            RawFinding::new(
                id,
                Outcome::Indeterminate,
                domain,
                "Could not follow the policy to its end (a lookup failed or a target depends on the message).",
            )
        } else {
            RawFinding::new(
                id,
                Outcome::NotApplicable,
                domain,
                "The policy is broken before its end (see the other SPF findings).",
            )
        }
    }

    /// RFC 7208 §7.3: macros such as `%{i}` and `%{l}` take their values
    /// from the connection and the message, which an audit does not have.
    pub(super) fn unevaluable_macro(&self, domain: &str) -> RawFinding {
        if self.unevaluable.is_empty() {
            return RawFinding::new(
                rule::SPF_UNEVALUABLE_MACRO,
                Outcome::Pass,
                domain,
                "Every term can be evaluated without a message.",
            );
        }
        RawFinding::new(
            rule::SPF_UNEVALUABLE_MACRO,
            Outcome::Fail,
            domain,
            format!(
                "{} term(s) depend on the message or the client (macros other than %{{d}}); they were not expanded, so what they authorise cannot be listed{}.",
                self.unevaluable.len(),
                if self.lower_bound { " and the lookup counts are lower bounds" } else { "" }
            ),
        )
        .evidence("terms", &self.unevaluable)
    }

    pub(super) fn authorised_senders(&self, domain: &str) -> RawFinding {
        let v4 = self
            .senders
            .iter()
            .filter(|s| matches!(s.network, IpNet::V4(_)))
            .count();
        let outcome = if self.incomplete() {
            Outcome::Indeterminate
        } else {
            Outcome::Pass
        };
        let mut message = format!(
            "The SPF policy authorises {} network(s) ({v4} IPv4, {} IPv6)",
            self.senders.len(),
            self.senders.len() - v4
        );
        if !self.dynamic.is_empty() {
            message.push_str(&format!(
                ", plus {} term(s) that depend on the client or message",
                self.dynamic.len()
            ));
        }
        if self.incomplete() {
            message.push_str("; some lookups failed, so the list may be incomplete");
        }
        message.push('.');
        RawFinding::new(rule::SPF_AUTHORISED_SENDERS, outcome, domain, message)
            .evidence("senders", &self.senders)
            .evidence("dynamic_terms", &self.dynamic)
            .evidence(
                "records",
                self.nodes
                    .iter()
                    .map(|n| (n.path.as_str(), &n.parsed.record))
                    .collect::<Vec<_>>(),
            )
    }
}

//! What the legacy-TLS probes saw at one address: whether the server
//! still accepts SSL 3.0, TLS 1.0 or 1.1, RC4 or 3DES when a client offers
//! nothing better (`mailwarden_model::LegacyTls`).
//!
//! RFC 8996 §4: "TLS 1.0 MUST NOT be used. Negotiation of TLS 1.0 from
//! any version of TLS MUST NOT be permitted." (§5 says the same of TLS
//! 1.1.) RFC 7568 §3: "SSLv3 MUST NOT be used. Negotiation of SSLv3 from
//! any version of TLS MUST NOT be permitted." RFC 7465 §2: "TLS servers
//! MUST NOT select an RC4 cipher suite when a TLS client sends such a
//! cipher suite in the ClientHello message." RFC 9325 §4.1:
//! "Implementations SHOULD NOT negotiate cipher suites that use
//! algorithms offering less than 128 bits of security" (3DES offers 112).
//!
//! Judged only when STARTTLS was accepted (the probes are made then);
//! evidence collected before the probes existed has no result, and every
//! rule is indeterminate (not collected), never a pass.

use mailwarden_model::probe::{HelloOutcome, LegacyHello, LegacyTls};
use mailwarden_model::{Outcome, RawFinding};

use super::{Address, Reached};
use crate::rule;

impl Address<'_> {
    /// The legacy results, or the finding of rule `id` when there are
    /// none to judge.
    fn legacy(&self, id: &str) -> Result<&LegacyTls, Box<RawFinding>> {
        if let Some(f) = self.short_of(id, Reached::Handshake) {
            return Err(Box::new(f));
        }
        self.probe.legacy.as_ref().ok_or_else(|| {
            Box::new(self.finding(
                id,
                Outcome::Indeterminate,
                "Not collected: the evidence holds no legacy-TLS probe of this address (recorded by a version of mailwarden without it).",
            )
            .evidence("status", "not-collected"))
        })
    }

    /// The finding for an answer that says neither accepted nor refused.
    fn unknown(&self, id: &str, what: &str, hello: &LegacyHello) -> RawFinding {
        let detail = hello.detail.as_deref().unwrap_or("no answer recorded");
        self.finding(
            id,
            Outcome::Indeterminate,
            format!("Could not tell whether {} accepts {what}: {detail}.", self.subject),
        )
        .evidence("detail", detail)
    }

    /// `smtp.legacy-protocol`: a ClientHello offering SSL 3.0 to TLS 1.1.
    pub(super) fn legacy_protocol(&self) -> RawFinding {
        const ID: &str = rule::SMTP_LEGACY_PROTOCOL;
        let legacy = match self.legacy(ID) {
            Ok(l) => l,
            Err(f) => return *f,
        };
        let hello = &legacy.protocols;
        match hello.outcome {
            HelloOutcome::Accepted => {
                let version = hello.version.as_deref().unwrap_or("?");
                self.finding(
                    ID,
                    Outcome::Fail,
                    format!(
                        "{} accepts {version} (with {}) from a client that offers nothing newer than TLS 1.1; RFC 8996 and RFC 7568 forbid negotiating SSL 3.0, TLS 1.0 and TLS 1.1.",
                        self.subject,
                        hello.cipher_suite.as_deref().unwrap_or("?")
                    ),
                )
                .evidence("version", version)
                .evidence("cipher_suite", &hello.cipher_suite)
            }
            HelloOutcome::Refused => self
                .finding(
                    ID,
                    Outcome::Pass,
                    format!(
                        "A ClientHello offering only SSL 3.0 to TLS 1.1 was refused ({}).",
                        refusal(hello)
                    ),
                )
                .evidence("alert", &hello.alert),
            HelloOutcome::Unknown => self.unknown(ID, "SSL 3.0, TLS 1.0 or TLS 1.1", hello),
        }
    }

    /// `smtp.ssl3`. A refusal of SSL 3.0..TLS 1.1 rules SSL 3.0 out: RFC
    /// 5246 Appendix E.1, a server willing to talk to old clients
    /// "will proceed as appropriate for the highest version supported by
    /// the server that is not greater than ClientHello.client_version".
    /// TLS 1.0 or 1.1 accepted leaves it open: the SSL 3.0 hello decides.
    pub(super) fn ssl3(&self) -> RawFinding {
        const ID: &str = rule::SMTP_SSL3;
        let legacy = match self.legacy(ID) {
            Ok(l) => l,
            Err(f) => return *f,
        };
        let protocols = &legacy.protocols;
        let hello = match protocols.outcome {
            HelloOutcome::Unknown => return self.unknown(ID, "SSL 3.0", protocols),
            HelloOutcome::Refused => {
                return self.finding(
                    ID,
                    Outcome::Pass,
                    format!(
                        "A ClientHello offering SSL 3.0 to TLS 1.1 was refused ({}): a server that supported SSL 3.0 would have negotiated it (RFC 5246 Appendix E.1).",
                        refusal(protocols)
                    ),
                );
            }
            HelloOutcome::Accepted if protocols.version.as_deref() == Some("SSLv3") => protocols,
            HelloOutcome::Accepted => match &legacy.ssl3 {
                Some(hello) => hello,
                None => {
                    return self.finding(
                        ID,
                        Outcome::Indeterminate,
                        "The server accepts TLS 1.0 or 1.1 (see smtp.legacy-protocol); SSL 3.0 alone was not offered, so whether it accepts SSL 3.0 too is not known.",
                    );
                }
            },
        };
        match hello.outcome {
            HelloOutcome::Accepted => self
                .finding(
                    ID,
                    Outcome::Fail,
                    format!(
                        "{} accepts SSL 3.0 (with {}): RFC 7568 §3, \"SSLv3 MUST NOT be used\"; it is broken by POODLE (CVE-2014-3566).",
                        self.subject,
                        hello.cipher_suite.as_deref().unwrap_or("?")
                    ),
                )
                .evidence("cipher_suite", &hello.cipher_suite),
            HelloOutcome::Refused => self.finding(
                ID,
                Outcome::Pass,
                format!("A ClientHello offering only SSL 3.0 was refused ({}).", refusal(hello)),
            ),
            HelloOutcome::Unknown => self.unknown(ID, "SSL 3.0", hello),
        }
    }

    /// `smtp.legacy-cipher`: a ClientHello offering only RC4 and 3DES, and
    /// the suite chosen from the protocols hello (which offers them last).
    pub(super) fn legacy_cipher(&self) -> RawFinding {
        const ID: &str = rule::SMTP_LEGACY_CIPHER;
        let legacy = match self.legacy(ID) {
            Ok(l) => l,
            Err(f) => return *f,
        };
        let chosen = [&legacy.ciphers, &legacy.protocols]
            .into_iter()
            .find(|h| h.outcome == HelloOutcome::Accepted && h.cipher_suite.as_deref().is_some_and(rc4_or_3des));
        if let Some(hello) = chosen {
            let suite = hello.cipher_suite.as_deref().unwrap_or("?");
            let why = if suite.contains("RC4") {
                "RC4 is prohibited by RFC 7465"
            } else {
                "3DES is a 64-bit block cipher with 112-bit security (Sweet32, CVE-2016-2183; RFC 9325 §4.1)"
            };
            return self
                .finding(
                    ID,
                    Outcome::Fail,
                    format!(
                        "{} accepts {suite} over {}: {why}.",
                        self.subject,
                        hello.version.as_deref().unwrap_or("?")
                    ),
                )
                .evidence("cipher_suite", suite)
                .evidence("version", &hello.version);
        }
        let hello = &legacy.ciphers;
        match hello.outcome {
            HelloOutcome::Refused => self
                .finding(
                    ID,
                    Outcome::Pass,
                    format!(
                        "A ClientHello offering only RC4 and 3DES suites was refused ({}).",
                        refusal(hello)
                    ),
                )
                .evidence("alert", &hello.alert),
            // Accepted with another suite cannot be: the probe reads it as unknown.
            HelloOutcome::Accepted | HelloOutcome::Unknown => self.unknown(ID, "RC4 or 3DES", hello),
        }
    }
}

fn rc4_or_3des(suite: &str) -> bool {
    suite.contains("_RC4_") || suite.contains("_3DES_")
}

/// How a refusal looked: the alert, or the close.
fn refusal(hello: &LegacyHello) -> String {
    match (&hello.alert, &hello.detail) {
        (Some(alert), _) => format!("alert {alert}"),
        (None, Some(detail)) => detail.clone(),
        (None, None) => "refused".into(),
    }
}

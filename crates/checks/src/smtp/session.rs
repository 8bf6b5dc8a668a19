//! The SMTP and TLS conversation with one address: whether it could be
//! probed, port 25, STARTTLS, the handshake, what was negotiated, and
//! bytes injected before the handshake.

use mailwarden_model::{Outcome, RawFinding, SmtpStatus};

use super::{Address, RULES, Reached, cipher};
use crate::rule;

impl Address<'_> {
    /// `smtp.probed`: the probe was made (it says something about the
    /// server, even if only that nothing answered).
    pub(super) fn probed(&self) -> RawFinding {
        self.finding(
            rule::SMTP_PROBED,
            Outcome::Pass,
            format!(
                "Probed from the scanner on port {}: {}.",
                self.port(),
                self.probe.status.as_str()
            ),
        )
        .evidence("status", self.probe.status)
    }

    /// The probe could not be made: `smtp.probed` says why, and every
    /// other rule is indeterminate. A refused target is a finding of its
    /// own, never a crash and never a failure of the server.
    pub(super) fn not_probed(&self) -> Vec<RawFinding> {
        let why = self.why_not_probed();
        let mut probed = self
            .finding(rule::SMTP_PROBED, Outcome::Indeterminate, why.clone())
            .evidence("status", self.probe.status);
        if let Some(detail) = &self.probe.detail {
            probed = probed.evidence("detail", detail);
        }
        let rest = RULES[1..].iter().map(|id| {
            self.finding(
                id,
                Outcome::Indeterminate,
                format!("Not probed (see smtp.probed): {why}"),
            )
            .evidence("status", self.probe.status)
        });
        std::iter::once(probed).chain(rest).collect()
    }

    fn why_not_probed(&self) -> String {
        let detail = self.probe.detail.as_deref();
        match self.probe.status {
            SmtpStatus::EgressRefused => format!(
                "{} is not a global address, and mailwarden does not connect to loopback, private, link-local or other non-global addresses unless --allow-private-targets is passed.",
                self.address
            ),
            SmtpStatus::NoRoute => format!(
                "the scanner has no route to {} ({}); this says nothing about the server (e.g. no IPv6 connectivity where the scan ran).",
                self.address,
                detail.unwrap_or("network unreachable")
            ),
            SmtpStatus::NotProbed => format!(
                "{}.",
                detail
                    .unwrap_or("SMTP probes were switched off (--no-smtp)")
                    .trim_end_matches('.')
            ),
            SmtpStatus::BudgetExhausted => "the domain's time budget ran out before this address was probed.".into(),
            _ => "the evidence holds no probe of this address (collected without SMTP probes, or by an older version)."
                .into(),
        }
    }

    /// `smtp.reachable`: something accepted the TCP connection on port 25.
    pub(super) fn reachable(&self) -> RawFinding {
        const ID: &str = rule::SMTP_REACHABLE;
        if self.probe.status != SmtpStatus::Unreachable {
            return self.finding(
                ID,
                Outcome::Pass,
                format!("Port {} accepted the connection.", self.port()),
            );
        }
        self.finding(
            ID,
            Outcome::Fail,
            format!(
                "Nothing accepted a connection to port {} of {} from the scanner's network. Outbound port 25 is often blocked (home, office and cloud networks): before concluding that the server is down, check from a network that can send mail.",
                self.port(),
                self.address
            ),
        )
        .evidence("detail", self.probe.describe())
        .remediation(format!(
            "Make {} accept SMTP on port 25 at {} (service running, firewall open to the internet), or remove the address from {}'s A/AAAA records so that senders stop trying it.",
            self.host, self.address, self.host
        ))
    }

    /// `smtp.starttls`. RFC 3207 §3: "The STARTTLS keyword is used to tell
    /// the SMTP client that the SMTP server is currently able to negotiate
    /// the use of TLS." Without it, senders deliver in the clear.
    pub(super) fn starttls(&self) -> RawFinding {
        const ID: &str = rule::SMTP_STARTTLS;
        if let Some(f) = self.short_of(ID, Reached::Ehlo) {
            return f;
        }
        if self.reached() > Reached::Ehlo {
            return self.finding(ID, Outcome::Pass, "The EHLO reply advertises STARTTLS.");
        }
        self.finding(
            ID,
            Outcome::Fail,
            format!(
                "The EHLO reply of {} does not advertise STARTTLS: mail to it travels in the clear, readable and alterable on the way.",
                self.subject
            ),
        )
        .evidence("ehlo_keywords", &self.probe.ehlo_keywords)
        .evidence("greeting", &self.probe.greeting)
    }

    /// `smtp.starttls-refused`. RFC 3207 §4: after `STARTTLS` the server
    /// answers "220 Ready to start TLS", "501 Syntax error (no parameters
    /// allowed)" or "454 TLS not available due to temporary reason"; a
    /// server that advertises STARTTLS and then refuses it leaves senders
    /// in plaintext.
    pub(super) fn starttls_refused(&self) -> RawFinding {
        const ID: &str = rule::SMTP_STARTTLS_REFUSED;
        if let Some(f) = self.short_of(ID, Reached::StarttlsCommand) {
            return f;
        }
        if self.reached() > Reached::StarttlsCommand {
            return self.finding(ID, Outcome::Pass, "STARTTLS was accepted (220).");
        }
        let reply = self.probe.reply.as_deref().unwrap_or("(no reply recorded)");
        self.finding(
            ID,
            Outcome::Fail,
            format!(
                "{} advertises STARTTLS but answered the command with `{reply}`: senders fall back to plaintext.",
                self.subject
            ),
        )
        .evidence("reply", reply)
    }

    /// `smtp.handshake`: STARTTLS was accepted and the TLS handshake must
    /// then complete, or senders fall back to plaintext (or defer).
    pub(super) fn handshake(&self) -> RawFinding {
        const ID: &str = rule::SMTP_HANDSHAKE;
        if let Some(f) = self.short_of(ID, Reached::Handshake) {
            return f;
        }
        if self.reached() > Reached::Handshake {
            return self.finding(ID, Outcome::Pass, "The TLS handshake completed.");
        }
        let message = if self.below_tls12() {
            format!(
                "The TLS handshake with {} failed: the server offers only TLS below 1.2 (SSL 3.0, TLS 1.0 or 1.1). The probe speaks only TLS 1.2 and 1.3, as do senders that follow RFC 8996, which deprecates TLS 1.0 and 1.1.",
                self.subject
            )
        } else {
            format!(
                "The TLS handshake with {} failed: {}.",
                self.subject,
                self.probe.describe()
            )
        };
        self.finding(ID, Outcome::Fail, message)
            .evidence("alert", &self.probe.alert)
            .evidence("detail", &self.probe.detail)
    }

    /// A failure that means "no protocol version in common": the
    /// server's `protocol_version` alert, or rustls' own verdict on a
    /// ServerHello below TLS 1.2 (`ServerDoesNotSupportTls12Or13`).
    /// rustls speaks only TLS 1.2 and 1.3, so this is what it means.
    fn below_tls12(&self) -> bool {
        let detail = self.probe.detail.as_deref().unwrap_or("").to_ascii_lowercase();
        self.probe.alert.as_deref() == Some("ProtocolVersion")
            || detail.contains("doesnotsupporttls12or13")
            || detail.contains("protocol version")
    }

    /// `smtp.tls-version`: TLS 1.3 (RFC 8446) is what a current server
    /// offers; TLS 1.2 still protects, so its absence is low.
    pub(super) fn tls_version(&self) -> RawFinding {
        const ID: &str = rule::SMTP_TLS_VERSION;
        if let Some(f) = self.short_of(ID, Reached::Session) {
            return f;
        }
        let version = self.probe.tls.as_ref().map_or("", |t| t.version.as_str());
        let untested = "whether the server also accepts SSL 3.0, TLS 1.0 or 1.1 is judged by smtp.legacy-protocol";
        match version {
            "TLSv1.3" => self.finding(ID, Outcome::Pass, format!("TLS 1.3 negotiated; {untested}.")),
            "TLSv1.2" => self
                .finding(
                    ID,
                    Outcome::Fail,
                    format!(
                        "TLS 1.2 negotiated: TLS 1.3 not offered by {}; {untested}.",
                        self.subject
                    ),
                )
                .evidence("version", version),
            other => self
                .finding(
                    ID,
                    Outcome::Indeterminate,
                    format!("Unrecognised TLS version {other:?} recorded."),
                )
                .evidence("version", other),
        }
    }

    /// `smtp.cipher`: the negotiated suite, judged by [`cipher::weaknesses`].
    pub(super) fn cipher(&self) -> RawFinding {
        const ID: &str = rule::SMTP_CIPHER;
        if let Some(f) = self.short_of(ID, Reached::Session) {
            return f;
        }
        let suite = self.probe.tls.as_ref().map_or("", |t| t.cipher_suite.as_str());
        match cipher::weaknesses(suite) {
            Err(why) => self.finding(ID, Outcome::Indeterminate, format!("{why}.")),
            Ok(weak) if weak.is_empty() => self
                .finding(
                    ID,
                    Outcome::Pass,
                    format!("{suite} negotiated: forward-secret and authenticated encryption. Only the negotiated suite is seen, not every suite the server accepts."),
                )
                .evidence("cipher_suite", suite),
            Ok(weak) => self
                .finding(
                    ID,
                    Outcome::Fail,
                    format!("{} negotiated the weak suite {suite}: {}.", self.subject, weak.join("; ")),
                )
                .evidence("cipher_suite", suite)
                .evidence("weaknesses", weak),
        }
    }

    /// `smtp.injection`. RFC 3207 §6: "Before the TLS handshake has begun,
    /// any protocol interactions are performed in the clear and may be
    /// modified by an active attacker. For this reason, clients and
    /// servers MUST discard any knowledge obtained prior to the start of
    /// the TLS handshake upon completion of the TLS handshake." Server
    /// bytes between the `220` to `STARTTLS` and the handshake are what
    /// a STARTTLS injection attack (CVE-2011-0411 and its client-side
    /// relatives) plants for clients that keep them.
    pub(super) fn injection(&self) -> RawFinding {
        const ID: &str = rule::SMTP_INJECTION;
        if let Some(bytes) = &self.probe.pre_handshake_bytes {
            return self
                .finding(
                    ID,
                    Outcome::Fail,
                    format!(
                        "Plaintext arrived from {} after its 220 reply to STARTTLS and before the TLS handshake: `{bytes}`. A client that keeps such bytes reads them as replies inside the encrypted session (STARTTLS injection, CVE-2011-0411 family); either the server or something on the path sent them.",
                        self.subject
                    ),
                )
                .evidence("pre_handshake_bytes", bytes);
        }
        if let Some(f) = self.short_of(ID, Reached::Session) {
            return f;
        }
        self.finding(
            ID,
            Outcome::Pass,
            "Nothing arrived between the 220 reply to STARTTLS and the handshake.",
        )
    }
}

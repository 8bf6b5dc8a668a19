//! Test helpers: build transcripts by hand.

use mailwarden_model::probe::{Der, HelloOutcome, LegacyHello, LegacyTls};
use mailwarden_model::{
    Answer, DnsView, HttpsFetch, HttpsStatus, Outcome, Probes, Proof, QueryKey, RData, RType, RawFinding, SmtpProbe,
    SmtpStatus, SmtpTarget, Status, TlsSession, Transcript,
};

/// The fixpoint of `judge` over DNS answers from `answer`, without I/O or
/// budgets (the async one with budgets is `mailwarden-engine`'s): judge,
/// answer what it asked, repeat until it asks nothing. Panics after 40
/// rounds, the engine's default cap. Returns the transcript and the
/// judge's result on it.
pub fn settle<R>(answer: impl Fn(&QueryKey) -> Answer, judge: impl Fn(&DnsView<'_>) -> R) -> (Transcript, R) {
    let mut transcript = Transcript::default();
    for _ in 0..40 {
        let view = DnsView::new(&transcript);
        let result = judge(&view);
        let missing = view.into_missing();
        if missing.is_empty() {
            return (transcript, result);
        }
        for key in missing {
            let a = answer(&key);
            transcript.insert(key, a);
        }
    }
    panic!("no fixpoint after 40 rounds");
}

/// Evidence under construction: a transcript and probe results.
#[derive(Default)]
pub struct Dns(pub Transcript, pub Probes);

/// A successful STARTTLS probe that saw `chain` over `version`.
pub fn tls_probe(chain: &[Vec<u8>], version: &str) -> SmtpProbe {
    let mut p = SmtpProbe::status(SmtpStatus::Tls, None);
    p.port = Some(25);
    p.greeting = Some("220 mx ESMTP".into());
    p.ehlo_keywords = vec!["PIPELINING".into(), "STARTTLS".into()];
    p.tls = Some(TlsSession {
        version: version.into(),
        cipher_suite: if version == "TLSv1.3" {
            "TLS13_AES_256_GCM_SHA384".into()
        } else {
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".into()
        },
        key_exchange_group: Some("X25519".into()),
        chain: chain.iter().cloned().map(Der).collect(),
    });
    p.legacy = Some(legacy_refused());
    p
}

/// Legacy-TLS probes that were all refused with a `protocol_version` or
/// `handshake_failure` alert.
pub fn legacy_refused() -> LegacyTls {
    let refused = |alert: &str| {
        let mut h = LegacyHello::new(
            HelloOutcome::Refused,
            format!("the server answered with a fatal alert, {alert}"),
        );
        h.alert = Some(alert.into());
        h
    };
    LegacyTls {
        protocols: refused("protocol_version (70)"),
        ciphers: refused("handshake_failure (40)"),
        ssl3: None,
    }
}

/// A fetched 200 `text/plain` body.
pub fn fetched(body: &str) -> HttpsFetch {
    let mut f = HttpsFetch::status(HttpsStatus::Fetched, None);
    f.http_status = Some(200);
    f.content_type = Some("text/plain".into());
    f.body = Some(body.into());
    f.tls_version = Some("TLSv1.3".into());
    f
}

impl Dns {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records at `name`, of the type of the first record, proof `proof`.
    pub fn rec(mut self, name: &str, rtype: RType, records: Vec<RData>, proof: Proof) -> Self {
        self.0
            .insert(QueryKey::new(name, rtype), Answer::with_records(records, proof));
        self
    }

    pub fn status(mut self, name: &str, rtype: RType, status: Status) -> Self {
        let proof = if status.is_definite() {
            Proof::NotValidated
        } else {
            Proof::Indeterminate
        };
        self.0.insert(QueryKey::new(name, rtype), Answer::empty(status, proof));
        self
    }

    pub fn mx(self, name: &str, set: &[(u16, &str)]) -> Self {
        let records = set
            .iter()
            .map(|(p, e)| RData::Mx {
                preference: *p,
                exchange: e.trim_end_matches('.').into(),
            })
            .collect();
        self.rec(name, RType::Mx, records, Proof::NotValidated)
    }

    pub fn a(self, name: &str, addrs: &[&str]) -> Self {
        let records = addrs
            .iter()
            .map(|a| RData::A {
                address: a.parse().unwrap(),
            })
            .collect();
        self.rec(name, RType::A, records, Proof::NotValidated)
    }

    pub fn aaaa(self, name: &str, addrs: &[&str]) -> Self {
        let records = addrs
            .iter()
            .map(|a| RData::Aaaa {
                address: a.parse().unwrap(),
            })
            .collect();
        self.rec(name, RType::Aaaa, records, Proof::NotValidated)
    }

    pub fn txt(self, name: &str, texts: &[&str]) -> Self {
        let records = texts
            .iter()
            .map(|t| RData::Txt {
                strings: vec![(*t).to_string()],
            })
            .collect();
        self.rec(name, RType::Txt, records, Proof::NotValidated)
    }

    /// The STARTTLS probe result of `host` at `address`.
    pub fn smtp(mut self, host: &str, address: &str, probe: SmtpProbe) -> Self {
        self.1
            .smtp
            .insert(SmtpTarget::new(host, address.parse().unwrap()), probe);
        self
    }

    /// The fetch result of `url`.
    pub fn https(mut self, url: &str, fetch: HttpsFetch) -> Self {
        self.1.https.insert(url.to_string(), fetch);
        self
    }

    /// Run a judge; panics if the judge asked for something not provided,
    /// so tests state every answer they rely on.
    pub fn judge(&self, judge: impl Fn(&DnsView<'_>) -> Vec<RawFinding>) -> Vec<RawFinding> {
        let view = DnsView::with_probes(&self.0, &self.1);
        let findings = judge(&view);
        let missing = view.into_wants();
        assert!(
            missing.is_empty(),
            "the judge asked for answers the test did not give: {missing:?}"
        );
        findings
    }
}

/// The one finding with this id and subject.
pub fn find<'a>(findings: &'a [RawFinding], id: &str, subject: &str) -> &'a RawFinding {
    let hits: Vec<&RawFinding> = findings.iter().filter(|f| f.id == id && f.subject == subject).collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one {id} for {subject}, got {hits:#?}\nall: {findings:#?}"
    );
    hits[0]
}

pub fn outcome(findings: &[RawFinding], id: &str, subject: &str) -> Outcome {
    find(findings, id, subject).outcome
}

//! Test helpers: build transcripts by hand.

use mailwarden_model::{Answer, DnsView, Finding, Outcome, Proof, QueryKey, RData, RType, Status, Transcript};

/// A transcript under construction.
#[derive(Default)]
pub struct Dns(pub Transcript);

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

    /// Run a judge; panics if the judge asked for something not provided,
    /// so tests state every answer they rely on.
    pub fn judge(&self, judge: impl Fn(&DnsView<'_>) -> Vec<Finding>) -> Vec<Finding> {
        let view = DnsView::new(&self.0);
        let findings = judge(&view);
        let missing = view.into_missing();
        assert!(
            missing.is_empty(),
            "the judge asked for answers the test did not give: {missing:?}"
        );
        findings
    }
}

/// The one finding with this id and subject.
pub fn find<'a>(findings: &'a [Finding], id: &str, subject: &str) -> &'a Finding {
    let hits: Vec<&Finding> = findings.iter().filter(|f| f.id == id && f.subject == subject).collect();
    assert_eq!(
        hits.len(),
        1,
        "expected one {id} for {subject}, got {hits:#?}\nall: {findings:#?}"
    );
    hits[0]
}

pub fn outcome(findings: &[Finding], id: &str, subject: &str) -> Outcome {
    find(findings, id, subject).outcome
}

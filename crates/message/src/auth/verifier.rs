//! The glue to mail-auth: DKIM signatures and the ARC chain verified by
//! mail-auth with the keys from our transcript (its TXT cache, filled
//! before it runs; its resolver has no servers), and mail-auth's own DMARC
//! verdict over the same DNS answers, kept beside ours as a cross-check.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock};

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::resolver::ToFqdn;
use mail_auth::common::verify::DomainKey;
use mail_auth::dmarc::Dmarc;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::{
    AuthenticatedMessage, DkimResult, DmarcResult, DnsError, MessageAuthenticator, Parameters, ResolverCache,
    SpfOutput, SpfResult, Txt,
};
use mailwarden_model::{Answer, DnsView, RType, Status, Transcript};

use super::{ArcVerdict, DkimVerdict, KeyName, SpfVerdict};

/// Verify DKIM signatures and the ARC chain with mail-auth, from the keys
/// in the transcript; and mail-auth's DMARC result given our SPF verdict.
pub async fn verify(
    m: &AuthenticatedMessage<'_>,
    transcript: &Transcript,
    keys: &[KeyName],
    spf: Option<&SpfVerdict>,
) -> (Vec<DkimVerdict>, ArcVerdict, Option<String>) {
    let cache = TxtCache::default();
    let view = DnsView::new(transcript);
    for k in keys {
        cache.put(&k.name(), key_entry(view.get(&k.name(), RType::Txt)));
    }
    for (key, answer) in transcript.iter() {
        if key.rtype == RType::Txt && key.name.starts_with("_dmarc.") {
            cache.put(&key.name, dmarc_entry(answer));
        }
    }
    let Some(authenticator) = offline_authenticator() else {
        let reason = "mail-auth's verifier could not be built".to_string();
        return (
            Vec::new(),
            ArcVerdict {
                result: "temperror".into(),
                reason: Some(reason),
                sets: 0,
            },
            None,
        );
    };
    let outputs = authenticator
        .verify_dkim(Parameters::new(m).with_txt_cache(&cache))
        .await;
    let dkim = outputs
        .iter()
        .map(|o| {
            let (result, reason) = dkim_result(o.result());
            let sig = o.signature();
            DkimVerdict {
                domain: sig.map(|s| s.d.to_ascii_lowercase()).unwrap_or_default(),
                selector: sig.map(|s| s.s.clone()).unwrap_or_default(),
                algorithm: sig.map(|s| algorithm(s.a)).unwrap_or_default(),
                body_modified: matches!(
                    o.result(),
                    DkimResult::Neutral(mail_auth::Error::Dkim(mail_auth::dkim::DkimError::FailedBodyHashMatch))
                ),
                result,
                reason,
            }
        })
        .collect();
    let arc_out = authenticator
        .verify_arc(Parameters::new(m).with_txt_cache(&cache))
        .await;
    let (result, reason) = dkim_result(arc_out.result());
    let arc = ArcVerdict {
        result,
        reason,
        sets: m.ams_headers.len(),
    };
    let dmarc = dmarc_cross_check(authenticator, m, &outputs, spf, &cache).await;
    (dkim, arc, dmarc)
}

/// mail-auth's DMARC result for the message, given the DKIM outputs and
/// our SPF verdict; `None` when the message has no single author domain.
async fn dmarc_cross_check(
    authenticator: &MessageAuthenticator,
    m: &AuthenticatedMessage<'_>,
    dkim: &[mail_auth::DkimOutput<'_>],
    spf: Option<&SpfVerdict>,
    cache: &TxtCache,
) -> Option<String> {
    let (domain, result) = match spf {
        Some(s) => (s.domain.clone(), spf_result(&s.result)),
        None => (String::new(), SpfResult::None),
    };
    let spf_output = SpfOutput::new(domain.clone()).with_result(result);
    let params = DmarcParameters::new(m, dkim, &domain, &spf_output);
    let out = authenticator
        .verify_dmarc(Parameters::new(params).with_txt_cache(cache))
        .await;
    if out.domain().is_empty() {
        return None;
    }
    Some(
        match out.result() {
            DmarcResult::Pass => "pass",
            DmarcResult::Fail(_) => "fail",
            DmarcResult::TempError(_) => "temperror",
            DmarcResult::PermError(_) => "permerror",
            DmarcResult::None => "none",
        }
        .to_string(),
    )
}

fn spf_result(r: &str) -> SpfResult {
    match r {
        "pass" => SpfResult::Pass,
        "fail" => SpfResult::Fail,
        "softfail" => SpfResult::SoftFail,
        "neutral" => SpfResult::Neutral,
        "temperror" => SpfResult::TempError,
        "permerror" => SpfResult::PermError,
        _ => SpfResult::None,
    }
}

/// A `_dmarc` answer as mail-auth's cache holds it.
fn dmarc_entry(answer: &Answer) -> Txt {
    txt_entry::<Dmarc>(answer, |d| Txt::Dmarc(Arc::new(d)))
}

fn algorithm(a: mail_auth::common::crypto::Algorithm) -> String {
    match a {
        mail_auth::common::crypto::Algorithm::RsaSha1 => "rsa-sha1",
        mail_auth::common::crypto::Algorithm::RsaSha256 => "rsa-sha256",
        mail_auth::common::crypto::Algorithm::Ed25519Sha256 => "ed25519-sha256",
    }
    .to_string()
}

/// mail-auth's result as RFC 8601 words, with the error as the reason.
fn dkim_result(r: &DkimResult) -> (String, Option<String>) {
    match r {
        DkimResult::Pass => ("pass".into(), None),
        DkimResult::Neutral(e) => ("neutral".into(), Some(e.to_string())),
        DkimResult::Fail(e) => ("fail".into(), Some(e.to_string())),
        DkimResult::PermError(e) => ("permerror".into(), Some(e.to_string())),
        DkimResult::TempError(e) => ("temperror".into(), Some(e.to_string())),
        DkimResult::None => ("none".into(), None),
    }
}

/// The key record as mail-auth's cache holds it.
fn key_entry(answer: &Answer) -> Txt {
    txt_entry::<DomainKey>(answer, |k| Txt::DomainKey(Arc::new(k)))
}

/// A TXT answer as mail-auth's cache holds it: the first record that
/// parses as `T` (as mail-auth's own lookup does), or the DNS error.
pub(super) fn txt_entry<T: TxtRecordParser>(answer: &Answer, wrap: impl Fn(T) -> Txt) -> Txt {
    match answer.status {
        Status::Records => {
            let mut result = Txt::Error(mail_auth::Error::Dns(DnsError::InvalidRecordType));
            for bytes in answer.records.iter().filter_map(|r| r.txt_bytes()) {
                match T::parse(&bytes) {
                    Ok(v) => return wrap(v),
                    Err(e) => result = Txt::Error(e),
                }
            }
            result
        }
        Status::NxDomain | Status::NoData => {
            Txt::Error(mail_auth::Error::Dns(DnsError::RecordNotFound(ResponseCode::NXDomain)))
        }
        _ => Txt::Error(mail_auth::Error::Dns(DnsError::Resolver(answer.status.describe()))),
    }
}

/// A mail-auth authenticator that cannot reach any server: every key it
/// needs is in the cache.
/// Built once per run: the resolver is never used, so sharing it costs nothing.
pub(super) fn offline_authenticator() -> Option<&'static MessageAuthenticator> {
    static ONE: OnceLock<Option<MessageAuthenticator>> = OnceLock::new();
    ONE.get_or_init(|| {
        MessageAuthenticator::new(
            ResolverConfig::from_parts(None, Vec::new(), Vec::new()),
            ResolverOpts::default(),
        )
        .ok()
    })
    .as_ref()
}

/// One of mail-auth's caches (TXT, A, AAAA, MX, PTR), filled from our
/// transcript before mail-auth runs.
pub(super) struct Cache<K, V>(Mutex<HashMap<K, V>>);

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<K: Hash + Eq, V> Cache<K, V> {
    pub(super) fn put_key(&self, key: K, value: V) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(key, value);
        }
    }
}

impl<V> Cache<Box<str>, V> {
    /// Under the name as mail-auth asks it (fully qualified).
    pub(super) fn put(&self, name: &str, value: V) {
        self.put_key(name.to_fqdn().into_owned().into_boxed_str(), value);
    }
}

/// mail-auth's TXT cache.
pub(super) type TxtCache = Cache<Box<str>, Txt>;

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for Cache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().ok()?.get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().ok()?.remove(name)
    }

    fn insert(&self, key: K, value: V, _: std::time::Instant) {
        self.put_key(key, value);
    }
}

//! The findings about one published key record (RFC 6376 §3.6.1): its
//! syntax, version, key type, revocation, strength, testing flag, hash
//! and service restrictions.

use super::*;
use crate::rule;

pub(super) fn located<'d>(record: &KeyRecord, diags: &[&'d Diagnostic]) -> Bounded<'d, Diagnostic> {
    Bounded::of(diags.iter().copied(), &record.text)
}

/// Diagnostic codes that belong to the tag-list grammar (dkim.syntax).
pub(super) const SYNTAX_CODES: &[&str] = &[
    "empty-record",
    "tag-without-value",
    "tag-name",
    "value-char",
    "duplicate-tag",
    "key-missing",
];

/// The findings for one key record.
pub(super) fn key_findings(domain: &str, s: &Selector<'_>, key: &Published) -> Vec<RawFinding> {
    let r = &key.parsed;
    let name = s.name.as_str();
    // Every finding cites the record; the strings as received (how it is
    // split) only where something is wrong, so a selector's dozen
    // findings do not carry a 60 KB record twice each.
    let with_record = |f: RawFinding| {
        let f = f.evidence("record", &r.text);
        match f.outcome {
            Outcome::Pass => f,
            _ => f.evidence("strings", &key.strings),
        }
    };
    let delegated_note = s
        .delegated_to()
        .map(|t| format!(" The key is delegated to {t}: fix it there (or ask that provider)."))
        .unwrap_or_default();
    vec![
        with_record(syntax(r, name, Level::Error)),
        with_record(syntax(r, name, Level::Warning)),
        with_record(version(r, name)),
        with_record(key_type(r, name)),
        with_record(revoked(r, name, &s.selector, domain)),
        with_record(invalid(r, name, &s.selector, domain, &delegated_note)),
        with_record(rsa_weak(r, name, &s.selector, domain, &delegated_note)),
        with_record(testing(r, name)),
        with_record(sha1(r, name)),
        with_record(service(r, name)),
    ]
}

pub(super) fn codes<'r>(r: &'r KeyRecord, wanted: &[&str]) -> Vec<&'r Diagnostic> {
    r.diagnostics.iter().filter(|d| wanted.contains(&d.code)).collect()
}

/// RFC 6376 §3.2: "Tags with duplicate names MUST NOT occur within a
/// single tag-list; if a tag name does occur more than once, the entire
/// tag-list is invalid." and §3.6.1, `p=`: "Public-key data (base64;
/// REQUIRED)." Warnings: "Unrecognized tags MUST be ignored."
pub(super) fn syntax(r: &KeyRecord, name: &str, level: Level) -> RawFinding {
    let (id, what) = match level {
        Level::Error => (rule::DKIM_SYNTAX, "syntax error"),
        Level::Warning => (rule::DKIM_SYNTAX_WARNING, "warning"),
    };
    let found: Vec<&Diagnostic> = r
        .diagnostics
        .iter()
        .filter(|d| d.level == level && (level == Level::Warning || SYNTAX_CODES.contains(&d.code)))
        .collect();
    if found.is_empty() {
        return RawFinding::new(id, Outcome::Pass, name, format!("No {what}s in the key record."));
    }
    let consequence = if level == Level::Error {
        " Verifiers reject the record, so signatures with this selector fail."
    } else {
        ""
    };
    RawFinding::new(
        id,
        Outcome::Fail,
        name,
        format!(
            "{} {what}(s) in the key record.{consequence}\n{}",
            found.len(),
            located(r, &found).message()
        ),
    )
    .diagnostics("diagnostics", &located(r, &found))
}

/// RFC 6376 §3.6.1, `v=`: "If specified, this tag MUST be set to "DKIM1"
/// (without the quotes). This tag MUST be the first tag in the record.
/// Records beginning with a "v=" tag with any other value MUST be
/// discarded."
pub(super) fn version(r: &KeyRecord, name: &str) -> RawFinding {
    let found = codes(r, &["version", "version-not-first", "version-case"]);
    if found.is_empty() {
        let msg = match &r.version {
            Some(_) => "v=DKIM1 is the first tag.",
            None => "No v= tag (it is optional and defaults to DKIM1).",
        };
        return RawFinding::new(rule::DKIM_VERSION, Outcome::Pass, name, msg);
    }
    let rest: Vec<String> = r
        .tags
        .iter()
        .filter(|t| t.name != "v")
        .map(|t| format!("{}={}", t.name, t.value))
        .collect();
    let f = RawFinding::new(
        rule::DKIM_VERSION,
        Outcome::Fail,
        name,
        format!("The version tag is wrong:\n{}", located(r, &found).message()),
    )
    .diagnostics("diagnostics", &located(r, &found))
    .remediation(format!(
        "Publish the record with v=DKIM1 first: \"v=DKIM1; {}\"",
        rest.join("; ")
    ));
    if found.iter().all(|d| d.level == Level::Warning) {
        f.severity(Severity::Low)
    } else {
        f
    }
}

/// RFC 6376 §3.6.1, `k=`: "Unrecognized key types MUST be ignored."; RFC
/// 8463 §4.2 registers `ed25519` next to `rsa`.
pub(super) fn key_type(r: &KeyRecord, name: &str) -> RawFinding {
    let found = codes(r, &["key-type", "key-type-case"]);
    if found.is_empty() {
        return RawFinding::new(
            rule::DKIM_KEY_TYPE,
            Outcome::Pass,
            name,
            format!("Key type {}.", r.key_type.as_str()),
        )
        .evidence("key_type", r.key_type.as_str());
    }
    let f = RawFinding::new(
        rule::DKIM_KEY_TYPE,
        Outcome::Fail,
        name,
        format!("The key type is wrong:\n{}", located(r, &found).message()),
    )
    .diagnostics("diagnostics", &located(r, &found))
    .remediation("Use k=rsa (with an RSA key) or k=ed25519 (with a raw 32-byte Ed25519 key), in lower case.");
    if matches!(r.key_type, KeyType::Unknown(_)) {
        f
    } else {
        f.severity(Severity::Low)
    }
}

/// RFC 6376 §3.6.1, `p=`: "An empty value means that this public key has
/// been revoked."
pub(super) fn revoked(r: &KeyRecord, name: &str, selector: &str, domain: &str) -> RawFinding {
    match r.key {
        KeyData::Revoked => RawFinding::new(
            rule::DKIM_KEY_REVOKED,
            Outcome::Fail,
            name,
            format!(
                "The key at selector {selector} is revoked (empty p=): signatures made with it fail. This is expected for a retired selector."
            ),
        )
        .remediation(format!(
            "If {domain} still signs with selector {selector}, publish its current public key there; if the selector is retired, make sure no signer uses it (and eventually delete the record)."
        )),
        KeyData::Missing => RawFinding::new(
            rule::DKIM_KEY_REVOKED,
            Outcome::NotApplicable,
            name,
            "The record has no p= tag at all (see dkim.syntax).",
        ),
        _ => RawFinding::new(rule::DKIM_KEY_REVOKED, Outcome::Pass, name, "The key is not revoked."),
    }
}

/// RFC 6376 §3.6.1, `p=`: "The syntax and semantics of this tag value
/// before being encoded in base64 are defined by the "k=" tag."; for RSA
/// it is "an ASN.1 DER-encoded [ITU-X660-1997] RSAPublicKey" inside a
/// SubjectPublicKeyInfo.
pub(super) fn invalid(r: &KeyRecord, name: &str, selector: &str, domain: &str, delegated: &str) -> RawFinding {
    match &r.key {
        KeyData::Invalid { reason } => RawFinding::new(
            rule::DKIM_KEY_INVALID,
            Outcome::Fail,
            name,
            format!("p= is not a usable public key: {reason}"),
        )
        .evidence("reason", reason)
        .remediation(format!(
            "Publish the public key exactly as your signer exports it, e.g. `{selector}._domainkey.{domain}. IN TXT \"v=DKIM1; k=rsa; p=<base64 of the DER SubjectPublicKeyInfo>\"` (split into strings of at most 255 characters, with nothing added between them).{delegated}"
        )),
        KeyData::Valid { key } => RawFinding::new(
            rule::DKIM_KEY_INVALID,
            Outcome::Pass,
            name,
            match key {
                PublicKey::Rsa { modulus_bits, .. } => format!("p= is a {modulus_bits}-bit RSA public key."),
                PublicKey::Ed25519 => "p= is an Ed25519 public key.".to_string(),
            },
        )
        .evidence("key", key),
        KeyData::Revoked | KeyData::Missing | KeyData::Unchecked => RawFinding::new(
            rule::DKIM_KEY_INVALID,
            Outcome::NotApplicable,
            name,
            "No key to decode (missing, revoked, or of an unknown type).",
        ),
    }
}

/// RFC 8301 §3.2: "Signers MUST use RSA keys of at least 1024 bits for all
/// keys. Signers SHOULD use RSA keys of at least 2048 bits."
pub(super) fn rsa_weak(r: &KeyRecord, name: &str, selector: &str, domain: &str, delegated: &str) -> RawFinding {
    let KeyData::Valid { key } = &r.key else {
        return RawFinding::new(
            rule::DKIM_RSA_WEAK,
            Outcome::NotApplicable,
            name,
            "No valid key to measure.",
        );
    };
    let PublicKey::Rsa { modulus_bits: bits, .. } = key else {
        return RawFinding::new(
            rule::DKIM_RSA_WEAK,
            Outcome::NotApplicable,
            name,
            "An Ed25519 key (RFC 8463): no RSA length concern.",
        );
    };
    let bits = *bits;
    let remediation = format!(
        "Generate a 2048-bit key (`openssl genrsa -out {selector}-new.key 2048`; public part: `openssl rsa -in {selector}-new.key -pubout -outform DER | base64 -w0`), publish it under a new selector, e.g. `<new-selector>._domainkey.{domain}. IN TXT \"v=DKIM1; k=rsa; p=<base64>\"`, switch signing to it, then revoke the old one with `{selector}._domainkey.{domain}. IN TXT \"v=DKIM1; p=\"`.{delegated}"
    );
    if bits < RSA_MIN_BITS {
        RawFinding::new(
            rule::DKIM_RSA_WEAK,
            Outcome::Fail,
            name,
            format!(
                "The RSA key is {bits} bits, below the 1024 bits RFC 8301 requires: verifiers treat its signatures as invalid, and a key this short can be factored."
            ),
        )
        .evidence("rsa_bits", bits)
        .severity(Severity::High)
        .remediation(remediation)
    } else if bits < RSA_RECOMMENDED_BITS {
        RawFinding::new(
            rule::DKIM_RSA_WEAK,
            Outcome::Fail,
            name,
            format!("The RSA key is {bits} bits; RFC 8301 says signers SHOULD use at least 2048 bits."),
        )
        .evidence("rsa_bits", bits)
        .remediation(remediation)
    } else {
        RawFinding::new(
            rule::DKIM_RSA_WEAK,
            Outcome::Pass,
            name,
            format!("The RSA key is {bits} bits."),
        )
        .evidence("rsa_bits", bits)
    }
}

/// RFC 6376 §3.6.1, `t=y`: "This domain is testing DKIM. Verifiers MUST
/// NOT treat messages from Signers in testing mode differently from
/// unsigned email, even should the signature fail to verify."
pub(super) fn testing(r: &KeyRecord, name: &str) -> RawFinding {
    let strict = if r.strict() {
        " The t=s flag (the i= domain must equal d=) is set."
    } else {
        ""
    };
    if r.testing() {
        let rest: Vec<String> = r
            .tags
            .iter()
            .filter(|t| t.name != "t")
            .map(|t| format!("{}={}", t.name, t.value))
            .chain(r.strict().then(|| "t=s".to_string()))
            .collect();
        RawFinding::new(
            rule::DKIM_TESTING,
            Outcome::Fail,
            name,
            format!("The key is in testing mode (t=y): receivers may treat signed mail like unsigned mail.{strict}"),
        )
        .evidence("flags", &r.flags)
        .remediation(format!(
            "Once signatures verify, remove the y flag: \"{}\"",
            rest.join("; ")
        ))
    } else {
        RawFinding::new(
            rule::DKIM_TESTING,
            Outcome::Pass,
            name,
            format!("The key is not in testing mode.{strict}"),
        )
        .evidence("flags", &r.flags)
    }
}

/// RFC 8301 §3.1: "rsa-sha1 MUST NOT be used for signing or verifying."
pub(super) fn sha1(r: &KeyRecord, name: &str) -> RawFinding {
    let found = codes(r, &["sha1-only", "sha1-allowed", "hash-none"]);
    if found.is_empty() {
        let msg = match &r.hashes {
            None => "No h= tag: the key is usable with sha256.".to_string(),
            Some(h) => format!("h={}: sha256 is allowed and sha1 is not.", h.join(":")),
        };
        return RawFinding::new(rule::DKIM_SHA1, Outcome::Pass, name, msg);
    }
    let only = found.iter().any(|d| d.level == Level::Error);
    let f = RawFinding::new(
        rule::DKIM_SHA1,
        Outcome::Fail,
        name,
        format!("The h= tag is wrong:\n{}", located(r, &found).message()),
    )
    .evidence("h", &r.hashes)
    .diagnostics("diagnostics", &located(r, &found))
    .remediation("Sign with rsa-sha256 (or ed25519-sha256) and set h=sha256, or drop the h= tag.");
    if only { f } else { f.severity(Severity::Low) }
}

/// RFC 6376 §3.6.1, `s=`: "Unrecognized service types MUST be ignored."
/// A record whose services exclude `email` and `*` cannot verify mail.
pub(super) fn service(r: &KeyRecord, name: &str) -> RawFinding {
    let found = codes(r, &["service-type"]);
    if found.is_empty() {
        return RawFinding::new(
            rule::DKIM_SERVICE_TYPE,
            Outcome::Pass,
            name,
            "The key may be used for email.",
        );
    }
    RawFinding::new(
        rule::DKIM_SERVICE_TYPE,
        Outcome::Fail,
        name,
        format!("The key is not for email:\n{}", located(r, &found).message()),
    )
    .evidence("s", &r.services)
    .remediation("Remove the s= tag, or set s=email.")
}

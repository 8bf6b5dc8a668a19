//! DKIM key records (RFC 6376 §3.6.1, RFC 8301, RFC 8463): a strict parser
//! that keeps byte positions and reports every problem, and a public-key
//! decoder that measures RSA moduli.
//!
//! The DKIM tag-list syntax (RFC 6376 §3.2) is shared with BIMI and DMARC,
//! so [`parse_tag_list`] is public.
//!
//! [`Level::Error`] means a verifier cannot use the record to verify a
//! signature: a grammar error that invalidates the tag-list, a version other
//! than `DKIM1`, an unknown key type, a missing, revoked or undecodable key,
//! or a key that can only be used with SHA-1 (forbidden by RFC 8301 §3.1).
//! [`Level::Warning`] is legal but suspicious: unknown tags (which verifiers
//! ignore), unknown flags, a lower-case version, missing base64 padding.

use serde::Serialize;

pub use crate::diag::{Diagnostic, Level, Span};

/// One `tag=value` of a tag-list, with positions in the record text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    /// The tag name as written (tag names are case-sensitive).
    pub name: String,
    /// The value with surrounding whitespace removed (inner FWS kept).
    pub value: String,
    /// The whole tag-spec, `name` through the end of `value`.
    pub span: Span,
    /// The name alone.
    pub name_span: Span,
    /// Where the value is; empty (`start == end`) for an empty value.
    pub value_span: Span,
}

/// A parsed tag-list: the tags in order, and the problems found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagList {
    /// The tags, in order.
    pub tags: Vec<Tag>,
    /// Problems of the tag-list syntax.
    pub diagnostics: Vec<Diagnostic>,
}

impl TagList {
    /// The first tag called exactly `name`.
    pub fn get(&self, name: &str) -> Option<&Tag> {
        self.tags.iter().find(|t| t.name == name)
    }
}

/// RFC 6376 §3.2 `FWS` as it appears in a DNS TXT record: space, tab, CR, LF.
fn is_fws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Trim FWS on both sides of `start..end`; returns the trimmed range.
fn trim(bytes: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && is_fws(bytes[start]) {
        start += 1;
    }
    while end > start && is_fws(bytes[end - 1]) {
        end -= 1;
    }
    (start, end)
}

/// Parse an RFC 6376 §3.2 tag-list:
///
/// ```text
/// tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
/// tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
/// tag-name  =  ALPHA *ALNUMPUNC
/// tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
/// tval      =  1*VALCHAR
/// VALCHAR   =  %x21-3A / %x3C-7E
/// ```
///
/// Enforces "Tags with duplicate names MUST NOT occur within a single
/// tag-list; if a tag name does occur more than once, the entire tag-list
/// is invalid." Every problem is reported; parsing never stops early.
pub fn parse_tag_list(text: &str) -> TagList {
    let bytes = text.as_bytes();
    let mut tags: Vec<Tag> = Vec::new();
    let mut diagnostics = Vec::new();
    let (s, e) = trim(bytes, 0, bytes.len());
    if s == e {
        diagnostics.push(Diagnostic::error(
            Span::new(0, bytes.len()),
            "empty-record",
            "The record is empty.",
        ));
        return TagList { tags, diagnostics };
    }
    let mut segments = Vec::new();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b';' {
            segments.push((start, i));
            start = i + 1;
        }
    }
    segments.push((start, bytes.len()));
    let last = segments.len() - 1;
    for (index, &(seg_start, seg_end)) in segments.iter().enumerate() {
        let (s, e) = trim(bytes, seg_start, seg_end);
        if s == e {
            // A trailing ";" (optionally followed by whitespace) is allowed.
            if index != last {
                diagnostics.push(Diagnostic::warning(
                    Span::new(seg_start.saturating_sub(1), seg_end + 1),
                    "empty-tag",
                    "An empty tag-spec between two \";\": the grammar does not allow it, though most verifiers skip it.",
                ));
            }
            continue;
        }
        let Some(eq) = bytes[s..e].iter().position(|&b| b == b'=').map(|p| p + s) else {
            diagnostics.push(Diagnostic::error(
                Span::new(s, e),
                "tag-without-value",
                format!("\"{}\" is not a tag=value pair.", &text[s..e]),
            ));
            continue;
        };
        let (ns, ne) = trim(bytes, s, eq);
        let (vs, ve) = trim(bytes, eq + 1, e);
        let name = &text[ns..ne];
        let valid_name = name.bytes().enumerate().all(|(i, b)| {
            if i == 0 {
                b.is_ascii_alphabetic()
            } else {
                b.is_ascii_alphanumeric() || b == b'_'
            }
        }) && !name.is_empty();
        if !valid_name {
            diagnostics.push(Diagnostic::error(
                Span::new(ns, ne.max(ns + 1).min(e)),
                "tag-name",
                if name.is_empty() {
                    "A value without a tag name.".to_string()
                } else {
                    format!("\"{name}\" is not a valid tag name (a letter, then letters, digits or \"_\").")
                },
            ));
        }
        for (i, c) in text[vs..ve].char_indices() {
            let b = c as u32;
            let ok = (0x21..=0x7e).contains(&b) || (c.is_ascii() && is_fws(b as u8));
            if !ok {
                let at = vs + i;
                diagnostics.push(Diagnostic::error(
                    Span::new(at, at + c.len_utf8()),
                    "value-char",
                    format!("The value of \"{name}\" contains {c:?}, which a tag value may not contain."),
                ));
            }
        }
        if valid_name && tags.iter().any(|t| t.name == name) {
            diagnostics.push(Diagnostic::error(
                Span::new(ns, ne),
                "duplicate-tag",
                format!("The tag \"{name}\" occurs more than once, which makes the entire tag-list invalid."),
            ));
        }
        tags.push(Tag {
            name: name.to_string(),
            value: text[vs..ve].to_string(),
            span: Span::new(ns, ve.max(eq + 1)),
            name_span: Span::new(ns, ne),
            value_span: Span::new(vs, ve.max(vs)),
        });
    }
    TagList { tags, diagnostics }
}

/// The key type of a key record (`k=`, RFC 6376 §3.6.1; RFC 8463 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "type", content = "name")]
pub enum KeyType {
    /// `k=rsa` (the default).
    Rsa,
    /// `k=ed25519` (RFC 8463).
    Ed25519,
    /// A type verifiers do not know ("Unrecognized key types MUST be ignored").
    Unknown(String),
}

impl KeyType {
    /// The `k=` value as written.
    pub fn as_str(&self) -> &str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::Ed25519 => "ed25519",
            KeyType::Unknown(s) => s,
        }
    }
}

/// How an RSA public key is encoded in `p=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RsaEncoding {
    /// A SubjectPublicKeyInfo (RFC 5280 §4.1), as RFC 6376 §3.6.1 asks.
    SubjectPublicKeyInfo,
    /// A bare PKCS#1 RSAPublicKey (RFC 8017 §A.1.1), which some publishers
    /// use and most verifiers accept.
    Pkcs1,
}

/// A decoded public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum PublicKey {
    /// An RSA key (RFC 6376 §3.6.1).
    Rsa {
        /// The exact bit length of the modulus.
        modulus_bits: u32,
        /// The public exponent, when it fits in 64 bits.
        exponent: Option<u64>,
        /// How the key was wrapped.
        encoding: RsaEncoding,
    },
    /// A raw 32-byte Ed25519 key (RFC 8463 §4.2).
    Ed25519,
}

/// What `p=` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum KeyData {
    /// No `p=` tag (it is REQUIRED).
    Missing,
    /// `p=` is empty: "An empty value means that this public key has been
    /// revoked."
    Revoked,
    /// `p=` is not base64, or does not decode to a key of the stated type.
    Invalid {
        /// Why, in words.
        reason: String,
    },
    /// A key of an unknown `k=` type: not decoded.
    Unchecked,
    /// The key decoded.
    Valid {
        /// What it is.
        key: PublicKey,
    },
}

/// A parsed DKIM key record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRecord {
    /// The record text the spans refer to.
    pub text: String,
    /// The tags, in order.
    pub tags: Vec<Tag>,
    /// `v=`, when present.
    pub version: Option<String>,
    /// `k=`, defaulting to `rsa`.
    pub key_type: KeyType,
    /// `h=`: the hash algorithms allowed, `None` when absent (all allowed).
    pub hashes: Option<Vec<String>>,
    /// `s=`: the service types, `None` when absent (`*`).
    pub services: Option<Vec<String>>,
    /// `t=` flags (`y` testing, `s` strict), as written.
    pub flags: Vec<String>,
    /// The key (`p=`), decoded or why not.
    pub key: KeyData,
    /// Every problem found, in record order.
    pub diagnostics: Vec<Diagnostic>,
}

impl KeyRecord {
    /// `t=y`: "This domain is testing DKIM."
    pub fn testing(&self) -> bool {
        self.flags.iter().any(|f| f == "y")
    }

    /// `t=s`: the `i=` domain must equal `d=` exactly.
    pub fn strict(&self) -> bool {
        self.flags.iter().any(|f| f == "s")
    }

    /// The `p=` tag, when present.
    pub fn key_tag(&self) -> Option<&Tag> {
        self.tags.iter().find(|t| t.name == "p")
    }

    /// True when some diagnostic is an error: a verifier cannot use the key.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Error)
    }

    /// True when `h=` allows SHA-1.
    pub fn allows_sha1(&self) -> bool {
        self.hashes.as_ref().is_some_and(|h| h.iter().any(|a| a == "sha1"))
    }

    /// True when `h=` allows SHA-256 (or is absent).
    pub fn allows_sha256(&self) -> bool {
        self.hashes.as_ref().is_none_or(|h| h.iter().any(|a| a == "sha256"))
    }
}

/// Tags defined for key records by RFC 6376 §3.6.1.
const KEY_TAGS: [&str; 7] = ["v", "h", "k", "n", "p", "s", "t"];

/// Whether a TXT record at a selector name is meant as a DKIM key record
/// (and not, say, an SPF record that a wildcard put there): it starts with
/// `v=DKIM`, or it has a `p=` or `k=` tag.
pub fn looks_like_key_record(text: &str) -> bool {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("v=dkim")) {
        return true;
    }
    if compact.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("v=")) {
        return false;
    }
    let list = parse_tag_list(text);
    list.tags.iter().any(|t| t.name == "p" || t.name == "k")
}

/// Parse a DKIM key record (the TXT strings already concatenated, RFC 6376
/// §3.6.2.2). Never fails: problems are diagnostics.
pub fn parse_key_record(text: &str) -> KeyRecord {
    let list = parse_tag_list(text);
    let mut diagnostics = list.diagnostics;
    let tags = list.tags;
    let mut record = KeyRecord {
        text: text.to_string(),
        tags: Vec::new(),
        version: None,
        key_type: KeyType::Rsa,
        hashes: None,
        services: None,
        flags: Vec::new(),
        key: KeyData::Missing,
        diagnostics: Vec::new(),
    };
    let first = |name: &str| tags.iter().find(|t| t.name == name);

    // v= (RFC 6376 §3.6.1): "If specified, this tag MUST be set to "DKIM1"
    // (without the quotes). This tag MUST be the first tag in the record."
    if let Some(v) = first("v") {
        record.version = Some(v.value.clone());
        if tags.first().is_some_and(|t| t.name != "v") {
            diagnostics.push(Diagnostic::error(
                v.span,
                "version-not-first",
                "v= must be the first tag of a DKIM key record.",
            ));
        }
        if v.value != "DKIM1" {
            if v.value.eq_ignore_ascii_case("DKIM1") {
                diagnostics.push(Diagnostic::warning(
                    v.value_span,
                    "version-case",
                    format!(
                        "v={} should be written exactly \"DKIM1\"; strict verifiers discard the record.",
                        v.value
                    ),
                ));
            } else {
                diagnostics.push(Diagnostic::error(
                    v.value_span,
                    "version",
                    format!(
                        "v={} is not \"DKIM1\": records beginning with another version MUST be discarded.",
                        v.value
                    ),
                ));
            }
        }
    }

    // k= (RFC 6376 §3.6.1, RFC 8463 §4.2).
    if let Some(k) = first("k") {
        record.key_type = match k.value.as_str() {
            "rsa" => KeyType::Rsa,
            "ed25519" => KeyType::Ed25519,
            other => {
                let lower = other.to_ascii_lowercase();
                if lower == "rsa" || lower == "ed25519" {
                    diagnostics.push(Diagnostic::warning(
                        k.value_span,
                        "key-type-case",
                        format!("k={other} should be written in lower case (\"{lower}\")."),
                    ));
                    if lower == "rsa" { KeyType::Rsa } else { KeyType::Ed25519 }
                } else {
                    diagnostics.push(Diagnostic::error(
                        if k.value.is_empty() { k.span } else { k.value_span },
                        "key-type",
                        format!(
                            "k={other} is not a key type verifiers know (rsa, ed25519); \"Unrecognized key types MUST be ignored\", so the key is unusable."
                        ),
                    ));
                    KeyType::Unknown(other.to_string())
                }
            }
        };
    }

    // h= (RFC 6376 §3.6.1; RFC 8301 §3.1).
    if let Some(h) = first("h") {
        let list = colon_list(&h.value);
        if list.iter().any(String::is_empty) {
            diagnostics.push(Diagnostic::warning(
                h.value_span,
                "empty-list-item",
                "h= has an empty item in its colon-separated list.",
            ));
        }
        let algs: Vec<String> = list.into_iter().filter(|a| !a.is_empty()).collect();
        let known = |a: &str| a == "sha1" || a == "sha256";
        for a in algs.iter().filter(|a| !known(a)) {
            diagnostics.push(Diagnostic::warning(
                h.value_span,
                "hash-unknown",
                format!("h= lists \"{a}\", an algorithm verifiers do not know (they ignore it)."),
            ));
        }
        let sha1 = algs.iter().any(|a| a == "sha1");
        let sha256 = algs.iter().any(|a| a == "sha256");
        if sha1 && !sha256 {
            diagnostics.push(Diagnostic::error(
                h.value_span,
                "sha1-only",
                "h= allows only sha1: the key can only verify rsa-sha1 signatures, which RFC 8301 forbids, so no valid signature can use it.",
            ));
        } else if sha1 {
            diagnostics.push(Diagnostic::warning(
                h.value_span,
                "sha1-allowed",
                "h= still allows sha1, which RFC 8301 forbids for signing and verifying; list sha256 only.",
            ));
        } else if !sha256 {
            diagnostics.push(Diagnostic::error(
                h.value_span,
                "hash-none",
                "h= allows no hash algorithm verifiers know, so no signature can use the key.",
            ));
        }
        record.hashes = Some(algs);
    }

    // s= (RFC 6376 §3.6.1): "*" or "email"; others are ignored.
    if let Some(s) = first("s") {
        let services: Vec<String> = colon_list(&s.value).into_iter().filter(|x| !x.is_empty()).collect();
        if !services.iter().any(|x| x == "*" || x == "email") {
            diagnostics.push(Diagnostic::error(
                if s.value.is_empty() { s.span } else { s.value_span },
                "service-type",
                format!(
                    "s={} does not include \"email\" or \"*\": the key may not be used for email.",
                    s.value
                ),
            ));
        }
        record.services = Some(services);
    }

    // t= (RFC 6376 §3.6.1): flags y and s; "Unrecognized flags MUST be ignored."
    if let Some(t) = first("t") {
        let flags: Vec<String> = colon_list(&t.value).into_iter().filter(|x| !x.is_empty()).collect();
        for f in flags.iter().filter(|f| *f != "y" && *f != "s") {
            diagnostics.push(Diagnostic::warning(
                t.value_span,
                "flag-unknown",
                format!("t= lists the unknown flag \"{f}\" (verifiers ignore it)."),
            ));
        }
        record.flags = flags;
    }

    // Unknown tags: "Unrecognized tags MUST be ignored."
    for t in &tags {
        if KEY_TAGS.contains(&t.name.as_str()) || t.name.is_empty() {
            continue;
        }
        let lower = t.name.to_ascii_lowercase();
        let message = if KEY_TAGS.contains(&lower.as_str()) {
            format!(
                "\"{}\" is not \"{lower}\": tag names are case-sensitive, so verifiers ignore this tag.",
                t.name
            )
        } else if t.name == "g" {
            "g= (key granularity) was removed by RFC 6376; verifiers ignore it.".to_string()
        } else {
            format!("\"{}\" is not a key-record tag; verifiers ignore it.", t.name)
        };
        diagnostics.push(Diagnostic::warning(t.name_span, "unknown-tag", message));
    }

    // p= (RFC 6376 §3.6.1): "Public-key data (base64; REQUIRED). An empty
    // value means that this public key has been revoked."
    record.key = match first("p") {
        None => {
            diagnostics.push(Diagnostic::error(
                Span::new(text.len(), text.len()),
                "key-missing",
                "The record has no p= tag; the public key is REQUIRED.",
            ));
            KeyData::Missing
        }
        Some(p) => {
            let b64: String = p.value.chars().filter(|c| !c.is_whitespace()).collect();
            if b64.is_empty() {
                diagnostics.push(Diagnostic::error(
                    p.span,
                    "key-revoked",
                    "p= is empty: the key has been revoked, and signatures made with it fail.",
                ));
                KeyData::Revoked
            } else {
                match decode_base64(&b64) {
                    Err(why) => {
                        diagnostics.push(Diagnostic::error(p.value_span, "key-base64", why.clone()));
                        KeyData::Invalid { reason: why }
                    }
                    Ok((bytes, padded)) => {
                        if !padded {
                            diagnostics.push(Diagnostic::warning(
                                p.value_span,
                                "base64-padding",
                                "p= is missing its base64 \"=\" padding; some verifiers reject it.",
                            ));
                        }
                        match &record.key_type {
                            KeyType::Unknown(_) => KeyData::Unchecked,
                            kind => match decode_public_key(kind, &bytes) {
                                Ok(key) => KeyData::Valid { key },
                                Err(why) => {
                                    let why = why.to_string();
                                    diagnostics.push(Diagnostic::error(p.value_span, "key-invalid", why.clone()));
                                    KeyData::Invalid { reason: why }
                                }
                            },
                        }
                    }
                }
            }
        }
    };

    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    record.tags = tags;
    record.diagnostics = diagnostics;
    record
}

/// Split a colon-separated list, trimming whitespace around items.
fn colon_list(value: &str) -> Vec<String> {
    value.split(':').map(|s| s.trim().to_string()).collect()
}

/// Decode base64, strictly; returns the bytes and whether the padding was
/// right. Missing padding is tolerated (reported as a warning by the
/// caller). The error is the reason findings quote.
fn decode_base64(b64: &str) -> Result<(Vec<u8>, bool), String> {
    mailwarden_model::codec::base64_decode_lenient(b64).map_err(|e| format!("p= is not valid base64: {e}."))
}

/// Why `p=` is not a usable key of the record's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// 32 bytes under `k=rsa`: a raw Ed25519 key.
    #[error(
        "p= decodes to 32 bytes: that is a raw Ed25519 key, but the record says (or defaults to) k=rsa; add k=ed25519."
    )]
    RawEd25519UnderRsa,
    /// An Ed25519 SubjectPublicKeyInfo under `k=rsa`.
    #[error("p= holds an Ed25519 key (SubjectPublicKeyInfo), but the record says (or defaults to) k=rsa.")]
    Ed25519SpkiUnderRsa,
    /// An Ed25519 key wrapped in a SubjectPublicKeyInfo under `k=ed25519`.
    #[error(
        "p= holds an Ed25519 key wrapped in a SubjectPublicKeyInfo; RFC 8463 wants the raw 32-byte key (the last 32 bytes)."
    )]
    WrappedEd25519,
    /// An RSA key under `k=ed25519`.
    #[error("p= holds an RSA key, but the record says k=ed25519.")]
    RsaUnderEd25519,
    /// `k=ed25519` with a key that is not 32 bytes.
    #[error("p= decodes to {0} bytes; an Ed25519 key is exactly 32 bytes.")]
    Ed25519Length(usize),
    /// A `k=` this parser does not know.
    #[error("cannot decode a key of unknown type {0}")]
    UnknownType(String),
    /// Not a DER RSA public key; the DER problem in words.
    #[error("p= is not an RSA public key: {0}.")]
    NotRsa(String),
}

/// The DER of the `id-Ed25519` algorithm identifier prefix of a 32-byte
/// key in SubjectPublicKeyInfo form (RFC 8410 §4).
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// Decode the bytes of `p=` as a key of type `kind`.
///
/// RSA: RFC 6376 §3.6.1 says the key is "an ASN.1 DER-encoded
/// SubjectPublicKeyInfo"; a bare PKCS#1 RSAPublicKey is accepted too, since
/// common verifiers accept it. Ed25519 (RFC 8463 §3, §4.2 and the example
/// in Appendix A, paraphrased): `p=` is the base64 of the raw 32-byte
/// Ed25519 public key, not a SubjectPublicKeyInfo, so a wrapped key is
/// invalid.
pub fn decode_public_key(kind: &KeyType, bytes: &[u8]) -> Result<PublicKey, KeyError> {
    match kind {
        KeyType::Rsa => {
            if bytes.len() == 32 {
                return Err(KeyError::RawEd25519UnderRsa);
            }
            let (modulus_bits, exponent, encoding) = parse_rsa_public_key(bytes)?;
            Ok(PublicKey::Rsa {
                modulus_bits,
                exponent,
                encoding,
            })
        }
        KeyType::Ed25519 => {
            if bytes.len() == 32 {
                Ok(PublicKey::Ed25519)
            } else if bytes.len() == 44 && bytes.starts_with(&ED25519_SPKI_PREFIX) {
                Err(KeyError::WrappedEd25519)
            } else if parse_rsa_public_key(bytes).is_ok() {
                Err(KeyError::RsaUnderEd25519)
            } else {
                Err(KeyError::Ed25519Length(bytes.len()))
            }
        }
        KeyType::Unknown(k) => Err(KeyError::UnknownType(k.clone())),
    }
}

/// What is wrong with the DER of an RSA public key (the words of
/// [`KeyError::NotRsa`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum DerError {
    #[error("truncated DER: expected an element")]
    NoElement,
    #[error("truncated DER: expected a length")]
    NoLength,
    #[error("unsupported DER length form 0x{0:02x}")]
    LengthForm(u8),
    #[error("truncated DER length")]
    TruncatedLength,
    #[error("truncated DER: an element claims {claimed} bytes but {remain} remain")]
    Truncated { claimed: usize, remain: usize },
    #[error("the RSAPublicKey is not a single SEQUENCE")]
    NotOneSequence,
    #[error("the modulus and exponent are not INTEGERs")]
    NotIntegers,
    #[error("data follows the exponent")]
    AfterExponent,
    #[error("the modulus is not a positive integer")]
    ModulusNotPositive,
    #[error("the exponent is not a positive integer")]
    ExponentNotPositive,
    #[error("the modulus is even")]
    EvenModulus,
    #[error("the public exponent is even or 1")]
    BadExponent,
}

/// One DER element: tag, contents, and what follows it.
fn der_element(input: &[u8]) -> Result<(u8, &[u8], &[u8]), DerError> {
    let (&tag, rest) = input.split_first().ok_or(DerError::NoElement)?;
    let (&first, rest) = rest.split_first().ok_or(DerError::NoLength)?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err(DerError::LengthForm(first));
        }
        if rest.len() < n {
            return Err(DerError::TruncatedLength);
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(DerError::Truncated {
            claimed: len,
            remain: rest.len(),
        });
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// The DER of OID 1.2.840.113549.1.1.1 (rsaEncryption).
const RSA_ENCRYPTION_OID: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// The DER of OID 1.3.101.112 (id-Ed25519).
const ED25519_OID: [u8; 3] = [0x2b, 0x65, 0x70];

/// Parse an RSA public key, as a SubjectPublicKeyInfo or a PKCS#1
/// RSAPublicKey. Returns the modulus bit length, the exponent (if it fits
/// in 64 bits) and the encoding.
pub fn parse_rsa_public_key(der: &[u8]) -> Result<(u32, Option<u64>, RsaEncoding), KeyError> {
    let bad = KeyError::NotRsa;
    let not_rsa = |e: DerError| KeyError::NotRsa(e.to_string());
    let (tag, body, rest) = der_element(der).map_err(not_rsa)?;
    if tag != 0x30 {
        return Err(bad(format!("expected a DER SEQUENCE, found tag 0x{tag:02x}")));
    }
    if !rest.is_empty() {
        return Err(bad(format!("{} bytes follow the key", rest.len())));
    }
    let (first_tag, _, _) = der_element(body).map_err(not_rsa)?;
    match first_tag {
        // SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
        //                                     subjectPublicKey BIT STRING }
        0x30 => {
            let (_, algorithm, after) = der_element(body).map_err(not_rsa)?;
            let (oid_tag, oid, _) = der_element(algorithm).map_err(not_rsa)?;
            if oid_tag != 0x06 {
                return Err(bad("the algorithm identifier has no OID".into()));
            }
            if oid == ED25519_OID {
                return Err(KeyError::Ed25519SpkiUnderRsa);
            }
            if oid != RSA_ENCRYPTION_OID {
                return Err(bad(format!(
                    "the algorithm is OID {}, not rsaEncryption",
                    oid_text(oid)
                )));
            }
            let (bit_tag, bits, trailing) = der_element(after).map_err(not_rsa)?;
            if bit_tag != 0x03 {
                return Err(bad("the key is not a BIT STRING".into()));
            }
            if !trailing.is_empty() {
                return Err(bad("data follows the BIT STRING".into()));
            }
            let (&unused, inner) = bits.split_first().ok_or_else(|| bad("an empty BIT STRING".into()))?;
            if unused != 0 {
                return Err(bad("the BIT STRING has unused bits".into()));
            }
            let (bits, exponent) = rsa_public_key(inner).map_err(not_rsa)?;
            Ok((bits, exponent, RsaEncoding::SubjectPublicKeyInfo))
        }
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        0x02 => {
            let (bits, exponent) = rsa_public_key(der).map_err(not_rsa)?;
            Ok((bits, exponent, RsaEncoding::Pkcs1))
        }
        other => Err(bad(format!("unexpected DER tag 0x{other:02x}"))),
    }
}

/// Parse a PKCS#1 RSAPublicKey; returns the modulus bits and exponent.
fn rsa_public_key(der: &[u8]) -> Result<(u32, Option<u64>), DerError> {
    let (tag, body, rest) = der_element(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return Err(DerError::NotOneSequence);
    }
    let (ntag, n, after) = der_element(body)?;
    let (etag, e, trailing) = der_element(after)?;
    if ntag != 0x02 || etag != 0x02 {
        return Err(DerError::NotIntegers);
    }
    if !trailing.is_empty() {
        return Err(DerError::AfterExponent);
    }
    let n = positive_integer(n).ok_or(DerError::ModulusNotPositive)?;
    let e = positive_integer(e).ok_or(DerError::ExponentNotPositive)?;
    if n.last().is_some_and(|b| b & 1 == 0) {
        return Err(DerError::EvenModulus);
    }
    if e.last().is_some_and(|b| b & 1 == 0) || e == [1] {
        return Err(DerError::BadExponent);
    }
    let bits = (n.len() as u32 - 1) * 8 + (8 - n[0].leading_zeros());
    let exponent = (e.len() <= 8).then(|| e.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64));
    Ok((bits, exponent))
}

/// The magnitude bytes of a DER INTEGER that must be positive, without
/// leading zeros; `None` for zero or negative values.
fn positive_integer(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.first()? & 0x80 != 0 {
        return None;
    }
    let start = bytes.iter().position(|&b| b != 0)?;
    Some(&bytes[start..])
}

/// Dotted text of a DER OID, for messages.
fn oid_text(oid: &[u8]) -> String {
    let Some((&first, rest)) = oid.split_first() else {
        return "(empty)".into();
    };
    let mut parts = vec![(first / 40).to_string(), (first % 40).to_string()];
    let mut acc: u64 = 0;
    for &b in rest {
        acc = (acc << 7) | (b & 0x7f) as u64;
        if b & 0x80 == 0 {
            parts.push(acc.to_string());
            acc = 0;
        }
    }
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA1024: &str = include_str!("../../../testdata/dkim/rsa1024.spki.b64");
    const RSA2048: &str = include_str!("../../../testdata/dkim/rsa2048.spki.b64");
    const RSA2048_PKCS1: &str = include_str!("../../../testdata/dkim/rsa2048.pkcs1.b64");
    const RSA512: &str = include_str!("../../../testdata/dkim/rsa512.spki.b64");
    const RSA4096: &str = include_str!("../../../testdata/dkim/rsa4096.spki.b64");
    const ED_RAW: &str = include_str!("../../../testdata/dkim/ed25519.raw.b64");
    const ED_SPKI: &str = include_str!("../../../testdata/dkim/ed25519.spki.b64");

    fn codes(r: &KeyRecord) -> Vec<&'static str> {
        r.diagnostics.iter().map(|d| d.code).collect()
    }

    fn rsa_bits(r: &KeyRecord) -> u32 {
        match &r.key {
            KeyData::Valid {
                key: PublicKey::Rsa { modulus_bits, .. },
            } => *modulus_bits,
            other => panic!("not an RSA key: {other:?}"),
        }
    }

    #[test]
    fn real_rsa_keys_are_measured() {
        for (b64, bits) in [(RSA512, 512), (RSA1024, 1024), (RSA2048, 2048), (RSA4096, 4096)] {
            let r = parse_key_record(&format!("v=DKIM1; k=rsa; p={}", b64.trim()));
            assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
            assert_eq!(rsa_bits(&r), bits);
        }
        let r = parse_key_record(&format!("p={}", RSA2048_PKCS1.trim()));
        assert_eq!(rsa_bits(&r), 2048);
        assert!(matches!(
            r.key,
            KeyData::Valid {
                key: PublicKey::Rsa {
                    encoding: RsaEncoding::Pkcs1,
                    exponent: Some(65537),
                    ..
                }
            }
        ));
    }

    #[test]
    fn ed25519_raw_is_valid_and_spki_wrapped_is_not() {
        let r = parse_key_record(&format!("v=DKIM1; k=ed25519; p={}", ED_RAW.trim()));
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        assert_eq!(
            r.key,
            KeyData::Valid {
                key: PublicKey::Ed25519
            }
        );
        let r = parse_key_record(&format!("v=DKIM1; k=ed25519; p={}", ED_SPKI.trim()));
        assert_eq!(codes(&r), ["key-invalid"]);
        // A raw Ed25519 key without k=ed25519 is read as RSA and rejected.
        let r = parse_key_record(&format!("v=DKIM1; p={}", ED_RAW.trim()));
        assert_eq!(codes(&r), ["key-invalid"]);
        assert!(r.diagnostics[0].message.contains("k=ed25519"));
        // An RSA key labelled ed25519.
        let r = parse_key_record(&format!("k=ed25519; p={}", RSA1024.trim()));
        assert!(r.diagnostics[0].message.contains("RSA key"), "{:?}", r.diagnostics);
    }

    #[test]
    fn rfc8463_example_key_parses() {
        let r = parse_key_record("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    }

    #[test]
    fn key_split_with_whitespace_is_joined() {
        let b = RSA2048.trim();
        let text = format!("v=DKIM1; k=rsa; p={} {}", &b[..200], &b[200..]);
        assert_eq!(rsa_bits(&parse_key_record(&text)), 2048);
    }

    #[test]
    fn revoked_missing_and_garbage_keys_are_errors() {
        let r = parse_key_record("v=DKIM1; k=rsa; p=");
        assert_eq!(r.key, KeyData::Revoked);
        assert_eq!(codes(&r), ["key-revoked"]);
        let r = parse_key_record("v=DKIM1; k=rsa");
        assert_eq!(r.key, KeyData::Missing);
        assert_eq!(codes(&r), ["key-missing"]);
        let r = parse_key_record("v=DKIM1; p=!!!notbase64");
        assert_eq!(codes(&r), ["key-base64"]);
        let r = parse_key_record("v=DKIM1; p=aGVsbG8gd29ybGQgdGhpcyBpcyBub3QgYSBrZXk=");
        assert_eq!(codes(&r), ["key-invalid"]);
        // Truncated key: the last characters cut off by a DNS panel.
        let b = RSA2048.trim();
        let r = parse_key_record(&format!("p={}", &b[..b.len() - 40]));
        assert!(r.has_errors(), "{:?}", r.diagnostics);
    }

    #[test]
    fn missing_padding_is_a_warning() {
        let b = RSA1024.trim().trim_end_matches('=');
        let r = parse_key_record(&format!("v=DKIM1; p={b}"));
        if RSA1024.trim().ends_with('=') {
            assert_eq!(codes(&r), ["base64-padding"]);
        }
        assert_eq!(rsa_bits(&r), 1024);
    }

    #[test]
    fn version_rules() {
        let k = RSA1024.trim();
        let r = parse_key_record(&format!("k=rsa; v=DKIM1; p={k}"));
        assert_eq!(codes(&r), ["version-not-first"]);
        assert_eq!(r.diagnostics[0].span.start, 7);
        let r = parse_key_record(&format!("v=DKIM2; p={k}"));
        assert_eq!(codes(&r), ["version"]);
        assert_eq!(r.diagnostics[0].span, Span::new(2, 7));
        let r = parse_key_record(&format!("v=dkim1; p={k}"));
        assert_eq!(codes(&r), ["version-case"]);
        let r = parse_key_record(&format!("p={k}"));
        assert!(r.diagnostics.is_empty());
    }

    #[test]
    fn key_type_and_hash_and_flags() {
        let k = RSA1024.trim();
        let r = parse_key_record(&format!("v=DKIM1; k=dsa; p={k}"));
        assert_eq!(codes(&r), ["key-type"]);
        assert_eq!(r.key, KeyData::Unchecked);
        let r = parse_key_record(&format!("v=DKIM1; h=sha1; p={k}"));
        assert_eq!(codes(&r), ["sha1-only"]);
        let r = parse_key_record(&format!("v=DKIM1; h=sha1:sha256; p={k}"));
        assert_eq!(codes(&r), ["sha1-allowed"]);
        assert!(r.allows_sha1() && r.allows_sha256());
        let r = parse_key_record(&format!("v=DKIM1; h=sha512; p={k}"));
        assert_eq!(codes(&r), ["hash-unknown", "hash-none"]);
        let r = parse_key_record(&format!("v=DKIM1; t=y:s:x; p={k}"));
        assert_eq!(codes(&r), ["flag-unknown"]);
        assert!(r.testing() && r.strict());
        let r = parse_key_record(&format!("v=DKIM1; s=tlsrpt; p={k}"));
        assert_eq!(codes(&r), ["service-type"]);
        let r = parse_key_record(&format!("v=DKIM1; s=email:*; n=notes here; p={k}"));
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    }

    #[test]
    fn tag_list_grammar_with_positions() {
        let k = RSA1024.trim();
        let text = format!("v=DKIM1; p={k}; p={k}");
        let r = parse_key_record(&text);
        assert_eq!(codes(&r), ["duplicate-tag"]);
        assert_eq!(r.diagnostics[0].span.start, 13 + k.len());
        let r = parse_key_record(&format!("v=DKIM1; junk; p={k}"));
        assert_eq!(codes(&r), ["tag-without-value"]);
        assert_eq!(r.diagnostics[0].span, Span::new(9, 13));
        let r = parse_key_record(&format!("v=DKIM1; 9x=1; p={k}"));
        assert_eq!(codes(&r), ["tag-name", "unknown-tag"]);
        let r = parse_key_record(&format!("v=DKIM1;; p={k};"));
        assert_eq!(codes(&r), ["empty-tag"]);
        let r = parse_key_record(&format!("v=DKIM1; n=caf\u{e9}; p={k}"));
        assert_eq!(codes(&r), ["value-char"]);
        let r = parse_key_record(&format!("V=DKIM1; P={k}"));
        assert_eq!(codes(&r), ["unknown-tag", "unknown-tag", "key-missing"]);
        assert!(r.diagnostics[0].message.contains("case-sensitive"));
        let r = parse_key_record(&format!("v=DKIM1; g=*; p={k}"));
        assert_eq!(codes(&r), ["unknown-tag"]);
        assert!(parse_key_record("").has_errors());
        assert!(parse_key_record("   ").has_errors());
    }

    #[test]
    fn looks_like_key_record_separates_dkim_from_wildcard_txt() {
        assert!(looks_like_key_record("v=DKIM1; p="));
        assert!(looks_like_key_record("k=rsa; p=abc"));
        assert!(looks_like_key_record("p=abc"));
        assert!(!looks_like_key_record("v=spf1 -all"));
        assert!(!looks_like_key_record("google-site-verification=abc"));
    }

    #[test]
    fn der_parser_rejects_malformed_structures() {
        assert!(parse_rsa_public_key(&[]).is_err());
        assert!(parse_rsa_public_key(&[0x30, 0x80]).is_err());
        assert!(parse_rsa_public_key(&[0x30, 0x05, 0x02, 0x01]).is_err());
        // Negative modulus.
        assert!(parse_rsa_public_key(&[0x30, 0x06, 0x02, 0x01, 0x85, 0x02, 0x01, 0x03]).is_err());
        // Tiny but well-formed: n = 0x85 (133), e = 3.
        let ok = parse_rsa_public_key(&[0x30, 0x07, 0x02, 0x02, 0x00, 0x85, 0x02, 0x01, 0x03]).unwrap();
        assert_eq!(ok, (8, Some(3), RsaEncoding::Pkcs1));
        // Trailing data after the key.
        assert!(parse_rsa_public_key(&[0x30, 0x07, 0x02, 0x02, 0x00, 0x85, 0x02, 0x01, 0x03, 0x00]).is_err());
        // Even exponent.
        assert!(parse_rsa_public_key(&[0x30, 0x07, 0x02, 0x02, 0x00, 0x85, 0x02, 0x01, 0x04]).is_err());
    }

    #[test]
    fn parser_never_panics_on_odd_input() {
        for text in [
            ";",
            "=",
            "==",
            "p",
            "p=;",
            "v=",
            ";;;;",
            "v=DKIM1;p",
            "\u{0}",
            "é=é",
            "a=b=c",
            "p= = =",
        ] {
            // None of these holds a usable key: each must say so, not just not panic.
            let parsed = parse_key_record(text);
            assert!(
                parsed.diagnostics.iter().any(|d| d.level == Level::Error),
                "{text:?} got no error: {:?}",
                parsed.diagnostics
            );
        }
    }
}

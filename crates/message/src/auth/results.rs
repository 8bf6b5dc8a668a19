//! `Authentication-Results` (RFC 8601): what a receiving server says it
//! verified, to compare with what mailwarden verifies.
//!
//! RFC 8601 §2.2: `authres-header-field = "Authentication-Results:"
//! authserv-id [ CFWS authres-version ] ( no-result / 1*resinfo ) CRLF`,
//! each `resinfo` being `";" methodspec [ reasonspec ] *propspec`.
//! Only fields written at or after the trusted hop count (RFC 8601 §5:
//! "An MTA operating on a message ... SHOULD delete any existing
//! Authentication-Results header field that claims to be from it"; fields
//! further down were written by others and are not the receiver's claim).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Analysis;

/// One method's result as claimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    pub authserv_id: String,
    /// dkim, spf, dmarc, arc, iprev ...
    pub method: String,
    pub result: String,
    /// `header.d`, `smtp.mailfrom`, `header.from` ...
    pub props: BTreeMap<String, String>,
    /// The position of the header field (0 = top).
    pub field_index: usize,
}

/// Parse one `Authentication-Results` value.
pub fn parse_authentication_results(value: &str, field_index: usize) -> Vec<Claim> {
    let clean = strip_comments(value);
    let mut parts = clean.split(';');
    let authserv_id = parts
        .next()
        .and_then(|p| p.split_whitespace().next())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut out = Vec::new();
    for part in parts {
        let mut words = part.split_whitespace();
        let Some((method, result)) = words.next().and_then(|w| w.split_once('=')) else {
            continue;
        };
        let method = method.split('/').next().unwrap_or(method).to_ascii_lowercase();
        let mut props = BTreeMap::new();
        for w in words {
            if let Some((k, v)) = w.split_once('=') {
                props.insert(k.to_ascii_lowercase(), v.trim_matches('"').to_string());
            }
        }
        out.push(Claim {
            authserv_id: authserv_id.clone(),
            method,
            result: result.to_ascii_lowercase(),
            props,
            field_index,
        });
    }
    out
}

/// Remove `(comments)` outside quoted strings; keep quoted text.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The claims written at or after the trusted hop: fields above the
/// `Received` field of the hop before it.
pub fn claims_at_boundary(a: &Analysis) -> Vec<Claim> {
    let bound = a
        .trusted
        .and_then(|t| t.checked_sub(1))
        .and_then(|i| a.path.hops.get(i))
        .map(|h| h.field_index);
    if a.trusted.is_none() && !a.path.hops.is_empty() {
        return Vec::new();
    }
    a.headers
        .all("authentication-results")
        .filter(|f| bound.is_none_or(|b| f.index < b))
        .flat_map(|f| parse_authentication_results(&f.value, f.index))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_results_and_properties_are_read() {
        let c = parse_authentication_results(
            "mx.example.net; dkim=pass (2048-bit key; unprotected) header.d=example.org header.s=sel header.b=AbCd; spf=softfail (domain of x designates ...) smtp.mailfrom=bounce@example.org; dmarc=fail (p=REJECT) header.from=example.org; arc=none",
            3,
        );
        let methods: Vec<(&str, &str)> = c.iter().map(|c| (c.method.as_str(), c.result.as_str())).collect();
        assert_eq!(
            methods,
            [
                ("dkim", "pass"),
                ("spf", "softfail"),
                ("dmarc", "fail"),
                ("arc", "none")
            ]
        );
        assert_eq!(c[0].authserv_id, "mx.example.net");
        assert_eq!(c[0].props["header.d"], "example.org");
        assert_eq!(c[1].props["smtp.mailfrom"], "bounce@example.org");
        assert_eq!(c[0].field_index, 3);
    }

    #[test]
    fn no_result_and_garbage_give_no_claims() {
        assert!(parse_authentication_results("mx.example.net 1; none", 0).is_empty());
        assert!(parse_authentication_results("", 0).is_empty());
        assert!(parse_authentication_results(";;;(((", 0).is_empty());
    }
}

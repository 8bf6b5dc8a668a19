//! `Authentication-Results` (RFC 8601) and `Received-SPF` (RFC 7208
//! §9.1): what a receiving server says it verified, to compare with what
//! mailwarden verifies.
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
    /// The header field that claims it: `Authentication-Results` or
    /// `Received-SPF`.
    pub field: &'static str,
    /// The authserv-id; for Received-SPF its `receiver=`, when given.
    pub authserv_id: String,
    /// dkim, spf, dmarc, arc, iprev ...
    pub method: String,
    pub result: String,
    /// `header.d`, `smtp.mailfrom`, `header.from` ...
    pub props: BTreeMap<String, String>,
    /// The position of the header field (0 = top).
    pub field_index: usize,
}

pub const AUTHENTICATION_RESULTS: &str = "Authentication-Results";
pub const RECEIVED_SPF: &str = "Received-SPF";

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
            field: AUTHENTICATION_RESULTS,
            authserv_id: authserv_id.clone(),
            method,
            result: result.to_ascii_lowercase(),
            props,
            field_index,
        });
    }
    out
}

/// Parse one `Received-SPF` value (RFC 7208 §9.1: `"Received-SPF:"
/// [CFWS] result FWS [comment FWS] [ key-value-list ]`, the pairs being
/// `key [CFWS] "=" ( dot-atom / quoted-string )` separated by `;`). The
/// keys become the Authentication-Results properties they correspond to
/// (`envelope-from` → `smtp.mailfrom`, `helo` → `smtp.helo`), so the two
/// fields compare alike; `identity=helo` makes it a claim about HELO.
/// `None` when the result is not one of RFC 7208's seven words.
pub fn parse_received_spf(value: &str, field_index: usize) -> Option<Claim> {
    let clean = strip_comments(value);
    let (result, rest) = clean
        .trim_start()
        .split_once(char::is_whitespace)
        .unwrap_or_else(|| (clean.trim(), ""));
    let result = result.to_ascii_lowercase();
    const RESULTS: [&str; 7] = ["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"];
    if !RESULTS.contains(&result.as_str()) {
        return None;
    }
    let pairs: BTreeMap<String, String> = rest
        .split(';')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_string()))
        .collect();
    let helo_identity = pairs.get("identity").is_some_and(|i| i.eq_ignore_ascii_case("helo"));
    let mut props = BTreeMap::new();
    for (k, v) in &pairs {
        let key = match k.as_str() {
            "envelope-from" if !helo_identity => "smtp.mailfrom",
            "helo" if helo_identity => "smtp.helo",
            "client-ip" | "identity" | "receiver" | "problem" => k.as_str(),
            _ => continue,
        };
        props.insert(key.to_string(), v.clone());
    }
    Some(Claim {
        field: RECEIVED_SPF,
        authserv_id: pairs.get("receiver").cloned().unwrap_or_default().to_ascii_lowercase(),
        method: "spf".into(),
        result,
        props,
        field_index,
    })
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
    let within = |f: &&crate::header::Field| bound.is_none_or(|b| f.index < b);
    let mut claims: Vec<Claim> = a
        .headers
        .all("authentication-results")
        .filter(within)
        .flat_map(|f| parse_authentication_results(&f.value, f.index))
        .collect();
    // RFC 7208 §9.1: "The Received-SPF header field is a trace field ... and
    // SHOULD be prepended to the existing header, above the Received: field
    // that is generated by the SMTP receiver."
    claims.extend(
        a.headers
            .all("received-spf")
            .filter(within)
            .filter_map(|f| parse_received_spf(&f.value, f.index)),
    );
    claims
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
    fn received_spf_reads_like_an_spf_claim() {
        let c = parse_received_spf(
            "Pass (mx.example.net: domain of alice@example.org designates 192.0.2.10 as permitted sender) client-ip=192.0.2.10; envelope-from=\"alice@example.org\"; helo=mail.example.org; receiver=mx.example.net; identity=mailfrom",
            2,
        )
        .unwrap();
        assert_eq!(
            (c.field, c.method.as_str(), c.result.as_str()),
            (RECEIVED_SPF, "spf", "pass")
        );
        assert_eq!(c.authserv_id, "mx.example.net");
        assert_eq!(c.props["smtp.mailfrom"], "alice@example.org");
        assert_eq!(c.props["client-ip"], "192.0.2.10");
        assert!(!c.props.contains_key("smtp.helo"));
        let helo = parse_received_spf("softfail identity=helo; helo=mail.example.org", 0).unwrap();
        assert_eq!(helo.props["smtp.helo"], "mail.example.org");
        assert!(!helo.props.contains_key("smtp.mailfrom"));
    }

    #[test]
    fn received_spf_without_a_known_result_is_no_claim() {
        assert!(parse_received_spf("", 0).is_none());
        assert!(parse_received_spf("maybe (x) client-ip=1.2.3.4", 0).is_none());
        assert!(parse_received_spf("(only a comment)", 0).is_none());
    }

    #[test]
    fn no_result_and_garbage_give_no_claims() {
        assert!(parse_authentication_results("mx.example.net 1; none", 0).is_empty());
        assert!(parse_authentication_results("", 0).is_empty());
        assert!(parse_authentication_results(";;;(((", 0).is_empty());
    }
}

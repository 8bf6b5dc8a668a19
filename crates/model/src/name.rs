//! Domain names as mailwarden handles them: lower-case, no trailing dot,
//! checked against RFC 1035 length limits.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a usable domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty domain name")]
    /// Nothing was given.
    Empty,
    #[error("domain name is longer than 253 characters")]
    /// More than 253 characters (RFC 1035 §2.3.4).
    TooLong,
    #[error("label {0:?} is empty or longer than 63 characters")]
    /// A label that is empty or over 63 characters (RFC 1035 §2.3.4).
    BadLabelLength(String),
    #[error("label {0:?} contains a character other than letters, digits, '-', '_' or '*'")]
    /// A character a host name may not have.
    BadCharacter(String),
    #[error("{0:?} is an IP address, not a domain name")]
    /// An IP address where a name was expected.
    IpLiteral(String),
}

/// A validated, normalised domain name (lower case, no trailing dot).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DomainName(String);

impl DomainName {
    /// Parse and normalise a name typed by a user or found in a record.
    ///
    /// Accepts an optional trailing dot; refuses IP literals, empty labels,
    /// labels over 63 octets and names over 253 octets (RFC 1035 §2.3.4).
    /// Underscores are allowed because service labels (`_dmarc`) use them.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let trimmed = input.trim();
        let name = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.parse::<std::net::IpAddr>().is_ok() {
            return Err(NameError::IpLiteral(name.to_string()));
        }
        if name.len() > 253 {
            return Err(NameError::TooLong);
        }
        let lower = name.to_ascii_lowercase();
        for label in lower.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(NameError::BadLabelLength(label.to_string()));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*')
            {
                return Err(NameError::BadCharacter(label.to_string()));
            }
        }
        Ok(Self(lower))
    }

    /// The name without a trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Prefix a label: `DomainName("example.com").child("_dmarc")`.
    pub fn child(&self, label: &str) -> String {
        format!("{label}.{}", self.0)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Normalise a name for use as a lookup key: lower case, no trailing dot.
/// Unlike [`DomainName::parse`] this never fails; lookups of odd names
/// (from a record's target) are answered by DNS, not refused here.
pub fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises_case_and_trailing_dot() {
        assert_eq!(DomainName::parse("Example.COM.").unwrap().as_str(), "example.com");
    }

    #[test]
    fn parse_refuses_bad_names() {
        assert_eq!(DomainName::parse(""), Err(NameError::Empty));
        assert!(matches!(DomainName::parse("192.0.2.1"), Err(NameError::IpLiteral(_))));
        assert!(matches!(DomainName::parse("a..b"), Err(NameError::BadLabelLength(_))));
        assert!(matches!(
            DomainName::parse("exa mple.com"),
            Err(NameError::BadCharacter(_))
        ));
        assert!(matches!(
            DomainName::parse(&format!("{}.com", "a".repeat(64))),
            Err(NameError::BadLabelLength(_))
        ));
        assert_eq!(DomainName::parse(&"a.".repeat(130)), Err(NameError::TooLong));
    }
}

//! TLSA records (RFC 6698 §2) as the DANE judge matches them. The DNS
//! layer parses them once (`mailwarden_model::rdata`, typed
//! `RData::Tlsa`); this is what a judge derives from one.

use serde::Serialize;

/// One parsed TLSA record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tlsa {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE (RFC 7218 names).
    pub usage: u8,
    /// 0 full certificate, 1 SubjectPublicKeyInfo.
    pub selector: u8,
    /// 0 exact match, 1 SHA-256, 2 SHA-512.
    pub matching_type: u8,
    /// The association data, lower-case hex.
    pub data: String,
}

impl Tlsa {
    /// `3 1 1` style short form.
    pub fn params(&self) -> String {
        format!("{} {} {}", self.usage, self.selector, self.matching_type)
    }

    /// The RFC 7218 acronym of the usage.
    pub fn usage_name(&self) -> &'static str {
        usage_name(self.usage)
    }

    /// Why the record cannot be used by any client, if so: RFC 7671 §4
    /// has clients treat unknown parameters as unusable, and a digest of
    /// the wrong length can never match.
    pub fn unusable(&self) -> Option<String> {
        if self.usage > 3 {
            return Some(format!("certificate usage {} is not defined (0-3)", self.usage));
        }
        if self.selector > 1 {
            return Some(format!("selector {} is not defined (0 or 1)", self.selector));
        }
        let octets = self.data.len() / 2;
        match self.matching_type {
            0 if octets == 0 => Some("matching type 0 with no data".into()),
            1 if octets != 32 => Some(format!(
                "matching type 1 (SHA-256) needs 32 octets of data, not {octets}"
            )),
            2 if octets != 64 => Some(format!(
                "matching type 2 (SHA-512) needs 64 octets of data, not {octets}"
            )),
            0..=2 => None,
            m => Some(format!("matching type {m} is not defined (0-2)")),
        }
    }
}

/// The RFC 7218 acronym of a certificate usage.
pub fn usage_name(usage: u8) -> &'static str {
    match usage {
        0 => "PKIX-TA",
        1 => "PKIX-EE",
        2 => "DANE-TA",
        3 => "DANE-EE",
        _ => "unassigned",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1";

    fn tlsa(usage: u8, selector: u8, matching_type: u8, data: &str) -> Tlsa {
        Tlsa {
            usage,
            selector,
            matching_type,
            data: data.into(),
        }
    }

    #[test]
    fn names_and_unusable_parameters() {
        let t = tlsa(3, 1, 1, H);
        assert_eq!(t.params(), "3 1 1");
        assert_eq!(t.usage_name(), "DANE-EE");
        assert!(t.unusable().is_none());
        assert!(tlsa(3, 1, 1, "abcd").unusable().unwrap().contains("32 octets"));
        assert!(tlsa(4, 1, 1, H).unusable().is_some());
        assert!(tlsa(3, 2, 1, H).unusable().is_some());
        assert!(tlsa(3, 1, 3, H).unusable().is_some());
        assert!(tlsa(3, 1, 2, &format!("{H}{H}")).unusable().is_none());
        assert!(tlsa(3, 1, 0, "").unusable().unwrap().contains("no data"));
    }
}

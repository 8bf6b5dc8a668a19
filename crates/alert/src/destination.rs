//! Where alerts go. Destinations are configured by the operator, not taken
//! from a scanned domain, so the scanner's egress guard does not apply.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One configured destination, stored as JSON in `alert_destinations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Destination {
    /// An HTTP(S) endpoint that receives each alert as a JSON POST.
    Webhook {
        /// `http://` or `https://` URL.
        url: String,
        /// HMAC-SHA256 key for the signature header; unsigned without one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
    },
    /// A mailbox reached through an SMTP relay.
    Email {
        /// Recipient address.
        to: String,
        /// The relay, `HOST:PORT`.
        smtp: String,
        /// Require STARTTLS (RFC 3207) before sending.
        #[serde(default)]
        starttls: bool,
        /// Sender address.
        from: String,
        /// PEM file of CAs the relay's certificate may chain to, in addition
        /// to the public roots.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ca_file: Option<PathBuf>,
    },
    /// A syslog collector speaking RFC 5424.
    Syslog {
        /// The collector, `HOST:PORT`.
        address: String,
        /// TCP with RFC 6587 octet counting instead of one UDP datagram.
        #[serde(default)]
        tcp: bool,
    },
}

/// The sender address used when none is given.
pub const DEFAULT_FROM: &str = "mailwarden@localhost";

impl Destination {
    /// A webhook, after checking the URL.
    pub fn webhook(url: &str, secret: Option<String>) -> Result<Self, DestinationError> {
        crate::webhook::Target::parse(url)?;
        if secret.as_deref() == Some("") {
            return Err(DestinationError::EmptySecret);
        }
        Ok(Self::Webhook {
            url: url.to_owned(),
            secret,
        })
    }

    /// An e-mail destination, after checking the addresses and relay.
    pub fn email(
        to: &str,
        smtp: &str,
        starttls: bool,
        from: Option<&str>,
        ca_file: Option<PathBuf>,
    ) -> Result<Self, DestinationError> {
        let from = from.unwrap_or(DEFAULT_FROM);
        for (what, address) in [("recipient", to), ("sender", from)] {
            address
                .parse::<lettre::Address>()
                .map_err(|e| DestinationError::NotAnAddress {
                    what,
                    address: address.to_owned(),
                    reason: e.to_string(),
                })?;
        }
        host_port(smtp, "--smtp")?;
        Ok(Self::Email {
            to: to.to_owned(),
            smtp: smtp.to_owned(),
            starttls,
            from: from.to_owned(),
            ca_file,
        })
    }

    /// A syslog destination, after checking the address.
    pub fn syslog(address: &str, tcp: bool) -> Result<Self, DestinationError> {
        host_port(address, "the syslog address")?;
        Ok(Self::Syslog {
            address: address.to_owned(),
            tcp,
        })
    }

    /// The short type name: `webhook`, `email` or `syslog`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Webhook { .. } => "webhook",
            Self::Email { .. } => "email",
            Self::Syslog { .. } => "syslog",
        }
    }
}

/// Shown in `alert list`: never the webhook secret.
impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Webhook { url, secret } => {
                write!(
                    f,
                    "webhook {url}{}",
                    if secret.is_some() { " (signed)" } else { " (unsigned)" }
                )
            }
            Self::Email { to, smtp, starttls, .. } => {
                write!(f, "email {to} via {smtp}{}", if *starttls { " (STARTTLS)" } else { "" })
            }
            Self::Syslog { address, tcp } => write!(f, "syslog {address} ({})", if *tcp { "tcp" } else { "udp" }),
        }
    }
}

/// What is wrong with a destination: each message names the field and
/// the value, as `alert add` and the web form show it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    /// The webhook URL does not parse.
    #[error("the webhook URL {url:?} is not a URL: {reason}")]
    NotAUrl {
        /// The URL as given.
        url: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The webhook URL is neither `http://` nor `https://`.
    #[error("the webhook URL {url:?} must start with http:// or https://")]
    Scheme {
        /// The URL as given.
        url: String,
    },
    /// The webhook URL names no host.
    #[error("the webhook URL {url:?} has no host")]
    NoHost {
        /// The URL as given.
        url: String,
    },
    /// `--secret ""`: an empty key would sign with nothing.
    #[error("--secret is empty; leave it out for unsigned webhooks")]
    EmptySecret,
    /// A recipient or sender that is not an e-mail address.
    #[error("the {what} address {address:?} is not an e-mail address: {reason}")]
    NotAnAddress {
        /// `recipient` or `sender`.
        what: &'static str,
        /// The address as given.
        address: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A relay or syslog address that is not `HOST:PORT` (port 1-65535).
    #[error("{what} {text:?} is not HOST:PORT")]
    NotHostPort {
        /// Which field: `--smtp`, `the syslog address`.
        what: String,
        /// The text as given.
        text: String,
    },
}

/// Splits `HOST:PORT` (`[v6]:PORT` for IPv6 literals).
pub fn host_port(text: &str, what: &str) -> Result<(String, u16), DestinationError> {
    let bad = || DestinationError::NotHostPort {
        what: what.to_owned(),
        text: text.to_owned(),
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_destinations_say_what_is_wrong() {
        let shown = |r: Result<Destination, DestinationError>| r.unwrap_err().to_string();
        assert_eq!(
            shown(Destination::webhook("ftp://x", None)),
            "the webhook URL \"ftp://x\" must start with http:// or https://"
        );
        assert!(shown(Destination::webhook("http://x/", Some(String::new()))).contains("empty"));
        assert!(shown(Destination::email("nobody", "127.0.0.1:25", false, None, None)).contains("recipient"));
        assert_eq!(
            shown(Destination::email("a@b.test", "relay", false, None, None)),
            "--smtp \"relay\" is not HOST:PORT"
        );
        assert!(shown(Destination::syslog("127.0.0.1:0", false)).contains("HOST:PORT"));
    }

    #[test]
    fn good_destinations_round_trip_through_json_and_hide_the_secret() {
        let dests = [
            Destination::webhook("https://hooks.example/alert", Some("s3cret".into())).unwrap(),
            Destination::email("ops@example.test", "127.0.0.1:2525", true, None, None).unwrap(),
            Destination::syslog("[::1]:514", true).unwrap(),
        ];
        for d in dests {
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(serde_json::from_str::<Destination>(&json).unwrap(), d);
            assert!(!d.to_string().contains("s3cret"), "{d}");
        }
        assert_eq!(host_port("[::1]:514", "x").unwrap(), ("::1".to_owned(), 514));
    }
}

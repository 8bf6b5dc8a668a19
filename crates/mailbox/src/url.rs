//! `imaps://HOST[:PORT]/FOLDER` (RFC 5092's scheme, reduced to what
//! `reports fetch` needs): where to connect, how to secure it, and which
//! folder to read. The user and password come from flags, never the URL,
//! so they do not end up in shell history or process listings.

use std::fmt;

/// How the connection is protected. There is no cleartext mode: a
/// password is never sent unencrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (RFC 8314 §3.2, port 993).
    Tls,
    /// A plain connection upgraded with STARTTLS before login (RFC 3501
    /// §6.2.1, port 143).
    StartTls,
}

/// A parsed mailbox address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxUrl {
    pub security: Security,
    /// A DNS name or an IP address (without brackets).
    pub host: String,
    pub port: u16,
    /// The folder name as the user wrote it (decoded from the URL).
    pub folder: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url}: {why}")]
pub struct UrlError {
    pub url: String,
    pub why: String,
}

impl MailboxUrl {
    /// Parse `text`. `starttls` asks for STARTTLS on an `imaps://` URL;
    /// `imap://` always means STARTTLS.
    pub fn parse(text: &str, starttls: bool) -> Result<MailboxUrl, UrlError> {
        let fail = |why: &str| UrlError {
            url: text.to_string(),
            why: why.to_string(),
        };
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| fail("expected imaps://HOST[:PORT]/FOLDER"))?;
        let security = match scheme.to_ascii_lowercase().as_str() {
            "imaps" if !starttls => Security::Tls,
            "imaps" | "imap" => Security::StartTls,
            _ => return Err(fail("the scheme must be imaps:// (or imap:// with STARTTLS)")),
        };
        if rest.contains(['?', '#']) {
            return Err(fail("a query or fragment is not supported"));
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.contains('@') {
            return Err(fail("give the user with --user, not in the URL"));
        }
        let (host, port) = split_host_port(authority).map_err(|why| fail(&why))?;
        let folder = percent_decode(path).map_err(|why| fail(&why))?;
        let folder = if folder.is_empty() { "INBOX".to_string() } else { folder };
        if folder.contains(['\r', '\n', '\0']) {
            return Err(fail("the folder name holds a control character"));
        }
        let default_port = match security {
            Security::Tls => 993,
            Security::StartTls => 143,
        };
        Ok(MailboxUrl {
            security,
            host,
            port: port.unwrap_or(default_port),
            folder,
        })
    }
}

impl fmt::Display for MailboxUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let scheme = match self.security {
            Security::Tls => "imaps",
            Security::StartTls => "imap",
        };
        write!(f, "{scheme}://{host}:{}/{}", self.port, self.folder)
    }
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (host, after) = inner.split_once(']').ok_or("an IPv6 address needs its closing ']'")?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("expected ':PORT' after ']'")?),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let port = port
        .map(|p| match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{p:?} is not a port number")),
        })
        .transpose()?;
    Ok((host.to_string(), port))
}

/// `%XX` escapes (RFC 3986 §2.1) decoded; the result must be UTF-8.
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape at byte {}", i + 1))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the folder name is not UTF-8 once decoded".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> MailboxUrl {
        MailboxUrl::parse(s, false).unwrap()
    }

    #[test]
    fn imaps_defaults_to_993_and_inbox() {
        let u = parse("imaps://mail.example.com");
        assert_eq!(
            (u.security, u.host.as_str(), u.port),
            (Security::Tls, "mail.example.com", 993)
        );
        assert_eq!(u.folder, "INBOX");
    }

    #[test]
    fn port_and_nested_folder_are_kept() {
        let u = parse("imaps://127.0.0.1:10993/Reports/DMARC%20rua");
        assert_eq!(u.port, 10993);
        assert_eq!(u.folder, "Reports/DMARC rua");
    }

    #[test]
    fn starttls_by_flag_or_by_plain_scheme_defaults_to_143() {
        let a = MailboxUrl::parse("imaps://h/INBOX", true).unwrap();
        let b = MailboxUrl::parse("imap://h/INBOX", false).unwrap();
        assert_eq!((a.security, a.port), (Security::StartTls, 143));
        assert_eq!((b.security, b.port), (Security::StartTls, 143));
    }

    #[test]
    fn ipv6_literal_with_port() {
        let u = parse("imaps://[::1]:1993/x");
        assert_eq!((u.host.as_str(), u.port), ("::1", 1993));
        assert_eq!(u.to_string(), "imaps://[::1]:1993/x");
    }

    #[test]
    fn rejects_what_it_cannot_use() {
        for bad in [
            "https://h/x",
            "mail.example.com/INBOX",
            "imaps://user@h/INBOX",
            "imaps://h:0/x",
            "imaps://h:99999/x",
            "imaps://:993/x",
            "imaps://h/x?y",
            "imaps://h/%zz",
            "imaps://h/a%0Db",
            "imaps://[::1/x",
        ] {
            let e = MailboxUrl::parse(bad, false).unwrap_err();
            assert_eq!(e.url, bad, "{bad}: {e}");
        }
    }
}

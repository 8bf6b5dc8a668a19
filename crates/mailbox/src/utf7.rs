//! Folder names on the wire: IMAP's modified UTF-7 (RFC 3501 §5.1.3), so
//! `--move-to Berichte/Übersicht` names the folder a mail client shows.
//!
//! RFC 3501 §5.1.3: "printable US-ASCII characters, except for "&",
//! represent themselves ... "&" is used to shift to modified BASE64 and
//! "-" to shift back to US-ASCII ... "&" itself is represented by "&-"."

use base64::Engine as _;
use base64::alphabet::Alphabet;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};

/// "modified BASE64, with a further modification from [UTF-7] that ","
/// is used instead of "/"" and without padding.
fn engine() -> GeneralPurpose {
    // The alphabet is a constant of 64 distinct characters: it cannot fail.
    let alphabet = Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")
        .unwrap_or(base64::alphabet::STANDARD);
    GeneralPurpose::new(&alphabet, GeneralPurposeConfig::new().with_encode_padding(false))
}

/// Encode a folder name for the wire.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut pending, &mut out);
    out
}

fn flush(pending: &mut Vec<u16>, out: &mut String) {
    if pending.is_empty() {
        return;
    }
    let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    out.push_str(&engine().encode(bytes));
    out.push('-');
    pending.clear();
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn ascii_is_itself_and_ampersand_is_escaped() {
        assert_eq!(encode("INBOX/Reports"), "INBOX/Reports");
        assert_eq!(encode("R&D"), "R&-D");
    }

    #[test]
    fn rfc_3501_examples() {
        // RFC 3501 §5.1.3: "~peter/mail/&U,BTFw-/&ZeVnLIqe-" is
        // "~peter/mail/台北/日本語".
        assert_eq!(encode("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
    }

    #[test]
    fn non_bmp_characters_use_surrogate_pairs() {
        // U+1F4E7 (e-mail symbol): D83D DCE7.
        assert_eq!(encode("📧"), "&2D3c5w-");
        assert_eq!(encode("Übersicht"), "&ANw-bersicht");
    }
}

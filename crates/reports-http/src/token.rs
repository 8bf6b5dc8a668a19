//! The upload endpoint's bearer token (RFC 6750 §2.1 "Authorization:
//! Bearer"). Compared as SHA-256 digests, so the time a comparison takes
//! says nothing about how much of a guess was right.

use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is empty")]
    Empty,
    #[error("the token has {0} characters; at least 16 are required")]
    Short(usize),
    #[error("the token holds whitespace or control characters")]
    Whitespace,
}

impl Token {
    /// The first line of a token file. RFC 6750 §2.1's b64token has no
    /// spaces; at least 16 characters keep guessing out of reach.
    pub fn from_file_text(text: &str) -> Result<Token, TokenError> {
        let token = text.lines().next().unwrap_or_default().trim_end_matches('\r');
        if token.is_empty() {
            return Err(TokenError::Empty);
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TokenError::Whitespace);
        }
        let n = token.chars().count();
        if n < 16 {
            return Err(TokenError::Short(n));
        }
        Ok(Token {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// Whether an `Authorization` header value carries this token. The
    /// scheme name is case-insensitive (RFC 9110 §11.1).
    pub fn admits(&self, authorization: Option<&str>) -> bool {
        let Some((scheme, given)) = authorization.and_then(|v| v.trim().split_once(' ')) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        let given: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
        given == self.digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef-upload";

    #[test]
    fn the_bearer_token_admits_and_anything_else_does_not() {
        let t = Token::from_file_text(&format!("{SECRET}\n")).unwrap();
        assert!(t.admits(Some(&format!("Bearer {SECRET}"))));
        assert!(t.admits(Some(&format!("bearer {SECRET}"))));
        assert!(!t.admits(None));
        assert!(!t.admits(Some(SECRET)));
        assert!(!t.admits(Some(&format!("Basic {SECRET}"))));
        assert!(!t.admits(Some(&format!("Bearer {SECRET}x"))));
        assert!(!t.admits(Some("Bearer ")));
    }

    #[test]
    fn weak_token_files_are_refused() {
        assert_eq!(Token::from_file_text("").unwrap_err(), TokenError::Empty);
        assert_eq!(Token::from_file_text("short\n").unwrap_err(), TokenError::Short(5));
        assert_eq!(
            Token::from_file_text("0123456789 abcdefgh").unwrap_err(),
            TokenError::Whitespace
        );
        assert!(format!("{:?}", Token::from_file_text(SECRET).unwrap()).ends_with("(..)"));
    }
}

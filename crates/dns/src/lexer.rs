//! The one zone-text lexer: splits master-file text into entries of
//! tokens (RFC 1035 §5.1), for zone files (`zonefile`) and trust-anchor
//! files (`live::anchor`) alike.
//!
//! "The end of the line is the end of the entry, unless parentheses are
//! open: Parentheses are used to group data that crosses a line boundary."
//! Semicolons start comments; double quotes delimit character-strings;
//! a backslash quotes the next character or starts a `\DDD` escape.
//! Escapes are kept raw in the tokens and decoded where their meaning is
//! known (a name, a character-string).

/// A place in a file, both from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) line: usize,
    /// Counted in characters, not bytes.
    pub(crate) column: usize,
}

/// One word or quoted string, raw (escapes not yet decoded, quotes removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) text: Vec<u8>,
    pub(crate) quoted: bool,
    pub(crate) at: Position,
}

impl Token {
    /// The raw text, for messages and presentation-format rdata.
    pub(crate) fn display(&self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }

    pub(crate) fn is(&self, word: &str) -> bool {
        !self.quoted && self.text.eq_ignore_ascii_case(word.as_bytes())
    }
}

/// One logical entry: a directive or a resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// "If a line begins with a blank, then the owner is assumed to be the
    /// same as that of the previous RR." (RFC 1035 §5.1)
    pub(crate) blank_owner: bool,
    pub(crate) tokens: Vec<Token>,
}

/// A lexing failure: where, and what.
pub(crate) type LexError = (Position, String);

/// Split `text` into entries.
pub(crate) fn lex(text: &[u8]) -> Result<Vec<Entry>, LexError> {
    Lexer {
        text,
        i: 0,
        line: 1,
        column: 1,
    }
    .run()
}

struct Lexer<'a> {
    text: &'a [u8],
    i: usize,
    line: usize,
    column: usize,
}

impl Lexer<'_> {
    fn run(mut self) -> Result<Vec<Entry>, LexError> {
        let mut entries = Vec::new();
        let mut current: Option<Entry> = None;
        let mut open_paren: Option<Position> = None;
        while let Some(b) = self.peek() {
            let at = self.here();
            match b {
                b'\n' => {
                    self.bump();
                    if open_paren.is_none() {
                        entries.extend(current.take());
                    }
                }
                b' ' | b'\t' | b'\r' => self.bump(),
                b';' => self.skip_comment(),
                b'(' => {
                    if open_paren.is_some() {
                        return Err((
                            at,
                            "nested '(': close the first parenthesis before opening another".into(),
                        ));
                    }
                    start_entry(&mut current, &at);
                    open_paren = Some(at);
                    self.bump();
                }
                b')' => {
                    if open_paren.take().is_none() {
                        return Err((at, "')' without a matching '('".into()));
                    }
                    self.bump();
                }
                b'"' => {
                    let token = self.quoted()?;
                    start_entry(&mut current, &at).tokens.push(token);
                }
                _ => {
                    let token = self.word()?;
                    start_entry(&mut current, &at).tokens.push(token);
                }
            }
        }
        if let Some(at) = open_paren {
            return Err((at, "'(' is never closed: the file ends before its ')'".into()));
        }
        entries.extend(current);
        Ok(entries)
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.i).copied()
    }

    fn here(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    /// Advance one byte. Columns count characters: UTF-8 continuation
    /// bytes do not move the column.
    fn bump(&mut self) {
        let Some(b) = self.peek() else { return };
        self.i += 1;
        if b == b'\n' {
            self.line += 1;
            self.column = 1;
        } else if b & 0xC0 != 0x80 {
            self.column += 1;
        }
    }

    fn skip_comment(&mut self) {
        while self.peek().is_some_and(|b| b != b'\n') {
            self.bump();
        }
    }

    /// A backslash and what it quotes, kept raw.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), LexError> {
        let at = self.here();
        self.bump();
        match self.peek() {
            None | Some(b'\n') => Err((at, "'\\' at the end of a line escapes nothing".into())),
            Some(b) => {
                out.extend([b'\\', b]);
                self.bump();
                Ok(())
            }
        }
    }

    fn word(&mut self) -> Result<Token, LexError> {
        let at = self.here();
        let mut text = Vec::new();
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                b'\\' => self.escape(&mut text)?,
                _ => {
                    text.push(b);
                    self.bump();
                }
            }
        }
        Ok(Token {
            text,
            quoted: false,
            at,
        })
    }

    fn quoted(&mut self) -> Result<Token, LexError> {
        let at = self.here();
        self.bump();
        let mut text = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\n') => {
                    return Err((at, "unterminated quoted string: no closing '\"' on this line".into()));
                }
                Some(b'"') => {
                    self.bump();
                    return Ok(Token { text, quoted: true, at });
                }
                Some(b'\\') => self.escape(&mut text)?,
                Some(b) => {
                    text.push(b);
                    self.bump();
                }
            }
        }
    }
}

/// The entry being built, started at `at` if none is: an entry whose first
/// token is not in column 1 has a blank owner.
fn start_entry<'e>(current: &'e mut Option<Entry>, at: &Position) -> &'e mut Entry {
    current.get_or_insert_with(|| Entry {
        blank_owner: at.column != 1,
        tokens: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(entry: &Entry) -> Vec<String> {
        entry.tokens.iter().map(Token::display).collect()
    }

    #[test]
    fn lines_are_entries_and_comments_vanish() {
        let entries = lex(b"a 300 IN A 192.0.2.1 ; web\n\n; only a comment\n  AAAA 2001:db8::1\n").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(words(&entries[0]), ["a", "300", "IN", "A", "192.0.2.1"]);
        assert!(!entries[0].blank_owner);
        assert!(entries[1].blank_owner);
    }

    #[test]
    fn parentheses_join_lines() {
        let entries = lex(b"@ SOA ns hm (\n 1 ; serial\n 2 3 4 5 )\nnext A 192.0.2.1").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(words(&entries[0]).len(), 9);
    }

    #[test]
    fn quoted_strings_keep_escapes_raw_and_positions() {
        let entries = lex(b"t TXT \"a \\\"b\\\" ;c\" x").unwrap();
        let t = &entries[0].tokens[2];
        assert!(t.quoted);
        assert_eq!(t.text, b"a \\\"b\\\" ;c");
        assert_eq!((t.at.line, t.at.column), (1, 7));
        assert_eq!(entries[0].tokens.len(), 4);
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let entries = lex("t TXT \"é\" x".as_bytes()).unwrap();
        assert_eq!(entries[0].tokens[3].at.column, 11);
    }

    #[test]
    fn unbalanced_quotes_and_parentheses_are_errors_at_their_opening() {
        let (at, msg) = lex(b"a TXT \"open\nb A 192.0.2.1").unwrap_err();
        assert_eq!((at.line, at.column), (1, 7));
        assert!(msg.contains("unterminated quoted string"));

        let (at, msg) = lex(b"a A 1\n@ SOA ns hm ( 1 2 3\n 4 5\n").unwrap_err();
        assert_eq!((at.line, at.column), (2, 13));
        assert!(msg.contains("never closed"));

        let (at, msg) = lex(b"a A 192.0.2.1 )").unwrap_err();
        assert_eq!((at.line, at.column), (1, 15));
        assert!(msg.contains("without a matching"));

        assert!(lex(b"a ( ( b ) )").unwrap_err().1.contains("nested"));
    }
}

//! A small, safe XML tree for report documents. It refuses any DOCTYPE (so
//! no entity can be declared: no XXE, no billion laughs) and any entity
//! reference other than the five predefined ones and character references;
//! nesting depth is capped. Namespaces are resolved so the aggregate parser
//! can tell report elements from extensions.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use crate::rejection::{Position, Reason, Rejection};

/// One element: local name, resolved namespace, trimmed text, children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    /// The namespace URI, or empty when unbound.
    pub namespace: String,
    pub text: String,
    pub children: Vec<Element>,
    /// Where the start tag begins.
    pub position: Position,
}

impl Element {
    /// The children called `name` in the namespace `ns` (a report's own).
    pub fn all<'a>(&'a self, name: &'a str, ns: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children
            .iter()
            .filter(move |c| c.name == name && c.namespace == ns)
    }

    /// The first child called `name` in the namespace `ns`.
    pub fn first(&self, name: &str, ns: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name && c.namespace == ns)
    }

    /// The trimmed text of the first child `name`, when not empty.
    pub fn text_of(&self, name: &str, ns: &str) -> Option<&str> {
        self.first(name, ns).map(|e| e.text.trim()).filter(|t| !t.is_empty())
    }
}

/// Parse `text` into its root element, or say what is wrong and where.
pub fn parse(text: &str, max_depth: usize) -> Result<Element, Rejection> {
    let bytes = text.as_bytes();
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut lines = Lines::default();
    loop {
        let start = reader.buffer_position();
        let mut at = |offset: u64| lines.at(bytes, offset);
        let (ns, event) = match reader.read_resolved_event() {
            Ok((ns, event)) => (namespace(&ns), event),
            Err(e) => {
                let offset = reader.error_position();
                // Every syntax error but a bad `<!` is "unclosed ..." at the end of input.
                let reason = match &e {
                    quick_xml::Error::Syntax(s) if *s != quick_xml::errors::SyntaxError::InvalidBangMarkup => {
                        Reason::Truncated
                    }
                    _ => Reason::InvalidXml,
                };
                return Err(Rejection::new(reason, e.to_string()).at(at(offset)));
            }
        };
        match event {
            Event::DocType(_) => {
                return Err(Rejection::new(
                    Reason::Doctype,
                    "a DOCTYPE is refused (it could declare entities: XXE, entity expansion)",
                )
                .at(at(start)));
            }
            Event::Start(tag) | Event::Empty(tag) if root.is_some() => {
                let name = tag.local_name().as_ref().to_string();
                return Err(Rejection::new(
                    Reason::InvalidXml,
                    format!("a second top-level element <{name}> after the document's end"),
                )
                .at(at(start)));
            }
            Event::Start(tag) => {
                if stack.len() >= max_depth {
                    return Err(
                        Rejection::new(Reason::SizeLimit, format!("elements nested deeper than {max_depth}"))
                            .at(at(start)),
                    );
                }
                stack.push(element(&tag, ns, at(start)));
            }
            Event::Empty(tag) => {
                let el = element(&tag, ns, at(start));
                close(el, &mut stack, &mut root);
            }
            Event::End(_) => {
                // check_end_names guarantees a matching open element.
                if let Some(el) = stack.pop() {
                    close(el, &mut stack, &mut root);
                }
            }
            Event::Text(t) => append(&mut stack, &t.xml10_content(), at(start))?,
            Event::CData(c) => {
                let raw = c.into_inner().into_owned();
                append(&mut stack, &raw, at(start))?;
            }
            Event::GeneralRef(r) => {
                let resolved = resolve_reference(&r).map_err(|e| e.at(at(start)))?;
                append(&mut stack, &resolved, at(start))?;
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(Rejection::new(
            Reason::Truncated,
            format!("the input ends inside <{}> (opened at {})", open.name, open.position),
        )
        .at(Position::in_text(bytes, bytes.len() as u64)));
    }
    root.ok_or_else(|| Rejection::new(Reason::InvalidXml, "no element at all"))
}

/// Positions of increasing offsets, counted incrementally: asking for every
/// element's line from the start of the document would be quadratic.
#[derive(Default)]
struct Lines {
    offset: usize,
    line: u64,
    line_start: usize,
}

impl Lines {
    fn at(&mut self, bytes: &[u8], offset: u64) -> Position {
        let end = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
        if end < self.offset {
            return Position::in_text(bytes, offset);
        }
        for (i, b) in bytes[self.offset..end].iter().enumerate() {
            if *b == b'\n' {
                self.line += 1;
                self.line_start = self.offset + i + 1;
            }
        }
        self.offset = end;
        Position {
            line: self.line + 1,
            column: (end - self.line_start) as u64 + 1,
            offset,
        }
    }
}

pub(crate) fn namespace(ns: &ResolveResult<'_>) -> String {
    match ns {
        ResolveResult::Bound(n) => n.as_ref().to_string(),
        _ => String::new(),
    }
}

pub(crate) fn element(tag: &quick_xml::events::BytesStart<'_>, namespace: String, position: Position) -> Element {
    Element {
        name: tag.local_name().as_ref().to_string(),
        namespace,
        text: String::new(),
        children: Vec::new(),
        position,
    }
}

fn close(el: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

/// Text belongs to the innermost open element; outside the root only
/// whitespace is allowed.
pub(crate) fn append(stack: &mut [Element], text: &str, at: Position) -> Result<(), Rejection> {
    match stack.last_mut() {
        Some(el) => {
            el.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(Rejection::new(Reason::InvalidXml, "text outside the root element").at(at)),
    }
}

/// `&#NN;`, `&#xHH;` and the five predefined entities; anything else could
/// only have been declared by a DOCTYPE, which we refuse.
pub(crate) fn resolve_reference(r: &quick_xml::events::BytesRef<'_>) -> Result<String, Rejection> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c.to_string()),
            _ => Err(Rejection::new(Reason::InvalidXml, "an invalid character reference")),
        };
    }
    let name = r.xml10_content();
    let text = match name.as_ref() {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        other => {
            return Err(Rejection::new(
                Reason::UndeclaredEntity,
                format!("a reference to the entity &{other}; (only a DOCTYPE could declare it)"),
            ));
        }
    };
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_and_character_references_are_resolved() {
        let root = parse("<a><b>x &amp; &#65;&#x42; &lt;</b></a>", 8).unwrap();
        assert_eq!(root.first("b", "").unwrap().text, "x & AB <");
    }

    #[test]
    fn doctype_is_rejected_before_any_entity() {
        let doc = "<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>";
        let err = parse(doc, 8).unwrap_err();
        assert_eq!(err.reason, Reason::Doctype);
        assert_eq!(err.position.unwrap().line, 2);
    }

    #[test]
    fn unknown_entity_without_doctype_is_rejected() {
        let err = parse("<a>&lol;</a>", 8).unwrap_err();
        assert_eq!(err.reason, Reason::UndeclaredEntity);
    }

    #[test]
    fn depth_is_capped() {
        let deep = format!("{}{}", "<a>".repeat(10), "</a>".repeat(10));
        assert_eq!(parse(&deep, 8).unwrap_err().reason, Reason::SizeLimit);
        assert!(parse(&deep, 10).is_ok());
    }

    #[test]
    fn unclosed_root_is_truncated_with_position() {
        let err = parse("<a>\n<b>x</b>\n", 8).unwrap_err();
        assert_eq!(err.reason, Reason::Truncated);
        assert_eq!(err.position.unwrap().line, 3);
    }

    #[test]
    fn mismatched_end_tag_is_invalid_xml() {
        let err = parse("<a><b></c></a>", 8).unwrap_err();
        assert_eq!(err.reason, Reason::InvalidXml);
    }

    /// Regression: every element's position was counted from the start of
    /// the document (quadratic: 139 records/s on a 1,000-row report).
    #[test]
    fn incremental_positions_equal_positions_counted_from_the_start() {
        let text = b"<a>\n  <b>x</b>\n\n<c/>\n</a>\n";
        let mut lines = Lines::default();
        for offset in 0..=text.len() as u64 {
            assert_eq!(
                lines.at(text, offset),
                Position::in_text(text, offset),
                "offset {offset}"
            );
        }
    }

    #[test]
    fn namespaces_are_resolved() {
        let root = parse("<a xmlns=\"urn:x\"><b/><y:c xmlns:y=\"urn:y\"/></a>", 8).unwrap();
        assert_eq!(root.namespace, "urn:x");
        assert!(root.first("b", "urn:x").is_some());
        assert!(root.first("c", "urn:x").is_none());
        assert!(root.first("c", "urn:y").is_some());
    }
}

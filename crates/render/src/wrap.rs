//! Word wrapping for the text report: paragraphs filled to a width, with
//! a first-line prefix and an indent for the lines after it. A message with
//! line breaks keeps them (each line is filled on its own, indented). Width
//! is counted in characters, which is right for the ASCII the reports are
//! mostly made of and close enough for the rest.

/// Fill `text` to `width` columns. The first line starts with `first`, the
/// others with `rest` (usually spaces as wide as `first`). A word longer
/// than a line is broken where it must be (base64, long URLs).
pub fn fill(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = first.to_string();
    let mut empty = true;
    for (i, paragraph) in text.split('\n').enumerate() {
        if i > 0 {
            lines.push(std::mem::replace(&mut current, rest.to_string()));
            empty = true;
        }
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let room = width.saturating_sub(len(&current) + usize::from(!empty));
            if len(word) <= room {
                if !empty {
                    current.push(' ');
                }
                current.push_str(word);
                empty = false;
                continue;
            }
            if !empty {
                lines.push(std::mem::replace(&mut current, rest.to_string()));
            }
            let mut chars: Vec<char> = word.chars().collect();
            let line_room = width.saturating_sub(len(rest)).max(20);
            while chars.len() > line_room {
                let head: String = chars.drain(..line_room).collect();
                current.push_str(&head);
                lines.push(std::mem::replace(&mut current, rest.to_string()));
            }
            current.extend(chars);
            empty = false;
        }
    }
    lines.push(current);
    lines
}

fn len(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_to_the_width_with_a_hanging_indent() {
        let lines = fill("one two three four five six", 14, "- ", "  ");
        assert_eq!(lines, ["- one two", "  three four", "  five six"]);
        assert!(lines.iter().all(|l| l.chars().count() <= 14));
    }

    #[test]
    fn keeps_line_breaks_and_indents_continuations() {
        let lines = fill("first line\nsecond", 40, "> ", "  ");
        assert_eq!(lines, ["> first line", "  second"]);
    }

    #[test]
    fn breaks_a_word_longer_than_the_line() {
        let word = "A".repeat(50);
        let lines = fill(&word, 30, "  ", "  ");
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), word);
    }
}

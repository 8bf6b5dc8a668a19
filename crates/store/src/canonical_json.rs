//! One pass over an Observation that writes the JSON a snapshot stores and,
//! beside it, the canonical text its content fingerprint hashes (version 2
//! of the fingerprint, fingerprint.rs): the same JSON with the volatile
//! keys left out wherever they occur and the unordered arrays (and the
//! arrays that are the values of the `sort_values` maps) sorted by their
//! elements' canonical text.
//!
//! Why: the first fingerprint walked the Observation a second time through
//! its own encoder (canonical.rs), which cost more than serialising the
//! Observation for storage did: 2.3% of a monitoring round where every
//! scan stored a new snapshot (perf, bench/monitor-lab.sh). A serde_json
//! `Formatter` sees every structural event and every byte of the JSON, so
//! the canonical text is copied off as the JSON is written.
//!
//! The canonical text is unambiguous: strings keep their JSON quotes and
//! escapes, numbers their JSON text, and every value is followed by `,`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

use crate::canonical::Rules;

/// `value` as compact JSON (byte for byte what `serde_json::to_vec`
/// writes) and its canonical text under `rules`.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, rules: Rules) -> Result<(Vec<u8>, Vec<u8>), serde_json::Error> {
    let mut mirror = Mirror::new(rules);
    let mut json = Vec::with_capacity(32 << 10);
    value.serialize(&mut serde_json::Serializer::with_formatter(&mut json, Tee(&mut mirror)))?;
    Ok((json, mirror.finish()))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    /// The next array is sorted.
    SortSeq,
    /// The next object's values are arrays to sort.
    SortMapValues,
}

/// A sorted array being collected: its elements' canonical texts.
struct Sorting {
    depth: usize,
    /// The text before the array, set aside while the elements are written.
    parent: Vec<u8>,
    elements: Vec<Vec<u8>>,
}

/// The canonical text, built from the JSON writer's events.
struct Mirror {
    rules: Rules,
    /// Where canonical text is written now (an element of a sorted array
    /// while one is open).
    out: Vec<u8>,
    /// Nesting of arrays and objects.
    depth: usize,
    sorting: Vec<Sorting>,
    /// Depths of the objects whose values are arrays to sort.
    sort_values_at: Vec<usize>,
    /// How the next value is written (set by the key it is under).
    mode: Mode,
    /// The object key being read (its JSON text, without quotes).
    key: Vec<u8>,
    in_key: bool,
    /// The depth of the object whose volatile key's value is being left out.
    skip_at: Option<usize>,
    /// Scratch for numbers, written once and copied to both outputs.
    number: Vec<u8>,
    /// Bit n set: some key of the rules is n bytes long. Most keys are
    /// then told apart by their length alone: comparing every key with the
    /// twelve of the rules was a tenth of this encoder's instructions
    /// (callgrind).
    rule_lengths: u64,
}

impl Mirror {
    fn new(rules: Rules) -> Self {
        Mirror {
            rules,
            out: Vec::with_capacity(32 << 10),
            depth: 0,
            sorting: Vec::new(),
            sort_values_at: Vec::new(),
            mode: Mode::Plain,
            key: Vec::new(),
            in_key: false,
            skip_at: None,
            number: Vec::new(),
            rule_lengths: [rules.skip, rules.sort, rules.sort_values]
                .concat()
                .iter()
                .fold(0, |bits, k| bits | length_bit(k.len())),
        }
    }

    fn finish(self) -> Vec<u8> {
        self.out
    }

    /// Canonical text, unless inside a left-out value or a key.
    fn emit(&mut self, bytes: &[u8]) {
        if self.in_key {
            self.key.extend_from_slice(bytes);
        } else if self.skip_at.is_none() {
            self.out.extend_from_slice(bytes);
        }
    }

    /// A scalar's text, to the JSON and the canonical text.
    fn scalar<W: ?Sized + Write>(&mut self, writer: &mut W, bytes: &[u8]) -> io::Result<()> {
        self.mode = Mode::Plain;
        self.emit(bytes);
        writer.write_all(bytes)
    }

    fn take_mode(&mut self) -> Mode {
        std::mem::replace(&mut self.mode, Mode::Plain)
    }

    fn sorting_here(&self) -> bool {
        self.sorting.last().is_some_and(|s| s.depth == self.depth)
    }
}

/// A key length's bit in [`Mirror::rule_lengths`] (lengths of 63 and more
/// share the last bit).
fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

/// The formatter serde_json writes through: compact JSON to the writer,
/// canonical text to the mirror.
struct Tee<'a>(&'a mut Mirror);

macro_rules! numbers {
    ($($method:ident: $t:ty),*) => {$(
        fn $method<W: ?Sized + Write>(&mut self, writer: &mut W, value: $t) -> io::Result<()> {
            let mut number = std::mem::take(&mut self.0.number);
            number.clear();
            CompactFormatter.$method(&mut number, value)?;
            let done = self.0.scalar(writer, &number);
            self.0.number = number;
            done
        }
    )*};
}

impl Formatter for Tee<'_> {
    fn write_null<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.scalar(writer, b"null")
    }

    fn write_bool<W: ?Sized + Write>(&mut self, writer: &mut W, value: bool) -> io::Result<()> {
        self.0.scalar(writer, if value { b"true" } else { b"false" })
    }

    numbers!(write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_i128: i128,
             write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64, write_u128: u128,
             write_f32: f32, write_f64: f64);

    fn write_number_str<W: ?Sized + Write>(&mut self, writer: &mut W, value: &str) -> io::Result<()> {
        self.0.scalar(writer, value.as_bytes())
    }

    fn begin_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        if !self.0.in_key {
            self.0.mode = Mode::Plain;
            self.0.emit(b"\"");
        }
        writer.write_all(b"\"")
    }

    fn end_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        if !self.0.in_key {
            self.0.emit(b"\"");
        }
        writer.write_all(b"\"")
    }

    fn write_string_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        self.0.emit(fragment.as_bytes());
        writer.write_all(fragment.as_bytes())
    }

    fn write_char_escape<W: ?Sized + Write>(&mut self, writer: &mut W, escape: CharEscape) -> io::Result<()> {
        let mut text = Vec::with_capacity(6);
        CompactFormatter.write_char_escape(&mut text, escape)?;
        self.0.emit(&text);
        writer.write_all(&text)
    }

    fn write_byte_array<W: ?Sized + Write>(&mut self, writer: &mut W, value: &[u8]) -> io::Result<()> {
        // As serde_json's default: an array of numbers, through the hooks.
        self.begin_array(writer)?;
        for (i, byte) in value.iter().enumerate() {
            self.begin_array_value(writer, i == 0)?;
            self.write_u8(writer, *byte)?;
            self.end_array_value(writer)?;
        }
        self.end_array(writer)
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        let m = &mut *self.0;
        m.depth += 1;
        if m.take_mode() == Mode::SortSeq && m.skip_at.is_none() {
            let parent = std::mem::take(&mut m.out);
            m.sorting.push(Sorting {
                depth: m.depth,
                parent,
                elements: Vec::new(),
            });
        } else {
            m.emit(b"[");
        }
        writer.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        let m = &mut *self.0;
        if m.sorting_here()
            && let Some(mut s) = m.sorting.pop()
        {
            s.elements.sort_unstable();
            m.out = s.parent;
            m.out.push(b'[');
            for e in &s.elements {
                m.out.extend_from_slice(e);
            }
        }
        m.emit(b"]");
        m.depth -= 1;
        writer.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        // In a sorted array `out` is empty here: each element's text is
        // collected on its own (end_array_value).
        if first { Ok(()) } else { writer.write_all(b",") }
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        let m = &mut *self.0;
        m.emit(b",");
        if m.sorting_here()
            && let Some(s) = m.sorting.last_mut()
        {
            s.elements.push(std::mem::take(&mut m.out));
        }
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        let m = &mut *self.0;
        m.depth += 1;
        if m.take_mode() == Mode::SortMapValues && m.skip_at.is_none() {
            m.sort_values_at.push(m.depth);
        }
        m.emit(b"{");
        writer.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        let m = &mut *self.0;
        if m.sort_values_at.last() == Some(&m.depth) {
            m.sort_values_at.pop();
        }
        m.emit(b"}");
        m.depth -= 1;
        writer.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        self.0.in_key = true;
        self.0.key.clear();
        if first { Ok(()) } else { writer.write_all(b",") }
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        let m = &mut *self.0;
        m.in_key = false;
        if m.skip_at.is_some() {
            return Ok(());
        }
        let key = std::str::from_utf8(&m.key).unwrap_or("");
        let ruled = m.rule_lengths & length_bit(key.len()) != 0;
        if ruled && m.rules.skip.contains(&key) {
            m.skip_at = Some(m.depth);
            return Ok(());
        }
        m.mode = if m.sort_values_at.last() == Some(&m.depth) || (ruled && m.rules.sort.contains(&key)) {
            Mode::SortSeq
        } else if ruled && m.rules.sort_values.contains(&key) {
            Mode::SortMapValues
        } else {
            Mode::Plain
        };
        m.out.push(b'"');
        m.out.extend_from_slice(&m.key);
        m.out.extend_from_slice(b"\":");
        Ok(())
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b":")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        let m = &mut *self.0;
        if m.skip_at == Some(m.depth) {
            m.skip_at = None;
        } else {
            m.emit(b",");
        }
        Ok(())
    }

    fn write_raw_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        self.0.scalar(writer, fragment.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const RULES: Rules = Rules {
        skip: &["ttl", "at"],
        sort: &["records"],
        sort_values: &["glue"],
    };

    fn canonical(v: &serde_json::Value) -> String {
        String::from_utf8(encode(v, RULES).unwrap().1).unwrap()
    }

    #[test]
    fn the_json_is_what_serde_json_writes() {
        let v =
            json!({"a": [1, -2, 3.5, null, true, "q\"\\\n\u{1}é"], "records": [{"ttl": 3, "x": [[], {}]}], "b": {}});
        assert_eq!(encode(&v, RULES).unwrap().0, serde_json::to_vec(&v).unwrap());
    }

    #[test]
    fn volatile_keys_are_left_out_wherever_they_are() {
        assert_eq!(
            canonical(&json!({"at": "t1", "n": {"ttl": [1, {"a": 2}], "v": 1}, "z": "ttl"})),
            r#"{"n":{"v":1,},"z":"ttl",}"#
        );
        assert_eq!(
            canonical(&json!({"ttl": 1})),
            canonical(&json!({"ttl": {"deep": [1, 2]}}))
        );
    }

    #[test]
    fn unordered_arrays_and_map_values_sort_but_others_keep_their_order() {
        let a =
            json!({"records": [{"d": "b", "ttl": 1}, {"d": "a", "ttl": 2}], "glue": {"h": ["2", "1"]}, "o": [2, 1]});
        let b =
            json!({"records": [{"d": "a", "ttl": 9}, {"d": "b", "ttl": 8}], "glue": {"h": ["1", "2"]}, "o": [2, 1]});
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(
            canonical(&a),
            r#"{"glue":{"h":["1","2",],},"o":[2,1,],"records":[{"d":"a",},{"d":"b",},],}"#
        );
        assert_ne!(
            canonical(&a),
            canonical(&json!({"records": [], "glue": {}, "o": [1, 2]}))
        );
    }

    #[test]
    fn values_cannot_run_into_each_other() {
        assert_ne!(canonical(&json!(["ab", "c"])), canonical(&json!(["a", "bc"])));
        assert_ne!(canonical(&json!([1, 23])), canonical(&json!([12, 3])));
        assert_ne!(
            canonical(&json!({"a": "b,c"})),
            canonical(&json!({"a": "b", "c": null}))
        );
    }
}

//! A canonical byte encoding of any `Serialize` value, for the content
//! fingerprint (fingerprint.rs): fields named in [`Rules::skip`] are left
//! out, and the sequences under [`Rules::sort`] (or under the map values of
//! [`Rules::sort_values`]) are written in sorted order, so an answer's
//! record order or a TTL countdown does not change it.
//!
//! Written straight from serde's data model into one buffer. The first
//! fingerprint built a `serde_json::Value` of the whole Observation,
//! normalised it and serialised it again: through a real resolver that was
//! most of the CPU an unchanged re-scan cost the store (bench/monitor-lab.sh,
//! perf: 10% of the whole run's CPU, the scans included).
//!
//! The encoding is unambiguous (every value is tagged, every string and
//! sequence length-prefixed or bracketed), not JSON: it is only hashed.

use serde::Serialize;
use serde::ser;

/// Which keys a fingerprint ignores or sorts under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// Struct fields and map entries left out wherever they occur.
    pub skip: &'static [&'static str],
    /// Sequences under these keys are sorted.
    pub sort: &'static [&'static str],
    /// Maps under these keys have sequences as values; each is sorted.
    pub sort_values: &'static [&'static str],
}

/// The canonical encoding of `value` under `rules`.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, rules: Rules) -> Vec<u8> {
    let mut enc = Enc {
        out: Vec::with_capacity(16 << 10),
        mode: Mode::Plain,
        rules,
        key: Vec::new(),
    };
    if let Err(e) = value.serialize(&mut enc) {
        // A value serde cannot serialise still gets a stable encoding.
        enc.out.push(b'!');
        enc.text(&e.0);
    }
    enc.out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    /// The next sequence is sorted.
    SortSeq,
    /// The next map's values are sequences to sort.
    SortMapValues,
}

struct Enc {
    out: Vec<u8>,
    /// How the next value is written (set by the key it is under).
    mode: Mode,
    rules: Rules,
    /// A map key's encoding, reused from key to key: a buffer allocated
    /// per key was a fifth of the fingerprint's time (perf,
    /// bench/monitor-lab.sh).
    key: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

impl Enc {
    fn sub(&self) -> Enc {
        self.sub_into(Vec::new())
    }

    /// A sub-encoder writing into `out` (cleared).
    fn sub_into(&self, mut out: Vec<u8>) -> Enc {
        out.clear();
        Enc {
            out,
            mode: Mode::Plain,
            rules: self.rules,
            key: Vec::new(),
        }
    }

    fn len(&mut self, n: usize) {
        self.out.extend_from_slice(&(n as u64).to_le_bytes());
    }

    fn text(&mut self, s: &str) {
        self.out.push(b's');
        self.len(s.len());
        self.out.extend_from_slice(s.as_bytes());
    }

    /// The mode a value under `key` is written in.
    fn mode_under(&self, key: &str) -> Mode {
        if self.rules.sort.contains(&key) {
            Mode::SortSeq
        } else if self.rules.sort_values.contains(&key) {
            Mode::SortMapValues
        } else {
            Mode::Plain
        }
    }

    fn take_mode(&mut self) -> Mode {
        std::mem::replace(&mut self.mode, Mode::Plain)
    }

    fn seq(&mut self, closers: &'static [u8]) -> Seq<'_> {
        let sorted = (self.take_mode() == Mode::SortSeq).then(Vec::new);
        self.out.push(b'[');
        Seq {
            enc: self,
            sorted,
            closers,
        }
    }

    fn map(&mut self, closers: &'static [u8]) -> Map<'_> {
        let sort_values = self.take_mode() == Mode::SortMapValues;
        self.out.push(b'{');
        Map {
            enc: self,
            sort_values,
            skip_value: false,
            value_mode: Mode::Plain,
            closers,
        }
    }

    /// `{ "variant": ` of an externally tagged enum variant.
    fn variant(&mut self, variant: &str) {
        self.mode = Mode::Plain;
        self.out.push(b'{');
        self.text(variant);
    }
}

/// The text of an encoded string (`s`, its length, its bytes).
fn text_of(encoded: &[u8]) -> Option<&str> {
    match encoded.split_first() {
        Some((b's', rest)) if rest.len() >= 8 => std::str::from_utf8(&rest[8..]).ok(),
        _ => None,
    }
}

struct Seq<'a> {
    enc: &'a mut Enc,
    /// The elements' encodings, when they are to be sorted.
    sorted: Option<Vec<Vec<u8>>>,
    closers: &'static [u8],
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        match &mut self.sorted {
            Some(items) => {
                let mut sub = self.enc.sub();
                value.serialize(&mut sub)?;
                items.push(sub.out);
            }
            None => {
                self.enc.mode = Mode::Plain;
                value.serialize(&mut *self.enc)?;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), Error> {
        if let Some(mut items) = self.sorted {
            items.sort_unstable();
            for item in items {
                self.enc.out.extend_from_slice(&item);
            }
        }
        self.enc.out.push(b']');
        self.enc.out.extend_from_slice(self.closers);
        Ok(())
    }
}

struct Map<'a> {
    enc: &'a mut Enc,
    /// Every value of this map is a sequence to sort.
    sort_values: bool,
    /// The key just seen is skipped: so is its value.
    skip_value: bool,
    value_mode: Mode,
    closers: &'static [u8],
}

impl Map<'_> {
    /// Write `key` unless skipped; set how its value is written.
    fn key_named(&mut self, key: &str) {
        self.skip_value = self.enc.rules.skip.contains(&key);
        if self.skip_value {
            return;
        }
        self.enc.text(key);
        self.value_mode = if self.sort_values {
            Mode::SortSeq
        } else {
            self.enc.mode_under(key)
        };
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if std::mem::take(&mut self.skip_value) {
            return Ok(());
        }
        self.enc.mode = self.value_mode;
        value.serialize(&mut *self.enc)
    }

    fn finish(self) -> Result<(), Error> {
        self.enc.out.push(b'}');
        self.enc.out.extend_from_slice(self.closers);
        Ok(())
    }
}

/// serde's four sequence traits, all one [`Seq`].
macro_rules! seq_traits {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Seq<'_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    )*};
}

seq_traits!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Map<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        let buffer = std::mem::take(&mut self.enc.key);
        let mut sub = self.enc.sub_into(buffer);
        key.serialize(&mut sub)?;
        match text_of(&sub.out) {
            Some(name) => self.key_named(name),
            None => {
                // Not a string: written as it is, never skipped.
                self.skip_value = false;
                self.enc.out.extend_from_slice(&sub.out);
                self.value_mode = if self.sort_values { Mode::SortSeq } else { Mode::Plain };
            }
        }
        self.enc.key = sub.out;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// serde's two struct traits, both one [`Map`] with named fields.
macro_rules! struct_traits {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Map<'_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
                self.key_named(key);
                self.value(value)
            }
            fn end(self) -> Result<(), Error> {
                self.finish()
            }
        }
    )*};
}

struct_traits!(SerializeStruct, SerializeStructVariant);

/// Integers as `i128` (every width the same value, the same bytes).
macro_rules! integers {
    ($($method:ident: $t:ty),*) => {$(
        fn $method(self, v: $t) -> Result<(), Error> {
            self.serialize_i128(v.into())
        }
    )*};
}

impl<'a> ser::Serializer for &'a mut Enc {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Seq<'a>;
    type SerializeMap = Map<'a>;
    type SerializeStruct = Map<'a>;
    type SerializeStructVariant = Map<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.mode = Mode::Plain;
        self.out.push(if v { b'T' } else { b'F' });
        Ok(())
    }
    integers!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
              serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.mode = Mode::Plain;
        self.out.push(b'i');
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.mode = Mode::Plain;
        self.out.push(b'u');
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.mode = Mode::Plain;
        self.out.push(b'f');
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.mode = Mode::Plain;
        self.text(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.mode = Mode::Plain;
        self.out.push(b'b');
        self.len(v.len());
        self.out.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    /// `Some(x)` as `x` (as JSON has it), under the same key's rules.
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.mode = Mode::Plain;
        self.out.push(b'N');
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.variant(variant);
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'a>, Error> {
        Ok(self.seq(b""))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Seq<'a>, Error> {
        Ok(self.seq(b""))
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Seq<'a>, Error> {
        Ok(self.seq(b""))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Seq<'a>, Error> {
        self.variant(variant);
        Ok(self.seq(b"}"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Map<'a>, Error> {
        Ok(self.map(b""))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Map<'a>, Error> {
        Ok(self.map(b""))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Map<'a>, Error> {
        self.variant(variant);
        Ok(self.map(b"}"))
    }
}

/// Serialise `entries` as a map (for tests of map handling).
#[cfg(test)]
fn map_of(entries: &[(&str, serde_json::Value)], rules: Rules) -> Vec<u8> {
    use serde::ser::SerializeMap;
    struct M<'a>(&'a [(&'a str, serde_json::Value)]);
    impl Serialize for M<'_> {
        fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(self.0.len()))?;
            for (k, v) in self.0 {
                m.serialize_entry(k, v)?;
            }
            m.end()
        }
    }
    encode(&M(entries), rules)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const RULES: Rules = Rules {
        skip: &["ttl"],
        sort: &["records"],
        sort_values: &["glue"],
    };

    #[test]
    fn skipped_keys_are_left_out_at_any_depth_and_sorted_sequences_ignore_order() {
        let a = json!({"name": "a.", "ttl": 300, "records": ["x", "y"], "inner": {"ttl": 1, "k": [1, 2]}});
        let b = json!({"name": "a.", "ttl": 17, "records": ["y", "x"], "inner": {"ttl": 9, "k": [1, 2]}});
        assert_eq!(encode(&a, RULES), encode(&b, RULES));
        // An unsorted sequence keeps its order; other values count.
        let c = json!({"name": "a.", "ttl": 17, "records": ["y", "x"], "inner": {"ttl": 9, "k": [2, 1]}});
        assert_ne!(encode(&a, RULES), encode(&c, RULES));
        let d = json!({"name": "b.", "ttl": 300, "records": ["x", "y"], "inner": {"ttl": 1, "k": [1, 2]}});
        assert_ne!(encode(&a, RULES), encode(&d, RULES));
    }

    #[test]
    fn the_values_of_a_sort_values_map_are_sorted_but_its_keys_still_count() {
        let a = map_of(&[("glue", json!({"mx.": ["2", "1"]}))], RULES);
        let b = map_of(&[("glue", json!({"mx.": ["1", "2"]}))], RULES);
        let c = map_of(&[("glue", json!({"mx2.": ["1", "2"]}))], RULES);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn the_encoding_tells_apart_values_json_text_would_run_together() {
        // Length prefixes: ["ab", "c"] is not ["a", "bc"].
        assert_ne!(encode(&json!(["ab", "c"]), RULES), encode(&json!(["a", "bc"]), RULES));
        assert_ne!(encode(&json!("1"), RULES), encode(&json!(1), RULES));
        assert_ne!(encode(&json!(null), RULES), encode(&json!(false), RULES));
        // A sorted sequence of several elements is not one of fewer.
        let two = map_of(&[("records", json!(["a", "b"]))], RULES);
        let one = map_of(&[("records", json!(["ab"]))], RULES);
        assert_ne!(two, one);
    }
}

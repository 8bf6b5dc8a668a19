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
use sha2::{Digest, Sha256};

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
#[cfg(test)]
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, rules: &'static Rules) -> Vec<u8> {
    let mut enc = Enc::top(rules, None);
    enc.write(value);
    enc.out
}

/// Feed the canonical encoding of `value` under `rules` to `hashers`, the
/// same bytes [`encode`] returns, in pieces as they are written: the whole
/// encoding of an Observation (tens of KB, integers 16 bytes wide) held in
/// one growing buffer spent a quarter of the fingerprint's time copying it
/// on each growth (perf, bench/monitor-lab.sh, every scan a new snapshot).
pub(crate) fn hash<T: Serialize + ?Sized>(value: &T, rules: &'static Rules, hashers: Hashers) -> Hashers {
    let mut enc = Enc::top(rules, Some(Box::new(hashers)));
    enc.write(value);
    let mut hashers = enc.sink.take().expect("a top-level encoder has its sink");
    hashers.update(&enc.out);
    *hashers
}

/// The hashes an encoding is fed to: the fingerprint's (BLAKE3), or with
/// it the one fingerprints were made with before (SHA-256), from one pass.
pub(crate) enum Hashers {
    Blake3(Box<blake3::Hasher>),
    Both(Sha256, Box<blake3::Hasher>),
}

impl Hashers {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hashers::Blake3(b3) => {
                b3.update(bytes);
            }
            Hashers::Both(sha, b3) => {
                sha.update(bytes);
                b3.update(bytes);
            }
        }
    }
}

/// How much a hashing encoder buffers before handing it to the hashers
/// (BLAKE3 hashes whole 1 KiB chunks of it side by side).
const SPILL_AT: usize = 16 << 10;

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
    /// Bit n set when some key named in the rules is n bytes long (63:
    /// longer): most keys are told apart from all of them by length alone.
    lengths: u64,
    /// How the next value is written (set by the key it is under).
    mode: Mode,
    /// By reference, and the sink boxed: a sub-encoder is made for every
    /// sorted element and moved in and out whole, which with the rules'
    /// three slices and SHA-256's state inline was a quarter of a KiB
    /// (memmove was a seventh of the fingerprint's samples). With string
    /// keys taken without a sub-encoder ([`KeyText`]) and keys ruled in one
    /// pass: 53 → 41 µs per lab Observation (session 17; the fingerprints
    /// of 400 lab scans unchanged, SHA-256 and BLAKE3).
    rules: &'static Rules,
    /// A map key's encoding, reused from key to key: a buffer allocated
    /// per key was a fifth of the fingerprint's time (perf,
    /// bench/monitor-lab.sh).
    key: Vec<u8>,
    /// Where a top-level encoder hands its full buffer (see [`hash`]);
    /// sub-encoders (sorted elements, keys) keep all they write.
    sink: Option<Box<Hashers>>,
    /// Buffers of sorted sequences finished, kept for the next ones; with
    /// the key buffer, lent to each sub-encoder and taken back. Copying
    /// was a third of the fingerprint's samples (perf,
    /// bench/monitor-lab.sh), and every sorted sequence (each answer's
    /// records and signatures) grew a buffer of its own from empty, every
    /// sorted element a key buffer.
    spare: Vec<Sorted>,
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
    fn top(rules: &'static Rules, sink: Option<Box<Hashers>>) -> Enc {
        let lengths = [rules.skip, rules.sort, rules.sort_values]
            .iter()
            .flat_map(|keys| keys.iter())
            .fold(0, |mask, key| mask | length_bit(key.as_bytes()));
        Enc {
            out: Vec::with_capacity(SPILL_AT + (4 << 10)),
            lengths,
            mode: Mode::Plain,
            rules,
            key: Vec::new(),
            sink,
            spare: Vec::new(),
        }
    }

    fn write<T: Serialize + ?Sized>(&mut self, value: &T) {
        if let Err(e) = value.serialize(&mut *self) {
            // A value serde cannot serialise still gets a stable encoding.
            self.out.push(b'!');
            self.text(&e.0);
        }
    }

    /// Hand what is written so far to the sink, once there is enough of
    /// it (only between values: a sorted sequence's elements are whole
    /// sub-encodings, written at its end).
    fn spill(&mut self) {
        if let Some(sink) = &mut self.sink
            && self.out.len() >= SPILL_AT
        {
            sink.update(&self.out);
            self.out.clear();
        }
    }

    /// A sub-encoder writing into `out` (cleared); [`Enc::reclaim`] it.
    fn sub_into(&mut self, mut out: Vec<u8>) -> Enc {
        out.clear();
        self.sub_appending(out)
    }

    /// A sub-encoder writing after what `out` holds, lent this encoder's
    /// spare buffers; [`Enc::reclaim`] it.
    fn sub_appending(&mut self, out: Vec<u8>) -> Enc {
        Enc {
            out,
            lengths: self.lengths,
            mode: Mode::Plain,
            rules: self.rules,
            key: std::mem::take(&mut self.key),
            sink: None,
            spare: std::mem::take(&mut self.spare),
        }
    }

    /// What `sub` wrote, its spare buffers taken back.
    fn reclaim(&mut self, sub: Enc) -> Vec<u8> {
        self.key = sub.key;
        self.spare = sub.spare;
        sub.out
    }

    fn len(&mut self, n: usize) {
        self.out.extend_from_slice(&(n as u64).to_le_bytes());
    }

    fn text(&mut self, s: &str) {
        self.text_bytes(s.as_bytes());
    }

    /// [`Enc::text`] of a string's bytes.
    fn text_bytes(&mut self, s: &[u8]) {
        self.out.push(b's');
        self.len(s.len());
        self.out.extend_from_slice(s);
    }

    /// Whether `key` may be named in the rules (a cheap first test).
    fn may_be_ruled(&self, key: &[u8]) -> bool {
        self.lengths & length_bit(key) != 0
    }

    /// What the rules say of `key`: skipped, or the mode its value is
    /// written in.
    fn ruling(&self, key: &[u8]) -> Ruling {
        if !self.may_be_ruled(key) {
            Ruling::Write(Mode::Plain)
        } else if named(self.rules.skip, key) {
            Ruling::Skip
        } else if named(self.rules.sort, key) {
            Ruling::Write(Mode::SortSeq)
        } else if named(self.rules.sort_values, key) {
            Ruling::Write(Mode::SortMapValues)
        } else {
            Ruling::Write(Mode::Plain)
        }
    }

    fn take_mode(&mut self) -> Mode {
        std::mem::replace(&mut self.mode, Mode::Plain)
    }

    fn seq(&mut self, closers: &'static [u8]) -> Seq<'_> {
        let sorted = (self.take_mode() == Mode::SortSeq).then(|| self.spare.pop().unwrap_or_default());
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

/// The bytes of a string a sub-encoder wrote (`s`, its length, its
/// bytes), if it wrote one (only [`Enc::text_bytes`] writes a leading `s`).
fn text_of(encoded: &[u8]) -> Option<&[u8]> {
    match encoded.split_first() {
        Some((b's', rest)) if rest.len() >= 8 => Some(&rest[8..]),
        _ => None,
    }
}

fn length_bit(key: &[u8]) -> u64 {
    1 << key.len().min(63)
}

/// What the rules say of a key.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ruling {
    Skip,
    Write(Mode),
}

fn named(keys: &[&str], key: &[u8]) -> bool {
    keys.iter().any(|k| k.as_bytes() == key)
}

struct Seq<'a> {
    enc: &'a mut Enc,
    /// The elements' encodings, when they are to be sorted.
    sorted: Option<Sorted>,
    closers: &'static [u8],
}

/// A sorted sequence's elements, encoded one after another into one
/// buffer (a buffer per element was most of a fingerprint's allocations:
/// one per record of every answer), and where each one is.
#[derive(Default)]
struct Sorted {
    buf: Vec<u8>,
    ranges: Vec<std::ops::Range<usize>>,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        match &mut self.sorted {
            Some(sorted) => {
                let start = sorted.buf.len();
                let mut sub = self.enc.sub_appending(std::mem::take(&mut sorted.buf));
                let written = value.serialize(&mut sub);
                sorted.buf = self.enc.reclaim(sub);
                written?;
                sorted.ranges.push(start..sorted.buf.len());
            }
            None => {
                self.enc.mode = Mode::Plain;
                value.serialize(&mut *self.enc)?;
                self.enc.spill();
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), Error> {
        if let Some(Sorted { mut buf, mut ranges }) = self.sorted {
            // Byte order of the encodings, as sorting them as `Vec<u8>`s did.
            ranges.sort_unstable_by(|a, b| buf[a.clone()].cmp(&buf[b.clone()]));
            for range in &ranges {
                self.enc.out.extend_from_slice(&buf[range.clone()]);
            }
            buf.clear();
            ranges.clear();
            self.enc.spare.push(Sorted { buf, ranges });
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
    fn key_named(&mut self, key: &[u8]) {
        let mode = match self.enc.ruling(key) {
            Ruling::Skip => {
                self.skip_value = true;
                return;
            }
            Ruling::Write(mode) => mode,
        };
        self.skip_value = false;
        self.enc.text_bytes(key);
        self.value_mode = if self.sort_values { Mode::SortSeq } else { mode };
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if std::mem::take(&mut self.skip_value) {
            return Ok(());
        }
        self.enc.mode = self.value_mode;
        value.serialize(&mut *self.enc)?;
        self.enc.spill();
        Ok(())
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
        // Most keys are strings (every field of a `#[serde(flatten)]`
        // struct comes as one): taken as they are, without a sub-encoder.
        let mut text = std::mem::take(&mut self.enc.key);
        text.clear();
        if key.serialize(KeyText(&mut text)).is_ok() {
            self.key_named(&text);
            self.enc.key = text;
            return Ok(());
        }
        // The key buffer is the sub-encoder's output, and comes back as it.
        let mut sub = self.enc.sub_into(text);
        let written = key.serialize(&mut sub);
        let encoded = self.enc.reclaim(sub);
        written?;
        match text_of(&encoded) {
            Some(name) => self.key_named(name),
            None => {
                // Not a string: written as it is, never skipped.
                self.skip_value = false;
                self.enc.out.extend_from_slice(&encoded);
                self.value_mode = if self.sort_values { Mode::SortSeq } else { Mode::Plain };
            }
        }
        self.enc.key = encoded;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// A map key's text, when the key serialises as one string exactly as
/// [`Enc`] would write it alone (a `str`, `char`, unit variant, or those
/// inside a newtype struct or `Some`); anything else is refused and the
/// key goes through a sub-encoder, so the encoding is the same either way.
struct KeyText<'b>(&'b mut Vec<u8>);

/// What [`KeyText`] refuses: the key is not a plain string.
fn not_text() -> Error {
    Error(String::new())
}

macro_rules! refuse {
    ($($method:ident: $t:ty),*) => {$(
        fn $method(self, _: $t) -> Result<(), Error> {
            Err(not_text())
        }
    )*};
}

impl ser::Serializer for KeyText<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.0.extend_from_slice(v.as_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    refuse!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
            serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
            serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_f32: f32,
            serialize_f64: f64, serialize_bytes: &[u8], serialize_unit_struct: &'static str);
    fn serialize_none(self) -> Result<(), Error> {
        Err(not_text())
    }
    fn serialize_unit(self) -> Result<(), Error> {
        Err(not_text())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(not_text())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(not_text())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(not_text())
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Err(not_text())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_text())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(not_text())
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct, Error> {
        Err(not_text())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_text())
    }
}

/// serde's two struct traits, both one [`Map`] with named fields.
macro_rules! struct_traits {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Map<'_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
                self.key_named(key.as_bytes());
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
fn map_of(entries: &[(&str, serde_json::Value)], rules: &'static Rules) -> Vec<u8> {
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
        assert_eq!(encode(&a, &RULES), encode(&b, &RULES));
        // An unsorted sequence keeps its order; other values count.
        let c = json!({"name": "a.", "ttl": 17, "records": ["y", "x"], "inner": {"ttl": 9, "k": [2, 1]}});
        assert_ne!(encode(&a, &RULES), encode(&c, &RULES));
        let d = json!({"name": "b.", "ttl": 300, "records": ["x", "y"], "inner": {"ttl": 1, "k": [1, 2]}});
        assert_ne!(encode(&a, &RULES), encode(&d, &RULES));
    }

    #[test]
    fn the_values_of_a_sort_values_map_are_sorted_but_its_keys_still_count() {
        let a = map_of(&[("glue", json!({"mx.": ["2", "1"]}))], &RULES);
        let b = map_of(&[("glue", json!({"mx.": ["1", "2"]}))], &RULES);
        let c = map_of(&[("glue", json!({"mx2.": ["1", "2"]}))], &RULES);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// The fingerprints stored so far hashed the whole encoding at once;
    /// hashing it in pieces must give the same digest, or an upgrade would
    /// store a new snapshot for every monitored domain.
    #[test]
    fn hashing_in_pieces_gives_the_digest_of_the_whole_encoding() {
        let records: Vec<String> = (0..2000).rev().map(|i| format!("record {i:05}")).collect();
        let names: Vec<serde_json::Value> = (0..800)
            .map(|i| json!({"name": format!("n{i}."), "ttl": i, "records": ["b", "a"], "k": [i, 2]}))
            .collect();
        let value = json!({"records": records, "names": names, "glue": {"mx.": ["2", "1"]}});
        let whole = encode(&value, &RULES);
        assert!(whole.len() > 4 * SPILL_AT, "the value must spill several times");
        let Hashers::Both(sha, b3) = hash(&value, &RULES, Hashers::Both(Sha256::new(), Box::default())) else {
            unreachable!()
        };
        assert_eq!(sha.finalize(), Sha256::digest(&whole));
        assert_eq!(b3.finalize(), blake3::hash(&whole));
        // And a small value, never spilled.
        let small = json!({"name": "a.", "records": ["y", "x"]});
        let Hashers::Both(sha, b3) = hash(&small, &RULES, Hashers::Both(Sha256::new(), Box::default())) else {
            unreachable!()
        };
        assert_eq!(sha.finalize(), Sha256::digest(encode(&small, &RULES)));
        assert_eq!(b3.finalize(), blake3::hash(&encode(&small, &RULES)));
    }

    /// Map keys that serialise as one string are taken without a
    /// sub-encoder (`KeyText`); whichever way a string key comes (a `str`,
    /// a `char`, a unit variant, inside a newtype struct or `Some`), it is
    /// written and ruled as the same string, and a key that is not a
    /// string still goes through the sub-encoder, written as it is.
    #[test]
    fn a_string_key_is_written_and_ruled_the_same_whichever_way_it_comes() {
        use serde::ser::SerializeMap;
        #[derive(Serialize)]
        struct Named(&'static str);
        #[derive(Serialize)]
        enum Kind {
            #[serde(rename = "ttl")]
            Ttl,
        }
        struct Keys;
        impl Serialize for Keys {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry(&Named("a"), &1)?;
                m.serialize_entry(&'b', &2)?;
                m.serialize_entry(&Some("c"), &3)?;
                m.serialize_entry(&Kind::Ttl, &4)?;
                m.serialize_entry(&Named("records"), &["y", "x"])?;
                m.end()
            }
        }
        let plain = map_of(
            &[
                ("a", json!(1)),
                ("b", json!(2)),
                ("c", json!(3)),
                ("records", json!(["x", "y"])),
            ],
            &RULES,
        );
        assert_eq!(encode(&Keys, &RULES), plain);
        // Not strings: the sub-encoder's bytes, unlike the string "1".
        let numbered = encode(&std::collections::BTreeMap::from([(1, "v")]), &RULES);
        let named = encode(&std::collections::BTreeMap::from([("1", "v")]), &RULES);
        assert_ne!(numbered, named);
        let mut expected = vec![b'{', b'i'];
        expected.extend_from_slice(&1i128.to_le_bytes());
        expected.extend_from_slice(&encode("v", &RULES));
        expected.push(b'}');
        assert_eq!(numbered, expected);
    }

    #[test]
    fn the_encoding_tells_apart_values_json_text_would_run_together() {
        // Length prefixes: ["ab", "c"] is not ["a", "bc"].
        assert_ne!(encode(&json!(["ab", "c"]), &RULES), encode(&json!(["a", "bc"]), &RULES));
        assert_ne!(encode(&json!("1"), &RULES), encode(&json!(1), &RULES));
        assert_ne!(encode(&json!(null), &RULES), encode(&json!(false), &RULES));
        // A sorted sequence of several elements is not one of fewer.
        let two = map_of(&[("records", json!(["a", "b"]))], &RULES);
        let one = map_of(&[("records", json!(["ab"]))], &RULES);
        assert_ne!(two, one);
    }
}

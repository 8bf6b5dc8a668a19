//! From bytes to reports: recognise what an input is by its content (never
//! by its name alone), unwrap gzip, zip and e-mail containers within the
//! caps, and hand the document to its parser. Every input ends as items,
//! each a report or a typed rejection; nothing here panics on bad bytes.

use std::io::{Cursor, Read};

use crate::limits::Limits;
use crate::rejection::{Position, Reason, Rejection};
use crate::report::{Kind, Parsed, Report};
use crate::warning::Warnings;
use crate::{aggregate, mail, tlsrpt};

/// One outcome of an input: where inside it (file, then message or
/// member), the kind when known, and the report or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub locator: String,
    pub kind: Option<Kind>,
    pub outcome: Result<Parsed, Rejection>,
}

/// Read every report in `bytes` (a file called `label`).
pub fn read(label: &str, bytes: &[u8], limits: &Limits) -> Vec<Item> {
    let mut items = Vec::new();
    if bytes.len() as u64 > limits.max_input {
        items.push(rejected(
            label,
            None,
            Rejection::new(
                Reason::SizeLimit,
                format!(
                    "{} bytes, over the input cap of {} bytes",
                    bytes.len(),
                    limits.max_input
                ),
            ),
        ));
        return items;
    }
    open(label, bytes, limits, 0, &mut items);
    items
}

pub(crate) fn rejected(locator: &str, kind: Option<Kind>, r: Rejection) -> Item {
    Item {
        locator: locator.to_string(),
        kind,
        outcome: Err(r),
    }
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// Dispatch on content. `depth` counts the containers already opened.
pub(crate) fn open(label: &str, bytes: &[u8], limits: &Limits, depth: u8, out: &mut Vec<Item>) {
    let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        out.push(rejected(label, None, Rejection::new(Reason::Empty, "no content")));
        return;
    };
    let is_container = body.starts_with(GZIP_MAGIC) || body.starts_with(ZIP_MAGIC) || mail::looks_like_mail(body);
    if is_container && depth >= limits.max_nesting {
        let r = Rejection::new(
            Reason::SizeLimit,
            format!("more than {} nested containers (e-mail, zip, gzip)", limits.max_nesting),
        );
        out.push(rejected(label, None, r));
        return;
    }
    if body.starts_with(GZIP_MAGIC) {
        match gunzip(body, limits.max_decompressed) {
            Ok(inner) => open(label, &inner, limits, depth + 1, out),
            Err(r) => out.push(rejected(label, None, r)),
        }
    } else if body.starts_with(ZIP_MAGIC) {
        match unzip_one(body, limits.max_decompressed) {
            Ok((name, inner)) => open(&format!("{label}:{name}"), &inner, limits, depth + 1, out),
            Err(r) => out.push(rejected(label, None, r)),
        }
    } else if body[start] == b'<' {
        out.push(document(label, Kind::Aggregate, body, limits));
    } else if body[start] == b'{' {
        out.push(document(label, Kind::Tlsrpt, body, limits));
    } else if body.starts_with(b"From ") {
        mail::read_mbox(label, body, limits, depth + 1, out);
    } else if mail::looks_like_mail(body) {
        mail::read_message(label, body, limits, depth + 1, out);
    } else {
        let r = Rejection::new(Reason::NotAReport, "neither XML, JSON, gzip, zip nor an e-mail");
        out.push(rejected(label, None, r));
    }
}

/// Parse an XML or JSON document (UTF-8 required).
fn document(label: &str, kind: Kind, body: &[u8], limits: &Limits) -> Item {
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => {
            let at = Position::in_text(body, e.valid_up_to() as u64);
            let r = Rejection::new(Reason::Encoding, "not UTF-8 (reports must be UTF-8)").at(at);
            return rejected(label, Some(kind), r);
        }
    };
    let mut warnings = Warnings::default();
    let report = match kind {
        Kind::Aggregate => aggregate::parse(text, limits.max_xml_depth, &mut warnings).map(Report::Aggregate),
        _ => tlsrpt::parse(text, &mut warnings).map(Report::Tlsrpt),
    };
    let outcome = report.map(|r| Parsed::new(r, warnings, body.to_vec()));
    // XML or JSON that is no report at all has no kind.
    let kind = match &outcome {
        Err(r) if r.reason == Reason::NotAReport => None,
        _ => Some(kind),
    };
    Item {
        locator: label.to_string(),
        kind,
        outcome,
    }
}

/// Decompress a gzip stream (several members allowed), stopping at `cap`
/// bytes while reading, so a bomb costs at most `cap` of memory.
pub fn gunzip(bytes: &[u8], cap: u64) -> Result<Vec<u8>, Rejection> {
    let decoder = flate2::read::MultiGzDecoder::new(bytes);
    read_capped(decoder, cap, "gzip")
}

/// The one report member of a zip (directories and `__MACOSX/` metadata
/// aside). Member names are only shown, never used as paths.
pub fn unzip_one(bytes: &[u8], cap: u64) -> Result<(String, Vec<u8>), Rejection> {
    let bad = |e: zip::result::ZipError| Rejection::new(Reason::BadArchive, format!("zip: {e}"));
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(bad)?;
    let mut members = Vec::new();
    for i in 0..archive.len() {
        let file = archive.by_index_raw(i).map_err(bad)?;
        let name = printable(&file.name().map_err(bad)?);
        if !file.is_dir() && !name.starts_with("__MACOSX/") {
            members.push((i, name));
        }
    }
    let [(index, name)] = members.as_slice() else {
        return Err(Rejection::new(
            Reason::ZipMembers,
            format!("a zip with {} report members; exactly one is expected", members.len()),
        ));
    };
    let file = archive.by_index(*index).map_err(bad)?;
    let inner = read_capped(file, cap, "zip")?;
    Ok((name.clone(), inner))
}

fn read_capped(reader: impl Read, cap: u64, what: &str) -> Result<Vec<u8>, Rejection> {
    let mut out = Vec::new();
    match reader.take(cap.saturating_add(1)).read_to_end(&mut out) {
        Ok(_) if out.len() as u64 > cap => Err(Rejection::new(
            Reason::SizeLimit,
            format!("{what} expands to more than the cap of {cap} bytes"),
        )),
        Ok(_) => Ok(out),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Rejection::new(
            Reason::Truncated,
            format!("{what}: the stream ends early ({e})"),
        )),
        Err(e) => Err(Rejection::new(Reason::BadArchive, format!("{what}: {e}"))),
    }
}

/// A name safe to print: control characters replaced, length capped.
pub(crate) fn printable(name: &str) -> String {
    name.chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

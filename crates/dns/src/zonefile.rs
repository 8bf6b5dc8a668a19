//! Answers from RFC 1035 zone files, offline.
//!
//! `mailwarden scan example.com --zone-file example.com.zone` audits a zone
//! before it is published. [`ZoneFileSource`] loads one or more master
//! files (a parent and its children, say) with its own RFC 1035 §5 parser,
//! and answers questions the way an authoritative server for those zones
//! would (RFC 1034 §4.3.2), so a check behaves the same on a zone file as
//! on live DNS.
//!
//! Decisions, in brief:
//! - **Origin**: the `ORIGIN=` prefix of the argument ([`parse_zone_arg`]),
//!   else the first `$ORIGIN` before any record, else the owner of the
//!   first SOA; else the file is refused ([`ZoneError::NoOrigin`]).
//! - **`$INCLUDE`** is followed, relative to the including file's
//!   directory, at most 8 deep; origin and owner are restored after it.
//!   It may read only inside the zone file's directory (and below) or a
//!   directory allowed by [`LoadOptions::include_dirs`], symbolic links
//!   resolved first; a zone and everything it includes is at most
//!   [`ZONE_LIMIT`](crate::bounded::ZONE_LIMIT) bytes.
//! - **Outside the loaded zones**, and below a delegation whose child file
//!   is not loaded, the answer is `Status::Error` with
//!   `Proof::Indeterminate`: we could not look, which is not "missing".
//! - Data a server would refuse but an audit should *report* (a TXT
//!   character-string over 255 octets, CNAME beside other data, a zone
//!   without an SOA, whose negative answers then carry no TTL) is kept.
//! - `cname_chain` lists each CNAME target in order, as the live backend
//!   does; the answer's TTL is the smallest of the chain and the RRset.
//! - Not interpreted: DNAME (RFC 6672) is loaded as data but does not
//!   redirect lookups; `$GENERATE` is refused.

mod parser;
mod text;
mod zone;

use std::path::{Path, PathBuf};

use futures::future::BoxFuture;
use mailwarden_model::{Answer, Proof, QueryKey, RType, SourceInfo, Status};

use crate::DnsSource;
use zone::{Zone, ZoneAnswer};

/// The longest CNAME chain followed, as the live backend does.
const MAX_CHAIN: usize = 16;

/// Why a zone file could not be loaded. Each displays as one line that
/// says what and where: `example.com.zone:12:5: MX preference "ten" is
/// not a number`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZoneError {
    /// The file could not be read.
    #[error("{file}: cannot read: {error}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        error: std::io::Error,
    },
    /// Bad syntax or data at a line and column (both from 1; columns
    /// count characters).
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The line, from 1.
        line: usize,
        /// The column, from 1, in characters.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Nothing says which zone the file is for.
    #[error("{file}: cannot tell which zone this is: add $ORIGIN or give the zone as ORIGIN=PATH")]
    NoOrigin {
        /// The file.
        file: String,
    },
    /// Two files claim the same zone.
    #[error("{second}: zone \"{origin}\" is already loaded from {first}")]
    DuplicateZone {
        /// The zone.
        origin: String,
        /// The file that loaded it first.
        first: String,
        /// The file that claims it again.
        second: String,
    },
}

impl ZoneError {
    fn at(file: &str, at: Position, message: String) -> Self {
        Self::Syntax {
            file: file.to_owned(),
            line: at.line,
            column: at.column,
            message,
        }
    }
}

use crate::lexer::Position;

/// Split a `--zone-file` argument: `example.com=path/to/file` gives the
/// origin and the path; anything else is just a path. The prefix counts
/// as an origin only if it looks like a domain name (letters, digits,
/// `-`, `_`, `.`), so a path that contains `=` elsewhere stays a path.
pub fn parse_zone_arg(arg: &str) -> (Option<String>, PathBuf) {
    if let Some((origin, path)) = arg.split_once('=') {
        let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        if !origin.is_empty() && !path.is_empty() && origin.bytes().all(is_name) {
            return (Some(mailwarden_model::name::normalise(origin)), PathBuf::from(path));
        }
    }
    (None, PathBuf::from(arg))
}

/// How zone files are read.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Directories `$INCLUDE` may read from besides the zone file's own
    /// directory (and below): `--zone-include-dir`.
    pub include_dirs: Vec<PathBuf>,
}

/// DNS answers from zone files. See the [module docs](self).
#[derive(Debug, Default)]
pub struct ZoneFileSource {
    zones: Vec<LoadedZone>,
    options: LoadOptions,
}

#[derive(Debug)]
struct LoadedZone {
    /// The argument as the user gave it, for the evidence.
    given: String,
    zone: Zone,
}

impl ZoneFileSource {
    /// Load zone files. Each path may carry an `ORIGIN=` prefix (see
    /// [`parse_zone_arg`]), so command-line arguments can be passed as is.
    pub fn load(paths: &[PathBuf]) -> Result<Self, ZoneError> {
        Self::load_with(paths, LoadOptions::default())
    }

    /// [`ZoneFileSource::load`] with options.
    pub fn load_with(paths: &[PathBuf], options: LoadOptions) -> Result<Self, ZoneError> {
        let mut source = Self {
            options,
            ..Self::default()
        };
        for path in paths {
            let (origin, file) = match path.to_str() {
                Some(arg) => parse_zone_arg(arg),
                None => (None, path.clone()),
            };
            source.add_file(&file, origin.as_deref(), &path.display().to_string())?;
        }
        Ok(source)
    }

    /// Parse zone text, for tests and callers that hold the text already.
    /// `file_label` names it in errors and evidence; `$INCLUDE` paths are
    /// resolved from its directory.
    pub fn from_str(text: &str, origin_hint: Option<&str>, file_label: &str) -> Result<Self, ZoneError> {
        let mut source = Self::default();
        source.add_str(text, origin_hint, file_label)?;
        Ok(source)
    }

    /// Add one zone file. `given` is how the user named it (the evidence).
    pub fn add_file(&mut self, path: &Path, origin_hint: Option<&str>, given: &str) -> Result<(), ZoneError> {
        let label = path.display().to_string();
        let bytes = crate::bounded::read_capped(path, crate::bounded::ZONE_LIMIT).map_err(|error| ZoneError::Read {
            file: label.clone(),
            error,
        })?;
        self.add_bytes(&bytes, origin_hint, &label, given)
    }

    /// Add one zone from text (see [`ZoneFileSource::from_str`]).
    pub fn add_str(&mut self, text: &str, origin_hint: Option<&str>, file_label: &str) -> Result<(), ZoneError> {
        self.add_bytes(text.as_bytes(), origin_hint, file_label, file_label)
    }

    fn add_bytes(
        &mut self,
        bytes: &[u8],
        origin_hint: Option<&str>,
        label: &str,
        given: &str,
    ) -> Result<(), ZoneError> {
        let dir = Path::new(label).parent();
        let parsed = parser::parse(bytes, origin_hint, label, dir, self.includes(dir, bytes.len()))?;
        if let Some(other) = self.zones.iter().find(|z| z.zone.apex == parsed.origin) {
            return Err(ZoneError::DuplicateZone {
                origin: parsed.origin,
                first: other.given.clone(),
                second: given.to_owned(),
            });
        }
        let zone = Zone::new(parsed.origin, parsed.records);
        self.zones.push(LoadedZone {
            given: given.to_owned(),
            zone,
        });
        Ok(())
    }

    /// What `$INCLUDE` may read for a zone file in `dir` that is `read`
    /// bytes long. A directory that does not exist allows nothing.
    fn includes(&self, dir: Option<&Path>, read: usize) -> parser::Includes {
        let own = match dir {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let roots = std::iter::once(own)
            .chain(self.options.include_dirs.iter().map(PathBuf::as_path))
            .filter_map(|d| std::fs::canonicalize(d).ok())
            .collect();
        parser::Includes {
            roots,
            remaining: crate::bounded::ZONE_LIMIT.saturating_sub(read as u64),
            limit: crate::bounded::ZONE_LIMIT,
        }
    }

    /// The origins of the loaded zones, in load order.
    pub fn origins(&self) -> Vec<&str> {
        self.zones.iter().map(|z| z.zone.apex.as_str()).collect()
    }

    /// Answer one question (what [`DnsSource::query`] returns, without the
    /// future).
    ///
    /// RFC 1034 §4.3.2: "1. Set or clear the value of recursion available
    /// in the response ... 2. Search the available zones for the zone which
    /// is the nearest ancestor to QNAME." Then step 3 in that zone, and
    /// round again for each CNAME.
    ///
    /// A server-directed question ([`QueryKey::at`]) cannot be answered
    /// offline: zone files have no servers to ask, so it is a failure to
    /// look (indeterminate), never a negative answer.
    pub fn answer(&self, key: &QueryKey) -> Answer {
        if key.server.is_some() {
            return failure("zone files have no servers to ask".to_owned(), Vec::new());
        }
        let code = key.rtype.code();
        let mut name = key.name.clone();
        let mut chain: Vec<String> = Vec::new();
        let mut chain_ttl: Option<u32> = None;
        loop {
            let Some(zone) = self.zone_for(&name, key.rtype) else {
                let why = if chain.is_empty() {
                    "outside the loaded zone files".to_owned()
                } else {
                    format!("the alias target {name} is outside the loaded zone files")
                };
                return failure(why, chain);
            };
            let mut answer = match zone.lookup(&name, code) {
                ZoneAnswer::Records { records, ttl } => {
                    let mut answer = Answer::with_records(records.to_vec(), Proof::NotValidated);
                    answer.ttl = Some(chain_ttl.map_or(ttl, |c| c.min(ttl)));
                    answer
                }
                ZoneAnswer::Alias { target, ttl } => {
                    if target == key.name || chain.iter().any(|c| c == target) || chain.len() >= MAX_CHAIN {
                        chain.push(target.to_owned());
                        let why = format!("CNAME loop or chain too long: {} → {}", key.name, chain.join(" → "));
                        return failure(why, chain);
                    }
                    chain.push(target.to_owned());
                    chain_ttl = Some(chain_ttl.map_or(ttl, |c| c.min(ttl)));
                    name = target.to_owned();
                    continue;
                }
                ZoneAnswer::NoData => negative(Status::NoData, zone),
                ZoneAnswer::NxDomain => negative(Status::NxDomain, zone),
                ZoneAnswer::Delegated { cut } => {
                    return failure(format!("delegated to {cut}, whose zone file is not loaded"), chain);
                }
            };
            answer.cname_chain = chain;
            return answer;
        }
    }

    /// The loaded zone nearest above `name`. A DS record lives in the
    /// parent ("The DS RR ... is authoritative data in the parent zone",
    /// RFC 4035 §2.4), so for DS a zone's own apex does not count.
    fn zone_for(&self, name: &str, rtype: RType) -> Option<&Zone> {
        self.zones
            .iter()
            .map(|z| &z.zone)
            .filter(|z| z.contains(name) && !(rtype == RType::Ds && z.apex == name))
            .max_by_key(|z| z.apex.len())
    }
}

/// RFC 2308 §5: "the TTL of this record is set from the minimum of the
/// MINIMUM field of the SOA record and the TTL of the SOA itself".
fn negative(status: Status, zone: &Zone) -> Answer {
    let mut answer = Answer::empty(status, Proof::NotValidated);
    answer.ttl = zone.negative_ttl();
    answer
}

/// We could not look: never to be read as "missing".
fn failure(why: String, chain: Vec<String>) -> Answer {
    let mut answer = Answer::empty(Status::Error(why), Proof::Indeterminate);
    answer.cname_chain = chain;
    answer
}

impl DnsSource for ZoneFileSource {
    fn query<'a>(&'a self, key: &'a QueryKey) -> BoxFuture<'a, Answer> {
        Box::pin(std::future::ready(self.answer(key)))
    }

    fn describe(&self) -> SourceInfo {
        SourceInfo {
            backend: "zone-file".into(),
            zone_files: self.zones.iter().map(|z| z.given.clone()).collect(),
            dnssec_validation: false,
            ..SourceInfo::default()
        }
    }
}

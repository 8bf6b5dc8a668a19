//! Reading operator-supplied files with a size cap.
//!
//! A path on the command line may name anything: `/dev/zero`, a FIFO, a
//! multi-gigabyte log. Every file mailwarden reads whole goes through
//! [`read_capped`], which stops one byte past the limit instead of trusting
//! the file's reported size, and says which limit was hit.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Most bytes of zone files read for one zone: the file given with
/// `--zone-file` plus everything it `$INCLUDE`s.
pub const ZONE_LIMIT: u64 = 16 << 20;
/// Most bytes of a `--trust-anchor` file.
pub const TRUST_ANCHOR_LIMIT: u64 = 1 << 20;

/// Read all of `path`, failing with [`io::ErrorKind::FileTooLarge`] when it
/// holds more than `limit` bytes. The error message names the limit (the
/// caller adds the path and the flag).
pub fn read_capped(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

/// The error of a file over `limit` bytes.
pub fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("larger than the limit of {}", human_size(limit)),
    )
}

/// `16 MiB`, `64 KiB`, `100 bytes`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_zero_is_cut_at_the_limit_not_read_forever() {
        let err = read_capped(Path::new("/dev/zero"), 4096).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(err.to_string(), "larger than the limit of 4 KiB");
    }

    #[test]
    fn a_file_at_the_limit_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [b'x'; 10]).unwrap();
        assert_eq!(read_capped(&path, 10).unwrap().len(), 10);
        assert!(read_capped(&path, 9).is_err());
    }
}

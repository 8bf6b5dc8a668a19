//! How a snapshot's Observation and findings are compressed in its row:
//! LZ4 (block format, behind a marker byte and the decompressed length).
//! Raw deflate at its fastest level, which rows written up to session 14
//! hold and which still read, cost more than twice the CPU for 10% smaller
//! blobs: compressing a full audit's findings (18 KB) took 57 µs against
//! LZ4's 25 µs, an Observation (21 KB) 29 µs against 12 µs (2,000 lab
//! scans' blobs), and deflate was a quarter of the instructions storing a
//! new snapshot took (issue 13's "under 10% of the scan"; callgrind of
//! `ingest_batch` over the same scans).
//!
//! lz4_flex's encoder is its unsafe one (no `safe-encode`: about a quarter
//! faster by its own benchmark; it only ever reads what this process
//! serialised), its decoder the safe one (`safe-decode`): a row read back
//! may be corrupt or hostile.

use std::io::Read;

use flate2::read::DeflateDecoder;

/// Largest decompressed Observation or findings list read back from a
/// snapshot (a guard against a corrupt or hostile row; real ones are far
/// below).
pub(crate) const READ_LIMIT: u64 = 64 << 20;

/// The first byte of an LZ4 blob. A raw deflate stream never starts with
/// it: its low three bits would declare a final block of type 3, which RFC
/// 1951 reserves ("11 - reserved (error)"), so no blob written before is
/// mistaken for one written now.
const LZ4: u8 = 0xFF;

/// `data`, compressed: [`LZ4`], its length (u32, little-endian), the LZ4
/// block.
pub(crate) fn compress(data: &[u8]) -> Result<Vec<u8>, String> {
    let len = u32::try_from(data.len()).map_err(|_| format!("{} bytes: over 4 GiB to compress", data.len()))?;
    let mut out = vec![0; 5 + lz4_flex::block::get_maximum_output_size(data.len())];
    out[0] = LZ4;
    out[1..5].copy_from_slice(&len.to_le_bytes());
    let packed = lz4_flex::block::compress_into(data, &mut out[5..]).map_err(|e| e.to_string())?;
    out.truncate(5 + packed);
    Ok(out)
}

/// `blob` decompressed, LZ4 or (rows written by earlier versions) raw
/// deflate; an LZ4 blob that says it holds more than `limit` bytes is an
/// error, a deflate stream is read up to `limit` bytes (a guard against a
/// corrupt or hostile row).
pub(crate) fn decompress(blob: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    match blob.split_first() {
        Some((&LZ4, rest)) => lz4(rest, limit),
        _ => inflate(blob, limit),
    }
}

fn lz4(blob: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let (len, packed) = blob
        .split_first_chunk::<4>()
        .ok_or("an LZ4 blob cut short before its length")?;
    let len = u32::from_le_bytes(*len);
    if u64::from(len) > limit {
        return Err(format!("an LZ4 blob says it holds {len} bytes, over the {limit} read"));
    }
    let len = usize::try_from(len).map_err(|e| e.to_string())?;
    let mut out = vec![0; len];
    let got = lz4_flex::block::decompress_into(packed, &mut out).map_err(|e| format!("not LZ4 data: {e}"))?;
    if got != len {
        return Err(format!("an LZ4 blob says it holds {len} bytes but holds {got}"));
    }
    Ok(out)
}

fn inflate(blob: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    DeflateDecoder::new(blob)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| format!("not deflate data: {e}"))?;
    Ok(out)
}

/// `data` as earlier versions stored it (raw deflate, fastest level): for
/// tests that old rows still read.
#[cfg(test)]
pub(crate) fn deflate_as_before(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_input_round_trips_whole() {
        let long: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        for data in [&b""[..], b"short", &long, b"short again after a long one"] {
            let packed = compress(data).unwrap();
            assert_eq!(packed[0], LZ4);
            assert_eq!(decompress(&packed, u64::MAX).unwrap(), data);
        }
    }

    /// What earlier versions stored (raw deflate) still reads, and starts
    /// with no byte that would read as the LZ4 marker.
    #[test]
    fn blobs_deflated_by_earlier_versions_still_read() {
        let data = br#"{"domain":"example.com","dns":[]}"#;
        let old = deflate_as_before(data);
        assert_ne!(old[0], LZ4);
        assert_eq!(decompress(&old, u64::MAX).unwrap(), data);
        assert_eq!(decompress(&deflate_as_before(b""), u64::MAX).unwrap(), b"");
    }

    /// RFC 1951's reserved block type: a stream starting with the marker
    /// is not deflate, so the marker cannot hide an old row.
    #[test]
    fn the_lz4_marker_is_not_the_start_of_any_deflate_stream() {
        assert!(inflate(b"\xff\x05\x00\x00\x00short", 1_000).is_err());
    }

    #[test]
    fn a_blob_over_the_limit_or_damaged_is_an_error_that_says_what() {
        let packed = compress(&vec![b'a'; 100_000]).unwrap();
        let err = decompress(&packed, 1_000).unwrap_err();
        assert!(err.contains("100000 bytes, over the 1000"), "{err}");
        let err = decompress(&packed[..3], 1_000).unwrap_err();
        assert!(err.contains("cut short"), "{err}");
        let err = decompress(&packed[..packed.len() - 2], u64::MAX).unwrap_err();
        assert!(err.contains("not LZ4 data"), "{err}");
        let mut lying = packed.clone();
        lying[1..5].copy_from_slice(&200_000u32.to_le_bytes());
        assert!(decompress(&lying, u64::MAX).is_err());
        let old = deflate_as_before(&vec![b'a'; 100_000]);
        assert_eq!(decompress(&old, 1_000).unwrap().len(), 1_000);
        assert!(decompress(b"\x07\xff not deflate", 1_000).is_err());
    }
}

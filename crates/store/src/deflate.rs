//! Raw deflate for what a snapshot stores compressed (its Observation and
//! its findings), at the fastest level, with one compressor per thread
//! reused from call to call: building a compressor allocates and zeroes
//! its tables, which was half of what compressing an Observation cost
//! (perf, bench/monitor-lab.sh).

use std::cell::RefCell;
use std::io::Read;

use flate2::read::DeflateDecoder;
use flate2::{Compress, Compression, FlushCompress, Status};

/// Largest decompressed Observation or findings list read back from a
/// snapshot (a guard against a corrupt or hostile row; real ones are far
/// below).
pub(crate) const READ_LIMIT: u64 = 64 << 20;

thread_local! {
    static COMPRESSOR: RefCell<Compress> = RefCell::new(Compress::new(Compression::fast(), false));
}

/// `data`, deflated (no zlib header, as `DeflateEncoder` writes it).
pub(crate) fn compress(data: &[u8]) -> Result<Vec<u8>, String> {
    COMPRESSOR.with_borrow_mut(|c| {
        c.reset();
        // Room for the findings' list (deflated to about 30%) without a
        // second allocation and copy; an Observation needs about 10%.
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        loop {
            let read = usize::try_from(c.total_in()).map_err(|e| e.to_string())?;
            match c.compress_vec(&data[read..], &mut out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => return Ok(out),
                // Out of room: compress_vec writes only into spare capacity.
                Ok(Status::Ok | Status::BufError) => out.reserve(out.capacity().max(1024)),
                Err(e) => return Err(e.to_string()),
            }
        }
    })
}

/// `blob` inflated, at most `limit` bytes of it (a guard against a corrupt
/// or hostile row).
pub(crate) fn decompress(blob: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    DeflateDecoder::new(blob)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| format!("not deflate data: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_reused_compressor_round_trips_each_input_whole() {
        let long: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        for data in [&b""[..], b"short", &long, b"short again after a long one"] {
            let packed = compress(data).unwrap();
            assert_eq!(decompress(&packed, u64::MAX).unwrap(), data);
        }
    }

    /// What earlier versions stored (flate2's `DeflateEncoder`) still reads.
    #[test]
    fn blobs_written_by_the_streaming_encoder_still_read() {
        let data = br#"{"domain":"example.com","dns":[]}"#;
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(data).unwrap();
        let old = enc.finish().unwrap();
        assert_eq!(decompress(&old, u64::MAX).unwrap(), data);
        assert_eq!(decompress(&compress(data).unwrap(), u64::MAX).unwrap(), data);
    }

    #[test]
    fn decompression_stops_at_the_limit() {
        let packed = compress(&vec![b'a'; 100_000]).unwrap();
        assert_eq!(decompress(&packed, 1_000).unwrap().len(), 1_000);
        assert!(decompress(b"\xff\xff not deflate", 1_000).is_err());
    }
}

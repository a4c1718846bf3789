//! Finding where the valid records of a block file end, after a crash.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::{MAX_RECORD_LEN, RECORD_HEADER_LEN};
use crate::error::StorageError;

/// Walks the record headers of `file` and returns the length of its longest
/// prefix made of complete records.
///
/// Appends are one `write_all` of header + payload at the end of the file,
/// so a crash can leave only (a) a prefix of the last record, or (b) after
/// power loss, a zero-filled tail where the size grew but data never reached
/// the disk. The disk loses whole sectors, so in (b) the zeros may start
/// inside a record header: the bytes before the sector boundary are the
/// start of the magic and the rest of the header is zero. All of these are
/// a torn tail and are cut off by the caller. Any other
/// inconsistency — a non-zero header with the wrong magic, or a length above
/// [`MAX_RECORD_LEN`] — cannot come from an interrupted append and is
/// reported as [`StorageError::Corrupt`] rather than silently discarded.
pub(super) fn complete_prefix_len(
    file: &mut File,
    path: &Path,
    file_no: u32,
    magic: [u8; 4],
) -> Result<u64, StorageError> {
    let file_len = file.metadata().map_err(StorageError::io(path))?.len();
    let mut offset = 0u64;
    let mut header = [0u8; RECORD_HEADER_LEN as usize];
    while file_len - offset >= RECORD_HEADER_LEN {
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut header))
            .map_err(StorageError::io(path))?;
        if header == [0u8; RECORD_HEADER_LEN as usize] {
            return Ok(offset);
        }
        let [m0, m1, m2, m3, l0, l1, l2, l3] = header;
        let len = u32::from_le_bytes([l0, l1, l2, l3]);
        let corrupt = |reason: String| StorageError::Corrupt {
            path: path.to_path_buf(),
            file: file_no,
            offset,
            reason,
        };
        if [m0, m1, m2, m3] != magic {
            if is_header_cut_at_sector(&header, offset, magic) {
                return Ok(offset);
            }
            return Err(corrupt(format!(
                "record header has magic {:02x?}, expected {magic:02x?}",
                [m0, m1, m2, m3]
            )));
        }
        if len > MAX_RECORD_LEN {
            return Err(corrupt(format!(
                "record header claims {len} bytes, above the {MAX_RECORD_LEN}-byte limit"
            )));
        }
        let end = offset + RECORD_HEADER_LEN + u64::from(len);
        if end > file_len {
            return Ok(offset);
        }
        offset = end;
    }
    Ok(offset)
}

/// Smallest unit a disk writes; power loss zeroes whole sectors, never less.
const SECTOR: u64 = 512;

/// Whether `header`, read at `offset`, is the start of a valid header whose
/// bytes from a sector boundary on never reached the disk (read back as
/// zeros): an interrupted append, not damage.
fn is_header_cut_at_sector(
    header: &[u8; RECORD_HEADER_LEN as usize],
    offset: u64,
    magic: [u8; 4],
) -> bool {
    (1..magic.len()).any(|k| {
        (offset + k as u64).is_multiple_of(SECTOR)
            && header[..k] == magic[..k]
            && header[k..].iter().all(|&b| b == 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: [u8; 4] = *b"PTHN";

    #[test]
    fn header_cut_at_a_sector_boundary_is_torn_and_others_are_not() {
        let cut = |k: usize| {
            let mut h = [0u8; 8];
            h[..k].copy_from_slice(&MAGIC[..k]);
            h
        };
        // Two magic bytes before the boundary at 512, zeros after.
        assert!(is_header_cut_at_sector(&cut(2), 510, MAGIC));
        assert!(is_header_cut_at_sector(&cut(1), 1023, MAGIC));
        // Same bytes, but no sector boundary where the zeros start.
        assert!(!is_header_cut_at_sector(&cut(2), 100, MAGIC));
        // A wrong magic byte before the boundary is damage.
        let mut h = cut(2);
        h[1] = b'X';
        assert!(!is_header_cut_at_sector(&h, 510, MAGIC));
        // Non-zero bytes after the boundary are damage.
        let mut h = cut(2);
        h[6] = 1;
        assert!(!is_header_cut_at_sector(&h, 510, MAGIC));
    }
}

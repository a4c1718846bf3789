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
/// the disk. Both are a torn tail and are cut off by the caller. Any other
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

//! Append-only flat files holding raw serialized blocks.
//!
//! Files are `blk00000.dat`, `blk00001.dat`, … in one directory. Each holds a
//! sequence of records `[magic: 4 bytes | len: u32 LE | payload]`. Only the
//! highest-numbered file is ever appended to; the others are immutable.
//!
//! Durability: a file is fsynced when the appender moves past it and when
//! the set is opened, so only records appended since the last sync of the
//! current file can be lost to a power failure. [`BlockFiles::synced_end`]
//! says how far that is; with [`Durability::PowerLoss`] every append is
//! synced (one `fdatasync`) before it returns, so a caller that writes the
//! location into a store afterwards never makes a reference to bytes that
//! are not on the disk durable.

mod location;
mod recovery;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

pub use self::location::{BlockLocation, BlockPosition};
use crate::error::StorageError;
use crate::fjall_store::Durability;

/// Largest payload a record may carry. Checked on append and on read, so a
/// damaged length field is reported as corruption instead of driving a
/// huge allocation.
pub const MAX_RECORD_LEN: u32 = 32 * 1024 * 1024;

/// Bytes in front of every payload: 4 magic + 4 length.
pub const RECORD_HEADER_LEN: u64 = 8;

/// The set of block files in one directory, with a single appender.
#[derive(Debug)]
pub struct BlockFiles {
    dir: PathBuf,
    magic: [u8; 4],
    max_file_size: u64,
    durability: Durability,
    /// End of the valid records when the files were opened (after a torn
    /// tail was cut off).
    opened_end: BlockPosition,
    tail: Mutex<Tail>,
}

/// The file currently appended to.
#[derive(Debug)]
struct Tail {
    file_no: u32,
    file: File,
    /// Length of the valid contents; the next record starts here.
    len: u64,
    /// Bytes of this file known to be on the disk (fsynced).
    synced_len: u64,
}

impl BlockFiles {
    /// Opens the block files in `dir` (the directory that directly contains
    /// the `blkNNNNN.dat` files, e.g. `<datadir>/blocks`), creating it if
    /// needed, and positions the appender at the end of the last file.
    ///
    /// A torn record at the end of the last file (crash mid-append) is
    /// truncated away with a warning; earlier records stay readable. The
    /// last file is then fsynced, so whatever the files hold when this
    /// returns survives power loss (after a kill of the previous process its
    /// last appends may still have been only in the page cache).
    /// `max_file_size` bounds file size, except that a single record larger
    /// than it gets a file of its own. Appends use [`Durability::Process`];
    /// see [`BlockFiles::with_durability`].
    pub fn open(dir: &Path, magic: [u8; 4], max_file_size: u64) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(StorageError::io(dir))?;
        let file_no = last_file_no(dir)?.unwrap_or(0);
        let path = file_path(dir, file_no);
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(StorageError::io(&path))?;
        if !existed {
            sync_dir(dir)?;
        }

        let file_len = file.metadata().map_err(StorageError::io(&path))?.len();
        let len = recovery::complete_prefix_len(&mut file, &path, file_no, magic)?;
        if len < file_len {
            tracing::warn!(
                path = %path.display(),
                valid_len = len,
                dropped_bytes = file_len - len,
                "truncating torn record at end of block file"
            );
            file.set_len(len).map_err(StorageError::io(&path))?;
        }
        file.sync_all().map_err(StorageError::io(&path))?;
        tracing::info!(dir = %dir.display(), file_no, len, "opened block files");

        Ok(Self {
            dir: dir.to_path_buf(),
            magic,
            max_file_size,
            durability: Durability::Process,
            opened_end: BlockPosition {
                file: file_no,
                offset: len,
            },
            tail: Mutex::new(Tail {
                file_no,
                file,
                len,
                synced_len: len,
            }),
        })
    }

    /// Sets how far [`BlockFiles::append`] pushes a record before it
    /// returns: [`Durability::PowerLoss`] adds one `fdatasync` of the file
    /// per append, the same promise as a [`crate::FjallStore`] opened in
    /// that mode.
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The durability mode of appends.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Where the valid records ended when the files were opened.
    pub fn opened_end(&self) -> BlockPosition {
        self.opened_end
    }

    /// Every record ending at or before this position is on the disk
    /// (fsynced); later ones may be lost to a power failure.
    pub fn synced_end(&self) -> BlockPosition {
        let tail = self.tail.lock();
        BlockPosition {
            file: tail.file_no,
            offset: tail.synced_len,
        }
    }

    /// Appends one record and returns where its payload lives.
    ///
    /// The whole record goes out in one `write_all`, so once this returns the
    /// record survives a crash or SIGKILL of the process (it is in the page
    /// cache). With [`Durability::PowerLoss`] the file is also
    /// `fdatasync`ed before this returns; otherwise call
    /// [`BlockFiles::sync`] for power-loss durability.
    pub fn append(&self, payload: &[u8]) -> Result<BlockLocation, StorageError> {
        let len = checked_record_len(payload.len() as u64)?;
        let record_len = RECORD_HEADER_LEN + u64::from(len);

        let mut record = Vec::with_capacity(payload.len() + RECORD_HEADER_LEN as usize);
        record.extend_from_slice(&self.magic);
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(payload);

        let mut tail = self.tail.lock();
        if tail.len > 0 && tail.len + record_len > self.max_file_size {
            self.roll(&mut tail)?;
        }
        let path = file_path(&self.dir, tail.file_no);
        let start = tail.len;
        let sync = self.durability == Durability::PowerLoss;
        let written = tail
            .file
            .seek(SeekFrom::Start(start))
            .and_then(|_| tail.file.write_all(&record))
            .and_then(|_| if sync { tail.file.sync_data() } else { Ok(()) });
        if let Err(source) = written {
            // Cut off whatever part of the record made it out, so the next
            // append still starts on a record boundary.
            if let Err(e) = tail.file.set_len(start) {
                tracing::error!(path = %path.display(), error = %e, "could not undo partial block append");
            }
            return Err(StorageError::Io { path, source });
        }
        tail.len = start + record_len;
        if sync {
            tail.synced_len = tail.len;
        }
        Ok(BlockLocation {
            file: tail.file_no,
            offset: start + RECORD_HEADER_LEN,
            len,
        })
    }

    /// Reads the payload at `loc`, verifying the record header in front of it.
    pub fn read(&self, loc: BlockLocation) -> Result<Vec<u8>, StorageError> {
        let (mut file, path) = self.open_record(loc)?;
        let mut payload = vec![0u8; loc.len as usize];
        file.read_exact(&mut payload).map_err(|e| {
            eof_as_corrupt(
                e,
                &path,
                loc.file,
                loc.offset,
                "payload runs past end of file",
            )
        })?;
        Ok(payload)
    }

    /// The opened file, byte offset and length of the payload at `loc`, after
    /// the same header checks as [`BlockFiles::read`]; lets a caller hand the
    /// range to `sendfile` without copying it through user space.
    pub fn raw_range(&self, loc: BlockLocation) -> Result<(File, u64, u64), StorageError> {
        let (file, path) = self.open_record(loc)?;
        let file_len = file.metadata().map_err(StorageError::io(&path))?.len();
        let end = loc.offset + u64::from(loc.len);
        if end > file_len {
            return Err(StorageError::Corrupt {
                path,
                file: loc.file,
                offset: loc.offset,
                reason: format!("payload ends at {end}, past end of file at {file_len}"),
            });
        }
        Ok((file, loc.offset, u64::from(loc.len)))
    }

    /// fsyncs the file currently appended to. Earlier files were fsynced
    /// when the appender moved past them, so after this returns every
    /// appended record survives power loss.
    pub fn sync(&self) -> Result<(), StorageError> {
        let mut tail = self.tail.lock();
        if tail.synced_len == tail.len {
            return Ok(());
        }
        tail.file
            .sync_all()
            .map_err(StorageError::io(file_path(&self.dir, tail.file_no)))?;
        tail.synced_len = tail.len;
        Ok(())
    }

    /// Directory holding the `blkNNNNN.dat` files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Seals the current file and starts the next one.
    fn roll(&self, tail: &mut Tail) -> Result<(), StorageError> {
        let old_path = file_path(&self.dir, tail.file_no);
        tail.file.sync_all().map_err(StorageError::io(&old_path))?;

        let next = tail
            .file_no
            .checked_add(1)
            .ok_or_else(|| StorageError::Io {
                path: old_path,
                source: std::io::Error::other("block file number space exhausted"),
            })?;
        let path = file_path(&self.dir, next);
        // `create_new`: the next number past the highest file must not exist;
        // if it does, something else is writing this directory.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(StorageError::io(&path))?;
        // Make the new directory entry durable before records land in it.
        sync_dir(&self.dir)?;

        tracing::debug!(path = %path.display(), "started new block file");
        *tail = Tail {
            file_no: next,
            file,
            len: 0,
            synced_len: 0,
        };
        Ok(())
    }

    /// Opens the file of `loc` and checks the header in front of the
    /// payload; returns the file positioned at the payload.
    fn open_record(&self, loc: BlockLocation) -> Result<(File, PathBuf), StorageError> {
        checked_record_len(u64::from(loc.len))?;
        let path = file_path(&self.dir, loc.file);
        let corrupt = |offset, reason: String| StorageError::Corrupt {
            path: path.clone(),
            file: loc.file,
            offset,
            reason,
        };
        let Some(header_offset) = loc.offset.checked_sub(RECORD_HEADER_LEN) else {
            return Err(corrupt(
                loc.offset,
                "payload offset leaves no room for a record header".into(),
            ));
        };

        let mut file = File::open(&path).map_err(StorageError::io(&path))?;
        let mut header = [0u8; RECORD_HEADER_LEN as usize];
        file.seek(SeekFrom::Start(header_offset))
            .and_then(|_| file.read_exact(&mut header))
            .map_err(|e| {
                eof_as_corrupt(
                    e,
                    &path,
                    loc.file,
                    header_offset,
                    "record header past end of file",
                )
            })?;
        let [m0, m1, m2, m3, l0, l1, l2, l3] = header;
        if [m0, m1, m2, m3] != self.magic {
            return Err(corrupt(
                header_offset,
                format!(
                    "record header has magic {:02x?}, expected {:02x?}",
                    [m0, m1, m2, m3],
                    self.magic
                ),
            ));
        }
        let header_len = u32::from_le_bytes([l0, l1, l2, l3]);
        if header_len != loc.len {
            return Err(corrupt(
                header_offset,
                format!(
                    "record header says {header_len} bytes, location says {}",
                    loc.len
                ),
            ));
        }
        Ok((file, path))
    }
}

/// Rejects payload lengths above [`MAX_RECORD_LEN`].
fn checked_record_len(len: u64) -> Result<u32, StorageError> {
    u32::try_from(len)
        .ok()
        .filter(|&l| l <= MAX_RECORD_LEN)
        .ok_or(StorageError::RecordTooLarge {
            len,
            max: MAX_RECORD_LEN,
        })
}

/// A short read inside a block file means the file is shorter than the
/// index believes: corruption, not a transient I/O failure.
fn eof_as_corrupt(
    e: std::io::Error,
    path: &Path,
    file: u32,
    offset: u64,
    reason: &str,
) -> StorageError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        StorageError::Corrupt {
            path: path.to_path_buf(),
            file,
            offset,
            reason: reason.into(),
        }
    } else {
        StorageError::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

fn file_path(dir: &Path, file_no: u32) -> PathBuf {
    dir.join(format!("blk{file_no:05}.dat"))
}

/// Parses `blkNNNNN.dat` (five or more digits); other names are not ours.
fn parse_file_no(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("blk")?.strip_suffix(".dat")?;
    if digits.len() < 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn last_file_no(dir: &Path) -> Result<Option<u32>, StorageError> {
    let mut last = None;
    for entry in std::fs::read_dir(dir).map_err(StorageError::io(dir))? {
        let entry = entry.map_err(StorageError::io(dir))?;
        if let Some(n) = entry.file_name().to_str().and_then(parse_file_no) {
            last = last.max(Some(n));
        }
    }
    Ok(last)
}

/// fsyncs a directory so file creations in it survive power loss.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StorageError::io(dir))
}

/// Directories cannot be opened for fsync on non-Unix systems; NTFS
/// journals directory entries itself.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), StorageError> {
    Ok(())
}

#[cfg(test)]
mod tests;

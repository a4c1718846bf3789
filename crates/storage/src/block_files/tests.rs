use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use super::*;

const MAGIC: [u8; 4] = *b"PTHN";
const BIG: u64 = 1 << 30;

fn payload(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

fn file_len(dir: &Path, n: u32) -> u64 {
    std::fs::metadata(file_path(dir, n)).unwrap().len()
}

fn append_raw(dir: &Path, n: u32, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .append(true)
        .open(file_path(dir, n))
        .unwrap();
    f.write_all(bytes).unwrap();
}

fn assert_corrupt(err: StorageError, want_file: u32, want_offset: u64) {
    match err {
        StorageError::Corrupt { file, offset, .. } => {
            assert_eq!((file, offset), (want_file, want_offset))
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn append_read_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let bf = BlockFiles::open(dir.path(), MAGIC, BIG).unwrap();
    assert_eq!(bf.dir(), dir.path());
    let payloads = [payload(1, 100), Vec::new(), payload(9, 5000)];
    let locs: Vec<_> = payloads.iter().map(|p| bf.append(p).unwrap()).collect();

    assert_eq!(
        locs[0],
        BlockLocation {
            file: 0,
            offset: 8,
            len: 100
        }
    );
    assert_eq!(locs[1].offset, 8 + 100 + 8);
    for (loc, p) in locs.iter().zip(&payloads) {
        assert_eq!(&bf.read(*loc).unwrap(), p);
        assert_eq!(BlockLocation::from_bytes(&loc.to_bytes()).unwrap(), *loc);
    }

    let (mut file, offset, len) = bf.raw_range(locs[2]).unwrap();
    assert_eq!((offset, len), (locs[2].offset, 5000));
    let mut raw = vec![0u8; len as usize];
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.read_exact(&mut raw).unwrap();
    assert_eq!(raw, payloads[2]);

    bf.sync().unwrap();
    assert_eq!(file_len(dir.path(), 0), 3 * 8 + 100 + 5000);
}

#[test]
fn reopen_resumes_at_end_of_last_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = {
        let bf = BlockFiles::open(dir.path(), MAGIC, BIG).unwrap();
        (bf.append(b"first").unwrap(), bf.append(b"second").unwrap())
    };
    let bf = BlockFiles::open(dir.path(), MAGIC, BIG).unwrap();
    let c = bf.append(b"third").unwrap();
    assert_eq!(c.file, 0);
    assert_eq!(c.offset, b.offset + u64::from(b.len) + RECORD_HEADER_LEN);
    assert_eq!(bf.read(a).unwrap(), b"first");
    assert_eq!(bf.read(b).unwrap(), b"second");
    assert_eq!(bf.read(c).unwrap(), b"third");
}

#[test]
fn rolls_to_new_file_at_max_size() {
    let dir = tempfile::tempdir().unwrap();
    // Two 40-byte payloads make 96 bytes of records: the third does not fit.
    let bf = BlockFiles::open(dir.path(), MAGIC, 100).unwrap();
    let l0 = bf.append(&payload(0, 40)).unwrap();
    let l1 = bf.append(&payload(1, 40)).unwrap();
    let l2 = bf.append(&payload(2, 40)).unwrap();
    assert_eq!((l0.file, l1.file, l2.file), (0, 0, 1));
    assert_eq!(l2.offset, RECORD_HEADER_LEN);
    assert_eq!(file_len(dir.path(), 0), 96);

    // A record larger than the limit gets a file of its own, and the next
    // record moves on again.
    let huge = bf.append(&payload(3, 500)).unwrap();
    let after = bf.append(&payload(4, 10)).unwrap();
    assert_eq!((huge.file, after.file), (2, 3));
    drop(bf);

    let bf = BlockFiles::open(dir.path(), MAGIC, 100).unwrap();
    let resumed = bf.append(&payload(5, 10)).unwrap();
    assert_eq!((resumed.file, resumed.offset), (3, 18 + 8));
    for (i, loc) in [l0, l1, l2].into_iter().enumerate() {
        assert_eq!(bf.read(loc).unwrap(), payload(i as u8, 40));
    }
    assert_eq!(bf.read(huge).unwrap(), payload(3, 500));
}

#[test]
fn torn_tail_is_truncated_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = {
        let bf = BlockFiles::open(dir.path(), MAGIC, BIG).unwrap();
        (
            bf.append(&payload(1, 64)).unwrap(),
            bf.append(&payload(2, 64)).unwrap(),
        )
    };
    let good_len = file_len(dir.path(), 0);

    let mut partial_payload = MAGIC.to_vec();
    partial_payload.extend_from_slice(&100u32.to_le_bytes());
    partial_payload.extend_from_slice(&[7u8; 10]);
    let tails: [&[u8]; 3] = [&partial_payload, &MAGIC[..3], &[0u8; 24]];
    for tail in tails {
        append_raw(dir.path(), 0, tail);
        let bf = BlockFiles::open(dir.path(), MAGIC, BIG).unwrap();
        assert_eq!(file_len(dir.path(), 0), good_len, "tail {tail:?}");
        assert_eq!(bf.read(a).unwrap(), payload(1, 64));
        assert_eq!(bf.read(b).unwrap(), payload(2, 64));
    }

    let bf = BlockFiles::open(dir.path(), MAGIC, BIG).unwrap();
    let c = bf.append(b"after recovery").unwrap();
    assert_eq!(c.offset, good_len + RECORD_HEADER_LEN);
    assert_eq!(bf.read(c).unwrap(), b"after recovery");
}

#[test]
fn garbage_header_in_last_file_is_corruption_not_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let end = {
        let bf = BlockFiles::open(dir.path(), MAGIC, BIG).unwrap();
        let loc = bf.append(b"kept").unwrap();
        loc.offset + u64::from(loc.len)
    };
    append_raw(dir.path(), 0, b"XXXX\x01\x00\x00\x00z");
    assert_corrupt(
        BlockFiles::open(dir.path(), MAGIC, BIG).unwrap_err(),
        0,
        end,
    );
    assert_eq!(file_len(dir.path(), 0), end + 9, "nothing may be cut off");
}

#[test]
fn oversized_length_in_file_is_corruption_without_allocation() {
    let dir = tempfile::tempdir().unwrap();
    drop(BlockFiles::open(dir.path(), MAGIC, BIG).unwrap());
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&u32::MAX.to_le_bytes());
    append_raw(dir.path(), 0, &header);
    assert_corrupt(BlockFiles::open(dir.path(), MAGIC, BIG).unwrap_err(), 0, 0);
}

#[test]
fn wrong_header_in_front_of_location_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let bf = BlockFiles::open(dir.path(), MAGIC, BIG).unwrap();
    bf.append(b"zero").unwrap();
    let loc = bf.append(b"payload").unwrap();
    let header_at = loc.offset - RECORD_HEADER_LEN;

    // Length disagreeing with the header.
    let longer = BlockLocation {
        len: loc.len + 1,
        ..loc
    };
    assert_corrupt(bf.read(longer).unwrap_err(), 0, header_at);
    assert_corrupt(bf.raw_range(longer).unwrap_err(), 0, header_at);

    // Pointing into the middle of a payload.
    let shifted = BlockLocation {
        offset: loc.offset + 2,
        ..loc
    };
    assert_corrupt(bf.read(shifted).unwrap_err(), 0, header_at + 2);

    // No room for a header at all.
    let too_early = BlockLocation { offset: 3, ..loc };
    assert_corrupt(bf.read(too_early).unwrap_err(), 0, 3);

    // Past the end of the file.
    let beyond = BlockLocation {
        offset: 10_000,
        ..loc
    };
    assert_corrupt(bf.read(beyond).unwrap_err(), 0, 10_000 - RECORD_HEADER_LEN);

    // Damaged magic on disk.
    let mut f = OpenOptions::new()
        .write(true)
        .open(file_path(dir.path(), 0))
        .unwrap();
    f.seek(SeekFrom::Start(header_at)).unwrap();
    f.write_all(b"BAD!").unwrap();
    drop(f);
    assert_corrupt(bf.read(loc).unwrap_err(), 0, header_at);
}

#[test]
fn oversized_records_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let bf = BlockFiles::open(dir.path(), MAGIC, BIG).unwrap();
    let too_big = vec![0u8; MAX_RECORD_LEN as usize + 1];
    assert!(matches!(
        bf.append(&too_big),
        Err(StorageError::RecordTooLarge { len, max: MAX_RECORD_LEN })
            if len == u64::from(MAX_RECORD_LEN) + 1
    ));
    assert_eq!(file_len(dir.path(), 0), 0, "nothing written");

    let loc = BlockLocation {
        file: 0,
        offset: 8,
        len: MAX_RECORD_LEN + 1,
    };
    assert!(matches!(
        bf.read(loc),
        Err(StorageError::RecordTooLarge { .. })
    ));
}

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let bf = BlockFiles::open(dir.path(), MAGIC, BIG).unwrap();
    let loc = BlockLocation {
        file: 7,
        offset: 8,
        len: 1,
    };
    match bf.read(loc) {
        Err(StorageError::Io { path, source }) => {
            assert_eq!(path, file_path(dir.path(), 7));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn foreign_file_names_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["blk99.dat", "blk00009.tmp", "rev00009.dat", "blkabcde.dat"] {
        std::fs::write(dir.path().join(name), b"junk").unwrap();
    }
    std::fs::write(file_path(dir.path(), 2), b"").unwrap();
    let bf = BlockFiles::open(dir.path(), MAGIC, BIG).unwrap();
    assert_eq!(bf.append(b"x").unwrap().file, 2);
    assert_eq!(parse_file_no("blk123456.dat"), Some(123_456));
}

#[test]
fn concurrent_appends_do_not_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let bf = Arc::new(BlockFiles::open(dir.path(), MAGIC, 4096).unwrap());
    let handles: Vec<_> = (0..4u8)
        .map(|t| {
            let bf = Arc::clone(&bf);
            std::thread::spawn(move || {
                (0..50u8)
                    .map(|i| {
                        let p = payload(t * 64 + i, 20 + usize::from(i));
                        (bf.append(&p).unwrap(), p)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for h in handles {
        for (loc, p) in h.join().unwrap() {
            assert_eq!(bf.read(loc).unwrap(), p);
        }
    }
}

#[test]
fn synced_end_follows_syncs_rolls_and_power_loss_appends() {
    let dir = tempfile::tempdir().unwrap();
    let bf = BlockFiles::open(dir.path(), MAGIC, 100).unwrap();
    assert_eq!(bf.durability(), Durability::Process);
    let start = BlockPosition { file: 0, offset: 0 };
    assert_eq!((bf.opened_end(), bf.synced_end()), (start, start));

    // Process mode: an append is not synced until `sync`.
    let a = bf.append(&payload(1, 40)).unwrap();
    assert_eq!(bf.synced_end(), start);
    bf.sync().unwrap();
    assert_eq!(bf.synced_end(), a.end());

    // Moving to the next file syncs the one left behind.
    let b = bf.append(&payload(2, 40)).unwrap();
    let c = bf.append(&payload(3, 40)).unwrap();
    assert_eq!((b.file, c.file), (0, 1));
    assert_eq!(bf.synced_end(), BlockPosition { file: 1, offset: 0 });
    drop(bf);

    // Reopening syncs what the files hold; PowerLoss appends are synced at once.
    let bf = BlockFiles::open(dir.path(), MAGIC, 100)
        .unwrap()
        .with_durability(Durability::PowerLoss);
    assert_eq!(bf.opened_end(), c.end());
    assert_eq!(bf.synced_end(), c.end());
    let d = bf.append(&payload(4, 10)).unwrap();
    assert_eq!(bf.synced_end(), d.end());
    assert_eq!(bf.read(d).unwrap(), payload(4, 10));
}

#[test]
fn tail_zeroed_from_a_sector_boundary_inside_a_header_is_torn() {
    let dir = tempfile::tempdir().unwrap();
    // The first record ends at 8 + 494 = 502, so the second header spans the
    // sector boundary at 512 only if it starts at 510: pad with one more record.
    let bf = BlockFiles::open(dir.path(), MAGIC, BIG).unwrap();
    let a = bf.append(&payload(1, 494)).unwrap();
    assert_eq!(a.end().offset, 502);
    drop(bf);
    // A header at 502 whose bytes from 512 on are lost would need 10 bytes of
    // magic; a header at 510 keeps two. Write 8 filler bytes as a record of 0.
    append_raw(dir.path(), 0, &MAGIC);
    append_raw(dir.path(), 0, &0u32.to_le_bytes());
    let mut cut = MAGIC[..2].to_vec();
    cut.extend_from_slice(&[0u8; 600]);
    append_raw(dir.path(), 0, &cut);
    let bf = BlockFiles::open(dir.path(), MAGIC, BIG).unwrap();
    assert_eq!(
        bf.opened_end(),
        BlockPosition {
            file: 0,
            offset: 510
        }
    );
    assert_eq!(file_len(dir.path(), 0), 510);
    assert_eq!(bf.read(a).unwrap(), payload(1, 494));
}

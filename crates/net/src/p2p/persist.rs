//! The engine's small state files (address book, ban list): one `KEY VALUE` line per entry,
//! written to a temporary file in the same directory and renamed over the old one, so a
//! crash leaves the old or the new file, never half of one.

use crate::reputation::{BanList, Subnet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Longest line read from a state file; longer ones are skipped.
pub(crate) const MAX_LINE: usize = 128;

/// Why a state file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct StateFileError {
    /// The file.
    pub path: PathBuf,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

/// Replaces `path` with `text`, atomically and durably.
pub(crate) fn write_atomically(path: &Path, text: &str) -> Result<(), StateFileError> {
    let io = |source| StateFileError {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(text.as_bytes()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// The text of `path`, or `None` when it does not exist yet.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<String>, StateFileError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateFileError {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The two fields of a `KEY VALUE` line, parsed; `None` for anything else.
pub(crate) fn parse_pair<K: std::str::FromStr, V: std::str::FromStr>(line: &str) -> Option<(K, V)> {
    if line.len() > MAX_LINE {
        return None;
    }
    let mut parts = line.split_ascii_whitespace();
    let k = parts.next()?.parse().ok()?;
    let v = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((k, v))
}

/// The bans stored at `path` (`SUBNET UNTIL_UNIX` lines, a subnet being an address or
/// `ADDRESS/PREFIX`) that have not expired at `now`.
pub(crate) fn load_bans(path: &Path, now: u64) -> Result<BanList, StateFileError> {
    let mut bans = BanList::new();
    let Some(text) = read_if_exists(path)? else {
        return Ok(bans);
    };
    let mut bad = 0usize;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match parse_pair::<Subnet, u64>(line) {
            Some((ip, until)) if until > now => bans.ban(ip, now, until - now),
            Some(_) => {}
            None => bad += 1,
        }
    }
    if bad > 0 {
        tracing::warn!(path = %path.display(), bad, "skipped unreadable ban list lines");
    }
    Ok(bans)
}

/// Writes `bans` to `path`.
pub(crate) fn save_bans(path: &Path, bans: &BanList) -> Result<(), StateFileError> {
    let text: String = bans
        .entries()
        .into_iter()
        .map(|(subnet, until)| format!("{subnet} {until}\n"))
        .collect();
    write_atomically(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_survive_a_restart_and_expired_ones_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("banlist.txt");
        assert!(load_bans(&path, 0).unwrap().entries().is_empty());
        let mut bans = BanList::new();
        let a: Subnet = "10.0.0.1".parse().unwrap();
        let b: Subnet = "2001:db8::/64".parse().unwrap();
        bans.ban(a, 1_000, 100);
        bans.ban(b, 1_000, 10_000);
        save_bans(&path, &bans).unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("not a ban\n");
        std::fs::write(&path, text).unwrap();
        let loaded = load_bans(&path, 1_050).unwrap();
        assert_eq!(loaded.entries(), vec![(a, 1_100), (b, 11_000)]);
        let later = load_bans(&path, 1_200).unwrap();
        assert_eq!(later.entries(), vec![(b, 11_000)]);
    }
}

//! Writing a small file that holds a secret (the wallet key, the RPC cookie, TLS private
//! keys) so that nobody else can read it, redirect it or see half of it.
//!
//! [`write_secret`] (and [`write_file`] for the public certificate beside a key;
//! [`create_secret`] for a file that must not exist yet):
//!
//! 1. creates a temporary file in the target's directory under an unpredictable name
//!    (`.<name>.<22 random characters>.tmp`), with `O_CREAT | O_EXCL` and the final mode passed
//!    to `open(2)`, so the file never exists with wider permissions, and a file or symbolic
//!    link planted at any name cannot be opened or followed instead (`O_EXCL` fails on an
//!    existing name, symbolic links included, which is what `O_NOFOLLOW` would add);
//! 2. writes the bytes and fsyncs the file;
//! 3. renames it over the target, which replaces the directory entry itself: a symbolic link
//!    planted at the target is replaced, never written through;
//! 4. fsyncs the directory, so the rename survives a power loss.
//!
//! A crash leaves the old file or the new one, and at worst a stray temporary file that no
//! later write reuses. The `tempfile` crate does steps 1 and 3 (its `Builder` opens with
//! `create_new` and the given mode, and removes the temporary file on any error).

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::path::Path;

/// Mode of a secret file: read and write by its owner only.
pub const SECRET_MODE: u32 = 0o600;
/// Random characters in a temporary file's name (about 130 bits).
const RANDOM_NAME_CHARS: usize = 22;

/// Replaces `path` with `bytes`, readable and writable by the owner only ([`SECRET_MODE`]),
/// atomically and durably (see the [module](self) documentation).
///
/// # Errors
/// Any error of creating, writing, syncing or renaming; the target is then unchanged.
pub fn write_secret(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_file(path, bytes, SECRET_MODE)
}

/// Creates `path` holding `bytes`, mode [`SECRET_MODE`], like [`write_secret`] but refusing to
/// replace an existing file: the final rename fails with [`io::ErrorKind::AlreadyExists`] if
/// anything (a file, a symbolic link) has that name by then, so two creators cannot both win.
///
/// # Errors
/// [`io::ErrorKind::AlreadyExists`] when `path` exists; any other I/O error.
pub fn create_secret(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (dir, tmp) = prepare(path, bytes, SECRET_MODE)?;
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    sync_dir(&dir)
}

/// Replaces `path` with `bytes` with permission bits `mode` (applied at creation, then set
/// exactly, so a restrictive umask does not narrow a public file), atomically and durably.
///
/// # Errors
/// Any error of creating, writing, syncing or renaming; the target is then unchanged.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let (dir, tmp) = prepare(path, bytes, mode)?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(&dir)
}

/// The temporary file beside `path`, created with `O_EXCL` and `mode`, holding `bytes`,
/// fsynced; and the directory it is in.
fn prepare(
    path: &Path,
    bytes: &[u8],
    mode: u32,
) -> io::Result<(std::path::PathBuf, tempfile::NamedTempFile)> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .rand_bytes(RANDOM_NAME_CHARS)
        .permissions(permissions(mode))
        .tempfile_in(dir)?;
    // The umask may have removed bits from a public file's mode; never adds any.
    tmp.as_file().set_permissions(permissions(mode))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok((dir.to_path_buf(), tmp))
}

fn permissions(mode: u32) -> Permissions {
    use std::os::unix::fs::PermissionsExt;
    Permissions::from_mode(mode)
}

/// Fsyncs a directory so that a rename in it is durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn mode_of(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    /// The names the old writers used: `.<name>.tmp` beside the target.
    fn predictable_temp(dir: &Path, name: &str) -> std::path::PathBuf {
        dir.join(format!(".{name}.tmp"))
    }

    #[test]
    fn a_secret_is_written_with_mode_0600_and_no_temporary_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("wallet.key");
        write_secret(&target, b"first").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"first");
        assert_eq!(mode_of(&target), 0o600);
        // Replacing keeps the mode and the directory holds only the target.
        std::fs::set_permissions(&target, Permissions::from_mode(0o644)).unwrap();
        write_secret(&target, b"second").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"second");
        assert_eq!(mode_of(&target), 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("wallet.key")]);
    }

    #[test]
    fn a_symlink_planted_at_the_old_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let victim = elsewhere.path().join("victim");
        std::fs::write(&victim, b"untouched").unwrap();
        let target = dir.path().join(".cookie");
        let planted = predictable_temp(dir.path(), ".cookie");
        symlink(&victim, &planted).unwrap();

        write_secret(&target, b"__cookie__:secret").unwrap();

        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        assert!(std::fs::symlink_metadata(&planted)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"__cookie__:secret");
        assert_eq!(mode_of(&target), 0o600);
    }

    #[test]
    fn a_world_readable_file_planted_at_the_old_temporary_name_gives_no_mode() {
        // The old writers opened `.<name>.tmp` with O_CREAT|O_TRUNC: a file already there
        // kept its own mode (0666 here) and became the secret.
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("wallet.key");
        let planted = predictable_temp(dir.path(), "wallet.key");
        std::fs::write(&planted, b"").unwrap();
        std::fs::set_permissions(&planted, Permissions::from_mode(0o666)).unwrap();

        write_secret(&target, b"secret").unwrap();

        assert_eq!(mode_of(&target), 0o600);
        assert_eq!(std::fs::read(&planted).unwrap(), b"");
    }

    #[test]
    fn a_symlink_at_the_target_is_replaced_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let victim = elsewhere.path().join("victim");
        std::fs::write(&victim, b"untouched").unwrap();
        let target = dir.path().join("node.key");
        symlink(&victim, &target).unwrap();

        write_secret(&target, b"-----BEGIN PRIVATE KEY-----").unwrap();

        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        let meta = std::fs::symlink_metadata(&target).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn create_secret_refuses_an_existing_name_and_leaves_it_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("wallet.key");
        create_secret(&target, b"first").unwrap();
        assert_eq!(mode_of(&target), 0o600);
        let e = create_secret(&target, b"second").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&target).unwrap(), b"first");
        // A dangling symbolic link counts as existing too.
        let link = dir.path().join("other.key");
        symlink(dir.path().join("nowhere"), &link).unwrap();
        assert_eq!(
            create_secret(&link, b"x").unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert!(!dir.path().join("nowhere").exists());
        let names = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(names, 2, "no temporary file is left behind");
    }

    #[test]
    fn a_public_file_gets_its_mode_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("node.crt");
        write_file(&target, b"cert", 0o644).unwrap();
        assert_eq!(mode_of(&target), 0o644);
    }
}

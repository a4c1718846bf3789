//! RPC authentication: the cookie file and HTTP Basic credential checks.
//!
//! At start the server writes `<datadir>/.cookie` (mode 0600, in the owner-only data
//! directory) holding `__cookie__:<64 hex digits>` from 32 random bytes; a local tool that
//! can read the data directory authenticates with it. The file is removed at clean shutdown
//! and overwritten at the next start (a stale one after a crash grants nothing: the running
//! node checks only the cookie it wrote). A configured user/password is accepted beside it.
//! Credentials are compared in constant time.

use crate::datadir::DataDir;
use base64::Engine as _;
use rand::RngCore as _;
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq as _;

/// User name of cookie credentials.
pub const COOKIE_USER: &str = "__cookie__";

/// The cookie file of a data directory.
pub fn cookie_path(datadir: &DataDir) -> PathBuf {
    datadir.root().join(".cookie")
}

/// A user name and password (the password is never printed by `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why the cookie file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CookieError {
    /// Reading or writing the file failed.
    #[error("RPC cookie file {path}")]
    Io {
        /// The cookie file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not `user:password`.
    #[error("RPC cookie file {0} is not of the form __cookie__:<hex>")]
    Malformed(PathBuf),
}

impl Credentials {
    /// Fresh cookie credentials: `__cookie__` and 64 hex digits of 32 random bytes.
    pub fn random_cookie() -> Credentials {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let password = hex::encode(secret);
        secret.fill(0);
        Credentials {
            user: COOKIE_USER.to_string(),
            password,
        }
    }

    /// Reads the credentials a running node wrote to `path`.
    pub fn from_cookie_file(path: &Path) -> Result<Credentials, CookieError> {
        let text = std::fs::read_to_string(path).map_err(|source| CookieError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let (user, password) = text
            .trim_end_matches(['\r', '\n'])
            .split_once(':')
            .filter(|(u, p)| !u.is_empty() && !p.is_empty())
            .ok_or_else(|| CookieError::Malformed(path.to_path_buf()))?;
        Ok(Credentials {
            user: user.to_string(),
            password: password.to_string(),
        })
    }

    /// Writes these credentials to `path` as `user:password`, mode 0600, atomically, through
    /// the one secret-file writer ([`parthenon_storage::write_secret`]: random `O_EXCL`
    /// temporary name, so nothing planted in the data directory is followed).
    pub fn write_cookie_file(&self, path: &Path) -> Result<(), CookieError> {
        let text = format!("{}:{}", self.user, self.password);
        parthenon_storage::write_secret(path, text.as_bytes()).map_err(|source| CookieError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The value of an `Authorization` header carrying these credentials.
    pub fn basic_authorization(&self) -> String {
        let raw = format!("{}:{}", self.user, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// The credentials a server accepts.
#[derive(Debug, Clone)]
pub(crate) struct Authenticator {
    accepted: Vec<Credentials>,
}

impl Authenticator {
    /// Accepts any of `accepted`.
    pub(crate) fn new(accepted: Vec<Credentials>) -> Self {
        Authenticator { accepted }
    }

    /// Whether `header` (the raw `Authorization` value) names accepted credentials. Every
    /// accepted pair is compared, each in constant time, whatever matches.
    pub(crate) fn check(&self, header: Option<&[u8]>) -> bool {
        let Some((user, password)) = header.and_then(decode_basic) else {
            return false;
        };
        let mut ok = subtle::Choice::from(0);
        for c in &self.accepted {
            ok |= c.user.as_bytes().ct_eq(&user) & c.password.as_bytes().ct_eq(&password);
        }
        ok.into()
    }
}

/// Splits `Basic <base64(user:password)>` into user and password.
fn decode_basic(header: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (scheme, encoded) = header.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim_ascii())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, password: &str) -> Credentials {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    #[test]
    fn accepts_only_matching_basic_credentials() {
        let cookie = Credentials::random_cookie();
        assert_eq!(cookie.user, COOKIE_USER);
        assert_eq!(cookie.password.len(), 64);
        let auth = Authenticator::new(vec![cookie.clone(), creds("alice", "pa:ss")]);
        let header = |c: &Credentials| c.basic_authorization().into_bytes();
        assert!(auth.check(Some(&header(&cookie))));
        assert!(auth.check(Some(&header(&creds("alice", "pa:ss")))));
        assert!(!auth.check(Some(&header(&creds("alice", "pa")))));
        assert!(!auth.check(Some(&header(&creds("__cookie__", "00")))));
        assert!(!auth.check(None));
        assert!(!auth.check(Some(b"Bearer abc")));
        assert!(!auth.check(Some(b"Basic !!!not-base64")));
        assert!(!auth.check(Some(b"Basic")));
        // The scheme is case-insensitive; the password may contain ':'.
        let lower = header(&creds("alice", "pa:ss"))
            .strip_prefix(b"Basic ")
            .map(|rest| [b"basic ".as_slice(), rest].concat())
            .unwrap();
        assert!(auth.check(Some(&lower)));
    }

    #[cfg(unix)]
    #[test]
    fn the_cookie_is_not_written_through_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let victim = elsewhere.path().join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("..cookie.tmp")).unwrap();
        let path = dir.path().join(".cookie");
        let c = Credentials::random_cookie();
        c.write_cookie_file(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        assert_eq!(Credentials::from_cookie_file(&path).unwrap(), c);
    }

    #[test]
    fn cookie_file_round_trip_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".cookie");
        let c = Credentials::random_cookie();
        c.write_cookie_file(&path).unwrap();
        assert_eq!(Credentials::from_cookie_file(&path).unwrap(), c);
        assert_ne!(Credentials::random_cookie(), c);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "no separator").unwrap();
        assert!(matches!(
            Credentials::from_cookie_file(&path),
            Err(CookieError::Malformed(_))
        ));
        assert!(format!("{c:?}").contains("redacted") && !format!("{c:?}").contains(&c.password));
    }
}

//! Certificate rotation: [`CertRotator`] serves a certificate chain and key from files and
//! swaps in a new pair, without a restart, when the files change.
//!
//! - **Where from** ([`CertSource`]): the node's own self-signed pair in `<datadir>/tls/`
//!   (`node.crt`, `node.key`, made on first start), two configured files, or a directory
//!   holding `fullchain.pem` + `privkey.pem` (certbot's names) or `tls.crt` + `tls.key`
//!   (a Kubernetes TLS secret).
//! - **Serving**: [`CertRotator::resolver`] is a rustls [`ResolvesServerCert`] backed by an
//!   atomic pointer ([`arc_swap`]): each new handshake takes the pair in service at that
//!   moment, lock-free; established connections keep the certificate they were made with.
//!   [`TlsTransport::with_rotator`](crate::tls::TlsTransport::with_rotator) builds a
//!   transport whose listeners serve it.
//! - **Change detection**: a tokio task watches the files' parent directories (not the files,
//!   so renames and symlink swaps are seen) and the directories of their resolved symlink
//!   targets (certbot's `archive/`, Kubernetes' `..data` target), non-recursively; events are
//!   debounced ([`RotatorConfig::debounce`]); and every [`RotatorConfig::check_interval`]
//!   the files are compared anyway, in case an event was missed (network file systems).
//!   The task stops when the last clone of the rotator is dropped, or on
//!   [`CertRotator::shutdown`].
//! - **Safe reload**: a changed pair goes into service only if both files parse completely,
//!   the certificate's public key is the key's, the certificate is valid now, and it does
//!   not expire before the one in service (unless that one has expired, or
//!   [`RotatorConfig::allow_earlier_expiry`]). Otherwise the old pair stays in service, and
//!   the failure is logged and counted ([`ReloadCounts`]); the next event or periodic check
//!   tries again, so a half-written file or a certificate waiting for its key only delays
//!   the rotation. Files whose content is unchanged are not a reload.
//! - **Expiry**: each check logs a warning when fewer than [`RotatorConfig::warn_days`] days
//!   are left, an error under [`CRITICAL_DAYS`] (on a change of state, then daily).
//!   [`CertRotator::status`] returns a [`RotatorStatus`] for metrics
//!   ([`RotatorStatus::to_prometheus_text`]).
//! - **Notifications**: [`CertRotator::subscribe`] yields a [`CertificateInfo`] per rotation.

mod generate;
mod pair;
mod status;
mod watch;

pub use generate::{generate_self_signed, write_pem_pair, GeneratedPair};
pub use pair::{inspect_certificate_file, CertificateInfo, PairError};
pub use status::{ExpiryState, ReloadCounts, RotatorStatus, CRITICAL_DAYS};

use super::identity::{load_or_generate, IdentityError, CERT_FILE, KEY_FILE};
use crate::transport::CertFingerprint;
use arc_swap::ArcSwap;
use pair::{check_validity, now_unix, parse_pair, LoadedPair, RawPair};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Default [`RotatorConfig::check_interval`].
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// Default [`RotatorConfig::debounce`].
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(250);
/// Default [`RotatorConfig::warn_days`].
pub const DEFAULT_WARN_DAYS: u32 = 30;
/// Certificate and key names in a [`CertSource::Dir`], in the order they are looked for:
/// certbot's (`live/<name>/`), then a Kubernetes TLS secret's.
pub const DIR_FILE_NAMES: [(&str, &str); 2] =
    [("fullchain.pem", "privkey.pem"), ("tls.crt", "tls.key")];
/// Rotation notifications buffered per subscriber; a subscriber that falls further behind
/// misses the oldest (`RecvError::Lagged`).
const NOTIFY_CAPACITY: usize = 16;
/// How often an unchanged expiry warning is logged again.
const EXPIRY_LOG_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Where the certificate chain and key come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// The node's own pair, `<datadir>/tls/node.crt` and `node.key`, generated on first
    /// start ([`load_or_generate`]). The path is the data directory.
    DataDir(PathBuf),
    /// A certificate (chain) file and a key file, PEM.
    Files {
        /// The certificate, followed by any intermediates (PEM).
        cert_file: PathBuf,
        /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
        key_file: PathBuf,
    },
    /// A directory with `fullchain.pem` + `privkey.pem` (certbot's `live/<name>/`) or
    /// `tls.crt` + `tls.key` (a mounted Kubernetes TLS secret); see [`DIR_FILE_NAMES`].
    Dir(PathBuf),
}

impl CertSource {
    /// The source an operator's settings name: `cert_file` and `key_file` together, or
    /// `cert_dir`, or neither (the node's own pair under `datadir`). Giving only one of the
    /// two files, or files and a directory, is an error.
    pub fn from_settings(
        datadir: &Path,
        cert_file: Option<PathBuf>,
        key_file: Option<PathBuf>,
        cert_dir: Option<PathBuf>,
    ) -> Result<Self, RotationError> {
        match (cert_file, key_file, cert_dir) {
            (None, None, None) => Ok(Self::DataDir(datadir.to_owned())),
            (Some(cert_file), Some(key_file), None) => Ok(Self::Files {
                cert_file,
                key_file,
            }),
            (None, None, Some(dir)) => Ok(Self::Dir(dir)),
            (_, _, Some(_)) => Err(RotationError::Settings {
                reason: "give either cert_dir or cert_file + key_file, not both",
            }),
            _ => Err(RotationError::Settings {
                reason: "cert_file and key_file go together",
            }),
        }
    }

    /// The certificate and key paths this source names. For [`CertSource::Dir`] the first
    /// pair of [`DIR_FILE_NAMES`] of which either file exists; for
    /// [`CertSource::DataDir`] the paths only (nothing is generated here).
    pub fn paths(&self) -> Result<(PathBuf, PathBuf), RotationError> {
        match self {
            Self::DataDir(datadir) => {
                let dir = datadir.join(super::TLS_DIR);
                Ok((dir.join(CERT_FILE), dir.join(KEY_FILE)))
            }
            Self::Files {
                cert_file,
                key_file,
            } => Ok((cert_file.clone(), key_file.clone())),
            Self::Dir(dir) => DIR_FILE_NAMES
                .iter()
                .map(|(cert, key)| (dir.join(cert), dir.join(key)))
                .find(|(cert, key)| cert.exists() || key.exists())
                .ok_or_else(|| RotationError::NoPairInDir { dir: dir.clone() }),
        }
    }
}

/// How a [`CertRotator`] finds, checks and watches its pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatorConfig {
    /// Where the pair comes from.
    pub source: CertSource,
    /// How often the files are compared even without a file-system event (default 60 s).
    pub check_interval: Duration,
    /// How long after a file-system event the files are read, so that a burst of events (a
    /// write, a rename, a symlink swap) makes one check (default 250 ms).
    pub debounce: Duration,
    /// Warn when fewer than this many days of validity are left (default 30).
    pub warn_days: u32,
    /// Accept a new certificate that expires before the one in service (default `false`:
    /// such a pair is rejected unless the one in service has expired). Turn on when moving
    /// to a CA with shorter-lived certificates, e.g. from the default 10-year self-signed one.
    pub allow_earlier_expiry: bool,
}

impl RotatorConfig {
    /// The defaults for `source`.
    pub fn new(source: CertSource) -> Self {
        Self {
            source,
            check_interval: DEFAULT_CHECK_INTERVAL,
            debounce: DEFAULT_DEBOUNCE,
            warn_days: DEFAULT_WARN_DAYS,
            allow_earlier_expiry: false,
        }
    }
}

/// Why a [`CertRotator`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// The node's own identity could not be loaded or made.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The configured pair could not be loaded.
    #[error("cannot load the TLS certificate: {0}")]
    Pair(#[from] PairError),
    /// A [`CertSource::Dir`] holds neither pair of [`DIR_FILE_NAMES`].
    #[error(
        "{dir} holds neither fullchain.pem + privkey.pem (certbot) nor tls.crt + tls.key \
         (Kubernetes TLS secret)"
    )]
    NoPairInDir {
        /// The directory.
        dir: PathBuf,
    },
    /// The certificate settings contradict each other ([`CertSource::from_settings`]).
    #[error("TLS certificate settings: {reason}")]
    Settings {
        /// What is wrong.
        reason: &'static str,
    },
    /// [`CertRotator::start`] was called outside a tokio runtime.
    #[error("the certificate rotator must be started inside a tokio runtime")]
    NoRuntime,
}

/// What one check of the files found ([`CertRotator::check_now`]).
#[derive(Debug)]
pub enum CheckOutcome {
    /// The files hold the pair in service (byte for byte, or the same certificates and key).
    Unchanged,
    /// A new pair is in service.
    Reloaded(CertificateInfo),
    /// The files changed but the new pair was refused (counted as `rejected`); the old
    /// pair stays in service.
    Rejected(PairError),
    /// A file could not be read (counted as `error`); the old pair stays in service.
    Error(PairError),
}

/// Serves a certificate chain and key from files and rotates them when the files change.
/// See the [module](self) documentation.
///
/// Cloning is cheap and clones share everything; the watcher task stops when the last clone
/// is dropped (a [`TlsTransport`](crate::tls::TlsTransport) made with
/// [`with_rotator`](crate::tls::TlsTransport::with_rotator) holds one) or on
/// [`shutdown`](Self::shutdown).
#[derive(Clone)]
pub struct CertRotator {
    shared: Arc<Shared>,
    task: Arc<TaskGuard>,
}

impl CertRotator {
    /// Loads the pair named by `config.source` and starts watching it; must be called inside
    /// a tokio runtime (it spawns the watcher task).
    ///
    /// The initial pair must parse and match its key (else an error). A certificate outside
    /// its validity is still served at start, with an error log and
    /// [`ExpiryState::Expired`]/[`NotYetValid`](ExpiryState::NotYetValid) in the status:
    /// peers of the default trust model do not check dates, and a node that refused to start
    /// would serve nothing at all.
    pub fn start(config: RotatorConfig) -> Result<Self, RotationError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| RotationError::NoRuntime)?;
        if let CertSource::DataDir(datadir) = &config.source {
            load_or_generate(&datadir.join(super::TLS_DIR))?;
        }
        let (cert_path, key_path) = config.source.paths()?;
        let raw = RawPair::read(&cert_path, &key_path)?;
        let loaded = parse_pair(&raw, &cert_path, &key_path)?;
        let now = now_unix();
        if let Err(invalid) = check_validity(&loaded.info, now) {
            tracing::error!(error = %invalid, "serving a TLS certificate outside its validity period");
        }
        tracing::info!(
            cert = %cert_path.display(),
            key = %key_path.display(),
            fingerprint = %loaded.info.fingerprint,
            subject = %loaded.info.subject,
            valid_until = %loaded.info.valid_until,
            "TLS certificate loaded"
        );
        let (notify, _) = broadcast::channel(NOTIFY_CAPACITY);
        let shared = Arc::new(Shared {
            cert_path,
            key_path,
            warn_days: config.warn_days,
            allow_earlier_expiry: config.allow_earlier_expiry,
            served: ArcSwap::from_pointee(loaded),
            stats: Mutex::new(Stats {
                served_raw_digest: raw.digest(),
                ..Stats::default()
            }),
            notify,
        });
        shared.log_expiry(now);
        let handle = runtime.spawn(watch::run(
            shared.clone(),
            config.check_interval,
            config.debounce,
        ));
        Ok(Self {
            shared,
            task: Arc::new(TaskGuard(handle)),
        })
    }

    /// The rustls certificate resolver: every handshake it answers gets the pair in service
    /// at that moment. It keeps serving the last pair after the rotator stops.
    pub fn resolver(&self) -> Arc<dyn ResolvesServerCert> {
        Arc::new(RotatingResolver {
            shared: self.shared.clone(),
        })
    }

    /// A receiver of a [`CertificateInfo`] for every pair put in service from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<CertificateInfo> {
        self.shared.notify.subscribe()
    }

    /// The certificate in service (for `getcertinfo`).
    pub fn current(&self) -> CertificateInfo {
        self.shared.served.load().info.clone()
    }

    /// The fingerprint of the certificate in service.
    pub fn fingerprint(&self) -> CertFingerprint {
        self.shared.served.load().info.fingerprint
    }

    /// The certificate and key paths watched.
    pub fn paths(&self) -> (&Path, &Path) {
        (&self.shared.cert_path, &self.shared.key_path)
    }

    /// A snapshot for metrics and RPC; the expiry fields are computed now.
    pub fn status(&self) -> RotatorStatus {
        self.shared.status(now_unix())
    }

    /// Reads and checks the files now, as the watcher does on an event, and swaps in a new
    /// pair if it passes. Blocking file I/O: from async code call it through
    /// `tokio::task::spawn_blocking`.
    pub fn check_now(&self) -> CheckOutcome {
        self.shared.check()
    }

    /// Stops watching (for every clone). The pair in service stays in service.
    pub fn shutdown(&self) {
        self.task.0.abort();
    }
}

impl fmt::Debug for CertRotator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertRotator")
            .field("cert_path", &self.shared.cert_path)
            .field("key_path", &self.shared.key_path)
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

/// Aborts the watcher task when the last [`CertRotator`] clone goes.
struct TaskGuard(JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The state the rotator handles, the resolver and the watcher task share.
struct Shared {
    cert_path: PathBuf,
    key_path: PathBuf,
    warn_days: u32,
    allow_earlier_expiry: bool,
    /// The pair in service; handshakes load it lock-free.
    served: ArcSwap<LoadedPair>,
    stats: Mutex<Stats>,
    notify: broadcast::Sender<CertificateInfo>,
}

/// Counters and bookkeeping of the checks.
#[derive(Default)]
struct Stats {
    counts: ReloadCounts,
    last_check_unix: Option<i64>,
    last_reload_unix: Option<i64>,
    last_failure: Option<String>,
    /// What the last failure was about (file digest, or error text), so that the same
    /// failure seen again by the periodic check is neither counted nor logged again.
    last_failure_key: Option<String>,
    /// Digest of the files' bytes when the pair in service was read from them.
    served_raw_digest: [u8; 32],
    /// The expiry state last logged, and when.
    expiry_logged: Option<(ExpiryState, Instant)>,
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, Stats> {
        // The lock guards plain counters; a panic while holding it leaves them usable.
        self.stats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn status(&self, now: i64) -> RotatorStatus {
        let current = self.served.load().info.clone();
        let stats = self.stats();
        RotatorStatus {
            not_after_unix: current.not_after_unix,
            days_remaining: current.days_remaining_at(now),
            expiry: ExpiryState::of(&current, now, self.warn_days),
            warn_days: self.warn_days,
            reloads: stats.counts,
            last_check_unix: stats.last_check_unix,
            last_reload_unix: stats.last_reload_unix,
            last_failure: stats.last_failure.clone(),
            current,
        }
    }

    /// One check of the files (blocking I/O).
    fn check(&self) -> CheckOutcome {
        let now = now_unix();
        let outcome = self.try_reload(now);
        {
            let mut stats = self.stats();
            stats.last_check_unix = Some(now);
            match &outcome {
                Ok(Some(_)) | Ok(None) => {
                    stats.last_failure = None;
                    stats.last_failure_key = None;
                }
                Err((key, error)) => {
                    let repeated = stats.last_failure_key.as_deref() == Some(key.as_str());
                    let rejected = !matches!(error, PairError::Read { .. });
                    if repeated {
                        tracing::debug!(%error, "TLS certificate still not reloadable");
                    } else {
                        if rejected {
                            stats.counts.rejected += 1;
                            tracing::warn!(%error, "TLS certificate change rejected; the current certificate stays in service");
                        } else {
                            stats.counts.error += 1;
                            tracing::warn!(%error, "TLS certificate files unreadable; the current certificate stays in service");
                        }
                        stats.last_failure = Some(error.to_string());
                        stats.last_failure_key = Some(key.clone());
                    }
                }
            }
        }
        self.log_expiry(now);
        match outcome {
            Ok(None) => CheckOutcome::Unchanged,
            Ok(Some(info)) => CheckOutcome::Reloaded(info),
            Err((_, error @ PairError::Read { .. })) => CheckOutcome::Error(error),
            Err((_, error)) => CheckOutcome::Rejected(error),
        }
    }

    /// Reads the files and swaps in a new pair if it passes: `Ok(None)` when unchanged,
    /// `Ok(Some(info))` when rotated, else the failure with the key that identifies it.
    fn try_reload(&self, now: i64) -> Result<Option<CertificateInfo>, (String, PairError)> {
        let raw = RawPair::read(&self.cert_path, &self.key_path).map_err(|e| (e.to_string(), e))?;
        let raw_digest = raw.digest();
        if raw_digest == self.stats().served_raw_digest {
            return Ok(None);
        }
        let key = hex::encode(raw_digest);
        let fail = |e: PairError| (key.clone(), e);
        let loaded = parse_pair(&raw, &self.cert_path, &self.key_path).map_err(fail)?;
        let current = self.served.load_full();
        if loaded.content_digest == current.content_digest {
            // Same certificates and key, written differently: not a reload.
            self.stats().served_raw_digest = raw_digest;
            return Ok(None);
        }
        check_validity(&loaded.info, now).map_err(fail)?;
        let current_expired = now > current.info.not_after_unix;
        if loaded.info.not_after_unix < current.info.not_after_unix
            && !current_expired
            && !self.allow_earlier_expiry
        {
            return Err(fail(PairError::ExpiresEarlier {
                path: self.cert_path.clone(),
                valid_until: loaded.info.valid_until.clone(),
                current_valid_until: current.info.valid_until.clone(),
            }));
        }
        let info = loaded.info.clone();
        self.served.store(Arc::new(loaded));
        {
            let mut stats = self.stats();
            stats.served_raw_digest = raw_digest;
            stats.counts.ok += 1;
            stats.last_reload_unix = Some(now);
            stats.expiry_logged = None;
        }
        tracing::info!(
            cert = %self.cert_path.display(),
            old_fingerprint = %current.info.fingerprint,
            new_fingerprint = %info.fingerprint,
            subject = %info.subject,
            issuer = %info.issuer,
            valid_until = %info.valid_until,
            "TLS certificate rotated; new handshakes use the new certificate"
        );
        // No receivers is fine.
        let _ = self.notify.send(info.clone());
        Ok(Some(info))
    }

    /// Logs the expiry state of the pair in service when it changed, or daily while it needs
    /// attention.
    fn log_expiry(&self, now: i64) {
        let info = self.served.load().info.clone();
        let state = ExpiryState::of(&info, now, self.warn_days);
        {
            let mut stats = self.stats();
            let due = match stats.expiry_logged {
                Some((logged, at)) => logged != state || at.elapsed() >= EXPIRY_LOG_EVERY,
                None => true,
            };
            if !due {
                return;
            }
            stats.expiry_logged = Some((state, Instant::now()));
        }
        let days_remaining = info.days_remaining_at(now);
        let cert = info.cert_path.display();
        match state {
            ExpiryState::Valid => {}
            ExpiryState::Expiring => tracing::warn!(
                %cert, days_remaining, valid_until = %info.valid_until, warn_days = self.warn_days,
                "TLS certificate expires soon; renew it"
            ),
            ExpiryState::Critical => tracing::error!(
                %cert, days_remaining, valid_until = %info.valid_until,
                "TLS certificate expires within {CRITICAL_DAYS} days; renew it now"
            ),
            ExpiryState::Expired => tracing::error!(
                %cert, valid_until = %info.valid_until, "TLS certificate has expired"
            ),
            ExpiryState::NotYetValid => tracing::error!(
                %cert, valid_from = %info.valid_from, "TLS certificate is not valid yet"
            ),
        }
    }
}

/// The rustls resolver over the shared, swappable pair.
struct RotatingResolver {
    shared: Arc<Shared>,
}

impl fmt::Debug for RotatingResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotatingResolver")
            .field("cert_path", &self.shared.cert_path)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for RotatingResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.shared.served.load().certified.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotator_in(dir: &Path) -> CertRotator {
        let pair = generate_self_signed(&["node.example".into()], 30).unwrap();
        write_pem_pair(&dir.join("tls.crt"), &dir.join("tls.key"), &pair).unwrap();
        CertRotator::start(RotatorConfig::new(CertSource::Dir(dir.to_owned()))).unwrap()
    }

    #[tokio::test]
    async fn the_watcher_task_ends_with_the_last_handle() {
        let dir = tempfile::tempdir().unwrap();
        let rotator = rotator_in(dir.path());
        let clone = rotator.clone();
        let shared = Arc::downgrade(&rotator.shared);
        drop(rotator);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(shared.upgrade().is_some(), "a clone still runs it");
        drop(clone);
        // The aborted task drops its reference when the runtime next polls it.
        for _ in 0..100 {
            if shared.upgrade().is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the watcher task still holds the shared state");
    }

    #[tokio::test]
    async fn after_shutdown_changes_are_not_picked_up_but_the_pair_is_still_served() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = RotatorConfig::new(CertSource::Dir(dir.path().to_owned()));
        config.debounce = Duration::from_millis(10);
        let pair = generate_self_signed(&[], 30).unwrap();
        write_pem_pair(
            &dir.path().join("tls.crt"),
            &dir.path().join("tls.key"),
            &pair,
        )
        .unwrap();
        let rotator = CertRotator::start(config).unwrap();
        let before = rotator.fingerprint();
        rotator.shutdown();
        let newer = generate_self_signed(&[], 60).unwrap();
        write_pem_pair(
            &dir.path().join("tls.crt"),
            &dir.path().join("tls.key"),
            &newer,
        )
        .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rotator.fingerprint(), before);
        assert_eq!(rotator.status().reloads, ReloadCounts::default());
    }

    #[test]
    fn settings_name_one_source() {
        let dd = Path::new("/data");
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(
            CertSource::from_settings(dd, None, None, None).unwrap(),
            CertSource::DataDir(dd.to_owned())
        );
        assert_eq!(
            CertSource::from_settings(dd, p("c"), p("k"), None).unwrap(),
            CertSource::Files {
                cert_file: "c".into(),
                key_file: "k".into()
            }
        );
        assert_eq!(
            CertSource::from_settings(dd, None, None, p("d")).unwrap(),
            CertSource::Dir("d".into())
        );
        for (c, k, d) in [
            (p("c"), None, None),
            (None, p("k"), None),
            (p("c"), p("k"), p("d")),
        ] {
            assert!(matches!(
                CertSource::from_settings(dd, c, k, d),
                Err(RotationError::Settings { .. })
            ));
        }
    }

    #[test]
    fn starting_outside_a_runtime_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let config = RotatorConfig::new(CertSource::Dir(dir.path().to_owned()));
        assert!(matches!(
            CertRotator::start(config),
            Err(RotationError::NoRuntime)
        ));
    }
}

//! AES-256-GCM authenticated encryption: a hardware-accelerated path and a constant-time
//! software path that can be forced at run time.
//!
//! # Backends
//!
//! - [`AeadBackend::Hardware`]: `ring`, the provider rustls uses here. ring reads the CPU's
//!   features once and runs its fastest assembly for them (AES-NI + PCLMULQDQ, and on CPUs
//!   with VAES + VPCLMULQDQ its wider AVX2 code). It was chosen over aws-lc-rs by a one-off
//!   comparison on this project's machines (AMD EPYC with VAES but no AVX-512, where
//!   aws-lc-rs's wide code, which needs AVX-512, does not run); aws-lc-rs is no longer a
//!   dependency, so `parthenon bench crypto` and `crypto/examples/aead_bench.rs` measure ring
//!   against `openssl speed` and the software path. AES rounds and GHASH multiplications are single instructions whose
//!   timing does not depend on the data. Chosen by [`AesMode::Auto`] only when the CPU has
//!   both AES-NI and PCLMULQDQ: ring has its own fallbacks for other CPUs, but those are not
//!   the software code this crate tests, so such CPUs get the software backend instead.
//! - [`AeadBackend::Software`]: RustCrypto `aes-gcm` 0.10 over RustCrypto's fixsliced AES
//!   (see the `soft` module for how the software AES is pinned). It never uses AES-NI.
//!
//! # What exactly is constant-time in the software backend
//!
//! - AES key schedule and block encryption: fixsliced (bitsliced) code using only logic
//!   operations, shifts and rotations on 64-bit words; no table look-ups, no branches on
//!   secret data. Constant-time on every CPU.
//! - GHASH: RustCrypto `ghash` 0.5 / `polyval` 0.6, which decide **at run time**, with no way
//!   to override it short of a process-global `--cfg polyval_force_soft`: on a CPU with
//!   PCLMULQDQ the multiplications in GF(2^128) use that instruction (hardware, constant-time);
//!   otherwise the portable BearSSL-style `ctmul64` code (integer multiplications with masked
//!   "holes"), constant-time wherever 64-bit multiplication is (all x86-64 and AArch64 CPUs,
//!   not some small 32-bit cores). So a forced-software run on a PCLMULQDQ machine still does
//!   its GHASH with PCLMULQDQ; [`BackendSelection`]'s `Display` says so.
//! - Tag check: constant-time comparison (`subtle`), before any decryption.
//!
//! # Selection
//!
//! [`AesMode`] is the configuration (`crypto.aes = "auto" | "software"`). The environment
//! variable [`AES_MODE_ENV`] (`PARTHENON_AES=software`) forces the software backend whatever
//! the configuration; `PARTHENON_AES=auto` or an unset/empty variable leaves the configuration
//! in charge, and any other value is an error ([`AeadError::InvalidMode`]) rather than a
//! silent fallback. The variable is read each time a key is set up ([`Aes256Gcm::new`],
//! [`active_backend`]). [`active_backend`] returns the choice with a one-line `Display` for
//! the startup log.
//!
//! # Failure behaviour
//!
//! Opening fails with [`AeadError::Authentication`] for a wrong key, nonce, associated data or
//! tag, an altered ciphertext, or input shorter than a tag; the buffer is then zeroed, so no
//! partial plaintext is ever left behind.

mod bench;
mod soft;

use std::ffi::OsStr;
use std::fmt;
use std::str::FromStr;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

pub use bench::{bench_seal, openssl_speed_gbps};

/// Length of an AES-256-GCM key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of the (only supported) GCM nonce in bytes: 96 bits.
pub const NONCE_LEN: usize = 12;
/// Length of the authentication tag in bytes (the full 128 bits; never truncated).
pub const TAG_LEN: usize = 16;
/// Largest plaintext GCM allows under one nonce: 2^36 - 32 bytes (NIST SP 800-38D, 5.2.1.1).
pub const MAX_PLAINTEXT_LEN: u64 = (1 << 36) - 32;
/// Largest associated data accepted: 2^36 bytes (a bound both backends support).
pub const MAX_AAD_LEN: u64 = 1 << 36;
/// Environment variable that forces the software backend: `PARTHENON_AES=software`.
pub const AES_MODE_ENV: &str = "PARTHENON_AES";
/// Name of the configuration setting that [`AesMode`] represents.
pub const AES_MODE_SETTING: &str = "crypto.aes";

/// Errors of the AES-256-GCM layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AeadError {
    /// Opening failed: wrong key, nonce, associated data or tag, an altered ciphertext, or input
    /// shorter than a tag. Deliberately carries no detail.
    #[error("AES-GCM authentication failed")]
    Authentication,
    /// The plaintext or associated data exceeds the GCM limits ([`MAX_PLAINTEXT_LEN`],
    /// [`MAX_AAD_LEN`]).
    #[error("message or associated data too long for AES-GCM")]
    TooLong,
    /// A mode setting (configuration or environment) has a value other than `auto`/`software`.
    #[error("invalid AES mode {value:?} in {setting}: expected \"auto\" or \"software\"")]
    InvalidMode {
        /// Where the value came from: [`AES_MODE_SETTING`] or [`AES_MODE_ENV`].
        setting: &'static str,
        /// The rejected value (lossily decoded if not UTF-8).
        value: String,
    },
    /// The hardware backend was requested explicitly, but the CPU lacks AES-NI or PCLMULQDQ.
    #[error("the ring hardware backend needs AES-NI and PCLMULQDQ, which this CPU lacks")]
    HardwareUnavailable,
    /// ring refused to set up the key (not expected for a 32-byte key).
    #[error("ring could not set up the AES-256-GCM key")]
    KeySetup,
}

/// Configured AES-GCM mode: `crypto.aes = "auto" | "software"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AesMode {
    /// Hardware (ring) when the CPU has AES-NI and PCLMULQDQ, otherwise software.
    #[default]
    Auto,
    /// Always the constant-time software backend.
    Software,
}

impl AesMode {
    /// The configuration spelling: `"auto"` or `"software"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AesMode::Auto => "auto",
            AesMode::Software => "software",
        }
    }

    fn parse(value: &str, setting: &'static str) -> Result<Self, AeadError> {
        let v = value.trim();
        if v.eq_ignore_ascii_case("auto") {
            Ok(AesMode::Auto)
        } else if v.eq_ignore_ascii_case("software") {
            Ok(AesMode::Software)
        } else {
            Err(AeadError::InvalidMode {
                setting,
                value: value.to_owned(),
            })
        }
    }
}

impl FromStr for AesMode {
    type Err = AeadError;

    /// Parses the configuration value (`auto` or `software`, ASCII case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AesMode::parse(s, AES_MODE_SETTING)
    }
}

impl fmt::Display for AesMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The implementation that performs AES-256-GCM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AeadBackend {
    /// AWS-LC's assembly: AES-NI + PCLMULQDQ, or VAES + VPCLMULQDQ with AVX-512.
    Hardware,
    /// RustCrypto `aes-gcm` over the fixsliced constant-time AES.
    Software,
}

impl fmt::Display for AeadBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AeadBackend::Hardware => "ring",
            AeadBackend::Software => "software",
        })
    }
}

/// CPU features relevant to AES-GCM, detected at run time. All `false` on non-x86 targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuFeatures {
    /// AES-NI (`aes`): AES round instructions on 128-bit registers.
    pub aes_ni: bool,
    /// PCLMULQDQ: carry-less multiplication, used for GHASH.
    pub pclmulqdq: bool,
    /// VAES: AES round instructions on 256/512-bit registers.
    pub vaes: bool,
    /// VPCLMULQDQ: carry-less multiplication on 256/512-bit registers.
    pub vpclmulqdq: bool,
    /// AVX-512 Foundation.
    pub avx512f: bool,
    /// AVX-512 Byte and Word instructions.
    pub avx512bw: bool,
    /// AVX-512 Doubleword and Quadword instructions.
    pub avx512dq: bool,
    /// AVX-512 Vector Length extensions.
    pub avx512vl: bool,
    /// AVX2.
    pub avx2: bool,
}

impl CpuFeatures {
    /// Whether the hardware backend may be chosen: AES-NI and PCLMULQDQ are both present.
    #[must_use]
    pub fn hardware_capable(&self) -> bool {
        self.aes_ni && self.pclmulqdq
    }
}

impl fmt::Display for CpuFeatures {
    /// The present features joined by `+`, e.g. `AES-NI+PCLMULQDQ+VAES+VPCLMULQDQ+AVX2`, or
    /// `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (self.aes_ni, "AES-NI"),
            (self.pclmulqdq, "PCLMULQDQ"),
            (self.vaes, "VAES"),
            (self.vpclmulqdq, "VPCLMULQDQ"),
            (self.avx512f, "AVX-512F"),
            (self.avx2, "AVX2"),
        ];
        let mut first = true;
        for (_, name) in names.iter().filter(|(present, _)| *present) {
            if !first {
                f.write_str("+")?;
            }
            f.write_str(name)?;
            first = false;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// Detects the CPU's AES-GCM-relevant features (cached by the standard library).
#[must_use]
pub fn cpu_features() -> CpuFeatures {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        CpuFeatures {
            aes_ni: std::arch::is_x86_feature_detected!("aes"),
            pclmulqdq: std::arch::is_x86_feature_detected!("pclmulqdq"),
            vaes: std::arch::is_x86_feature_detected!("vaes"),
            vpclmulqdq: std::arch::is_x86_feature_detected!("vpclmulqdq"),
            avx512f: std::arch::is_x86_feature_detected!("avx512f"),
            avx512bw: std::arch::is_x86_feature_detected!("avx512bw"),
            avx512dq: std::arch::is_x86_feature_detected!("avx512dq"),
            avx512vl: std::arch::is_x86_feature_detected!("avx512vl"),
            avx2: std::arch::is_x86_feature_detected!("avx2"),
        }
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    {
        CpuFeatures::default()
    }
}

/// Why a backend was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectionReason {
    /// `Auto`, and the CPU has AES-NI and PCLMULQDQ.
    HardwareAvailable,
    /// `Auto`, but the CPU lacks AES-NI or PCLMULQDQ.
    CpuLacksAesFeatures,
    /// The configuration says `software`.
    ForcedByConfig,
    /// `PARTHENON_AES=software`.
    ForcedByEnv,
    /// Asked for directly through [`Aes256Gcm::with_backend`].
    Requested,
}

/// The chosen backend, why, and the CPU features seen. `Display` is the startup log line,
/// e.g. `AES-256-GCM: ring (CPU: AES-NI+PCLMULQDQ+VAES+VPCLMULQDQ+AVX2)`
/// or `AES-256-GCM: software (constant-time fixsliced AES, GHASH with PCLMULQDQ; forced by
/// PARTHENON_AES)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendSelection {
    /// The backend that will run.
    pub backend: AeadBackend,
    /// Why it was chosen.
    pub reason: SelectionReason,
    /// The CPU features detected when choosing.
    pub cpu: CpuFeatures,
}

impl fmt::Display for BackendSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.backend {
            AeadBackend::Hardware => write!(f, "AES-256-GCM: ring (CPU: {})", self.cpu),
            AeadBackend::Software => {
                let ghash = if self.cpu.pclmulqdq {
                    "GHASH with PCLMULQDQ"
                } else {
                    "portable GHASH"
                };
                let why = match self.reason {
                    SelectionReason::ForcedByEnv => format!("forced by {AES_MODE_ENV}"),
                    SelectionReason::ForcedByConfig => {
                        format!("forced by {AES_MODE_SETTING} = \"software\"")
                    }
                    SelectionReason::CpuLacksAesFeatures => "CPU lacks AES-NI+PCLMULQDQ".to_owned(),
                    SelectionReason::Requested | SelectionReason::HardwareAvailable => {
                        "requested".to_owned()
                    }
                };
                write!(
                    f,
                    "AES-256-GCM: software (constant-time fixsliced AES, {ghash}; {why})"
                )
            }
        }
    }
}

/// Chooses the backend for `mode`, reading [`AES_MODE_ENV`] and the CPU features.
///
/// # Errors
/// [`AeadError::InvalidMode`] if the environment variable has a value other than `auto` or
/// `software`.
pub fn active_backend(mode: AesMode) -> Result<BackendSelection, AeadError> {
    let env = std::env::var_os(AES_MODE_ENV);
    select_backend(mode, env.as_deref(), cpu_features())
}

/// The selection rule, with the environment value and CPU features passed in.
fn select_backend(
    mode: AesMode,
    env: Option<&OsStr>,
    cpu: CpuFeatures,
) -> Result<BackendSelection, AeadError> {
    let env_mode = match env {
        None => None,
        Some(v) if v.is_empty() => None,
        Some(v) => Some(AesMode::parse(&v.to_string_lossy(), AES_MODE_ENV)?),
    };
    let (backend, reason) = if env_mode == Some(AesMode::Software) {
        (AeadBackend::Software, SelectionReason::ForcedByEnv)
    } else if mode == AesMode::Software {
        (AeadBackend::Software, SelectionReason::ForcedByConfig)
    } else if cpu.hardware_capable() {
        (AeadBackend::Hardware, SelectionReason::HardwareAvailable)
    } else {
        (AeadBackend::Software, SelectionReason::CpuLacksAesFeatures)
    };
    Ok(BackendSelection {
        backend,
        reason,
        cpu,
    })
}

enum Engine {
    Hardware(Box<LessSafeKey>),
    Software(Box<soft::SoftAes256Gcm>),
}

/// An AES-256-GCM key set up for one backend. Seals and opens in place; `Send + Sync`.
pub struct Aes256Gcm {
    engine: Engine,
    selection: BackendSelection,
}

impl fmt::Debug for Aes256Gcm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Aes256Gcm")
            .field("backend", &self.selection.backend)
            .finish_non_exhaustive()
    }
}

impl Aes256Gcm {
    /// Sets up `key` on the backend [`active_backend`] chooses for `mode`.
    ///
    /// # Errors
    /// [`AeadError::InvalidMode`] for a bad [`AES_MODE_ENV`] value; [`AeadError::KeySetup`] if
    /// ring fails.
    pub fn new(key: &[u8; KEY_LEN], mode: AesMode) -> Result<Self, AeadError> {
        let selection = active_backend(mode)?;
        Self::build(key, selection)
    }

    /// Sets up `key` on exactly `backend`, ignoring configuration and environment (tests and
    /// benchmarks compare backends with this).
    ///
    /// # Errors
    /// [`AeadError::HardwareUnavailable`] if `backend` is the hardware one and the CPU lacks
    /// AES-NI or PCLMULQDQ; [`AeadError::KeySetup`] if ring fails.
    pub fn with_backend(key: &[u8; KEY_LEN], backend: AeadBackend) -> Result<Self, AeadError> {
        let cpu = cpu_features();
        if backend == AeadBackend::Hardware && !cpu.hardware_capable() {
            return Err(AeadError::HardwareUnavailable);
        }
        Self::build(
            key,
            BackendSelection {
                backend,
                reason: SelectionReason::Requested,
                cpu,
            },
        )
    }

    fn build(key: &[u8; KEY_LEN], selection: BackendSelection) -> Result<Self, AeadError> {
        let engine = match selection.backend {
            AeadBackend::Hardware => {
                let unbound =
                    UnboundKey::new(&AES_256_GCM, key).map_err(|_| AeadError::KeySetup)?;
                Engine::Hardware(Box::new(LessSafeKey::new(unbound)))
            }
            AeadBackend::Software => Engine::Software(Box::new(soft::SoftAes256Gcm::new(key))),
        };
        Ok(Self { engine, selection })
    }

    /// The backend this key runs on.
    #[must_use]
    pub fn backend(&self) -> AeadBackend {
        self.selection.backend
    }

    /// The backend, why it was chosen, and the CPU features seen.
    #[must_use]
    pub fn selection(&self) -> BackendSelection {
        self.selection
    }

    /// Encrypts `buf` in place and appends the 16-byte tag. A nonce must never be used twice
    /// with the same key.
    ///
    /// Nothing is copied: the ciphertext overwrites the plaintext. If `buf` has no spare
    /// capacity for the tag, reserving it may move the buffer once, so hot paths allocate
    /// `len + TAG_LEN` capacity up front.
    ///
    /// # Errors
    /// [`AeadError::TooLong`] if `buf` or `aad` exceed the GCM limits; `buf` is then unchanged.
    pub fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<(), AeadError> {
        if buf.len() as u64 > MAX_PLAINTEXT_LEN || aad.len() as u64 > MAX_AAD_LEN {
            return Err(AeadError::TooLong);
        }
        // Room for the tag first, so appending it never moves the ciphertext.
        buf.reserve(TAG_LEN);
        let tag: [u8; TAG_LEN] = match &self.engine {
            Engine::Hardware(key) => {
                let tag = key
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(*nonce),
                        Aad::from(aad),
                        buf.as_mut_slice(),
                    )
                    .map_err(|_| AeadError::TooLong)?;
                let mut t = [0u8; TAG_LEN];
                t.copy_from_slice(tag.as_ref());
                t
            }
            Engine::Software(gcm) => gcm.seal(nonce, aad, buf.as_mut_slice())?,
        };
        buf.extend_from_slice(&tag);
        Ok(())
    }

    /// Verifies and decrypts `buf` (ciphertext followed by the 16-byte tag) in place and
    /// returns the plaintext, the first `buf.len() - 16` bytes of `buf`.
    ///
    /// # Errors
    /// [`AeadError::Authentication`] on any failure (see the module docs); all of `buf` is
    /// then zeroed.
    pub fn open_in_place<'a>(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &'a mut [u8],
    ) -> Result<&'a [u8], AeadError> {
        let ok = buf.len() >= TAG_LEN
            && (buf.len() - TAG_LEN) as u64 <= MAX_PLAINTEXT_LEN
            && aad.len() as u64 <= MAX_AAD_LEN
            && self.open_checked(nonce, aad, buf);
        if ok {
            Ok(&buf[..buf.len() - TAG_LEN])
        } else {
            buf.fill(0);
            Err(AeadError::Authentication)
        }
    }

    /// Backend call for [`Self::open_in_place`]; `buf` holds at least a tag.
    fn open_checked(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> bool {
        match &self.engine {
            Engine::Hardware(key) => key
                .open_in_place(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), buf)
                .is_ok(),
            Engine::Software(gcm) => {
                let (ct, tag) = buf.split_at_mut(buf.len() - TAG_LEN);
                let mut t = [0u8; TAG_LEN];
                t.copy_from_slice(tag);
                gcm.open(nonce, aad, ct, &t).is_ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: CpuFeatures = CpuFeatures {
        aes_ni: true,
        pclmulqdq: true,
        vaes: true,
        vpclmulqdq: true,
        avx512f: false,
        avx512bw: false,
        avx512dq: false,
        avx512vl: false,
        avx2: true,
    };
    const NO_AES: CpuFeatures = CpuFeatures {
        aes_ni: false,
        pclmulqdq: true,
        vaes: false,
        vpclmulqdq: false,
        avx512f: false,
        avx512bw: false,
        avx512dq: false,
        avx512vl: false,
        avx2: true,
    };

    fn pick(mode: AesMode, env: Option<&str>, cpu: CpuFeatures) -> BackendSelection {
        select_backend(mode, env.map(OsStr::new), cpu).unwrap()
    }

    #[test]
    fn selection_rule() {
        let s = pick(AesMode::Auto, None, ALL);
        assert_eq!(s.backend, AeadBackend::Hardware);
        assert_eq!(s.reason, SelectionReason::HardwareAvailable);
        assert_eq!(
            s.to_string(),
            "AES-256-GCM: ring (CPU: AES-NI+PCLMULQDQ+VAES+VPCLMULQDQ+AVX2)"
        );

        let s = pick(AesMode::Auto, None, NO_AES);
        assert_eq!(s.backend, AeadBackend::Software);
        assert_eq!(s.reason, SelectionReason::CpuLacksAesFeatures);
        assert_eq!(
            s.to_string(),
            "AES-256-GCM: software (constant-time fixsliced AES, GHASH with PCLMULQDQ; \
             CPU lacks AES-NI+PCLMULQDQ)"
        );

        let s = pick(AesMode::Software, None, ALL);
        assert_eq!(s.backend, AeadBackend::Software);
        assert_eq!(s.reason, SelectionReason::ForcedByConfig);

        for env in ["software", "SOFTWARE", " software\n"] {
            let s = pick(AesMode::Auto, Some(env), ALL);
            assert_eq!(s.backend, AeadBackend::Software);
            assert_eq!(s.reason, SelectionReason::ForcedByEnv);
        }
        let s = pick(AesMode::Software, Some("software"), CpuFeatures::default());
        assert_eq!(s.reason, SelectionReason::ForcedByEnv);
        assert_eq!(
            s.to_string(),
            "AES-256-GCM: software (constant-time fixsliced AES, portable GHASH; \
             forced by PARTHENON_AES)"
        );

        // `auto` and empty leave the configuration in charge.
        assert_eq!(
            pick(AesMode::Auto, Some("auto"), ALL).backend,
            AeadBackend::Hardware
        );
        assert_eq!(
            pick(AesMode::Software, Some("auto"), ALL).reason,
            SelectionReason::ForcedByConfig
        );
        assert_eq!(
            pick(AesMode::Auto, Some(""), ALL).backend,
            AeadBackend::Hardware
        );
    }

    #[test]
    fn bad_env_value_is_an_error() {
        let err = select_backend(AesMode::Auto, Some(OsStr::new("hardware")), ALL).unwrap_err();
        assert_eq!(
            err,
            AeadError::InvalidMode {
                setting: AES_MODE_ENV,
                value: "hardware".into()
            }
        );
    }

    #[test]
    fn mode_parses_config_spelling() {
        assert_eq!("auto".parse::<AesMode>().unwrap(), AesMode::Auto);
        assert_eq!("Software".parse::<AesMode>().unwrap(), AesMode::Software);
        assert_eq!(AesMode::Software.to_string(), "software");
        assert!(matches!(
            "soft".parse::<AesMode>(),
            Err(AeadError::InvalidMode {
                setting: AES_MODE_SETTING,
                ..
            })
        ));
    }

    #[test]
    fn cpu_features_display() {
        assert_eq!(CpuFeatures::default().to_string(), "none");
        assert!(!CpuFeatures::default().hardware_capable());
        assert_eq!(NO_AES.to_string(), "PCLMULQDQ+AVX2");
    }

    #[test]
    fn failed_open_zeroes_the_buffer() {
        let key = [7u8; KEY_LEN];
        let nonce = [9u8; NONCE_LEN];
        let mut backends = vec![AeadBackend::Software];
        if cpu_features().hardware_capable() {
            backends.push(AeadBackend::Hardware);
        }
        for backend in backends {
            let gcm = Aes256Gcm::with_backend(&key, backend).unwrap();
            let mut buf = vec![0x55u8; 100];
            gcm.seal_in_place(&nonce, b"aad", &mut buf).unwrap();
            assert_eq!(buf.len(), 100 + TAG_LEN);
            let last = buf.len() - 1;
            buf[last] ^= 1;
            assert_eq!(
                gcm.open_in_place(&nonce, b"aad", &mut buf),
                Err(AeadError::Authentication)
            );
            assert!(buf.iter().all(|&b| b == 0), "{backend}: buffer not erased");

            let mut short = vec![0xAAu8; TAG_LEN - 1];
            assert_eq!(
                gcm.open_in_place(&nonce, b"", &mut short),
                Err(AeadError::Authentication)
            );
            assert!(short.iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn key_is_send_and_sync() {
        fn shareable<T: Send + Sync>(_: &T) {}
        let gcm = Aes256Gcm::with_backend(&[2; KEY_LEN], AeadBackend::Software).unwrap();
        shareable(&gcm);
        assert_eq!(format!("{gcm:?}"), "Aes256Gcm { backend: Software, .. }");
    }

    #[test]
    fn hardware_request_follows_cpu() {
        let r = Aes256Gcm::with_backend(&[1; KEY_LEN], AeadBackend::Hardware);
        if cpu_features().hardware_capable() {
            assert_eq!(r.unwrap().backend(), AeadBackend::Hardware);
        } else {
            assert_eq!(r.unwrap_err(), AeadError::HardwareUnavailable);
        }
    }
}

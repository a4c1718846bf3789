//! [`RotatorStatus`]: the rotator's state for operators and metrics, and its Prometheus text.

use super::pair::CertificateInfo;
use serde::Serialize;
use std::fmt::Write as _;

/// Days left below which expiry is logged as an error ([`ExpiryState::Critical`]).
pub const CRITICAL_DAYS: u32 = 7;

/// How close the certificate in service is to its end of validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryState {
    /// Valid, with at least `warn_days` days left.
    Valid,
    /// Valid, fewer than `warn_days` days left (logged as a warning).
    Expiring,
    /// Valid, fewer than [`CRITICAL_DAYS`] days left (logged as an error).
    Critical,
    /// Past its end of validity (logged as an error). Peers that do not check dates (the
    /// default, pin-or-anything trust model) still connect; public-CA clients do not.
    Expired,
    /// Before its start of validity (logged as an error).
    NotYetValid,
}

impl ExpiryState {
    /// The state of `info` at `now_unix`, warning below `warn_days` days.
    pub fn of(info: &CertificateInfo, now_unix: i64, warn_days: u32) -> Self {
        let left = info.not_after_unix - now_unix;
        if now_unix < info.not_before_unix {
            Self::NotYetValid
        } else if left < 0 {
            Self::Expired
        } else if left < i64::from(CRITICAL_DAYS) * super::pair::SECONDS_PER_DAY {
            Self::Critical
        } else if left < i64::from(warn_days) * super::pair::SECONDS_PER_DAY {
            Self::Expiring
        } else {
            Self::Valid
        }
    }

    /// Whether this state warrants an operator's attention (anything but [`Self::Valid`]).
    pub fn needs_attention(self) -> bool {
        self != Self::Valid
    }
}

/// Reload attempts by outcome, since the rotator started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReloadCounts {
    /// A new pair was put in service.
    pub ok: u64,
    /// A changed pair was refused: unparsable or truncated file, key not matching the
    /// certificate, outside its validity, or expiring before the pair in service.
    pub rejected: u64,
    /// A file could not be read (missing during a swap, permissions).
    pub error: u64,
}

/// A snapshot of the rotator: the certificate in service, how close it is to expiry, and
/// reload counters. [`CertRotator::status`](super::CertRotator::status) makes one; the
/// expiry fields are computed at that moment.
///
/// For `/metrics`, [`to_prometheus_text`](Self::to_prometheus_text) renders it in the
/// Prometheus text format; it serialises (serde) for RPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotatorStatus {
    /// The certificate in service.
    pub current: CertificateInfo,
    /// Its end of validity, Unix seconds.
    pub not_after_unix: i64,
    /// Whole days left, rounded down; negative once expired.
    pub days_remaining: i64,
    /// How close to expiry it is.
    pub expiry: ExpiryState,
    /// The warning threshold in days.
    pub warn_days: u32,
    /// Reload attempts by outcome. A failure repeated on unchanged files is counted once.
    pub reloads: ReloadCounts,
    /// When the files were last checked, Unix seconds (`None` before the first check after
    /// start).
    pub last_check_unix: Option<i64>,
    /// When a new pair was last put in service, Unix seconds (`None`: never since start).
    pub last_reload_unix: Option<i64>,
    /// The last failure's message, until a later check succeeds or finds the files unchanged.
    pub last_failure: Option<String>,
}

impl RotatorStatus {
    /// The status in the Prometheus text exposition format, with `# HELP` and `# TYPE` lines:
    ///
    /// ```text
    /// tls_cert_not_after_seconds 1767225600
    /// tls_cert_days_remaining 42
    /// tls_cert_reloads_total{outcome="ok"} 3
    /// tls_cert_reloads_total{outcome="rejected"} 1
    /// tls_cert_reloads_total{outcome="error"} 0
    /// ```
    ///
    /// Append it to the rest of a `/metrics` body (it ends with a newline). With the
    /// OpenMetrics format (`# EOF` last), insert it before the `# EOF` line.
    pub fn to_prometheus_text(&self) -> String {
        let mut out = String::with_capacity(512);
        let _ = writeln!(
            out,
            "# HELP tls_cert_not_after_seconds End of validity of the TLS certificate in service (Unix seconds)."
        );
        let _ = writeln!(out, "# TYPE tls_cert_not_after_seconds gauge");
        let _ = writeln!(out, "tls_cert_not_after_seconds {}", self.not_after_unix);
        let _ = writeln!(
            out,
            "# HELP tls_cert_days_remaining Whole days until the TLS certificate in service expires (negative once expired)."
        );
        let _ = writeln!(out, "# TYPE tls_cert_days_remaining gauge");
        let _ = writeln!(out, "tls_cert_days_remaining {}", self.days_remaining);
        let _ = writeln!(
            out,
            "# HELP tls_cert_reloads_total TLS certificate reload attempts by outcome."
        );
        let _ = writeln!(out, "# TYPE tls_cert_reloads_total counter");
        for (outcome, count) in [
            ("ok", self.reloads.ok),
            ("rejected", self.reloads.rejected),
            ("error", self.reloads.error),
        ] {
            let _ = writeln!(
                out,
                "tls_cert_reloads_total{{outcome=\"{outcome}\"}} {count}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::CertFingerprint;
    use std::path::PathBuf;

    const DAY: i64 = super::super::pair::SECONDS_PER_DAY;

    fn info(not_before: i64, not_after: i64) -> CertificateInfo {
        CertificateInfo {
            cert_path: PathBuf::from("c"),
            key_path: None,
            subject: "CN=x".into(),
            issuer: "CN=x".into(),
            names: vec![],
            not_before_unix: not_before,
            not_after_unix: not_after,
            valid_from: String::new(),
            valid_until: String::new(),
            fingerprint: CertFingerprint::of(b"x"),
            chain_len: 1,
        }
    }

    #[test]
    fn expiry_states_follow_the_thresholds() {
        let now = 1000 * DAY;
        let at = |days_left: i64| ExpiryState::of(&info(0, now + days_left * DAY), now, 30);
        assert_eq!(at(31), ExpiryState::Valid);
        assert_eq!(at(30), ExpiryState::Valid);
        assert_eq!(at(29), ExpiryState::Expiring);
        assert_eq!(at(10), ExpiryState::Expiring);
        assert_eq!(at(6), ExpiryState::Critical);
        assert_eq!(at(-1), ExpiryState::Expired);
        assert_eq!(
            ExpiryState::of(&info(now + 1, now + 100 * DAY), now, 30),
            ExpiryState::NotYetValid
        );
    }

    #[test]
    fn prometheus_text_has_the_documented_names() {
        let status = RotatorStatus {
            current: info(0, 1_767_225_600),
            not_after_unix: 1_767_225_600,
            days_remaining: 42,
            expiry: ExpiryState::Valid,
            warn_days: 30,
            reloads: ReloadCounts {
                ok: 3,
                rejected: 1,
                error: 0,
            },
            last_check_unix: None,
            last_reload_unix: None,
            last_failure: None,
        };
        let text = status.to_prometheus_text();
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "tls_cert_not_after_seconds 1767225600",
                "tls_cert_days_remaining 42",
                "tls_cert_reloads_total{outcome=\"ok\"} 3",
                "tls_cert_reloads_total{outcome=\"rejected\"} 1",
                "tls_cert_reloads_total{outcome=\"error\"} 0",
            ]
        );
        assert!(text.contains("# TYPE tls_cert_reloads_total counter"));
    }
}

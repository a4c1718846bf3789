//! Throughput measurement of AES-256-GCM sealing, and of `openssl speed` for comparison.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::RngCore;

use super::{AeadError, Aes256Gcm, AesMode, KEY_LEN, NONCE_LEN, TAG_LEN};

/// Seals a `size`-byte buffer in place over and over, for at least `min_duration`, on the
/// backend `mode` selects (so [`super::AES_MODE_ENV`] applies), and returns the throughput in
/// GB/s (10^9 bytes of plaintext per second) on one thread.
///
/// A random key and a fresh counter nonce per seal are used, so the loop does what real
/// sealing does; the buffer is reused, so no allocation or copy is timed.
///
/// # Errors
/// Those of [`Aes256Gcm::new`] and [`Aes256Gcm::seal_in_place`] (`size` beyond the GCM limit).
pub fn bench_seal(mode: AesMode, size: usize, min_duration: Duration) -> Result<f64, AeadError> {
    let mut key = [0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    let gcm = Aes256Gcm::new(&key, mode)?;
    let mut buf = Vec::with_capacity(size + TAG_LEN);
    buf.resize(size, 0u8);

    let mut counter: u64 = 0;
    let mut seal = |buf: &mut Vec<u8>| -> Result<(), AeadError> {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..8].copy_from_slice(&counter.to_le_bytes());
        counter += 1;
        buf.truncate(size);
        gcm.seal_in_place(&nonce, b"", buf)?;
        std::hint::black_box(buf.as_slice());
        Ok(())
    };

    // Warm-up (caches, page faults, CPU frequency) before timing.
    let warm_up = Instant::now();
    while warm_up.elapsed() < min_duration / 10 {
        seal(&mut buf)?;
    }

    // Check the clock every few seals so tiny sizes don't measure `Instant::now`.
    let batch = (65_536 / size.max(1)).clamp(1, 256);
    let start = Instant::now();
    let mut sealed: u64 = 0;
    loop {
        for _ in 0..batch {
            seal(&mut buf)?;
        }
        sealed += batch as u64;
        let elapsed = start.elapsed();
        if elapsed >= min_duration {
            return Ok(sealed as f64 * size as f64 / elapsed.as_secs_f64() / 1e9);
        }
    }
}

/// Runs `openssl speed -evp aes-256-gcm -bytes SIZE -seconds 2` (one thread) and returns its
/// throughput in GB/s, or `None` if `openssl` is not on `PATH`, fails, or prints something this
/// parser does not understand.
#[must_use]
pub fn openssl_speed_gbps(size: usize) -> Option<f64> {
    let output = Command::new("openssl")
        .args(["speed", "-evp", "aes-256-gcm", "-bytes"])
        .arg(size.to_string())
        .args(["-seconds", "2"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    parse_openssl_speed(&String::from_utf8_lossy(&output.stdout), size)
}

/// Parses the table `openssl speed` prints after
/// `The 'numbers' are in 1000s of bytes per second processed.`:
///
/// ```text
/// type          16384 bytes
/// AES-256-GCM    2020362.34k
/// ```
///
/// The header lists block sizes (`N bytes`), the data line one `…k` figure per size, in
/// 1000s of bytes per second. Returns the figure for `size` in GB/s.
fn parse_openssl_speed(stdout: &str, size: usize) -> Option<f64> {
    let mut lines = stdout
        .lines()
        .skip_while(|l| !l.contains("The 'numbers' are in 1000s of bytes per second processed."))
        .skip(1);
    let header = lines.find(|l| l.trim_start().starts_with("type"))?;
    let tokens: Vec<&str> = header.split_whitespace().collect();
    let sizes: Vec<usize> = tokens
        .windows(2)
        .filter(|w| w[1] == "bytes")
        .map(|w| w[0].parse().ok())
        .collect::<Option<_>>()?;
    let column = sizes.iter().position(|&s| s == size)?;
    let data = lines.find(|l| !l.trim().is_empty())?;
    let figures: Vec<f64> = data
        .split_whitespace()
        .filter_map(|t| t.strip_suffix('k'))
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    // Figures are right-aligned under the sizes: take them from the end.
    let index = figures.len().checked_sub(sizes.len())? + column;
    let thousands_per_second = *figures.get(index)?;
    Some(thousands_per_second * 1000.0 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_SIZE: &str = "version: 3.0.19\n\
        CPUINFO: OPENSSL_ia32cap=0xfffa3203078bffff:0x40069c219c07ab\n\
        The 'numbers' are in 1000s of bytes per second processed.\n\
        type          16384 bytes\n\
        AES-256-GCM    2020362.34k\n";

    const MANY_SIZES: &str = "The 'numbers' are in 1000s of bytes per second processed.\n\
        type             16 bytes     64 bytes    256 bytes   1024 bytes   8192 bytes  16384 bytes\n\
        AES-256-GCM     1000.00k     2000.50k     3000.00k     4000.00k     5000.00k  3712345.67k\n";

    #[test]
    fn parses_single_size() {
        let gbps = parse_openssl_speed(ONE_SIZE, 16384).unwrap();
        assert!((gbps - 2.02036234).abs() < 1e-9, "{gbps}");
        assert_eq!(parse_openssl_speed(ONE_SIZE, 1024), None);
    }

    #[test]
    fn parses_the_column_of_the_size() {
        let gbps = parse_openssl_speed(MANY_SIZES, 16384).unwrap();
        assert!((gbps - 3.71234567).abs() < 1e-9, "{gbps}");
        let gbps = parse_openssl_speed(MANY_SIZES, 64).unwrap();
        assert!((gbps - 0.0020005).abs() < 1e-12, "{gbps}");
    }

    #[test]
    fn rejects_unexpected_output() {
        assert_eq!(parse_openssl_speed("", 16384), None);
        assert_eq!(
            parse_openssl_speed("type 16384 bytes\nAES-256-GCM 1.0k\n", 16384),
            None,
            "table without the 'numbers' line"
        );
        let garbled = ONE_SIZE.replace("2020362.34k", "fast");
        assert_eq!(parse_openssl_speed(&garbled, 16384), None);
    }

    #[test]
    fn bench_seal_measures_something() {
        let gbps = bench_seal(AesMode::Software, 4096, Duration::from_millis(20)).unwrap();
        assert!(gbps.is_finite() && gbps > 0.0, "{gbps}");
    }
}

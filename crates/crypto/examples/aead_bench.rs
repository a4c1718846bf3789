//! AES-256-GCM sealing throughput, one thread: this crate's hardware and software backends,
//! ring called directly (the ceiling for the hardware backend), and `openssl speed`.
//!
//! `cargo run --release -p parthenon-crypto --example aead_bench [SECONDS] [ROUNDS]`
//!
//! Each figure is the best of ROUNDS (default 5) runs of SECONDS (default 1) each, the
//! backends interleaved: on a shared machine other load only ever lowers a figure.

use std::time::{Duration, Instant};

use parthenon_crypto::aead::{
    active_backend, bench_seal, openssl_speed_gbps, AeadError, AesMode, NONCE_LEN, TAG_LEN,
};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

/// ring's own sealing loop, same shape as `bench_seal`: the reference for overhead.
fn raw_ring_gbps(size: usize, min: Duration) -> f64 {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[0x24; 32]).expect("key"));
    let mut buf = vec![0u8; size];
    let mut counter = 0u64;
    let mut seal = |buf: &mut Vec<u8>| {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..8].copy_from_slice(&counter.to_le_bytes());
        counter += 1;
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                buf.as_mut_slice(),
            )
            .expect("seal");
        std::hint::black_box((&buf, tag.as_ref().len() == TAG_LEN));
    };
    let warm = Instant::now();
    while warm.elapsed() < min / 10 {
        seal(&mut buf);
    }
    let batch = (65_536 / size).clamp(1, 256);
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        for _ in 0..batch {
            seal(&mut buf);
        }
        n += batch as u64;
        let t = start.elapsed();
        if t >= min {
            return n as f64 * size as f64 / t.as_secs_f64() / 1e9;
        }
    }
}

fn main() -> Result<(), AeadError> {
    let arg = |i: usize| std::env::args().nth(i).and_then(|s| s.parse::<f64>().ok());
    let min = Duration::from_secs_f64(arg(1).unwrap_or(1.0));
    let rounds = arg(2).unwrap_or(5.0).max(1.0) as usize;
    println!("{}", active_backend(AesMode::Auto)?);
    println!("{}", active_backend(AesMode::Software)?);
    println!(
        "{:>9}  {:>12}  {:>12}  {:>9}  {:>12}  {:>9}",
        "size", "auto GB/s", "ring GB/s", "ratio", "soft GB/s", "openssl"
    );
    for size in [16 * 1024, 1024 * 1024] {
        let (mut auto, mut raw, mut soft, mut openssl) = (0f64, 0f64, 0f64, None::<f64>);
        for _ in 0..rounds {
            auto = auto.max(bench_seal(AesMode::Auto, size, min)?);
            raw = raw.max(raw_ring_gbps(size, min));
            soft = soft.max(bench_seal(AesMode::Software, size, min)?);
            if let Some(g) = openssl_speed_gbps(size) {
                openssl = Some(openssl.map_or(g, |o| o.max(g)));
            }
        }
        let openssl = openssl
            .map(|g| format!("{g:.2}"))
            .unwrap_or_else(|| "n/a".into());
        println!(
            "{:>9}  {auto:>12.2}  {raw:>12.2}  {:>8.1}%  {soft:>12.3}  {openssl:>9}",
            size,
            auto / raw * 100.0
        );
    }
    Ok(())
}

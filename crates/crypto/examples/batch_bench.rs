//! Throughput of BIP-340 batch verification next to libsecp256k1 single verification.
//!
//! `cargo run --release -p parthenon-crypto --example batch_bench [-- THREADS [SIZES...]]`
//! (THREADS 0 = all cores; default sizes 64 256 1024 4096).
//!
//! `batch_bench --profile SIZE SECONDS` runs only one-thread batch verification of SIZE
//! signatures for SECONDS, for `perf record`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Runs `verify_batch` on one batch of `size` in a loop for `secs` seconds.
fn profile(size: usize, secs: u64) -> ExitCode {
    let items = parthenon_crypto::batch::sample_items(size, 1);
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        if !parthenon_crypto::batch::verify_batch(&items)
            .iter()
            .all(|&v| v)
        {
            eprintln!("valid batch rejected");
            return ExitCode::FAILURE;
        }
        runs += 1;
    }
    let rate = (runs * size as u64) as f64 / start.elapsed().as_secs_f64();
    println!("batch {size}, 1 thread: {rate:.0} signatures/s");
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--profile") {
        let nums: Vec<u64> = args.skip(1).filter_map(|a| a.parse().ok()).collect();
        return match nums[..] {
            [size, secs] => profile(size as usize, secs),
            _ => {
                eprintln!("usage: batch_bench --profile SIZE SECONDS");
                ExitCode::FAILURE
            }
        };
    }
    let threads = match args.next().map(|a| a.parse::<usize>()) {
        None => 0,
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            eprintln!("THREADS must be a number: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sizes: Result<Vec<usize>, _> = args.map(|a| a.parse::<usize>()).collect();
    let sizes = match sizes {
        Ok(s) if s.is_empty() => vec![64, 256, 1024, 4096],
        Ok(s) => s,
        Err(e) => {
            eprintln!("SIZES must be numbers: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; use --release for meaningful numbers");
    }
    match parthenon_crypto::batch::bench(&sizes, threads) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}

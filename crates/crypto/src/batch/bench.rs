//! Side-by-side throughput measurement of single and batch verification (for the CLI and
//! `examples/batch_bench.rs`).

use std::fmt;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use rayon::prelude::*;

use super::{BatchError, BatchItem, BatchVerifier, CpuBatchVerifier};
use crate::KeyPair;

/// Minimum wall time of one sample; a sample repeats the operation until it is reached.
const SAMPLE_TIME: Duration = Duration::from_millis(40);
/// Samples per method and size. The four methods take turns sample by sample (so a noisy,
/// shared machine penalises them alike), and the median sample is reported.
const SAMPLES: usize = 15;

/// Throughput for one batch size, in signatures per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BenchRow {
    /// Batch size.
    pub size: usize,
    /// libsecp256k1 single verification on one thread.
    pub single_one_thread: f64,
    /// libsecp256k1 single verification spread over all threads.
    pub single_all_threads: f64,
    /// Batch verification on one thread.
    pub batch_one_thread: f64,
    /// Batch verification spread over all threads.
    pub batch_all_threads: f64,
}

/// Result of [`bench()`].
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    /// Threads used by the "all threads" columns.
    pub threads: usize,
    /// One row per requested size, in request order.
    pub rows: Vec<BenchRow>,
}

impl fmt::Display for BenchReport {
    /// A table in signatures per second with the speed-ups over single verification.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.threads;
        writeln!(
            f,
            "{:>6} {:>13} {:>13} {:>13} {:>13} {:>9} {:>9}",
            "size",
            "single 1t/s",
            format!("single {t}t/s"),
            "batch 1t/s",
            format!("batch {t}t/s"),
            "speedup1t",
            format!("speedup{t}t"),
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:>6} {:>13.0} {:>13.0} {:>13.0} {:>13.0} {:>8.2}x {:>8.2}x",
                r.size,
                r.single_one_thread,
                r.single_all_threads,
                r.batch_one_thread,
                r.batch_all_threads,
                r.batch_one_thread / r.single_one_thread,
                r.batch_all_threads / r.single_all_threads,
            )?;
        }
        Ok(())
    }
}

/// `n` valid signatures by `n` distinct random keys over random messages, reproducible from
/// `seed` (benchmark and profiling input).
pub fn sample_items(n: usize, seed: u64) -> Vec<BatchItem> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let pair = KeyPair::generate_with(&mut rng);
            let mut msg = [0u8; 32];
            let mut aux = [0u8; 32];
            rng.fill_bytes(&mut msg);
            rng.fill_bytes(&mut aux);
            BatchItem {
                pubkey: pair.public_key().to_bytes(),
                msg,
                sig: pair.sign_with_aux(&msg, &aux).0,
            }
        })
        .collect()
}

/// Signatures per second of `op` over a batch of `size`, for one sample of at least
/// [`SAMPLE_TIME`]. `op` returns whether the whole batch verified.
fn sample(
    size: usize,
    method: &'static str,
    mut op: impl FnMut() -> bool,
) -> Result<f64, BatchError> {
    let start = Instant::now();
    let mut reps = 0u64;
    loop {
        if !op() {
            return Err(BatchError::BenchCheckFailed { method, size });
        }
        reps += 1;
        let elapsed = start.elapsed();
        if elapsed >= SAMPLE_TIME {
            return Ok((reps * size as u64) as f64 / elapsed.as_secs_f64());
        }
    }
}

/// The median of `v` (not empty).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Measures, in one process and interleaved, for each batch size: libsecp256k1 single
/// verification on one thread and on `threads` threads, and batch verification
/// ([`super::verify_batch`], exact per-item results) on one thread and on `threads` threads.
///
/// `threads == 0` means all available cores. The signatures are valid, by distinct keys;
/// every run is checked to accept them all. Each figure is the median of 15 samples of at
/// least 40 ms, the four methods taking turns sample by sample. Use a release build: debug
/// numbers mean nothing.
pub fn bench(sizes: &[usize], threads: usize) -> Result<BenchReport, BatchError> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    if sizes.contains(&0) {
        return Err(BatchError::EmptyBenchSize);
    }
    let one = CpuBatchVerifier::new(1)?;
    let all = CpuBatchVerifier::new(threads)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|source| BatchError::ThreadPool { threads, source })?;
    let mut rows = Vec::with_capacity(sizes.len());
    for (k, &size) in sizes.iter().enumerate() {
        let items = sample_items(size, 0x5eed + k as u64);
        let single = |it: &BatchItem| crate::verify(&it.pubkey, &it.msg, &it.sig).is_ok();
        let mut samples: [Vec<f64>; 4] = Default::default();
        for _ in 0..SAMPLES {
            samples[0].push(sample(size, "single, 1 thread", || {
                items.iter().all(single)
            })?);
            samples[1].push(sample(size, "single, all threads", || {
                pool.install(|| items.par_iter().with_min_len(16).all(single))
            })?);
            samples[2].push(sample(size, "batch, 1 thread", || {
                one.verify_batch(&items).all_valid()
            })?);
            samples[3].push(sample(size, "batch, all threads", || {
                all.verify_batch(&items).all_valid()
            })?);
        }
        let [s1, s_all, b1, b_all] = samples.map(median);
        rows.push(BenchRow {
            size,
            single_one_thread: s1,
            single_all_threads: s_all,
            batch_one_thread: b1,
            batch_all_threads: b_all,
        });
    }
    Ok(BenchReport { threads, rows })
}

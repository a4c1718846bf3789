//! BIP-340 Schnorr batch verification.
//!
//! A batch of `(pubkey, msg, sig)` items is accepted iff the randomised BIP-340 batch
//! equation holds:
//!
//! `(sum a_i s_i) G == sum a_i R_i + sum (a_i e_i) P_i`
//!
//! with `R_i = lift_x(r_i)`, `P_i = lift_x(pk_i)`,
//! `e_i = int(hash_BIP0340/challenge(r_i || pk_i || m_i)) mod n`, `a_1 = 1` and the other
//! `a_i` uniformly random non-zero 128-bit integers. The randomizers come from ChaCha20 keyed
//! with a hash of fresh OS-seeded randomness and a commitment to every item of the batch, so
//! whoever builds the batch cannot predict them: a batch containing an invalid signature is
//! accepted with probability at most about 2^-128. Without them (all `a_i = 1`) two invalid
//! signatures could cancel each other, a consensus bug.
//!
//! Each signature must first pass the per-signature checks (`pk` and `r` valid x coordinates
//! below p, `s < n`); one that fails is invalid and never enters the equation.
//!
//! When the equation fails, [`verify_batch`] finds exactly which signatures are invalid by
//! halving the batch with fresh randomizers, down to sub-batches of at most eight signatures,
//! which are verified one by one with libsecp256k1. The per-item result therefore equals
//! single verification ([`crate::verify`]), except with negligible probability.
//!
//! The equation is evaluated as one multi-scalar multiplication that must give the point at
//! infinity (module `msm`): Pippenger's bucket method with signed windows (`c` = 6 at 64
//! signatures, 7 at 256, 8 at 1024, 10 at 4096), buckets summed with batched affine
//! additions (one field inversion per tree level via Montgomery's trick, about 5M + 1S per
//! addition), Jacobian running sums for the bucket reduction, and the secp256k1
//! endomorphism to split every 256-bit scalar into two 128-bit ones, so all `3n + 2` points
//! (`R_i`, `P_i`, `lambda P_i`, `G`, `lambda G`) carry 128-bit scalars. Field and scalar
//! arithmetic come from the `k256` crate; point decompression (`lift_x`) from libsecp256k1,
//! whose square root was faster than `k256`'s when compared during development.
//!
//! Cost profile (one thread, 1024 signatures, x86-64 development machine): the two `lift_x`
//! square roots per signature take about 40% of the time, the multi-scalar multiplication
//! about 56% (bucket additions 49%, of which `k256` field multiplications and squarings are
//! three quarters; bucket reduction 6%), hashing and scalar work the rest. There batch
//! verification measured about 2x the throughput of libsecp256k1 single verification at 1024
//! and 4096 signatures, 1.7x at 256 and 1.4x at 64 (`examples/batch_bench.rs`, [`bench()`]).
//!
//! Parallelism: [`CpuBatchVerifier`] with `threads >= 2` (or the `*_in` functions with a
//! rayon pool) splits a batch into one sub-batch per thread, each with its own equation and
//! randomizers.
//!
//! The [`BatchVerifier`] trait is the seam for other back ends; [`CpuBatchVerifier`] is the
//! only one.

mod bench;
mod engine;
mod glv;
mod msm;
mod point;

use std::sync::Arc;

use rayon::ThreadPool;

pub use bench::{bench, sample_items, BenchReport, BenchRow};

/// One signature to verify: a BIP-340 x-only public key, a 32-byte message and a 64-byte
/// signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BatchItem {
    /// The 32-byte x-only public key.
    pub pubkey: [u8; 32],
    /// The 32-byte message.
    pub msg: [u8; 32],
    /// The 64-byte signature `r || s`.
    pub sig: [u8; 64],
}

/// Errors of the batch verification API.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The rayon thread pool for a multi-threaded verifier could not be created.
    #[error("cannot build a batch verification thread pool with {threads} threads")]
    ThreadPool {
        /// The requested thread count.
        threads: usize,
        /// The underlying rayon error.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// The benchmark was asked for a batch size of zero.
    #[error("benchmark batch sizes must be at least 1")]
    EmptyBenchSize,
    /// A benchmark run did not find every (valid) signature valid: the measurement would be
    /// meaningless, so none is reported.
    #[error("benchmark self-check failed: {method} rejected a valid batch of {size}")]
    BenchCheckFailed {
        /// The method that gave the wrong answer.
        method: &'static str,
        /// The batch size.
        size: usize,
    },
}

/// Per-item outcome of a batch verification: `is_valid(i)` equals single verification of
/// item `i`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchResult {
    valid: Vec<bool>,
}

impl BatchResult {
    /// Whether every item is valid (true for an empty batch).
    pub fn all_valid(&self) -> bool {
        self.valid.iter().all(|&v| v)
    }

    /// Whether item `i` is valid; `None` if `i` is out of range.
    pub fn is_valid(&self, i: usize) -> Option<bool> {
        self.valid.get(i).copied()
    }

    /// Positions of the invalid items, ascending.
    pub fn invalid_indices(&self) -> Vec<usize> {
        self.valid
            .iter()
            .enumerate()
            .filter(|(_, &v)| !v)
            .map(|(i, _)| i)
            .collect()
    }

    /// Per-item validity, in batch order.
    pub fn as_slice(&self) -> &[bool] {
        &self.valid
    }

    /// Per-item validity, in batch order.
    pub fn into_vec(self) -> Vec<bool> {
        self.valid
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.valid.len()
    }

    /// Whether the batch was empty.
    pub fn is_empty(&self) -> bool {
        self.valid.is_empty()
    }
}

impl From<Vec<bool>> for BatchResult {
    /// Wraps per-item validity computed by a [`BatchVerifier`] back end.
    fn from(valid: Vec<bool>) -> Self {
        Self { valid }
    }
}

/// A back end that verifies batches of BIP-340 signatures.
pub trait BatchVerifier: Send + Sync {
    /// Exact per-item validity (equal to single verification of each item).
    fn verify_batch(&self, items: &[BatchItem]) -> BatchResult;

    /// Whether every item is valid; cheaper than [`BatchVerifier::verify_batch`] when some
    /// are not, since it does not look for them.
    fn batch_is_valid(&self, items: &[BatchItem]) -> bool;
}

/// The CPU back end: runs on the calling thread, or spreads each batch over a rayon pool.
#[derive(Clone, Debug)]
pub struct CpuBatchVerifier {
    pool: Option<Arc<ThreadPool>>,
}

impl CpuBatchVerifier {
    /// A verifier using `threads` threads: 0 or 1 runs on the calling thread, more builds a
    /// dedicated rayon pool of that size.
    pub fn new(threads: usize) -> Result<Self, BatchError> {
        if threads <= 1 {
            return Ok(Self { pool: None });
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("batch-verify-{i}"))
            .build()
            .map_err(|source| BatchError::ThreadPool { threads, source })?;
        Ok(Self {
            pool: Some(Arc::new(pool)),
        })
    }

    /// A verifier that runs on an existing rayon pool (shared with other work).
    pub fn with_pool(pool: Arc<ThreadPool>) -> Self {
        Self { pool: Some(pool) }
    }

    /// Number of threads a batch is spread over.
    pub fn threads(&self) -> usize {
        self.pool.as_ref().map_or(1, |p| p.current_num_threads())
    }
}

impl BatchVerifier for CpuBatchVerifier {
    fn verify_batch(&self, items: &[BatchItem]) -> BatchResult {
        let valid = match &self.pool {
            None => engine::verify_exact(items, 1),
            Some(pool) => verify_batch_in(pool, items),
        };
        BatchResult { valid }
    }

    fn batch_is_valid(&self, items: &[BatchItem]) -> bool {
        match &self.pool {
            None => engine::all_valid(items, 1),
            Some(pool) => batch_is_valid_in(pool, items),
        }
    }
}

/// Exact per-item validity of `items` on the calling thread (equal to single verification
/// of each item).
pub fn verify_batch(items: &[BatchItem]) -> Vec<bool> {
    engine::verify_exact(items, 1)
}

/// Whether every signature in `items` is valid, on the calling thread (true for an empty
/// batch).
pub fn batch_is_valid(items: &[BatchItem]) -> bool {
    engine::all_valid(items, 1)
}

/// [`verify_batch`] spread over the threads of `pool`.
pub fn verify_batch_in(pool: &ThreadPool, items: &[BatchItem]) -> Vec<bool> {
    let threads = pool.current_num_threads();
    pool.install(|| engine::verify_exact(items, threads))
}

/// [`batch_is_valid`] spread over the threads of `pool`.
pub fn batch_is_valid_in(pool: &ThreadPool, items: &[BatchItem]) -> bool {
    let threads = pool.current_num_threads();
    pool.install(|| engine::all_valid(items, threads))
}

/// [`verify_batch`] on `threads` threads (0 or 1: the calling thread), building a pool for
/// the call; prefer a long-lived [`CpuBatchVerifier`] when verifying repeatedly.
pub fn verify_batch_threads(items: &[BatchItem], threads: usize) -> Result<Vec<bool>, BatchError> {
    Ok(CpuBatchVerifier::new(threads)?
        .verify_batch(items)
        .into_vec())
}

/// [`batch_is_valid`] on `threads` threads (0 or 1: the calling thread), building a pool for
/// the call; prefer a long-lived [`CpuBatchVerifier`] when verifying repeatedly.
pub fn batch_is_valid_threads(items: &[BatchItem], threads: usize) -> Result<bool, BatchError> {
    Ok(CpuBatchVerifier::new(threads)?.batch_is_valid(items))
}

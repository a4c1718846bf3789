//! The one configurable pool for CPU-parallel work (signature checks, mining).
//!
//! With 0 workers every job runs inline on the caller's thread, which the deterministic
//! simulation uses; otherwise jobs run on a dedicated rayon pool of that many threads.

use rayon::prelude::*;
use std::sync::Arc;

/// A pool of worker threads, or none.
#[derive(Clone, Debug)]
pub struct Workers {
    pool: Option<Arc<rayon::ThreadPool>>,
}

/// The pool could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {threads} worker threads: {source}")]
pub struct WorkersError {
    threads: usize,
    source: rayon::ThreadPoolBuildError,
}

impl Workers {
    /// A pool of `threads` workers; 0 means inline.
    pub fn new(threads: usize) -> Result<Self, WorkersError> {
        if threads == 0 {
            return Ok(Workers { pool: None });
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("parthenon-worker-{i}"))
            .build()
            .map_err(|source| WorkersError { threads, source })?;
        Ok(Workers {
            pool: Some(Arc::new(pool)),
        })
    }

    /// Inline execution (no threads).
    pub fn inline() -> Self {
        Workers { pool: None }
    }

    /// One worker per available core.
    pub fn all_cores() -> Result<Self, WorkersError> {
        Workers::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        )
    }

    /// Number of worker threads (0 = inline).
    pub fn threads(&self) -> usize {
        self.pool
            .as_ref()
            .map(|p| p.current_num_threads())
            .unwrap_or(0)
    }

    /// Maps `f` over `items` in parallel (or inline), keeping order.
    pub fn map<T: Sync, R: Send>(&self, items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
        match &self.pool {
            None => items.iter().map(f).collect(),
            Some(p) => p.install(|| items.par_iter().with_min_len(16).map(f).collect()),
        }
    }

    /// Runs `f` on the calling thread with a [`Spawner`] whose jobs run on the workers while
    /// `f` goes on (inline, at once, when there are no workers); returns when `f` and every
    /// job have finished. Lets the caller overlap its own serial work with parallel jobs.
    pub fn scope<'s, R>(&'s self, f: impl FnOnce(&Spawner<'_, 's>) -> R) -> R {
        match &self.pool {
            None => f(&Spawner { scope: None }),
            Some(p) => p.in_place_scope(|s| f(&Spawner { scope: Some(s) })),
        }
    }

    /// Runs `f(i)` for `i in 0..n` on all workers (or once inline with `n = 1`).
    pub fn broadcast<R: Send>(&self, f: impl Fn(usize, usize) -> R + Sync + Send) -> Vec<R> {
        match &self.pool {
            None => vec![f(0, 1)],
            Some(p) => {
                let n = p.current_num_threads();
                p.install(|| (0..n).into_par_iter().map(|i| f(i, n)).collect())
            }
        }
    }
}

/// Hands jobs to the workers inside [`Workers::scope`].
pub struct Spawner<'a, 's> {
    scope: Option<&'a rayon::Scope<'s>>,
}

impl<'s> Spawner<'_, 's> {
    /// Runs `job` on a worker (or now, inline, when there are none).
    pub fn spawn(&self, job: impl FnOnce() + Send + 's) {
        match self.scope {
            Some(s) => s.spawn(move |_| job()),
            None => job(),
        }
    }
}

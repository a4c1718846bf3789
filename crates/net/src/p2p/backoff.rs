//! Reconnection backoff: each failed attempt doubles the wait, up to a ceiling.

/// When an address may be dialled again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backoff {
    /// Failed attempts in a row.
    pub failures: u32,
    /// Earliest time (engine milliseconds) of the next attempt.
    pub next_try_ms: u64,
}

impl Backoff {
    /// Whether an attempt may start at `now_ms`.
    pub fn ready(&self, now_ms: u64) -> bool {
        now_ms >= self.next_try_ms
    }

    /// Records a failed attempt (or a lost connection) at `now_ms`: the wait is
    /// `base_ms * 2^(failures-1)`, at most `max_ms`.
    pub fn failed(&mut self, now_ms: u64, base_ms: u64, max_ms: u64) {
        self.failures = self.failures.saturating_add(1);
        let shift = (self.failures - 1).min(20);
        let wait = base_ms.saturating_mul(1 << shift).min(max_ms);
        self.next_try_ms = now_ms.saturating_add(wait);
    }

    /// Records a successful connection: the next failure waits `base_ms` again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.next_try_ms = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_ceiling() {
        let mut b = Backoff::default();
        assert!(b.ready(0));
        let waits: Vec<u64> = (0..8)
            .map(|_| {
                b.failed(1_000, 500, 10_000);
                b.next_try_ms - 1_000
            })
            .collect();
        assert_eq!(
            waits,
            [500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]
        );
        assert!(!b.ready(1_000 + 9_999));
        assert!(b.ready(1_000 + 10_000));
        b.succeeded();
        b.failed(0, 500, 10_000);
        assert_eq!(b.next_try_ms, 500);
    }
}

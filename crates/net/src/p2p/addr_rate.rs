//! [`AddrTokens`]: how many gossiped addresses one peer may make the node process.
//!
//! As in Bitcoin Core, each peer has a token bucket: one token per address processed,
//! refilled at [`ADDR_TOKENS_PER_SEC`] up to [`ADDR_TOKEN_BURST`]; a connection starts with
//! one token, and the node's own `getaddr` adds a full burst once, so the answer it asked
//! for is taken whole. Addresses past the tokens are dropped unread (not hashed, not
//! looked up) and counted: flooding `addr` then costs the node a decode per message and
//! nothing more, and the flooder's addresses never reach the book.

/// Tokens (addresses) regained per second.
pub const ADDR_TOKENS_PER_SEC: f64 = 0.1;
/// Most tokens a peer can save up (also what one `getaddr` answer may bring).
pub const ADDR_TOKEN_BURST: f64 = 1_000.0;

/// One peer's address-processing budget.
#[derive(Debug, Clone)]
pub(crate) struct AddrTokens {
    tokens: f64,
    last_ms: u64,
    getaddr_credit: bool,
}

impl AddrTokens {
    /// A fresh connection's budget at engine time `now_ms`: one token.
    pub(crate) fn new(now_ms: u64) -> Self {
        AddrTokens {
            tokens: 1.0,
            last_ms: now_ms,
            getaddr_credit: false,
        }
    }

    /// We sent `getaddr`: the answer may bring a full burst (once per connection).
    pub(crate) fn sent_getaddr(&mut self) {
        if !self.getaddr_credit {
            self.getaddr_credit = true;
            self.tokens += ADDR_TOKEN_BURST;
        }
    }

    /// Of `n` addresses arriving at `now_ms`, how many may be processed (the rest are
    /// dropped); the tokens are spent.
    pub(crate) fn take(&mut self, n: usize, now_ms: u64) -> usize {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1_000.0;
        self.last_ms = self.last_ms.max(now_ms);
        // Refill never tops a saved-up getaddr credit, nor exceeds the burst by itself.
        if self.tokens < ADDR_TOKEN_BURST {
            self.tokens = (self.tokens + elapsed * ADDR_TOKENS_PER_SEC).min(ADDR_TOKEN_BURST);
        }
        let allowed = (self.tokens.floor() as usize).min(n);
        self.tokens -= allowed as f64;
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_gets_one_address_then_a_tenth_per_second() {
        let mut t = AddrTokens::new(0);
        assert_eq!(t.take(1_000, 0), 1);
        assert_eq!(t.take(1_000, 0), 0);
        assert_eq!(t.take(1_000, 9_000), 0, "0.9 tokens");
        assert_eq!(t.take(1_000, 10_000), 1);
        assert_eq!(t.take(1_000, 10_000 + 100_000), 10);
        // Saving up stops at the burst.
        assert_eq!(t.take(5_000, 100_000_000), 1_000);
    }

    #[test]
    fn the_answer_to_our_getaddr_is_taken_whole_once() {
        let mut t = AddrTokens::new(0);
        t.sent_getaddr();
        t.sent_getaddr();
        assert_eq!(t.take(1_000, 0), 1_000);
        assert_eq!(t.take(1_000, 0), 1, "the starting token is left");
        assert_eq!(t.take(1_000, 0), 0);
    }
}

//! Stage 2: rules a block satisfies given its place in the chain.

use super::ValidationError;
use parthenon_primitives::params::MAX_TIMEWARP_SECS;
use parthenon_primitives::{Block, BlockHeader, ChainParams, Transaction, Txid};

/// What the chain says about the position a new header takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderContext {
    /// The new block's height.
    pub height: u32,
    /// The compact target the chain requires at that height.
    pub expected_bits: u32,
    /// Median time of the previous (up to) 11 blocks.
    pub median_time_past: u32,
    /// The parent block's time (the time-warp bound of a window's first block).
    pub parent_time: u32,
}

/// All context checks of a block.
pub fn check_block_in_context(
    block: &Block,
    ctx: &HeaderContext,
    now_secs: u64,
    params: &ChainParams,
) -> Result<(), ValidationError> {
    check_header_in_context(&block.header, ctx, now_secs, params)?;
    check_coinbase_height(block, ctx.height)?;
    check_transactions_final(block, ctx)
}

/// Header rules: difficulty, a timestamp between the median time past and now + drift, and
/// the time-warp bound on the first block of a retarget window.
pub fn check_header_in_context(
    header: &BlockHeader,
    ctx: &HeaderContext,
    now_secs: u64,
    params: &ChainParams,
) -> Result<(), ValidationError> {
    check_difficulty(header, ctx)?;
    check_time_after_median(header, ctx)?;
    check_time_warp(header, ctx, params)?;
    check_time_not_too_new(header, now_secs, params)
}

/// The earliest time a block in `ctx` may carry: after the median time past and, at the
/// start of a retarget window, within the time-warp bound of its parent. Templates use
/// `max(now, earliest)`, as Bitcoin Core does for BIP-94.
pub fn earliest_block_time(ctx: &HeaderContext, params: &ChainParams) -> u32 {
    let after_median = ctx.median_time_past.saturating_add(1);
    if params.retarget && ctx.height.is_multiple_of(params.retarget_interval) {
        after_median.max(ctx.parent_time.saturating_sub(MAX_TIMEWARP_SECS))
    } else {
        after_median
    }
}

/// BIP-94's time-warp rule, on networks that retarget: the first block of a retarget window
/// (height a multiple of `retarget_interval`) is at most [`MAX_TIMEWARP_SECS`] older than its
/// parent, the last block of the previous window.
///
/// Why: the retarget measures a window from the previous window's last block to this window's
/// last block. Without the bound, a majority miner can date every window's last block far in
/// the future (stretching the measured span, easing the target) and the next window's first
/// block back at the median time past, so the timestamps never really advance and the target
/// falls every window. With the bound, any time a window's end is pushed forward is carried
/// into the next window's start, so the gain is paid back in the following window.
pub fn check_time_warp(
    header: &BlockHeader,
    ctx: &HeaderContext,
    params: &ChainParams,
) -> Result<(), ValidationError> {
    if !params.retarget || !ctx.height.is_multiple_of(params.retarget_interval) {
        return Ok(());
    }
    let min = ctx.parent_time.saturating_sub(MAX_TIMEWARP_SECS);
    if header.time < min {
        return Err(ValidationError::TimeWarp {
            time: header.time,
            parent_time: ctx.parent_time,
            min,
        });
    }
    Ok(())
}

/// The header's target is exactly the one the retarget schedule requires.
pub fn check_difficulty(header: &BlockHeader, ctx: &HeaderContext) -> Result<(), ValidationError> {
    if header.bits != ctx.expected_bits {
        return Err(ValidationError::BadDifficulty {
            got: header.bits,
            expected: ctx.expected_bits,
        });
    }
    Ok(())
}

/// The time is after the median of the previous 11 blocks.
pub fn check_time_after_median(
    header: &BlockHeader,
    ctx: &HeaderContext,
) -> Result<(), ValidationError> {
    if header.time <= ctx.median_time_past {
        return Err(ValidationError::TimeTooOld {
            time: header.time,
            median: ctx.median_time_past,
        });
    }
    Ok(())
}

/// The time is at most `max_future_block_time_secs` ahead of now.
pub fn check_time_not_too_new(
    header: &BlockHeader,
    now_secs: u64,
    params: &ChainParams,
) -> Result<(), ValidationError> {
    let max = now_secs + params.max_future_block_time_secs as u64;
    if header.time as u64 > max {
        return Err(ValidationError::TimeTooNew {
            time: header.time,
            max,
        });
    }
    Ok(())
}

/// The coinbase's lock time equals the block height, which makes every coinbase txid unique
/// (txids leave the coinbase data out, so the height must be elsewhere in the id).
pub fn check_coinbase_height(block: &Block, height: u32) -> Result<(), ValidationError> {
    let lock_time = block.txs[0].lock_time;
    if lock_time != height {
        return Err(ValidationError::BadCoinbaseHeight { lock_time, height });
    }
    Ok(())
}

/// Every non-coinbase transaction is final at the block's height and its parent's median time
/// past ([`check_final`]); the coinbase's lock time means its height instead
/// ([`check_coinbase_height`]).
pub fn check_transactions_final(block: &Block, ctx: &HeaderContext) -> Result<(), ValidationError> {
    for tx in block.txs.iter().skip(1) {
        check_final(tx, tx.txid(), ctx.height, ctx.median_time_past)?;
    }
    Ok(())
}

/// Absolute lock time as in Bitcoin ([`Transaction::is_final`]): `lock_time` 0, or below
/// the block height (lock times under 500,000,000) or the median time past (lock times at or
/// above it), or every input's sequence `0xFFFFFFFF`. The mempool checks it with the next
/// block's height and the tip's median time past, as Bitcoin Core does.
pub fn check_final(
    tx: &Transaction,
    txid: Txid,
    height: u32,
    median_time_past: u32,
) -> Result<(), ValidationError> {
    if !tx.is_final(height, median_time_past) {
        return Err(ValidationError::NonFinalTransaction {
            txid,
            lock_time: tx.lock_time,
            height,
            median_time_past,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parthenon_primitives::{Hash256, Network};

    fn header(time: u32) -> BlockHeader {
        BlockHeader {
            version: 1,
            prev_hash: Hash256::ZERO,
            merkle_root: Hash256::ZERO,
            time,
            bits: 0,
            nonce: 0,
        }
    }

    fn ctx(height: u32) -> HeaderContext {
        HeaderContext {
            height,
            expected_bits: 0,
            median_time_past: 0,
            parent_time: 10_000,
        }
    }

    #[test]
    fn time_warp_bound_applies_at_window_starts_of_retargeting_networks_only() {
        let main = Network::Main.params();
        let warped = header(10_000 - 601);
        for height in [2016, 4032] {
            assert_eq!(
                check_time_warp(&warped, &ctx(height), main),
                Err(ValidationError::TimeWarp {
                    time: 9_399,
                    parent_time: 10_000,
                    min: 9_400
                })
            );
            assert_eq!(check_time_warp(&header(9_400), &ctx(height), main), Ok(()));
        }
        for height in [2015, 2017] {
            assert_eq!(check_time_warp(&warped, &ctx(height), main), Ok(()));
        }
        let test = Network::Test.params();
        assert!(check_time_warp(&warped, &ctx(2016), test).is_err());
        let dev = Network::Dev.params();
        assert_eq!(check_time_warp(&warped, &ctx(2016), dev), Ok(()));
    }
}

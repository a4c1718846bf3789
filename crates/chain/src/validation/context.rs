//! Stage 2: rules a block satisfies given its place in the chain.

use super::ValidationError;
use parthenon_primitives::{Block, BlockHeader, ChainParams};

/// What the chain says about the position a new header takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderContext {
    /// The new block's height.
    pub height: u32,
    /// The compact target the chain requires at that height.
    pub expected_bits: u32,
    /// Median time of the previous (up to) 11 blocks.
    pub median_time_past: u32,
}

/// All context checks of a block.
pub fn check_block_in_context(
    block: &Block,
    ctx: &HeaderContext,
    now_secs: u64,
    params: &ChainParams,
) -> Result<(), ValidationError> {
    check_header_in_context(&block.header, ctx, now_secs, params)?;
    check_coinbase_height(block, ctx.height)
}

/// Header rules: difficulty, and a timestamp between the median time past and now + drift.
pub fn check_header_in_context(
    header: &BlockHeader,
    ctx: &HeaderContext,
    now_secs: u64,
    params: &ChainParams,
) -> Result<(), ValidationError> {
    check_difficulty(header, ctx)?;
    check_time_after_median(header, ctx)?;
    check_time_not_too_new(header, now_secs, params)
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

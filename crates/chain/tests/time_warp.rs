//! BIP-94's time-warp bound on networks that retarget: the first block of a retarget window
//! may be dated at most 600 s before its parent; other blocks only follow the median-time-past
//! rule (the dev network's exemption is a unit test of `check_time_warp`).

mod common;

use common::*;
use parthenon_chain::{miner, ChainError, Mempool, ValidationError};
use parthenon_primitives::{Block, ChainParams, Network};

/// Dev's genesis and limit, but retargeting every 16 blocks meant to come 600 s apart (the
/// genesis is dev's, whose nonce meets the same limit).
fn retargeting() -> &'static ChainParams {
    let mut p = Network::Dev.params().clone();
    p.retarget = true;
    p.retarget_interval = 16;
    p.target_spacing_secs = 600;
    Box::leak(Box::new(p))
}

fn rejection(tc: &mut TestChain, block: Block) -> ValidationError {
    match tc.process(block) {
        Err(ChainError::InvalidBlock { source, .. }) => source,
        other => panic!("expected InvalidBlock, got {other:?}"),
    }
}

/// A chain of `params` up to height 15 (the last block of the first window), blocks 600 s
/// apart except block 15, dated `block_15_time(time of block 14)`.
fn window_end_at(
    params: &'static ChainParams,
    block_15_time: impl FnOnce(u32) -> u32,
) -> TestChain {
    let mut tc = TestChain::with_params(params);
    for _ in 1..=14 {
        let parent_time = tc.chain.tip().header.time;
        let b = BlockBuilder::on_tip(&tc.chain)
            .time(parent_time + 600)
            .build();
        tc.connect(b);
    }
    let t14 = tc.chain.tip().header.time;
    let b15 = BlockBuilder::on_tip(&tc.chain)
        .time(block_15_time(t14))
        .build();
    tc.connect(b15);
    tc
}

/// [`window_end_at`] with block 15 dated 601 s before block 14.
fn up_to_window_end(params: &'static ChainParams) -> TestChain {
    // Not a window start: 601 s before the parent is fine (only the median rule applies).
    window_end_at(params, |t14| t14 - 601)
}

#[test]
fn a_window_start_more_than_600_s_before_its_parent_is_rejected() {
    let p = retargeting();
    let mut tc = up_to_window_end(p);
    assert_eq!(tc.chain.height(), 15);
    let parent_time = tc.chain.tip().header.time;
    let ctx = tc.chain.next_block_context();
    assert_eq!(ctx.height, 16);
    assert!(
        ctx.median_time_past < parent_time - 601,
        "the median rule alone would allow it"
    );

    let warped = BlockBuilder::on_tip(&tc.chain)
        .time(parent_time - 601)
        .build();
    assert_eq!(
        rejection(&mut tc, warped.clone()),
        ValidationError::TimeWarp {
            time: parent_time - 601,
            parent_time,
            min: parent_time - 600,
        }
    );
    assert!(tc.chain.entry(&warped.hash()).unwrap().status.is_invalid());
    // Exactly 600 s before is the bound and is accepted.
    let ok = BlockBuilder::on_tip(&tc.chain)
        .time(parent_time - 600)
        .build();
    tc.connect(ok);
}

#[test]
fn the_attack_pattern_future_window_end_then_early_start_is_rejected() {
    // The attacker dates the window's last block 2 h ahead (inflating the measured span) and
    // the next window's first block back near the median time past.
    let p = retargeting();
    let mut tc = window_end_at(p, |t14| t14 + 7_200);
    let mtp = tc.chain.next_block_context().median_time_past;
    let early = BlockBuilder::on_tip(&tc.chain).time(mtp + 1).build();
    assert!(matches!(
        rejection(&mut tc, early),
        ValidationError::TimeWarp { time, .. } if time == mtp + 1
    ));
}

#[test]
fn a_template_at_a_window_start_respects_the_bound_when_the_clock_is_behind() {
    // The parent (last block of the window) is dated an hour ahead of the miner's clock;
    // the template must not use the clock (more than 600 s before the parent).
    let p = retargeting();
    let mut tc = window_end_at(p, |t14| t14 + 3_600);
    let parent_time = tc.chain.tip().header.time;
    let clock = (parent_time - 3_600) as u64;
    assert!(clock as u32 > tc.chain.next_block_context().median_time_past);
    let pool = Mempool::new(1 << 20);
    let mut template = miner::build_template(&tc.chain, &pool, pubkey(&miner_key()), clock, 0);
    assert_eq!(template.height, 16);
    assert_eq!(template.block.header.time, parent_time - 600);
    mine(&mut template.block);
    tc.connect(template.block);
}

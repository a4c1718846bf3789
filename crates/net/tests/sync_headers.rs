//! The header chain against a real chainstate: batches of headers build it, every header
//! rule rejects with its own error and keeps nothing after the offending header, unconnected
//! messages are refused whole, the cap holds, retargeting matches the chainstate's, and
//! locators name the best chain.

mod sync_common;

use parthenon_chain::block_index::BlockStatus;
use parthenon_chain::ValidationError;
use parthenon_net::locator_heights;
use parthenon_net::message::MAX_HEADERS;
use parthenon_net::reputation::Offence;
use parthenon_net::sync::{HeaderChain, HeadersError, HeadersPresync, PeerId, PresyncOutcome};
use parthenon_primitives::pow::{check_proof_of_work, hash_to_uint, target_from_compact, PowError};
use parthenon_primitives::{Block, BlockHeader, ChainParams, ChainWork, Hash256, Network};
use sync_common::*;

/// Syncs `hc` from `server` in `getheaders` rounds of at most `batch` headers; returns the
/// number of rounds that brought headers.
fn sync_headers(
    hc: &mut HeaderChain,
    tc: &TestChain,
    server: &HeaderServer,
    batch: usize,
) -> usize {
    let mut rounds = 0;
    loop {
        let answer = server.serve(&hc.locator(&tc.chain), batch);
        if answer.is_empty() {
            return rounds;
        }
        let accepted = hc
            .accept_headers(&tc.chain, &answer, now_ms())
            .unwrap_or_else(|e| panic!("round {rounds}: {e}"));
        assert_eq!(accepted.added, answer.len(), "round {rounds}");
        assert_eq!(accepted.last, answer.last().map(BlockHeader::hash));
        rounds += 1;
    }
}

#[test]
fn headers_of_a_300_block_chain_in_batches_build_the_header_chain() {
    let tc = TestChain::new();
    let blocks = build_chain(&genesis(), 0, 300, b"a");
    let server = HeaderServer::new(&blocks);
    let mut hc = HeaderChain::new(params());

    assert_eq!(hc.locator(&tc.chain), vec![tc.chain.tip_hash()]);
    let rounds = sync_headers(&mut hc, &tc, &server, 120);
    assert_eq!(rounds, 3, "120 + 120 + 60 headers");
    assert_eq!(hc.len(), 300);

    let tip = hc.best_tip(&tc.chain);
    assert_eq!(tip.hash, blocks[299].hash());
    assert_eq!(tip.height, 300);
    let per_block = ChainWork::from_bits(params().pow_limit_bits).unwrap();
    let mut work = tc.chain.tip().chain_work;
    for _ in 0..300 {
        work = work + per_block;
    }
    assert_eq!(tip.chain_work, work);

    let expected: Vec<_> = locator_heights(300)
        .into_iter()
        .map(|h| server.hash_at(h))
        .collect();
    assert_eq!(hc.locator(&tc.chain), expected);
    assert_eq!(hc.locator_from(&tc.chain, &blocks[299].hash()), expected);
    let from_100: Vec<_> = locator_heights(100)
        .into_iter()
        .map(|h| server.hash_at(h))
        .collect();
    assert_eq!(hc.locator_from(&tc.chain, &blocks[99].hash()), from_100);

    // Sending everything again in one message adds nothing.
    let again = hc
        .accept_headers(&tc.chain, &headers(&blocks), now_ms())
        .unwrap();
    assert_eq!(
        (again.added, again.best_changed, again.full),
        (0, false, false)
    );

    let plan = hc.download_plan(&tc.chain, 128);
    assert_eq!((plan.base_height, plan.target_height), (0, 300));
    assert_eq!(plan.blocks.len(), 128);
    assert_eq!(plan.blocks[0], (1, blocks[0].hash()));
    assert_eq!(plan.blocks[127], (128, blocks[127].hash()));
}

#[test]
fn a_full_message_is_accepted_and_more_than_the_maximum_is_refused() {
    let tc = TestChain::new();
    // Headers only: the header chain never sees block bodies.
    let mut chain: Vec<BlockHeader> = Vec::with_capacity(MAX_HEADERS + 1);
    let mut prev = genesis();
    for _ in 0..=MAX_HEADERS {
        let mut b = Block {
            header: BlockHeader {
                version: 1,
                prev_hash: prev.hash(),
                merkle_root: Hash256::ZERO,
                time: prev.time + 1,
                bits: params().pow_limit_bits,
                nonce: 0,
            },
            txs: Vec::new(),
        };
        mine(&mut b);
        prev = b.header;
        chain.push(b.header);
    }
    let mut hc = HeaderChain::new(params());
    let err = hc.accept_headers(&tc.chain, &chain, now_ms()).unwrap_err();
    assert_eq!(
        err,
        HeadersError::TooMany {
            count: MAX_HEADERS + 1,
            max: MAX_HEADERS
        }
    );
    assert_eq!(err.offence(), Some(Offence::MalformedMessage));
    assert!(hc.is_empty());

    let accepted = hc
        .accept_headers(&tc.chain, &chain[..MAX_HEADERS], now_ms())
        .unwrap();
    assert!(accepted.full && accepted.best_changed);
    assert_eq!(accepted.added, MAX_HEADERS);
    assert_eq!(hc.best_tip(&tc.chain).height, MAX_HEADERS as u32);
    // Continuing from the last header of a full answer starts at that header.
    let last = accepted.last.unwrap();
    assert_eq!(hc.locator_from(&tc.chain, &last)[0], last);
}

/// Feeds `valid` (heights 1..), then `bad` at the next height, then five children of `bad`,
/// as one message; checks the error names `bad` at its index and that only `valid` is held.
fn assert_rejected_at(bad: Block, valid: &[Block], expected: ValidationError) -> HeadersError {
    let tc = TestChain::new();
    let height = valid.len() as u32 + 1;
    let children = build_chain(&bad.header, height, 5, b"after");
    let mut message = headers(valid);
    message.push(bad.header);
    message.extend(headers(&children));
    let mut hc = HeaderChain::new(params());
    let err = hc
        .accept_headers(&tc.chain, &message, now_ms())
        .unwrap_err();
    assert_eq!(
        err,
        HeadersError::Invalid {
            index: valid.len(),
            hash: bad.hash(),
            height,
            source: expected,
        }
    );
    assert_eq!(
        hc.len(),
        valid.len(),
        "nothing from the bad header on is held"
    );
    assert!(!hc.contains(&bad.hash()));
    assert!(children.iter().all(|c| !hc.contains(&c.hash())));
    let tip = hc.best_tip(&tc.chain);
    assert_eq!(
        (tip.height, tip.hash),
        (valid.len() as u32, valid.last().unwrap().hash())
    );
    err
}

#[test]
fn a_header_with_bad_proof_of_work_is_rejected_and_nothing_after_it_is_held() {
    let valid = build_chain(&genesis(), 0, 20, b"v");
    let parent = valid.last().unwrap().header;
    let mut bad = unmined(
        &parent,
        21,
        params().pow_limit_bits,
        parent.time + 1,
        b"bad",
    );
    let target = target_from_compact(bad.header.bits).unwrap();
    while hash_to_uint(&bad.header.hash()) <= target {
        bad.header.nonce += 1;
    }
    let err = assert_rejected_at(
        bad.clone(),
        &valid,
        ValidationError::BadProofOfWork(PowError::HashAboveTarget {
            hash: bad.hash(),
            bits: bad.header.bits,
        }),
    );
    assert_eq!(err.offence(), Some(Offence::InvalidBlock));
}

#[test]
fn a_header_with_the_wrong_bits_is_rejected_and_nothing_after_it_is_held() {
    let valid = build_chain(&genesis(), 0, 20, b"v");
    let parent = valid.last().unwrap().header;
    // Harder than required, and really mined: only the difficulty rule can catch it.
    let mut bad = unmined(&parent, 21, 0x2000_ffff, parent.time + 1, b"bad");
    mine(&mut bad);
    let err = assert_rejected_at(
        bad,
        &valid,
        ValidationError::BadDifficulty {
            got: 0x2000_ffff,
            expected: params().pow_limit_bits,
        },
    );
    assert_eq!(err.offence(), Some(Offence::InvalidBlock));
}

#[test]
fn a_header_not_after_the_median_time_is_rejected_and_nothing_after_it_is_held() {
    let valid = build_chain(&genesis(), 0, 20, b"v");
    // Times are genesis + height, so the median of heights 10..=20 is genesis + 15.
    let median = params().genesis_time + 15;
    let parent = valid.last().unwrap().header;
    let mut bad = unmined(&parent, 21, params().pow_limit_bits, median, b"bad");
    mine(&mut bad);
    let err = assert_rejected_at(
        bad,
        &valid,
        ValidationError::TimeTooOld {
            time: median,
            median,
        },
    );
    assert_eq!(err.offence(), Some(Offence::InvalidBlock));
}

#[test]
fn a_header_too_far_in_the_future_is_rejected_without_blaming_the_peer() {
    let valid = build_chain(&genesis(), 0, 5, b"v");
    let max = now_secs() + params().max_future_block_time_secs as u64;
    let parent = valid.last().unwrap().header;
    let mut bad = unmined(&parent, 6, params().pow_limit_bits, max as u32 + 1, b"bad");
    mine(&mut bad);
    let err = assert_rejected_at(
        bad,
        &valid,
        ValidationError::TimeTooNew {
            time: max as u32 + 1,
            max,
        },
    );
    assert_eq!(err.offence(), None, "it may become valid later");
}

#[test]
fn unconnected_headers_are_refused_whole() {
    let tc = TestChain::new();
    let blocks = build_chain(&genesis(), 0, 30, b"a");
    let mut hc = HeaderChain::new(params());

    // Starts above anything we know.
    let err = hc
        .accept_headers(&tc.chain, &headers(&blocks[10..]), now_ms())
        .unwrap_err();
    assert_eq!(
        err,
        HeadersError::Unconnected {
            index: 0,
            hash: blocks[10].hash(),
            prev: blocks[9].hash(),
        }
    );
    assert_eq!(err.offence(), Some(Offence::UnconnectedHeaders));
    assert!(hc.is_empty());

    // A gap in the middle refuses the connected part before it too.
    let mut message = headers(&blocks[..5]);
    message.extend(headers(&blocks[6..12]));
    let err = hc
        .accept_headers(&tc.chain, &message, now_ms())
        .unwrap_err();
    assert!(
        matches!(err, HeadersError::Unconnected { index: 5, prev, .. } if prev == blocks[5].hash()),
        "{err:?}"
    );
    assert!(hc.is_empty(), "nothing of an unconnected message is held");
    assert_eq!(hc.best_tip(&tc.chain).hash, tc.chain.tip_hash());

    // Headers may link to any known header, not only the previous one of the message.
    let side = build_chain(&blocks[2].header, 3, 2, b"side");
    let mut message = headers(&blocks[..5]);
    message.extend(headers(&side));
    let accepted = hc.accept_headers(&tc.chain, &message, now_ms()).unwrap();
    assert_eq!(accepted.added, 7);
    assert_eq!(
        hc.best_tip(&tc.chain).hash,
        blocks[4].hash(),
        "first seen wins ties"
    );
}

#[test]
fn the_header_cap_holds_and_pruning_makes_room() {
    let mut tc = TestChain::new();
    let blocks = build_chain(&genesis(), 0, 80, b"a");
    let mut hc = HeaderChain::with_max_headers(params(), 50);
    let err = hc
        .accept_headers(&tc.chain, &headers(&blocks), now_ms())
        .unwrap_err();
    assert_eq!(
        err,
        HeadersError::Full {
            index: 50,
            hash: blocks[50].hash(),
            max: 50
        }
    );
    assert_eq!(
        err.offence(),
        None,
        "a full header chain is not the peer's fault"
    );
    assert_eq!(hc.len(), 50);
    assert_eq!(hc.best_tip(&tc.chain).height, 50);

    for b in &blocks[..30] {
        tc.process(b);
    }
    hc.prune(&tc.chain);
    assert_eq!(hc.len(), 20, "the 30 stored blocks' headers are dropped");
    assert_eq!(hc.best_tip(&tc.chain).hash, blocks[49].hash());
    assert_eq!(hc.download_plan(&tc.chain, 128).base_height, 30);
    let accepted = hc
        .accept_headers(&tc.chain, &headers(&blocks[50..]), now_ms())
        .unwrap();
    assert_eq!(accepted.added, 30);
    assert_eq!(hc.len(), 50);
    assert_eq!(hc.best_tip(&tc.chain).hash, blocks[79].hash());
    let expected: Vec<_> = locator_heights(80)
        .into_iter()
        .map(|h| {
            if h == 0 {
                genesis().hash()
            } else {
                blocks[h as usize - 1].hash()
            }
        })
        .collect();
    assert_eq!(
        hc.locator(&tc.chain),
        expected,
        "across the pruned part too"
    );

    for b in &blocks[30..] {
        tc.process(b);
    }
    hc.prune(&tc.chain);
    assert!(hc.is_empty());
    assert_eq!(hc.best_tip(&tc.chain).hash, tc.chain.tip_hash());
    assert!(hc.download_plan(&tc.chain, 128).blocks.is_empty());
}

/// Dev parameters with a retarget every 4 blocks meant to come 2 s apart. The builder's
/// blocks come 1 s apart, so every retarget halves the target. The limit is lowered to about
/// 2^247 (a few hundred hashes a block at first), so that scaling it stays within 256 bits.
fn retargeting_params() -> &'static ChainParams {
    let mut p = Network::Dev.params().clone();
    p.retarget = true;
    p.retarget_interval = 4;
    p.target_spacing_secs = 2;
    p.pow_limit_bits = 0x1f7f_ffff;
    p.genesis_nonce = (0..)
        .find(|&n| {
            let g = p.genesis_with_nonce(n);
            check_proof_of_work(&g.hash(), g.header.bits, p.pow_limit_bits).is_ok()
        })
        .expect("a genesis nonce");
    Box::leak(Box::new(p))
}

#[test]
fn retargets_match_the_chainstate_and_wrong_bits_at_a_boundary_are_rejected() {
    let p = retargeting_params();
    // A source chainstate builds the chain with the bits its block index requires.
    let mut source = TestChain::with_params(p);
    let mut blocks = Vec::new();
    for height in 1..=14u32 {
        let parent = source.chain.tip().clone();
        let bits = source.chain.index().next_bits(&parent, p);
        let mut b = unmined(&parent.header, height, bits, parent.header.time + 1, b"r");
        mine(&mut b);
        source
            .chain
            .process_block(b.clone(), now_secs())
            .unwrap_or_else(|e| panic!("height {height}: {e}"));
        blocks.push(b);
    }
    let bits: Vec<u32> = blocks.iter().map(|b| b.header.bits).collect();
    assert_eq!(bits[2], p.pow_limit_bits, "height 3");
    assert_ne!(bits[3], p.pow_limit_bits, "height 4 retargets");
    assert_ne!(bits[7], bits[3], "height 8 retargets again");
    assert_ne!(bits[11], bits[7], "height 12 retargets again");

    // A fresh node checks those headers with its header chain alone (parents held, not
    // indexed) and agrees at every boundary.
    let tc = TestChain::with_params(p);
    let mut hc = HeaderChain::new(p);
    let accepted = hc
        .accept_headers(&tc.chain, &headers(&blocks), now_ms())
        .unwrap();
    assert_eq!(accepted.added, 14);
    assert_eq!(hc.best_tip(&tc.chain).hash, blocks[13].hash());
    let source_work = source.chain.tip().chain_work;
    assert_eq!(hc.best_tip(&tc.chain).chain_work, source_work);

    // Height 12 keeping the bits of height 11 breaks the retarget.
    let parent = blocks[10].header;
    let mut bad = unmined(&parent, 12, parent.bits, parent.time + 1, b"bad");
    mine(&mut bad);
    let mut hc = HeaderChain::new(p);
    let mut message = headers(&blocks[..11]);
    message.push(bad.header);
    let err = hc
        .accept_headers(&tc.chain, &message, now_ms())
        .unwrap_err();
    assert_eq!(
        err,
        HeadersError::Invalid {
            index: 11,
            hash: bad.hash(),
            height: 12,
            source: ValidationError::BadDifficulty {
                got: parent.bits,
                expected: bits[11],
            },
        }
    );
    assert_eq!(hc.len(), 11);
}

#[test]
fn headers_of_blocks_known_invalid_are_refused() {
    let mut tc = TestChain::new();
    let good = build_chain(&genesis(), 0, 3, b"a");
    for b in &good {
        tc.process(b);
    }
    // A block whose coinbase commits to the wrong height: its header is fine, the block is
    // marked invalid by the chainstate.
    let parent = good[2].header;
    let mut bad = unmined(&parent, 4, params().pow_limit_bits, parent.time + 1, b"bad");
    bad.txs[0].lock_time = 99;
    bad.header.merkle_root = bad.compute_merkle_root();
    mine(&mut bad);
    assert!(tc.chain.process_block(bad.clone(), now_secs()).is_err());
    assert_eq!(
        tc.chain.entry(&bad.hash()).map(|e| e.status),
        Some(BlockStatus::Invalid)
    );

    let mut hc = HeaderChain::new(params());
    let err = hc
        .accept_headers(&tc.chain, &[bad.header], now_ms())
        .unwrap_err();
    assert_eq!(
        err,
        HeadersError::KnownInvalid {
            index: 0,
            hash: bad.hash()
        }
    );
    assert_eq!(err.offence(), Some(Offence::InvalidBlock));
    let child = build_chain(&bad.header, 4, 1, b"child");
    let err = hc
        .accept_headers(&tc.chain, &headers(&child), now_ms())
        .unwrap_err();
    assert!(
        matches!(err, HeadersError::Invalid { source: ValidationError::InvalidParent { parent }, .. } if parent == bad.hash()),
        "{err:?}"
    );
    assert!(hc.is_empty());
}

/// The pre-sync validates low-work headers with its own O(1) state (last 11 times and the
/// retarget anchors); it must agree with the chainstate at every retarget boundary, whether
/// the chain starts at genesis or at an indexed block mid-window.
#[test]
fn presync_checks_retargets_like_the_chainstate() {
    let mut q = retargeting_params().clone();
    q.min_chain_work = u128::MAX; // everything is pre-synced
    let p: &'static ChainParams = Box::leak(Box::new(q));
    let mut source = TestChain::with_params(p);
    let mut blocks = Vec::new();
    for height in 1..=14u32 {
        let parent = source.chain.tip().clone();
        let bits = source.chain.index().next_bits(&parent, p);
        let mut b = unmined(&parent.header, height, bits, parent.header.time + 1, b"r");
        mine(&mut b);
        source.chain.process_block(b.clone(), now_secs()).unwrap();
        blocks.push(b);
    }
    let presynced = |tc: &TestChain, message: &[BlockHeader]| {
        let mut hc = HeaderChain::new(p);
        let mut ps = HeadersPresync::new(p);
        let out = ps.on_headers(PeerId(1), &mut hc, &tc.chain, message, now_ms());
        assert_eq!(hc.len(), 0);
        out
    };
    let tc = TestChain::with_params(p);
    let out = presynced(&tc, &headers(&blocks)).unwrap();
    assert!(
        matches!(out, PresyncOutcome::Presyncing { counted: 14, .. }),
        "{out:?}"
    );
    // From an indexed block in the middle of a window (height 6).
    let mut tc = TestChain::with_params(p);
    for b in &blocks[..6] {
        tc.process(b);
    }
    let out = presynced(&tc, &headers(&blocks[6..])).unwrap();
    assert!(
        matches!(out, PresyncOutcome::Presyncing { counted: 8, .. }),
        "{out:?}"
    );
    // Wrong bits at the boundary (height 12) are caught.
    let parent = blocks[10].header;
    let mut bad = unmined(&parent, 12, parent.bits, parent.time + 1, b"bad");
    mine(&mut bad);
    let mut message = headers(&blocks[6..11]);
    message.push(bad.header);
    let err = presynced(&tc, &message).unwrap_err();
    assert!(
        matches!(
            err,
            HeadersError::Invalid {
                height: 12,
                source: ValidationError::BadDifficulty { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

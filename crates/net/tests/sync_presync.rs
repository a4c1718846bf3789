//! Headers pre-sync and the header store's defences, sans I/O: low-work header chains are
//! validated and counted but never stored; a chain that proves its work is fetched again and
//! stored; a redownload that does not match what was pre-synced stores nothing; forks with
//! the least work are evicted before anything on the best chain is refused; a peer's fork
//! headers are capped.

mod sync_common;

use parthenon_net::message::MAX_HEADERS;
use parthenon_net::sync::{HeaderChain, HeadersError, HeadersPresync, PeerId, PresyncOutcome};
use parthenon_primitives::pow::U256;
use parthenon_primitives::{BlockHeader, ChainParams, ChainWork, Network};
use sync_common::*;

const P1: PeerId = PeerId(1);
const P2: PeerId = PeerId(2);

/// Dev parameters with a minimum chain work of 3,000 easiest blocks, so that a chain needs
/// more than one full `headers` message to prove it.
fn min_work_params() -> &'static ChainParams {
    let mut p = Network::Dev.params().clone();
    let one = ChainWork::from_bits(p.pow_limit_bits).unwrap();
    p.min_chain_work = (one.0 * U256::from(3_000u32)).to::<u128>();
    Box::leak(Box::new(p))
}

/// A peer serving `chain` (genesis first) to `getheaders`.
fn serve(chain: &[BlockHeader], locator: &[parthenon_primitives::BlockHash]) -> Vec<BlockHeader> {
    let start = locator
        .iter()
        .find_map(|h| chain.iter().position(|c| c.hash() == *h))
        .map_or(0, |i| i + 1);
    chain
        .iter()
        .skip(start)
        .take(MAX_HEADERS)
        .copied()
        .collect()
}

#[test]
fn low_work_header_chains_are_validated_and_counted_but_never_stored() {
    let mut tc = TestChain::new();
    for b in build_chain(&genesis(), 0, 300, b"honest") {
        tc.process(&b);
    }
    let mut hc = HeaderChain::new(params());
    let mut ps = HeadersPresync::new(params());
    // The anti-DoS work: 300 - 144 = 156 blocks. Forks from genesis of 150 headers are below.
    let one = ChainWork::from_bits(params().pow_limit_bits).unwrap();
    assert_eq!(
        hc.anti_dos_work(&tc.chain),
        ChainWork(one.0 * U256::from(157u32))
    );
    for branch in 0..100u64 {
        let fork = header_only_chain(&genesis(), 150, branch);
        let out = ps
            .on_headers(P1, &mut hc, &tc.chain, &fork, now_ms())
            .unwrap();
        assert!(
            matches!(
                out,
                PresyncOutcome::Presyncing {
                    full: false,
                    counted: 150,
                    ..
                }
            ),
            "{out:?}"
        );
    }
    assert_eq!(hc.len(), 0, "nothing stored");
    assert_eq!(ps.counted_total(), 15_000);
    assert!(
        !ps.is_active(P1),
        "a chain that ended below the work is forgotten"
    );
    assert!(ps.approx_bytes() < 1_000);
    // Validated, not just counted: a header without proof of work is refused and scored.
    let mut bad = header_only_chain(&genesis(), 10, 999);
    bad[5].nonce ^= 1;
    while parthenon_primitives::pow::check_proof_of_work(
        &bad[5].hash(),
        bad[5].bits,
        params().pow_limit_bits,
    )
    .is_ok()
    {
        bad[5].nonce += 1;
    }
    let err = ps
        .on_headers(P1, &mut hc, &tc.chain, &bad, now_ms())
        .unwrap_err();
    assert!(err.offence().is_some(), "{err}");
    // A fork within a day of the tip is stored at once (it may win a race).
    let near = header_only_chain(
        &tc.chain
            .entry(&tc.chain.hash_at(200).unwrap())
            .unwrap()
            .header,
        3,
        7,
    );
    let out = ps
        .on_headers(P2, &mut hc, &tc.chain, &near, now_ms())
        .unwrap();
    assert!(
        matches!(out, PresyncOutcome::Stored(a) if a.added == 3),
        "{out:?}"
    );
}

#[test]
fn a_chain_that_proves_its_work_is_fetched_again_and_stored() {
    let params = min_work_params();
    let tc = TestChain::with_params(params);
    let mut hc = HeaderChain::new(params);
    let mut ps = HeadersPresync::new(params);
    let mut chain = vec![genesis()];
    chain.extend(header_only_chain(&genesis(), 4_500, 1));

    // Round 1: 2,000 headers, 2,000 blocks of work < 3,000: pre-synced.
    let msg = serve(&chain, &[genesis().hash()]);
    let out = ps
        .on_headers(P1, &mut hc, &tc.chain, &msg, now_ms())
        .unwrap();
    let PresyncOutcome::Presyncing {
        last,
        fork,
        full: true,
        counted: 2_000,
    } = out
    else {
        panic!("{out:?}");
    };
    assert_eq!(hc.len(), 0);
    // Round 2: the work is proven: fetch again from the fork point.
    let msg = serve(&chain, &[last, fork]);
    let out = ps
        .on_headers(P1, &mut hc, &tc.chain, &msg, now_ms())
        .unwrap();
    assert_eq!(
        out,
        PresyncOutcome::Redownload {
            fork: genesis().hash()
        }
    );
    assert_eq!(hc.len(), 0, "still nothing stored");
    // Redownload: buffered until the redownloaded headers prove the work themselves.
    let msg = serve(&chain, &[genesis().hash()]);
    let out = ps
        .on_headers(P1, &mut hc, &tc.chain, &msg, now_ms())
        .unwrap();
    let PresyncOutcome::Buffering { last, fork } = out else {
        panic!("{out:?}");
    };
    assert_eq!((hc.len(), ps.buffered()), (0, 2_000));
    let msg = serve(&chain, &[last, fork]);
    let out = ps
        .on_headers(P1, &mut hc, &tc.chain, &msg, now_ms())
        .unwrap();
    let PresyncOutcome::Stored(acc) = out else {
        panic!("{out:?}");
    };
    assert!(acc.full && acc.added == 4_000 && acc.best_changed);
    assert_eq!((hc.len(), ps.buffered()), (4_000, 0));
    // The rest arrives the ordinary way.
    let msg = serve(&chain, &hc.locator_from(&tc.chain, &acc.last.unwrap()));
    let out = ps
        .on_headers(P1, &mut hc, &tc.chain, &msg, now_ms())
        .unwrap();
    assert!(matches!(out, PresyncOutcome::Stored(a) if a.added == 500));
    assert_eq!(hc.best_tip(&tc.chain).height, 4_500);
}

#[test]
fn a_redownload_that_differs_from_the_presync_stores_nothing() {
    let params = min_work_params();
    let tc = TestChain::with_params(params);
    let mut hc = HeaderChain::new(params);
    let mut ps = HeadersPresync::new(params);
    let mut real = vec![genesis()];
    real.extend(header_only_chain(&genesis(), 4_000, 1));
    // The peer pre-syncs a chain with enough work (say, the honest one it relays)...
    let msg = serve(&real, &[genesis().hash()]);
    let PresyncOutcome::Presyncing { last, fork, .. } = ps
        .on_headers(P1, &mut hc, &tc.chain, &msg, now_ms())
        .unwrap()
    else {
        panic!("presync");
    };
    let out = ps
        .on_headers(
            P1,
            &mut hc,
            &tc.chain,
            &serve(&real, &[last, fork]),
            now_ms(),
        )
        .unwrap();
    assert!(matches!(out, PresyncOutcome::Redownload { .. }));
    // ...then serves its own, shorter chain: it ends short of the work.
    let fake = header_only_chain(&genesis(), 2_900, 2);
    let out = ps
        .on_headers(P1, &mut hc, &tc.chain, &fake[..2_000], now_ms())
        .unwrap();
    assert!(matches!(out, PresyncOutcome::Buffering { .. }));
    let out = ps
        .on_headers(P1, &mut hc, &tc.chain, &fake[2_000..], now_ms())
        .unwrap();
    assert_eq!(out, PresyncOutcome::RedownloadFailed);
    assert_eq!((hc.len(), ps.buffered()), (0, 0));

    // A redownload longer than what was pre-synced is cut off as well.
    let msg = serve(&real, &[genesis().hash()]);
    let PresyncOutcome::Presyncing { last, fork, .. } = ps
        .on_headers(P2, &mut hc, &tc.chain, &msg, now_ms())
        .unwrap()
    else {
        panic!("presync");
    };
    ps.on_headers(
        P2,
        &mut hc,
        &tc.chain,
        &serve(&real, &[last, fork]),
        now_ms(),
    )
    .unwrap();
    ps.set_max_buffered(1_000);
    let out = ps
        .on_headers(
            P2,
            &mut hc,
            &tc.chain,
            &serve(&real, &[genesis().hash()]),
            now_ms(),
        )
        .unwrap();
    assert_eq!(out, PresyncOutcome::RedownloadFailed, "over the buffer cap");
    assert_eq!((hc.len(), ps.buffered()), (0, 0));
}

#[test]
fn the_least_work_forks_are_evicted_before_the_best_chain_is_refused() {
    let tc = TestChain::new();
    let mut hc = HeaderChain::with_max_headers(params(), 100);
    let best = header_only_chain(&genesis(), 70, 1);
    hc.accept_headers(&tc.chain, &best[..60], now_ms()).unwrap();
    let fork_a = header_only_chain(&genesis(), 15, 2);
    let fork_b = header_only_chain(&best[9], 25, 3);
    hc.accept_headers(&tc.chain, &fork_a, now_ms()).unwrap();
    hc.accept_headers(&tc.chain, &fork_b, now_ms()).unwrap();
    assert_eq!(hc.len(), 100);
    // The store is full; the best chain grows: fork A (least work) goes first.
    let acc = hc.accept_headers(&tc.chain, &best[60..], now_ms()).unwrap();
    assert_eq!(acc.added, 10);
    assert_eq!(hc.evicted(), 15);
    assert!(fork_a.iter().all(|h| !hc.contains(&h.hash())));
    assert!(
        fork_b.iter().all(|h| hc.contains(&h.hash())),
        "fork B has more work"
    );
    assert!(best.iter().all(|h| hc.contains(&h.hash())));
    // Only the best chain left and full: refused, not scored.
    let mut hc = HeaderChain::with_max_headers(params(), 50);
    hc.accept_headers(&tc.chain, &best[..50], now_ms()).unwrap();
    let err = hc
        .accept_headers(&tc.chain, &best[50..], now_ms())
        .unwrap_err();
    assert!(matches!(err, HeadersError::Full { .. }) && err.offence().is_none());
}

#[test]
fn a_peer_may_add_only_so_many_fork_headers() {
    let tc = TestChain::new();
    let mut hc = HeaderChain::new(params());
    hc.set_max_fork_headers_per_peer(5);
    let best = header_only_chain(&genesis(), 20, 1);
    hc.accept_headers_from(Some(P1), &tc.chain, &best, now_ms())
        .unwrap();
    assert_eq!(hc.fork_headers_of(P1), 0, "the best chain costs no budget");
    let fork = header_only_chain(&genesis(), 10, 2);
    let err = hc
        .accept_headers_from(Some(P2), &tc.chain, &fork, now_ms())
        .unwrap_err();
    assert!(
        matches!(err, HeadersError::PeerBudget { index: 5, .. }),
        "{err}"
    );
    assert_eq!(hc.fork_headers_of(P2), 5);
    assert!(err.offence().is_none());
    // Another peer has its own budget.
    hc.accept_headers_from(Some(P1), &tc.chain, &fork[5..], now_ms())
        .unwrap();
}

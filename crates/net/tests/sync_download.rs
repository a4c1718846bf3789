//! The block downloader driving a real chainstate: blocks spread over peers within the
//! per-peer limit and the window, delivered in random order, reach the header tip; stalling
//! peers lose their requests and are reported; departed peers' requests go back to the queue;
//! the most-work header branch is followed, also after a block of the best branch turns out
//! invalid.

mod sync_common;

use parthenon_chain::orphans::DEFAULT_MAX_ORPHANS;
use parthenon_chain::BlockDisposition;
use parthenon_net::sync::{
    BlockDownloader, DownloadConfig, DownloadConfigError, DownloadPlan, HeaderChain, PeerId,
    SyncProgress, DEFAULT_STALL_TIMEOUT_MS,
};
use parthenon_primitives::{Block, BlockHash, Hash256};
use std::collections::{BTreeMap, HashMap, HashSet};
use sync_common::*;

const P1: PeerId = PeerId(1);
const P2: PeerId = PeerId(2);
const P3: PeerId = PeerId(3);
const P4: PeerId = PeerId(4);

/// A node syncing from simulated peers: each peer answers the requests it was given, a few
/// per step and in random order, unless it is silent.
struct Sim {
    tc: TestChain,
    hc: HeaderChain,
    dl: BlockDownloader,
    blocks: HashMap<BlockHash, Block>,
    queues: BTreeMap<PeerId, Vec<BlockHash>>,
    silent: HashSet<PeerId>,
    now: u64,
    rng: Rng,
    progress: SyncProgress,
    /// Every block ever requested, with the peers asked.
    requested: HashMap<BlockHash, Vec<PeerId>>,
    /// Who delivered each connected block.
    delivered_by: HashMap<BlockHash, PeerId>,
    most_in_flight_per_peer: usize,
    rejected: usize,
}

impl Sim {
    /// A fresh node whose header chain has learnt `header_batches` in order.
    fn new(blocks: &[&[Block]], seed: u64) -> Self {
        let tc = TestChain::new();
        let hc = HeaderChain::new(params());
        let dl = BlockDownloader::new(DownloadConfig::default(), DEFAULT_MAX_ORPHANS).unwrap();
        let mut sim = Sim {
            tc,
            hc,
            dl,
            blocks: HashMap::new(),
            queues: BTreeMap::new(),
            silent: HashSet::new(),
            now: 1_000,
            rng: Rng::new(seed),
            progress: SyncProgress::default(),
            requested: HashMap::new(),
            delivered_by: HashMap::new(),
            most_in_flight_per_peer: 0,
            rejected: 0,
        };
        for batch in blocks {
            sim.learn(batch);
        }
        sim
    }

    /// Headers of `blocks` arrive; the peers can serve the blocks.
    fn learn(&mut self, blocks: &[Block]) {
        for b in blocks {
            self.blocks.insert(b.hash(), b.clone());
        }
        self.hc
            .accept_headers(&self.tc.chain, &headers(blocks), now_ms())
            .unwrap();
    }

    /// A fresh plan; requests it drops are cancelled at the peers.
    fn refresh(&mut self) -> Vec<(PeerId, BlockHash)> {
        let plan = self
            .hc
            .download_plan(&self.tc.chain, self.dl.config().window);
        let cancelled = self.dl.set_plan(plan);
        for (peer, hash) in &cancelled {
            let q = self.queues.get_mut(peer).expect("a peer that was asked");
            let before = q.len();
            q.retain(|h| h != hash);
            assert_eq!(q.len() + 1, before, "{hash} was queued at {peer}");
        }
        cancelled
    }

    /// The scheduler's promises hold.
    fn check_invariants(&mut self) {
        let cfg = self.dl.config();
        let base = self.dl.base_height();
        let mut total = 0;
        for &peer in self.queues.keys() {
            let held = self.dl.in_flight_from(peer);
            assert!(held.len() <= cfg.per_peer, "{peer} holds {}", held.len());
            self.most_in_flight_per_peer = self.most_in_flight_per_peer.max(held.len());
            for (height, hash) in &held {
                assert!(
                    *height > base && *height <= base + cfg.window,
                    "{hash} at {height} outside the window above {base}"
                );
            }
            total += held.len();
        }
        assert_eq!(total, self.dl.in_flight());
        let (orphans, _) = self.tc.chain.orphan_usage();
        assert!(orphans < cfg.window as usize, "{orphans} orphans");
    }

    /// Assigns requests to `ready` peers.
    fn assign(&mut self, ready: &[PeerId]) {
        for (peer, hashes) in self.dl.assign(ready, self.now) {
            assert!(ready.contains(&peer));
            assert!(!hashes.is_empty());
            for h in &hashes {
                self.requested.entry(*h).or_default().push(peer);
            }
            self.queues.entry(peer).or_default().extend(hashes);
        }
        self.check_invariants();
    }

    /// `peer` delivers `hash` now.
    fn deliver(&mut self, peer: PeerId, hash: BlockHash) {
        let holder = self.dl.received(&hash, self.now);
        assert_eq!(holder, Some(peer), "{hash} delivered by its holder");
        let block = self.blocks[&hash].clone();
        match self.tc.chain.process_block(block, now_secs()) {
            Ok(out) => {
                assert!(
                    matches!(
                        out.disposition,
                        BlockDisposition::Active
                            | BlockDisposition::Orphan
                            | BlockDisposition::SideBranch
                    ),
                    "{hash}: {:?}",
                    out.disposition
                );
                self.delivered_by.insert(hash, peer);
            }
            // The next plan moves away from an invalid branch by itself.
            Err(_) => self.rejected += 1,
        }
        self.refresh();
        self.check_invariants();
    }

    /// One step: a fresh plan, requests for the `ready` peers, then every ready peer that is
    /// not silent delivers up to `per_step` of its requests in random order; time moves on by
    /// `step_ms`.
    fn step(&mut self, ready: &[PeerId], per_step: usize, step_ms: u64) {
        self.refresh();
        self.assign(ready);
        for &peer in ready {
            if self.silent.contains(&peer) {
                continue;
            }
            for _ in 0..per_step {
                let q = self.queues.entry(peer).or_default();
                if q.is_empty() {
                    break;
                }
                let i = self.rng.below(q.len());
                let hash = q.swap_remove(i);
                self.deliver(peer, hash);
            }
        }
        let tip = self.hc.best_tip(&self.tc.chain);
        self.progress
            .record(self.now, self.tc.chain.height(), tip.height);
        self.now += step_ms;
    }

    /// Steps until the chainstate's tip is the best header (at most `max_steps`).
    fn run(&mut self, ready: &[PeerId], per_step: usize, max_steps: usize) {
        for _ in 0..max_steps {
            if self.synced() {
                return;
            }
            self.step(ready, per_step, 100);
        }
        panic!(
            "not synced after {max_steps} steps: {} / {}",
            self.tc.chain.height(),
            self.hc.best_tip(&self.tc.chain).height
        );
    }

    fn synced(&self) -> bool {
        self.hc.best_tip(&self.tc.chain).hash == self.tc.chain.tip_hash()
    }
}

#[test]
fn three_peers_download_300_blocks_within_the_window_in_random_order() {
    let blocks = build_chain(&genesis(), 0, 300, b"a");
    let mut sim = Sim::new(&[&blocks], 7);
    let peers = [P1, P2, P3];
    let mut heights_seen = Vec::new();
    for _ in 0..400 {
        if sim.synced() {
            break;
        }
        // Never more than `window` blocks ahead of the current tip (a linear chain: the
        // window's base is the tip).
        assert_eq!(sim.dl.base_height(), sim.tc.chain.height());
        sim.step(&peers, 5, 100);
        heights_seen.push(sim.tc.chain.height());
    }
    assert!(sim.synced(), "tip at {}", sim.tc.chain.height());
    assert_eq!(sim.tc.chain.tip_hash(), blocks[299].hash());
    assert_eq!(sim.tc.chain.height(), 300);
    assert_eq!(sim.tc.chain.orphan_usage().0, 0);
    assert_eq!(
        sim.most_in_flight_per_peer, 16,
        "peers were kept busy, never above 16"
    );
    for p in peers {
        assert!(
            sim.dl.delivered_by(p) >= 60,
            "{p}: {}",
            sim.dl.delivered_by(p)
        );
    }
    assert_eq!(sim.delivered_by.len(), 300);
    assert!(
        sim.requested.values().all(|asked| asked.len() == 1),
        "nothing asked twice"
    );
    assert!(
        sim.requested.len() == 300 && sim.rejected == 0,
        "{} requested",
        sim.requested.len()
    );
    // Blocks arrived out of order: the tip sometimes jumped several blocks at once.
    assert!(heights_seen.windows(2).any(|w| w[1] > w[0] + 5));

    sim.refresh();
    assert!(sim.dl.is_idle());
    assert!(sim.dl.assign(&peers, sim.now).is_empty());
    sim.hc.prune(&sim.tc.chain);
    assert!(sim.hc.is_empty());
    let line = sim.progress.to_string();
    assert!(
        line.starts_with("sync: height 300/300 (100.0%), ") && line.ends_with("ETA 0s"),
        "{line}"
    );
}

#[test]
fn a_stalling_peer_loses_its_blocks_to_the_others_and_is_reported() {
    let blocks = build_chain(&genesis(), 0, 300, b"a");
    let mut sim = Sim::new(&[&blocks], 11);
    sim.silent.insert(P2);
    let mut peers = vec![P1, P2, P3];
    sim.step(&peers, 3, 100);
    let first_asked = sim.now - 100;
    let held: Vec<BlockHash> = sim
        .dl
        .in_flight_from(P2)
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    assert_eq!(held.len(), 16);

    let mut reported = None;
    for _ in 0..200 {
        let stalled = sim.dl.stalled(sim.now, DEFAULT_STALL_TIMEOUT_MS);
        if !stalled.is_empty() {
            reported = Some((sim.now, stalled));
            break;
        }
        sim.step(&peers, 3, 100);
    }
    let (at, stalled) = reported.expect("the silent peer is reported");
    assert_eq!(stalled, vec![P2]);
    assert!(
        at > first_asked + DEFAULT_STALL_TIMEOUT_MS,
        "not before the timeout"
    );
    assert!(
        at <= first_asked + DEFAULT_STALL_TIMEOUT_MS + 100,
        "as soon as it passed"
    );
    assert!(!sim.dl.peers().contains(&P2), "forgotten");
    assert!(held.iter().all(|h| sim.dl.holder(h).is_none()));
    // The window waited on P2's blocks meanwhile: the others could only fill it.
    assert!(sim.tc.chain.height() < 20);

    // The driver disconnects it; its blocks go to the others.
    peers.retain(|p| *p != P2);
    sim.queues.remove(&P2);
    sim.assign(&peers);
    for h in &held {
        let holder = sim.dl.holder(h);
        assert!(
            holder == Some(P1) || holder == Some(P3) || sim.delivered_by.contains_key(h),
            "{h} reassigned, held by {holder:?}"
        );
    }
    sim.run(&peers, 3, 400);
    assert_eq!(sim.tc.chain.tip_hash(), blocks[299].hash());
    for h in &held {
        assert_ne!(sim.delivered_by.get(h), Some(&P2));
        assert!(sim.delivered_by.contains_key(h));
    }
}

/// Distinct fake hashes for scheduler-only tests.
fn fake(height: u32) -> BlockHash {
    let mut b = [0u8; 32];
    b[..4].copy_from_slice(&height.to_le_bytes());
    b[31] = 0xfe;
    Hash256(b)
}

fn fake_plan(base: u32, to: u32) -> DownloadPlan {
    DownloadPlan {
        base_height: base,
        target_height: to,
        blocks: (base + 1..=to).map(|h| (h, fake(h))).collect(),
    }
}

fn small(per_peer: usize, window: u32) -> BlockDownloader {
    BlockDownloader::new(DownloadConfig { per_peer, window }, DEFAULT_MAX_ORPHANS).unwrap()
}

/// When every peer stalls nobody can take the requests over, but waiting forever is worse:
/// the most overdue peer goes (the driver dials a replacement), the others keep theirs.
#[test]
fn when_every_peer_stalls_the_most_overdue_one_is_dropped() {
    let mut dl = small(4, 16);
    dl.set_plan(fake_plan(0, 100));
    assert_eq!(dl.assign(&[P1], 0), vec![(P1, (1..=4).map(fake).collect())]);
    assert!(dl
        .stalled(DEFAULT_STALL_TIMEOUT_MS, DEFAULT_STALL_TIMEOUT_MS)
        .is_empty());
    // A lone peer that stalls is dropped too: the old scheduler waited for it forever.
    assert_eq!(
        dl.stalled(DEFAULT_STALL_TIMEOUT_MS + 1, DEFAULT_STALL_TIMEOUT_MS),
        vec![P1]
    );
    assert!(dl.peers().is_empty() && dl.in_flight() == 0);

    // Two peers, both stalling: only the worse one goes.
    let mut dl = small(4, 16);
    dl.set_plan(fake_plan(0, 100));
    assert_eq!(dl.assign(&[P1], 0), vec![(P1, (1..=4).map(fake).collect())]);
    assert_eq!(
        dl.assign(&[P1, P2], 5_000),
        vec![(P2, (5..=8).map(fake).collect())]
    );
    assert_eq!(
        dl.stalled(15_001, DEFAULT_STALL_TIMEOUT_MS),
        vec![P1],
        "P1 is 5 s late, P2 1 ms"
    );
    assert_eq!(dl.peers(), vec![P2]);
    assert_eq!(dl.in_flight_from(P2).len(), 4, "P2 kept its requests");
}

/// A peer cannot keep the block the window waits on by delivering others now and then: each
/// request has its own deadline, which other deliveries do not move.
#[test]
fn a_peer_trickling_other_blocks_still_stalls_on_the_one_it_holds() {
    let mut dl = small(4, 64);
    dl.set_plan(fake_plan(0, 64));
    assert_eq!(dl.assign(&[P1, P2], 0).len(), 2);
    for h in 5..=8 {
        dl.received(&fake(h), 500);
    }
    dl.assign(&[P2], 500);
    // P1 delivers 2, 3 and 4 but never 1, the block the window waits on.
    for (h, t) in [(2, 3_000), (3, 6_000), (4, 9_000)] {
        dl.received(&fake(h), t);
        assert!(dl.stalled(t, DEFAULT_STALL_TIMEOUT_MS).is_empty());
    }
    assert!(dl.stalled(10_000, DEFAULT_STALL_TIMEOUT_MS).is_empty());
    assert_eq!(dl.stalled(10_001, DEFAULT_STALL_TIMEOUT_MS), vec![P1]);
    assert!(
        dl.holder(&fake(1)).is_none(),
        "block 1 goes back to the queue"
    );
}

#[test]
fn a_reassigned_block_gets_a_doubled_timeout() {
    let mut dl = small(4, 12);
    dl.set_plan(fake_plan(0, 12));
    let first = dl.assign(&[P1, P2, P3], 0);
    assert_eq!(first.len(), 3);
    for h in 5..=12 {
        dl.received(&fake(h), 1_000);
    }
    assert!(
        dl.stalled(10_000, 10_000).is_empty(),
        "exactly the timeout is not overdue"
    );
    assert_eq!(dl.stalled(10_001, 10_000), vec![P1]);
    assert_eq!(
        dl.assign(&[P2, P3], 10_001),
        vec![(P2, (1..=4).map(fake).collect())]
    );
    assert!(
        dl.stalled(10_001 + 20_000, 10_000).is_empty(),
        "twice the timeout now"
    );
    assert_eq!(dl.stalled(10_002 + 20_000, 10_000), vec![P2]);
    assert_eq!(
        dl.assign(&[P3], 30_002),
        vec![(P3, (1..=4).map(fake).collect())]
    );
}

#[test]
fn a_peer_steadily_serving_its_queue_is_not_stalling() {
    let mut dl = small(16, 64);
    dl.set_plan(fake_plan(0, 64));
    dl.assign(&[P1, P2], 0);
    // P1 delivers one block every 8 s: its last request waits 128 s, but it never goes
    // 10 s without delivering.
    for (i, h) in (1..=16).enumerate() {
        let t = 8_000 * (i as u64 + 1);
        assert!(dl.stalled(t, 10_000).is_empty(), "at {t}");
        dl.received(&fake(h), t);
        // P2 keeps busy too.
        dl.received(&fake(16 + h), t);
        dl.assign(&[P2], t);
    }
    assert_eq!(dl.in_flight_from(P1).len(), 0);
    assert_eq!(dl.peers(), vec![P1, P2]);
}

#[test]
fn the_block_the_window_waits_on_goes_to_the_fastest_peer() {
    let mut dl = small(4, 16);
    dl.set_plan(fake_plan(0, 40));
    assert_eq!(
        dl.assign(&[P2, P1], 0),
        vec![
            (P1, (1..=4).map(fake).collect()),
            (P2, (5..=8).map(fake).collect())
        ],
        "no measurements yet: by id"
    );
    for h in 5..=8 {
        dl.received(&fake(h), 100 * (h as u64 - 4));
    }
    for h in 1..=4 {
        dl.received(&fake(h), 3_000 + h as u64);
    }
    dl.set_plan(fake_plan(8, 40));
    assert_eq!(
        dl.assign(&[P1, P2], 3_100),
        vec![
            (P2, (9..=12).map(fake).collect()),
            (P1, (13..=16).map(fake).collect())
        ],
        "P2 is faster: it gets block 9, the one the window waits on"
    );
}

#[test]
fn a_departed_peers_requests_go_back_to_the_queue() {
    let blocks = build_chain(&genesis(), 0, 300, b"a");
    let mut sim = Sim::new(&[&blocks], 3);
    sim.refresh();
    sim.assign(&[P1, P2, P3]);
    let p1: Vec<BlockHash> = sim
        .dl
        .in_flight_from(P1)
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    assert_eq!(p1, blocks[..16].iter().map(Block::hash).collect::<Vec<_>>());
    assert_eq!(sim.dl.peer_gone(P1), p1);
    assert_eq!(sim.dl.in_flight(), 32);
    assert!(sim.dl.peer_gone(P1).is_empty(), "already gone");
    sim.queues.remove(&P1);
    // P2 and P3 are full; a new peer takes exactly P1's blocks, the window's lowest.
    let got = sim.dl.assign(&[P2, P3, P4], sim.now);
    assert_eq!(got, vec![(P4, p1.clone())]);
    sim.queues.insert(P4, p1);
    sim.run(&[P2, P3, P4], 4, 400);
    assert_eq!(sim.tc.chain.tip_hash(), blocks[299].hash());
}

#[test]
fn blocks_a_peer_does_not_have_are_asked_of_another() {
    let mut dl = small(4, 16);
    dl.set_plan(fake_plan(0, 16));
    dl.assign(&[P1], 0);
    dl.not_found(P1, &[fake(1), fake(3)]);
    assert_eq!(dl.in_flight_from(P1).len(), 2);
    assert_eq!(dl.assign(&[P1], 10), vec![(P1, vec![fake(5), fake(6)])]);
    assert_eq!(
        dl.assign(&[P1, P2], 20),
        vec![(P2, vec![fake(1), fake(3), fake(7), fake(8)])]
    );
}

#[test]
fn a_peer_that_announces_new_blocks_is_asked_again_for_those_it_lacked() {
    let mut dl = small(4, 16);
    dl.set_plan(fake_plan(0, 16));
    assert_eq!(
        dl.assign(&[P1], 0),
        vec![(P1, vec![fake(1), fake(2), fake(3), fake(4)])]
    );
    dl.not_found(P1, &[fake(1), fake(2), fake(3), fake(4)]);
    // Passed over for the blocks it lacked: only later ones are offered.
    assert_eq!(
        dl.assign(&[P1], 10),
        vec![(P1, vec![fake(5), fake(6), fake(7), fake(8)])]
    );
    dl.received(&fake(5), 11);
    assert_eq!(dl.assign(&[P1], 12), vec![(P1, vec![fake(9)])]);
    // It announces a new tip: the blocks it lacked are asked of it again, lowest first.
    dl.received(&fake(6), 13);
    dl.peer_has_new_blocks(P1);
    assert_eq!(dl.assign(&[P1], 14), vec![(P1, vec![fake(1)])]);
}

#[test]
fn the_window_must_fit_in_the_orphan_pool() {
    let cfg = DownloadConfig::default();
    assert!(cfg.window as usize <= DEFAULT_MAX_ORPHANS);
    assert_eq!(
        BlockDownloader::new(cfg, 64).unwrap_err(),
        DownloadConfigError::WindowExceedsOrphanPool {
            window: cfg.window,
            max_orphans: 64
        }
    );
    let zero = DownloadConfig { per_peer: 0, ..cfg };
    assert_eq!(
        BlockDownloader::new(zero, DEFAULT_MAX_ORPHANS).unwrap_err(),
        DownloadConfigError::ZeroPerPeer
    );
    let mut dl = small(100, 10);
    dl.set_plan(fake_plan(5, 100));
    let got = dl.assign(&[P1], 0);
    assert_eq!(
        got,
        vec![(P1, (6..=15).map(fake).collect())],
        "heights 6..=15 only"
    );
}

#[test]
fn the_downloader_follows_the_most_work_header_branch() {
    // A: 40 blocks; B: forks after A's 10th block and reaches height 70.
    let a = build_chain(&genesis(), 0, 40, b"a");
    let b = build_chain(&a[9].header, 10, 60, b"b");
    let mut b_chain: Vec<Block> = a[..10].to_vec();
    b_chain.extend(b.iter().cloned());

    // Headers of A, then of B: the plan follows B from the start.
    let mut sim = Sim::new(&[&a, &b], 5);
    assert_eq!(sim.hc.best_tip(&sim.tc.chain).hash, b[59].hash());
    let plan = sim.hc.download_plan(&sim.tc.chain, 128);
    let expected: Vec<_> = b_chain
        .iter()
        .enumerate()
        .map(|(i, blk)| (i as u32 + 1, blk.hash()))
        .collect();
    assert_eq!(plan.blocks, expected);
    sim.run(&[P1, P2], 4, 200);
    assert_eq!(sim.tc.chain.tip_hash(), b[59].hash());
    assert!(
        a[10..]
            .iter()
            .all(|blk| !sim.requested.contains_key(&blk.hash())),
        "nothing of A alone"
    );

    // A node already on A learns B: the window starts at the fork and the node reorganises.
    let mut sim = Sim::new(&[], 6);
    for blk in &a {
        sim.tc.process(blk);
    }
    sim.learn(&a);
    assert!(sim.hc.is_empty(), "A's blocks are all stored");
    sim.learn(&b);
    let plan = sim.hc.download_plan(&sim.tc.chain, 128);
    assert_eq!(plan.base_height, 10, "the fork");
    assert_eq!(plan.blocks.first(), Some(&(11, b[0].hash())));
    assert_eq!(plan.blocks.len(), 60);
    sim.run(&[P1, P2, P3], 4, 200);
    assert_eq!(sim.tc.chain.tip_hash(), b[59].hash());
    assert_eq!(sim.tc.chain.height(), 70);

    // Requests in flight on A are cancelled when B turns out better.
    let mut sim = Sim::new(&[&a], 8);
    sim.refresh();
    sim.assign(&[P1, P2, P3]);
    assert_eq!(sim.dl.in_flight(), 40);
    sim.learn(&b);
    let cancelled: HashSet<BlockHash> = sim.refresh().into_iter().map(|(_, h)| h).collect();
    let a_only: HashSet<BlockHash> = a[10..].iter().map(Block::hash).collect();
    assert_eq!(cancelled, a_only);
    assert_eq!(sim.dl.in_flight(), 10);
    sim.run(&[P1, P2, P3], 4, 200);
    assert_eq!(sim.tc.chain.tip_hash(), b[59].hash());
}

#[test]
fn an_invalid_block_on_the_best_branch_moves_the_download_to_the_next_best() {
    // A: 20 blocks whose 5th commits to the wrong height in its coinbase (its header is
    // fine); B: 15 valid blocks from genesis, less work than A.
    let mut a = build_chain(&genesis(), 0, 4, b"a");
    let parent = a[3].header;
    let mut bad = unmined(&parent, 5, params().pow_limit_bits, parent.time + 1, b"a");
    bad.txs[0].lock_time = 6;
    bad.header.merkle_root = bad.compute_merkle_root();
    mine(&mut bad);
    a.push(bad.clone());
    a.extend(build_chain(&bad.header, 5, 15, b"a"));
    let b = build_chain(&genesis(), 0, 15, b"b");

    let mut sim = Sim::new(&[&a, &b], 9);
    assert_eq!(sim.hc.best_tip(&sim.tc.chain).hash, a[19].hash());
    sim.run(&[P1, P2], 3, 200);
    assert_eq!(sim.tc.chain.tip_hash(), b[14].hash());
    assert_eq!(sim.hc.best_tip(&sim.tc.chain).hash, b[14].hash());
    assert!(sim
        .tc
        .chain
        .entry(&bad.hash())
        .is_some_and(|e| e.status.is_invalid()));
}

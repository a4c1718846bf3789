//! The tests of part 1: each draws its fault parameters from the run's RNG (swarm-style,
//! within its category), injects them into the running network, checks the safety
//! invariants during the faults, stops the faults, checks liveness and safety again, and
//! fails unless its fault demonstrably took effect.

use crate::cluster::{Cluster, NetSettings};
use crate::invariants::{check_liveness, check_safety};
use crate::pacing::{Pace, PaceStats, PacedTransport};
use parthenon_net::transport::{PeerSpec, Transport, TurmoilTransport};
use parthenon_primitives::{BlockHash, Txid};
use rand::seq::SliceRandom;
use rand::Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a scenario needs from the runner: the seed and the number of nodes.
#[derive(Debug, Clone, Copy)]
pub struct RunParams {
    /// The run's seed.
    pub seed: u64,
    /// Number of nodes.
    pub nodes: usize,
}

/// A scenario: builds its cluster with [`Cluster::new`], runs, and returns the cluster's
/// record through `out` even when it fails (so the report shows what happened).
pub type Scenario = fn(RunParams, &mut Option<crate::record::Recorder>) -> Result<(), String>;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn all(c: &Cluster<'_>) -> Vec<usize> {
    (0..c.len()).collect()
}

/// Starts the network and has everybody follow one new block, so every connection is up.
fn warm_up(c: &mut Cluster<'_>) -> Result<(), String> {
    c.run_for(ms(1_500))?;
    let i = c.random_node();
    c.mine(i)?;
    let everyone = all(c);
    c.run_until(
        "all nodes on the first block",
        Duration::from_secs(60),
        |c| c.agree(&everyone),
    )?;
    check_safety(c, &everyone, "start")
}

/// A random partition: 2 to 4 groups of random membership, at least two non-empty.
fn random_groups(c: &mut Cluster<'_>) -> Vec<usize> {
    let n = c.len();
    let g = c.rng.random_range(2..=4.min(n));
    let mut groups: Vec<usize> = (0..n).map(|_| c.rng.random_range(0..g)).collect();
    if groups.iter().all(|&x| x == groups[0]) {
        let i = c.rng.random_range(0..n);
        groups[i] = (groups[i] + 1) % g;
    }
    groups
}

/// Two sides: a random non-empty proper subset and the rest.
fn random_sides(c: &mut Cluster<'_>) -> (Vec<usize>, Vec<usize>) {
    let mut order = all(c);
    order.shuffle(&mut c.rng);
    let k = c.rng.random_range(1..c.len());
    let mut a = order[..k].to_vec();
    let mut b = order[k..].to_vec();
    a.sort_unstable();
    b.sort_unstable();
    (a, b)
}

/// `{0,2} | {1,3,4}`.
fn shape(groups: &[usize]) -> String {
    let mut labels: Vec<usize> = groups.to_vec();
    labels.sort_unstable();
    labels.dedup();
    labels
        .iter()
        .map(|l| {
            let members: Vec<String> = groups
                .iter()
                .enumerate()
                .filter(|(_, g)| *g == l)
                .map(|(i, _)| i.to_string())
                .collect();
            format!("{{{}}}", members.join(","))
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn sides_groups(n: usize, a: &[usize]) -> Vec<usize> {
    (0..n).map(|i| usize::from(!a.contains(&i))).collect()
}

/// Asserts that `block`, mined inside a partition, reached none of the nodes outside
/// `inside`: the partition really isolates.
fn assert_isolated(c: &Cluster<'_>, block: &BlockHash, inside: &[usize]) -> Result<(), String> {
    for (j, node) in c.nodes.iter().enumerate() {
        if !inside.contains(&j) && node.shared.chain.read().entry(block).is_some() {
            return Err(format!(
                "the partition leaked: node{j} knows {block}, mined across the cut"
            ));
        }
    }
    Ok(())
}

/// Whether `txid` is in `i`'s best chain above `from_height`.
fn confirmed(c: &Cluster<'_>, i: usize, txid: &Txid, from_height: u32) -> Result<bool, String> {
    let chain = c.nodes[i].shared.chain.read();
    for h in from_height..=chain.height() {
        let hash = chain.hash_at(h).ok_or("height within the chain")?;
        let block = chain
            .read_block(&hash)
            .map_err(|e| format!("read block {hash}: {e}"))?
            .ok_or_else(|| format!("block {hash} has no data"))?;
        if block.txs.iter().any(|t| t.txid() == *txid) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn finish(c: &mut Cluster<'_>) -> Result<(), String> {
    let everyone = all(c);
    check_liveness(c, &everyone, true)?;
    check_safety(c, &everyone, "after the faults")
}

/// Runs `body` on the cluster and hands its record to `out` whatever the outcome, so a
/// failing run still reports the faults it injected and the checks it made.
fn recorded(
    mut c: Cluster,
    out: &mut Option<crate::record::Recorder>,
    body: impl FnOnce(&mut Cluster) -> Result<(), String>,
) -> Result<(), String> {
    let r = body(&mut c);
    *out = Some(c.record());
    r
}

/// `network_partition`: 1 to 3 rounds of a random partition (2 to 4 groups of random
/// membership) lasting 5 to 20 s with mining and payments on every side, each healed after
/// its time, rounds possibly back to back; every round mines in two groups and checks
/// neither block crossed the cut.
pub fn network_partition(
    p: RunParams,
    out: &mut Option<crate::record::Recorder>,
) -> Result<(), String> {
    let c = Cluster::new(p.seed, p.nodes, |_| NetSettings::default())?;
    recorded(c, out, |c| {
        warm_up(c)?;
        let everyone = all(c);
        let rounds = c.rng.random_range(1..=3);
        for round in 0..rounds {
            let groups = random_groups(c);
            let cut = c.partition(&groups);
            c.rec.fault("links cut", cut);
            let t = c.now();
            let w = c.rec.open(t, "partition", shape(&groups));
            // One block in each of two groups, which must stay on its side.
            let mut labels = groups.clone();
            labels.sort_unstable();
            labels.dedup();
            let in_group = |l: usize| -> Vec<usize> {
                (0..groups.len()).filter(|&i| groups[i] == l).collect()
            };
            let (ga, gb) = (in_group(labels[0]), in_group(labels[1]));
            let ma = ga[c.rng.random_range(0..ga.len())];
            let mb = gb[c.rng.random_range(0..gb.len())];
            let ba = c.mine(ma)?.hash();
            let bb = c.mine(mb)?.hash();
            let secs = c.rng.random_range(5..=20);
            for _ in 0..secs * 2 {
                c.workload(0.1, 0.3)?;
                c.run_for(ms(500))?;
            }
            assert_isolated(c, &ba, &ga)?;
            assert_isolated(c, &bb, &gb)?;
            c.rec.fault("blocks kept apart by the partition", 2);
            check_safety(c, &everyone, &format!("partition round {round}"))?;
            c.heal_all();
            let t = c.now();
            c.rec.close(t, w);
            // Sometimes the next cut comes before the network settled.
            let pause = c.rng.random_range(0..5_000);
            c.run_for(ms(pause))?;
        }
        finish(c)?;
        if c.rec.faults_of("blocks kept apart by the partition") == 0 {
            return Err("no partition took effect".into());
        }
        Ok(())
    })
}

/// `fork_resolution`: 2 or 3 rounds of two sides mining competing branches of different
/// lengths (1 to 5 blocks; one round a deep fork, the losing branch 6 to 9 blocks), with
/// payments on both sides; after each heal every node must be on the longer branch and
/// the losing side's nodes must have reorganised away their branch.
pub fn fork_resolution(
    p: RunParams,
    out: &mut Option<crate::record::Recorder>,
) -> Result<(), String> {
    let c = Cluster::new(p.seed, p.nodes, |_| NetSettings::default())?;
    recorded(c, out, |c| {
        warm_up(c)?;
        let everyone = all(c);
        let rounds = c.rng.random_range(2..=3);
        let deep_round = c.rng.random_range(0..rounds);
        let mut deepest = 0u32;
        for round in 0..rounds {
            let (a, b) = random_sides(c);
            let groups = sides_groups(c.len(), &a);
            let cut = c.partition(&groups);
            c.rec.fault("links cut", cut);
            let (win_len, lose_len) = if round == deep_round {
                let w = c.rng.random_range(7..=10);
                (w, c.rng.random_range(6..w))
            } else {
                let w = c.rng.random_range(2..=5);
                (w, c.rng.random_range(1..w))
            };
            let a_wins = c.rng.random_bool(0.5);
            let (len_a, len_b) = if a_wins {
                (win_len, lose_len)
            } else {
                (lose_len, win_len)
            };
            let t = c.now();
            let w = c.rec.open(
                t,
                "fork",
                format!(
                    "{} mines {len_a} | {} mines {len_b}",
                    shape_of(&a),
                    shape_of(&b)
                ),
            );
            let ma = a[c.rng.random_range(0..a.len())];
            let mb = b[c.rng.random_range(0..b.len())];
            let fork_height = c.nodes[ma].height();
            for k in 0..len_a.max(len_b) {
                c.workload(0.0, 0.5)?;
                if k < len_a {
                    c.mine(ma)?;
                }
                if k < len_b {
                    c.mine(mb)?;
                }
                let pause = c.rng.random_range(100..800);
                c.run_for(ms(pause))?;
            }
            let (tip_a, tip_b) = (c.nodes[ma].tip(), c.nodes[mb].tip());
            c.run_until(
                "each side on its own branch",
                Duration::from_secs(60),
                |c| {
                    a.iter().all(|&i| c.nodes[i].tip() == tip_a)
                        && b.iter().all(|&i| c.nodes[i].tip() == tip_b)
                },
            )?;
            assert_isolated(c, &tip_a, &a)?;
            assert_isolated(c, &tip_b, &b)?;
            check_safety(c, &everyone, &format!("fork round {round}"))?;
            c.heal_all();
            let t = c.now();
            c.rec.close(t, w);
            let (winner, loser_tip, losers) = if a_wins {
                (tip_a, tip_b, b.clone())
            } else {
                (tip_b, tip_a, a.clone())
            };
            check_liveness(c, &everyone, false)?;
            // Mining may not go on during the liveness phase, so the tip is the winner's.
            for (i, node) in c.nodes.iter().enumerate() {
                let chain = node.shared.chain.read();
                if chain.tip_hash() != winner {
                    return Err(format!(
                        "node{i} ended on {} instead of the longer branch {winner}",
                        chain.tip_hash()
                    ));
                }
                if chain.is_active(&loser_tip) {
                    return Err(format!("node{i} still has the losing branch active"));
                }
            }
            c.rec.fault("reorganisations", losers.len() as u64);
            deepest = deepest.max(lose_len);
            c.rec.figure("deepest reorg (blocks)", f64::from(lose_len));
            let t = c.now();
            c.rec.event(
                t,
                format!(
                    "round {round}: fork at {fork_height}, {} nodes reorganised {lose_len} blocks",
                    losers.len()
                ),
            );
        }
        check_safety(c, &everyone, "after the forks")?;
        if deepest < 6 {
            return Err(format!(
                "the deepest reorg was {deepest} blocks, not a deep one"
            ));
        }
        Ok(())
    })
}

fn shape_of(side: &[usize]) -> String {
    let s: Vec<String> = side.iter().map(usize::to_string).collect();
    format!("{{{}}}", s.join(","))
}

/// `double_spend`: a partition into two random sides; one wallet signs two different
/// transactions spending the same coin and submits one on each side. Half the seeds mine
/// both on their sides (branches of different lengths), the other half keep them in the
/// mempools until after the heal. After the heal each spend is offered again on the other
/// side and must be refused. Afterwards exactly one of the two is in every node's best
/// chain, and the other in no mempool.
pub fn double_spend(p: RunParams, out: &mut Option<crate::record::Recorder>) -> Result<(), String> {
    let c = Cluster::new(p.seed, p.nodes, |_| NetSettings::default())?;
    recorded(c, out, |c| {
        warm_up(c)?;
        let everyone = all(c);
        let (a, b) = random_sides(c);
        let groups = sides_groups(c.len(), &a);
        let cut = c.partition(&groups);
        c.rec.fault("links cut", cut);
        let t = c.now();
        let w = c.rec.open(t, "partition", shape(&groups));
        c.run_for(ms(500))?;
        let owner = a[c.rng.random_range(0..a.len())];
        let other = b[c.rng.random_range(0..b.len())];
        let coins: Vec<_> = c.nodes[owner]
            .wallet_coins()?
            .into_iter()
            .filter(|k| k.spendable && k.amount > 100_000)
            .collect();
        let coin = coins
            .get(c.rng.random_range(0..coins.len().max(1)))
            .cloned()
            .ok_or_else(|| format!("node{owner} has no spendable coin"))?;
        let pay_a = c.nodes[a[c.rng.random_range(0..a.len())]]
            .wallet
            .public_key();
        let pay_b = c.nodes[other].wallet.public_key();
        let amount = c.rng.random_range(10_000..coin.amount / 2);
        let tx1 = c.wallet_payment(owner, &coin, pay_a, amount, 1_000)?;
        let tx2 = c.wallet_payment(owner, &coin, pay_b, amount + 1, 2_000)?;
        let (tx1_copy, tx2_copy) = (tx1.clone(), tx2.clone());
        let fork_height = c.nodes[owner].height() + 1;
        let id1 = c.submit(owner, tx1)?;
        let id2 = c.submit(other, tx2)?;
        c.rec.fault("conflicting spends submitted", 2);
        let mine_apart = c.rng.random_bool(0.5);
        let pause = c.rng.random_range(500..3_000);
        c.run_for(ms(pause))?;
        if mine_apart {
            let len_a = c.rng.random_range(1..=4);
            let mut len_b = c.rng.random_range(1..=4);
            if len_b == len_a {
                len_b += 1;
            }
            for k in 0..len_a.max(len_b) {
                if k < len_a {
                    c.mine(owner)?;
                }
                if k < len_b {
                    c.mine(other)?;
                }
                let pause = c.rng.random_range(100..600);
                c.run_for(ms(pause))?;
            }
            if !confirmed(c, owner, &id1, fork_height)? || !confirmed(c, other, &id2, fork_height)?
            {
                return Err("each side's miner did not confirm its side's spend".into());
            }
            c.rec.fault("conflicting spends confirmed on both sides", 2);
        }
        // Neither spend crossed the cut.
        for &i in &b {
            if c.nodes[i].shared.mempool.lock().contains(&id1) {
                return Err(format!(
                    "the partition leaked: node{i} has the other side's spend"
                ));
            }
        }
        check_safety(c, &everyone, "during the partition")?;
        c.heal_all();
        let t = c.now();
        c.rec.close(t, w);
        // The double spender tries again: each spend offered on the other side, where the
        // other spend is in the mempool or the chain, must be refused.
        for (i, tx) in [(other, tx1_copy), (owner, tx2_copy)] {
            if let Ok(txid) = c.submit(i, tx) {
                return Err(format!(
                    "node{i} accepted {txid}, which spends a coin its other spend already spends"
                ));
            }
            c.rec.fault("conflicting spends refused", 1);
        }
        let pause = c.rng.random_range(1_000..5_000);
        c.run_for(ms(pause))?;
        if !mine_apart {
            // Somebody mines after the heal; its mempool holds one of the two.
            let i = c.random_node();
            c.mine(i)?;
        }
        finish(c)?;
        let mut winners = std::collections::BTreeSet::new();
        for i in 0..c.len() {
            let has1 = confirmed(c, i, &id1, fork_height)?;
            let has2 = confirmed(c, i, &id2, fork_height)?;
            if has1 == has2 {
                return Err(format!(
                    "node{i}: {} of the two conflicting spends confirmed",
                    if has1 { "both" } else { "neither" }
                ));
            }
            let (won, lost) = if has1 { (id1, id2) } else { (id2, id1) };
            winners.insert(won);
            if c.nodes[i].shared.mempool.lock().contains(&lost) {
                return Err(format!(
                    "node{i} keeps the losing spend {lost} in its mempool"
                ));
            }
        }
        if winners.len() != 1 {
            return Err("the nodes confirmed different spends".into());
        }
        c.rec.checked(
            "a double spend resolves to exactly one spend everywhere",
            c.len() as u64,
        );
        Ok(())
    })
}

/// A random link failure process: every 100 ms each working link fails with probability
/// `rate` and stays down 100 ms to `max_down_ms`; payments and blocks go on meanwhile.
fn link_failures(
    c: &mut Cluster<'_>,
    secs: u64,
    rate: f64,
    max_down_ms: u64,
    p_mine: f64,
    kind: &str,
) -> Result<(), String> {
    let n = c.len();
    let mut down: Vec<(usize, usize, Duration, usize)> = Vec::new();
    let end = c.sim.elapsed() + Duration::from_secs(secs);
    while c.sim.elapsed() < end {
        let now = c.sim.elapsed();
        let t = c.now();
        down.retain(|&(a, b, until, w)| {
            if until <= now {
                c.sim
                    .repair(crate::cluster::node_name(a), crate::cluster::node_name(b));
                c.rec.close(t, w);
                false
            } else {
                true
            }
        });
        for a in 0..n {
            for b in a + 1..n {
                if down.iter().any(|&(x, y, _, _)| (x, y) == (a, b)) {
                    continue;
                }
                if c.rng.random_bool(rate) {
                    let len = ms(c.rng.random_range(100..=max_down_ms));
                    c.sim
                        .partition(crate::cluster::node_name(a), crate::cluster::node_name(b));
                    let w = c.rec.open(t, kind, format!("node{a}-node{b} for {len:?}"));
                    down.push((a, b, now + len, w));
                }
            }
        }
        c.workload(p_mine, 0.2)?;
        c.run_for(ms(100))?;
    }
    let t = c.now();
    for (a, b, _, w) in down {
        c.sim
            .repair(crate::cluster::node_name(a), crate::cluster::node_name(b));
        c.rec.close(t, w);
    }
    Ok(())
}

/// `packet_loss`: links fail at random (rate 0.5 % to 5 % per link per 100 ms, down 0.1
/// to 3 s) for 20 to 40 s while blocks and payments flow: every segment on a failed link
/// is lost. The links' failures must have broken connections.
pub fn packet_loss(p: RunParams, out: &mut Option<crate::record::Recorder>) -> Result<(), String> {
    let c = Cluster::new(p.seed, p.nodes, |_| NetSettings::default())?;
    recorded(c, out, |c| {
        warm_up(c)?;
        let everyone = all(c);
        let rate = c.rng.random_range(0.005..0.05);
        let secs = c.rng.random_range(20..=40);
        let before: u64 = c.nodes.iter().map(|n| n.disconnects()).sum();
        link_failures(c, secs, rate, 3_000, 0.05, "link_failure")?;
        let broken = c.nodes.iter().map(|n| n.disconnects()).sum::<u64>() - before;
        c.rec.fault("connections broken", broken);
        c.rec.figure("link failure rate per 100 ms", rate);
        check_safety(c, &everyone, "after the losses")?;
        finish(c)?;
        if c.rec.faults_of("link_failure") == 0 {
            return Err("no link failed".into());
        }
        Ok(())
    })
}

/// `frequent_disconnections`: for 20 to 40 s links flap (each link goes down with
/// probability 3 % every 100 ms, for 100 to 500 ms), breaking connections that the engines
/// must re-establish, while blocks and payments flow. The engines must have counted the
/// disconnects. (Whole-node restarts with turmoil's `bounce` are left out: they made runs
/// of a seed differ, see docs/chaos.md.)
pub fn frequent_disconnections(
    p: RunParams,
    out: &mut Option<crate::record::Recorder>,
) -> Result<(), String> {
    let c = Cluster::new(p.seed, p.nodes, |_| NetSettings::default())?;
    recorded(c, out, |c| {
        warm_up(c)?;
        let everyone = all(c);
        let secs = c.rng.random_range(20..=40);
        let before: u64 = c.nodes.iter().map(|n| n.disconnects()).sum();
        let end = c.sim.elapsed() + Duration::from_secs(secs);
        while c.sim.elapsed() < end {
            link_failures(c, 1, 0.03, 500, 0.05, "link_flap")?;
        }
        let dropped = c.nodes.iter().map(|n| n.disconnects()).sum::<u64>() - before;
        c.rec.fault("disconnects counted by the engines", dropped);
        check_safety(c, &everyone, "after the churn")?;
        finish(c)?;
        if dropped == 0 {
            return Err("no connection was dropped".into());
        }
        Ok(())
    })
}

/// `high_latency`: every message takes a random time between a floor of 20 to 200 ms and a
/// ceiling of 200 ms to 1.5 s, and for 20 to 40 s single links spike to 2 to 8 s for 1 to
/// 5 s at a time, while blocks and payments flow. A block's propagation to every node must
/// have taken at least the latency floor.
pub fn high_latency(p: RunParams, out: &mut Option<crate::record::Recorder>) -> Result<(), String> {
    let mut floor = Duration::ZERO;
    let mut ceiling = Duration::ZERO;
    let c = Cluster::new(p.seed, p.nodes, |rng| {
        floor = ms(rng.random_range(20..=200));
        ceiling = ms(rng.random_range(200..=1_500));
        NetSettings {
            min_latency: floor,
            max_latency: ceiling,
            ..NetSettings::default()
        }
    })?;
    recorded(c, out, |c| {
        warm_up(c)?;
        let everyone = all(c);
        // One block's propagation time under the latency.
        let i = c.random_node();
        let hash = c.mine(i)?.hash();
        let took = c.run_until("a block reached every node", Duration::from_secs(60), |c| {
            c.nodes.iter().all(|n| n.tip() == hash)
        })?;
        c.rec
            .figure("block propagation seconds", took.as_secs_f64());
        if took < floor {
            return Err(format!(
                "a block reached every node in {took:?}, under the latency floor {floor:?}"
            ));
        }
        c.rec.fault("latency floor applied", 1);
        let secs = c.rng.random_range(20..=40);
        let end = c.sim.elapsed() + Duration::from_secs(secs);
        let mut spikes: Vec<(usize, usize, Duration, usize)> = Vec::new();
        while c.sim.elapsed() < end {
            let now = c.sim.elapsed();
            let t = c.now();
            let mut k = 0;
            while k < spikes.len() {
                let (a, b, until, w) = spikes[k];
                if until <= now {
                    c.sim.set_link_max_message_latency(
                        crate::cluster::node_name(a),
                        crate::cluster::node_name(b),
                        ceiling,
                    );
                    c.rec.close(t, w);
                    spikes.remove(k);
                } else {
                    k += 1;
                }
            }
            if c.rng.random_bool(0.2) {
                let a = c.random_node();
                let b = (a + 1 + c.rng.random_range(0..c.len() - 1)) % c.len();
                let (a, b) = (a.min(b), a.max(b));
                if !spikes.iter().any(|s| (s.0, s.1) == (a, b)) {
                    let lat = ms(c.rng.random_range(2_000..=8_000));
                    let len = ms(c.rng.random_range(1_000..=5_000));
                    c.sim.set_link_max_message_latency(
                        crate::cluster::node_name(a),
                        crate::cluster::node_name(b),
                        lat,
                    );
                    let w = c.rec.open(
                        t,
                        "latency_spike",
                        format!("node{a}-node{b} {lat:?} for {len:?}"),
                    );
                    spikes.push((a, b, now + len, w));
                }
            }
            c.workload(0.05, 0.2)?;
            c.run_for(ms(500))?;
        }
        let t = c.now();
        for (a, b, _, w) in spikes {
            c.sim.set_link_max_message_latency(
                crate::cluster::node_name(a),
                crate::cluster::node_name(b),
                ceiling,
            );
            c.rec.close(t, w);
        }
        check_safety(c, &everyone, "after the spikes")?;
        finish(c)?;
        if c.rec.faults_of("latency_spike") == 0 {
            return Err("no latency spike was injected".into());
        }
        Ok(())
    })
}

/// `orphan_blocks`: one node's links get very different fixed latencies (1 ms to 1.5 s
/// each), its download scheduler is allowed 1 to 3 blocks in flight per peer, and another
/// node mines a burst of 20 to 50 blocks at once. The burst is announced to it by every
/// peer and its download is spread over them, so blocks from fast peers arrive before their
/// parents from slow ones and wait in the chainstate's orphan pool. Blocks must have been
/// held as orphans, and the node must catch up.
pub fn orphan_blocks(
    p: RunParams,
    out: &mut Option<crate::record::Recorder>,
) -> Result<(), String> {
    let c = Cluster::new(p.seed, p.nodes, |rng| NetSettings {
        per_peer: Some(rng.random_range(1..=3)),
        ..NetSettings::default()
    })?;
    recorded(c, out, |c| {
        warm_up(c)?;
        let everyone = all(c);
        let t = c.random_node();
        let others: Vec<usize> = everyone.iter().copied().filter(|&i| i != t).collect();
        let mut lat = Vec::new();
        for &j in &others {
            let l = ms(c.rng.random_range(1..=1_500));
            c.sim.set_link_latency(
                crate::cluster::node_name(t),
                crate::cluster::node_name(j),
                l,
            );
            lat.push(format!("node{j} {l:?}"));
        }
        let now = c.now();
        let w = c.rec.open(
            now,
            "uneven_latency",
            format!("node{t}: {}", lat.join(", ")),
        );
        // Let connections settle at the new latencies (pings and announcements in flight).
        c.run_for(Duration::from_secs(5))?;
        let k = c.rng.random_range(20..=50);
        let m = others[c.rng.random_range(0..others.len())];
        c.workload(0.0, 0.5)?;
        for _ in 0..k {
            c.mine(m)?;
        }
        let target = c.nodes[m].tip();
        let mut most_orphans = 0usize;
        let start = c.sim.elapsed();
        while !c.nodes.iter().all(|n| n.tip() == target) {
            if c.sim.elapsed() - start > Duration::from_secs(120) {
                return Err(format!(
                    "the burst of {k} blocks did not reach every node in 120 s; {}",
                    c.describe()
                ));
            }
            c.step()?;
            let (n, _) = c.nodes[t].shared.chain.read().orphan_usage();
            most_orphans = most_orphans.max(n);
        }
        let now = c.now();
        c.rec.close(now, w);
        // Back to an even 25 ms (turmoil cannot restore a link's latency range).
        for &j in &others {
            c.sim.set_link_latency(
                crate::cluster::node_name(t),
                crate::cluster::node_name(j),
                ms(25),
            );
        }
        c.rec
            .fault("blocks held as orphans (most at once)", most_orphans as u64);
        c.rec
            .figure("most orphan blocks held at once", most_orphans as f64);
        c.rec.event(
            now,
            format!("node{t} caught up {k} blocks, {most_orphans} orphans at most"),
        );
        finish(c)?;
        if most_orphans == 0 {
            return Err(format!(
                "node{t} caught up {k} blocks without one arriving before its parent"
            ));
        }
        Ok(())
    })
}

/// Size of the transfer `bandwidth_throttling` times: a largest block.
pub const BLOCK_BYTES: usize = parthenon_primitives::block::MAX_BLOCK_SIZE;

/// Sends `bytes` over one connection paced at `rate` bytes per second, in a two-host
/// simulation of its own; returns the simulated time from the accept to the last byte.
pub fn timed_transfer(seed: u64, bytes: usize, rate: u64) -> Result<Duration, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The link itself is fast (1 ms, a deep buffer), so the pace is the bottleneck.
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(Duration::from_secs(3_600))
        .min_message_latency(ms(1))
        .max_message_latency(ms(1))
        .tcp_capacity(1 << 16)
        .build();
    let got: Arc<parking_lot::Mutex<Option<Result<Duration, String>>>> = Arc::default();
    let g = got.clone();
    sim.host("receiver", move || {
        let g = g.clone();
        async move {
            let mut l = TurmoilTransport::new()
                .bind((std::net::Ipv4Addr::UNSPECIFIED, 9_000).into())
                .await?;
            let mut c = l.accept().await?;
            let start = tokio::time::Instant::now();
            let mut buf = vec![0u8; 1 << 16];
            let mut total = 0;
            while total < bytes {
                let n = c.stream.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                total += n;
            }
            *g.lock() = Some(if total == bytes {
                Ok(start.elapsed())
            } else {
                Err(format!("received {total} of {bytes} bytes"))
            });
            Ok(())
        }
    });
    let g = got.clone();
    sim.client("sender", async move {
        let pace = Pace {
            bytes_per_sec: rate,
            answer_delay: Duration::ZERO,
        };
        let t = PacedTransport::new(TurmoilTransport::new(), pace, Arc::default());
        let mut c = t.dial(&PeerSpec::new("receiver", 9_000)).await?;
        c.stream.write_all(&vec![0x42u8; bytes]).await?;
        c.stream.flush().await?;
        while g.lock().is_none() {
            tokio::time::sleep(ms(100)).await;
        }
        Ok(())
    });
    sim.run().map_err(|e| format!("transfer simulation: {e}"))?;
    let r = got.lock().take();
    r.unwrap_or_else(|| Err("the transfer did not finish".into()))
}

/// `bandwidth_throttling`: first a largest block's worth of bytes (4 MB) goes over one
/// connection paced at 256 kB/s to 4 MB/s, which must take the time the bandwidth implies
/// (within 5 % and half a second); then 1 to n-1 nodes send at 20 to 400 kB/s per
/// connection for 20 to 40 s of payments and blocks. Paced bytes must have been held back.
pub fn bandwidth_throttling(
    p: RunParams,
    out: &mut Option<crate::record::Recorder>,
) -> Result<(), String> {
    let c = Cluster::new(p.seed, p.nodes, |rng| {
        let mut net = NetSettings::default();
        let throttled = rng.random_range(1..p.nodes);
        let mut order: Vec<usize> = (0..p.nodes).collect();
        order.shuffle(rng);
        for &i in &order[..throttled] {
            net.pace[i] = Some(Pace {
                bytes_per_sec: rng.random_range(20_000..=400_000),
                answer_delay: Duration::ZERO,
            });
        }
        net
    })?;
    recorded(c, out, |c| {
        let rate = c.rng.random_range(256_000..=4_000_000u64);
        let took = timed_transfer(c.rng.random(), BLOCK_BYTES, rate)?;
        let expected = Duration::from_secs_f64(BLOCK_BYTES as f64 / rate as f64);
        let now = c.now();
        c.rec.event(
            now,
            format!("4 MB at {rate} B/s took {took:?}, the bandwidth implies {expected:?}"),
        );
        c.rec.figure("4 MB transfer seconds", took.as_secs_f64());
        c.rec
            .figure("4 MB expected seconds", expected.as_secs_f64());
        // The pace is kept within one timer step (a writer may run 1 ms ahead), and the
        // last segment's share of time is after its write: the transfer may end that much
        // before the bandwidth's time, never earlier.
        let last_segment = Duration::from_secs_f64(crate::pacing::SEGMENT as f64 / rate as f64);
        if took + ms(1) + last_segment < expected || took > expected.mul_f64(1.05) + ms(500) {
            return Err(format!(
                "4 MB at {rate} B/s took {took:?}, the bandwidth implies {expected:?}"
            ));
        }
        c.rec.fault("4 MB transfers paced", 1);
        warm_up(c)?;
        let everyone = all(c);
        let secs = c.rng.random_range(20..=40);
        paced_window(c, "throttle", secs, 0.6)?;
        let bytes = paced_total(c, |p| &p.bytes);
        let held = paced_total(c, |p| &p.held_us);
        c.rec.fault("bytes paced", bytes);
        c.rec
            .figure("seconds writers were held back", held as f64 / 1e6);
        check_safety(c, &everyone, "after the throttling")?;
        finish(c)?;
        if bytes == 0 || held == 0 {
            return Err("no byte was paced".into());
        }
        Ok(())
    })
}

/// Runs the workload (a block with probability 0.1, a payment with `p_tx`, every half
/// second) for `secs` seconds inside a fault window `kind` naming the paced nodes.
fn paced_window(c: &mut Cluster<'_>, kind: &str, secs: u64, p_tx: f64) -> Result<(), String> {
    let now = c.now();
    let w = c.rec.open(now, kind, throttled_names(c));
    for _ in 0..secs * 2 {
        c.workload(0.1, p_tx)?;
        c.run_for(ms(500))?;
    }
    let now = c.now();
    c.rec.close(now, w);
    Ok(())
}

/// One pacing counter summed over every node.
fn paced_total(c: &Cluster<'_>, counter: impl Fn(&PaceStats) -> &AtomicU64) -> u64 {
    c.nodes
        .iter()
        .map(|n| counter(&n.paced).load(Ordering::Relaxed))
        .sum()
}

fn throttled_names(c: &Cluster<'_>) -> String {
    c.nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.paced_setting.is_some())
        .map(|(i, n)| {
            let p = n.paced_setting.expect("filtered");
            format!("node{i} {} B/s delay {:?}", p.bytes_per_sec, p.answer_delay)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `slow_peer`: one or two nodes answer late (0.5 to 4 s after a quiet spell) and trickle
/// their bytes (500 B/s to 5 kB/s per connection) for 20 to 40 s of payments and blocks;
/// the others go on without them where they must (stall timeouts) and nobody bans them.
/// Answers must have been delayed and bytes trickled.
pub fn slow_peer(p: RunParams, out: &mut Option<crate::record::Recorder>) -> Result<(), String> {
    let c = Cluster::new(p.seed, p.nodes, |rng| {
        let mut net = NetSettings::default();
        let slow = rng.random_range(1..=2usize.min(p.nodes - 1));
        let mut order: Vec<usize> = (0..p.nodes).collect();
        order.shuffle(rng);
        for &i in &order[..slow] {
            net.pace[i] = Some(Pace {
                bytes_per_sec: rng.random_range(500..=5_000),
                answer_delay: ms(rng.random_range(500..=4_000)),
            });
        }
        net
    })?;
    recorded(c, out, |c| {
        warm_up(c)?;
        let everyone = all(c);
        let secs = c.rng.random_range(20..=40);
        paced_window(c, "slow_peer", secs, 0.4)?;
        let delayed = paced_total(c, |p| &p.delayed_answers);
        let bytes = paced_total(c, |p| &p.bytes);
        c.rec.fault("answers delayed", delayed);
        c.rec.fault("bytes trickled", bytes);
        check_safety(c, &everyone, "after the slow spell")?;
        finish(c)?;
        if delayed == 0 || bytes == 0 {
            return Err("no answer was delayed".into());
        }
        Ok(())
    })
}

/// `malicious_peer`: a hostile host (not one of the nodes) makes 10 to 25 attacks, each a
/// random behaviour of [`crate::hostile::Behaviour`] (wrong network, garbage frames,
/// invalid headers, header flood, addr flood, a forged transaction, a replayed `version`,
/// a peer that asks for blocks and never reads) against a random node, while payments and
/// blocks flow. Hostile messages must have been sent and the nodes must have closed
/// hostile connections or banned the host; the honest nodes must agree afterwards.
pub fn malicious_peer(
    p: RunParams,
    out: &mut Option<crate::record::Recorder>,
) -> Result<(), String> {
    let c = Cluster::new(p.seed, p.nodes, |_| NetSettings::default())?;
    recorded(c, out, |c| {
        warm_up(c)?;
        let everyone = all(c);
        let stats: crate::hostile::HostileStats = Arc::default();
        let rounds = c.rng.random_range(10..=25);
        let targets: Vec<String> = everyone
            .iter()
            .map(|&i| crate::cluster::node_name(i))
            .collect();
        let known: Vec<parthenon_primitives::BlockHash> = {
            let chain = c.nodes[0].shared.chain.read();
            (1..=chain.height())
                .rev()
                .take(100)
                .filter_map(|h| chain.hash_at(h))
                .collect()
        };
        let seed: u64 = c.rng.random();
        let s = stats.clone();
        c.sim.client("mallory", async move {
            crate::hostile::run(seed, targets, crate::cluster::PORT, rounds, known, s).await;
            Ok(())
        });
        let now = c.now();
        let w = c.rec.open(now, "hostile_peer", format!("{rounds} attacks"));
        let start = c.sim.elapsed();
        while !stats.lock().contains_key("finished") {
            if c.sim.elapsed() - start > Duration::from_secs(900) {
                return Err(format!(
                    "the hostile peer did not finish its {rounds} attacks"
                ));
            }
            c.workload(0.05, 0.3)?;
            c.run_for(ms(500))?;
        }
        let now = c.now();
        c.rec.close(now, w);
        let mallory = c.sim.lookup("mallory");
        let bans = c
            .nodes
            .iter()
            .filter(|n| n.banned.lock().iter().any(|s| s.contains(&mallory)))
            .count() as u64;
        let seen = stats.lock().clone();
        c.rec.event(
            now,
            format!("hostile peer: {seen:?}, banned by {bans} nodes"),
        );
        let mut hostile = 0;
        for b in crate::hostile::Behaviour::ALL {
            let n = seen.get(b.name()).copied().unwrap_or(0);
            hostile += n;
            if n > 0 {
                c.rec.fault(&format!("hostile: {}", b.name()), n);
            }
        }
        for (k, v) in &seen {
            if !crate::hostile::Behaviour::ALL.iter().any(|b| b.name() == k) && k != "finished" {
                *c.rec.workload.entry(leak_name(k)).or_default() += v;
            }
        }
        c.rec.fault("bans of the hostile peer", bans);
        check_safety(c, &everyone, "after the attacks")?;
        finish(c)?;
        let closed = seen
            .get("connections closed by the node")
            .copied()
            .unwrap_or(0)
            + seen.get("connections refused").copied().unwrap_or(0)
            + seen.get("handshakes refused").copied().unwrap_or(0);
        if hostile == 0 {
            return Err("the hostile peer sent nothing hostile".into());
        }
        if closed == 0 && bans == 0 {
            return Err(format!(
                "no node closed a hostile connection or banned the hostile peer: {seen:?}"
            ));
        }
        Ok(())
    })
}

/// The fixed names of the hostile peer's observations, as the workload map wants them.
fn leak_name(k: &str) -> &'static str {
    match k {
        "connections closed by the node" => "hostile connections closed by the node",
        "connections refused" => "hostile connections refused",
        "handshakes refused" => "hostile handshakes refused",
        "invalid transaction not requested" => "forged transactions never requested",
        "attacks" => "hostile attacks",
        _ => "hostile other",
    }
}

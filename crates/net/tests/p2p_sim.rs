//! Five engine nodes in a seeded turmoil simulation: a partition into {0, 1} and {2, 3, 4}
//! with mining on both sides, then the heal; every node must end on the most-work tip with
//! the same UTXO set. Run calm, with message latency, and with random link failures
//! (turmoil drops the segments of a failed link, so streams lose bytes and connections
//! break). The same seed gives the same run: tips per node in the same order at the same
//! simulated times.
//!
//! The seed comes from `PARTHENON_SIM_SEED` (a fixed default otherwise) and is printed when
//! a scenario fails. The test drives the simulation step by step from outside, mines
//! straight onto the chainstates between steps (each engine announces its new tip on its
//! next tick), and cuts and heals links with turmoil's `partition`/`repair`.

mod sync_common;

mod p2p_common;

use p2p_common::{mine_on, test_config, utxo_digest, NodeState};
use parthenon_chain::replay::verify_chainstate;
use parthenon_net::p2p::{self, P2pHandle};
use parthenon_net::transport::{PeerSpec, TurmoilTransport};
use parthenon_primitives::BlockHash;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use turmoil::Sim;

const PORT: u16 = 7333;
const NODES: usize = 5;
/// The two sides of the partition.
const SIDE_A: [usize; 2] = [0, 1];
const SIDE_B: [usize; 3] = [2, 3, 4];
/// Who mines on each side.
const MINER_A: usize = 0;
const MINER_B: usize = 3;
const DEFAULT_SEED: u64 = 0x0070_6172_7468;

fn seed() -> u64 {
    match std::env::var("PARTHENON_SIM_SEED") {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("PARTHENON_SIM_SEED={s:?} is not a number")),
        Err(_) => DEFAULT_SEED,
    }
}

/// Prints the seed if the scenario panics, so the run can be replayed.
struct SeedReport {
    seed: u64,
    scenario: &'static str,
}

impl Drop for SeedReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "scenario {:?} failed with seed = {} (replay: PARTHENON_SIM_SEED={})",
                self.scenario, self.seed, self.seed
            );
        }
    }
}

fn name(i: usize) -> String {
    format!("node{i}")
}

/// Network conditions of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weather {
    /// Default turmoil latency, no failures.
    Calm,
    /// Every message takes 5 to 150 ms.
    Latency,
    /// Links fail at random (and come back) from the partition until some time after the
    /// heal; the failure rate is then set back to zero.
    LinkFailures,
}

/// What a run saw: each node's tips in order, with the simulated time they appeared.
type Trace = Vec<String>;

/// The five nodes' chainstates and the simulation.
struct Cluster<'a> {
    sim: Sim<'a>,
    states: Vec<NodeState>,
    /// Each engine's handle once its host started (for diagnostics).
    handles: Vec<Arc<Mutex<Option<P2pHandle>>>>,
    last_tips: Vec<BlockHash>,
    trace: Trace,
}

impl Cluster<'_> {
    fn new(seed: u64, weather: Weather) -> Self {
        let mut builder = turmoil::Builder::new();
        builder
            .rng_seed(seed)
            .simulation_duration(Duration::from_secs(3_600));
        match weather {
            Weather::Calm => {}
            Weather::Latency => {
                builder
                    .min_message_latency(Duration::from_millis(5))
                    .max_message_latency(Duration::from_millis(150));
            }
            Weather::LinkFailures => {
                builder.repair_rate(0.05);
            }
        }
        let mut sim = builder.build();
        let states: Vec<NodeState> = (0..NODES).map(|_| NodeState::new()).collect();
        let handles: Vec<Arc<Mutex<Option<P2pHandle>>>> =
            (0..NODES).map(|_| Arc::default()).collect();
        for (i, state) in states.iter().enumerate() {
            let shared = state.shared.clone();
            let slot = handles[i].clone();
            let mut cfg = test_config(seed.wrapping_add(i as u64));
            cfg.listen = Some((Ipv4Addr::UNSPECIFIED, PORT).into());
            cfg.addnode = (0..NODES)
                .filter(|&j| j != i)
                .map(|j| PeerSpec::new(name(j), PORT))
                .collect();
            // Only the named peers: no dials from the address book.
            cfg.max_outbound = 0;
            sim.host(name(i), move || {
                let cfg = cfg.clone();
                let shared = shared.clone();
                let slot = slot.clone();
                async move {
                    let transport =
                        TurmoilTransport::new().with_connect_timeout(Duration::from_secs(2));
                    let node = p2p::start(cfg, shared, Arc::new(transport)).await?;
                    // The engine stops when every handle is gone: keep this one.
                    let handle = node.handle;
                    *slot.lock().unwrap() = Some(handle.clone());
                    let _ = node.task.await;
                    drop(handle);
                    Ok(())
                }
            });
        }
        let genesis = states[0].tip();
        Cluster {
            sim,
            states,
            handles,
            last_tips: vec![genesis; NODES],
            trace: Vec::new(),
        }
    }

    fn tip(&self, i: usize) -> BlockHash {
        self.states[i].tip()
    }

    /// Records every node whose tip changed since the last look.
    fn observe(&mut self) {
        let at = self.sim.elapsed();
        for i in 0..NODES {
            let tip = self.tip(i);
            if tip != self.last_tips[i] {
                self.last_tips[i] = tip;
                let height = self.states[i].height();
                self.trace.push(format!("{at:?} node{i} {height} {tip}"));
            }
        }
    }

    /// Advances the simulation by `d`.
    fn run_for(&mut self, d: Duration) {
        let end = self.sim.elapsed() + d;
        while self.sim.elapsed() < end {
            self.sim.step().expect("simulation step");
            self.observe();
        }
    }

    /// Steps until `cond` holds; panics with `what` after `limit` of simulated time.
    fn run_until(&mut self, what: &str, limit: Duration, cond: impl Fn(&Self) -> bool) {
        let end = self.sim.elapsed() + limit;
        loop {
            if cond(self) {
                return;
            }
            if self.sim.elapsed() >= end {
                let tips: Vec<String> = (0..NODES)
                    .map(|i| {
                        let counters = self.handles[i]
                            .lock()
                            .unwrap()
                            .as_ref()
                            .map(|h| h.counters().peer_summary());
                        format!(
                            "node{i}@{} {} peers {counters:?}",
                            self.states[i].height(),
                            self.tip(i)
                        )
                    })
                    .collect();
                panic!("not {what} after {limit:?} of simulated time; tips: {tips:#?}");
            }
            for _ in 0..10 {
                self.sim.step().expect("simulation step");
                self.observe();
            }
        }
    }

    fn all_on(&self, nodes: &[usize], tip: BlockHash) -> bool {
        nodes.iter().all(|&i| self.tip(i) == tip)
    }

    fn mine(&mut self, i: usize, n: usize) {
        let blocks = mine_on(&self.states[i].shared, n, i as u64 + 1);
        self.observe();
        let last = blocks.last().expect("mined").hash();
        assert_eq!(self.tip(i), last, "node{i} is on its own block");
    }

    fn cut(&mut self) {
        for a in SIDE_A {
            for b in SIDE_B {
                self.sim.partition(name(a), name(b));
            }
        }
    }

    fn heal(&mut self) {
        for a in SIDE_A {
            for b in SIDE_B {
                self.sim.repair(name(a), name(b));
            }
        }
    }
}

/// The partition scenario under `weather`; returns the trace.
fn partition_and_heal(seed: u64, weather: Weather) -> Trace {
    let mut c = Cluster::new(seed, weather);
    let all: Vec<usize> = (0..NODES).collect();

    // A common chain everybody follows.
    c.run_for(Duration::from_secs(1));
    c.mine(MINER_A, 5);
    let common = c.tip(MINER_A);
    c.run_until(
        "all nodes on the common chain",
        Duration::from_secs(60),
        |c| c.all_on(&all, common),
    );

    // Partition; both sides mine, side B more.
    c.cut();
    if weather == Weather::LinkFailures {
        c.sim.set_fail_rate(0.02);
    }
    for round in 0..6 {
        if round < 3 {
            c.mine(MINER_A, 1);
        }
        c.mine(MINER_B, 1);
        c.run_for(Duration::from_millis(700));
    }
    let (tip_a, tip_b) = (c.tip(MINER_A), c.tip(MINER_B));
    assert_ne!(tip_a, tip_b, "the sides diverged");
    c.run_until(
        "each side on its own miner's tip",
        Duration::from_secs(120),
        |c| c.all_on(&SIDE_A, tip_a) && c.all_on(&SIDE_B, tip_b),
    );
    let (work_a, work_b) = {
        let a = c.states[MINER_A].shared.chain.read().tip().chain_work;
        let b = c.states[MINER_B].shared.chain.read().tip().chain_work;
        (a, b)
    };
    assert!(work_b > work_a, "side B has the most work");

    // Heal: everybody converges on side B's chain.
    c.heal();
    if weather == Weather::LinkFailures {
        c.run_for(Duration::from_secs(10));
        c.sim.set_fail_rate(0.0);
    }
    c.run_until(
        "all nodes on the most-work tip",
        Duration::from_secs(300),
        |c| c.all_on(&all, tip_b),
    );

    let digest = c.states[MINER_B].utxo_digest();
    for i in 0..NODES {
        let chain = c.states[i].shared.chain.read();
        assert_eq!(
            chain.height(),
            11,
            "node{i}: 5 common blocks and 6 of side B"
        );
        assert_eq!(
            utxo_digest(&chain),
            digest,
            "node{i}: same UTXO set as node{MINER_B}"
        );
        let report = verify_chainstate(&chain).expect("replay the chain");
        assert!(
            report.is_consistent(),
            "node{i}: the UTXO set is the replay of its chain: {report:?}"
        );
    }
    let mut trace = std::mem::take(&mut c.trace);
    trace.push(format!("final {tip_b} utxo {digest}"));
    trace
}

fn run_scenario(scenario: &'static str, weather: Weather) -> Trace {
    let seed = seed();
    let _report = SeedReport { seed, scenario };
    partition_and_heal(seed, weather)
}

#[test]
fn partitioned_cluster_converges_on_most_work_chain_after_heal() {
    run_scenario("partition", Weather::Calm);
}

#[test]
fn partitioned_cluster_converges_with_message_latency() {
    run_scenario("partition with latency", Weather::Latency);
}

#[test]
fn partitioned_cluster_converges_despite_link_failures() {
    run_scenario("partition with link failures", Weather::LinkFailures);
}

#[test]
fn same_seed_gives_same_tips_in_same_order() {
    let first = run_scenario("determinism, first run", Weather::Latency);
    let second = run_scenario("determinism, second run", Weather::Latency);
    assert!(
        first.len() > NODES,
        "the trace records tip changes: {first:#?}"
    );
    assert_eq!(first, second, "two runs with the same seed");
}

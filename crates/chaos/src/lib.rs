//! The chaos suite: `parthenon chaos` and the deterministic whole-network simulation it runs.
//!
//! ARCHITECTURE.md puts `sim/` and `chaos/` on top of the node; this one crate holds both for
//! now: the simulation harness ([`cluster`]) and the tests that inject faults into it.
//!
//! A run is one test with one seed. [`cluster::Cluster`] starts `n` turmoil hosts, each
//! running the real P2P engine on a real chainstate (in-memory store) and mempool; between
//! simulation steps the driver acts for each node's operator: the chain crate's miner mines
//! on the node's tip, the node crate's wallet signs payments into its mempool. One
//! ChaCha8 RNG seeded with the run's seed drives everything random: turmoil, the engines,
//! the faults and the workload; so a seed replays exactly, and [`record::Recorder`] keeps
//! an event trace whose hash the reports show.
//!
//! - [`catalog`]: the eighteen test names; those of part 2 are "not built", never passed.
//! - [`scenarios`]: the tests (faults, their evidence, the checks).
//! - [`hostile`]: the hostile peer of `malicious_peer`.
//! - [`invariants`]: safety (checked during and after faults) and liveness (after).
//! - [`runner`]: seeds, panics caught as failures, replay commands, per-test reports.
//! - [`pacing`]: bandwidth (turmoil has none): a transport wrapper that paces bytes.
//! - [`report`]: text, JSON and HTML.
//!
//! docs/chaos.md says what each test injects and checks and what the simulation cannot
//! model.

pub mod catalog;
pub mod cluster;
pub mod hostile;
pub mod invariants;
pub mod pacing;
pub mod record;
pub mod report;
pub mod runner;
pub mod scenarios;

/// Nodes per run unless `--nodes` says otherwise.
pub const DEFAULT_NODES: usize = 5;

//! What a run records: the event trace (hashed for the determinism check), fault counts by
//! kind, fault windows and tip heights over time (for the HTML timeline), workload counts,
//! and the names of the invariants checked.

use parthenon_primitives::BlockHash;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// A stretch of simulated time during which a fault was active.
#[derive(Debug, Clone, Serialize)]
pub struct FaultWindow {
    /// The fault's kind (`partition`, `link_failure`, …).
    pub kind: String,
    /// Its shape (`{0,2} | {1,3,4}`, …).
    pub detail: String,
    /// Simulated second it began.
    pub start: f64,
    /// Simulated second it ended (`None`: still active at the end of the run).
    pub end: Option<f64>,
}

/// A node's tip height from a simulated second on.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TipPoint {
    /// Simulated second.
    pub at: f64,
    /// The node.
    pub node: usize,
    /// Its tip height from then on.
    pub height: u32,
}

/// Everything a run records.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    /// One line per event, with its simulated time.
    pub trace: Vec<String>,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Workload done (blocks mined, transactions sent), by kind.
    pub workload: BTreeMap<&'static str, u64>,
    /// Fault windows in the order they opened.
    pub windows: Vec<FaultWindow>,
    /// Tip heights over time.
    pub timeline: Vec<TipPoint>,
    /// Names of the invariants checked (each at least once).
    pub invariants: BTreeSet<&'static str>,
    /// How many invariant checks ran (all nodes, all check points).
    pub checks: u64,
    /// Figures a scenario measured (reorg depth, pacing time, …), by name.
    pub figures: BTreeMap<&'static str, f64>,
    /// Number of nodes.
    pub nodes: usize,
    /// Simulated seconds the run covered.
    pub sim_seconds: f64,
}

impl Recorder {
    /// An empty record for `nodes` nodes.
    pub fn new(nodes: usize) -> Self {
        Recorder {
            nodes,
            ..Default::default()
        }
    }

    /// Appends `text` to the trace at simulated second `at`.
    pub fn event(&mut self, at: f64, text: String) {
        self.trace.push(format!("{at:.3} {text}"));
    }

    /// Node `node`'s tip is now `hash` at `height`.
    pub fn tip(&mut self, at: f64, node: usize, height: u32, hash: &BlockHash) {
        self.timeline.push(TipPoint { at, node, height });
        self.event(at, format!("tip node{node} {height} {hash}"));
    }

    /// Counts `n` faults of `kind`.
    pub fn fault(&mut self, kind: &str, n: u64) {
        *self.faults.entry(kind.to_string()).or_default() += n;
    }

    /// How many faults of `kind` were injected.
    pub fn faults_of(&self, kind: &str) -> u64 {
        self.faults.get(kind).copied().unwrap_or(0)
    }

    /// Opens a fault window; returns its index for [`Recorder::close`].
    pub fn open(&mut self, at: f64, kind: &str, detail: String) -> usize {
        self.event(at, format!("fault {kind} begins {detail}"));
        self.fault(kind, 1);
        self.windows.push(FaultWindow {
            kind: kind.to_string(),
            detail,
            start: at,
            end: None,
        });
        self.windows.len() - 1
    }

    /// Closes fault window `idx`.
    pub fn close(&mut self, at: f64, idx: usize) {
        let w = &mut self.windows[idx];
        if w.end.is_none() {
            w.end = Some(at);
            let text = format!("fault {} ends {}", w.kind, w.detail);
            self.event(at, text);
        }
    }

    /// Closes every open window.
    pub fn close_all(&mut self, at: f64) {
        for i in 0..self.windows.len() {
            self.close(at, i);
        }
    }

    /// Notes that invariant `name` was checked (`n` node-checks).
    pub fn checked(&mut self, name: &'static str, n: u64) {
        self.invariants.insert(name);
        self.checks += n;
    }

    /// Records figure `name` as `value` (the largest value wins).
    pub fn figure(&mut self, name: &'static str, value: f64) {
        let e = self.figures.entry(name).or_insert(value);
        if value > *e {
            *e = value;
        }
    }

    /// SHA-256 of the trace (lines joined by newlines), hex.
    pub fn trace_hash(&self) -> String {
        let mut h = Sha256::new();
        for line in &self.trace {
            h.update(line.as_bytes());
            h.update(b"\n");
        }
        hex::encode(h.finalize())
    }
}

//! Runs tests over seeds and gathers their reports.

use crate::catalog::TestSpec;
use crate::invariants::NO_PANIC;
use crate::record::Recorder;
use crate::scenarios::RunParams;
use serde::Serialize;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// The command that replays `test` with `seed`.
pub fn replay_command(test: &str, seed: u64, nodes: usize) -> String {
    if nodes == crate::DEFAULT_NODES {
        format!("parthenon chaos --test {test} --seed {seed}")
    } else {
        format!("parthenon chaos --test {test} --seed {seed} --nodes {nodes}")
    }
}

/// One seed of one test.
#[derive(Debug, Clone)]
pub struct SeedRun {
    /// The seed.
    pub seed: u64,
    /// Why it failed; `None`: it passed.
    pub error: Option<String>,
    /// What it recorded (empty when the cluster could not even be built).
    pub record: Recorder,
    /// Wall-clock seconds it took.
    pub wall_seconds: f64,
}

/// Runs `spec` (which must be built) once with `seed` on `nodes` nodes. A panic anywhere in
/// the run (a node's code or the scenario) is a failure with the panic's message.
pub fn run_seed(spec: &TestSpec, seed: u64, nodes: usize) -> SeedRun {
    let started = Instant::now();
    let mut out = None;
    let result = match spec.scenario {
        None => Err(format!("{} is not built", spec.name)),
        Some(scenario) => {
            match catch_unwind(AssertUnwindSafe(|| {
                scenario(RunParams { seed, nodes }, &mut out)
            })) {
                Ok(r) => r,
                Err(panic) => Err(format!("panic: {}", panic_message(&panic))),
            }
        }
    };
    let mut record = out.unwrap_or_else(|| Recorder::new(nodes));
    if result.is_ok() {
        record.checked(NO_PANIC, nodes as u64);
    }
    SeedRun {
        seed,
        error: result.err(),
        record,
        wall_seconds: started.elapsed().as_secs_f64(),
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

/// A failed seed in the report.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The command that replays it.
    pub replay: String,
    /// What went wrong.
    pub error: String,
}

/// One test's result over all its seeds: the `--json` object.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// The test's name.
    pub name: String,
    /// Its category.
    pub category: String,
    /// `passed`, `failed`, `not built` or `skipped`.
    pub status: String,
    /// Seeds run.
    pub seeds: u64,
    /// Faults injected over all seeds, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Invariants checked.
    pub invariants: Vec<String>,
    /// Failed seeds.
    pub failures: Vec<Failure>,
    /// SHA-256 of the first seed's event trace.
    pub trace_hash: Option<String>,
    /// Simulated seconds over all seeds.
    pub sim_seconds: f64,
    /// Wall-clock seconds over all seeds.
    pub wall_seconds: f64,
}

/// A test's report plus what the text and HTML reports show beyond the JSON.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// The JSON object.
    pub report: TestReport,
    /// The first seed's record (timeline, fault windows).
    pub first: Option<Recorder>,
    /// Number of invariant checks over all seeds.
    pub checks: u64,
    /// Workload over all seeds.
    pub workload: BTreeMap<String, u64>,
    /// Largest figure of each kind over all seeds.
    pub figures: BTreeMap<String, f64>,
    /// Seeds run, first and last.
    pub seed_range: Option<(u64, u64)>,
}

/// Runs `spec` with each of `seeds`; `progress` hears about each finished seed.
pub fn run_test(
    spec: &TestSpec,
    seeds: &[u64],
    nodes: usize,
    mut progress: impl FnMut(&SeedRun),
) -> TestResult {
    let mut report = TestReport {
        name: spec.name.to_string(),
        category: spec.category.to_string(),
        status: "not built".into(),
        seeds: 0,
        faults: BTreeMap::new(),
        invariants: Vec::new(),
        failures: Vec::new(),
        trace_hash: None,
        sim_seconds: 0.0,
        wall_seconds: 0.0,
    };
    let mut result = TestResult {
        report: report.clone(),
        first: None,
        checks: 0,
        workload: BTreeMap::new(),
        figures: BTreeMap::new(),
        seed_range: None,
    };
    if !spec.is_built() {
        return result;
    }
    let mut invariants = std::collections::BTreeSet::new();
    for &seed in seeds {
        let run = run_seed(spec, seed, nodes);
        progress(&run);
        report.seeds += 1;
        for (k, v) in &run.record.faults {
            *report.faults.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &run.record.workload {
            *result.workload.entry((*k).to_string()).or_default() += v;
        }
        for (k, v) in &run.record.figures {
            let e = result.figures.entry((*k).to_string()).or_insert(*v);
            if *v > *e {
                *e = *v;
            }
        }
        invariants.extend(run.record.invariants.iter().map(|s| s.to_string()));
        result.checks += run.record.checks;
        report.sim_seconds += run.record.sim_seconds;
        report.wall_seconds += run.wall_seconds;
        if let Some(error) = &run.error {
            report.failures.push(Failure {
                seed,
                replay: replay_command(spec.name, seed, nodes),
                error: error.clone(),
            });
        }
        if result.first.is_none() {
            report.trace_hash = Some(run.record.trace_hash());
            result.first = Some(run.record);
        }
    }
    report.invariants = invariants.into_iter().collect();
    report.status = if report.seeds == 0 {
        "skipped".into()
    } else if report.failures.is_empty() {
        "passed".into()
    } else {
        "failed".into()
    };
    result.seed_range = seeds.first().zip(seeds.last()).map(|(a, b)| (*a, *b));
    result.report = report;
    result
}

//! `parthenon chaos`: runs the chaos suite (crate `parthenon-chaos`) and writes its reports.
//!
//! Every selected test runs with each seed (`--seeds N`: seeds 1 to N; `--seed S`: only S)
//! in a deterministic simulation of `--nodes` whole nodes. A failed seed is printed at once
//! with the command that replays it. The text summary goes to stdout, `--json` and `--html`
//! to files. The exit status is 0 only when every selected test passed: a test that is not
//! built yet (part 2) fails the run when selected, and none selected means all eighteen.
//! The nodes' own logs are off unless `PARTHENON_CHAOS_LOG` is set (then `RUST_LOG` filters
//! them as usual).

use anyhow::{bail, Context, Result};
use clap::Args;
use parthenon_chaos::catalog::{find, TestSpec, TESTS};
use parthenon_chaos::cluster::{MAX_NODES, MIN_NODES};
use parthenon_chaos::runner::{replay_command, run_test};
use parthenon_chaos::{report, DEFAULT_NODES};
use std::path::PathBuf;
use std::process::ExitCode;

/// `parthenon chaos` flags.
#[derive(Args, Debug)]
pub(crate) struct ChaosArgs {
    /// A test to run (repeat for several); all eighteen when none is given.
    #[arg(long = "test", value_name = "NAME")]
    tests: Vec<String>,
    /// Run seeds 1 to N of each test.
    #[arg(long, value_name = "N", default_value_t = 10, conflicts_with = "seed")]
    seeds: u64,
    /// Run only this seed (replays a reported failure).
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Simulated nodes per run.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_NODES)]
    nodes: usize,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the HTML report (timelines and table, self-contained) here.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

pub(crate) fn run(args: ChaosArgs) -> Result<ExitCode> {
    // The simulated nodes log like real ones (thousands of lines per seed); the simulation
    // runs on this thread, so a thread-local no-op subscriber silences them unless asked.
    if std::env::var_os("PARTHENON_CHAOS_LOG").is_some() {
        run_suite(args)
    } else {
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            run_suite(args)
        })
    }
}

fn run_suite(args: ChaosArgs) -> Result<ExitCode> {
    if !(MIN_NODES..=MAX_NODES).contains(&args.nodes) {
        bail!(
            "--nodes {}: runs have {MIN_NODES} to {MAX_NODES} nodes",
            args.nodes
        );
    }
    let selected: Vec<&'static TestSpec> = if args.tests.is_empty() {
        TESTS.iter().collect()
    } else {
        let mut v = Vec::new();
        for name in &args.tests {
            let Some(spec) = find(name) else {
                let names: Vec<&str> = TESTS.iter().map(|t| t.name).collect();
                bail!(
                    "no chaos test {name:?}; the tests are: {}",
                    names.join(", ")
                );
            };
            if !v.iter().any(|s: &&TestSpec| s.name == spec.name) {
                v.push(spec);
            }
        }
        v
    };
    let seeds: Vec<u64> = match args.seed {
        Some(s) => vec![s],
        None => (1..=args.seeds).collect(),
    };
    let mut results = Vec::with_capacity(selected.len());
    for spec in selected {
        if spec.is_built() {
            eprintln!("{}: {} seeds", spec.name, seeds.len());
        } else {
            eprintln!("{}: not built", spec.name);
        }
        let result = run_test(spec, &seeds, args.nodes, |run| {
            if let Some(e) = &run.error {
                eprintln!(
                    "  FAILED {} seed {}: {e}\n    replay: {}",
                    spec.name,
                    run.seed,
                    replay_command(spec.name, run.seed, args.nodes)
                );
            }
        });
        let r = &result.report;
        if spec.is_built() {
            eprintln!(
                "{}: {} ({} seeds, {} failed, {} faults injected, {} invariant checks, {:.0} s simulated, {:.1} s wall)",
                r.name,
                r.status,
                r.seeds,
                r.failures.len(),
                r.faults.values().sum::<u64>(),
                result.checks,
                r.sim_seconds,
                r.wall_seconds
            );
        }
        results.push(result);
    }
    print!("{}", report::text(&results, args.nodes));
    if let Some(path) = &args.json {
        std::fs::write(path, report::json(&results))
            .with_context(|| format!("write {}", path.display()))?;
    }
    if let Some(path) = &args.html {
        std::fs::write(path, report::html(&results, args.nodes))
            .with_context(|| format!("write {}", path.display()))?;
    }
    let not_passed: Vec<&str> = results
        .iter()
        .filter(|r| r.report.status != "passed")
        .map(|r| r.report.name.as_str())
        .collect();
    if not_passed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "exit status 1: not every selected test passed (a test that is not built is not a pass): {}",
            not_passed.join(", ")
        );
        Ok(ExitCode::FAILURE)
    }
}

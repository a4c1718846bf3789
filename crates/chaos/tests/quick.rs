//! The CI quick run: every built chaos test with a few seeds, and the determinism check.
//!
//! `PARTHENON_CHAOS_SEEDS` sets how many seeds each test runs (default 2); a failure names
//! the seed and the command that replays it.

use parthenon_chaos::catalog::{find, TESTS};
use parthenon_chaos::runner::{run_seed, run_test};
use parthenon_chaos::DEFAULT_NODES;

fn seeds() -> Vec<u64> {
    let n: u64 = std::env::var("PARTHENON_CHAOS_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    (1..=n).collect()
}

fn quick(name: &str) {
    let spec = find(name).expect("a known test");
    let result = run_test(spec, &seeds(), DEFAULT_NODES, |_| {});
    let r = &result.report;
    assert_eq!(r.seeds, seeds().len() as u64);
    assert!(r.failures.is_empty(), "{name} failed: {:#?}", r.failures);
    assert_eq!(r.status, "passed");
    assert!(
        r.faults.values().sum::<u64>() > 0,
        "{name} injected no fault: {:?}",
        r.faults
    );
    assert!(r.invariants.len() >= 6, "{name} checked {:?}", r.invariants);
}

#[test]
fn network_partition() {
    quick("network_partition");
}

#[test]
fn fork_resolution() {
    quick("fork_resolution");
}

#[test]
fn double_spend() {
    quick("double_spend");
}

#[test]
fn packet_loss() {
    quick("packet_loss");
}

#[test]
fn high_latency() {
    quick("high_latency");
}

#[test]
fn frequent_disconnections() {
    quick("frequent_disconnections");
}

#[test]
fn orphan_blocks() {
    quick("orphan_blocks");
}

#[test]
fn bandwidth_throttling() {
    quick("bandwidth_throttling");
}

#[test]
fn slow_peer() {
    quick("slow_peer");
}

#[test]
fn malicious_peer() {
    quick("malicious_peer");
}

/// The same seed gives a byte-identical event trace, for every built test.
#[test]
fn same_seed_same_trace() {
    for spec in TESTS.iter().filter(|t| t.is_built()) {
        let a = run_seed(spec, 7, DEFAULT_NODES);
        let b = run_seed(spec, 7, DEFAULT_NODES);
        assert!(
            a.record.trace.len() > 10,
            "{}: a trace is recorded",
            spec.name
        );
        if let Some(k) = (0..a.record.trace.len().max(b.record.trace.len()))
            .find(|&k| a.record.trace.get(k) != b.record.trace.get(k))
        {
            panic!(
                "{}: seed 7 twice differs at event {k}:\n{:?}\n{:?}\nafter {:?}",
                spec.name,
                a.record.trace.get(k),
                b.record.trace.get(k),
                &a.record.trace[k.saturating_sub(3)..k]
            );
        }
        assert_eq!(a.error, b.error, "{}: the same outcome", spec.name);
    }
}

/// Part 2's tests are listed and reported as not built, never as passed.
#[test]
fn unbuilt_tests_are_not_passed() {
    let unbuilt: Vec<_> = TESTS.iter().filter(|t| !t.is_built()).collect();
    assert!(!unbuilt.is_empty());
    for spec in unbuilt {
        let r = run_test(spec, &[1], DEFAULT_NODES, |_| {});
        assert_eq!(r.report.status, "not built", "{}", spec.name);
        assert_eq!(r.report.seeds, 0);
    }
    assert_eq!(TESTS.len(), 18);
}

//! The eighteen chaos tests by name: the ten of part 1 that this crate runs in the
//! simulation, and the eight of part 2 (real processes, disks and kernels) that are listed
//! as "not built" until they exist. A test without a scenario never counts as passed.

use crate::scenarios::{self, Scenario};

/// One chaos test.
#[derive(Debug, Clone, Copy)]
pub struct TestSpec {
    /// Its snake_case name (`--test NAME`).
    pub name: &'static str,
    /// Its category (`network`, `peer`, `consensus`, `resource`, `concurrency`).
    pub category: &'static str,
    /// What runs it; `None`: not built yet.
    pub scenario: Option<Scenario>,
}

impl TestSpec {
    /// Whether the test exists (has a scenario).
    pub fn is_built(&self) -> bool {
        self.scenario.is_some()
    }
}

const fn built(name: &'static str, category: &'static str, s: Scenario) -> TestSpec {
    TestSpec {
        name,
        category,
        scenario: Some(s),
    }
}

const fn not_built(name: &'static str, category: &'static str) -> TestSpec {
    TestSpec {
        name,
        category,
        scenario: None,
    }
}

/// Every test, in the seed document's order.
pub const TESTS: [TestSpec; 18] = [
    built("network_partition", "network", scenarios::network_partition),
    built("packet_loss", "network", scenarios::packet_loss),
    built("high_latency", "network", scenarios::high_latency),
    built(
        "bandwidth_throttling",
        "network",
        scenarios::bandwidth_throttling,
    ),
    built("malicious_peer", "peer", scenarios::malicious_peer),
    built("slow_peer", "peer", scenarios::slow_peer),
    built(
        "frequent_disconnections",
        "peer",
        scenarios::frequent_disconnections,
    ),
    built("fork_resolution", "consensus", scenarios::fork_resolution),
    built("orphan_blocks", "consensus", scenarios::orphan_blocks),
    built("double_spend", "consensus", scenarios::double_spend),
    not_built("disk_full", "resource"),
    not_built("corrupted_database", "resource"),
    not_built("slow_io", "resource"),
    not_built("memory_pressure", "resource"),
    not_built("cpu_starvation", "resource"),
    not_built("fd_exhaustion", "resource"),
    not_built("race_conditions", "concurrency"),
    not_built("deadlock_detection", "concurrency"),
];

/// The test called `name`.
pub fn find(name: &str) -> Option<&'static TestSpec> {
    TESTS.iter().find(|t| t.name == name)
}

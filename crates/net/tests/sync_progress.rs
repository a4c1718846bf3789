//! The sync progress line: speed over a sliding window, ETA, and its formatting.

use parthenon_net::sync::{SyncProgress, DEFAULT_PROGRESS_WINDOW_MS};

#[test]
fn the_progress_line_shows_height_speed_and_eta() {
    let mut p = SyncProgress::default();
    assert_eq!(
        p.to_string(),
        "sync: height 0/0 (100.0%), 0.0 blocks/s, ETA 0s"
    );
    p.record(0, 381, 5_000);
    assert_eq!(p.blocks_per_sec(), None, "one sample measures nothing");
    assert_eq!(p.eta_secs(), None);
    assert_eq!(
        p.to_string(),
        "sync: height 381/5000 (7.6%), 0.0 blocks/s, ETA unknown"
    );
    p.record(10_000, 1_234, 5_000);
    assert_eq!(p.blocks_per_sec(), Some(85.3));
    assert_eq!(p.eta_secs(), Some(44), "3,766 blocks at 85.3 a second");
    assert_eq!(
        p.to_string(),
        "sync: height 1234/5000 (24.7%), 85.3 blocks/s, ETA 44s"
    );
}

#[test]
fn the_speed_is_measured_over_the_sliding_window_only() {
    let mut p = SyncProgress::new(DEFAULT_PROGRESS_WINDOW_MS);
    // 100 blocks/s for a minute, then 10 blocks/s for a minute.
    let mut height = 0;
    for s in 0..=60u64 {
        p.record(s * 1000, height, 100_000);
        height += 100;
    }
    assert_eq!(p.blocks_per_sec(), Some(100.0));
    height -= 100;
    for s in 61..=120u64 {
        height += 10;
        p.record(s * 1000, height, 100_000);
    }
    assert_eq!(
        p.blocks_per_sec(),
        Some(10.0),
        "the fast minute is out of the window"
    );
    assert_eq!(p.height(), 6_600);
    // 93,400 blocks at 10 a second: 2 h 35 m 40 s.
    assert_eq!(p.eta_secs(), Some(9_340));
    assert!(p.to_string().ends_with("10.0 blocks/s, ETA 2h35m"), "{p}");
}

#[test]
fn frequent_samples_are_merged_and_minutes_are_shown() {
    let mut p = SyncProgress::new(64_000);
    // A sample every millisecond: merged into one per second at most.
    for ms in 0..=10_000u64 {
        p.record(ms, (ms / 10) as u32, 7_000);
    }
    assert_eq!(p.blocks_per_sec(), Some(100.0));
    assert_eq!(p.eta_secs(), Some(60));
    assert!(p.to_string().ends_with("100.0 blocks/s, ETA 1m00s"), "{p}");
    assert!((p.fraction() - 1_000.0 / 7_000.0).abs() < 1e-12);
}

#[test]
fn a_reorganisation_lowering_the_height_never_gives_a_negative_speed() {
    let mut p = SyncProgress::default();
    p.record(0, 500, 600);
    p.record(1_000, 490, 600);
    assert_eq!(p.blocks_per_sec(), Some(0.0));
    assert_eq!(p.eta_secs(), None);
    p.record(2_000, 600, 600);
    assert_eq!(p.eta_secs(), Some(0));
    assert_eq!(p.fraction(), 1.0);
}

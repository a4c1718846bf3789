//! Sync progress: height against the best header, speed over a sliding window, and an ETA.

use std::collections::VecDeque;
use std::fmt;

/// Default span of the speed measurement (30 s).
pub const DEFAULT_PROGRESS_WINDOW_MS: u64 = 30_000;
/// Most samples kept; samples closer together than `window / MAX_SAMPLES` are merged.
pub const MAX_SAMPLES: usize = 64;

/// Sync progress from samples of `(now_ms, height)` and the best header height.
///
/// The speed is the height gained between the oldest and newest samples of the last
/// `window_ms` (none with fewer than two samples or no time between them; never negative,
/// since a reorganisation may lower the height); the ETA is the blocks left at that speed.
/// Its [`Display`](fmt::Display) is one progress line:
/// `sync: height 1234/5000 (24.7%), 85.3 blocks/s, ETA 44s`.
#[derive(Debug, Clone)]
pub struct SyncProgress {
    window_ms: u64,
    samples: VecDeque<(u64, u32)>,
    target_height: u32,
}

impl Default for SyncProgress {
    fn default() -> Self {
        Self::new(DEFAULT_PROGRESS_WINDOW_MS)
    }
}

impl SyncProgress {
    /// No samples yet; speed measured over the last `window_ms` (at least 1 ms).
    pub fn new(window_ms: u64) -> Self {
        SyncProgress {
            window_ms: window_ms.max(1),
            samples: VecDeque::with_capacity(MAX_SAMPLES + 1),
            target_height: 0,
        }
    }

    /// Records that the chain was at `height` at `now_ms` (a monotonic clock) with the best
    /// header at `target_height`.
    pub fn record(&mut self, now_ms: u64, height: u32, target_height: u32) {
        self.target_height = target_height;
        let spacing = self.window_ms / MAX_SAMPLES as u64;
        let several = self.samples.len() > 1;
        match self.samples.back_mut() {
            // Too close to the previous sample: move it instead of adding one (the first
            // sample of the window stays put).
            Some(last) if several && now_ms.saturating_sub(last.0) < spacing => {
                *last = (now_ms.max(last.0), height);
            }
            _ => self.samples.push_back((now_ms, height)),
        }
        let newest = self.samples.back().map_or(now_ms, |s| s.0);
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|s| newest.saturating_sub(s.0) > self.window_ms)
        {
            self.samples.pop_front();
        }
        while self.samples.len() > MAX_SAMPLES {
            self.samples.pop_front();
        }
    }

    /// The latest recorded height.
    pub fn height(&self) -> u32 {
        self.samples.back().map_or(0, |s| s.1)
    }

    /// The latest best header height.
    pub fn target_height(&self) -> u32 {
        self.target_height
    }

    /// Share of the best header chain reached, from 0.0 to 1.0 (1.0 at or past the target).
    pub fn fraction(&self) -> f64 {
        if self.target_height == 0 || self.height() >= self.target_height {
            return 1.0;
        }
        self.height() as f64 / self.target_height as f64
    }

    /// Blocks per second over the window.
    pub fn blocks_per_sec(&self) -> Option<f64> {
        let first = self.samples.front()?;
        let last = self.samples.back()?;
        let ms = last.0.checked_sub(first.0).filter(|ms| *ms > 0)?;
        let gained = last.1.saturating_sub(first.1);
        Some(gained as f64 * 1000.0 / ms as f64)
    }

    /// Seconds to reach the target at the current speed: 0 when there, `None` when the speed
    /// is unknown or zero.
    pub fn eta_secs(&self) -> Option<u64> {
        let left = self.target_height.saturating_sub(self.height());
        if left == 0 {
            return Some(0);
        }
        let rate = self.blocks_per_sec().filter(|r| *r > 0.0)?;
        Some((left as f64 / rate).round() as u64)
    }
}

/// `44s`, `12m05s`, `3h07m`.
fn fmt_duration(secs: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if secs < 60 {
        write!(f, "{secs}s")
    } else if secs < 3600 {
        write!(f, "{}m{:02}s", secs / 60, secs % 60)
    } else {
        write!(f, "{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

impl fmt::Display for SyncProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sync: height {}/{} ({:.1}%), {:.1} blocks/s, ETA ",
            self.height(),
            self.target_height,
            self.fraction() * 100.0,
            self.blocks_per_sec().unwrap_or(0.0),
        )?;
        match self.eta_secs() {
            Some(secs) => fmt_duration(secs, f),
            None => f.write_str("unknown"),
        }
    }
}

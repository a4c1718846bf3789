//! The watcher task: file-system events on the pair's directories, debounced, plus a periodic
//! check.

use super::Shared;
use notify::event::AccessKind;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Runs until aborted (when the rotator goes): waits for an event or the periodic tick,
/// checks the files, and keeps the directory watches in line with where the symlinks point.
pub(super) async fn run(shared: Arc<Shared>, check_interval: Duration, debounce: Duration) {
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // The receiver goes only when this task ends, and the watcher with it.
        let _ = events_tx.send(event);
    });
    let (mut watcher, mut events_rx) = match watcher {
        Ok(watcher) => (Some(watcher), Some(events_rx)),
        Err(error) => {
            tracing::warn!(
                %error,
                every = ?check_interval,
                "cannot watch the TLS certificate files; checking them periodically only"
            );
            (None, None)
        }
    };
    let mut watched = BTreeSet::new();
    if let Some(watcher) = watcher.as_mut() {
        update_watches(watcher, &mut watched, &shared);
    }
    let start = tokio::time::Instant::now() + check_interval;
    let mut ticks = tokio::time::interval_at(start, check_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            event = next_event(&mut events_rx) => {
                match event {
                    Some(Ok(event)) if is_relevant(&event.kind) => {}
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => {
                        tracing::debug!(%error, "file watcher error");
                        continue;
                    }
                    // The watcher's sender is gone: it can no longer report anything.
                    None => {
                        events_rx = None;
                        continue;
                    }
                }
                // Let the rest of the burst (the other file, the rename, the symlink) land.
                tokio::time::sleep(debounce).await;
                if let Some(rx) = events_rx.as_mut() {
                    while rx.try_recv().is_ok() {}
                }
            }
        }
        let checker = shared.clone();
        if let Err(join_error) = tokio::task::spawn_blocking(move || checker.check()).await {
            if join_error.is_panic() {
                std::panic::resume_unwind(join_error.into_panic());
            }
            return;
        }
        if let Some(watcher) = watcher.as_mut() {
            update_watches(watcher, &mut watched, &shared);
        }
    }
}

/// The next watcher event, or never when there is no watcher.
async fn next_event(
    rx: &mut Option<mpsc::UnboundedReceiver<notify::Result<notify::Event>>>,
) -> Option<notify::Result<notify::Event>> {
    match rx.as_mut() {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Whether an event can mean new content. Opening or reading a file cannot (and the checks
/// themselves open the files, which must not trigger another check).
fn is_relevant(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Access(AccessKind::Open(_) | AccessKind::Read | AccessKind::Any)
    )
}

/// The directories to watch: each file's parent (sees renames over the file and symlink
/// swaps, e.g. Kubernetes' `..data`), and the parent of each file's resolved target (sees
/// certbot writing a new `archive/` file in place of the one linked).
fn wanted_dirs(shared: &Shared) -> BTreeSet<PathBuf> {
    let mut dirs = BTreeSet::new();
    for path in [&shared.cert_path, &shared.key_path] {
        dirs.insert(parent_of(path));
        if let Ok(target) = std::fs::canonicalize(path) {
            dirs.insert(parent_of(&target));
        }
    }
    dirs
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Adds watches on newly wanted directories and drops the ones no longer wanted (a
/// Kubernetes timestamped directory that was swapped out and deleted). A directory that
/// cannot be watched now (missing) is tried again after the next check.
fn update_watches(
    watcher: &mut RecommendedWatcher,
    watched: &mut BTreeSet<PathBuf>,
    shared: &Shared,
) {
    let wanted = wanted_dirs(shared);
    for gone in watched.difference(&wanted).cloned().collect::<Vec<_>>() {
        // Fails when the directory was deleted (its watch went with it): nothing to undo.
        let _ = watcher.unwatch(&gone);
        watched.remove(&gone);
    }
    for dir in wanted {
        if watched.contains(&dir) {
            continue;
        }
        match watcher.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                tracing::debug!(dir = %dir.display(), "watching for TLS certificate changes");
                watched.insert(dir);
            }
            Err(error) => {
                tracing::debug!(dir = %dir.display(), %error, "cannot watch directory yet");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessMode, CreateKind, ModifyKind};

    #[test]
    fn opens_and_reads_are_not_changes_but_writes_are() {
        assert!(!is_relevant(&EventKind::Access(AccessKind::Open(
            AccessMode::Read
        ))));
        assert!(!is_relevant(&EventKind::Access(AccessKind::Read)));
        assert!(is_relevant(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(is_relevant(&EventKind::Create(CreateKind::File)));
        assert!(is_relevant(&EventKind::Modify(ModifyKind::Any)));
    }

    #[test]
    fn a_bare_file_name_is_watched_through_the_current_directory() {
        assert_eq!(parent_of(Path::new("tls.crt")), PathBuf::from("."));
        assert_eq!(parent_of(Path::new("/a/b/tls.crt")), PathBuf::from("/a/b"));
    }
}

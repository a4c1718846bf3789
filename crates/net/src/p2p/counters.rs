//! Traffic and peer counters the engine keeps for metrics, readable without asking it.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Messages and bytes of one command in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Messages.
    pub messages: u64,
    /// Bytes on the wire (frame header included; before TLS).
    pub bytes: u64,
}

/// Counters of the whole P2P engine, shared with the metrics endpoint.
#[derive(Debug, Default)]
pub struct NetCounters {
    received: Mutex<BTreeMap<String, Traffic>>,
    sent: Mutex<BTreeMap<String, Traffic>>,
    peers_inbound: AtomicU64,
    peers_outbound: AtomicU64,
    bans: AtomicU64,
    disconnects: AtomicU64,
    header_height: AtomicU64,
    peak_send_queue_bytes: AtomicU64,
    peak_event_queue_bytes: AtomicU64,
    defences: Defences,
}

/// What the address and connection defences turned away.
#[derive(Debug, Default)]
struct Defences {
    addrs_dropped: AtomicU64,
    inbound_refused: AtomicU64,
    evictions: AtomicU64,
}

impl NetCounters {
    /// Counts a message received.
    pub fn record_received(&self, command: &str, bytes: usize) {
        Self::record(&self.received, command, bytes);
    }

    /// Counts a message sent.
    pub fn record_sent(&self, command: &str, bytes: usize) {
        Self::record(&self.sent, command, bytes);
    }

    fn record(map: &Mutex<BTreeMap<String, Traffic>>, command: &str, bytes: usize) {
        let mut m = map.lock();
        // Commands of unknown messages come from peers: they are bounded by the frame
        // format (12 printable characters) but not in number, so fold them into one key.
        let key = if crate::message::COMMANDS.contains(&command) {
            command
        } else {
            "unknown"
        };
        let t = match m.get_mut(key) {
            Some(t) => t,
            None => m.entry(key.to_string()).or_default(),
        };
        t.messages += 1;
        t.bytes += bytes as u64;
    }

    /// Traffic received, by command.
    pub fn received(&self) -> BTreeMap<String, Traffic> {
        self.received.lock().clone()
    }

    /// Traffic sent, by command.
    pub fn sent(&self) -> BTreeMap<String, Traffic> {
        self.sent.lock().clone()
    }

    /// Sets the numbers of connected peers.
    pub(crate) fn set_peers(&self, inbound: usize, outbound: usize) {
        self.peers_inbound.store(inbound as u64, Ordering::Relaxed);
        self.peers_outbound
            .store(outbound as u64, Ordering::Relaxed);
    }

    /// Notes the bytes queued to one peer after queuing a frame.
    pub(crate) fn note_send_queue_bytes(&self, bytes: usize) {
        self.peak_send_queue_bytes
            .fetch_max(bytes as u64, Ordering::Relaxed);
    }

    /// Notes the bytes of messages waiting in the event queue (connections to engine).
    pub(crate) fn note_event_queue_bytes(&self, bytes: usize) {
        self.peak_event_queue_bytes
            .fetch_max(bytes as u64, Ordering::Relaxed);
    }

    /// The most bytes ever queued to one peer's writer (frames the peer had not read yet).
    pub fn peak_send_queue_bytes(&self) -> u64 {
        self.peak_send_queue_bytes.load(Ordering::Relaxed)
    }

    /// The most bytes of decoded messages (counted by their wire size) ever waiting for the
    /// engine in the event queue.
    pub fn peak_event_queue_bytes(&self) -> u64 {
        self.peak_event_queue_bytes.load(Ordering::Relaxed)
    }

    /// Connected inbound peers.
    pub fn peers_inbound(&self) -> u64 {
        self.peers_inbound.load(Ordering::Relaxed)
    }

    /// Connected outbound peers.
    pub fn peers_outbound(&self) -> u64 {
        self.peers_outbound.load(Ordering::Relaxed)
    }

    /// Counts a ban (by misbehaviour or by the operator).
    pub(crate) fn record_ban(&self) {
        self.bans.fetch_add(1, Ordering::Relaxed);
    }

    /// Bans since start.
    pub fn bans(&self) -> u64 {
        self.bans.load(Ordering::Relaxed)
    }

    /// Counts a disconnect.
    pub(crate) fn record_disconnect(&self) {
        self.disconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// Disconnects since start.
    pub fn disconnects(&self) -> u64 {
        self.disconnects.load(Ordering::Relaxed)
    }

    /// The peer counters in one line (`in N out N bans N disconnects N`), for diagnostics
    /// such as a simulation's "did not converge" message.
    pub fn peer_summary(&self) -> String {
        format!(
            "in {} out {} bans {} disconnects {}",
            self.peers_inbound(),
            self.peers_outbound(),
            self.bans(),
            self.disconnects()
        )
    }

    /// Sets the height of the best header known.
    pub(crate) fn set_header_height(&self, h: u32) {
        self.header_height.store(h as u64, Ordering::Relaxed);
    }

    /// Height of the best header known (the sync target).
    pub fn header_height(&self) -> u32 {
        self.header_height.load(Ordering::Relaxed) as u32
    }

    /// Counts gossiped addresses dropped unprocessed (over the sender's rate).
    pub(crate) fn record_addrs_dropped(&self, n: usize) {
        self.defences
            .addrs_dropped
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Gossiped addresses dropped unprocessed since start.
    pub fn addrs_dropped(&self) -> u64 {
        self.defences.addrs_dropped.load(Ordering::Relaxed)
    }

    /// Counts an inbound connection refused before its handshake or slot (banned, or over
    /// a per-address limit).
    pub(crate) fn record_inbound_refused(&self) {
        self.defences
            .inbound_refused
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Inbound connections refused since start.
    pub fn inbound_refused(&self) -> u64 {
        self.defences.inbound_refused.load(Ordering::Relaxed)
    }

    /// Counts an inbound peer evicted to make room for a newcomer.
    pub(crate) fn record_eviction(&self) {
        self.defences.evictions.fetch_add(1, Ordering::Relaxed);
    }

    /// Inbound peers evicted since start.
    pub fn evictions(&self) -> u64 {
        self.defences.evictions.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_commands_share_one_key() {
        let c = NetCounters::default();
        c.record_received("ping", 32);
        c.record_received("ping", 32);
        c.record_received("weird1", 10);
        c.record_received("weird2", 10);
        let r = c.received();
        assert_eq!(
            r["ping"],
            Traffic {
                messages: 2,
                bytes: 64
            }
        );
        assert_eq!(
            r["unknown"],
            Traffic {
                messages: 2,
                bytes: 20
            }
        );
        assert_eq!(r.len(), 2);
    }
}

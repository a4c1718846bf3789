//! The send-queue gate and serving peers' requests: `getheaders`, `getdata`.
//!
//! Every frame queued to a peer is accounted in bytes. While a peer's send queue is over
//! `send_buffer_bytes` it is **paused**, as Bitcoin Core pauses a peer whose send buffer is
//! full: its reader stops reading the socket, and the engine holds the messages already
//! decoded (on the peer's own receive budget) instead of handling them, so a peer that asks
//! and does not read cannot make the node queue more than the budget plus one reply.
//! A `getdata` is not answered at once: its items wait in the peer's slot and are served
//! one at a time — a block read from disk only when the send queue has room — and the
//! peer's later messages wait until the list is done (with one `notfound` for what we do not
//! have). A paused peer that reads nothing for `send_stall_timeout_ms` is disconnected
//! (not banned: a slow link is not misbehaviour).

use super::*;

/// Most blocks served for one `getdata`; the rest are answered `notfound`.
const MAX_BLOCKS_PER_GETDATA: usize = 128;

impl Engine {
    /// A message from `id`'s reader: handled now, or held in order while the peer is paused
    /// or still has requests being served.
    pub(super) fn on_received(&mut self, id: PeerId, mut r: Received) {
        r.leave_queue();
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        if Self::busy(slot) {
            slot.deferred.push_back(r);
            return;
        }
        self.handle_message(id, r.into_message());
        self.serve_pending(id);
    }

    /// Whether `slot`'s new messages must wait.
    fn busy(slot: &Slot) -> bool {
        slot.conn.bytes.over_budget()
            || !slot.getdata.is_empty()
            || !slot.notfound.is_empty()
            || !slot.deferred.is_empty()
    }

    /// Feeds one message to the peer's state machine and applies what it says.
    fn handle_message(&mut self, id: PeerId, m: Message) {
        let now = self.now_ms();
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        let actions = slot.peer.on_message(m, now);
        self.apply(id, actions);
    }

    /// Serves `id`'s waiting `getdata` items, then its held messages, for as long as its
    /// send queue is within budget.
    pub(super) fn serve_pending(&mut self, id: PeerId) {
        loop {
            let Some(slot) = self.slots.get_mut(&id) else {
                return;
            };
            if slot.doomed.is_some() || slot.conn.bytes.over_budget() {
                return;
            }
            if let Some(item) = slot.getdata.pop_front() {
                self.serve_item(id, item);
            } else if !slot.notfound.is_empty() {
                let missing = std::mem::take(&mut slot.notfound);
                self.send(id, &Message::NotFound(missing));
            } else if let Some(r) = slot.deferred.pop_front() {
                self.handle_message(id, r.into_message());
            } else {
                return;
            }
        }
    }

    /// Timer work of the send queues: resumes peers whose queue drained (in case the
    /// writer's wake-up was lost) and disconnects paused peers that read nothing for
    /// `send_stall_timeout_ms`.
    pub(super) fn tick_send_queues(&mut self, now: u64) {
        let timeout = self.cfg.send_stall_timeout_ms;
        let mut stalled = Vec::new();
        let mut resume = Vec::new();
        for (id, slot) in &mut self.slots {
            let bytes = &slot.conn.bytes;
            if bytes.over_budget() {
                let sent = bytes.sent.load(Ordering::Relaxed);
                match slot.send_progress {
                    Some((seen, since)) if seen == sent => {
                        if now.saturating_sub(since) > timeout {
                            stalled.push(*id);
                        }
                    }
                    _ => slot.send_progress = Some((sent, now)),
                }
            } else {
                slot.send_progress = None;
                if Self::busy(slot) {
                    resume.push(*id);
                }
            }
        }
        for id in stalled {
            tracing::info!(%id, timeout_ms = timeout, "peer reads nothing of its send queue");
            self.drop_peer(id, "send queue over budget and not read");
        }
        for id in resume {
            self.serve_pending(id);
        }
    }

    /// Queues `m` to `id`.
    pub(super) fn send(&mut self, id: PeerId, m: &Message) {
        let frame = connection::frame(self.cfg.params.magic, m, &self.counters);
        self.send_frame(id, frame);
    }

    /// Queues an encoded frame to `id`, accounting its bytes; a full outbox dooms the peer.
    pub(super) fn send_frame(&mut self, id: PeerId, frame: Arc<Vec<u8>>) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        if slot.doomed.is_some() {
            return;
        }
        match slot.conn.queue(frame) {
            Ok(()) => self
                .counters
                .note_send_queue_bytes(slot.conn.bytes.queued()),
            Err(e) => {
                slot.doomed = Some(match e {
                    connection::QueueError::Full => {
                        "send queue full (the peer does not read)".to_string()
                    }
                    connection::QueueError::Closed => "connection closed".to_string(),
                });
            }
        }
    }

    pub(super) fn on_getheaders(&mut self, id: PeerId, locator: &[BlockHash], stop: BlockHash) {
        let headers = {
            let chain = self.shared.chain.read();
            let start = locator
                .iter()
                .find(|h| chain.is_active(h))
                .and_then(|h| chain.entry(h))
                .map_or(1, |e| e.height + 1);
            let end = chain
                .height()
                .min(start.saturating_add(MAX_HEADERS as u32 - 1));
            let mut out = Vec::new();
            for h in start..=end {
                let Some(e) = chain.hash_at(h).and_then(|x| chain.entry(&x)) else {
                    break;
                };
                out.push(e.header);
                if e.hash == stop {
                    break;
                }
            }
            out
        };
        self.send(id, &Message::Headers(headers));
    }

    /// Takes a `getdata`: its items wait in the slot and are served by
    /// [`serve_pending`](Self::serve_pending) as the send queue drains. Blocks past
    /// [`MAX_BLOCKS_PER_GETDATA`] are answered `notfound`.
    pub(super) fn on_getdata(&mut self, id: PeerId, items: Vec<Inventory>) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        let mut blocks = 0;
        for item in items {
            if item.kind == InvKind::Block {
                blocks += 1;
                if blocks > MAX_BLOCKS_PER_GETDATA {
                    slot.notfound.push(item);
                    continue;
                }
            }
            slot.getdata.push_back(item);
        }
    }

    /// Sends one requested block or transaction, or notes it for the `notfound`.
    fn serve_item(&mut self, id: PeerId, item: Inventory) {
        let found = match item.kind {
            InvKind::Block => match self.shared.chain.read().read_block(&item.hash) {
                Ok(b) => b.map(Message::Block),
                Err(e) => {
                    tracing::error!(block = %item.hash, error = %e, "cannot read block");
                    None
                }
            },
            InvKind::Tx => self
                .shared
                .mempool
                .lock()
                .get(&item.hash)
                .map(|e| Message::Tx(e.tx.as_ref().clone())),
        };
        match found {
            Some(m) => self.send(id, &m),
            None => {
                if let Some(slot) = self.slots.get_mut(&id) {
                    slot.notfound.push(item);
                }
            }
        }
    }
}

//! Addresses and transactions: `getaddr`, `addr`, `inv`, `tx` into the mempool, orphan
//! transactions.

use super::*;

impl Engine {
    /// Gossiped addresses: as many as the sender's token bucket allows go into the book
    /// (each O(1)); the rest are dropped unread and counted.
    pub(super) fn on_addr(&mut self, id: PeerId, list: Vec<PeerAddress>) {
        let now = self.now_ms();
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        let allowed = slot.addr_tokens.take(list.len(), now);
        let source = slot.addr.ip();
        let dropped = list.len() - allowed;
        if dropped > 0 {
            self.counters.record_addrs_dropped(dropped);
            tracing::debug!(%id, peer = %slot.addr, dropped, "addresses over the peer's rate dropped");
        }
        let now_unix = self.now_unix();
        for a in list.into_iter().take(allowed) {
            self.book.add_gossip(
                SocketAddr::new(a.ip, a.port),
                u64::from(a.time),
                source,
                now_unix,
            );
        }
    }

    pub(super) fn on_getaddr(&mut self, id: PeerId) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        // Once per connection: repeated answers would let a peer map the whole book.
        if std::mem::replace(&mut slot.answered_getaddr, true) {
            return;
        }
        let list: Vec<PeerAddress> = self
            .book
            .sample(MAX_ADDRS, &mut self.rng)
            .into_iter()
            .map(|(a, seen)| PeerAddress {
                time: seen.min(u32::MAX as u64) as u32,
                services: 1,
                ip: a.ip(),
                port: a.port(),
            })
            .collect();
        self.send(id, &Message::Addr(list));
    }

    // ----- transactions -----

    pub(super) fn on_inv(&mut self, id: PeerId, items: Vec<Inventory>) {
        let mut want_headers = false;
        let mut want_txs = Vec::new();
        let mut held = Vec::new();
        {
            let chain = self.shared.chain.read();
            let mempool = self.shared.mempool.lock();
            let in_flight = self
                .slots
                .get(&id)
                .map_or(0, |s| s.peer.requests_in_flight());
            for item in &items {
                match item.kind {
                    InvKind::Block => {
                        if !self.headers.knows(&chain, &item.hash) {
                            want_headers = true;
                        } else if self.headers.contains(&item.hash) {
                            held.push(item.hash);
                        }
                    }
                    InvKind::Tx => {
                        if in_flight + want_txs.len() < MAX_TX_REQUESTS_PER_PEER
                            && !mempool.contains(&item.hash)
                            && !self.orphans.held_from(&item.hash, id)
                            && !self.recent_rejects.contains(&item.hash)
                        {
                            want_txs.push(*item);
                        }
                    }
                }
            }
        }
        if want_headers {
            self.request_headers(id);
        }
        if !held.is_empty() {
            // Blocks whose headers we hold but which are not stored: the peer has them now.
            self.downloader.peer_has_new_blocks(id);
            self.assign_downloads();
        }
        if !want_txs.is_empty() {
            let now = self.now_ms();
            if let Some(s) = self.slots.get_mut(&id) {
                for i in &want_txs {
                    s.peer.request(*i, now);
                }
            }
            self.send(id, &Message::GetData(want_txs));
        }
    }

    /// Offers `tx` to the mempool; what happened.
    pub(super) fn accept_tx(&mut self, tx: Transaction) -> Result<(), (Transaction, MempoolError)> {
        let chain = self.shared.chain.read();
        let mut mempool = self.shared.mempool.lock();
        match mempool.accept(tx.clone(), &chain) {
            Ok(_) => Ok(()),
            Err(e) => Err((tx, e)),
        }
    }

    /// Remembers that `txid` was refused for `error`, so announcements of it are not fetched
    /// again — but only when no other signature could change the verdict (see
    /// [`refusal_covers_txid`]): a txid leaves the signatures out, so a copy of a
    /// transaction with a broken signature must not keep the real one out.
    pub(super) fn remember_reject(&mut self, txid: Hash256, error: &MempoolError) {
        if !refusal_covers_txid(error) {
            return;
        }
        if self.recent_rejects.len() >= MAX_RECENT_REJECTS {
            self.recent_rejects.clear();
        }
        self.recent_rejects.insert(txid);
    }

    /// Charges the refusal of a `bytes`-long transaction from `id` (its validation was work
    /// for nothing) and scores a consensus-invalid one.
    fn charge_refusal(&mut self, id: PeerId, bytes: usize, invalid: bool) {
        let now = self.now_ms();
        if let Some(slot) = self.slots.get_mut(&id) {
            let actions = slot.peer.charge_rejected_tx(bytes, now);
            self.apply(id, actions);
        }
        if invalid {
            self.punish(id, Offence::InvalidTransaction);
        }
    }

    /// A requested transaction from `id`, with the txid the peer's state machine matched.
    pub(super) fn on_tx(&mut self, id: PeerId, tx: Transaction, txid: Hash256) {
        let bytes = tx.encoded_len();
        match self.accept_tx(tx) {
            Ok(()) => {
                tracing::debug!(%id, %txid, "transaction accepted");
                let now = self.now_ms();
                if let Some(s) = self.slots.get_mut(&id) {
                    s.last_tx_ms = Some(now);
                }
                self.relay_tx(txid, Some(id));
                self.retry_orphan_txs();
            }
            Err((tx, MempoolError::Invalid(e)))
                if matches!(*e, ValidationError::MissingInput { .. }) =>
            {
                let now = self.now_ms();
                self.orphans.insert(tx, id, now);
            }
            Err((_, MempoolError::AlreadyKnown(_))) => {}
            Err((_, MempoolError::Chain(e))) => {
                tracing::error!(%txid, error = %e, "cannot check transaction");
            }
            Err((_, e)) => {
                let invalid = matches!(e, MempoolError::Invalid(_));
                if invalid {
                    tracing::info!(%id, %txid, error = %e, "invalid transaction from peer");
                } else {
                    tracing::debug!(%id, %txid, error = %e, "transaction not accepted");
                }
                self.remember_reject(txid, &e);
                self.charge_refusal(id, bytes, invalid);
            }
        }
    }

    pub(super) fn relay_tx(&mut self, txid: Hash256, except: Option<PeerId>) {
        self.broadcast(
            &Message::Inv(vec![Inventory {
                kind: InvKind::Tx,
                hash: txid,
            }]),
            except,
        );
    }

    /// Offers the orphan transactions to the mempool again until none gets in.
    pub(super) fn retry_orphan_txs(&mut self) {
        loop {
            if self.orphans.is_empty() {
                return;
            }
            let mut progress = false;
            for (tx, from, added) in self.orphans.take_all() {
                let txid = tx.txid();
                let bytes = tx.encoded_len();
                match self.accept_tx(tx) {
                    Ok(()) => {
                        progress = true;
                        self.relay_tx(txid, Some(from));
                    }
                    Err((tx, MempoolError::Invalid(e)))
                        if matches!(*e, ValidationError::MissingInput { .. }) =>
                    {
                        self.orphans.restore(tx, from, added);
                    }
                    // Another version of it (the one with valid signatures) got in first.
                    Err((_, MempoolError::AlreadyKnown(_))) => {}
                    Err((_, MempoolError::Chain(e))) => {
                        tracing::error!(%txid, error = %e, "cannot check orphan transaction");
                    }
                    Err((_, e)) => {
                        let invalid = matches!(e, MempoolError::Invalid(_));
                        self.remember_reject(txid, &e);
                        self.charge_refusal(from, bytes, invalid);
                    }
                }
            }
            if !progress {
                return;
            }
        }
    }
}

/// Whether `error` holds for every transaction with the same txid, whatever its signatures
/// (a txid covers everything but the signature fields): only then may the refusal be
/// remembered by txid. Failures a different signature field can change are not — a bad or
/// missized signature, and the size and fee-rate verdicts that depend on the encoded length
/// (a bloated signature field makes a copy larger) — because an attacker who sees a
/// transaction could otherwise relay a broken copy first and keep the real one out of the
/// mempool for good. Inventory is announced by txid (there is no wtxid relay), so this is
/// the filter's only safe key. Missing inputs never get here (they make an orphan).
pub(super) fn refusal_covers_txid(error: &MempoolError) -> bool {
    match error {
        MempoolError::Invalid(e) => matches!(
            **e,
            ValidationError::NoInputs { .. }
                | ValidationError::NoOutputs { .. }
                | ValidationError::OutputTooLarge { .. }
                | ValidationError::OutputTotalTooLarge { .. }
                | ValidationError::BadOutputScript { .. }
                | ValidationError::DuplicateInput { .. }
                | ValidationError::NullPrevout { .. }
                | ValidationError::ImmatureSpend { .. }
                | ValidationError::ValueNotConserved { .. }
                | ValidationError::AmountOverflow { .. }
                | ValidationError::LooseCoinbase
                | ValidationError::NonFinalTransaction { .. }
        ),
        MempoolError::Conflict { .. } => true,
        // Too large, mempool full (fee rate), already known, chain errors, and any verdict
        // added later: not provably independent of the signatures.
        _ => false,
    }
}

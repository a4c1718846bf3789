//! Headers-first sync: `getheaders`, the download plan, blocks in. Serving headers and
//! blocks to others is in [`serve`](super::serve).

use super::*;

impl Engine {
    /// Asks `id` for the headers after our best header, unless a `getheaders` to it is
    /// still unanswered (then once more after the answer).
    pub(super) fn request_headers(&mut self, id: PeerId) {
        let now = self.now_ms();
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        if let Some(sent) = slot.headers_sent_ms {
            if now.saturating_sub(sent) < HEADERS_TIMEOUT_MS {
                slot.headers_again = true;
                return;
            }
        }
        slot.headers_again = false;
        let locator = self.headers.locator(&self.shared.chain.read());
        self.send_getheaders(id, locator, now);
    }

    /// Sends `getheaders` with `locator` and marks one `headers` answer as solicited.
    fn send_getheaders(&mut self, id: PeerId, locator: Vec<BlockHash>, now: u64) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        slot.headers_sent_ms = Some(now);
        slot.peer.expect_headers(now);
        self.send(
            id,
            &Message::GetHeaders {
                version: self.cfg.peer.protocol_version,
                locator,
                stop: Hash256::ZERO,
            },
        );
    }

    // ----- headers and blocks -----

    pub(super) fn on_headers(
        &mut self,
        id: PeerId,
        headers: Vec<parthenon_primitives::BlockHeader>,
    ) {
        let again = match self.slots.get_mut(&id) {
            Some(s) => {
                s.headers_sent_ms = None;
                std::mem::take(&mut s.headers_again)
            }
            None => return,
        };
        if headers.is_empty() {
            if again {
                self.request_headers(id);
            }
            return;
        }
        let now_unix_ms = self.now_unix() * 1000;
        let result = {
            let chain = self.shared.chain.read();
            self.presync
                .on_headers(id, &mut self.headers, &chain, &headers, now_unix_ms)
        };
        let now = self.now_ms();
        match result {
            Ok(PresyncOutcome::Stored(acc)) => {
                tracing::debug!(%id, added = acc.added, full = acc.full, "headers accepted");
                if acc.added > 0 {
                    self.header_store_refused = None;
                }
                if acc.full {
                    if let Some(last) = acc.last {
                        self.continue_headers(id, last);
                    }
                } else if again {
                    self.request_headers(id);
                }
                if acc.added > 0 || acc.best_changed {
                    self.replan();
                }
            }
            Ok(PresyncOutcome::Presyncing {
                last,
                fork,
                full,
                counted,
            }) => {
                tracing::debug!(%id, counted, full, "headers of a low-work chain pre-synced, not stored");
                if full {
                    self.send_getheaders(id, vec![last, fork], now);
                } else if again {
                    self.request_headers(id);
                }
            }
            Ok(PresyncOutcome::Redownload { fork }) => {
                let locator = self.headers.locator_from(&self.shared.chain.read(), &fork);
                self.send_getheaders(id, locator, now);
            }
            Ok(PresyncOutcome::Buffering { last, fork }) => {
                self.send_getheaders(id, vec![last, fork], now);
            }
            Ok(PresyncOutcome::RedownloadFailed) => {
                if again {
                    self.request_headers(id);
                }
            }
            Err(e @ (HeadersError::Full { .. } | HeadersError::PeerBudget { .. })) => {
                tracing::warn!(%id, error = %e, "headers not stored");
                if matches!(e, HeadersError::Full { .. }) {
                    self.header_store_refused = Some((
                        now,
                        format!(
                            "header store full ({} headers held); new headers are refused until blocks are downloaded",
                            self.headers.len()
                        ),
                    ));
                }
            }
            Err(e) => {
                tracing::warn!(%id, error = %e, "headers refused");
                if let Some(o) = e.offence() {
                    self.punish(id, o);
                }
            }
        }
    }

    /// Asks `id` for the headers after `last` (its previous answer was full).
    pub(super) fn continue_headers(&mut self, id: PeerId, last: BlockHash) {
        let now = self.now_ms();
        let locator = self.headers.locator_from(&self.shared.chain.read(), &last);
        self.send_getheaders(id, locator, now);
    }

    /// Recomputes the blocks to fetch and hands them out.
    pub(super) fn replan(&mut self) {
        let plan = {
            let chain = self.shared.chain.read();
            let tip = self.headers.best_tip(&chain);
            self.counters.set_header_height(tip.height);
            self.headers
                .download_plan(&chain, self.downloader.config().window)
        };
        for (pid, hash) in self.downloader.set_plan(plan) {
            if let Some(s) = self.slots.get_mut(&pid) {
                s.peer.cancel_request(&Inventory {
                    kind: InvKind::Block,
                    hash,
                });
            }
        }
        self.assign_downloads();
    }

    pub(super) fn assign_downloads(&mut self) {
        let now = self.now_ms();
        let ready: Vec<PeerId> = self
            .slots
            .iter()
            .filter(|(_, s)| s.peer.is_ready() && s.doomed.is_none())
            .map(|(id, _)| *id)
            .collect();
        if ready.is_empty() {
            return;
        }
        for (pid, hashes) in self.downloader.assign(&ready, now) {
            let items: Vec<Inventory> = hashes
                .iter()
                .map(|h| Inventory {
                    kind: InvKind::Block,
                    hash: *h,
                })
                .collect();
            if let Some(s) = self.slots.get_mut(&pid) {
                for i in &items {
                    s.peer.request(*i, now);
                }
            }
            self.send(pid, &Message::GetData(items));
        }
    }

    pub(super) fn on_block(&mut self, id: PeerId, block: Block) {
        let now = self.now_ms();
        let hash = block.hash();
        self.downloader.received(&hash, now);
        let ntx = block.txs.len();
        let started = tokio::time::Instant::now();
        let now_secs = self.now_unix();
        let result = {
            let mut chain = self.shared.chain.write();
            let r = chain.process_block(block, now_secs);
            if let Ok(outcome) = &r {
                self.shared
                    .mempool
                    .lock()
                    .apply_chain_update(&outcome.update, &chain);
            }
            r.map(|o| (o, chain.height()))
        };
        match result {
            Ok((outcome, height)) => {
                let connected = outcome.update.connected.len();
                if connected > 0 {
                    self.connected_since_prune += connected;
                    // Conflicts, immature spends and lock times depend on the tip: judge them afresh.
                    self.recent_rejects.clear();
                    // A block that extended our chain: eviction protects its sender.
                    if let Some(s) = self.slots.get_mut(&id) {
                        s.last_block_ms = Some(now);
                    }
                    if let Some(observe) = &self.shared.on_block_connected {
                        observe(started.elapsed());
                    }
                    let syncing = !self.downloader.is_idle();
                    for (b, h) in &outcome.update.connected {
                        if syncing {
                            tracing::debug!(height = h, hash = %b.hash(), "block connected");
                        } else {
                            tracing::info!(
                                height = h,
                                hash = %b.hash(),
                                txs = b.txs.len(),
                                %id,
                                "block connected"
                            );
                        }
                    }
                    if !outcome.update.disconnected.is_empty() {
                        tracing::info!(
                            disconnected = outcome.update.disconnected.len(),
                            connected,
                            height,
                            "chain reorganised"
                        );
                    }
                    self.record_progress(height);
                    self.retry_orphan_txs();
                }
                tracing::trace!(%hash, txs = ntx, disposition = ?outcome.disposition, "block processed");
            }
            Err(e) => {
                let offence = match &e {
                    ChainError::InvalidBlock { source, .. } => {
                        (!matches!(source, ValidationError::TimeTooNew { .. }))
                            .then_some(Offence::InvalidBlock)
                    }
                    ChainError::KnownInvalid { .. } => Some(Offence::InvalidBlock),
                    _ => None,
                };
                match offence {
                    Some(o) => {
                        tracing::warn!(%id, block = %hash, error = %e, "invalid block from peer");
                        self.punish(id, o);
                    }
                    None => tracing::error!(block = %hash, error = %e, "cannot process block"),
                }
            }
        }
        self.replan();
        self.check_tip();
    }

    pub(super) fn record_progress(&mut self, height: u32) {
        let now = self.now_ms();
        let target = self.counters.header_height().max(height);
        self.progress.record(now, height, target);
        if target > height
            && now.saturating_sub(self.last_progress_log_ms) >= PROGRESS_LOG_INTERVAL_MS
        {
            self.last_progress_log_ms = now;
            tracing::info!("{}", self.progress);
        }
    }

    /// Announces a new tip once the node is not downloading blocks.
    pub(super) fn check_tip(&mut self) {
        if !self.downloader.is_idle() {
            return;
        }
        let (tip, height) = {
            let chain = self.shared.chain.read();
            (chain.tip_hash(), chain.height())
        };
        if tip == self.announced_tip {
            return;
        }
        if self.progress.target_height() > 0 && self.progress.height() < height {
            self.record_progress(height);
        }
        self.announced_tip = tip;
        self.broadcast(
            &Message::Inv(vec![Inventory {
                kind: InvKind::Block,
                hash: tip,
            }]),
            None,
        );
        self.retry_orphan_txs();
    }
}

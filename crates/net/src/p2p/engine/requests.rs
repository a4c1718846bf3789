//! Requests from the node through the `P2pHandle`.

use super::*;

impl Engine {
    // ----- requests from the node -----

    pub(super) fn on_request(&mut self, r: Request) {
        match r {
            Request::Peers(reply) => {
                let _ = reply.send(self.peer_infos());
            }
            Request::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Request::AddNode(spec, action, reply) => {
                let _ = reply.send(self.add_node(spec, action));
            }
            Request::Disconnect(target, reply) => {
                let id = match &target {
                    DisconnectTarget::Id(id) => self.slots.contains_key(id).then_some(*id),
                    DisconnectTarget::Addr(a) => self
                        .slots
                        .iter()
                        .find(|(_, s)| s.addr == *a)
                        .map(|(id, _)| *id),
                };
                let result = match id {
                    Some(id) => {
                        self.drop_peer(id, "disconnected by the operator");
                        Ok(())
                    }
                    None => Err(P2pRequestError::NotFound(format!(
                        "no connected peer {target:?}"
                    ))),
                };
                let _ = reply.send(result);
            }
            Request::Ban(subnet, secs, reply) => {
                self.bans.ban(subnet, self.now_unix(), secs);
                self.counters.record_ban();
                self.bans_changed();
                self.save_bans_if_dirty();
                let ids: Vec<PeerId> = self
                    .slots
                    .iter()
                    .filter(|(_, s)| subnet.contains(&s.addr.ip()))
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    self.drop_peer(id, "banned by the operator");
                }
                let _ = reply.send(());
            }
            Request::Unban(subnet, reply) => {
                let result = if self.bans.unban(subnet) {
                    self.bans_changed();
                    self.save_bans_if_dirty();
                    Ok(())
                } else {
                    Err(P2pRequestError::NotFound(format!("{subnet} is not banned")))
                };
                let _ = reply.send(result);
            }
            Request::ListBanned(reply) => {
                let now = self.now_unix();
                self.bans.expire(now);
                let list = self
                    .bans
                    .entries()
                    .into_iter()
                    .map(|(subnet, until)| BannedAddress {
                        subnet,
                        banned_until: until,
                    })
                    .collect();
                let _ = reply.send(list);
            }
            Request::ClearBanned(reply) => {
                self.bans = BanList::new();
                self.bans_changed();
                self.save_bans_if_dirty();
                let _ = reply.send(());
            }
            Request::AnnounceTx(txid) => self.relay_tx(txid, None),
            Request::Shutdown(reply) => {
                // Handled by the run loop; answered here only if it ever gets this far.
                let _ = reply.send(());
            }
        }
    }

    /// The ban list changed: the listener's gate gets a copy now (so the next connection
    /// from a newly banned address is refused before its handshake), and the file is
    /// written at the next tick (automatic bans) or at once (the operator's, by the caller).
    pub(super) fn bans_changed(&mut self) {
        self.gate.set_bans(self.bans.clone());
        self.bans_dirty = true;
    }

    /// Writes the ban list file if bans changed since the last write.
    pub(super) fn save_bans_if_dirty(&mut self) {
        if !std::mem::take(&mut self.bans_dirty) {
            return;
        }
        if let Some(path) = &self.cfg.ban_list {
            if let Err(e) = crate::p2p::persist::save_bans(path, &self.bans) {
                tracing::warn!(error = %e, "cannot write the ban list");
            }
        }
    }

    pub(super) fn add_node(
        &mut self,
        spec: PeerSpec,
        action: AddNodeAction,
    ) -> Result<(), P2pRequestError> {
        let key = spec.addr();
        match action {
            AddNodeAction::Add => {
                if self.manual.contains_key(&key) {
                    return Err(P2pRequestError::AlreadyAdded(key));
                }
                self.manual.insert(
                    key,
                    ManualPeer {
                        spec,
                        backoff: Backoff::default(),
                        one_try: false,
                    },
                );
                let now = self.now_ms();
                self.maintain_outbound(now);
                Ok(())
            }
            AddNodeAction::Remove => match self.manual.remove(&key) {
                Some(_) => Ok(()),
                None => Err(P2pRequestError::NotAdded(key)),
            },
            AddNodeAction::OneTry => {
                if !self.manual.contains_key(&key) {
                    self.manual.insert(
                        key.clone(),
                        ManualPeer {
                            spec: spec.clone(),
                            backoff: Backoff::default(),
                            one_try: true,
                        },
                    );
                }
                if !self.dialling.contains(&DialKey::Manual(key.clone())) {
                    self.dial(DialKey::Manual(key), spec);
                }
                Ok(())
            }
        }
    }

    pub(super) fn peer_infos(&self) -> Vec<PeerInfo> {
        let now = self.now_ms();
        self.slots
            .iter()
            .map(|(id, s)| {
                let v = s.peer.their_version();
                let (tls, fp, suite) = match s.security {
                    ConnectionSecurity::Plaintext => (false, None, None),
                    ConnectionSecurity::Tls {
                        peer_fingerprint,
                        cipher_suite,
                    } => (
                        true,
                        peer_fingerprint.map(|f| f.to_string()),
                        cipher_suite.map(crate::tls::suite_name),
                    ),
                };
                PeerInfo {
                    id: id.0,
                    addr: s.addr,
                    direction: s.direction.to_string(),
                    tls,
                    cert_fingerprint: fp,
                    tls_cipher_suite: suite.map(str::to_owned),
                    manual: s.manual.is_some(),
                    ready: s.peer.is_ready(),
                    user_agent: v.map(|v| v.user_agent.clone()),
                    version: v.map(|v| v.version),
                    start_height: v.map(|v| v.best_height),
                    ban_score: s.peer.score(),
                    requests_in_flight: s.peer.requests_in_flight(),
                    blocks_delivered: self.downloader.delivered_by(*id),
                    bytes_received: s.conn.bytes.received.load(Ordering::Relaxed),
                    bytes_sent: s.conn.bytes.sent.load(Ordering::Relaxed),
                    connected_secs: now.saturating_sub(s.opened_ms) / 1000,
                }
            })
            .collect()
    }

    pub(super) fn status(&self) -> NetStatus {
        let (height, tip_work) = {
            let chain = self.shared.chain.read();
            (chain.height(), chain.tip().chain_work)
        };
        let header_height = self.counters.header_height().max(height);
        let mut warnings = Vec::new();
        if let Some((_, why)) = &self.header_store_refused {
            warnings.push(why.clone());
        }
        // A peer showing a chain with more work than ours, not stored yet (pre-sync or
        // redownload), means we are not synced either.
        let more_work_pending = self
            .presync
            .best_claimed_work()
            .is_some_and(|w| w > tip_work);
        NetStatus {
            listen: self.listen,
            tls: self.cfg.certificate.is_some(),
            cert_fingerprint: self
                .cfg
                .certificate
                .as_ref()
                .map(|c| c.fingerprint().to_string()),
            inbound: self.count(Direction::Inbound),
            outbound: self.count(Direction::Outbound),
            header_height,
            initial_block_download: header_height > height
                || !self.downloader.is_idle()
                || more_work_pending
                || self.header_store_refused.is_some(),
            blocks_in_flight: self.downloader.in_flight(),
            known_addresses: self.book.len(),
            orphan_txs: self.orphans.len(),
            headers_held: self.headers.len(),
            header_store_bytes: self.headers.approx_bytes() + self.presync.approx_bytes(),
            headers_presynced: self.presync.counted_total(),
            warnings,
        }
    }
}

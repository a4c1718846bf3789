//! Connections: accepting, dialling and dropping peers, and turning their events into
//! state-machine actions.

use super::*;

impl Engine {
    // ----- connections -----

    pub(super) fn on_new_conn(&mut self, c: NewConn) {
        match c {
            NewConn::Inbound(conn) => {
                let ip = conn.peer_addr.ip();
                // The listener's gate refused banned addresses before the handshake; a ban
                // made while this one's handshake ran is caught here.
                if self.bans.is_banned(&ip, self.now_unix()) {
                    self.counters.record_inbound_refused();
                    tracing::debug!(peer = %conn.peer_addr, "refused inbound connection: banned");
                    return;
                }
                if let Err(reason) = self.gate.inbound_opened(ip) {
                    self.counters.record_inbound_refused();
                    tracing::debug!(peer = %conn.peer_addr, %reason, "refused inbound connection");
                    return;
                }
                let inbound = self.count(Direction::Inbound);
                if inbound >= self.cfg.max_inbound && !self.evict_inbound() {
                    self.gate.inbound_closed(ip);
                    self.counters.record_inbound_refused();
                    tracing::debug!(
                        peer = %conn.peer_addr,
                        limit = self.cfg.max_inbound,
                        "refused inbound connection: slots full, every inbound peer protected"
                    );
                    return;
                }
                self.add_slot(conn, None, None);
            }
            NewConn::Dialled { key, result } => {
                self.dialling.remove(&key);
                let now = self.now_ms();
                match (result, key) {
                    (Ok(conn), DialKey::Manual(k)) => {
                        let keep = self.manual.get(&k).is_some_and(|m| !m.one_try);
                        if !keep {
                            self.manual.remove(&k);
                        }
                        self.add_slot(conn, keep.then_some(k), None);
                    }
                    (Ok(conn), DialKey::Book(a)) => self.add_slot(conn, None, Some(a)),
                    (Err(e), DialKey::Manual(k)) => {
                        tracing::info!(peer = %k, error = %e, "cannot connect to peer");
                        let (base, max) = (self.cfg.reconnect_base_ms, self.cfg.reconnect_max_ms);
                        match self.manual.get_mut(&k) {
                            Some(m) if m.one_try => {
                                self.manual.remove(&k);
                            }
                            Some(m) => m.backoff.failed(now, base, max),
                            None => {}
                        }
                    }
                    (Err(e), DialKey::Book(a)) => {
                        tracing::debug!(peer = %a, error = %e, "cannot connect to address");
                        self.book.failed(
                            &a,
                            now,
                            self.cfg.reconnect_base_ms,
                            self.cfg.reconnect_max_ms,
                        );
                    }
                }
            }
        }
    }

    pub(super) fn count(&self, d: Direction) -> usize {
        self.slots.values().filter(|s| s.direction == d).count()
    }

    /// Disconnects the inbound peer [`eviction`](crate::p2p::eviction) picks, if any, to
    /// make room for a newcomer; whether one went.
    pub(super) fn evict_inbound(&mut self) -> bool {
        use crate::p2p::eviction::{netgroup_key, select_victim, Candidate};
        let candidates: Vec<Candidate> = self
            .slots
            .iter()
            .filter(|(_, s)| s.direction == Direction::Inbound)
            .map(|(id, s)| Candidate {
                id: *id,
                connected_ms: s.opened_ms,
                min_ping_ms: s.peer.min_ping_ms(),
                last_block_ms: s.last_block_ms,
                last_tx_ms: s.last_tx_ms,
                netgroup: netgroup_key(&self.eviction_key, s.addr.ip()),
                protected: s.manual.is_some(),
            })
            .collect();
        let Some(victim) = select_victim(&candidates) else {
            return false;
        };
        self.counters.record_eviction();
        self.drop_peer(victim, "evicted to make room for a new inbound peer");
        true
    }

    pub(super) fn add_slot(
        &mut self,
        conn: Connection,
        manual: Option<String>,
        book_addr: Option<SocketAddr>,
    ) {
        let id = PeerId(self.next_id);
        self.next_id += 1;
        let now = self.now_ms();
        let nonce: u64 = self.rng.random();
        let our_addr = self.version_sender_addr(&conn);
        let local = LocalInfo {
            nonce,
            ping_seed: self.rng.random(),
            best_height: self.shared.chain.read().height(),
            unix_time: self.now_unix() as i64,
            peer_addr: conn.peer_addr,
            our_addr,
        };
        let (peer, actions) = Peer::new(self.cfg.peer.clone(), conn.direction, local, now);
        tracing::debug!(%id, peer = %conn.peer_addr, direction = %conn.direction, "connection open");
        let tasks = connection::spawn(
            id,
            conn.stream,
            self.cfg.params.magic,
            self.events_tx.clone(),
            self.counters.clone(),
            self.conn_limits(),
        );
        self.slots.insert(
            id,
            Slot {
                peer,
                conn: tasks,
                addr: conn.peer_addr,
                direction: conn.direction,
                security: conn.security,
                manual,
                book_addr,
                nonce,
                listen_addr: None,
                opened_ms: now,
                headers_sent_ms: None,
                headers_again: false,
                answered_getaddr: false,
                addr_tokens: AddrTokens::new(now),
                last_block_ms: None,
                last_tx_ms: None,
                doomed: None,
                deferred: VecDeque::new(),
                getdata: VecDeque::new(),
                notfound: Vec::new(),
                send_progress: None,
            },
        );
        self.update_peer_counts();
        self.apply(id, actions);
    }

    /// What `version` says our address is: the configured public address, else the
    /// unspecified address of the connection's family with our listen port (0 when not
    /// listening). Never the local interface address: that would tell every peer which
    /// interface (a LAN address, a VPN) the node sits behind. The port lets an inbound
    /// peer's side learn where we accept connections.
    pub(super) fn version_sender_addr(&self, conn: &Connection) -> SocketAddr {
        if let Some(a) = self.cfg.external_addr {
            return a;
        }
        let port = self.listen.map_or(0, |l| l.port());
        let ip: std::net::IpAddr = match conn.peer_addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
        };
        SocketAddr::new(ip, port)
    }

    pub(super) fn update_peer_counts(&self) {
        self.counters.set_peers(
            self.count(Direction::Inbound),
            self.count(Direction::Outbound),
        );
    }

    /// Closes a connection and gives its block requests to others.
    pub(super) fn drop_peer(&mut self, id: PeerId, reason: &str) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        let now = self.now_ms();
        let ready = slot.peer.is_ready();
        tracing::info!(%id, peer = %slot.addr, direction = %slot.direction, reason, "peer disconnected");
        slot.conn.close();
        if slot.direction == Direction::Inbound {
            self.gate.inbound_closed(slot.addr.ip());
        }
        self.counters.record_disconnect();
        let (base, max) = (self.cfg.reconnect_base_ms, self.cfg.reconnect_max_ms);
        let stable = ready && now.saturating_sub(slot.opened_ms) >= STABLE_CONNECTION_MS;
        if let Some(k) = &slot.manual {
            if let Some(m) = self.manual.get_mut(k) {
                if stable {
                    m.backoff.succeeded();
                }
                m.backoff.failed(now, base, max);
            }
        }
        if let Some(a) = &slot.book_addr {
            if stable {
                self.book.connected(a, self.shared.clock.now_secs());
            }
            self.book.failed(a, now, base, max);
        }
        self.downloader.peer_gone(id);
        self.presync.peer_gone(id);
        self.update_peer_counts();
        self.assign_downloads();
    }

    pub(super) fn reap(&mut self) {
        let doomed: Vec<(PeerId, String)> = self
            .slots
            .iter()
            .filter_map(|(id, s)| s.doomed.clone().map(|r| (*id, r)))
            .collect();
        for (id, reason) in doomed {
            self.drop_peer(id, &reason);
        }
    }

    pub(super) fn dial(&mut self, key: DialKey, spec: PeerSpec) {
        self.dialling.insert(key.clone());
        let transport = self.transport.clone();
        let tx = self.conns_tx.clone();
        tokio::spawn(async move {
            let result = transport.dial(&spec).await;
            let _ = tx.send(NewConn::Dialled { key, result }).await;
        });
    }

    pub(super) fn maintain_outbound(&mut self, now: u64) {
        let connected: BTreeSet<String> = self
            .slots
            .values()
            .filter_map(|s| s.manual.clone())
            .collect();
        let due: Vec<(String, PeerSpec)> = self
            .manual
            .iter()
            .filter(|(k, m)| {
                !connected.contains(*k)
                    && !self.dialling.contains(&DialKey::Manual((*k).clone()))
                    && m.backoff.ready(now)
            })
            .map(|(k, m)| (k.clone(), m.spec.clone()))
            .collect();
        for (k, spec) in due {
            self.dial(DialKey::Manual(k), spec);
        }
        if self.connect_only {
            return;
        }
        let outbound = self
            .slots
            .values()
            .filter(|s| s.direction == Direction::Outbound && s.manual.is_none())
            .count()
            + self
                .dialling
                .iter()
                .filter(|k| matches!(k, DialKey::Book(_)))
                .count();
        let now_unix = self.now_unix();
        let budget = self
            .cfg
            .max_outbound
            .saturating_sub(outbound)
            .min(DIALS_PER_TICK);
        for _ in 0..budget {
            let busy: BTreeSet<SocketAddr> = self
                .slots
                .values()
                .flat_map(|s| [Some(s.addr), s.listen_addr])
                .flatten()
                .collect();
            let pick = self.book.pick(now, &mut self.rng, |a| {
                busy.contains(a)
                    || self.manual.contains_key(&a.to_string())
                    || self.dialling.contains(&DialKey::Book(*a))
                    || self.self_addrs.contains(a)
                    || Some(*a) == self.listen
                    || self.bans.is_banned(&a.ip(), now_unix)
            });
            let Some(addr) = pick else { break };
            self.dial(
                DialKey::Book(addr),
                PeerSpec::new(addr.ip().to_string(), addr.port()),
            );
        }
    }

    // ----- events from connections -----

    pub(super) fn on_event(&mut self, id: PeerId, ev: ConnEvent) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        let actions = match ev {
            // Through the send-queue gate: held while the peer is paused.
            ConnEvent::Message(r) => return self.on_received(id, r),
            ConnEvent::Drained => return self.serve_pending(id),
            ConnEvent::Frame(e) => {
                tracing::info!(%id, peer = %slot.addr, error = %e, "unreadable byte stream");
                slot.peer.on_frame_error(&e)
            }
            ConnEvent::BadMessage(e) => {
                tracing::info!(%id, peer = %slot.addr, error = %e, "malformed message");
                slot.peer.on_message_error(&e)
            }
            ConnEvent::Closed(e) => {
                let reason = match e {
                    Some(e) => format!("connection error: {e}"),
                    None => "closed by peer".to_string(),
                };
                self.drop_peer(id, &reason);
                return;
            }
        };
        self.apply(id, actions);
    }

    pub(super) fn apply(&mut self, id: PeerId, actions: Vec<PeerAction>) {
        for a in actions {
            if !self.slots.contains_key(&id) {
                return;
            }
            match a {
                PeerAction::Send(m) => self.send(id, &m),
                PeerAction::Misbehaved {
                    offence,
                    score,
                    ban,
                } => {
                    let addr = self.slots[&id].addr;
                    tracing::warn!(%id, peer = %addr, ?offence, score, ban, "peer misbehaved");
                    if ban {
                        // A host's range: an IPv6 host changes addresses in its /64 freely.
                        let subnet = crate::netaddr::host_subnet(addr.ip());
                        self.bans.ban(subnet, self.now_unix(), self.cfg.ban_secs);
                        self.bans_changed();
                        self.counters.record_ban();
                        self.orphans.forget_peer(id);
                    }
                }
                PeerAction::Disconnect(reason) => {
                    self.drop_peer(id, &reason.to_string());
                    return;
                }
                PeerAction::Connected(v) => self.on_connected(id, *v),
                PeerAction::Deliver(m) => self.on_deliver(id, m),
                PeerAction::DeliverTx(tx, txid) => self.on_tx(id, *tx, txid),
            }
        }
    }

    pub(super) fn punish(&mut self, id: PeerId, offence: Offence) {
        if let Some(slot) = self.slots.get_mut(&id) {
            let actions = slot.peer.misbehaved(offence);
            self.apply(id, actions);
        }
    }

    /// Sends `m` to every ready peer but `except`.
    pub(super) fn broadcast(&mut self, m: &Message, except: Option<PeerId>) {
        let frame = connection::frame(self.cfg.params.magic, m, &self.counters);
        let ids: Vec<PeerId> = self
            .slots
            .iter()
            .filter(|(id, s)| Some(**id) != except && s.peer.is_ready())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.send_frame(id, frame.clone());
        }
    }

    pub(super) fn on_connected(&mut self, id: PeerId, v: crate::message::VersionMessage) {
        let now_unix = self.now_unix();
        let (direction, addr, book_addr) = {
            let s = &self.slots[&id];
            (s.direction, s.addr, s.book_addr)
        };
        // A connection to ourselves: our own outbound connection's nonce came back in.
        if direction == Direction::Inbound {
            let own = self
                .slots
                .iter()
                .find(|(_, s)| s.direction == Direction::Outbound && s.nonce == v.nonce)
                .map(|(oid, s)| (*oid, s.addr));
            if let Some((oid, oaddr)) = own {
                tracing::info!(addr = %oaddr, "connected to ourselves; forgetting the address");
                self.self_addrs.insert(oaddr);
                self.book.remove(&oaddr);
                self.drop_peer(oid, "connection to ourselves");
                self.drop_peer(id, "connection to ourselves");
                return;
            }
            if v.sender.port() != 0 {
                // Its own claim, not proven until we dial it: it enters the book as gossip
                // from itself, under the same rules as any gossip.
                let listen = SocketAddr::new(addr.ip(), v.sender.port());
                self.book.add_gossip(listen, now_unix, addr.ip(), now_unix);
                if let Some(s) = self.slots.get_mut(&id) {
                    s.listen_addr = Some(listen);
                }
            }
        }
        if let Some(a) = book_addr {
            self.book.connected(&a, now_unix);
        }
        tracing::info!(
            %id,
            peer = %addr,
            %direction,
            user_agent = %v.user_agent,
            height = v.best_height,
            "peer connected"
        );
        if direction == Direction::Outbound {
            if let Some(s) = self.slots.get_mut(&id) {
                s.addr_tokens.sent_getaddr();
            }
            self.send(id, &Message::GetAddr);
        }
        self.request_headers(id);
    }

    pub(super) fn on_deliver(&mut self, id: PeerId, m: Message) {
        match m {
            Message::Headers(h) => self.on_headers(id, h),
            Message::Block(b) => self.on_block(id, b),
            Message::Tx(t) => {
                let txid = t.txid();
                self.on_tx(id, t, txid)
            }
            Message::Inv(items) => self.on_inv(id, items),
            Message::GetData(items) => self.on_getdata(id, items),
            Message::NotFound(items) => {
                let blocks: Vec<BlockHash> = items
                    .iter()
                    .filter(|i| i.kind == InvKind::Block)
                    .map(|i| i.hash)
                    .collect();
                if !blocks.is_empty() {
                    self.downloader.not_found(id, &blocks);
                    self.assign_downloads();
                }
            }
            Message::GetHeaders { locator, stop, .. } => self.on_getheaders(id, &locator, stop),
            Message::GetAddr => self.on_getaddr(id),
            Message::Addr(list) => self.on_addr(id, list),
            // Handled by the state machine, or nothing to do.
            _ => {}
        }
    }
}

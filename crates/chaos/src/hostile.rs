//! A hostile peer for `malicious_peer`: a turmoil host that speaks the wire protocol (the
//! net crate's own framing and messages) and misbehaves in one of [`Behaviour`]'s ways on
//! each connection it opens to an honest node.

use parking_lot::Mutex;
use parthenon_net::frame::{encode_frame, FrameDecoder};
use parthenon_net::message::{InvKind, Inventory, Message, PeerAddress, VersionMessage};
use parthenon_net::peer::PROTOCOL_VERSION;
use parthenon_net::transport::{BoxedStream, PeerSpec, Transport, TurmoilTransport};
use parthenon_primitives::{BlockHash, BlockHeader, Hash256, Network};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One way of misbehaving on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// A `version` of another network (main net's magic).
    WrongNetwork,
    /// Random bytes after the handshake.
    Garbage,
    /// Headers with the wrong difficulty bits.
    InvalidHeaders,
    /// Many `headers` messages of headers that connect to nothing.
    HeaderFlood,
    /// Many `addr` messages of 1,000 addresses each.
    AddrFlood,
    /// A transaction with a forged signature, offered by `inv` and sent on `getdata`.
    InvalidTx,
    /// The handshake's `version` sent again, several times.
    Replay,
    /// Asks for many blocks and never reads the answers.
    NonReading,
}

impl Behaviour {
    /// Every behaviour.
    pub const ALL: [Behaviour; 8] = [
        Behaviour::WrongNetwork,
        Behaviour::Garbage,
        Behaviour::InvalidHeaders,
        Behaviour::HeaderFlood,
        Behaviour::AddrFlood,
        Behaviour::InvalidTx,
        Behaviour::Replay,
        Behaviour::NonReading,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::WrongNetwork => "wrong network",
            Behaviour::Garbage => "garbage frames",
            Behaviour::InvalidHeaders => "invalid headers",
            Behaviour::HeaderFlood => "header flood",
            Behaviour::AddrFlood => "addr flood",
            Behaviour::InvalidTx => "invalid transaction",
            Behaviour::Replay => "replayed version",
            Behaviour::NonReading => "non-reading peer",
        }
    }
}

/// What the hostile peer did and saw, by kind.
pub type HostileStats = Arc<Mutex<BTreeMap<String, u64>>>;

fn count(stats: &HostileStats, kind: &str, n: u64) {
    *stats.lock().entry(kind.to_string()).or_default() += n;
}

/// One connection of the hostile peer.
struct Conn {
    stream: BoxedStream,
    decoder: FrameDecoder,
    pending: Vec<u8>,
    magic: [u8; 4],
}

impl Conn {
    async fn send(&mut self, m: &Message) -> std::io::Result<()> {
        self.stream.write_all(&encode_frame(self.magic, m)).await
    }

    /// The next message, `None` when the node closed the connection or sent nothing for
    /// `timeout`, or sent something this peer cannot decode.
    async fn recv(&mut self, timeout: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut buf = [0u8; 8192];
        loop {
            let taken = self.decoder.extend(&self.pending);
            self.pending.drain(..taken);
            match self.decoder.next_frame() {
                Ok(Some(f)) => return Message::decode(f.command.as_str(), &f.payload).ok(),
                Ok(None) if taken > 0 => continue,
                Ok(None) => {}
                Err(_) => return None,
            }
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => self.pending.extend_from_slice(&buf[..n]),
                _ => return None,
            }
        }
    }

    async fn handshake(&mut self, magic: [u8; 4], rng: &mut ChaCha8Rng) -> bool {
        let version = VersionMessage {
            version: PROTOCOL_VERSION,
            magic,
            services: 1,
            timestamp: 0,
            receiver: (Ipv4Addr::UNSPECIFIED, 0).into(),
            sender: (Ipv4Addr::UNSPECIFIED, 0).into(),
            nonce: rng.random(),
            user_agent: "/mallory:0.0/".into(),
            best_height: 0,
        };
        if self.send(&Message::Version(version)).await.is_err() {
            return false;
        }
        let (mut got_version, mut got_verack) = (false, false);
        while !(got_version && got_verack) {
            match self.recv(Duration::from_secs(10)).await {
                Some(Message::Version(_)) => {
                    got_version = true;
                    if self.send(&Message::Verack).await.is_err() {
                        return false;
                    }
                }
                Some(Message::Verack) => got_verack = true,
                Some(Message::Ping(n)) => {
                    let _ = self.send(&Message::Pong(n)).await;
                }
                Some(_) => {}
                None => return false,
            }
        }
        true
    }

    /// Reads (answering pings) until the node closes the connection or `limit` passes;
    /// whether the node closed it.
    async fn until_closed(&mut self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            let left = deadline - tokio::time::Instant::now();
            match self.recv(left).await {
                Some(Message::Ping(n)) => {
                    if self.send(&Message::Pong(n)).await.is_err() {
                        return true;
                    }
                }
                Some(_) => {}
                None => return tokio::time::Instant::now() < deadline,
            }
        }
        false
    }
}

fn random_header(rng: &mut ChaCha8Rng, bits: u32) -> BlockHeader {
    BlockHeader {
        version: 1,
        prev_hash: Hash256(rng.random()),
        merkle_root: Hash256(rng.random()),
        time: rng.random(),
        bits,
        nonce: rng.random(),
    }
}

/// Runs behaviour `b` against `target` once; counts what it sent and whether the node
/// closed the connection.
async fn attack(
    b: Behaviour,
    target: &str,
    port: u16,
    known_blocks: &[BlockHash],
    rng: &mut ChaCha8Rng,
    stats: &HostileStats,
) {
    let transport = TurmoilTransport::new().with_connect_timeout(Duration::from_secs(2));
    let Ok(c) = transport.dial(&PeerSpec::new(target, port)).await else {
        count(stats, "connections refused", 1);
        return;
    };
    let dev = Network::Dev.params().magic;
    let mut conn = Conn {
        stream: c.stream,
        decoder: FrameDecoder::new(dev),
        pending: Vec::new(),
        magic: dev,
    };
    let name = b.name();
    if b == Behaviour::WrongNetwork {
        let main = Network::Main.params().magic;
        conn.magic = main;
        let _ = conn.handshake(main, rng).await;
        count(stats, name, 1);
    } else {
        if !conn.handshake(dev, rng).await {
            count(stats, "handshakes refused", 1);
            return;
        }
        let sent = match b {
            Behaviour::WrongNetwork => 0,
            Behaviour::Garbage => {
                let len = rng.random_range(24..2_000);
                let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                let _ = conn.stream.write_all(&bytes).await;
                1
            }
            Behaviour::InvalidHeaders => {
                let headers = (0..5).map(|_| random_header(rng, 0x1d00_ffff)).collect();
                let _ = conn.send(&Message::Headers(headers)).await;
                1
            }
            Behaviour::HeaderFlood => {
                let bits = Network::Dev.params().pow_limit_bits;
                let mut n = 0;
                for _ in 0..20 {
                    let headers = (0..2_000).map(|_| random_header(rng, bits)).collect();
                    if conn.send(&Message::Headers(headers)).await.is_err() {
                        break;
                    }
                    n += 1;
                }
                n
            }
            Behaviour::AddrFlood => {
                let mut n = 0;
                for _ in 0..10 {
                    let addrs = (0..1_000)
                        .map(|_| PeerAddress {
                            time: 0,
                            services: 1,
                            ip: IpAddr::V4(Ipv4Addr::from(rng.random::<u32>())),
                            port: rng.random(),
                        })
                        .collect();
                    if conn.send(&Message::Addr(addrs)).await.is_err() {
                        break;
                    }
                    n += 1;
                }
                n
            }
            Behaviour::InvalidTx => invalid_tx(&mut conn, rng, stats).await,
            Behaviour::Replay => {
                let mut n = 0;
                for _ in 0..3 {
                    let version = VersionMessage {
                        version: PROTOCOL_VERSION,
                        magic: dev,
                        services: 1,
                        timestamp: 0,
                        receiver: (Ipv4Addr::UNSPECIFIED, 0).into(),
                        sender: (Ipv4Addr::UNSPECIFIED, 0).into(),
                        nonce: 7,
                        user_agent: "/mallory:0.0/".into(),
                        best_height: 0,
                    };
                    if conn.send(&Message::Version(version)).await.is_err() {
                        break;
                    }
                    n += 1;
                }
                n
            }
            Behaviour::NonReading => {
                let invs: Vec<Inventory> = known_blocks
                    .iter()
                    .map(|h| Inventory {
                        kind: InvKind::Block,
                        hash: *h,
                    })
                    .collect();
                let mut n = 0;
                let ask = Message::GetData(invs);
                // Never reads: the node's send queue to us fills up.
                for _ in 0..200 {
                    let write = conn.send(&ask);
                    match tokio::time::timeout(Duration::from_secs(2), write).await {
                        Ok(Ok(())) => n += 1,
                        _ => break,
                    }
                }
                n
            }
        };
        count(stats, name, sent);
    }
    if conn.until_closed(Duration::from_secs(20)).await {
        count(stats, "connections closed by the node", 1);
    }
}

/// Offers a transaction by `inv`; when asked for it, sends it with a forged signature.
async fn invalid_tx(conn: &mut Conn, rng: &mut ChaCha8Rng, stats: &HostileStats) -> u64 {
    use parthenon_primitives::{Asset, OutPoint, Transaction, TxIn, TxOut};
    let tx = Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint::new(Hash256(rng.random()), 0),
            signature: (0..64).map(|_| rng.random()).collect(),
            sequence: u32::MAX,
        }],
        outputs: vec![TxOut::to_key(Asset::Talanton, 1_000, rng.random())],
        lock_time: 0,
    };
    let inv = Inventory {
        kind: InvKind::Tx,
        hash: tx.txid(),
    };
    if conn.send(&Message::Inv(vec![inv])).await.is_err() {
        return 0;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        match conn.recv(Duration::from_secs(10)).await {
            Some(Message::GetData(items)) if items.contains(&inv) => {
                let _ = conn.send(&Message::Tx(tx)).await;
                return 2;
            }
            Some(Message::Ping(n)) => {
                let _ = conn.send(&Message::Pong(n)).await;
            }
            Some(_) => {}
            None => break,
        }
    }
    count(stats, "invalid transaction not requested", 1);
    1
}

/// The hostile host's program: `rounds` attacks, each a random behaviour against a random
/// one of `targets`, a random pause apart.
pub async fn run(
    seed: u64,
    targets: Vec<String>,
    port: u16,
    rounds: usize,
    known_blocks: Vec<BlockHash>,
    stats: HostileStats,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for _ in 0..rounds {
        let b = Behaviour::ALL[rng.random_range(0..Behaviour::ALL.len())];
        let target = targets[rng.random_range(0..targets.len())].clone();
        attack(b, &target, port, &known_blocks, &mut rng, &stats).await;
        count(&stats, "attacks", 1);
        let pause = rng.random_range(100..2_000);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    count(&stats, "finished", 1);
}

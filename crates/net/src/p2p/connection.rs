//! The I/O of one connection: a reader task that turns bytes into messages for the engine,
//! and a writer task that frames the engine's messages onto the stream. Neither decides
//! anything; the engine's [`Peer`](crate::peer::Peer) state machine does.
//!
//! Memory is bounded in bytes on both sides:
//! - **send**: the engine accounts every frame it queues in [`ConnBytes::queued`]; while that
//!   is over the connection's send budget the engine handles none of the peer's messages
//!   (it holds them, in order), as Bitcoin Core pauses a peer whose send buffer is full. The
//!   reader keeps reading until the held messages exhaust the connection's receive budget
//!   (below), and only then does TCP flow control slow the peer: like Core's separate
//!   receive-buffer pause, this lets two peers that both owe each other more than a send
//!   budget (two 4 MB blocks crossing) still read each other's data instead of deadlocking;
//! - **receive**: a frame's payload is refused from its header when it is larger than its
//!   command allows (before the handshake: larger than a `version`); a decoded message
//!   holds permits for its wire size from two semaphores until the engine is done with it —
//!   the connection's own receive budget (held while the engine defers the message) and the
//!   event queue's budget shared by all connections (released as soon as the engine takes
//!   the message out of the queue). A reader without permits waits, and TCP flow control
//!   slows its peer.

use super::counters::NetCounters;
use crate::frame::{encode_frame, FrameDecoder, FrameError, HEADER_LEN};
use crate::message::{Message, MessageError};
use crate::sync::PeerId;
use crate::transport::BoxedStream;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 64 * 1024;

/// A decoded message with the receive-budget permits it holds (released when dropped).
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) message: Message,
    /// This connection's receive budget: held until the engine has handled the message.
    _conn: OwnedSemaphorePermit,
    /// The event queue's shared budget: held while the message waits in the queue.
    queue: Option<OwnedSemaphorePermit>,
}

impl Received {
    /// Gives the event queue's share back: the message left the queue (the engine keeps
    /// it, on the connection's own budget, until it can handle it).
    pub(crate) fn leave_queue(&mut self) {
        self.queue = None;
    }

    /// The message, releasing both budgets.
    pub(crate) fn into_message(self) -> Message {
        self.message
    }
}

/// What a reader (or writer) task reports.
#[derive(Debug)]
pub(crate) enum ConnEvent {
    /// A decoded message.
    Message(Received),
    /// The byte stream broke the framing rules (the connection is then done).
    Frame(FrameError),
    /// A frame whose payload did not decode.
    BadMessage(MessageError),
    /// The peer closed the connection or the socket failed.
    Closed(Option<std::io::Error>),
    /// The send queue went from over its budget to within it: the engine may serve the
    /// peer's requests again.
    Drained,
}

/// Bytes moved and queued on one connection.
#[derive(Debug)]
pub(crate) struct ConnBytes {
    pub(crate) received: AtomicU64,
    pub(crate) sent: AtomicU64,
    /// Bytes of frames queued for the writer and not yet written.
    queued: AtomicUsize,
    /// Over this many queued bytes the connection is paused (see the module docs).
    send_budget: usize,
}

impl ConnBytes {
    fn new(send_budget: usize) -> Self {
        ConnBytes {
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            send_budget,
        }
    }

    /// Bytes queued for the writer and not yet written.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Whether the send queue is over its budget: the peer is not reading fast enough for
    /// more to be queued.
    pub(crate) fn over_budget(&self) -> bool {
        self.queued() > self.send_budget
    }
}

/// The budgets of a connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnLimits {
    /// Most frames queued to the writer; one more drops the peer.
    pub(crate) outbox_len: usize,
    /// Bytes queued to the writer over which the connection pauses.
    pub(crate) send_budget: usize,
    /// Bytes of decoded messages of this connection the engine holds or has queued.
    pub(crate) recv_budget: usize,
    /// The event queue's byte budget, shared by all connections.
    pub(crate) queue_budget: Arc<Semaphore>,
    /// Permits `queue_budget` has in all.
    pub(crate) queue_bytes: usize,
}

/// The engine's end of a connection's tasks.
#[derive(Debug)]
pub(crate) struct ConnTasks {
    /// Frames to send; bounded in number here and in bytes by [`ConnTasks::queue`].
    outbox: mpsc::Sender<Arc<Vec<u8>>>,
    pub(crate) bytes: Arc<ConnBytes>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

/// Why a frame could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueError {
    /// The outbox holds its maximum number of frames.
    Full,
    /// The writer is gone.
    Closed,
}

impl ConnTasks {
    /// Queues a frame for the writer, accounting its bytes.
    pub(crate) fn queue(&self, frame: Arc<Vec<u8>>) -> Result<(), QueueError> {
        let len = frame.len();
        self.bytes.queued.fetch_add(len, Ordering::AcqRel);
        self.outbox.try_send(frame).map_err(|e| {
            self.bytes.queued.fetch_sub(len, Ordering::AcqRel);
            match e {
                mpsc::error::TrySendError::Full(_) => QueueError::Full,
                mpsc::error::TrySendError::Closed(_) => QueueError::Closed,
            }
        })
    }

    /// Stops both tasks at once: what is still queued is dropped with the socket, so a
    /// dropped peer that does not read cannot keep its queue's memory alive.
    pub(crate) fn close(self) {
        self.reader.abort();
        self.writer.abort();
    }
}

/// Frames `message` for sending.
pub(crate) fn frame(magic: [u8; 4], message: &Message, counters: &NetCounters) -> Arc<Vec<u8>> {
    let bytes = encode_frame(magic, message);
    counters.record_sent(message.command(), bytes.len());
    Arc::new(bytes)
}

/// Permits for `bytes` from `budget`, never more than it has in all (so the largest message
/// always gets through an idle budget). `None` when the semaphore is closed.
async fn acquire(
    budget: &Arc<Semaphore>,
    bytes: usize,
    total: usize,
) -> Option<OwnedSemaphorePermit> {
    let n = bytes.clamp(1, total.max(1)) as u32;
    budget.clone().acquire_many_owned(n).await.ok()
}

/// Starts the reader and writer of a connection. Events go to `events` tagged with `id`.
pub(crate) fn spawn(
    id: PeerId,
    stream: BoxedStream,
    magic: [u8; 4],
    events: mpsc::Sender<(PeerId, ConnEvent)>,
    counters: Arc<NetCounters>,
    limits: ConnLimits,
) -> ConnTasks {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let bytes = Arc::new(ConnBytes::new(limits.send_budget));
    let (outbox, mut queue) = mpsc::channel::<Arc<Vec<u8>>>(limits.outbox_len.max(1));
    let wbytes = bytes.clone();
    let wevents = events.clone();
    let writer = tokio::spawn(async move {
        while let Some(frame) = queue.recv().await {
            if wr.write_all(&frame).await.is_err() {
                return;
            }
            wbytes.sent.fetch_add(frame.len() as u64, Ordering::Relaxed);
            let before = wbytes.queued.fetch_sub(frame.len(), Ordering::AcqRel);
            let after = before - frame.len();
            if after <= wbytes.send_budget && before > wbytes.send_budget {
                // A lost wake-up only delays: the engine's tick also resumes the peer.
                let _ = wevents.try_send((id, ConnEvent::Drained));
            }
            // Flush only when nothing else is queued, so bursts go out in few writes.
            if queue.is_empty() && wr.flush().await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let rbytes = bytes.clone();
    let conn_budget = Arc::new(Semaphore::new(limits.recv_budget.max(1)));
    let reader = tokio::spawn(async move {
        let mut decoder = FrameDecoder::awaiting_handshake(magic);
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = match rd.read(&mut buf).await {
                Ok(0) => {
                    let _ = events.send((id, ConnEvent::Closed(None))).await;
                    return;
                }
                Ok(n) => n,
                Err(e) => {
                    let _ = events.send((id, ConnEvent::Closed(Some(e)))).await;
                    return;
                }
            };
            rbytes.received.fetch_add(n as u64, Ordering::Relaxed);
            let mut chunk = &buf[..n];
            while !chunk.is_empty() {
                let taken = decoder.extend(chunk);
                chunk = &chunk[taken..];
                loop {
                    match decoder.next_frame() {
                        Ok(Some(frame)) => {
                            let command = frame.command.as_str();
                            let wire = HEADER_LEN + frame.payload.len();
                            counters.record_received(command, wire);
                            let event = match Message::decode(command, &frame.payload) {
                                Ok(message) => {
                                    drop(frame);
                                    // Waiting here is the backpressure: a busy engine (or
                                    // one holding this peer's messages) stops the reads,
                                    // and TCP flow control slows the peer.
                                    let Some(conn) =
                                        acquire(&conn_budget, wire, limits.recv_budget).await
                                    else {
                                        return;
                                    };
                                    let Some(queue) =
                                        acquire(&limits.queue_budget, wire, limits.queue_bytes)
                                            .await
                                    else {
                                        return;
                                    };
                                    counters.note_event_queue_bytes(
                                        limits.queue_bytes
                                            - limits.queue_budget.available_permits(),
                                    );
                                    ConnEvent::Message(Received {
                                        message,
                                        _conn: conn,
                                        queue: Some(queue),
                                    })
                                }
                                Err(e) => ConnEvent::BadMessage(e),
                            };
                            if events.send((id, event)).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = events.send((id, ConnEvent::Frame(e))).await;
                            return;
                        }
                    }
                }
            }
        }
    });
    ConnTasks {
        outbox,
        bytes,
        reader,
        writer,
    }
}

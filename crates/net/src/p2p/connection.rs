//! The I/O of one connection: a reader task that turns bytes into messages for the engine,
//! and a writer task that frames the engine's messages onto the stream. Neither decides
//! anything; the engine's [`Peer`](crate::peer::Peer) state machine does.

use super::counters::NetCounters;
use crate::frame::{encode_frame, FrameDecoder, FrameError, HEADER_LEN};
use crate::message::{Message, MessageError};
use crate::sync::PeerId;
use crate::transport::BoxedStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 64 * 1024;

/// What a reader task reports.
#[derive(Debug)]
pub(crate) enum ConnEvent {
    /// A decoded message.
    Message(Message),
    /// The byte stream broke the framing rules (the connection is then done).
    Frame(FrameError),
    /// A frame whose payload did not decode.
    BadMessage(MessageError),
    /// The peer closed the connection or the socket failed.
    Closed(Option<std::io::Error>),
}

/// Bytes moved on one connection.
#[derive(Debug, Default)]
pub(crate) struct ConnBytes {
    pub(crate) received: AtomicU64,
    pub(crate) sent: AtomicU64,
}

/// The engine's end of a connection's tasks.
#[derive(Debug)]
pub(crate) struct ConnTasks {
    /// Messages to send; bounded, so a peer that does not read cannot grow memory.
    pub(crate) outbox: mpsc::Sender<Arc<Vec<u8>>>,
    pub(crate) bytes: Arc<ConnBytes>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl ConnTasks {
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

/// Starts the reader and writer of a connection. Events go to `events` tagged with `id`;
/// the outbox holds at most `outbox_len` frames.
pub(crate) fn spawn(
    id: PeerId,
    stream: BoxedStream,
    magic: [u8; 4],
    events: mpsc::Sender<(PeerId, ConnEvent)>,
    counters: Arc<NetCounters>,
    outbox_len: usize,
) -> ConnTasks {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let bytes = Arc::new(ConnBytes::default());
    let (outbox, mut queue) = mpsc::channel::<Arc<Vec<u8>>>(outbox_len);
    let wbytes = bytes.clone();
    let writer = tokio::spawn(async move {
        while let Some(frame) = queue.recv().await {
            if wr.write_all(&frame).await.is_err() {
                return;
            }
            wbytes.sent.fetch_add(frame.len() as u64, Ordering::Relaxed);
            // Flush only when nothing else is queued, so bursts go out in few writes.
            if queue.is_empty() && wr.flush().await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let rbytes = bytes.clone();
    let reader = tokio::spawn(async move {
        let mut decoder = FrameDecoder::new(magic);
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
                            counters.record_received(command, HEADER_LEN + frame.payload.len());
                            let event = match Message::decode(command, &frame.payload) {
                                Ok(m) => ConnEvent::Message(m),
                                Err(e) => ConnEvent::BadMessage(e),
                            };
                            // Waiting here is the backpressure: a busy engine stops the
                            // reads, and TCP flow control slows the peer.
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

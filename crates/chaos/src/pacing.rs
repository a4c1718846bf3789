//! Bandwidth for the simulation: turmoil delivers a write of any size as one message, so
//! [`PacedTransport`] wraps a transport and paces what its connections send.
//!
//! A paced stream writes at most one [`SEGMENT`] at a time and, after writing `n` bytes,
//! accepts no more until `n / bytes_per_sec` of (simulated) time has passed; an optional
//! delay before each burst of writes models a peer that answers late. Reading is not
//! limited: the peer at the other end paces its own sending, or not.

use parthenon_net::transport::{
    AcceptGate, BoxedListener, BoxedStream, Connection, Listener, PeerSpec, Transport,
    TransportFuture,
};
use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Most bytes one paced write passes on (a TCP segment's payload).
pub const SEGMENT: usize = 1_460;

/// How a node's sending is limited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// Bytes per second the node's connections send, each.
    pub bytes_per_sec: u64,
    /// Wait before a write that follows a quiet spell (an answer), if any.
    pub answer_delay: Duration,
}

/// What the paced connections of one node did.
#[derive(Debug, Default)]
pub struct PaceStats {
    /// Bytes sent through paced connections.
    pub bytes: AtomicU64,
    /// Microseconds writers were held back by the pace.
    pub held_us: AtomicU64,
    /// Answers delayed by `answer_delay`.
    pub delayed_answers: AtomicU64,
}

/// A [`Transport`] whose connections send at a limited rate.
pub struct PacedTransport<T> {
    inner: T,
    pace: Pace,
    stats: Arc<PaceStats>,
}

impl<T: Transport> PacedTransport<T> {
    /// Wraps `inner`; every connection it makes or accepts sends at `pace`, and counts into
    /// `stats`.
    pub fn new(inner: T, pace: Pace, stats: Arc<PaceStats>) -> Self {
        PacedTransport { inner, pace, stats }
    }
}

fn wrap(c: Connection, pace: Pace, stats: &Arc<PaceStats>) -> Connection {
    Connection {
        stream: Box::new(PacedStream::new(c.stream, pace, stats.clone())),
        ..c
    }
}

impl<T: Transport> Transport for PacedTransport<T> {
    fn dial<'a>(&'a self, peer: &'a PeerSpec) -> TransportFuture<'a, Connection> {
        Box::pin(async move {
            let c = self.inner.dial(peer).await?;
            Ok(wrap(c, self.pace, &self.stats))
        })
    }

    /// Pacing has no handshake of its own: the wrapped transport asks the gate.
    fn bind_gated(
        &self,
        addr: SocketAddr,
        gate: Arc<dyn AcceptGate>,
    ) -> TransportFuture<'_, BoxedListener> {
        Box::pin(async move {
            let inner = self.inner.bind_gated(addr, gate).await?;
            Ok(Box::new(PacedListener {
                inner,
                pace: self.pace,
                stats: self.stats.clone(),
            }) as BoxedListener)
        })
    }
}

struct PacedListener {
    inner: BoxedListener,
    pace: Pace,
    stats: Arc<PaceStats>,
}

impl Listener for PacedListener {
    fn accept(&mut self) -> TransportFuture<'_, Connection> {
        Box::pin(async move {
            let c = self.inner.accept().await?;
            Ok(wrap(c, self.pace, &self.stats))
        })
    }

    fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }
}

/// A stream whose writes are paced (see the module documentation).
pub struct PacedStream {
    inner: BoxedStream,
    pace: Pace,
    stats: Arc<PaceStats>,
    /// Writes wait for this timer when it is set.
    hold: Option<Pin<Box<Sleep>>>,
    /// When the bytes written so far have gone out at the pace.
    next_free: Option<Instant>,
    /// When the last write went out (for the quiet spell that makes the next an answer).
    last_write: Option<Instant>,
}

impl PacedStream {
    /// Paces `inner` at `pace`.
    pub fn new(inner: BoxedStream, pace: Pace, stats: Arc<PaceStats>) -> Self {
        PacedStream {
            inner,
            pace,
            stats,
            hold: None,
            next_free: None,
            last_write: None,
        }
    }
}

/// How far a writer may run ahead of the pace (one timer step).
const SLACK: Duration = Duration::from_millis(1);
/// How much unused pace a writer that woke late may catch up.
const BURST: Duration = Duration::from_millis(10);

/// A write after this much silence is an answer (delayed by `answer_delay`).
const QUIET: Duration = Duration::from_millis(100);

impl AsyncRead for PacedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for PacedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.hold.is_none() && !this.pace.answer_delay.is_zero() {
            let quiet = this
                .last_write
                .is_none_or(|t| Instant::now().duration_since(t) >= QUIET);
            if quiet {
                this.stats.delayed_answers.fetch_add(1, Ordering::Relaxed);
                this.hold = Some(Box::pin(tokio::time::sleep(this.pace.answer_delay)));
                // Not quiet any more once the delay is over.
                this.last_write = Some(Instant::now() + this.pace.answer_delay);
            }
        }
        let now = Instant::now();
        if this.hold.is_none() {
            if let Some(t) = this.next_free.filter(|t| *t > now + SLACK) {
                this.hold = Some(Box::pin(tokio::time::sleep_until(t)));
            }
        }
        if let Some(hold) = this.hold.as_mut() {
            if hold.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.hold = None;
        }
        let n = buf.len().min(SEGMENT);
        let written = match Pin::new(&mut this.inner).poll_write(cx, &buf[..n]) {
            Poll::Ready(Ok(w)) => w,
            other => return other,
        };
        if written > 0 {
            // The pace is kept on average: timers have 1 ms steps, so a writer may run up to
            // SLACK ahead of the pace and a late wake-up keeps up to BURST of credit.
            let now = Instant::now();
            let secs = written as f64 / this.pace.bytes_per_sec.max(1) as f64;
            let wait = Duration::from_secs_f64(secs);
            let floor = now.checked_sub(BURST).unwrap_or(now);
            let start = this.next_free.map_or(now, |t| t.max(floor));
            let free = start + wait;
            this.stats
                .bytes
                .fetch_add(written as u64, Ordering::Relaxed);
            this.stats
                .held_us
                .fetch_add((free - now).as_micros() as u64, Ordering::Relaxed);
            this.next_free = Some(free);
            this.last_write = Some(free);
        }
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

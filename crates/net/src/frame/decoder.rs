//! The streaming frame decoder: bytes in, complete frames out, memory bounded.

use super::{checksum, Frame, FrameError, FrameHeader, HEADER_LEN};

/// Splits a byte stream into [`Frame`]s without doing any I/O.
///
/// The decoder holds at most one frame: [`extend`](Self::extend) takes bytes only up to the
/// end of the frame in progress and says how many it took, so it never buffers more than
/// [`HEADER_LEN`] + [`MAX_MESSAGE_SIZE`](super::MAX_MESSAGE_SIZE) bytes. The header is
/// checked as soon as its 24 bytes are in — a wrong magic, a bad command or a length over
/// what the command's largest valid message can be
/// ([`max_payload_len`](crate::message::max_payload_len)) is reported before a single payload
/// byte is taken — and the payload buffer grows with the bytes received, never with the
/// length a peer declares. A decoder made by [`awaiting_handshake`](Self::awaiting_handshake)
/// also caps every payload at [`MAX_HANDSHAKE_PAYLOAD`](super::MAX_HANDSHAKE_PAYLOAD) until a `version` and a `verack`
/// frame have come out of it, so a peer that has not introduced itself makes the
/// connection buffer a few hundred bytes, not a block. The checksum is checked
/// when the payload is complete. After an error the stream is out of step: the decoder takes
/// no more bytes and [`next_frame`](Self::next_frame) keeps returning the error.
///
/// A driver feeds each chunk it reads until the chunk is used up:
///
/// ```
/// use parthenon_net::{encode_frame, FrameDecoder, FrameError, Message};
///
/// let magic = parthenon_primitives::Network::Dev.params().magic;
/// let mut stream = encode_frame(magic, &Message::Ping(7));
/// stream.extend(encode_frame(magic, &Message::Verack));
///
/// let mut decoder = FrameDecoder::new(magic);
/// let mut received = Vec::new();
/// let mut chunk: &[u8] = &stream;
/// while !chunk.is_empty() {
///     let taken = decoder.extend(chunk);
///     chunk = &chunk[taken..];
///     while let Some(frame) = decoder.next_frame()? {
///         let message = Message::decode(frame.command.as_str(), &frame.payload);
///         received.push(message.expect("a valid message"));
///     }
/// }
/// assert_eq!(received, [Message::Ping(7), Message::Verack]);
/// # Ok::<(), FrameError>(())
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    magic: [u8; 4],
    header: [u8; HEADER_LEN],
    header_filled: usize,
    body: Option<Body>,
    error: Option<FrameError>,
    /// Until both are true (for a decoder [`awaiting_handshake`](Self::awaiting_handshake)),
    /// payloads are capped at [`MAX_HANDSHAKE_PAYLOAD`](super::MAX_HANDSHAKE_PAYLOAD).
    seen_version: bool,
    seen_verack: bool,
}

/// The frame in progress once its header is accepted.
#[derive(Debug)]
struct Body {
    header: FrameHeader,
    payload: Vec<u8>,
}

impl FrameDecoder {
    /// A decoder for a network whose frames start with `magic`, with each command's own
    /// payload limit.
    pub fn new(magic: [u8; 4]) -> FrameDecoder {
        FrameDecoder {
            magic,
            header: [0; HEADER_LEN],
            header_filled: 0,
            body: None,
            error: None,
            seen_version: true,
            seen_verack: true,
        }
    }

    /// A decoder for a connection that has just opened: until a `version` frame and a
    /// `verack` frame have been decoded, every payload is capped at [`MAX_HANDSHAKE_PAYLOAD`](super::MAX_HANDSHAKE_PAYLOAD)
    /// (an oversized frame is [`FrameError::Oversized`]); after that, as [`new`](Self::new).
    pub fn awaiting_handshake(magic: [u8; 4]) -> FrameDecoder {
        FrameDecoder {
            seen_version: false,
            seen_verack: false,
            ..FrameDecoder::new(magic)
        }
    }

    /// Whether payloads are still capped at [`MAX_HANDSHAKE_PAYLOAD`](super::MAX_HANDSHAKE_PAYLOAD).
    pub fn in_handshake(&self) -> bool {
        !(self.seen_version && self.seen_verack)
    }

    /// Takes bytes from the front of `bytes`, up to the end of the frame in progress, and
    /// returns how many it took. It takes none while a complete frame waits for
    /// [`next_frame`](Self::next_frame) or after an error; the caller offers the rest again
    /// after calling `next_frame`.
    #[must_use = "the bytes not taken must be offered again"]
    pub fn extend(&mut self, bytes: &[u8]) -> usize {
        let mut taken = 0;
        while self.error.is_none() {
            let rest = &bytes[taken..];
            match &mut self.body {
                None => {
                    let n = (HEADER_LEN - self.header_filled).min(rest.len());
                    self.header[self.header_filled..self.header_filled + n]
                        .copy_from_slice(&rest[..n]);
                    self.header_filled += n;
                    taken += n;
                    if self.header_filled < HEADER_LEN {
                        break;
                    }
                    let handshake = self.in_handshake();
                    match FrameHeader::parse(&self.header, self.magic, handshake) {
                        Ok(header) => {
                            self.body = Some(Body {
                                header,
                                payload: Vec::new(),
                            })
                        }
                        Err(e) => self.error = Some(e),
                    }
                }
                Some(body) => {
                    let n = (body.header.len - body.payload.len()).min(rest.len());
                    body.payload.extend_from_slice(&rest[..n]);
                    taken += n;
                    break;
                }
            }
        }
        taken
    }

    /// The next complete frame: `Ok(None)` while more bytes are needed, an error if the
    /// stream is not valid framing (and from then on).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let Body { header, payload } = match self.body.take() {
            Some(body) if body.payload.len() == body.header.len => body,
            in_progress => {
                self.body = in_progress;
                return Ok(None);
            }
        };
        self.header_filled = 0;
        let computed = checksum(&payload);
        if computed != header.checksum {
            let e = FrameError::BadChecksum {
                declared: header.checksum,
                computed,
            };
            self.error = Some(e.clone());
            return Err(e);
        }
        match header.command.as_str() {
            "version" => self.seen_version = true,
            "verack" => self.seen_verack = true,
            _ => {}
        }
        Ok(Some(Frame {
            command: header.command,
            payload,
        }))
    }

    /// Bytes held for the frame in progress (header and payload so far).
    pub fn buffered(&self) -> usize {
        self.header_filled + self.body.as_ref().map_or(0, |b| b.payload.len())
    }
}

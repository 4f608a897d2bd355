//! Length-prefixed frames on a QUIC stream: a 4-byte big-endian length, then that many
//! bytes of an opaque message (postcard, encoded by the layer above).
//!
//! A frame is read as its bytes arrive, never allocated up front from the announced
//! length, so a peer that announces a large frame and sends nothing costs nothing; and a
//! length above the maximum stops the stream before any payload is read.

use quinn::RecvStream;

/// Application error code sent when a stream is stopped for an oversized frame.
pub const STOP_OVERSIZED: u32 = 1;

/// What reading one frame gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// A whole message.
    Frame(Vec<u8>),
    /// The stream ended cleanly between frames, or the connection went away.
    End,
    /// The peer announced a frame of this many bytes, over the maximum.
    Oversized(u64),
    /// The stream ended in the middle of a frame.
    Truncated,
}

/// The 4-byte length that starts `message`'s frame.
pub fn length(message: &[u8]) -> [u8; 4] {
    u32::try_from(message.len()).unwrap_or(u32::MAX).to_be_bytes()
}

/// Read one frame of at most `max` bytes.
pub async fn read(stream: &mut RecvStream, max: usize) -> Read {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < header.len() {
        match stream.read(&mut header[got..]).await {
            Ok(Some(n)) => got += n,
            Ok(None) if got == 0 => return Read::End,
            Ok(None) => return Read::Truncated,
            Err(_) => return Read::End,
        }
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        return Read::Oversized(len as u64);
    }
    let mut message = Vec::with_capacity(len.min(64 << 10));
    while message.len() < len {
        match stream.read_chunk(len - message.len(), true).await {
            Ok(Some(chunk)) => message.extend_from_slice(&chunk.bytes),
            Ok(None) => return Read::Truncated,
            Err(_) => return Read::End,
        }
    }
    Read::Frame(message)
}

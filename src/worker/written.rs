//! What the current connection wrote of what was accepted, for the
//! accounting: how far into the initial message it is, and its last
//! write, taken back at the close if its bytes never reached the socket
//! (TLS records still queued).

use super::session::Session;

/// The last write that took bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct LastWrite {
    /// From the initial message (else the inbox or the kept window).
    pub initial: bool,
    /// Of it, counted as resent.
    pub resent: u64,
    /// With reconnect, the furthest offset written before it.
    pub max_before: u64,
}

/// What the current connection wrote.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Written {
    /// Initial message bytes written on this connection.
    initial_pos: usize,
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    last: LastWrite,
    /// Bytes counted as sent that the transport never wrote (set at the
    /// close; without reconnect, unsent at the end).
    unflushed: u64,
}

impl Written {
    /// A new connection writes the initial message from its start.
    pub(super) fn connected(&mut self) {
        self.initial_pos = 0;
        self.last = LastWrite::default();
    }

    pub(super) fn initial_pos(&self) -> usize {
        self.initial_pos
    }

    pub(super) fn unflushed(&self) -> u64 {
        self.unflushed
    }

    /// Records a write of `n` bytes, from the initial message if
    /// `initial`. With reconnect the session's offsets move, and bytes
    /// written on an earlier connection count as resent: returns those.
    pub(super) fn wrote(&mut self, initial: bool, n: usize, session: Option<&mut Session>) -> u64 {
        let (resent, max_before) = match session {
            // The initial message again, on a new connection.
            Some(s) if initial => s.wrote_initial(self.initial_pos as u64, n),
            Some(s) => s.wrote(n),
            None => (0, 0),
        };
        if initial {
            self.initial_pos += n;
        }
        // Only TLS can leave taken bytes off the socket.
        #[cfg(feature = "tls")]
        if n > 0 {
            self.last = LastWrite {
                initial,
                resent,
                max_before,
            };
        }
        let _ = max_before;
        resent
    }

    /// At the close: the last write's `n` bytes never reached the socket.
    /// They are not written: with reconnect neither written nor resent
    /// (they go out again as new), without it unsent. Returns how many of
    /// them had counted as resent.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(super) fn take_back(&mut self, n: usize, session: Option<&mut Session>) -> u64 {
        let last = self.last;
        if last.initial {
            self.initial_pos -= n;
        }
        match session {
            Some(s) => s.take_back(last, n),
            None => {
                if !last.initial {
                    self.unflushed = n as u64;
                }
                0
            }
        }
    }
}

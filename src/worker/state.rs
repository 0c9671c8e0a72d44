//! The connection's state (whether there is one, and each side on its
//! own), and the end-of-connection decision as a pure function of that
//! state and a few facts, unit-tested here.

use std::fmt;
use std::time::Instant;

use crate::message::Reason;

/// The write side of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WriteState {
    /// Taking chunks from the inbox and writing them (the inbox may still
    /// close under it when the server closes: then it flushes what it has).
    Open,
    /// `ProducerFinished`: the inbox is closed, what it accepted is still
    /// being written; then the half-close.
    Draining,
    /// Our FIN is sent. Reading goes on until the server closes, or until
    /// it has sent nothing for the linger time (the linger's idle clock:
    /// [`super::deadlines::Deadlines`]). With reconnect, the end also
    /// waits for everything to be delivered.
    HalfClosed,
    /// With reconnect: the server closed its side. Nothing more is written
    /// on this connection (what is left goes on the next one); it ends once
    /// what is in flight is delivered, or at `until` (the linger).
    Settling { until: Option<Instant> },
}

/// The read side of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadState {
    /// Reading whenever the outbox has room.
    Open,
    /// The server closed its side (end of stream).
    Eof,
}

/// Whether there is a connection: the outer state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Link {
    /// The connect phase: resolving, connect attempts.
    Connecting,
    /// Connected: the write and read sides apply.
    Connected,
    /// With reconnect: waiting before connect attempt `attempt`, until
    /// `until` (`None`: a wait too long for the clock).
    Backoff {
        attempt: u32,
        until: Option<Instant>,
    },
}

/// The connection's state: whether there is one, and each side on its own.
/// It changes in one place, `Worker::set_state`, which logs every
/// transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct State {
    pub link: Link,
    pub write: WriteState,
    pub read: ReadState,
}

impl State {
    pub const START: State = State {
        link: Link::Connecting,
        write: WriteState::Open,
        read: ReadState::Open,
    };

    /// A connection that just came up.
    pub const CONNECTED: State = State {
        link: Link::Connected,
        write: WriteState::Open,
        read: ReadState::Open,
    };

    /// Bytes accepted may still be written on this connection (not
    /// half-closed, not settling).
    pub fn writing(self) -> bool {
        matches!(self.write, WriteState::Open | WriteState::Draining)
    }

    pub fn reading(self) -> bool {
        self.read == ReadState::Open
    }

    /// We sent our FIN and the server sent its own.
    pub fn both_closed(self) -> bool {
        self.write == WriteState::HalfClosed && self.read == ReadState::Eof
    }
}

/// Short names for the log's transition lines: `link/write/read`, with a
/// backoff's attempt number (a hand-written `Display`: smaller than the
/// derived `Debug` of the nested enums and their deadlines).
impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let link = match self.link {
            Link::Connecting => "connecting",
            Link::Connected => "connected",
            Link::Backoff { .. } => "backoff",
        };
        let write = match self.write {
            WriteState::Open => "open",
            WriteState::Draining => "draining",
            WriteState::HalfClosed => "half-closed",
            WriteState::Settling { .. } => "settling",
        };
        let read = match self.read {
            ReadState::Open => "open",
            ReadState::Eof => "eof",
        };
        write!(f, "{link}/{write}/{read}")?;
        if let Link::Backoff { attempt, .. } = self.link {
            write!(f, " (attempt {attempt})")?;
        }
        Ok(())
    }
}

/// What the worker knows when it asks whether the connection is over.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct EndFacts {
    /// With reconnect (the kept window decides, not the inbox).
    pub reconnect: bool,
    /// Everything accepted is written and nothing more will be accepted.
    pub drained: bool,
    /// With reconnect: everything written on this connection is delivered
    /// (acknowledged, or confirmed by the application).
    pub delivered: bool,
    /// The linger ran out: after our half-close, the server sent nothing
    /// for the linger time; while settling, its `until` passed.
    pub linger_over: bool,
}

/// The end-of-connection decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// Not over.
    Continue,
    /// Over, with this reason.
    Close(Reason),
    /// With reconnect, after our half-close: the linger ran out before
    /// everything sent was acknowledged (an error of the shutdown phase).
    LingerUndelivered,
}

/// Whether the connection is over. Without reconnect: once the server
/// closed and everything is written (finished after our half-close, "peer
/// closed" before it), or when the linger runs out after our half-close.
/// With reconnect a connection ends once what is in flight is delivered,
/// or when the linger runs out: after our half-close that is the finished
/// transfer (or, with something not delivered, a connection to give up
/// on); after the server closed first, the component reconnects unless
/// everything is delivered (that is decided after the connection).
pub(super) fn end_of_connection(state: State, f: EndFacts) -> End {
    if f.reconnect {
        return match state.write {
            WriteState::Open | WriteState::Draining => End::Continue,
            WriteState::HalfClosed => {
                if f.delivered && state.read == ReadState::Eof {
                    End::Close(Reason::Finished)
                } else if f.delivered && f.linger_over {
                    // The server went quiet without closing: its reply may
                    // be cut short.
                    End::Close(Reason::Linger)
                } else if f.linger_over {
                    End::LingerUndelivered
                } else {
                    End::Continue
                }
            }
            WriteState::Settling { .. } if f.delivered || f.linger_over => {
                End::Close(Reason::PeerClosed)
            }
            WriteState::Settling { .. } => End::Continue,
        };
    }
    let half_closed = !state.writing();
    if f.drained && state.read == ReadState::Eof {
        return End::Close(if half_closed {
            Reason::Finished
        } else {
            Reason::PeerClosed
        });
    }
    if half_closed && f.linger_over {
        return End::Close(Reason::Linger);
    }
    End::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(write: WriteState, read: ReadState) -> State {
        State {
            link: Link::Connected,
            write,
            read,
        }
    }

    fn plain(drained: bool, linger_over: bool) -> EndFacts {
        EndFacts {
            drained,
            linger_over,
            ..EndFacts::default()
        }
    }

    fn kept(delivered: bool, linger_over: bool) -> EndFacts {
        EndFacts {
            reconnect: true,
            delivered,
            linger_over,
            ..EndFacts::default()
        }
    }

    const SETTLING: WriteState = WriteState::Settling { until: None };

    #[test]
    fn test_open_eof_drained_is_peer_closed() {
        let s = state(WriteState::Open, ReadState::Eof);
        assert_eq!(
            end_of_connection(s, plain(true, false)),
            End::Close(Reason::PeerClosed)
        );
    }

    #[test]
    fn test_open_eof_not_drained_continues() {
        // What is queued is still flushed after the server closed.
        let s = state(WriteState::Open, ReadState::Eof);
        assert_eq!(end_of_connection(s, plain(false, false)), End::Continue);
    }

    #[test]
    fn test_half_closed_eof_drained_is_finished() {
        let s = state(WriteState::HalfClosed, ReadState::Eof);
        assert_eq!(
            end_of_connection(s, plain(true, false)),
            End::Close(Reason::Finished)
        );
    }

    #[test]
    fn test_half_closed_linger_over_is_linger() {
        let s = state(WriteState::HalfClosed, ReadState::Open);
        assert_eq!(
            end_of_connection(s, plain(true, true)),
            End::Close(Reason::Linger)
        );
        assert_eq!(end_of_connection(s, plain(true, false)), End::Continue);
    }

    #[test]
    fn test_draining_linger_over_continues() {
        // The linger only runs after our half-close.
        let s = state(WriteState::Draining, ReadState::Open);
        assert_eq!(end_of_connection(s, plain(false, true)), End::Continue);
    }

    #[test]
    fn test_reconnect_open_continues_whatever_the_facts() {
        for w in [WriteState::Open, WriteState::Draining] {
            let s = state(w, ReadState::Open);
            assert_eq!(end_of_connection(s, kept(true, true)), End::Continue);
        }
    }

    #[test]
    fn test_reconnect_half_closed_eof_delivered_is_finished() {
        let s = state(WriteState::HalfClosed, ReadState::Eof);
        assert_eq!(
            end_of_connection(s, kept(true, false)),
            End::Close(Reason::Finished)
        );
        // Not delivered yet: wait for the acknowledgements.
        assert_eq!(end_of_connection(s, kept(false, false)), End::Continue);
    }

    #[test]
    fn test_reconnect_half_closed_linger_over() {
        let s = state(WriteState::HalfClosed, ReadState::Open);
        assert_eq!(
            end_of_connection(s, kept(true, true)),
            End::Close(Reason::Linger)
        );
        assert_eq!(
            end_of_connection(s, kept(false, true)),
            End::LingerUndelivered
        );
    }

    #[test]
    fn test_reconnect_settling_ends_when_delivered_or_over() {
        let s = state(SETTLING, ReadState::Eof);
        assert_eq!(
            end_of_connection(s, kept(true, false)),
            End::Close(Reason::PeerClosed)
        );
        assert_eq!(
            end_of_connection(s, kept(false, true)),
            End::Close(Reason::PeerClosed)
        );
        assert_eq!(end_of_connection(s, kept(false, false)), End::Continue);
    }

    #[test]
    fn test_state_sides() {
        assert!(State::CONNECTED.writing() && State::CONNECTED.reading());
        assert!(!state(SETTLING, ReadState::Eof).writing());
        assert!(state(WriteState::HalfClosed, ReadState::Eof).both_closed());
        assert!(!state(SETTLING, ReadState::Eof).both_closed());
    }
}

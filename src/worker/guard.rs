//! The worker's promise: exactly one final `SocketShutdown`, with the
//! boxes closed, whether it ends normally or unwinds.

use std::io;

use crate::databox::Boxes;
use crate::message::{Error, Phase, Reason, ShutdownReport, Signal};

/// Delivers the final signal exactly once: from `finish`, or from `drop` if
/// the worker unwound.
pub(super) struct FinalGuard<'a> {
    boxes: &'a Boxes,
    done: bool,
}

impl<'a> FinalGuard<'a> {
    pub(super) fn new(boxes: &'a Boxes) -> FinalGuard<'a> {
        FinalGuard { boxes, done: false }
    }

    pub(super) fn finish(&mut self, report: ShutdownReport) {
        self.done = true;
        let b = self.boxes;
        b.inbox.close();
        b.outbox.close();
        b.core.set_final(report.clone());
        // The worker keeps one slot free for this (see `Worker::signal`).
        if b.signal.try_send(Signal::SocketShutdown(report)).is_err() {
            log::error!("signal outbox full: final SocketShutdown not delivered");
        }
        b.signal.close();
    }
}

impl Drop for FinalGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut report = ShutdownReport::new(Reason::Error);
            report.error = Some(Error::new(
                Phase::Shutdown,
                io::ErrorKind::Other,
                "worker panicked",
            ));
            self.finish(report);
        }
    }
}

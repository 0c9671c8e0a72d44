//! The system resolver (`getaddrinfo` through std) on a short-lived helper
//! thread, so that the worker can stop waiting for it.
//!
//! The helper gets the host name, the port, its own descriptor for the
//! worker's wake eventfd and a shared result slot; nothing of the
//! connection. The worker sleeps in `poll` on the eventfd. When the helper
//! is done it puts its result in the slot and, if the worker still waits,
//! notifies the eventfd; the worker then joins the helper, which has only
//! its return left. If the worker has gone (`Shutdown`, `Abort`, the time
//! limit) the slot says so, and the result is dropped with the thread,
//! which nobody joins.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::{failed, timed_out, wait};
use crate::message::Failure;
use crate::message::Phase;
use crate::sys::{self, EventFd};
use crate::wake::Core;

/// The helper's stack. glibc's `getaddrinfo` sizes its `alloca` buffers
/// by the thread's stack and NSS modules add their own frames; musl's
/// needs a few KiB. Only the pages touched are ever backed by memory.
const HELPER_STACK: usize = 128 * 1024;

/// What the worker and the helper share.
#[derive(Default)]
struct Slot {
    result: Option<io::Result<Vec<SocketAddr>>>,
    /// The worker sleeps on the eventfd (or is about to): notify it.
    waiting: bool,
    /// The worker stopped waiting: drop the result.
    abandoned: bool,
}

type Shared = Arc<Mutex<Slot>>;

fn lock(slot: &Shared) -> std::sync::MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `getaddrinfo(host)` on a helper thread, waited for until `until`.
pub(super) fn lookup(
    core: &Core,
    host: &str,
    port: u16,
    until: Option<Instant>,
) -> Result<Vec<SocketAddr>, Failure> {
    let host = host.to_owned();
    let result = run_on_helper(core, until, move || {
        (host.as_str(), port)
            .to_socket_addrs()
            .map(|addrs| addrs.collect())
    });
    match result {
        Ok(Ok(addrs)) => Ok(addrs),
        // Resolver failures other than OS errors come without an errno and
        // an uncategorised kind: call them "not found".
        Ok(Err(e)) if e.raw_os_error().is_none() => {
            Err(failed(io::ErrorKind::NotFound, e.to_string()))
        }
        Ok(Err(e)) => Err(Failure::Failed(Phase::Resolve, e)),
        Err(f) => Err(f),
    }
}

/// Runs `job` on a helper thread and waits for its result, the time limit
/// or a stop, whichever comes first.
fn run_on_helper(
    core: &Core,
    until: Option<Instant>,
    job: impl FnOnce() -> io::Result<Vec<SocketAddr>> + Send + 'static,
) -> Result<io::Result<Vec<SocketAddr>>, Failure> {
    let wake = core
        .wake_fd()
        .try_clone()
        .map_err(|e| Failure::Failed(Phase::Resolve, e))?;
    let slot: Shared = Arc::default();
    let theirs = Arc::clone(&slot);
    let handle = std::thread::Builder::new()
        .name("ttc-resolve".into())
        .stack_size(HELPER_STACK)
        .spawn(move || helper(job, &theirs, &wake))
        .map_err(|e| {
            Failure::Failed(
                Phase::Resolve,
                io::Error::new(e.kind(), format!("no thread for the resolver: {e}")),
            )
        })?;
    loop {
        {
            let mut s = lock(&slot);
            if let Some(r) = s.result.take() {
                s.waiting = false;
                drop(s);
                settle(core);
                // All the helper has left to do is unlock and return: wait
                // for it, so that no thread of ours outlives a lookup that
                // was waited for to its end (an abandoned one is left to
                // finish on its own).
                let _ = handle.join();
                return Ok(r);
            }
            s.waiting = true;
        }
        match wait(core, -1, false, false, until) {
            Ok(Some(_)) => {}
            Ok(None) => {
                abandon(core, &slot);
                return Err(timed_out("the system resolver did not answer in time"));
            }
            Err(f) => {
                abandon(core, &slot);
                return Err(f);
            }
        }
    }
}

fn helper(job: impl FnOnce() -> io::Result<Vec<SocketAddr>>, slot: &Shared, wake: &EventFd) {
    let r = job();
    let mut s = lock(slot);
    if s.abandoned {
        log::debug!("abandoned lookup finished; result dropped");
        return;
    }
    s.result = Some(r);
    // Under the lock: once the worker has cleared `waiting`, no notify
    // can follow.
    if s.waiting {
        wake.notify();
    }
}

/// Tells the helper nobody waits any more.
fn abandon(core: &Core, slot: &Shared) {
    {
        let mut s = lock(slot);
        s.abandoned = true;
        s.waiting = false;
    }
    settle(core);
}

/// Takes back a notify the helper may have made after the worker's last
/// drain, so the data path does not start with a stale wake-up. (A
/// control message's wake drained here is not lost: the control byte is
/// looked at before every sleep.)
fn settle(core: &Core) {
    let zero = Some(std::time::Duration::ZERO);
    if let Ok(r) = sys::poll(-1, false, false, core.wake_fd(), zero) {
        if r.woken {
            core.wake_fd().drain();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Control, Reason};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    fn core() -> Arc<Core> {
        Arc::new(Core::new(Duration::ZERO).unwrap())
    }

    #[test]
    fn test_helper_result_wakes_the_worker() {
        let core = core();
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let t0 = Instant::now();
        let r = run_on_helper(&core, Some(t0 + Duration::from_secs(10)), move || {
            std::thread::sleep(Duration::from_millis(20));
            Ok(vec![addr])
        });
        assert!(matches!(r, Ok(Ok(ref v)) if v == &[addr]));
        assert!(t0.elapsed() < Duration::from_secs(5));
        // No stale wake-up left for the data path.
        let r = sys::poll(-1, false, false, core.wake_fd(), Some(Duration::ZERO)).unwrap();
        assert!(!r.woken);
    }

    #[test]
    fn test_shutdown_abandons_a_slow_lookup_at_once_and_drops_its_result() {
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let core = core();
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Flag(Arc::clone(&dropped));
        let (release, gate) = mpsc::channel::<()>();
        let (started_tx, started) = mpsc::channel::<()>();
        let stopper = Arc::clone(&core);
        let (stop_at_tx, stop_at) = mpsc::channel();
        let t = std::thread::spawn(move || {
            started.recv().unwrap();
            stop_at_tx.send(Instant::now()).unwrap();
            stopper.send_control(Control::Shutdown);
        });
        let r = run_on_helper(&core, None, move || {
            started_tx.send(()).unwrap();
            // Blocks like a getaddrinfo that never returns, until released.
            let _ = gate.recv_timeout(Duration::from_secs(10));
            drop(flag);
            Ok(Vec::new())
        });
        let ended = Instant::now();
        t.join().unwrap();
        assert!(matches!(r, Err(Failure::Stopped(Reason::Shutdown))));
        let took = ended - stop_at.recv().unwrap();
        assert!(took < Duration::from_secs(2), "stop took {took:?}");
        // The helper is still blocked; released, it ends on its own.
        assert!(!dropped.load(Ordering::SeqCst));
        release.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dropped.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(dropped.load(Ordering::SeqCst), "the helper never finished");
    }

    #[test]
    fn test_time_limit_ends_the_wait() {
        let core = core();
        let t0 = Instant::now();
        let r = run_on_helper(&core, Some(t0 + Duration::from_millis(100)), || {
            std::thread::sleep(Duration::from_millis(1500));
            Ok(Vec::new())
        });
        let took = t0.elapsed();
        match r {
            Err(Failure::Failed(Phase::Resolve, e)) => {
                assert_eq!(e.kind(), io::ErrorKind::TimedOut)
            }
            _ => panic!("not a resolve timeout"),
        }
        assert!(
            took >= Duration::from_millis(100) && took < Duration::from_secs(1),
            "{took:?}"
        );
    }

    #[test]
    fn test_system_lookup_of_a_literal_and_of_localhost() {
        let core = core();
        let until = Some(Instant::now() + Duration::from_secs(10));
        let v = lookup(&core, "127.0.0.1", 80, until).ok().unwrap();
        assert_eq!(v, vec!["127.0.0.1:80".parse::<SocketAddr>().unwrap()]);
        let v = lookup(&core, "localhost", 80, until).ok().unwrap();
        assert!(
            v.iter().all(|a| a.ip().is_loopback()) && !v.is_empty(),
            "{v:?}"
        );
    }
}

//! The few OS calls std does not offer: an `eventfd` to wake the worker, a
//! blocking `poll(2)` over the (blocking) socket and that eventfd, the
//! number of CPUs this thread may run on, and for the resolver: random
//! bytes (`getrandom`) and an interface's index (`if_nametoindex`).
//!
//! This is the only module with `unsafe` code. Every call checks its result;
//! nothing here changes the socket's blocking mode.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A counter file descriptor: `notify` makes it readable, `drain` resets it.
#[derive(Debug)]
pub(crate) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub(crate) fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new
        // descriptor that we own from here on.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh, valid descriptor owned by nobody else.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Adds one to the counter, waking a `poll` on it.
    pub(crate) fn notify(&self) {
        let one: u64 = 1;
        loop {
            // SAFETY: writes 8 bytes from a live u64 to our own descriptor.
            let r = unsafe {
                libc::write(
                    self.fd.as_raw_fd(),
                    (&one as *const u64).cast(),
                    core::mem::size_of::<u64>(),
                )
            };
            // EAGAIN cannot happen on a blocking eventfd short of 2^64-1
            // notifies; EINTR is retried. Anything else leaves the counter
            // readable or is unrecoverable, and the worker's own deadlines
            // still bound how long it sleeps.
            if r >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return;
            }
        }
    }

    /// Resets the counter to zero (called only after poll said readable, so
    /// the read does not block).
    pub(crate) fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own descriptor.
        let _ = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut v as *mut u64).cast(),
                core::mem::size_of::<u64>(),
            )
        };
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// A second descriptor for the same eventfd (`dup`): notifying either
    /// wakes a `poll` on the other. The resolver's helper thread holds one,
    /// so it never needs the connection's state to wake the worker.
    pub(crate) fn try_clone(&self) -> io::Result<EventFd> {
        Ok(EventFd {
            fd: self.fd.try_clone()?,
        })
    }
}

/// What `poll` reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ready {
    /// The socket has data, end of stream, or an error to read.
    pub readable: bool,
    /// The socket has room to write, or an error to report.
    pub writable: bool,
    /// The socket is closed both ways or has an error (POLLHUP/POLLERR).
    pub hangup: bool,
    /// The eventfd was notified.
    pub woken: bool,
}

/// Blocks until the socket is ready for what is asked, the eventfd is
/// notified, or `timeout` passes (`None`: no limit). With neither `read`
/// nor `write` the socket is left out entirely, so a hung-up socket cannot
/// make poll return at once again and again.
pub(crate) fn poll(
    sock: RawFd,
    read: bool,
    write: bool,
    wake: &EventFd,
    timeout: Option<Duration>,
) -> io::Result<Ready> {
    let mut events: libc::c_short = 0;
    if read {
        events |= libc::POLLIN;
    }
    if write {
        events |= libc::POLLOUT;
    }
    let mut fds = [
        libc::pollfd {
            fd: if read || write { sock } else { -1 },
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.raw(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ms: libc::c_int = match timeout {
        None => -1,
        // Round up so a short wait never becomes a busy zero-timeout poll.
        Some(d) => d.as_micros().div_ceil(1000).min(libc::c_int::MAX as u128) as libc::c_int,
    };
    // SAFETY: `fds` is a live array of two pollfd for the whole call.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(Ready::default());
        }
        return Err(e);
    }
    let s = fds[0].revents;
    let bad = s & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0;
    Ok(Ready {
        readable: s & libc::POLLIN != 0 || (read && bad),
        writable: s & libc::POLLOUT != 0 || (write && bad),
        hangup: bad,
        woken: fds[1].revents & libc::POLLIN != 0,
    })
}

/// How many CPUs the calling thread may run on (its affinity mask), at
/// least 1. std's `available_parallelism` also reads cgroup quotas, and
/// that parsing costs 16 KiB of binary on armv7; the mask is all the
/// receive spin needs to know (is there another CPU for the worker).
pub(crate) fn cpu_count() -> usize {
    // SAFETY: cpu_set_t is plain data; all zeroes is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the kernel writes at most size_of::<cpu_set_t>() bytes into
    // the live `set`; pid 0 is the calling thread.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return 1;
    }
    // SAFETY: reads the set the kernel has just filled in.
    let n = unsafe { libc::CPU_COUNT(&set) };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// Fills `buf` from the kernel's random source (the `getrandom` system
/// call, not the libc wrapper: bionic has it only from API level 28).
/// Returns false if the kernel has none (older than 3.17) or refuses.
pub(crate) fn random_bytes(buf: &mut [u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: the kernel writes at most `rest.len()` bytes into the live
        // slice `rest`; flags 0 (block until the pool is initialised, which
        // it is long before any user program runs).
        let r = unsafe {
            libc::syscall(
                libc::SYS_getrandom,
                rest.as_mut_ptr(),
                rest.len(),
                0 as libc::c_uint,
            )
        };
        if r > 0 {
            done += r as usize;
        } else if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        } else {
            return false;
        }
    }
    true
}

/// The index of the network interface `name` (for an IPv6 scope such as
/// `fe80::1%eth0`), or `None` if there is no such interface.
pub(crate) fn interface_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: `c` is a live NUL-terminated string for the whole call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_eventfd_wakes_poll_and_drains() {
        let efd = EventFd::new().unwrap();
        efd.notify();
        let r = poll(-1, false, false, &efd, Some(Duration::from_secs(5))).unwrap();
        assert!(r.woken);
        efd.drain();
        let r = poll(-1, false, false, &efd, Some(Duration::from_millis(1))).unwrap();
        assert!(!r.woken);
    }

    #[test]
    fn test_cloned_eventfd_wakes_poll_on_the_original() {
        let efd = EventFd::new().unwrap();
        let other = efd.try_clone().unwrap();
        assert_ne!(efd.raw(), other.raw());
        other.notify();
        drop(other);
        let r = poll(-1, false, false, &efd, Some(Duration::from_secs(5))).unwrap();
        assert!(r.woken);
    }

    #[test]
    fn test_random_bytes_fill_the_buffer() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        assert!(random_bytes(&mut a) && random_bytes(&mut b));
        assert_ne!(a, b, "two draws of 32 random bytes were equal");
    }

    #[test]
    fn test_interface_index_of_loopback() {
        assert!(interface_index("lo").is_some_and(|i| i > 0));
        assert_eq!(interface_index("no-such-if0"), None);
        assert_eq!(interface_index("bad\0name"), None);
    }

    #[test]
    fn test_cpu_count_matches_the_allowed_cpu_list() {
        // "Cpus_allowed_list:\t0-3,6" counts 5 CPUs.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let list = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .expect("no Cpus_allowed_list")
            .trim();
        let mut want = 0;
        for part in list.split(',') {
            want += match part.split_once('-') {
                Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
                None => 1,
            };
        }
        assert_eq!(cpu_count(), want, "Cpus_allowed_list: {list}");
    }
}

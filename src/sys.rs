//! The few OS calls std does not offer: an `eventfd` to wake the worker, a
//! blocking `poll(2)` over the (blocking) socket and that eventfd, the
//! number of CPUs this thread may run on, and what the kernel knows of the
//! server's acknowledgements (`TCP_INFO`, `SIOCOUTQ`).
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

/// `TCP_CLOSE` in `tcpi_state`: the connection is over (reset, timed out,
/// or closed both ways and our FIN acknowledged).
pub(crate) const TCP_STATE_CLOSE: u8 = 7;

/// The states in which the send queue (`SIOCOUTQ`) is the connection's
/// own: synchronized, and not torn down (`ESTABLISHED`, `FIN_WAIT1`,
/// `FIN_WAIT2`, `CLOSE_WAIT`, `LAST_ACK`, `CLOSING`; linux/tcp_states.h).
pub(crate) fn tcp_state_synchronized(state: u8) -> bool {
    matches!(state, 1 | 4 | 5 | 8 | 9 | 11)
}

/// What `TCP_INFO` says about the acknowledgements of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TcpInfo {
    /// `tcpi_state` (linux/tcp_states.h: 1 established ... 7 close).
    pub state: u8,
    /// `tcpi_bytes_acked`: the sequence space the server acknowledged (our
    /// SYN counts one, our FIN one more). `None` where the kernel's answer
    /// is too short to hold it: Linux before 4.1, and QEMU user-mode, which
    /// passes only the first 4 bytes of the struct through.
    pub bytes_acked: Option<u64>,
}

/// Offset of `tcpi_bytes_acked` in the kernel's `struct tcp_info`
/// (linux/tcp.h, the same on every architecture: everything before it is
/// 8 one-byte fields, 24 `__u32` and 2 `__u64`), in u64 words.
const BYTES_ACKED_WORD: usize = 120 / 8;

/// `getsockopt(TCP_INFO)` on `sock`. Reads the raw buffer rather than
/// libc's `tcp_info`, which Android's libc bindings lack; the length the
/// kernel returns says which fields it filled.
pub(crate) fn tcp_info(sock: RawFd) -> io::Result<TcpInfo> {
    // Room for the whole struct as of Linux 6.x (about 280 bytes); the
    // kernel copies at most this much. u64 words keep it aligned.
    let mut buf = [0u64; 48];
    let mut len = std::mem::size_of_val(&buf) as libc::socklen_t;
    // SAFETY: `buf` is live and `len` says how many bytes it has; the
    // kernel writes at most `len` bytes and stores the length it wrote.
    let r = unsafe {
        libc::getsockopt(
            sock,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    if len < 1 {
        return Err(io::Error::other("empty TCP_INFO"));
    }
    let covers = |word: usize| len as usize >= (word + 1) * 8;
    Ok(TcpInfo {
        // Byte 0 of the struct, in memory order.
        state: buf[0].to_ne_bytes()[0],
        bytes_acked: covers(BYTES_ACKED_WORD).then(|| buf[BYTES_ACKED_WORD]),
    })
}

/// `ioctl(SIOCOUTQ)` on `sock`: bytes written and not yet acknowledged by
/// the server (our FIN counts one while it is unacknowledged). Only the
/// connection's own in a synchronized state (see
/// [`tcp_state_synchronized`]): a reset may empty the send queue.
pub(crate) fn send_queue(sock: RawFd) -> io::Result<u64> {
    let mut queued: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (equal to TIOCOUTQ on Linux) writes one int into the
    // live `queued`.
    #[allow(clippy::unnecessary_cast)]
    let r = unsafe { libc::ioctl(sock, libc::TIOCOUTQ as _, &mut queued) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::try_from(queued).unwrap_or(0))
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
    fn test_tcp_info_and_send_queue_count_the_acknowledged_bytes() {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        c.write_all(&[7u8; 1000]).unwrap();
        let mut buf = [0u8; 1000];
        s.read_exact(&mut buf).unwrap();
        // The server's kernel acknowledges what it received; wait for it.
        let fd = c.as_raw_fd();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let info = tcp_info(fd).unwrap();
            assert_eq!(info.state, 1, "not established");
            let queued = send_queue(fd).unwrap();
            let done = match info.bytes_acked {
                // The SYN counts one.
                Some(b) => b == 1001 && queued == 0,
                // QEMU user-mode: only the state comes through.
                None => queued == 0,
            };
            if done {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{info:?} {queued}");
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(tcp_state_synchronized(1));
        assert!(!tcp_state_synchronized(TCP_STATE_CLOSE));
    }

    #[test]
    fn test_bytes_acked_offset_matches_the_kernel_struct() {
        #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
        assert_eq!(
            std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked),
            BYTES_ACKED_WORD * 8
        );
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

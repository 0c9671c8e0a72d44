//! The few OS calls std does not offer: an `eventfd` to wake the worker, a
//! blocking `poll(2)` over the (blocking) socket and that eventfd, one over
//! the connect phase's pending attempts and that eventfd, the number of
//! CPUs this thread may run on, for the resolver random bytes
//! (`getrandom`) and an interface's index (`if_nametoindex`), and what
//! the kernel knows of the server's acknowledgements (`TCP_INFO`,
//! `SIOCOUTQ`); and one memcpy into a chunk's free room
//! ([`append_bytes`]), which heapless does byte by byte.
//!
//! This is the only module with `unsafe` code. Every call checks its result;
//! nothing here changes a socket's blocking mode.
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
    let ms = poll_ms(timeout);
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

/// [`poll`] with one more descriptor beside, polled for reading (the
/// routes' netlink socket): true in the second place when it is readable.
#[cfg(feature = "routes")]
pub(crate) fn poll_with(
    sock: RawFd,
    read: bool,
    write: bool,
    wake: &EventFd,
    also: RawFd,
    timeout: Option<Duration>,
) -> io::Result<(Ready, bool)> {
    let mut events: libc::c_short = 0;
    if read {
        events |= libc::POLLIN;
    }
    if write {
        events |= libc::POLLOUT;
    }
    let pollfd = |fd, events| libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let mut fds = [
        pollfd(if read || write { sock } else { -1 }, events),
        pollfd(wake.raw(), libc::POLLIN),
        pollfd(also, libc::POLLIN),
    ];
    // SAFETY: `fds` is a live array of three pollfd for the whole call.
    let r = unsafe {
        libc::poll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            poll_ms(timeout),
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok((Ready::default(), false));
        }
        return Err(e);
    }
    let s = fds[0].revents;
    let bad = s & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0;
    let ready = Ready {
        readable: s & libc::POLLIN != 0 || (read && bad),
        writable: s & libc::POLLOUT != 0 || (write && bad),
        hangup: bad,
        woken: fds[1].revents & libc::POLLIN != 0,
    };
    Ok((ready, fds[2].revents != 0))
}

/// A NETLINK_ROUTE socket bound to `groups` (0: none, for queries).
#[cfg(feature = "routes")]
pub(crate) fn netlink_socket(groups: u32) -> io::Result<OwnedFd> {
    let flags =
        libc::SOCK_RAW | libc::SOCK_CLOEXEC | if groups != 0 { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_NETLINK, flags, libc::NETLINK_ROUTE) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: a zeroed sockaddr_nl is valid; its fields are set below.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_groups = groups;
    // SAFETY: binds our socket to a live, initialised sockaddr_nl.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    if groups == 0 {
        // Queries wait for their answer at most this long.
        let tv = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        // SAFETY: sets SO_RCVTIMEO on our socket from a live timeval.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
    }
    Ok(fd)
}

/// Sends a netlink request on `fd` (made by [`netlink_socket`] with no
/// groups) and reads the reply into `buf` (waiting at most 1 s).
#[cfg(feature = "routes")]
pub(crate) fn netlink_ask(fd: &OwnedFd, req: &[u8], buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: sends `req`, a live buffer of its length, on our socket.
    let sent = unsafe { libc::send(fd.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: reads into `buf`, a live buffer of its length.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// A poll timeout in milliseconds (`None`: no limit), rounded up so a short
/// wait never becomes a busy zero-timeout poll. In u64 arithmetic: u128
/// costs code on 32-bit targets.
fn poll_ms(timeout: Option<Duration>) -> libc::c_int {
    let Some(d) = timeout else { return -1 };
    let ms = d
        .as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(d.subsec_nanos().div_ceil(1_000_000)));
    ms.min(libc::c_int::MAX as u64) as libc::c_int
}

/// What `poll_connecting` saw of one connecting socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handshake {
    /// Nothing yet.
    Pending,
    /// Writable with no error or hang-up: connected. (A connecting TCP
    /// socket turns writable only once established, and a failed
    /// handshake always sets the socket's error, which poll reports.)
    Connected,
    /// An error or a hang-up: failed (`SO_ERROR` says why).
    Failed,
}

/// Most sockets [`poll_connecting`] takes at once.
pub(crate) const MAX_CONNECTING: usize = 16;

/// Blocks until one of `socks` (connecting, non-blocking sockets; at most
/// [`MAX_CONNECTING`]) is writable or has an error, the eventfd is
/// notified, or `timeout` passes (`None`: no limit). Fills `seen[i]` for
/// every socket; returns whether the eventfd was notified. `seen` must be
/// as long as `socks`.
pub(crate) fn poll_connecting(
    socks: &[RawFd],
    seen: &mut [Handshake],
    wake: &EventFd,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    if socks.len() > MAX_CONNECTING || seen.len() != socks.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many connecting sockets to poll",
        ));
    }
    let unused = libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    };
    let mut all = [unused; MAX_CONNECTING + 1];
    let fds = &mut all[..socks.len() + 1];
    fds[0] = libc::pollfd {
        fd: wake.raw(),
        events: libc::POLLIN,
        revents: 0,
    };
    for (p, &fd) in fds[1..].iter_mut().zip(socks) {
        *p = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
    }
    let ms = poll_ms(timeout);
    // SAFETY: `fds` is a live array of `fds.len()` pollfd for the whole call.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    seen.iter_mut().for_each(|d| *d = Handshake::Pending);
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    let bad = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;
    for (d, p) in seen.iter_mut().zip(&fds[1..]) {
        *d = if p.revents & bad != 0 {
            Handshake::Failed
        } else if p.revents & libc::POLLOUT != 0 {
            Handshake::Connected
        } else {
            Handshake::Pending
        };
    }
    Ok(fds[0].revents & libc::POLLIN != 0)
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

/// Appends as many of `bytes` as fit to `v` with one `memcpy`, and says
/// how many. (heapless's own `extend_from_slice` copies byte by byte, which
/// at `opt-level = "z"` costs ~35x a memcpy; its safe alternatives zero the
/// room first.)
pub(crate) fn append_bytes<const C: usize>(v: &mut heapless::Vec<u8, C>, bytes: &[u8]) -> usize {
    let len = v.len();
    let spare = v.spare_capacity_mut();
    let n = bytes.len().min(spare.len());
    // SAFETY: `spare` is the vector's uninitialised room, `n` bytes of it
    // are in bounds (`n <= spare.len()`), `bytes` is a different, live
    // borrow (so the two cannot overlap), and `MaybeUninit<u8>` has the
    // layout of `u8`.
    unsafe {
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), spare.as_mut_ptr().cast::<u8>(), n);
    }
    // SAFETY: the `n` bytes after the old length were initialised just
    // above, and `len + n <= C` because `n` is at most the room.
    unsafe { v.set_len(len + n) };
    n
}

/// Zero-filled memory of its own pages (an anonymous private mapping):
/// a page costs resident memory only once it is first written, whatever
/// the allocator does with freed heap memory, so a byte ring of 256 KiB
/// that a connection fills to 4 KiB costs one page. Unmapped on drop.
pub(crate) struct Pages {
    ptr: core::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: `Pages` owns its mapping outright; what is shared through it is
// the ring's business (ring.rs), which hands out disjoint regions.
unsafe impl Send for Pages {}
// SAFETY: as above.
unsafe impl Sync for Pages {}

impl Pages {
    /// At least `len` bytes (at least one), all zero.
    #[cfg(not(miri))]
    pub(crate) fn new(len: usize) -> io::Result<Pages> {
        let len = len.max(1);
        // SAFETY: an anonymous private mapping takes no pointer from us
        // (address hint null); the result is checked against MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        match core::ptr::NonNull::new(p.cast::<u8>()) {
            Some(ptr) => Ok(Pages { ptr, len }),
            None => Err(io::Error::other("mmap returned a null mapping")),
        }
    }

    /// Under Miri (which has no mmap of its own here): zeroed heap memory.
    #[cfg(miri)]
    pub(crate) fn new(len: usize) -> io::Result<Pages> {
        let len = len.max(1);
        let layout = std::alloc::Layout::from_size_align(len, 64).map_err(io::Error::other)?;
        // SAFETY: `layout` has a non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        core::ptr::NonNull::new(p)
            .map(|ptr| Pages { ptr, len })
            .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))
    }

    /// The first byte; `len` bytes from it are valid for reads and writes
    /// while `self` lives.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Pages {
    #[cfg(not(miri))]
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the mapping `new` made, and
        // nothing borrows from it any more (`&mut self`).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }

    #[cfg(miri)]
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe {
            std::alloc::dealloc(
                self.ptr.as_ptr(),
                std::alloc::Layout::from_size_align_unchecked(self.len, 64),
            )
        }
    }
}

/// One `recv(2)` with `MSG_DONTWAIT`: the worker's blocking socket read
/// without blocking (`WouldBlock` when nothing is there), so a full read
/// can be followed by another without a `poll` first.
pub(crate) fn recv_now(sock: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
        let r = unsafe { libc::recv(sock, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_append_bytes_copies_what_fits() {
        let mut v: heapless::Vec<u8, 8> = heapless::Vec::new();
        assert_eq!(append_bytes(&mut v, b"abc"), 3);
        assert_eq!(append_bytes(&mut v, b"defghijk"), 5);
        assert_eq!(&v[..], b"abcdefgh");
        assert_eq!(append_bytes(&mut v, b"x"), 0);
        assert_eq!(append_bytes(&mut v, b""), 0);
    }

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
    fn test_poll_ms_rounds_up_and_saturates() {
        assert_eq!(poll_ms(None), -1);
        assert_eq!(poll_ms(Some(Duration::ZERO)), 0);
        assert_eq!(poll_ms(Some(Duration::from_nanos(1))), 1);
        assert_eq!(poll_ms(Some(Duration::from_micros(2500))), 3);
        assert_eq!(poll_ms(Some(Duration::from_secs(2))), 2000);
        assert_eq!(poll_ms(Some(Duration::MAX)), libc::c_int::MAX);
    }

    #[test]
    fn test_poll_connecting_reports_the_connected_socket_and_the_wake() {
        use std::net::TcpListener;
        let efd = EventFd::new().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_nonblocking(true).unwrap();
        match sock.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EINPROGRESS), "{e}"),
        }
        let mut seen = [Handshake::Pending];
        let fds = [sock.as_raw_fd()];
        let woken = poll_connecting(&fds, &mut seen, &efd, Some(Duration::from_secs(5))).unwrap();
        assert_eq!((seen[0], woken), (Handshake::Connected, false));
        assert!(sock.take_error().unwrap().is_none());
        // A refused connect: failed, with the reason in SO_ERROR.
        let refused = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_nonblocking(true).unwrap();
        if let Err(e) = sock.connect(&refused.into()) {
            assert_eq!(e.raw_os_error(), Some(libc::EINPROGRESS), "{e}");
        }
        let fds = [sock.as_raw_fd()];
        poll_connecting(&fds, &mut seen, &efd, Some(Duration::from_secs(5))).unwrap();
        assert_eq!(seen[0], Handshake::Failed);
        let e = sock.take_error().unwrap().expect("SO_ERROR");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        // With nothing to report but the eventfd: only the wake.
        efd.notify();
        let woken = poll_connecting(&[], &mut [], &efd, Some(Duration::from_secs(5))).unwrap();
        assert!(woken);
        efd.drain();
        let woken = poll_connecting(&[], &mut [], &efd, Some(Duration::from_millis(1))).unwrap();
        assert!(!woken);
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

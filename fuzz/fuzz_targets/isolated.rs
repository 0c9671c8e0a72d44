//! Fuzz targets that connect run in a network namespace of their own, with
//! only a loopback interface: a fuzzed host name or address can never send
//! a packet off this machine (resolver queries and connects to anything but
//! 127.0.0.1 / ::1 fail at once with "network unreachable"). The first call
//! makes the namespace (root needed) and brings `lo` up; every call checks
//! that the calling thread is in it, and aborts otherwise.

use std::sync::OnceLock;

static NAMESPACE: OnceLock<String> = OnceLock::new();

fn current() -> String {
    std::fs::read_link("/proc/thread-self/ns/net")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn refuse(why: &str) -> ! {
    eprintln!("fuzz: {why}; refusing to fuzz network code outside an isolated namespace");
    std::process::abort();
}

fn interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/thread-self/net/dev")
        .unwrap_or_default()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|n| n.trim().to_owned()))
        .collect()
}

fn loopback_up() {
    // SAFETY: a plain socket for the ioctls, closed below; `req` is a
    // zeroed ifreq that lives across both calls.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        if fd < 0 {
            refuse("no socket for the loopback ioctl");
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *d = *s as libc::c_char;
        }
        if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) != 0 {
            refuse("cannot read the loopback flags");
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req) != 0 {
            refuse("cannot bring the loopback up");
        }
        libc::close(fd);
    }
}

/// Enters (first call: makes) the isolated namespace; aborts if that is
/// impossible or if anything but `lo` is in it.
pub fn enter() {
    let ns = NAMESPACE.get_or_init(|| {
        // SAFETY: unshare takes only flags; it moves this thread (and the
        // threads it starts from now on) into a new network namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            refuse(&format!(
                "unshare(CLONE_NEWNET) failed: {} (run as root)",
                std::io::Error::last_os_error()
            ));
        }
        loopback_up();
        current()
    });
    if current() != *ns {
        refuse("called from a thread outside the namespace");
    }
    if interfaces() != ["lo"] {
        refuse("the namespace has interfaces other than lo");
    }
}

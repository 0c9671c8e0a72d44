//! Test hosts in network namespaces, made by the test itself: two
//! namespaces joined by a veth pair (10.77.0.1 and fd77::1 in `a`,
//! 10.77.0.2 and fd77::2 in `b`; the addresses exist only inside these
//! namespaces, so no traffic can leave them), with optional packet loss
//! (an nftables `numgen random` drop rule), a slow link (a `tc` tbf rate
//! limit), a port whose packets are all dropped, or a link that goes dark
//! for a while (every packet dropped, both ways). Removed again when the
//! [`NetPair`] is dropped, even when
//! the test fails.
//!
//! Needs root and the `ip`, `nft` and `tc` commands (iproute2 and nftables,
//! installed by targets/setup.sh). Without them the test fails loudly; it
//! never skips.
//!
//! A thread enters a namespace with `setns(2)`; threads it starts later
//! (such as a client's worker) are in that namespace too.

use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Address of host `a` (the server side).
pub const ADDR_A: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// Address of host `b` (the client side).
pub const ADDR_B: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
/// IPv6 address of host `a` (the server side).
pub const ADDR6_A: Ipv6Addr = Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 1);
/// IPv6 address of host `b` (the client side).
pub const ADDR6_B: Ipv6Addr = Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 2);
/// The veth's name in both namespaces.
pub const DEV: &str = "veth0";

/// Two namespaces joined by a veth pair.
pub struct NetPair {
    pub a: String,
    pub b: String,
}

/// Runs a command and panics, with its output, if it fails.
pub fn run(args: &[&str]) -> String {
    let out = super::spawn::output(Command::new(args[0]).args(&args[1..])).unwrap_or_else(|e| {
        panic!(
            "cannot run `{}` ({e}): the namespace tests need root, iproute2 and nftables \
                 (bash targets/setup.sh installs them)",
            args.join(" ")
        )
    });
    assert!(
        out.status.success(),
        "`{}` failed ({}): {}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `nft -f -` inside namespace `ns` with `rules` on its standard input.
fn nft(ns: &str, rules: &str) {
    use std::io::Write;
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = super::spawn::spawn(&mut cmd)
        .expect("cannot run `ip netns exec ... nft`: install nftables (targets/setup.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(rules.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft in {ns} failed: {}\n{rules}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl NetPair {
    /// Makes the two namespaces and the link between them, named after
    /// this process and `tag`, so parallel tests and runs never collide.
    pub fn new(tag: &str) -> NetPair {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let base = format!("ttc-{}-{n}-{tag}", std::process::id());
        let pair = NetPair {
            a: format!("{base}-a"),
            b: format!("{base}-b"),
        };
        // From here on, Drop removes whatever was made.
        run(&["ip", "netns", "add", &pair.a]);
        run(&["ip", "netns", "add", &pair.b]);
        // gso_max_segs 1: TCP hands the link one segment per packet, as on
        // a wire. Left at the default, a veth carries 64 KB super-packets:
        // a 256 KiB transfer is a few dozen packets, a 5% drop rule can
        // miss them all, and one drop loses 44 segments at once.
        run(&[
            "ip",
            "link",
            "add",
            DEV,
            "netns",
            &pair.a,
            "gso_max_segs",
            "1",
            "type",
            "veth",
            "peer",
            "name",
            DEV,
            "netns",
            &pair.b,
            "gso_max_segs",
            "1",
        ]);
        for (ns, addr, addr6) in [(&pair.a, ADDR_A, ADDR6_A), (&pair.b, ADDR_B, ADDR6_B)] {
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                DEV,
            ]);
            // nodad: usable at once, without duplicate address detection.
            run(&[
                "ip",
                "-n",
                ns,
                "-6",
                "addr",
                "add",
                &format!("{addr6}/64"),
                "dev",
                DEV,
                "nodad",
            ]);
            run(&["ip", "-n", ns, "link", "set", DEV, "up"]);
        }
        pair
    }

    /// Drops `percent` % of the packets arriving in each namespace, at
    /// random (nftables `numgen random`), counting what it drops.
    pub fn lose(&self, percent: u32) {
        for ns in [&self.a, &self.b] {
            nft(
                ns,
                &format!(
                    "table inet ttc_loss {{\n chain input {{\n \
                     type filter hook input priority 0; policy accept;\n \
                     numgen random mod 100 < {percent} counter drop\n }}\n}}\n"
                ),
            );
        }
    }

    /// Limits each side's sending rate with a tbf qdisc (`rate` in tc's
    /// syntax, e.g. "4mbit").
    pub fn limit_rate(&self, rate: &str) {
        for ns in [&self.a, &self.b] {
            run(&[
                "ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", DEV, "root", "tbf", "rate",
                rate, "burst", "16kb", "latency", "100ms",
            ]);
        }
    }

    /// Drops every TCP packet to `port` arriving at host `a`: connecting
    /// there hangs like connecting to a host that has gone away.
    pub fn blackhole_port(&self, port: u16) {
        nft(
            &self.a,
            &format!(
                "table inet ttc_hole {{\n chain input {{\n \
                 type filter hook input priority 0; policy accept;\n \
                 tcp dport {port} counter drop\n }}\n}}\n"
            ),
        );
    }

    /// Drops every TCP packet to `port` arriving at host `a` over IPv4
    /// only (`v6` false) or IPv6 only (`v6` true): that family's path is a
    /// black hole, the other works.
    pub fn blackhole_port_family(&self, port: u16, v6: bool) {
        let family = if v6 { "ip6" } else { "ip" };
        nft(
            &self.a,
            &format!(
                "table {family} ttc_hole_{family} {{\n chain input {{\n \
                 type filter hook input priority 0; policy accept;\n \
                 tcp dport {port} counter drop\n }}\n}}\n"
            ),
        );
    }

    /// The link goes dark: host `a` drops every packet it receives or sends
    /// on the link, both ways, without a reset or an ICMP error, like a
    /// radio hand-over or a NAT that forgot the flow. [`NetPair::light`]
    /// ends it.
    pub fn go_dark(&self) {
        nft(
            &self.a,
            &format!(
                "table inet ttc_dark {{\n chain input {{\n \
                 type filter hook input priority 0; policy accept;\n \
                 iifname \"{DEV}\" counter drop\n }}\n \
                 chain output {{\n \
                 type filter hook output priority 0; policy accept;\n \
                 oifname \"{DEV}\" counter drop\n }}\n}}\n"
            ),
        );
    }

    /// Adds another address to host `b`'s veth (e.g. a second source
    /// address to choose from).
    pub fn add_addr_b(&self, cidr: &str) {
        let mut args = vec!["ip", "-n", &self.b, "addr", "add", cidr, "dev", DEV];
        if cidr.contains(':') {
            args.push("nodad");
        }
        run(&args);
    }

    /// The link is back after [`NetPair::go_dark`].
    pub fn light(&self) {
        run(&[
            "ip", "netns", "exec", &self.a, "nft", "delete", "table", "inet", "ttc_dark",
        ]);
    }

    /// Packets dropped so far by this pair's nftables rules, both sides.
    pub fn dropped_packets(&self) -> u64 {
        [&self.a, &self.b]
            .iter()
            .map(|ns| {
                let listing = run(&["ip", "netns", "exec", ns, "nft", "list", "ruleset"]);
                listing
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .windows(2)
                    .filter(|w| w[0] == "packets")
                    .filter_map(|w| w[1].parse::<u64>().ok())
                    .sum::<u64>()
            })
            .sum()
    }

    /// Runs `f` on a new thread inside namespace `ns` and returns its
    /// result. Sockets it makes, and threads it starts, live there.
    pub fn run_in<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{ns}");
        std::thread::spawn(move || {
            enter(&path);
            f()
        })
        .join()
        .expect("thread in namespace panicked")
    }

    /// A listener on host `a`, port 0.
    pub fn listen_a(&self) -> TcpListener {
        Self::run_in(&self.a, || {
            TcpListener::bind((ADDR_A, 0)).expect("bind in namespace a")
        })
    }

    /// A listener on host `a` for both families (`[::]`, dual-stack: the
    /// namespace's `bindv6only` is 0), port 0: reachable on ADDR_A and
    /// ADDR6_A alike.
    pub fn listen_a_dual(&self) -> TcpListener {
        Self::run_in(&self.a, || {
            TcpListener::bind((Ipv6Addr::UNSPECIFIED, 0)).expect("bind [::] in namespace a")
        })
    }
}

/// Moves the calling thread into the network namespace at `path`.
pub fn enter(path: &str) {
    let f = File::open(path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    // SAFETY: setns takes a descriptor we own for the whole call and a flag.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(
        r,
        0,
        "setns({path}) failed: {} (the namespace tests need root)",
        std::io::Error::last_os_error()
    );
}

/// The network namespace of the calling thread, as the kernel names it
/// (e.g. "net:[4026531840]").
pub fn current_netns() -> String {
    std::fs::read_link("/proc/thread-self/ns/net")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Drop for NetPair {
    fn drop(&mut self) {
        // Deleting a namespace removes its end of the veth pair, and the
        // other end with it.
        for ns in [&self.a, &self.b] {
            let _ = super::spawn::spawn(Command::new("ip").args(["netns", "del", ns]))
                .and_then(|mut c| c.wait());
        }
    }
}

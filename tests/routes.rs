//! Following the routes (the `routes` feature): a client in one network
//! namespace, a server in another, two links between them and the
//! server's address routed over both (metrics 10 and 20). The test moves
//! the network under a running upload and checks that the client
//! reconnects at once, with every chunk delivered once in order.
//!
//! Needs root and iproute2; fails loudly without them. Runs on the host
//! and under QEMU user-mode (qemu-user passes netlink through).

mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::netns::{run, NetPair};
use support::seq::*;
use support::*;
use ttc::{Backoff, Config, Jitter, Reason, Signal};

/// The server's address, on the server namespace's loopback.
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 81, 9, 1);

/// How soon after a change the client must be connected again.
fn within() -> Duration {
    Duration::from_secs(if under_qemu() { 3 } else { 1 })
}

/// Two namespaces joined by two veth links, `l1` (10.81.1.0/24) and `l2`
/// (10.81.2.0/24); in the client's, the server's address is routed over
/// `l1` with metric 10 and over `l2` with metric 20.
struct TwoLinks {
    a: String,
    b: String,
}

impl TwoLinks {
    fn new(tag: &str) -> TwoLinks {
        let base = format!("ttc-{}-{tag}", std::process::id());
        let t = TwoLinks {
            a: format!("{base}-a"),
            b: format!("{base}-b"),
        };
        run(&["ip", "netns", "add", &t.a]);
        run(&["ip", "netns", "add", &t.b]);
        for ns in [&t.a, &t.b] {
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        run(&[
            "ip",
            "-n",
            &t.a,
            "addr",
            "add",
            &format!("{SERVER}/32"),
            "dev",
            "lo",
        ]);
        for n in [1, 2] {
            let dev = format!("l{n}");
            run(&[
                "ip", "link", "add", &dev, "netns", &t.a, "type", "veth", "peer", "name", &dev,
                "netns", &t.b,
            ]);
            for (ns, host) in [(&t.a, 1), (&t.b, 2)] {
                let cidr = format!("10.81.{n}.{host}/24");
                run(&["ip", "-n", ns, "addr", "add", &cidr, "dev", &dev]);
                run(&["ip", "-n", ns, "link", "set", &dev, "up"]);
            }
            t.route(n);
        }
        t
    }

    /// The client's route to the server over link `n`.
    fn route(&self, n: u8) {
        let (via, metric) = (format!("10.81.{n}.1"), format!("{}", n * 10));
        let dst = format!("{SERVER}/32");
        run(&[
            "ip", "-n", &self.b, "route", "add", &dst, "via", &via, "metric", &metric,
        ]);
    }

    /// Runs `ip ARGS` in the client's namespace.
    fn in_b(&self, args: &[&str]) {
        let mut all = vec!["ip", "-n", &self.b];
        all.extend_from_slice(args);
        run(&all);
    }

    fn listen(&self) -> TcpListener {
        NetPair::run_in(&self.a, || TcpListener::bind((SERVER, 0)).unwrap())
    }

    /// A reconnecting client in the client's namespace that follows the
    /// routes, with a long backoff (a reconnect that waited would show).
    fn client(&self, port: u16) -> ttc::Client {
        NetPair::run_in(&self.b, move || {
            Config::new(SERVER.to_string(), port)
                .reconnect(
                    Backoff::default()
                        .initial(Duration::from_secs(30))
                        .jitter(Jitter::Off),
                )
                .follow_routes(true)
                .thread_name("ttc-routes")
                .spawn()
                .unwrap()
        })
    }
}

impl Drop for TwoLinks {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", ns])
                .status();
        }
    }
}

fn collect(client: &ttc::Client) -> JoinHandle<Vec<(Instant, Signal)>> {
    let signal = client.signal().clone();
    std::thread::spawn(move || signals_until_final(&signal, 4 * SOON))
}

/// The `n`th `Connected` (from 0), and where it came from.
fn connected_at(signals: &[(Instant, Signal)], n: usize) -> Option<(Instant, SocketAddr)> {
    signals
        .iter()
        .filter_map(|(t, s)| match s {
            Signal::Connected(peer) => Some((*t, *peer)),
            _ => None,
        })
        .nth(n)
}

/// A paced upload that `change` interrupts once a third is through: the
/// client must connect again within [`within`] of the change, and every
/// chunk must arrive once, in order, over two connections.
fn upload_across(tag: &str, change: impl FnOnce(&TwoLinks)) {
    let (total, rate) = if under_qemu() {
        (2048, 2048)
    } else {
        (4096, 4096)
    };
    let links = TwoLinks::new(tag);
    let recorder = Recorder::on(links.listen());
    let client = links.client(recorder.addr.port());
    let signals = collect(&client);
    let feeder = feed_chunks(&client, total, Some(rate));
    let third = total * SEQ_CHUNK as u64 / 3;
    assert!(
        eventually(2 * SOON, || recorder.received() >= third),
        "the upload did not get going"
    );
    let changed_at = Instant::now();
    change(&links);
    assert_eq!(feeder.join().unwrap(), total);
    let signals = signals.join().unwrap();
    let report = final_of(&signals);
    assert_eq!(report.reason, Reason::Finished, "{report}");
    assert_eq!(report.connections, 2, "{report}");
    let ended = signals.iter().find_map(|(_, s)| match s {
        Signal::Disconnected(r) => Some(r.clone()),
        _ => None,
    });
    let ended = ended.expect("the connection never ended");
    assert_eq!(ended.reason, Reason::NetworkChanged, "{ended}");
    let (again, _) = connected_at(&signals, 1).expect("no second connection");
    assert!(
        again - changed_at < within(),
        "connected again {:?} after the change",
        again - changed_at
    );
    let bytes = total * SEQ_CHUNK as u64;
    assert!(eventually(SOON, || recorder.received() >= bytes));
    let r = reassemble(&recorder.streams(), b"").unwrap();
    assert_eq!((r.chunks, r.connections), (total, 2), "{r:?}");
    assert_eq!(report.lost, 0);
    assert_eq!(report.acked, bytes, "{report}");
    assert_eq!((report.unsent, report.unacked()), (0, 0), "{report}");
}

#[test]
fn test_used_link_down_reconnects_over_the_other_at_once() {
    upload_across("down", |l| l.in_b(&["link", "set", "l1", "down"]));
}

#[test]
fn test_local_address_removed_reconnects_at_once() {
    upload_across("addr", |l| {
        l.in_b(&["addr", "del", "10.81.1.2/24", "dev", "l1"])
    });
}

#[test]
fn test_route_change_that_leaves_the_path_intact_does_nothing() {
    let (total, rate) = if under_qemu() {
        (1024, 2048)
    } else {
        (2048, 4096)
    };
    let links = TwoLinks::new("intact");
    let recorder = Recorder::on(links.listen());
    let client = links.client(recorder.addr.port());
    let signals = collect(&client);
    let feeder = feed_chunks(&client, total, Some(rate));
    assert!(
        eventually(2 * SOON, || recorder.received() > 0),
        "the upload did not get going"
    );
    // Another route comes and goes, and the backup link flaps: the path
    // (l1) stays.
    links.in_b(&["route", "add", "10.81.50.0/24", "via", "10.81.2.1"]);
    links.in_b(&["route", "del", "10.81.50.0/24", "via", "10.81.2.1"]);
    links.in_b(&["link", "set", "l2", "down"]);
    links.in_b(&["link", "set", "l2", "up"]);
    assert_eq!(feeder.join().unwrap(), total);
    let report = final_of(&signals.join().unwrap());
    assert_eq!(report.reason, Reason::Finished, "{report}");
    assert_eq!(report.connections, 1, "reconnected for nothing: {report}");
    let r = reassemble(&recorder.streams(), b"").unwrap();
    assert_eq!((r.chunks, r.connections), (total, 1), "{r:?}");
}

#[test]
fn test_both_links_down_then_one_back_connects_as_the_route_returns() {
    let links = TwoLinks::new("back");
    let recorder = Recorder::on(links.listen());
    let client = links.client(recorder.addr.port());
    let signals = collect(&client);
    assert!(
        eventually(SOON, || recorder.streams().len() == 1),
        "no connection"
    );
    // The backup first (the path stays), then the link in use.
    links.in_b(&["link", "set", "l2", "down"]);
    links.in_b(&["link", "set", "l1", "down"]);
    // The path is gone: the client reconnects at once, finds no route,
    // and waits its 30 s backoff. Data sent meanwhile waits in the inbox.
    let chunk = ttc::Chunk::from_slice(&seq_chunk(0)).unwrap();
    client.inbox().send_timeout(chunk, SOON).unwrap();
    // The link comes back, then the route over it (as a DHCP client or
    // a network manager would put it back).
    links.in_b(&["link", "set", "l2", "up"]);
    let back_at = Instant::now();
    links.route(2);
    assert!(
        eventually(within(), || recorder.received() >= SEQ_CHUNK as u64),
        "no byte within {:?} of the route's return",
        within()
    );
    let first_byte = back_at.elapsed();
    client.control().send(ttc::Control::ProducerFinished);
    let signals = signals.join().unwrap();
    let report = final_of(&signals);
    assert_eq!(report.reason, Reason::Finished, "{report}");
    assert_eq!(report.connections, 2, "{report}");
    assert!(
        signals
            .iter()
            .any(|(_, s)| matches!(s, Signal::Reconnecting { delay, .. } if *delay >= Duration::from_secs(1))),
        "never waited in a backoff: {signals:?}"
    );
    assert!(first_byte < within(), "{first_byte:?}");
    // The path's loss ended the first connection at once, and the second
    // came with the route, not with the backoff.
    let ended = signals.iter().find_map(|(_, s)| match s {
        Signal::Disconnected(r) => Some(r.reason),
        _ => None,
    });
    assert_eq!(ended, Some(Reason::NetworkChanged), "{signals:?}");
    let (again, _) = connected_at(&signals, 1).expect("no second connection");
    assert!(
        again >= back_at && again - back_at < within(),
        "{signals:?}"
    );
    // The chunk went on the second connection; the first carried nothing.
    let streams = recorder.streams();
    assert_eq!(streams.len(), 2);
    let r = reassemble(&streams, b"").unwrap();
    assert_eq!(r.chunks, 1, "{r:?}");
}

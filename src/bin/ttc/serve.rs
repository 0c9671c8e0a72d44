//! `ttc serve`: the library's test peers (echo, sink, fortune, burst) as a
//! standalone server, for a device or a host.
//!
//! Lines on stdout: first the address it listens on, then one line per
//! connection as it ends (bytes each way and the FNV-1a hash of what was
//! received). It runs until SIGINT or SIGTERM and then exits 0.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};

use ttc::peers::{self, ConnectionReport, Peer};

use crate::args::Serve;
use crate::output::{json_string, kind_name, JsonLine, CONSOLE};
use crate::{signals, EXIT_ERROR, EXIT_OK};

/// The peer's name as `serve` accepts it.
pub fn peer_name(peer: Peer) -> String {
    match peer {
        Peer::Echo => "echo".into(),
        Peer::Sink => "sink".into(),
        Peer::Fortune => "fortune".into(),
        Peer::Burst(n) => format!("burst:{n}"),
    }
}

/// One line on stdout; a closed stdout is ignored (the server goes on).
fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn listening_line(json: bool, addr: SocketAddr, peer: Peer, tls: bool) -> String {
    match (json, tls) {
        (true, false) => JsonLine::new("event", "listening")
            .str("addr", &addr.to_string())
            .str("peer", &peer_name(peer))
            .finish(),
        (true, true) => JsonLine::new("event", "listening")
            .str("addr", &addr.to_string())
            .str("peer", &peer_name(peer))
            .str("tls", "yes")
            .finish(),
        (false, false) => format!("listening {addr} peer={}", peer_name(peer)),
        (false, true) => format!("listening {addr} peer={} tls=yes", peer_name(peer)),
    }
}

fn ended_line(json: bool, client: SocketAddr, r: &io::Result<ConnectionReport>) -> String {
    match (r, json) {
        (Ok(r), false) => format!(
            "closed {client} received={} sent={} hash={:016x}",
            r.received, r.sent, r.hash
        ),
        (Ok(r), true) => JsonLine::new("event", "closed")
            .str("client", &client.to_string())
            .num("received", r.received)
            .num("sent", r.sent)
            .str("hash", &format!("{:016x}", r.hash))
            .finish(),
        (Err(e), false) => {
            let mut s = format!("failed {client} kind={} message=", kind_name(e.kind()));
            json_string(&mut s, &e.to_string());
            s
        }
        (Err(e), true) => JsonLine::new("event", "failed")
            .str("client", &client.to_string())
            .str("kind", &kind_name(e.kind()))
            .str("message", &e.to_string())
            .finish(),
    }
}

/// What a server does when a connection ends. One function-pointer type
/// for every server in the binary: one copy of `spawn_server` in it.
pub type OnEnd = fn(SocketAddr, io::Result<ConnectionReport>);

fn report_text(client: SocketAddr, r: io::Result<ConnectionReport>) {
    say(&ended_line(false, client, &r));
}

fn report_json(client: SocketAddr, r: io::Result<ConnectionReport>) {
    say(&ended_line(true, client, &r));
}

/// Reports nothing (the demo's server).
pub fn report_nothing(_: SocketAddr, _: io::Result<ConnectionReport>) {}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(s: Serve) -> i32 {
    // The certificate and key first: a bad file is a usage error.
    #[cfg(feature = "tls")]
    let tls = match &s.tls {
        Some((cert, key)) => match crate::tls::server_config(cert, key) {
            Ok(t) => Some(t),
            Err(e) => {
                CONSOLE.line(&format!("ttc: {e}"));
                return crate::EXIT_USAGE;
            }
        },
        None => None,
    };
    // Before any thread starts (see `signals`).
    let blocked = signals::block().is_ok();
    let listener = match TcpListener::bind((s.bind, s.port)) {
        Ok(l) => l,
        Err(e) => {
            CONSOLE.line(&format!(
                "ttc: cannot listen on {} port {}: {e}",
                s.bind, s.port
            ));
            return EXIT_ERROR;
        }
    };
    let json = s.json;
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            CONSOLE.line(&format!("ttc: cannot listen: {e}"));
            return EXIT_ERROR;
        }
    };
    #[cfg(feature = "tls")]
    let tls_on = tls.is_some();
    #[cfg(not(feature = "tls"))]
    let tls_on = false;
    say(&listening_line(json, addr, s.peer, tls_on));
    let report: OnEnd = if json { report_json } else { report_text };
    #[cfg(feature = "tls")]
    let started = match tls {
        Some(tls) => peers::spawn_tls_server(listener, s.peer, tls, report),
        None => peers::spawn_server(listener, s.peer, report),
    };
    #[cfg(not(feature = "tls"))]
    let started = peers::spawn_server(listener, s.peer, report);
    if let Err(e) = started {
        CONSOLE.line(&format!("ttc: cannot start the server: {e}"));
        return EXIT_ERROR;
    }
    if blocked && signals::spawn_watcher(Box::new(|_| std::process::exit(EXIT_OK))).is_err() {
        signals::unblock();
    }
    loop {
        // Everything happens on the server's threads; the signal watcher
        // ends the process.
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_serve_lines() {
        let a: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        assert_eq!(
            listening_line(false, a, Peer::Burst(5), false),
            "listening 127.0.0.1:7000 peer=burst:5"
        );
        assert_eq!(
            listening_line(true, a, Peer::Sink, false),
            r#"{"event":"listening","addr":"127.0.0.1:7000","peer":"sink"}"#
        );
        assert_eq!(
            listening_line(false, a, Peer::Echo, true),
            "listening 127.0.0.1:7000 peer=echo tls=yes"
        );
        let r = Ok(ConnectionReport {
            received: 3,
            sent: 0,
            hash: peers::fnv1a(b"abc"),
        });
        assert_eq!(
            ended_line(false, a, &r),
            "closed 127.0.0.1:7000 received=3 sent=0 hash=e71fa2190541574b"
        );
        let e = Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone"));
        assert_eq!(
            ended_line(true, a, &e),
            r#"{"event":"failed","client":"127.0.0.1:7000","kind":"ConnectionReset","message":"gone"}"#
        );
    }
}

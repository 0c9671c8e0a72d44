//! What resolving costs the connect phase, in one run: the median time
//! from `spawn` to `Connected` on loopback with an IP literal (no lookup),
//! with `Resolver::Static`, and with `Resolver::System` for `localhost`
//! (getaddrinfo on the helper thread), beside a plain `getaddrinfo` of
//! `localhost` on the calling thread and a plain `TcpStream::connect`.
//! Ratios are against the literal in the same run (the machine is shared
//! and noisy).
//!
//! ```sh
//! cargo bench --bench resolve [-- --quick]
//! ```

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use ttc::{Config, Control, IpFamily, Resolver, Signal};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_to_connected(config: &Config) -> Duration {
    let t0 = Instant::now();
    let client = config.clone().spawn().expect("spawn");
    match client.signal().recv_timeout(Duration::from_secs(10)) {
        Ok(Signal::Connected(_)) => {}
        other => panic!("not connected: {other:?}"),
    }
    let took = t0.elapsed();
    client.control().send(Control::Shutdown);
    client.join();
    took
}

/// A row: its name and one measurement.
type Row = (&'static str, Box<dyn Fn() -> Duration>);

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 30 } else { 300 };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    ttc::peers::spawn_server(listener, ttc::peers::Peer::Echo, |_, _| {}).unwrap();

    let literal = Config::new("127.0.0.1", port);
    let pinned =
        Config::new("pinned.test", port).resolver(Resolver::Static(vec![[127, 0, 0, 1].into()]));
    let system = Config::new("localhost", port)
        .resolver(Resolver::System)
        .family(IpFamily::V4);
    let rows: Vec<Row> = vec![
        (
            "ttc, IP literal (no lookup)",
            Box::new(move || time_to_connected(&literal)),
        ),
        (
            "ttc, Resolver::Static",
            Box::new(move || time_to_connected(&pinned)),
        ),
        (
            "ttc, Resolver::System \"localhost\" (helper thread)",
            Box::new(move || time_to_connected(&system)),
        ),
        (
            "getaddrinfo(\"localhost\") on the calling thread",
            Box::new(|| {
                let t0 = Instant::now();
                let n = ("localhost", 80).to_socket_addrs().unwrap().count();
                assert!(n > 0);
                t0.elapsed()
            }),
        ),
        (
            "TcpStream::connect(127.0.0.1)",
            Box::new(move || {
                let t0 = Instant::now();
                let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                let took = t0.elapsed();
                drop(s);
                took
            }),
        ),
    ];
    // Interleaved rounds, each starting at another row, so drift in the
    // machine's load and what the previous row left behind hit every row.
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); rows.len()];
    for round in 0..n {
        for k in 0..rows.len() {
            let i = (round + k) % rows.len();
            samples[i].push((rows[i].1)());
        }
    }
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    println!("resolve bench: median of {n} runs each, time to Connected (or to the result)");
    for ((name, _), m) in rows.iter().zip(&medians) {
        let ratio = m.as_secs_f64() / medians[0].as_secs_f64();
        println!(
            "  {name:<52} {:>9.1} us  {ratio:>5.2}x",
            m.as_secs_f64() * 1e6
        );
    }
    // What the helper thread adds: System minus Static minus getaddrinfo.
    let extra = medians[2].as_secs_f64() - medians[1].as_secs_f64() - medians[3].as_secs_f64();
    println!(
        "  helper thread (spawn, eventfd wake-up, exit), derived: {:.1} us",
        extra * 1e6
    );
}

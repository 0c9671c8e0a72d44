//! `ttc` side by side with the raw socket and the usual alternatives, in
//! one run, as ratios (the machines are shared and noisy, so only figures
//! taken in the same run are compared).
//!
//! ```sh
//! cargo bench --bench compare                  # full run, a few minutes
//! cargo bench --bench compare -- --quick       # small sizes (CI)
//! cargo bench --bench compare --target aarch64-unknown-linux-gnu -- --quick   # under QEMU
//! cargo bench --bench compare -- --peer raw,ttc --workload upload,pingpong
//! cargo test --bench compare                   # smoke run: checks, no figures
//! cargo bench --features tls --bench compare -- tls [--quick]   # TLS: see tls.rs
//! ```
//!
//! Peers: `raw` (the benchmark thread on a `std::net::TcpStream`), `diy`
//! (reader + writer threads with `sync_channel`s of `Vec<u8>`), `tokio`
//! (a current-thread runtime, bounded tokio mpsc channels) and `ttc`.
//! Workloads: upload, download, pingpong, sparse, idle, allocs, scale,
//! shutdown, connect (its namespace parts need root), reconnect (ttc only:
//! with reconnect against without), process (see
//! benches/README.md). Prints a table and writes the same
//! figures as JSON to `target/bench/results-<arch>[-quick].json`.

mod alloc;
mod conn;
mod connect;
mod diy;
mod process;
mod procfs;
mod reconnect;
mod report;
mod scale;
mod servers;
mod smoke;
// Starting a child with the start bounded (a fork under QEMU can stick).
#[path = "../../tests/support/spawn.rs"]
mod spawn;
mod stats;
#[cfg(feature = "tls")]
mod tls;
mod tokio_client;
mod ttc_client;
mod workloads;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use conn::{with_conn, PeerKind};
use report::Results;
use workloads::{Outcome, Sizes};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const WORKLOADS: [&str; 11] = [
    "upload",
    "download",
    "pingpong",
    "sparse",
    "idle",
    "allocs",
    "scale",
    "shutdown",
    "connect",
    "reconnect",
    "process",
];

const USAGE: &str = "\
usage: compare [--quick] [--peer raw,diy,tokio,ttc] [--workload upload,download,
               pingpong,sparse,idle,allocs,scale,shutdown,connect,reconnect,
               process] [--lib-peers] [--json PATH]
  --quick      small sizes (seconds, for CI); the full run takes minutes
  --lib-peers  bulk transfers against ttc::peers Sink/Burst (hash-checked)
               instead of the bench's stamped sink/burst
  --json PATH  where to write the JSON (default target/bench/results-ARCH[-quick].json)
  process      whole processes, ttc against socat and nc (host only; its JSON
               goes to target/bench/process-ARCH[-quick].json)";

struct Args {
    quick: bool,
    peers: Vec<PeerKind>,
    workloads: Vec<&'static str>,
    lib_peers: bool,
    json: Option<PathBuf>,
    line: String,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        quick: false,
        peers: PeerKind::ALL.to_vec(),
        workloads: WORKLOADS.to_vec(),
        lib_peers: false,
        json: None,
        line: args.join(" "),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--lib-peers" => a.lib_peers = true,
            "--peer" => {
                let v = it.next().ok_or("--peer needs a list")?;
                a.peers = v
                    .split(',')
                    .map(|s| PeerKind::parse(s).ok_or(format!("unknown peer {s:?}")))
                    .collect::<Result<_, _>>()?;
            }
            "--workload" => {
                let v = it.next().ok_or("--workload needs a list")?;
                a.workloads = v
                    .split(',')
                    .map(|s| {
                        WORKLOADS
                            .into_iter()
                            .find(|w| *w == s)
                            .ok_or(format!("unknown workload {s:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--json" => a.json = Some(it.next().ok_or("--json needs a path")?.into()),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    // Table order, whatever order they were given in.
    a.peers = PeerKind::ALL
        .into_iter()
        .filter(|p| a.peers.contains(p))
        .collect();
    Ok(a)
}

fn run(workload: &str, peer: PeerKind, sz: &Sizes) -> Outcome {
    if workload == "scale" {
        return scale::scale(peer, sz);
    }
    if workload == "connect" {
        return connect::connect(peer, sz);
    }
    if workload == "reconnect" {
        return reconnect::reconnect(peer, sz);
    }
    with_conn!(peer, C => match workload {
        "upload" => workloads::upload::<C>(sz),
        "download" => workloads::download::<C>(sz),
        "pingpong" => workloads::pingpong::<C>(sz),
        "sparse" => workloads::sparse::<C>(sz),
        "idle" => workloads::idle::<C>(sz),
        "allocs" => workloads::allocs::<C>(sz),
        "shutdown" => workloads::shutdown::<C>(sz),
        other => Err(format!("no workload {other}")),
    })
}

/// Today's date (UTC), from the system clock.
fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    ["model name", "Hardware", "CPU part"]
        .iter()
        .find_map(|k| {
            info.lines()
                .find(|l| l.starts_with(k))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A hung peer must not hang CI: the whole run has a deadline (five times
/// `limit` under QEMU).
fn watchdog(limit: Duration) {
    let qemu = std::env::var_os("QEMU_LD_PREFIX").is_some();
    let limit = limit * if qemu { 5 } else { 1 };
    std::thread::Builder::new()
        .name("bench-watchdog".into())
        .spawn(move || {
            std::thread::sleep(limit);
            eprintln!("compare: still running after {limit:?}: giving up");
            std::process::exit(3);
        })
        .expect("watchdog thread");
}

fn main() {
    // `cargo bench` passes --bench to every bench binary; `cargo test`
    // runs it without, and then it is a smoke test (smoke.rs).
    let mut bench = false;
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| {
            let flag = a == "--bench";
            bench |= flag;
            !flag
        })
        .collect();
    if args.first().map(String::as_str) == Some("--scale-child") {
        scale::child_main(&args[1..]);
    }
    if !bench {
        smoke::main(&args);
    }
    // The TLS section runs on its own: `-- tls [--quick]`.
    if args.iter().any(|a| a == "tls") {
        #[cfg(feature = "tls")]
        tls::main(args.iter().any(|a| a == "--quick"));
        #[cfg(not(feature = "tls"))]
        {
            eprintln!("compare: the tls section needs --features tls");
            std::process::exit(2);
        }
    }
    let a = match parse_args(&args) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("compare: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let qemu = std::env::var_os("QEMU_LD_PREFIX").is_some();
    let mut sz = if a.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    sz.lib_peers = a.lib_peers;

    watchdog(Duration::from_secs(if a.quick { 180 } else { 1800 }));

    let arch = std::env::consts::ARCH;
    let mode = if a.quick { "quick" } else { "full" };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load_start = loadavg();
    eprintln!(
        "compare: {mode} run on {arch}{}, {cores} cores, {}; load {load_start}",
        if qemu { " (QEMU user-mode)" } else { "" },
        cpu_model()
    );

    let mut results = Results::new(a.peers.clone());
    let mut process = None;
    for &w in &a.workloads {
        if w == "process" {
            process = Some(run_process(a.quick, qemu));
            continue;
        }
        let reps = if matches!(w, "upload" | "download" | "connect") {
            sz.bulk_reps
        } else {
            1
        };
        // Repetitions go round the peers, so a burst of load from
        // elsewhere hits every peer alike; the best of them is kept.
        for rep in 0..reps {
            for &p in &a.peers {
                let r = run(w, p, &sz);
                match r {
                    // A workload this peer has no part in.
                    Ok(ms) if ms.is_empty() => {}
                    Ok(ms) => {
                        let shown: Vec<String> = ms
                            .iter()
                            .map(|m| format!("{} {} {}", m.key, report::num(m.value), m.unit))
                            .collect();
                        eprintln!(
                            "  {w:<8} {:<5} #{}: {}",
                            p.name(),
                            rep + 1,
                            shown.join(", ")
                        );
                        results.add(w, p, ms);
                    }
                    Err(e) => {
                        eprintln!("  {w:<8} {:<5} #{}: FAILED: {e}", p.name(), rep + 1);
                        results.error(w, p, e);
                    }
                }
            }
        }
    }
    let load_end = loadavg();

    let checked = report::check_goals(&results);
    let date = today();
    let meta = [
        ("date", date.clone()),
        ("mode", mode.to_string()),
        ("arch", arch.to_string()),
        ("qemu", qemu.to_string()),
        ("qemu_cpu", std::env::var("QEMU_CPU").unwrap_or_default()),
        ("cores", cores.to_string()),
        ("cpu", cpu_model()),
        ("loadavg_start", load_start.clone()),
        ("loadavg_end", load_end.clone()),
        ("args", a.line.clone()),
    ];
    println!(
        "\nttc bench, {mode}, {date}: {arch}{}, {cores} cores, {}; load average {load_start} -> {load_end}",
        if qemu { " under QEMU user-mode" } else { "" },
        cpu_model()
    );
    println!(
        "value (ratio to raw); throughput: best of {} runs\n",
        sz.bulk_reps
    );
    print!("{}", report::table(&results));
    if !checked.is_empty() {
        println!("\ngoals (ttc):");
        print!("{}", report::goals_text(&checked));
    }
    for (w, p, e) in &results.errors {
        println!("FAILED {w} {}: {e}", p.name());
    }
    let process_failed = match &process {
        Some(Ok(Some(section))) => {
            println!();
            print!("{}", process::table(section));
            let quick = if a.quick { "-quick" } else { "" };
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target/bench")
                .join(format!("process-{arch}{quick}.json"));
            if let Err(e) = std::fs::write(&path, process::json(section)) {
                eprintln!("compare: could not write {}: {e}", path.display());
            }
            false
        }
        Some(Ok(None)) => {
            println!(
                "
whole processes: not measured under QEMU (the child would be the emulator)"
            );
            false
        }
        Some(Err(e)) => {
            println!(
                "
FAILED process: {e}"
            );
            true
        }
        None => false,
    };

    let path = a.json.clone().unwrap_or_else(|| {
        let quick = if a.quick { "-quick" } else { "" };
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/bench")
            .join(format!("results-{arch}{quick}.json"))
    });
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&path, report::json(&results, &meta, &checked)));
    match written {
        Ok(()) => println!("\nJSON: {}", path.display()),
        Err(e) => eprintln!("compare: could not write {}: {e}", path.display()),
    }
    // Missed goals are reported, not failed; a workload that could not run
    // (or whose bytes did not check out) fails the run.
    if !results.errors.is_empty() || process_failed {
        std::process::exit(1);
    }
}

/// The whole-process section: 1 GiB each way, five runs per client (quick:
/// 32 MiB, three runs). `Ok(None)` under QEMU.
fn run_process(quick: bool, qemu: bool) -> Result<Option<process::Section>, String> {
    let (bytes, runs) = if quick { (32 << 20, 3) } else { (1 << 30, 5) };
    run_process_sized(qemu, bytes, runs)
}

fn run_process_sized(
    qemu: bool,
    bytes: u64,
    runs: usize,
) -> Result<Option<process::Section>, String> {
    if qemu {
        return Ok(None);
    }
    process::measure(bytes, runs).map(Some)
}

//! The benchmark as a test. `cargo test --all-targets` (or `--benches`)
//! runs this harness = false bench too, in a debug build and without the
//! `--bench` argument that `cargo bench` passes. Figures from a debug build
//! mean nothing, so then it measures nothing: it runs every workload once
//! per peer at tiny sizes ([`Sizes::smoke`]), each of which checks every
//! byte it moved, and reports like a test binary. Arguments that do not
//! start with `-` filter by name (`upload::ttc`) as libtest's do; `--list`
//! lists; other flags meant for libtest are ignored.

use std::time::{Duration, Instant};

use crate::conn::PeerKind;
use crate::workloads::Sizes;

pub fn main(args: &[String]) -> ! {
    let filters: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let names: Vec<(String, &'static str, PeerKind)> = crate::WORKLOADS
        .into_iter()
        .flat_map(|w| {
            // The whole-process section is one test, not one per peer.
            let peers: &[PeerKind] = if w == "process" {
                &PeerKind::ALL[..1]
            } else {
                &PeerKind::ALL
            };
            peers
                .iter()
                .map(move |&p| (format!("{w}::{}", p.name()), w, p))
        })
        .collect();
    let total = names.len();
    let chosen: Vec<_> = names
        .into_iter()
        .filter(|(name, ..)| filters.is_empty() || filters.iter().any(|f| name.contains(f)))
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (name, ..) in &chosen {
            println!("{name}: test");
        }
        std::process::exit(0);
    }

    crate::watchdog(Duration::from_secs(120));
    let sz = Sizes::smoke();
    let t0 = Instant::now();
    println!(
        "\nrunning {} test{}",
        chosen.len(),
        if chosen.len() == 1 { "" } else { "s" }
    );
    let mut failures = Vec::new();
    for (name, w, p) in &chosen {
        let outcome = if *w == "process" {
            smoke_process()
        } else {
            crate::run(w, *p, &sz)
        };
        match outcome {
            Ok(_) => println!("test {name} ... ok"),
            Err(e) => {
                println!("test {name} ... FAILED");
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:");
        for f in &failures {
            println!("    {f}");
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out; \
         finished in {:.2}s\n",
        if failures.is_empty() { "ok" } else { "FAILED" },
        chosen.len() - failures.len(),
        failures.len(),
        total - chosen.len(),
        t0.elapsed().as_secs_f64()
    );
    std::process::exit(if failures.is_empty() { 0 } else { 101 });
}

/// The whole-process section once with 1 MiB each way (host only: under
/// QEMU it is not measured, and this checks that it says so).
fn smoke_process() -> crate::workloads::Outcome {
    let qemu = std::env::var_os("QEMU_LD_PREFIX").is_some();
    match crate::run_process_sized(qemu, 1 << 20, 1)? {
        Some(_) => Ok(Vec::new()),
        None if qemu => Ok(Vec::new()),
        None => Err("whole-process section not run on the host".into()),
    }
}

//! Workload 7, scale: 1, 100 and 1 000 concurrent echoing clients. Each level runs
//! in a fresh child process (this same binary, `--scale-child`), so the
//! resident memory measured is the clients' alone: the echo servers stay
//! in the parent, and nothing freed by an earlier level is reused.

use std::process::{Command, Stdio};

use crate::conn::{with_conn, PeerKind};
use crate::servers;
use crate::workloads::{scale_clients, Better, Metric, Outcome, Sizes};

/// A command that starts this same binary: directly, or through the
/// matching QEMU user-mode emulator when we run under one (the cargo
/// runner sets `QEMU_LD_PREFIX`, which the child inherits).
fn self_command() -> Result<Command, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let qemu = if std::env::var_os("QEMU_LD_PREFIX").is_none() {
        None
    } else if cfg!(target_arch = "arm") {
        Some("qemu-arm")
    } else if cfg!(target_arch = "aarch64") {
        Some("qemu-aarch64")
    } else {
        None
    };
    Ok(match qemu {
        Some(q) => {
            let mut c = Command::new(q);
            c.arg(exe);
            c
        }
        None => Command::new(exe),
    })
}

pub fn scale(kind: PeerKind, sz: &Sizes) -> Outcome {
    let addr = servers::echo();
    crate::procfs::raise_nofile(2 * sz.scale.iter().max().copied().unwrap_or(1) as u64 + 256);
    let mut out = Vec::new();
    let mut levels = Vec::new();
    for &n in &sz.scale {
        let mut cmd = self_command()?;
        cmd.args([
            "--scale-child",
            kind.name(),
            &n.to_string(),
            &addr.port().to_string(),
            &sz.scale_rounds.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        let output = crate::spawn::spawn(&mut cmd)
            .and_then(|c| c.wait_with_output())
            .map_err(|e| format!("start scale child: {e}"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("SCALE "))
            .ok_or_else(|| format!("scale child ({n} clients) failed: {}", text.trim()))?;
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let [before, after, verified] = f[..] else {
            return Err(format!("scale child said {line:?}"));
        };
        let want = (n * sz.scale_rounds * servers::BLOCK) as u64;
        if verified != want {
            return Err(format!("{n} clients: {verified} of {want} bytes verified"));
        }
        out.push(Metric {
            key: format!("rss_kib_n{n}"),
            unit: "KiB",
            better: Better::Lower,
            value: after as f64,
        });
        out.push(Metric {
            key: format!("kib_per_client_n{n}"),
            unit: "KiB",
            better: Better::Lower,
            value: after.saturating_sub(before) as f64 / n as f64,
        });
        levels.push((n, after));
    }
    if let (Some(&(n0, r0)), Some(&(n1, r1))) = (levels.first(), levels.last()) {
        if n1 > n0 {
            out.push(Metric {
                key: "kib_per_added_client".into(),
                unit: "KiB",
                better: Better::Lower,
                value: (r1 as f64 - r0 as f64) / (n1 - n0) as f64,
            });
        }
    }
    Ok(out)
}

/// `--scale-child PEER N PORT ROUNDS`: runs the clients, prints one
/// `SCALE rss_before rss_after verified_bytes` line, exits.
pub fn child_main(args: &[String]) -> ! {
    let parsed = (|| {
        let kind = PeerKind::parse(args.first()?)?;
        let n: usize = args.get(1)?.parse().ok()?;
        let port: u16 = args.get(2)?.parse().ok()?;
        let rounds: usize = args.get(3)?.parse().ok()?;
        Some((kind, n, port, rounds))
    })();
    let Some((kind, n, port, rounds)) = parsed else {
        eprintln!("usage: --scale-child PEER N PORT ROUNDS");
        std::process::exit(2);
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let result = with_conn!(kind, C => scale_clients::<C>(addr, n, rounds));
    match result {
        Ok(r) => {
            println!(
                "SCALE {} {} {}",
                r.rss_before_kib, r.rss_after_kib, r.verified_bytes
            );
            std::process::exit(0);
        }
        Err(e) => {
            println!("ERROR {e}");
            std::process::exit(1);
        }
    }
}

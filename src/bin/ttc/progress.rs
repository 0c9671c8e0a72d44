//! The `--progress` line: bytes sent, rate and ETA, updated in place on
//! stderr a few times a second.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::output::CONSOLE;
use crate::send::Gate;

/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(250);

/// `1536` → `1.5 KiB` (integer arithmetic: no floating point in the
/// binary).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    while unit + 1 < UNITS.len() && n >> (10 * (unit + 1)) > 0 {
        unit += 1;
    }
    if unit == 0 {
        return format!("{n} B");
    }
    let div = 1u128 << (10 * unit);
    // At most 2^64 * 10 / 2^10 after the division: fits a u64.
    let tenths = ((u128::from(n) * 10 + div / 2) / div) as u64;
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

/// `75` → `1:15`, `3725` → `1:02:05`.
pub fn clock(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The progress text for `done` bytes of `total` (if known) after
/// `elapsed`.
pub fn line(done: u64, total: Option<u64>, elapsed: Duration) -> String {
    // Bytes per second; 0 before any time has passed.
    let rate = (u128::from(done) * 1_000_000_000)
        .checked_div(elapsed.as_nanos())
        .map_or(0, |r| u64::try_from(r).unwrap_or(u64::MAX));
    let mut s = format!("ttc: sent {}", human_bytes(done));
    if let Some(total) = total {
        // An empty file is all sent.
        let pct = done.saturating_mul(100).checked_div(total).unwrap_or(100);
        let _ = write!(s, " of {} ({pct}%)", human_bytes(total));
    }
    let _ = write!(s, " at {}/s", human_bytes(rate));
    if let (Some(total), true) = (total, rate > 0) {
        let eta = total.saturating_sub(done).div_ceil(rate);
        let _ = write!(s, ", ETA {}", clock(eta));
    }
    s
}

/// Starts the thread that redraws the line from `accepted` until `done`
/// is set. Its clock starts when the connection is up.
pub fn spawn(accepted: Arc<AtomicU64>, total: Option<u64>, gate: Arc<Gate>, done: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("ttc-progress".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            if !gate.wait() {
                return;
            }
            let start = Instant::now();
            while !done.load(Ordering::Relaxed) {
                let n = accepted.load(Ordering::Relaxed);
                CONSOLE.progress(&line(n, total, start.elapsed()));
                // Pacing the redraws; the line is a view, not a result.
                std::thread::sleep(TICK);
            }
        });
    if let Err(e) = spawned {
        log::warn!("no progress line: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_human_bytes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 << 20), "5.0 MiB");
        assert_eq!(human_bytes(1024 * 1024 - 1), "1024.0 KiB");
        assert_eq!(human_bytes(u64::MAX), "16777216.0 TiB");
    }

    #[test]
    fn test_clock() {
        assert_eq!(clock(0), "0:00");
        assert_eq!(clock(75), "1:15");
        assert_eq!(clock(3725), "1:02:05");
    }

    #[test]
    fn test_progress_line() {
        assert_eq!(
            line(51_200, Some(102_400), Duration::from_secs(1)),
            "ttc: sent 50.0 KiB of 100.0 KiB (50%) at 50.0 KiB/s, ETA 0:01"
        );
        assert_eq!(
            line(2048, None, Duration::from_secs(2)),
            "ttc: sent 2.0 KiB at 1.0 KiB/s"
        );
        assert_eq!(
            line(0, Some(10), Duration::ZERO),
            "ttc: sent 0 B of 10 B (0%) at 0 B/s"
        );
    }
}

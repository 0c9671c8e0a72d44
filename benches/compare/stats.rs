//! Percentiles of latency samples.

use std::time::Duration;

/// Sorts `samples` and returns the nearest-rank percentile `p` (0..=100)
/// in microseconds.
pub fn percentile_us(samples: &mut [Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    let i = rank.clamp(1, samples.len()) - 1;
    samples[i].as_secs_f64() * 1e6
}

/// MB/s (10^6 bytes per second).
pub fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64() / 1e6
}

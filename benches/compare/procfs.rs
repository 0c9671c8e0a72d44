//! What the kernel says about this process and its threads: per-thread
//! wake-ups and CPU time, resident memory, process-wide usage, and the
//! open-file limit.
#![allow(unsafe_code)]

use std::fs;
use std::time::Duration;

/// One thread's counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadStat {
    /// Voluntary context switches: how often it went to sleep (and so was
    /// woken again).
    pub voluntary: u64,
    /// CPU time on the thread, in nanoseconds.
    pub cpu_ns: u64,
}

/// Linux thread ids of this process's threads whose name is `name` (first
/// 15 bytes, as the kernel keeps them).
pub fn threads_named(name: &str) -> Vec<u32> {
    let want = &name.as_bytes()[..name.len().min(15)];
    let Ok(dir) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut tids = Vec::new();
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if let Ok(comm) = fs::read(entry.path().join("comm")) {
            if comm.strip_suffix(b"\n").unwrap_or(&comm) == want {
                tids.push(tid);
            }
        }
    }
    tids
}

/// The counters of thread `tid`, if it still exists.
pub fn thread_stat(tid: u32) -> Option<ThreadStat> {
    let base = format!("/proc/self/task/{tid}");
    let status = fs::read_to_string(format!("{base}/status")).ok()?;
    let voluntary = status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())?;
    // schedstat has nanoseconds; stat only clock ticks (10 ms).
    let cpu_ns = fs::read_to_string(format!("{base}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .or_else(|| {
            let stat = fs::read_to_string(format!("{base}/stat")).ok()?;
            // Fields after the ")" that ends the name: utime is the 12th,
            // stime the 13th.
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(ticks * 1_000_000_000 / clock_ticks())
        })?;
    Some(ThreadStat { voluntary, cpu_ns })
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf takes no pointers.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Resident set size of the process, in KiB.
pub fn rss_kib() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Process-wide usage, all threads (including ended ones).
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Voluntary context switches.
    pub voluntary: u64,
}

/// `getrusage(RUSAGE_SELF)`.
pub fn usage() -> Usage {
    // SAFETY: an all-zero rusage is a valid value; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a live rusage for the whole call.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Usage::default();
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Usage {
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        voluntary: ru.ru_nvcsw as u64,
    }
}

/// Raises the soft open-file limit towards `want` (never past the hard
/// limit). Returns the soft limit in force afterwards.
pub fn raise_nofile(want: u64) -> u64 {
    // SAFETY: an all-zero rlimit is valid; getrlimit/setrlimit read and
    // write only the live struct passed.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 0;
        }
        let want = want as libc::rlim_t;
        if rl.rlim_cur < want {
            let old = rl.rlim_cur;
            rl.rlim_cur = want.min(rl.rlim_max);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                rl.rlim_cur = old;
            }
        }
        rl.rlim_cur as u64
    }
}

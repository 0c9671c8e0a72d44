//! Starting a child process with a bound on the start itself.
//!
//! Under QEMU user-mode a fork of a multithreaded guest can, rarely, leave
//! the child stuck before its exec (seen twice under qemu-arm, the second
//! time in CI's armv7 musl suite, out of many thousands of starts). Other
//! emulators know it too: the child inherits a lock another thread held at
//! the fork. With glibc the parent goes on at once and the
//! stuck child is the `Child` it gets; with musl `posix_spawn` waits for
//! the exec, so the parent hangs in `Command::spawn` with no deadline of
//! its own. Both are bounded here: a child still not exec'd after
//! [`START_LIMIT`] is killed and the command started again, up to
//! [`START_TRIES`] times, with a line on stderr each time.
//!
//! A child has exec'd when its command line (`/proc/PID/cmdline`, read
//! through to the host under QEMU) no longer ends with this process's
//! arguments: before its exec a forked child is a copy of us (under QEMU
//! its command line is the emulator's, `qemu-arm` and its options, then
//! ours).
//!
//! Self-contained (std and libc), so benches can include it by path.

#![allow(dead_code)]

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long a start may take before the child counts as stuck: a healthy
/// start under QEMU on a loaded two-core machine takes well under a
/// second.
pub const START_LIMIT: Duration = Duration::from_secs(10);

/// How many starts before giving up.
pub const START_TRIES: u32 = 3;

/// `cmd.spawn()`, bounded as the module says.
pub fn spawn(cmd: &mut Command) -> io::Result<Child> {
    for attempt in 1..=START_TRIES {
        let killed = Arc::new(AtomicBool::new(false));
        let (started, wait) = mpsc::channel::<()>();
        let watchdog = {
            let killed = killed.clone();
            std::thread::spawn(move || {
                // Only while spawn() has not returned (musl: it waits for
                // the exec).
                while let Err(RecvTimeoutError::Timeout) = wait.recv_timeout(START_LIMIT) {
                    if kill_stuck_children() > 0 {
                        killed.store(true, Ordering::SeqCst);
                    }
                }
            })
        };
        let spawned = cmd.spawn();
        drop(started);
        let _ = watchdog.join();
        let mut child = spawned?;
        // glibc: spawn() returned at the fork; wait for the exec. A child
        // that already ended has exec'd or failed on its own.
        let deadline = Instant::now() + START_LIMIT;
        while before_exec(child.id()) {
            if Instant::now() >= deadline {
                killed.store(true, Ordering::SeqCst);
                break;
            }
            // Pacing a poll of OS state (another process's exec).
            std::thread::sleep(Duration::from_millis(1));
        }
        // Killed by another start's watchdog while stuck before its exec
        // (nothing else here sends SIGKILL to a child that just started).
        let stuck = killed.load(Ordering::SeqCst)
            || matches!(child.try_wait(), Ok(Some(s)) if s.signal() == Some(libc::SIGKILL));
        if !stuck {
            return Ok(child);
        }
        let _ = child.kill();
        let _ = child.wait();
        eprintln!(
            "spawn: {:?} was stuck before its exec for {START_LIMIT:?} \
             (start {attempt} of {START_TRIES}); killed it",
            cmd.get_program()
        );
    }
    Err(io::Error::other(format!(
        "{:?}: every one of {START_TRIES} starts was stuck before its exec",
        cmd.get_program()
    )))
}

/// `cmd.output()`, with the start bounded as [`spawn`] does it.
pub fn output(cmd: &mut Command) -> io::Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    spawn(cmd)?.wait_with_output()
}

/// This process's arguments, `argv[0]` first: what a forked child's
/// command line ends with until it execs.
fn own_args() -> &'static [OsString] {
    static ARGS: OnceLock<Vec<OsString>> = OnceLock::new();
    ARGS.get_or_init(|| std::env::args_os().collect())
}

/// Whether `pid` is a fork of this process that has not exec'd yet.
pub fn before_exec(pid: u32) -> bool {
    let me = own_args();
    let Ok(line) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let line = line.strip_suffix(&[0]).unwrap_or(&line);
    let args: Vec<&[u8]> = line.split(|&b| b == 0).collect();
    !me.is_empty()
        && args.len() >= me.len()
        && args[args.len() - me.len()..]
            .iter()
            .zip(me)
            .all(|(a, m)| *a == m.as_bytes())
}

/// Our children still before their exec, by pid.
fn children_before_exec() -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| parent_of(pid) == Some(me) && before_exec(pid))
        .collect()
}

/// The parent pid of `pid`, from `/proc/PID/stat` (after the command name,
/// which may hold spaces and parentheses: the last `)` ends it).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let end = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[end + 1..]).ok()?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Kills our children that stayed before their exec for a whole second
/// (a healthy one is there for microseconds to milliseconds); returns how
/// many.
pub fn kill_stuck_children() -> usize {
    let first = children_before_exec();
    if first.is_empty() {
        return 0;
    }
    // Pacing: a second look, a second later, tells stuck from starting.
    std::thread::sleep(Duration::from_secs(1));
    let still: Vec<u32> = children_before_exec()
        .into_iter()
        .filter(|p| first.contains(p))
        .collect();
    for &pid in &still {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            continue;
        };
        // SAFETY: kill(2) takes plain integers and touches no memory; the
        // pid is a child of ours that has not been reaped (it is still in
        // /proc with us as its parent), so it cannot have been reused.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    still.len()
}

//! SIGINT, SIGTERM and SIGHUP, turned into ordinary calls on a thread of
//! our own.
//!
//! [`block`] masks them in the calling thread; called first thing
//! in `main`, before any thread starts, every thread inherits the mask, so
//! the kernel never interrupts one with them. [`spawn_watcher`] then waits
//! for them with `sigwait(2)` on a dedicated thread and calls a plain Rust
//! closure: no async-signal-safety rules apply there.
//!
//! This is the only module of the binary with `unsafe` code.
#![allow(unsafe_code)]

use std::io;
use std::mem::MaybeUninit;

/// The signals `ttc` handles: SIGINT and SIGTERM stop it; SIGHUP asks a
/// client with `--reconnect` to reconnect now (the network changed).
fn stop_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given; sigaddset only
    // writes into that initialised set. Both cannot fail for a valid
    // pointer and these valid signal numbers.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGINT);
        libc::sigaddset(set.as_mut_ptr(), libc::SIGTERM);
        libc::sigaddset(set.as_mut_ptr(), libc::SIGHUP);
        set.assume_init()
    }
}

/// Blocks SIGINT, SIGTERM and SIGHUP in this thread and in every thread it starts
/// from now on. Call it before starting any thread.
pub fn block() -> io::Result<()> {
    let set = stop_set();
    // SAFETY: `set` is an initialised sigset_t; a null old-set pointer is
    // allowed and means "don't report the previous mask".
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// Undoes [`block`] in this thread: the signals act as usual again
/// (they end the process), for when no watcher could be started.
pub fn unblock() {
    let set = stop_set();
    // SAFETY: as in `block`.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        log::warn!(
            "cannot unblock SIGINT/SIGTERM: {}",
            io::Error::from_raw_os_error(rc)
        );
    }
}

/// Starts a thread that calls `on_signal` with each SIGINT, SIGTERM or
/// SIGHUP (the signal number) as it arrives. Needs [`block`] first.
/// (A boxed closure: one copy of the thread's code for every caller.)
pub fn spawn_watcher(mut on_signal: Box<dyn FnMut(i32) + Send>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("ttc-signals".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let set = stop_set();
            loop {
                let mut sig: libc::c_int = 0;
                // SAFETY: `set` is an initialised sigset_t and `sig` a valid
                // place for the result; sigwait only reads the one and
                // writes the other.
                let rc = unsafe { libc::sigwait(&set, &mut sig) };
                if rc == 0 {
                    on_signal(sig);
                } else if rc != libc::EINTR {
                    log::warn!("sigwait failed: {}", io::Error::from_raw_os_error(rc));
                    return;
                }
            }
        })
        .map(drop)
}

/// The shell's exit status for a run ended by `signal`: 128 + its number.
pub fn exit_status(signal: i32) -> i32 {
    128 + signal
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_exit_status_follows_the_shell_convention() {
        assert_eq!(super::exit_status(libc::SIGINT), 130);
        assert_eq!(super::exit_status(libc::SIGTERM), 143);
    }
}

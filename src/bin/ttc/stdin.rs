//! What is left in standard input when the connection ends first: the
//! rest of a regular file (its size against the offset), or for a pipe, a
//! terminal or a socket whether anything is waiting (`FIONREAD`).
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Seek};
use std::os::fd::AsFd;

/// For a regular file on stdin: the bytes from the current offset to its
/// end. `None` for anything else (a pipe, a terminal, a socket, a device).
pub fn regular_rest() -> Option<u64> {
    let mut file = File::from(io::stdin().as_fd().try_clone_to_owned().ok()?);
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    // The duplicate shares the offset with stdin.
    let at = file.stream_position().ok()?;
    Some(meta.len().saturating_sub(at))
}

/// Bytes waiting to be read on stdin (a pipe, a terminal, a socket), as
/// `FIONREAD` counts them; `None` where it does not answer.
pub fn waiting() -> Option<u64> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points
    // to a live local; descriptor 0 is only read from.
    let rc = unsafe { libc::ioctl(0, libc::FIONREAD, &mut n) };
    (rc == 0).then_some(n.max(0) as u64)
}

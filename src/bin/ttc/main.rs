//! `ttc`, the command-line client: a netcat-style pipe, a rate-controlled
//! file send, a built-in demo, and test peers to run on a device. Built on
//! the `ttc` library's public API only. See `ttc --help` and the README.
#![deny(unsafe_code)]
#![warn(rust_2018_idioms)]

mod args;
mod demo;
mod output;
mod progress;
mod run;
mod send;
mod serve;
mod signals;

use std::io::Write;

use args::Command;

/// Clean end: the input finished and the server closed, or the server
/// closed.
pub const EXIT_OK: i32 = 0;
/// A network error (resolve, connect, reset, timeout) or a failed output.
pub const EXIT_ERROR: i32 = 1;
/// A usage error: bad option or value, missing file.
pub const EXIT_USAGE: i32 = 2;

fn main() {
    ttc::logger::init();
    let status = match args::parse(std::env::args_os().skip(1)) {
        Ok(Command::Help) => print_stdout(args::HELP),
        Ok(Command::Version) => print_stdout(&format!("ttc {}\n", env!("CARGO_PKG_VERSION"))),
        Ok(Command::Connect(c)) => run::connect(c),
        Ok(Command::Demo { json }) => demo::run(json),
        Ok(Command::Serve(s)) => serve::run(s),
        Err(e) => {
            output::CONSOLE.line(&format!("ttc: {e}"));
            EXIT_USAGE
        }
    };
    std::process::exit(status);
}

/// Prints `text`; a closed stdout (`ttc --help | head -1`) is not an error.
fn print_stdout(text: &str) -> i32 {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    EXIT_OK
}

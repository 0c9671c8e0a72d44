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
#[cfg(feature = "tls")]
mod tls;

use std::io::Write;

use args::Command;

/// Clean end: all of the input was sent and the server closed.
pub const EXIT_OK: i32 = 0;
/// A network error (resolve, connect, reset, timeout), input left that the
/// server never took, an end by the linger, a failed input or output.
pub const EXIT_ERROR: i32 = 1;
/// A usage error: bad option or value, missing file.
pub const EXIT_USAGE: i32 = 2;

fn main() {
    // First, before parsing and before opening any file (opening a FIFO
    // waits for its writer): a SIGINT, SIGTERM or SIGHUP from then on
    // waits for the session's watcher (client, demo, serve), which ends
    // with a final line, instead of killing the process without one.
    // Help, version and usage errors exit at once. The session says so if
    // blocking fails.
    let _ = signals::block();
    let command = args::parse(std::env::args_os().skip(1))
        .and_then(|c| args::with_env_proxy(c, &|name| std::env::var(name).ok()));
    init_logging(&command);
    let status = match command {
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

/// Installs the library's stderr logger. Its lines share stderr with the
/// signal lines, so with `--json` (client and demo) it is off unless
/// `TTC_LOG` or `RUST_LOG` asks for it: every line stays one JSON object.
/// `-v` asks for debug lines, whatever the environment says.
fn init_logging(command: &Result<Command, args::Usage>) {
    let (json, verbose) = match command {
        Ok(Command::Connect(c)) => (c.json, c.verbose),
        Ok(Command::Demo { json }) => (*json, false),
        _ => (false, false),
    };
    let asked = ["TTC_LOG", "RUST_LOG"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if verbose {
        ttc::logger::init_with_level(log::LevelFilter::Debug);
    } else if json && !asked {
        ttc::logger::init_with_level(log::LevelFilter::Off);
    } else {
        ttc::logger::init();
    }
}

/// Prints `text`; a closed stdout (`ttc --help | head -1`) is not an error.
fn print_stdout(text: &str) -> i32 {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    EXIT_OK
}

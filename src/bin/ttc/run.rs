//! One client session: input (stdin, a file, or nothing) to the inbox, the
//! outbox to stdout, signals to stderr, and the exit status at the end.
//!
//! Threads: the main thread copies the outbox to stdout; a feeder copies
//! the input to the inbox; a printer turns signals into lines; the signal
//! watcher turns SIGINT/SIGTERM into `Control::Shutdown`. The final
//! `socket_shutdown` line is printed by the main thread once stdout is
//! flushed and every other line is out, so it is always last.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use ttc::{Client, Control, Reason, ShutdownReport, Signal, SignalOutbox};

use crate::args::{Connect, Initial, Input, Usage};
use crate::output::{self, Format, CONSOLE};
use crate::send::{self, Feeder, Gate};
use crate::{progress, signals, EXIT_ERROR, EXIT_OK, EXIT_USAGE};

/// Where the bytes for the server come from.
pub enum Source {
    /// Standard input until end of file.
    Stdin,
    /// A file, paced to `rate` bytes per second if given.
    File { file: File, rate: Option<u64> },
    /// Nothing: finish right away and print what the server sends.
    Nothing,
}

/// `ttc [OPTIONS] HOST PORT`: checks the files named on the command line,
/// then runs the session.
pub fn connect(c: Connect) -> i32 {
    let format = if c.json { Format::Json } else { Format::Text };
    let initial = match &c.initial {
        None => Vec::new(),
        Some(Initial::Text(t)) => t.clone(),
        Some(Initial::File(path)) => match read_file(path, "--initial-file") {
            Ok(bytes) => bytes,
            Err(e) => return usage_error(&e),
        },
    };
    let (source, total) = match &c.input {
        Input::Stdin => (Source::Stdin, None),
        Input::File { path, rate } => match open_file(path) {
            Ok((file, len)) => (Source::File { file, rate: *rate }, Some(len)),
            Err(e) => return usage_error(&e),
        },
    };
    let progress = c
        .progress
        .unwrap_or(matches!(source, Source::File { .. }) && !c.json && io::stderr().is_terminal());
    #[allow(unused_mut)]
    let mut config = c.config(initial);
    #[cfg(feature = "tls")]
    if let Some(t) = &c.tls {
        config = match crate::tls::client_config(t) {
            Ok(tls) => config.tls(tls),
            Err(e) => return usage_error(&e),
        };
        if t.insecure {
            CONSOLE.line(&output::warning_line(format, crate::tls::INSECURE_WARNING));
        }
    }
    session(config, source, format, progress.then_some(total))
}

fn usage_error(e: &Usage) -> i32 {
    CONSOLE.line(&format!("ttc: {e}"));
    EXIT_USAGE
}

fn read_file(path: &Path, option: &str) -> Result<Vec<u8>, Usage> {
    std::fs::read(path)
        .map_err(|e| Usage(format!("cannot read {option} '{}': {e}", path.display())))
}

fn open_file(path: &Path) -> Result<(File, u64), Usage> {
    let err = |e: io::Error| Usage(format!("cannot read --send file '{}': {e}", path.display()));
    let file = File::open(path).map_err(err)?;
    let meta = file.metadata().map_err(err)?;
    if meta.is_dir() {
        return Err(Usage(format!(
            "cannot read --send file '{}': it is a directory",
            path.display()
        )));
    }
    Ok((file, meta.len()))
}

/// Runs a client with `config` until the connection ends; returns the exit
/// status. `progress`: `Some(total)` shows the progress line.
pub fn session(
    config: ttc::Config,
    source: Source,
    format: Format,
    progress: Option<Option<u64>>,
) -> i32 {
    // Before any thread starts, so that every thread inherits the mask.
    let signals_blocked = match signals::block() {
        Ok(()) => true,
        Err(e) => {
            log::warn!("cannot block SIGINT/SIGTERM: {e}");
            false
        }
    };
    let client = match config.spawn() {
        Ok(c) => c,
        Err(e) => {
            CONSOLE.line(&output::signal_line(format, &Signal::Error(e)));
            // Nothing was accepted, so nothing is unsent.
            CONSOLE.final_line(&output::shutdown_line(format, "error", 0, 0, 0));
            return EXIT_ERROR;
        }
    };
    if matches!(source, Source::Nothing) {
        // At once, so that the connection ends as "finished" (not "peer
        // closed") however fast the server is.
        client.control().send(Control::ProducerFinished);
    }
    let stopped_by = Arc::new(AtomicI32::new(0));
    if signals_blocked {
        watch_signals(&client, stopped_by.clone());
    }
    let gate = Arc::new(Gate::default());
    let printer = spawn("ttc-signal-lines", {
        let signal = client.signal().clone();
        let gate = gate.clone();
        move || print_signals(&signal, &gate, format)
    });
    let printer = match printer {
        Ok(p) => p,
        Err(e) => return spawn_failed(client, format, &e),
    };
    let accepted = Arc::new(AtomicU64::new(0));
    let feeder = Feeder {
        inbox: client.inbox().clone(),
        control: client.control().clone(),
        accepted: accepted.clone(),
        gate: gate.clone(),
        format,
    };
    let fed = match source {
        Source::Stdin => spawn("ttc-input", move || {
            feeder.run(send::Input::Stdin(io::stdin()), None)
        })
        .map(drop),
        Source::File { file, rate } => spawn("ttc-input", move || {
            feeder.run(send::Input::File(file), rate)
        })
        .map(drop),
        Source::Nothing => Ok(()),
    };
    if let Err(e) = fed {
        let _ = printer.join();
        return spawn_failed(client, format, &e);
    }
    let done = Arc::new(AtomicBool::new(false));
    if let Some(total) = progress {
        progress::spawn(accepted, total, gate, done.clone());
    }

    let output_error = copy_outbox_to_stdout(&client);
    if let Some(e) = &output_error {
        if e.kind() != io::ErrorKind::BrokenPipe {
            CONSOLE.line(&output::error_line(
                format,
                "output",
                e.kind(),
                &e.to_string(),
            ));
        }
    }
    // Every signal line before the final one, then the final one.
    let _ = printer.join();
    let report = client.join();
    done.store(true, Ordering::Relaxed);
    CONSOLE.final_line(&output::signal_line(
        format,
        &Signal::SocketShutdown(report.clone()),
    ));
    exit_status(
        &report,
        stopped_by.load(Ordering::Relaxed),
        output_error.as_ref(),
    )
}

/// The exit status for a session that ended with `report`.
fn exit_status(report: &ShutdownReport, stopped_by: i32, output_error: Option<&io::Error>) -> i32 {
    if output_error.is_some_and(|e| e.kind() != io::ErrorKind::BrokenPipe) {
        return EXIT_ERROR;
    }
    match report.reason {
        // With an error the end was not clean: the server closed, but
        // flushing what was queued failed (reset, write timeout) and
        // `unsent` bytes were lost.
        Reason::Finished | Reason::PeerClosed if report.error.is_none() => EXIT_OK,
        Reason::Shutdown if stopped_by != 0 => signals::exit_status(stopped_by),
        // Stopped because whoever read stdout closed it: they had enough.
        Reason::Shutdown => EXIT_OK,
        _ => EXIT_ERROR,
    }
}

/// First SIGINT/SIGTERM: `Shutdown`. Second: exit at once.
fn watch_signals(client: &Client, stopped_by: Arc<AtomicI32>) {
    let control = client.control().clone();
    let watcher = signals::spawn_watcher(Box::new(move |sig| {
        if stopped_by
            .compare_exchange(0, sig, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            control.send(Control::Shutdown);
        } else {
            std::process::exit(signals::exit_status(sig));
        }
    }));
    if let Err(e) = watcher {
        log::warn!("cannot watch SIGINT/SIGTERM: {e}");
        // Let them act as usual (end the process) rather than be ignored.
        signals::unblock();
    }
}

fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> io::Result<JoinHandle<T>> {
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(64 * 1024)
        .spawn(f)
}

/// A helper thread could not start: stop the client and report.
fn spawn_failed(client: Client, format: Format, e: &io::Error) -> i32 {
    client.control().send(Control::Shutdown);
    CONSOLE.line(&output::error_line(
        format,
        "spawn",
        e.kind(),
        &e.to_string(),
    ));
    let report = client.join();
    CONSOLE.final_line(&output::signal_line(
        format,
        &Signal::SocketShutdown(report),
    ));
    EXIT_ERROR
}

/// Prints every signal but the final one; opens the gate when the
/// connection is up (or ended without connecting).
fn print_signals(signal: &SignalOutbox, gate: &Gate, format: Format) {
    for sig in signal.iter() {
        match sig {
            Signal::Connected(_) => gate.open(true),
            Signal::SocketShutdown(_) => {
                gate.open(false);
                return;
            }
            _ => {}
        }
        CONSOLE.line(&output::signal_line(format, &sig));
    }
    gate.open(false);
}

/// Copies the outbox to stdout, a batch (what is queued, up to 8 KiB) at a
/// time, flushing after each so nothing is held back while the server is
/// quiet. On a write error, stops the client and keeps draining the outbox;
/// returns the error.
fn copy_outbox_to_stdout(client: &Client) -> Option<io::Error> {
    let outbox = client.outbox();
    let mut out = io::stdout().lock();
    let mut buf = [0u8; 8 * 1024];
    let mut failed: Option<io::Error> = None;
    while let Ok(n) = outbox.recv_into(&mut buf) {
        if failed.is_none() {
            if let Err(e) = out.write_all(&buf[..n]).and_then(|()| out.flush()) {
                client.control().send(Control::Shutdown);
                failed = Some(e);
            }
        }
    }
    failed
}

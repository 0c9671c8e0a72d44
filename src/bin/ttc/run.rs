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
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ttc::{Control, Reason, ShutdownReport, Signal, SignalOutbox};

use crate::args::{Connect, Initial, Input, Usage};
use crate::output::{self, Format, InputLeft, Target, CONSOLE};
use crate::send::{self, Feeder, Gate, INPUT_ENDED, INPUT_FAILED, INPUT_READING};
use crate::{progress, signals, EXIT_ERROR, EXIT_OK, EXIT_USAGE};

/// The command's chunk size: the most one send takes with `--reconnect`.
const CHUNK: usize = 1024;
/// The command's inbox and outbox, in chunks: 256 KiB each way, so a bulk
/// transfer moves in large batches (the library's default is 64 KiB).
const BOX_CHUNKS: usize = 256;
/// The client as the command sizes it.
pub type Client = ttc::Client<CHUNK, BOX_CHUNKS, BOX_CHUNKS>;
/// Its inbox.
pub type Inbox = ttc::Inbox<CHUNK, BOX_CHUNKS>;

/// Where the bytes for the server come from.
pub enum Source {
    /// Standard input until end of file.
    Stdin,
    /// A file, paced to `rate` bytes per second if given. `size`: known
    /// only for a regular file (a FIFO or a device has none).
    File {
        file: File,
        rate: Option<u64>,
        size: Option<u64>,
    },
    /// Nothing: finish right away and print what the server sends.
    Nothing,
}

/// How a session prints and what it reports.
pub struct Options<'a> {
    pub format: Format,
    /// `Some(total)`: show the progress line (`total` if the size is known).
    pub progress: Option<Option<u64>>,
    /// Only error lines and the final line.
    pub quiet: bool,
    /// The server as given, for resolve and connect errors.
    pub target: Target<'a>,
    /// Length of the initial message: the report counts it with the input.
    pub initial_len: u64,
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
    let source = match &c.input {
        Input::Stdin => Source::Stdin,
        Input::File { path, rate } => match open_file(path, "--send") {
            Ok((file, size)) => Source::File {
                file,
                rate: *rate,
                size,
            },
            Err(e) => return usage_error(&e),
        },
    };
    let total = match &source {
        Source::File { size, .. } => *size,
        _ => None,
    };
    let progress = c.progress.unwrap_or(
        matches!(source, Source::File { .. }) && !c.json && !c.quiet && io::stderr().is_terminal(),
    );
    let options = Options {
        format,
        progress: progress.then_some(total),
        quiet: c.quiet,
        target: Target {
            host: &c.host,
            port: c.port,
        },
        initial_len: initial.len() as u64,
    };
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
    session(config, source, &options)
}

fn usage_error(e: &Usage) -> i32 {
    CONSOLE.line(&format!("ttc: {e}"));
    EXIT_USAGE
}

/// The one wording for a file named on the command line that cannot be
/// read, whichever option named it.
fn file_error(path: &Path, option: &str, e: &dyn std::fmt::Display) -> Usage {
    Usage(format!(
        "cannot read {option} file '{}': {e}",
        path.display()
    ))
}

/// The contents of a file named by `option`.
fn read_file(path: &Path, option: &str) -> Result<Vec<u8>, Usage> {
    // Opened first for the same checks and words as --send.
    open_file(path, option)?;
    std::fs::read(path).map_err(|e| file_error(path, option, &e))
}

/// Opens a file named by `option`; its size if it is a regular file.
fn open_file(path: &Path, option: &str) -> Result<(File, Option<u64>), Usage> {
    let err = |e: io::Error| file_error(path, option, &e);
    let file = File::open(path).map_err(err)?;
    let meta = file.metadata().map_err(err)?;
    if meta.is_dir() {
        return Err(file_error(path, option, &"it is a directory"));
    }
    // Only a regular file has a size; a FIFO or a device says 0.
    let size = meta.is_file().then_some(meta.len());
    Ok((file, size))
}

/// Runs a client with `config` until the connection ends; returns the exit
/// status.
pub fn session(config: ttc::Config, source: Source, o: &Options<'_>) -> i32 {
    let format = o.format;
    let reconnect = config.backoff().is_some();
    // Before any thread starts, so that every thread inherits the mask.
    let signals_blocked = match signals::block() {
        Ok(()) => true,
        Err(e) => {
            log::warn!("cannot block SIGINT/SIGTERM: {e}");
            false
        }
    };
    // What the final line says about the input, from the report and how
    // far the feeder got.
    let size = match &source {
        Source::File { size, .. } => Some(*size),
        Source::Stdin => Some(None),
        Source::Nothing => None,
    };
    let input = Arc::new(AtomicU8::new(INPUT_READING));
    let input_left = |report: Option<&ShutdownReport>| {
        let state = input.load(Ordering::Acquire);
        let size = size?;
        let taken = report.map_or(0, |r| (r.sent + r.unsent).saturating_sub(o.initial_len));
        let left = match size {
            _ if state == INPUT_ENDED => InputLeft::Bytes(0),
            Some(n) => InputLeft::Bytes(n.saturating_sub(taken)),
            None => InputLeft::Unknown,
        };
        let peer_closed = report.is_some_and(|r| r.reason == Reason::PeerClosed);
        (peer_closed || left != InputLeft::Bytes(0)).then_some(left)
    };
    let client = match config.spawn_sized::<CHUNK, BOX_CHUNKS, BOX_CHUNKS>() {
        Ok(c) => c,
        Err(e) => {
            CONSOLE.line(&output::signal_line(
                format,
                &Signal::Error(e),
                Some(&o.target),
            ));
            // Nothing was accepted, so nothing is unsent.
            CONSOLE.final_line(&output::final_line(format, None, input_left(None)));
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
        watch_signals(&client, stopped_by.clone(), reconnect);
    }
    let gate = Arc::new(Gate::default());
    let printer = spawn("ttc-signal-lines", {
        let signal = client.signal().clone();
        let gate = gate.clone();
        let (host, port, quiet) = (o.target.host.to_owned(), o.target.port, o.quiet);
        move || {
            let target = Target { host: &host, port };
            print_signals(&signal, &gate, format, quiet, &target)
        }
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
        state: input.clone(),
        gate: gate.clone(),
        format,
    };
    let fed = match source {
        Source::Stdin => spawn("ttc-input", move || {
            feeder.run(send::Input::Stdin(io::stdin()), None)
        })
        .map(drop),
        Source::File { file, rate, .. } => spawn("ttc-input", move || {
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
    if let Some(total) = o.progress {
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
    if report.reason == Reason::PeerClosed && size.is_some() {
        settle_input(&input);
    }
    let left = input_left(Some(&report));
    CONSOLE.final_line(&output::final_line_with(
        format,
        Some(&report),
        left,
        reconnect,
    ));
    let status = exit_status(&Ending {
        report: &report,
        stopped_by: stopped_by.load(Ordering::Relaxed),
        output_error: output_error.as_ref(),
        input_failed: input.load(Ordering::Acquire) == INPUT_FAILED,
        input_left: left,
    });
    // With reconnect, success is everything accepted acknowledged.
    if reconnect && status == EXIT_OK && !report.all_acked() {
        return EXIT_ERROR;
    }
    status
}

/// The server closed first: gives the feeder a moment to reach the end of
/// an input that has none left (an empty or used-up stdin whose end it
/// had not read yet when the close came), so that `input_left` says 0
/// rather than unknown. Returns at once when the feeder is done, at most
/// after [`INPUT_SETTLE`] when it is still waiting for input (a terminal).
fn settle_input(input: &AtomicU8) {
    let until = Instant::now() + INPUT_SETTLE;
    while input.load(Ordering::Acquire) == INPUT_READING && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// How long [`settle_input`] waits at most.
const INPUT_SETTLE: Duration = Duration::from_millis(200);

/// How a session ended, for its exit status.
struct Ending<'a> {
    report: &'a ShutdownReport,
    /// The signal that stopped it (0: none).
    stopped_by: i32,
    output_error: Option<&'a io::Error>,
    input_failed: bool,
    input_left: Option<InputLeft>,
}

/// The exit status: 0 only when everything the user asked to send was sent
/// and the connection ended cleanly.
fn exit_status(e: &Ending<'_>) -> i32 {
    let r = e.report;
    if e.output_error
        .is_some_and(|e| e.kind() != io::ErrorKind::BrokenPipe)
    {
        return EXIT_ERROR;
    }
    if r.reason == Reason::Shutdown && e.stopped_by != 0 {
        return signals::exit_status(e.stopped_by);
    }
    if e.input_failed {
        return EXIT_ERROR;
    }
    let all_taken = matches!(e.input_left, None | Some(InputLeft::Bytes(0)));
    match r.reason {
        // With an error the end was not clean: the server closed, but
        // flushing what was queued failed (reset, write timeout) and
        // `unsent` bytes were lost.
        Reason::Finished if r.error.is_none() => EXIT_OK,
        Reason::PeerClosed if r.error.is_none() && r.unsent == 0 && all_taken => EXIT_OK,
        // Stopped because whoever read stdout closed it: they had enough.
        Reason::Shutdown => EXIT_OK,
        // The linger ended it: the server never closed, and the reply may
        // be cut short. Everything else is an error of some kind.
        _ => EXIT_ERROR,
    }
}

/// A second SIGINT/SIGTERM exits at once only if it comes this long after
/// the first, or is the other signal: a wrapper that signals the child and
/// then its process group (coreutils `timeout`) delivers one request as
/// two signals microseconds apart.
const SECOND_SIGNAL_AFTER: Duration = Duration::from_secs(1);

/// First SIGINT/SIGTERM: `Shutdown`. A second one (see
/// [`SECOND_SIGNAL_AFTER`]): exit at once.
fn watch_signals(client: &Client, stopped_by: Arc<AtomicI32>, reconnect: bool) {
    let control = client.control().clone();
    let mut first: Option<(i32, Instant)> = None;
    let watcher = signals::spawn_watcher(Box::new(move |sig| match first {
        // SIGHUP: the network changed. With --reconnect, reconnect now;
        // without, the connection goes on (it cannot be remade).
        _ if sig == libc::SIGHUP => {
            if reconnect {
                log::info!("SIGHUP: reconnecting now");
                control.send(Control::Reconnect);
            } else {
                CONSOLE.line("ttc: SIGHUP ignored: reconnecting needs --reconnect");
            }
        }
        None => {
            first = Some((sig, Instant::now()));
            stopped_by.store(sig, Ordering::Release);
            control.send(Control::Shutdown);
        }
        Some((was, at)) if was != sig || at.elapsed() >= SECOND_SIGNAL_AFTER => {
            std::process::exit(signals::exit_status(sig));
        }
        Some(_) => {
            log::debug!("signal {sig} again within 1 s: the same request")
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
    CONSOLE.final_line(&output::final_line(format, Some(&report), None));
    EXIT_ERROR
}

/// Prints every signal but the final one (with `quiet`, only the errors);
/// opens the gate when the connection is up (or ended without
/// connecting).
fn print_signals(
    signal: &SignalOutbox,
    gate: &Gate,
    format: Format,
    quiet: bool,
    target: &Target<'_>,
) {
    for sig in signal.iter() {
        match sig {
            Signal::Connected(_) => gate.open(true),
            Signal::SocketShutdown(_) => {
                gate.open(false);
                return;
            }
            _ => {}
        }
        if !quiet || matches!(sig, Signal::Error(_)) {
            CONSOLE.line(&output::signal_line(format, &sig, Some(target)));
        }
    }
    gate.open(false);
}

/// Copies the outbox to stdout straight from its ring (what is queued, one
/// `write` per contiguous part), so nothing is held back while the server
/// is quiet. On a write error, stops the client and keeps draining the
/// outbox; returns the error.
fn copy_outbox_to_stdout(client: &Client) -> Option<io::Error> {
    let outbox = client.outbox();
    // Straight to the descriptor (a duplicate of it): std's stdout is line
    // buffered, which scans every batch for a newline and splits it into
    // two writes plus a copy of its tail.
    let mut out = match io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Out::Fd(File::from(fd)),
        Err(_) => Out::Std(io::stdout().lock()),
    };
    let mut failed: Option<io::Error> = None;
    let mut sink = io::sink();
    loop {
        let target: &mut dyn Write = if failed.is_none() {
            &mut out
        } else {
            &mut sink
        };
        match outbox.write_to(target) {
            Err(_) => break,
            Ok(Ok(_)) => {
                if failed.is_none() {
                    if let Err(e) = out.flush() {
                        client.control().send(Control::Shutdown);
                        failed = Some(e);
                    }
                }
            }
            Ok(Err(e)) => {
                client.control().send(Control::Shutdown);
                failed = Some(e);
            }
        }
    }
    failed
}

/// Where the outbox goes: stdout's descriptor, unbuffered, or std's
/// `Stdout` if it could not be duplicated.
enum Out {
    Fd(File),
    Std(io::StdoutLock<'static>),
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Out::Fd(f) => f.write(buf),
            Out::Std(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::Fd(f) => f.flush(),
            Out::Std(s) => s.flush(),
        }
    }
}

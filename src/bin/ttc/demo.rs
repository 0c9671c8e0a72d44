//! `ttc demo`: a fortune server on loopback inside this process, and the
//! client connected to it. No setup, no network.

use std::net::TcpListener;

use ttc::peers::{self, Peer};

use crate::output::{self, Format, Target, CONSOLE};
use crate::run::{self, Source};
use crate::serve;
use crate::EXIT_ERROR;

/// Runs the demo; returns the exit status (0 when the fortune arrived).
pub fn run(json: bool) -> i32 {
    let format = if json { Format::Json } else { Format::Text };
    let started = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| peers::spawn_server(l, Peer::Fortune, serve::report_nothing as serve::OnEnd));
    let addr = match started {
        Ok(a) => a,
        Err(e) => {
            CONSOLE.line(&output::error_line(
                format,
                "listen",
                e.kind(),
                &e.to_string(),
            ));
            return EXIT_ERROR;
        }
    };
    if format == Format::Text {
        CONSOLE.line(&format!(
            "ttc: demo: a fortune server is listening on {addr}, inside this process"
        ));
        CONSOLE.line(
            "ttc: demo: the client connects to it, copies what arrives to stdout, \
             and reports its signals here on stderr",
        );
    }
    let host = addr.ip().to_string();
    let config = ttc::Config::new(host.clone(), addr.port());
    let options = run::Options {
        format,
        progress: None,
        quiet: false,
        target: Target {
            host: &host,
            port: addr.port(),
        },
        initial_len: 0,
        linger_zero: false,
    };
    run::session(config, Source::Nothing, &options)
}

//! The command line of the `ttc` tool (src/bin/ttc/args.rs, compiled in
//! here as it is): any argument list, UTF-8 or not, parses to a command or
//! a usage error, never a panic; a parsed connect command yields a library
//! configuration; the value parsers (and the HOST:PORT splitter) agree
//! with themselves.
#![no_main]

#[allow(dead_code)]
#[path = "../../src/bin/ttc/args.rs"]
mod args;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let argv: Vec<OsString> = data
        .split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    if let Ok(args::Command::Connect(c)) = args::parse(argv.clone()) {
        assert_ne!(c.port, 0, "a client port of 0 was accepted");
        let _config = c.config(Vec::new());
    }
    for a in &argv {
        let Some(s) = a.to_str() else { continue };
        if let Ok(p) = args::parse_port(s, true) {
            assert_eq!(args::parse_port(&p.to_string(), true), Ok(p));
        }
        // HOST:PORT and [V6]:PORT split and join back to the same parts.
        if let Ok((host, port)) = args::split_host_port(s) {
            let again = if host.contains(':') || host.starts_with('[') || port.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            assert_eq!(args::split_host_port(&again).ok(), Some((host, port)));
        }
        if let Ok(r) = args::parse_rate(s) {
            assert!(r >= 1);
            assert_eq!(args::parse_rate(&r.to_string()), Ok(r));
        }
        if let Ok(d) = args::parse_secs(s, true) {
            let ns = d.as_nanos();
            assert_eq!(
                args::parse_secs(
                    &format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000),
                    true
                ),
                Ok(d)
            );
        }
    }
});

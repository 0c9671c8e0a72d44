//! Opt-in logging back ends for programs built on `ttc` (the library itself
//! only calls the [`log`] macros and never prints).
//!
//! [`init`] installs the platform's logger once: `android_logger` (logcat)
//! on Android, a small stderr logger elsewhere. The level comes from the
//! environment variable `TTC_LOG`, or `RUST_LOG` when that is unset, in the
//! `RUST_LOG` style: `error`, `warn`, `info`, `debug`, `trace` or `off`
//! (a `target=level` list is read for its last bare level). Unset means
//! `warn`.
//!
//! ```
//! assert_eq!(ttc::logger::parse_level("debug"), Some(log::LevelFilter::Debug));
//! assert_eq!(ttc::logger::parse_level("ttc=trace,info"), Some(log::LevelFilter::Info));
//! assert_eq!(ttc::logger::parse_level("loud"), None);
//! ```

use log::LevelFilter;

/// The level used when neither `TTC_LOG` nor `RUST_LOG` says one.
pub const DEFAULT_LEVEL: LevelFilter = LevelFilter::Warn;

/// Reads a `RUST_LOG`-style level: the last bare level in a comma list;
/// `target=level` items count for their level when no bare one is given.
/// `None` when nothing in it is a level.
pub fn parse_level(spec: &str) -> Option<LevelFilter> {
    let mut bare = None;
    let mut targeted = None;
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once('=') {
            Some((_, lvl)) => targeted = lvl.trim().parse().ok().or(targeted),
            None => bare = item.parse().ok().or(bare),
        }
    }
    bare.or(targeted)
}

/// The level the environment asks for (`TTC_LOG`, then `RUST_LOG`), or
/// [`DEFAULT_LEVEL`].
pub fn level_from_env() -> LevelFilter {
    ["TTC_LOG", "RUST_LOG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().and_then(|s| parse_level(&s)))
        .unwrap_or(DEFAULT_LEVEL)
}

/// Installs the platform logger at the level from the environment. Safe to
/// call more than once; only the first call installs anything.
pub fn init() {
    init_with_level(level_from_env());
}

/// Installs the platform logger at `level`.
pub fn init_with_level(level: LevelFilter) {
    #[cfg(target_os = "android")]
    {
        android_logger::init_once(
            android_logger::Config::default()
                .with_max_level(level)
                .with_tag("ttc"),
        );
    }
    #[cfg(not(target_os = "android"))]
    {
        static LOGGER: StderrLogger = StderrLogger;
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(level);
        }
    }
}

/// Writes `LEVEL target: message` lines to stderr.
#[cfg(not(target_os = "android"))]
struct StderrLogger;

#[cfg(not(target_os = "android"))]
impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            use std::io::Write;
            // One locked write per line keeps lines from interleaving; a
            // closed stderr is ignored rather than panicking.
            let _ = writeln!(
                std::io::stderr().lock(),
                "{:<5} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_level_variants() {
        assert_eq!(parse_level("off"), Some(LevelFilter::Off));
        assert_eq!(parse_level("WARN"), Some(LevelFilter::Warn));
        assert_eq!(parse_level("ttc=debug"), Some(LevelFilter::Debug));
        assert_eq!(parse_level("ttc=debug, error"), Some(LevelFilter::Error));
        assert_eq!(parse_level(""), None);
        assert_eq!(parse_level("ttc=nonsense"), None);
    }
}

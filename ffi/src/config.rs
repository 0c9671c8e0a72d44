//! `ttc_options` (and `ttc_tls_options`) to the library's [`Config`]:
//! every field checked, a bad one a status and an error value that says
//! which field and why.

use std::ffi::{c_char, CStr};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ttc_rs::{Backoff, Config, Delivery, IpFamily, Jitter, Keepalive, Phase, Resolver};

use crate::ttc_status::{self, *};
use crate::{conn, error_of, timeout, ttc_error, ttc_options, ttc_tls_options};

/// Why the options were refused: the status and what to tell the caller.
pub(crate) type Refusal = (ttc_status, Box<ttc_error>);

fn refuse(status: ttc_status, phase: Phase, message: &str) -> Refusal {
    let kind = if status == TTC_E_UNSUPPORTED {
        io::ErrorKind::Unsupported
    } else {
        io::ErrorKind::InvalidInput
    };
    (
        status,
        Box::new(error_of(&ttc_rs::Error::new(phase, kind, message))),
    )
}

fn invalid(message: &str) -> Refusal {
    refuse(TTC_E_INVALID, Phase::Spawn, message)
}

/// The text of an optional C string: `None` for NULL or "".
///
/// # Safety
/// `p` must be NULL or NUL-terminated.
unsafe fn text(p: *const c_char, field: &str) -> Result<Option<String>, Refusal> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null, NUL-terminated by the caller's promise.
    match unsafe { CStr::from_ptr(p) }.to_str() {
        Ok("") => Ok(None),
        Ok(s) => Ok(Some(s.to_owned())),
        Err(_) => Err(invalid(&format!("{field}: not UTF-8"))),
    }
}

fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty())
}

/// A DNS server: an address with or without a port (53).
fn dns_server(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

/// A `ttc_options` duration where 0 or negative means "none".
fn positive(ms: i64) -> Option<Duration> {
    timeout(ms).filter(|d| !d.is_zero())
}

/// Checks `opts` and makes the library's Config from them; the chunk size
/// to spawn with.
///
/// # Safety
/// `opts.initial_message` must point to `initial_message_len` readable
/// bytes (or be NULL); every string field must be NULL or NUL-terminated;
/// `opts.tls` must be NULL or point to a valid `ttc_tls_options`.
pub(crate) unsafe fn config_of(
    host: &str,
    port: u16,
    opts: &ttc_options,
) -> Result<(Config, usize), Refusal> {
    let chunk = match opts.chunk_size {
        0 => Config::DEFAULT_CHUNK,
        c if conn::CHUNK_SIZES.contains(&c) => c,
        c => {
            return Err(refuse(
                TTC_E_UNSUPPORTED,
                Phase::Spawn,
                &format!("chunk_size {c}: this build offers 256, 1024, 4096 or 16384"),
            ))
        }
    };
    for cap in [opts.inbox_capacity, opts.outbox_capacity] {
        if cap != 0 && cap != conn::CAPACITY {
            return Err(refuse(
                TTC_E_UNSUPPORTED,
                Phase::Spawn,
                &format!("box capacity {cap}: this build offers {}", conn::CAPACITY),
            ));
        }
    }
    let family = match opts.family {
        0 => IpFamily::Any,
        4 => IpFamily::V4,
        6 => IpFamily::V6,
        f => return Err(invalid(&format!("family {f}: 0, 4 or 6"))),
    };
    let initial = if opts.initial_message_len == 0 {
        Vec::new()
    } else if opts.initial_message.is_null() {
        return Err((TTC_E_NULL, Box::new(crate::no_error())));
    } else {
        // SAFETY: the caller's promise (checked non-null above).
        unsafe { std::slice::from_raw_parts(opts.initial_message, opts.initial_message_len) }
            .to_vec()
    };
    let stack = match opts.stack_size {
        0 if chunk > 1024 => Config::DEFAULT_STACK_SIZE + 8 * chunk,
        0 => Config::DEFAULT_STACK_SIZE,
        s => s,
    };
    let keepalive = positive(opts.keepalive_ms).map(|idle| {
        let mut k = Keepalive::idle(idle);
        if let Some(i) = positive(opts.keepalive_interval_ms) {
            k = k.interval(i);
        }
        if opts.keepalive_count > 0 {
            k = k.count(opts.keepalive_count);
        }
        k
    });
    let mut config = Config::new(host, port)
        .family(family)
        .initial_message(initial)
        .connect_timeout(timeout(opts.connect_timeout_ms).unwrap_or(Duration::MAX))
        .write_timeout(timeout(opts.write_timeout_ms))
        .linger(timeout(opts.linger_ms))
        .keepalive(keepalive)
        .user_timeout(positive(opts.user_timeout_ms))
        .idle_timeout(positive(opts.idle_timeout_ms))
        .resolve_timeout(timeout(opts.resolve_timeout_ms))
        .attempt_delay(timeout(opts.attempt_delay_ms).unwrap_or(Config::DEFAULT_ATTEMPT_DELAY))
        .nodelay(opts.nodelay != 0)
        .stack_size(stack);

    // SAFETY (every `text` below): the caller's promise about the strings.
    if let Some(url) = unsafe { text(opts.proxy, "proxy") }? {
        let proxy = url
            .parse::<ttc_rs::Proxy>()
            .map_err(|e| refuse(TTC_E_INVALID, Phase::Proxy, &e.to_string()))?;
        config = config.proxy(proxy);
    }
    let addrs = unsafe { text(opts.resolver_addrs, "resolver_addrs") }?;
    let resolver = match opts.resolver {
        0 => Resolver::Auto,
        1 => Resolver::System,
        2 => {
            let list_text = addrs.unwrap_or_default();
            let mut servers = Vec::new();
            for s in list(&list_text) {
                servers.push(dns_server(s).ok_or_else(|| {
                    invalid(&format!(
                        "resolver_addrs: {s:?} is not a DNS server address"
                    ))
                })?);
            }
            if servers.is_empty() {
                return Err(invalid("TTC_RESOLVER_DNS needs resolver_addrs"));
            }
            Resolver::Dns(servers)
        }
        3 => {
            let list_text = addrs.unwrap_or_default();
            let mut ips = Vec::new();
            for s in list(&list_text) {
                ips.push(s.parse::<IpAddr>().map_err(|_| {
                    invalid(&format!("resolver_addrs: {s:?} is not an IP address"))
                })?);
            }
            if ips.is_empty() {
                return Err(invalid("TTC_RESOLVER_STATIC needs resolver_addrs"));
            }
            Resolver::Static(ips)
        }
        4 => Resolver::Dnsproxyd(PathBuf::from(
            addrs.unwrap_or_else(|| ttc_rs::ANDROID_DNSPROXYD.to_owned()),
        )),
        r => return Err(invalid(&format!("resolver {r}: 0 to 4"))),
    };
    config = config.resolver(resolver);
    if let Some(dev) = unsafe { text(opts.bind_device, "bind_device") }? {
        config = config.bind_device(dev);
    }
    if let Some(ip) = unsafe { text(opts.local_addr, "local_addr") }? {
        let ip = ip
            .parse::<IpAddr>()
            .map_err(|_| invalid(&format!("local_addr: {ip:?} is not an IP address")))?;
        config = config.local_addr(ip);
    }

    let delivery = match opts.delivery {
        0 => Delivery::TcpAck,
        1 => Delivery::Confirmed,
        d => {
            return Err(invalid(&format!(
                "delivery {d}: 0 (TCP ack) or 1 (confirmed)"
            )))
        }
    };
    config = config.delivery(delivery);
    if opts.resend_window != 0 {
        config = config.resend_window(opts.resend_window);
    }
    if opts.reconnect != 0 {
        let defaults = Backoff::default();
        let backoff = Backoff::default()
            .initial(timeout(opts.backoff_initial_ms).unwrap_or(defaults.initial))
            .max(timeout(opts.backoff_max_ms).unwrap_or(defaults.max))
            .factor(opts.backoff_factor.max(1))
            .jitter(if opts.backoff_jitter != 0 {
                Jitter::Full
            } else {
                Jitter::Off
            })
            .max_attempts(u32::try_from(opts.max_attempts).ok().filter(|&n| n > 0))
            .max_elapsed(positive(opts.max_elapsed_ms));
        config = config.reconnect(backoff);
    }
    if !opts.tls.is_null() {
        // SAFETY: checked non-null; the caller's promise.
        let tls = unsafe { &*opts.tls };
        // SAFETY: the caller's promise about its strings.
        config = unsafe { with_tls(config, tls) }?;
    }
    Ok((config, chunk))
}

/// # Safety
/// Every string of `tls` must be NULL or NUL-terminated.
#[cfg(feature = "tls")]
unsafe fn with_tls(config: Config, tls: &ttc_tls_options) -> Result<Config, Refusal> {
    use ttc_rs::TlsConfig;
    let bad = |field: &str, e: &dyn std::fmt::Display| {
        refuse(TTC_E_INVALID, Phase::Tls, &format!("{field}: {e}"))
    };
    let mut t = TlsConfig::new();
    // SAFETY (every `text`): the caller's promise.
    if let Some(name) = unsafe { text(tls.server_name, "tls.server_name") }? {
        t = t.server_name(name);
    }
    if let Some(path) = unsafe { text(tls.ca_file, "tls.ca_file") }? {
        t = t.ca_file(&path).map_err(|e| bad("ca_file", &e))?;
    }
    if let Some(pem) = unsafe { text(tls.ca_pem, "tls.ca_pem") }? {
        t = t.ca_pem(pem.as_bytes()).map_err(|e| bad("ca_pem", &e))?;
    }
    let files = (
        unsafe { text(tls.client_cert_file, "tls.client_cert_file") }?,
        unsafe { text(tls.client_key_file, "tls.client_key_file") }?,
    );
    match files {
        (Some(c), Some(k)) => {
            t = t
                .client_cert_files(&c, &k)
                .map_err(|e| bad("client_cert_file", &e))?
        }
        (None, None) => {}
        _ => return Err(bad("client_cert_file", &"needs client_key_file too")),
    }
    let pems = (
        unsafe { text(tls.client_cert_pem, "tls.client_cert_pem") }?,
        unsafe { text(tls.client_key_pem, "tls.client_key_pem") }?,
    );
    match pems {
        (Some(c), Some(k)) => {
            t = t
                .client_cert_pem(c.as_bytes(), k.as_bytes())
                .map_err(|e| bad("client_cert_pem", &e))?
        }
        (None, None) => {}
        _ => return Err(bad("client_cert_pem", &"needs client_key_pem too")),
    }
    if let Some(pins) = unsafe { text(tls.pin_sha256, "tls.pin_sha256") }? {
        t = t.pin_sha256(&pins).map_err(|e| bad("pin_sha256", &e))?;
    }
    if let Some(alpn) = unsafe { text(tls.alpn, "tls.alpn") }? {
        t = t.alpn(list(&alpn).map(str::as_bytes).map(<[u8]>::to_vec));
    }
    t = t.insecure_skip_verify_for_testing(tls.insecure_skip_verify != 0);
    Ok(config.tls(t))
}

/// # Safety
/// Nothing is read.
#[cfg(not(feature = "tls"))]
unsafe fn with_tls(_: Config, _: &ttc_tls_options) -> Result<Config, Refusal> {
    Err(refuse(
        TTC_E_UNSUPPORTED,
        Phase::Tls,
        "this build of libttc has no TLS (built without the tls feature)",
    ))
}

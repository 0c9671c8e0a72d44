//! The native methods of the Java class `org.ttc.ThreadedTcpClient`
//! (java/src/org/ttc/ThreadedTcpClient.java): a thin layer over the C
//! API, so handles, statuses and thread safety are the C API's. Built
//! with the `jni` feature (the plain C library does not carry it).
//!
//! Errors become Java exceptions: `IllegalStateException` for a closed
//! handle, `IllegalArgumentException` for bad options, `java.io.IOException`
//! when the worker cannot start, `RuntimeException` for anything else
//! (including a panic, which never unwinds into the JVM).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use jni::objects::{JByteArray, JClass, JObject, JString, JValue};
use jni::sys::{jboolean, jbyteArray, jint, jlong, JNI_FALSE, JNI_TRUE};
use jni::JNIEnv;

use crate::*;

/// Why a native method failed: a Java exception to throw.
struct Throw(&'static str, String);

impl From<jni::errors::Error> for Throw {
    fn from(e: jni::errors::Error) -> Throw {
        Throw("java/lang/RuntimeException", format!("JNI: {e}"))
    }
}

fn status_error(st: ttc_status, what: &str) -> Throw {
    let class = match st {
        TTC_E_HANDLE => "java/lang/IllegalStateException",
        TTC_E_INVALID | TTC_E_UNSUPPORTED | TTC_E_NULL => "java/lang/IllegalArgumentException",
        TTC_E_SPAWN => "java/io/IOException",
        _ => "java/lang/RuntimeException",
    };
    // SAFETY: ttc_strerror returns a static NUL-terminated string.
    let msg = unsafe { CStr::from_ptr(ttc_strerror(st as i32)) };
    Throw(class, format!("{what}: {}", msg.to_string_lossy()))
}

/// Runs `f`; on an error or a panic throws, and returns `fallback`.
fn run<T>(
    env: &mut JNIEnv<'_>,
    fallback: T,
    f: impl FnOnce(&mut JNIEnv<'_>) -> Result<T, Throw>,
) -> T {
    let r = catch_unwind(AssertUnwindSafe(|| f(env)));
    let throw = match r {
        Ok(Ok(v)) => return v,
        Ok(Err(t)) => t,
        Err(_) => Throw(
            "java/lang/RuntimeException",
            "ttc: internal error: the library panicked".into(),
        ),
    };
    // A pending exception (from a failed JNI call) is thrown as it is.
    if !env.exception_check().unwrap_or(true) {
        let _ = env.throw_new(throw.0, throw.1);
    }
    fallback
}

fn static_str(p: *const c_char) -> String {
    // SAFETY: the name functions return static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn set_string(
    env: &mut JNIEnv<'_>,
    obj: &JObject<'_>,
    name: &str,
    value: &str,
) -> Result<(), Throw> {
    let s = env.new_string(value)?;
    env.set_field(obj, name, "Ljava/lang/String;", JValue::Object(&s))?;
    env.delete_local_ref(s)?;
    Ok(())
}

/// Fills the error fields `{prefix}Phase`, `{prefix}Kind`,
/// `{prefix}OsCode`, `{prefix}Message` of a `NativeSignal`.
fn set_error(
    env: &mut JNIEnv<'_>,
    obj: &JObject<'_>,
    prefix: &str,
    e: &ttc_error,
) -> Result<(), Throw> {
    set_string(
        env,
        obj,
        &format!("{prefix}Phase"),
        &static_str(ttc_phase_str(e.phase as i32)),
    )?;
    set_string(env, obj, &format!("{prefix}Kind"), &field_text(&e.kind))?;
    env.set_field(obj, format!("{prefix}OsCode"), "I", JValue::Int(e.os_code))?;
    set_string(
        env,
        obj,
        &format!("{prefix}Message"),
        &field_text(&e.message),
    )?;
    Ok(())
}

fn set_report(env: &mut JNIEnv<'_>, obj: &JObject<'_>, r: &ttc_report) -> Result<(), Throw> {
    set_string(
        env,
        obj,
        "reason",
        &static_str(ttc_reason_str(r.reason as i32)),
    )?;
    // Java's long is signed; byte counts stay far below 2^63.
    env.set_field(obj, "sent", "J", JValue::Long(r.sent as i64))?;
    env.set_field(obj, "received", "J", JValue::Long(r.received as i64))?;
    env.set_field(obj, "unsent", "J", JValue::Long(r.unsent as i64))?;
    env.set_field(obj, "acked", "J", JValue::Long(r.acked as i64))?;
    env.set_field(obj, "resent", "J", JValue::Long(r.resent as i64))?;
    env.set_field(obj, "lost", "J", JValue::Long(r.lost as i64))?;
    env.set_field(obj, "connections", "I", JValue::Int(r.connections as i32))?;
    env.set_field(obj, "attempts", "I", JValue::Int(r.attempts as i32))?;
    set_string(env, obj, "tlsVersion", &field_text(&r.tls_version))?;
    set_string(env, obj, "tlsCipher", &field_text(&r.tls_cipher))?;
    env.set_field(obj, "hasError", "Z", JValue::Bool(r.has_error.into()))?;
    if r.has_error {
        set_error(env, obj, "reportError", &r.error)?;
    }
    Ok(())
}

fn get_long(env: &mut JNIEnv<'_>, o: &JObject<'_>, name: &str) -> Result<i64, Throw> {
    Ok(env.get_field(o, name, "J")?.j()?)
}

fn get_int(env: &mut JNIEnv<'_>, o: &JObject<'_>, name: &str) -> Result<i32, Throw> {
    Ok(env.get_field(o, name, "I")?.i()?)
}

fn get_bool(env: &mut JNIEnv<'_>, o: &JObject<'_>, name: &str) -> Result<bool, Throw> {
    Ok(env.get_field(o, name, "Z")?.z()?)
}

/// A String field as a C string; `None` for null or "".
fn get_cstring(
    env: &mut JNIEnv<'_>,
    o: &JObject<'_>,
    name: &str,
) -> Result<Option<std::ffi::CString>, Throw> {
    let v = env.get_field(o, name, "Ljava/lang/String;")?.l()?;
    if v.is_null() {
        return Ok(None);
    }
    let text: String = env.get_string(&JString::from(v))?.into();
    if text.is_empty() {
        return Ok(None);
    }
    std::ffi::CString::new(text).map(Some).map_err(|_| {
        Throw(
            "java/lang/IllegalArgumentException",
            format!("{name} contains a NUL"),
        )
    })
}

fn ptr_of(s: &Option<std::ffi::CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

/// `static native long nativeSpawn(String host, int port, Options o)`:
/// the handle. Every field of `o` (ThreadedTcpClient.Options) is read
/// here.
#[no_mangle]
pub extern "system" fn Java_org_ttc_ThreadedTcpClient_nativeSpawn<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    host: JString<'l>,
    port: jint,
    opts: JObject<'l>,
) -> jlong {
    run(&mut env, 0, |env| {
        if host.is_null() || opts.is_null() {
            return Err(Throw(
                "java/lang/NullPointerException",
                "host or options".into(),
            ));
        }
        let host: String = env.get_string(&host)?.into();
        let host = std::ffi::CString::new(host).map_err(|_| {
            Throw(
                "java/lang/IllegalArgumentException",
                "host contains a NUL".into(),
            )
        })?;
        let port = u16::try_from(port).map_err(|_| {
            Throw(
                "java/lang/IllegalArgumentException",
                format!("port {port} out of range"),
            )
        })?;
        let initial = env.get_field(&opts, "initialMessage", "[B")?.l()?;
        let initial = if initial.is_null() {
            Vec::new()
        } else {
            env.convert_byte_array(JByteArray::from(initial))?
        };
        let o_ = &opts;
        // Kept alive until ttc_spawn has copied them.
        let proxy = get_cstring(env, o_, "proxy")?;
        let resolver = get_cstring(env, o_, "resolver")?;
        let dns = get_cstring(env, o_, "dnsServers")?;
        let fixed = get_cstring(env, o_, "addresses")?;
        let interface = get_cstring(env, o_, "interfaceName")?;
        let source = get_cstring(env, o_, "sourceAddress")?;
        let ca_file = get_cstring(env, o_, "tlsCaFile")?;
        let ca_pem = get_cstring(env, o_, "tlsCaPem")?;
        let cert_file = get_cstring(env, o_, "tlsClientCertFile")?;
        let key_file = get_cstring(env, o_, "tlsClientKeyFile")?;
        let pin = get_cstring(env, o_, "tlsPinSha256")?;
        let alpn = get_cstring(env, o_, "tlsAlpn")?;
        let server_name = get_cstring(env, o_, "tlsServerName")?;

        let mut o = ttc_options_default();
        o.proxy = ptr_of(&proxy);
        o.initial_message = if initial.is_empty() {
            ptr::null()
        } else {
            initial.as_ptr()
        };
        o.initial_message_len = initial.len();
        o.connect_timeout_ms = get_long(env, o_, "connectTimeoutMs")?;
        o.write_timeout_ms = get_long(env, o_, "writeTimeoutMs")?;
        o.linger_ms = get_long(env, o_, "lingerMs")?;
        o.keepalive_ms = get_long(env, o_, "keepaliveMs")?;
        o.keepalive_interval_ms = get_long(env, o_, "keepaliveIntervalMs")?;
        o.keepalive_count = u32::try_from(get_int(env, o_, "keepaliveCount")?).unwrap_or(0);
        o.user_timeout_ms = get_long(env, o_, "userTimeoutMs")?;
        o.idle_timeout_ms = get_long(env, o_, "idleTimeoutMs")?;
        o.nodelay = i32::from(get_bool(env, o_, "nodelay")?);
        o.chunk_size = usize::try_from(get_int(env, o_, "chunkSize")?).unwrap_or(1);
        o.reconnect = i32::from(get_bool(env, o_, "reconnect")?);
        o.backoff_initial_ms = get_long(env, o_, "backoffInitialMs")?;
        o.backoff_max_ms = get_long(env, o_, "backoffMaxMs")?;
        o.backoff_factor = u32::try_from(get_int(env, o_, "backoffFactor")?).unwrap_or(1);
        o.backoff_jitter = i32::from(get_bool(env, o_, "backoffJitter")?);
        o.max_attempts = get_long(env, o_, "maxAttempts")?;
        o.max_elapsed_ms = get_long(env, o_, "maxElapsedMs")?;
        o.resend_window = usize::try_from(get_long(env, o_, "resendWindow")?).unwrap_or(0);
        o.delivery = i32::from(get_bool(env, o_, "confirmedDelivery")?);
        o.resolve_timeout_ms = get_long(env, o_, "resolveTimeoutMs")?;
        o.attempt_delay_ms = get_long(env, o_, "attemptDelayMs")?;
        let bad = |what: String| Throw("java/lang/IllegalArgumentException", what);
        (o.resolver, o.resolver_addrs) = match (&resolver, &dns, &fixed) {
            (_, Some(d), None) => (ttc_resolver::TTC_RESOLVER_DNS as i32, d.as_ptr()),
            (_, None, Some(f)) => (ttc_resolver::TTC_RESOLVER_STATIC as i32, f.as_ptr()),
            (_, Some(_), Some(_)) => {
                return Err(bad("give dnsServers or addresses, not both".into()))
            }
            (None, None, None) => (ttc_resolver::TTC_RESOLVER_AUTO as i32, ptr::null()),
            (Some(r), None, None) => match r.to_bytes() {
                b"auto" => (ttc_resolver::TTC_RESOLVER_AUTO as i32, ptr::null()),
                b"system" => (ttc_resolver::TTC_RESOLVER_SYSTEM as i32, ptr::null()),
                _ => return Err(bad(format!("resolver {r:?}: auto or system"))),
            },
        };
        o.bind_device = ptr_of(&interface);
        o.local_addr = ptr_of(&source);
        let mut tls = ttc_tls_options_default();
        if get_bool(env, o_, "tls")? {
            tls.ca_file = ptr_of(&ca_file);
            tls.ca_pem = ptr_of(&ca_pem);
            tls.client_cert_file = ptr_of(&cert_file);
            tls.client_key_file = ptr_of(&key_file);
            tls.pin_sha256 = ptr_of(&pin);
            tls.alpn = ptr_of(&alpn);
            tls.server_name = ptr_of(&server_name);
            tls.insecure_skip_verify = i32::from(get_bool(env, o_, "tlsInsecureSkipVerify")?);
            o.tls = &tls;
        }
        let mut client = 0;
        let mut err = no_error();
        // SAFETY: every pointer is to a live local (the strings above, tls,
        // initial) that outlives the call.
        let st = unsafe { ttc_spawn(host.as_ptr(), port, &o, &mut client, &mut err) };
        if st != TTC_OK {
            let mut t = status_error(st, "ThreadedTcpClient");
            if err.phase != ttc_phase::TTC_PHASE_NONE {
                t.1 = format!("{}: {}", t.1, field_text(&err.message));
            }
            return Err(t);
        }
        Ok(client as jlong)
    })
}

/// `static native void nativeConfirm(long handle, long bytes)`.
#[no_mangle]
pub extern "system" fn Java_org_ttc_ThreadedTcpClient_nativeConfirm<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    bytes: jlong,
) {
    run(&mut env, (), |_| {
        match ttc_confirm(handle as u64, u64::try_from(bytes).unwrap_or(0)) {
            TTC_OK => Ok(()),
            st => Err(status_error(st, "confirm")),
        }
    })
}

/// `static native long nativeSend(long handle, byte[] data, int off, int len,
/// long timeoutMs)`: `taken | status << 32`.
#[no_mangle]
pub extern "system" fn Java_org_ttc_ThreadedTcpClient_nativeSend<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    data: JByteArray<'l>,
    off: jint,
    len: jint,
    timeout_ms: jlong,
) -> jlong {
    run(&mut env, 0, |env| {
        if data.is_null() {
            return Err(Throw("java/lang/NullPointerException", "data".into()));
        }
        let total = env.get_array_length(&data)?;
        if off < 0 || len < 0 || off.checked_add(len).is_none_or(|end| end > total) {
            return Err(Throw(
                "java/lang/ArrayIndexOutOfBoundsException",
                format!("offset {off}, length {len}, array of {total}"),
            ));
        }
        let mut bytes = vec![0i8; len as usize];
        env.get_byte_array_region(&data, off, &mut bytes)?;
        let mut taken = 0usize;
        // SAFETY: `bytes` holds `len` bytes; `taken` is a live local.
        let st = unsafe {
            ttc_send(
                handle as u64,
                bytes.as_ptr().cast(),
                bytes.len(),
                timeout_ms,
                &mut taken,
            )
        };
        match st {
            TTC_OK | TTC_TIMEOUT | TTC_CLOSED => Ok(taken as jlong | ((st as i64) << 32)),
            _ => Err(status_error(st, "send")),
        }
    })
}

/// `static native byte[] nativeRecv(long handle, int max, long timeoutMs)`:
/// the bytes; empty at the end of the stream; null on a timeout.
#[no_mangle]
pub extern "system" fn Java_org_ttc_ThreadedTcpClient_nativeRecv<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    max: jint,
    timeout_ms: jlong,
) -> jbyteArray {
    run(&mut env, ptr::null_mut(), |env| {
        let max = usize::try_from(max)
            .ok()
            .filter(|&m| m > 0)
            .ok_or_else(|| {
                Throw(
                    "java/lang/IllegalArgumentException",
                    "max must be positive".into(),
                )
            })?;
        let mut buf = vec![0u8; max];
        let mut n = 0usize;
        // SAFETY: `buf` holds `max` writable bytes; `n` is a live local.
        let st = unsafe { ttc_recv(handle as u64, buf.as_mut_ptr(), max, timeout_ms, &mut n) };
        match st {
            TTC_OK => Ok(env.byte_array_from_slice(&buf[..n])?.into_raw()),
            TTC_TIMEOUT => Ok(ptr::null_mut()),
            _ => Err(status_error(st, "receive")),
        }
    })
}

/// `static native void nativeControl(long handle, int which)`: 1 producer
/// finished, 2 shutdown, 3 abort.
#[no_mangle]
pub extern "system" fn Java_org_ttc_ThreadedTcpClient_nativeControl<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    which: jint,
) {
    run(&mut env, (), |_| {
        let st = match which {
            1 => ttc_producer_finished(handle as u64),
            2 => ttc_shutdown(handle as u64),
            3 => ttc_abort(handle as u64),
            _ => TTC_E_INVALID,
        };
        if st == TTC_OK {
            Ok(())
        } else {
            Err(status_error(st, "control"))
        }
    })
}

/// `static native int nativeNextSignal(long handle, long timeoutMs,
/// NativeSignal out)`: 0 with `out` filled, 1 on a timeout, 3 after the
/// final signal.
#[no_mangle]
pub extern "system" fn Java_org_ttc_ThreadedTcpClient_nativeNextSignal<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    timeout_ms: jlong,
    out: JObject<'l>,
) -> jint {
    run(&mut env, -1, |env| {
        let mut s = signal_of(&Signal::PeerClosed);
        // SAFETY: `s` is a live local.
        let st = unsafe { ttc_next_signal(handle as u64, timeout_ms, &mut s) };
        match st {
            TTC_OK => {}
            TTC_TIMEOUT | TTC_CLOSED => return Ok(st as jint),
            _ => return Err(status_error(st, "nextSignal")),
        }
        env.set_field(&out, "kind", "I", JValue::Int(s.kind as i32))?;
        match s.kind {
            ttc_signal_kind::TTC_SIGNAL_CONNECTED => {
                set_string(env, &out, "peer", &field_text(&s.peer))?
            }
            ttc_signal_kind::TTC_SIGNAL_ERROR => set_error(env, &out, "error", &s.error)?,
            ttc_signal_kind::TTC_SIGNAL_SOCKET_SHUTDOWN
            | ttc_signal_kind::TTC_SIGNAL_DISCONNECTED => set_report(env, &out, &s.report)?,
            ttc_signal_kind::TTC_SIGNAL_RECONNECTING => {
                env.set_field(&out, "attempt", "I", JValue::Int(s.attempt as i32))?;
                env.set_field(&out, "delayMs", "J", JValue::Long(s.delay_ms as i64))?;
            }
            _ => {}
        }
        Ok(0)
    })
}

/// `static native void nativeJoin(long handle, NativeSignal out)`: the
/// final report into `out`'s report fields.
#[no_mangle]
pub extern "system" fn Java_org_ttc_ThreadedTcpClient_nativeJoin<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    out: JObject<'l>,
) {
    run(&mut env, (), |env| {
        let mut r = empty_report();
        // SAFETY: `r` is a live local.
        let st = unsafe { ttc_join(handle as u64, &mut r) };
        if st != TTC_OK {
            return Err(status_error(st, "join"));
        }
        set_report(env, &out, &r)
    })
}

/// `static native boolean nativeFree(long handle)`: false if it was not
/// (or no longer) a live handle.
#[no_mangle]
pub extern "system" fn Java_org_ttc_ThreadedTcpClient_nativeFree<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) -> jboolean {
    run(&mut env, JNI_FALSE, |_| {
        Ok(if ttc_free(handle as u64) == TTC_OK {
            JNI_TRUE
        } else {
            JNI_FALSE
        })
    })
}

/// `static native String nativeVersion()`.
#[no_mangle]
pub extern "system" fn Java_org_ttc_ThreadedTcpClient_nativeVersion<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jni::sys::jstring {
    run(&mut env, ptr::null_mut(), |env| {
        Ok(env.new_string(static_str(ttc_version()))?.into_raw())
    })
}

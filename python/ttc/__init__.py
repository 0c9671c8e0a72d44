"""ttc: Kamaelia's ThreadedTCPClient, over the ttc C library (ctypes).

One worker thread per connection (in the library) owns the socket; the
calls here never touch it. Every byte given to ``send`` is in the final
report's ``sent`` or ``unsent``.

Basic use::

    from ttc import ThreadedTCPClient

    with ThreadedTCPClient("127.0.0.1", 7, initialsendmessage=b"HELLO\\r\\n") as c:
        c.wait_connected(timeout=5)    # raises ConnectionRefusedError, ...
        c.send(b"ping\\n")
        c.producer_finished()          # half-close once everything is written
        for data in c:                 # until the end of the stream
            print(data)
        report = c.join()
        print(report.reason, report.sent, report.received, report.unsent)

Staying connected to a server that may restart, every line confirmed by
the server's own reply (so none is lost when the server dies after its
TCP acknowledged a line but before it stored it)::

    from ttc import Backoff, ThreadedTCPClient

    c = ThreadedTCPClient("collector.example", 5000,
                          reconnect=Backoff(initial=0.5, max=10),
                          delivery="confirmed")
    c.send(b"temp=21.5\\n")
    ...
    if c.recv(timeout=5).startswith(b"OK"):   # the server's receipt
        c.confirm()                           # the oldest unconfirmed send

TLS (``tls=True`` verifies against the system's roots; ``Tls`` for a CA
file, a client certificate, a pin, ALPN or a server name)::

    from ttc import ThreadedTCPClient, Tls

    c = ThreadedTCPClient("example.org", 443, tls=Tls(alpn=["http/1.1"]))

Errors: the connection's errors are ``Error`` values (phase, kind,
os_code, message) in its signals and final report; ``Error.exception()``
turns one into the matching Python exception (ConnectionRefusedError,
TimeoutError, TLSCertificateError, ...), which ``wait_connected`` raises
and which is the ``__cause__`` of a ConnectionClosed from ``send``.

Timeouts are in seconds (``None``: no limit; 0: do not wait). Calls that
wait without a limit wake every quarter second, so Ctrl-C (and other
Python signal handlers) are seen.

The shared library (libttc.so) ships inside the wheel, next to this file.
``TTC_LIBRARY`` (a path) overrides it; in a source checkout the
workspace's ``target/release`` and then ``target/debug`` are tried.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import os
import threading
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Union

try:  # Not every Python has ssl (a board's minimal one may not).
    import ssl as _ssl

    _CertBase: type = _ssl.SSLCertVerificationError
    _TlsBase: type = _ssl.SSLError
except ImportError:  # pragma: no cover
    _CertBase = ConnectionError
    _TlsBase = ConnectionError

__all__ = [
    "ThreadedTCPClient",
    "Backoff",
    "Tls",
    "Report",
    "Signal",
    "Error",
    "TtcError",
    "SendTimeout",
    "ConnectionClosed",
    "TLSError",
    "TLSCertificateError",
    "ProxyError",
    "ResolveError",
    "library_path",
    "features",
    "log_init",
]

_LIBRARY_NAME = "libttc.so"


def library_path() -> str:
    """The path of the shared library that is (or will be) loaded: the
    environment variable TTC_LIBRARY if set, else the one next to this
    file (the wheel's), else the workspace's target/release, then
    target/debug (a source checkout)."""
    env = os.environ.get("TTC_LIBRARY")
    if env:
        return env
    here = Path(__file__).resolve().parent
    candidates = [here / _LIBRARY_NAME] + [
        here.parent.parent / "target" / profile / _LIBRARY_NAME for profile in ("release", "debug")
    ]
    for c in candidates:
        if c.is_file():
            return str(c)
    raise ImportError(
        "ttc: %s not found (looked next to %s and in target/release, target/debug): "
        "install the wheel, build it with `cargo build --release -p ttc-ffi`, "
        "or set TTC_LIBRARY to its path" % (_LIBRARY_NAME, __file__)
    )


# Status codes (ttc.h: ttc_status).
_OK, _TIMEOUT, _FULL, _CLOSED = 0, 1, 2, 3
_E_NULL, _E_HANDLE, _E_INVALID, _E_UNSUPPORTED = -1, -2, -3, -4
_FOREVER = -1
# One wait of a call without a time limit, in milliseconds.
_SLICE_MS = 250

_ADDR_CAPACITY = 64
_KIND_CAPACITY = 32
_MESSAGE_CAPACITY = 128
_TLS_NAME_CAPACITY = 64

_SIGNAL_KINDS = {1: "connected", 2: "peer_closed", 3: "error", 4: "socket_shutdown",
                 5: "disconnected", 6: "reconnecting"}
_FAMILIES = {None: 0, "any": 0, 4: 4, "ipv4": 4, 6: 6, "ipv6": 6}
_DELIVERY = {"tcp_ack": 0, "confirmed": 1}
_RESOLVERS = {None: 0, "auto": 0, "system": 1}
# TLS error reasons that mean the certificate was refused.
_CERT_REASONS = ("unknown_issuer", "expired", "not_yet_valid", "name_mismatch",
                 "pin_mismatch", "bad_certificate")


class _Error(ctypes.Structure):
    _fields_ = [
        ("phase", ctypes.c_int),
        ("os_code", ctypes.c_int32),
        ("kind", ctypes.c_char * _KIND_CAPACITY),
        ("message", ctypes.c_char * _MESSAGE_CAPACITY),
    ]


class _Report(ctypes.Structure):
    _fields_ = [
        ("reason", ctypes.c_int),
        ("sent", ctypes.c_uint64),
        ("received", ctypes.c_uint64),
        ("unsent", ctypes.c_uint64),
        ("acked", ctypes.c_uint64),
        ("has_error", ctypes.c_bool),
        ("error", _Error),
        ("resent", ctypes.c_uint64),
        ("lost", ctypes.c_uint64),
        ("connections", ctypes.c_uint32),
        ("attempts", ctypes.c_uint32),
        ("tls_version", ctypes.c_char * _TLS_NAME_CAPACITY),
        ("tls_cipher", ctypes.c_char * _TLS_NAME_CAPACITY),
    ]


class _Signal(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int),
        ("peer", ctypes.c_char * _ADDR_CAPACITY),
        ("error", _Error),
        ("report", _Report),
        ("attempt", ctypes.c_uint32),
        ("delay_ms", ctypes.c_uint64),
    ]


class _TlsOptions(ctypes.Structure):
    _fields_ = [
        ("ca_file", ctypes.c_char_p),
        ("ca_pem", ctypes.c_char_p),
        ("client_cert_file", ctypes.c_char_p),
        ("client_key_file", ctypes.c_char_p),
        ("client_cert_pem", ctypes.c_char_p),
        ("client_key_pem", ctypes.c_char_p),
        ("pin_sha256", ctypes.c_char_p),
        ("alpn", ctypes.c_char_p),
        ("server_name", ctypes.c_char_p),
        ("insecure_skip_verify", ctypes.c_int32),
    ]


class _Options(ctypes.Structure):
    _fields_ = [
        ("initial_message", ctypes.c_void_p),
        ("initial_message_len", ctypes.c_size_t),
        ("connect_timeout_ms", ctypes.c_int64),
        ("write_timeout_ms", ctypes.c_int64),
        ("linger_ms", ctypes.c_int64),
        ("keepalive_ms", ctypes.c_int64),
        ("nodelay", ctypes.c_int32),
        ("family", ctypes.c_int32),
        ("chunk_size", ctypes.c_size_t),
        ("inbox_capacity", ctypes.c_size_t),
        ("outbox_capacity", ctypes.c_size_t),
        ("stack_size", ctypes.c_size_t),
        ("proxy", ctypes.c_char_p),
        ("reconnect", ctypes.c_int32),
        ("backoff_initial_ms", ctypes.c_int64),
        ("backoff_max_ms", ctypes.c_int64),
        ("backoff_factor", ctypes.c_uint32),
        ("backoff_jitter", ctypes.c_int32),
        ("max_attempts", ctypes.c_int64),
        ("max_elapsed_ms", ctypes.c_int64),
        ("resend_window", ctypes.c_size_t),
        ("delivery", ctypes.c_int32),
        ("user_timeout_ms", ctypes.c_int64),
        ("idle_timeout_ms", ctypes.c_int64),
        ("keepalive_interval_ms", ctypes.c_int64),
        ("keepalive_count", ctypes.c_uint32),
        ("resolve_timeout_ms", ctypes.c_int64),
        ("attempt_delay_ms", ctypes.c_int64),
        ("resolver", ctypes.c_int32),
        ("resolver_addrs", ctypes.c_char_p),
        ("bind_device", ctypes.c_char_p),
        ("local_addr", ctypes.c_char_p),
        ("tls", ctypes.POINTER(_TlsOptions)),
    ]


def _load() -> ctypes.CDLL:
    lib = ctypes.CDLL(library_path())
    c_client = ctypes.c_uint64
    size_p = ctypes.POINTER(ctypes.c_size_t)
    sigs = {
        "ttc_options_default": ([], _Options),
        "ttc_tls_options_default": ([], _TlsOptions),
        "ttc_spawn": (
            [ctypes.c_char_p, ctypes.c_uint16, ctypes.POINTER(_Options),
             ctypes.POINTER(c_client), ctypes.POINTER(_Error)],
            ctypes.c_int,
        ),
        "ttc_send": ([c_client, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64, size_p], ctypes.c_int),
        "ttc_recv": ([c_client, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64, size_p], ctypes.c_int),
        "ttc_producer_finished": ([c_client], ctypes.c_int),
        "ttc_shutdown": ([c_client], ctypes.c_int),
        "ttc_abort": ([c_client], ctypes.c_int),
        "ttc_confirm": ([c_client, ctypes.c_uint64], ctypes.c_int),
        "ttc_next_signal": ([c_client, ctypes.c_int64, ctypes.POINTER(_Signal)], ctypes.c_int),
        "ttc_join": ([c_client, ctypes.POINTER(_Report)], ctypes.c_int),
        "ttc_join_timeout": ([c_client, ctypes.c_int64, ctypes.POINTER(_Report)], ctypes.c_int),
        "ttc_free": ([c_client], ctypes.c_int),
        "ttc_strerror": ([ctypes.c_int32], ctypes.c_char_p),
        "ttc_reason_str": ([ctypes.c_int32], ctypes.c_char_p),
        "ttc_phase_str": ([ctypes.c_int32], ctypes.c_char_p),
        "ttc_version": ([], ctypes.c_char_p),
        "ttc_features": ([], ctypes.c_char_p),
        "ttc_log_init": ([], None),
    }
    for name, (args, res) in sigs.items():
        f = getattr(lib, name)
        f.argtypes = args
        f.restype = res
    return lib


_lib = _load()

__version__: str = _lib.ttc_version().decode()


def features() -> List[str]:
    """The optional features of the loaded library: 'proxy', and 'tls'
    when it was built with TLS (the wheels are)."""
    return _lib.ttc_features().decode().split()


# ---------------------------------------------------------------------------
# Exceptions


class TtcError(OSError):
    """A call into the library failed; ``status`` is its ttc_status code."""

    def __init__(self, status: int, what: str) -> None:
        self.status = status
        super().__init__("%s: %s" % (what, _lib.ttc_strerror(status).decode()))


class SendTimeout(TimeoutError):
    """``send`` ran out of time with the inbox full. The first ``taken``
    bytes were queued (and will be sent or counted as unsent); the rest was
    not taken."""

    def __init__(self, taken: int) -> None:
        self.taken = taken
        super().__init__("timed out waiting for room in the inbox after %d bytes" % taken)


class ConnectionClosed(ConnectionError):
    """``send`` found the connection ended or ending. The first ``taken``
    bytes were queued; the rest was not taken. When an error ended the
    connection, ``error`` is that Error and the exception's ``__cause__``
    the matching Python exception (ConnectionRefusedError, ...)."""

    def __init__(self, taken: int, error: Optional["Error"] = None) -> None:
        self.taken = taken
        self.error = error
        text = "the connection has ended (%d bytes were taken)" % taken
        if error is not None:
            text += ": %s" % error
        super().__init__(text)


class TLSError(_TlsBase):  # type: ignore[misc, valid-type]
    """TLS failed (a subclass of ssl.SSLError where Python has ssl):
    the handshake, an alert, a truncated stream. ``error`` is the Error."""


class TLSCertificateError(_CertBase):  # type: ignore[misc, valid-type]
    """The server's certificate was refused: unknown issuer, expired, name
    or pin mismatch. A subclass of ssl.SSLCertVerificationError where
    Python has ssl. ``error`` is the Error; ``reason`` its short reason
    ('unknown_issuer', 'expired', ...)."""


class ProxyError(ConnectionError):
    """The proxy could not be reached, or refused the tunnel."""


class ResolveError(OSError):
    """The host name could not be resolved."""


# ---------------------------------------------------------------------------
# Values


class Error:
    """An error of the connection: ``phase`` ('resolve', 'connect',
    'proxy', 'tls', 'read', 'write', ...), ``kind`` (Rust's io::ErrorKind
    name, e.g. 'ConnectionRefused'), ``os_code`` (errno, or None) and
    ``message``. ``exception()`` gives the matching Python exception."""

    __slots__ = ("phase", "kind", "os_code", "message")

    def __init__(self, e: _Error) -> None:
        self.phase: str = _lib.ttc_phase_str(e.phase).decode()
        self.kind: str = e.kind.decode()
        self.os_code: Optional[int] = e.os_code or None
        self.message: str = e.message.decode("utf-8", "replace")

    def exception(self) -> OSError:
        """The Python exception for this error, with ``error`` set to it:
        TLSCertificateError for a refused certificate, TLSError for other
        TLS failures, ProxyError, ResolveError, else by kind
        ConnectionRefusedError, TimeoutError, ConnectionResetError,
        ConnectionAbortedError, BrokenPipeError, or OSError."""
        text = str(self)
        code = self.os_code or 0
        exc: OSError
        if self.phase == "tls" and self.message.split(":", 1)[0] in _CERT_REASONS:
            exc = TLSCertificateError(code, text)
            exc.reason = self.message.split(":", 1)[0]  # type: ignore[attr-defined]
            exc.verify_message = self.message  # type: ignore[attr-defined]
        elif self.phase == "tls" and self.kind != "TimedOut":
            exc = TLSError(code, text)
        elif self.phase == "proxy" and self.kind != "TimedOut":
            exc = ProxyError(code, text)
        elif self.phase == "resolve" and self.kind != "TimedOut":
            exc = ResolveError(code, text)
        else:
            cls = {
                "ConnectionRefused": ConnectionRefusedError,
                "TimedOut": TimeoutError,
                "ConnectionReset": ConnectionResetError,
                "ConnectionAborted": ConnectionAbortedError,
                "BrokenPipe": BrokenPipeError,
            }.get(self.kind, OSError)
            default_errno = {
                ConnectionRefusedError: errno.ECONNREFUSED,
                TimeoutError: errno.ETIMEDOUT,
                ConnectionResetError: errno.ECONNRESET,
                ConnectionAbortedError: errno.ECONNABORTED,
                BrokenPipeError: errno.EPIPE,
            }.get(cls, 0)
            exc = cls(code or default_errno, text)
        exc.error = self  # type: ignore[attr-defined]
        return exc

    def __repr__(self) -> str:
        return "Error(phase=%r, kind=%r, os_code=%r, message=%r)" % (
            self.phase, self.kind, self.os_code, self.message)

    def __str__(self) -> str:
        return "%s: %s" % (self.phase, self.message)


class Report:
    """The account of a connection (the final one from ``join``, or one
    connection's in a 'disconnected' signal).

    - ``reason``: 'finished', 'peer_closed', 'shutdown', 'aborted',
      'error' or 'linger';
    - ``sent``: bytes written (the initial message included; with
      reconnect, on every connection), ``resent`` of them written again
      after a reconnect, ``acked`` what the server's TCP acknowledged (or,
      with ``delivery='confirmed'``, what was confirmed), each byte once;
    - ``unsent``: bytes accepted and never written; ``lost``: written and
      neither delivered nor kept (always 0);
    - ``received``: bytes read, all of them delivered;
    - ``connections``, ``attempts``: connections made, attempts started;
    - ``tls_version``, ``tls_cipher``: of the TLS session, or None;
    - ``error``: the Error that ended it, or None.

    Every byte accepted is accounted for: accepted = ``acked`` +
    ``unacked`` + ``unsent``, where ``unacked`` = ``sent`` - ``resent`` -
    ``acked``."""

    __slots__ = ("reason", "sent", "received", "unsent", "acked", "resent", "lost",
                 "connections", "attempts", "tls_version", "tls_cipher", "error")

    def __init__(self, r: _Report) -> None:
        self.reason: str = _lib.ttc_reason_str(r.reason).decode()
        self.sent: int = r.sent
        self.received: int = r.received
        self.unsent: int = r.unsent
        self.acked: int = r.acked
        self.resent: int = r.resent
        self.lost: int = r.lost
        self.connections: int = r.connections
        self.attempts: int = r.attempts
        self.tls_version: Optional[str] = r.tls_version.decode() or None
        self.tls_cipher: Optional[str] = r.tls_cipher.decode() or None
        self.error: Optional[Error] = Error(r.error) if r.has_error else None

    @property
    def unacked(self) -> int:
        """Bytes written and not acknowledged: they may not have reached
        the server."""
        return max(0, self.sent - self.resent - self.acked)

    def __repr__(self) -> str:
        return "Report(%s)" % ", ".join(
            "%s=%r" % (k, getattr(self, k)) for k in self.__slots__)


class Signal:
    """A signal: ``kind`` is 'connected' (``peer``: the server's address as
    'host:port'), 'peer_closed', 'error' (``error``), 'disconnected'
    (with reconnect: ``report``, that connection's), 'reconnecting' (with
    reconnect: ``attempt`` and ``delay`` in seconds), 'socket_shutdown'
    (``report``: the final one; nothing follows) or 'other'."""

    __slots__ = ("kind", "peer", "error", "report", "attempt", "delay")

    def __init__(self, s: _Signal) -> None:
        self.kind: str = _SIGNAL_KINDS.get(s.kind, "other")
        self.peer: Optional[str] = s.peer.decode() if self.kind == "connected" else None
        self.error: Optional[Error] = Error(s.error) if self.kind == "error" else None
        self.report: Optional[Report] = (
            Report(s.report) if self.kind in ("socket_shutdown", "disconnected") else None)
        self.attempt: Optional[int] = s.attempt if self.kind == "reconnecting" else None
        self.delay: Optional[float] = s.delay_ms / 1000 if self.kind == "reconnecting" else None

    def __repr__(self) -> str:
        extra = self.peer or self.error or self.report
        if self.kind == "reconnecting":
            extra = "attempt=%d delay=%.3f" % (self.attempt or 0, self.delay or 0)
            return "Signal(%r, %s)" % (self.kind, extra)
        return "Signal(%r%s)" % (self.kind, ", %r" % (extra,) if extra else "")


class Backoff:
    """How the wait before each reconnect attempt grows, and when to give
    up (``ThreadedTCPClient(reconnect=Backoff(...))``). The wait before
    attempt n is at most min(max, initial * factor**n) seconds; with
    ``jitter`` (the default) a random time up to that."""

    __slots__ = ("initial", "max", "factor", "jitter", "max_attempts", "max_elapsed")

    def __init__(self, initial: float = 0.5, max: float = 30.0, factor: int = 2,
                 jitter: bool = True, max_attempts: Optional[int] = None,
                 max_elapsed: Optional[float] = None) -> None:
        self.initial = initial
        self.max = max
        self.factor = factor
        self.jitter = jitter
        self.max_attempts = max_attempts
        self.max_elapsed = max_elapsed

    def __repr__(self) -> str:
        return "Backoff(%s)" % ", ".join("%s=%r" % (k, getattr(self, k)) for k in self.__slots__)


class Tls:
    """TLS settings (``ThreadedTCPClient(tls=Tls(...))``; ``tls=True`` is
    ``Tls()``: the system's roots, the host name connected to).

    - ``ca_file`` / ``ca_pem``: trust these CAs (PEM) instead;
    - ``cert_file`` + ``key_file``, or ``cert_pem`` + ``key_pem``: a
      client certificate;
    - ``pin_sha256``: 'sha256//BASE64' pins of the server's key, several
      separated by ';' (as curl's --pinnedpubkey);
    - ``alpn``: protocols to offer, e.g. ['h2', 'http/1.1'];
    - ``server_name``: the name to send and check when it is not the host;
    - ``insecure_skip_verify``: do not verify the server. Tests only."""

    __slots__ = ("ca_file", "ca_pem", "cert_file", "key_file", "cert_pem", "key_pem",
                 "pin_sha256", "alpn", "server_name", "insecure_skip_verify")

    def __init__(self, ca_file: Optional[Union[str, os.PathLike]] = None,
                 ca_pem: Optional[Union[str, bytes]] = None,
                 cert_file: Optional[Union[str, os.PathLike]] = None,
                 key_file: Optional[Union[str, os.PathLike]] = None,
                 cert_pem: Optional[Union[str, bytes]] = None,
                 key_pem: Optional[Union[str, bytes]] = None,
                 pin_sha256: Optional[str] = None,
                 alpn: Optional[Sequence[str]] = None,
                 server_name: Optional[str] = None,
                 insecure_skip_verify: bool = False) -> None:
        self.ca_file = ca_file
        self.ca_pem = ca_pem
        self.cert_file = cert_file
        self.key_file = key_file
        self.cert_pem = cert_pem
        self.key_pem = key_pem
        self.pin_sha256 = pin_sha256
        self.alpn = alpn
        self.server_name = server_name
        self.insecure_skip_verify = insecure_skip_verify

    def __repr__(self) -> str:
        # No key material.
        shown = [k for k in self.__slots__ if getattr(self, k) and k not in ("key_pem",)]
        return "Tls(%s)" % ", ".join("%s=%r" % (k, getattr(self, k)) for k in shown)


def _ms(seconds: Optional[float], default: Optional[int] = None) -> int:
    if seconds is None:
        return _FOREVER if default is None else default
    if seconds < 0:
        return _FOREVER
    return int(round(seconds * 1000))


def _text(value: object) -> Optional[bytes]:
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, bytes):
        return value
    return os.fsencode(value) if isinstance(value, os.PathLike) else str(value).encode()


# ---------------------------------------------------------------------------
# The client


class ThreadedTCPClient:
    """Kamaelia's ThreadedTCPClient: connects to ``host``:``port`` on its
    own worker thread, writes ``initialsendmessage`` (bytes) first, then
    what is given to ``send``; ``recv`` returns what the server sent.

    It starts at once; ``wait_connected`` (or ``next_signal``) says when
    it is connected, or why not. Thread safety: every method may be called
    from any thread.

    Options (keywords; times in seconds, None: no limit):

    - ``connect_timeout`` (10): resolving and connecting, in all;
    - ``write_timeout`` (30): queued data that makes no progress this
      long fails the connection;
    - ``linger`` (5): after producer_finished, how long to wait for the
      server to close;
    - ``keepalive`` (off): idle time before the first TCP keepalive
      probe; ``keepalive_interval``, ``keepalive_count``: the system's
      unless given;
    - ``user_timeout`` (off): TCP_USER_TIMEOUT, data unacknowledged this
      long ends the connection (TimedOut);
    - ``idle_timeout`` (off): nothing from the server this long ends it
      (phase 'read', TimedOut);
    - ``nodelay`` (True), ``family`` (None, 4 or 6), ``chunk_size`` (256,
      1024, 4096 or 16384 bytes);
    - ``reconnect`` (False): True or a Backoff: when the connection is
      lost, connect again and send again what was not delivered;
      ``delivery``: 'tcp_ack' (default: what the server's TCP
      acknowledged is delivered) or 'confirmed' (what you ``confirm``);
      ``resend_window``: bytes kept for sending again (256 KiB);
    - ``resolver``: 'auto' (default) or 'system'; ``dns``: a list of DNS
      servers ('192.0.2.53', '[2001:db8::53]:5353') to ask with the
      built-in client instead; ``addresses``: use these IP addresses,
      whatever the host name; ``resolve_timeout``; ``attempt_delay``
      (0.25: Happy Eyeballs);
    - ``interface`` ('wlan0': SO_BINDTODEVICE), ``source_address`` (an IP
      to connect from);
    - ``proxy``: a URL as curl spells it: ``socks5://``, ``socks5h://``
      (the proxy resolves ``host``), ``socks4://``, ``socks4a://`` or
      ``http://`` (CONNECT), with optional percent-encoded
      ``user:password@``;
    - ``tls``: True or a Tls.

    A bad option raises ValueError (the message says which and why).
    """

    _DEFAULT = object()

    def __init__(self, host: str, port: int, initialsendmessage: Optional[bytes] = None, *,
                 connect_timeout: Optional[float] = None,
                 write_timeout: object = _DEFAULT,
                 linger: Optional[float] = None,
                 keepalive: Optional[float] = None,
                 keepalive_interval: Optional[float] = None,
                 keepalive_count: Optional[int] = None,
                 user_timeout: Optional[float] = None,
                 idle_timeout: Optional[float] = None,
                 nodelay: bool = True,
                 family: Optional[Union[int, str]] = None,
                 chunk_size: Optional[int] = None,
                 proxy: Optional[str] = None,
                 reconnect: Union[bool, Backoff] = False,
                 delivery: str = "tcp_ack",
                 resend_window: Optional[int] = None,
                 resolver: Optional[str] = None,
                 dns: Optional[Sequence[str]] = None,
                 addresses: Optional[Sequence[str]] = None,
                 resolve_timeout: Optional[float] = None,
                 attempt_delay: Optional[float] = None,
                 interface: Optional[str] = None,
                 source_address: Optional[str] = None,
                 tls: Union[bool, Tls, None] = None) -> None:
        self._handle = 0
        self._lock = threading.Lock()
        # With confirmed delivery: where each send ends in the stream.
        self._ends: "collections.deque[int]" = collections.deque()
        self._offset = 0
        self._confirmed = delivery == "confirmed"
        self._stopped = False
        opts = _lib.ttc_options_default()
        initial = bytes(initialsendmessage or b"")
        keep = []  # what the options point to, alive until ttc_spawn copied it
        if initial:
            buf = ctypes.create_string_buffer(initial, len(initial))
            keep.append(buf)
            opts.initial_message = ctypes.cast(buf, ctypes.c_void_p)
            opts.initial_message_len = len(initial)
        if connect_timeout is not None:
            opts.connect_timeout_ms = _ms(connect_timeout)
        if write_timeout is not ThreadedTCPClient._DEFAULT:
            opts.write_timeout_ms = _ms(write_timeout)  # type: ignore[arg-type]
        if linger is not None:
            opts.linger_ms = _ms(linger)
        if keepalive is not None:
            opts.keepalive_ms = _ms(keepalive)
        if keepalive_interval is not None:
            opts.keepalive_interval_ms = _ms(keepalive_interval)
        if keepalive_count is not None:
            opts.keepalive_count = int(keepalive_count)
        opts.user_timeout_ms = _ms(user_timeout)
        opts.idle_timeout_ms = _ms(idle_timeout)
        opts.nodelay = 1 if nodelay else 0
        if family not in _FAMILIES:
            raise ValueError("family must be None, 4 or 6, not %r" % (family,))
        opts.family = _FAMILIES[family]
        if chunk_size is not None:
            opts.chunk_size = chunk_size
        opts.proxy = _text(proxy)
        if reconnect:
            b = reconnect if isinstance(reconnect, Backoff) else Backoff()
            opts.reconnect = 1
            opts.backoff_initial_ms = _ms(b.initial)
            opts.backoff_max_ms = _ms(b.max)
            opts.backoff_factor = int(b.factor)
            opts.backoff_jitter = 1 if b.jitter else 0
            opts.max_attempts = -1 if b.max_attempts is None else int(b.max_attempts)
            opts.max_elapsed_ms = _ms(b.max_elapsed)
        if delivery not in _DELIVERY:
            raise ValueError("delivery must be 'tcp_ack' or 'confirmed', not %r" % (delivery,))
        opts.delivery = _DELIVERY[delivery]
        if resend_window is not None:
            opts.resend_window = int(resend_window)
        if sum(x is not None for x in (resolver, dns, addresses)) > 1:
            raise ValueError("give one of resolver, dns and addresses")
        if dns is not None:
            opts.resolver = 2
            opts.resolver_addrs = ",".join(dns).encode()
        elif addresses is not None:
            opts.resolver = 3
            opts.resolver_addrs = ",".join(addresses).encode()
        elif resolver in _RESOLVERS:
            opts.resolver = _RESOLVERS[resolver]
        else:
            raise ValueError("resolver must be 'auto' or 'system', not %r" % (resolver,))
        if resolve_timeout is not None:
            opts.resolve_timeout_ms = _ms(resolve_timeout)
        if attempt_delay is not None:
            opts.attempt_delay_ms = _ms(attempt_delay)
        opts.bind_device = _text(interface)
        opts.local_addr = _text(source_address)
        if tls:
            t = tls if isinstance(tls, Tls) else Tls()
            to = _lib.ttc_tls_options_default()
            to.ca_file = _text(t.ca_file)
            to.ca_pem = _text(t.ca_pem)
            to.client_cert_file = _text(t.cert_file)
            to.client_key_file = _text(t.key_file)
            to.client_cert_pem = _text(t.cert_pem)
            to.client_key_pem = _text(t.key_pem)
            to.pin_sha256 = _text(t.pin_sha256)
            to.alpn = _text(",".join(t.alpn)) if t.alpn else None
            to.server_name = _text(t.server_name)
            to.insecure_skip_verify = 1 if t.insecure_skip_verify else 0
            keep.append(to)
            opts.tls = ctypes.pointer(to)
        handle = ctypes.c_uint64(0)
        err = _Error()
        st = _lib.ttc_spawn(str(host).encode(), int(port), ctypes.byref(opts),
                            ctypes.byref(handle), ctypes.byref(err))
        if st in (_E_INVALID, _E_UNSUPPORTED, _E_NULL):
            why = err.message.decode("utf-8", "replace") if err.phase else ""
            raise ValueError("ThreadedTCPClient: %s%s" % (
                _lib.ttc_strerror(st).decode(), ": " + why if why else ""))
        if st != _OK:
            e = TtcError(st, "ThreadedTCPClient")
            if err.phase:
                e.error = Error(err)  # type: ignore[attr-defined]
            raise e
        self._handle = handle.value

    def _h(self) -> int:
        if not self._handle:
            raise ValueError("ThreadedTCPClient is closed")
        return self._handle

    def _closed(self, done: int) -> ConnectionClosed:
        """The exception for a send that found the connection ended: with
        the error that ended it as its cause, when there was one."""
        error = None
        if not self._stopped:
            # The worker ends moments after it closed the inbox.
            r = self.join(timeout=1.0)
            if r is not None and r.error is not None:
                error = r.error
        exc = ConnectionClosed(done, error)
        if error is not None:
            exc.__cause__ = error.exception()
        return exc

    def send(self, data: bytes, timeout: Optional[float] = None) -> int:
        """Queues all of ``data`` (bytes-like) for the server, waiting up to
        ``timeout`` seconds in all for room (None: no limit; 0: no wait).
        Returns len(data). Raises SendTimeout or ConnectionClosed, whose
        ``taken`` says how many bytes were queued. Each call is one
        message for ``confirm``."""
        total = len(data)
        h = self._h()
        # One copy into memory the library can read, whatever `data` is.
        buf = (ctypes.c_char * total).from_buffer_copy(data) if total else None
        base = ctypes.addressof(buf) if buf is not None else None
        taken = ctypes.c_size_t(0)
        done = 0
        limit = _ms(timeout)
        try:
            while True:
                wait = _SLICE_MS if limit == _FOREVER else limit
                at = base + done if base is not None else None
                st = _lib.ttc_send(h, at, total - done, wait, ctypes.byref(taken))
                done += taken.value
                if st == _OK:
                    return total
                if st == _CLOSED:
                    raise self._closed(done)
                if st != _TIMEOUT:
                    raise TtcError(st, "send")
                if limit != _FOREVER:
                    raise SendTimeout(done)
        finally:
            # Kept only for confirm: without it the list would only grow.
            if done and self._confirmed:
                with self._lock:
                    self._offset += done
                    self._ends.append(self._offset)

    def confirm(self, messages: int = 1) -> None:
        """With ``delivery='confirmed'``: the server has the oldest
        ``messages`` sends not yet confirmed (one ``send`` call is one
        message), as its own protocol said (a receipt, an 'OK' line, MQTT's
        PUBACK). After a reconnect, sending starts again from the first
        send not confirmed. Raises ValueError when fewer sends are waiting
        for confirmation (always, without ``delivery='confirmed'``)."""
        if messages < 1:
            raise ValueError("messages must be at least 1")
        with self._lock:
            if messages > len(self._ends):
                raise ValueError("confirm(%d): only %d sends are unconfirmed"
                                 % (messages, len(self._ends)))
            for _ in range(messages - 1):
                self._ends.popleft()
            end = self._ends.popleft()
        st = _lib.ttc_confirm(self._h(), end)
        if st != _OK:
            raise TtcError(st, "confirm")

    @property
    def unconfirmed(self) -> int:
        """Sends not yet confirmed (see ``confirm``)."""
        with self._lock:
            return len(self._ends)

    def recv(self, timeout: Optional[float] = None, size: int = 65536) -> bytes:
        """The next bytes from the server (at most ``size``), waiting up to
        ``timeout`` seconds (None: no limit). Returns b'' at the end of the
        stream; raises TimeoutError when nothing came in time."""
        if size <= 0:
            raise ValueError("size must be positive")
        h = self._h()
        buf = ctypes.create_string_buffer(size)
        got = ctypes.c_size_t(0)
        limit = _ms(timeout)
        while True:
            wait = _SLICE_MS if limit == _FOREVER else limit
            st = _lib.ttc_recv(h, buf, size, wait, ctypes.byref(got))
            if st == _OK:
                return buf.raw[: got.value]
            if st != _TIMEOUT:
                raise TtcError(st, "recv")
            if limit != _FOREVER:
                raise TimeoutError("recv: nothing from the server within %s s" % timeout)

    def __iter__(self) -> Iterator[bytes]:
        """The server's bytes as they come, until the end of the stream."""
        while True:
            data = self.recv()
            if not data:
                return
            yield data

    def _control(self, f: object, name: str) -> None:
        self._stopped = True
        st = f(self._h())  # type: ignore[operator]
        if st != _OK:
            raise TtcError(st, name)

    def producer_finished(self) -> None:
        """Write everything queued, half-close, keep receiving until the
        server closes (or the linger time ends)."""
        self._control(_lib.ttc_producer_finished, "producer_finished")

    def shutdown(self) -> None:
        """Close now; what is still queued is counted as unsent."""
        self._control(_lib.ttc_shutdown, "shutdown")

    def abort(self) -> None:
        """Reset the connection."""
        self._control(_lib.ttc_abort, "abort")

    def next_signal(self, timeout: Optional[float] = None) -> Optional[Signal]:
        """The next Signal, waiting up to ``timeout`` seconds (None: no
        limit). None once the final signal ('socket_shutdown') was taken;
        raises TimeoutError when none came in time."""
        h = self._h()
        s = _Signal()
        limit = _ms(timeout)
        while True:
            wait = _SLICE_MS if limit == _FOREVER else limit
            st = _lib.ttc_next_signal(h, wait, ctypes.byref(s))
            if st == _OK:
                return Signal(s)
            if st == _CLOSED:
                return None
            if st != _TIMEOUT:
                raise TtcError(st, "next_signal")
            if limit != _FOREVER:
                raise TimeoutError("next_signal: no signal within %s s" % timeout)

    def wait_connected(self, timeout: Optional[float] = None) -> str:
        """Waits for the connection (taking signals until 'connected') and
        returns the peer's address. If the connection ended first, raises
        the exception for the error that ended it (ConnectionRefusedError,
        TimeoutError, TLSCertificateError, ResolveError, ...), or
        ConnectionClosed if it ended without one. With reconnect, errors of
        attempts that are retried do not raise; giving up does. Raises
        TimeoutError when ``timeout`` seconds pass first."""
        error = None
        while True:
            s = self.next_signal(timeout)
            if s is None or s.kind == "socket_shutdown":
                r = s.report if s is not None else self.join(timeout=1.0)
                error = (r.error if r is not None else None) or error
                if error is not None:
                    raise error.exception()
                raise ConnectionClosed(0)
            if s.kind == "connected":
                return s.peer or ""
            if s.kind == "error":
                error = s.error

    def join(self, timeout: Optional[float] = None) -> Optional[Report]:
        """Waits for the connection to end and returns its final Report
        (the same on every call); None if ``timeout`` seconds passed first
        (None: no limit). It stops nothing itself: call producer_finished,
        shutdown or abort first, or wait for the server to close."""
        h = self._h()
        r = _Report()
        limit = _ms(timeout)
        while True:
            wait = _SLICE_MS if limit == _FOREVER else limit
            st = _lib.ttc_join_timeout(h, wait, ctypes.byref(r))
            if st == _OK:
                return Report(r)
            if st != _TIMEOUT:
                raise TtcError(st, "join")
            if limit != _FOREVER:
                return None

    def close(self) -> None:
        """Frees the client (shutting the connection down if it is still
        running, without waiting). Later calls raise ValueError; close
        itself may be called again."""
        h, self._handle = self._handle, 0
        if h:
            _lib.ttc_free(h)

    def __enter__(self) -> "ThreadedTCPClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def log_init() -> None:
    """Makes the library log to stderr at the level in TTC_LOG (error,
    warn, info, debug, trace); it is silent otherwise."""
    _lib.ttc_log_init()

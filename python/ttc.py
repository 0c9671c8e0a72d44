"""ttc: Kamaelia's ThreadedTCPClient, over the ttc C library (ctypes).

    from ttc import ThreadedTCPClient

    with ThreadedTCPClient("127.0.0.1", 7, initialsendmessage=b"HELLO\\r\\n") as c:
        c.send(b"ping\\n")
        c.producer_finished()          # half-close once everything is written
        while data := c.recv(timeout=5):
            print(data)                # b'' at the end of the stream
        report = c.join()
        print(report.reason, report.sent, report.received, report.unsent)

One worker thread per connection (in the library) owns the socket; the
calls here never touch it. Every byte given to ``send`` is in the final
report's ``sent`` or ``unsent``.

The shared library (libttc.so, ``cargo build --release -p ttc-ffi``) is
found through the environment variable ``TTC_LIBRARY`` (a path) if set,
else next to this file, else in the workspace's ``target/release`` and
then ``target/debug``.

Timeouts are in seconds (``None``: no limit; 0: do not wait). Calls that
wait without a limit wake every quarter second, so Ctrl-C (and other
Python signal handlers) are seen.
"""

import ctypes
import os
from pathlib import Path

__all__ = [
    "ThreadedTCPClient",
    "Report",
    "Signal",
    "Error",
    "TtcError",
    "SendTimeout",
    "ConnectionClosed",
    "library_path",
]

_LIBRARY_NAME = "libttc.so"


def library_path():
    """Where the shared library is looked for, first match wins; the path
    that will be (or was) loaded."""
    env = os.environ.get("TTC_LIBRARY")
    if env:
        return env
    here = Path(__file__).resolve().parent
    candidates = [here / _LIBRARY_NAME] + [
        here.parent / "target" / profile / _LIBRARY_NAME for profile in ("release", "debug")
    ]
    for c in candidates:
        if c.is_file():
            return str(c)
    raise ImportError(
        "ttc: %s not found (looked next to ttc.py and in target/release, target/debug): "
        "build it with `cargo build --release -p ttc-ffi`, or set TTC_LIBRARY to its path"
        % _LIBRARY_NAME
    )


# Status codes (ttc.h: ttc_status).
_OK, _TIMEOUT, _FULL, _CLOSED = 0, 1, 2, 3
_E_HANDLE, _E_INVALID, _E_UNSUPPORTED = -2, -3, -4
_FOREVER = -1
# One wait of a call without a time limit, in milliseconds.
_SLICE_MS = 250

_ADDR_CAPACITY = 64
_KIND_CAPACITY = 32
_MESSAGE_CAPACITY = 128

_SIGNAL_KINDS = {1: "connected", 2: "peer_closed", 3: "error", 4: "socket_shutdown"}
_FAMILIES = {None: 0, "any": 0, 4: 4, "ipv4": 4, 6: 6, "ipv6": 6}


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
    ]


class _Signal(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int),
        ("peer", ctypes.c_char * _ADDR_CAPACITY),
        ("error", _Error),
        ("report", _Report),
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
    ]


def _load():
    lib = ctypes.CDLL(library_path())
    c_client = ctypes.c_uint64
    size_p = ctypes.POINTER(ctypes.c_size_t)
    sigs = {
        "ttc_options_default": ([], _Options),
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
        "ttc_next_signal": ([c_client, ctypes.c_int64, ctypes.POINTER(_Signal)], ctypes.c_int),
        "ttc_join": ([c_client, ctypes.POINTER(_Report)], ctypes.c_int),
        "ttc_free": ([c_client], ctypes.c_int),
        "ttc_strerror": ([ctypes.c_int32], ctypes.c_char_p),
        "ttc_reason_str": ([ctypes.c_int32], ctypes.c_char_p),
        "ttc_phase_str": ([ctypes.c_int32], ctypes.c_char_p),
        "ttc_version": ([], ctypes.c_char_p),
        "ttc_log_init": ([], None),
    }
    for name, (args, res) in sigs.items():
        f = getattr(lib, name)
        f.argtypes = args
        f.restype = res
    return lib


_lib = _load()

__version__ = _lib.ttc_version().decode()


class TtcError(OSError):
    """A call into the library failed; ``status`` is its ttc_status code."""

    def __init__(self, status, what):
        self.status = status
        super().__init__("%s: %s" % (what, _lib.ttc_strerror(status).decode()))


class SendTimeout(TimeoutError):
    """``send`` ran out of time with the inbox full. The first ``taken``
    bytes were queued (and will be sent or counted as unsent); the rest was
    not taken."""

    def __init__(self, taken):
        self.taken = taken
        super().__init__("timed out waiting for room in the inbox after %d bytes" % taken)


class ConnectionClosed(ConnectionError):
    """``send`` found the connection ended or ending. The first ``taken``
    bytes were queued; the rest was not taken."""

    def __init__(self, taken):
        self.taken = taken
        super().__init__("the connection has ended (%d bytes were taken)" % taken)


class Error:
    """An error of the connection: ``phase`` ('resolve', 'connect', 'read',
    'write', ...), ``kind`` (Rust's io::ErrorKind name, e.g.
    'ConnectionRefused'), ``os_code`` (errno, or None) and ``message``."""

    __slots__ = ("phase", "kind", "os_code", "message")

    def __init__(self, e):
        self.phase = _lib.ttc_phase_str(e.phase).decode()
        self.kind = e.kind.decode()
        self.os_code = e.os_code or None
        self.message = e.message.decode("utf-8", "replace")

    def __repr__(self):
        return "Error(phase=%r, kind=%r, os_code=%r, message=%r)" % (
            self.phase, self.kind, self.os_code, self.message)

    def __str__(self):
        return "%s: %s" % (self.phase, self.message)


class Report:
    """The final account of a connection. ``reason`` is one of 'finished',
    'peer_closed', 'shutdown', 'aborted', 'error', 'linger'; every byte given to the
    client is in ``sent`` or ``unsent``; ``acked`` is what of ``sent`` the
    server's TCP acknowledged; ``received`` bytes were all delivered;
    ``error`` is an Error or None."""

    __slots__ = ("reason", "sent", "received", "unsent", "acked", "error")

    def __init__(self, r):
        self.reason = _lib.ttc_reason_str(r.reason).decode()
        self.sent = r.sent
        self.received = r.received
        self.unsent = r.unsent
        self.acked = r.acked
        self.error = Error(r.error) if r.has_error else None

    def __repr__(self):
        return "Report(reason=%r, sent=%d, received=%d, unsent=%d, acked=%d, error=%r)" % (
            self.reason, self.sent, self.received, self.unsent, self.acked, self.error)


class Signal:
    """A signal: ``kind`` is 'connected' (``peer``: the server's address as
    'host:port'), 'peer_closed', 'error' (``error``), 'socket_shutdown'
    (``report``: the final one; nothing follows) or 'other'."""

    __slots__ = ("kind", "peer", "error", "report")

    def __init__(self, s):
        self.kind = _SIGNAL_KINDS.get(s.kind, "other")
        self.peer = s.peer.decode() if self.kind == "connected" else None
        self.error = Error(s.error) if self.kind == "error" else None
        self.report = Report(s.report) if self.kind == "socket_shutdown" else None

    def __repr__(self):
        extra = self.peer or self.error or self.report
        return "Signal(%r%s)" % (self.kind, ", %r" % (extra,) if extra else "")


def _ms(seconds, default=None):
    if seconds is None:
        return _FOREVER if default is None else default
    if seconds < 0:
        return _FOREVER
    return int(round(seconds * 1000))


class ThreadedTCPClient:
    """Kamaelia's ThreadedTCPClient: connects to ``host``:``port`` on its
    own worker thread, writes ``initialsendmessage`` (bytes) first, then
    what is given to ``send``; ``recv`` returns what the server sent.

    Options (keywords): ``connect_timeout`` (s, default 10), ``write_timeout``
    (s, default 30; None: no limit), ``linger`` (s, default 5: after
    producer_finished, how long to wait for the server to close),
    ``keepalive`` (idle seconds before the first probe; default off),
    ``nodelay`` (default True), ``family`` (None, 4 or 6), ``chunk_size``
    (256, 1024, 4096 or 16384 bytes), ``proxy`` (a URL as curl spells it:
    ``socks5://``, ``socks5h://`` (the proxy resolves ``host``),
    ``socks4://``, ``socks4a://`` or ``http://`` (CONNECT), with optional
    percent-encoded ``user:password@``; a bad one is a ValueError; a failure
    to get through it is an error of phase ``proxy``).

    It starts at once; ``next_signal`` says when it is connected (or why
    not). Thread safety: every method may be called from any thread.
    """

    _DEFAULT = object()

    def __init__(self, host, port, initialsendmessage=None, *, connect_timeout=None,
                 write_timeout=_DEFAULT, linger=None, keepalive=None, nodelay=True,
                 family=None, chunk_size=None, proxy=None):
        self._handle = 0
        opts = _lib.ttc_options_default()
        self._initial = bytes(initialsendmessage or b"")
        if self._initial:
            opts.initial_message = ctypes.cast(ctypes.c_char_p(self._initial), ctypes.c_void_p)
            opts.initial_message_len = len(self._initial)
        if connect_timeout is not None:
            opts.connect_timeout_ms = _ms(connect_timeout)
        if write_timeout is not ThreadedTCPClient._DEFAULT:
            opts.write_timeout_ms = _ms(write_timeout)
        if linger is not None:
            opts.linger_ms = _ms(linger)
        if keepalive is not None:
            opts.keepalive_ms = _ms(keepalive)
        opts.nodelay = 1 if nodelay else 0
        if family not in _FAMILIES:
            raise ValueError("family must be None, 4 or 6, not %r" % (family,))
        opts.family = _FAMILIES[family]
        if chunk_size is not None:
            opts.chunk_size = chunk_size
        # Kept until ttc_spawn has copied it.
        self._proxy = str(proxy).encode() if proxy else None
        opts.proxy = self._proxy
        handle = ctypes.c_uint64(0)
        err = _Error()
        st = _lib.ttc_spawn(str(host).encode(), int(port), ctypes.byref(opts),
                            ctypes.byref(handle), ctypes.byref(err))
        if st in (_E_INVALID, _E_UNSUPPORTED):
            raise ValueError("ThreadedTCPClient: %s" % _lib.ttc_strerror(st).decode())
        if st != _OK:
            e = TtcError(st, "ThreadedTCPClient")
            if err.phase:
                e.error = Error(err)
            raise e
        self._proxy = None
        self._handle = handle.value

    def _h(self):
        if not self._handle:
            raise ValueError("ThreadedTCPClient is closed")
        return self._handle

    def send(self, data, timeout=None):
        """Queues all of ``data`` (bytes-like) for the server, waiting up to
        ``timeout`` seconds in all for room (None: no limit; 0: no wait).
        Returns len(data). Raises SendTimeout or ConnectionClosed, whose
        ``taken`` says how many bytes were queued."""
        total = len(data)
        h = self._h()
        # One copy into memory the library can read, whatever `data` is.
        buf = (ctypes.c_char * total).from_buffer_copy(data) if total else None
        base = ctypes.addressof(buf) if total else None
        taken = ctypes.c_size_t(0)
        done = 0
        limit = _ms(timeout)
        while True:
            wait = _SLICE_MS if limit == _FOREVER else limit
            at = base + done if total else None
            st = _lib.ttc_send(h, at, total - done, wait, ctypes.byref(taken))
            done += taken.value
            if st == _OK:
                return total
            if st == _CLOSED:
                raise ConnectionClosed(done)
            if st != _TIMEOUT:
                raise TtcError(st, "send")
            if limit != _FOREVER:
                raise SendTimeout(done)

    def recv(self, timeout=None, size=65536):
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

    def __iter__(self):
        """The server's bytes as they come, until the end of the stream."""
        while True:
            data = self.recv()
            if not data:
                return
            yield data

    def _control(self, f, name):
        st = f(self._h())
        if st != _OK:
            raise TtcError(st, name)

    def producer_finished(self):
        """Write everything queued, half-close, keep receiving until the
        server closes (or the linger time ends)."""
        self._control(_lib.ttc_producer_finished, "producer_finished")

    def shutdown(self):
        """Close now; what is still queued is counted as unsent."""
        self._control(_lib.ttc_shutdown, "shutdown")

    def abort(self):
        """Reset the connection."""
        self._control(_lib.ttc_abort, "abort")

    def next_signal(self, timeout=None):
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

    def join(self):
        """Waits for the connection to end and returns its Report (the same
        on every call). It stops nothing itself: call producer_finished,
        shutdown or abort first, or wait for the server to close."""
        r = _Report()
        st = _lib.ttc_join(self._h(), ctypes.byref(r))
        if st != _OK:
            raise TtcError(st, "join")
        return Report(r)

    def close(self):
        """Frees the client (shutting the connection down if it is still
        running, without waiting). Later calls raise ValueError; close
        itself may be called again."""
        h, self._handle = self._handle, 0
        if h:
            _lib.ttc_free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def log_init():
    """Makes the library log to stderr at the level in TTC_LOG (error,
    warn, info, debug, trace); it is silent otherwise."""
    _lib.ttc_log_init()

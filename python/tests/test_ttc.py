"""The ttc Python module against the project's test peers on loopback:
bytes and final reports asserted, Kamaelia's names."""

import errno
import os
import socket
import subprocess
import threading

import pytest

from conftest import INSTALLED, PYTHON, ROOT, WAIT, fnv1a

import ttc
from ttc import ThreadedTCPClient


def recv_all(c):
    got = bytearray()
    while True:
        data = c.recv(timeout=WAIT)
        if not data:
            return bytes(got)
        got += data


def signal_kinds(c):
    kinds = []
    while True:
        s = c.next_signal(timeout=WAIT)
        if s is None:
            return kinds
        kinds.append(s)


def test_echo_is_byte_exact_with_initial_message(echo):
    data = os.urandom(200_000)
    with ThreadedTCPClient("127.0.0.1", echo.port, initialsendmessage=b"HELLO ") as c:
        s = c.next_signal(timeout=WAIT)
        assert s.kind == "connected"
        assert s.peer == "127.0.0.1:%d" % echo.port

        def produce():
            assert c.send(data, timeout=WAIT) == len(data)
            c.producer_finished()

        t = threading.Thread(target=produce)
        t.start()
        got = recv_all(c)
        t.join(WAIT)
        assert got == b"HELLO " + data
        r = c.join()
        assert (r.reason, r.sent, r.received, r.unsent) == ("finished", len(got), len(got), 0)
        # The echo server read and answered every byte: all acknowledged.
        assert r.acked == r.sent
        assert r.error is None
        assert c.join().sent == r.sent, "join again: the same report"
        kinds = [s.kind for s in signal_kinds(c)]
        assert kinds[-1] == "socket_shutdown" and "error" not in kinds
    received, sent, _ = echo.next_report()
    assert received == sent == len(data) + 6


def test_sink_gets_every_byte_hash_checked(sink):
    data = os.urandom(1_000_000)
    c = ThreadedTCPClient("127.0.0.1", sink.port, chunk_size=16384)
    view = memoryview(data)
    for i in range(0, len(data), 100_000):
        # Any bytes-like object: memoryview slices here.
        assert c.send(view[i:i + 100_000]) == 100_000
    c.producer_finished()
    assert recv_all(c) == b""
    r = c.join()
    assert (r.reason, r.sent, r.received, r.unsent) == ("finished", len(data), 0, 0)
    c.close()
    received, _, digest = sink.next_report()
    assert received == len(data)
    assert digest == fnv1a(data)


def test_fortune_server_closes_first(fortune):
    with ThreadedTCPClient("127.0.0.1", fortune.port) as c:
        got = b"".join(c)
        assert got.startswith(b"The original ThreadedTCPClient")
        r = c.join()
        assert r.reason == "peer_closed"
        assert r.received == len(got)
        kinds = [s.kind for s in signal_kinds(c)]
        assert kinds == ["connected", "peer_closed", "socket_shutdown"]


def test_recv_and_next_signal_time_out(sink):
    with ThreadedTCPClient("127.0.0.1", sink.port) as c:
        assert c.next_signal(timeout=WAIT).kind == "connected"
        with pytest.raises(TimeoutError):
            c.recv(timeout=0.05)
        with pytest.raises(TimeoutError):
            c.next_signal(timeout=0)
        c.shutdown()
        assert c.recv(timeout=WAIT) == b""
        assert c.join().reason == "shutdown"


def test_abort_is_reported(sink):
    with ThreadedTCPClient("127.0.0.1", sink.port) as c:
        assert c.next_signal(timeout=WAIT).kind == "connected"
        c.abort()
        r = c.join()
        assert r.reason == "aborted"
        assert (r.sent, r.unsent) == (0, 0)


def test_refused_connection_is_an_error():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with ThreadedTCPClient("127.0.0.1", port) as c:
        sig = c.next_signal(timeout=WAIT)
        assert sig.kind == "error"
        assert (sig.error.phase, sig.error.kind) == ("connect", "ConnectionRefused")
        assert sig.error.os_code == errno.ECONNREFUSED
        assert sig.error.message
        r = c.join()
        assert r.reason == "error"
        assert r.error.phase == "connect"
        with pytest.raises(ttc.ConnectionClosed) as e:
            c.send(b"late", timeout=0)
        assert e.value.taken == 0


def test_proxy_that_is_not_there_is_an_error_of_the_proxy_phase():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    url = "socks5h://user:Pa55w0rd@127.0.0.1:%d" % port
    with ThreadedTCPClient("server.invalid", 7, proxy=url) as c:
        sig = c.next_signal(timeout=WAIT)
        assert sig.kind == "error"
        assert (sig.error.phase, sig.error.kind) == ("proxy", "ConnectionRefused")
        assert sig.error.message.startswith("proxy 127.0.0.1:%d: " % port)
        assert "Pa55w0rd" not in repr(sig.error)
        assert c.join().error.phase == "proxy"
    with pytest.raises(ValueError):
        ThreadedTCPClient("127.0.0.1", 9, proxy="ftp://h")


def test_send_timeout_says_what_was_taken_and_the_report_accounts_for_it():
    # A server that accepts and never reads.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    held = []
    threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
    try:
        with ThreadedTCPClient("127.0.0.1", port, chunk_size=16384) as c:
            assert c.next_signal(timeout=WAIT).kind == "connected"
            data = bytes(64 * 1024 * 1024)
            with pytest.raises(ttc.SendTimeout) as e:
                c.send(data, timeout=1.0)
            taken = e.value.taken
            assert 0 < taken < len(data)
            c.shutdown()
            r = c.join()
            assert r.reason == "shutdown"
            assert r.sent + r.unsent == taken
    finally:
        listener.close()
        for conn, _ in held:
            conn.close()


def test_bad_options_and_closed_client():
    with pytest.raises(ValueError):
        ThreadedTCPClient("127.0.0.1", 9, chunk_size=1000)
    with pytest.raises(ValueError):
        ThreadedTCPClient("127.0.0.1", 9, family=5)
    c = ThreadedTCPClient("127.0.0.1", 9, connect_timeout=0.5)
    c.close()
    c.close()
    with pytest.raises(ValueError):
        c.send(b"x")
    with pytest.raises(ValueError):
        c.recv()


def test_library_is_found_through_ttc_library():
    code = "import ttc; print(ttc.library_path()); print(ttc.__version__)"
    env = dict(os.environ, TTC_LIBRARY=ttc.library_path())
    if not INSTALLED:
        env["PYTHONPATH"] = str(ROOT / "python")
    out = subprocess.run(PYTHON + ["-c", code], env=env, capture_output=True,
                         text=True, timeout=WAIT, check=True).stdout.split()
    assert out == [ttc.library_path(), ttc.__version__]
    env["TTC_LIBRARY"] = "/nonexistent/libttc.so"
    r = subprocess.run(PYTHON + ["-c", code], env=env, capture_output=True,
                       text=True, timeout=WAIT)
    assert r.returncode != 0
    assert "/nonexistent/libttc.so" in r.stderr

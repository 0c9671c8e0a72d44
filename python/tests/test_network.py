"""Moving networks from Python: the pre-connect hook (once per
connection, on a socket not yet connected; an exception fails the
attempt), reconnect() (a new connection at once, 'network_changed'; ignored
without reconnect) and the follow_routes option."""

import errno
import socket
import threading
import time

from conftest import WAIT

from ttc import Backoff, ThreadedTCPClient


class DrainServer:
    """Accepts connections one after the other and reads each to its end."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                while conn.recv(65536):
                    pass

    def close(self):
        self.listener.close()


def unconnected(fd):
    """Whether the socket `fd` has no peer yet (ENOTCONN)."""
    s = socket.socket(fileno=socket.dup(fd))
    try:
        s.getpeername()
        return False
    except OSError as e:
        return e.errno == errno.ENOTCONN
    finally:
        s.close()


def test_before_connect_runs_once_per_connection_and_reconnect_connects_again_at_once():
    server = DrainServer()
    seen = []
    try:
        # A 30 s backoff: connecting again within seconds means no wait.
        c = ThreadedTCPClient("127.0.0.1", server.port,
                              reconnect=Backoff(initial=30, jitter=False),
                              before_connect=lambda fd: seen.append(unconnected(fd)))
        with c:
            c.wait_connected(timeout=WAIT)
            assert seen == [True]
            asked = time.monotonic()
            c.reconnect()
            kinds = []
            while True:
                s = c.next_signal(timeout=WAIT)
                kinds.append(s.kind)
                if s.kind == "disconnected":
                    assert s.report.reason == "network_changed" and s.report.error is None
                if s.kind == "reconnecting":
                    assert (s.attempt, s.delay) == (1, 0)
                if s.kind == "connected":
                    break
            took = time.monotonic() - asked
            assert kinds == ["disconnected", "reconnecting", "connected"]
            assert took < 5, "connected again after %.3f s" % took
            assert seen == [True, True]
            c.shutdown()
            r = c.join(timeout=WAIT)
            assert r.reason == "shutdown" and r.connections == 2
    finally:
        server.close()


def test_before_connect_raising_fails_the_attempt_with_phase_connect():
    server = DrainServer()
    try:
        def refuse(fd):
            raise PermissionError(errno.EACCES, "not on this network")

        with ThreadedTCPClient("127.0.0.1", server.port, before_connect=refuse) as c:
            s = c.next_signal(timeout=WAIT)
            assert s.kind == "error", s
            assert s.error.phase == "connect"
            assert s.error.message.startswith("pre-connect hook: ")
            assert "Permission denied" in s.error.message
            assert s.error.kind == "PermissionDenied"
            r = c.join(timeout=WAIT)
            assert r.reason == "error" and r.connections == 0

        def broken(fd):
            raise ValueError("a bug in the hook")

        with ThreadedTCPClient("127.0.0.1", server.port, before_connect=broken) as c:
            r = c.join(timeout=WAIT)
            assert r.reason == "error" and r.connections == 0
            assert r.error.phase == "connect"
            assert r.error.message.startswith("pre-connect hook: ")
            # Not an OSError: ECANCELED.
            assert "Operation canceled" in r.error.message
        assert server.accepted == 0
    finally:
        server.close()


def test_reconnect_without_reconnect_is_ignored(echo):
    # follow_routes without reconnect: accepted, and does nothing.
    with ThreadedTCPClient("127.0.0.1", echo.port, follow_routes=True) as c:
        c.wait_connected(timeout=WAIT)
        c.reconnect()
        c.send(b"still here\n")
        c.producer_finished()
        got = b"".join(c)
        assert got == b"still here\n"
        r = c.join(timeout=WAIT)
        assert r.reason == "finished" and r.connections == 1


def test_before_connect_must_be_callable():
    try:
        ThreadedTCPClient("127.0.0.1", 9, before_connect=42)
    except ValueError as e:
        assert "before_connect" in str(e)
    else:
        raise AssertionError("accepted a hook that is not callable")

"""The connection features from Python: reconnect with confirm across a
server restart, TLS with a CA file, a wrong CA refused, errors as Python
exceptions, and the installed package itself."""

import socket
import ssl
import threading

import pytest

from conftest import INSTALLED, ROOT, WAIT, closed_port

import ttc
from ttc import Backoff, ThreadedTCPClient, Tls


class RestartingLineServer:
    """Answers 'ack N' for each line 'msg N'. After ``cut`` lines it dies:
    resets the connection (what it had not read is lost) and stops
    listening; then it listens again on the same port (the restart) and
    serves the next connection to its end. ``seen`` counts each line."""

    def __init__(self, cut):
        self.cut = cut
        self.seen = {}
        self.connections = 0
        self.listener = self._listen(0)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @staticmethod
    def _listen(port):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(4)
        return s

    def _serve(self, conn, limit):
        taken = 0
        pending = b""
        while True:
            data = conn.recv(65536)
            if not data:
                return
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.startswith(b"msg "):
                    k = int(line[4:])
                    self.seen[k] = self.seen.get(k, 0) + 1
                    conn.sendall(b"ack %d\n" % k)
                    taken += 1
                    if limit and taken == limit:
                        return

    def _run(self):
        conn, _ = self.listener.accept()
        self.connections += 1
        self._serve(conn, self.cut)
        # The crash: a reset, and nobody listening.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()
        self.listener.close()
        self.listener = self._listen(self.port)
        conn, _ = self.listener.accept()
        self.connections += 1
        self._serve(conn, 0)
        conn.close()
        self.listener.close()


def test_server_restart_mid_stream_with_reconnect_and_confirm():
    lines = 300
    server = RestartingLineServer(cut=50)
    c = ThreadedTCPClient(
        "127.0.0.1", server.port,
        reconnect=Backoff(initial=0.02, max=0.2, jitter=False, max_attempts=100),
        delivery="confirmed")
    sent = [b"msg %d\n" % k for k in range(lines)]
    for line in sent:
        c.send(line, timeout=WAIT)
    assert c.unconfirmed == lines
    # Every 'ack N' confirms the oldest unconfirmed send, in order; after
    # the restart, lines acknowledged twice are confirmed once.
    acked = set()
    pending = b""
    while len(acked) < lines:
        data = c.recv(timeout=WAIT)
        assert data, "the stream ended with %d of %d lines confirmed" % (len(acked), lines)
        pending += data
        *got, pending = pending.split(b"\n")
        for line in got:
            k = int(line.split()[1])
            if k not in acked:
                assert k == len(acked), "acks out of order: %d after %d" % (k, len(acked))
                acked.add(k)
                c.confirm()
    assert c.unconfirmed == 0
    with pytest.raises(ValueError):
        c.confirm()
    c.producer_finished()
    kinds = []
    while (s := c.next_signal(timeout=WAIT)) is not None:
        kinds.append(s.kind)
        if s.kind == "reconnecting":
            assert s.attempt >= 1 and s.delay >= 0
    r = c.join(timeout=WAIT)
    server.thread.join(WAIT)
    c.close()
    assert sorted(server.seen) == list(range(lines)), "lines that never arrived"
    assert server.connections == 2
    assert kinds.count("connected") == 2 and "reconnecting" in kinds
    accepted = sum(map(len, sent))
    assert r.reason == "finished"
    assert r.connections == 2
    assert r.acked == accepted
    assert r.sent == accepted + r.resent
    assert (r.unsent, r.lost, r.unacked, r.error) == (0, 0, 0, None)
    # What the server received twice was sent again: counted in resent.
    again = sum(len(b"msg %d\n" % k) * (n - 1) for k, n in server.seen.items())
    assert again <= r.resent


def test_tls_with_a_ca_file(pki, s_server):
    with ThreadedTCPClient("127.0.0.1", s_server, tls=Tls(ca_file=pki["ca.pem"])) as c:
        assert c.wait_connected(timeout=WAIT) == "127.0.0.1:%d" % s_server
        c.send(b"hello ttc\n")
        got = b""
        while len(got) < 10:
            got += c.recv(timeout=WAIT)
        assert got == b"ctt olleh\n"
        c.shutdown()
        r = c.join(timeout=WAIT)
        assert (r.sent, r.received) == (10, 10)
        assert r.tls_version in ("TLSv1.2", "TLSv1.3")
        assert r.tls_cipher


def test_tls_with_the_ca_as_pem_text(pki, s_server):
    with open(pki["ca.pem"]) as f:
        pem = f.read()
    with ThreadedTCPClient("localhost", s_server, family=4, tls=Tls(ca_pem=pem)) as c:
        c.wait_connected(timeout=WAIT)
        c.shutdown()
        assert c.join(timeout=WAIT).tls_version


def test_tls_with_a_wrong_ca_is_refused(pki, s_server):
    with ThreadedTCPClient("127.0.0.1", s_server, tls=Tls(ca_file=pki["other_ca.pem"]),
                           reconnect=Backoff(initial=0.01)) as c:
        # A refused certificate ends it even with reconnect.
        with pytest.raises(ttc.TLSCertificateError) as e:
            c.wait_connected(timeout=WAIT)
        assert isinstance(e.value, ssl.SSLCertVerificationError)
        assert e.value.reason == "unknown_issuer"
        assert e.value.error.phase == "tls"
        r = c.join(timeout=WAIT)
        assert r.reason == "error" and r.connections == 0


def test_refused_port_raises_connection_refused_error():
    with ThreadedTCPClient("127.0.0.1", closed_port()) as c:
        with pytest.raises(ConnectionRefusedError) as e:
            c.wait_connected(timeout=WAIT)
        assert e.value.error.phase == "connect"
        assert "connect" in str(e.value)


def test_send_after_a_refused_connect_chains_the_cause():
    with ThreadedTCPClient("127.0.0.1", closed_port()) as c:
        assert c.join(timeout=WAIT).reason == "error"
        with pytest.raises(ttc.ConnectionClosed) as e:
            c.send(b"late", timeout=0)
        assert e.value.taken == 0
        assert isinstance(e.value.__cause__, ConnectionRefusedError)
        assert "connect" in str(e.value)


def test_idle_timeout_raises_timeout_error_through_static_addresses():
    # A listener that never accepts: the kernel completes the handshake
    # and nothing ever comes.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        with ThreadedTCPClient("silent.test", listener.getsockname()[1],
                               addresses=["127.0.0.1"], idle_timeout=0.1) as c:
            c.wait_connected(timeout=WAIT)
            r = c.join(timeout=WAIT)
            assert r.error.kind == "TimedOut" and r.error.phase == "read"
            assert isinstance(r.error.exception(), TimeoutError)
    finally:
        listener.close()


def test_sends_are_kept_for_confirm_only_with_confirmed_delivery(echo):
    with ThreadedTCPClient("127.0.0.1", echo.port) as c:
        c.send(b"one\n")
        c.send(b"two\n")
        assert c.unconfirmed == 0
        with pytest.raises(ValueError):
            c.confirm()
        c.producer_finished()
        assert c.join(timeout=WAIT).acked == 8


def test_bad_options_say_which_and_why(pki):
    with pytest.raises(ValueError, match="ca_file"):
        ThreadedTCPClient("127.0.0.1", 9, tls=Tls(ca_file="/nonexistent/ca.pem"))
    with pytest.raises(ValueError, match="resolver_addrs"):
        ThreadedTCPClient("example.org", 80, dns=["not-an-address"])
    with pytest.raises(ValueError, match="local_addr"):
        ThreadedTCPClient("127.0.0.1", 9, source_address="nowhere")
    with pytest.raises(ValueError):
        ThreadedTCPClient("127.0.0.1", 9, delivery="maybe")
    assert "tls" in ttc.features()


def test_the_package_is_the_installed_one_when_asked():
    path = ttc.library_path()
    if INSTALLED:
        # The wheel's module and library, not the source tree's.
        assert not ttc.__file__.startswith(str(ROOT / "python"))
        assert path == ttc.__file__.rsplit("/", 1)[0] + "/libttc.so"
    assert ttc.__doc__ and "ThreadedTCPClient" in ttc.__doc__
    assert ttc.ThreadedTCPClient.__doc__ and ttc.Report.__doc__

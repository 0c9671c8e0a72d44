"""Test peers for the ttc module's tests: the project's own `ttc serve`
(echo, sink, fortune) on loopback, started per test.

The ttc binary is $TTC_BIN if set, else target/debug/ttc of the workspace
(`cargo build --bin ttc`). The module is the source tree's (python/ttc,
with the library found as it finds it: TTC_LIBRARY, next to it,
target/release, target/debug), unless TTC_TEST_INSTALLED=1: then it is
the one installed (the wheel, in the venv running the tests), and the
tests check that it is.

TLS peers: `openssl s_server -rev` (each line back reversed) with
certificates made by the openssl CLI for the session.
"""

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALLED = os.environ.get("TTC_TEST_INSTALLED") == "1"
if not INSTALLED:
    sys.path.insert(0, str(ROOT / "python"))

# The command that runs this Python in a child process: under QEMU
# user-mode (no binfmt_misc) TTC_TEST_PYTHON gives it, e.g.
# "qemu-arm /sysroot/usr/bin/python3.11".
PYTHON = os.environ.get("TTC_TEST_PYTHON", sys.executable).split()

# Generous: the machine running the suite may be loaded.
WAIT = 20.0


class Peer:
    """`ttc serve KIND` on 127.0.0.1, port chosen by the system. Its report
    lines ("closed ADDR received=N sent=N hash=H") are collected as they
    come; ``next_report()`` waits for the next one."""

    def __init__(self, kind):
        binary = os.environ.get("TTC_BIN") or str(ROOT / "target" / "debug" / "ttc")
        if not os.path.isfile(binary):
            pytest.fail("no ttc binary at %s: cargo build --bin ttc (or set TTC_BIN)" % binary)
        self.proc = subprocess.Popen(
            [binary, "serve", kind, "--port", "0", "--bind", "127.0.0.1"],
            stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()
        m = re.match(r"listening 127\.0\.0\.1:(\d+) ", first)
        assert m, "ttc serve said %r" % first
        self.port = int(m.group(1))
        self._reports = []
        self._cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            m = re.match(r"closed \S+ received=(\d+) sent=(\d+) hash=([0-9a-f]+)", line)
            if m:
                with self._cv:
                    self._reports.append((int(m.group(1)), int(m.group(2)), m.group(3)))
                    self._cv.notify_all()

    def next_report(self):
        """(received, sent, hash) of the next connection to end."""
        with self._cv:
            assert self._cv.wait_for(lambda: self._reports, WAIT), "peer reported nothing"
            return self._reports.pop(0)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(WAIT)


@pytest.fixture
def echo():
    p = Peer("echo")
    yield p
    p.stop()


@pytest.fixture
def sink():
    p = Peer("sink")
    yield p
    p.stop()


@pytest.fixture
def fortune():
    p = Peer("fortune")
    yield p
    p.stop()


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def run_quiet(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=WAIT)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A test CA (ca.pem), a server certificate for 127.0.0.1 and
    localhost by it (server.pem, server.key), and another CA
    (other_ca.pem): paths by name."""
    if not shutil.which("openssl"):
        pytest.fail("no openssl CLI (targets/ci.d/tls.apt installs it)")
    d = tmp_path_factory.mktemp("pki")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-batch"]
    for ca in ("ca", "other_ca"):
        run_quiet("openssl", "req", "-x509", *key, "-subj", "/CN=ttc test " + ca, "-days", "30",
                  "-keyout", str(d / (ca + ".key")), "-out", str(d / (ca + ".pem")))
    run_quiet("openssl", "req", *key, "-subj", "/CN=localhost",
              "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))
    (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                           "extendedKeyUsage=serverAuth\n")
    run_quiet("openssl", "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"),
              "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "30",
              "-extfile", str(d / "ext"), "-out", str(d / "server.pem"))
    return {name: str(d / name) for name in ("ca.pem", "other_ca.pem", "server.pem", "server.key")}


@pytest.fixture
def s_server(pki):
    """`openssl s_server -rev` on 127.0.0.1 with the server certificate:
    its port."""
    proc = subprocess.Popen(
        ["openssl", "s_server", "-rev", "-accept", "127.0.0.1:0",
         "-cert", pki["server.pem"], "-key", pki["server.key"]],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    port = None
    for line in proc.stdout:
        m = re.match(r"ACCEPT 127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    assert port, "openssl s_server did not start"
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    yield port
    proc.terminate()
    proc.wait(WAIT)


def closed_port():
    """A loopback port nobody listens on."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

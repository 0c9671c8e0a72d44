"""Test peers for the ttc module's tests: the project's own `ttc serve`
(echo, sink, fortune) on loopback, started per test.

The ttc binary is $TTC_BIN if set, else target/debug/ttc of the workspace
(`cargo build --bin ttc`); the library is found as ttc.py finds it
(TTC_LIBRARY, next to ttc.py, target/release, target/debug).
"""

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

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

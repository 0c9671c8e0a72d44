#!/usr/bin/env bash
# Benchmarks: keeps the side-by-side harness working. On the host, one
# release build with the tls feature serves both runs: `cargo bench
# --features tls --bench compare -- --quick` (the plain workloads: a plain
# connection takes the same path with the feature or without it) and
# `-- tls --quick` (the TLS section, against the host's openssl and
# socat). With TTC_BENCH_QEMU=1, also `-- --quick` under QEMU user-mode
# for armv7; CI leaves it out to keep its time (the figures under QEMU say
# little about speed, and clippy builds the bench for every target).
# aarch64 runs the same way by hand (benches/README.md). Every byte the
# workloads move is checked, so a broken client or harness fails here; the
# figures themselves are printed, not judged (the machine is shared and
# noisy). JSON lands in target/bench/.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TTC_ROOT"

ttc_run cargo bench --features tls --bench compare -- --quick
ttc_run cargo bench --features tls --bench compare -- tls --quick

if [ "${TTC_BENCH_QEMU:-0}" != 1 ]; then
    echo "bench: the QEMU run is not part of CI (TTC_BENCH_QEMU=1 adds it)"
    exit 0
fi
t=armv7-unknown-linux-gnueabihf
# targets/setup.sh (run by test.sh first) installs both; say so loudly
# rather than skip silently if it did not.
installed=$(rustup target list --installed 2>/dev/null || true)
if ! grep -qx "$t" <<<"$installed" || ! command -v qemu-arm >/dev/null; then
    echo "bench: $t or qemu-arm missing: run targets/setup.sh" >&2
    exit 1
fi
ttc_run cargo bench --bench compare --target "$t" -- --quick

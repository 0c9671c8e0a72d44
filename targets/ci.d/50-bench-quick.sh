#!/usr/bin/env bash
# Benchmarks: keeps the side-by-side harness working. Runs
# `cargo bench --bench compare -- --quick` on the host, then under QEMU
# user-mode for aarch64 and armv7 (skip those with TTC_BENCH_QEMU=0).
# Every byte the workloads move is checked, so a broken client or harness
# fails here; the figures themselves are printed, not judged (the machine
# is shared and noisy). ~1 min on the host, ~2-3 min per QEMU target, most
# of it the release (LTO) build. JSON lands in target/bench/.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TTC_ROOT"

ttc_run cargo bench --bench compare -- --quick

if [ "${TTC_BENCH_QEMU:-1}" = 0 ]; then
    echo "bench: TTC_BENCH_QEMU=0, QEMU runs skipped"
    exit 0
fi
installed=$(rustup target list --installed 2>/dev/null || true)
for t in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
    q=qemu-aarch64
    [ "$t" = armv7-unknown-linux-gnueabihf ] && q=qemu-arm
    # targets/setup.sh (run by test.sh first) installs both; say so loudly
    # rather than skip silently if it did not.
    if ! grep -qx "$t" <<<"$installed" || ! command -v "$q" >/dev/null; then
        echo "bench: $t or $q missing: run targets/setup.sh" >&2
        exit 1
    fi
    ttc_run cargo bench --bench compare --target "$t" -- --quick
done

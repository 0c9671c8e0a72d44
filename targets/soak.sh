#!/usr/bin/env bash
# Soak: a long echo transfer on loopback with a fault about every
# half second (server reset, server stall -> write timeout, server
# half-close, client abort, client shutdown, graceful finish), every
# connection's accounting checked; reports bytes, faults survived and peak
# RSS, and fails on any broken invariant or leaked thread or descriptor.
#
#   bash targets/soak.sh [SECONDS] [TARGET]
#
# SECONDS defaults to 600 (the documented 10-minute run), TARGET to
# aarch64-unknown-linux-gnu (run under QEMU by the cargo runner); give the
# host triple to run natively. Extra soak options via TTC_SOAK_ARGS, e.g.
# "--seed 7 --fault-every-ms 250".
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TTC_ROOT"
seconds=${1:-600}
target=${2:-aarch64-unknown-linux-gnu}
cargo build --release --example soak --target "$target" 2>&1 | tail -n 1
echo "soak: $(date -u +%Y-%m-%dT%H:%MZ) target $target, $seconds s"
# TTC_SOAK_ARGS is split into words on purpose: it holds several options.
# shellcheck disable=SC2086
exec cargo run -q --release --example soak --target "$target" -- --seconds "$seconds" ${TTC_SOAK_ARGS:-}

#!/usr/bin/env bash
# The 30-second soak under QEMU aarch64: a long echo transfer with
# a fault about every half second, every connection's accounting checked,
# bytes, faults survived and peak RSS reported. The 10-minute run is
# `bash targets/soak.sh 600` (tests/README.md).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
exec bash "$TTC_ROOT/targets/soak.sh" "${TTC_SOAK_SECONDS:-30}" aarch64-unknown-linux-gnu

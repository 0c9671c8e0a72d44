#!/usr/bin/env bash
# The `proxy` feature (off by default): its tests against danted,
# microsocks and tinyproxy on loopback ports (tests/proxy.rs; the servers
# come from ci.d/proxy.apt), on the host and under QEMU for armv7 and
# aarch64, and its unit tests and the command's with the feature on. The
# proxy code has no target-specific parts; clippy ran with it on the host
# in the main stages. The TLS-through-proxy cases run in 55-tls.sh.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TTC_ROOT"

ttc_some_tests ttc_run cargo test --features proxy --lib --bin ttc --test proxy
for t in armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu; do
    ttc_some_tests ttc_run cargo test --features proxy --target "$t" --test proxy
done

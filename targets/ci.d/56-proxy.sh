#!/usr/bin/env bash
# The `proxy` feature (off by default), without TLS: its tests against
# danted, microsocks and tinyproxy on loopback ports (tests/proxy.rs; the
# servers come from ci.d/proxy.apt), and the library's and the command's
# unit tests with the feature on, on the host. Clippy ran with it on the
# host in the main stages; under QEMU (armv7, aarch64) the whole proxy
# suite runs in 55-tls.sh, built once with both features.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TTC_ROOT"

ttc_some_tests ttc_run cargo test --features proxy --lib --bin ttc --test proxy

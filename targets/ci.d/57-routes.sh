#!/usr/bin/env bash
# The `routes` feature (off by default): clippy with it on, its unit tests
# (the netlink message parsers, a route query to the kernel), the
# command's with it on, and tests/routes.rs (two links between network
# namespaces the tests make; a link, an address or a route changes under
# a running upload) on the host and under QEMU user-mode on armv7, where
# qemu-arm passes netlink through to the host's kernel.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TTC_ROOT"

ttc_run cargo clippy --features routes --all-targets -- -D warnings
ttc_run cargo clippy --features routes --all-targets --target armv7-unknown-linux-gnueabihf -- -D warnings
ttc_some_tests ttc_run cargo test --features routes --lib --bin ttc --test routes
ttc_some_tests ttc_run cargo test --features routes --test routes --target armv7-unknown-linux-gnueabihf

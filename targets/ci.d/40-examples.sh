#!/usr/bin/env bash
# The examples (issue 4): each is built by `cargo clippy --all-targets`,
# and here also run. rate_controlled_send with no arguments sends 250 kB
# at 100 kB/s to a sink it starts on loopback and exits non-zero unless
# the sink received exactly that (the soak example runs in 60-soak.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
printf '$ %s\n' "cargo run --example rate_controlled_send"
cargo run -q --example rate_controlled_send

#!/usr/bin/env bash
# The examples: each is built by `cargo clippy --all-targets`,
# and here also run. rate_controlled_send with no arguments sends 250 kB
# at 100 kB/s to a sink it starts on loopback and exits non-zero unless
# the sink received exactly that (the soak example runs in 60-soak.sh).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TTC_ROOT"
ttc_run cargo run -q --example rate_controlled_send

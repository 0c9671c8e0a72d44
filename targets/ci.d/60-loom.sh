#!/usr/bin/env bash
# The mailbox under the loom model checker: every interleaving of
# small send / receive / close programs, tests/prop_loom_mailbox.rs; and
# the worker's park/wake protocol.
# Its own target dir: --cfg loom rebuilds everything.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TTC_ROOT"
export CARGO_TARGET_DIR=${TTC_LOOM_TARGET_DIR:-target/loom}
# Optimised (loom runs thousands of interleavings), but without the release
# profile's LTO, which only slows the link.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-3}


export RUSTFLAGS="--cfg loom"
ttc_some_tests cargo test --release --test prop_loom_mailbox
# The worker's park/wake protocol: a control message or chunk sent while
# the worker parks is seen or wakes it. Selected by test name (loom_*),
# not module path, so it does not matter which module holds the models.
ttc_some_tests cargo test --release --lib loom_

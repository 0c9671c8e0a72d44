#!/usr/bin/env bash
# Concurrency checks beyond loom, on the pinned nightly (lib.sh):
# - ThreadSanitizer over the library's unit tests, the behaviour contract,
#   the fault-injection suite and the property tests (std rebuilt with
#   TSan, so its locks and atomics are seen);
# - Miri over the library's pure unit tests (the byte ring's, with its
#   two-thread stress, the signal mailbox, messages and their Chunk type,
#   peers' parsers and pattern, and sys.rs's one memcpy into a chunk).
#   Miri cannot run sockets, poll or eventfd, so the connection tests are
#   TSan's.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TTC_ROOT"
host=$(rustc -vV | sed -n 's/^host: //p')

ttc_nightly_ensure rust-src miri

echo "--- ThreadSanitizer"
CARGO_TARGET_DIR=target/tsan RUSTFLAGS="-Zsanitizer=thread" RUSTDOCFLAGS="-Zsanitizer=thread" \
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    cargo +"$TTC_NIGHTLY" test -Zbuild-std --target "$host" \
    --lib --test behaviour --test fault --test prop_accounting


echo "--- Miri"
# One run per filter, so each must select tests of its own.
for filter in ring::tests mailbox:: message:: peers::tests sys::tests::test_append_bytes; do
    ttc_some_tests env CARGO_TARGET_DIR=target/miri MIRIFLAGS="-Zmiri-disable-isolation" \
        cargo +"$TTC_NIGHTLY" miri test --lib -- "$filter"
done

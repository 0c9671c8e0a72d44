#!/usr/bin/env bash
# Deploy, step 2 of 4: the static aarch64-unknown-linux-musl
# release build (checked static, started under QEMU with an empty sysroot),
# then its test build. The tests run on Debian's arm64 kernel under
# qemu-system in 80-arm-system-2-arm64.sh (the same test binaries on a
# real aarch64 kernel), not under qemu-aarch64 here: that run made this
# one redundant. Built here so that step stays within the stage timeout.
# The release build goes to target/deploy (TTC_DEPLOY_TARGET_DIR), apart
# from the other steps; the test build to target/, where the tests of the
# other targets are.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bash "$TTC_ROOT/targets/deploy/build-musl.sh"
cd "$TTC_ROOT"
cargo test --locked --no-run --target aarch64-unknown-linux-musl

#!/usr/bin/env bash
# Deploy, step 2 of 4: the static aarch64-unknown-linux-musl
# release build (checked static, started under QEMU with an empty sysroot).
# Its test suite runs on Debian's arm64 kernel under qemu-system in
# 80-arm-system.sh (the same test binaries on a real aarch64 kernel), not
# under qemu-aarch64 here: that run made this one redundant.
# Builds into target/deploy (TTC_DEPLOY_TARGET_DIR), apart from the other steps.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
exec bash "$TTC_ROOT/targets/deploy/build-musl.sh"

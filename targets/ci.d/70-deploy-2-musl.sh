#!/usr/bin/env bash
# Deploy, step 2 of 4: the static aarch64-unknown-linux-musl
# release build (checked static, started under QEMU with an empty sysroot),
# then the whole test suite for that target under qemu-aarch64.
# Builds into target/deploy (TTC_DEPLOY_TARGET_DIR), apart from the other steps.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
exec bash "$TTC_ROOT/targets/deploy/build-musl.sh" --test

#!/usr/bin/env bash
# Deploy (issue 7), step 2 of 4: the static aarch64-unknown-linux-musl
# release build (checked static, started under QEMU with an empty sysroot),
# then the whole test suite for that target under qemu-aarch64.
# Builds into target/deploy (TTC_DEPLOY_TARGET_DIR), apart from the other steps.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../deploy/build-musl.sh" --test

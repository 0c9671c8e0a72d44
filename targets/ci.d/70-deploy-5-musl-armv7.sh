#!/usr/bin/env bash
# Deploy: the static armv7-unknown-linux-musleabihf release
# build (std built from source on a pinned nightly, linked by zig against
# its musl; checked static, ARMv7-A with hard float and no NEON, started
# under QEMU with an empty sysroot), then the whole test suite for that
# target under qemu-arm. Builds into target/deploy (TTC_DEPLOY_TARGET_DIR).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../deploy/build-musl-armv7.sh" --test

#!/usr/bin/env bash
# The static aarch64 musl test suite and the device smoke check on
# Debian's arm64 kernel under qemu-system-aarch64 (targets/arm-system.sh;
# targets/README.md, "Real ARM kernels"). This replaces the musl suite's
# run under qemu-aarch64 (70-deploy-2-musl.sh only builds).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../arm-system.sh" arm64

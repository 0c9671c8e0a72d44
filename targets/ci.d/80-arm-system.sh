#!/usr/bin/env bash
# The test suite and the device smoke check on Debian's armhf and arm64
# kernels under qemu-system (targets/arm-system.sh; targets/README.md,
# "Real ARM kernels"). After the deploy steps, so the test builds and the
# static binaries are there to reuse; downloads are cached in
# ~/.cache/ttc-arm.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../arm-system.sh"

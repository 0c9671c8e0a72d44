#!/usr/bin/env bash
# The test suite and the device smoke check on Debian's armhf kernel
# under qemu-system-arm (targets/arm-system.sh; targets/README.md, "Real
# ARM kernels"). After the deploy steps, so the test build and the static
# armv7 binary are there to reuse; downloads are cached in
# ~/.cache/ttc-arm. One kernel per step: each stays within the stage
# timeout.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../arm-system.sh" armhf

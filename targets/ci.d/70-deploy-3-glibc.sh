#!/usr/bin/env bash
# Deploy, step 3 of 4: armv7 and aarch64 gnu release builds
# linked against glibc 2.28 (cargo-zigbuild + ziglang, installed once per
# machine), each checked to need no GLIBC symbol version above 2.28; and
# the check shown to refuse the Debian 12 cross build (GLIBC_2.34).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
exec bash "$TTC_ROOT/targets/deploy/build-glibc-compat.sh" --negative

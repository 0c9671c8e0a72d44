#!/usr/bin/env bash
# Deploy (issue 7), step 3 of 4: armv7 and aarch64 gnu release builds
# linked against glibc 2.28 (cargo-zigbuild + ziglang, installed once per
# machine), each checked to need no GLIBC symbol version above 2.28; and
# the check shown to refuse the Debian 12 cross build (GLIBC_2.34).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../deploy/build-glibc-compat.sh" --negative

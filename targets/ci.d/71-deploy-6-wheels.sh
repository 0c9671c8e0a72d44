#!/usr/bin/env bash
# Deploy, step 6: the Python wheels for x86_64, armv7 and aarch64 Linux,
# libttc.so linked against glibc 2.28 and checked to need no GLIBC symbol
# version above it; the x86_64 wheel installed into a fresh venv and the
# ARM ones by pip for their platform, the suite (python/tests) run
# against each: the ARM ones by Debian's armhf/arm64 python3.11 under
# QEMU user-mode (targets/deploy/build-wheels.sh).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../deploy/build-wheels.sh" --test

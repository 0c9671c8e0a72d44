#!/usr/bin/env bash
# Deploy (issue 7), step 4 of 4: the armhf and arm64 .debs (cargo-deb,
# installed once per machine) from the glibc-2.28 builds, checked with
# dpkg-deb --info/--contents and by unpacking the binary.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../deploy/build-deb.sh"

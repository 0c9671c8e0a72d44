#!/usr/bin/env bash
# Deploy, step 4 of 4: the armhf and arm64 .debs (cargo-deb,
# installed once per machine) from the glibc-2.28 builds, checked with
# dpkg-deb --info/--contents and by unpacking the binary.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
exec bash "$TTC_ROOT/targets/deploy/build-deb.sh"

#!/usr/bin/env bash
# Deploy, step 1 of 4: adb-run.sh and ssh-run.sh against fake
# adb/ssh/scp: dry-run plans, architecture and glibc refusals. ~10 s.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
exec bash "$TTC_ROOT/targets/deploy/test-scripts.sh"

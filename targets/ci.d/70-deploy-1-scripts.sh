#!/usr/bin/env bash
# Deploy (issue 7), step 1 of 4: adb-run.sh and ssh-run.sh against fake
# adb/ssh/scp: dry-run plans, architecture and glibc refusals. ~10 s.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../deploy/test-scripts.sh"

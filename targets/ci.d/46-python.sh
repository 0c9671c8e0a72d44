#!/usr/bin/env bash
# The Python module: python/ttc.py over the host's libttc.so,
# its pytest suite (python/tests) against `ttc serve` echo, sink and
# fortune on loopback. pytest's "no tests collected" (exit 5) fails too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=SCRIPTDIR/../lib.sh
source targets/lib.sh

ttc_run cargo build -q --locked -p ttc-ffi
ttc_run cargo build -q --locked --bin ttc
# The library just built, whatever else is in target/release.
export TTC_LIBRARY=$PWD/target/debug/libttc.so TTC_BIN=$PWD/target/debug/ttc
export PYTHONDONTWRITEBYTECODE=1
ttc_run python3 -m pytest -p no:cacheprovider -v python/tests

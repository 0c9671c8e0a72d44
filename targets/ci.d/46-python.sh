#!/usr/bin/env bash
# The Python package as a user gets it: the wheel (python/pyproject.toml,
# its in-tree backend) built for the host with a release libttc.so,
# installed with pip into a fresh venv (no Rust in it; pytest seen from
# the system's site-packages), and the suite (python/tests) run by that
# venv's python against the installed package, not the source tree
# (TTC_TEST_INSTALLED=1: the tests check where ttc came from), against
# `ttc serve` echo, sink and fortune, an in-process restarting server and
# `openssl s_server` on loopback. pytest's "no tests collected" (exit 5)
# fails too. The ARM wheels: targets/ci.d/71-deploy-6-wheels.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=SCRIPTDIR/../lib.sh
source targets/lib.sh

ttc_run cargo build -q --locked --release -p ttc-ffi
ttc_run cargo build -q --locked --bin ttc
wheels=$PWD/target/wheels/host
venv=$PWD/target/python-venv
rm -rf "$wheels" "$venv"
ttc_run env TTC_WHEEL_LIBRARY="$PWD/target/release/libttc.so" \
    python3 -m pip wheel -q --no-deps --no-index --disable-pip-version-check -w "$wheels" python/
ttc_run python3 -m venv --system-site-packages "$venv"
ttc_run "$venv/bin/python" -m pip install -q --no-index --no-deps --disable-pip-version-check "$wheels"/ttc-*.whl
export TTC_BIN=$PWD/target/debug/ttc TTC_TEST_INSTALLED=1 PYTHONDONTWRITEBYTECODE=1
unset TTC_LIBRARY
ttc_run "$venv/bin/python" -m pytest -p no:cacheprovider -v python/tests

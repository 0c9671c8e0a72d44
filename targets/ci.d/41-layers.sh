#!/usr/bin/env bash
# No cycle between the library's top-level modules: targets/layers.py
# reads what each module's code names under crate:: (comments left out)
# and fails with the cycle; otherwise it prints the layers, bottom first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
python3 targets/layers.py src

#!/usr/bin/env bash
# Generates ffi/include/ttc.h from ffi/src/lib.rs with cbindgen, at the
# version pinned here (targets/ci.d/ffi.setup installs it; another
# version may lay the header out differently).
#
#   bash ffi/gen-header.sh           # write ffi/include/ttc.h
#   bash ffi/gen-header.sh --check   # fail (and show the diff) if it is stale
set -euo pipefail
CBINDGEN_VERSION=0.29.4
ffi=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v cbindgen >/dev/null || {
    echo "gen-header: cbindgen not found: bash targets/setup.sh installs it" >&2
    exit 1
}
have=$(cbindgen --version)
if [ "$have" != "cbindgen $CBINDGEN_VERSION" ]; then
    echo "gen-header: $have found, the header is made with cbindgen $CBINDGEN_VERSION:" \
        "cargo install --locked cbindgen --version $CBINDGEN_VERSION" >&2
    exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cbindgen --quiet --config "$ffi/cbindgen.toml" --crate ttc-ffi --output "$out" "$ffi"
case ${1:-} in
    --check)
        if ! diff -u "$ffi/include/ttc.h" "$out"; then
            echo "gen-header: ffi/include/ttc.h is stale: run bash ffi/gen-header.sh and commit it" >&2
            exit 1
        fi
        echo "gen-header: ffi/include/ttc.h is up to date"
        ;;
    "") cp "$out" "$ffi/include/ttc.h" ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Builds the release `ttc` binary per target and prints a Markdown table of
# its stripped size and the newest glibc symbol version it needs.
#
#   bash targets/sizes.sh [--check] [TRIPLE...]
#
# Default triples: the host, armv7 and aarch64 (glibc), aarch64 musl.
# --check reports the armv7 binary against the 400 KB goal (400000 bytes,
# read strictly; reported, not enforced: see the README's "Release size"
# for why it is missed on stable Rust) and fails when it grows past
# TTC_ARMV7_MAX_BYTES (default 425000), a guard against size regressions.
set -euo pipefail
# shellcheck source=targets/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TTC_ROOT"

check=false
triples=()
for a in "$@"; do
    case $a in
        --check) check=true ;;
        -*) echo "usage: $0 [--check] [TRIPLE...]" >&2 && exit 2 ;;
        *) triples+=("$a") ;;
    esac
done
if [ ${#triples[@]} -eq 0 ]; then
    triples=("$(ttc_host_triple)" "${TTC_QEMU_TARGETS[@]}" "${TTC_MUSL_TARGETS[@]}")
fi
goal_armv7=400000
max_armv7=${TTC_ARMV7_MAX_BYTES:-425000}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rows=()
armv7_bytes=
for t in "${triples[@]}"; do
    # The artifact path comes from cargo itself, wherever the target dir is.
    exe=$(cargo build -q --release --target "$t" --bin ttc \
        --message-format=json-render-diagnostics |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
    if [ -z "$exe" ] || [ ! -f "$exe" ]; then
        echo "sizes: cargo reported no ttc binary for $t" >&2
        exit 1
    fi
    prefix=$(ttc_tool_prefix "$t")
    # The release profile strips already; strip a copy anyway so the figure
    # is the stripped size whatever the profile says.
    cp "$exe" "$tmp/ttc"
    "${prefix}strip" --strip-all "$tmp/ttc"
    bytes=$(stat -c %s "$tmp/ttc")
    glibc=$("${prefix}objdump" -T "$tmp/ttc" 2>/dev/null |
        grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1 || true)
    if [ -z "$glibc" ]; then
        if "${prefix}readelf" -l "$tmp/ttc" | grep -q 'INTERP'; then
            glibc="none (dynamic, no versioned glibc symbol)"
        else
            glibc="none (static)"
        fi
    else
        glibc=">= $glibc"
    fi
    rows+=("| \`$t\` | $bytes | $(((bytes + 512) / 1024)) KiB | $glibc |")
    [ "$t" = armv7-unknown-linux-gnueabihf ] && armv7_bytes=$bytes
done

echo "| target | stripped bytes | size | glibc needed |"
echo "|---|---:|---:|---|"
printf '%s\n' "${rows[@]}"

if $check; then
    if [ -z "$armv7_bytes" ]; then
        echo "sizes: --check needs armv7-unknown-linux-gnueabihf in the list" >&2
        exit 2
    fi
    if [ "$armv7_bytes" -gt "$goal_armv7" ]; then
        echo "sizes: goal MISSED: armv7 binary is $armv7_bytes bytes, $((armv7_bytes - goal_armv7)) over the $goal_armv7-byte goal"
    else
        echo "sizes: goal met: armv7 binary $armv7_bytes bytes, within the $goal_armv7-byte goal"
    fi
    if [ "$armv7_bytes" -gt "$max_armv7" ]; then
        echo "sizes: armv7 binary is $armv7_bytes bytes, over the $max_armv7-byte regression guard" >&2
        exit 1
    fi
    echo "sizes: armv7 binary within the $max_armv7-byte regression guard"
fi

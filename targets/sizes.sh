#!/usr/bin/env bash
# Builds the release `ttc` binary per target and prints a Markdown table of
# its stripped size and the newest glibc symbol version it needs.
#
#   bash targets/sizes.sh [--check] [TRIPLE...]
#
# Default triples: the host, armv7, thumbv7neon and aarch64 (glibc),
# aarch64 musl. --check checks the two 32-bit ARM builds and fails when
# either is off:
#   - thumbv7neon-unknown-linux-gnueabihf (Thumb-2, NEON: the small armv7
#     build for boards with NEON) must meet the 400 KB goal, 400000 bytes
#     read strictly: it fails above that.
#   - armv7-unknown-linux-gnueabihf (ARM mode, the baseline for armhf boards
#     without NEON) misses that goal on stable Rust (see the README's
#     "Release size"): its size against the goal is reported, not enforced,
#     and it fails when it grows past TTC_ARMV7_MAX_BYTES (default 430000),
#     a guard against size regressions.
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
goal=400000
goal_target=thumbv7neon-unknown-linux-gnueabihf
guard_target=armv7-unknown-linux-gnueabihf
max_armv7=${TTC_ARMV7_MAX_BYTES:-430000}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rows=()
goal_bytes=
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
    [ "$t" = "$goal_target" ] && goal_bytes=$bytes
    [ "$t" = "$guard_target" ] && armv7_bytes=$bytes
done

echo "| target | stripped bytes | size | glibc needed |"
echo "|---|---:|---:|---|"
printf '%s\n' "${rows[@]}"

if $check; then
    if [ -z "$goal_bytes" ] || [ -z "$armv7_bytes" ]; then
        echo "sizes: --check needs $goal_target and $guard_target in the list" >&2
        exit 2
    fi
    rc=0
    echo
    echo "sizes: 400 KB goal ($goal bytes, enforced) on $goal_target" \
        "(armv7 boards with NEON, Thumb-2 code):"
    if [ "$goal_bytes" -gt "$goal" ]; then
        echo "sizes:   FAILED: $goal_bytes bytes, $((goal_bytes - goal)) over the goal"
        rc=1
    else
        echo "sizes:   goal met: $goal_bytes bytes, $((goal - goal_bytes)) under the goal"
    fi
    echo "sizes: $guard_target (ARM mode, the baseline for armhf boards" \
        "without NEON): goal reported, not enforced; regression guard $max_armv7 bytes:"
    if [ "$armv7_bytes" -gt "$goal" ]; then
        echo "sizes:   goal missed: $armv7_bytes bytes, $((armv7_bytes - goal)) over the goal (reported)"
    else
        echo "sizes:   goal met: $armv7_bytes bytes, $((goal - armv7_bytes)) under the goal"
    fi
    if [ "$armv7_bytes" -gt "$max_armv7" ]; then
        echo "sizes:   FAILED: $armv7_bytes bytes, $((armv7_bytes - max_armv7)) over the $max_armv7-byte regression guard"
        rc=1
    else
        echo "sizes:   within the $max_armv7-byte regression guard"
    fi
    [ "$rc" -eq 0 ] || echo "sizes: --check failed (see FAILED above)" >&2
    exit "$rc"
fi

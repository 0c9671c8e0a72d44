#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target in fuzz/ and runs
# each for TTC_FUZZ_SECONDS (default 10) from the seeds in fuzz/seeds/,
# two at a time.
# New corpus entries and crash artifacts go to a temporary directory, not
# into the tree; a crash fails the step and its input is printed.
# Needs the pinned nightly (lib.sh; installed if missing) and cargo-fuzz (installed once,
# about a minute). The targets that connect isolate themselves in a network
# namespace of their own (fuzz/fuzz_targets/isolated.rs), so run as root.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TTC_ROOT"
seconds=${TTC_FUZZ_SECONDS:-10}

# shellcheck disable=SC2119 # no components: cargo-fuzz needs only the toolchain
ttc_nightly_ensure
ttc_cargo_tool_ensure cargo-fuzz cargo-fuzz

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd fuzz
targets=$(cargo +"$TTC_NIGHTLY" fuzz list)
cargo +"$TTC_NIGHTLY" fuzz build 2>&1 | tail -n 3
# One target: its log in $work/T.log; $work/T.failed when it failed.
fuzz_one() {
    local t=$1 seeds=()
    mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
    [ -d "seeds/$t" ] && seeds=("seeds/$t")
    if ! cargo +"$TTC_NIGHTLY" fuzz run "$t" "$work/corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 \
        -artifact_prefix="$work/artifacts/$t/" -print_final_stats=1 \
        >"$work/$t.log" 2>&1; then
        touch "$work/$t.failed"
    fi
}

# Two targets at a time: each libFuzzer run is one process on one core,
# and the machines have two.
running=()
for t in $targets; do
    fuzz_one "$t" &
    running+=("$!")
    if [ "${#running[@]}" -ge 2 ]; then
        wait "${running[0]}"
        running=("${running[@]:1}")
    fi
done
wait
failed=0
for t in $targets; do
    echo "--- fuzz $t for ${seconds}s"
    if [ -e "$work/$t.failed" ]; then
        tail -n 40 "$work/$t.log"
        for a in "$work/artifacts/$t"/*; do
            [ -f "$a" ] && { echo "crash input ($a):"; od -c "$a" | head -20; }
        done
        echo "fuzz target $t failed" >&2
        failed=1
        continue
    fi
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' "$work/$t.log" || true
done
[ "$failed" = 0 ] || exit 1
echo "fuzz: $(wc -w <<<"$targets") targets ran ${seconds}s each, two at a time, no crash"

#!/usr/bin/env bash
# The project's one test command (CI runs it through .ci/run):
#
#   bash targets/test.sh
#
# In order: setup (installs what is missing); cargo fmt --check; every
# shell script through shellcheck (ttc_shell_scripts in lib.sh); on the
# host clippy, docs and the whole test suite; for armv7, thumbv7neon (the
# small armv7 build) and aarch64 clippy and the whole test suite (unit,
# integration, doc, command-line) under QEMU user-mode; for both Android
# triples `build --lib` and clippy; the release sizes (the 400 KB goal on
# thumbv7neon, the regression guard on armv7); then every executable
# targets/ci.d/*.sh in lexical order (one that is not executable fails
# the run); then a summary.
#
# It stops at the first failing stage; TTC_KEEP_GOING=1 runs every stage
# and fails at the end instead (to see all failures in one run).
# TTC_STAGE_TIMEOUT (seconds, default 900; 0 for none) bounds each stage's
# command, so a hung test fails its stage instead of eating CI's time: in
# CI (CI set) or without a terminal it kills everything the stage started;
# on a terminal outside CI the stage stays in the foreground, so Ctrl-C
# reaches it, and the timeout kills only the stage's own command.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TTC_ROOT"

# Debug and test builds carry line tables only (a panic's backtrace still
# has files and lines, a debugger has no variables): on a 2-core machine
# about 15 % less time to compile and link each target's tests (33 s to
# 28 s for thumbv7neon, cold), and smaller binaries for QEMU to load. A
# value already in the environment wins.
export CARGO_PROFILE_DEV_DEBUG=${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}
export CARGO_PROFILE_TEST_DEBUG=${CARGO_PROFILE_TEST_DEBUG:-line-tables-only}

# Bounds every command ttc_run runs here (timeout kills the command's
# whole process group: cargo, test binaries, QEMU).
TTC_RUN_TIMEOUT=${TTC_STAGE_TIMEOUT:-900}
if [ -t 0 ] && [ -z "${CI:-}" ]; then
    TTC_RUN_FOREGROUND=1
fi
# Said once, so a log shows how its stages were bounded.
if [ "$TTC_RUN_TIMEOUT" -eq 0 ]; then
    echo "test.sh: no stage timeout (TTC_STAGE_TIMEOUT=0)"
elif [ "$TTC_RUN_FOREGROUND" = 1 ]; then
    echo "test.sh: each stage's command is bounded to ${TTC_RUN_TIMEOUT} s (terminal: in the foreground)"
else
    echo "test.sh: each stage is bounded to ${TTC_RUN_TIMEOUT} s, with everything it starts"
fi
keep_going=${TTC_KEEP_GOING:-0}
logs=$(mktemp -d)
names=()
results=()
failed=()
run_start=${EPOCHREALTIME/./}

# Time since $1 (microseconds since the epoch), as seconds with a decimal.
elapsed() {
    local ms=$(((${EPOCHREALTIME/./} - $1) / 1000))
    printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100))
}

summary() {
    local rc=$?
    ttc_banner "summary"
    local i
    for i in "${!names[@]}"; do
        printf '%-50s %s\n' "${names[$i]}" "${results[$i]}"
    done
    printf '%-50s %s\n' "total" "$(elapsed "$run_start")"
    if [ ${#failed[@]} -gt 0 ]; then
        echo "FAILED: $(printf '%s; ' "${failed[@]}")"
    elif [ "$rc" -ne 0 ]; then
        echo "FAILED: test.sh (exit $rc)"
    fi
    # Closing line: every cargo test result above, summed.
    echo "tests: $(ttc_count_tests "$logs"/*.log)"
    rm -rf "$logs"
}
trap summary EXIT

# stage NAME CMD...: a banner, then CMD; its output is shown and kept for
# the test count. CMD runs in a condition, so a shell function given as CMD
# must return its own failures (set -e does not apply inside it).
stage() {
    local name=$1
    shift
    ttc_banner "$name"
    local start=${EPOCHREALTIME/./} log rc=0 note=""
    log="$logs/$(printf '%02d' ${#names[@]}).log"
    "$@" 2>&1 | tee "$log" || rc=$?
    if grep -q '^test result:' "$log"; then
        note=" ($(ttc_count_tests "$log"))"
    fi
    names+=("$name")
    if [ "$rc" -eq 0 ]; then
        results+=("ok, $(elapsed "$start")$note")
        return 0
    fi
    results+=("FAILED (exit $rc), $(elapsed "$start")$note")
    failed+=("$name")
    [ "$keep_going" = 1 ] || exit "$rc"
}

# cargo test for a foreign target, run by the QEMU runner in
# .cargo/config.toml; fails if cargo did not run the doctests for it (cargo
# before 1.89 skipped them silently without -Zdoctest-xcompile).
test_foreign() {
    local t=$1 out rc=0
    out=$(mktemp)
    ttc_run cargo test --target "$t" 2>&1 | tee "$out" || rc=$?
    if [ "$rc" -eq 0 ] && ! grep -q '^ *Doc-tests ' "$out"; then
        echo "no doctests ran for $t" >&2
        rc=1
    fi
    rm -f "$out"
    return "$rc"
}

stage "setup" bash targets/setup.sh
# Nothing after this can work without what setup installs.
[ ${#failed[@]} -eq 0 ] || exit 1
stage "fmt" ttc_run cargo fmt --check
mapfile -t scripts < <(ttc_shell_scripts)
stage "shellcheck" ttc_run shellcheck -x "${scripts[@]}"

stage "host: clippy" ttc_run cargo clippy --all-targets -- -D warnings
# The proxy feature (off by default) must build clean too; its tests run
# in ci.d/56-proxy.sh.
stage "host: clippy (proxy)" \
    ttc_run cargo clippy --all-targets --features proxy -- -D warnings
stage "host: doc" ttc_run env RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps
stage "host: test" ttc_run cargo test

for t in "${TTC_QEMU_TARGETS[@]}"; do
    stage "$t: clippy" ttc_run cargo clippy --all-targets --target "$t" -- -D warnings
    stage "$t: test (QEMU)" test_foreign "$t"
done

for t in "${TTC_ANDROID_TARGETS[@]}"; do
    stage "$t: build --lib" ttc_run cargo build --lib --target "$t"
    stage "$t: clippy" ttc_run cargo clippy --all-targets --target "$t" -- -D warnings
done

stage "release sizes (thumbv7 goal, armv7 guard)" ttc_run bash targets/sizes.sh --check

shopt -s nullglob
for step in targets/ci.d/*.sh; do
    if [ -x "$step" ]; then
        stage "ci.d/$(basename "$step")" ttc_run "./$step"
    else
        # A step that silently does not run is a skipped test: fail.
        echo "ci.d/$(basename "$step"): not executable (chmod +x it)" >&2
        names+=("ci.d/$(basename "$step")")
        results+=("FAILED (not executable, not run)")
        failed+=("ci.d/$(basename "$step")")
        [ "$keep_going" = 1 ] || exit 1
    fi
done

[ ${#failed[@]} -eq 0 ]

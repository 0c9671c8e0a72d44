#!/usr/bin/env bash
# Puts ttc on an Android phone over adb and runs it from /data/local/tmp.
#
#   bash targets/deploy/adb-run.sh [OPTIONS] [-- TTC_ARGS...]
#
#   --dry-run        ask the device its architecture (read-only), then print
#                    each remaining command instead of running it
#   -s SERIAL        which device (as `adb -s`); default: the only one
#   --binary FILE    what to push; default: the static build for the
#                    phone's architecture, target/deploy/dist/
#                    ttc-aarch64-linux-musl (uname -m aarch64) or
#                    ttc-armv7-linux-musleabihf (armv7l, armv8l: a 32-bit
#                    userland)
#   --dest DIR       where on the device; default /data/local/tmp
#   --push-only      push and chmod, do not run
#
# Before pushing it runs `adb shell uname -m` and refuses (exit 3, nothing
# pushed) when the phone cannot run the binary: another CPU architecture,
# or a dynamically linked (glibc) build, which Android cannot start.
# Otherwise exits with ttc's own status.
#   e.g. bash targets/deploy/adb-run.sh -- demo
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
ttc_deploy_dirs

TTC_DRY_RUN=0 serial="" bin="" dest=/data/local/tmp push_only=0
args=()
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) TTC_DRY_RUN=1 ;;
        -s) serial=${2:?-s needs a serial}; shift ;;
        --binary) bin=${2:?--binary needs a file}; shift ;;
        --dest) dest=${2:?--dest needs a directory}; shift ;;
        --push-only) push_only=1 ;;
        -h | --help) ttc_header_help; exit 0 ;;
        --) shift; args=("$@"); break ;;
        *) ttc_die "unknown argument: $1 (try --help)" ;;
    esac
    shift
done

readonly TTC_DRY_RUN
[ -z "$bin" ] || [ -f "$bin" ] || ttc_die "$bin: no such file"
command -v adb >/dev/null || ttc_die "adb not found (Debian: apt-get install adb)"

adb_cmd=(adb)
[ -n "$serial" ] && adb_cmd+=(-s "$serial")

ttc_say "checking the device architecture: $(ttc_show_cmd "${adb_cmd[@]}" shell uname -m)"
uname_m=$("${adb_cmd[@]}" shell uname -m 2>/dev/null | tr -d '\r' | head -n1) || uname_m=""
[ -n "$uname_m" ] || ttc_die "no device answered 'adb shell uname -m' (connected, authorised? see 'adb devices')"
if [ -z "$bin" ]; then
    case $(ttc_machine_for_uname "$uname_m") in
        aarch64) bin="$TTC_DIST/ttc-aarch64-linux-musl" build=build-musl.sh ;;
        arm) bin="$TTC_DIST/ttc-armv7-linux-musleabihf" build=build-musl-armv7.sh ;;
        *) ttc_die "no ttc build for a phone that reports '$uname_m' (builds: aarch64, armv7)" ;;
    esac
    [ -f "$bin" ] || ttc_die "no $bin: build it with: bash targets/deploy/$build (or pass --binary FILE)"
fi
ttc_refuse_unless_runs "$bin" "$uname_m"
if ttc_elf_is_dynamic "$bin"; then
    printf '%s: refusing to push: %s is dynamically linked (glibc); Android has no glibc to start it. Push a static build: bash targets/deploy/build-musl.sh (aarch64) or build-musl-armv7.sh (armv7)\n' \
        "${0##*/}" "${bin##*/}" >&2
    exit "$TTC_EXIT_REFUSED"
fi
ttc_say "device: $uname_m; binary: ${bin##*/}, $(ttc_machine_name "$(ttc_elf_machine "$bin")"), static: ok"

remote="${dest%/}/ttc"
ttc_run "${adb_cmd[@]}" push "$bin" "$remote"
ttc_run "${adb_cmd[@]}" shell chmod 755 "$(ttc_sq "$remote")"
[ "$push_only" = 1 ] && exit 0
run_line=$(ttc_sq "$remote")
for a in ${args[@]+"${args[@]}"}; do run_line+=" $(ttc_sq "$a")"; done
# adb shell joins its arguments into one line for the device's shell:
# the words are quoted for it above.
ttc_run "${adb_cmd[@]}" shell "$run_line"

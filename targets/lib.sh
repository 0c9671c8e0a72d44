# shellcheck shell=bash
# The one shell library of the project, sourced (not run) by every script
# under targets/ (deploy/ and ci.d/ too):
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"        # from targets/
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"     # from deploy/, ci.d/
#
# It only defines things: no command runs and nothing changes directory.
# Functions are ttc_*, variables TTC_*. See targets/README.md for what
# each target is.

# The variables below are read by the scripts that source this file.
# shellcheck disable=SC2034

# --- where and what -----------------------------------------------------------

# The repository root.
TTC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Boards: built with Debian's cross gcc, tested under QEMU user-mode.
# thumbv7neon is the small armv7 build (Thumb-2 code, needs NEON); armv7
# (ARM-mode code, VFPv3-D16, no NEON needed) is the baseline for all armhf.
TTC_QEMU_TARGETS=(
    armv7-unknown-linux-gnueabihf thumbv7neon-unknown-linux-gnueabihf
    aarch64-unknown-linux-gnu
)
# Phones: no NDK here, so checked (build --lib, clippy) but not linked.
TTC_ANDROID_TARGETS=(armv7-linux-androideabi aarch64-linux-android)
# Static aarch64 build (runs on any aarch64 Linux, and from an Android shell).
TTC_MUSL_TARGETS=(aarch64-unknown-linux-musl)

# Oldest glibc the deploy builds promise to start on: Debian 10 (buster),
# Raspberry Pi OS buster, Ubuntu 18.10 and newer.
TTC_GLIBC_FLOOR=${TTC_GLIBC_FLOOR:-2.28}

# Tools installed once per machine by the deploy scripts, at these versions.
TTC_ZIGLANG_VERSION=0.17.1
TTC_CARGO_ZIGBUILD_VERSION=0.24.1
TTC_CARGO_DEB_VERSION=3.8.0

# The one nightly every nightly step uses (fuzz, ThreadSanitizer, Miri, the
# static armv7 build with -Zbuild-std): pinned, so what it builds does not
# change under the project. ttc_nightly_ensure picks the toolchain.
TTC_NIGHTLY_PIN=nightly-2026-05-20
TTC_NIGHTLY_COMMIT=e50aa6fba

# Exit status of the push-and-run scripts when the device cannot run the
# binary (nothing was pushed).
TTC_EXIT_REFUSED=3

# TTC_DRY_RUN=1 makes ttc_run print commands instead of running them (the
# deploy scripts' --dry-run); TTC_RUN_TIMEOUT (seconds, 0 for none) bounds
# each command ttc_run runs, with everything it started (its process
# group), or with TTC_RUN_FOREGROUND=1 only the command itself, which then
# stays in the terminal's foreground so Ctrl-C reaches it. A script sets
# them; the environment does not.
TTC_DRY_RUN=0
TTC_RUN_TIMEOUT=0
TTC_RUN_FOREGROUND=0

# The deploy scripts build into a target dir of their own, so they never
# race the test steps' builds: $TTC_DEPLOY_TARGET_DIR, default
# <repo>/target/deploy. Finished artifacts are copied to $TTC_DIST
# (<that dir>/dist) under names that say what they are.
ttc_deploy_dirs() {
    export CARGO_TARGET_DIR="${TTC_DEPLOY_TARGET_DIR:-$TTC_ROOT/target/deploy}"
    TTC_DIST="$CARGO_TARGET_DIR/dist"
}

# The host triple, e.g. x86_64-unknown-linux-gnu.
ttc_host_triple() {
    rustc -vV | sed -n 's/^host: //p'
}

# Prefix of the binutils that handle a target's binaries ("" for the host).
ttc_tool_prefix() {
    case $1 in
        armv7-unknown-linux-gnueabihf | thumbv7neon-unknown-linux-gnueabihf)
            echo arm-linux-gnueabihf- ;;
        aarch64-unknown-linux-*) echo aarch64-linux-gnu- ;;
        *) echo "" ;;
    esac
}

# The crate version, for artifact names.
ttc_version() {
    sed -n 's/^version = "\(.*\)"/\1/p' "$TTC_ROOT/Cargo.toml" | head -n1
}

# --- messages and commands ----------------------------------------------------

# A line on stderr, prefixed with the script's name.
ttc_say() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
# The same as an error, then exit 1.
ttc_die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }
# The last 20 lines of the log file $1 on stderr, then ttc_die with $2.
ttc_die_log() { tail -n 20 "$1" >&2; ttc_die "$2"; }

# A banner that stands out in a long CI log.
ttc_banner() {
    printf '\n=== %s ===\n' "$*"
}

# --help: the script's opening comment block, without the "# ".
ttc_header_help() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

# Quotes one word for a POSIX shell (also the device's: adb shell and ssh
# join their arguments into one command line that the device's shell reads;
# Android's mksh has no $'..', so plain single quotes). Words that need no
# quoting are left as they are.
ttc_sq() {
    if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
        printf '%s' "$1"
    else
        local s=${1//\'/\'\\\'\'}
        printf "'%s'" "$s"
    fi
}

# Prints a command as a shell would read it back.
ttc_show_cmd() {
    local out="" a
    for a in "$@"; do out+="$(ttc_sq "$a") "; done
    printf '%s\n' "${out% }"
}

# ttc_run CMD...: prints "$ CMD" on stderr, then runs CMD. When
# TTC_RUN_TIMEOUT is more than 0 (seconds), CMD runs under timeout(1), which
# kills it (cargo, test binaries, QEMU) when it overruns. When TTC_DRY_RUN
# is 1, prints "would run: CMD" on stdout instead and runs nothing.
ttc_run() {
    if [ "$TTC_DRY_RUN" = 1 ]; then
        printf 'would run: %s\n' "$(ttc_show_cmd "$@")"
        return 0
    fi
    printf '$ %s\n' "$(ttc_show_cmd "$@")" >&2
    if [ "$TTC_RUN_TIMEOUT" -gt 0 ] && [ "$TTC_RUN_FOREGROUND" = 1 ]; then
        timeout --foreground -k 10 "$TTC_RUN_TIMEOUT" "$@"
    elif [ "$TTC_RUN_TIMEOUT" -gt 0 ]; then
        timeout -k 10 "$TTC_RUN_TIMEOUT" "$@"
    else
        "$@"
    fi
}

# Every shell script of the project, relative to TTC_ROOT, one a line:
# the *.sh files (not those under build dirs), .ci/run and the
# targets/ci.d/*.setup hooks.
ttc_shell_scripts() {
    (cd "$TTC_ROOT" && find . \( -name target -o -name .git \) -prune -o -type f \
        \( -name '*.sh' -o -path ./.ci/run -o -path './targets/ci.d/*.setup' \) -print) |
        sed 's|^\./||' | LC_ALL=C sort
}

# Runs a command as root: directly when we are root, else through sudo.
ttc_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        ttc_say "need root (or sudo) to run: $*"
        return 1
    fi
}

# "N passed, N failed, N skipped" summed over the cargo test results in the
# files $@ (skipped: cargo's "ignored").
ttc_count_tests() {
    cat "$@" 2>/dev/null | awk '
        /^test result:/ { p += $4; f += $6; i += $8 }
        END { printf "%d passed, %d failed, %d skipped", p, f, i }'
}

# ttc_some_tests CMD...: runs a cargo test command and fails unless it
# passed at least one test: a filter that selects nothing (or a cfg that
# drops every test) passes silently otherwise. Needs pipefail.
ttc_some_tests() {
    local log n
    log=$(mktemp)
    "$@" 2>&1 | tee "$log" || { rm -f "$log"; return 1; }
    n=$(awk '/^test result: ok\./ { n += $4 } END { print n + 0 }' "$log")
    rm -f "$log"
    if [ "$n" -eq 0 ]; then
        echo "ran no test: $*" >&2
        return 1
    fi
}

# --- installing what is missing -----------------------------------------------
# Each ttc_*_ensure installs only what is missing, says what it installs,
# and is silent (and touches no network) when nothing is. Everything it
# installs is appended to TTC_INSTALLED.
TTC_INSTALLED=()

# The Debian packages of $@ that are not installed (none without dpkg: not
# a Debian system, so the commands are checked instead of the packages).
ttc_apt_missing() {
    command -v dpkg-query >/dev/null || return 0
    local p
    for p in "$@"; do
        [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || echo "$p"
    done
}

# Runs the apt-get command $2... with "update", its output in the file $1.
# A mirror caught mid-sync fails an index file ("File has unexpected size.
# Mirror sync in progress?") and apt exits 100 though it read the others;
# then this says which indexes were skipped and succeeds: a package that
# only a skipped index lists fails later, in apt's own words. Any other
# failure fails.
ttc_apt_update() {
    local log=$1 rc=0 failed
    shift
    "$@" -o Acquire::Retries=3 update >"$log" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] && return 0
    if grep -q '^E: Failed to fetch ' "$log" &&
        ! grep '^E: ' "$log" | grep -qv -e '^E: Failed to fetch ' -e '^E: Some index files failed to download'; then
        failed=$(sed -n 's/^E: Failed to fetch \([^ ]*\).*/\1/p' "$log" | paste -sd ' ' -)
        ttc_say "apt-get update: skipped index files the mirror served inconsistently: $failed"
        return 0
    fi
    return "$rc"
}

# apt-get install the packages of $@ that are missing (as root, or via
# sudo). Waits for the dpkg lock when other steps hold it; on failure shows
# the end of apt's output.
ttc_apt_ensure() {
    local missing log rc=0
    mapfile -t missing < <(ttc_apt_missing "$@")
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || {
        ttc_say "missing Debian packages and no apt-get: ${missing[*]}"
        return 1
    }
    ttc_say "apt-get install ${missing[*]}"
    log=$(mktemp)
    ttc_apt_update "$log" ttc_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -q -o DPkg::Lock::Timeout=600 &&
        ttc_as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get -y -q -o DPkg::Lock::Timeout=600 install "${missing[@]}" >>"$log" 2>&1 ||
        rc=$?
    if [ "$rc" -ne 0 ]; then
        tail -n 30 "$log" >&2
        ttc_say "apt-get failed"
    else
        TTC_INSTALLED+=("${missing[@]}")
    fi
    rm -f "$log"
    return "$rc"
}

# rustup toolchain install NAME (profile minimal).
ttc_rust_toolchain_ensure() {
    rustup toolchain list | awk -v n="$1" '$1 == n || index($1, n "-") == 1 { found = 1 } END { exit !found }' &&
        return 0
    ttc_say "rustup toolchain install $1"
    rustup -q toolchain install --profile minimal "$1" && TTC_INSTALLED+=("toolchain $1")
}

# ttc_nightly_ensure [COMPONENT...]: sets TTC_NIGHTLY to the pinned nightly's
# toolchain name: the machine's own `nightly` when it is that very build (no
# download), else $TTC_NIGHTLY_PIN, installed once. Then adds COMPONENTs.
ttc_nightly_ensure() {
    if rustup run nightly rustc -V 2>/dev/null | grep -q "($TTC_NIGHTLY_COMMIT "; then
        TTC_NIGHTLY=nightly
    else
        TTC_NIGHTLY=$TTC_NIGHTLY_PIN
        ttc_rust_toolchain_ensure "$TTC_NIGHTLY" || return
    fi
    [ $# -eq 0 ] || ttc_rust_component_ensure --toolchain "$TTC_NIGHTLY" "$@"
}

# ttc_rust_target_ensure [--toolchain NAME] TRIPLE...: rustup target add.
ttc_rust_target_ensure() {
    local tc=() have missing=() t
    [ "${1:-}" = --toolchain ] && { tc=(--toolchain "$2"); shift 2; }
    have=$(rustup target list --installed "${tc[@]}") || return
    for t in "$@"; do
        grep -qx "$t" <<<"$have" || missing+=("$t")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    ttc_say "rustup target add ${tc[*]:+${tc[*]} }${missing[*]}"
    rustup -q target add "${tc[@]}" "${missing[@]}" && TTC_INSTALLED+=("${missing[@]}")
}

# ttc_rust_component_ensure [--toolchain NAME] COMPONENT...: rustup component add.
ttc_rust_component_ensure() {
    local tc=() have missing=() c
    [ "${1:-}" = --toolchain ] && { tc=(--toolchain "$2"); shift 2; }
    have=$(rustup component list --installed "${tc[@]}") || return
    for c in "$@"; do
        # Installed components carry the host triple: clippy-x86_64-....
        grep -qE "^$c(-|\$)" <<<"$have" || missing+=("$c")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    ttc_say "rustup component add ${tc[*]:+${tc[*]} }${missing[*]}"
    rustup -q component add "${tc[@]}" "${missing[@]}" && TTC_INSTALLED+=("${missing[@]}")
}

# ttc_cargo_tool_ensure BINARY CRATE [VERSION]: cargo install CRATE (at
# VERSION if given) unless BINARY is on PATH.
ttc_cargo_tool_ensure() {
    local bin=$1 crate=$2 version=${3:-} pin=()
    command -v "$bin" >/dev/null 2>&1 && return 0
    [ -n "$version" ] && pin=(--version "$version")
    ttc_say "cargo install $crate${version:+@$version} (once per machine, a minute or more)"
    # Without CARGO_TARGET_DIR cargo install builds in a temporary dir of
    # its own: never in the project's.
    env -u CARGO_TARGET_DIR cargo install --locked --quiet "$crate" "${pin[@]}" &&
        TTC_INSTALLED+=("$crate")
}

# zig for cargo-zigbuild, from PyPI's ziglang wheel.
ttc_zig_ensure() {
    if command -v zig >/dev/null 2>&1 || python3 -m ziglang version >/dev/null 2>&1; then
        return 0
    fi
    ttc_say "pip install ziglang==$TTC_ZIGLANG_VERSION"
    python3 -m pip install --quiet --disable-pip-version-check "ziglang==$TTC_ZIGLANG_VERSION" &&
        TTC_INSTALLED+=(ziglang)
}

# --- ELF binaries and devices -------------------------------------------------

# The ELF machine of FILE: aarch64, arm, x86_64, ... or "not-elf".
# Read from the header bytes, so no binutils are needed on the deploying host.
ttc_elf_machine() {
    local f=$1 magic m
    magic=$(od -An -N4 -tx1 "$f" 2>/dev/null | tr -d ' \n')
    [ "$magic" = 7f454c46 ] || { echo not-elf; return; }
    # e_machine: 2 bytes at offset 18, little-endian on every target here.
    m=$(od -An -j18 -N2 -tu2 "$f" | tr -d ' \n')
    case $m in
        183) echo aarch64 ;;
        40) echo arm ;;
        62) echo x86_64 ;;
        3) echo i386 ;;
        *) echo "elf-machine-$m" ;;
    esac
}

# Whether FILE asks for a program interpreter (is dynamically linked).
ttc_elf_is_dynamic() {
    LC_ALL=C readelf -lW "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
}

# ttc_check_static BINARY MACHINE: dies unless BINARY is an ELF for
# MACHINE (as ttc_elf_machine names it) that is static: no program
# interpreter, no NEEDED libraries.
ttc_check_static() {
    local bin=$1 machine=$2
    [ "$(ttc_elf_machine "$bin")" = "$machine" ] || ttc_die "$bin is not an $machine ELF"
    if ttc_elf_is_dynamic "$bin"; then
        ttc_die "$bin asks for a program interpreter: not static"
    fi
    if LC_ALL=C readelf -dW "$bin" 2>/dev/null | grep -q '(NEEDED)'; then
        ttc_die "$bin needs shared libraries: $(readelf -dW "$bin" | grep NEEDED | tr -s ' ' | tr '\n' ';')"
    fi
}

# The newest GLIBC_x.y a dynamic binary needs ("" if static or unreadable).
# readelf reads the ELF of any architecture.
ttc_glibc_needed() {
    command -v readelf >/dev/null || return 0
    { LC_ALL=C readelf -V -W "$1" 2>/dev/null || true; } |
        { grep -oE 'Name: GLIBC_[0-9]+(\.[0-9]+)+' || true; } |
        sed 's/Name: GLIBC_//' | sort -uV | tail -n1
}

# The QEMU user-mode command (words on one line) that runs Linux binaries
# of an ELF machine here, with Debian's cross sysroot for its glibc.
ttc_qemu_runner() {
    case $1 in
        aarch64) echo "qemu-aarch64 -L /usr/aarch64-linux-gnu" ;;
        arm) echo "qemu-arm -L /usr/arm-linux-gnueabihf" ;;
        *) ttc_say "no QEMU runner for $1 binaries"; return 1 ;;
    esac
}

# Which ELF machine runs on a device whose `uname -m` is $1.
ttc_machine_for_uname() {
    case $1 in
        aarch64 | arm64 | aarch64_be | armv8*b) echo aarch64 ;;
        armv7* | armv8l) echo arm ;;
        armv6* | armv5*) echo arm-pre-v7 ;;
        x86_64 | amd64) echo x86_64 ;;
        i?86) echo i386 ;;
        *) echo "unknown-$1" ;;
    esac
}

# Human name of an ELF machine.
ttc_machine_name() {
    case $1 in
        aarch64) echo "aarch64 (64-bit ARM)" ;;
        arm) echo "arm (32-bit ARMv7)" ;;
        arm-pre-v7) echo "ARMv6 or older (32-bit, pre-v7)" ;;
        x86_64) echo "x86_64" ;;
        i386) echo "x86 (32-bit)" ;;
        *) echo "$1" ;;
    esac
}

# ttc_refuse_unless_runs BINARY UNAME_M [ALLOW_ARM32_ON_AARCH64]
# Exits with TTC_EXIT_REFUSED and a message naming both sides when the
# device (by its `uname -m`) cannot run the binary.
ttc_refuse_unless_runs() {
    local bin=$1 uname_m=$2 allow32=${3:-0} need have
    need=$(ttc_elf_machine "$bin")
    have=$(ttc_machine_for_uname "$uname_m")
    [ "$need" = "$have" ] && return 0
    if [ "$need" = arm ] && [ "$have" = aarch64 ] && [ "$allow32" = 1 ]; then
        ttc_say "device reports aarch64; running the 32-bit ARM binary as asked (--allow-arm32-on-aarch64)"
        return 0
    fi
    local hint=""
    case $need:$have in
        arm:aarch64) hint=" Use the aarch64 build, or pass --allow-arm32-on-aarch64 if the device runs a 32-bit userland on a 64-bit kernel (uname -m says aarch64 there too)." ;;
        aarch64:arm) hint=" The device runs a 32-bit ARM userland: use the armv7 build." ;;
        arm:arm-pre-v7) hint=" ARMv7 binaries do not run on ARMv6 CPUs (Raspberry Pi 1 and Zero)." ;;
        not-elf:*) hint=" It is not an ELF binary at all." ;;
    esac
    printf '%s: refusing to push: the device reports "%s", %s, but %s is built for %s.%s\n' \
        "${0##*/}" "$uname_m" "$(ttc_machine_name "$have")" "${bin##*/}" "$(ttc_machine_name "$need")" "$hint" >&2
    exit "$TTC_EXIT_REFUSED"
}

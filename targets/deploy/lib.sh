# Shared helpers for the targets/deploy scripts. Sourced, not run.
# shellcheck shell=bash disable=SC2034 # the variables are for the scripts
#
# Every script builds into its own target dir so it never races the test
# steps' builds: $TTC_DEPLOY_TARGET_DIR, default <repo>/target/deploy.
# Finished artifacts are copied to $DIST (<target dir>/dist) under names
# that say what they are.

TTC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR="${TTC_DEPLOY_TARGET_DIR:-$TTC_ROOT/target/deploy}"
DIST="$CARGO_TARGET_DIR/dist"

# Oldest glibc the gnu builds promise to start on: Debian 10 (buster),
# Raspberry Pi OS buster, Ubuntu 18.10 and newer.
GLIBC_FLOOR="${TTC_GLIBC_FLOOR:-2.28}"

say() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# The crate version, for artifact names.
ttc_version() {
    sed -n 's/^version = "\(.*\)"/\1/p' "$TTC_ROOT/Cargo.toml" | head -n1
}

# apt-get install only what is missing (idempotent, quiet when nothing is).
apt_ensure() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "apt-get install ${missing[*]}"
    # Other steps may hold the dpkg lock: wait for it rather than fail.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
}

rust_target_ensure() {
    local t
    for t in "$@"; do
        rustup target list --installed | grep -qx "$t" || rustup target add "$t"
    done
}

# cargo install NAME at VERSION unless `cargo NAME` / the binary already runs.
cargo_tool_ensure() {
    local bin=$1 crate=$2 version=$3
    if command -v "$bin" >/dev/null 2>&1; then return 0; fi
    say "cargo install $crate@$version (once per machine, about a minute)"
    # Its own target dir: never the project's.
    CARGO_TARGET_DIR="$(mktemp -d)" cargo install --locked --quiet "$crate" --version "$version"
}

# zig for cargo-zigbuild, from PyPI's ziglang wheel.
zig_ensure() {
    if command -v zig >/dev/null 2>&1 || python3 -m ziglang version >/dev/null 2>&1; then
        return 0
    fi
    say "pip install ziglang==$ZIGLANG_VERSION"
    python3 -m pip install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION"
}
ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.1
CARGO_DEB_VERSION=3.8.0

# The ELF machine of FILE: aarch64, arm, x86_64, ... or "not-elf".
# Read from the header bytes, so no binutils are needed on the deploying host.
elf_machine() {
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
elf_is_dynamic() {
    LC_ALL=C readelf -lW "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
}

# Which ELF machine runs on a device whose `uname -m` is $1.
machine_for_uname() {
    case $1 in
        aarch64 | arm64 | aarch64_be | armv8*b) echo aarch64 ;;
        armv7* | armv8l) echo arm ;;
        armv6* | armv5*) echo arm-pre-v7 ;;
        x86_64 | amd64) echo x86_64 ;;
        i?86) echo i386 ;;
        *) echo "unknown-$1" ;;
    esac
}

# Prints a command as a shell would read it back.
show_cmd() {
    local out="" a
    for a in "$@"; do out+="$(sq "$a") "; done
    printf '%s\n' "${out% }"
}

# Quotes one word for a POSIX shell on the device (adb shell and ssh join
# their arguments into one command line that the device's shell reads;
# Android's mksh has no $'..', so plain single quotes).
# Words that need no quoting are left as they are.
sq() {
    if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
        printf '%s' "$1"
    else
        local s=${1//\'/\'\\\'\'}
        printf "'%s'" "$s"
    fi
}

# Human name of an ELF machine.
machine_name() {
    case $1 in
        aarch64) echo "aarch64 (64-bit ARM)" ;;
        arm) echo "arm (32-bit ARMv7)" ;;
        arm-pre-v7) echo "ARMv6 or older (32-bit, pre-v7)" ;;
        x86_64) echo "x86_64" ;;
        i386) echo "x86 (32-bit)" ;;
        *) echo "$1" ;;
    esac
}

# Refusal exit status of the push-and-run scripts: the binary cannot run
# on the device, so nothing was pushed.
EXIT_REFUSED=3

# refuse_unless_runs BINARY UNAME_M [ALLOW_ARM32_ON_AARCH64]
# Dies with EXIT_REFUSED and a message naming both sides when the device
# (by its `uname -m`) cannot run the binary.
refuse_unless_runs() {
    local bin=$1 uname_m=$2 allow32=${3:-0} need have
    need=$(elf_machine "$bin")
    have=$(machine_for_uname "$uname_m")
    [ "$need" = "$have" ] && return 0
    if [ "$need" = arm ] && [ "$have" = aarch64 ] && [ "$allow32" = 1 ]; then
        say "device reports aarch64; running the 32-bit ARM binary as asked (--allow-arm32-on-aarch64)"
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
        "${0##*/}" "$uname_m" "$(machine_name "$have")" "${bin##*/}" "$(machine_name "$need")" "$hint" >&2
    exit "$EXIT_REFUSED"
}

# The newest GLIBC_x.y a dynamic binary needs ("" if static or unreadable).
glibc_needed() {
    command -v readelf >/dev/null || return 0
    LC_ALL=C readelf -V -W "$1" 2>/dev/null | grep -oE 'Name: GLIBC_[0-9]+(\.[0-9]+)+' |
        sed 's/Name: GLIBC_//' | sort -uV | tail -n1
}

# Prints "+ CMD" and runs it, or "would run: CMD" under --dry-run.
act() {
    if [ "${DRY_RUN:-0}" = 1 ]; then
        printf 'would run: %s\n' "$(show_cmd "$@")"
    else
        printf '+ %s\n' "$(show_cmd "$@")" >&2
        "$@"
    fi
}

# --help: the script's opening comment block, without the "# ".
header_help() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

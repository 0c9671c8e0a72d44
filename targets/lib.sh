# shellcheck shell=bash disable=SC2034
# Shared by targets/*.sh (sourced, not run): the target list and small
# helpers. See targets/README.md for what each target is.

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

TTC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The host triple, e.g. x86_64-unknown-linux-gnu.
ttc_host_triple() {
    rustc -vV | sed -n 's/^host: //p'
}

# Prefix of the binutils that read a target's binaries ("" for the host).
ttc_tool_prefix() {
    case $1 in
        armv7-unknown-linux-gnueabihf | thumbv7neon-unknown-linux-gnueabihf)
            echo arm-linux-gnueabihf- ;;
        aarch64-unknown-linux-*) echo aarch64-linux-gnu- ;;
        *) echo "" ;;
    esac
}

# A banner that stands out in a long CI log.
ttc_banner() {
    printf '\n=== %s ===\n' "$*"
}

# Prints a command, then runs it.
ttc_run() {
    printf '$ %s\n' "$*"
    "$@"
}

# Runs a command as root: directly when we are root, else through sudo.
ttc_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "need root (or sudo) to run: $*" >&2
        return 1
    fi
}

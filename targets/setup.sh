#!/usr/bin/env bash
# Installs what building and testing ttc needs on a Debian 12 machine with
# only the stock Rust toolchain (rustup), and only what is missing: running
# it again installs nothing and runs no `apt-get update`.
#
#   bash targets/setup.sh
#
# To need more: add to the arrays below, or drop files into targets/ci.d/:
#   NAME.apt    extra Debian packages, one per line (# starts a comment)
#   NAME.setup  a bash script run after the base install; it must itself
#               be idempotent and quiet when there is nothing to do
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Keep apt Recommends on (gcc-*-cross recommends its libc6-dev sysroot);
# the sysroots are also named here so an apt set to skip Recommends still
# gets them.
APT_PACKAGES=(
    gcc libc6-dev                                 # host linker (build scripts, host tests)
    gcc-arm-linux-gnueabihf libc6-dev-armhf-cross # armv7/thumbv7neon linker + glibc
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross   # aarch64 linker + glibc
    qemu-user                                     # qemu-arm, qemu-aarch64
    iproute2 nftables                             # network-namespace tests
    shellcheck                                    # lints every script in the test command
)
RUST_TARGETS=(
    "${TTC_QEMU_TARGETS[@]}" "${TTC_ANDROID_TARGETS[@]}" "${TTC_MUSL_TARGETS[@]}"
)
RUST_COMPONENTS=(clippy rustfmt)
# Commands the packages above must provide.
REQUIRED_COMMANDS=(
    cc arm-linux-gnueabihf-gcc aarch64-linux-gnu-gcc qemu-arm qemu-aarch64 ip nft
    shellcheck
)

ci_d=$TTC_ROOT/targets/ci.d
shopt -s nullglob
for list in "$ci_d"/*.apt; do
    while read -r pkg _; do
        [ -n "$pkg" ] && APT_PACKAGES+=("$pkg")
    done < <(sed 's/#.*//' "$list")
done

ttc_apt_ensure "${APT_PACKAGES[@]}" || exit 1
command -v rustup >/dev/null ||
    ttc_die "rustup not found; install Rust with rustup (https://rustup.rs)"
ttc_rust_target_ensure "${RUST_TARGETS[@]}"
ttc_rust_component_ensure "${RUST_COMPONENTS[@]}"

missing_commands=()
for c in "${REQUIRED_COMMANDS[@]}"; do
    PATH="$PATH:/usr/sbin:/sbin" command -v "$c" >/dev/null || missing_commands+=("$c")
done
[ ${#missing_commands[@]} -eq 0 ] ||
    ttc_die "still missing after install: ${missing_commands[*]}"

for hook in "$ci_d"/*.setup; do
    ttc_say "${hook##*/}"
    bash "$hook"
done

if [ ${#TTC_INSTALLED[@]} -eq 0 ]; then
    ttc_say "nothing to install (${#APT_PACKAGES[@]} packages," \
        "${#RUST_TARGETS[@]} Rust targets, ${#RUST_COMPONENTS[@]} components present)"
fi

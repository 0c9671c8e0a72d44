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
# shellcheck source=targets/lib.sh
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

installed_pkg() {
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]
}

missing_pkgs=()
if command -v dpkg-query >/dev/null; then
    for p in "${APT_PACKAGES[@]}"; do
        installed_pkg "$p" || missing_pkgs+=("$p")
    done
fi

if [ ${#missing_pkgs[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null; then
        echo "setup: missing Debian packages and no apt-get: ${missing_pkgs[*]}" >&2
        exit 1
    fi
    echo "setup: apt-get install ${missing_pkgs[*]}"
    log=$(mktemp)
    apt_opts=(-y -q -o DPkg::Lock::Timeout=300)
    if ! ttc_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1 ||
        ! ttc_as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install "${apt_opts[@]}" "${missing_pkgs[@]}" >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        rm -f "$log"
        echo "setup: apt-get failed" >&2
        exit 1
    fi
    rm -f "$log"
fi

if ! command -v rustup >/dev/null; then
    echo "setup: rustup not found; install Rust with rustup (https://rustup.rs)" >&2
    exit 1
fi

have_targets=$(rustup target list --installed)
missing_targets=()
for t in "${RUST_TARGETS[@]}"; do
    grep -qx "$t" <<<"$have_targets" || missing_targets+=("$t")
done
if [ ${#missing_targets[@]} -gt 0 ]; then
    echo "setup: rustup target add ${missing_targets[*]}"
    rustup -q target add "${missing_targets[@]}"
fi

have_components=$(rustup component list --installed)
missing_components=()
for c in "${RUST_COMPONENTS[@]}"; do
    grep -qE "^$c(-|\$)" <<<"$have_components" || missing_components+=("$c")
done
if [ ${#missing_components[@]} -gt 0 ]; then
    echo "setup: rustup component add ${missing_components[*]}"
    rustup -q component add "${missing_components[@]}"
fi

missing_commands=()
for c in "${REQUIRED_COMMANDS[@]}"; do
    PATH="$PATH:/usr/sbin:/sbin" command -v "$c" >/dev/null || missing_commands+=("$c")
done
if [ ${#missing_commands[@]} -gt 0 ]; then
    echo "setup: still missing after install: ${missing_commands[*]}" >&2
    exit 1
fi

for hook in "$ci_d"/*.setup; do
    echo "setup: $(basename "$hook")"
    bash "$hook"
done

if [ ${#missing_pkgs[@]} -eq 0 ] && [ ${#missing_targets[@]} -eq 0 ] &&
    [ ${#missing_components[@]} -eq 0 ]; then
    echo "setup: nothing to install (${#APT_PACKAGES[@]} packages," \
        "${#RUST_TARGETS[@]} Rust targets, ${#RUST_COMPONENTS[@]} components present)"
fi

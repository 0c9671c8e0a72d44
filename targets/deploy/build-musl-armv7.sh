#!/usr/bin/env bash
# Static armv7 build: armv7-unknown-linux-musleabihf (ARMv7-A, ARM mode,
# hard float, VFPv3-D16: runs on every armhf CPU, NEON or not). For 32-bit
# phones (adb-run.sh picks it when `uname -m` says armv7l or armv8l) and
# armv7 boards without a usable glibc (ssh-run.sh picks it there).
#
#   bash targets/deploy/build-musl-armv7.sh          # build + check it is static and starts
#   bash targets/deploy/build-musl-armv7.sh --test   # also the whole test suite under qemu-arm
#
# rustup serves no std for this target, so std is built from source
# (-Zbuild-std) on the pinned nightly (lib.sh: ttc_nightly_ensure), and
# zig links it against zig's own musl (cargo-zigbuild). rustc's musl
# targets normally bring their own crt objects and libc.a ("self-contained"
# linking); built from source they have none, so that is turned off and
# zig supplies them.
#
# Artifact: $TTC_DIST/ttc-armv7-linux-musleabihf (target/deploy/dist).
# Installs once per machine: that nightly with rust-src (rustup), ziglang
# (PyPI), cargo-zigbuild (crates.io).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
ttc_deploy_dirs

TARGET=armv7-unknown-linux-musleabihf
run_tests=0
for a in "$@"; do
    case $a in
        --test) run_tests=1 ;;
        -h | --help) ttc_header_help; exit 0 ;;
        *) ttc_die "unknown argument: $a (try --help)" ;;
    esac
done

ttc_apt_ensure qemu-user binutils binutils-arm-linux-gnueabihf file
# The pinned nightly (lib.sh), so the std it builds does not change under it.
ttc_nightly_ensure rust-src
ttc_zig_ensure
ttc_cargo_tool_ensure cargo-zigbuild cargo-zigbuild "$TTC_CARGO_ZIGBUILD_VERSION"
cd "$TTC_ROOT"

# cargo-zigbuild runs cargo from the toolchain RUSTUP_TOOLCHAIN names and
# sets the linker to its zig wrapper. "linker_messages": rustc passes its
# own (absent) self-contained directory to the linker, which warns.
export RUSTUP_TOOLCHAIN=$TTC_NIGHTLY
flags="-C link-self-contained=no -A linker_messages"
export RUSTFLAGS="$flags" RUSTDOCFLAGS="$flags"

cargo-zigbuild zigbuild -Zbuild-std=std,panic_abort --release --locked --target "$TARGET" --bin ttc
bin="$CARGO_TARGET_DIR/$TARGET/release/ttc"

# Static means: no program interpreter, no NEEDED libraries.
ttc_check_static "$bin" arm
# ARMv7-A code that passes floats in VFP registers (armhf's ABI), without
# NEON or VFP registers beyond D16.
attrs=$(LC_ALL=C arm-linux-gnueabihf-readelf -A "$bin")
for want in 'Tag_CPU_arch: v7' 'Tag_CPU_arch_profile: Application' \
    'Tag_FP_arch: VFPv3-D16' 'Tag_ABI_VFP_args: VFP registers'; do
    grep -q "$want" <<<"$attrs" || ttc_die "$bin: no '$want' in its ARM attributes"
done
if grep -q 'Tag_Advanced_SIMD_arch' <<<"$attrs"; then
    ttc_die "$bin uses NEON: armhf boards without it could not run it"
fi
ttc_say "static: $(file -b "$bin" | cut -d, -f1-4); ARMv7-A, VFPv3-D16, hard float"

# It starts with nothing to load: QEMU with an empty sysroot, no
# QEMU_LD_PREFIX, on the smallest core it is for.
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
ver=$(env -u QEMU_LD_PREFIX QEMU_CPU=cortex-a7 qemu-arm -L "$empty" "$bin" --version) ||
    ttc_die "$bin --version failed under qemu-arm with an empty sysroot"
ttc_say "starts under qemu-arm with an empty sysroot: $ver"

mkdir -p "$TTC_DIST"
cp "$bin" "$TTC_DIST/ttc-armv7-linux-musleabihf"
ttc_say "artifact: $TTC_DIST/ttc-armv7-linux-musleabihf ($(stat -c %s "$bin") bytes)"

if [ "$run_tests" = 1 ]; then
    # The whole suite (unit, integration, command-line, doc) for this
    # target, run by the qemu-arm runner in .cargo/config.toml (which sets
    # QEMU_LD_PREFIX, so the tests start the built binary through QEMU
    # too). The test profile unwinds: std is built with panic_unwind here.
    cargo-zigbuild test -Zbuild-std --locked --target "$TARGET"
fi

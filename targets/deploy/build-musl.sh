#!/usr/bin/env bash
# Static aarch64 build: aarch64-unknown-linux-musl. Runs on any aarch64
# Linux and, being static, from an Android shell (adb push to
# /data/local/tmp) without the NDK.
#
#   bash targets/deploy/build-musl.sh          # build + check it is static
#   bash targets/deploy/build-musl.sh --test   # also the test suite under qemu-aarch64
#
# Artifact: $TTC_DIST/ttc-aarch64-linux-musl (TTC_DIST = target/deploy/dist).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
ttc_deploy_dirs

TARGET=aarch64-unknown-linux-musl
run_tests=0
for a in "$@"; do
    case $a in
        --test) run_tests=1 ;;
        -h | --help) ttc_header_help; exit 0 ;;
        *) ttc_die "unknown argument: $a (try --help)" ;;
    esac
done

# The linker driver (rustc's musl target brings its own libc and crt
# objects) and the QEMU runner from .cargo/config.toml.
ttc_apt_ensure gcc-aarch64-linux-gnu qemu-user binutils file
ttc_rust_target_ensure "$TARGET"
cd "$TTC_ROOT"

cargo build --release --locked --target "$TARGET" --bin ttc
bin="$CARGO_TARGET_DIR/$TARGET/release/ttc"

# Static means: no program interpreter, no NEEDED libraries.
ttc_check_static "$bin" aarch64
ttc_say "static: $(file -b "$bin" | cut -d, -f1-4)"

# It starts with nothing to load: QEMU with an empty sysroot, no
# QEMU_LD_PREFIX. --help is the one thing every version of the CLI does.
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
env -u QEMU_LD_PREFIX qemu-aarch64 -L "$empty" "$bin" --help >/dev/null ||
    ttc_die "$bin --help failed under qemu-aarch64 with an empty sysroot"
ttc_say "starts under qemu-aarch64 with an empty sysroot"

mkdir -p "$TTC_DIST"
cp "$bin" "$TTC_DIST/ttc-aarch64-linux-musl"
ttc_say "artifact: $TTC_DIST/ttc-aarch64-linux-musl ($(stat -c %s "$bin") bytes)"

if [ "$run_tests" = 1 ]; then
    # The runner from .cargo/config.toml (qemu-aarch64, with
    # QEMU_LD_PREFIX set so tests start the built binary through QEMU too).
    cargo test --locked --target "$TARGET"
fi

#!/usr/bin/env bash
# Static aarch64 build: aarch64-unknown-linux-musl. Runs on any aarch64
# Linux and, being static, from an Android shell (adb push to
# /data/local/tmp) without the NDK.
#
#   bash targets/deploy/build-musl.sh          # build + check it is static
#   bash targets/deploy/build-musl.sh --test   # also the test suite under qemu-aarch64
#
# Artifact: $DIST/ttc-aarch64-linux-musl (DIST = target/deploy/dist).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET=aarch64-unknown-linux-musl
run_tests=0
for a in "$@"; do
    case $a in
        --test) run_tests=1 ;;
        -h | --help) header_help; exit 0 ;;
        *) die "unknown argument: $a (try --help)" ;;
    esac
done

# The linker driver (rustc's musl target brings its own libc and crt
# objects) and the QEMU runner from .cargo/config.toml.
apt_ensure gcc-aarch64-linux-gnu qemu-user binutils file
rust_target_ensure "$TARGET"
cd "$TTC_ROOT"

cargo build --release --locked --target "$TARGET" --bin ttc
bin="$CARGO_TARGET_DIR/$TARGET/release/ttc"

# Static means: no program interpreter, no NEEDED libraries.
[ "$(elf_machine "$bin")" = aarch64 ] || die "$bin is not an aarch64 ELF"
if elf_is_dynamic "$bin"; then
    die "$bin asks for a program interpreter: not static"
fi
if LC_ALL=C readelf -dW "$bin" 2>/dev/null | grep -q '(NEEDED)'; then
    die "$bin needs shared libraries: $(readelf -dW "$bin" | grep NEEDED | tr -s ' ' | tr '\n' ';')"
fi
say "static: $(file -b "$bin" | cut -d, -f1-4)"

# It starts with nothing to load: QEMU with an empty sysroot, no
# QEMU_LD_PREFIX. --help is the one thing every version of the CLI does.
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
env -u QEMU_LD_PREFIX qemu-aarch64 -L "$empty" "$bin" --help >/dev/null ||
    die "$bin --help failed under qemu-aarch64 with an empty sysroot"
say "starts under qemu-aarch64 with an empty sysroot"

mkdir -p "$DIST"
cp "$bin" "$DIST/ttc-aarch64-linux-musl"
say "artifact: $DIST/ttc-aarch64-linux-musl ($(stat -c %s "$bin") bytes)"

if [ "$run_tests" = 1 ]; then
    # The runner from .cargo/config.toml (qemu-aarch64, with
    # QEMU_LD_PREFIX set so tests start the built binary through QEMU too).
    cargo test --locked --target "$TARGET"
fi

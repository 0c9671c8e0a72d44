#!/usr/bin/env bash
# armv7 and aarch64 gnu builds that start on glibc 2.28 (Debian 10 /
# Raspberry Pi OS buster) and newer, linked by zig through cargo-zigbuild
# against glibc 2.28 symbol versions, then checked with check-glibc.sh.
#
#   bash targets/deploy/build-glibc-compat.sh              # build + check
#   bash targets/deploy/build-glibc-compat.sh --negative   # also prove the check fails
#                                                          # on the Debian 12 cross build
#
# Artifacts: $TTC_DIST/ttc-armv7-linux-gnueabihf-glibc2.28,
#            $TTC_DIST/ttc-aarch64-linux-gnu-glibc2.28 (TTC_DIST = target/deploy/dist).
# Installs once per machine: ziglang (PyPI), cargo-zigbuild (crates.io).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
ttc_deploy_dirs

negative=0
for a in "$@"; do
    case $a in
        --negative) negative=1 ;;
        -h | --help) ttc_header_help; exit 0 ;;
        *) ttc_die "unknown argument: $a (try --help)" ;;
    esac
done

ttc_apt_ensure binutils qemu-user libc6-armhf-cross libc6-arm64-cross
ttc_zig_ensure
ttc_cargo_tool_ensure cargo-zigbuild cargo-zigbuild "$TTC_CARGO_ZIGBUILD_VERSION"
ttc_rust_target_ensure armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu
cd "$TTC_ROOT"
mkdir -p "$TTC_DIST"

v=$TTC_GLIBC_FLOOR
for pair in armv7-unknown-linux-gnueabihf:armv7-linux-gnueabihf:arm aarch64-unknown-linux-gnu:aarch64-linux-gnu:aarch64; do
    IFS=: read -r target short machine <<<"$pair"
    # The ".2.28" suffix is zigbuild's: link against that glibc's symbols.
    # The binary still lands in target/<triple>/release.
    cargo zigbuild --release --locked --target "$target.$v" --bin ttc
    bin="$CARGO_TARGET_DIR/$target/release/ttc"
    [ "$(ttc_elf_machine "$bin")" = "$machine" ] || ttc_die "$bin is not an $machine ELF"
    bash "$TTC_ROOT/targets/deploy/check-glibc.sh" --max "$v" "$bin"
    # It starts (under QEMU, on Debian 12's cross glibc: newer than 2.28,
    # which is all a glibc promises to run).
    read -ra qemu < <(ttc_qemu_runner "$machine")
    ver=$(env -u QEMU_LD_PREFIX "${qemu[@]}" "$bin" --version) || ttc_die "$bin --version failed under ${qemu[0]}"
    ttc_say "starts under ${qemu[0]}: $ver"
    cp "$bin" "$TTC_DIST/ttc-$short-glibc$v"
    ttc_say "artifact: $TTC_DIST/ttc-$short-glibc$v ($(stat -c %s "$bin") bytes)"
done

if [ "$negative" = 1 ]; then
    # The check has to fail on what Debian 12's cross gcc links (glibc
    # 2.36 headers and symbols: __libc_start_main@GLIBC_2.34). A debug
    # build keeps it apart from the release artifacts above.
    ttc_apt_ensure gcc-aarch64-linux-gnu
    cargo build --locked --target aarch64-unknown-linux-gnu --bin ttc
    neg="$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/debug/ttc"
    if out=$(bash "$TTC_ROOT/targets/deploy/check-glibc.sh" --max "$v" "$neg" 2>&1); then
        printf '%s\n' "$out" >&2
        ttc_die "check-glibc.sh passed the Debian 12 cross build: the check is broken"
    fi
    printf '%s\n' "$out" >&2
    printf '%s\n' "$out" | grep -q 'GLIBC_2.34' || ttc_die "negative check failed for another reason than GLIBC_2.34"
    ttc_say "negative check: the Debian 12 cross build is refused, as it should be"
fi

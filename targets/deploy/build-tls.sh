#!/usr/bin/env bash
# TLS builds of the CLI (the tls feature: rustls + ring) for each Linux
# target: armv7 and thumbv7neon gnueabihf and aarch64 gnu (Debian's cross
# gcc, the same glibc need as the default builds), and aarch64 musl
# (static; ring's C is compiled by aarch64-linux-gnu-gcc, which also drives
# the link). Each starts under QEMU (`--version`; the static one with an
# empty sysroot) before it is kept.
#
#   bash targets/deploy/build-tls.sh [TRIPLE...]
#
# Artifacts: $TTC_DIST/ttc-tls-<triple> (TTC_DIST = target/deploy/dist);
# `bash targets/sizes.sh --deploy` lists them with the others, and
# `bash targets/sizes.sh --tls` prints the stripped sizes.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
ttc_deploy_dirs

triples=()
for a in "$@"; do
    case $a in
        -h | --help) ttc_header_help; exit 0 ;;
        -*) ttc_die "unknown option: $a (try --help)" ;;
        *) triples+=("$a") ;;
    esac
done
[ ${#triples[@]} -gt 0 ] || triples=("${TTC_QEMU_TARGETS[@]}" "${TTC_MUSL_TARGETS[@]}")

ttc_apt_ensure gcc-arm-linux-gnueabihf gcc-aarch64-linux-gnu qemu-user binutils
ttc_rust_target_ensure "${triples[@]}"
cd "$TTC_ROOT"
mkdir -p "$TTC_DIST"
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT

for t in "${triples[@]}"; do
    env=()
    # cc-rs looks for aarch64-linux-musl-gcc, which Debian does not have.
    [ "$t" = aarch64-unknown-linux-musl ] &&
        env=(CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc AR_aarch64_unknown_linux_musl=aarch64-linux-gnu-ar)
    ttc_run env "${env[@]}" cargo build --release --locked --target "$t" --bin ttc --features tls
    bin="$CARGO_TARGET_DIR/$t/release/ttc"
    machine=$(ttc_elf_machine "$bin")
    read -ra qemu < <(ttc_qemu_runner "$machine")
    # The static build needs no sysroot at all.
    [ "$t" = aarch64-unknown-linux-musl ] && qemu=("${qemu[0]}" -L "$empty")
    ver=$(env -u QEMU_LD_PREFIX "${qemu[@]}" "$bin" --version) ||
        ttc_die "$bin --version failed under ${qemu[0]}"
    # It has TLS: --tls to a closed loopback port is a connect error (1),
    # not "built without TLS" (a usage error, 2).
    rc=0
    env -u QEMU_LD_PREFIX TTC_LOG=off "${qemu[@]}" "$bin" --tls 127.0.0.1 9 </dev/null 2>/dev/null || rc=$?
    [ "$rc" = 1 ] || ttc_die "$bin --tls 127.0.0.1 9 exited $rc, not 1: is TLS in it?"
    cp "$bin" "$TTC_DIST/ttc-tls-$t"
    ttc_say "artifact: $TTC_DIST/ttc-tls-$t ($(stat -c %s "$bin") bytes, $ver)"
done

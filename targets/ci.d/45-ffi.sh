#!/usr/bin/env bash
# The C API, ffi/:
# - ffi/include/ttc.h is what cbindgen makes of ffi/src/lib.rs (a stale
#   header fails);
# - clippy on the ffi crate for the host, the board targets and both
#   Android triples (those without the tls feature: ring's C needs the
#   NDK's clang); its Rust tests (the API called as C calls it), on
#   the host and for armv7 under QEMU;
# - the C programs (ffi/tests/c_tests.sh): host gcc with AddressSanitizer,
#   both cross gccs under QEMU, against `ttc serve` echo and sink, an
#   in-process restarting server and `openssl s_server` (tls.apt).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=SCRIPTDIR/../lib.sh
source targets/lib.sh

ttc_run bash ffi/gen-header.sh --check
ttc_run cargo clippy --locked -p ttc-ffi --all-targets -- -D warnings
for t in "${TTC_QEMU_TARGETS[@]}"; do
    ttc_run cargo clippy --locked -p ttc-ffi --lib --target "$t" -- -D warnings
done
for t in "${TTC_ANDROID_TARGETS[@]}"; do
    ttc_run cargo clippy --locked -p ttc-ffi --lib --no-default-features --target "$t" -- -D warnings
done
# Without TLS the options are refused, not ignored: the code compiles and
# is clean that way on the host too.
ttc_run cargo clippy --locked -p ttc-ffi --lib --no-default-features -- -D warnings
ttc_run cargo test --locked -p ttc-ffi
# The same on 32-bit ARM under QEMU (4-byte size_t, 8-byte u64 alignment).
ttc_run cargo test --locked -p ttc-ffi --target armv7-unknown-linux-gnueabihf
ttc_run bash ffi/tests/c_tests.sh

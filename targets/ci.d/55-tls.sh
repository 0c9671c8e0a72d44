#!/usr/bin/env bash
# The tls feature (rustls + ring): clippy (host and armv7) and docs with it on, then its
# tests against real servers on loopback (tests/tls/main.rs: the library's TLS
# peers, openssl s_server, nginx; tests/tls/stay.rs: reconnect, acked,
# linger and idle timeout over TLS; plus the TLS unit tests of the
# library and the CLI) on the host and under QEMU for armv7 and aarch64
# (one 32-bit and one 64-bit ARM; thumbv7neon is the same 32-bit source
# built as Thumb-2, its default suite runs in the main stages, and a TLS
# run for it would repeat armv7's at CI's cost). Only the TLS tests run
# here, and under QEMU the proxy suite (the proxy feature is built along):
# the rest of the suite ran in the main stages without the features (a
# plain connection takes the same path with them or without them).
# Android: aarch64 `build --lib --features tls` with Debian's aarch64 gcc
# standing in for the NDK's clang to compile ring's C (a compile check:
# nothing is linked); armv7 Android needs the NDK or cross's image there
# (Debian's armhf gcc cannot build its softfp objects). The benchmark's
# TLS section runs in 50-bench-quick.sh, from the same build as the rest.
# The servers come from targets/ci.d/tls.apt.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$TTC_ROOT"
start=$SECONDS

ttc_run cargo clippy --all-targets --features tls -- -D warnings
ttc_run env RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps --features tls
# Every TLS test's name has "tls" in it. The proxy feature rides along
# (one build for both): TLS through a proxy's tunnel is in tests/proxy.rs.
ttc_some_tests ttc_run cargo test --features tls,proxy --lib --bin ttc --test tls --test proxy -- tls

# clippy with the feature on for one 32-bit target besides the host (the
# TLS code has no target-specific parts; armv7 catches 32-bit lints such
# as lossy casts; the main stages ran clippy on every target without it).
ttc_run cargo clippy --all-targets --features tls --target armv7-unknown-linux-gnueabihf -- -D warnings
for t in armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu; do
    # The whole proxy suite runs here under QEMU, with TLS on (one build
    # per target for both features; ci.d/56-proxy.sh runs it on the host
    # without TLS).
    ttc_some_tests ttc_run cargo test --features tls,proxy --target "$t" --test tls --test proxy
done

ttc_run env CC_aarch64_linux_android=aarch64-linux-gnu-gcc \
    AR_aarch64_linux_android=aarch64-linux-gnu-ar \
    cargo build --lib --features tls --target aarch64-linux-android

echo "tls: done in $((SECONDS - start)) s"

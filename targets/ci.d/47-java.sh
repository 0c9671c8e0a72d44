#!/usr/bin/env bash
# Java and Android: libttc.so with the `jni` feature, the
# org.ttc classes (java/src) compiled with every javac lint as an error,
# and java/test/org/ttc/ClientTest.java run on the host JVM (with
# -Xcheck:jni) against `ttc serve` echo, sink and fortune: bytes and
# final reports asserted; reconnect with confirm across a server restart
# (an in-process server); TLS against `openssl s_server` with the
# certificates of ffi/tests/make-pki.sh. Then the JNI code for both Android triples:
# clippy, and compiled to a static library (linking the .so needs the
# NDK, which these machines cannot have; cross's Android images build it),
# without the tls feature (ring's C needs the NDK's clang too).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=SCRIPTDIR/../lib.sh
source targets/lib.sh

ttc_run cargo clippy --locked -p ttc-ffi --all-targets --features jni -- -D warnings
ttc_run cargo build -q --locked -p ttc-ffi --features jni
ttc_run cargo build -q --locked --bin ttc
classes=target/java/classes
rm -rf "$classes"
ttc_run javac -Xlint:all -Werror -d "$classes" java/src/org/ttc/*.java java/test/org/ttc/*.java
pki=target/java/pki
rm -rf "$pki"
ttc_run bash ffi/tests/make-pki.sh "$pki"
ttc_run java -Xcheck:jni -Dttc.library="$PWD/target/debug/libttc.so" -cp "$classes" \
    org.ttc.ClientTest "$PWD/target/debug/ttc" "$PWD/$pki"

for t in "${TTC_ANDROID_TARGETS[@]}"; do
    ttc_run cargo clippy --locked -p ttc-ffi --lib --no-default-features --features jni --target "$t" -- -D warnings
    ttc_run cargo rustc -q --locked -p ttc-ffi --lib --no-default-features --features jni --target "$t" --crate-type staticlib
done

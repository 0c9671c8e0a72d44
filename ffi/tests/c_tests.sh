#!/usr/bin/env bash
# The C side of the C API: the netcat-style example (ffi/examples/ttc_nc.c)
# and the contract test (ffi/tests/api_test.c), built with the host gcc
# (under AddressSanitizer, against libttc.a and libttc.so) and with both
# cross gccs (against that target's libttc.a, run under QEMU user-mode),
# each run against the test peers of the host's `ttc serve` on loopback:
# echo byte-exact, sink count and hash checked, an initial message, a
# refused connection's error and report. Then the connection features
# (ffi/tests/features_test.c): reconnect with confirmed delivery across a
# server restart, TLS against `openssl s_server` with a CA file (made here
# with the openssl CLI), a wrong CA refused, a refused port, an idle
# timeout, refused options as error values.
#
#   bash ffi/tests/c_tests.sh [host] [armv7] [aarch64]   # default: all three
#
# Ends with "c_tests: N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(host armv7 aarch64)
work=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAILED: $*" >&2; }

# Waits (20 s at most) until FILE has a line matching REGEX; prints it.
wait_line() {
    local file=$1 re=$2 i
    for ((i = 0; i < 400; i++)); do
        if grep -m1 -E "$re" "$file" 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "no line matching '$re' in $file within 20 s" >&2
    return 1
}

# The FNV-1a (64-bit) hash of FILE, as `ttc serve sink` prints it.
fnv1a() {
    python3 -c '
import sys
h = 0xcbf29ce484222325
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print("%016x" % h)' "$1"
}

ttc_bin=$root/target/debug/ttc
echo "--- building the host ttc (the test peers)"
cargo build -q --locked --bin ttc

# start_peer KIND: starts `ttc serve KIND` on loopback; sets peer_out (its
# stdout) and peer_port.
start_peer() {
    peer_out=$work/peer-$1-$RANDOM.out
    # Appending: a test may empty the file while the peer writes to it.
    "$ttc_bin" serve "$1" --port 0 --bind 127.0.0.1 >>"$peer_out" &
    pids+=($!)
    peer_pid=$!
    peer_port=$(wait_line "$peer_out" '^listening ' | sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\) .*/\1/p')
    [ -n "$peer_port" ] || { echo "peer $1 did not start" >&2; exit 1; }
}

start_peer echo
echo_out=$peer_out echo_port=$peer_port
start_peer sink
sink_out=$peer_out sink_port=$peer_port
# A port with nothing listening: a peer started and stopped.
start_peer sink
kill "$peer_pid"
wait "$peer_pid" 2>/dev/null || true
closed_port=$peer_port

# TLS: a CA, a server certificate for 127.0.0.1 by it, and another CA;
# `openssl s_server -rev` (each line back reversed) with that certificate.
pki=$work/pki
bash ffi/tests/make-pki.sh "$pki"
tls_out=$work/s_server.out
openssl s_server -rev -accept 127.0.0.1:0 -cert "$pki/server.pem" -key "$pki/server.key" \
    </dev/null >"$tls_out" 2>&1 &
pids+=($!)
tls_port=$(wait_line "$tls_out" '^ACCEPT ' | sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p')
[ -n "$tls_port" ] || { echo "openssl s_server did not start" >&2; exit 1; }

head -c 300000 /dev/urandom >"$work/echo.in"
head -c 1000000 /dev/urandom >"$work/sink.in"
sink_hash=$(fnv1a "$work/sink.in")
cflags=(-std=c11 -Wall -Wextra -Werror -O1 -g -I ffi/include)
libs=(-lpthread -ldl -lm -lrt -lutil -lgcc_s)

# run_variant NAME CC TRIPLE RUNNER... : builds and runs everything once.
run_variant() {
    local name=$1 cc=$2 triple=$3
    shift 3
    local runner=("$@") lib dir=$work/$name
    mkdir -p "$dir"
    echo "--- $name: build libttc and the C programs"
    if [ "$triple" = host ]; then
        cargo build -q --locked -p ttc-ffi
        lib=$root/target/debug
    else
        cargo build -q --locked -p ttc-ffi --target "$triple"
        lib=$root/target/$triple/debug
    fi
    local extra=()
    [ "$name" = host-asan ] && extra=(-fsanitize=address -fno-omit-frame-pointer)
    "$cc" "${cflags[@]}" ${extra[@]+"${extra[@]}"} ffi/examples/ttc_nc.c "$lib/libttc.a" "${libs[@]}" -o "$dir/ttc_nc"
    "$cc" "${cflags[@]}" ${extra[@]+"${extra[@]}"} ffi/tests/api_test.c "$lib/libttc.a" "${libs[@]}" -o "$dir/api_test"
    "$cc" "${cflags[@]}" ${extra[@]+"${extra[@]}"} ffi/tests/features_test.c "$lib/libttc.a" "${libs[@]}" -o "$dir/features_test"
    if [ "$name" = host-asan ]; then
        # The shared library too: the same programs against libttc.so.
        "$cc" "${cflags[@]}" "${extra[@]}" ffi/tests/api_test.c -L "$lib" -lttc -o "$dir/api_test_so"
        # The README's example, linked as the README says (an rpath, no
        # LD_LIBRARY_PATH), against the echo peer and against s_server.
        "$cc" "${cflags[@]}" "${extra[@]}" ffi/examples/hello.c -L "$lib" -lttc -Wl,-rpath,"$lib" -o "$dir/hello"
        if (unset LD_LIBRARY_PATH; timeout 60 "$dir/hello" 127.0.0.1 "$echo_port" >"$dir/hello.out" 2>&1 &&
            timeout 60 "$dir/hello" 127.0.0.1 "$tls_port" "$pki/ca.pem" >>"$dir/hello.out" 2>&1) &&
            grep -qx 'hello: got back: hello, ttc' "$dir/hello.out" &&
            grep -qx 'hello: got back: ctt ,olleh' "$dir/hello.out" &&
            grep -q '^hello: report reason=.* TLSv1\.' "$dir/hello.out"; then
            pass "$name: examples/hello.c, linked with an rpath, plain and TLS"
            : >"$echo_out"
        else
            cat "$dir/hello.out" >&2
            fail "$name: examples/hello.c"
        fi
        if LD_LIBRARY_PATH=$lib timeout 60 "$dir/api_test_so" 127.0.0.1 "$sink_port" >"$dir/api_so.out" 2>&1; then
            pass "$name: api_test against libttc.so ($(tail -n1 "$dir/api_so.out"))"
        else
            cat "$dir/api_so.out" >&2
            fail "$name: api_test against libttc.so"
        fi
    fi
    local run=(timeout 120 ${runner[@]+"${runner[@]}"})

    if "${run[@]}" "$dir/api_test" 127.0.0.1 "$sink_port" >"$dir/api.out" 2>&1; then
        pass "$name: api_test ($(tail -n1 "$dir/api.out"))"
    else
        cat "$dir/api.out" >&2
        fail "$name: api_test"
    fi

    if "${run[@]}" "$dir/features_test" "$tls_port" "$pki/ca.pem" "$pki/other_ca.pem" "$closed_port" \
        >"$dir/features.out" 2>&1; then
        pass "$name: features_test ($(tail -n1 "$dir/features.out"))"
    else
        cat "$dir/features.out" >&2
        fail "$name: features_test"
    fi

    # echo: byte-exact, and the report.
    local rc=0
    "${run[@]}" "$dir/ttc_nc" 127.0.0.1 "$echo_port" <"$work/echo.in" >"$dir/echo.out" 2>"$dir/echo.err" || rc=$?
    local seen
    seen=$(wait_line "$echo_out" ' received=300000 sent=300000 ' || true)
    if [ "$rc" -eq 0 ] && cmp -s "$work/echo.in" "$dir/echo.out" && [ -n "$seen" ] &&
        grep -qx 'ttc_nc: report reason=finished sent=300000 received=300000 unsent=0' "$dir/echo.err"; then
        pass "$name: echo 300000 bytes byte-exact, report finished"
        : >"$echo_out"
    else
        cat "$dir/echo.err" >&2
        fail "$name: echo (exit $rc, $(stat -c %s "$dir/echo.out") bytes back)"
    fi

    # sink: the server's count and hash of what it received.
    rc=0
    "${run[@]}" "$dir/ttc_nc" -c 16384 127.0.0.1 "$sink_port" <"$work/sink.in" >"$dir/sink.out" 2>"$dir/sink.err" || rc=$?
    local want="received=1000000 sent=0 hash=$sink_hash"
    seen=$(wait_line "$sink_out" " $want\$" || true)
    if [ "$rc" -eq 0 ] && [ -n "$seen" ] && [ ! -s "$dir/sink.out" ] &&
        grep -qx 'ttc_nc: report reason=finished sent=1000000 received=0 unsent=0' "$dir/sink.err"; then
        pass "$name: sink 1000000 bytes, hash $sink_hash, report finished"
        # The next run's line must not be mistaken for this one's.
        : >"$sink_out"
    else
        cat "$dir/sink.err" >&2
        fail "$name: sink (exit $rc; server said: $(tail -n1 "$sink_out"))"
    fi

    # An initial message, then stdin, through the echo peer.
    rc=0
    printf 'world' | "${run[@]}" "$dir/ttc_nc" -i 'HELLO ' 127.0.0.1 "$echo_port" >"$dir/init.out" 2>"$dir/init.err" || rc=$?
    if [ "$rc" -eq 0 ] && [ "$(cat "$dir/init.out")" = "HELLO world" ] &&
        grep -qx 'ttc_nc: report reason=finished sent=11 received=11 unsent=0' "$dir/init.err"; then
        pass "$name: initial message first"
    else
        cat "$dir/init.err" >&2
        fail "$name: initial message (exit $rc, got '$(cat "$dir/init.out")')"
    fi

    # Refused: exit 1, the error signal and an error report.
    rc=0
    "${run[@]}" "$dir/ttc_nc" 127.0.0.1 "$closed_port" </dev/null >"$dir/refused.out" 2>"$dir/refused.err" || rc=$?
    if [ "$rc" -eq 1 ] &&
        grep -q '^ttc_nc: error phase=connect kind=ConnectionRefused os_code=111 ' "$dir/refused.err" &&
        grep -qx 'ttc_nc: report reason=error sent=0 received=0 unsent=0' "$dir/refused.err"; then
        pass "$name: refused connection reported"
    else
        cat "$dir/refused.err" >&2
        fail "$name: refused connection (exit $rc)"
    fi
}

for v in "${variants[@]}"; do
    case $v in
        host) run_variant host-asan gcc host ;;
        armv7) run_variant armv7 arm-linux-gnueabihf-gcc armv7-unknown-linux-gnueabihf \
            env QEMU_CPU=cortex-a7 qemu-arm -L /usr/arm-linux-gnueabihf ;;
        aarch64) run_variant aarch64 aarch64-linux-gnu-gcc aarch64-unknown-linux-gnu \
            env QEMU_CPU=cortex-a53 qemu-aarch64 -L /usr/aarch64-linux-gnu ;;
        *) echo "unknown variant: $v (host, armv7, aarch64)" >&2; exit 2 ;;
    esac
done

echo "c_tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

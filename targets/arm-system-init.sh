#!/bin/busybox sh
# shellcheck shell=sh
# /init of the ARM guests that targets/arm-system.sh boots (busybox sh,
# inside the guest; not run on the host). Mounts what the tests need,
# loads the modules, shares the repository over 9p, then runs the job
# (/job.sh: which test executables, and the smoke check) and powers off.
# Its last line is "ttc-guest: done failures=N"; the host reads it.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
/bin/busybox mkdir -p /usr/local/bin
/bin/busybox --install -s /usr/local/bin
PATH=$PATH:/usr/local/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm
# ip netns needs a shared mount tree to bind its namespaces into.
mount --make-rshared / 2>/dev/null
while read -r m; do
    insmod "/$m" || echo "ttc-guest: insmod $m failed"
done </modules.load
ip link set lo up
echo "ttc-guest: booted $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ { print $2 }' /proc/meminfo) KiB"

failures=0
fail() {
    echo "ttc-guest: FAILED $*"
    failures=$((failures + 1))
}

# shellcheck source=/dev/null
. /job.sh

mkdir -p "$ROOT"
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose ttc "$ROOT"; then
    fail "mounting the repository over 9p"
fi
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
export HOME=/root TMPDIR=/tmp RUST_BACKTRACE=1
# QEMU_LD_PREFIX is the tests' marker for an emulated CPU: timing bounds
# as under QEMU user-mode (this guest's CPU is emulated too). It also
# makes them start ttc through qemu-arm/qemu-aarch64, which here are
# shims that start it directly. TTC_ARM_SYSTEM marks a real kernel: the
# memory checks that user-mode QEMU cannot make keep their host bounds.
export QEMU_LD_PREFIX=/ TTC_ARM_SYSTEM=1

# The ttc binary the tests start, from RAM rather than over 9p: tests
# that signal it a moment after its start (`timeout -s INT 0.8`) need it
# to reach main by then, which reading it over 9p on every start delayed.
if [ -n "$TTC_EXE" ]; then
    if ! { cp "$TTC_EXE" /tmp/ttc-under-test &&
        mount --bind /tmp/ttc-under-test "$TTC_EXE"; }; then
        fail "putting $TTC_EXE in RAM"
    fi
fi

# The suites: each test executable as cargo runs it, from the package
# root, so its `test result:` line is counted as cargo's is.
if [ -n "$TESTS" ]; then
    cd "$ROOT" || fail "cd $ROOT"
    echo "$TESTS" | while read -r name exe; do
        echo "     Running $name (${exe#"$ROOT"/})"
        t0=$(date +%s)
        # shellcheck disable=SC2086 # FILTER: no word, or one
        if timeout -k 5 600 "$exe" $FILTER </dev/null; then
            echo "ttc-guest: $name ok in $(($(date +%s) - t0)) s"
        else
            echo "ttc-guest: $name FAILED (exit $?) after $(($(date +%s) - t0)) s"
            echo x >>/tmp/failed-suites
        fi
    done
    if [ -s /tmp/failed-suites ]; then
        fail "$(wc -l </tmp/failed-suites) test executables"
    fi
    cd /
fi

# The device smoke check: what a person who has just flashed a board
# tries first, with the static release build.
if [ -n "$SMOKE_BIN" ]; then
    ttc=$SMOKE_BIN
    host=10.0.2.2
    echo "smoke: $($ttc --version)"
    if $ttc demo >/tmp/demo.out 2>&1; then
        echo "smoke: demo exit 0: $(tail -n1 /tmp/demo.out)"
    else
        fail "smoke: demo exit $?: $(cat /tmp/demo.out)"
    fi
    if $ttc "$host" "$PORT_DOWN" </dev/null >/tmp/down.bin 2>/tmp/down.err; then
        got=$(sha256sum </tmp/down.bin | cut -d' ' -f1)
        if [ "$got" = "$SMOKE_SHA" ]; then
            echo "smoke: download exit 0, $(wc -c </tmp/down.bin) bytes, SHA-256 matches: $(tail -n1 /tmp/down.err)"
        else
            fail "smoke: download: SHA-256 $got, want $SMOKE_SHA ($(wc -c </tmp/down.bin) bytes)"
        fi
    else
        fail "smoke: download exit $?: $(tail -n3 /tmp/down.err)"
    fi
    rm -f /tmp/down.bin
    if $ttc --send "$SMOKE_FILE" "$host" "$PORT_UP" >/dev/null 2>/tmp/up.err; then
        echo "smoke: upload exit 0: $(tail -n1 /tmp/up.err)"
    else
        fail "smoke: upload exit $?: $(tail -n3 /tmp/up.err)"
    fi
    if $ttc --reconnect --backoff 0.1,0.5 --send "$SMOKE_FILE" "$host" "$PORT_RECONNECT" \
        >/dev/null 2>/tmp/re.err; then
        if grep -q '^ttc: reconnecting' /tmp/re.err; then
            echo "smoke: reconnect exit 0 across a server restart: $(tail -n1 /tmp/re.err)"
        else
            fail "smoke: reconnect: exit 0 but no reconnect: $(tail -n3 /tmp/re.err)"
        fi
    else
        fail "smoke: reconnect exit $?: $(tail -n5 /tmp/re.err)"
    fi
fi

echo "ttc-guest: done failures=$failures"
sync
poweroff -f

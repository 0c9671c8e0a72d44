#!/usr/bin/env bash
# The test suite on real ARM Linux kernels: Debian bookworm's armhf
# (armmp) and arm64 kernels, booted under qemu-system (TCG, no KVM), so
# that socket options, TCP_INFO, keepalive, SO_BINDTODEVICE, namespaces,
# nftables, tc and timing come from an ARM kernel and not from the x86
# host as under QEMU user-mode.
#
#   bash targets/arm-system.sh                 # both kernels
#   bash targets/arm-system.sh armhf           # one (armhf or arm64)
#   bash targets/arm-system.sh --smoke arm64   # only the device smoke check
#   bash targets/arm-system.sh --filter NAME armhf   # only tests whose name has NAME
#
# Per kernel, in one boot:
#   - every test executable of `cargo test` (unit tests of the library and
#     of the command, every integration suite, the netns ones included) on
#     the guest's own network stack, each printing cargo's `test result:`
#     line; doctests are not run (rustdoc compiles them on the host; they
#     run on the host and under QEMU user-mode);
#   - the device smoke check with the static release build: `ttc demo`, a
#     4 MiB download and upload against servers on this host (reached at
#     10.0.2.2), SHA-256 checked on both sides, `--reconnect` across a
#     server restart, and each run's exit status.
# Which build runs where: armhf runs the armv7 glibc test build
# (armv7-unknown-linux-gnueabihf) and the static armv7 musl ttc
# (target/deploy/dist/ttc-armv7-linux-musleabihf); arm64 runs the static
# aarch64 musl test build (aarch64-unknown-linux-musl) and its ttc
# (target/deploy/dist/ttc-aarch64-linux-musl): the static binaries phones
# get. Missing builds are built first.
#
# Downloads (the kernels, busybox, iproute2, nftables, dnsmasq, coreutils
# and their libraries, from Debian through apt-get with lists and cache of
# its own; nothing is installed for the host's dpkg) and the initramfs
# built from them are kept in $TTC_ARM_CACHE (default ~/.cache/ttc-arm):
# a second run downloads nothing. The repository is shared with the guest
# read-only over 9p at the same path, so CARGO_BIN_EXE_ttc resolves there.
#
# Environment: TTC_ARM_CACHE; TTC_ARM_SMP (guest CPUs, default 2);
# TTC_ARM_MEM (MiB, default 1024); TTC_ARM_TIMEOUT (seconds per boot,
# default 900). Fails when a guest does not boot, a suite fails, or the
# smoke check fails.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TTC_ROOT"

# The test build's debug info as test.sh sets it (line tables only), so
# that this step reuses the test binaries the earlier steps built.
export CARGO_PROFILE_DEV_DEBUG=${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}
export CARGO_PROFILE_TEST_DEBUG=${CARGO_PROFILE_TEST_DEBUG:-line-tables-only}

CACHE=${TTC_ARM_CACHE:-$HOME/.cache/ttc-arm}
SMP=${TTC_ARM_SMP:-2}
MEM=${TTC_ARM_MEM:-1024}
BOOT_TIMEOUT=${TTC_ARM_TIMEOUT:-900}
# What the guest needs besides the kernel: a shell and its applets
# (busybox-static), and the tools the tests start: ip and tc (iproute2),
# nft (nftables), dnsmasq (dnsmasq-base), timeout (coreutils).
GUEST_PACKAGES=(busybox-static iproute2 nftables dnsmasq-base coreutils)
# Kernel modules to load, in this order after their dependencies (read
# from each module's depends=, as the .deb has no modules.dep).
# crc32c_generic is libcrc32c's soft dependency (an alias, "crc32c", that
# only modprobe resolves), so it is named here, before nf_tables.
GUEST_MODULES=(
    virtio_mmio virtio_net 9pnet_virtio 9p veth crc32c_generic nf_tables
    nft_numgen sch_tbf sch_netem
)
# Bump to rebuild every cached initramfs (a change to how it is built; a
# change to the guest's init rebuilds it by itself).
INITRD_VERSION=5

smoke_only=0
filter=""
arches=()
while [ $# -gt 0 ]; do
    a=$1
    shift
    case $a in
        armhf | arm64) arches+=("$a") ;;
        --smoke) smoke_only=1 ;;
        --filter) filter=${1:?--filter needs a test name}; shift ;;
        -h | --help) ttc_header_help; exit 0 ;;
        *) ttc_die "unknown argument: $a (try --help)" ;;
    esac
done
[ ${#arches[@]} -gt 0 ] || arches=(armhf arm64)

ttc_apt_ensure qemu-system-arm cpio socat python3 || exit 1

# --- per architecture facts ---------------------------------------------------

# Sets K_META (the kernel metapackage), K_FLAVOUR (suffix of the image
# package), QEMU, MACHINE, CPU, TEST_TARGET, SMOKE_BIN.
arch_facts() {
    case $1 in
        armhf)
            K_META=linux-image-armmp K_FLAVOUR=armmp
            QEMU=qemu-system-arm MACHINE=virt,highmem=off CPU=cortex-a15
            TEST_TARGET=armv7-unknown-linux-gnueabihf
            SMOKE_BIN=target/deploy/dist/ttc-armv7-linux-musleabihf
            ;;
        arm64)
            K_META=linux-image-arm64 K_FLAVOUR=arm64-unsigned
            QEMU=qemu-system-aarch64 MACHINE=virt CPU=cortex-a53
            TEST_TARGET=aarch64-unknown-linux-musl
            SMOKE_BIN=target/deploy/dist/ttc-aarch64-linux-musl
            ;;
    esac
}

# apt-get/apt-cache options for architecture $1: lists and cache under
# $CACHE, an empty dpkg status (nothing counts as installed), the foreign
# architecture as the only one.
apt_opts() {
    APT_OPTS=(
        -o "APT::Architecture=$1" -o "APT::Architectures::=$1"
        -o "Dir::State::Lists=$CACHE/lists" -o "Dir::State::status=$CACHE/status"
        -o "Dir::Cache=$CACHE/apt" -o "Dir::Cache::archives=$CACHE/debs-$1"
        -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
        -o APT::Sandbox::User=root -o Debug::NoLocking=1
    )
}

apt_update_once() {
    [ "${apt_updated:-0}" = 1 ] && return 0
    mkdir -p "$CACHE/lists/partial" "$CACHE/apt"
    : >"$CACHE/status"
    ttc_say "apt-get update (armhf, arm64 lists in $CACHE)"
    ttc_apt_update "$CACHE/update.log" apt-get -q -o APT::Architectures::=armhf -o APT::Architectures::=arm64 \
        -o "Dir::State::Lists=$CACHE/lists" -o "Dir::State::status=$CACHE/status" \
        -o "Dir::Cache=$CACHE/apt" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
        -o APT::Sandbox::User=root -o Debug::NoLocking=1 ||
        ttc_die_log "$CACHE/update.log" "apt-get update failed"
    apt_updated=1
}

# The module file of module $2 under the unpacked kernel $1 ('-' and '_'
# are the same in module names).
module_file() {
    local pattern=${2//[-_]/[-_]}
    find "$1/lib/modules" -name "$pattern.ko" | head -n1
}

# Appends module $2 and, first, its dependencies to MODULE_ORDER.
add_module() {
    local root=$1 m=${2//-/_} f dep
    case " ${MODULE_ORDER[*]} " in *" $m "*) return 0 ;; esac
    f=$(module_file "$root" "$m")
    [ -n "$f" ] || ttc_die "module $m not in the kernel package"
    for dep in $(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' '); do
        add_module "$root" "$dep"
    done
    MODULE_ORDER+=("$m")
    MODULE_FILES+=("${f#"$root"/}")
}

# Builds $CACHE/$arch/{vmlinuz,initrd.gz} unless they are there for this
# INITRD_VERSION and package list. Sets nothing else.
ensure_system() {
    local arch=$1 dir=$CACHE/$1 want stamp
    arch_facts "$arch"
    want="v$INITRD_VERSION ${GUEST_PACKAGES[*]} ${GUEST_MODULES[*]} init:$(sha256sum <"$TTC_ROOT/targets/arm-system-init.sh" | cut -c1-16)"
    stamp=$(cat "$dir/stamp" 2>/dev/null || true)
    if [ "$stamp" = "$want" ] && [ -s "$dir/vmlinuz" ] && [ -s "$dir/initrd.gz" ]; then
        return 0
    fi
    apt_update_once
    apt_opts "$arch"
    local kpkg
    kpkg=$(apt-cache "${APT_OPTS[@]}" depends "$K_META" |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
    [ -n "$kpkg" ] || ttc_die "no kernel package behind $K_META for $arch"
    [ "$K_FLAVOUR" = arm64-unsigned ] && kpkg=$kpkg-unsigned
    ttc_say "$arch: downloading $kpkg and ${GUEST_PACKAGES[*]} (with their libraries)"
    mkdir -p "$CACHE/debs-$arch/partial"
    # The tools with every library they need; the kernel alone (its own
    # dependencies are for installing it, not for booting it).
    local sim
    sim=$(apt-get -q -s "${APT_OPTS[@]}" --no-install-recommends install "${GUEST_PACKAGES[@]}" 2>&1) ||
        { echo "$sim" >&2; ttc_die "apt-get cannot resolve the guest packages for $arch"; }
    local pkgs
    mapfile -t pkgs < <(awk '/^Inst / { print $2 }' <<<"$sim")
    apt-get -q -y "${APT_OPTS[@]}" --no-install-recommends --download-only \
        install "${GUEST_PACKAGES[@]}" >"$CACHE/download-$arch.log" 2>&1 ||
        ttc_die_log "$CACHE/download-$arch.log" "download failed ($arch)"
    (cd "$CACHE/debs-$arch" && apt-get -q "${APT_OPTS[@]}" download "$kpkg" >>"$CACHE/download-$arch.log" 2>&1) ||
        ttc_die_log "$CACHE/download-$arch.log" "kernel download failed ($arch)"

    local work root p deb
    work=$(mktemp -d)
    root=$work/root
    mkdir -p "$root"
    for p in "${pkgs[@]}"; do
        deb=$(find "$CACHE/debs-$arch" -maxdepth 1 -name "${p}_*.deb" | sort -V | tail -n1)
        [ -n "$deb" ] || ttc_die "$p: no .deb in $CACHE/debs-$arch"
        dpkg-deb -x "$deb" "$root"
    done
    rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/locale" \
        "$root/usr/share/info" "$root/usr/share/lintian"
    # Debian 12 is merged-/usr: the packages ship files under usr/ and
    # the links from /bin, /sbin, /lib come from base-files.
    for p in bin sbin lib; do
        mkdir -p "$root/usr/$p"
        [ -d "$root/$p" ] && { cp -a "$root/$p/." "$root/usr/$p/"; rm -rf "${root:?}/$p"; }
        ln -s "usr/$p" "$root/$p"
    done

    local kroot=$work/kernel
    deb=$(find "$CACHE/debs-$arch" -maxdepth 1 -name "${kpkg}_*.deb" | sort -V | tail -n1)
    dpkg-deb -x "$deb" "$kroot"
    MODULE_ORDER=() MODULE_FILES=()
    local m
    for m in "${GUEST_MODULES[@]}"; do
        add_module "$kroot" "$m"
    done
    for m in "${MODULE_FILES[@]}"; do
        mkdir -p "$root/$(dirname "$m")"
        cp "$kroot/$m" "$root/$m"
    done
    printf '%s\n' "${MODULE_FILES[@]}" >"$root/modules.load"
    install -m 755 "$TTC_ROOT/targets/arm-system-init.sh" "$root/init"
    mkdir -p "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/run" "$root/etc" \
        "$root/var/run" "$root/root"
    # dnsmasq drops its privileges to "nobody" (tests/resolve.rs).
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
        >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    # As on Debian: ip netns keeps its namespaces in /run/netns, the tests
    # look in /var/run/netns.
    rmdir "$root/var/run"
    ln -s ../run "$root/var/run"
    # The tests start the ttc binary through qemu-arm or qemu-aarch64
    # when QEMU_LD_PREFIX is set (tests/support/cli.rs); the guest runs
    # ARM code itself, so these only start what they are given.
    mkdir -p "$root/usr/local/bin"
    # coreutils' env, not a script: no shell start-up in which a test's
    # early SIGINT could land.
    for p in qemu-arm qemu-aarch64; do
        ln -s ../../bin/env "$root/usr/local/bin/$p"
    done
    printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"

    mkdir -p "$dir"
    cp "$kroot"/boot/vmlinuz-* "$dir/vmlinuz"
    (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 >"$dir/initrd.gz"
    rm -rf "$work"
    echo "$want" >"$dir/stamp"
    echo "$kpkg" >"$dir/kernel"
    ttc_say "$arch: $(cat "$dir/kernel"), initramfs $(($(stat -c %s "$dir/initrd.gz") / 1024)) KiB"
}

# --- what the guest runs ------------------------------------------------------

# The test executables of `cargo test --target $1` (built if needed), as
# lines "NAME PATH", NAME as cargo's "Running" line names it, and the ttc
# binary they start as "bin PATH".
test_executables() {
    cargo test --locked --no-run --message-format=json --target "$1" 2>/dev/null |
        python3 -c '
import json, sys, os
root = sys.argv[1]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    src = os.path.relpath(m["target"]["src_path"], root)
    if m.get("profile", {}).get("test"):
        print(src, m["executable"])
    elif m["target"]["kind"] == ["bin"] and m["target"]["name"] == "ttc":
        # The binary the tests start (CARGO_BIN_EXE_ttc).
        print("bin", m["executable"])
' "$TTC_ROOT"
}

# Free TCP ports on this host's loopback, one a line.
free_ports() {
    python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
for s in socks:
    print(s.getsockname()[1])
' "$1"
}

# The job the guest's init runs (sourced by it): the suites, then the
# smoke check. $1: the test list ("NAME PATH" lines, may be empty);
# $2: the smoke binary ("" for none); $3..: the smoke ports.
write_job() {
    local tests=$1 smoke=$2 down=$3 up=$4 recon=$5
    printf 'ROOT=%s\n' "$(ttc_sq "$TTC_ROOT")"
    printf 'SMOKE_BIN=%s\n' "$(ttc_sq "$smoke")"
    printf 'SMOKE_FILE=%s\n' "$(ttc_sq "$smoke_file")"
    printf 'SMOKE_SHA=%s\n' "$smoke_sha"
    printf 'PORT_DOWN=%s PORT_UP=%s PORT_RECONNECT=%s\n' "$down" "$up" "$recon"
    printf 'TESTS=%s\n' "$(ttc_sq "$tests")"
    printf 'TTC_EXE=%s\n' "$(ttc_sq "$ttc_exe")"
    printf 'FILTER=%s\n' "$(ttc_sq "$filter")"
}

# --- host side of the smoke check ---------------------------------------------

# Starts the host's servers for the smoke check; sets SMOKE_PIDS. Their
# output goes to files: a server left waiting (a guest that never came)
# must not hold the step's output open.
start_smoke_servers() {
    local down=$1 up=$2 recon=$3 dir=$4
    SMOKE_PIDS=()
    # Download: the file, to every connection.
    socat -U "TCP-LISTEN:$down,bind=127.0.0.1,reuseaddr,fork" "OPEN:$smoke_file,rdonly" \
        >"$work/smoke-down.log" 2>&1 &
    SMOKE_PIDS+=($!)
    # Upload: one connection, kept in a file.
    socat -u "TCP-LISTEN:$up,bind=127.0.0.1,reuseaddr" "CREATE:$dir/uploaded" \
        >"$work/smoke-up.log" 2>&1 &
    SMOKE_PIDS+=($!)
    reconnect_servers "$recon" "$dir/reconnected" >"$work/smoke-reconnect.log" 2>&1 &
    SMOKE_PIDS+=($!)
}

# Reconnect: the first server takes 1 MiB and goes away (its unread data
# resets the connection); a second one, on the same port a moment later,
# takes the rest. SIGTERM ends whichever is running.
reconnect_servers() {
    local recon=$1 out=$2 pid=""
    trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; exit 0' TERM
    socat -u "TCP-LISTEN:$recon,bind=127.0.0.1,reuseaddr" SYSTEM:"head -c 1048576 >/dev/null" &
    pid=$!
    wait "$pid" || true
    sleep 0.5 &
    pid=$!
    wait "$pid" || true
    socat -u "TCP-LISTEN:$recon,bind=127.0.0.1,reuseaddr" "CREATE:$out" &
    pid=$!
    wait "$pid" || true
}

stop_smoke_servers() {
    local p
    for p in "${SMOKE_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${SMOKE_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    SMOKE_PIDS=()
}

# --- one boot -----------------------------------------------------------------

# Boots $1 with job file $2 (appended to the cached initramfs), its
# console to $3. Returns QEMU's status (timeout: 124).
boot() {
    local arch=$1 job=$2 log=$3 extra rc=0
    arch_facts "$arch"
    extra=$(mktemp -d)
    cp "$job" "$extra/job.sh"
    (cd "$extra" && echo job.sh | cpio -o -H newc --quiet | gzip -1) >"$extra/job.cpio.gz"
    cat "$CACHE/$arch/initrd.gz" "$extra/job.cpio.gz" >"$extra/initrd.gz"
    # -no-reboot: the guest's poweroff ends QEMU.
    timeout --foreground -k 10 "$BOOT_TIMEOUT" "$QEMU" -M "$MACHINE" -cpu "$CPU" -smp "$SMP" -m "$MEM" \
        -nographic -no-reboot -monitor none -serial stdio \
        -kernel "$CACHE/$arch/vmlinuz" -initrd "$extra/initrd.gz" \
        -append "console=ttyAMA0 quiet loglevel=3 panic=-1" \
        -netdev user,id=n0 -device virtio-net-device,netdev=n0 \
        -fsdev "local,id=fs0,path=$TTC_ROOT,security_model=none,readonly=on" \
        -device virtio-9p-device,fsdev=fs0,mount_tag=ttc </dev/null 2>&1 |
        sed -u 's/\r$//' | tee "$log" || rc=$?
    rm -rf "$extra"
    return "$rc"
}

# --- the run ------------------------------------------------------------------

work=$(mktemp -d)
SMOKE_PIDS=()
trap 'stop_smoke_servers; rm -rf "$work"' EXIT

# The file the smoke check moves both ways: in the repository's target
# dir, which the guest sees.
smoke_dir=$TTC_ROOT/target/arm-system
mkdir -p "$smoke_dir"
smoke_file=$smoke_dir/smoke-4MiB.bin
if [ ! -s "$smoke_file" ]; then
    head -c $((4 << 20)) /dev/urandom >"$smoke_file.tmp" && mv "$smoke_file.tmp" "$smoke_file"
fi
smoke_sha=$(sha256sum "$smoke_file" | cut -d' ' -f1)

failed=()
for arch in "${arches[@]}"; do
    ttc_banner "arm-system: $arch"
    start=$SECONDS
    ensure_system "$arch"
    arch_facts "$arch"
    tests="" ttc_exe=""
    if [ "$smoke_only" = 0 ]; then
        ttc_rust_target_ensure "$TEST_TARGET"
        ttc_say "$arch: building the tests for $TEST_TARGET"
        if ! cargo test --locked --no-run --target "$TEST_TARGET" >"$work/build.log" 2>&1; then
            cat "$work/build.log"
            ttc_die "the test build for $TEST_TARGET failed"
        fi
        listed=$(test_executables "$TEST_TARGET") ||
            ttc_die "cannot list the test executables for $TEST_TARGET"
        tests=$(grep -v '^bin ' <<<"$listed" || true)
        ttc_exe=$(sed -n 's/^bin //p' <<<"$listed")
        [ -n "$tests" ] || ttc_die "no test executables for $TEST_TARGET"
        [ -n "$ttc_exe" ] || ttc_die "no ttc binary in the test build for $TEST_TARGET"
        ttc_say "$arch: $(wc -l <<<"$tests") test executables"
    fi
    if [ ! -x "$SMOKE_BIN" ]; then
        ttc_say "$arch: building $SMOKE_BIN"
        case $arch in
            armhf) bash targets/deploy/build-musl-armv7.sh ;;
            arm64) bash targets/deploy/build-musl.sh ;;
        esac
    fi
    mapfile -t ports < <(free_ports 3)
    rm -f "$smoke_dir/uploaded" "$smoke_dir/reconnected"
    start_smoke_servers "${ports[0]}" "${ports[1]}" "${ports[2]}" "$smoke_dir"
    write_job "$tests" "$TTC_ROOT/$SMOKE_BIN" "${ports[@]}" >"$work/job.sh"
    ttc_say "$arch: booting $(cat "$CACHE/$arch/kernel") ($QEMU -M $MACHINE -cpu $CPU -smp $SMP -m $MEM)"
    rc=0
    boot "$arch" "$work/job.sh" "$work/$arch.log" || rc=$?
    stop_smoke_servers
    # The guest's verdict: its last line, which a guest that did not boot
    # or did not finish never prints.
    verdict=$(grep -a '^ttc-guest: done ' "$work/$arch.log" | tail -n1 || true)
    problems=()
    if [ "$rc" -eq 124 ]; then
        problems+=("timed out after $BOOT_TIMEOUT s")
    elif [ "$rc" -ne 0 ]; then
        problems+=("QEMU exit $rc")
    fi
    grep -aq '^ttc-guest: booted' "$work/$arch.log" || problems+=("did not boot")
    if [ -z "$verdict" ]; then
        problems+=("no final line from the guest")
    elif [ "$verdict" != "ttc-guest: done failures=0" ]; then
        problems+=("guest: ${verdict#ttc-guest: done }")
    fi
    # What the host's servers received.
    if [ -f "$smoke_dir/uploaded" ] &&
        [ "$(sha256sum <"$smoke_dir/uploaded" | cut -d' ' -f1)" = "$smoke_sha" ]; then
        echo "smoke $arch: upload: the host received the file, SHA-256 matches"
    else
        problems+=("smoke upload: the host's copy differs ($(stat -c %s "$smoke_dir/uploaded" 2>/dev/null || echo 0) bytes)")
    fi
    if [ -s "$smoke_dir/reconnected" ]; then
        echo "smoke $arch: reconnect: the second server received $(stat -c %s "$smoke_dir/reconnected") bytes"
    else
        problems+=("smoke reconnect: the second server received nothing")
    fi
    if [ ${#problems[@]} -eq 0 ]; then
        echo "arm-system $arch: ok in $((SECONDS - start)) s"
    else
        echo "arm-system $arch: FAILED in $((SECONDS - start)) s: $(printf '%s; ' "${problems[@]}")"
        failed+=("$arch")
    fi
done
[ ${#failed[@]} -eq 0 ] || ttc_die "failed on: ${failed[*]}"

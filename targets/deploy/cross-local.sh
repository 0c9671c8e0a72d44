#!/usr/bin/env bash
# The `cross` path, verified locally: builds a container image for cross
# from a debootstrap rootfs (no image registry is reachable here), imports
# it into podman, and runs `cross test` for aarch64 and armv7 with the
# project's Cross.toml. Optional, slow the first time (~10 min: rootfs +
# first build); not part of targets/test.sh.
#
#   bash targets/deploy/cross-local.sh            # image if missing, then both targets
#   bash targets/deploy/cross-local.sh --rebuild  # rebuild the image first
#   bash targets/deploy/cross-local.sh --image-only
#   TTC_CROSS_TARGETS="aarch64-unknown-linux-gnu" bash targets/deploy/cross-local.sh
#
# One image serves both targets: Debian 12 with the host gcc (build
# scripts), both cross gccs + libc6-dev-*-cross, qemu-user, and iproute2 +
# nftables for the network-namespace tests. Inside it
# cargo reads the project's .cargo/config.toml, so the linkers and QEMU
# runners are the same as on the host.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
ttc_deploy_dirs

IMAGE="${TTC_CROSS_IMAGE:-localhost/ttc-cross:bookworm}"
TARGETS="${TTC_CROSS_TARGETS:-aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf}"
# cross 0.2.5 misreads rustup 1.29's "(active, default)" line unless the
# toolchain is named: `cross +1.95.0`.
TOOLCHAIN="${TTC_CROSS_TOOLCHAIN:-1.95.0}"
CROSS_VERSION=0.2.5
WORK="$CARGO_TARGET_DIR/cross-local"
SUITE=bookworm

rebuild=0 image_only=0
for a in "$@"; do
    case $a in
        --rebuild) rebuild=1 ;;
        --image-only) image_only=1 ;;
        -h | --help) ttc_header_help; exit 0 ;;
        *) ttc_die "unknown argument: $a (try --help)" ;;
    esac
done

mkdir -p "$WORK"
ttc_apt_ensure podman runc debootstrap

# podman in this sandbox needs explicit ulimits (its defaults exceed what
# the machine grants) and runc; kept in our own file, not /etc.
cat >"$WORK/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$WORK/containers.conf"

# The Debian mirror apt already uses (deb822 .sources or one-line lists).
debian_mirror() {
    local m
    m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
    [ -n "$m" ] || m=$(grep -hs -E '^deb +(\[[^]]*\] +)?https?://[^ ]*/debian/? ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
        sed -E 's/^deb +(\[[^]]*\] +)?//' | awk '{print $1}' | head -n1 || true)
    echo "${m:-http://deb.debian.org/debian}"
}

build_image() {
    local rootfs="$WORK/rootfs" mirror
    mirror=$(debian_mirror)
    ttc_say "debootstrap $SUITE from $mirror into $rootfs"
    rm -rf "$rootfs"
    # --include resolves dependencies but not Recommends: the cross libc
    # dev packages are named explicitly.
    debootstrap --variant=minbase \
        --include=gcc,libc6-dev,gcc-aarch64-linux-gnu,libc6-dev-arm64-cross,gcc-arm-linux-gnueabihf,libc6-dev-armhf-cross,qemu-user,iproute2,nftables \
        "$SUITE" "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
        ttc_die_log "$WORK/debootstrap.log" "debootstrap failed (log: $WORK/debootstrap.log)"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    ttc_say "podman import -> $IMAGE"
    podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
    tar -C "$rootfs" -c . | podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
    rm -rf "$rootfs"
}

start=$(date +%s)
if [ "$rebuild" = 1 ] || ! podman image exists "$IMAGE"; then
    build_image
    ttc_say "image built in $(($(date +%s) - start)) s: $(podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$IMAGE")"
else
    ttc_say "image $IMAGE present (--rebuild to redo it)"
fi
[ "$image_only" = 1 ] && exit 0

ttc_cargo_tool_ensure cross cross "$CROSS_VERSION"
ttc_rust_toolchain_ensure "$TOOLCHAIN"
read -ra targets <<<"$TARGETS"
ttc_rust_target_ensure --toolchain "$TOOLCHAIN" "${targets[@]}"

# Cross.toml stays the project's; the image for each target is pointed at
# the local one through cross's environment override (env beats Cross.toml).
export CROSS_CONTAINER_ENGINE=podman
# The host network: cargo inside needs no network (deps are in CARGO_HOME),
# and it avoids netavark setup in sandboxes. --privileged: the network-
# namespace tests (tests/netns/) create namespaces, veth pairs,
# nftables rules and tc qdiscs, as root on the host does; each lives in a
# fresh namespace of its own.
export CROSS_CONTAINER_OPTS="${CROSS_CONTAINER_OPTS:---network host --privileged}"
cd "$TTC_ROOT"
cargo fetch --quiet
status=0
for t in "${targets[@]}"; do
    var="CROSS_TARGET_$(echo "$t" | tr 'a-z-' 'A-Z_')_IMAGE"
    export "$var=$IMAGE"
    log="$WORK/cross-test-$t.log"
    ttc_say "cross +$TOOLCHAIN test --target $t (log: $log)"
    t0=$(date +%s)
    if cross "+$TOOLCHAIN" test --target "$t" >"$log" 2>&1; then r=ok; else r=FAILED; status=1; fi
    ttc_say "$t: $r, $(ttc_count_tests "$log"), $(($(date +%s) - t0)) s"
    [ "$r" = ok ] || tail -n 30 "$log" >&2
done
ttc_say "total $(($(date +%s) - start)) s"
exit "$status"

#!/usr/bin/env bash
# The Python wheels for boards: libttc.so (release, with TLS) for x86_64,
# armv7 and aarch64, linked by zig through cargo-zigbuild against glibc
# 2.28 symbol versions and checked with check-glibc.sh; each bundled into
# a wheel by python/build_backend/ttc_build.py, which reads the tag from
# the library (py3-none-manylinux_2_28_ARCH). Then --test:
# - the x86_64 wheel: pip install into a fresh venv, the suite
#   (python/tests) run against it;
# - the armv7 and aarch64 wheels: installed by pip for that platform
#   (--platform manylinux_2_28_ARCH --target DIR), the suite run by an ARM
#   Python: Debian's armhf/arm64 python3.11 and the libraries it needs,
#   downloaded with apt (no foreign architecture added) and unpacked into
#   a sysroot, run under QEMU user-mode against the host's test peers on
#   loopback.
#
#   bash targets/deploy/build-wheels.sh [--test]
#
# Artifacts: $TTC_DIST/ttc-VERSION-py3-none-manylinux_2_28_{x86_64,armv7l,aarch64}.whl
# Installs once per machine: ziglang (PyPI), cargo-zigbuild (crates.io);
# the ARM Python sysroots are kept in target/arm-python.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
ttc_deploy_dirs

test=0
for a in "$@"; do
    case $a in
        --test) test=1 ;;
        -h | --help) ttc_header_help; exit 0 ;;
        *) ttc_die "unknown argument: $a (try --help)" ;;
    esac
done

ttc_apt_ensure binutils qemu-user openssl
ttc_zig_ensure
ttc_cargo_tool_ensure cargo-zigbuild cargo-zigbuild "$TTC_CARGO_ZIGBUILD_VERSION"
ttc_rust_target_ensure armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu
cd "$TTC_ROOT"
mkdir -p "$TTC_DIST"

v=$TTC_GLIBC_FLOOR
declare -A wheel
for pair in x86_64-unknown-linux-gnu:x86_64 armv7-unknown-linux-gnueabihf:armv7l aarch64-unknown-linux-gnu:aarch64; do
    IFS=: read -r target arch <<<"$pair"
    cargo zigbuild --release --locked -p ttc-ffi --target "$target.$v"
    lib="$CARGO_TARGET_DIR/$target/release/libttc.so"
    bash "$TTC_ROOT/targets/deploy/check-glibc.sh" --max "$v" "$lib"
    rm -f "$TTC_DIST"/ttc-*-"$arch".whl
    out=$(python3 python/build_backend/ttc_build.py --library "$lib" --out "$TTC_DIST")
    case $out in
        *-py3-none-manylinux_${v/./_}_"$arch".whl) ;;
        *) ttc_die "$out: expected a manylinux_${v/./_}_$arch wheel" ;;
    esac
    wheel[$arch]=$out
    ttc_say "artifact: $out ($(stat -c %s "$out") bytes; libttc.so $(stat -c %s "$lib") bytes)"
done
[ "$test" = 1 ] || exit 0

# The suite's peers: the host's ttc (debug) and the openssl CLI.
cargo build -q --locked --bin ttc
export TTC_BIN=$CARGO_TARGET_DIR/debug/ttc TTC_TEST_INSTALLED=1 PYTHONDONTWRITEBYTECODE=1
unset TTC_LIBRARY
# pytest (pure Python) from the host's python3, for the ARM Pythons too.
python3 -c 'import pytest' 2>/dev/null || ttc_die "no pytest for python3 (targets/ci.d/python.setup installs it)"
host_site=$(python3 -c 'import os, pytest; print(os.path.dirname(os.path.dirname(pytest.__file__)))')

venv=$TTC_ROOT/target/wheels/venv-x86_64
rm -rf "$venv"
python3 -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install -q --no-index --no-deps --disable-pip-version-check "${wheel[x86_64]}"
"$venv/bin/python" -m pytest -p no:cacheprovider -q python/tests
ttc_say "x86_64 wheel: the suite passed in a fresh venv"

# Debian's ARM Python: the interpreter and what it loads (ctypes needs
# libffi, ssl libssl3); libc6 is the sysroot's C library.
sysroots=$TTC_ROOT/target/arm-python
packages=(python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libffi8 libc6
    libgcc-s1 zlib1g libexpat1 libssl3)
apt_dir=(-o APT::Architectures::=armhf -o APT::Architectures::=arm64
    -o "Dir::State::Lists=$sysroots/lists" -o "Dir::Cache=$sysroots/cache")
for pair in armhf:armv7l:arm arm64:aarch64:aarch64; do
    IFS=: read -r deb_arch arch qemu_arch <<<"$pair"
    root=$sysroots/root-$deb_arch
    if [ ! -x "$root/usr/bin/python3.11" ]; then
        mkdir -p "$sysroots/lists/partial" "$sysroots/cache/archives/partial" "$sysroots/debs-$deb_arch"
        # One update serves both architectures' lists.
        if [ "${lists_updated:-0}" != 1 ]; then
            ttc_apt_update "$sysroots/update.log" apt-get -q "${apt_dir[@]}" ||
                ttc_die_log "$sysroots/update.log" "apt-get update failed"
            lists_updated=1
        fi
        (cd "$sysroots/debs-$deb_arch" &&
            apt-get -q "${apt_dir[@]}" download "${packages[@]/%/:$deb_arch}" >"$sysroots/download.log" 2>&1) ||
            ttc_die_log "$sysroots/download.log" "downloading the $deb_arch Python failed"
        rm -rf "$root"
        for d in "$sysroots/debs-$deb_arch"/*.deb; do dpkg-deb -x "$d" "$root"; done
    fi
    python_arm=(env "QEMU_LD_PREFIX=$root" "qemu-$qemu_arch" "$root/usr/bin/python3.11")
    ttc_say "$arch: $("${python_arm[@]}" -c 'import platform, sys; print("Python", sys.version.split()[0], platform.machine())')"
    site=$TTC_ROOT/target/wheels/site-$arch
    rm -rf "$site"
    # The venv's pip: a system python3 may be "externally managed".
    "$venv/bin/python" -m pip install -q --no-index --no-deps --disable-pip-version-check --target "$site" \
        --platform "manylinux_${v/./_}_$arch" --only-binary=:all: --python-version 3.11 \
        --implementation cp "${wheel[$arch]}"
    PYTHONPATH="$site:$host_site" TTC_TEST_PYTHON="${python_arm[*]}" \
        "${python_arm[@]}" -m pytest -p no:cacheprovider -q python/tests
    ttc_say "$arch wheel: the suite passed under the ARM Python (qemu-$qemu_arch)"
done

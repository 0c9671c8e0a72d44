#!/usr/bin/env bash
# Debian packages for boards, armhf and arm64, in one command:
#
#   bash targets/deploy/build-deb.sh
#
# Packages the glibc-2.28 builds (so they install on Debian 10 / Raspberry
# Pi OS buster and newer; Depends: libc6 (>= 2.28)) with cargo-deb and the
# [package.metadata.deb] in Cargo.toml: /usr/bin/ttc, a ttc(1) man page made
# from the binary's own --help, README.md, LICENSE-MIT, LICENSE-APACHE and
# the copyright file. Then checks each .deb with dpkg-deb --info/--contents
# and checks the binary inside it (architecture, glibc floor, identical to
# the checked build).
#
# Artifacts: $TTC_DIST/ttc_<version>-1_{armhf,arm64}.deb (TTC_DIST = target/deploy/dist).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
ttc_deploy_dirs

case ${1:-} in
    -h | --help) ttc_header_help; exit 0 ;;
    "") ;;
    *) ttc_die "unknown argument: $1 (try --help)" ;;
esac

ttc_apt_ensure binutils qemu-user libc6-armhf-cross libc6-arm64-cross
ttc_cargo_tool_ensure cargo-deb cargo-deb "$TTC_CARGO_DEB_VERSION"
# The binaries: built and checked there (a no-op when they are fresh).
bash "$TTC_ROOT/targets/deploy/build-glibc-compat.sh"
cd "$TTC_ROOT"
version=$(ttc_version)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for pair in armv7-unknown-linux-gnueabihf:armhf:arm aarch64-unknown-linux-gnu:arm64:aarch64; do
    IFS=: read -r target arch machine <<<"$pair"
    products="$CARGO_TARGET_DIR/$target/release"
    bash "$TTC_ROOT/targets/deploy/gen-man.sh" "$products/ttc" "$products/ttc.1"
    gzip -9nf "$products/ttc.1"
    deb="$TTC_DIST/ttc_${version}-1_$arch.deb"
    rm -f "$deb"
    # --no-build: package exactly the binary build-glibc-compat.sh checked;
    # --no-strip: the release profile strips already.
    cargo deb --target "$target" --no-build --no-strip --output "$deb" >/dev/null
    [ -f "$deb" ] || ttc_die "cargo deb made no $deb"

    info=$(dpkg-deb --info "$deb")
    contents=$(dpkg-deb --contents "$deb")
    field() { printf '%s\n' "$info" | sed -n "s/^ $1: //p"; }
    [ "$(field Package)" = ttc ] || ttc_die "$deb: Package is '$(field Package)'"
    [ "$(field Architecture)" = "$arch" ] || ttc_die "$deb: Architecture is '$(field Architecture)', want $arch"
    [ "$(field Version)" = "$version-1" ] || ttc_die "$deb: Version is '$(field Version)'"
    [ "$(field Depends)" = "libc6 (>= $TTC_GLIBC_FLOOR)" ] || ttc_die "$deb: Depends is '$(field Depends)'"
    for want in \
        "-rwxr-xr-x root/root .* ./usr/bin/ttc" \
        "-rw-r--r-- root/root .* ./usr/share/man/man1/ttc.1.gz" \
        "./usr/share/doc/ttc/README.md" \
        "./usr/share/doc/ttc/LICENSE-MIT" \
        "./usr/share/doc/ttc/LICENSE-APACHE" \
        "./usr/share/doc/ttc/copyright"; do
        printf '%s\n' "$contents" | sed 's#0/0#root/root#' | grep -qE -- "$want\$" ||
            ttc_die "$deb: no '$want' in dpkg-deb --contents:
$contents"
    done
    # What is inside is what was checked, and it runs on the right CPU.
    dpkg-deb -x "$deb" "$scratch/$arch"
    cmp -s "$scratch/$arch/usr/bin/ttc" "$products/ttc" || ttc_die "$deb: usr/bin/ttc is not the checked build"
    [ "$(ttc_elf_machine "$scratch/$arch/usr/bin/ttc")" = "$machine" ] || ttc_die "$deb: usr/bin/ttc is not $machine"
    bash "$TTC_ROOT/targets/deploy/check-glibc.sh" "$scratch/$arch/usr/bin/ttc" >/dev/null 2>&1 ||
        ttc_die "$deb: usr/bin/ttc needs a glibc newer than $TTC_GLIBC_FLOOR"
    # The man page renders without groff warnings.
    if command -v groff >/dev/null; then
        warn=$(zcat "$scratch/$arch/usr/share/man/man1/ttc.1.gz" | groff -man -ww -z 2>&1 || true)
        [ -z "$warn" ] || ttc_die "$deb: ttc.1 has groff warnings: $warn"
    fi
    ttc_say "$deb: Architecture $arch, Depends libc6 (>= $TTC_GLIBC_FLOOR), $(printf '%s\n' "$contents" | grep -c '^-') files, $(stat -c %s "$deb") bytes: ok"
done

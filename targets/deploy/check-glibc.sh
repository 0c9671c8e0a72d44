#!/usr/bin/env bash
# Fails if a dynamically linked binary or shared library needs a glibc
# newer than the floor (default 2.28: Debian 10 buster, Raspberry Pi OS
# buster).
#
#   bash targets/deploy/check-glibc.sh BINARY... [--max 2.28]
#
# Reads the versions of the undefined dynamic symbols (readelf --dyn-syms)
# and the version-needs section (readelf -V), so a binary that needs
# __libc_start_main@GLIBC_2.34 is caught whatever the symbol. A static
# binary needs no glibc and passes.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

max=$TTC_GLIBC_FLOOR
files=()
while [ $# -gt 0 ]; do
    case $1 in
        --max) max=$2; shift ;;
        --max=*) max=${1#--max=} ;;
        -h | --help) ttc_header_help; exit 0 ;;
        *) files+=("$1") ;;
    esac
    shift
done
[ ${#files[@]} -gt 0 ] || ttc_die "usage: check-glibc.sh BINARY... [--max 2.28]"
command -v readelf >/dev/null || ttc_die "readelf not found (apt-get install binutils)"

newer() { # whether version $1 > $2
    [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n1)" = "$1" ]
}

status=0
for f in "${files[@]}"; do
    [ -f "$f" ] || ttc_die "$f: no such file"
    name=${f##*/}
    # A program asks for an interpreter; a shared library (libttc.so)
    # has none, but needs libraries all the same.
    if ! ttc_elf_is_dynamic "$f" && ! LC_ALL=C readelf -dW "$f" 2>/dev/null | grep -q '(NEEDED)'; then
        ttc_say "$name: static, needs no glibc: ok"
        continue
    fi
    # "memcpy@GLIBC_2.17 (2)" in --dyn-syms; "Name: GLIBC_2.17" under -V.
    syms=$(LC_ALL=C readelf --dyn-syms -W "$f" | awk '$7 == "UND" && $8 ~ /@GLIBC_[0-9]/ {print $8}' | sed 's/ (.*//')
    needs=$(LC_ALL=C readelf -V -W "$f" | grep -oE 'Name: GLIBC_[0-9]+(\.[0-9]+)+' | sed 's/Name: GLIBC_//' || true)
    versions=$( { printf '%s\n' "$syms" | grep -oE '@GLIBC_[0-9.]+' | sed 's/@GLIBC_//'; printf '%s\n' "$needs"; } |
        grep -E '^[0-9]' | sort -uV)
    if [ -z "$versions" ]; then
        ttc_say "$name: dynamically linked but no GLIBC symbol versions found: cannot vouch for it"
        status=1
        continue
    fi
    highest=$(printf '%s\n' "$versions" | tail -n1)
    if newer "$highest" "$max"; then
        too_new=""
        for v in $versions; do
            newer "$v" "$max" || continue
            who=$(printf '%s\n' "$syms" | grep -F "@GLIBC_$v" | sed 's/@.*//' | sort -u | head -n 5 | tr '\n' ' ')
            too_new+="GLIBC_$v (${who% }) "
        done
        ttc_say "$name: FAIL: needs glibc $highest > $max: ${too_new% }"
        ttc_say "$name: it will not start on Debian 10 / Raspberry Pi OS buster era systems"
        status=1
    else
        ttc_say "$name: needs glibc $highest at most (versions: $(printf '%s\n' "$versions" | paste -sd,)) <= $max: ok"
    fi
done
exit "$status"

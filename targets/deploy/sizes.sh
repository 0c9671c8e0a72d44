#!/usr/bin/env bash
# Sizes of the deploy artifacts, as a Markdown table: what the README's
# "Deploying" section quotes.
#
#   bash targets/deploy/sizes.sh           # measure what is in target/deploy/dist
#   bash targets/deploy/sizes.sh --build   # build everything first (musl aarch64 and armv7, glibc 2.28, .debs)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case ${1:-} in
    --build)
        bash "$TTC_ROOT/targets/deploy/build-musl.sh"
        bash "$TTC_ROOT/targets/deploy/build-musl-armv7.sh"
        bash "$TTC_ROOT/targets/deploy/build-deb.sh" # builds the glibc-2.28 binaries too
        ;;
    "") ;;
    -h | --help) header_help; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
esac
[ -d "$DIST" ] || die "nothing in $DIST yet: run with --build"

echo "| artifact | bytes | size | needs |"
echo "|---|---:|---:|---|"
for f in "$DIST"/ttc-* "$DIST"/*.deb; do
    [ -f "$f" ] || continue
    bytes=$(stat -c %s "$f")
    case $f in
        *.deb) needs="dpkg: $(dpkg-deb -f "$f" Architecture), Depends $(dpkg-deb -f "$f" Depends)" ;;
        *) if elf_is_dynamic "$f"; then needs="glibc >= $(glibc_needed "$f")"; else needs="nothing (static)"; fi ;;
    esac
    # shellcheck disable=SC2016 # the backquotes are Markdown
    printf '| `%s` | %d | %d KiB | %s |\n' "${f##*/}" "$bytes" $(((bytes + 512) / 1024)) "$needs"
done
